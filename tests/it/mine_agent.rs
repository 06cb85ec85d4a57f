//! `longrun mine --agent PROFILE` with the scripted fake agent as the writer: good prose
//! replaces the deterministic drafts, prose that breaks an Agent Skills rule is refused with
//! the rule named, and a failing agent leaves the deterministic proposals as they were.

use crate::TestEnv;
use crate::cycle::fake_agent;

pub const PROPOSALS: &str = ".longrun/proposals/20261121T090000Z";

/// The mined repository of `mine.rs` with a `writer` profile running the fake agent on
/// `steps`.
pub fn writer_repo(steps: &str) -> TestEnv {
    let env = crate::mine::mined_repo();
    let script = env.root.parent().unwrap().join("writer-script");
    std::fs::write(&script, steps).unwrap();
    env.write(
        "longrun.yaml",
        format!(
            "agents:\n  writer:\n    kind: command\n    command: [\"{}\", \"include {}\"]\n    prompt: stdin\n    timeout: 60s\n",
            fake_agent(),
            script.display()
        ),
    );
    env
}

pub const GOOD_SKILL: &str = "---\nname: fix-cargo-test\ndescription: 'Fix a failing `cargo test`: reproduce it, read the first failing test, fix the cause. Use when `cargo test` fails on a task.'\nmetadata:\n  source: 'longrun mine'\n---\n\n# When `cargo test` fails\n\n## When to use\n\nWhen `cargo test` fails on a task, as it did on T1 and T2.\n\n## Procedure\n\n1. Run `cargo test` in the worktree and read the first failure.\n2. Fix the cause; commit.\n\n## Verification\n\n`cargo test` exits 0 on the committed state.\n\n## Evidence\n\n[references/evidence.md](references/evidence.md): the failures of T1 and T2.\n";

/// Valid front matter, but the body lost the verification step and the evidence link.
pub const SKILL_WITHOUT_VERIFICATION: &str = "---\nname: fix-cargo-test\ndescription: 'Fix a failing `cargo test`. Use when `cargo test` fails on a task.'\n---\n\n# When `cargo test` fails\n\n## When to use\n\nWhen `cargo test` fails.\n\n## Procedure\n\n1. Fix it.\n\n## Evidence\n\nThe run log.\n";

/// `text` as one argument of a fake agent step.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

pub fn good_prose_steps() -> String {
    format!(
        "write drafts/skills/fix-cargo-test/SKILL.md {}\nwrite drafts/guidelines.md {}\nwrite drafts/notes.txt scratch\n",
        escape(GOOD_SKILL),
        escape(
            "- Run `cargo test` before every commit; see the `fix-cargo-test` skill.\n- Use the v2 config API, not v1.\n"
        )
    )
}

/// The proposals plain `longrun mine` writes, file by file.
fn deterministic(env: &TestEnv) -> Vec<(String, String)> {
    let run = env.longrun(&["mine"]);
    assert_eq!(run.code, 0, "{run:?}");
    [
        "skills/fix-cargo-test/SKILL.md",
        "skills/fix-make-lint/SKILL.md",
        "AGENTS.md.patch",
    ]
    .iter()
    .map(|file| (file.to_string(), env.read(&format!("{PROPOSALS}/{file}"))))
    .collect()
}

