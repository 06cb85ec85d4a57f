//! Budgets with the scripted fake agent: per-run and per-task cost and token ceilings read
//! from what a `kind: claude` profile reports, and the run they count in.

use std::time::Duration;

use crate::cycle::CycleRepo;
use crate::governance::{claude_repo, claude_result, cycles_until, notify_to, wait_for_file};

fn status(repo: &CycleRepo, id: &str) -> serde_json::Value {
    repo.task(id)["status"]["Known"].clone()
}

const TWO_TASKS: &str = "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Two\n    depends_on: [T1]\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n";

#[test]
fn budget_a_spent_per_run_token_budget_stops_dispatch() {
    let repo = claude_repo(TWO_TASKS, "budgets:\n  per_run:\n    tokens: 1000\n");
    repo.script(
        "T1",
        &format!("write a.txt a\ncommit a\n{}", claude_result(0.01, 1000, 50)),
    );
    repo.script(
        "T2",
        &format!("write b.txt b\ncommit b\n{}", claude_result(0.01, 10, 5)),
    );
    cycles_until(&repo, &[], |repo| status(repo, "T1") == "complete");
    let run = repo.cycle();
    assert_eq!(run.code, 0, "{run:?}");
    let log = repo.log();
    assert!(
        log.contains("block: budget: dispatch stopped: per-run token budget of 1000 spent (1050 tokens); raise `budgets.per_run.tokens`"),
        "{log}"
    );
    assert!(!log.contains("dispatch [T2]"), "{log}");
    assert_eq!(status(&repo, "T2"), serde_json::Value::Null);
    // `status` counts the same tokens, from the same result.json.
    let shown = repo.env.longrun(&["status"]);
    assert!(
        shown
            .stdout
            .contains("Cost: $0.01 over 1 attempt (1050 tokens)"),
        "{shown:?}"
    );
}

#[test]
fn budget_a_spent_per_task_token_budget_blocks_the_task() {
    let repo = claude_repo(
        "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
        "budgets:\n  per_task:\n    tokens: 500\n",
    );
    repo.script(
        "T1",
        &format!(
            "write wrong.txt 1\ncommit try\n{}",
            claude_result(0.01, 1000, 50)
        ),
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let task = repo.task("T1");
    assert_eq!(task["status"]["Known"], "blocked", "{}", repo.log());
    assert_eq!(task["attempts"], 1);
    let log = repo.log();
    assert!(
        log.contains(
            "block [T1]: budget: not dispatched: per-task token budget of 500 spent (1050 tokens)"
        ),
        "{log}"
    );
    assert!(!log.contains("dispatch [T1] attempt=2"), "{log}");
    let why = repo.env.longrun(&["why", "T1"]);
    assert!(
        why.stdout.contains(
            "gate: blocked by the per-task tokens budget: per-task token budget of 500 spent (1050 tokens)"
        ) && why.stdout.contains("raise `budgets.per_task.tokens` in longrun.yaml"),
        "{why:?}"
    );
}

#[test]
fn budget_a_spent_per_task_cost_budget_blocks_the_task_and_notifies() {
    let notified = tempfile::tempdir().unwrap();
    let repo = claude_repo(
        "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
        &format!(
            "budgets:\n  per_task:\n    cost_usd: 0.04\n{}",
            notify_to(notified.path(), "budget_exceeded")
        ),
    );
    repo.script(
        "T1",
        &format!(
            "write wrong.txt 1\ncommit try\n{}",
            claude_result(0.05, 10, 5)
        ),
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(status(&repo, "T1"), "blocked", "{}", repo.log());
    let log = repo.log();
    assert!(
        log.contains(
            "block [T1]: budget: not dispatched: per-task cost budget of $0.04 spent ($0.05 known)"
        ),
        "{log}"
    );
    let notification: serde_json::Value = serde_json::from_str(&wait_for_file(
        &notified.path().join("budget_exceeded.json"),
    ))
    .unwrap();
    assert_eq!(notification["event"], "budget_exceeded");
    assert_eq!(notification["task_id"], "T1");
    assert_eq!(
        notification["message"],
        "not dispatched: per-task cost budget of $0.04 spent ($0.05 known)"
    );
    let why = repo.env.longrun(&["why", "T1"]);
    assert!(
        why.stdout
            .contains("gate: blocked by the per-task cost budget: per-task cost budget of $0.04"),
        "{why:?}"
    );
}

#[test]
fn budget_a_finished_run_ends_and_the_next_run_has_its_own_budget() {
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
        "budgets:\n  per_run:\n    wall_clock: 1h\n",
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script("T2", "write b.txt b\ncommit b\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(status(&repo, "T1"), "complete");
    assert!(
        repo.log().contains(
            "decision: run ended: every task is complete; the next dispatch starts a new run"
        ),
        "{}",
        repo.log()
    );
    // Three hours later a person adds a task: a new run, not the old one's spent clock.
    repo.env.write(
        "checklist.yaml",
        "tasks:\n  - task_id: T1\n    title: One\n    status: complete\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Two\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n",
    );
    let later = [("LONGRUN_NOW", "2026-11-21T12:00:00Z")];
    let output = cycles_until(&repo, &later, |repo| repo.log().contains("dispatch [T2]"));
    assert!(!output.contains("not dispatching"), "{output}");
    let log = repo.log();
    assert!(!log.contains("dispatch stopped"), "{log}");
    assert!(
        log.contains("decision: run started at 2026-11-21T12:00:00Z"),
        "{log}"
    );
}
