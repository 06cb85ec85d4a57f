//! `longrun skill` against the Agent Skills reference validator (`agentskills validate`
//! from the PyPI package `skills-ref`, installed by `.ci/run`): the same verdicts on the
//! fixtures, and the shipped skills and mined proposals valid by both.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TestEnv;

/// The reference validator: `AGENTSKILLS_BIN`, else `.ci/venv/bin/agentskills`. Missing is
/// a failure, never a skip: `.ci/run` installs it before `cargo test`.
fn reference_validator() -> PathBuf {
    if let Some(path) = std::env::var_os("AGENTSKILLS_BIN") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv/bin/agentskills");
    assert!(
        venv.is_file(),
        "\n\n*** The Agent Skills reference validator is missing. ***\nRun `.ci/run`, or:\n  python3 -m venv .ci/venv && .ci/venv/bin/pip install skills-ref==0.1.1\n(or set AGENTSKILLS_BIN to an `agentskills` executable)\n\n"
    );
    venv
}

fn reference_accepts(validator: &Path, dir: &Path) -> bool {
    let output = Command::new(validator)
        .arg("validate")
        .arg(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", validator.display()));
    match output.status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!(
            "agentskills validate {} exited {other:?}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/skills")
        .join(kind);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

/// The rule `longrun skill check` must name for each invalid fixture (both validators
/// reject these).
const EXPECTED_RULES: &[(&str, &str)] = &[
    ("Upper-Case", "name-characters"),
    (
        "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghix",
        "name-length",
    ),
    // strictyaml refuses anchors and aliases, flow style and tags; so must longrun, or a
    // skill it calls valid would fail the reference.
    ("anchor-alias", "strict-yaml"),
    ("byte-order-mark", "front-matter"),
    ("double--hyphen", "name-characters"),
    ("duplicate-key", "front-matter"),
    ("extra-key", "allowed-keys"),
    ("flow-metadata", "strict-yaml"),
    ("flow-sequence", "strict-yaml"),
    // The reference splits the file at the first `---` after the opening one, even inside
    // a quoted value.
    ("inner-delimiter", "inner-delimiter"),
    ("tagged", "strict-yaml"),
    ("lead-hyphen", "name-characters"),
    ("long-compatibility", "compatibility-length"),
    ("long-description", "description-length"),
    ("mismatch", "name-matches-directory"),
    ("no-description", "description-required"),
    ("no-front-matter", "front-matter"),
    ("no-name", "name-required"),
    ("no-skill-file", "skill-file"),
    ("trail-hyphen-", "name-characters"),
    ("unclosed", "front-matter"),
    ("under_score", "name-characters"),
];

/// Fixtures the reference accepts and longrun rejects on purpose, each with the rule longrun
/// names and why the Agent Skills spec is on longrun's side. The reference reads the front
/// matter with strictyaml, where every scalar is a string, and checks only name, description
/// and compatibility; the spec says more. The other way round never happens: whatever
/// longrun calls valid, the reference accepts (the `valid` fixtures).
const STRICTER: &[(&str, &str, &str)] = &[
    (
        "allowed-tools-list",
        "field-type",
        "the spec makes `allowed-tools` a space-delimited string, not a list",
    ),
    (
        "café",
        "name-characters",
        "the spec allows a-z, 0-9 and `-` in a name; the reference accepts any lowercase Unicode letter",
    ),
    (
        "description-number",
        "description-required",
        "`description: 123` is a number to any other YAML reader, and the spec asks for a string",
    ),
    (
        "license-bool",
        "field-type",
        "`license: true` is a boolean to any other YAML reader, not a license name",
    ),
    (
        "lowercase-file",
        "skill-file",
        "the spec names the file `SKILL.md`; the reference also reads `skill.md`, which agents looking for `SKILL.md` on a case-sensitive disk never see",
    ),
    (
        "metadata-number",
        "metadata-string-map",
        "the spec makes `metadata` a map of strings to strings; `1` is a number until quoted",
    ),
    (
        "nested-metadata",
        "metadata-string-map",
        "the spec makes `metadata` a map of strings to strings; the reference turns a nested map into its Python text",
    ),
];

#[test]
fn skill_check_agrees_with_the_reference_validator() {
    let validator = reference_validator();
    let env = TestEnv::new();
    let valid = fixtures("valid");
    let invalid = fixtures("invalid");
    let stricter = fixtures("stricter");
    assert!(valid.len() >= 7 && invalid.len() >= 22 && stricter.len() == STRICTER.len());
    for dir in &stricter {
        let name = dir.file_name().unwrap().to_str().unwrap();
        let (_, rule, why) = STRICTER
            .iter()
            .find(|(fixture, _, _)| *fixture == name)
            .unwrap_or_else(|| panic!("no expected verdict for fixture {name}"));
        // If the reference starts to reject one of these, it moves to `invalid`.
        assert!(
            reference_accepts(&validator, dir),
            "reference rejects {name}: move it to `invalid`"
        );
        let run = env.longrun(&["skill", "check", dir.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{name} ({why}): {run:?}");
        assert!(
            run.stdout.contains(&format!(": {rule}: ")),
            "{name} ({why}): {run:?}"
        );
    }
    for dir in &valid {
        assert!(
            reference_accepts(&validator, dir),
            "reference rejects {}",
            dir.display()
        );
        let run = env.longrun(&["skill", "check", dir.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}: {run:?}", dir.display());
    }
    for dir in &invalid {
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(
            !reference_accepts(&validator, dir),
            "reference accepts {name}"
        );
        let run = env.longrun(&["skill", "check", dir.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{name}: {run:?}");
        let (_, rule) = EXPECTED_RULES
            .iter()
            .find(|(fixture, _)| *fixture == name)
            .unwrap_or_else(|| panic!("no expected rule for fixture {name}"));
        assert!(
            run.stdout.contains(&format!(": {rule}: ")),
            "{name}: {run:?}"
        );
    }
}

#[test]
fn shipped_skills_are_valid_by_the_reference_and_installed_by_init() {
    let validator = reference_validator();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("skills");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let dir = entry.unwrap().path();
        assert!(reference_accepts(&validator, &dir), "{}", dir.display());
        names.push(dir.file_name().unwrap().to_str().unwrap().to_string());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "ci-triage",
            "clean-commit",
            "longrun-worker",
            "review",
            "verify"
        ]
    );
    let env = TestEnv::initialized();
    let check = env.longrun(&["skill", "check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stderr.contains("5 skill(s), 5 valid, 0 invalid"),
        "{check:?}"
    );
    let list = env.longrun(&["skill", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|skill| skill["valid"] == true));
    assert_eq!(listed[2]["name"], "longrun-worker");
    assert_eq!(listed[2]["path"], ".agents/skills/longrun-worker/SKILL.md");
}

/// The worker skill says how to claim (and when the cycle already did): `claim --next`,
/// heartbeat, release with a status, and the cycle's `LONGRUN_TASK_ID`.
#[test]
fn the_worker_skill_covers_claiming() {
    let text = crate::TestEnv::initialized().read(".agents/skills/longrun-worker/SKILL.md");
    for needle in [
        "longrun claim --next --worker",
        "longrun heartbeat <task> --token <token>",
        "longrun release <task> --token <token> --status complete",
        "--status not_started",
        "LONGRUN_TASK_ID",
        "the cycle has already\n  claimed the task for you",
        "--hold --",
    ] {
        assert!(text.contains(needle), "missing {needle:?}:\n{text}");
    }
}

/// `skill new` writes the description as given or refuses: never cut to 1,024 characters,
/// never with `---` rewritten.
#[test]
fn skill_new_refuses_a_description_it_would_have_to_change() {
    let validator = reference_validator();
    let env = TestEnv::initialized();
    let long = "x".repeat(1025);
    let run = env.longrun(&["skill", "new", "too-long", "--description", &long]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "`--description` breaks the Agent Skills rule `description-length`: it is 1025 characters, more than 1024"
        ),
        "{run:?}"
    );
    assert!(!env.path(".agents/skills/too-long").exists());

    let dashes = env.longrun(&[
        "skill",
        "new",
        "dashes",
        "--description",
        "Before --- after.",
    ]);
    assert_eq!(dashes.code, 2, "{dashes:?}");
    assert!(
        dashes
            .stderr
            .contains("breaks the Agent Skills rule `inner-delimiter`: it contains `---`"),
        "{dashes:?}"
    );
    assert!(!env.path(".agents/skills/dashes").exists());

    let blank = env.longrun(&["skill", "new", "blank", "--description", "  "]);
    assert_eq!(blank.code, 2, "{blank:?}");
    assert!(blank.stderr.contains("`description-required`"), "{blank:?}");

    let limit = "y".repeat(1024);
    let run = env.longrun(&["skill", "new", "at-limit", "--description", &limit]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = env.read(".agents/skills/at-limit/SKILL.md");
    assert!(
        text.contains(&format!("description: '{limit}'\n")),
        "{text}"
    );
    assert!(reference_accepts(
        &validator,
        &env.path(".agents/skills/at-limit")
    ));
}

/// `skills_dir` in longrun.yaml moves every use of the skills folder: `init` installs the
/// built-in skills there, `skill new/list/check` use it, `mine --apply` installs there. A
/// folder outside the repository is refused with the key's place in the file.
#[test]
fn a_configured_skills_dir_is_used_everywhere() {
    let env = TestEnv::new();
    env.write("longrun.yaml", "version: 1\nskills_dir: tools/skills\n");
    let init = env.longrun(&["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    assert!(
        init.stdout
            .contains("created      tools/skills/longrun-worker/SKILL.md"),
        "{init:?}"
    );
    assert!(!env.path(".agents").exists(), "{init:?}");

    let list = env.longrun(&["skill", "list", "--json"]);
    assert_eq!(list.code, 0, "{list:?}");
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!(listed[2]["path"], "tools/skills/longrun-worker/SKILL.md");

    let new = env.longrun(&[
        "skill",
        "new",
        "deploy-docs",
        "--description",
        "Deploy docs.",
    ]);
    assert_eq!(new.code, 0, "{new:?}");
    assert!(env.path("tools/skills/deploy-docs/SKILL.md").is_file());
    let check = env.longrun(&["skill", "check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stderr.contains("6 skill(s), 6 valid, 0 invalid"),
        "{check:?}"
    );

    env.write(
        "longrun.yaml",
        "version: 1\n# shared with another repository\nskills_dir: ../shared-skills\n",
    );
    for args in [
        &["skill", "list"][..],
        &["skill", "check"][..],
        &["skill", "new", "other"][..],
        &["init"][..],
    ] {
        let run = env.longrun(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(
                "longrun.yaml:3:1: `skills_dir` leaves the repository (`../shared-skills`)"
            ),
            "{args:?}: {run:?}"
        );
    }
    assert!(!env.root.parent().unwrap().join("shared-skills").exists());
}

/// `mine --apply` installs proposed skills into the configured folder.
#[test]
fn mine_apply_installs_skills_into_the_configured_folder() {
    let env = crate::mine::mined_repo();
    let config = env.read("longrun.yaml");
    assert!(
        config.contains("\nskills_dir: .agents/skills\n"),
        "{config}"
    );
    env.write(
        "longrun.yaml",
        config.replace(
            "\nskills_dir: .agents/skills\n",
            "\nskills_dir: tools/skills\n",
        ),
    );
    let run = env.longrun(&["mine"]);
    assert_eq!(run.code, 0, "{run:?}");
    let apply = env.longrun(&["mine", "--apply"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        env.path("tools/skills/fix-cargo-test/SKILL.md").is_file(),
        "{apply:?}"
    );
    assert!(!env.path(".agents/skills/fix-cargo-test").exists());
    assert!(
        env.read("run-log.md")
            .contains("installed `tools/skills/fix-cargo-test`"),
        "{apply:?}"
    );
}

#[test]
fn skill_new_creates_a_valid_skill_once() {
    let validator = reference_validator();
    let env = TestEnv::initialized();
    let run = env.longrun(&[
        "skill",
        "new",
        "deploy-docs",
        "--description",
        "Deploy the docs: when and how.",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(reference_accepts(
        &validator,
        &env.path(".agents/skills/deploy-docs")
    ));
    let again = env.longrun(&["skill", "new", "deploy-docs"]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("already exists"), "{again:?}");
    let bad = env.longrun(&["skill", "new", "Bad--Name"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    env.write(
        ".agents/skills/broken/SKILL.md",
        "---\nname: wrong\ndescription: d\n---\n",
    );
    let check = env.longrun(&["skill", "check"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(check.stdout.contains("name-matches-directory"), "{check:?}");
    let list = env.longrun(&["skill", "list"]);
    assert!(list.stdout.contains("INVALID"), "{list:?}");
}

#[test]
fn mined_skill_proposals_are_valid_by_the_reference() {
    let validator = reference_validator();
    let env = crate::mine::mined_repo();
    let run = env.longrun(&["mine"]);
    assert_eq!(run.code, 0, "{run:?}");
    let skills_dir = env.path(".longrun/proposals/20261121T090000Z/skills");
    let mut count = 0;
    for entry in std::fs::read_dir(&skills_dir).unwrap() {
        let dir = entry.unwrap().path();
        assert!(reference_accepts(&validator, &dir), "{}", dir.display());
        let check = env.longrun(&["skill", "check", dir.to_str().unwrap()]);
        assert_eq!(check.code, 0, "{check:?}");
        count += 1;
    }
    assert!(count >= 2, "{count} skills proposed");
}

/// Prose written by an agent (`mine --agent`, the fake agent) is valid by the reference too.
#[cfg(feature = "fake-agent")]
#[test]
fn agent_written_skill_proposals_are_valid_by_the_reference() {
    let validator = reference_validator();
    let env = crate::mine_agent::writer_repo(&crate::mine_agent::good_prose_steps());
    let run = env.longrun(&["mine", "--agent", "writer"]);
    assert_eq!(run.code, 0, "{run:?}");
    let skills_dir = env.path(&format!("{}/skills", crate::mine_agent::PROPOSALS));
    let agent_written = skills_dir.join("fix-cargo-test");
    assert_eq!(
        std::fs::read_to_string(agent_written.join("SKILL.md")).unwrap(),
        crate::mine_agent::GOOD_SKILL
    );
    for entry in std::fs::read_dir(&skills_dir).unwrap() {
        let dir = entry.unwrap().path();
        assert!(reference_accepts(&validator, &dir), "{}", dir.display());
    }
}
