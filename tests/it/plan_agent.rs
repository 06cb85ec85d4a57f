//! `longrun plan --prd FILE --agent PROFILE` with the scripted fake agent as the planner:
//! a valid result replaces the files and shows the diff, an invalid or failed one replaces
//! nothing, a dry run writes nothing, and what the planner does outside its three files
//! never reaches the user's checkout.

use crate::TestEnv;
use crate::cycle::fake_agent;

const PRD: &str = "# Shop\n\n## Tasks\n\n- [ ] Add the login page\n";

const STAMP: &str = "20261121T090000Z";

/// An initialised repository (state files not committed) whose `planner` profile runs the
/// fake agent with the steps in `<temp>/scripts/plan`.
struct PlanRepo {
    env: TestEnv,
    script: std::path::PathBuf,
}

impl PlanRepo {
    fn new(timeout: &str) -> PlanRepo {
        let env = TestEnv::initialized();
        let scripts = env.root.parent().unwrap().join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        let script = scripts.join("plan");
        env.write(
            "longrun.yaml",
            format!(
                "routing:\n  default: planner\nagents:\n  planner:\n    kind: command\n    command: [\"{}\", \"include {}\"]\n    prompt: file\n    timeout: {timeout}\n",
                fake_agent(),
                script.display()
            ),
        );
        env.write("prd.md", PRD);
        PlanRepo { env, script }
    }

    fn script(&self, steps: &str) {
        std::fs::write(&self.script, steps).unwrap();
    }

    /// The user's three files, to compare before and after.
    fn files(&self) -> [String; 3] {
        ["plan.md", "checklist.yaml", "run-log.md"].map(|name| self.env.read(name))
    }

    fn scratch(&self) -> std::path::PathBuf {
        self.env.path(&format!(".longrun/plans/{STAMP}/worktree"))
    }
}

/// `text` as one argument of a fake agent step (`\n` and `\\` escapes).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

const NEW_TASK: &str = "  - task_id: T002\n    title: Add the login page\n    status: not_started\n    acceptance_criteria:\n      - works\n    validators:\n      - [\"git\", \"diff\", \"--check\"]\n";

/// Steps that write a valid plan: a task appended to the checklist, a decision in the run
/// log's Events section, a note in plan.md.
fn valid_plan(env: &TestEnv) -> String {
    let run_log = env.read("run-log.md").replace(
        "## Events (append-only)\n",
        "## Events (append-only)\n- 2026-11-21T09:00:00Z decision: planned 1 task from prd.md\n",
    );
    format!(
        "append checklist.yaml {}\nwrite run-log.md {}\nappend plan.md {}\nwrite src/stray.rs fn stray() {{}}\n",
        escape(NEW_TASK),
        escape(&run_log),
        escape("\n## Planner notes\n\nOne task.\n")
    )
}

#[test]
fn a_valid_plan_replaces_the_files_and_shows_the_diff() {
    let repo = PlanRepo::new("60s");
    repo.script(&valid_plan(&repo.env));
    let run = repo
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "planner"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("--- a/checklist.yaml\n+++ b/checklist.yaml\n@@ "),
        "{run:?}"
    );
    assert!(run.stdout.contains("+  - task_id: T002\n"), "{run:?}");
    assert!(run.stdout.contains("+## Planner notes\n"), "{run:?}");
    assert!(
        run.stdout
            .contains("+- 2026-11-21T09:00:00Z decision: planned 1 task from prd.md\n"),
        "{run:?}"
    );
    // `longrun check`'s findings are shown: the vague criterion is a warning.
    assert!(
        run.stderr.contains("vague acceptance criterion \"works\""),
        "{run:?}"
    );
    assert!(run.stderr.contains("1 new"), "{run:?}");
    let checklist = repo.env.read("checklist.yaml");
    assert!(checklist.ends_with(NEW_TASK), "{checklist}");
    assert!(repo.env.read("plan.md").contains("## Planner notes"));
    let log = repo.env.read("run-log.md");
    assert!(
        log.contains("decision: planned 1 task from prd.md"),
        "{log}"
    );
    assert!(
        log.contains(
            "note agent=planner: plan: `prd.md` planned by agent `planner`: replaced `plan.md`, `checklist.yaml`, `run-log.md`; 1 task(s) added"
        ),
        "{log}"
    );
    // Only the three files come back; the scratch worktree is gone, the prompt kept.
    assert!(!repo.env.path("src/stray.rs").exists());
    assert!(!repo.scratch().exists());
    let worktrees = repo.env.git(&["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
    let prompt = repo
        .env
        .read(&format!(".longrun/plans/{STAMP}/run/prompt.md"));
    assert!(
        prompt.starts_with("# Kickoff: plan the work in `prd.md`"),
        "{prompt}"
    );
    let check = repo.env.longrun(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
}

#[test]
fn an_invalid_checklist_replaces_nothing_and_names_file_line_and_column() {
    let repo = PlanRepo::new("60s");
    let before = repo.files();
    let lines = repo.env.read("checklist.yaml").lines().count();
    repo.script(&format!(
        "append checklist.yaml {}\nappend plan.md x\n",
        escape("  - task_id: T002\n    title: [unclosed\n")
    ));
    let run = repo
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "planner"]);
    assert_eq!(run.code, 1, "{run:?}");
    let scratch_checklist = format!("{}/checklist.yaml:", repo.scratch().display());
    let at = run
        .stderr
        .find(&scratch_checklist)
        .unwrap_or_else(|| panic!("no file:line:column in {run:?}"));
    let position: Vec<&str> = run.stderr[at + scratch_checklist.len()..]
        .split(':')
        .take(2)
        .collect();
    let line: usize = position[0].parse().expect("a line number");
    assert!(line > lines, "{run:?}");
    assert!(position[1].parse::<usize>().is_ok(), "{run:?}");
    assert!(run.stderr.contains("nothing was replaced"), "{run:?}");
    assert!(run.stderr.contains("are kept in"), "{run:?}");
    assert_eq!(repo.files(), before);
    // The scratch result stays for a person to read.
    assert!(repo.scratch().join("checklist.yaml").is_file());
}

