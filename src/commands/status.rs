//! `longrun status`: the 30-second view of a run.

use serde::Serialize;

use super::Context;
use super::claiming::{self, DispatchGates, human_seconds, seconds_between};
use crate::cli::StatusArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::process::Spent;
use crate::state::approvals::DispatchGate;
use crate::state::checklist::{StatusValue, TaskBrief};
use crate::state::claims::{ClaimEntry, ClaimStore, LockContent};
use crate::state::model::{TaskId, TaskStatus};

#[derive(Serialize)]
struct StatusView<'a> {
    tasks: usize,
    counts: Vec<Count>,
    active: Vec<TaskLine<'a>>,
    next: Vec<TaskLine<'a>>,
    blocked: Vec<TaskLine<'a>>,
    awaiting_approval: Vec<TaskLine<'a>>,
    failed: Vec<TaskLine<'a>>,
    spend: SpendView,
    events: Vec<String>,
}

/// What the agents' attempts cost so far. An attempt whose agent reported no cost is
/// counted in `unknown_cost_attempts`, never as zero: `cost_usd` is then a lower bound.
#[derive(Serialize)]
struct SpendView {
    attempts: u32,
    /// The sum of the known costs.
    cost_usd: f64,
    unknown_cost_attempts: u32,
    /// The cost as `status` words it, e.g. `$1.23 known + 2 attempts with unknown cost`.
    cost: String,
    tokens: u64,
    /// `budgets.per_run.cost_usd`, when set.
    budget_usd: Option<f64>,
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
const EVENT_LIMIT: usize = 5;

pub fn run(ctx: &Context, args: &StatusArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    // The overview holds what this view needs; only a stale claim (whose takeover depends
    // on dependencies and approvals) needs the whole model.
    let loaded = ctx.load_overview(&workspace)?;
    let overview = &loaded.overview;
    let now = ctx.clock.now();
    let claims = claiming::claims_by_task(&ClaimStore::new(workspace.current_tasks()), now)?;
    let claim_of = |task_id: &str| TaskId::parse(task_id).ok().and_then(|id| claims.get(&id));
    let mut corrupt: Vec<&ClaimEntry> = claims.values().filter(|e| e.is_corrupt()).collect();
    corrupt.sort_by(|a, b| a.path.cmp(&b.path));
    for entry in corrupt {
        if let LockContent::Corrupt { reason } = &entry.lock {
            ctx.ui.warn(&format!(
                "claim file `{}` is corrupt ({reason}); its task counts as held until `longrun release ID --force` clears it",
                entry.path.display()
            ));
        }
    }

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
            detail: Some(
                claim_of(task.task_id)
                    .map_or_else(|| "no claim".to_string(), |entry| holder_detail(entry, now)),
            ),
        })
        .collect();
    // Readiness by the cycle's own rule, the gate before dispatch included: a task that
    // waits for a person's approval is shown as waiting, not as next.
    let gates = DispatchGates::load(&workspace, overview.tasks().any(|t| t.risk.is_some()))?;
    let claimed = |task_id: &str| claim_of(task_id).is_some();
    let held: Vec<TaskLine> = overview
        .ready_tasks(&claimed, &|_| false)
        .into_iter()
        .filter_map(|task| {
            let gate = gates.gate(task.task_id, task.approval, task.risk);
            let detail = match &gate {
                DispatchGate::Open | DispatchGate::Approved(_) => return None,
                DispatchGate::Waiting => {
                    format!("held before it starts: `longrun approve {}`", task.task_id)
                }
                DispatchGate::Rejected(record) => format!(
                    "rejected before it started by {}: {}",
                    record.by, record.text
                ),
            };
            Some(TaskLine {
                task_id: task.task_id,
                title: task.title,
                detail: Some(detail),
            })
        })
        .collect();
    let full;
    let next: Vec<TaskLine> = if claims.values().any(|entry| entry.stale) {
        full = ctx.load_checklist(&workspace)?;
        claiming::candidates(&full.checklist, &claims, &gates)
            .into_iter()
            .take(LIST_LIMIT)
            .map(|candidate| TaskLine {
                task_id: &candidate.task.task_id,
                title: &candidate.task.title,
                detail: candidate.stale.map(|entry| holder_detail(entry, now)),
            })
            .collect()
    } else {
        overview
            .ready_tasks(&claimed, &|task| {
                !gates.gate(task.task_id, task.approval, task.risk).lets_go()
            })
            .into_iter()
            .take(LIST_LIMIT)
            .map(|task| TaskLine {
                task_id: task.task_id,
                title: task.title,
                detail: None,
            })
            .collect()
    };
    fn with_reason(task: TaskBrief<'_>) -> TaskLine<'_> {
        TaskLine {
            task_id: task.task_id,
            title: task.title,
            detail: task.note_last_line.map(str::to_string),
        }
    }
    let blocked: Vec<TaskLine> = with_status(TaskStatus::Blocked).map(with_reason).collect();
    let failed: Vec<TaskLine> = with_status(TaskStatus::Failed).map(with_reason).collect();
    let awaiting_approval: Vec<TaskLine> = with_status(TaskStatus::AwaitingApproval)
        .map(|task| TaskLine {
            task_id: task.task_id,
            title: task.title,
            detail: None,
        })
        .chain(held)
        .collect();
    let spend = spend_view(ctx, &workspace);
    let events: Vec<String> =
        crate::state::runlog::read_last_events(&workspace.run_log(), EVENT_LIMIT)?
            .iter()
            .map(|event| event.render())
            .collect();

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
        spend,
        events,
    };
    if args.json {
        ctx.ui.json(&view);
    } else {
        ctx.ui.data(&render(&view));
    }
    Ok(ExitStatus::Success)
}

