use crate::{TestEnv, with_checklist};

#[test]
fn a_clean_checklist_passes() {
    let env = with_checklist();
    let run = env.longrun(&["check"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("SUMMARY: 4 tasks, 0 error(s)"),
        "{run:?}"
    );
}

#[test]
fn problems_are_named_with_file_line_and_column() {
    let env = TestEnv::initialized();
    env.write(
        "checklist.yaml",
        r#"tasks:
  - task_id: "../../etc"
    validators: [x]
  - task_id: T1
    depends_on: [T9]
    validators: [x]
  - task_id: T1
    validators: [x]
  - task_id: T3
    depends_on: [T5]
    validators: [x]
  - task_id: T5
    depends_on: [T3]
    status: finished
  - task_id: T6
    extra: 1
    validators: [x]
"#,
    );
    let run = env.longrun(&["check"]);
    assert_eq!(run.code, 1, "{run:?}");
    let out = env.redact(&run.stdout);
    for expected in [
        "[REPO]/checklist.yaml:2:5: error: task id `../../etc` must start with a letter",
        "[REPO]/checklist.yaml:4:5: error: task `T1` depends on `T9`, which is not in the checklist",
        "[REPO]/checklist.yaml:7:5: error: task id `T1` is used again (first on line 4)",
        "dependency cycle: T3 -> T5 -> T3",
        "[REPO]/checklist.yaml:12:5: error: task `T5` has no validators",
        "[REPO]/checklist.yaml:12:5: error: task `T5` has unknown status `finished`",
        "[REPO]/checklist.yaml:16:5: warning: unknown key `extra` in task `T6` (kept as written)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
}

#[test]
fn missing_validators_are_allowed_only_on_request() {
    let env = TestEnv::initialized();
    env.write("checklist.yaml", "tasks:\n  - task_id: T1\n");
    assert_eq!(env.longrun(&["check"]).code, 1);
    let run = env.longrun(&["check", "--allow-missing-validators"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("warning: task `T1` has no validators"),
        "{run:?}"
    );
}

#[test]
fn json_output_lists_problems() {
    let env = TestEnv::initialized();
    env.write("checklist.yaml", "tasks:\n  - task_id: T1\n");
    let run = env.longrun(&["check", "--json"]);
    assert_eq!(run.code, 1);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["errors"], 1);
    assert_eq!(value["problems"][0]["kind"], "missing_validators");
    assert_eq!(value["problems"][0]["line"], 2);
}
