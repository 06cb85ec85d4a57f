use std::path::Path;

use super::*;
use crate::state::model::TaskStatus;

const COMMENTED: &str = r#"# The team's checklist. Comments must survive every write.
version: 1
summary:
  last_updated: "2026-11-20 10:00"   # set by longrun
  active_task_id: ""
  status: in_progress
  blockers: []
  next_actions:
    - "ship it"
  verification_loop:
    fast: ["cargo test --lib"]
    full:
      - [cargo, test]

instructions: |-
  Work the tasks.

guidelines:
  - "Small steps."

tasks:
  # First task: block style, every field.
  - task_id: T1
    title: "Set up"   # trailing comment
    description: |
      Multi-line
      description.
    acceptance_criteria:
      - "builds"
    status: complete
    validators:
      - cargo build
    note: ""
  - {task_id: T2, title: 'Flow task', status: not_started, depends_on: [T1], validators: ["true"]}
  # Third task has no status and no note.
  - task_id: T3
    title: Third
    depends_on:
    - T2
    validators: [[sh, -c, "exit 0"]]
    custom_field: kept   # unknown key
  - task_id: "T4"
    title: 'It''s quoted'
    note: |-
      line one
      line two
    status: "failed"
    attempts: 2
    validators:
      - shell: "test -f x"
"#;

/// In the template's style: block tasks between comments, block scalars inside tasks, a
/// flow list or a scalar as the last key, an unknown top-level key after the tasks.
const BLOCK_STYLE: &str = r#"version: 1
summary:
  last_updated: ""
  status: "not_started"
  blockers: []
tasks:
  # Milestone 1.
  - task_id: A1
    title: "First"
    description: |-
      Two lines
      of description.
    status: complete
    note: "done"
    depends_on: []
    validators:
      - ["cargo", "test"]
  - task_id: A2
    title: "Second"
    status: not_started
    note: |-
      line one
      line two
    depends_on: [A1]
    validators:
      - "cargo test --lib"
    risk: medium

  # Milestone 2.
  - task_id: A3
    title: Third
    status: blocked
    note: ""
    depends_on: [A1, A2]
    validators: [["true"]]
    extra_key: kept
  - task_id: A4
    title: Fourth
    depends_on: [A3]
    validators:
      - {shell: "exit 0"}
trailing_unknown: 1
"#;

fn parse(text: &str) -> Checklist {
    Checklist::parse(Path::new("checklist.yaml"), text).unwrap()
}

fn set(task: &str, field: TaskField, value: FieldValue) -> TaskEdit {
    TaskEdit::Task {
        task_id: task.to_string(),
        field,
        value,
    }
}

fn text(value: &str) -> FieldValue {
    FieldValue::Text(value.to_string())
}

#[test]
fn parses_the_commented_checklist() {
    let checklist = parse(COMMENTED);
    assert_eq!(checklist.version, Some(1));
    assert_eq!(checklist.tasks.len(), 4);
    assert_eq!(checklist.summary.status, "in_progress");
    assert_eq!(checklist.summary.next_actions, vec!["ship it"]);
    assert_eq!(
        checklist.summary.verification_loop.fast,
        vec![Validator::Argv(vec![
            "cargo".into(),
            "test".into(),
            "--lib".into()
        ])]
    );
    let t1 = &checklist.tasks[0];
    assert_eq!(t1.status, StatusValue::Known(TaskStatus::Complete));
    assert_eq!(t1.description, "Multi-line\ndescription.\n");
    let t1_line = COMMENTED
        .lines()
        .position(|l| l == "  - task_id: T1")
        .unwrap()
        + 1;
    assert_eq!(t1.line(), t1_line);
    let t2 = &checklist.tasks[1];
    assert_eq!(t2.title, "Flow task");
    assert_eq!(t2.depends_on, vec!["T1"]);
    let t3 = &checklist.tasks[2];
    assert_eq!(t3.status, StatusValue::Missing);
    assert_eq!(t3.unknown_keys.len(), 1);
    assert_eq!(t3.unknown_keys[0].key, "custom_field");
    let t4 = &checklist.tasks[3];
    assert_eq!(t4.title, "It's quoted");
    assert_eq!(t4.attempts, 2);
    assert_eq!(
        t4.validators,
        Some(vec![Validator::Shell("test -f x".into())])
    );
}

