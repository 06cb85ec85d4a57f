//! `longrun claim [ID | --next] --worker NAME [--lease 15m] [--json] [--hold -- CMD...]`:
//! claims one task, takes over a stale claim, mirrors the claim in checklist.yaml
//! (`in_progress`) and the run log, and prints the claim. With `--hold` it keeps the claim's
//! OS lock (and renews the lease) while CMD runs.

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Context;
use super::claiming::{
    self, Attempt, Candidate, Claims, DispatchGates, Fenced, Holder, event, short,
};
use crate::cli::ClaimArgs;
use crate::clock::format_timestamp;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::git::claims::{RemoteClaim, RemoteContent};
use crate::state::checklist::{LoadedOverview, TaskBrief};
use crate::state::claims::{Claim, ClaimRequest, HeldClaim};
use crate::state::model::{EventKind, TaskId, TaskStatus};
use crate::workspace::Workspace;

/// How often `--hold` looks whether CMD has finished.
const HOLD_POLL: Duration = Duration::from_millis(100);

/// The printed claim.
#[derive(Serialize)]
struct ClaimView<'a> {
    task: &'a str,
    worker: &'a str,
    host: &'a str,
    pid: u32,
    token: &'a str,
    claimed_at: String,
    lease_expires_at: String,
    attempt: u32,
    branch: &'a str,
    worktree: &'a str,
    path: String,
    /// The stale claim this one replaced.
    took_over: Option<PreviousView<'a>>,
}

#[derive(Serialize)]
struct PreviousView<'a> {
    worker: &'a str,
    host: &'a str,
    token: &'a str,
    lease_expires_at: String,
}

/// What the claim needs besides the task.
struct Claimant<'a> {
    worker: &'a str,
    host: &'a str,
    worktree: &'a str,
    lease: Duration,
}

pub fn run(ctx: &Context, args: &ClaimArgs) -> Result<ExitStatus, CommandError> {
    let worker = claiming::worker_name(args.worker.as_deref())?;
    let workspace = ctx.workspace()?;
    let settings = ctx.claim_settings(&workspace)?;
    let lease = args
        .lease
        .map_or(settings.lease, crate::cli::Duration::as_std);
    // The overview is enough to claim a ready task; the whole model is decoded only to say
    // why a task cannot be claimed, or to look for stale claims.
    let loaded = ctx.load_overview(&workspace)?;
    ctx.require_actionable_overview(&loaded)?;
    let gates = DispatchGates::load(
        &workspace,
        loaded.overview.tasks().any(|task| task.risk.is_some()),
    )?;
    let claims = Claims::open(&workspace, &settings)?;
    let host = claiming::host_name();
    let worktree = ctx.cwd.display().to_string();
    let claimant = Claimant {
        worker: &worker,
        host: &host,
        worktree: &worktree,
        lease,
    };

    let (held, previous) = match &args.task {
        Some(task_id) => claim_by_id(
            ctx, &workspace, &claims, &loaded, &gates, task_id, &claimant,
        )?,
        None => claim_next(ctx, &workspace, &claims, &loaded, &gates, &claimant)?,
    };
    if let Err(error) = record(ctx, &workspace, &claims, &held, previous.as_deref()) {
        return Err(give_back(ctx, &workspace, &claims, &held, error));
    }
    // The claim, its status and its event are on disk before anyone is told of them.
    claims.settle();
    print_claim(ctx, &claims, &held, previous.as_deref(), args.json);
    if args.hold {
        return hold(ctx, &workspace, &claims, held, lease, &args.command);
    }
    Ok(ExitStatus::Success)
}

/// The request for the next attempt at `task_id`, which has had `attempts` so far.
fn request(ctx: &Context, attempts: u32, task_id: &TaskId, claimant: &Claimant) -> ClaimRequest {
    ClaimRequest {
        task: task_id.clone(),
        worker: claimant.worker.to_string(),
        host: claimant.host.to_string(),
        pid: std::process::id(),
        attempt: attempts.saturating_add(1),
        branch: format!("longrun/{task_id}"),
        worktree: claimant.worktree.to_string(),
        now: ctx.clock.now(),
        lease: claimant.lease,
        token: None,
    }
}

type Won = (HeldClaim, Option<Box<Claim>>);

