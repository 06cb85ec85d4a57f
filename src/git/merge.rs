//! The gate's merge, in three steps that never touch uncommitted work in the primary checkout:
//!
//! 1. [`merge_target_into_task`]: bring the target branch into the task branch, inside the task
//!    worktree, so validators run on what would land. A conflict is aborted at once and
//!    reported; the worktree is left clean.
//! 2. [`super::create_merge_commit`]: write the merge commit for the validated tree with
//!    `commit-tree` (first parent: the target's tip; second: the task's head).
//! 3. [`advance_branch`]: move the target branch to that commit, compare-and-swap style. Where
//!    the branch is checked out, `git merge --ff-only` updates only the files that changed and
//!    refuses, changing nothing, when local changes are in the way; elsewhere `update-ref`
//!    with the expected old value.
//!
//! Nothing here stashes, resets or checks out over someone's changes, and refusals are
//! outcomes for the cycle to decide on, not errors.

use std::path::{Path, PathBuf};

use super::{
    GitError, Identity, check_branch_name, check_object_id, is_ancestor, path_from_bytes,
    repo::rev_parse,
    run_git_as, run_git_output,
    status::{parse_null_separated_paths, status},
    worktree::worktree_list,
};

/// What [`merge_target_into_task`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The target was already part of the task branch; nothing changed.
    UpToDate { head: String },
    /// The task branch now contains the target; `commit` is its new head (a merge commit, or
    /// the target itself when the task branch had nothing of its own).
    Merged { commit: String },
    /// The merge conflicted in `paths`; it was aborted and the worktree is as before.
    Conflict { paths: Vec<PathBuf> },
}

/// What [`advance_branch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvanceOutcome {
    /// The branch points at the new commit now.
    Advanced { method: AdvanceMethod },
    /// The branch was not at the expected commit (`None`: it does not exist); nothing changed.
    Moved { actual: Option<String> },
    /// The branch is checked out in `worktree` and local changes there would be overwritten
    /// (or the checkout is mid-merge); nothing changed. `paths` lists what git named.
    BlockedByLocalChanges {
        worktree: PathBuf,
        paths: Vec<PathBuf>,
        stderr: String,
    },
}

/// How [`advance_branch`] moved the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvanceMethod {
    /// `git merge --ff-only` in the worktree that has the branch checked out.
    FastForwardCheckout { worktree: PathBuf },
    /// `git update-ref` with the old value: the branch is checked out nowhere.
    UpdateRef,
}

/// Merges `target_commit` into the task branch checked out in `worktree`. The worktree must
/// be clean (commit a worker's leftovers with [`super::commit_all`] first), so that an abort
/// restores exactly what was there.
///
/// Hooks do not run (`--no-verify`), remembered resolutions are not applied
/// (`--no-rerere-autoupdate`), and nothing is stashed (`--no-autostash`): the candidate is
/// what git's merge makes of the two commits, whatever the local configuration says.
pub fn merge_target_into_task(
    worktree: &Path,
    target_commit: &str,
    identity: &Identity,
) -> Result<MergeOutcome, GitError> {
    check_object_id("target commit", target_commit)?;
    let dirty = status(worktree)?;
    if let Some(first) = dirty.first() {
        return Err(GitError::DirtyWorktree {
            dir: worktree.to_path_buf(),
            count: dirty.len(),
            first: first.path.display().to_string(),
        });
    }
    let head = head_of(worktree)?;
    merge_into_clean_task(worktree, target_commit, &head, identity)
}

/// [`merge_target_into_task`] for a caller that knows the worktree is clean and at `head`
/// (it just committed or checked): two git processes fewer.
pub fn merge_into_clean_task(
    worktree: &Path,
    target_commit: &str,
    head: &str,
    identity: &Identity,
) -> Result<MergeOutcome, GitError> {
    check_object_id("target commit", target_commit)?;
    if is_ancestor(worktree, target_commit, head)? {
        return Ok(MergeOutcome::UpToDate {
            head: head.to_string(),
        });
    }
    merge_clean(worktree, target_commit, head, identity)
}