#[test]
fn the_playbook_template_loads_unchanged() {
    let text = include_str!("../../../tests/fixtures/playbook-checklist.yaml");
    let checklist = parse(text);
    assert_eq!(checklist.tasks.len(), 2);
    assert_eq!(checklist.tasks[0].task_id, "T001");
    assert_eq!(checklist.guidelines.len(), 4);
    assert!(checklist.all_unknown_keys().is_empty());
    let problems = checklist.validate(ValidateOptions::default());
    // The template has no validators: each task is reported, nothing else.
    assert_eq!(problems.len(), 2);
    assert!(
        problems
            .iter()
            .all(|p| p.kind == ProblemKind::MissingValidators)
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    let error = Checklist::parse(Path::new("c.yaml"), "tasks:\n\t- task_id: T1\n").unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("c.yaml:2:"), "{message}");
    let error = Checklist::parse(
        Path::new("c.yaml"),
        "tasks:\n  - task_id: T1\n    risk: huge\n",
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("c.yaml:3:"), "{message}");
    assert!(message.contains("huge"), "{message}");
    let error = Checklist::parse(Path::new("c.yaml"), "\n  \n").unwrap_err();
    assert!(error.to_string().contains("empty"));
    let error = Checklist::parse(Path::new("c.yaml"), "tasks: [\n").unwrap_err();
    assert!(error.to_string().starts_with("c.yaml:"));
}

#[test]
fn validation_finds_ids_duplicates_unknown_deps_cycles() {
    let text = r#"
tasks:
  - {task_id: "../../etc", validators: [x]}
  - {task_id: T1, depends_on: [T3], validators: [x]}
  - {task_id: T1, validators: [x]}
  - {task_id: T3, depends_on: [T5], validators: [x]}
  - {task_id: T5, depends_on: [T3, T9], status: done}
"#;
    let problems = parse(text).validate(ValidateOptions::default());
    let kinds: Vec<ProblemKind> = problems.iter().map(|p| p.kind).collect();
    assert!(kinds.contains(&ProblemKind::InvalidTaskId));
    assert!(kinds.contains(&ProblemKind::DuplicateTaskId));
    assert!(kinds.contains(&ProblemKind::UnknownDependency));
    assert!(kinds.contains(&ProblemKind::UnknownStatus));
    assert!(kinds.contains(&ProblemKind::MissingValidators));
    let cycle = problems
        .iter()
        .find(|p| p.kind == ProblemKind::DependencyCycle)
        .unwrap();
    assert!(
        cycle.message.contains("T3 -> T5 -> T3"),
        "{}",
        cycle.message
    );
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.kind == ProblemKind::DependencyCycle)
            .count(),
        1
    );
}

#[test]
fn ready_tasks_follow_dependencies_and_file_order() {
    let checklist = parse(COMMENTED);
    let ready: Vec<&str> = checklist
        .ready_tasks(&|_| false)
        .iter()
        .map(|t| t.task_id.as_str())
        .collect();
    assert_eq!(ready, vec!["T2"]);
    let none = checklist.ready_tasks(&|id| id == "T2");
    assert!(none.is_empty());
}

#[test]
fn editing_a_block_task_changes_only_that_value() {
    let checklist = parse(COMMENTED);
    let new = render_edits(
        COMMENTED,
        &checklist,
        &[set("T1", TaskField::Status, text("in_progress"))],
    )
    .unwrap();
    assert_eq!(
        new,
        COMMENTED.replace("    status: complete\n", "    status: in_progress\n")
    );
}