fn claim_by_id(
    ctx: &Context,
    workspace: &Workspace,
    claims: &Claims,
    overview: &LoadedOverview,
    gates: &DispatchGates,
    task_id: &TaskId,
    claimant: &Claimant,
) -> Result<Won, CommandError> {
    // The common case: a task the file calls ready (`not_started`, dependencies complete)
    // that no person's gate holds. Its first occurrence decides, as `Checklist::task` does.
    let first_line = overview
        .overview
        .task(task_id.as_str())
        .map(|task| task.line);
    let ready = overview
        .overview
        .ready_tasks(&|id| id != task_id.as_str(), &|_| false)
        .into_iter()
        .find(|task| Some(task.line) == first_line);
    if let Some(task) = ready
        && gates.gate(task.task_id, task.approval, task.risk).lets_go()
    {
        return attempt_by_id(claims, &request(ctx, task.attempts, task_id, claimant));
    }
    // Anything else (in progress, held, waiting on dependencies, missing): the whole model
    // says whether it may be claimed, and why not.
    let loaded = ctx.load_checklist(workspace)?;
    let Some(task) = loaded.checklist.task(task_id.as_str()) else {
        return Err(CommandError::user(format!(
            "no task `{task_id}` in `{}`",
            loaded.path.display()
        )));
    };
    if let Some(reason) = claiming::not_claimable_reason(&loaded.checklist, task, gates) {
        return Err(CommandError::negative(format!(
            "task `{task_id}` cannot be claimed: {reason}"
        )));
    }
    attempt_by_id(claims, &request(ctx, task.attempts, task_id, claimant))
}

fn attempt_by_id(claims: &Claims, request: &ClaimRequest) -> Result<Won, CommandError> {
    match claims.attempt(request)? {
        Attempt::Claimed(held) => Ok((held, None)),
        Attempt::TookOver { held, previous } => Ok((held, Some(previous))),
        Attempt::Taken(holder) => Err(taken_error(&request.task, &holder)),
    }
}

fn taken_error(task_id: &TaskId, holder: &Holder) -> CommandError {
    let message = format!("task `{task_id}` is taken: held by {}", holder.describe());
    if holder.is_corrupt() {
        // Not a plain "taken": nobody will ever release a corrupt file; a person must look.
        CommandError::user(message).with_hint(format!(
            "look at the file; `longrun release {task_id} --force` deletes it (and logs that it did)"
        ))
    } else {
        CommandError::negative(message)
    }
}

/// The first claimable task in the order of [`claiming::candidates`]: ready tasks in file
/// order, then stale claims. Losing a race for one moves on to the next.
fn claim_next(
    ctx: &Context,
    workspace: &Workspace,
    claims: &Claims,
    overview: &LoadedOverview,
    gates: &DispatchGates,
    claimant: &Claimant,
) -> Result<Won, CommandError> {
    // In git mode other machines' claims do not show in this checklist: one fetch of the
    // remote's claims saves a losing push per task they hold.
    let remote_claims: HashMap<TaskId, RemoteClaim> = match &claims.remote {
        Some(remote) => remote
            .fetch_all()
            .map_err(claiming::git_error)?
            .into_iter()
            .map(|claim| (claim.task.clone(), claim))
            .collect(),
        None => HashMap::new(),
    };
    let now = ctx.clock.now();
    // Held elsewhere and not stale: skipped. A stale one is tried (and taken over).
    let held_remotely = |task_id: &TaskId| {
        remote_claims
            .get(task_id)
            .is_some_and(|claim| match &claim.content {
                RemoteContent::Claim(claim) => !claim.info.lease_expired(now),
                RemoteContent::Corrupt { .. } => true,
            })
    };

    // Ready tasks first, without listing every claim file: the claim attempt itself finds
    // a claim file (and takes it over when it is stale). Listing all of them is needed only
    // when no ready task is left, to find the stale claims of `in_progress` tasks.
    let held = |task: &TaskBrief| !gates.gate(task.task_id, task.approval, task.risk).lets_go();
    for task in overview.overview.ready_tasks(&|_| false, &held) {
        let Ok(task_id) = TaskId::parse(task.task_id) else {
            continue;
        };
        if held_remotely(&task_id) {
            continue;
        }
        match claims.attempt(&request(ctx, task.attempts, &task_id, claimant))? {
            Attempt::Claimed(held) => return Ok((held, None)),
            Attempt::TookOver { held, previous } => return Ok((held, Some(previous))),
            Attempt::Taken(holder) => {
                if holder.is_corrupt() {
                    ctx.ui.warn(&format!(
                        "skipped `{task_id}`, held by {}; `longrun release {task_id} --force` clears it",
                        holder.describe()
                    ));
                }
            }
        }
    }
    let local = claiming::claims_by_task(&claims.store, now)?;
    if !local.values().any(|entry| entry.stale) {
        return Err(nothing_ready());
    }
    let loaded = ctx.load_checklist(workspace)?;
    let stale: Vec<Candidate> = claiming::candidates(&loaded.checklist, &local, gates)
        .into_iter()
        .filter(|candidate| {
            candidate.stale.is_some()
                && candidate.task.status.effective() == Some(TaskStatus::InProgress)
        })
        .collect();
    for candidate in stale {
        let Some(task_id) = candidate.task.id() else {
            continue;
        };
        let request = request(ctx, candidate.task.attempts, &task_id, claimant);
        match claims.attempt(&request)? {
            Attempt::Claimed(held) => return Ok((held, None)),
            Attempt::TookOver { held, previous } => return Ok((held, Some(previous))),
            Attempt::Taken(_) => {}
        }
    }
    Err(nothing_ready())
}

