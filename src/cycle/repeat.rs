//! Cycles one after another, for `longrun loop` and `longrun watch`: run a cycle, decide
//! whether to go on, wait until something is worth another cycle, repeat.
//!
//! Each cycle is the same stateless [`run_cycle`] that cron starts; this module adds only
//! pacing and stopping. Waiting is a [`Wait`] implementation: [`PollWait`] looks at the run
//! directories of the running workers every 50 ms (a `stat` and a lock probe each), and
//! `watcher::NotifyWait` reacts to file-system events. The decisions (when the run is over,
//! how long to pause) are pure functions with unit tests. It never prints: progress goes
//! to the caller's callback, and the caller prints.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{CycleError, CycleOptions, CycleReport, CycleWorker, cycle_workers, run_cycle};
use crate::process::{self, StopFlag, WorkerState};

/// How often a waiter looks at the stop flag and, when polling, at the workers.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The longest pause when nothing runs and `--every` is zero (or shorter than the backoff).
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A run gives up after this many cycles in a row ended in an error: one failed cycle may
/// be a person's half-saved checklist.yaml, three are a problem to look at.
pub const MAX_CONSECUTIVE_ERRORS: u32 = 3;

/// When `longrun loop` stops on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Every task complete or archived, or nothing left that can make progress.
    Done,
    /// Also as soon as any task is failed or blocked.
    Blocked,
}

/// How a run of cycles ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every task is complete or archived.
    Done,
    /// Tasks are failed or blocked, and the run was asked to stop at that (`--until
    /// blocked`) or nothing else is left to do.
    Stuck,
    /// Tasks are failed or blocked and the rest waits on them: nothing runs, nothing can be
    /// dispatched, nothing awaits an approval, so nothing moves until a person acts.
    Stalled,
    /// `--max-cycles` cycles ran.
    CycleLimit,
    /// SIGINT or SIGTERM (the signal number).
    Interrupted(i32),
    /// [`MAX_CONSECUTIVE_ERRORS`] cycles in a row failed.
    Errors,
}

/// Why a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// The first cycle of a run.
    Start,
    /// The pause ran out.
    Interval,
    /// The worker of this task finished (or died).
    WorkerFinished(String),
    /// checklist.yaml is not what it was after the last cycle.
    ChecklistChanged,
    /// SIGINT or SIGTERM arrived.
    Interrupted(i32),
}

/// What a waiter is asked to wait for.
#[derive(Debug, Clone)]
pub struct WaitPlan {
    /// Wake up after this long at the latest.
    pub pause: Duration,
    /// Wake up when one of these stops running.
    pub workers: Vec<CycleWorker>,
    /// checklist.yaml and its fingerprint after the last cycle: wake up when it changes
    /// (`longrun watch` only).
    pub checklist: Option<(PathBuf, Option<u128>)>,
}

/// Something that waits between two cycles.
pub trait Wait {
    fn wait(&mut self, plan: &WaitPlan, stop: &StopFlag) -> Wake;
}

/// What a run of cycles reports as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    Cycle {
        number: u32,
        woke: &'a Wake,
        report: &'a CycleReport,
    },
    Failed {
        number: u32,
        woke: &'a Wake,
        error: &'a CycleError,
    },
}

/// How to run cycles.
pub struct RepeatOptions<'a> {
    pub cycle: &'a CycleOptions,
    /// The pause between cycles; a finished worker cuts it short.
    pub every: Duration,
    /// `None`: never stop on the tasks' account (`longrun watch`).
    pub until: Option<Until>,
    pub max_cycles: Option<u32>,
    /// Also wake up when checklist.yaml changes.
    pub watch_checklist: bool,
}

/// What a run of cycles did.
#[derive(Debug)]
pub struct RepeatOutcome {
    pub ending: Ending,
    pub cycles: u32,
    /// The report of the last cycle that ran without an error.
    pub last: Option<CycleReport>,
    /// The error of the last cycle, when it failed.
    pub error: Option<CycleError>,
    /// Tasks whose workers still ran when the run ended (they are detached and go on).
    pub running: Vec<String>,
}