/// [`merge_into_clean_task`] for a caller that also knows `target_commit` is not yet part
/// of the task branch (see [`super::merge_base`]): merges it without asking again.
pub fn merge_clean(
    worktree: &Path,
    target_commit: &str,
    head: &str,
    identity: &Identity,
) -> Result<MergeOutcome, GitError> {
    check_object_id("target commit", target_commit)?;
    let head = head.to_string();
    let message = format!("Merge {target_commit} into the task branch");
    let merge = run_git_as(
        worktree,
        identity,
        [
            "merge",
            "--quiet",
            "--no-edit",
            "--no-verify",
            "--no-stat",
            "--no-rerere-autoupdate",
            "--no-autostash",
            "--no-squash",
            "--ff",
            "-m",
            &message,
            "--",
            target_commit,
        ],
    )?;
    if merge.success() {
        return Ok(MergeOutcome::Merged {
            commit: head_of(worktree)?,
        });
    }
    let unmerged = run_git_output(
        worktree,
        [
            "diff",
            "--name-only",
            "--diff-filter=U",
            "-z",
            "--no-ext-diff",
        ],
    )?
    .into_result()?;
    let paths = parse_null_separated_paths(&unmerged.stdout);
    if rev_parse(worktree, "MERGE_HEAD")?.is_some() {
        run_git_output(worktree, ["merge", "--abort"])?.into_result()?;
    }
    let after = status(worktree)?;
    if !after.is_empty() || head_of(worktree)? != head {
        return Err(merge.unexpected(format!(
            "the worktree is not back at `{head}` and clean after aborting the merge"
        )));
    }
    if paths.is_empty() {
        // Refused before merging (say an ignored file in the way) or a failure: not a
        // conflict between the two branches, so it is the caller's error to report.
        return Err(merge.to_error());
    }
    Ok(MergeOutcome::Conflict { paths })
}

/// What [`merge_trees`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeMerge {
    /// The merged tree, written to the object store.
    Clean { tree: String },
    /// The two sides conflict in `paths`; nothing was written that anything points at.
    Conflict { paths: Vec<PathBuf> },
}

/// Merges `theirs` into `ours` without a working tree or an index (`git merge-tree
/// --write-tree`: the same `ort` merge `git merge` makes): the merged tree goes to the object
/// store and nothing else changes, so any number of these can run while worktrees are in
/// use. [`merge_clean`] is the same merge made inside a worktree.
pub fn merge_trees(repo: &Path, ours: &str, theirs: &str) -> Result<TreeMerge, GitError> {
    check_object_id("commit", ours)?;
    check_object_id("commit", theirs)?;
    let output = run_git_output(
        repo,
        [
            "merge-tree",
            "--write-tree",
            "-z",
            "--name-only",
            "--no-messages",
            ours,
            theirs,
        ],
    )?;
    let clean = match output.code() {
        Some(0) => true,
        Some(1) => false,
        _ => return Err(output.to_error()),
    };
    // `<tree>\0` then, on a conflict, each conflicted path once, `\0`-terminated.
    let mut fields = output.stdout.split(|byte| *byte == 0);
    let tree = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    check_object_id("tree", &tree)
        .map_err(|_| output.unexpected(format!("expected a tree id, got `{tree}`")))?;
    if clean {
        return Ok(TreeMerge::Clean { tree });
    }
    let mut paths: Vec<PathBuf> = fields
        .filter(|field| !field.is_empty())
        .map(path_from_bytes)
        .collect();
    paths.dedup();
    if paths.is_empty() {
        return Err(output.unexpected("a conflict that names no path"));
    }
    Ok(TreeMerge::Conflict { paths })
}

/// Moves the branch checked out in the clean worktree `worktree` forward to `commit` (a
/// descendant of its head), updating the files that differ (`git merge --ff-only`). `Some`
/// with git's words when git refused (say an ignored file in the way); nothing moved then.
pub fn fast_forward(worktree: &Path, commit: &str) -> Result<Option<String>, GitError> {
    check_object_id("commit", commit)?;
    let merge = run_git_output(
        worktree,
        [
            "merge",
            "--ff-only",
            "--quiet",
            "--no-stat",
            "--no-autostash",
            "--",
            commit,
        ],
    )?;
    Ok((!merge.success()).then(|| merge.stderr.trim().to_string()))
}

/// Puts the branch checked out in `worktree`, its index and its files back at `commit`
/// (`git reset --hard`): for a task worktree the gate moved to a candidate that will not
/// be merged. Untracked files stay.
pub fn reset_hard(worktree: &Path, commit: &str) -> Result<(), GitError> {
    check_object_id("commit", commit)?;
    run_git_output(worktree, ["reset", "--quiet", "--hard", commit])?.into_result()?;
    Ok(())
}

