//! Task worktrees: create one on branch `longrun/<task>` (reusing the branch on a retry),
//! list, remove and prune them. Owns the parser of `git worktree list --porcelain -z`.
//!
//! Never deletes a branch (that is [`super::branch_delete`], a separate decision) and never
//! forces a removal the caller did not ask for: a worktree may hold a worker's only copy of
//! its work.

use std::path::{Path, PathBuf};

use super::{
    GitError, check_branch_name, check_object_id, path_from_bytes, repo::rev_parse, run_git,
    run_git_output,
};

/// One entry of `git worktree list`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorktreeInfo {
    pub path: PathBuf,
    /// The checked-out commit; `None` for a bare repository or an unborn branch.
    pub head: Option<String>,
    /// The checked-out branch's short name; `None` when detached or bare.
    pub branch: Option<String>,
    pub bare: bool,
    pub detached: bool,
    /// `Some(reason)` when locked (`""` when no reason was given).
    pub locked: Option<String>,
    /// `Some(reason)` when git would prune it (its directory is gone).
    pub prunable: Option<String>,
}

/// What [`worktree_add`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorktreeAdded {
    /// The branch did not exist: it was created at the base commit.
    CreatedBranch,
    /// The branch existed (a retry): the worktree checks it out where it is, keeping the
    /// previous attempt's commits.
    ReusedBranch { head: String },
    /// A worktree at this path already had this branch checked out; nothing was done.
    AlreadyPresent { head: Option<String> },
}

/// Creates a worktree at the absolute `path` on `branch`. A new branch starts at `base` (any
/// revision, usually the target branch's commit id); an existing one is checked out as it is.
/// Idempotent: a worktree already at `path` on `branch` is left alone, and a registration
/// whose directory is gone is pruned first.
pub fn worktree_add(
    primary: &Path,
    path: &Path,
    branch: &str,
    base: &str,
) -> Result<WorktreeAdded, GitError> {
    check_branch_name(branch)?;
    check_absolute(path)?;
    if !path.exists() {
        // Nothing at the path: no need to list the worktrees first (a git process), unless
        // git still has one registered there, which only a prune clears.
        return match add_worktree(primary, path, branch, base) {
            Err(_) if !path.exists() => {
                worktree_prune(primary)?;
                add_worktree(primary, path, branch, base)
            }
            result => result,
        };
    }
    for existing in worktree_list(primary)? {
        if !same_path(&existing.path, path) {
            continue;
        }
        if existing.prunable.is_some() {
            worktree_prune(primary)?;
        } else if existing.branch.as_deref() == Some(branch) {
            return Ok(WorktreeAdded::AlreadyPresent {
                head: existing.head,
            });
        }
        // Otherwise the path holds another branch: git's own refusal below says so.
        break;
    }
    add_worktree(primary, path, branch, base)
}

/// `git worktree add` of `branch` at `path`: the branch as it is when it exists, else
/// created at `base`.
fn add_worktree(
    primary: &Path,
    path: &Path,
    branch: &str,
    base: &str,
) -> Result<WorktreeAdded, GitError> {
    let path_arg = path.as_os_str();
    match rev_parse(primary, &format!("refs/heads/{branch}"))? {
        Some(head) => {
            run_git(
                primary,
                [
                    "worktree".as_ref(),
                    "add".as_ref(),
                    "--quiet".as_ref(),
                    "--".as_ref(),
                    path_arg,
                    branch.as_ref(),
                ],
            )?;
            Ok(WorktreeAdded::ReusedBranch { head })
        }
        None => {
            // A full object id needs no lookup: `worktree add` fails on a missing one.
            let base_commit = if check_object_id("base commit", base).is_ok() {
                base.to_string()
            } else {
                rev_parse(primary, base)?.ok_or_else(|| GitError::InvalidArgument {
                    what: "base commit",
                    value: base.to_string(),
                    reason: "names no commit",
                })?
            };
            // `--no-track`: a task branch has no upstream, whatever `branch.autoSetupMerge`
            // says.
            run_git(
                primary,
                [
                    "worktree".as_ref(),
                    "add".as_ref(),
                    "--quiet".as_ref(),
                    "--no-track".as_ref(),
                    "-b".as_ref(),
                    branch.as_ref(),
                    "--".as_ref(),
                    path_arg,
                    base_commit.as_ref(),
                ],
            )?;
            Ok(WorktreeAdded::CreatedBranch)
        }
    }
}

