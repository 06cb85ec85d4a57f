use crate::{CHECKLIST, with_checklist};

#[test]
fn task_set_changes_only_that_task() {
    let env = with_checklist();
    let run = env.longrun(&[
        "task",
        "set",
        "T3",
        "--status",
        "in_progress",
        "--note",
        "picked up",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let after = env.read("checklist.yaml");
    let expected = CHECKLIST.replace(
        "    validators:\n      - \"true\"\n  - task_id: T4",
        "    validators:\n      - \"true\"\n    status: in_progress\n    note: picked up\n  - task_id: T4",
    );
    assert_eq!(after, expected);
}

#[test]
fn task_set_on_a_flow_task_keeps_the_flow_style() {
    let env = with_checklist();
    let run = env.longrun(&["task", "set", "T2", "--status", "complete"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        env.read("checklist.yaml"),
        CHECKLIST.replace("Parser, status: not_started,", "Parser, status: complete,")
    );
}

#[test]
fn task_set_refuses_unknown_tasks_and_bad_statuses() {
    let env = with_checklist();
    let run = env.longrun(&["task", "set", "T9", "--status", "complete"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no task `T9`"), "{run:?}");
    let run = env.longrun(&["task", "set", "T2", "--status", "done"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("not_started"), "{run:?}");
    assert_eq!(env.read("checklist.yaml"), CHECKLIST);
}

#[test]
fn setting_the_same_value_writes_nothing() {
    let env = with_checklist();
    let before = std::fs::metadata(env.path("checklist.yaml"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let run = env.longrun(&["task", "set", "T1", "--status", "complete"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("nothing written"), "{run:?}");
    let after = std::fs::metadata(env.path("checklist.yaml"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn task_set_works_from_a_subfolder() {
    let env = with_checklist();
    std::fs::create_dir_all(env.path("src/deep")).unwrap();
    let run = env.longrun_in(
        &env.path("src/deep"),
        &["task", "set", "T2", "--status", "in_progress"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(env.read("checklist.yaml").contains("status: in_progress"));
}
