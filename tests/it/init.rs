use crate::TestEnv;

const FILES: &[&str] = &[
    "plan.md",
    "checklist.yaml",
    "run-log.md",
    "longrun.yaml",
    "policy/default.yaml",
    "AGENTS.md",
    ".gitignore",
    "current_tasks/.gitkeep",
    ".agents/skills/longrun-worker/SKILL.md",
    ".agents/skills/verify/SKILL.md",
    ".agents/skills/review/SKILL.md",
    ".agents/skills/ci-triage/SKILL.md",
    ".agents/skills/clean-commit/SKILL.md",
];

#[test]
fn init_outside_git_refuses_and_creates_nothing() {
    let env = TestEnv::bare();
    let run = env.longrun(&["init"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("not inside a git repository"),
        "{run:?}"
    );
    assert!(run.stderr.contains("--git"), "{run:?}");
    assert_eq!(std::fs::read_dir(&env.root).unwrap().count(), 0);
}

#[test]
fn init_git_creates_repo_and_every_file() {
    let env = TestEnv::bare();
    let run = env.longrun(&["init", "--git"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(env.path(".git").is_dir());
    for file in FILES {
        assert!(env.path(file).is_file(), "{file} missing\n{run:?}");
        assert!(
            run.stdout.contains(&format!("created      {file}")),
            "{run:?}"
        );
    }
    let gitignore = env.read(".gitignore");
    assert!(gitignore.lines().any(|l| l == ".longrun/"), "{gitignore}");
    assert!(
        gitignore.lines().any(|l| l == "current_tasks/*.lock"),
        "{gitignore}"
    );
    // The fresh files check clean.
    let check = env.longrun(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
}

#[test]
fn second_init_changes_nothing() {
    let env = TestEnv::initialized();
    let before: Vec<Vec<u8>> = FILES.iter().map(|f| env.read_bytes(f)).collect();
    let run = env.longrun(&["init"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("created"), "{run:?}");
    assert!(run.stderr.contains("nothing changed"), "{run:?}");
    let after: Vec<Vec<u8>> = FILES.iter().map(|f| env.read_bytes(f)).collect();
    assert_eq!(before, after);
}

#[test]
fn init_never_overwrites_a_persons_files() {
    let env = TestEnv::new();
    env.write("checklist.yaml", "# mine\ntasks: []\n");
    env.write("AGENTS.md", "# Our agents\n\nBe nice.\n");
    env.write(".gitignore", "target/\n.longrun/\n");
    let run = env.longrun(&["init"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.read("checklist.yaml"), "# mine\ntasks: []\n");
    assert!(
        run.stdout.contains("left alone   checklist.yaml"),
        "{run:?}"
    );
    let agents = env.read("AGENTS.md");
    assert!(agents.starts_with("# Our agents\n\nBe nice.\n"), "{agents}");
    assert!(agents.contains("## Working with longrun"), "{agents}");
    assert!(run.stdout.contains("appended to  AGENTS.md"), "{run:?}");
    let gitignore = env.read(".gitignore");
    assert_eq!(gitignore.matches(".longrun/").count(), 1, "{gitignore}");
    assert!(gitignore.contains("current_tasks/*.lock"), "{gitignore}");
}

#[test]
fn init_installs_the_builtin_skills_and_keeps_a_persons_edits() {
    let env = TestEnv::new();
    env.write(
        ".agents/skills/review/SKILL.md",
        "---\nname: review\ndescription: ours\n---\n",
    );
    let run = env.longrun(&["init"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        env.read(".agents/skills/review/SKILL.md"),
        "---\nname: review\ndescription: ours\n---\n"
    );
    assert!(
        run.stdout
            .contains("left alone   .agents/skills/review/SKILL.md"),
        "{run:?}"
    );
    let worker = env.read(".agents/skills/longrun-worker/SKILL.md");
    assert!(
        worker.starts_with("---\nname: longrun-worker\n"),
        "{worker}"
    );
    assert!(worker.contains("longrun log"), "{worker}");
}
