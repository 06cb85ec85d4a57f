use crate::{RUN_LOG, with_checklist};

#[test]
fn log_appends_at_the_end_of_events_before_follow_ups() {
    let env = with_checklist();
    let run = env.longrun(&[
        "log",
        "decision",
        "--task",
        "T2",
        "use a hand-written lexer",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "- 2026-11-21T09:00:00Z decision [T2]: use a hand-written lexer\n"
    );
    let expected = RUN_LOG.replace(
        "- 2026-11-20T10:00:00Z decision: use the parser crate\n",
        "- 2026-11-20T10:00:00Z decision: use the parser crate\n- 2026-11-21T09:00:00Z decision [T2]: use a hand-written lexer\n",
    );
    assert_eq!(env.read("run-log.md"), expected);
}

#[test]
fn log_refuses_unknown_kinds_and_tasks() {
    let env = with_checklist();
    let run = env.longrun(&["log", "gossip", "hello"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("decision"), "{run:?}");
    let run = env.longrun(&["log", "note", "--task", "T9", "hello"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no task `T9`"), "{run:?}");
    assert_eq!(env.read("run-log.md"), RUN_LOG);
}

#[test]
fn a_multi_line_message_stays_one_event_line() {
    let env = with_checklist();
    let run = env.longrun(&["log", "evidence", "line one\nline two"]);
    assert_eq!(run.code, 0, "{run:?}");
    let log = env.read("run-log.md");
    assert!(
        log.contains("- 2026-11-21T09:00:00Z evidence: line one\\nline two\n"),
        "{log}"
    );
}

#[test]
fn garbage_lines_are_kept_and_reported() {
    let env = with_checklist();
    let with_garbage = RUN_LOG.replace(
        "## Follow-ups",
        "this is not an event\n- 2026-13-45T99:00:00Z note: bad date\n\n## Follow-ups",
    );
    env.write("run-log.md", &with_garbage);
    let check = env.longrun(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check
            .stdout
            .contains("run-log.md:9:1: warning: kept as written and skipped: not an event"),
        "{check:?}"
    );
    assert!(check.stdout.contains("run-log.md:10:1: warning: kept as written and skipped: `2026-13-45T99:00:00Z` is not a timestamp"), "{check:?}");
    let status = env.longrun(&["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status.stdout.contains("decision: use the parser crate"),
        "{status:?}"
    );
    let run = env.longrun(&["log", "note", "after the garbage"]);
    assert_eq!(run.code, 0, "{run:?}");
    let log = env.read("run-log.md");
    assert!(log.contains("this is not an event\n- 2026-13-45T99:00:00Z note: bad date\n- 2026-11-21T09:00:00Z note: after the garbage\n"), "{log}");
}

#[test]
fn task_set_leaves_an_event() {
    let env = with_checklist();
    let run = env.longrun(&["task", "set", "T2", "--status", "archived"]);
    assert_eq!(run.code, 0, "{run:?}");
    let log = env.read("run-log.md");
    assert!(
        log.contains("- 2026-11-21T09:00:00Z note [T2] status=archived: task set by hand: status → archived\n"),
        "{log}"
    );
}

#[test]
fn an_agent_in_a_linked_worktree_logs_into_the_primary_checkout() {
    let env = with_checklist();
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "state files"]);
    env.git(&[
        "worktree",
        "add",
        "-q",
        ".longrun/worktrees/T2",
        "-b",
        "longrun/T2",
    ]);
    let worktree = env.path(".longrun/worktrees/T2");
    let run = env.longrun_in(
        &worktree,
        &["log", "note", "--task", "T2", "from the worktree"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        env.read("run-log.md")
            .contains("note [T2]: from the worktree")
    );
    // The worktree's own copy is untouched.
    assert_eq!(
        std::fs::read_to_string(worktree.join("run-log.md")).unwrap(),
        RUN_LOG
    );
}

#[test]
fn doctor_says_when_a_section_after_events_makes_every_event_a_rewrite() {
    let env = crate::TestEnv::initialized();
    let doctor = env.longrun(&["doctor"]);
    assert!(
        doctor.stdout.contains("ok   `run-log.md`: reads\n"),
        "{doctor:?}"
    );
    env.write("run-log.md", RUN_LOG);
    let doctor = env.longrun(&["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("ok   `run-log.md`: reads; a section follows Events, so every event rewrites the whole file"),
        "{doctor:?}"
    );
}