#[test]
fn editing_a_flow_task_keeps_its_style() {
    let checklist = parse(COMMENTED);
    let new = render_edits(
        COMMENTED,
        &checklist,
        &[
            set("T2", TaskField::Status, text("complete")),
            set("T2", TaskField::Note, text("done: see log")),
            set("T2", TaskField::Attempts, FieldValue::Integer(1)),
        ],
    )
    .unwrap();
    assert!(new.contains(
        "  - {task_id: T2, title: 'Flow task', status: complete, depends_on: [T1], validators: [\"true\"], note: \"done: see log\", attempts: 1}\n"
    ), "{new}");
    let reparsed = parse(&new);
    assert_eq!(reparsed.tasks[1].note, "done: see log");
}

#[test]
fn adding_missing_fields_to_a_block_task() {
    let checklist = parse(COMMENTED);
    let new = render_edits(
        COMMENTED,
        &checklist,
        &[
            set("T3", TaskField::Status, text("in_progress")),
            set("T3", TaskField::Note, text("first line\nsecond line")),
        ],
    )
    .unwrap();
    assert!(
        new.contains(
            "    custom_field: kept   # unknown key\n    status: in_progress\n    note: |-\n      first line\n      second line\n  - task_id: \"T4\""
        ),
        "{new}"
    );
}

#[test]
fn replacing_block_scalars_and_quoted_values() {
    let checklist = parse(COMMENTED);
    let new = render_edits(
        COMMENTED,
        &checklist,
        &[
            set("T4", TaskField::Note, text("short")),
            set("T4", TaskField::Status, text("not_started")),
            set("T4", TaskField::Attempts, FieldValue::Integer(3)),
        ],
    )
    .unwrap();
    assert!(
        new.contains("    note: short\n    status: \"not_started\"\n    attempts: 3\n"),
        "{new}"
    );
}

#[test]
fn summary_lists_and_scalars() {
    let checklist = parse(COMMENTED);
    let new = render_edits(
        COMMENTED,
        &checklist,
        &[
            TaskEdit::Summary {
                field: SummaryField::LastUpdated,
                value: text("2026-11-21T09:00:00Z"),
            },
            TaskEdit::Summary {
                field: SummaryField::Blockers,
                value: FieldValue::List(vec!["T4: failed".into()]),
            },
            TaskEdit::Summary {
                field: SummaryField::NextActions,
                value: FieldValue::List(vec![]),
            },
        ],
    )
    .unwrap();
    assert!(new.contains("  last_updated: \"2026-11-21T09:00:00Z\"   # set by longrun\n"));
    assert!(new.contains("  blockers: [\"T4: failed\"]\n"), "{new}");
    assert!(
        new.contains("  next_actions: []\n  verification_loop:"),
        "{new}"
    );
    let reparsed = parse(&new);
    assert_eq!(reparsed.summary.blockers, vec!["T4: failed"]);
}

#[test]
fn a_checklist_without_summary_gets_one() {
    let text_in = "# comment\ntasks:\n  - task_id: T1\n";
    let checklist = parse(text_in);
    let new = render_edits(
        text_in,
        &checklist,
        &[TaskEdit::Summary {
            field: SummaryField::Status,
            value: text("in_progress"),
        }],
    )
    .unwrap();
    assert_eq!(
        new,
        "# comment\nsummary:\n  status: in_progress\ntasks:\n  - task_id: T1\n"
    );
}

#[test]
fn several_summary_fields_go_into_one_new_summary() {
    let text_in = "tasks:\n  - task_id: T1\n";
    let checklist = parse(text_in);
    let new = render_edits(
        text_in,
        &checklist,
        &[
            TaskEdit::Summary {
                field: SummaryField::Status,
                value: text("in_progress"),
            },
            TaskEdit::Summary {
                field: SummaryField::Blockers,
                value: FieldValue::List(vec!["T1: failed".into()]),
            },
            set("T1", TaskField::Status, text("failed")),
        ],
    )
    .unwrap();
    assert_eq!(
        new,
        "summary:\n  status: in_progress\n  blockers:\n    - \"T1: failed\"\ntasks:\n  - task_id: T1\n    status: failed\n"
    );
}

