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
    assert_eq!(log.matches("notify `run_finished` started").count(), 1, "{log}");
}
