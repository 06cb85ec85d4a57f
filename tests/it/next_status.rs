use crate::with_checklist;

#[test]
fn next_lists_ready_tasks_in_file_order() {
    let env = with_checklist();
    let run = env.longrun(&["next"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "T2  Parser\n");
    // Completing T2 makes T3 ready.
    assert_eq!(
        env.longrun(&["task", "set", "T2", "--status", "complete"])
            .code,
        0
    );
    assert_eq!(env.longrun(&["next"]).stdout, "T3  Writer\n");
}

#[test]
fn next_skips_claimed_tasks() {
    let env = with_checklist();
    env.write("current_tasks/T2.lock", "task: T2\n");
    let run = env.longrun(&["next", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value, serde_json::json!([]));
}

#[test]
fn status_view() {
    let env = with_checklist();
    let run = env.longrun(&["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    insta::assert_snapshot!(env.redact(&run.stdout));
}

#[test]
fn status_json() {
    let env = with_checklist();
    let run = env.longrun(&["status", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["tasks"], 4);
    assert_eq!(value["next"][0]["task_id"], "T2");
    assert_eq!(value["blocked"][0]["detail"], "same failure: linker error");
}

#[test]
fn read_commands_never_write_state_files() {
    let env = with_checklist();
    let before = (env.read("checklist.yaml"), env.read("run-log.md"));
    for args in [
        &["status"][..],
        &["next"],
        &["check"],
        &["status", "--json"],
        &["task", "show", "T2"],
    ] {
        let run = env.longrun(args);
        assert_eq!(run.code, 0, "{args:?} {run:?}");
    }
    assert_eq!(before, (env.read("checklist.yaml"), env.read("run-log.md")));
}

const GATED: &str = "tasks:
  - task_id: T1
    title: Ask first
    approval: before
    validators: [[\"true\"]]
  - task_id: T2
    title: Plain
    validators: [[\"true\"]]
  - task_id: T3
    title: Critical
    risk: critical
    validators: [[\"true\"]]
";

#[test]
fn next_status_and_claim_hold_a_task_until_a_person_approves_it() {
    let env = crate::TestEnv::initialized();
    env.write("checklist.yaml", GATED);
    env.git(&["config", "user.name", "Ada Reviewer"]);
    env.git(&["config", "user.email", "ada@example.com"]);

    // T1 asks for approval itself; T3's risk does through policy/default.yaml
    // (`critical: [before, after]`). Neither is ready, and both are named as waiting.
    let run = env.longrun(&["next"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "T2  Plain\n");
    for task in ["T1", "T3"] {
        assert!(
            run.stderr.contains(&format!(
                "`{task}` is not ready: it waits for a person's approval before it starts (`longrun approve {task}`)"
            )),
            "{run:?}"
        );
    }
    let json = env.longrun(&["next", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 1, "{value}");
    let status = env.longrun(&["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status
            .stdout
            .contains("Next:\n  T2  Plain\n\nAwaiting approval:\n  T1  Ask first  (held before it starts: `longrun approve T1`)\n  T3  Critical  (held before it starts: `longrun approve T3`)\n"),
        "{}",
        status.stdout
    );
    let refused = env.longrun(&["claim", "T1", "--worker", "w"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("waits for a person's approval"),
        "{refused:?}"
    );

    // Inside a worker, even without `LONGRUN_TASK_ID`, nobody approves: here a shell whose
    // arguments make it look like the worker's supervisor.
    let mut shell = std::process::Command::new("sh");
    env.configure(&mut shell);
    let forged = shell
        .env("LONGRUN", crate::binary())
        .args(["-c", "\"$LONGRUN\" approve T1; exit $?", "__supervise"])
        .output()
        .unwrap();
    assert_eq!(forged.status.code(), Some(2), "{forged:?}");
    assert!(
        String::from_utf8_lossy(&forged.stderr).contains("workers cannot approve"),
        "{forged:?}"
    );

    // A person approves T1 before any cycle held it: it is ready, as the cycle would see it.
    let approve = env.longrun(&["approve", "T1"]);
    assert_eq!(approve.code, 0, "{approve:?}");
    let run = env.longrun(&["next"]);
    assert_eq!(run.stdout, "T1  Ask first\nT2  Plain\n", "{run:?}");
    assert!(!run.stderr.contains("`T1`"), "{run:?}");
    let status = env.longrun(&["status"]);
    assert!(
        status
            .stdout
            .contains("Next:\n  T1  Ask first\n  T2  Plain\n"),
        "{}",
        status.stdout
    );
    let claim = env.longrun(&["claim", "--next", "--worker", "w"]);
    assert_eq!(claim.code, 0, "{claim:?}");
    assert!(claim.stdout.starts_with("task: T1\n"), "{claim:?}");

    // A rejection holds it too, with who and why.
    let reject = env.longrun(&["reject", "T3", "--reason", "too risky"]);
    assert_eq!(reject.code, 0, "{reject:?}");
    let run = env.longrun(&["next"]);
    assert_eq!(run.stdout, "T2  Plain\n", "{run:?}");
}

// The usage as the supervisor writes it (`agents::Usage`), not as an agent reports it.
const RESULT_KNOWN: &str = r#"{"exit_code": 0, "signal": null, "timed_out": false, "duration_ms": 10,
 "started_at": "2026-11-21T08:00:00Z", "finished_at": "2026-11-21T08:00:01Z",
 "stdout_bytes": 0, "stderr_bytes": 0, "stdout_truncated": false, "stderr_truncated": false,
 "final_message": null, "usage": {"input": 90, "cached_input": 10, "output": 20},
 "cost_usd": 0.5, "cost_known": true}"#;

#[test]
fn status_says_when_cost_is_unknown() {
    let env = with_checklist();
    let run = env.longrun(&["status"]);
    assert!(!run.stdout.contains("Cost:"), "nothing spent yet: {run:?}");

    let runs = ".longrun/runs/20261121T080000Z/T1";
    env.write(&format!("{runs}/1/result.json"), RESULT_KNOWN);
    // An agent that reports no cost: unknown, never zero.
    env.write(
        &format!("{runs}/2/result.json"),
        RESULT_KNOWN
            .replace(
                "\"cost_usd\": 0.5, \"cost_known\": true",
                "\"cost_usd\": null, \"cost_known\": false",
            )
            .replace(
                "{\"input\": 90, \"cached_input\": 10, \"output\": 20}",
                "null",
            ),
    );
    let config = env.read("longrun.yaml").replace(
        "  per_run:\n    cost_usd: null",
        "  per_run:\n    cost_usd: 10",
    );
    env.write("longrun.yaml", config);
    let run = env.longrun(&["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(
            "Cost: $0.50 known + 1 attempt with unknown cost over 2 attempts (120 tokens, budget $10.00)\n"
        ),
        "{}",
        run.stdout
    );
    let json = env.longrun(&["status", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["spend"]["attempts"], 2);
    assert_eq!(value["spend"]["cost_usd"], 0.5);
    assert_eq!(value["spend"]["unknown_cost_attempts"], 1);
    assert_eq!(value["spend"]["budget_usd"], 10.0);

    // Only unknown costs: said to be unknown, not $0.00.
    std::fs::remove_file(env.path(&format!("{runs}/1/result.json"))).unwrap();
    let run = env.longrun(&["status"]);
    assert!(
        run.stdout.contains(
            "Cost: unknown (1 attempt reported no cost) over 1 attempt (0 tokens, budget $10.00)\n"
        ),
        "{}",
        run.stdout
    );
}
