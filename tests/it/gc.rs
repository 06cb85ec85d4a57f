//! `longrun gc`: old run directories go, leftover worktrees and branches of finished or
//! unclaimed tasks go, work that exists nowhere else stays unless `--force`, and
//! `--dry-run` changes nothing.

use std::path::Path;

use longrun::state::claims::{ClaimOutcome, ClaimRequest, ClaimStore};
use longrun::state::model::TaskId;

use crate::{TestEnv, with_checklist};

/// Files and folders below `dir`, sorted, as relative paths; without the derived files any
/// read creates (the checklist snapshot cache, the claim store's mutex).
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() && entry.file_name() != ".git" {
                stack.push(path);
            }
        }
    }
    found.retain(|path| {
        !path.starts_with(".longrun/cache") && path != "current_tasks/.claims-mutex.lock"
    });
    found.sort();
    found
}

/// The CHECKLIST repository (T1 complete, T2 not started, T4 blocked, no claims) with:
/// an old and a new run of T1, a clean leftover worktree of T1, a worktree of T2 with
/// uncommitted work, a branch of T4 with a commit `main` does not have, and git's record of
/// a worktree whose folder was deleted.
fn leftovers() -> TestEnv {
    let env = with_checklist();
    env.git(&["add", "-A"]);
    env.git(&["commit", "--quiet", "-m", "plan"]);
    env.write(".longrun/runs/20261001T080000Z/T1/1/result.json", "{}");
    env.write(".longrun/runs/20261120T080000Z/T1/2/result.json", "{}");
    for task in ["T1", "T2", "T5"] {
        let path = env.path(&format!(".longrun/worktrees/{task}"));
        env.git(&[
            "worktree",
            "add",
            "--quiet",
            "-b",
            &format!("longrun/{task}"),
            path.to_str().unwrap(),
            "main",
        ]);
    }
    env.write(".longrun/worktrees/T2/work.txt", "unsaved work\n");
    std::fs::remove_dir_all(env.path(".longrun/worktrees/T5")).unwrap();
    env.git(&["branch", "longrun/T4", "main"]);
    env.git(&["checkout", "--quiet", "longrun/T4"]);
    env.write("t4.txt", "work\n");
    env.git(&["add", "t4.txt"]);
    env.git(&["commit", "--quiet", "-m", "T4 work"]);
    env.git(&["checkout", "--quiet", "main"]);
    env
}

fn branches(env: &TestEnv) -> Vec<String> {
    env.git(&[
        "for-each-ref",
        "--format=%(refname:short)",
        "refs/heads/longrun/",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn dry_run_changes_nothing_and_says_what_would_go() {
    let env = leftovers();
    let files_before = tree(&env.root);
    let branches_before = branches(&env);
    let worktrees_before = env.git(&["worktree", "list", "--porcelain"]);
    let run = env.longrun(&["gc", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("would remove run directory `.longrun/runs/20261001T080000Z`"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("would remove worktree `.longrun/worktrees/T1`: `T1` is complete"),
        "{run:?}"
    );
    assert!(run.stderr.contains("dry run: nothing changed"), "{run:?}");
    assert_eq!(tree(&env.root), files_before);
    assert_eq!(branches(&env), branches_before);
    assert_eq!(
        env.git(&["worktree", "list", "--porcelain"]),
        worktrees_before
    );
}

#[test]
fn gc_removes_what_is_done_with_and_keeps_unsaved_work() {
    let env = leftovers();
    let run = env.longrun(&["gc"]);
    assert_eq!(run.code, 0, "{run:?}");
    // The old run of a complete task goes; the new one stays.
    assert!(
        !env.path(".longrun/runs/20261001T080000Z").exists(),
        "{run:?}"
    );
    assert!(env.path(".longrun/runs/20261120T080000Z/T1/2").is_dir());
    assert!(
        run.stderr.contains("kept 1 run directory newer than 14d"),
        "{run:?}"
    );
    // The clean worktree of the complete task goes, with its merged branch.
    assert!(!env.path(".longrun/worktrees/T1").exists(), "{run:?}");
    // The worktree with uncommitted work stays, and so does its branch.
    assert_eq!(env.read(".longrun/worktrees/T2/work.txt"), "unsaved work\n");
    assert!(
        run.stderr.contains(
            "kept worktree `.longrun/worktrees/T2`: `T2` has no claim, but it has uncommitted changes"
        ),
        "{run:?}"
    );
    // A branch with commits not on main stays.
    assert!(run.stderr.contains("kept branch `longrun/T4`"), "{run:?}");
    assert_eq!(branches(&env), ["longrun/T2", "longrun/T4"]);
    // git's record of the deleted T5 worktree is pruned, and its merged branch goes.
    let worktrees = env.git(&["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("worktrees/T5"), "{worktrees}");
    assert!(!worktrees.contains("worktrees/T1"), "{worktrees}");

    // --force removes the dirty worktree and the unmerged branch too.
    let run = env.longrun(&["gc", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!env.path(".longrun/worktrees/T2").exists(), "{run:?}");
    assert!(branches(&env).is_empty(), "{run:?}");
    assert!(
        run.stderr
            .contains("uncommitted changes discarded (--force)"),
        "{run:?}"
    );
    // main never lost anything.
    assert_eq!(env.git(&["log", "--format=%s", "-1", "main"]), "plan\n");
}

#[test]
fn gc_keeps_the_worktree_and_branch_of_a_claimed_task_even_when_forced() {
    let env = leftovers();
    std::fs::remove_file(env.path(".longrun/worktrees/T2/work.txt")).unwrap();
    // A claim whose holder has gone (the held lock is dropped at once): the next cycle
    // reaps from its run directory and worktree, so gc leaves them alone.
    let store = ClaimStore::new(env.path("current_tasks"));
    let outcome = store
        .claim(&ClaimRequest {
            task: TaskId::parse("T2").unwrap(),
            worker: "longrun-cycle:fake".into(),
            host: "test".into(),
            pid: 1,
            attempt: 1,
            branch: "longrun/T2".into(),
            worktree: env.path(".longrun/worktrees/T2").display().to_string(),
            now: crate::NOW.parse().unwrap(),
            lease: std::time::Duration::from_secs(900),
            token: None,
        })
        .unwrap();
    assert!(matches!(outcome, ClaimOutcome::Claimed(_)));
    drop(outcome);
    let run = env.longrun(&["gc", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(env.path(".longrun/worktrees/T2").is_dir(), "{run:?}");
    assert!(
        run.stderr
            .contains("kept worktree `.longrun/worktrees/T2`: `T2` is claimed"),
        "{run:?}"
    );
    assert!(
        branches(&env).contains(&"longrun/T2".to_string()),
        "{run:?}"
    );
}

#[test]
fn gc_outside_a_longrun_repository_is_an_error() {
    let env = TestEnv::new();
    let run = env.longrun(&["gc"]);
    assert_eq!(run.code, 2, "{run:?}");
}