/// Moves `branch` from `expected_old` to `new_commit`, which must descend from it. Where the
/// branch is checked out (the primary checkout or any worktree), a fast-forward merge there
/// keeps the person's unrelated uncommitted changes and refuses when they would be
/// overwritten; where it is not, a compare-and-swap `update-ref`. Afterwards the branch is
/// verified to point at `new_commit`.
///
/// Between checking where the branch is checked out and updating it, someone could check it
/// out; git has no lock spanning both, so that window remains (it is milliseconds wide and the
/// next cycle sees the result).
pub fn advance_branch(
    repo: &Path,
    branch: &str,
    new_commit: &str,
    expected_old: &str,
) -> Result<AdvanceOutcome, GitError> {
    advance(repo, branch, new_commit, expected_old, true)
}

/// [`advance_branch`] for a caller that built `new_commit` on `expected_old` itself (a merge
/// commit whose first parent it is, or a chain of them): one git process fewer.
pub fn advance_branch_to_descendant(
    repo: &Path,
    branch: &str,
    new_commit: &str,
    expected_old: &str,
) -> Result<AdvanceOutcome, GitError> {
    advance(repo, branch, new_commit, expected_old, false)
}

fn advance(
    repo: &Path,
    branch: &str,
    new_commit: &str,
    expected_old: &str,
    check_descent: bool,
) -> Result<AdvanceOutcome, GitError> {
    check_branch_name(branch)?;
    check_object_id("new commit", new_commit)?;
    check_object_id("expected old commit", expected_old)?;
    let refname = format!("refs/heads/{branch}");
    let actual = rev_parse(repo, &refname)?;
    if actual.as_deref() != Some(expected_old) {
        return Ok(AdvanceOutcome::Moved { actual });
    }
    if check_descent && !is_ancestor(repo, expected_old, new_commit)? {
        return Err(GitError::NotFastForward {
            branch: branch.to_string(),
            old: expected_old.to_string(),
            new: new_commit.to_string(),
        });
    }
    // Checked out in `repo` itself (the usual primary checkout): git keeps a branch checked
    // out in one worktree at a time, so no other one has it and nothing needs listing.
    let checked_out = match super::refs::head_branch(repo) {
        Some(Some(head)) if head == branch => Some(repo.to_path_buf()),
        _ => worktree_list(repo)?
            .into_iter()
            .find(|worktree| {
                worktree.branch.as_deref() == Some(branch)
                    && !worktree.bare
                    && worktree.prunable.is_none()
            })
            .map(|worktree| worktree.path),
    };
    let method = match checked_out {
        Some(worktree) => {
            let merge = run_git_output(
                &worktree,
                [
                    "merge",
                    "--ff-only",
                    "--quiet",
                    "--no-stat",
                    // An autostash would re-apply the person's changes on top, possibly as
                    // conflicts in their checkout.
                    "--no-autostash",
                    "--",
                    new_commit,
                ],
            )?;
            if !merge.success() {
                let now = rev_parse(repo, &refname)?;
                if now.as_deref() != Some(expected_old) {
                    return Ok(AdvanceOutcome::Moved { actual: now });
                }
                return Ok(AdvanceOutcome::BlockedByLocalChanges {
                    worktree,
                    paths: parse_overwritten_paths(&merge.stderr),
                    stderr: merge.stderr.trim().to_string(),
                });
            }
            AdvanceMethod::FastForwardCheckout { worktree }
        }
        None => {
            let reason = format!("longrun: advance {branch}");
            let update = run_git_output(
                repo,
                [
                    "update-ref",
                    "-m",
                    &reason,
                    "--",
                    &refname,
                    new_commit,
                    expected_old,
                ],
            )?;
            if !update.success() {
                let now = rev_parse(repo, &refname)?;
                if now.as_deref() != Some(expected_old) {
                    return Ok(AdvanceOutcome::Moved { actual: now });
                }
                return Err(update.to_error());
            }
            AdvanceMethod::UpdateRef
        }
    };
    let now = rev_parse(repo, &refname)?;
    if now.as_deref() != Some(new_commit) {
        return Err(GitError::Unexpected {
            args: format!("rev-parse {refname}"),
            dir: repo.to_path_buf(),
            detail: format!(
                "`{branch}` points at `{}` after advancing it to `{new_commit}`",
                now.as_deref().unwrap_or("nothing")
            ),
        });
    }
    Ok(AdvanceOutcome::Advanced { method })
}