/// The spending of every attempt so far, and the run's cost budget. A longrun.yaml that
/// does not load only costs the budget (with a warning): `check` is the command for it.
fn spend_view(ctx: &Context, workspace: &crate::workspace::Workspace) -> SpendView {
    let spent = Spent::read(&workspace.state_dir().join("runs"), None);
    let budget_usd = if spent.attempts == 0 {
        None
    } else {
        match crate::config::Config::load(&workspace.config()) {
            Ok((config, _)) => config.budgets.per_run.cost_usd,
            Err(error) => {
                ctx.ui
                    .warn(&format!("the cost budget is not shown: {error}"));
                None
            }
        }
    };
    SpendView {
        attempts: spent.attempts,
        cost_usd: spent.cost_usd,
        unknown_cost_attempts: spent.unknown_cost,
        cost: spent.cost_text(),
        tokens: spent.tokens,
        budget_usd,
    }
}

/// Who holds a task: `claimed by `w` on `h`, lease left 12m00s`, or why the claim is stale
/// or corrupt.
fn holder_detail(entry: &ClaimEntry, now: jiff::Timestamp) -> String {
    let claim = match &entry.lock {
        LockContent::Claim(claim) => claim,
        LockContent::Corrupt { reason } => {
            return format!("corrupt claim file `{}`: {reason}", entry.path.display());
        }
    };
    let info = &claim.info;
    let left = seconds_between(now, info.lease_expires_at);
    if entry.stale {
        format!(
            "stale claim of `{}` on `{}`: lease ended {} ago, no live holder",
            info.worker,
            info.host,
            human_seconds(-left)
        )
    } else if left <= 0 {
        format!(
            "claimed by `{}` on `{}`, lease ended {} ago but the holder is alive",
            info.worker,
            info.host,
            human_seconds(-left)
        )
    } else {
        format!(
            "claimed by `{}` on `{}`, lease left {}",
            info.worker,
            info.host,
            human_seconds(left)
        )
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
    let spend = &view.spend;
    if spend.attempts > 0 {
        let budget = spend
            .budget_usd
            .map(|budget| format!(", budget ${budget:.2}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "\nCost: {} over {} attempt{} ({} tokens{budget})\n",
            spend.cost,
            spend.attempts,
            if spend.attempts == 1 { "" } else { "s" },
            spend.tokens
        ));
    }
    if !view.events.is_empty() {
        out.push_str("\nRecent events:\n");
        for event in &view.events {
            out.push_str(&format!("  {event}\n"));
        }
    }
    out
}
