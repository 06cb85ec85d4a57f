//! `result.json`: what one agent attempt did, as the supervisor saw it. Written once,
//! atomically, after the agent's process group is gone; read by the cycle when it reaps.
//!
//! Facts only (exit status, time, output sizes, and what the agent's own output reports:
//! usage, cost, a reported failure, read by the agents code); whether the attempt succeeded
//! is for the cycle and the validators to decide.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ProcessError;
use crate::fsutil;

/// The largest result file read back (it is small; this guards against a wrong file).
const MAX_RESULT_BYTES: u64 = 1024 * 1024;

/// What one supervised agent run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerResult {
    /// The agent's exit code, when it exited normally.
    pub exit_code: Option<i32>,
    /// The signal that ended the agent, when one did (9 after a timeout's SIGKILL).
    pub signal: Option<i32>,
    /// The agent ran past `timeout_secs` and its group was terminated.
    pub timed_out: bool,
    pub duration_ms: u64,
    /// RFC 3339, from the caller's clock.
    pub started_at: String,
    /// `started_at` plus the measured duration, so the two always agree with `duration_ms`.
    pub finished_at: String,
    /// Bytes the agent wrote to stdout, including any beyond the cap.
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// More than `output_cap_bytes` arrived; `stdout.log` holds the first part and a marker.
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// The last non-empty stdout line (at most 2 KiB): agents usually end with a summary.
    pub final_message: Option<String>,
    /// Token usage ([`crate::agents::Usage`]), parsed per agent kind; `None` is unknown.
    pub usage: Option<serde_json::Value>,
    /// Cost in US dollars when known; unknown is `None`, never zero.
    pub cost_usd: Option<f64>,
    pub cost_known: bool,
    /// The agent's own output reports that it failed (an error result, a denied write, a
    /// turn limit), whatever its exit code. Read by the agents code per agent kind.
    #[serde(default)]
    pub agent_failure: Option<String>,
    /// The supervisor was asked to stop (SIGTERM or SIGINT) and terminated the agent.
    #[serde(default)]
    pub stopped: bool,
    /// The lease renewer reported the claim lost, so the agent was terminated.
    #[serde(default)]
    pub lease_lost: bool,
    /// Processes of the agent's group were still alive after the agent exited (a forked
    /// daemon) and were killed.
    #[serde(default)]
    pub leftovers_killed: bool,
    /// A reader of the agent's output did not finish (a process outside the agent's group
    /// still held the pipe); the counts are what had arrived by then.
    #[serde(default)]
    pub output_incomplete: bool,
    /// The output logs could not be written (a full disk); the agent still ran, its output
    /// was drained and counted, and the logs hold what was written before the error.
    #[serde(default)]
    pub output_error: Option<String>,
    /// Why the agent could not be run at all (bad program, claim lock held elsewhere).
    /// `exit_code` and `signal` are then both `None`.
    #[serde(default)]
    pub error: Option<String>,
    /// The supervisor's peak resident memory in KiB (Linux `VmHWM`), as evidence that
    /// output capture stays bounded.
    #[serde(default)]
    pub supervisor_peak_rss_kib: Option<u64>,
    /// The vacuous-validator check before the agent, when the spec asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::spec::BaselineResult>,
}

impl WorkerResult {
    /// True when the agent exited by itself with code 0 (not a verdict on its work).
    pub fn exited_cleanly(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && self.error.is_none()
    }

    /// Reads a result file.
    pub fn load(path: &Path) -> Result<WorkerResult, ProcessError> {
        let bytes = fsutil::read_bounded(path, MAX_RESULT_BYTES)?;
        serde_json::from_slice(&bytes).map_err(|source| ProcessError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the result atomically: readers see no file or a complete one.
    pub fn write(&self, path: &Path) -> Result<(), ProcessError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|source| {
            ProcessError::Fs(fsutil::FsError::Write {
                path: path.to_path_buf(),
                source: source.into(),
            })
        })?;
        text.push('\n');
        fsutil::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}
