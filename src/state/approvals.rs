//! Human gates on disk: `.longrun/approvals/<task>.<stage>.json` holds a person's decision
//! (approve or reject, who, when, which commit) and `<task>.awaiting.json` the candidate
//! the cycle validated and holds for a decision. Pure data and atomic file I/O: the cycle
//! decides what a record means (an approval counts only for the exact commit it names),
//! and the run log carries the event of every decision.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{self, FsError};

/// When a person's decision is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Before a worker starts.
    Before,
    /// Before a validated candidate merges.
    After,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Before => "before",
            Stage::After => "after",
        }
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// One person's decision about one task at one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub task: String,
    pub stage: Stage,
    pub decision: Decision,
    /// The exact commit decided on: the validated candidate (after), or the target's tip
    /// when the decision was made (before).
    pub commit: String,
    /// `Name <email>` from git's configuration.
    pub by: String,
    pub at: String,
    /// The note of an approval or the reason of a rejection.
    #[serde(default)]
    pub text: String,
}

/// A validated candidate held for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awaiting {
    pub task: String,
    pub stage: Stage,
    /// The candidate commit (the task branch's tip after the target was merged into it).
    pub commit: String,
    pub at: String,
}

/// Where a task stands at the human gate before dispatch: the one rule by which the cycle
/// dispatches a ready task, and by which `next`, `status` and `claim` call it ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchGate {
    /// No approval is needed before it starts.
    Open,
    /// Needed, and a person approved.
    Approved(Record),
    /// Needed, and nobody has decided yet.
    Waiting,
    /// Needed, and a person rejected it (the cycle blocks it).
    Rejected(Record),
}

impl DispatchGate {
    /// True when the task may start.
    pub fn lets_go(&self) -> bool {
        matches!(self, DispatchGate::Open | DispatchGate::Approved(_))
    }
}

/// Where the records of `dir` (`.longrun/approvals`) are.
#[derive(Debug, Clone)]
pub struct Approvals {
    dir: PathBuf,
}

impl Approvals {
    pub fn new(dir: PathBuf) -> Approvals {
        Approvals { dir }
    }

    fn record_path(&self, task: &str, stage: Stage) -> PathBuf {
        self.dir.join(format!("{task}.{}.json", stage.as_str()))
    }

    fn awaiting_path(&self, task: &str) -> PathBuf {
        self.dir.join(format!("{task}.awaiting.json"))
    }

    /// Every record of `task`: its decisions before and after, and its held candidate.
    /// Nobody but the cycle and a person's `approve` or `reject` writes them, and neither
    /// does while the task's own worker runs (it is `in_progress`, with no candidate held),
    /// so a change in that time is the worker's doing: the cycle has its supervisor guard
    /// them (`WorkerSpec::guarded`) and rejects such an attempt.
    pub fn paths_of(&self, task: &str) -> Vec<PathBuf> {
        vec![
            self.record_path(task, Stage::Before),
            self.record_path(task, Stage::After),
            self.awaiting_path(task),
        ]
    }

    /// The gate before dispatch of `task`, which needs a person's approval before it
    /// starts when `needed` (`Policy::needs_approval` with `Approval::Before`): it may go
    /// with an `approve` record, a `reject` record stops it, and without either it waits.
    pub fn dispatch_gate(&self, task: &str, needed: bool) -> DispatchGate {
        if !needed {
            return DispatchGate::Open;
        }
        match self.record(task, Stage::Before) {
            Some(record) if record.decision == Decision::Approve => DispatchGate::Approved(record),
            Some(record) => DispatchGate::Rejected(record),
            None => DispatchGate::Waiting,
        }
    }

    /// The decision recorded for `task` at `stage`, if any (an unreadable file is none).
    pub fn record(&self, task: &str, stage: Stage) -> Option<Record> {
        read_json(&self.record_path(task, stage))
    }

    /// True when the run log at `run_log` holds the event a person's `longrun approve` or
    /// `reject` wrote for `record`: its kind, task, stage and commit. The cycle counts a
    /// decision only then, so a record a worker wrote (the files are in reach of every
    /// process of the user) is never taken for a person's without a trace in the audit
    /// trail. An unreadable log witnesses nothing.
    pub fn witnessed(record: &Record, run_log: &Path) -> bool {
        use crate::state::model::EventKind;
        use crate::state::runlog::{StreamItem, stream_events};
        let kind = match record.decision {
            Decision::Approve => EventKind::Approve,
            Decision::Reject => EventKind::Reject,
        };
        let Ok(events) = stream_events(run_log) else {
            return false;
        };
        events.filter_map(Result::ok).any(|item| match item {
            StreamItem::Event(logged) => {
                let event = &logged.event;
                event.kind == kind
                    && event.task.as_ref().map(|task| task.as_str()) == Some(record.task.as_str())
                    && event.field("stage") == Some(record.stage.as_str())
                    && event.field("commit").is_some_and(|commit| {
                        commit.len() >= 7 && record.commit.starts_with(commit)
                    })
            }
            StreamItem::Garbage(_) => false,
        })
    }

    /// Whether `path` is a decision record (`<task>.before.json` or `<task>.after.json`),
    /// and of which task.
    pub fn decision_task(path: &Path) -> Option<&str> {
        let name = path.file_name()?.to_str()?;
        name.strip_suffix(".before.json")
            .or_else(|| name.strip_suffix(".after.json"))
    }

    /// The folder of the records: what a worker's supervisor watches.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The decision record at `path` (see [`Approvals::decision_task`]), if readable.
    pub fn read_record(path: &Path) -> Option<Record> {
        read_json(path)
    }

    pub fn write_record(&self, record: &Record) -> Result<PathBuf, FsError> {
        let path = self.record_path(&record.task, record.stage);
        write_json(&path, record)?;
        Ok(path)
    }

    pub fn remove_record(&self, task: &str, stage: Stage) {
        let _ = std::fs::remove_file(self.record_path(task, stage));
    }

    pub fn awaiting(&self, task: &str) -> Option<Awaiting> {
        read_json(&self.awaiting_path(task))
    }

    pub fn write_awaiting(&self, awaiting: &Awaiting) -> Result<(), FsError> {
        write_json(&self.awaiting_path(&awaiting.task), awaiting)
    }

    pub fn remove_awaiting(&self, task: &str) {
        let _ = std::fs::remove_file(self.awaiting_path(task));
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = fsutil::read_bounded(path, 64 * 1024).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), FsError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| FsError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    fsutil::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_per_stage() {
        let dir = tempfile::tempdir().unwrap();
        let approvals = Approvals::new(dir.path().join("approvals"));
        let record = Record {
            task: "T1".into(),
            stage: Stage::After,
            decision: Decision::Approve,
            commit: "abc".into(),
            by: "A <a@b>".into(),
            at: "2026-01-01T00:00:00Z".into(),
            text: String::new(),
        };
        approvals.write_record(&record).unwrap();
        assert_eq!(approvals.record("T1", Stage::After), Some(record));
        assert_eq!(approvals.record("T1", Stage::Before), None);
        approvals.remove_record("T1", Stage::After);
        assert_eq!(approvals.record("T1", Stage::After), None);
    }
}
