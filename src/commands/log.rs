//! `longrun log`: append one event to run-log.md (for people and for agents in a worktree;
//! an agent's events say `by=agent`, so that `longrun mine` does not take them for a person's).

use super::Context;
use crate::cli::LogArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::runlog::Event;

pub fn run(ctx: &Context, args: &LogArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let loaded = ctx.load_checklist(&workspace)?;
    if let Some(task) = &args.task
        && loaded.checklist.task(task.as_str()).is_none()
    {
        return Err(CommandError::user(format!(
            "no task `{task}` in `{}`",
            loaded.path.display()
        )));
    }
    if args.message.trim().is_empty() {
        return Err(CommandError::user("the message is empty"));
    }
    let mut event = Event::new(ctx.clock.now(), args.kind, args.message.trim());
    if let Some(task) = &args.task {
        event = event.with_task(task.clone());
    }
    if let Some(by) = super::worker_marker() {
        event = event.with_field(by.0, by.1);
    }
    ctx.append_events(&workspace, std::slice::from_ref(&event))?;
    ctx.ui.data(&event.render());
    Ok(ExitStatus::Success)
}