/// The paths git lists, one per tab-indented line, when it refuses a merge or checkout
/// because local changes or untracked files would be overwritten.
pub fn parse_overwritten_paths(stderr: &str) -> Vec<PathBuf> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix('\t'))
        .map(str::trim_end)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .collect()
}

fn head_of(worktree: &Path) -> Result<String, GitError> {
    rev_parse(worktree, "HEAD")?.ok_or_else(|| GitError::Unexpected {
        args: "rev-parse --verify HEAD".to_string(),
        dir: worktree.to_path_buf(),
        detail: "HEAD names no commit".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testutil::{TestRepo, identity, write_in};
    use crate::git::{TaskTrailers, create_merge_commit, is_clean, run_git, tree_of, worktree_add};

    #[test]
    fn overwritten_paths_from_stderr() {
        let stderr = "error: Your local changes to the following files would be overwritten by merge:\n\
                      \ta.txt\n\tdir/with space.txt\n\
                      Please commit your changes or stash them before you merge.\n\
                      error: The following untracked working tree files would be overwritten by merge:\n\
                      \tnew.txt\n\
                      Please move or remove them before you merge.\nAborting\n";
        assert_eq!(
            parse_overwritten_paths(stderr),
            vec![
                PathBuf::from("a.txt"),
                PathBuf::from("dir/with space.txt"),
                PathBuf::from("new.txt"),
            ]
        );
        assert!(
            parse_overwritten_paths("fatal: Not possible to fast-forward, aborting.\n").is_empty()
        );
    }

    /// A repository with `shared.txt` and `unrelated.txt` on `main`, and a task worktree on
    /// `longrun/T1` whose commit changes `shared.txt`.
    struct Scenario {
        repo: TestRepo,
        task: PathBuf,
        base: String,
    }

    fn scenario() -> Scenario {
        let repo = TestRepo::new();
        repo.write("shared.txt", "one\ntwo\nthree\n");
        repo.write("unrelated.txt", "unrelated\n");
        let base = repo.commit_everything(&repo.primary, "base");
        let task = repo.root.join("worktrees/T1");
        worktree_add(&repo.primary, &task, "longrun/T1", &base).unwrap();
        write_in(&task, "shared.txt", "one\ntwo (task)\nthree\n");
        repo.commit_everything(&task, "task work");
        Scenario { repo, task, base }
    }

    /// The gate, steps a → b → c, for the task in `scenario` against `main`.
    fn gate(scenario: &Scenario) -> (String, AdvanceOutcome) {
        let repo = &scenario.repo;
        let target = repo.branch_tip("main");
        let merged = merge_target_into_task(&scenario.task, &target, &identity()).unwrap();
        let head = match merged {
            MergeOutcome::UpToDate { head } => head,
            MergeOutcome::Merged { commit } => commit,
            MergeOutcome::Conflict { paths } => panic!("unexpected conflict in {paths:?}"),
        };
        let tree = tree_of(&scenario.task, &head).unwrap();
        let message = TaskTrailers {
            task: "T1".into(),
            attempt: 1,
            token: "token-1".into(),
            validated_tree: tree.clone(),
        }
        .message("Merge T1")
        .unwrap();
        let commit = create_merge_commit(
            &repo.primary,
            &tree,
            &[&target, &head],
            &message,
            &identity(),
        )
        .unwrap();
        let outcome = advance_branch(&repo.primary, "main", &commit, &target).unwrap();
        (commit, outcome)
    }

    /// `merge_trees` makes the tree `git merge` makes, touches no worktree, and names the
    /// conflicting paths; `fast_forward` then moves the worktree to a commit of that tree.
    #[test]
    fn tree_merges_match_worktree_merges_and_name_conflicts() {
        let scenario = scenario();
        let repo = &scenario.repo;
        repo.write("unrelated.txt", "moved on main\n");
        let target = repo.commit_everything(&repo.primary, "main moves");
        let head = repo.head(&scenario.task);

        let TreeMerge::Clean { tree } = merge_trees(&repo.primary, &head, &target).unwrap() else {
            panic!("expected a clean merge");
        };
        assert_eq!(repo.head(&scenario.task), head);
        let candidate = create_merge_commit(
            &repo.primary,
            &tree,
            &[&head, &target],
            "candidate",
            &identity(),
        )
        .unwrap();
        assert_eq!(fast_forward(&scenario.task, &candidate).unwrap(), None);
        assert_eq!(repo.head(&scenario.task), candidate);
        assert!(is_clean(&scenario.task).unwrap());
        assert_eq!(
            std::fs::read_to_string(scenario.task.join("unrelated.txt")).unwrap(),
            "moved on main\n"
        );
        // The same merge made by `git merge` in a second worktree gives the same tree.
        let other = repo.root.join("worktrees/T1b");
        worktree_add(&repo.primary, &other, "longrun/T1b", &head).unwrap();
        let MergeOutcome::Merged { commit } =
            merge_clean(&other, &target, &head, &identity()).unwrap()
        else {
            panic!("expected a merge");
        };
        assert_eq!(tree_of(&other, &commit).unwrap(), tree);
        // Not a fast-forward: refused, nothing moved.
        assert!(fast_forward(&other, &candidate).unwrap().is_some());
        assert_eq!(repo.head(&other), commit);

        repo.write("shared.txt", "one\ntwo (main)\nthree\n");
        let conflicting = repo.commit_everything(&repo.primary, "main edits the same line");
        assert_eq!(
            merge_trees(&repo.primary, &head, &conflicting).unwrap(),
            TreeMerge::Conflict {
                paths: vec![PathBuf::from("shared.txt")]
            }
        );
        assert!(merge_trees(&repo.primary, &head, "HEAD").is_err());
    }

    #[test]
    fn gate_keeps_an_unrelated_uncommitted_change_byte_identical() {
        let scenario = scenario();
        let repo = &scenario.repo;
        // Bytes git would normalise if it rewrote the file: CRLF, no final newline, binary.
        let local: &[u8] = b"local edit\r\nno newline at end \x00\xff";
        std::fs::write(repo.primary.join("unrelated.txt"), local).unwrap();
        repo.write("untracked-notes.txt", "mine\n");

        let (commit, outcome) = gate(&scenario);
        assert_eq!(
            outcome,
            AdvanceOutcome::Advanced {
                method: AdvanceMethod::FastForwardCheckout {
                    worktree: repo.primary.clone()
                }
            }
        );
        assert_eq!(repo.branch_tip("main"), commit);
        assert_eq!(repo.read("unrelated.txt"), local);
        assert_eq!(repo.read("untracked-notes.txt"), b"mine\n");
        assert_eq!(repo.read("shared.txt"), b"one\ntwo (task)\nthree\n");
        let entries = status(&repo.primary).unwrap();
        let paths: Vec<_> = entries.iter().map(|entry| entry.path.clone()).collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("unrelated.txt"),
                PathBuf::from("untracked-notes.txt")
            ]
        );
        // The merge commit has the target first, the task second.
        let parents = run_git(
            &repo.primary,
            ["show", "--no-patch", "--format=%P", &commit],
        )
        .unwrap();
        assert_eq!(
            parents.split_whitespace().next(),
            Some(scenario.base.as_str())
        );
    }

    #[test]
    fn gate_refuses_when_a_local_change_touches_a_merged_file() {
        let scenario = scenario();
        let repo = &scenario.repo;
        repo.write("shared.txt", "the person's own edit\n");
        let fingerprint = crate::git::status_fingerprint(&repo.primary).unwrap();

        let (_commit, outcome) = gate(&scenario);
        let AdvanceOutcome::BlockedByLocalChanges {
            worktree,
            paths,
            stderr,
        } = outcome
        else {
            panic!("expected a refusal, got {outcome:?}");
        };
        assert_eq!(worktree, repo.primary);
        assert_eq!(paths, [PathBuf::from("shared.txt")]);
        assert!(stderr.contains("would be overwritten"), "{stderr}");
        assert_eq!(repo.branch_tip("main"), scenario.base);
        assert_eq!(repo.read("shared.txt"), b"the person's own edit\n");
        assert_eq!(
            crate::git::status_fingerprint(&repo.primary).unwrap(),
            fingerprint
        );
    }

    #[test]
    fn target_moved_merges_into_task_then_gate_lands() {
        let scenario = scenario();
        let repo = &scenario.repo;
        // main moves on with an unrelated change while the task ran.
        repo.write("other.txt", "other\n");
        let moved = repo.commit_everything(&repo.primary, "other work");
        let (commit, outcome) = gate(&scenario);
        assert!(matches!(outcome, AdvanceOutcome::Advanced { .. }));
        let task_head = repo.head(&scenario.task);
        assert_ne!(task_head, moved);
        assert!(is_ancestor(&repo.primary, &moved, &task_head).unwrap());
        assert_eq!(repo.branch_tip("main"), commit);
        assert_eq!(repo.read("other.txt"), b"other\n");
        assert_eq!(repo.read("shared.txt"), b"one\ntwo (task)\nthree\n");
        // Merging again is a no-op.
        assert_eq!(
            merge_target_into_task(&scenario.task, &moved, &identity()).unwrap(),
            MergeOutcome::UpToDate { head: task_head }
        );
    }

    #[test]
    fn conflict_lists_the_path_and_leaves_the_worktree_clean() {
        let scenario = scenario();
        let repo = &scenario.repo;
        repo.write("shared.txt", "one\ntwo (main)\nthree\n");
        let target = repo.commit_everything(&repo.primary, "conflicting work");
        let before = repo.head(&scenario.task);
        let outcome = merge_target_into_task(&scenario.task, &target, &identity()).unwrap();
        assert_eq!(
            outcome,
            MergeOutcome::Conflict {
                paths: vec![PathBuf::from("shared.txt")]
            }
        );
        assert!(is_clean(&scenario.task).unwrap());
        assert_eq!(repo.head(&scenario.task), before);
        assert_eq!(rev_parse(&scenario.task, "MERGE_HEAD").unwrap(), None);
    }

    #[test]
    fn merge_into_a_dirty_task_worktree_is_refused() {
        let scenario = scenario();
        write_in(&scenario.task, "leftover.txt", "uncommitted\n");
        let target = scenario.repo.branch_tip("main");
        let error = merge_target_into_task(&scenario.task, &target, &identity()).unwrap_err();
        assert!(matches!(error, GitError::DirtyWorktree { .. }), "{error}");
    }

    #[test]
    fn update_ref_path_is_compare_and_swap() {
        let scenario = scenario();
        let repo = &scenario.repo;
        // A branch checked out nowhere.
        run_git(&repo.primary, ["branch", "release", &scenario.base]).unwrap();
        let task_head = repo.head(&scenario.task);

        // Someone moved `release` since we read it.
        repo.write("x.txt", "x\n");
        let elsewhere = repo.commit_everything(&repo.primary, "x");
        run_git(
            &repo.primary,
            ["update-ref", "refs/heads/release", &elsewhere],
        )
        .unwrap();
        assert_eq!(
            advance_branch(&repo.primary, "release", &task_head, &scenario.base).unwrap(),
            AdvanceOutcome::Moved {
                actual: Some(elsewhere.clone())
            }
        );
        assert_eq!(repo.branch_tip("release"), elsewhere);

        run_git(
            &repo.primary,
            ["update-ref", "refs/heads/release", &scenario.base],
        )
        .unwrap();
        assert_eq!(
            advance_branch(&repo.primary, "release", &task_head, &scenario.base).unwrap(),
            AdvanceOutcome::Advanced {
                method: AdvanceMethod::UpdateRef
            }
        );
        assert_eq!(repo.branch_tip("release"), task_head);

        // Not a descendant: refused before anything moves.
        let error =
            advance_branch(&repo.primary, "release", &scenario.base, &task_head).unwrap_err();
        assert!(matches!(error, GitError::NotFastForward { .. }), "{error}");
        assert_eq!(
            advance_branch(&repo.primary, "missing", &task_head, &scenario.base).unwrap(),
            AdvanceOutcome::Moved { actual: None }
        );
    }

    #[test]
    fn advance_in_a_linked_worktree_that_has_the_branch() {
        let scenario = scenario();
        let repo = &scenario.repo;
        // The task worktree has `longrun/T1` checked out: advancing it fast-forwards there.
        let old = repo.head(&scenario.task);
        write_in(&scenario.task, "more.txt", "more\n");
        let newer = repo.commit_everything(&scenario.task, "more");
        run_git(&scenario.task, ["reset", "--quiet", "--hard", &old]).unwrap();
        assert_eq!(
            advance_branch(&repo.primary, "longrun/T1", &newer, &old).unwrap(),
            AdvanceOutcome::Advanced {
                method: AdvanceMethod::FastForwardCheckout {
                    worktree: scenario.task.clone()
                }
            }
        );
        assert_eq!(
            std::fs::read(scenario.task.join("more.txt")).unwrap(),
            b"more\n"
        );
    }
}