/// Runs cycles until the tasks say stop, `max_cycles` cycles ran, errors pile up, or a
/// signal sets `stop`. A signal never interrupts a cycle: it is seen between cycles.
pub fn repeat(
    options: &RepeatOptions<'_>,
    waiter: &mut dyn Wait,
    stop: &StopFlag,
    progress: &mut dyn FnMut(Progress<'_>),
) -> RepeatOutcome {
    let mut outcome = RepeatOutcome {
        ending: Ending::Done,
        cycles: 0,
        last: None,
        error: None,
        running: Vec::new(),
    };
    let mut woke = Wake::Start;
    let mut idle_streak = 0u32;
    let mut errors = 0u32;
    loop {
        if let Some(signal) = stop.requested() {
            outcome.ending = Ending::Interrupted(signal);
            return outcome;
        }
        outcome.cycles += 1;
        let number = outcome.cycles;
        let result = run_cycle(options.cycle);
        // The workers as the claims say after the cycle: what the wait watches, and what
        // is left running when the run ends. A worker this cycle started or saw running may
        // already have finished since; it stays in the list so the wait ends at once with
        // `WorkerFinished` rather than sleeping through it.
        let recent: Vec<String> = match &result {
            Ok(report) => report
                .dispatched
                .iter()
                .chain(&report.running)
                .chain(&report.gate_next)
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        };
        let workers = watched_workers(options.cycle, &recent);
        outcome.running = workers
            .iter()
            .filter(|worker| !worker_stopped(worker))
            .map(|worker| worker.task.clone())
            .collect();
        match result {
            Ok(report) => {
                errors = 0;
                outcome.error = None;
                progress(Progress::Cycle {
                    number,
                    woke: &woke,
                    report: &report,
                });
                let ending = verdict(&report, options.until, !workers.is_empty());
                let busy = report.ran && (!workers.is_empty() || changed_anything(&report));
                idle_streak = if busy { 0 } else { idle_streak + 1 };
                outcome.last = Some(report);
                if let Some(ending) = ending {
                    outcome.ending = ending;
                    return outcome;
                }
            }
            Err(error) => {
                errors += 1;
                idle_streak += 1;
                progress(Progress::Failed {
                    number,
                    woke: &woke,
                    error: &error,
                });
                outcome.error = Some(error);
                if errors >= MAX_CONSECUTIVE_ERRORS {
                    outcome.ending = Ending::Errors;
                    return outcome;
                }
            }
        }
        if options.max_cycles.is_some_and(|max| number >= max) {
            outcome.ending = Ending::CycleLimit;
            return outcome;
        }
        let plan = WaitPlan {
            pause: pause(options.every, !workers.is_empty(), idle_streak),
            checklist: options.watch_checklist.then(|| {
                let path = options.cycle.workspace.checklist();
                let fingerprint = fingerprint(&path);
                (path, fingerprint)
            }),
            workers,
        };
        woke = waiter.wait(&plan, stop);
        tracing::debug!("woke up: {woke:?}");
        if let Wake::Interrupted(signal) = woke {
            outcome.ending = Ending::Interrupted(signal);
            return outcome;
        }
    }
}

/// Whether a run stops after a cycle that produced `report`; `None` to go on.
///
/// A cycle that did not run (another one held the lock) decides nothing. `--until blocked`
/// stops at the first failed or blocked task. Otherwise the run is over when no task is
/// open (done when none is stuck either), or when it is stalled: some tasks are stuck, and
/// nothing runs, nothing was dispatched or changed by this cycle, nothing is in progress
/// under anyone's claim and nothing awaits an approval, so every open task waits on a
/// stuck one. The kill switch is never a stall: `longrun resume` moves the run again.
pub fn verdict(
    report: &CycleReport,
    until: Option<Until>,
    workers_running: bool,
) -> Option<Ending> {
    let until = until?;
    if !report.ran {
        return None;
    }
    if until == Until::Blocked && report.stuck > 0 {
        return Some(Ending::Stuck);
    }
    if report.open == 0 {
        return Some(if report.stuck == 0 {
            Ending::Done
        } else {
            Ending::Stuck
        });
    }
    let quiet = !workers_running && report.running.is_empty() && !changed_anything(report);
    let nobody_else = report.in_progress == 0 && report.awaiting_approval == 0;
    if report.stuck > 0 && quiet && nobody_else && !report.stopped {
        return Some(Ending::Stalled);
    }
    None
}

/// True when the cycle decided or started something (so the next one may find more to do).
pub fn changed_anything(report: &CycleReport) -> bool {
    [
        &report.dispatched,
        &report.merged,
        &report.rejected,
        &report.failed,
        &report.blocked,
        &report.deferred,
        &report.reconciled,
    ]
    .iter()
    .any(|tasks| !tasks.is_empty())
}

/// How long to wait after a cycle at most. With workers running: `every` (a finished worker
/// ends the wait earlier), or [`MAX_BACKOFF`] when `every` is zero, so back-to-back cycles
/// wait for a worker instead of spinning. With nothing running: at least a backoff that
/// doubles with each idle cycle in a row (1 s, 2 s, 4 s ... [`MAX_BACKOFF`]).
pub fn pause(every: Duration, workers_running: bool, idle_streak: u32) -> Duration {
    if workers_running {
        if every.is_zero() { MAX_BACKOFF } else { every }
    } else {
        every.max(backoff(idle_streak))
    }
}

/// 0 for no idle cycle, then 1 s, 2 s, 4 s ... capped at [`MAX_BACKOFF`].
pub fn backoff(idle_streak: u32) -> Duration {
    if idle_streak == 0 {
        return Duration::ZERO;
    }
    let seconds = 1u64
        .checked_shl(idle_streak.saturating_sub(1).min(32))
        .unwrap_or(u64::MAX);
    Duration::from_secs(seconds).min(MAX_BACKOFF)
}

/// A content fingerprint of a file (`None` when it cannot be read): what tells a person's
/// edit of checklist.yaml from the cycle's own write, which the fingerprint taken after the
/// cycle already includes.
pub fn fingerprint(path: &Path) -> Option<u128> {
    std::fs::read(path)
        .ok()
        .map(|bytes| xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// True when `worker` no longer runs: its supervisor wrote `result.json`, or died. A claim
/// whose worker was not started yet (no `spec.json`: another cycle is preparing it) runs.
pub fn worker_stopped(worker: &CycleWorker) -> bool {
    if !worker.run_dir.join("spec.json").is_file() {
        return false;
    }
    // An unreadable run directory is the next cycle's to report, so it ends the wait.
    !matches!(
        process::worker_state(&worker.run_dir),
        Ok(WorkerState::Running)
    )
}

/// Checks the plan's workers and checklist once.
pub fn check_plan(plan: &WaitPlan) -> Option<Wake> {
    if let Some(worker) = plan.workers.iter().find(|worker| worker_stopped(worker)) {
        return Some(Wake::WorkerFinished(worker.task.clone()));
    }
    if let Some((path, before)) = &plan.checklist
        && fingerprint(path) != *before
    {
        return Some(Wake::ChecklistChanged);
    }
    None
}

/// Waits by looking at the workers (and checklist.yaml, when asked) every
/// [`POLL_INTERVAL`]: a `stat`, a lock probe per worker, and a read of checklist.yaml.
#[derive(Debug, Default)]
pub struct PollWait;

impl Wait for PollWait {
    fn wait(&mut self, plan: &WaitPlan, stop: &StopFlag) -> Wake {
        let deadline = Instant::now() + plan.pause;
        loop {
            if let Some(signal) = stop.requested() {
                return Wake::Interrupted(signal);
            }
            if let Some(wake) = check_plan(plan) {
                return wake;
            }
            let now = Instant::now();
            if now >= deadline {
                return Wake::Interval;
            }
            std::thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
    }
}

/// The cycle's workers that still run, or that the last cycle started or saw running
/// (those the next cycle reaps). Other finished ones are left out: a claim no cycle reaps
/// (its task was removed from checklist.yaml) would otherwise end every wait at once. An
/// unreadable claim store counts as none; the next cycle reports it.
fn watched_workers(options: &CycleOptions, recent: &[String]) -> Vec<CycleWorker> {
    match cycle_workers(&options.workspace, options.clock.now()) {
        Ok(workers) => workers
            .into_iter()
            .filter(|worker| recent.contains(&worker.task) || !worker_stopped(worker))
            .collect(),
        Err(error) => {
            tracing::warn!("cannot list the cycle's workers: {error}");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(open: usize, stuck: usize) -> CycleReport {
        CycleReport {
            ran: true,
            open,
            stuck,
            total: open + stuck,
            ..CycleReport::default()
        }
    }

    #[test]
    fn a_cycle_that_did_not_run_decides_nothing() {
        let skipped = CycleReport::default();
        assert_eq!(verdict(&skipped, Some(Until::Done), false), None);
        assert_eq!(verdict(&skipped, Some(Until::Blocked), false), None);
    }

    #[test]
    fn done_when_nothing_is_open() {
        assert_eq!(
            verdict(&report(0, 0), Some(Until::Done), false),
            Some(Ending::Done)
        );
        assert_eq!(
            verdict(&report(0, 2), Some(Until::Done), false),
            Some(Ending::Stuck)
        );
    }

    #[test]
    fn until_blocked_stops_at_the_first_stuck_task() {
        let mut running = report(3, 1);
        running.running = vec!["T2".into()];
        assert_eq!(
            verdict(&running, Some(Until::Blocked), true),
            Some(Ending::Stuck)
        );
        assert_eq!(verdict(&running, Some(Until::Done), true), None);
    }

    #[test]
    fn stalled_only_when_nothing_can_move() {
        // T2 failed, T3 waits on it, nothing else happens.
        let stalled = report(1, 1);
        assert_eq!(
            verdict(&stalled, Some(Until::Done), false),
            Some(Ending::Stalled)
        );
        let mut dispatched = report(1, 1);
        dispatched.dispatched = vec!["T3".into()];
        assert_eq!(verdict(&dispatched, Some(Until::Done), true), None);
        let mut approval = report(1, 1);
        approval.awaiting_approval = 1;
        assert_eq!(verdict(&approval, Some(Until::Done), false), None);
        let mut claimed_by_someone = report(1, 1);
        claimed_by_someone.in_progress = 1;
        assert_eq!(verdict(&claimed_by_someone, Some(Until::Done), false), None);
        let mut just_failed = report(1, 1);
        just_failed.failed = vec!["T2".into()];
        assert_eq!(verdict(&just_failed, Some(Until::Done), false), None);
        let mut kill_switch = report(1, 1);
        kill_switch.stopped = true;
        assert_eq!(verdict(&kill_switch, Some(Until::Done), false), None);
        // Open tasks and nothing stuck: waiting on something outside (a claim, a lock).
        assert_eq!(verdict(&report(2, 0), Some(Until::Done), false), None);
    }

    #[test]
    fn watch_never_stops_on_the_tasks_account() {
        assert_eq!(verdict(&report(0, 0), None, false), None);
        assert_eq!(verdict(&report(0, 3), None, false), None);
    }

    #[test]
    fn pause_waits_for_workers_and_backs_off_when_idle() {
        let ten_minutes = Duration::from_secs(600);
        assert_eq!(pause(ten_minutes, true, 0), ten_minutes);
        assert_eq!(pause(ten_minutes, false, 5), ten_minutes);
        assert_eq!(pause(Duration::ZERO, true, 0), MAX_BACKOFF);
        assert_eq!(pause(Duration::ZERO, false, 0), Duration::ZERO);
        assert_eq!(pause(Duration::ZERO, false, 1), Duration::from_secs(1));
        assert_eq!(pause(Duration::ZERO, false, 3), Duration::from_secs(4));
        assert_eq!(pause(Duration::ZERO, false, 40), MAX_BACKOFF);
        assert_eq!(
            pause(Duration::from_millis(100), false, 2),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn backoff_saturates() {
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
        assert_eq!(backoff(6), MAX_BACKOFF);
        assert_eq!(backoff(5), Duration::from_secs(16));
    }

    #[test]
    fn poll_wait_wakes_on_a_changed_file_and_on_the_stop_flag() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("checklist.yaml");
        std::fs::write(&path, "tasks: []\n").unwrap();
        let plan = WaitPlan {
            pause: Duration::from_secs(60),
            workers: Vec::new(),
            checklist: Some((path.clone(), fingerprint(&path))),
        };
        std::fs::write(&path, "tasks: [] # edited\n").unwrap();
        let stop = StopFlag::new();
        assert_eq!(PollWait.wait(&plan, &stop), Wake::ChecklistChanged);

        let plan = WaitPlan {
            checklist: Some((path.clone(), fingerprint(&path))),
            ..plan
        };
        stop.request(15);
        assert_eq!(PollWait.wait(&plan, &stop), Wake::Interrupted(15));
    }

    #[test]
    fn poll_wait_ends_at_the_pause() {
        let plan = WaitPlan {
            pause: Duration::from_millis(10),
            workers: Vec::new(),
            checklist: None,
        };
        assert_eq!(PollWait.wait(&plan, &StopFlag::new()), Wake::Interval);
    }

    #[test]
    fn a_worker_without_a_spec_still_runs_and_one_without_a_live_supervisor_stopped() {
        let temp = tempfile::tempdir().unwrap();
        let worker = CycleWorker {
            task: "T1".into(),
            attempt: 1,
            run_dir: temp.path().to_path_buf(),
            holder_alive: false,
        };
        assert!(!worker_stopped(&worker));
        std::fs::write(temp.path().join("spec.json"), "{}").unwrap();
        // No supervisor holds the lock and there is no result: dead, so stopped.
        assert!(worker_stopped(&worker));
    }
}
