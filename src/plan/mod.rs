//! From documents to checklist tasks: the PRD reader ([`prd`]), the merge that keeps ids and
//! statuses stable when a source is planned or imported again ([`merge()`]), and the line
//! diff `--dry-run` shows ([`diff`]).
//!
//! Pure: text and models in, text and reports out. Nothing here prints, reads the disk or
//! the environment; the commands do that.

pub mod diff;
pub mod merge;
pub mod prd;

pub use merge::{IdStyle, MergeOptions, MergeReport, merge, render_merge, render_merge_parsed};
pub use prd::{PrdPlan, PrdWarning, parse_prd};
