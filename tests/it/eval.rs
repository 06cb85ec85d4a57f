//! `longrun eval run` with the scripted fake agent: a profile that solves the eval passes,
//! one that does not fails, `--repeat` repeats, and no scratch worktree or branch is left.

use crate::cycle::{CycleRepo, fake_agent};

fn eval_repo() -> CycleRepo {
    let repo = CycleRepo::with_config(
        "tasks: []\n",
        &format!(
            "  lazy:\n    kind: command\n    command: [\"{}\", \"print nothing to do\"]\n    prompt: file\n    timeout: 60s\n",
            fake_agent()
        ),
    );
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.env.write(
        "evals/write-hello.yaml",
        format!(
            "id: write-hello\nbase: '{base}'\ntask: |\n  Write hello.txt.\nacceptance:\n  - 'hello.txt says hello'\nvalidators:\n  - 'grep -q hello hello.txt'\n"
        ),
    );
    repo.script("write-hello", "write hello.txt hello\ncommit add hello\n");
    repo
}

#[test]
fn a_solving_profile_passes_and_a_lazy_one_fails_side_by_side() {
    let repo = eval_repo();
    let run = repo.env.longrun(&[
        "eval", "run", "--agent", "fake", "--agent", "lazy", "--repeat", "3", "--json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let attempts = value["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 6);
    let profiles = value["profiles"].as_array().unwrap();
    assert_eq!(profiles[0]["profile"], "fake");
    assert_eq!(profiles[0]["attempts"], 3);
    assert_eq!(profiles[0]["passed"], 3);
    assert_eq!(profiles[1]["profile"], "lazy");
    assert_eq!(profiles[1]["passed"], 0);
    assert!(
        repo.env
            .path(".longrun/evals/20261121T090000Z/results.json")
            .is_file()
    );
    // Nothing of the scratch worktrees is left, and the primary checkout is untouched.
    assert!(!repo.env.path("hello.txt").exists());
    let branches = repo.env.git(&["branch", "--list", "longrun-eval/*"]);
    assert!(branches.trim().is_empty(), "{branches}");
    let worktrees = repo.env.git(&["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");

    let table = repo.env.longrun(&["eval", "run", "write-hello"]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("100%"), "{table:?}");
    assert!(
        table
            .stdout
            .contains("SUMMARY: 1 attempt(s), 1 passed, 0 failed"),
        "{table:?}"
    );
}
