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

/// How run folders are named: the claim's time.
const RUN_NAME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

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
    /// The stop came before the agent was started (during the vacuous-validator check): no
    /// agent ran, so no attempt was made. `stopped` is then also true.
    #[serde(default)]
    pub stopped_before_start: bool,
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
    /// Files of the spec's `guarded` list that were created, changed or removed while the
    /// agent ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guarded_changed: Vec<std::path::PathBuf>,
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
        self.write_with(path, true)
    }

    /// [`WorkerResult::write`], synced to disk only when `durable`.
    pub fn write_with(&self, path: &Path, durable: bool) -> Result<(), ProcessError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|source| {
            ProcessError::Fs(fsutil::FsError::Write {
                path: path.to_path_buf(),
                source: source.into(),
            })
        })?;
        text.push('\n');
        match durable {
            true => fsutil::write_atomic(path, text.as_bytes())?,
            false => fsutil::write_atomic_unsynced(path, text.as_bytes())?,
        }
        Ok(())
    }
}

/// What the attempts so far have spent, from their `result.json` files. Known costs add
/// up; an attempt whose agent reported no cost is counted as unknown, never as zero, so
/// `cost_usd` is a lower bound whenever `unknown_cost` is not 0.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Spent {
    /// The sum of the known costs, in US dollars.
    pub cost_usd: f64,
    pub tokens: u64,
    /// Attempts whose agent reported no cost.
    pub unknown_cost: u32,
    pub attempts: u32,
}

impl Spent {
    /// The spending of one task (`Some(id)`) or of all of them, from every attempt's
    /// result under `runs` (`.longrun/runs/<run>/<task>/<attempt>/result.json`). Results that
    /// cannot be read are left out.
    pub fn read(runs: &Path, task: Option<&str>) -> Spent {
        Spent::read_since(runs, task, None)
    }

    /// [`Spent::read`], counting only attempts claimed at or after `since` (their folder
    /// under `runs` is named by the claim's time, `%Y%m%dT%H%M%SZ`).
    pub fn read_since(runs: &Path, task: Option<&str>, since: Option<jiff::Timestamp>) -> Spent {
        let mut spent = Spent::default();
        let Ok(run_dirs) = std::fs::read_dir(runs) else {
            return spent;
        };
        let since = since.map(|at| at.strftime(RUN_NAME_FORMAT).to_string());
        for run_dir in run_dirs.filter_map(Result::ok).map(|e| e.path()) {
            if let Some(since) = &since {
                // Same format, fixed width: the names sort as the times do.
                let name = run_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                if name
                    .is_none_or(|name| name.len() != since.len() || name.as_str() < since.as_str())
                {
                    continue;
                }
            }
            let Ok(tasks) = std::fs::read_dir(&run_dir) else {
                continue;
            };
            for task_dir in tasks.filter_map(Result::ok).map(|e| e.path()) {
                if task.is_some_and(|id| task_dir.file_name().is_none_or(|n| n != id)) {
                    continue;
                }
                let Ok(attempts) = std::fs::read_dir(&task_dir) else {
                    continue;
                };
                for attempt in attempts.filter_map(Result::ok).map(|e| e.path()) {
                    let Ok(result) = WorkerResult::load(&attempt.join("result.json")) else {
                        continue;
                    };
                    spent.add(&result);
                }
            }
        }
        spent
    }

    /// Counts one attempt.
    pub fn add(&mut self, result: &WorkerResult) {
        self.attempts += 1;
        match result.cost_usd {
            Some(cost) if result.cost_known || cost > 0.0 => self.cost_usd += cost,
            _ => self.unknown_cost += 1,
        }
        self.tokens += result.usage.as_ref().map_or(0, tokens_of);
    }

    /// The cost as a person should read it: `$1.23`, `$1.23 known + 2 attempts with
    /// unknown cost`, or `unknown (3 attempts reported no cost)`.
    pub fn cost_text(&self) -> String {
        let known = format!("${:.2}", self.cost_usd);
        match (self.unknown_cost, self.attempts - self.unknown_cost) {
            (0, _) => known,
            (unknown, 0) => format!(
                "unknown ({unknown} attempt{} reported no cost)",
                plural(unknown)
            ),
            (unknown, _) => format!(
                "{known} known + {unknown} attempt{} with unknown cost",
                plural(unknown)
            ),
        }
    }
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Tokens in a usage record as the supervisor writes it ([`crate::agents::Usage`]: input,
/// cached input and output); 0 for anything else. (No result.json ever held another shape:
/// the supervisor has written `Usage` since it first wrote usage.)
pub fn tokens_of(usage: &serde_json::Value) -> u64 {
    crate::agents::Usage::deserialize(usage).map_or(0, |usage| usage.total())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(usage: Option<crate::agents::Usage>, cost_usd: Option<f64>) -> WorkerResult {
        WorkerResult {
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            duration_ms: 10,
            started_at: "2026-11-21T09:00:00Z".to_string(),
            finished_at: "2026-11-21T09:00:01Z".to_string(),
            stdout_bytes: 0,
            stderr_bytes: 0,
            stdout_truncated: false,
            stderr_truncated: false,
            final_message: None,
            usage: usage.map(|usage| serde_json::to_value(usage).unwrap()),
            cost_usd,
            cost_known: cost_usd.is_some(),
            agent_failure: None,
            stopped: false,
            stopped_before_start: false,
            lease_lost: false,
            leftovers_killed: false,
            output_incomplete: false,
            output_error: None,
            error: None,
            guarded_changed: Vec::new(),
            supervisor_peak_rss_kib: None,
            baseline: None,
        }
    }

    #[test]
    fn tokens_are_read_from_the_usage_the_supervisor_writes() {
        let usage = crate::agents::Usage {
            input: 1000,
            cached_input: 200,
            output: 50,
            reasoning: Some(10),
        };
        // Round-tripped through the file, as the cycle and `status` read it.
        let dir = tempfile::tempdir().unwrap();
        let attempt = dir.path().join("20261121T090000Z/T1/1");
        std::fs::create_dir_all(&attempt).unwrap();
        result(Some(usage), Some(0.5))
            .write(&attempt.join("result.json"))
            .unwrap();
        let spent = Spent::read(dir.path(), Some("T1"));
        assert_eq!(spent.tokens, 1250);
        assert_eq!(spent.attempts, 1);
        assert_eq!(tokens_of(&serde_json::json!({"input_tokens": 5})), 0);
    }

    #[test]
    fn spending_since_a_time_leaves_earlier_claims_out() {
        let dir = tempfile::tempdir().unwrap();
        for (run, cost) in [("20261121T080000Z", 1.0), ("20261121T100000Z", 2.0)] {
            let attempt = dir.path().join(run).join("T1/1");
            std::fs::create_dir_all(&attempt).unwrap();
            result(None, Some(cost))
                .write(&attempt.join("result.json"))
                .unwrap();
        }
        std::fs::create_dir_all(dir.path().join("by-hand/T1/1")).unwrap();
        let since: jiff::Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
        assert_eq!(Spent::read(dir.path(), None).cost_usd, 3.0);
        let spent = Spent::read_since(dir.path(), None, Some(since));
        assert_eq!((spent.cost_usd, spent.attempts), (2.0, 1));
        let at_ten: jiff::Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        assert_eq!(
            Spent::read_since(dir.path(), None, Some(at_ten)).attempts,
            1
        );
    }
}
