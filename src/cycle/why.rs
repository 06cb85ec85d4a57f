//! `why`: the full story of one task, gathered from the run log (its events in order), its
//! claim, its run directories (attempts, validator and review results, failure evidence),
//! the approval records and git (the merge commit, the task branch), and the gate it
//! stands at now with what would unblock it. Read-only; never prints.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::git::{self, History};
use crate::state::approvals::{Approvals, Awaiting, Record, Stage};
use crate::state::checklist::Task;
use crate::state::claims::ClaimStore;
use crate::state::model::{TaskId, TaskStatus};
use crate::state::runlog::{self, StreamItem};
use crate::workspace::Workspace;

/// Everything known about one task.
#[derive(Debug, Serialize)]
pub struct Story {
    pub task_id: String,
    pub title: String,
    pub status: String,
    pub attempts: u32,
    pub validators: Vec<String>,
    /// Run-log events about the task, rendered, in order.
    pub events: Vec<String>,
    pub claim: Option<String>,
    pub runs: Vec<AttemptStory>,
    pub approvals: Vec<Record>,
    pub awaiting: Option<Awaiting>,
    /// The merge commit on the target branch, when merged.
    pub merged_as: Option<String>,
    pub branch_tip: Option<String>,
    /// Where the task stands and what moves it on.
    pub gate: String,
    pub unblock: String,
}

/// One attempt's files.
#[derive(Debug, Serialize)]
pub struct AttemptStory {
    pub dir: PathBuf,
    pub attempt: String,
    /// `exited 0 in 1234 ms`, or why there is no result.
    pub agent: String,
    /// `validator: outcome` lines.
    pub validators: Vec<String>,
    /// Review outputs found.
    pub reviews: Vec<String>,
    /// The first lines of failure.md.
    pub failure: Option<String>,
}

/// Tells the story of `task`; `budgets` are longrun.yaml's, which may hold it back.
pub fn story(
    workspace: &Workspace,
    task: &Task,
    loop_validators: &[crate::state::checklist::Validator],
    target_ref: &str,
    budgets: &crate::config::Budgets,
    now: Timestamp,
) -> Result<Story, super::CycleError> {
    let task_id = task.task_id.clone();
    let mut events = Vec::new();
    for item in runlog::stream_events(&workspace.run_log())? {
        if let StreamItem::Event(logged) = item?
            && logged.event.task.as_ref().map(TaskId::as_str) == Some(task_id.as_str())
        {
            events.push(logged.event.render());
        }
    }
    let claim = match TaskId::parse(&task_id) {
        Ok(id) => ClaimStore::new(workspace.current_tasks())
            .entry(&id, now)?
            .and_then(|entry| entry.claim().cloned())
            .map(|claim| {
                format!(
                    "held by `{}` on {} (attempt {}, since {}, lease until {}) in {}",
                    claim.info.worker,
                    claim.info.host,
                    claim.info.attempt,
                    crate::clock::format_timestamp(claim.info.claimed_at),
                    crate::clock::format_timestamp(claim.info.lease_expires_at),
                    claim.info.worktree
                )
            }),
        Err(_) => None,
    };
    // Validators run in this order: the task's own, then the fast and full loops, each once.
    let order: Vec<String> =
        crate::gate::validator_order(&[task.own_validators(), loop_validators])
            .iter()
            .map(|v| v.display())
            .collect();
    let runs = attempts(&workspace.state_dir().join("runs"), &task_id, &order);
    let approvals_store = Approvals::new(workspace.state_dir().join("approvals"));
    let approvals: Vec<Record> = [Stage::Before, Stage::After]
        .into_iter()
        .filter_map(|stage| approvals_store.record(&task_id, stage))
        .collect();
    let awaiting = approvals_store.awaiting(&task_id);
    let root = &workspace.root;
    let merged_as = git::completed_tasks(root, target_ref, History::FirstParent)
        .unwrap_or_default()
        .into_iter()
        .find(|done| done.task == task_id)
        .map(|done| done.commit);
    let branch_tip = git::rev_parse(root, &format!("refs/heads/longrun/{task_id}"))
        .ok()
        .flatten();
    let status = task.status.effective();
    // A spent budget holds a task back before anything else the cycle checks.
    let budget_hold = match status {
        Some(TaskStatus::NotStarted | TaskStatus::Blocked) if merged_as.is_none() => {
            held_by_budget(workspace, budgets, &task_id, now)
        }
        _ => None,
    };
    let (gate, unblock) = match status {
        _ if merged_as.is_some() => (
            "merged".to_string(),
            "nothing: it is complete".to_string(),
        ),
        Some(TaskStatus::AwaitingApproval) => match &awaiting {
            Some(awaiting) => (
                format!("human gate after validation: candidate {} is validated", short(&awaiting.commit)),
                format!("`longrun approve {task_id}` (or `longrun reject {task_id} --reason ...`); a new commit on the branch voids an approval"),
            ),
            None => (
                "human gate before dispatch".to_string(),
                format!("`longrun approve {task_id}` lets the next cycle dispatch it"),
            ),
        },
        // Only a task's own budget blocks it (a run's leaves tasks `not_started`).
        Some(TaskStatus::Blocked) if budget_hold.as_ref().is_some_and(|hold| !hold.0) => {
            let (_, gate, unblock) = budget_hold.unwrap_or_default();
            (
                gate.replacen("held by", "blocked by", 1),
                format!("{unblock}, then `longrun task set {task_id} --status not_started`"),
            )
        }
        Some(TaskStatus::Blocked) => (
            "blocked".to_string(),
            "read the last `block` and `failure` events above, fix the cause (task, validators, policy or budget), then `longrun task set ID --status not_started`".replace("ID", &task_id),
        ),
        Some(TaskStatus::Failed) => (
            "failed: attempts spent".to_string(),
            format!("read the failure evidence, then `longrun task set {task_id} --status not_started` (and raise `max_attempts` if needed)"),
        ),
        Some(TaskStatus::InProgress) => (
            "running".to_string(),
            "the next `longrun cycle` after the worker finishes gates it".to_string(),
        ),
        Some(TaskStatus::NotStarted) => match budget_hold {
            Some((_, gate, unblock)) => (gate, unblock),
            None => (
                "waiting to be dispatched".to_string(),
                "its dependencies complete, a free slot, budgets left, and `longrun cycle`"
                    .to_string(),
            ),
        },
        _ => (
            task.status.display().to_string(),
            "nothing longrun does: the status is set by hand".to_string(),
        ),
    };
    Ok(Story {
        task_id,
        title: task.title.clone(),
        status: task.status.display().to_string(),
        attempts: task.attempts,
        validators: task.own_validators().iter().map(|v| v.display()).collect(),
        events,
        claim,
        runs,
        approvals,
        awaiting,
        merged_as,
        branch_tip,
        gate,
        unblock,
    })
}

