//! `longrun status`: the 30-second view of a run.

use serde::Serialize;

use super::Context;
use crate::cli::StatusArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::checklist::{StatusValue, TaskBrief};
use crate::state::model::TaskStatus;

#[derive(Serialize)]
struct StatusView<'a> {
    tasks: usize,
    counts: Vec<Count>,
    active: Vec<TaskLine<'a>>,
    next: Vec<TaskLine<'a>>,
    blocked: Vec<TaskLine<'a>>,
    awaiting_approval: Vec<TaskLine<'a>>,
    failed: Vec<TaskLine<'a>>,
    events: Vec<String>,
}

#[derive(Serialize)]
struct Count {
    status: String,
    count: usize,
}

#[derive(Serialize)]
struct TaskLine<'a> {
    task_id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

const LIST_LIMIT: usize = 5;

pub fn run(ctx: &Context, args: &StatusArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let loaded = ctx.load_overview(&workspace)?;
    let overview = &loaded.overview;
    let claimed = super::claimed_task_ids(&workspace);

    let mut counts: Vec<(String, usize)> = TaskStatus::ALL
        .iter()
        .map(|status| (status.as_str().to_string(), 0))
        .collect();
    let mut unknown = 0;
    for task in overview.tasks() {
        match task.status.effective() {
            Some(status) => {
                if let Some(slot) = counts.iter_mut().find(|(name, _)| name == status.as_str()) {
                    slot.1 += 1;
                }
            }
            None => unknown += 1,
        }
    }
    if unknown > 0 {
        counts.push(("unknown".to_string(), unknown));
    }
    counts.retain(|(_, n)| *n > 0);

    let with_status = |wanted: TaskStatus| {
        overview
            .tasks()
            .filter(move |task| *task.status == StatusValue::Known(wanted))
    };
    let active: Vec<TaskLine> = with_status(TaskStatus::InProgress)
        .map(|task| TaskLine {
            task_id: task.task_id,
            title: task.title,
            detail: Some(if claimed.contains(task.task_id) {
                "claimed".to_string()
            } else {
                "no claim".to_string()
            }),
        })
        .collect();
    let next: Vec<TaskLine> = overview
        .ready_tasks(&|task_id| claimed.contains(task_id))
        .into_iter()
        .take(LIST_LIMIT)
        .map(plain)
        .collect();
    let reason = |task: &TaskBrief| task.note_last_line.map(str::to_string);
    let blocked: Vec<TaskLine> = with_status(TaskStatus::Blocked)
        .map(|task| TaskLine {
            task_id: task.task_id,
            title: task.title,
            detail: reason(&task),
        })
        .collect();
    let failed: Vec<TaskLine> = with_status(TaskStatus::Failed)
        .map(|task| TaskLine {
            task_id: task.task_id,
            title: task.title,
            detail: reason(&task),
        })
        .collect();
    let awaiting_approval: Vec<TaskLine> = with_status(TaskStatus::AwaitingApproval)
        .map(plain)
        .collect();
    let events = Vec::new();

    let view = StatusView {
        tasks: overview.task_count(),
        counts: counts
            .into_iter()
            .map(|(status, count)| Count { status, count })
            .collect(),
        active,
        next,
        blocked,
        awaiting_approval,
        failed,
        events,
    };
    if args.json {
        ctx.ui.json(&view);
    } else {
        ctx.ui.data(&render(&view));
    }
    Ok(ExitStatus::Success)
}

fn plain(task: TaskBrief<'_>) -> TaskLine<'_> {
    TaskLine {
        task_id: task.task_id,
        title: task.title,
        detail: None,
    }
}

fn render(view: &StatusView) -> String {
    let mut out = String::new();
    let counts: Vec<String> = view
        .counts
        .iter()
        .map(|count| format!("{} {}", count.count, count.status))
        .collect();
    out.push_str(&format!(
        "SUMMARY: {} tasks: {}\n",
        view.tasks,
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        }
    ));
    let sections: [(&str, &[TaskLine]); 5] = [
        ("Active", &view.active),
        ("Next", &view.next),
        ("Blocked", &view.blocked),
        ("Failed", &view.failed),
        ("Awaiting approval", &view.awaiting_approval),
    ];
    for (heading, lines) in sections {
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{heading}:\n"));
        let width = lines.iter().map(|l| l.task_id.len()).max().unwrap_or(0);
        for line in lines {
            out.push_str(&format!("  {:width$}  {}", line.task_id, line.title));
            if let Some(detail) = &line.detail {
                out.push_str(&format!("  ({detail})"));
            }
            out.push('\n');
        }
    }
    if !view.events.is_empty() {
        out.push_str("\nRecent events:\n");
        for event in &view.events {
            out.push_str(&format!("  {event}\n"));
        }
    }
    out
}
