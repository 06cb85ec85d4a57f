//! Which events and note lines `--run` and `--since` keep. `--run ID` reads the run's own
//! folder (`.longrun/runs/<ID>/<task>/<attempt>/`) for the tasks and attempts it covers and
//! when it started, then keeps each of those tasks' events from that start until the task's
//! next dispatch in another run (or its merge): the attempt, its failures and fixes, and what
//! people did about it. Task notes carry no run, so a note line counts by its time: its own
//! timestamp, else the one of the dated line before it or of the last `longrun task set
//! --note` of the task, whichever is later; a line with no time at all is left out (and
//! counted) under `--since` and `--run`.
//!
//! Files only: reads the run folder, never the run log (the caller streams it), never
//! prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::MineError;
use crate::state::model::EventKind;
use crate::state::runlog::Event;

/// One run of the cycle, as its folder tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunScope {
    pub id: String,
    /// The run's folder, relative to the repository root when the caller passed it so.
    pub directory: PathBuf,
    /// The tasks it covers and their attempts.
    pub tasks: BTreeMap<String, BTreeSet<u32>>,
    /// When it started: the folder's name (the claim's time, `20261121T090000Z`), else the
    /// earliest `started_at` of its attempts' `result.json`.
    #[serde(serialize_with = "serialize_time")]
    pub start: Option<Timestamp>,
}

/// Why `--run` names no run mining can read.
#[derive(Debug, thiserror::Error)]
pub enum RunScopeError {
    #[error("`{0}` is not a run id: a run is one folder name under `.longrun/runs/`")]
    BadId(String),
    #[error("no run `{id}`: `{}` is not a directory", directory.display())]
    Missing { id: String, directory: PathBuf },
    #[error("run `{id}` covers no task: `{}` has no `<task>/<attempt>/` folders", directory.display())]
    Empty { id: String, directory: PathBuf },
    #[error(transparent)]
    Mine(#[from] MineError),
}

/// Reads the run `id` in `runs_dir` (`<root>/.longrun/runs`).
pub fn read_run(runs_dir: &Path, id: &str) -> Result<RunScope, RunScopeError> {
    let single = Path::new(id).components().count() == 1
        && !matches!(id, "" | "." | "..")
        && !id.contains(['/', '\\']);
    if !single {
        return Err(RunScopeError::BadId(id.to_string()));
    }
    let directory = runs_dir.join(id);
    if !directory.is_dir() {
        return Err(RunScopeError::Missing {
            id: id.to_string(),
            directory,
        });
    }
    let mut tasks: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut earliest: Option<Timestamp> = None;
    for task in super::proposals::sorted_entries(&directory)? {
        if crate::state::model::TaskId::parse(&task).is_err() {
            continue;
        }
        for attempt in super::proposals::sorted_entries(&directory.join(&task))? {
            let Ok(number) = attempt.parse::<u32>() else {
                continue;
            };
            let attempt_dir = directory.join(&task).join(&attempt);
            if !attempt_dir.is_dir() {
                continue;
            }
            tasks.entry(task.clone()).or_default().insert(number);
            if let Ok(result) = crate::process::WorkerResult::load(&attempt_dir.join("result.json"))
                && let Ok(started) = result.started_at.parse::<Timestamp>()
            {
                earliest = Some(earliest.map_or(started, |e| e.min(started)));
            }
        }
    }
    if tasks.is_empty() {
        return Err(RunScopeError::Empty {
            id: id.to_string(),
            directory,
        });
    }
    let from_name = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", id)
        .ok()
        .and_then(|time| time.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp());
    Ok(RunScope {
        id: id.to_string(),
        directory,
        tasks,
        start: from_name.or(earliest),
    })
}

/// Where one task of the run stands while the log streams by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// Before the run started.
    NotYet,
    /// Since this time.
    Open(Timestamp),
    /// From the first time to the second (the next run's dispatch, or the merge).
    Closed(Timestamp, Timestamp),
}

/// Decides, event by event, what `--run` keeps. An event with an `attempt=` the run's
/// folder does not hold belongs to another run.
#[derive(Debug)]
pub struct RunFilter {
    scope: RunScope,
    /// `runs/<id>/`, as the cycle's events name the run's folders.
    marker: String,
    windows: HashMap<String, Window>,
}

impl RunFilter {
    pub fn new(scope: RunScope) -> RunFilter {
        let marker = format!("runs/{}/", scope.id);
        let windows = scope
            .tasks
            .keys()
            .map(|task| (task.clone(), Window::NotYet))
            .collect();
        RunFilter {
            scope,
            marker,
            windows,
        }
    }

    pub fn scope(&self) -> &RunScope {
        &self.scope
    }

    /// Whether `event` belongs to the run: it names the run's folder, or it is about one of
    /// the run's tasks inside that task's window.
    pub fn keep(&mut self, event: &Event) -> bool {
        let mentions = event.text.contains(&self.marker);
        let Some(task) = event.task.as_ref().map(|task| task.as_str()) else {
            return mentions;
        };
        let Some(window) = self.windows.get_mut(task) else {
            return mentions;
        };
        let at = event.timestamp;
        // An attempt the run's folder does not hold is another run's; a later one means the
        // task has moved on.
        if let Some(attempt) = event.field("attempt").and_then(|a| a.parse::<u32>().ok())
            && let Some(attempts) = self.scope.tasks.get(task)
            && !attempts.contains(&attempt)
        {
            if let Window::Open(since) = *window
                && attempts.last().is_some_and(|last| attempt > *last)
            {
                *window = Window::Closed(since, at);
            }
            return mentions;
        }
        if *window == Window::NotYet
            && (mentions || self.scope.start.is_some_and(|start| at >= start))
        {
            *window = Window::Open(at);
        }
        match *window {
            Window::NotYet | Window::Closed(..) => mentions,
            Window::Open(since) => {
                if event.kind == EventKind::Dispatch && !mentions {
                    // The task's next attempt, in another run.
                    *window = Window::Closed(since, at);
                    return false;
                }
                if event.kind == EventKind::Merge {
                    *window = Window::Closed(since, at);
                }
                true
            }
        }
    }