#[test]
fn awkward_strings_round_trip() {
    let checklist = parse(COMMENTED);
    for value in [
        "yes",
        "123",
        "a: b",
        "# not a comment",
        "quote \" and ' and \\",
        "trailing space ",
        "tab\there",
        "multi\nline\n",
        "  leading",
        "\n !",
        "\n\n  indented after blank lines\nx",
        "",
        "ünïcödé → ok",
        "- dash",
        "[brackets]",
        "{braces}",
        "null",
        "~",
    ] {
        for task in ["T1", "T2", "T3", "T4"] {
            let new = render_edits(
                COMMENTED,
                &checklist,
                &[set(task, TaskField::Note, text(value))],
            )
            .unwrap_or_else(|e| panic!("{task} {value:?}: {e}"));
            let reparsed = parse(&new);
            assert_eq!(
                reparsed.task(task).unwrap().note,
                value,
                "{task} {value:?}\n{new}"
            );
        }
    }
}

#[test]
fn unknown_and_ambiguous_tasks_are_refused() {
    let checklist = parse(COMMENTED);
    assert_eq!(
        render_edits(
            COMMENTED,
            &checklist,
            &[set("T9", TaskField::Status, text("complete"))]
        ),
        Err(EditError::NoSuchTask("T9".into()))
    );
    let dup = "tasks:\n  - {task_id: A}\n  - {task_id: A}\n";
    let checklist = parse(dup);
    assert!(matches!(
        render_edits(
            dup,
            &checklist,
            &[set("A", TaskField::Status, text("complete"))]
        ),
        Err(EditError::AmbiguousTask(_))
    ));
}

#[test]
fn command_lines_split_like_a_shell_without_one() {
    assert_eq!(
        split_command_line(r#"cargo test -- "a b" 'c d' e\ f"#).unwrap(),
        vec!["cargo", "test", "--", "a b", "c d", "e f"]
    );
    assert_eq!(
        split_command_line("echo $(rm -rf /) ; ls").unwrap(),
        vec!["echo", "$(rm", "-rf", "/)", ";", "ls"]
    );
    assert!(split_command_line("echo 'open").is_err());
}

/// `text` with a comment block after it, so it is large enough to get a snapshot.
fn with_snapshot(text: &str) -> String {
    let mut text = text.to_string();
    while text.len() < snapshot::MIN_BYTES as usize {
        text.push_str("# a comment that makes the file large enough to keep a snapshot of\n");
    }
    text
}

#[test]
fn a_small_checklist_is_parsed_and_gets_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.yaml");
    std::fs::write(&path, COMMENTED).unwrap();
    assert!(COMMENTED.len() < snapshot::MIN_BYTES as usize);
    let snap = dir.path().join("snap");
    let options = LoadOptions {
        snapshot_path: Some(snap.clone()),
    };
    assert!(!load(&path, &options).unwrap().from_snapshot);
    assert!(!load_overview(&path, &options).unwrap().from_snapshot);
    update(&path, &dir.path().join("lock"), &options, |_| {
        Ok(vec![set("T2", TaskField::Status, text("in_progress"))])
    })
    .unwrap();
    assert!(!snap.exists());
    let loaded = load(&path, &options).unwrap();
    assert!(!loaded.from_snapshot);
    assert_eq!(
        loaded.checklist.task("T2").unwrap().status,
        StatusValue::Known(TaskStatus::InProgress)
    );
    // Grown past the size, it gets one on the next read.
    std::fs::write(&path, with_snapshot(&loaded.text)).unwrap();
    assert!(!load(&path, &options).unwrap().from_snapshot);
    assert!(snap.exists());
    assert!(load_overview(&path, &options).unwrap().from_snapshot);
}