fn nothing_ready() -> CommandError {
    CommandError::negative("no task is ready to claim")
        .with_hint("`longrun status` shows what is active, blocked and waiting")
}

/// Mirrors a new claim: `in_progress` in checklist.yaml (only while the claim is still ours)
/// and a `claim` event.
fn record(
    ctx: &Context,
    workspace: &Workspace,
    claims: &Claims,
    held: &HeldClaim,
    previous: Option<&Claim>,
) -> Result<(), CommandError> {
    let task = held.task();
    let token = held.token();
    claiming::write_status(workspace, &claims.background, task, || {
        claims
            .store
            .verify(task, token)
            .is_ok()
            .then_some(TaskStatus::InProgress)
    })?;
    let info = &held.claim().info;
    let mut fields = vec![
        ("worker", info.worker.clone()),
        ("host", info.host.clone()),
        ("pid", info.pid.to_string()),
        ("token", short(token)),
        ("lease_until", format_timestamp(info.lease_expires_at)),
    ];
    let text = match previous {
        None => format!("claimed by `{}`", info.worker),
        Some(previous) => {
            fields.push(("takeover", short(&previous.token)));
            fields.push(("previous_worker", previous.info.worker.clone()));
            format!(
                "took over the stale claim of `{}` on `{}` (lease ended {})",
                previous.info.worker,
                previous.info.host,
                format_timestamp(previous.info.lease_expires_at)
            )
        }
    };
    let event = event(ctx.clock.now(), EventKind::Claim, task, &fields, text);
    ctx.append_events(workspace, &[event])
}

/// Undoes a claim whose status or event could not be written, so no claim exists without
/// its mirror. Returns `error` with what the undo did.
fn give_back(
    ctx: &Context,
    workspace: &Workspace,
    claims: &Claims,
    held: &HeldClaim,
    error: CommandError,
) -> CommandError {
    let task = held.task();
    match claims.release(task, held.token()) {
        Ok(Fenced::Done(_)) => {
            let _ = claiming::write_status(workspace, &claims.background, task, || {
                matches!(claims.store.entry(task, ctx.clock.now()), Ok(None))
                    .then_some(TaskStatus::NotStarted)
            });
            error.with_cause(format!("the claim on `{task}` was given back"))
        }
        Ok(Fenced::Refused(refusal)) => error.with_cause(refusal.message),
        Err(release_error) => error
            .with_cause(format!(
                "the claim on `{task}` could not be given back: {}",
                release_error.message
            ))
            .with_hint(format!("`longrun release {task} --token {}`", held.token())),
    }
}

