//! The stateless cycle: one pass that rebuilds the picture from files and git, reaps and
//! gates finished workers, schedules ready tasks, writes statuses and events, and exits.
//!
//! It can be killed at any point; the next cycle converges, because every step is decided
//! from what is on disk (claims, run directories, git trailers), and every write is an
//! absolute value rather than an increment. It never prints: it returns a report.

mod dispatch;
mod gates;
pub mod repeat;
pub mod watcher;
pub mod why;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::clock::Clock;
use crate::config::Config;
use crate::gate::{self, GateInput, GateOutcome};
use crate::git::claims::{RemoteClaims, release_mirrored};
use crate::git::{self, History, Identity};
use crate::parallel::in_parallel;
use crate::process::{self, WorkerState};
use crate::state::checklist::{
    self, Checklist, FieldValue, LoadOptions, StatusValue, SummaryField, Task, TaskEdit, TaskField,
};
use crate::state::claims::{ClaimEntry, ClaimStore, LockContent};
use crate::state::model::{EventKind, TaskId, TaskStatus};
use crate::state::runlog::{self, Event, FieldKey};
use crate::workspace::Workspace;

/// Claims the cycle makes carry a worker name starting with this; claims made by other
/// agents (`longrun claim`) are never reaped or gated by the cycle.
pub const CYCLE_WORKER_PREFIX: &str = "longrun-cycle:";

/// What a cycle is told by its caller.
pub struct CycleOptions {
    pub workspace: Workspace,
    pub clock: Clock,
    /// The longrun executable, started as `__supervise` for each worker.
    pub exe: PathBuf,
    /// The caller's environment; workers get only the allowlisted part of it.
    pub caller_env: Vec<(String, String)>,
    pub host: String,
    pub max_parallel: Option<u32>,
    pub dry_run: bool,
    pub allow_missing_validators: bool,
    /// Test-only: abort the process at this named step.
    pub fault: Option<String>,
}

/// What one cycle did.
#[derive(Debug, Default, Serialize)]
pub struct CycleReport {
    /// False when another cycle held the lock: nothing was done.
    pub ran: bool,
    pub stopped: bool,
    pub dry_run: bool,
    pub merged: Vec<String>,
    pub rejected: Vec<String>,
    pub failed: Vec<String>,
    pub blocked: Vec<String>,
    pub deferred: Vec<String>,
    /// Finished attempts left for the next cycle to gate (it starts at once in a loop).
    pub gate_next: Vec<String>,
    pub dispatched: Vec<String>,
    pub running: Vec<String>,
    pub reconciled: Vec<String>,
    /// Human-readable lines of what happened (or, in a dry run, would happen).
    pub actions: Vec<String>,
    /// Counts by status after the cycle.
    pub complete: usize,
    pub total: usize,
    /// Tasks in `failed` or `blocked` after the cycle.
    pub stuck: usize,
    /// Tasks that can still make progress (not terminal, not blocked).
    pub open: usize,
    /// Of the open tasks: those `in_progress` (by the cycle's workers or anyone's claim).
    pub in_progress: usize,
    /// Of the open tasks: those waiting for a person's approval.
    pub awaiting_approval: usize,
    /// How long the cycle took, in milliseconds.
    pub duration_ms: u64,
}

/// Errors that stop a cycle. Task failures are not errors: they are decisions.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Checklist(#[from] checklist::ChecklistError),
    #[error(transparent)]
    RunLog(#[from] runlog::RunLogError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Claims(#[from] crate::state::claims::ClaimError),
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error(transparent)]
    Gate(#[from] gate::GateError),
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    #[error("`{path}` has problems that make acting on it unsafe: {details}", path = path.display())]
    Unsafe { path: PathBuf, details: String },
    #[error(
        "the primary checkout has no branch checked out (detached HEAD) and `target_branch` is not set in longrun.yaml"
    )]
    NoTargetBranch,
    #[error("the target branch `{0}` has no commit yet; commit something first")]
    EmptyTarget(String),
    #[error("task `{task}`: {message}")]
    Task { task: String, message: String },
    #[error(transparent)]
    Remote(Box<crate::git::claims::GitClaimError>),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Run(#[from] crate::state::run::RunError),
}

/// Collected writes: applied in one checklist update and one run-log append at the end of
/// the cycle (and before any step that could take long, so a crash loses little).
#[derive(Default)]
struct Pending {
    edits: Vec<TaskEdit>,
    events: Vec<Event>,
    /// Task edits were written by an earlier flush of this cycle.
    flushed_edits: bool,
}

impl Pending {
    fn set(&mut self, task: &str, field: TaskField, value: FieldValue) {
        self.edits.push(TaskEdit::Task {
            task_id: task.to_string(),
            field,
            value,
        });
    }

    fn status(&mut self, task: &str, status: TaskStatus) {
        self.set(
            task,
            TaskField::Status,
            FieldValue::Text(status.as_str().to_string()),
        );
    }
}

struct Cycle<'a> {
    options: &'a CycleOptions,
    config: Config,
    /// `policy/*.yaml`, applied to every candidate diff.
    policy: crate::policy::Policy,
    now: Timestamp,
    primary: PathBuf,
    target: String,
    /// The ref the cycle builds on and reads completion from: `refs/heads/<target>`, or in
    /// git mode the remote's target as just fetched.
    base_ref: String,
    /// Git mode: claims and merges go through this remote.
    remote: Option<RemoteClaims>,
    store: ClaimStore,
    identity: Identity,
    report: CycleReport,
    pending: Pending,
    /// Notes as they will read after the pending edits (notes are appended to).
    notes: HashMap<String, String>,
    /// Started (detached) at the end of the cycle.
    notifications: Vec<gates::Notification>,
    /// A run-wide budget is spent: nothing more is dispatched this cycle.
    budget_stopped: bool,
    /// Attempts the gates finished this cycle, whose claims are released together.
    finished: Vec<Finished>,
    /// What every worker prompt quotes, read at the first dispatch of the cycle.
    prompt_files: Option<PromptFiles>,
    /// Supervisors started by this scheduling pass, not yet known to hold their locks.
    starting: Vec<process::Starting>,
    /// What the next gate builds on: the target's tip (`base_ref`), or the last merge
    /// commit the gates made this cycle when it has not landed yet.
    tip: String,
    /// Where the target branch is (as of the last landing).
    landed_tip: String,
    /// Validated merges not yet on the target branch, in order, each built on the one before.
    landing: Vec<Landing>,
    /// Tasks whose landing settled them, for the gate loop's bookkeeping.
    settled: Vec<(String, TaskStatus)>,
    /// Worktrees whose task branch the gates merged an unlanded merge commit into, with the
    /// branch's own head before: reset to it when the landing fails.
    speculated: Vec<(PathBuf, String)>,
    /// Finished attempts to gate together after the reaping.
    queued: Vec<Queued>,
    /// The primary checkout's status, read once a cycle (see [`primary_status`]): the
    /// cycle's own merges fast-forward it and leave it as it was.
    primary_status: Option<String>,
    /// When the cycle started (for `-vv`'s step times).
    started: std::time::Instant,
}

/// The files every worker prompt of a cycle quotes.
struct PromptFiles {
    plan: String,
    agents_md: String,
    skills: Vec<crate::skills::SkillSummary>,
}

/// A validated merge commit waiting for the target branch to move to it (see
/// [`Cycle::land_pending`]).
struct Landing {
    task_id: String,
    claim: crate::state::claims::Claim,
    worktree: PathBuf,
    attempt: u32,
    commit: String,
    validated_tree: String,
    runs: Vec<gate::validate::ValidatorRun>,
}

/// A finished attempt waiting for the cycle's batch gate (see [`Cycle::gate_queued`]).
struct Queued {
    task_id: String,
    claim: crate::state::claims::Claim,
    run_dir: PathBuf,
    worktree: PathBuf,
    validator_env: Vec<(String, String)>,
    reviewers: Vec<crate::gate::review::Reviewer>,
    full_validators: Vec<crate::state::checklist::Validator>,
}

