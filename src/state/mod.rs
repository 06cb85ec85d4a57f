//! State files of a user's repository: pure data, parsers and atomic I/O.
//!
//! Nothing in `state/` spawns a process, prints, or reads the environment.

pub mod approvals;
pub mod checklist;
pub mod claims;
pub mod model;
pub mod plan;
pub mod run;
pub mod runlog;
