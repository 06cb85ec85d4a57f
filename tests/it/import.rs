use crate::TestEnv;

const EMPTY_CHECKLIST: &str =
    "# Tasks imported from other tools land below.\nversion: 1\ntasks: []\n";

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn env_with(files: &[(&str, &str)]) -> TestEnv {
    let env = TestEnv::initialized();
    env.write("checklist.yaml", EMPTY_CHECKLIST);
    for (target, source) in files {
        let bytes = std::fs::read(fixture(source)).unwrap();
        env.write(target, bytes);
    }
    env
}

#[test]
fn taskmaster_file_from_the_real_tool_imports_and_reimports_without_duplicates() {
    let env = env_with(&[(".taskmaster/tasks/tasks.json", "taskmaster-real/tasks.json")]);
    let run = env.longrun(&["import", "taskmaster", ".taskmaster/tasks/tasks.json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = env.read("checklist.yaml");
    assert!(
        text.starts_with(EMPTY_CHECKLIST.trim_end_matches(" []\n")),
        "{text}"
    );
    assert!(
        text.contains("  - task_id: T1\n    title: Set up the database schema\n"),
        "{text}"
    );
    assert!(text.contains("    status: complete\n"), "{text}");
    assert!(text.contains("  - task_id: T2.1\n"), "{text}");
    assert!(text.contains("    depends_on: [T1]\n"), "{text}");
    assert!(
        text.contains("    source_id: \"taskmaster#2.1\"\n"),
        "{text}"
    );
    assert!(
        run.stderr.contains("`priority` of 2 task(s) is not mapped"),
        "{run:?}"
    );

    // The work moves on in Taskmaster; importing again updates, never duplicates.
    let json =
        env.read(".taskmaster/tasks/tasks.json")
            .replacen("\"pending\"", "\"in-progress\"", 1);
    env.write(".taskmaster/tasks/tasks.json", json);
    let again = env.longrun(&[
        "import",
        "taskmaster",
        ".taskmaster/tasks/tasks.json",
        "--json",
    ]);
    assert_eq!(again.code, 0, "{again:?}");
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["status_updated"][0]["task_id"], "T2");
    let text = env.read("checklist.yaml");
    assert_eq!(text.matches("task_id: T2\n").count(), 1, "{text}");
    assert!(text.contains("    status: in_progress\n"), "{text}");
}

#[test]
fn taskmaster_statuses_duplicates_and_missing_dependencies() {
    let env = env_with(&[("tasks.json", "taskmaster-untagged.json")]);
    let run = env.longrun(&["import", "taskmaster", "tasks.json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = env.read("checklist.yaml");
    for expected in [
        "  - task_id: T3-2\n    title: Export payments as CSV\n",
        "    status: awaiting_approval\n",
        "    status: archived\n",
        "    depends_on: [T2, T99]\n",
        "    depends_on: [T2.1]\n",
        "      - \"`cargo build --workspace` succeeds\"\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        run.stderr
            .contains("duplicate id `T3` in the Taskmaster file"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("status `deferred` has no equivalent"),
        "{run:?}"
    );
    // The dangling dependency is kept and check names it.
    assert!(
        run.stderr
            .contains("depends on `T99`, which is not in the checklist"),
        "{run:?}"
    );
    assert_eq!(env.longrun(&["check"]).code, 1);
}

#[test]
fn ralph_prd_json() {
    let env = env_with(&[("prd.json", "ralph-prd.json")]);
    let run = env.longrun(&["import", "ralph", "prd.json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = env.read("checklist.yaml");
    assert!(
        text.contains("  - task_id: US-001\n    title: Add priority field to database\n"),
        "{text}"
    );
    assert!(
        text.contains("    status: complete\n    note: Migration 0007 applied.\n"),
        "{text}"
    );
    assert!(run.stderr.contains("`branchName` is not mapped"), "{run:?}");
    assert!(
        run.stderr
            .contains("vague acceptance criterion \"Filter dropdown works\""),
        "{run:?}"
    );
}

#[test]
fn feature_list_json() {
    let env = env_with(&[("feature_list.json", "feature_list.json")]);
    let run = env.longrun(&["import", "feature-list", "feature_list.json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = env.read("checklist.yaml");
    assert!(
        text.contains(
            "  - task_id: \"F001\"\n    title: New chat button creates a fresh conversation\n"
        ),
        "{text}"
    );
    assert!(text.contains("  - task_id: \"F003\"\n"), "{text}");
    assert!(text.contains("    milestone: style\n"), "{text}");
    let again = env.longrun(&["import", "feature-list", "feature_list.json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        env.read("checklist.yaml"),
        text,
        "a second import of the same file changes nothing"
    );
}

#[test]
fn backlog_folder_from_the_real_tool() {
    let env = env_with(&[
        (
            "backlog/tasks/task-1 - Set-up-CI.md",
            "backlog-real/tasks/task-1 - Set-up-CI.md",
        ),
        (
            "backlog/tasks/task-2 - Release-binaries.md",
            "backlog-real/tasks/task-2 - Release-binaries.md",
        ),
    ]);
    let run = env.longrun(&["import", "backlog", "backlog"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = env.read("checklist.yaml");
    assert!(
        text.contains(
            "  - task_id: TASK-1\n    title: Set up CI\n    description: Run tests on every push\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("      - CI runs cargo test on push\n"),
        "{text}"
    );
    assert!(
        text.contains("    status: in_progress\n    depends_on: [TASK-1]\n"),
        "{text}"
    );
    assert!(
        run.stderr.contains("task TASK-2: `labels` is not mapped"),
        "{run:?}"
    );
}

#[test]
fn a_file_of_another_format_names_the_format_it_looks_like() {
    let env = env_with(&[("prd.json", "ralph-prd.json")]);
    let run = env.longrun(&["import", "taskmaster", "prd.json"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("is not a Taskmaster tasks.json; it looks like a ralph prd.json (try `longrun import ralph"),
        "{run:?}"
    );
    assert_eq!(env.read("checklist.yaml"), EMPTY_CHECKLIST);
    env.write("notes.json", "{\"hello\": 1}");
    let run = env.longrun(&["import", "feature-list", "notes.json"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not a feature_list.json"), "{run:?}");
}

#[test]
fn dry_run_shows_the_diff_and_writes_nothing() {
    let env = env_with(&[("prd.json", "ralph-prd.json")]);
    let run = env.longrun(&["import", "ralph", "prd.json", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("+  - task_id: US-003\n"), "{run:?}");
    assert!(
        run.stderr.contains("dry run: nothing was written"),
        "{run:?}"
    );
    assert_eq!(env.read("checklist.yaml"), EMPTY_CHECKLIST);
}

#[test]
fn a_json_file_given_as_backlog_names_its_format() {
    let env = env_with(&[("feature_list.json", "feature_list.json")]);
    let run = env.longrun(&["import", "backlog", "feature_list.json"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("it looks like a feature_list.json"),
        "{run:?}"
    );
}