#[test]
fn a_plan_that_breaks_the_planner_rules_replaces_nothing() {
    let repo = PlanRepo::new("60s");
    let before = repo.files();
    // Marks the baseline complete, adds a task without validators, rewrites the log.
    let checklist = repo
        .env
        .read("checklist.yaml")
        .replace("    status: not_started\n", "    status: complete\n")
        + "  - task_id: T002\n    title: Add the login page\n    acceptance_criteria: [\"the page answers 200\"]\n";
    repo.script(&format!(
        "write checklist.yaml {}\nwrite run-log.md {}\n",
        escape(&checklist),
        escape("# Run log\n\n## Events (append-only)\n")
    ));
    let run = repo
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "planner"]);
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "task `T001`: the planner changed its status from `not_started` to `complete`",
        "T002",
        "validators",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {run:?}");
    }
    assert_eq!(repo.files(), before);
}

#[test]
fn a_failing_or_hanging_planner_replaces_nothing() {
    let repo = PlanRepo::new("60s");
    let before = repo.files();
    repo.script(&format!("{}exit 3\n", valid_plan(&repo.env)));
    let run = repo
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "planner"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("agent `planner` exited 3; nothing was replaced"),
        "{run:?}"
    );
    assert_eq!(repo.files(), before);

    let slow = PlanRepo::new("1s");
    let before = slow.files();
    slow.script(&format!("{}hang\n", valid_plan(&slow.env)));
    let started = std::time::Instant::now();
    let run = slow
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "planner"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("timed out after 1s"), "{run:?}");
    assert_eq!(slow.files(), before);

    let unknown = slow
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "nobody"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no agent profile `nobody`"),
        "{unknown:?}"
    );
}

#[test]
fn a_dry_run_shows_the_diff_and_writes_nothing() {
    let repo = PlanRepo::new("60s");
    let before = repo.files();
    repo.script(&valid_plan(&repo.env));
    let run = repo
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "planner", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("+  - task_id: T002\n"), "{run:?}");
    assert!(
        run.stderr.contains("dry run: nothing was replaced"),
        "{run:?}"
    );
    assert_eq!(repo.files(), before);
    assert!(!repo.scratch().exists());

    let json = repo.env.longrun(&[
        "plan",
        "--prd",
        "prd.md",
        "--agent",
        "planner",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(json.code, 0, "{json:?}");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["dry_run"], true);
    assert_eq!(value["replaced"], serde_json::json!([]));
    assert_eq!(value["added"], serde_json::json!(["T002"]));
    assert_eq!(value["files"][1]["name"], "checklist.yaml");
    assert_eq!(value["files"][1]["changed"], true);
    assert_eq!(repo.files(), before);
}

#[test]
fn what_the_planner_writes_outside_its_files_never_lands() {
    let repo = PlanRepo::new("60s");
    let before = repo.files();
    // A valid plan, and a write straight into the user's run log while it runs.
    let outside = repo.env.path("run-log.md");
    repo.script(&format!(
        "{}write-outside {} {}\n",
        valid_plan(&repo.env),
        outside.display(),
        escape(&(before[2].clone() + "- scribbled by the planner\n"))
    ));
    let run = repo
        .env
        .longrun(&["plan", "--prd", "prd.md", "--agent", "planner"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("`run-log.md` changed while the planner ran; nothing was replaced"),
        "{run:?}"
    );
    // Nothing of the plan was applied: the checklist and plan.md are the user's.
    assert_eq!(repo.env.read("checklist.yaml"), before[1]);
    assert_eq!(repo.env.read("plan.md"), before[0]);
    assert!(!repo.env.path("src/stray.rs").exists());
    assert!(repo.scratch().join("src/stray.rs").is_file());
}