#[test]
fn update_writes_once_and_keeps_unchanged_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.yaml");
    let commented = with_snapshot(COMMENTED);
    std::fs::write(&path, &commented).unwrap();
    let lock = dir.path().join(".longrun/locks/checklist.lock");
    let options = LoadOptions {
        snapshot_path: Some(dir.path().join(".longrun/cache/checklist.snapshot")),
    };
    let outcome = update(&path, &lock, &options, |_| {
        Ok(vec![set("T1", TaskField::Status, text("complete"))])
    })
    .unwrap();
    assert_eq!(outcome, UpdateOutcome::Unchanged);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), commented);
    let outcome = update(&path, &lock, &options, |_| {
        Ok(vec![set("T2", TaskField::Status, text("in_progress"))])
    })
    .unwrap();
    assert_eq!(outcome, UpdateOutcome::Written);
    let loaded = load(&path, &options).unwrap();
    assert!(loaded.from_snapshot, "the write refreshes the snapshot");
    assert_eq!(
        loaded.checklist.task("T2").unwrap().status,
        StatusValue::Known(TaskStatus::InProgress)
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        loaded.checklist,
        parse(&written),
        "the snapshot is the parse"
    );
    let overview = load_overview(&path, &options).unwrap();
    assert!(overview.from_snapshot);
    assert_eq!(overview.overview, Overview::of(&parse(&written)));
    // An edit the snapshot cannot be derived for is parsed in full instead.
    update(&path, &lock, &options, |_| {
        Ok(vec![set("T3", TaskField::Note, text("two\nlines"))])
    })
    .unwrap();
    let loaded = load(&path, &options).unwrap();
    assert!(loaded.from_snapshot);
    assert_eq!(
        loaded.checklist,
        parse(&std::fs::read_to_string(&path).unwrap())
    );
}

#[test]
fn the_overview_answers_like_the_model() {
    let checklist = parse(&format!(
        "{COMMENTED}  - task_id: T5\n    status: later\n    depends_on: [T9]\n  - task_id: T2\n    title: Again\n    note: |-\n      first\n        \n      last one  \n    status: blocked\n"
    ));
    let overview = Overview::of(&checklist);
    assert_eq!(overview.task_count(), checklist.tasks.len());
    for (brief, task) in overview.tasks().zip(&checklist.tasks) {
        assert_eq!(brief.task_id, task.task_id);
        assert_eq!(brief.title, task.title);
        assert_eq!(brief.status, &task.status);
        assert_eq!(brief.line, task.line());
        assert_eq!((brief.approval, brief.risk), (task.approval, task.risk));
        assert_eq!(brief.attempts, task.attempts);
    }
    assert_eq!(
        overview.tasks().last().unwrap().note_last_line,
        Some("last one")
    );
    assert_eq!(overview.task("T2").unwrap().title, "Flow task");
    let claimed = |task_id: &str| task_id == "T3";
    let from_overview: Vec<&str> = overview
        .ready_tasks(&claimed, &|task| task.approval == Some(Approval::Before))
        .iter()
        .map(|task| task.task_id)
        .collect();
    let from_model: Vec<&str> = checklist
        .ready_tasks(&claimed)
        .iter()
        .map(|task| task.task_id.as_str())
        .collect();
    assert_eq!(from_overview, from_model);
    // Nothing held: the overview keeps every task the file calls ready, for the caller's
    // gate to judge.
    let unheld: Vec<&str> = overview
        .ready_tasks(&|_| false, &|_| false)
        .iter()
        .map(|task| task.task_id)
        .collect();
    let from_model: Vec<&str> = checklist
        .ready_tasks_held(&|_| false, &|_| false)
        .iter()
        .map(|task| task.task_id.as_str())
        .collect();
    assert_eq!(unheld, from_model);
    for allow_missing_validators in [false, true] {
        let options = ValidateOptions {
            allow_missing_validators,
        };
        let problems = overview.problems(options);
        assert!(
            problems.len() >= 4,
            "duplicate, unknown status and dependency, key"
        );
        assert_eq!(problems, checklist.validate(options));
    }
}

