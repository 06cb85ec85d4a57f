//! Commits longrun makes: saving what a worker left uncommitted in its task worktree, and the
//! gate's merge commit built from a validated tree with `commit-tree` (no working tree, no
//! index involved). The author and committer are always the identity the caller passes, so
//! this works on a machine with no git identity configured.
//!
//! Never moves a branch other than the one checked out in the worktree it commits in.

use std::path::Path;

use super::{GitError, Identity, check_object_id, repo::rev_parse, run_git_as, run_git_output};

/// Stages everything in the worktree `dir` (`add -A`: new, modified and deleted files, ignored
/// ones excluded) and commits it with `message`. Returns the new commit, or `None` when there
/// was nothing to commit.
///
/// Runs with `--no-verify`: this saves a worker's output before the harness judges it, and a
/// pre-commit hook refusing it would lose the evidence; validators and policy run afterwards.
pub fn commit_all(
    dir: &Path,
    message: &str,
    identity: &Identity,
) -> Result<Option<String>, GitError> {
    // One `status` answers the common case (nothing left) with a single git process.
    if super::is_clean(dir)? {
        return Ok(None);
    }
    run_git_output(dir, ["add", "--all"])?.into_result()?;
    let staged = run_git_output(dir, ["diff", "--cached", "--quiet", "--no-ext-diff"])?;
    match staged.code() {
        Some(0) => return Ok(None),
        Some(1) => {}
        _ => return Err(staged.to_error()),
    }
    run_git_as(
        dir,
        identity,
        [
            "commit",
            "--quiet",
            "--no-verify",
            // The message is data: keep lines starting with `#` and the trailers as written.
            "--cleanup=verbatim",
            "-m",
            message,
        ],
    )?
    .into_result()?;
    let head = rev_parse(dir, "HEAD")?.ok_or_else(|| GitError::Unexpected {
        args: "commit".to_string(),
        dir: dir.to_path_buf(),
        detail: "HEAD names no commit after committing".to_string(),
    })?;
    Ok(Some(head))
}

/// Writes a commit of `tree` with `parents` (first parent first) and `message`, and returns
/// its id. No branch moves; [`super::advance_branch`] does that.
pub fn create_merge_commit(
    repo: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
    identity: &Identity,
) -> Result<String, GitError> {
    check_object_id("tree", tree)?;
    let mut args: Vec<&str> = vec!["commit-tree"];
    for parent in parents {
        check_object_id("parent commit", parent)?;
        args.extend(["-p", parent]);
    }
    args.extend(["-m", message, "--", tree]);
    let output = run_git_as(repo, identity, args)?.into_result()?;
    let commit = output.stdout_text().trim().to_string();
    check_object_id("commit", &commit)
        .map_err(|_| output.unexpected(format!("expected a commit id, got `{commit}`")))?;
    Ok(commit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::repo::tree_of;
    use crate::git::run_git;
    use crate::git::testutil::{TestRepo, identity};

    #[test]
    fn commit_all_commits_new_modified_and_deleted_files_once() {
        let repo = TestRepo::new();
        let me = identity();
        assert_eq!(commit_all(&repo.primary, "nothing", &me).unwrap(), None);

        repo.write("new.txt", "new\n");
        repo.write("README.md", "changed\n");
        let commit = commit_all(&repo.primary, "worker left this\n\n# kept", &me)
            .unwrap()
            .unwrap();
        assert_eq!(repo.head(&repo.primary), commit);
        assert!(crate::git::is_clean(&repo.primary).unwrap());
        let show = run_git(
            &repo.primary,
            ["show", "--no-patch", "--format=%an <%ae>|%cn|%B", &commit],
        )
        .unwrap();
        assert_eq!(
            show.trim_end(),
            "Longrun Test <longrun-test@example.com>|Longrun Test|worker left this\n\n# kept"
        );

        std::fs::remove_file(repo.primary.join("new.txt")).unwrap();
        let deletion = commit_all(&repo.primary, "delete", &me).unwrap().unwrap();
        assert_ne!(deletion, commit);
        assert_eq!(commit_all(&repo.primary, "again", &me).unwrap(), None);
    }

    #[test]
    fn merge_commit_has_the_given_tree_parents_and_message() {
        let repo = TestRepo::new();
        let first = repo.head(&repo.primary);
        repo.write("a.txt", "a\n");
        let second = repo.commit_everything(&repo.primary, "second");
        let tree = tree_of(&repo.primary, &second).unwrap();
        let message = "Merge T1\n\nLongrun-Task: T1\n";
        let commit = create_merge_commit(
            &repo.primary,
            &tree,
            &[&first, &second],
            message,
            &identity(),
        )
        .unwrap();
        let show = run_git(
            &repo.primary,
            ["show", "--no-patch", "--format=%T %P%n%B", &commit],
        )
        .unwrap();
        assert_eq!(show, format!("{tree} {first} {second}\n{message}\n"));
        // The branch did not move.
        assert_eq!(repo.head(&repo.primary), second);

        assert!(create_merge_commit(&repo.primary, "HEAD", &[], "x", &identity()).is_err());
        assert!(create_merge_commit(&repo.primary, &tree, &["-p"], "x", &identity()).is_err());
    }
}