/// An attempt whose claim is to be released (see [`Cycle::finish`]).
struct Finished {
    task_id: String,
    claim: crate::state::claims::Claim,
    worktree: PathBuf,
    merged: bool,
}

/// Runs one cycle.
pub fn run_cycle(options: &CycleOptions) -> Result<CycleReport, CycleError> {
    let started = std::time::Instant::now();
    let workspace = &options.workspace;
    let Some(lock) = try_cycle_lock(workspace)? else {
        return Ok(CycleReport::default());
    };
    let (config, _warnings) = Config::load(&workspace.config())?;
    let primary = workspace.root.clone();
    let target = target_branch(&config, &primary)?;
    let remote = match config.claims.mode {
        crate::config::ClaimMode::Git => Some(
            RemoteClaims::new(primary.clone(), &config.claims.remote)
                .map_err(|error| CycleError::Remote(Box::new(error)))?,
        ),
        crate::config::ClaimMode::Local => None,
    };
    let base_ref = match &remote {
        Some(remote) => format!("refs/remotes/{}/{target}", remote.remote()),
        None => format!("refs/heads/{target}"),
    };
    let policy = crate::policy::Policy::load_dir(&workspace.root.join("policy"))?;
    let mut cycle = Cycle {
        options,
        policy,
        base_ref,
        remote,
        now: options.clock.now(),
        store: ClaimStore::new(workspace.current_tasks()),
        identity: Identity::new("longrun", "longrun@localhost"),
        primary,
        target,
        config,
        report: CycleReport {
            ran: true,
            dry_run: options.dry_run,
            ..CycleReport::default()
        },
        pending: Pending::default(),
        notes: HashMap::new(),
        notifications: Vec::new(),
        budget_stopped: false,
        finished: Vec::new(),
        prompt_files: None,
        starting: Vec::new(),
        tip: String::new(),
        landed_tip: String::new(),
        landing: Vec::new(),
        settled: Vec::new(),
        speculated: Vec::new(),
        queued: Vec::new(),
        primary_status: None,
        started,
    };
    cycle.run()?;
    drop(lock);
    cycle.report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::trace!("cycle: {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    Ok(cycle.report)
}

/// The branch finished tasks merge into: `target_branch` from longrun.yaml, or else the
/// branch checked out in the primary checkout.
pub fn target_branch(config: &Config, primary: &Path) -> Result<String, CycleError> {
    match &config.target_branch {
        Some(branch) => Ok(branch.clone()),
        None => git::current_branch(primary).ok_or(CycleError::NoTargetBranch),
    }
}

/// The cycle lock, held while a cycle (or `longrun gc`) changes worktrees, branches and run
/// directories. Released when dropped (and by the kernel when the holder dies).
#[derive(Debug)]
pub struct CycleLock {
    // Held for its flock; never read.
    _file: std::fs::File,
}

/// Takes `.longrun/cycle.lock` without waiting; `None` when another process holds it.
pub fn try_cycle_lock(workspace: &Workspace) -> Result<Option<CycleLock>, CycleError> {
    let lock_path = workspace.state_dir().join("cycle.lock");
    if let Some(parent) = lock_path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| crate::fsutil::FsError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| crate::fsutil::FsError::Write {
            path: lock_path.clone(),
            source,
        })?;
    match lock_file.try_lock() {
        Ok(()) => Ok(Some(CycleLock { _file: lock_file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(source)) => Err(crate::fsutil::FsError::Write {
            path: lock_path,
            source,
        }
        .into()),
    }
}

/// `.longrun/STOP`: while it exists, cycles reap and gate but dispatch nothing.
pub fn kill_switch_path(workspace: &Workspace) -> PathBuf {
    workspace.state_dir().join("STOP")
}

/// Turns the kill switch on (creates `.longrun/STOP` holding `note`) or off (removes it).
/// Returns false when it already was in that state, so callers can say so; an existing
/// file is left as it is.
pub fn set_kill_switch(
    workspace: &Workspace,
    on: bool,
    note: &str,
) -> Result<bool, crate::fsutil::FsError> {
    let path = kill_switch_path(workspace);
    if on {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| crate::fsutil::FsError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        match crate::fsutil::create_new_atomic(&path, note.as_bytes())? {
            crate::fsutil::CreateOutcome::Created => Ok(true),
            crate::fsutil::CreateOutcome::AlreadyExists => Ok(false),
        }
    } else {
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(crate::fsutil::FsError::Write { path, source }),
        }
    }
}

/// A worker started by a cycle, as its claim says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleWorker {
    pub task: String,
    pub attempt: u32,
    pub run_dir: PathBuf,
    /// Some process holds the claim's OS lock (the supervisor, normally).
    pub holder_alive: bool,
}

/// The workers the cycle's claims point at (claims whose worker starts with
/// [`CYCLE_WORKER_PREFIX`]), in task order, whether they still run or not.
pub fn cycle_workers(
    workspace: &Workspace,
    now: Timestamp,
) -> Result<Vec<CycleWorker>, CycleError> {
    let store = ClaimStore::new(workspace.current_tasks());
    let mut workers = Vec::new();
    for entry in store.list(now)? {
        let LockContent::Claim(claim) = &entry.lock else {
            continue;
        };
        if !claim.info.worker.starts_with(CYCLE_WORKER_PREFIX) {
            continue;
        }
        let task = claim.info.task.to_string();
        workers.push(CycleWorker {
            run_dir: run_dir(workspace, &task, claim.info.claimed_at, claim.info.attempt),
            task,
            attempt: claim.info.attempt,
            holder_alive: entry.holder_alive,
        });
    }
    Ok(workers)
}

