//! File-system events for `longrun watch`: a [`Wait`] that wakes when a worker writes its
//! `result.json` or when checklist.yaml changes, through `notify` (inotify on Linux) with
//! `notify-debouncer-full` merging bursts of events (~500 ms).
//!
//! It watches directories, never single files: editors and longrun itself save
//! checklist.yaml by renaming a temp file over it, which replaces the inode a file watch
//! would be attached to. The repository root is watched non-recursively (for
//! checklist.yaml), `.longrun/runs/` recursively (for `result.json`). Events are only
//! hints: each relevant one is confirmed with [`check_plan`] (is the worker really done, is
//! the checklist really different from what the last cycle left), so the cycle's own writes
//! and validators' result files never start another cycle. Only `longrun watch` builds one;
//! nothing here prints.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache, new_debouncer,
};

use super::repeat::{POLL_INTERVAL, PollWait, Wait, WaitPlan, Wake, check_plan};
use crate::fsutil::FsError;
use crate::process::StopFlag;

/// How long the debouncer collects events before it hands them over.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// Why watching could not start (the caller then polls).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("cannot watch `{path}` for changes")]
    Notify {
        path: PathBuf,
        #[source]
        source: notify_debouncer_full::notify::Error,
    },
}

/// A waiter driven by file-system events.
pub struct NotifyWait {
    // Kept for its watches and its thread; dropping it stops both.
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    events: Receiver<DebounceEventResult>,
    root: PathBuf,
    runs_dir: PathBuf,
    /// The debouncer's thread is gone: poll from now on.
    broken: bool,
}

impl NotifyWait {
    /// Watches `root` (for checklist.yaml) and `runs_dir` with everything below it (for
    /// `result.json`); creates `runs_dir` when it does not exist yet.
    pub fn start(root: &Path, runs_dir: &Path) -> Result<NotifyWait, WatchError> {
        std::fs::create_dir_all(runs_dir).map_err(|source| FsError::Write {
            path: runs_dir.to_path_buf(),
            source,
        })?;
        let (sender, events) = channel();
        let notify_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WatchError::Notify { path, source }
        };
        let mut debouncer = new_debouncer(DEBOUNCE, None, sender).map_err(notify_error(root))?;
        debouncer
            .watch(root, RecursiveMode::NonRecursive)
            .map_err(notify_error(root))?;
        debouncer
            .watch(runs_dir, RecursiveMode::Recursive)
            .map_err(notify_error(runs_dir))?;
        Ok(NotifyWait {
            _debouncer: debouncer,
            events,
            root: root.to_path_buf(),
            runs_dir: runs_dir.to_path_buf(),
            broken: false,
        })
    }

    fn relevant(&self, event: &DebouncedEvent) -> bool {
        event.need_rescan()
            || event.paths.iter().any(|path| {
                is_checklist(&self.root, path) || is_worker_result(&self.runs_dir, path)
            })
    }
}

impl Wait for NotifyWait {
    fn wait(&mut self, plan: &WaitPlan, stop: &StopFlag) -> Wake {
        if self.broken {
            return PollWait.wait(plan, stop);
        }
        // What happened while the cycle ran, or before a new run directory had its watch:
        // events for those may never come.
        if let Some(wake) = check_plan(plan) {
            return wake;
        }
        let deadline = Instant::now() + plan.pause;
        loop {
            if let Some(signal) = stop.requested() {
                return Wake::Interrupted(signal);
            }
            let now = Instant::now();
            if now >= deadline {
                return Wake::Interval;
            }
            // Short timeouts so a signal is seen within one poll interval.
            match self.events.recv_timeout(POLL_INTERVAL.min(deadline - now)) {
                Ok(Ok(events)) => {
                    if events.iter().any(|event| self.relevant(event))
                        && let Some(wake) = check_plan(plan)
                    {
                        return wake;
                    }
                }
                Ok(Err(errors)) => {
                    for error in &errors {
                        tracing::warn!("file watching: {error}");
                    }
                    // Events may have been lost: look for ourselves.
                    if let Some(wake) = check_plan(plan) {
                        return wake;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    tracing::warn!("file watching stopped; polling instead");
                    self.broken = true;
                    let rest = WaitPlan {
                        pause: deadline.saturating_duration_since(Instant::now()),
                        ..plan.clone()
                    };
                    return PollWait.wait(&rest, stop);
                }
            }
        }
    }
}

/// `<root>/checklist.yaml`.
pub fn is_checklist(root: &Path, path: &Path) -> bool {
    path.parent() == Some(root)
        && path
            .file_name()
            .is_some_and(|name| name == "checklist.yaml")
}

/// `<runs>/<run>/<task>/<attempt>/result.json`: a worker's result, not a validator's (those
/// sit deeper, under `validate/`).
pub fn is_worker_result(runs_dir: &Path, path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "result.json")
        && path
            .strip_prefix(runs_dir)
            .is_ok_and(|relative| relative.components().count() == 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_checklist_at_the_root_counts() {
        let root = Path::new("/repo");
        assert!(is_checklist(root, Path::new("/repo/checklist.yaml")));
        assert!(!is_checklist(root, Path::new("/repo/sub/checklist.yaml")));
        assert!(!is_checklist(root, Path::new("/repo/.checklist.yaml.tmp")));
    }

    #[test]
    fn only_attempt_results_count() {
        let runs = Path::new("/repo/.longrun/runs");
        assert!(is_worker_result(
            runs,
            Path::new("/repo/.longrun/runs/20261121T090000Z/T1/1/result.json")
        ));
        assert!(!is_worker_result(
            runs,
            Path::new("/repo/.longrun/runs/20261121T090000Z/T1/1/validate/1/result.json")
        ));
        assert!(!is_worker_result(
            runs,
            Path::new("/repo/.longrun/runs/20261121T090000Z/T1/1/stdout.log")
        ));
        assert!(!is_worker_result(
            runs,
            Path::new("/elsewhere/a/b/c/result.json")
        ));
    }

    #[test]
    fn a_checklist_rename_wakes_the_waiter() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().canonicalize().unwrap();
        let checklist = root.join("checklist.yaml");
        std::fs::write(&checklist, "tasks: []\n").unwrap();
        let mut waiter = NotifyWait::start(&root, &root.join(".longrun/runs")).unwrap();
        let plan = WaitPlan {
            pause: Duration::from_secs(60),
            workers: Vec::new(),
            checklist: Some((
                checklist.clone(),
                super::super::repeat::fingerprint(&checklist),
            )),
        };
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            // Saved the way editors and longrun save: a temp file renamed over it.
            let temp_file = checklist.with_file_name(".checklist.yaml.new");
            std::fs::write(&temp_file, "tasks: [] # edited\n").unwrap();
            std::fs::rename(&temp_file, &checklist).unwrap();
        });
        let started = Instant::now();
        assert_eq!(waiter.wait(&plan, &StopFlag::new()), Wake::ChecklistChanged);
        assert!(started.elapsed() < Duration::from_secs(30));
        writer.join().unwrap();
    }
}