/// The budget the cycle would hold `task_id` back by, as (a per-run budget, gate, what
/// unblocks it).
fn held_by_budget(
    workspace: &Workspace,
    budgets: &crate::config::Budgets,
    task_id: &str,
    now: Timestamp,
) -> Option<(bool, String, String)> {
    let state_dir = workspace.state_dir();
    let record = match crate::state::run::RunRecord::load(&state_dir) {
        Ok(record) => record,
        Err(error) => {
            return Some((
                true,
                format!("held: {error}"),
                "`longrun resume --new-run`".to_string(),
            ));
        }
    };
    let stop = super::gates::budget_stop(
        budgets,
        &state_dir.join("runs"),
        record
            .as_ref()
            .and_then(crate::state::run::RunRecord::started),
        now,
        task_id,
    )?;
    let unblock = if stop.whole_run {
        format!(
            "raise `{}` in longrun.yaml, or start a new run with `longrun resume --new-run`",
            stop.key
        )
    } else {
        format!(
            "raise `{}` in longrun.yaml (the next cycle blocks the task otherwise)",
            stop.key
        )
    };
    Some((
        stop.whole_run,
        format!("held by the {} budget: {}", stop.budget, stop.text),
        unblock,
    ))
}

fn attempts(runs: &Path, task: &str, order: &[String]) -> Vec<AttemptStory> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join(task))
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| {
            std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect::<Vec<_>>()
        })
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let attempt = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let agent = match crate::process::WorkerResult::load(&dir.join("result.json")) {
                Ok(result) => format!(
                    "{} in {} ms{}",
                    match (result.exit_code, result.timed_out) {
                        (_, true) => "timed out".to_string(),
                        (Some(code), _) => format!("exited {code}"),
                        (None, _) => "was killed".to_string(),
                    },
                    result.duration_ms,
                    match result.cost_usd {
                        Some(cost) => format!(", cost ${cost:.4}"),
                        None => ", cost unknown".to_string(),
                    }
                ),
                Err(_) => "no result (running, or died)".to_string(),
            };
            let validators = numbered(&dir.join("validate"))
                .into_iter()
                .map(|(n, run)| {
                    let outcome = match crate::process::WorkerResult::load(&run.join("result.json"))
                    {
                        Ok(result) if result.timed_out => "timed out".to_string(),
                        Ok(result) => match result.exit_code {
                            Some(code) => format!("exited {code}"),
                            None => "was killed".to_string(),
                        },
                        Err(_) => "no result".to_string(),
                    };
                    let command = order
                        .get((n as usize).saturating_sub(1))
                        .cloned()
                        .unwrap_or_else(|| format!("validator #{n}"));
                    format!("`{command}` {outcome}")
                })
                .collect();
            let reviews = numbered(&dir.join("review"))
                .into_iter()
                .map(|(_, review)| {
                    let out = std::fs::read_to_string(review.join("run").join("stdout.log"))
                        .unwrap_or_default();
                    match crate::gate::review::parse_verdict(&out) {
                        Some(verdict) if verdict.approve => "approve".to_string(),
                        Some(verdict) => {
                            format!("request_changes: {}", verdict.findings.join("; "))
                        }
                        None => "no verdict".to_string(),
                    }
                })
                .collect();
            let failure = std::fs::read_to_string(dir.join("failure.md"))
                .ok()
                .map(|text| text.lines().take(8).collect::<Vec<_>>().join("\n"));
            AttemptStory {
                dir,
                attempt,
                agent,
                validators,
                reviews,
                failure,
            }
        })
        .collect()
}

fn numbered(dir: &Path) -> Vec<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let n = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((n, entry.path()))
        })
        .collect();
    found.sort();
    found
}

fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
}
