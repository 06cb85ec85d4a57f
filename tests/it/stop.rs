//! `longrun stop` and `longrun resume`: the kill switch, and `--kill` ending the cycle's
//! running workers. The tests that start workers need `--features fake-agent`.

use crate::TestEnv;

#[test]
fn stop_and_resume_are_idempotent_and_say_what_they_did() {
    let env = TestEnv::initialized();
    let stop = env.longrun(&["stop"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stderr.contains("kill switch on"), "{stop:?}");
    assert!(stop.stderr.contains("dispatch nothing"), "{stop:?}");
    assert!(env.path(".longrun/STOP").is_file());

    let again = env.longrun(&["stop"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("kill switch already on"), "{again:?}");

    let resume = env.longrun(&["resume"]);
    assert_eq!(resume.code, 0, "{resume:?}");
    assert!(resume.stderr.contains("kill switch off"), "{resume:?}");
    assert!(!env.path(".longrun/STOP").exists());

    let again = env.longrun(&["resume"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("was not on"), "{again:?}");

    let log = env.read("run-log.md");
    assert!(log.contains("decision: kill switch on"), "{log}");
    assert!(log.contains("decision: kill switch off"), "{log}");
}

#[test]
fn stop_kill_with_nothing_running_says_so() {
    let env = TestEnv::initialized();
    let stop = env.longrun(&["stop", "--kill"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(
        stop.stderr.contains("no running workers to stop"),
        "{stop:?}"
    );
}

#[cfg(feature = "fake-agent")]
mod with_workers {
    use crate::loop_cmd::{FakeRepo, ONE};

    #[test]
    fn stop_blocks_dispatch_until_resume() {
        let repo = FakeRepo::new(ONE, 2);
        repo.script_done("T1");
        assert_eq!(repo.env.longrun(&["stop"]).code, 0);

        let cycle = repo.longrun_bounded(&["cycle"]);
        assert_eq!(cycle.code, 0, "{cycle:?}");
        assert!(cycle.stderr.contains("nothing dispatched"), "{cycle:?}");
        assert!(cycle.stderr.contains("kill switch on"), "{cycle:?}");
        assert!(!cycle.stderr.contains("dispatched,"), "{cycle:?}");
        assert_eq!(repo.status_of("T1"), "not_started");

        assert_eq!(repo.env.longrun(&["resume"]).code, 0);
        let cycle = repo.longrun_bounded(&["cycle"]);
        assert_eq!(cycle.code, 0, "{cycle:?}");
        assert!(cycle.stderr.contains("1 dispatched"), "{cycle:?}");
        repo.wait_for_results();
        let cycle = repo.longrun_bounded(&["cycle"]);
        assert!(cycle.stderr.contains("1 merged"), "{cycle:?}");
    }

    #[test]
    fn stop_kill_ends_a_hanging_worker_and_the_next_cycle_records_the_failed_attempt() {
        let repo = FakeRepo::new(ONE, 3);
        repo.script("T1", "hang\n");
        let cycle = repo.longrun_bounded(&["cycle"]);
        assert!(cycle.stderr.contains("1 dispatched"), "{cycle:?}");
        // The supervisor checks the validators on the base before the agent starts; a stop
        // during that check is the next test's case.
        repo.wait_for_agent();

        let stop = repo.longrun_bounded(&["stop", "--kill"]);
        assert_eq!(stop.code, 0, "{stop:?}");
        assert!(stop.stderr.contains("stopping `T1` attempt 1"), "{stop:?}");
        assert!(stop.stderr.contains("stopped `T1` attempt 1"), "{stop:?}");
        let result = std::fs::read_to_string(
            crate::loop_cmd::attempt_dirs(&repo.env.path(".longrun/runs"))
                .first()
                .expect("an attempt")
                .join("result.json"),
        )
        .expect("result.json");
        let result: serde_json::Value = serde_json::from_str(&result).unwrap();
        assert_eq!(result["stopped"], true, "{result}");

        let cycle = repo.longrun_bounded(&["cycle"]);
        assert!(
            cycle
                .stderr
                .contains("reject `T1` attempt 1: the agent was stopped"),
            "{cycle:?}"
        );
        assert!(cycle.stderr.contains("nothing dispatched"), "{cycle:?}");
        let task: serde_json::Value =
            serde_json::from_str(&repo.env.longrun(&["task", "show", "T1", "--json"]).stdout)
                .unwrap();
        assert_eq!(task["attempts"], 1, "{task}");
        assert_eq!(task["status"]["Known"], "not_started", "{task}");
        let log = repo.env.read("run-log.md");
        assert!(log.contains("stopped by `longrun stop --kill`"), "{log}");
        assert!(
            log.contains("failure [T1] attempt=1: the agent was stopped"),
            "{log}"
        );
    }

    /// A slow validator, so the stop reliably comes during the supervisor's check of the
    /// validators on the base, before the agent starts.
    const SLOW_VALIDATOR: &str = r#"version: 1
tasks:
  - task_id: T1
    title: First
    status: not_started
    validators: [["sh", "-c", "sleep 5; test -f t1.txt"]]
"#;

    #[test]
    fn stop_kill_before_the_agent_starts_counts_no_attempt() {
        let repo = FakeRepo::new(SLOW_VALIDATOR, 3);
        repo.script("T1", "hang\n");
        let cycle = repo.longrun_bounded(&["cycle"]);
        assert!(cycle.stderr.contains("1 dispatched"), "{cycle:?}");

        let stop = repo.longrun_bounded(&["stop", "--kill"]);
        assert_eq!(stop.code, 0, "{stop:?}");
        assert!(
            stop.stderr
                .contains("stopped `T1` attempt 1 before its agent started"),
            "{stop:?}"
        );
        let dirs = crate::loop_cmd::attempt_dirs(&repo.env.path(".longrun/runs"));
        let dir = dirs.first().expect("an attempt");
        assert!(!dir.join("agent.json").exists(), "the agent started");
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap())
                .unwrap();
        assert_eq!(result["stopped_before_start"], true, "{result}");

        let cycle = repo.longrun_bounded(&["cycle"]);
        assert!(
            cycle
                .stderr
                .contains("release `T1`: stopped before its agent started"),
            "{cycle:?}"
        );
        assert!(!cycle.stderr.contains("reject"), "{cycle:?}");
        let task: serde_json::Value =
            serde_json::from_str(&repo.env.longrun(&["task", "show", "T1", "--json"]).stdout)
                .unwrap();
        assert_eq!(task["attempts"], 0, "{task}");
        assert_eq!(task["status"]["Known"], "not_started", "{task}");
        assert!(!repo.env.path("current_tasks/T1.lock").exists());
        let log = repo.env.read("run-log.md");
        assert!(log.contains("no attempt counted"), "{log}");
        assert!(!log.contains("failure [T1]"), "{log}");
    }
}
