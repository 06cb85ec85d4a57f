//! `longrun release ID --token T [--status complete|failed|not_started]` ends a claim;
//! `longrun release ID --force` clears one whatever it holds (a corrupt file, a holder known to
//! be dead). Both write the task's status and a `release` event.
//!
//! The token fences: the status is written only while the token is still the current claim
//! (checked under the checklist lock), then the lock file goes (checked again under the
//! claims mutex). A token that was taken over writes nothing, exits 1 and leaves a `reject`
//! event: a dead holder that comes back cannot mark a task complete.

use super::Context;
use super::claiming::{self, Claims, Fenced, Refusal, event, short};
use crate::cli::ReleaseArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::claims::{ClaimError, ClaimToken, LockContent};
use crate::state::model::{EventKind, TaskId, TaskStatus};
use crate::workspace::Workspace;

pub fn run(ctx: &Context, args: &ReleaseArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let settings = ctx.claim_settings(&workspace)?;
    // Fails early, before anything changes, when checklist.yaml or run-log.md is unusable
    // (the overview is enough to know: it exists only for a file that parsed).
    ctx.load_overview(&workspace)?;
    let claims = Claims::open(&workspace, &settings)?;
    let status = args.status.map_or(
        TaskStatus::NotStarted,
        crate::cli::ReleaseStatus::task_status,
    );
    match (&args.token, args.force) {
        (_, true) => force(ctx, &workspace, &claims, &args.task, status),
        (Some(token), false) => release(ctx, &workspace, &claims, &args.task, token, status),
        (None, false) => Err(CommandError::user("give `--token TOKEN` or `--force`")),
    }
}

fn release(
    ctx: &Context,
    workspace: &Workspace,
    claims: &Claims,
    task: &TaskId,
    token: &ClaimToken,
    status: TaskStatus,
) -> Result<ExitStatus, CommandError> {
    let git_mode = claims.remote.is_some();
    if git_mode {
        // The remote is asked before the checklist lock is taken, so no network call ever
        // holds up the other writers of checklist.yaml.
        if let Fenced::Refused(refusal) = claims.verify(task, token)? {
            return refuse(ctx, workspace, task, token, status, refusal);
        }
    }
    let mut local_failure: Option<ClaimError> = None;
    claiming::write_status(workspace, &claims.background, task, || {
        match claims.store.verify(task, token) {
            Ok(_) => {
                local_failure = None;
                Some(status)
            }
            // Claimed from another clone: no mirror here, and the remote said yes above.
            Err(ClaimError::NotClaimed { .. }) if git_mode => {
                local_failure = None;
                Some(status)
            }
            Err(error) => {
                local_failure = Some(error);
                None
            }
        }
    })?;
    if let Some(error) = local_failure {
        let refusal = claiming::refusal_of(error)?;
        return refuse(ctx, workspace, task, token, status, refusal);
    }
    let released = match claims.release(task, token)? {
        Fenced::Done(claim) => claim,
        // Taken over between the status write and now: the new holder's own status write
        // comes after ours and puts `in_progress` back.
        Fenced::Refused(refusal) => return refuse(ctx, workspace, task, token, status, refusal),
    };
    let now = ctx.clock.now();
    let held_for =
        claiming::human_seconds(claiming::seconds_between(released.info.claimed_at, now));
    let event = event(
        now,
        EventKind::Release,
        task,
        &[
            ("worker", released.info.worker.clone()),
            ("token", short(token)),
            ("status", status.as_str().to_string()),
        ],
        format!("released by `{}` after {held_for}", released.info.worker),
    );
    ctx.append_events(workspace, &[event])?;
    claims.settle();
    ctx.ui
        .status(&format!("released `{task}`; its status is `{status}`"));
    Ok(ExitStatus::Success)
}

/// Logs a refused release and returns its exit-1 error.
fn refuse(
    ctx: &Context,
    workspace: &Workspace,
    task: &TaskId,
    token: &ClaimToken,
    status: TaskStatus,
    refusal: Refusal,
) -> Result<ExitStatus, CommandError> {
    let mut fields = vec![
        ("operation", "release".to_string()),
        ("token", short(token)),
        ("status", status.as_str().to_string()),
    ];
    if let Some(current) = &refusal.current {
        fields.push(("holder", current.info.worker.clone()));
        fields.push(("holder_token", short(&current.token)));
    }
    let event = event(
        ctx.clock.now(),
        EventKind::Reject,
        task,
        &fields,
        format!("release refused: {}", refusal.message),
    );
    ctx.append_events(workspace, &[event])?;
    Err(refusal.into_error())
}

fn force(
    ctx: &Context,
    workspace: &Workspace,
    claims: &Claims,
    task: &TaskId,
    status: TaskStatus,
) -> Result<ExitStatus, CommandError> {
    let path = claims
        .store
        .lock_path(task)
        .map_err(claiming::claim_error)?;
    let (local, remote) = claims.force_remove(task)?;
    if local.is_none() && remote.is_none() {
        return Err(CommandError::negative(format!(
            "task `{task}` has no claim to clear (no `{}`)",
            path.display()
        )));
    }
    let now = ctx.clock.now();
    claiming::write_status(workspace, &claims.background, task, || {
        // Someone may have claimed the task the moment the file went; their claim wins.
        matches!(claims.store.entry(task, now), Ok(None)).then_some(status)
    })?;
    let mut fields = vec![
        ("forced", "true".to_string()),
        ("status", status.as_str().to_string()),
    ];
    let what = match (&local, &remote) {
        (Some(LockContent::Corrupt { reason }), _) => {
            format!("corrupt claim file `{}` ({reason})", path.display())
        }
        (Some(LockContent::Claim(claim)), _) => {
            fields.push(("previous_worker", claim.info.worker.clone()));
            fields.push(("token", short(&claim.token)));
            format!("claim of `{}` (`{}`)", claim.info.worker, path.display())
        }
        (None, Some(claim)) => {
            fields.push(("previous_worker", claim.info.worker.clone()));
            fields.push(("token", short(&claim.token)));
            format!("remote claim of `{}`", claim.info.worker)
        }
        (None, None) => String::new(),
    };
    let event = event(
        now,
        EventKind::Release,
        task,
        &fields,
        format!("cleared by force: {what}"),
    );
    ctx.append_events(workspace, &[event])?;
    claims.settle();
    ctx.ui.status(&format!(
        "cleared the {what} on `{task}`; its status is `{status}`"
    ));
    Ok(ExitStatus::Success)
}
