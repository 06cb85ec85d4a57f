//! `longrun task set` and `longrun task show`: one task, through the in-place writer.

use super::Context;
use crate::cli::{TaskSetArgs, TaskShowArgs};
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::checklist::{self, FieldValue, LoadOptions, TaskEdit, TaskField, UpdateOutcome};
use crate::state::model::EventKind;
use crate::state::runlog::{Event, FieldKey};

pub fn set(ctx: &Context, args: &TaskSetArgs) -> Result<ExitStatus, CommandError> {
    if args.status.is_none() && args.note.is_none() {
        return Err(CommandError::user("nothing to change")
            .with_hint("give `--status STATUS` and/or `--note TEXT`"));
    }
    let workspace = ctx.workspace()?;
    // The overview answers both pre-checks without decoding the whole model; the writer
    // below loads what it edits.
    let loaded = ctx.load_overview(&workspace)?;
    ctx.require_actionable_overview(&loaded)?;
    let task_id = args.task.as_str().to_string();
    if loaded.overview.task(&task_id).is_none() {
        return Err(CommandError::user(format!(
            "no task `{task_id}` in `{}`",
            loaded.path.display()
        )));
    }
    let options = LoadOptions {
        snapshot_path: Some(workspace.checklist_snapshot()),
    };
    let outcome = checklist::update(
        &workspace.checklist(),
        &workspace.checklist_lock(),
        &options,
        |_| {
            let mut edits = Vec::new();
            if let Some(status) = args.status {
                edits.push(TaskEdit::Task {
                    task_id: task_id.clone(),
                    field: TaskField::Status,
                    value: FieldValue::Text(status.as_str().to_string()),
                });
            }
            if let Some(note) = &args.note {
                edits.push(TaskEdit::Task {
                    task_id: task_id.clone(),
                    field: TaskField::Note,
                    value: FieldValue::Text(note.clone()),
                });
            }
            Ok(edits)
        },
    )?;
    match outcome {
        UpdateOutcome::Written => {
            let mut changes = Vec::new();
            if let Some(status) = args.status {
                changes.push(format!("status → {status}"));
            }
            if args.note.is_some() {
                changes.push("note replaced".to_string());
            }
            let mut event = Event::new(
                ctx.clock.now(),
                EventKind::Note,
                format!("task set by hand: {}", changes.join(", ")),
            )
            .with_task(args.task.clone());
            if let Some(by) = super::worker_marker() {
                event = event.with_field(by.0, by.1);
            }
            if let Some(status) = args.status
                && let Ok(key) = FieldKey::parse("status")
            {
                event = event.with_field(key, status.as_str());
            }
            ctx.append_events(&workspace, &[event])?;
            ctx.ui.status(&format!("updated task `{task_id}`"));
        }
        UpdateOutcome::Unchanged => ctx.ui.status(&format!(
            "task `{task_id}` already says that; nothing written"
        )),
    }
    Ok(ExitStatus::Success)
}

pub fn show(ctx: &Context, args: &TaskShowArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let loaded = ctx.load_checklist(&workspace)?;
    let Some(task) = loaded.checklist.task(args.task.as_str()) else {
        return Err(CommandError::user(format!(
            "no task `{}` in `{}`",
            args.task,
            loaded.path.display()
        )));
    };
    if args.json {
        ctx.ui.json(task);
        return Ok(ExitStatus::Success);
    }
    let mut out = format!(
        "{}  {}\nstatus: {}\nline: {}\n",
        task.task_id,
        task.title,
        task.status.display(),
        task.line()
    );
    if !task.depends_on.is_empty() {
        out.push_str(&format!("depends on: {}\n", task.depends_on.join(", ")));
    }
    if !task.description.is_empty() {
        out.push_str(&format!("\n{}\n", task.description.trim_end()));
    }
    if !task.acceptance_criteria.is_empty() {
        out.push_str("\nacceptance criteria:\n");
        for criterion in &task.acceptance_criteria {
            out.push_str(&format!("  - {criterion}\n"));
        }
    }
    out.push_str("\nvalidators:\n");
    if task.own_validators().is_empty() {
        out.push_str("  (none: not mergeable)\n");
    }
    for validator in task.own_validators() {
        out.push_str(&format!("  - {}\n", validator.display()));
    }
    if !task.note.is_empty() {
        out.push_str(&format!("\nnote:\n{}\n", task.note.trim_end()));
    }
    ctx.ui.data(&out);
    Ok(ExitStatus::Success)
}
