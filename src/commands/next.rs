//! `longrun next`: the ready tasks in file order (dependencies complete, not claimed).

use serde::Serialize;

use super::Context;
use crate::cli::NextArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;

#[derive(Serialize)]
struct ReadyTask<'a> {
    task_id: &'a str,
    title: &'a str,
    line: usize,
}

pub fn run(ctx: &Context, args: &NextArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let loaded = ctx.load_overview(&workspace)?;
    let claimed = super::claimed_task_ids(&workspace);
    let ready: Vec<ReadyTask> = loaded
        .overview
        .ready_tasks(&|task_id| claimed.contains(task_id))
        .into_iter()
        .take(args.count)
        .map(|task| ReadyTask {
            task_id: task.task_id,
            title: task.title,
            line: task.line,
        })
        .collect();
    if args.json {
        ctx.ui.json(&ready);
    } else if ready.is_empty() {
        ctx.ui.status("no task is ready");
    } else {
        let width = ready.iter().map(|t| t.task_id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for task in &ready {
            out.push_str(&format!("{:width$}  {}\n", task.task_id, task.title));
        }
        ctx.ui.data(&out);
    }
    Ok(ExitStatus::Success)
}
