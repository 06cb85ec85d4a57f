//! `longrun approve ID [--note]`: a person's approval of a task held at a human gate,
//! recorded with who (git identity), when and the exact commit. The decision logic shared
//! with `reject` lives here too ([`decide`]).

use super::Context;
use super::claiming::DispatchGates;
use crate::cli::ApproveArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::git;
use crate::process::SUPERVISOR_ARG;
use crate::state::approvals::{Approvals, Decision, DispatchGate, Record, Stage};
use crate::state::checklist::{self, FieldValue, LoadOptions, TaskEdit, TaskField};
use crate::state::model::{EventKind, TaskId, TaskStatus};
use crate::state::runlog::{Event, FieldKey};

pub fn run(ctx: &Context, args: &ApproveArgs) -> Result<ExitStatus, CommandError> {
    decide(
        ctx,
        &args.task,
        Decision::Approve,
        args.note.as_deref().unwrap_or(""),
    )
}

/// Records `decision` about `task` at the stage it waits at.
pub(super) fn decide(
    ctx: &Context,
    task: &TaskId,
    decision: Decision,
    text: &str,
) -> Result<ExitStatus, CommandError> {
    let verb = match decision {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    };
    // A worker runs with LONGRUN_TASK_ID set: an agent must never approve work.
    if std::env::var_os("LONGRUN_TASK_ID").is_some_and(|v| !v.is_empty()) {
        return Err(CommandError::user(format!(
            "workers cannot {verb}: `LONGRUN_TASK_ID` is set, so this runs inside a worker"
        ))
        .with_hint("a person approves from their own shell"));
    }
    let workspace = ctx.workspace()?;
    // The variable is easily dropped; a worker's supervisor among this process's
    // ancestors, or a task's worktree as the working directory, is not.
    let in_worktree = std::fs::canonicalize(workspace.state_dir().join("worktrees"))
        .is_ok_and(|worktrees| ctx.cwd.starts_with(&worktrees));
    if in_worktree || crate::process::ancestor_with_arg(SUPERVISOR_ARG).is_some() {
        return Err(CommandError::user(format!(
            "workers cannot {verb}: this runs inside a longrun worker"
        ))
        .with_hint("a person approves from their own shell"));
    }
    let loaded = ctx.load_checklist(&workspace)?;
    ctx.require_actionable(&loaded)?;
    let task_id = task.as_str().to_string();
    let Some(current) = loaded.checklist.task(&task_id) else {
        return Err(CommandError::user(format!(
            "no task `{task_id}` in `{}`",
            loaded.path.display()
        )));
    };
    let root = &workspace.root;
    let name = git::config_value(root, "user.name")?;
    let email = git::config_value(root, "user.email")?;
    let (Some(name), Some(email)) = (name, email) else {
        return Err(
            CommandError::user(format!("cannot {verb}: git does not know who you are"))
                .with_hint("set `git config user.name` and `git config user.email`"),
        );
    };
    let by = format!("{name} <{email}>");
    let approvals = Approvals::new(workspace.state_dir().join("approvals"));
    let (stage, commit) = if let Some(awaiting) = approvals.awaiting(&task_id) {
        let branch_tip = git::rev_parse(root, &format!("refs/heads/longrun/{task_id}"))?;
        if branch_tip.as_deref() != Some(awaiting.commit.as_str()) {
            return Err(CommandError::user(format!(
                "the task branch `longrun/{task_id}` changed since {} was validated; the next `longrun cycle` validates it again",
                short(&awaiting.commit)
            )));
        }
        (Stage::After, awaiting.commit)
    } else if current.status.effective() == Some(TaskStatus::AwaitingApproval)
        || (current.status.effective() == Some(TaskStatus::NotStarted)
            && DispatchGates::load(&workspace, current.risk.is_some())?.gate(
                &task_id,
                current.approval,
                current.risk,
            ) != DispatchGate::Open)
    {
        // Held by the cycle, or not started yet and needing a decision before it starts
        // (`next` and `status` say so): decided before dispatch.
        let head = git::rev_parse(root, "HEAD")?.unwrap_or_default();
        (Stage::Before, head)
    } else {
        return Err(CommandError::user(format!(
            "task `{task_id}` is not waiting for approval (status `{}`)",
            current.status.display()
        )));
    };
    let now = ctx.clock.now();
    let record = Record {
        task: task_id.clone(),
        stage,
        decision,
        commit: commit.clone(),
        by: by.clone(),
        at: crate::clock::format_timestamp(now),
        text: text.to_string(),
    };
    approvals.write_record(&record)?;
    if stage == Stage::Before {
        // Approved: ready again; rejected: blocked with the reason.
        let (status, note) = match decision {
            Decision::Approve => (TaskStatus::NotStarted, format!("dispatch approved by {by}")),
            Decision::Reject => (
                TaskStatus::Blocked,
                format!("dispatch rejected by {by}: {text}"),
            ),
        };
        let note = if current.note.is_empty() {
            note
        } else {
            format!("{}\n{note}", current.note.trim_end())
        };
        checklist::update(
            &workspace.checklist(),
            &workspace.checklist_lock(),
            &LoadOptions {
                snapshot_path: Some(workspace.checklist_snapshot()),
            },
            |_| {
                Ok(vec![
                    TaskEdit::Task {
                        task_id: task_id.clone(),
                        field: TaskField::Status,
                        value: FieldValue::Text(status.as_str().to_string()),
                    },
                    TaskEdit::Task {
                        task_id: task_id.clone(),
                        field: TaskField::Note,
                        value: FieldValue::Text(note.clone()),
                    },
                ])
            },
        )?;
    }
    let (kind, done) = match decision {
        Decision::Approve => (EventKind::Approve, "approved"),
        Decision::Reject => (EventKind::Reject, "rejected"),
    };
    let mut message = format!(
        "{} {done} by {by} at commit {}",
        match stage {
            Stage::Before => "dispatch",
            Stage::After => "merge",
        },
        short(&commit)
    );
    if !text.trim().is_empty() {
        message.push_str(&format!(": {}", text.trim()));
    }
    let mut event = Event::new(now, kind, message).with_task(task.clone());
    for (key, value) in [("stage", stage.as_str()), ("commit", short(&commit))] {
        if let Ok(key) = FieldKey::parse(key) {
            event = event.with_field(key, value);
        }
    }
    ctx.append_events(&workspace, std::slice::from_ref(&event))?;
    ctx.ui.data(&event.render());
    Ok(ExitStatus::Success)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
}
