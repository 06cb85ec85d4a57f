//! `longrun mine`: findings from a hand-written run log, proposals on disk, `--apply`.

use crate::TestEnv;

const CHECKLIST: &str = r#"tasks:
  - task_id: T1
    title: Add the parser
    description: Parse the config file.
    acceptance_criteria: ["cargo test passes"]
    validators: [["cargo", "test"]]
    note: |
      2026-11-20T10:01:00Z attempt 1: validator `cargo test` exited 101; will be retried
      Use the v2 config API, not v1.
  - task_id: T2
    title: Add the printer
    validators: [["cargo", "test"]]
  - task_id: T3
    title: Lint
    validators: [["make", "lint"]]
"#;

/// An initialised repository with a second commit and a run log full of failures, a fix,
/// interventions and follow-ups.
pub fn mined_repo() -> TestEnv {
    let env = TestEnv::initialized();
    env.write("checklist.yaml", CHECKLIST);
    env.write("src.txt", "fixed\n");
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "the fix"]);
    let commit = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let short = &commit[..10];
    env.write(
        ".longrun/runs/20261120T100000Z/T1/1/failure.md",
        "# T1, attempt 1: rejected\n\nvalidator `cargo test` exited 101\n",
    );
    env.write(
        ".longrun/runs/20261120T100000Z/T1/1/validate/1/output.log",
        "running 3 tests\ntest parse ... FAILED\nerror: test failed\n",
    );
    let log = format!(
        "# Run log\n\n## Context\n- Repo: test\n\n## Events (append-only)\n\
- 2026-11-20T10:00:00Z dispatch [T1] attempt=1 agent=fake: worker started in .longrun/worktrees/T1 → .longrun/runs/20261120T100000Z/T1/1\n\
- 2026-11-20T10:01:00Z failure [T1] attempt=1: validator `cargo test` exited 101 → .longrun/runs/20261120T100000Z/T1/1/failure.md\n\
- 2026-11-20T10:02:00Z failure [T2] attempt=1: validator `cargo test` exited 1 → .longrun/runs/20261120T100000Z/T2/1/failure.md\n\
- 2026-11-20T10:03:00Z failure [T3] attempt=1: validator `make lint` exited 2 → .longrun/runs/20261120T100000Z/T3/1/failure.md\n\
- 2026-11-20T10:04:00Z failure [T3] attempt=2: validator `make lint` exited 2 → .longrun/runs/20261120T100500Z/T3/2/failure.md\n\
- 2026-11-20T10:05:00Z note [T2]: task set by hand: status=not_started\n\
- 2026-11-20T10:06:00Z decision: always run the formatter before committing\n\
- 2026-11-20T10:07:00Z approve [T1]: looks right\n\
- 2026-11-20T10:09:00Z merge [T1] attempt=2 commit={short}: merged into `main` as {short} (tree 0123456789); validators: `cargo test` exit 0 in 5 ms (.longrun/runs/20261120T100900Z/T1/2/validate/1/output.log)\n\
\n## Follow-ups\n- Skills to extract:\n  - How to retry a flaky network test\n- Evals to add:\n  - the parser fix of T1\n  - a `make lint` run that nobody fixed\n- Agent guidelines to update (`AGENTS.md`):\n  - document the retry policy\n- Docs to update:\n  - the FAQ\n"
    );
    env.write("run-log.md", log);
    env
}

