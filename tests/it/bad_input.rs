//! Every bad input ends with a clear message naming file, line and column, exit 2, and
//! every file byte-identical.

use crate::{RUN_LOG, TestEnv, with_checklist};

const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["status"],
    &["next"],
    &["task", "set", "T1", "--status", "in_progress"],
    &["task", "show", "T1"],
];

fn assert_every_command_fails(env: &TestEnv, expected: &str) {
    let checklist = env.read_bytes("checklist.yaml");
    let run_log = std::fs::read(env.path("run-log.md")).ok();
    for args in COMMANDS {
        let run = env.longrun(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        let stderr = env.redact(&run.stderr);
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in\n{stderr}"
        );
        assert_eq!(env.read_bytes("checklist.yaml"), checklist, "{args:?}");
        assert_eq!(
            std::fs::read(env.path("run-log.md")).ok(),
            run_log,
            "{args:?}"
        );
    }
}

#[test]
fn malformed_yaml() {
    let env = with_checklist();
    env.write(
        "checklist.yaml",
        "tasks:\n  - task_id: T1\n    title: [unclosed\n  - x\n",
    );
    assert_every_command_fails(&env, "error: [REPO]/checklist.yaml:");
}

#[test]
fn tab_indented_file() {
    let env = with_checklist();
    env.write("checklist.yaml", "tasks:\n\t- task_id: T1\n");
    assert_every_command_fails(&env, "[REPO]/checklist.yaml:2:");
}

#[test]
fn invalid_utf8() {
    let env = with_checklist();
    env.write(
        "checklist.yaml",
        b"tasks:\n  - task_id: T1\n    title: caf\xe9\n".as_slice(),
    );
    assert_every_command_fails(
        &env,
        "`[REPO]/checklist.yaml` is not valid UTF-8 (line 3, column 15)",
    );
}

#[test]
fn empty_file() {
    let env = with_checklist();
    env.write("checklist.yaml", "");
    assert_every_command_fails(&env, "[REPO]/checklist.yaml:1:1: the file is empty");
}

#[test]
fn wrong_types_name_the_field_place() {
    let env = with_checklist();
    env.write(
        "checklist.yaml",
        "tasks:\n  - task_id: T1\n    risk: enormous\n",
    );
    assert_every_command_fails(&env, "[REPO]/checklist.yaml:3:11: unknown risk `enormous`");
}

#[test]
fn missing_run_log() {
    let env = with_checklist();
    std::fs::remove_file(env.path("run-log.md")).unwrap();
    assert_every_command_fails(&env, "[REPO]/run-log.md:1:1: the run log is missing");
}

#[test]
fn a_50_mb_checklist_stops_with_a_size_error() {
    let env = with_checklist();
    let mut big = String::from("tasks:\n");
    let task = "  - task_id: T1\n    title: \"padding padding padding padding padding\"\n";
    while big.len() < 50 * 1024 * 1024 {
        big.push_str(task);
    }
    env.write("checklist.yaml", &big);
    assert_every_command_fails(&env, "larger than the 33554432 bytes longrun reads");
}

#[test]
fn acting_on_an_unsafe_checklist_is_refused() {
    let env = with_checklist();
    let text = "tasks:\n  - {task_id: T1, validators: [x]}\n  - {task_id: ../../etc, validators: [x]}\n  - {task_id: T2, depends_on: [T2], validators: [x]}\n";
    env.write("checklist.yaml", text);
    let run = env.longrun(&["task", "set", "T1", "--status", "in_progress"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("unsafe"), "{run:?}");
    assert!(run.stderr.contains("dependency cycle: T2 -> T2"), "{run:?}");
    assert!(run.stderr.contains("checklist.yaml:3:5"), "{run:?}");
    assert_eq!(env.read("checklist.yaml"), text);
    assert_eq!(env.read("run-log.md"), RUN_LOG);
}

#[test]
fn a_task_id_that_escapes_is_refused_on_the_command_line() {
    let env = with_checklist();
    let run = env.longrun(&["task", "set", "../../etc", "--status", "complete"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("must never be usable as a path"),
        "{run:?}"
    );
}