#[test]
fn good_prose_replaces_the_drafts_and_installs() {
    let env = writer_repo(&good_prose_steps());
    let drafts = deterministic(&env);
    let run = env.longrun(&["mine", "--agent", "writer"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Prose by agent `writer`:"), "{run:?}");
    assert!(
        run.stdout.contains("skill  fix-cargo-test  accepted"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("skill  fix-make-lint  unchanged (the deterministic draft stays)"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("agents-md  guidelines  accepted"),
        "{run:?}"
    );
    assert_eq!(
        env.read(&format!("{PROPOSALS}/skills/fix-cargo-test/SKILL.md")),
        GOOD_SKILL
    );
    assert_eq!(
        env.read(&format!("{PROPOSALS}/skills/fix-make-lint/SKILL.md")),
        drafts[1].1
    );
    // The evidence stays the deterministic one; the agent's extra file is not read.
    assert!(
        env.read(&format!(
            "{PROPOSALS}/skills/fix-cargo-test/references/evidence.md"
        ))
        .contains("test parse ... FAILED")
    );
    assert!(!env.path(&format!("{PROPOSALS}/notes.txt")).exists());
    let patch = env.read(&format!("{PROPOSALS}/AGENTS.md.patch"));
    assert!(
        patch
            .contains("+- Run `cargo test` before every commit; see the `fix-cargo-test` skill.\n"),
        "{patch}"
    );
    let record: serde_json::Value =
        serde_json::from_str(&env.read(&format!("{PROPOSALS}/agent.json"))).unwrap();
    assert_eq!(record["profile"], "writer");
    assert_eq!(record["skills"][0]["outcome"], "accepted");
    // The prompt went to the agent's stdin and names the drafts.
    let prompt = env.read(".longrun/mine/20261121T090000Z/run/prompt.md");
    assert!(prompt.contains("- `fix-cargo-test`"), "{prompt}");

    let check = env.longrun(&[
        "skill",
        "check",
        env.path(&format!("{PROPOSALS}/skills/fix-cargo-test"))
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(check.code, 0, "{check:?}");
    let apply = env.longrun(&["mine", "--apply"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert_eq!(
        env.read(".agents/skills/fix-cargo-test/SKILL.md"),
        GOOD_SKILL
    );
    assert!(
        env.read("AGENTS.md")
            .contains("- Use the v2 config API, not v1.\n")
    );
}

#[test]
fn invalid_front_matter_is_refused_with_the_rule_named() {
    let bad = GOOD_SKILL
        .replace("name: fix-cargo-test", "name: Fix_Make_Lint")
        .replace("cargo test", "make lint");
    let env = writer_repo(&format!(
        "write drafts/skills/fix-make-lint/SKILL.md {}\nwrite drafts/guidelines.md {}\n",
        escape(&bad),
        escape("## Lessons\n- run the linter\n")
    ));
    let drafts = deterministic(&env);
    let run = env.longrun(&["mine", "--agent", "writer"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("skill  fix-make-lint  refused; the deterministic draft is kept:"),
        "{run:?}"
    );
    assert!(run.stdout.contains("    name-characters: "), "{run:?}");
    assert!(
        run.stdout.contains("    name-matches-directory: "),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("agents-md  guidelines  refused; the deterministic draft is kept:\n    guideline-format: line 1"),
        "{run:?}"
    );
    assert!(run.stderr.contains("was refused"), "{run:?}");
    // Every deterministic draft is still there, byte for byte.
    for (file, text) in &drafts {
        assert_eq!(&env.read(&format!("{PROPOSALS}/{file}")), text, "{file}");
    }
}

#[test]
fn a_failing_agent_keeps_the_deterministic_proposals() {
    let env = writer_repo(&format!("{}exit 4\n", good_prose_steps()));
    let drafts = deterministic(&env);
    let run = env.longrun(&["mine", "--agent", "writer", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("agent `writer` exited 4; the deterministic proposals are kept as written"),
        "{run:?}"
    );
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["agent"]["failure"], "agent `writer` exited 4");
    assert_eq!(
        value["proposals"]["skills"],
        serde_json::json!([
            "fix-cargo-test",
            "fix-make-lint",
            "how-to-retry-a-flaky-network-test"
        ])
    );
    for (file, text) in &drafts {
        assert_eq!(&env.read(&format!("{PROPOSALS}/{file}")), text, "{file}");
    }

    let unknown = env.longrun(&["mine", "--agent", "nobody"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no agent profile `nobody`"),
        "{unknown:?}"
    );
}

#[test]
fn a_body_without_its_sections_is_refused_and_the_draft_kept() {
    let env = writer_repo(&format!(
        "write drafts/skills/fix-cargo-test/SKILL.md {}\n",
        escape(SKILL_WITHOUT_VERIFICATION)
    ));
    let drafts = deterministic(&env);
    let run = env.longrun(&["mine", "--agent", "writer", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let verdict = &value["agent"]["skills"][0];
    assert_eq!(verdict["name"], "fix-cargo-test");
    assert_eq!(verdict["outcome"], "refused");
    assert_eq!(
        verdict["violations"],
        serde_json::json!([
            ["body-sections", "the body has no `## Verification` section"],
            [
                "evidence-link",
                "the `## Evidence` section does not link `references/evidence.md`"
            ]
        ])
    );
    // The front matter alone passes `longrun skill check`: only the body rules refused it.
    let scratch = env.path(".longrun/mine/20261121T090000Z/drafts/skills/fix-cargo-test");
    let check = env.longrun(&["skill", "check", scratch.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{check:?}");
    for (file, text) in &drafts {
        assert_eq!(&env.read(&format!("{PROPOSALS}/{file}")), text, "{file}");
    }
}
