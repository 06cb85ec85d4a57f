//! `longrun next`: the ready tasks in file order (dependencies complete, not claimed), then
//! the tasks whose claim went stale (lease over, holder gone), which a claim takes over:
//! the order `longrun claim --next` tries them in.

use serde::Serialize;

use super::Context;
use super::claiming;
use crate::cli::NextArgs;
use crate::clock::format_timestamp;
use crate::error::CommandError;
use crate::exit::ExitStatus;

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
    if !claims.values().any(|entry| entry.stale) {
        // No stale claim to offer: the overview's ready set, less claimed tasks, is the
        // answer, without decoding the whole model.
        let loaded = ctx.load_overview(&workspace)?;
        let claimed = |task_id: &str| {
            crate::state::model::TaskId::parse(task_id).is_ok_and(|id| claims.contains_key(&id))
        };
        let ready: Vec<ReadyTask> = loaded
            .overview
            .ready_tasks(&claimed)
            .into_iter()
            .take(args.count)
            .map(|task| ReadyTask {
                task_id: task.task_id,
                title: task.title,
                line: task.line,
                stale_claim: None,
            })
            .collect();
        print(ctx, args, &ready);
        return Ok(ExitStatus::Success);
    }
    let loaded = ctx.load_checklist(&workspace)?;
    let ready: Vec<ReadyTask> = claiming::candidates(&loaded.checklist, &claims)
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
    print(ctx, args, &ready);
    Ok(ExitStatus::Success)
}

fn print(ctx: &Context, args: &NextArgs, ready: &[ReadyTask]) {
    if args.json {
        ctx.ui.json(&ready);
    } else if ready.is_empty() {
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
}
