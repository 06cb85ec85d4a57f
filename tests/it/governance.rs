//! Governance with the scripted fake agent: policy on every diff, vacuous validators, the
//! full suite at milestones, routing escalation, notifications.

use std::time::{Duration, Instant};

use crate::cycle::{CycleRepo, fake_agent};

fn one_task(validators: &str) -> String {
    format!(
        "tasks:\n  - task_id: T1\n    title: One\n    max_attempts: 1\n    validators: {validators}\n"
    )
}

#[test]
fn governance_a_worker_that_edits_the_checklist_is_rejected() {
    let repo = CycleRepo::new(&one_task(r#"[["test", "-f", "a.txt"]]"#));
    repo.script(
        "T1",
        "write a.txt a\nappend checklist.yaml # sneaky\\n\ncommit edit\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("policy `protected-path`: the change touches paths no worker may change (checklist.yaml)"),
        "{log}"
    );
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
}

#[test]
fn governance_a_worker_that_adds_a_workflow_is_rejected() {
    let repo = CycleRepo::new(&one_task(r#"[["test", "-f", "a.txt"]]"#));
    repo.script(
        "T1",
        "write a.txt a\nwrite .github/workflows/x.yml on: push\ncommit ci\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("policy `protected-path`") && log.contains(".github/workflows/x.yml"),
        "{log}"
    );
}

#[test]
fn governance_a_diff_with_an_aws_key_is_rejected_and_the_key_never_printed() {
    let key = format!("AKIA{}", "QWERTYUIOPASDFGH");
    let repo = CycleRepo::new(&one_task(r#"[["test", "-f", "conf.txt"]]"#));
    repo.script(
        "T1",
        &format!("write conf.txt region=eu\\naws_key={key}\\n\ncommit config\n"),
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let task = repo.task("T1");
    assert_eq!(task["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("policy `secret:aws-access-key`") && log.contains("conf.txt:2"),
        "{log}"
    );
    assert!(!log.contains(&key), "the key leaked into run-log.md: {log}");
    let note = task["note"].as_str().unwrap().to_string();
    assert!(note.contains("secret:aws-access-key"), "{note}");
    assert!(!note.contains(&key), "{note}");
    assert!(!repo.env.read("checklist.yaml").contains(&key));
    for failure in crate::cycle::find_files(&repo.env.path(".longrun/runs"), "failure.md") {
        let text = std::fs::read_to_string(&failure).unwrap();
        assert!(!text.contains(&key), "{text}");
    }
}

#[test]
fn governance_a_task_paths_allowlist_is_enforced() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Docs only\n    max_attempts: 1\n    paths: [\"docs/**\"]\n    validators: [[\"test\", \"-f\", \"docs/a.md\"]]\n",
    );
    repo.script("T1", "write docs/a.md a\nwrite src/b.rs b\ncommit both\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("policy `outside-task-paths`") && log.contains("src/b.rs"),
        "{log}"
    );
}

#[test]
fn governance_a_vacuous_validator_is_flagged() {
    let repo = CycleRepo::new(&one_task(r#"[["test", "-f", "README.md"]]"#));
    repo.env.write("README.md", "already here\n");
    repo.env.git(&["add", "README.md"]);
    repo.env.git(&["commit", "-q", "-m", "readme"]);
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    // Flagged, not refused: the task was still dispatched and merged.
    let task = repo.task("T1");
    assert_eq!(task["status"]["Known"], "complete");
    assert!(
        task["note"]
            .as_str()
            .unwrap()
            .contains("vacuous validator: `test -f README.md` already passes"),
        "{task}"
    );
    assert!(
        repo.log()
            .contains("evidence [T1]: vacuous validator: `test -f README.md`"),
        "{}",
        repo.log()
    );
    // Flagged once, though later cycles saw the same result.
    assert_eq!(repo.log().matches("vacuous validator:").count(), 1);
    // The check ran in the task's own worktree, by its supervisor, before the agent.
    assert_eq!(
        crate::cycle::find_files(&repo.env.path(".longrun/runs"), "output.log")
            .iter()
            .filter(|path| path.to_string_lossy().contains("/baseline/"))
            .count(),
        1
    );
}

#[test]
fn governance_a_vacuous_validator_blocks_with_strict_validators() {
    let repo = CycleRepo::with_config(&one_task(r#"[["true"]]"#), "strict_validators: true\n");
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    let task = repo.task("T1");
    assert_eq!(task["status"]["Known"], "blocked");
    // The agent never started, so no attempt is counted.
    assert_eq!(task["attempts"], 0, "{task}");
    let log = repo.log();
    assert!(
        log.contains("block [T1]: vacuous validator: `true`"),
        "{log}"
    );
    assert!(!log.contains("cost [T1]"), "{log}");
    assert!(!repo.env.path(".longrun/worktrees/T1").exists());
    assert!(!repo.env.path("a.txt").exists());
}

#[test]
fn governance_missing_validators_allowed_are_logged_on_the_task() {
    let repo = CycleRepo::new("tasks:\n  - task_id: T1\n    title: Unprovable\n");
    repo.script("T1", "write x.txt x\ncommit x\n");
    let run = repo.env.longrun(&["cycle", "--allow-missing-validators"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        repo.log().contains(
            "decision [T1]: dispatched without validators: allowed by --allow-missing-validators"
        ),
        "{}",
        repo.log()
    );
}

#[test]
fn governance_the_full_suite_runs_at_the_end_of_a_milestone() {
    let repo = CycleRepo::new(
        "summary:\n  verification_loop:\n    full: [[\"test\", \"-f\", \"full.txt\"]]\ntasks:\n  - task_id: T1\n    title: First of m1\n    milestone: m1\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Last of m1\n    milestone: m1\n    depends_on: [T1]\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n  - task_id: T3\n    title: Not in a milestone\n    depends_on: [T1]\n    validators: [[\"test\", \"-f\", \"c.txt\"]]\n",
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script("T2", "write b.txt b\ncommit b\n");
    repo.script("T3", "write c.txt c\ncommit c\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    // T1 is not the end of m1: the full suite did not run and it merged.
    assert_eq!(repo.task("T1")["status"]["Known"], "complete");
    // Neither is T3 (T2 is not complete, so T3 does not end the run).
    assert_eq!(repo.task("T3")["status"]["Known"], "complete");
    // T2 ends m1: the full suite ran on it and failed (no full.txt).
    assert_eq!(repo.task("T2")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("failure [T2] attempt=1: validator `test -f full.txt` exited 1"),
        "{log}"
    );
}

#[test]
fn governance_attempt_two_uses_the_escalation_profile() {
    let repo = CycleRepo::with_routing(
        "tasks:\n  - task_id: T1\n    title: Hard\n    risk: medium\n    validators: [[\"test\", \"-f\", \"ok.txt\"]]\n",
        "routing:\n  default: fake\n  by_risk:\n    medium: fake\n  escalation:\n    after_failures: 1\n    ladder: [fake, fake2]\n",
        "",
    );
    repo.script(
        "T1",
        "only-on-attempt 1 write nope.txt 1\nonly-on-attempt 2 write ok.txt 2\ncommit try\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let task = repo.task("T1");
    assert_eq!(task["status"]["Known"], "complete");
    assert_eq!(task["attempts"], 2);
    let log = repo.log();
    assert!(log.contains("dispatch [T1] attempt=1 agent=fake:"), "{log}");
    assert!(
        log.contains("dispatch [T1] attempt=2 agent=fake2:"),
        "{log}"
    );
}

#[test]
fn governance_a_hanging_notifier_does_not_hold_the_cycle() {
    let out = std::env::temp_dir().join(format!("longrun-notify-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: Unprovable\n",
        &format!(
            "notify:\n  command: [\"{}\", \"hang\"]\n  on: [blocked]\n",
            fake_agent()
        ),
    );
    let start = Instant::now();
    let run = repo.cycle();
    let took = start.elapsed();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(took < Duration::from_secs(5), "the cycle waited {took:?}");
    assert_eq!(repo.task("T1")["status"]["Known"], "blocked");
    let log = repo.log();
    assert!(log.contains("notify `blocked` started"), "{log}");
    // Its event went in as JSON on stdin: the notifier's run directory holds it.
    let events = crate::cycle::find_files(&repo.env.path(".longrun/notify"), "event.json");
    let event = std::fs::read_to_string(&events[0]).unwrap();
    let value: serde_json::Value = serde_json::from_str(&event).unwrap();
    assert_eq!(value["event"], "blocked");
    assert_eq!(value["task_id"], "T1");
    // Stop the hanging notifier now rather than at its timeout.
    for pid_file in crate::cycle::find_files(&repo.env.path(".longrun/notify"), "supervisor.pid") {
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn governance_check_and_the_cycle_apply_required_validators_by_risk() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Risky\n    risk: high\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
    );
    repo.env.write(
        "policy/strict.yaml",
        "validators:\n  required_by_risk:\n    high: [[\"cargo\", \"test\"]]\n",
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    let check = repo.env.longrun(&["check"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check.stdout.contains(
            "error: task `T1`: a high-risk task must have the validator `cargo test` (policy)"
        ),
        "{check:?}"
    );
    let run = repo.cycle();
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(repo.task("T1")["status"]["Known"], "blocked");
    assert!(
        repo.log().contains(
            "block [T1]: not dispatched: a high-risk task must have the validator `cargo test`"
        ),
        "{}",
        repo.log()
    );
}

pub(crate) fn settle_approval(repo: &CycleRepo, id: &str, wanted: &str) {
    let start = Instant::now();
    loop {
        let run = repo.cycle();
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        if repo.task(id)["status"]["Known"] == wanted {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "`{id}` never reached {wanted}: {}",
            repo.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn approver(repo: &CycleRepo) {
    repo.env.git(&["config", "user.name", "Ada Reviewer"]);
    repo.env.git(&["config", "user.email", "ada@example.com"]);
}

const AFTER: &str = "tasks:\n  - task_id: T1\n    title: Careful\n    approval: after\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n";

#[test]
fn governance_approval_after_holds_the_validated_candidate_until_approved() {
    let repo = CycleRepo::new(AFTER);
    approver(&repo);
    repo.script("T1", "write a.txt a\ncommit a\n");
    settle_approval(&repo, "T1", "awaiting_approval");
    // Held: validated, not merged, claim, worktree and branch kept.
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
    assert!(repo.env.path(".longrun/worktrees/T1").exists());
    assert!(repo.env.path("current_tasks/T1.lock").exists());
    assert!(repo.log().contains("awaits approval"), "{}", repo.log());
    // Another cycle changes nothing.
    repo.cycle();
    assert_eq!(repo.task("T1")["status"]["Known"], "awaiting_approval");

    let candidate = repo.env.git(&["rev-parse", "refs/heads/longrun/T1"]);
    let approve = repo
        .env
        .longrun(&["approve", "T1", "--note", "looks right"]);
    assert_eq!(approve.code, 0, "{approve:?}");
    let log = repo.log();
    assert!(
        log.contains(&format!(
            "approve [T1] stage=after commit={}: merge approved by Ada Reviewer <ada@example.com> at commit {}: looks right",
            &candidate.trim()[..10],
            &candidate.trim()[..10]
        )),
        "{log}"
    );
    settle_approval(&repo, "T1", "complete");
    let main = repo
        .env
        .git(&["log", "--first-parent", "--format=%s", "main"]);
    assert!(main.contains("Merge T1"), "{main}");
    assert!(!repo.env.path("current_tasks/T1.lock").exists());
}

#[test]
fn governance_an_approval_is_voided_by_a_new_commit_on_the_task_branch() {
    let repo = CycleRepo::new(AFTER);
    approver(&repo);
    repo.script("T1", "write a.txt a\ncommit a\n");
    settle_approval(&repo, "T1", "awaiting_approval");
    let approve = repo.env.longrun(&["approve", "T1"]);
    assert_eq!(approve.code, 0, "{approve:?}");
    // Someone commits on the task branch after the approval.
    let worktree = repo.env.path(".longrun/worktrees/T1");
    std::fs::write(worktree.join("late.txt"), "late\n").unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .current_dir(&worktree)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "x")
            .env("GIT_AUTHOR_EMAIL", "x@x")
            .env("GIT_COMMITTER_NAME", "x")
            .env("GIT_COMMITTER_EMAIL", "x@x")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success());
    };
    git(&["add", "late.txt"]);
    git(&["commit", "-q", "-m", "late change"]);
    let run = repo.cycle();
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let log = repo.log();
    assert!(log.contains("no longer counts"), "{log}");
    assert_eq!(repo.task("T1")["status"]["Known"], "awaiting_approval");
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
    // Approving the new candidate merges it.
    let approve = repo.env.longrun(&["approve", "T1"]);
    assert_eq!(approve.code, 0, "{approve:?}");
    settle_approval(&repo, "T1", "complete");
    assert_eq!(repo.env.read("late.txt"), "late\n");
}

#[test]
fn governance_a_rejected_candidate_goes_back_with_the_reason() {
    let repo = CycleRepo::new(AFTER);
    approver(&repo);
    repo.script("T1", "write a.txt a\ncommit a\n");
    settle_approval(&repo, "T1", "awaiting_approval");
    let reject = repo
        .env
        .longrun(&["reject", "T1", "--reason", "naming is off"]);
    assert_eq!(reject.code, 0, "{reject:?}");
    repo.cycle();
    let log = repo.log();
    assert!(
        log.contains("failure [T1] attempt=1: rejected by Ada Reviewer <ada@example.com>")
            && log.contains("naming is off"),
        "{log}"
    );
}

#[test]
fn governance_approval_before_holds_dispatch() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Ask first\n    approval: before\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
    );
    approver(&repo);
    repo.script("T1", "write a.txt a\ncommit a\n");
    let run = repo.cycle();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        repo.task("T1")["status"]["Known"],
        "awaiting_approval",
        "{run:?} {}",
        repo.task("T1")
    );
    assert!(!repo.env.path(".longrun/worktrees/T1").exists());
    assert!(!repo.log().contains("dispatch [T1]"));
    let approve = repo.env.longrun(&["approve", "T1"]);
    assert_eq!(approve.code, 0, "{approve:?}");
    assert!(
        repo.log().contains("approve [T1] stage=before commit="),
        "{}",
        repo.log()
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "complete");
}

#[test]
fn governance_a_worker_that_writes_its_own_approval_is_rejected() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Careful\n    approval: after\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
    );
    let forged = repo.env.path(".longrun/approvals/T1.after.json");
    repo.script(
        "T1",
        &format!(
            "write a.txt a\ncommit a\nwrite-outside {} {{\"task\": \"T1\", \"stage\": \"after\", \"decision\": \"approve\", \"commit\": \"HEAD\", \"by\": \"Ada <ada@example.com>\", \"at\": \"now\"}}\n",
            forged.display()
        ),
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("the worker changed approval records (`.longrun/approvals/T1.after.json`)"),
        "{log}"
    );
    assert!(!forged.exists(), "the forged record is gone");
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
}

#[test]
fn governance_approve_is_refused_inside_a_worker() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Ask first\n    approval: before\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
    );
    approver(&repo);
    repo.cycle();
    let run = repo.env.longrun_with_env(
        &repo.env.root,
        &["approve", "T1"],
        &[("LONGRUN_TASK_ID", "T2")],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("workers cannot approve"), "{run:?}");
    assert!(!repo.log().contains("approve [T1]"));
    assert_eq!(repo.task("T1")["status"]["Known"], "awaiting_approval");
}

const REVIEWED: &str = "tasks:\n  - task_id: T1\n    title: Reviewed\n    risk: medium\n    acceptance_criteria: [\"a.txt says a\"]\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n";
const REVIEW_CONFIG: &str = "review:\n  by_risk:\n    medium: [reviewer]\n";

#[test]
fn governance_a_reviewer_requesting_changes_fails_the_attempt_with_its_findings() {
    let repo = CycleRepo::with_config(REVIEWED, REVIEW_CONFIG);
    repo.script(
        "T1",
        "only-on-attempt 1 write a.txt a\nonly-on-attempt 2 write a.txt a\\n\ncommit a\n",
    );
    repo.script(
        "review-T1",
        "print reading the diff\nprint ```verdict\nonly-on-attempt 1 print request_changes\nonly-on-attempt 2 print approve\nprint findings:\nonly-on-attempt 1 print - a.txt: no trailing newline\nprint ```\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let task = repo.task("T1");
    assert_eq!(task["status"]["Known"], "complete", "{}", repo.log());
    assert_eq!(task["attempts"], 2);
    let log = repo.log();
    assert!(
        log.contains(
            "failure [T1] attempt=1: review by `reviewer` requested changes: a.txt: no trailing newline"
        ),
        "{log}"
    );
    // The reviewer read the acceptance criteria and the diff.
    let prompts = crate::cycle::find_files(&repo.env.path(".longrun/runs"), "prompt.md");
    let review = prompts
        .iter()
        .find(|p| p.to_string_lossy().contains("/T1/1/review/"))
        .expect("review prompt");
    let prompt = std::fs::read_to_string(review).unwrap();
    assert!(prompt.contains("- a.txt says a"), "{prompt}");
    assert!(prompt.contains("+a"), "{prompt}");
    // The next attempt got the findings as evidence.
    let second = prompts
        .iter()
        .find(|p| p.to_string_lossy().ends_with("/T1/2/prompt.md"))
        .expect("attempt 2 prompt");
    let prompt = std::fs::read_to_string(second).unwrap();
    assert!(prompt.contains("- a.txt: no trailing newline"), "{prompt}");
}

#[test]
fn governance_a_reviewer_without_a_verdict_fails_closed() {
    let repo = CycleRepo::with_config(
        &REVIEWED.replace("risk: medium\n", "risk: medium\n    max_attempts: 1\n"),
        REVIEW_CONFIG,
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script("review-T1", "print looks good to me\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("failure [T1] attempt=1: review by `reviewer` failed: gave no verdict block (fail closed)"),
        "{log}"
    );
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
}

#[test]
fn governance_a_spent_run_budget_stops_dispatch() {
    let notified = tempfile::tempdir().unwrap();
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Two\n    depends_on: [T1]\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n",
        &format!(
            "budgets:\n  per_run:\n    wall_clock: 1h\n{}",
            notify_to(notified.path(), "budget_exceeded")
        ),
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script("T2", "write b.txt b\ncommit b\n");
    // T1 is dispatched at 09:00 (the tests' clock stands still): the run starts.
    let first = repo.cycle();
    assert!(first.stderr.contains("dispatch `T1`"), "{first:?}");
    assert!(
        repo.log().contains(
            "decision: run started at 2026-11-21T09:00:00Z: per-run budgets count from here"
        ),
        "{}",
        repo.log()
    );
    // Two hours later: T1 is still reaped and merged, but T2 is not dispatched.
    let root = repo.env.root.clone();
    let later = [("LONGRUN_NOW", "2026-11-21T11:00:00Z")];
    let start = Instant::now();
    let run = loop {
        let run = repo.env.longrun_with_env(&root, &["cycle"], &later);
        if repo.task("T1")["status"]["Known"] == "complete" {
            break run;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{}", repo.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        run.stderr
            .contains("not dispatching `T2`: per-run wall-clock budget of 3600 s spent"),
        "{run:?}"
    );
    assert_eq!(repo.task("T2")["status"]["Known"], serde_json::Value::Null);
    let log = repo.log();
    assert!(
        log.contains("block: budget: dispatch stopped: per-run wall-clock budget of 3600 s spent (7200 s since the run started at 2026-11-21T09:00:00Z); raise `budgets.per_run.wall_clock` in longrun.yaml, or start a new run with `longrun resume --new-run`"),
        "{log}"
    );
    assert!(!log.contains("dispatch [T2]"), "{log}");
    // Logged and notified once, not every cycle, though the clock moves on (and with it
    // the elapsed time in the message).
    for now in [
        "2026-11-21T11:01:00Z",
        "2026-11-21T11:02:00Z",
        "2026-11-21T11:03:00Z",
    ] {
        let run = repo
            .env
            .longrun_with_env(&root, &["cycle"], &[("LONGRUN_NOW", now)]);
        assert_eq!(run.code, 0, "{run:?}");
    }
    let log = repo.log();
    assert_eq!(log.matches("dispatch stopped").count(), 1, "{log}");
    assert_eq!(
        log.matches("notify `budget_exceeded` started").count(),
        1,
        "{log}"
    );
    let notification: serde_json::Value = serde_json::from_str(&wait_for_file(
        &notified.path().join("budget_exceeded.json"),
    ))
    .unwrap();
    assert_eq!(notification["task_id"], "");
    assert!(
        notification["message"]
            .as_str()
            .unwrap()
            .starts_with("per-run wall-clock budget of 3600 s spent"),
        "{notification}"
    );
    // `why` names the budget that holds T2 back, and what lifts it.
    let why = repo.env.longrun_with_env(
        &root,
        &["why", "T2"],
        &[("LONGRUN_NOW", "2026-11-21T11:03:00Z")],
    );
    assert!(
        why.stdout.contains(
            "gate: held by the per-run wall-clock budget: per-run wall-clock budget of 3600 s spent (7380 s since the run started at 2026-11-21T09:00:00Z)"
        ) && why
            .stdout
            .contains("to unblock: raise `budgets.per_run.wall_clock` in longrun.yaml, or start a new run with `longrun resume --new-run`"),
        "{why:?}"
    );
    // A person starts a new run: T2 goes.
    let resume = repo.env.longrun_with_env(
        &root,
        &["resume", "--new-run"],
        &[("LONGRUN_NOW", "2026-11-21T11:04:00Z")],
    );
    assert_eq!(resume.code, 0, "{resume:?}");
    assert!(
        repo.log()
            .contains("decision: new run (`longrun resume --new-run`)"),
        "{}",
        repo.log()
    );
    let run = repo.env.longrun_with_env(
        &root,
        &["cycle"],
        &[("LONGRUN_NOW", "2026-11-21T11:05:00Z")],
    );
    assert!(run.stderr.contains("dispatch `T2`"), "{run:?}");
    assert!(
        repo.log()
            .contains("decision: run started at 2026-11-21T11:05:00Z"),
        "{}",
        repo.log()
    );
}

#[test]
fn governance_why_tells_the_story_and_what_unblocks_it() {
    let repo = CycleRepo::new(AFTER);
    repo.script(
        "T1",
        "only-on-attempt 1 write b.txt b\nonly-on-attempt 2 write a.txt a\ncommit try\n",
    );
    settle_approval(&repo, "T1", "awaiting_approval");
    let run = repo.env.longrun(&["why", "T1"]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = run.stdout;
    assert!(
        out.contains("status: awaiting_approval (attempts: 1)"),
        "{out}"
    );
    assert!(out.contains("claim: held by `longrun-cycle:fake`"), "{out}");
    assert!(out.contains("attempt 1 ("), "{out}");
    assert!(out.contains("validator `test -f a.txt` exited 1"), "{out}");
    assert!(out.contains("validator `test -f a.txt` exited 0"), "{out}");
    assert!(out.contains("failure [T1] attempt=1"), "{out}");
    assert!(out.contains("awaiting a decision on"), "{out}");
    assert!(
        out.contains("gate: human gate after validation") && out.contains("`longrun approve T1`"),
        "{out}"
    );
    let json = repo.env.longrun(&["why", "T1", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["runs"].as_array().unwrap().len(), 2);
}

#[test]
fn governance_the_loop_breaker_sends_a_notification_with_the_event_on_stdin() {
    let out = std::env::temp_dir().join(format!(
        "longrun-notify-blocked-{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&out);
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: Same failure\n    validators: [[\"test\", \"-f\", \"nope\"]]\n",
        &format!(
            "notify:\n  command: [\"sh\", \"-c\", \"cat > \\\"$0\\\"\", \"{}\"]\n  on: [blocked]\n",
            out.display()
        ),
    );
    repo.script(
        "T1",
        "only-on-attempt 1 write b.txt 1\nonly-on-attempt 2 write b.txt 2\ncommit try\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "blocked");
    let start = Instant::now();
    while !out.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", repo.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(value["event"], "blocked");
    assert_eq!(value["task_id"], "T1");
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("the same failure twice in a row"),
        "{value}"
    );
    let _ = std::fs::remove_file(&out);
}

/// A repository whose default agent is a `kind: claude` profile run by the fake agent: the
/// `result` event a script prints ([`claude_result`]) is read for usage and cost, as Claude
/// Code's own would be.
pub fn claude_repo(checklist: &str, extra_config: &str) -> CycleRepo {
    let repo = CycleRepo::with_config(checklist, extra_config);
    let config = repo
        .env
        .read("longrun.yaml")
        .replace(
            "routing:\n  default: fake\n",
            "routing:\n  default: fake-claude\n",
        )
        .replace(
            "agents:\n",
            &format!(
                "agents:\n  fake-claude:\n    kind: claude\n    command: [\"{}\", \"include {}/{{task_id}}\"]\n    prompt: file\n    timeout: 60s\n",
                fake_agent(),
                repo.scripts.display()
            ),
        );
    repo.env.write("longrun.yaml", config);
    repo.env.git(&["commit", "-q", "-am", "claude profile"]);
    repo
}

/// A script step printing Claude Code's `result` event with this cost and usage.
pub fn claude_result(cost_usd: f64, input_tokens: u64, output_tokens: u64) -> String {
    format!(
        "print {{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1,\"result\":\"done\",\"total_cost_usd\":{cost_usd},\"usage\":{{\"input_tokens\":{input_tokens},\"output_tokens\":{output_tokens}}},\"permission_denials\":[]}}\n"
    )
}

/// Runs cycles (with `env` added) until `done` says so; returns every cycle's stdout and
/// stderr, for tests that check what was printed.
pub fn cycles_until(
    repo: &CycleRepo,
    env: &[(&str, &str)],
    done: impl Fn(&CycleRepo) -> bool,
) -> String {
    let start = Instant::now();
    let mut output = String::new();
    loop {
        let run = repo.env.longrun_with_env(&repo.env.root, &["cycle"], env);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        output.push_str(&run.stdout);
        output.push_str(&run.stderr);
        if done(repo) {
            return output;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not done after 60 s: {}",
            repo.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for a notifier to write `path`, and returns what it wrote.
pub fn wait_for_file(path: &std::path::Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "`{}` never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `notify:` block whose notifier writes the event it reads on stdin to
/// `<dir>/<event>.json`.
pub fn notify_to(dir: &std::path::Path, on: &str) -> String {
    format!(
        "notify:\n  command: [\"sh\", \"-c\", \"cat > \\\"$0\\\"; echo >> \\\"$0\\\"\", \"{}/{{event}}.json\"]\n  on: [{on}]\n",
        dir.display()
    )
}

fn status_of(repo: &CycleRepo, id: &str) -> String {
    repo.task(id)["status"]["Known"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn governance_a_user_secret_pattern_rejects_and_is_redacted_everywhere() {
    let repo = CycleRepo::new(&one_task(r#"[["test", "-f", "conf.txt"]]"#));
    repo.env.write(
        "policy/secrets.yaml",
        "secrets:\n  patterns:\n    - \"INTERNAL-[0-9]{6}\"\n    - {name: corp-token, pattern: \"(?i)corp_tok_[a-z0-9]{10}\"}\n",
    );
    repo.env.git(&["add", "-A"]);
    repo.env.git(&["commit", "-q", "-m", "policy"]);
    let (first, second) = ("INTERNAL-493021", "CORP_TOK_a1b2c3d4e5");
    repo.script(
        "T1",
        &format!("write conf.txt id={first}\\ntoken={second}\\n\ncommit config\n"),
    );
    let output = cycles_until(&repo, &[], |repo| status_of(repo, "T1") == "failed");
    let log = repo.log();
    assert!(
        log.contains(
            "policy `secret:user-1`: an added line looks like a secret (text REDACTED) (conf.txt:1)"
        ),
        "{log}"
    );
    assert!(
        log.contains("policy `secret:corp-token`: an added line looks like a secret (text REDACTED) (conf.txt:2)"),
        "{log}"
    );
    assert!(output.contains("policy `secret:user-1`"), "{output}");
    let note = repo.task("T1")["note"].as_str().unwrap().to_string();
    let mut texts = vec![log, output, note, repo.env.read("checklist.yaml")];
    for failure in crate::cycle::find_files(&repo.env.path(".longrun/runs"), "failure.md") {
        texts.push(std::fs::read_to_string(&failure).unwrap());
    }
    for text in texts {
        assert!(!text.contains(first) && !text.contains(second), "{text}");
    }
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
}

#[test]
fn governance_a_secret_in_a_binary_file_is_rejected() {
    let key = format!("AKIA{}", "ZXCVBNMASDFGHJKL");
    let repo = CycleRepo::new(&one_task(r#"[["test", "-f", "blob.bin"]]"#));
    // A NUL byte: git calls the file binary and its plain diff shows no line.
    repo.script(
        "T1",
        &format!("write blob.bin \\0\\0header\\nkey={key}\\n\ncommit blob\n"),
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(status_of(&repo, "T1"), "failed", "{}", repo.log());
    let log = repo.log();
    assert!(
        log.contains("policy `secret:aws-access-key`: an added line looks like a secret (text REDACTED) (blob.bin:2)"),
        "{log}"
    );
    assert!(!log.contains(&key), "{log}");
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
}

#[test]
fn governance_policy_still_applies_when_missing_validators_are_allowed() {
    let repo = CycleRepo::new("tasks:\n  - task_id: T1\n    title: Risky\n    risk: high\n");
    repo.env.write(
        "policy/strict.yaml",
        "validators:\n  required_by_risk:\n    high: [[\"cargo\", \"test\"]]\n",
    );
    repo.env.git(&["add", "-A"]);
    repo.env.git(&["commit", "-q", "-m", "policy"]);
    repo.script("T1", "write a.txt a\ncommit a\n");
    let run = repo.env.longrun(&["cycle", "--allow-missing-validators"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(status_of(&repo, "T1"), "blocked");
    let log = repo.log();
    assert!(
        log.contains(
            "block [T1]: not dispatched: a high-risk task must have the validator `cargo test` (policy)"
        ),
        "{log}"
    );
    assert!(!log.contains("dispatch [T1]"), "{log}");
    assert!(!repo.env.path(".longrun/worktrees/T1").exists());
}

#[test]
fn governance_the_config_key_that_allowed_missing_validators_is_named() {
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: Unproven\n    approval: after\n",
        "allow_missing_validators: true\n",
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    settle_approval(&repo, "T1", "awaiting_approval");
    let log = repo.log();
    assert!(
        log.contains("decision [T1]: dispatched without validators: allowed by `allow_missing_validators: true` in longrun.yaml"),
        "{log}"
    );
    assert!(!log.contains("--allow-missing-validators"), "{log}");
    assert!(
        log.contains("awaits approval (no validator ran: missing validators were allowed)"),
        "{log}"
    );
    assert!(!log.contains("( passed)"), "{log}");
}

#[test]
fn governance_an_attempt_awaiting_approval_records_its_cost_once() {
    let repo = CycleRepo::new(AFTER);
    approver(&repo);
    repo.script("T1", "write a.txt a\ncommit a\n");
    settle_approval(&repo, "T1", "awaiting_approval");
    for _ in 0..3 {
        let run = repo.cycle();
        assert_eq!(run.code, 0, "{run:?}");
    }
    // Held for a person: undecided, so not recorded yet.
    assert_eq!(repo.log().matches("cost [T1]").count(), 0, "{}", repo.log());
    let approve = repo.env.longrun(&["approve", "T1"]);
    assert_eq!(approve.code, 0, "{approve:?}");
    settle_approval(&repo, "T1", "complete");
    repo.cycle();
    let log = repo.log();
    assert_eq!(log.matches("cost [T1]").count(), 1, "{log}");
    assert!(log.contains("cost [T1] attempt=1 usd=unknown"), "{log}");
}

#[test]
fn governance_max_diff_lines_rejects_a_large_change() {
    let repo = CycleRepo::new(&one_task(r#"[["test", "-f", "big.txt"]]"#));
    repo.env.write("policy/small.yaml", "max_diff_lines: 3\n");
    repo.env.git(&["add", "-A"]);
    repo.env.git(&["commit", "-q", "-m", "policy"]);
    repo.script("T1", "write big.txt 1\\n2\\n3\\n4\\n5\\n\ncommit big\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(status_of(&repo, "T1"), "failed");
    let log = repo.log();
    // No empty "()" for a rule without places.
    assert!(
        log.contains("failure [T1] attempt=1: policy `max-diff-lines`: 5 lines changed, more than the limit of 3 → .longrun/runs/"),
        "{log}"
    );
}

#[test]
fn governance_approval_after_is_required_by_policy_for_a_risk() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Medium\n    risk: medium\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
    );
    repo.env.write(
        "policy/gates.yaml",
        "approvals:\n  by_risk:\n    medium: [after]\n",
    );
    repo.env.git(&["add", "-A"]);
    repo.env.git(&["commit", "-q", "-m", "policy"]);
    repo.script("T1", "write a.txt a\ncommit a\n");
    settle_approval(&repo, "T1", "awaiting_approval");
    repo.cycle();
    assert_eq!(status_of(&repo, "T1"), "awaiting_approval");
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
    assert!(
        repo.log().contains("validated candidate ")
            && repo
                .log()
                .contains("awaits approval (`test -f a.txt` passed)"),
        "{}",
        repo.log()
    );
}

#[test]
fn governance_a_validator_past_its_timeout_is_killed_and_fails_the_attempt() {
    let repo = CycleRepo::with_config(&one_task(r#"[["sleep", "30"]]"#), "validator_timeout: 1s\n");
    repo.script("T1", "write a.txt a\ncommit a\n");
    let start = Instant::now();
    repo.cycle_until_settled(Duration::from_secs(60));
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status_of(&repo, "T1"), "failed");
    let log = repo.log();
    assert!(
        log.contains("failure [T1] attempt=1: validator `sleep 30` timed out"),
        "{log}"
    );
}

#[test]
fn governance_the_fast_loop_runs_for_every_task_and_failure_evidence_names_the_tree() {
    let repo = CycleRepo::new(
        "summary:\n  verification_loop:\n    fast: [[\"test\", \"!\", \"-f\", \"bad.txt\"]]\ntasks:\n  - task_id: T1\n    title: Good\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Bad\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n",
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script("T2", "write b.txt b\nwrite bad.txt oops\ncommit b\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(status_of(&repo, "T1"), "complete", "{}", repo.log());
    assert_eq!(status_of(&repo, "T2"), "failed");
    let log = repo.log();
    assert!(
        log.contains("failure [T2] attempt=1: validator `test '!' -f bad.txt` exited 1"),
        "{log}"
    );
    // T1's candidate was proven by its own validator and the fast loop.
    let logs = crate::cycle::find_files(&repo.env.path(".longrun/runs"), "output.log");
    let t1_validators = logs
        .iter()
        .filter(|path| path.to_string_lossy().contains("/T1/1/validate/"))
        .count();
    assert_eq!(t1_validators, 2, "{logs:?}");
    assert!(log.contains("`test '!' -f bad.txt` exit 0"), "{log}");
    // The evidence names the tree the validators ran on, and how long each took.
    let failure = crate::cycle::find_files(&repo.env.path(".longrun/runs"), "failure.md")
        .into_iter()
        .find(|path| path.to_string_lossy().contains("/T2/1/"))
        .expect("T2's failure.md");
    let text = std::fs::read_to_string(failure).unwrap();
    let tree = text
        .split_once("(tree ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(tree, _)| tree.to_string())
        .unwrap_or_else(|| panic!("no tree id: {text}"));
    assert_eq!(
        repo.env.git(&["cat-file", "-t", &tree]).trim(),
        "tree",
        "{text}"
    );
    // The tree the validators ran on: T2's change, bad.txt included.
    let listed = repo.env.git(&["ls-tree", "--name-only", &tree]);
    assert!(listed.lines().any(|name| name == "bad.txt"), "{listed}");
    assert!(
        text.contains("Validator `test '!' -f bad.txt` exited 1 after "),
        "{text}"
    );
    assert!(text.contains("- `test -f b.txt` exited 0 in "), "{text}");
}

#[test]
fn governance_the_config_max_attempts_applies_to_a_task_without_its_own() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Hard\n    validators: [[\"test\", \"-f\", \"ok.txt\"]]\n",
    );
    let config = repo
        .env
        .read("longrun.yaml")
        .replace("max_attempts: 3\n", "max_attempts: 2\n");
    repo.env.write("longrun.yaml", config);
    repo.env.git(&["commit", "-q", "-am", "two attempts"]);
    // A different failure each time (the same one twice would block instead); a third
    // attempt would succeed.
    repo.script(
        "T1",
        "only-on-attempt 2 write no.txt 2\nonly-on-attempt 2 commit two\nonly-on-attempt 3 write ok.txt 3\nonly-on-attempt 3 commit three\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let task = repo.task("T1");
    assert_eq!(task["status"]["Known"], "failed", "{}", repo.log());
    assert_eq!(task["attempts"], 2);
    assert!(
        !repo.log().contains("dispatch [T1] attempt=3"),
        "{}",
        repo.log()
    );
}

#[test]
fn governance_a_failed_task_and_an_awaited_approval_notify_with_the_event_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: Fails\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"nope\"]]\n  - task_id: T2\n    title: Careful\n    approval: after\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n",
        &notify_to(dir.path(), "failed, awaiting_approval"),
    );
    repo.script("T1", "write b.txt b\ncommit b\n");
    repo.script("T2", "write a.txt a\ncommit a\n");
    cycles_until(&repo, &[], |repo| {
        status_of(repo, "T1") == "failed" && status_of(repo, "T2") == "awaiting_approval"
    });
    let failed: serde_json::Value =
        serde_json::from_str(&wait_for_file(&dir.path().join("failed.json"))).unwrap();
    assert_eq!(failed["event"], "failed");
    assert_eq!(failed["task_id"], "T1");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .starts_with("failed after 1 attempts: validator `test -f nope` exited 1"),
        "{failed}"
    );
    let awaiting: serde_json::Value =
        serde_json::from_str(&wait_for_file(&dir.path().join("awaiting_approval.json"))).unwrap();
    assert_eq!(awaiting["event"], "awaiting_approval");
    assert_eq!(awaiting["task_id"], "T2");
    assert!(
        awaiting["message"]
            .as_str()
            .unwrap()
            .contains("awaits approval (`test -f a.txt` passed): `longrun approve T2`"),
        "{awaiting}"
    );
    assert_eq!(awaiting["at"], crate::NOW);
}

#[test]
fn governance_a_failing_notifier_is_logged() {
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: Unprovable\n",
        "notify:\n  command: [\"sh\", \"-c\", \"exit 3\"]\n  on: [blocked]\n",
    );
    let run = repo.cycle();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        repo.log().contains("notify `blocked` started"),
        "{}",
        repo.log()
    );
    // What the notifier did is read back by a later cycle.
    cycles_until(&repo, &[], |repo| repo.log().contains("notifier `"));
    let log = repo.log();
    assert!(
        log.contains("note: notifier `20261121T090000Z-0-blocked` exited 3"),
        "{log}"
    );
}

#[test]
fn governance_an_attempt_past_the_per_task_wall_clock_is_killed() {
    let repo = CycleRepo::with_config(
        &one_task(r#"[["test", "-f", "a.txt"]]"#),
        "budgets:\n  per_task:\n    wall_clock: 2s\n",
    );
    repo.script("T1", "write a.txt a\ncommit a\nhang\n");
    let start = Instant::now();
    repo.cycle_until_settled(Duration::from_secs(60));
    // The profile's own timeout is 60 s: the budget cut the attempt short.
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status_of(&repo, "T1"), "failed");
    let log = repo.log();
    assert!(
        log.contains(
            "failure [T1] attempt=1: the agent timed out after 2 s and its process group was killed"
        ),
        "{log}"
    );
}