    /// Whether a note line of `task` at `at` falls in the run: the task is one of the run's
    /// and `at` is inside its window (from the run's start when the log never opened it).
    pub fn covers_note(&self, task: &str, at: Timestamp) -> bool {
        match self.windows.get(task) {
            None => false,
            Some(Window::NotYet) => self.scope.start.is_some_and(|start| at >= start),
            Some(Window::Open(since)) => at >= self.scope.start.unwrap_or(*since),
            Some(Window::Closed(since, until)) => {
                at >= self.scope.start.unwrap_or(*since) && at <= *until
            }
        }
    }
}

/// The time a note line starts with: `2026-11-21T09:00:00Z ...` (the cycle's lines) or a
/// date, `2026-11-21 ...` (midnight UTC).
pub fn note_line_time(line: &str) -> Option<Timestamp> {
    let first = line.split_whitespace().next()?;
    let first = first.trim_end_matches([':', ',']);
    if !super::looks_like_timestamp(first) {
        return None;
    }
    first.parse::<Timestamp>().ok().or_else(|| {
        first
            .get(..10)?
            .parse::<jiff::civil::Date>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp())
    })
}

fn serialize_time<S: serde::Serializer>(
    time: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_some(&crate::clock::format_timestamp(*time)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: &str) -> Event {
        Event::parse_line(line).unwrap()
    }

    #[test]
    fn a_run_is_read_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path();
        for path in [
            "R1/T1/1",
            "R1/T1/2",
            "R1/T2/1",
            "R1/not a task/1",
            "R1/T3/x",
        ] {
            std::fs::create_dir_all(runs.join(path)).unwrap();
        }
        std::fs::create_dir_all(runs.join("20261121T090000Z/T9/3")).unwrap();
        let scope = read_run(runs, "R1").unwrap();
        assert_eq!(
            scope.tasks,
            BTreeMap::from([
                ("T1".to_string(), BTreeSet::from([1, 2])),
                ("T2".to_string(), BTreeSet::from([1])),
            ])
        );
        assert_eq!(scope.start, None);
        let stamped = read_run(runs, "20261121T090000Z").unwrap();
        assert_eq!(stamped.start, Some("2026-11-21T09:00:00Z".parse().unwrap()));
        assert!(matches!(
            read_run(runs, "nope"),
            Err(RunScopeError::Missing { .. })
        ));
        for bad in ["../x", "a/b", "..", ""] {
            assert!(
                matches!(read_run(runs, bad), Err(RunScopeError::BadId(_))),
                "{bad}"
            );
        }
        std::fs::create_dir_all(runs.join("R2/T1")).unwrap();
        assert!(matches!(
            read_run(runs, "R2"),
            Err(RunScopeError::Empty { .. })
        ));
    }

    #[test]
    fn a_run_keeps_its_tasks_events_until_their_next_run() {
        let scope = RunScope {
            id: "20261121T090000Z".to_string(),
            directory: PathBuf::new(),
            tasks: BTreeMap::from([("T1".to_string(), BTreeSet::from([2]))]),
            start: Some("2026-11-21T09:00:00Z".parse().unwrap()),
        };
        let mut filter = RunFilter::new(scope);
        let kept: Vec<bool> = [
            "- 2026-11-21T08:00:00Z failure [T1] attempt=1: validator `x` exited 1",
            "- 2026-11-21T09:00:00Z dispatch [T1] attempt=2: worker started in w → .longrun/runs/20261121T090000Z/T1/2",
            "- 2026-11-21T09:00:00Z dispatch [T2] attempt=1: worker started in w → .longrun/runs/20261121T090000Z/T2/1",
            "- 2026-11-21T09:05:00Z failure [T1] attempt=2: validator `x` exited 1 → .longrun/runs/20261121T090000Z/T1/2/failure.md",
            "- 2026-11-21T09:06:00Z note [T1]: use the v2 API",
            "- 2026-11-21T09:06:00Z note: a note about nothing in particular",
            "- 2026-11-21T09:07:00Z failure [T1] attempt=1: a late report of attempt 1",
            "- 2026-11-21T09:10:00Z dispatch [T1] attempt=3: worker started in w → .longrun/runs/20261121T091000Z/T1/3",
            "- 2026-11-21T09:12:00Z note [T1]: too late",
        ]
        .iter()
        .map(|line| filter.keep(&event(line)))
        .collect();
        assert_eq!(
            kept,
            [false, true, true, true, true, false, false, false, false],
            "T2 is kept where it names the run's folder only"
        );
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        assert!(filter.covers_note("T1", at("2026-11-21T09:06:00Z")));
        assert!(!filter.covers_note("T1", at("2026-11-21T09:11:00Z")));
        assert!(!filter.covers_note("T1", at("2026-11-21T08:59:00Z")));
        assert!(!filter.covers_note("T2", at("2026-11-21T09:06:00Z")));
    }

    #[test]
    fn note_lines_tell_their_time() {
        assert_eq!(
            note_line_time("2026-11-21T09:00:00Z attempt 1: x"),
            Some("2026-11-21T09:00:00Z".parse().unwrap())
        );
        assert_eq!(
            note_line_time("2026-11-21: talked to Ada"),
            Some("2026-11-21T00:00:00Z".parse().unwrap())
        );
        assert_eq!(note_line_time("use the v2 API"), None);
    }
}