/// The model derived after an edit (`None`: not derivable) and the full parse of the
/// edited text; `None` when the editor refuses the edit (nothing would be written).
fn try_derive_after(text: &str, edits: &[TaskEdit]) -> Option<(Option<Checklist>, Checklist)> {
    let old = parse(text);
    let rendered = edit::render(text, &old, edits).ok()?;
    let full = parse(&rendered.text);
    let derived = rendered
        .segments
        .as_deref()
        .and_then(|segments| derive::after_edit(old, text, &rendered.text, segments));
    Some((derived, full))
}

fn derive_after(text: &str, edits: &[TaskEdit]) -> (Option<Checklist>, Checklist) {
    try_derive_after(text, edits).expect("the editor accepts the edit")
}

#[test]
fn the_model_after_an_edit_is_derived_exactly() {
    let blockers = TaskEdit::Summary {
        field: SummaryField::Blockers,
        value: FieldValue::List(vec!["waiting on A3".into(), "review".into()]),
    };
    let cases: Vec<(&str, Vec<TaskEdit>)> = vec![
        (
            BLOCK_STYLE,
            vec![set("A2", TaskField::Status, text("in_progress"))],
        ),
        (
            BLOCK_STYLE,
            vec![set("A1", TaskField::Note, text("one\ntwo\nthree"))],
        ),
        (
            BLOCK_STYLE,
            vec![set("A3", TaskField::Attempts, FieldValue::Integer(3))],
        ),
        (
            BLOCK_STYLE,
            vec![
                set("A4", TaskField::Status, text("complete")),
                set("A1", TaskField::Status, text("failed")),
            ],
        ),
        (
            BLOCK_STYLE,
            vec![blockers, set("A3", TaskField::Note, text("short"))],
        ),
        (
            COMMENTED,
            vec![set("T2", TaskField::Status, text("in_progress"))],
        ),
        (
            COMMENTED,
            vec![set("T3", TaskField::Status, text("blocked"))],
        ),
        (
            COMMENTED,
            vec![
                set("T1", TaskField::Status, text("failed")),
                set("T4", TaskField::Attempts, FieldValue::Integer(9)),
            ],
        ),
    ];
    for (before, edits) in cases {
        let (derived, full) = derive_after(before, &edits);
        assert_eq!(derived, Some(full), "{edits:?}");
    }
}

#[test]
fn an_edit_that_cannot_be_pinned_down_is_not_derived() {
    // A block scalar as a task's last value: a full parse lets its span run into the next
    // task's indentation, a parse of the segment alone cannot, so this must fall back.
    let (derived, _) = derive_after(COMMENTED, &[set("T3", TaskField::Note, text("two\nlines"))]);
    assert_eq!(derived, None);
    // The task after such a block scalar: the scalar's span reaches into the edited text.
    let with_block_last = BLOCK_STYLE.replace(
        "    depends_on: [A1]\n    validators:\n      - \"cargo test --lib\"\n    risk: medium\n",
        "",
    );
    let (derived, full) = derive_after(
        &with_block_last,
        &[set("A3", TaskField::Status, text("complete"))],
    );
    assert!(derived.is_none() || derived == Some(full));
}

