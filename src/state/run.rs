//! `.longrun/run.json`: the current run, the window the per-run budgets count in.
//!
//! A run starts with the first dispatch when no run is open, and ends when every task is
//! complete (the next dispatch then starts a new one) or when a person says so
//! (`longrun resume --new-run`). Recording the start, rather than reading it from the oldest
//! folder under `.longrun/runs/`, keeps it still when `gc` removes old folders and lets it
//! end. The file also remembers which run-wide budget stopped dispatch, so that the stop is
//! logged and notified once, not every cycle.
//!
//! Pure data and atomic I/O; nothing here decides when a run starts or ends.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::fsutil::{self, FsError};

/// The file, under the state directory.
pub const RUN_FILE: &str = "run.json";

/// The current run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// When the run started (RFC 3339, seconds).
    pub started_at: String,
    /// The run-wide budget that stopped dispatch (`per-run wall-clock`, `per-run cost`,
    /// `per-run tokens`) once its stop was logged; `None` while dispatch goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_stopped: Option<String>,
}

/// `.longrun/run.json` cannot be read or does not parse.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(
        "`{path}` does not parse ({message}); per-run budgets cannot be counted, so nothing is dispatched: `longrun resume --new-run` starts a new run",
        path = path.display()
    )]
    Invalid { path: PathBuf, message: String },
}

impl RunRecord {
    /// A run starting at `now`.
    pub fn starting(now: Timestamp) -> RunRecord {
        RunRecord {
            started_at: crate::clock::format_timestamp(now),
            budget_stopped: None,
        }
    }

    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(RUN_FILE)
    }

    /// The current run; `None` when no run is open.
    pub fn load(state_dir: &Path) -> Result<Option<RunRecord>, RunError> {
        let path = RunRecord::path(state_dir);
        let bytes = match fsutil::read_bounded(&path, 64 * 1024) {
            Ok(bytes) => bytes,
            Err(FsError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        let record: RunRecord =
            serde_json::from_slice(&bytes).map_err(|error| RunError::Invalid {
                path: path.clone(),
                message: error.to_string(),
            })?;
        if record.started().is_none() {
            return Err(RunError::Invalid {
                path,
                message: format!("`started_at` is not a time: `{}`", record.started_at),
            });
        }
        Ok(Some(record))
    }

    /// When the run started.
    pub fn started(&self) -> Option<Timestamp> {
        self.started_at.parse().ok()
    }

    /// Writes the record atomically.
    pub fn write(&self, state_dir: &Path) -> Result<(), FsError> {
        let path = RunRecord::path(state_dir);
        std::fs::create_dir_all(state_dir).map_err(|source| FsError::Write {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        fsutil::write_atomic(&path, text.as_bytes())
    }

    /// Ends the current run; false when none was open.
    pub fn end(state_dir: &Path) -> Result<bool, FsError> {
        let path = RunRecord::path(state_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(FsError::Write { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_starts_is_read_back_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RunRecord::load(dir.path()).unwrap(), None);
        let now: Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
        let mut record = RunRecord::starting(now);
        record.write(dir.path()).unwrap();
        assert_eq!(RunRecord::load(dir.path()).unwrap(), Some(record.clone()));
        assert_eq!(record.started(), Some(now));
        record.budget_stopped = Some("per-run cost".to_string());
        record.write(dir.path()).unwrap();
        assert_eq!(
            RunRecord::load(dir.path())
                .unwrap()
                .unwrap()
                .budget_stopped
                .as_deref(),
            Some("per-run cost")
        );
        assert!(RunRecord::end(dir.path()).unwrap());
        assert!(!RunRecord::end(dir.path()).unwrap());
        assert_eq!(RunRecord::load(dir.path()).unwrap(), None);
    }

    #[test]
    fn a_record_that_does_not_parse_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(RunRecord::path(dir.path()), "{\"started_at\": \"soon\"}").unwrap();
        assert!(RunRecord::load(dir.path()).is_err());
        std::fs::write(RunRecord::path(dir.path()), "not json").unwrap();
        let error = RunRecord::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("--new-run"), "{error}");
    }
}