#[test]
fn mining_finds_groups_fixes_interventions_and_follow_ups() {
    let env = mined_repo();
    let commit_before = env.git(&["rev-parse", "HEAD^"]).trim().to_string();
    let run = env.longrun(&["mine", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = &value["findings"];
    assert_eq!(findings["events"], 9);
    let groups = findings["failure_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:#?}");
    assert_eq!(groups[0]["count"], 2);
    assert_eq!(groups[0]["signature"], "validator `cargo test` exited #");
    assert_eq!(groups[0]["tasks"], serde_json::json!(["T1", "T2"]));
    assert_eq!(groups[1]["validator"], "make lint");
    let fixes = findings["fixes"].as_array().unwrap();
    assert_eq!(fixes.len(), 1);
    assert_eq!(fixes[0]["task"], "T1");
    assert_eq!(fixes[0]["failed_attempt"], 1);
    assert_eq!(fixes[0]["fixed_attempt"], 2);
    assert_eq!(fixes[0]["commit_before"], commit_before.as_str());
    let kinds: Vec<&str> = findings["interventions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hand-edit", "steering", "approval", "task-note"]);
    let follow_ups: Vec<(&str, &str)> = findings["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["category"].as_str().unwrap(),
                item["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        follow_ups,
        [
            ("skills-to-extract", "How to retry a flaky network test"),
            ("evals-to-add", "the parser fix of T1"),
            ("evals-to-add", "a `make lint` run that nobody fixed"),
            ("guidelines-to-update", "document the retry policy"),
            ("docs-to-update", "the FAQ"),
        ]
    );
    let proposals = &value["proposals"];
    assert_eq!(
        proposals["skills"],
        serde_json::json!([
            "fix-cargo-test",
            "fix-make-lint",
            "how-to-retry-a-flaky-network-test"
        ])
    );
    // The eval the T1 item asks for is the one its fix already gives; the other has no fix
    // to replay and is only listed.
    assert_eq!(
        proposals["follow_up_evals"],
        serde_json::json!([{"item": "the parser fix of T1", "eval": "t1-cargo-test"}])
    );
    assert_eq!(
        proposals["evals_without_evidence"],
        serde_json::json!(["a `make lint` run that nobody fixed"])
    );

    // The proposals: two skills, one eval at the commit before the fix, a patch.
    let dir = ".longrun/proposals/20261121T090000Z";
    let skill = env.read(&format!("{dir}/skills/fix-cargo-test/SKILL.md"));
    assert!(skill.starts_with("---\nname: fix-cargo-test\n"), "{skill}");
    assert!(skill.contains("## Verification"), "{skill}");
    assert!(
        skill.contains(&format!("git diff {commit_before}")),
        "{skill}"
    );
    let evidence = env.read(&format!(
        "{dir}/skills/fix-cargo-test/references/evidence.md"
    ));
    assert!(evidence.contains("test parse ... FAILED"), "{evidence}");
    assert!(
        env.path(&format!("{dir}/skills/fix-make-lint/SKILL.md"))
            .is_file()
    );
    let eval = env.read(&format!("{dir}/evals/t1-cargo-test.yaml"));
    assert!(eval.contains(&format!("base: '{commit_before}'")), "{eval}");
    assert!(eval.contains("Add the parser"), "{eval}");
    assert!(eval.contains("  - 'cargo test'"), "{eval}");
    let patch = env.read(&format!("{dir}/AGENTS.md.patch"));
    assert!(patch.contains("+## Lessons from longrun mine"), "{patch}");
    assert!(patch.contains("Use the v2 config API"), "{patch}");
    assert!(patch.contains("+- document the retry policy\n"), "{patch}");
    assert!(
        !patch.contains("FAQ"),
        "docs to update are not guidelines: {patch}"
    );
    let extracted = env.read(&format!(
        "{dir}/skills/how-to-retry-a-flaky-network-test/SKILL.md"
    ));
    for section in [
        "## When to use",
        "## Procedure",
        "## Verification",
        "## Evidence",
        "`run-log.md` line 19",
    ] {
        assert!(extracted.contains(section), "{section} in {extracted}");
    }

    // Deterministic: mining again writes the same bytes.
    let first = env.read(&format!("{dir}/skills/fix-cargo-test/SKILL.md"));
    let again = env.longrun(&["mine"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        env.read(&format!("{dir}/skills/fix-cargo-test/SKILL.md")),
        first
    );
    assert!(again.stdout.contains("Repeated failures"), "{again:?}");
    assert!(again.stdout.contains("longrun mine --apply"), "{again:?}");
}

/// The interventions of a `mine --json` run: kind and task.
fn intervention_kinds(value: &serde_json::Value) -> Vec<(String, String)> {
    value["findings"]["interventions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["task"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn since_filters_events_and_task_notes_by_their_time() {
    let env = mined_repo();
    // A person replaces T2's note now (2026-11-21T09:00:00Z): its lines date from then.
    let set = env.longrun(&["task", "set", "T2", "--note", "prefer the streaming parser"]);
    assert_eq!(set.code, 0, "{set:?}");
    let all = env.longrun(&["mine", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(
        intervention_kinds(&value),
        pairs(&[
            ("hand-edit", "T2"),
            ("steering", "-"),
            ("approval", "T1"),
            ("hand-edit", "T2"),
            ("task-note", "T1"),
            ("task-note", "T2"),
        ])
    );
    assert_eq!(
        value["findings"]["interventions"][5]["at"],
        "2026-11-21T09:00:00Z"
    );

    let since = env.longrun(&["mine", "--json", "--since", "2026-11-20T10:03:00Z"]);
    assert_eq!(since.code, 0, "{since:?}");
    let value: serde_json::Value = serde_json::from_str(&since.stdout).unwrap();
    assert_eq!(value["findings"]["events"], 7, "{since:?}");
    // T1's note line follows a line of 10:01, before --since: left out.
    assert_eq!(
        intervention_kinds(&value),
        pairs(&[
            ("hand-edit", "T2"),
            ("steering", "-"),
            ("approval", "T1"),
            ("hand-edit", "T2"),
            ("task-note", "T2"),
        ])
    );
    let later = env.longrun(&["mine", "--json", "--since", "2026-11-21"]);
    let value: serde_json::Value = serde_json::from_str(&later.stdout).unwrap();
    assert_eq!(
        intervention_kinds(&value),
        pairs(&[("hand-edit", "T2"), ("task-note", "T2")])
    );
    let bad = env.longrun(&["mine", "--since", "yesterday"]);
    assert_eq!(bad.code, 2, "{bad:?}");
}

/// `--run` reads the run's folder: its tasks' events from the run's start to their next
/// run, with what people did about them; a note with no time is left out and counted.
#[test]
fn run_keeps_its_tasks_events_and_interventions() {
    let env = mined_repo();
    // A note written by hand into the checklist: nothing tells when.
    let checklist = env.read("checklist.yaml").replace(
        "    title: Lint\n",
        "    title: Lint\n    note: ask Ada about the lint rules\n",
    );
    env.write("checklist.yaml", checklist);
    for attempt in ["T2/1", "T3/1"] {
        env.write(
            &format!(".longrun/runs/20261120T100000Z/{attempt}/result.json"),
            "{}",
        );
    }
    let run = env.longrun(&["mine", "--json", "--run", "20261120T100000Z"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = &value["findings"];
    // Not the attempts 2 of T1 and T3 (other runs: T1's merge is one), nor the decision
    // about no task.
    assert_eq!(findings["events"], 6, "{}", run.stdout);
    assert_eq!(
        findings["run"]["tasks"],
        serde_json::json!({"T1": [1], "T2": [1], "T3": [1]})
    );
    assert_eq!(findings["run"]["start"], "2026-11-20T10:00:00Z");
    // T1's note line follows one of 10:01, inside T1's part of the run.
    assert_eq!(
        intervention_kinds(&value),
        pairs(&[("hand-edit", "T2"), ("approval", "T1"), ("task-note", "T1")])
    );
    assert_eq!(findings["notes_without_time"], 1);
    assert_eq!(findings["fixes"], serde_json::json!([]));
    let groups = findings["failure_groups"].as_array().unwrap();
    assert_eq!(groups[0]["count"], 2);
    assert_eq!(groups[1]["count"], 1, "T3's first attempt only");
    let report = env.longrun(&["mine", "--run", "20261120T100000Z"]);
    assert!(
        report.stdout.contains(
            "Run `20261120T100000Z` (`.longrun/runs/20261120T100000Z`) from 2026-11-20T10:00:00Z: T1 (attempt 1), T2 (attempt 1), T3 (attempt 1); each task's events until its next run or its merge.\n1 task-note line(s) left out: nothing tells when they were written.\n"
        ),
        "{report:?}"
    );

    let unknown = env.longrun(&["mine", "--run", "20991231T000000Z"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no run `20991231T000000Z`")
            && unknown.stderr.contains("the newest runs: 20261120T100000Z"),
        "{unknown:?}"
    );
    let escape = env.longrun(&["mine", "--run", "../runs"]);
    assert_eq!(escape.code, 2, "{escape:?}");
    assert!(escape.stderr.contains("is not a run id"), "{escape:?}");
}

#[test]
fn apply_installs_what_was_kept_and_never_overwrites_without_force() {
    let env = mined_repo();
    assert_eq!(env.longrun(&["mine"]).code, 0);
    let dir = env.path(".longrun/proposals/20261121T090000Z");
    // A person rejects one skill by deleting it.
    std::fs::remove_dir_all(dir.join("skills/fix-make-lint")).unwrap();
    env.write(".agents/skills/fix-cargo-test/SKILL.md", "mine\n");
    let run = env.longrun(&["mine", "--apply"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.read(".agents/skills/fix-cargo-test/SKILL.md"), "mine\n");
    assert!(run.stdout.contains("skipped (already exists"), "{run:?}");
    assert!(!env.path(".agents/skills/fix-make-lint").exists());
    assert!(env.path("evals/t1-cargo-test.yaml").is_file());
    let agents = env.read("AGENTS.md");
    assert!(agents.contains("## Lessons from longrun mine"), "{agents}");
    let log = env.read("run-log.md");
    assert!(
        log.contains(": mine applied eval `t1-cargo-test`: installed `evals/t1-cargo-test.yaml`"),
        "{log}"
    );
    assert!(log.contains("mine applied agents-md"), "{log}");
    assert!(
        !log.contains("mine applied skill `fix-cargo-test`"),
        "{log}"
    );
    let shown = env.longrun(&["eval", "show", "t1-cargo-test"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    let listed = env.longrun(&["eval", "list"]);
    assert!(listed.stdout.contains("t1-cargo-test  base "), "{listed:?}");

    let forced = env.longrun(&["mine", "--apply", "--force"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(
        env.read(".agents/skills/fix-cargo-test/SKILL.md")
            .starts_with("---\n")
    );
    assert!(
        env.path(".agents/skills/fix-cargo-test/references/evidence.md")
            .is_file()
    );
    assert!(
        env.read("run-log.md")
            .contains("overwrote `.agents/skills/fix-cargo-test`")
    );
}

#[test]
fn apply_without_proposals_says_what_to_do() {
    let env = TestEnv::initialized();
    let run = env.longrun(&["mine", "--apply"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("run `longrun mine` first"), "{run:?}");
    let empty = env.longrun(&["mine"]);
    assert_eq!(empty.code, 0, "{empty:?}");
    assert!(empty.stdout.contains("Nothing to propose."), "{empty:?}");
}

/// The real cycle's events, mined: the fix pair is found, its eval is proposed at the commit
/// before the fix, and after `--apply` the eval replays with the fake agent.
#[cfg(feature = "fake-agent")]
#[test]
fn a_real_cycles_fix_becomes_an_eval_that_replays() {
    use crate::cycle::CycleRepo;
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Write hello\n    validators: [[\"test\", \"-f\", \"hello.txt\"]]\n  - task_id: T2\n    title: Say world\n    depends_on: [T1]\n    validators: [[\"grep\", \"-q\", \"world\", \"hello.txt\"]]\n",
    );
    repo.script("T1", "write hello.txt hello\ncommit add hello\n");
    repo.script(
        "T2",
        "only-on-attempt 1 write hello.txt hello there\nonly-on-attempt 2 write hello.txt hello world\ncommit attempt\n",
    );
    repo.cycle_until_settled(std::time::Duration::from_secs(60));
    let env = &repo.env;
    let run = env.longrun(&["mine", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let fixes = value["findings"]["fixes"].as_array().unwrap();
    assert_eq!(fixes.len(), 1, "{}", run.stdout);
    assert_eq!(fixes[0]["task"], "T2");
    assert_eq!(fixes[0]["validator"], "grep -q world hello.txt");
    let before = fixes[0]["commit_before"].as_str().unwrap().to_string();
    let t1_merge = env.git(&["log", "--format=%H", "--grep=Merge T1", "main"]);
    assert_eq!(
        before,
        t1_merge.trim(),
        "the eval starts where T2's fix started"
    );
    assert_eq!(
        value["proposals"]["evals"],
        serde_json::json!(["t2-grep-q-world-hello-txt"])
    );
    let apply = env.longrun(&["mine", "--apply"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    repo.script(
        "t2-grep-q-world-hello-txt",
        "write hello.txt hello world\ncommit fix\n",
    );
    let replay = env.longrun(&["eval", "run", "t2-grep-q-world-hello-txt", "--json"]);
    assert_eq!(replay.code, 0, "{replay:?}");
    let results: serde_json::Value = serde_json::from_str(&replay.stdout).unwrap();
    assert_eq!(results["profiles"][0]["passed"], 1, "{}", replay.stdout);
}

/// Every fix gets its base commit, not only the ones that become evals: T1 was fixed
/// twice, and the first fix is not an eval candidate (only the latest fix of a task and
/// validator is).
#[test]
fn every_fix_gets_the_commit_it_started_from() {
    let env = TestEnv::initialized();
    env.write("checklist.yaml", CHECKLIST);
    let mut commits = Vec::new();
    for name in ["one", "two"] {
        env.write("src.txt", format!("{name}\n"));
        env.git(&["add", "-A"]);
        env.git(&["commit", "-q", "-m", name]);
        commits.push(env.git(&["rev-parse", "HEAD"]).trim().to_string());
    }
    let parent_of_first = env.git(&["rev-parse", "HEAD~2"]).trim().to_string();
    let (first, second) = (&commits[0][..10], &commits[1][..10]);
    env.write(
        "run-log.md",
        format!(
            "# Run log\n\n## Events (append-only)\n\
- 2026-11-20T10:01:00Z failure [T1] attempt=1: validator `cargo test` exited 101\n\
- 2026-11-20T10:02:00Z merge [T1] attempt=2 commit={first}: validators: `cargo test` exit 0 in 5 ms (x)\n\
- 2026-11-20T10:03:00Z failure [T1] attempt=3: validator `cargo test` exited 101\n\
- 2026-11-20T10:04:00Z merge [T1] attempt=4 commit={second}: validators: `cargo test` exit 0 in 5 ms (x)\n\
- 2026-11-20T10:05:00Z merge [T2] attempt=1 commit=0000000000: validators: `cargo test` exit 0 in 5 ms (x)\n"
        ),
    );
    let run = env.longrun(&["mine", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let fixes = value["findings"]["fixes"].as_array().unwrap();
    assert_eq!(fixes.len(), 2, "{}", run.stdout);
    assert_eq!(fixes[0]["commit_before"], parent_of_first.as_str());
    assert_eq!(fixes[1]["commit_before"], commits[0].as_str());
    assert_eq!(value["proposals"]["evals"].as_array().unwrap().len(), 1);
}

/// Only a person's actions are interventions: a real cycle with approvals, a vacuous
/// validator, notifications, refused heartbeats and releases, the kill switch and an agent's
/// own `longrun log` writes plenty of notes, decisions, evidence and rejections, and none of
/// them is taken for a person's (nor ends up in the AGENTS.md patch).
#[cfg(feature = "fake-agent")]
#[test]
fn mine_counts_only_a_persons_interventions_in_a_real_cycles_log() {
    use crate::cycle::CycleRepo;
    let repo = CycleRepo::with_config(
        "tasks:\n  - task_id: T1\n    title: Vacuous\n    approval: after\n    validators: [[\"test\", \"-f\", \"README.md\"]]\n  - task_id: T2\n    title: Rejected\n    approval: after\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n  - task_id: T3\n    title: Asked first\n    approval: before\n    validators: [[\"test\", \"-f\", \"c.txt\"]]\n",
        "notify:\n  command: [\"true\"]\n  on: [awaiting_approval]\n",
    );
    let env = &repo.env;
    env.write("README.md", "already here\n");
    env.git(&["add", "README.md"]);
    env.git(&["commit", "-q", "-m", "readme"]);
    env.git(&["config", "user.name", "Ada Reviewer"]);
    env.git(&["config", "user.email", "ada@example.com"]);
    repo.script("T1", "write a.txt a\ncommit a\n");
    repo.script("T2", "write b.txt b\ncommit b\n");
    repo.script("T3", "write c.txt c\ncommit c\n");
    let waiting = |ids: &[&str]| {
        let start = std::time::Instant::now();
        while !ids
            .iter()
            .all(|id| repo.task(id)["status"]["Known"] == "awaiting_approval")
        {
            let run = repo.cycle();
            assert!(run.code == 0 || run.code == 1, "{run:?}");
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "{}",
                repo.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    waiting(&["T1", "T2", "T3"]);
    let wrong = "0123456789abcdef0123456789abcdef";
    assert_eq!(env.longrun(&["heartbeat", "T1", "--token", wrong]).code, 1);
    assert_eq!(
        env.longrun(&["release", "T1", "--token", wrong, "--status", "complete"])
            .code,
        1
    );
    assert_eq!(
        env.longrun(&["approve", "T1", "--note", "looks right"])
            .code,
        0
    );
    assert_eq!(
        env.longrun(&["reject", "T2", "--reason", "naming is off"])
            .code,
        0
    );
    assert_eq!(env.longrun(&["approve", "T3"]).code, 0);
    let agent = env.longrun_with_env(
        &env.root,
        &[
            "log",
            "note",
            "--task",
            "T1",
            "the parser needs a lookahead",
        ],
        &[("LONGRUN_TASK_ID", "T1")],
    );
    assert_eq!(agent.code, 0, "{agent:?}");
    assert_eq!(
        env.longrun(&["log", "note", "--task", "T1", "use the v2 API"])
            .code,
        0
    );
    repo.cycle_until_settled(std::time::Duration::from_secs(60));
    assert_eq!(env.longrun(&["stop"]).code, 0);
    assert_eq!(env.longrun(&["resume"]).code, 0);
    let set = env.longrun(&["task", "set", "T2", "--status", "archived"]);
    assert_eq!(set.code, 0, "{set:?}");

    // The machine's events are all there to be mistaken for a person's.
    let log = repo.log();
    for written in [
        "evidence [T1]: vacuous validator:",
        "awaits approval",
        "note [T1]: notify `awaiting_approval` started",
        "reject [T1] operation=heartbeat",
        "reject [T1] operation=release",
        "decision: kill switch on",
        "note [T1] by=agent: the parser needs a lookahead",
        "failure [T2] attempt=1: rejected by Ada Reviewer",
    ] {
        assert!(log.contains(written), "{written:?} in {log}");
    }
    let run = env.longrun(&["mine", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let interventions: Vec<(String, String, String)> = value["findings"]["interventions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["task"].as_str().unwrap_or("-").to_string(),
                i["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let kinds: Vec<(&str, &str)> = interventions
        .iter()
        .map(|(kind, task, _)| (kind.as_str(), task.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("approval", "T1"),
            ("rejection", "T2"),
            ("approval", "T3"),
            ("steering", "T1"),
            ("hand-edit", "T2"),
        ],
        "{interventions:#?}"
    );
    assert!(interventions[1].2.contains("naming is off"));
    assert_eq!(interventions[3].2, "use the v2 API");
    let patch = env.read(".longrun/proposals/20261121T090000Z/AGENTS.md.patch");
    assert!(
        patch.contains("+- A person had to say, on T1: use the v2 API\n"),
        "{patch}"
    );
    for machine in [
        "vacuous",
        "awaits approval",
        "notify",
        "refused",
        "kill switch",
        "lookahead",
        "dispatch approved",
    ] {
        assert!(!patch.contains(machine), "{machine:?} in {patch}");
    }
}

/// The run at `now` (`LONGRUN_NOW`), with its exit code checked.
fn longrun_at(env: &TestEnv, now: &str, args: &[&str]) -> crate::Run {
    env.longrun_with_env(&env.root, args, &[("LONGRUN_NOW", now)])
}

/// `--apply --from` installs the proposals a person reviewed, not whatever a later `mine`
/// wrote; plain `--apply` names the newest it takes.
#[test]
fn apply_from_installs_the_reviewed_proposals_and_names_them() {
    let env = mined_repo();
    assert_eq!(env.longrun(&["mine"]).code, 0);
    let reviewed = ".longrun/proposals/20261121T090000Z";
    // The person reviews the first proposals (rejecting a skill) while mine runs again.
    std::fs::remove_dir_all(env.path(&format!("{reviewed}/skills/fix-make-lint"))).unwrap();
    let later = longrun_at(&env, "2026-11-22T09:00:00Z", &["mine"]);
    assert_eq!(later.code, 0, "{later:?}");
    assert!(
        env.path(".longrun/proposals/20261122T090000Z/skills/fix-make-lint")
            .is_dir()
    );

    let run = env.longrun(&["mine", "--apply", "--from", "20261121T090000Z", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["directory"], reviewed);
    let applied: Vec<(&str, &str, &str)> = value["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["kind"].as_str().unwrap(),
                item["name"].as_str().unwrap(),
                item["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        applied,
        [
            ("skill", "fix-cargo-test", "installed"),
            ("skill", "how-to-retry-a-flaky-network-test", "installed"),
            ("eval", "t1-cargo-test", "installed"),
            ("agents-md", "Lessons from longrun mine", "installed"),
        ]
    );
    assert_eq!(
        value["applied"][0]["destination"],
        ".agents/skills/fix-cargo-test"
    );
    assert!(!env.path(".agents/skills/fix-make-lint").exists());
    assert!(env.read("run-log.md").contains(&format!(
        "proposal={reviewed}: mine applied skill `fix-cargo-test`"
    )));

    // A path works too; an unknown name is an error that lists what there is.
    let by_path = env.longrun(&[
        "mine",
        "--apply",
        "--from",
        ".longrun/proposals/20261122T090000Z",
    ]);
    assert_eq!(by_path.code, 0, "{by_path:?}");
    assert!(
        by_path
            .stdout
            .starts_with("Applied `.longrun/proposals/20261122T090000Z`:\n"),
        "{by_path:?}"
    );
    let unknown = env.longrun(&["mine", "--apply", "--from", "20990101T000000Z"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no proposals `20990101T000000Z`")
            && unknown
                .stderr
                .contains("proposals: 20261122T090000Z, 20261121T090000Z"),
        "{unknown:?}"
    );
    let from_without_apply = env.longrun(&["mine", "--from", "20261121T090000Z"]);
    assert_eq!(from_without_apply.code, 2, "{from_without_apply:?}");

    let newest = env.longrun(&["mine", "--apply"]);
    assert_eq!(newest.code, 0, "{newest:?}");
    assert!(
        newest.stderr.contains(
            "applying the newest proposals, `.longrun/proposals/20261122T090000Z` (`--from DIR` applies another)"
        ),
        "{newest:?}"
    );
}

/// `--force` overwrites an eval and adds new lessons to the one Lessons section; lessons
/// AGENTS.md already says are not proposed again.
#[test]
fn force_overwrites_evals_and_adds_lessons_to_the_one_section() {
    let env = mined_repo();
    env.write("evals/t1-cargo-test.yaml", "mine\n");
    assert_eq!(env.longrun(&["mine"]).code, 0);
    let first = env.longrun(&["mine", "--apply", "--json"]);
    assert_eq!(first.code, 0, "{first:?}");
    let value: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    let eval = &value["applied"][3];
    assert_eq!(eval["name"], "t1-cargo-test");
    assert_eq!(eval["outcome"], "skipped");
    assert_eq!(eval["reason"], "already exists (use --force to overwrite)");
    assert_eq!(env.read("evals/t1-cargo-test.yaml"), "mine\n");
    let agents = env.read("AGENTS.md");
    assert_eq!(agents.matches("## Lessons from longrun mine").count(), 1);
    assert!(agents.contains("- document the retry policy\n"), "{agents}");

    // Mined again: every lesson is in AGENTS.md already, so there is no patch.
    let again = longrun_at(&env, "2026-11-22T09:00:00Z", &["mine", "--json"]);
    assert_eq!(again.code, 0, "{again:?}");
    let value: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(
        value["proposals"]["agents_patch"], false,
        "{}",
        again.stdout
    );
    assert_eq!(value["proposals"]["lessons_already_in_agents_md"], 5);
    assert!(
        !env.path(".longrun/proposals/20261122T090000Z/AGENTS.md.patch")
            .exists()
    );
    let report = longrun_at(&env, "2026-11-22T10:00:00Z", &["mine"]);
    assert!(
        report
            .stdout
            .contains("(5 lesson(s) left out: AGENTS.md already says them)"),
        "{report:?}"
    );

    // A new lesson: without --force the section is not touched, with it the lesson joins
    // the section there is.
    let note = longrun_at(
        &env,
        "2026-11-23T09:00:00Z",
        &["log", "note", "always rebase before merging"],
    );
    assert_eq!(note.code, 0, "{note:?}");
    assert_eq!(longrun_at(&env, "2026-11-23T09:00:00Z", &["mine"]).code, 0);
    let patch = env.read(".longrun/proposals/20261123T090000Z/AGENTS.md.patch");
    assert_eq!(
        proposed_lessons(&patch),
        ["- A person had to say: always rebase before merging"]
    );
    let refused = env.longrun(&["mine", "--apply"]);
    assert!(
        refused
            .stdout
            .contains("skipped (AGENTS.md already has `## Lessons from longrun mine` (use --force to add the new lessons to it))"),
        "{refused:?}"
    );
    let forced = env.longrun(&["mine", "--apply", "--force", "--json"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    let value: serde_json::Value = serde_json::from_str(&forced.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = value["applied"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["kind"] != "skill")
        .map(|item| {
            (
                item["name"].as_str().unwrap(),
                item["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("t1-cargo-test", "overwritten"),
            ("Lessons from longrun mine", "overwritten"),
        ]
    );
    assert!(env.read("evals/t1-cargo-test.yaml").contains("base: '"));
    let agents = env.read("AGENTS.md");
    assert_eq!(
        agents.matches("## Lessons from longrun mine").count(),
        1,
        "{agents}"
    );
    assert!(
        agents.ends_with(
            "- document the retry policy\n- A person had to say: always rebase before merging\n"
        ),
        "{agents}"
    );
    assert!(
        env.read("run-log.md")
            .contains("mine applied agents-md `Lessons from longrun mine`: overwrote `AGENTS.md`")
    );
}

fn proposed_lessons(patch: &str) -> Vec<&str> {
    patch
        .lines()
        .filter_map(|line| line.strip_prefix('+'))
        .filter(|line| line.starts_with("- "))
        .collect()
}