#[test]
fn a_reader_of_old_bytes_finds_the_newer_file_and_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.yaml");
    let commented = with_snapshot(COMMENTED);
    std::fs::write(&path, &commented).unwrap();
    let lock = dir.path().join("checklist.lock");
    let options = LoadOptions {
        snapshot_path: Some(dir.path().join("snap")),
    };
    // A writer puts new bytes and their snapshot in place...
    update(&path, &lock, &options, |_| {
        Ok(vec![set("T2", TaskField::Status, text("in_progress"))])
    })
    .unwrap();
    // ...while a reader holds the old bytes, read a moment before: it misses the snapshot,
    // reads the file again and gets the new one from the snapshot, without a parse.
    let (reread, _) = from_text(&path, commented.clone(), &options).unwrap();
    assert!(reread.from_snapshot);
    assert_eq!(reread.text, std::fs::read_to_string(&path).unwrap());
    assert_eq!(
        reread.checklist.task("T2").unwrap().status,
        StatusValue::Known(TaskStatus::InProgress)
    );
    assert!(
        load(&path, &options).unwrap().from_snapshot,
        "the snapshot of the file as it is was kept"
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 3, "no temp file is left: {entries:?}");
}

#[test]
fn snapshot_is_used_only_when_the_bytes_match() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.yaml");
    let commented = with_snapshot(COMMENTED);
    std::fs::write(&path, &commented).unwrap();
    let options = LoadOptions {
        snapshot_path: Some(dir.path().join("snap")),
    };
    assert!(!load(&path, &options).unwrap().from_snapshot);
    assert!(load(&path, &options).unwrap().from_snapshot);
    std::fs::write(&path, commented.replace("title: Third", "title: Changed")).unwrap();
    let loaded = load(&path, &options).unwrap();
    assert!(!loaded.from_snapshot);
    assert_eq!(loaded.checklist.task("T3").unwrap().title, "Changed");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn field_and_value() -> impl Strategy<Value = (TaskField, FieldValue)> {
        prop_oneof![
            prop::sample::select(TaskStatus::ALL.to_vec())
                .prop_map(|s| (TaskField::Status, FieldValue::Text(s.as_str().to_string()))),
            "[ -~\\n]{0,40}".prop_map(|s| (TaskField::Note, FieldValue::Text(s))),
            any::<u16>().prop_map(|n| (TaskField::Attempts, FieldValue::Integer(n as u64))),
        ]
    }

    fn summary_edit() -> impl Strategy<Value = TaskEdit> {
        prop_oneof![
            "[ -~]{0,20}".prop_map(|s| TaskEdit::Summary {
                field: SummaryField::Status,
                value: FieldValue::Text(s),
            }),
            prop::collection::vec("[ -~]{0,12}", 0..3).prop_map(|items| TaskEdit::Summary {
                field: SummaryField::NextActions,
                value: FieldValue::List(items),
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// After any edit the snapshot's model is exactly the full parse, or is not derived;
        /// status changes, the common case, are always derived.
        #[test]
        fn the_derived_model_is_the_full_parse(
            edits in prop::collection::vec((0usize..4, field_and_value()), 0..4),
            statuses in prop::collection::vec(
                (0usize..4, prop::sample::select(TaskStatus::ALL.to_vec())),
                1..4,
            ),
            summary in prop::option::of(summary_edit()),
        ) {
            let ids = ["A1", "A2", "A3", "A4"];
            let status_edits: Vec<TaskEdit> = statuses
                .iter()
                .map(|(i, status)| set(ids[*i], TaskField::Status, text(status.as_str())))
                .collect();
            let (derived, full) = derive_after(BLOCK_STYLE, &status_edits);
            prop_assert_eq!(derived, Some(full));
            let mut all: Vec<TaskEdit> = edits
                .iter()
                .map(|(i, (field, value))| set(ids[*i], *field, value.clone()))
                .chain(status_edits)
                .collect();
            all.extend(summary);
            // Some notes the editor refuses to write (it cannot prove them); nothing to derive.
            if let Some((derived, full)) = try_derive_after(BLOCK_STYLE, &all) {
                prop_assert!(derived.is_none() || derived == Some(full));
            }
        }

        /// Random edits to random tasks change exactly the edited values: every other task
        /// parses to the same thing, and every comment line is still in the file.
        #[test]
        fn random_edits_change_nothing_else(
            edits in prop::collection::vec((0usize..4, field_and_value()), 1..6)
        ) {
            let checklist = parse(COMMENTED);
            let ids = ["T1", "T2", "T3", "T4"];
            let task_edits: Vec<TaskEdit> = edits
                .iter()
                .map(|(i, (field, value))| set(ids[*i], *field, value.clone()))
                .collect();
            let new = render_edits(COMMENTED, &checklist, &task_edits).unwrap();
            let reparsed = parse(&new);
            // The model derived for the snapshot is the full parse, or not derived at all.
            if let Some((derived, full)) = try_derive_after(COMMENTED, &task_edits) {
                prop_assert!(derived.is_none() || derived == Some(full));
            }
            for comment in COMMENTED.lines().filter(|l| l.contains('#') && !l.contains("\"#")) {
                let comment_part = &comment[comment.find('#').unwrap()..];
                prop_assert!(new.contains(comment_part), "lost comment {comment_part}");
            }
            for (index, original) in checklist.tasks.iter().enumerate() {
                let mut expected = original.clone();
                for edit in &task_edits {
                    if let TaskEdit::Task { task_id, field, value } = edit
                        && *task_id == original.task_id
                    {
                        match (field, value) {
                            (TaskField::Status, FieldValue::Text(s)) => {
                                expected.status = StatusValue::Known(s.parse().unwrap())
                            }
                            (TaskField::Note, FieldValue::Text(s)) => expected.note = s.clone(),
                            (TaskField::Attempts, FieldValue::Integer(n)) => {
                                expected.attempts = *n as u32
                            }
                            _ => unreachable!(),
                        }
                    }
                }
                let actual = &reparsed.tasks[index];
                prop_assert_eq!(&actual.task_id, &expected.task_id);
                prop_assert_eq!(&actual.title, &expected.title);
                prop_assert_eq!(&actual.description, &expected.description);
                prop_assert_eq!(&actual.status, &expected.status);
                prop_assert_eq!(&actual.note, &expected.note);
                prop_assert_eq!(actual.attempts, expected.attempts);
                prop_assert_eq!(&actual.validators, &expected.validators);
                prop_assert_eq!(&actual.depends_on, &expected.depends_on);
                prop_assert_eq!(&actual.unknown_keys.len(), &expected.unknown_keys.len());
            }
            prop_assert_eq!(&reparsed.summary.status, &checklist.summary.status);
            prop_assert_eq!(&reparsed.instructions, &checklist.instructions);
        }
    }
}

#[test]
fn a_persons_save_between_read_and_write_is_never_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.yaml");
    std::fs::write(&path, COMMENTED).unwrap();
    let lock = dir.path().join("lock");
    let options = LoadOptions::default();
    let persons_version = COMMENTED.replace("title: Third", "title: Third (renamed by a person)");
    let mut calls = 0;
    let outcome = update(&path, &lock, &options, |_| {
        calls += 1;
        if calls == 1 {
            // A person saves the file after longrun read it and before it writes.
            std::fs::write(&path, &persons_version).unwrap();
        }
        Ok(vec![set("T2", TaskField::Status, text("complete"))])
    })
    .unwrap();
    assert_eq!(outcome, UpdateOutcome::Written);
    assert_eq!(calls, 2, "the edit is made again on the new content");
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        persons_version.replace(
            "'Flow task', status: not_started",
            "'Flow task', status: complete"
        )
    );
}

#[test]
fn a_file_that_keeps_changing_is_refused_not_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.yaml");
    std::fs::write(&path, COMMENTED).unwrap();
    let mut round = 0;
    let result = update(
        &path,
        &dir.path().join("lock"),
        &LoadOptions::default(),
        |_| {
            round += 1;
            std::fs::write(&path, format!("{COMMENTED}# save {round}\n")).unwrap();
            Ok(vec![set("T2", TaskField::Status, text("complete"))])
        },
    );
    assert!(matches!(result, Err(ChecklistError::Contended { .. })));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{COMMENTED}# save {round}\n"),
        "the person's last save is what stays"
    );
}