fn print_claim(
    ctx: &Context,
    claims: &Claims,
    held: &HeldClaim,
    previous: Option<&Claim>,
    json: bool,
) {
    let claim = held.claim();
    let info = &claim.info;
    let lease_end = format_timestamp(info.lease_expires_at);
    if json {
        ctx.ui.json(&ClaimView {
            task: info.task.as_str(),
            worker: &info.worker,
            host: &info.host,
            pid: info.pid,
            token: claim.token.as_str(),
            claimed_at: format_timestamp(info.claimed_at),
            lease_expires_at: lease_end.clone(),
            attempt: info.attempt,
            branch: &info.branch,
            worktree: &info.worktree,
            path: held.path().display().to_string(),
            took_over: previous.map(|previous| PreviousView {
                worker: &previous.info.worker,
                host: &previous.info.host,
                token: previous.token.as_str(),
                lease_expires_at: format_timestamp(previous.info.lease_expires_at),
            }),
        });
    } else {
        ctx.ui.data(&format!(
            "task: {}\nworker: {}\ntoken: {}\nlease_expires_at: {lease_end}\n",
            info.task, info.worker, claim.token
        ));
    }
    let remote = claims
        .remote
        .as_ref()
        .map(|remote| format!(" and on remote `{}`", remote.remote()))
        .unwrap_or_default();
    match previous {
        None => ctx.ui.status(&format!(
            "claimed `{}` for `{}` until {lease_end} (`{}`{remote})",
            info.task,
            info.worker,
            held.path().display()
        )),
        Some(previous) => ctx.ui.status(&format!(
            "took over `{}` from `{}` (stale since {}) for `{}` until {lease_end}",
            info.task,
            previous.info.worker,
            format_timestamp(previous.info.lease_expires_at),
            info.worker
        )),
    }
}

/// `--hold -- CMD...`: runs CMD (argv, no shell) while this process keeps the claim's OS
/// lock, renewing the lease every third of it. The claim stays when CMD ends: finishing a
/// command is not proof the task is done, so releasing is left to whoever checks the work.
fn hold(
    ctx: &Context,
    workspace: &Workspace,
    claims: &Claims,
    held: HeldClaim,
    lease: Duration,
    command: &[OsString],
) -> Result<ExitStatus, CommandError> {
    let task = held.task().clone();
    let token = held.token().clone();
    let Some((program, arguments)) = command.split_first() else {
        return Err(give_back(
            ctx,
            workspace,
            claims,
            &held,
            CommandError::user("`--hold` needs a command after `--`"),
        ));
    };
    let shown = program.to_string_lossy().into_owned();
    // The child does not inherit the lock file (Rust opens files close-on-exec): liveness is
    // this process, so a CMD that outlives a killed `longrun` does not keep the claim alive.
    let spawned = Command::new(program)
        .args(arguments)
        .env("LONGRUN_TASK_ID", task.as_str())
        .env("LONGRUN_CLAIM_TOKEN", token.as_str())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            let error =
                CommandError::user(format!("cannot start `{shown}`")).with_cause(error.to_string());
            return Err(give_back(ctx, workspace, claims, &held, error));
        }
    };
    let interval = (lease / 3).max(Duration::from_secs(1));
    let mut next_renewal = Instant::now() + interval;
    let mut lost = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(error) => {
                return Err(CommandError::user(format!("cannot wait for `{shown}`"))
                    .with_cause(error.to_string()));
            }
        }
        if lost.is_none() && Instant::now() >= next_renewal {
            next_renewal += interval;
            match claims.renew(&task, &token, ctx.clock.now(), lease) {
                Ok(Fenced::Done(_)) => {}
                Ok(Fenced::Refused(refusal)) => {
                    ctx.ui
                        .warn(&format!("lost the claim on `{task}`: {}", refusal.message));
                    lost = Some(refusal.message);
                }
                // A failed renewal is retried next time; the OS lock still proves we live.
                Err(error) => ctx.ui.warn(&format!(
                    "could not renew the claim on `{task}`: {}",
                    error.message
                )),
            }
        }
        std::thread::sleep(HOLD_POLL);
    };
    drop(held);
    let ended = match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_string(),
    };
    if let Some(message) = lost {
        return Err(CommandError::negative(format!(
            "`{shown}` {ended}, but the claim on `{task}` was lost meanwhile"
        ))
        .with_cause(message));
    }
    ctx.ui.status(&format!(
        "`{shown}` {ended}; the claim on `{task}` stays until released (`longrun release {task} --token {token}`)"
    ));
    if status.success() {
        Ok(ExitStatus::Success)
    } else {
        Err(CommandError::negative(format!("`{shown}` {ended}")))
    }
}
