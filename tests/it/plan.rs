use crate::{CHECKLIST, TestEnv, with_checklist};

const PRD: &str = "# Shop

## Milestones

### M1: Accounts

- [ ] Add the login page
  - shows an error on a bad password
  - Verify: `cargo test -p web login`
- [ ] Password reset (depends on T1)
  - works

## Verification

- `cargo test --workspace`
";

#[test]
fn plan_appends_tasks_keeps_comments_and_reports_check_findings() {
    let env = with_checklist();
    env.write("prd.md", PRD);
    let run = env.longrun(&["plan", "--prd", "prd.md"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = env.read("checklist.yaml");
    assert!(text.starts_with(CHECKLIST.trim_end()), "{text}");
    assert!(
        text.contains("  - task_id: T5\n    title: Add the login page\n"),
        "{text}"
    );
    assert!(text.contains("    source: \"prd.md:7\"\n"), "{text}");
    assert!(text.contains("    depends_on: [T5]\n"), "{text}");
    assert!(
        text.contains("      - [cargo, test, \"-p\", web, login]\n"),
        "{text}"
    );
    assert!(
        run.stdout
            .contains("added    T5  Add the login page  (prd.md:7)"),
        "{run:?}"
    );
    // check ran: the vague criterion of T6 is shown.
    assert!(
        run.stderr.contains("vague acceptance criterion \"works\""),
        "{run:?}"
    );
    assert!(
        env.read("run-log.md")
            .contains("plan: 2 task(s) added from `prd.md`")
    );
    assert_eq!(env.longrun(&["check"]).code, 0);
}

#[test]
fn planning_again_keeps_ids_and_statuses_and_reports_gone_sources() {
    let env = with_checklist();
    env.write("prd.md", PRD);
    assert_eq!(env.longrun(&["plan", "--prd", "prd.md"]).code, 0);
    assert_eq!(
        env.longrun(&["task", "set", "T5", "--status", "in_progress"])
            .code,
        0
    );
    let edited = PRD
        .replace("- [ ] Password reset (depends on T1)\n  - works\n", "")
        .replace(
            "## Verification",
            "- [ ] Two-factor login (after Add the login page)\n\n## Verification",
        );
    env.write("prd.md", &edited);
    let before = env.read("checklist.yaml");
    let dry = env.longrun(&["plan", "--prd", "prd.md", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout
            .contains("--- a/checklist.yaml\n+++ b/checklist.yaml\n@@ "),
        "{dry:?}"
    );
    assert!(dry.stdout.contains("+  - task_id: T7\n"), "{dry:?}");
    assert_eq!(
        env.read("checklist.yaml"),
        before,
        "a dry run writes nothing"
    );

    let run = env.longrun(&["plan", "--prd", "prd.md", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["kept"][0]["task_id"], "T5");
    assert_eq!(report["added"][0]["task_id"], "T7");
    assert_eq!(report["source_gone"][0]["task_id"], "T6");
    let text = env.read("checklist.yaml");
    assert!(text.contains("title: Password reset"), "never deleted");
    assert!(
        text.contains("    status: in_progress\n"),
        "status kept: {text}"
    );
    assert!(text.contains("title: Two-factor login\n"), "{text}");
    assert!(
        text.contains("    depends_on: [T5]\n    validators:"),
        "{text}"
    );
}

#[test]
fn a_prd_without_tasks_writes_nothing() {
    let env = with_checklist();
    env.write("prd.md", "# Ideas\n\nSome prose.\n\n- a thought\n");
    let run = env.longrun(&["plan", "--prd", "prd.md"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("no tasks found in `prd.md`; nothing was written"),
        "{run:?}"
    );
    assert_eq!(env.read("checklist.yaml"), CHECKLIST);
}

#[test]
fn a_huge_prd_stops_with_a_size_error() {
    let env = with_checklist();
    let item = "- [ ] Build the thing number forty-two with enough words to fill a line\n";
    let big = item.repeat(5 * 1024 * 1024 / item.len() + 1);
    env.write("prd.md", &big);
    let started = std::time::Instant::now();
    let run = env.longrun(&["plan", "--prd", "prd.md"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("larger than the 4194304 bytes"),
        "{run:?}"
    );
    assert_eq!(env.read("checklist.yaml"), CHECKLIST);
}

#[test]
fn a_missing_plan_md_gets_the_skeleton() {
    let env = with_checklist();
    std::fs::remove_file(env.path("plan.md")).unwrap();
    env.write("prd.md", PRD);
    let run = env.longrun(&["plan", "--prd", "prd.md"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(env.read("plan.md").starts_with("# Plan: Shop\n"));
}

#[test]
fn missing_prd_is_an_error() {
    let env = TestEnv::initialized();
    let run = env.longrun(&["plan", "--prd", "nope.md"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot read"), "{run:?}");
}

#[test]
fn the_same_prd_named_another_way_is_the_same_source() {
    let env = with_checklist();
    env.write("prd.md", PRD);
    assert_eq!(env.longrun(&["plan", "--prd", "prd.md"]).code, 0);
    std::fs::create_dir_all(env.path("sub")).unwrap();
    let run = env.longrun_in(&env.path("sub"), &["plan", "--prd", "../prd.md", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["kept"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["added"].as_array().unwrap().len(), 0, "{report}");
}