impl Cycle<'_> {
    fn run(&mut self) -> Result<(), CycleError> {
        let workspace = self.options.workspace.clone();
        let snapshot = LoadOptions {
            snapshot_path: Some(workspace.checklist_snapshot()),
        };
        let loaded = checklist::load(&workspace.checklist(), &snapshot)?;
        let blocking: Vec<String> = loaded
            .checklist
            .validate(checklist::ValidateOptions {
                allow_missing_validators: true,
            })
            .into_iter()
            .filter(|problem| problem.blocks_action())
            .map(|problem| format!("line {}: {}", problem.line, problem.message))
            .collect();
        if !blocking.is_empty() {
            return Err(CycleError::Unsafe {
                path: loaded.path.clone(),
                details: blocking.join("; "),
            });
        }
        if !workspace.run_log().is_file() {
            return Err(runlog::RunLogError::Missing {
                path: workspace.run_log(),
            }
            .into());
        }
        let checklist = loaded.checklist;
        for task in &checklist.tasks {
            self.notes.insert(task.task_id.clone(), task.note.clone());
        }
        if let Some(remote) = &self.remote {
            self.sync_with_remote(remote.remote().to_string())?;
        }
        self.tip = git::rev_parse(&self.primary, &self.base_ref)?
            .ok_or_else(|| CycleError::EmptyTarget(self.target.clone()))?;
        self.landed_tip = self.tip.clone();
        self.report.stopped = kill_switch_path(&workspace).exists();

        // Git is the record of completion.
        self.step("loaded");
        let completed: HashMap<String, git::CompletedTask> =
            git::completed_tasks(&self.primary, &self.base_ref, History::FirstParent)?
                .into_iter()
                .map(|done| (done.task.clone(), done))
                .collect();
        let mut statuses: HashMap<String, Option<TaskStatus>> = checklist
            .tasks
            .iter()
            .map(|task| (task.task_id.clone(), task.status.effective()))
            .collect();
        for task in &checklist.tasks {
            if let Some(done) = completed.get(&task.task_id)
                && task.status.effective() != Some(TaskStatus::Complete)
                && task.status.effective() != Some(TaskStatus::Archived)
            {
                self.action(format!(
                    "reconcile `{}`: complete (merge commit {})",
                    task.task_id,
                    short(&done.commit)
                ));
                if !self.options.dry_run {
                    self.pending.status(&task.task_id, TaskStatus::Complete);
                    if let Some(attempt) = done.attempt {
                        self.pending.set(
                            &task.task_id,
                            TaskField::Attempts,
                            FieldValue::Integer(attempt as u64),
                        );
                    }
                    self.pending.events.push(self.event(
                        EventKind::Merge,
                        &task.task_id,
                        format!(
                            "status reconciled from merge commit {} on `{}`",
                            short(&done.commit),
                            self.target
                        ),
                    ));
                }
                self.report.reconciled.push(task.task_id.clone());
                statuses.insert(task.task_id.clone(), Some(TaskStatus::Complete));
            }
        }

        // Reap: what each of the cycle's workers is doing. Finished ones are gated after
        // the dispatch below: their slots are free, so new workers start before the gates'
        // git work and validators run.
        self.step("reconciled");
        let claims = self.store.list(self.now)?;
        let mut claimed: HashSet<String> = HashSet::new();
        let mut running = 0u32;
        // The run directories of the workers counted as running, to look at again at the end.
        let mut running_dirs: Vec<PathBuf> = Vec::new();
        let mut finished: Vec<(ClaimEntry, WorkerState)> = Vec::new();
        for entry in claims {
            let Some(task_id) = entry.task.clone() else {
                continue;
            };
            claimed.insert(task_id.to_string());
            let LockContent::Claim(claim) = &entry.lock else {
                continue;
            };
            if !claim.info.worker.starts_with(CYCLE_WORKER_PREFIX)
                || checklist.task(task_id.as_str()).is_none()
            {
                continue;
            }
            let state = self.worker_state(&entry, claim)?;
            if matches!(state, WorkerState::Running) && !completed.contains_key(task_id.as_str()) {
                running += 1;
                self.report.running.push(task_id.to_string());
                running_dirs.push(self.run_dir(
                    task_id.as_str(),
                    claim.info.claimed_at,
                    claim.info.attempt,
                ));
            } else {
                finished.push((entry, state));
            }
        }
        let max_parallel = self
            .options
            .max_parallel
            .unwrap_or(self.config.max_parallel)
            .max(1);
        if self.report.stopped {
            self.action("kill switch `.longrun/STOP` is on: nothing dispatched".to_string());
        } else {
            self.schedule(
                &checklist,
                &mut statuses,
                &claimed,
                &completed,
                &mut running,
                max_parallel,
            )?;
        }
        self.step("scheduled");
        self.flush()?;

        // Gate the finished workers.
        let gated = !finished.is_empty();
        for (entry, state) in finished {
            let LockContent::Claim(claim) = &entry.lock else {
                continue;
            };
            let Some(task) = checklist.task(claim.info.task.as_str()) else {
                continue;
            };
            let completed = completed.contains_key(task.task_id.as_str());
            let started = std::time::Instant::now();
            let reaped = self.reap(&checklist, task, claim, completed, state)?;
            tracing::trace!(
                "reap `{}`: {:.1} ms",
                task.task_id,
                started.elapsed().as_secs_f64() * 1000.0
            );
            match reaped {
                Reaped::Running => {
                    running += 1;
                    self.report.running.push(task.task_id.clone());
                }
                Reaped::Done(status) => {
                    claimed.remove(task.task_id.as_str());
                    statuses.insert(task.task_id.clone(), Some(status));
                }
                Reaped::Kept => {}
            }
            self.settle(&mut claimed, &mut statuses);
        }
        self.step("reaped");
        self.gate_queued(&checklist)?;
        self.step("gated");
        self.land_pending()?;
        self.settle(&mut claimed, &mut statuses);
        self.step("landed");
        self.release_finished()?;
        self.flush()?;
        self.fault("after-gate");
        self.step("released");
        if !self.report.merged.is_empty() {
            git::auto_maintenance(&self.primary);
        }

        // Workers that finished (wrote their result) while this cycle worked free their
        // slots now: new ones start at once rather than after the next cycle's start. Their
        // attempts stay claimed and are gated by the next cycle (which the loop starts
        // right away).
        let freed = if self.report.stopped || self.options.dry_run {
            0
        } else {
            running_dirs
                .iter()
                .filter(|dir| matches!(process::worker_state(dir), Ok(WorkerState::Finished(_))))
                .count() as u32
        };
        running = running.saturating_sub(freed);

        // What the gates decided may have made more tasks ready (a merged dependency, a
        // rejected attempt to retry): schedule again from the file as it now is (the gates
        // wrote attempts, notes and statuses).
        let checklist = if (gated || freed > 0) && !self.report.stopped && !self.options.dry_run {
            let checklist = if gated {
                checklist::load(&workspace.checklist(), &snapshot)?.checklist
            } else {
                checklist
            };
            self.schedule(
                &checklist,
                &mut statuses,
                &claimed,
                &completed,
                &mut running,
                max_parallel,
            )?;
            checklist
        } else {
            checklist
        };

        // Summary and counts.
        let view = with_statuses(&checklist, &statuses);
        self.step("rescheduled");
        self.summarize(&view);
        self.end_run_when_done()?;
        if self.report.open == 0 && !self.options.dry_run {
            // Nothing left to dispatch: parked worktrees have no next task.
            for parked in parked_worktrees(&workspace) {
                let _ = git::worktree_remove(&self.primary, &parked, true);
            }
        }
        self.step("summarized");
        self.send_notifications()?;
        self.flush()?;
        Ok(())
    }

    /// Dispatches ready tasks into the free worker slots (`running` of `max_parallel`).
    fn schedule(
        &mut self,
        checklist: &Checklist,
        statuses: &mut HashMap<String, Option<TaskStatus>>,
        claimed: &HashSet<String>,
        completed: &HashMap<String, git::CompletedTask>,
        running: &mut u32,
        max_parallel: u32,
    ) -> Result<(), CycleError> {
        if *running >= max_parallel {
            return Ok(());
        }
        let view = with_statuses(checklist, statuses);
        let ready: Vec<Task> = view
            // Approvals before dispatch are checked in `dispatch` (gates.rs).
            .ready_tasks_held(
                &|id| claimed.contains(id) || completed.contains_key(id),
                &|_| false,
            )
            .into_iter()
            .cloned()
            .collect();
        // Claim first, then prepare the claimed tasks' worktrees side by side (each only
        // touches its own), then start their workers.
        let mut claimed: Vec<(Task, dispatch::Claimed)> = Vec::new();
        for task in ready {
            if *running + claimed.len() as u32 >= max_parallel {
                break;
            }
            match self.dispatch(&task)? {
                dispatch::Dispatch::Claimed(held) => claimed.push((task, *held)),
                dispatch::Dispatch::Done(Some(TaskStatus::InProgress)) => {
                    *running += 1;
                    statuses.insert(task.task_id.clone(), Some(TaskStatus::InProgress));
                }
                dispatch::Dispatch::Done(Some(status)) => {
                    statuses.insert(task.task_id.clone(), Some(status));
                }
                dispatch::Dispatch::Done(None) => {}
            }
        }
        let mut parked = parked_worktrees(&self.options.workspace);
        let jobs: Vec<(&dispatch::Claimed, Option<PathBuf>)> = claimed
            .iter()
            .map(|(_, held)| (held, parked.pop()))
            .collect();
        let started = std::time::Instant::now();
        let primary = &self.primary;
        let prepared = in_parallel(jobs, |(held, parked)| {
            dispatch::prepare_worktree(primary, parked.as_deref(), held)
        });
        tracing::trace!(
            "{} worktrees: {:.1} ms",
            prepared.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        for ((task, held), prepared) in claimed.into_iter().zip(prepared) {
            prepared?;
            self.fault("after-worktree");
            if let Some(status) = self.start(checklist, &task, held)? {
                if status == TaskStatus::InProgress {
                    *running += 1;
                }
                statuses.insert(task.task_id.clone(), Some(status));
            }
        }
        // Every worker started is alive and holding its claim before the cycle goes on (a
        // later look at its run directory would otherwise take it for dead).
        let started = std::time::Instant::now();
        for starting in std::mem::take(&mut self.starting) {
            starting.wait()?;
        }
        tracing::trace!(
            "supervisors holding their claims: {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        Ok(())
    }

    /// Git mode: fetches the remote's target into the tracking ref, and moves the local
    /// target branch up to it when that is a fast-forward (never over a person's changes).
    fn sync_with_remote(&mut self, remote: String) -> Result<(), CycleError> {
        let refspec = format!("+refs/heads/{}:{}", self.target, self.base_ref);
        git::fetch(&self.primary, &remote, &[refspec.as_str()])?;
        let Some(remote_tip) = git::rev_parse(&self.primary, &self.base_ref)? else {
            return Ok(());
        };
        let local_ref = format!("refs/heads/{}", self.target);
        if let Some(local) = git::rev_parse(&self.primary, &local_ref)?
            && local != remote_tip
            && git::is_ancestor(&self.primary, &local, &remote_tip)?
            && !self.options.dry_run
        {
            match git::advance_branch(&self.primary, &self.target, &remote_tip, &local)? {
                git::AdvanceOutcome::Advanced { .. } => {}
                other => self.action(format!(
                    "`{}` could not follow `{remote}`: {other:?}",
                    self.target
                )),
            }
        }
        Ok(())
    }

    /// Applies the pending edits and events (unless this is a dry run).
    fn flush(&mut self) -> Result<(), CycleError> {
        if self.options.dry_run {
            self.pending = Pending::default();
            return Ok(());
        }
        let started = std::time::Instant::now();
        let workspace = &self.options.workspace;
        let edits = std::mem::take(&mut self.pending.edits);
        let events = std::mem::take(&mut self.pending.events);
        if !edits.is_empty() {
            self.pending.flushed_edits = true;
            checklist::update(
                &workspace.checklist(),
                &workspace.checklist_lock(),
                &LoadOptions {
                    snapshot_path: Some(workspace.checklist_snapshot()),
                },
                |current| Ok(edits_for(current, &edits)),
            )?;
        }
        self.fault("after-status-write");
        if !events.is_empty() {
            runlog::append_events(&workspace.run_log(), &workspace.run_log_lock(), &events)?;
        }
        tracing::trace!(
            "flush ({} edits, {} events): {:.1} ms",
            edits.len(),
            events.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        Ok(())
    }

    /// Logs (at trace level, `-vv`) that the cycle reached `name`, with the time since it began.
    fn step(&self, name: &str) {
        tracing::trace!(
            "step {name}: {:.1} ms",
            self.started.elapsed().as_secs_f64() * 1000.0
        );
    }

    fn fault(&self, point: &str) {
        if self.options.fault.as_deref() == Some(point) {
            std::process::abort();
        }
    }

    fn action(&mut self, text: String) {
        self.report.actions.push(text);
    }

    fn event(&self, kind: EventKind, task: &str, text: impl Into<String>) -> Event {
        let mut event = Event::new(self.now, kind, text);
        if let Ok(id) = TaskId::parse(task) {
            event = event.with_task(id);
        }
        event
    }

    /// Appends a line to a task's note (the note edit replaces the whole note).
    fn append_note(&mut self, task: &str, line: &str) {
        let note = self.notes.entry(task.to_string()).or_default();
        if !note.is_empty() && !note.ends_with('\n') {
            note.push('\n');
        }
        note.push_str(line);
        let value = FieldValue::Text(note.clone());
        self.pending.set(task, TaskField::Note, value);
    }

    fn run_dir(&self, task: &str, claimed_at: Timestamp, attempt: u32) -> PathBuf {
        run_dir(&self.options.workspace, task, claimed_at, attempt)
    }

    /// What a cycle worker is doing, from its run directory.
    fn worker_state(
        &self,
        entry: &ClaimEntry,
        claim: &crate::state::claims::Claim,
    ) -> Result<WorkerState, CycleError> {
        let run_dir = self.run_dir(
            claim.info.task.as_str(),
            claim.info.claimed_at,
            claim.info.attempt,
        );
        Ok(if run_dir.join("spec.json").is_file() {
            process::worker_state(&run_dir)?
        } else if entry.holder_alive {
            // The cycle that claimed it is still preparing the worker.
            WorkerState::Running
        } else {
            WorkerState::Dead(process::DeadWorker {
                orphaned_agent_group: None,
            })
        })
    }

    fn reap(
        &mut self,
        checklist: &Checklist,
        task: &Task,
        claim: &crate::state::claims::Claim,
        completed: bool,
        state: WorkerState,
    ) -> Result<Reaped, CycleError> {
        let task_id = task.task_id.clone();
        let attempt = claim.info.attempt;
        let run_dir = self.run_dir(&task_id, claim.info.claimed_at, attempt);
        let worktree = PathBuf::from(&claim.info.worktree);
        if completed {
            // Merged already (a crash after the merge, or another machine): clean up.
            if matches!(state, WorkerState::Running) {
                let _ = process::kill_worker(&run_dir);
            }
            self.action(format!("clean up `{task_id}`: already merged"));
            if !self.options.dry_run {
                self.finish(&task_id, claim, &worktree, true)?;
            }
            return Ok(Reaped::Done(TaskStatus::Complete));
        }
        match state {
            WorkerState::Running => Ok(Reaped::Running),
            WorkerState::Dead(dead) => {
                let spawned = run_dir.join("spec.json").is_file();
                if dead.orphaned_agent_group.is_some() {
                    // Agent processes outlived their supervisor: end them before judging.
                    let _ = process::kill_worker(&run_dir);
                }
                if !spawned {
                    // Claimed but never started (the cycle died while preparing): no attempt
                    // was made, so none is counted.
                    return self.release_unstarted(
                        task,
                        claim,
                        &worktree,
                        "its worker was never started",
                        "the cycle that made it stopped before starting a worker",
                    );
                }
                let reason = "the worker died without a result (killed or crashed)".to_string();
                let status = self.reject(
                    task,
                    claim,
                    &run_dir,
                    &worktree,
                    &reason,
                    "The worker process died before it finished; no result was recorded.",
                )?;
                Ok(Reaped::Done(status))
            }
            WorkerState::Finished(result) => {
                // Fencing: only the current holder's work is judged.
                if self.store.verify(&claim.info.task, &claim.token).is_err() {
                    return Ok(Reaped::Kept);
                }
                if let Some(found) = &result.baseline
                    && let Some(status) = self.vacuous_found(task, found)
                {
                    // The agent never started: no attempt was made, so none is counted.
                    if !self.options.dry_run {
                        self.finish(&task_id, claim, &worktree, false)?;
                    }
                    return Ok(Reaped::Done(status));
                }
                if result.stopped_before_start {
                    // `longrun stop --kill` came while the supervisor checked the validators:
                    // the agent never ran, so no attempt was made and none is counted.
                    return self.release_unstarted(
                        task,
                        claim,
                        &worktree,
                        "stopped before its agent started",
                        "stopped by `longrun stop --kill` before the agent started; no attempt counted",
                    );
                }
                self.record_cost(&task_id, attempt, &result);
                if let Some(reason) = crate::launch::agent_failure(&result) {
                    let summary = format!(
                        "{reason}. Last output: {}",
                        result.final_message.as_deref().unwrap_or("(none)")
                    );
                    let status =
                        self.reject(task, claim, &run_dir, &worktree, &reason, &summary)?;
                    return Ok(Reaped::Done(status));
                }
                let forged = self.forged_records(&task_id, &result.guarded_changed);
                if !forged.is_empty() {
                    let paths: Vec<String> = forged
                        .iter()
                        .map(|path| format!("`{}`", self.relative(path)))
                        .collect();
                    let reason = format!(
                        "the worker changed approval records ({}): approvals come only from a person's `longrun approve`",
                        paths.join(", ")
                    );
                    // Whatever they say now is the worker's: none of it counts (a decision a
                    // person made before is asked for again).
                    if !self.options.dry_run {
                        for path in &forged {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                    let status = self.reject(task, claim, &run_dir, &worktree, &reason, &reason)?;
                    return Ok(Reaped::Done(status));
                }
                if let Some(changed) = self.outside_writes(&run_dir)? {
                    let reason = format!(
                        "the primary checkout changed while the worker ran ({changed}): a worker must only write in its worktree"
                    );
                    let status = self.reject(task, claim, &run_dir, &worktree, &reason, &reason)?;
                    return Ok(Reaped::Done(status));
                }
                let gated_first: Vec<String> =
                    self.queued.iter().map(|q| q.task_id.clone()).collect();
                let gated_first: Vec<&str> = gated_first.iter().map(String::as_str).collect();
                let full_suite = gates::full_suite(checklist, task, &self.policy, &gated_first);
                if let gates::FullSuite::WaitsFor(waiting) = &full_suite {
                    // Gated with them, it could end the run (or its milestone) without the
                    // full suite, or run it for nothing: decided on what they become.
                    self.unrecord_cost(&task_id, attempt);
                    self.report.gate_next.push(task_id.clone());
                    self.action(format!(
                        "`{task_id}` is gated next cycle: whether the full suite runs depends on {} gated first",
                        waiting
                            .iter()
                            .map(|id| format!("`{id}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    return Ok(Reaped::Kept);
                }
                self.action(format!("gate `{task_id}` attempt {attempt}"));
                if self.options.dry_run {
                    return Ok(Reaped::Kept);
                }
                self.fault("before-gate");
                // Human gate after validation (see `gates.rs`).
                let approval = match self.hold_after(task, claim)? {
                    gates::Hold::Wait => {
                        // Recorded by the cycle that decides the attempt.
                        self.unrecord_cost(&task_id, attempt);
                        return Ok(Reaped::Kept);
                    }
                    gates::Hold::Rejected(reason) => {
                        let status =
                            self.reject(task, claim, &run_dir, &worktree, &reason, &reason)?;
                        return Ok(Reaped::Done(status));
                    }
                    gates::Hold::Gate(approval) => approval,
                };
                if approval.is_some() {
                    // A person approves an exact candidate: one built on the branch as it
                    // is, not on merges of this cycle that have not landed yet.
                    self.land_pending()?;
                }
                let validator_env = self.validator_env(&task_id, &worktree, &run_dir, attempt);
                let reviewers = self.reviewers(task, &worktree, &run_dir, attempt)?;
                let full_validators = match full_suite {
                    gates::FullSuite::Runs(why) => {
                        self.action(format!("`{task_id}`: the full suite runs too ({why})"));
                        checklist.summary.verification_loop.full.clone()
                    }
                    _ => Vec::new(),
                };
                let queued = Queued {
                    task_id: task_id.clone(),
                    claim: claim.clone(),
                    run_dir,
                    worktree,
                    validator_env,
                    reviewers,
                    full_validators,
                };
                if approval.is_none() && self.remote.is_none() {
                    // Gated with the cycle's other finished attempts (`gate_queued`).
                    self.queued.push(queued);
                    return Ok(Reaped::Kept);
                }
                let input = self.gate_input(checklist, task, &queued, approval.as_ref());
                let gated = gate::gate(&input)?;
                self.fault("after-merge");
                // A branch the gate merged an unlanded merge commit into goes back to its
                // own head if that commit never lands (see `land_pending`).
                let speculative = self.tip != self.landed_tip;
                self.judge(task, &queued, gated, speculative)
            }
        }
    }

    /// What the gate needs for one queued attempt; `approval`: `None` when no approval is
    /// required, else the commit a person approved if any.
    fn gate_input<'a>(
        &'a self,
        checklist: &'a Checklist,
        task: &'a Task,
        queued: &'a Queued,
        approval: Option<&'a Option<String>>,
    ) -> GateInput<'a> {
        GateInput {
            primary: &self.primary,
            worktree: &queued.worktree,
            target_branch: &self.target,
            target_tip: Some(&self.tip),
            task_id: &task.task_id,
            task_title: &task.title,
            attempt: queued.claim.info.attempt,
            token: queued.claim.token.as_str(),
            task_validators: task.own_validators(),
            fast_validators: &checklist.summary.verification_loop.fast,
            full_validators: &queued.full_validators,
            policy: &self.policy,
            task_paths: &task.paths,
            reviewers: &queued.reviewers,
            review_task: gate::ReviewTask {
                description: &task.description,
                acceptance_criteria: &task.acceptance_criteria,
            },
            approval: match approval {
                None => gate::ApprovalGate::NotRequired,
                Some(approved) => gate::ApprovalGate::Required {
                    approved: approved.as_deref(),
                },
            },
            allow_missing_validators: self.options.allow_missing_validators
                || self.config.allow_missing_validators,
            validator_env: &queued.validator_env,
            validator_timeout: self.config.validator_timeout,
            identity: &self.identity,
            run_dir: &queued.run_dir,
            clock: self.options.clock,
            publish: self.remote.as_ref().map(|remote| gate::Publish {
                remote: remote.remote(),
                tracking_ref: &self.base_ref,
            }),
            defer_landing: approval.is_none(),
        }
    }

    /// Gates the attempts `reap` queued, all in one [`gate::gate_batch`] on the current tip,
    /// and records what it decided; the validated ones land with `land_pending`.
    fn gate_queued(&mut self, checklist: &Checklist) -> Result<(), CycleError> {
        let queued = std::mem::take(&mut self.queued);
        let gated = {
            let inputs: Vec<GateInput> = queued
                .iter()
                .filter_map(|queued| {
                    let task = checklist.task(&queued.task_id)?;
                    Some(self.gate_input(checklist, task, queued, None))
                })
                .collect();
            if inputs.is_empty() {
                return Ok(());
            }
            let started = std::time::Instant::now();
            let gated = gate::gate_batch(&inputs, &self.tip)?;
            tracing::trace!(
                "gate {} together: {:.1} ms",
                inputs.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            gated
        };
        self.fault("after-merge");
        let tasks = queued
            .iter()
            .filter_map(|queued| Some((checklist.task(&queued.task_id)?, queued)));
        for ((task, queued), gated) in tasks.zip(gated) {
            // Every candidate but the first was built on a merge not yet landed.
            if let Reaped::Done(status) = self.judge(task, queued, gated, true)? {
                self.settled.push((task.task_id.clone(), status));
            }
        }
        Ok(())
    }

    /// Records what the gate decided for a queued attempt. `speculative`: the candidate
    /// may hold merges of this cycle not landed yet (its branch is reset if they never do).
    fn judge(
        &mut self,
        task: &Task,
        queued: &Queued,
        gated: gate::Gated,
        speculative: bool,
    ) -> Result<Reaped, CycleError> {
        let Queued {
            task_id,
            claim,
            run_dir,
            worktree,
            ..
        } = queued;
        let attempt = claim.info.attempt;
        if speculative && let Some(head) = gated.task_head {
            self.speculated.push((worktree.clone(), head));
        }
        // Merged: on the branch already (publishing); validated: lands with the rest.
        let landed = matches!(gated.outcome, GateOutcome::Merged { .. });
        match gated.outcome {
            GateOutcome::Merged {
                commit,
                validated_tree,
                runs,
            }
            | GateOutcome::Validated {
                commit,
                validated_tree,
                runs,
            } => {
                self.tip = commit.clone();
                let merge = Landing {
                    task_id: task_id.clone(),
                    claim: claim.clone(),
                    worktree: worktree.clone(),
                    attempt,
                    commit,
                    validated_tree,
                    runs,
                };
                if landed {
                    self.landed_tip = self.tip.clone();
                    self.record_merged(merge)?;
                    Ok(Reaped::Done(TaskStatus::Complete))
                } else {
                    // The next task is gated on top of this merge; the branch moves to the
                    // last of them after the gates (`land_pending`).
                    self.landing.push(merge);
                    Ok(Reaped::Kept)
                }
            }
            GateOutcome::Rejected {
                reason,
                summary,
                runs,
            } => {
                let output = runs
                    .iter()
                    .find(|run| !run.passed())
                    .map_or("", |run| run.summary.as_str());
                let status = self.reject_with_output(
                    task, claim, run_dir, worktree, &reason, &summary, output,
                )?;
                Ok(Reaped::Done(status))
            }
            GateOutcome::AwaitingApproval { candidate, runs } => {
                self.await_approval(task_id, claim, &candidate, &runs)?;
                // Recorded by the cycle that decides the attempt (merge or rejection).
                self.unrecord_cost(task_id, attempt);
                Ok(Reaped::Kept)
            }
            GateOutcome::Deferred { reason } => {
                self.record_deferred(task_id, attempt, &reason);
                Ok(Reaped::Kept)
            }
        }
    }

    /// Releases the claim of an attempt whose agent never ran: the task is `not_started`
    /// again and no attempt is counted.
    fn release_unstarted(
        &mut self,
        task: &Task,
        claim: &crate::state::claims::Claim,
        worktree: &Path,
        why: &str,
        event_text: &str,
    ) -> Result<Reaped, CycleError> {
        let task_id = &task.task_id;
        self.action(format!("release `{task_id}`: {why}"));
        if !self.options.dry_run {
            self.pending.status(task_id, TaskStatus::NotStarted);
            self.pending.events.push(self.event(
                EventKind::Release,
                task_id,
                format!("claim released: {event_text}"),
            ));
            self.finish(task_id, claim, worktree, false)?;
        }
        Ok(Reaped::Done(TaskStatus::NotStarted))
    }

    /// Tasks the last landing decided are no longer claimed by a worker of this cycle.
    fn settle(
        &mut self,
        claimed: &mut HashSet<String>,
        statuses: &mut HashMap<String, Option<TaskStatus>>,
    ) {
        for (task_id, status) in std::mem::take(&mut self.settled) {
            claimed.remove(task_id.as_str());
            statuses.insert(task_id, Some(status));
        }
    }

    /// Records a merge: the event with its evidence, the task complete, its claim to
    /// release.
    fn record_merged(&mut self, landed: Landing) -> Result<(), CycleError> {
        let Landing {
            task_id,
            claim,
            worktree,
            attempt,
            commit,
            validated_tree,
            runs,
        } = landed;
        let evidence: Vec<String> = runs
            .iter()
            .map(|run| {
                format!(
                    "`{}` exit 0 in {} ms ({})",
                    run.command,
                    run.duration_ms,
                    self.relative(&run.log)
                )
            })
            .collect();
        let mut event = self.event(
            EventKind::Merge,
            &task_id,
            format!(
                "merged into `{}` as {} (tree {}); validators: {}",
                self.target,
                short(&commit),
                short(&validated_tree),
                evidence.join("; ")
            ),
        );
        event = with_field(event, "attempt", &attempt.to_string());
        event = with_field(event, "commit", short(&commit));
        self.pending.events.push(event);
        self.pending.status(&task_id, TaskStatus::Complete);
        self.pending.set(
            &task_id,
            TaskField::Attempts,
            FieldValue::Integer(attempt as u64),
        );
        self.append_note(
            &task_id,
            &format!(
                "{} attempt {attempt}: merged as {} after {}",
                crate::clock::format_timestamp(self.now),
                short(&commit),
                evidence.join("; ")
            ),
        );
        self.finish(&task_id, &claim, &worktree, true)?;
        self.clear_approvals(&task_id);
        self.report.merged.push(task_id.clone());
        self.action(format!("merged `{task_id}` as {}", short(&commit)));
        Ok(())
    }

    /// Records that an attempt's merge waits for a later cycle, which judges it again and
    /// records its cost then: once per attempt.
    fn record_deferred(&mut self, task_id: &str, attempt: u32, reason: &str) {
        self.unrecord_cost(task_id, attempt);
        self.report.deferred.push(task_id.to_string());
        self.pending.events.push(self.event(
            EventKind::Note,
            task_id,
            format!("merge deferred: {reason}"),
        ));
    }

    /// Of the approval records that changed while `task_id`'s agent ran, those the agent
    /// must have written: any of its own task (nobody else writes them while it is in
    /// progress), and a decision record of another task that no person's decision in the
    /// run log accounts for. Another task's held candidate (the cycle writes it) and
    /// records removed meanwhile are not the agent's doing.
    fn forged_records(&self, task_id: &str, changed: &[PathBuf]) -> Vec<PathBuf> {
        let approvals = self.approvals();
        let own = approvals.paths_of(task_id);
        let run_log = self.options.workspace.run_log();
        changed
            .iter()
            .filter(|path| {
                if own.contains(path) {
                    return true;
                }
                if crate::state::approvals::Approvals::decision_task(path).is_none() {
                    return false;
                }
                match crate::state::approvals::Approvals::read_record(path) {
                    Some(record) => {
                        !crate::state::approvals::Approvals::witnessed(&record, &run_log)
                    }
                    // Removed, or unreadable (a record nobody could have approved with).
                    None => path.exists(),
                }
            })
            .cloned()
            .collect()
    }

    /// Moves the target branch to the last merge the gates made this cycle (each built on
    /// the one before), landing them all with one fast-forward; or defers them all when
    /// the branch cannot move (a person committed to it, or changes are in the way).
    fn land_pending(&mut self) -> Result<(), CycleError> {
        let Some(last) = self.landing.last() else {
            return Ok(());
        };
        let commit = last.commit.clone();
        let deferred = gate::land(&self.primary, &self.target, &commit, &self.landed_tip)?;
        self.fault("after-land");
        let landing = std::mem::take(&mut self.landing);
        match deferred {
            None => {
                self.landed_tip = commit;
                for landed in landing {
                    self.settled
                        .push((landed.task_id.clone(), TaskStatus::Complete));
                    self.record_merged(landed)?;
                }
            }
            Some(reason) => {
                let actual = git::rev_parse(&self.primary, &self.base_ref)?;
                self.landed_tip = actual.unwrap_or_else(|| self.landed_tip.clone());
                self.tip = self.landed_tip.clone();
                for landed in landing {
                    self.record_deferred(&landed.task_id, landed.attempt, &reason);
                }
                // Merges that never landed must not ride along in a task branch: a later
                // candidate would carry them in unvalidated.
                for (worktree, head) in std::mem::take(&mut self.speculated) {
                    if let Err(error) = git::reset_hard(&worktree, &head) {
                        tracing::warn!("cannot reset {} to {head}: {error}", worktree.display());
                    }
                }
            }
        }
        self.speculated.clear();
        Ok(())
    }

    /// Takes back this cycle's `cost` event of an attempt the cycle keeps undecided
    /// (deferred, or held for a person): the cycle that decides it records the cost, so
    /// each attempt's is recorded once.
    fn unrecord_cost(&mut self, task_id: &str, attempt: u32) {
        let attempt_text = attempt.to_string();
        if let Some(index) = self.pending.events.iter().rposition(|event| {
            event.kind == EventKind::Cost
                && event.task.as_ref().map(|task| task.as_str()) == Some(task_id)
                && event.field("attempt") == Some(attempt_text.as_str())
        }) {
            self.pending.events.remove(index);
        }
    }

    /// A `cost` event for a finished attempt: what the agent's output says it used and cost,
    /// or that the cost is unknown (never zero).
    fn record_cost(&mut self, task_id: &str, attempt: u32, result: &process::WorkerResult) {
        if self.options.dry_run {
            return;
        }
        let usage: Option<crate::agents::Usage> = result
            .usage
            .as_ref()
            .and_then(|value| serde_json::from_value(value.clone()).ok());
        let text = match (result.cost_usd, &usage) {
            (Some(cost), _) => format!("attempt {attempt} cost {cost:.4} USD"),
            (None, Some(_)) => "cost unknown (no price for these tokens)".to_string(),
            (None, None) => "cost unknown (the agent reports no usage)".to_string(),
        };
        let mut event = self.event(EventKind::Cost, task_id, text);
        event = with_field(event, "attempt", &attempt.to_string());
        event = with_field(
            event,
            "usd",
            &result
                .cost_usd
                .map_or_else(|| "unknown".to_string(), |cost| format!("{cost:.6}")),
        );
        if let Some(usage) = usage {
            event = with_field(event, "input", &usage.input.to_string());
            event = with_field(event, "cached_input", &usage.cached_input.to_string());
            event = with_field(event, "output", &usage.output.to_string());
        }
        self.pending.events.push(event);
    }

    /// Records a rejected attempt: back to `not_started` with the evidence, or `failed`
    /// when attempts are spent, or `blocked` when the same failure repeats.
    fn reject(
        &mut self,
        task: &Task,
        claim: &crate::state::claims::Claim,
        run_dir: &Path,
        worktree: &Path,
        reason: &str,
        summary: &str,
    ) -> Result<TaskStatus, CycleError> {
        self.reject_with_output(task, claim, run_dir, worktree, reason, summary, "")
    }

    /// [`Cycle::reject`] for a failed validator, whose `output` (its summary) is part of
    /// the failure's signature: the same command failing on another error is progress,
    /// not a loop.
    #[allow(clippy::too_many_arguments)]
    fn reject_with_output(
        &mut self,
        task: &Task,
        claim: &crate::state::claims::Claim,
        run_dir: &Path,
        worktree: &Path,
        reason: &str,
        summary: &str,
        output: &str,
    ) -> Result<TaskStatus, CycleError> {
        let task_id = task.task_id.clone();
        let attempt = claim.info.attempt;
        let max_attempts = task.max_attempts.unwrap_or(self.config.max_attempts).max(1);
        let signature = gate::failure_signature(reason, output);
        let previous_signature = previous_failure(&self.options.workspace, &task_id, attempt)
            .map(|(signature, _)| signature);
        let repeated = previous_signature.as_deref() == Some(signature.as_str());
        let status = if repeated {
            TaskStatus::Blocked
        } else if attempt >= max_attempts {
            TaskStatus::Failed
        } else {
            TaskStatus::NotStarted
        };
        self.action(format!(
            "reject `{task_id}` attempt {attempt}: {reason} → {status}"
        ));
        if self.options.dry_run {
            return Ok(status);
        }
        let evidence = format!(
            "# {task_id}, attempt {attempt}: rejected\n\nsignature: {signature}\n\n{reason}\n\n{summary}\n"
        );
        let failure_path = gate::failure_file(run_dir);
        if let Some(parent) = failure_path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        crate::fsutil::write_atomic(&failure_path, evidence.as_bytes())?;
        let mut event = self.event(
            EventKind::Failure,
            &task_id,
            format!("{reason} → {}", self.relative(&failure_path)),
        );
        event = with_field(event, "attempt", &attempt.to_string());
        self.pending.events.push(event);
        self.pending.status(&task_id, status);
        self.pending.set(
            &task_id,
            TaskField::Attempts,
            FieldValue::Integer(attempt as u64),
        );
        let outcome = match status {
            TaskStatus::Blocked => {
                self.pending.events.push(self.event(
                    EventKind::Block,
                    &task_id,
                    "the same failure twice in a row: blocked until a person looks (loop breaker)",
                ));
                self.report.blocked.push(task_id.clone());
                self.notify(
                    crate::config::NotifyEvent::Blocked,
                    &task_id,
                    format!("blocked: the same failure twice in a row: {reason}"),
                );
                "blocked: the same failure twice in a row"
            }
            TaskStatus::Failed => {
                self.report.failed.push(task_id.clone());
                self.notify(
                    crate::config::NotifyEvent::Failed,
                    &task_id,
                    format!("failed after {attempt} attempts: {reason}"),
                );
                "failed: attempts spent"
            }
            _ => {
                self.report.rejected.push(task_id.clone());
                "will be retried with this evidence"
            }
        };
        self.append_note(
            &task_id,
            &format!(
                "{} attempt {attempt}: {reason}; {outcome}",
                crate::clock::format_timestamp(self.now)
            ),
        );
        // Keep the branch (the next attempt continues from it); remove the worktree.
        self.finish(&task_id, claim, worktree, false)?;
        Ok(status)
    }

    /// Marks an attempt's claim for release (with its worktree, and its branch when
    /// merged): [`Cycle::release_finished`] does it after the gates' statuses are written.
    fn finish(
        &mut self,
        task_id: &str,
        claim: &crate::state::claims::Claim,
        worktree: &Path,
        merged: bool,
    ) -> Result<(), CycleError> {
        self.finished.push(Finished {
            task_id: task_id.to_string(),
            claim: claim.clone(),
            worktree: worktree.to_path_buf(),
            merged,
        });
        Ok(())
    }

    /// Releases the claims of the attempts the gates finished, removes their worktrees and
    /// deletes the branches of merged ones.
    fn release_finished(&mut self) -> Result<(), CycleError> {
        if self.finished.is_empty() {
            return Ok(());
        }
        // Statuses first, then the claims: a crash in between leaves claims whose tasks'
        // state is already recorded, which the next cycle cleans up.
        self.flush()?;
        self.fault("before-release");
        let pool = self.options.workspace.state_dir().join(POOL_DIR);
        let mut pool_room = self.pool_room();
        let mut cleanups: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        let mut merged_branches: Vec<String> = Vec::new();
        for done in std::mem::take(&mut self.finished) {
            let claim = &done.claim;
            match &self.remote {
                Some(remote) => {
                    release_mirrored(&self.store, remote, &claim.info.task, &claim.token)
                        .map_err(|error| CycleError::Remote(Box::new(error)))?;
                }
                None => match self.store.release(&claim.info.task, &claim.token) {
                    Ok(_) => {}
                    Err(error) if error.is_refusal() => {}
                    Err(error) => return Err(error.into()),
                },
            }
            self.pending.events.push(self.event(
                EventKind::Release,
                &done.task_id,
                if done.merged {
                    "claim released: merged"
                } else {
                    "claim released"
                },
            ));
            let worktree = &done.worktree;
            if worktree.is_absolute() && worktree.starts_with(self.options.workspace.state_dir()) {
                // A merged task's worktree is clean (the gate checked): parked for the next
                // dispatch, up to one per worker slot. Others are removed.
                let park_at = match done.merged && pool_room > 0 {
                    true => Some(pool.join(&done.task_id)).filter(|at| !at.exists()),
                    false => None,
                };
                if park_at.is_some() {
                    pool_room -= 1;
                }
                cleanups.push((worktree.clone(), park_at));
            }
            if done.merged {
                merged_branches.push(claim.info.branch.clone());
            }
        }
        // Each worktree is its own: they are parked or removed side by side. The branches
        // go after (a branch checked out in a worktree cannot be deleted), in one process.
        let primary = &self.primary;
        in_parallel(cleanups, |(worktree, park_at)| {
            let parked =
                park_at.is_some_and(|at| match git::worktree_park(primary, &worktree, &at) {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::debug!("cannot park {}: {error}", worktree.display());
                        if at.exists() {
                            let _ = git::worktree_remove(primary, &at, true);
                        }
                        false
                    }
                });
            if !parked {
                let _ = git::worktree_remove(primary, &worktree, true);
            }
        });
        let _ = git::branches_delete(&self.primary, &merged_branches);
        Ok(())
    }

    /// How many more worktrees the pool takes (up to `max_parallel` parked), creating it.
    fn pool_room(&self) -> usize {
        let pool = self.options.workspace.state_dir().join(POOL_DIR);
        let max = self
            .options
            .max_parallel
            .unwrap_or(self.config.max_parallel)
            .max(1) as usize;
        if std::fs::create_dir_all(&pool).is_err() {
            return 0;
        }
        max.saturating_sub(parked_worktrees(&self.options.workspace).len())
    }

    /// Compares the primary checkout with what it was when the worker started.
    fn outside_writes(&mut self, run_dir: &Path) -> Result<Option<String>, CycleError> {
        let Ok(before) = std::fs::read_to_string(run_dir.join("primary.status")) else {
            return Ok(None);
        };
        let now = self.primary_status()?;
        if before == now {
            return Ok(None);
        }
        let before_lines: HashSet<&str> = before.lines().collect();
        let changed: Vec<String> = now
            .lines()
            .filter(|line| !before_lines.contains(line))
            .filter_map(|line| line.split('\t').next())
            .map(str::to_string)
            .take(5)
            .collect();
        Ok(Some(if changed.is_empty() {
            "files were restored or removed".to_string()
        } else {
            changed.join(", ")
        }))
    }

    /// [`primary_status`], once a cycle.
    fn primary_status(&mut self) -> Result<String, CycleError> {
        if let Some(status) = &self.primary_status {
            return Ok(status.clone());
        }
        let status = primary_status(&self.primary)?;
        self.primary_status = Some(status.clone());
        Ok(status)
    }

    fn validator_env(
        &self,
        task: &str,
        worktree: &Path,
        run_dir: &Path,
        attempt: u32,
    ) -> Vec<(String, String)> {
        crate::launch::validator_env(
            &self.config,
            &self.options.caller_env,
            task,
            worktree,
            run_dir,
            attempt,
        )
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.primary)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn summarize(&mut self, view: &Checklist) {
        let mut complete = 0;
        let mut stuck = Vec::new();
        let mut open = 0;
        let mut active = Vec::new();
        let mut awaiting_approval = 0;
        for task in &view.tasks {
            match task.status.effective() {
                Some(TaskStatus::Complete | TaskStatus::Archived) => complete += 1,
                Some(TaskStatus::Failed | TaskStatus::Blocked) => {
                    stuck.push(format!("{}: {}", task.task_id, task.status.display()))
                }
                Some(TaskStatus::InProgress) => {
                    active.push(task.task_id.clone());
                    open += 1;
                }
                Some(TaskStatus::AwaitingApproval) => {
                    awaiting_approval += 1;
                    open += 1;
                }
                _ => open += 1,
            }
        }
        self.report.complete = complete;
        self.report.total = view.tasks.len();
        self.report.stuck = stuck.len();
        self.report.open = open;
        self.report.in_progress = active.len();
        self.report.awaiting_approval = awaiting_approval;
        let run_status = if complete == view.tasks.len() {
            "complete"
        } else if open == 0 {
            "blocked"
        } else {
            "in_progress"
        };
        let next: Vec<String> = view
            .ready_tasks(&|_| false)
            .iter()
            .take(5)
            .map(|task| format!("{}: {}", task.task_id, task.title))
            .collect();
        let active_task = active.first().cloned().unwrap_or_default();
        // The summary follows every change this cycle made (gates flush their edits before
        // this), and whatever else left it behind (a person's edit, a crash before this
        // step); an idle cycle that would write the same words leaves the file alone.
        let summary = &view.summary;
        let changed = !self.pending.edits.is_empty()
            || self.pending.flushed_edits
            || summary.status != run_status
            || summary.active_task_id != active_task
            || summary.blockers != stuck
            || summary.next_actions != next;
        if self.options.dry_run || !changed {
            return;
        }
        let summary_edits = [
            (
                SummaryField::LastUpdated,
                FieldValue::Text(crate::clock::format_timestamp(self.now)),
            ),
            (SummaryField::ActiveTaskId, FieldValue::Text(active_task)),
            (
                SummaryField::Status,
                FieldValue::Text(run_status.to_string()),
            ),
            (SummaryField::Blockers, FieldValue::List(stuck)),
            (SummaryField::NextActions, FieldValue::List(next)),
        ];
        if run_status == "complete" && view.summary.status != "complete" {
            self.notify(
                crate::config::NotifyEvent::RunFinished,
                "",
                format!("all {complete} tasks complete"),
            );
        }
        for (field, value) in summary_edits {
            self.pending.edits.push(TaskEdit::Summary { field, value });
        }
    }
}

enum Reaped {
    Running,
    Done(TaskStatus),
    /// Nothing decided (deferred, fenced off, or a dry run).
    Kept,
}

/// Why an agent's own run counts as a failed attempt, whatever it wrote.
/// The edits, skipping tasks that no longer exist in the current file (a person removed
/// one meanwhile): their edits cannot apply.
fn edits_for(current: &Checklist, edits: &[TaskEdit]) -> Vec<TaskEdit> {
    edits
        .iter()
        .filter(|edit| match edit {
            TaskEdit::Task { task_id, .. } => current.task(task_id).is_some(),
            TaskEdit::Summary { .. } => true,
        })
        .cloned()
        .collect()
}

fn with_statuses(
    checklist: &Checklist,
    statuses: &HashMap<String, Option<TaskStatus>>,
) -> Checklist {
    let mut view = checklist.clone();
    for task in &mut view.tasks {
        if let Some(Some(status)) = statuses.get(&task.task_id) {
            task.status = StatusValue::Known(*status);
        }
    }
    view
}

fn with_field(event: Event, key: &str, value: &str) -> Event {
    match FieldKey::parse(key) {
        Ok(key) => event.with_field(key, value),
        Err(_) => event,
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
}

/// `.longrun/runs/<run>/<task>/<attempt>/`, where `<run>` is the claim's time: derived
/// from the lock file, so any cycle finds an attempt's files again.
pub fn run_dir(workspace: &Workspace, task: &str, claimed_at: Timestamp, attempt: u32) -> PathBuf {
    workspace
        .state_dir()
        .join("runs")
        .join(claimed_at.strftime("%Y%m%dT%H%M%SZ").to_string())
        .join(task)
        .join(attempt.to_string())
}

/// Where merged tasks' clean worktrees wait to be reused, under `.longrun/`.
pub const POOL_DIR: &str = "pool";

/// The parked worktrees, in name order.
pub fn parked_worktrees(workspace: &Workspace) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(workspace.state_dir().join(POOL_DIR)) else {
        return Vec::new();
    };
    let mut parked: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join(".git").is_file())
        .collect();
    parked.sort();
    parked
}

/// The `LONGRUN_*` variables every worker and validator gets.
pub fn longrun_env(
    task: &str,
    worktree: &Path,
    prompt_file: Option<&Path>,
    run_dir: &Path,
    attempt: u32,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("LONGRUN_TASK_ID".to_string(), task.to_string()),
        (
            "LONGRUN_WORKTREE".to_string(),
            worktree.display().to_string(),
        ),
        ("LONGRUN_RUN_DIR".to_string(), run_dir.display().to_string()),
        ("LONGRUN_ATTEMPT".to_string(), attempt.to_string()),
    ];
    if let Some(prompt_file) = prompt_file {
        env.push((
            "LONGRUN_PROMPT_FILE".to_string(),
            prompt_file.display().to_string(),
        ));
    }
    env
}

/// The primary checkout's status, without the files longrun and people edit while workers
/// run (the state files), one `<path>\t<size>\t<mtime>` line per changed path.
pub fn primary_status(primary: &Path) -> Result<String, git::GitError> {
    const IGNORED: &[&str] = &["checklist.yaml", "run-log.md"];
    let mut lines = Vec::new();
    for entry in git::status(primary)? {
        let path = entry.path.display().to_string();
        if IGNORED.contains(&path.as_str())
            || path.starts_with(".longrun/")
            || path.starts_with("current_tasks/")
        {
            continue;
        }
        let meta = std::fs::metadata(primary.join(&entry.path)).ok();
        let size = meta.as_ref().map_or(0, |m| m.len());
        let modified = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        lines.push(format!("{path}\t{size}\t{modified}"));
    }
    lines.sort();
    Ok(lines.join("\n"))
}

/// The signature and text of the failure recorded for the attempt before `attempt`.
fn previous_failure(workspace: &Workspace, task: &str, attempt: u32) -> Option<(String, String)> {
    if attempt < 2 {
        return None;
    }
    let runs = std::fs::read_dir(workspace.state_dir().join("runs")).ok()?;
    let mut candidates: Vec<PathBuf> = runs
        .filter_map(Result::ok)
        .map(|entry| {
            entry
                .path()
                .join(task)
                .join((attempt - 1).to_string())
                .join("failure.md")
        })
        .filter(|path| path.is_file())
        .collect();
    candidates.sort();
    let text = std::fs::read_to_string(candidates.pop()?).ok()?;
    let signature = text
        .lines()
        .find_map(|line| line.strip_prefix("signature: "))?
        .to_string();
    Some((signature, text))
}

/// The failure evidence of the previous attempt, for the next prompt.
pub fn previous_failure_text(workspace: &Workspace, task: &str, attempt: u32) -> Option<String> {
    previous_failure(workspace, task, attempt).map(|(_, text)| text)
}
