//! Governance in the cycle's own bookkeeping, with the scripted fake agent: the run's
//! summary and its `run_finished` notification, approval records no worker may write, the
//! full suite before the run is done, the loop breaker's signature, reviewers.

use std::time::{Duration, Instant};

use crate::cycle::{CycleRepo, find_files};

/// The notifications of `kind` the notifier saw: each ran with its event on stdin, kept in
/// its run directory under `.longrun/notify`.
fn notifications(repo: &CycleRepo, kind: &str) -> Vec<serde_json::Value> {
    find_files(&repo.env.path(".longrun/notify"), "event.json")
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter(|value| value["event"] == kind)
        .collect()
}

#[test]
fn the_last_merge_completes_the_summary_and_notifies_once() {
    let repo = CycleRepo::with_config(
        "summary:\n  status: in_progress\ntasks:\n  - task_id: T1\n    title: Hello\n    validators: [[\"test\", \"-f\", \"hello.txt\"]]\n",
        "notify:\n  command: [\"true\"]\n  on: [run_finished]\n",
    );
    repo.script("T1", "write hello.txt hello\ncommit add hello\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "complete");
    let checklist = repo.env.read("checklist.yaml");
    assert!(checklist.contains("status: complete"), "{checklist}");
    let start = Instant::now();
    while notifications(&repo, "run_finished").is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", repo.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Idle cycles after the end neither notify again nor rewrite the file.
    let before = repo.env.read("checklist.yaml");
    for _ in 0..2 {
        let run = repo.cycle();
        assert!(run.code == 0 || run.code == 1, "{run:?}");
    }
    assert_eq!(repo.env.read("checklist.yaml"), before);
    let log = repo.log();
    assert_eq!(
        log.matches("notify `run_finished` started").count(),
        1,
        "{log}"
    );
}

/// Runs one cycle to dispatch, then waits until `count` workers wrote their results, so the
/// next cycle finds them all finished together.
fn dispatch_and_wait_for_results(repo: &CycleRepo, count: usize) {
    let run = repo.cycle();
    assert_eq!(run.code, 0, "{run:?}");
    let start = Instant::now();
    // A worker's result is `<run>/<task>/<attempt>/result.json` (the supervisor's checks
    // keep theirs further down).
    let finished = || {
        find_files(&repo.env.path(".longrun/runs"), "result.json")
            .iter()
            .filter(|path| {
                let attempt = path.parent().unwrap();
                attempt.file_name().unwrap() == "1"
                    && attempt
                        .parent()
                        .unwrap()
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with('T')
            })
            .count()
    };
    while finished() < count {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", repo.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_full_suite_runs_before_the_run_ends_when_the_last_tasks_finish_together() {
    let repo = CycleRepo::new(
        "summary:\n  verification_loop:\n    full: [[\"test\", \"-f\", \"full.txt\"]]\ntasks:\n  - task_id: T1\n    title: One\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Two\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n",
    );
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script("T2", "write b.txt b\ncommit b\n");
    dispatch_and_wait_for_results(&repo, 2);
    let run = repo.cycle();
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    assert!(
        run.stderr.contains("`T2` is gated next cycle"),
        "{run:?}\n{}",
        repo.log()
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    // T1 merged without it (T2 was open); T2 ended the run, so the full suite ran on it
    // and failed: the run is not declared done on a suite that fails.
    assert_eq!(repo.task("T1")["status"]["Known"], "complete");
    assert_eq!(repo.task("T2")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("failure [T2] attempt=1: validator `test -f full.txt` exited 1"),
        "{log}"
    );
}

#[test]
fn a_validator_failing_on_another_error_is_progress_not_a_loop() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Three tries\n    validators: [[\"sh\", \"-c\", \"cat err.txt; test -f ok.txt\"]]\n",
    );
    repo.script(
        "T1",
        "only-on-attempt 1 write err.txt error: parse failed\nonly-on-attempt 2 write err.txt error: render failed\nonly-on-attempt 3 write ok.txt ok\ncommit try\n",
    );
    repo.cycle_until_settled(Duration::from_secs(90));
    let log = repo.log();
    assert_eq!(repo.task("T1")["status"]["Known"], "complete", "{log}");
    assert_eq!(log.matches("failure [T1]").count(), 2, "{log}");
}

#[test]
fn an_approval_written_by_worker_code_run_as_a_validator_does_not_count() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Careful\n    approval: after\n    validators: [[\"sh\", \"forge.sh\"]]\n",
    );
    // The worker's own validator script writes an approval of the candidate it runs on.
    repo.script(
        "T1",
        "write forge.sh mkdir -p ../../approvals && printf '{\"task\":\"T1\",\"stage\":\"after\",\"decision\":\"approve\",\"commit\":\"%s\",\"by\":\"Ada <ada@example.com>\",\"at\":\"now\"}' \"$(git rev-parse HEAD)\" > ../../approvals/T1.after.json\ncommit forge\n",
    );
    crate::governance::settle_approval(&repo, "T1", "awaiting_approval");
    assert!(repo.env.path(".longrun/approvals/T1.after.json").exists());
    for _ in 0..2 {
        let run = repo.cycle();
        assert!(run.code == 0 || run.code == 1, "{run:?}");
    }
    let main = repo.env.git(&["log", "--format=%s", "main"]);
    assert!(!main.contains("Merge T1"), "{main}");
    assert_eq!(repo.task("T1")["status"]["Known"], "awaiting_approval");
    assert!(!repo.env.path(".longrun/approvals/T1.after.json").exists());
    let log = repo.log();
    assert!(
        log.contains("has no `approve` event in run-log.md: not written by `longrun approve`"),
        "{log}"
    );
}

#[test]
fn a_worker_that_approves_another_task_is_rejected_and_the_approval_voided() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Needs a person first\n    approval: before\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Meddles\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n",
    );
    let forged = repo.env.path(".longrun/approvals/T1.before.json");
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script(
        "T2",
        &format!(
            "write b.txt b\ncommit b\nwrite-outside {} {{\"task\": \"T1\", \"stage\": \"before\", \"decision\": \"approve\", \"commit\": \"HEAD\", \"by\": \"Ada <ada@example.com>\", \"at\": \"now\"}}\n",
            forged.display()
        ),
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let log = repo.log();
    assert_eq!(repo.task("T2")["status"]["Known"], "failed", "{log}");
    assert!(
        log.contains("the worker changed approval records (`.longrun/approvals/T1.before.json`)"),
        "{log}"
    );
    assert!(!forged.exists(), "the forged record is gone");
    assert_eq!(
        repo.task("T1")["status"]["Known"],
        "awaiting_approval",
        "{log}"
    );
    assert!(!log.contains("dispatch [T1]"), "{log}");
}
