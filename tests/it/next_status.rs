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