/// Parks the clean worktree at `path` for reuse: detaches its HEAD (so its branch can be
/// deleted), removes untracked and ignored files, and moves it to `parked`: three git
/// processes and no tracked file rewritten, against removing the worktree and checking out
/// every file again for the next task.
pub fn worktree_park(primary: &Path, path: &Path, parked: &Path) -> Result<(), GitError> {
    check_absolute(path)?;
    check_absolute(parked)?;
    run_git(path, ["checkout", "--quiet", "--detach"])?;
    // Ignored files too: a build output left by one task must not make the next task's
    // validators pass.
    run_git(path, ["clean", "-ffdxq"])?;
    run_git(
        primary,
        [
            "worktree".as_ref(),
            "move".as_ref(),
            path.as_os_str(),
            parked.as_os_str(),
        ],
    )
    .map(|_| ())
}

/// Takes the parked worktree at `parked` for `branch` at `path`: moves it there and checks
/// out the branch (as it is when it exists, else created at `base`, a full commit id).
/// Only files that differ are written. On an error the caller removes the parked worktree
/// and adds a fresh one.
pub fn worktree_unpark(
    primary: &Path,
    parked: &Path,
    path: &Path,
    branch: &str,
    base: &str,
) -> Result<WorktreeAdded, GitError> {
    check_branch_name(branch)?;
    check_absolute(parked)?;
    check_absolute(path)?;
    check_object_id("base commit", base)?;
    let existing = rev_parse(primary, &format!("refs/heads/{branch}"))?;
    run_git(
        primary,
        [
            "worktree".as_ref(),
            "move".as_ref(),
            parked.as_os_str(),
            path.as_os_str(),
        ],
    )?;
    match existing {
        Some(head) => {
            run_git(path, ["checkout", "--quiet", branch])?;
            Ok(WorktreeAdded::ReusedBranch { head })
        }
        None => {
            run_git(
                path,
                ["checkout", "--quiet", "--no-track", "-b", branch, base],
            )?;
            Ok(WorktreeAdded::CreatedBranch)
        }
    }
}

/// Creates a scratch worktree at the absolute `path` with `commit` checked out detached (no
/// branch), replacing a leftover one at the same path.
pub fn worktree_add_detached(primary: &Path, path: &Path, commit: &str) -> Result<(), GitError> {
    check_absolute(path)?;
    if path.exists() {
        let _ = worktree_remove(primary, path, true);
    }
    worktree_prune(primary)?;
    run_git(
        primary,
        [
            "worktree".as_ref(),
            "add".as_ref(),
            "--quiet".as_ref(),
            "--detach".as_ref(),
            "--".as_ref(),
            path.as_os_str(),
            commit.as_ref(),
        ],
    )
    .map(|_| ())
}

/// Removes the worktree at `path`. Without `force`, git refuses when it holds modified or
/// untracked files. A directory already gone is pruned instead, so a retry succeeds.
pub fn worktree_remove(primary: &Path, path: &Path, force: bool) -> Result<(), GitError> {
    check_absolute(path)?;
    if !path.exists() {
        return worktree_prune(primary);
    }
    let mut args: Vec<&std::ffi::OsStr> = vec!["worktree".as_ref(), "remove".as_ref()];
    if force {
        args.push("--force".as_ref());
    }
    args.push("--".as_ref());
    args.push(path.as_os_str());
    run_git(primary, args).map(|_| ())
}

/// Forgets worktrees whose directories are gone (`git worktree prune`).
pub fn worktree_prune(primary: &Path) -> Result<(), GitError> {
    run_git(primary, ["worktree", "prune"]).map(|_| ())
}

/// All worktrees of the repository, the main one first.
pub fn worktree_list(dir: &Path) -> Result<Vec<WorktreeInfo>, GitError> {
    let output = run_git_output(dir, ["worktree", "list", "--porcelain", "-z"])?.into_result()?;
    parse_worktree_list(&output.stdout).map_err(|detail| output.unexpected(detail))
}

