//! `longrun next`: the ready tasks in file order (dependencies complete, not claimed, not
//! held by the gate before dispatch), then the tasks whose claim went stale (lease over,
//! holder gone), which a claim takes over: the order `longrun claim --next` tries them in.
//! Tasks that would be ready but for a person's approval are named on stderr.

use serde::Serialize;

use super::Context;
use super::claiming::{self, DispatchGates};
use crate::cli::NextArgs;
use crate::clock::format_timestamp;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::approvals::DispatchGate;

#[derive(Serialize)]
struct ReadyTask<'a> {
    task_id: &'a str,
    title: &'a str,
    line: usize,
    /// The stale claim a claim of this task takes over.
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_claim: Option<StaleClaim<'a>>,
}

#[derive(Serialize)]
struct StaleClaim<'a> {
    worker: &'a str,
    host: &'a str,
    lease_expires_at: String,
}

pub fn run(ctx: &Context, args: &NextArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let store = crate::state::claims::ClaimStore::new(workspace.current_tasks());
    let claims = claiming::claims_by_task(&store, ctx.clock.now())?;
    let claimed = |task_id: &str| {
        crate::state::model::TaskId::parse(task_id).is_ok_and(|id| claims.contains_key(&id))
    };
    if !claims.values().any(|entry| entry.stale) {
        // No stale claim to offer: the overview's ready set, less claimed tasks and those
        // the gate before dispatch holds, is the answer, without decoding the whole model.
        let loaded = ctx.load_overview(&workspace)?;
        let overview = &loaded.overview;
        let gates = DispatchGates::load(&workspace, overview.tasks().any(|t| t.risk.is_some()))?;
        let mut ready = Vec::new();
        let mut held = Vec::new();
        for task in overview.ready_tasks(&claimed, &|_| false) {
            let gate = gates.gate(task.task_id, task.approval, task.risk);
            if gate.lets_go() {
                ready.push(ReadyTask {
                    task_id: task.task_id,
                    title: task.title,
                    line: task.line,
                    stale_claim: None,
                });
            } else {
                held.push((task.task_id, gate));
            }
        }
        ready.truncate(args.count);
        print(ctx, args, &ready, &held);
        return Ok(ExitStatus::Success);
    }
    let loaded = ctx.load_checklist(&workspace)?;
    let checklist = &loaded.checklist;
    let gates = DispatchGates::for_checklist(&workspace, checklist)?;
    let ready: Vec<ReadyTask> = claiming::candidates(checklist, &claims, &gates)
        .into_iter()
        .take(args.count)
        .map(|candidate| ReadyTask {
            task_id: &candidate.task.task_id,
            title: &candidate.task.title,
            line: candidate.task.line(),
            stale_claim: candidate
                .stale
                .and_then(|entry| entry.claim())
                .map(|claim| StaleClaim {
                    worker: &claim.info.worker,
                    host: &claim.info.host,
                    lease_expires_at: format_timestamp(claim.info.lease_expires_at),
                }),
        })
        .collect();
    let held: Vec<(&str, DispatchGate)> = checklist
        .ready_tasks_held(&claimed, &|_| false)
        .into_iter()
        .map(|task| {
            let gate = gates.gate(&task.task_id, task.approval, task.risk);
            (task.task_id.as_str(), gate)
        })
        .filter(|(_, gate)| !gate.lets_go())
        .collect();
    print(ctx, args, &ready, &held);
    Ok(ExitStatus::Success)
}

/// The ready tasks on stdout; in text, a line on stderr for each task that would be ready
/// but for a person's approval (the JSON answer lists ready tasks only).
fn print(ctx: &Context, args: &NextArgs, ready: &[ReadyTask], held: &[(&str, DispatchGate)]) {
    if args.json {
        ctx.ui.json(&ready);
        return;
    }
    if ready.is_empty() {
        ctx.ui.status("no task is ready");
    } else {
        let width = ready.iter().map(|t| t.task_id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for task in ready {
            out.push_str(&format!("{:width$}  {}", task.task_id, task.title));
            if let Some(stale) = &task.stale_claim {
                out.push_str(&format!(
                    "  (stale claim of `{}` on `{}`, lease ended {}: a claim takes it over)",
                    stale.worker, stale.host, stale.lease_expires_at
                ));
            }
            out.push('\n');
        }
        ctx.ui.data(&out);
    }
    for (task_id, gate) in held {
        ctx.ui.status(&held_line(task_id, gate));
    }
}

/// Why a task that is otherwise ready is not: it waits for a person, or a person said no.
pub(super) fn held_line(task_id: &str, gate: &DispatchGate) -> String {
    match gate {
        DispatchGate::Rejected(record) => format!(
            "`{task_id}` is not ready: {} rejected it before it started ({}); the next cycle blocks it",
            record.by, record.text
        ),
        _ => format!(
            "`{task_id}` is not ready: it waits for a person's approval before it starts (`longrun approve {task_id}`)"
        ),
    }
}