/// Parses `git worktree list --porcelain -z`: NUL-terminated `key value` attributes, each
/// worktree ended by an empty attribute. Unknown attributes are skipped so a newer git still
/// parses.
pub fn parse_worktree_list(output: &[u8]) -> Result<Vec<WorktreeInfo>, String> {
    let mut worktrees = Vec::new();
    let mut current: Option<WorktreeInfo> = None;
    for field in output.split(|byte| *byte == 0) {
        if field.is_empty() {
            // The end of a record, or the empty slice after the final NUL.
            if let Some(done) = current.take() {
                worktrees.push(done);
            }
            continue;
        }
        let (key, value) = match field.iter().position(|byte| *byte == b' ') {
            Some(space) => (&field[..space], Some(&field[space + 1..])),
            None => (field, None),
        };
        if key == b"worktree" {
            if let Some(done) = current.take() {
                worktrees.push(done);
            }
            let value = value.ok_or("`worktree` without a path")?;
            current = Some(WorktreeInfo {
                path: path_from_bytes(value),
                ..WorktreeInfo::default()
            });
            continue;
        }
        let entry = current
            .as_mut()
            .ok_or_else(|| format!("`{}` before any `worktree`", String::from_utf8_lossy(field)))?;
        let text =
            |value: Option<&[u8]>| String::from_utf8_lossy(value.unwrap_or_default()).into_owned();
        match key {
            b"HEAD" => entry.head = Some(text(value)),
            b"branch" => {
                let refname = text(value);
                entry.branch = Some(
                    refname
                        .strip_prefix("refs/heads/")
                        .unwrap_or(&refname)
                        .to_string(),
                );
            }
            b"bare" => entry.bare = true,
            b"detached" => entry.detached = true,
            b"locked" => entry.locked = Some(text(value)),
            b"prunable" => entry.prunable = Some(text(value)),
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        worktrees.push(done);
    }
    // git prints an all-zero HEAD for an unborn branch.
    for worktree in &mut worktrees {
        if worktree
            .head
            .as_deref()
            .is_some_and(|head| head.bytes().all(|byte| byte == b'0'))
        {
            worktree.head = None;
        }
    }
    Ok(worktrees)
}

/// Worktree paths must be absolute: git would resolve a relative one against the primary
/// checkout, and the comparison with `worktree list` against the process's directory.
fn check_absolute(path: &Path) -> Result<(), GitError> {
    if path.is_absolute() {
        Ok(())
    } else {
        Err(GitError::InvalidArgument {
            what: "worktree path",
            value: path.display().to_string(),
            reason: "expected an absolute path",
        })
    }
}

/// True when both paths name the same directory; git stores worktree paths absolute and
/// resolved, the caller's may not be.
pub(crate) fn same_path(listed: &Path, wanted: &Path) -> bool {
    listed == wanted || resolve(listed) == resolve(wanted)
}

/// The path with symlinks resolved; a path that no longer exists (a pruned worktree) is
/// resolved through its parent, which usually still does.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(resolved) = path.canonicalize() {
        return resolved;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map_or_else(|_| path.to_path_buf(), |parent| parent.join(name)),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testutil::{TestRepo, write_in};

    #[test]
    fn parses_main_linked_detached_locked_and_prunable() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let output = format!(
            "worktree /repo\0HEAD {a}\0branch refs/heads/main\0\0\
             worktree /repo/.longrun/worktrees/T 1\0HEAD {b}\0branch refs/heads/longrun/T1\0locked\0\0\
             worktree /tmp/gone\0HEAD {b}\0detached\0locked reason: on usb\0prunable gitdir file points to non-existent location\0\0"
        );
        let worktrees = parse_worktree_list(output.as_bytes()).unwrap();
        assert_eq!(worktrees.len(), 3);
        assert_eq!(worktrees[0].path, PathBuf::from("/repo"));
        assert_eq!(worktrees[0].head.as_deref(), Some(a.as_str()));
        assert_eq!(worktrees[0].branch.as_deref(), Some("main"));
        assert!(!worktrees[0].detached && worktrees[0].locked.is_none());
        assert_eq!(
            worktrees[1].path,
            PathBuf::from("/repo/.longrun/worktrees/T 1")
        );
        assert_eq!(worktrees[1].branch.as_deref(), Some("longrun/T1"));
        assert_eq!(worktrees[1].locked.as_deref(), Some(""));
        assert!(worktrees[2].detached);
        assert_eq!(worktrees[2].branch, None);
        assert_eq!(worktrees[2].locked.as_deref(), Some("reason: on usb"));
        assert_eq!(
            worktrees[2].prunable.as_deref(),
            Some("gitdir file points to non-existent location")
        );
    }

    #[test]
    fn parses_bare_and_unborn_and_unknown_attributes() {
        let output = format!(
            "worktree /srv/repo.git\0bare\0\0worktree /w\0HEAD {}\0branch refs/heads/new\0future-flag x\0\0",
            "0".repeat(40)
        );
        let worktrees = parse_worktree_list(output.as_bytes()).unwrap();
        assert!(worktrees[0].bare);
        assert_eq!(worktrees[0].head, None);
        assert_eq!(worktrees[1].head, None);
        assert_eq!(worktrees[1].branch.as_deref(), Some("new"));
        assert_eq!(parse_worktree_list(b"").unwrap(), vec![]);
        assert!(parse_worktree_list(b"HEAD abc\0\0").is_err());
    }

    #[test]
    fn add_list_reuse_remove_and_prune() {
        let repo = TestRepo::new();
        let base = repo.head(&repo.primary);
        let path = repo.root.join("worktrees").join("T 1");

        let added = worktree_add(&repo.primary, &path, "longrun/T1", "main").unwrap();
        assert_eq!(added, WorktreeAdded::CreatedBranch);
        let listed = worktree_list(&repo.primary).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].path, repo.primary);
        assert_eq!(listed[1].path, path);
        assert_eq!(listed[1].branch.as_deref(), Some("longrun/T1"));
        assert_eq!(listed[1].head.as_deref(), Some(base.as_str()));
        assert_eq!(
            worktree_add(&repo.primary, &path, "longrun/T1", "main").unwrap(),
            WorktreeAdded::AlreadyPresent {
                head: Some(base.clone())
            }
        );

        // A worker commits, then the attempt's worktree goes; the retry reuses the branch.
        write_in(&path, "work.txt", "work\n");
        let work = repo.commit_everything(&path, "work");
        write_in(&path, "scratch.txt", "untracked\n");
        assert!(worktree_remove(&repo.primary, &path, false).is_err());
        assert!(path.exists(), "a refused removal keeps the worktree");
        worktree_remove(&repo.primary, &path, true).unwrap();
        assert!(!path.exists());
        assert_eq!(worktree_list(&repo.primary).unwrap().len(), 1);

        let added = worktree_add(&repo.primary, &path, "longrun/T1", "main").unwrap();
        assert_eq!(added, WorktreeAdded::ReusedBranch { head: work.clone() });
        assert_eq!(repo.head(&path), work);

        // The directory vanishes behind git's back: listed as prunable, then pruned.
        std::fs::remove_dir_all(&path).unwrap();
        let listed = worktree_list(&repo.primary).unwrap();
        assert!(listed[1].prunable.is_some());
        worktree_prune(&repo.primary).unwrap();
        assert_eq!(worktree_list(&repo.primary).unwrap().len(), 1);

        // Removing what is already gone succeeds; adding over a stale registration works.
        worktree_remove(&repo.primary, &path, false).unwrap();
        let second = repo.root.join("worktrees").join("T2");
        worktree_add(&repo.primary, &second, "longrun/T2", &base).unwrap();
        std::fs::remove_dir_all(&second).unwrap();
        assert_eq!(
            worktree_add(&repo.primary, &second, "longrun/T2", &base).unwrap(),
            WorktreeAdded::ReusedBranch { head: base.clone() }
        );
    }

    #[test]
    fn add_refuses_bad_names_missing_bases_and_busy_branches() {
        let repo = TestRepo::new();
        let path = repo.root.join("wt");
        assert!(worktree_add(&repo.primary, &path, "-b", "main").is_err());
        assert!(worktree_add(&repo.primary, Path::new("wt"), "longrun/T1", "main").is_err());
        assert!(worktree_add(&repo.primary, &path, "longrun/T1", "no-such-base").is_err());
        // `main` is checked out in the primary checkout already.
        assert!(worktree_add(&repo.primary, &path, "main", "main").is_err());
        assert!(!path.exists());
    }
}
