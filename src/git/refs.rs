//! Reading a branch or a worktree's `HEAD` straight from the ref files, without a git
//! process: the cycle asks for the target's tip and each task branch's head hundreds of
//! times in a run, at 2 to 3 ms a `git rev-parse`.
//!
//! Only the files storage git writes by default is read: loose refs under `refs/`, then
//! `packed-refs`. Anything else (the reftable backend, a symbolic ref other than `HEAD`, a
//! file that does not parse) answers `None`, and the caller asks git. A branch is taken to
//! name a commit, as git's own commands make it.

use std::path::{Path, PathBuf};

/// What the ref files say about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefValue {
    /// It points at this object.
    Object(String),
    /// No such ref.
    Missing,
}

/// The git directory and common directory of the checkout whose top is `dir`; `None` when
/// `dir` is not the top of a checkout or its layout is not the plain one.
fn git_dirs(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let dot_git = dir.join(".git");
    let metadata = std::fs::symlink_metadata(&dot_git).ok()?;
    let git_dir = if metadata.is_dir() {
        dot_git
    } else if metadata.is_file() {
        // A linked worktree: `gitdir: <path>` to its private directory.
        let text = read_small(&dot_git)?;
        let path = PathBuf::from(text.strip_prefix("gitdir: ")?.trim_end_matches('\n'));
        if path.is_absolute() {
            path
        } else {
            dir.join(path)
        }
    } else {
        return None;
    };
    let common = match read_small(&git_dir.join("commondir")) {
        Some(text) => {
            let path = PathBuf::from(text.trim_end_matches('\n'));
            if path.is_absolute() {
                path
            } else {
                git_dir.join(path)
            }
        }
        None => git_dir.clone(),
    };
    // The reftable backend keeps refs elsewhere: leave it to git.
    if common.join("reftable").exists() {
        return None;
    }
    Some((git_dir, common))
}

fn read_small(path: &Path) -> Option<String> {
    let bytes = crate::fsutil::read_bounded(path, 64 * 1024).ok()?;
    String::from_utf8(bytes).ok()
}

fn object_id(text: &str) -> Option<String> {
    let id = text.trim_end_matches('\n');
    let hex = id
        .bytes()
        .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase());
    (hex && (id.len() == 40 || id.len() == 64)).then(|| id.to_string())
}

/// `refname` (a full name such as `refs/heads/main`) from the common directory `common`:
/// the loose file, else `packed-refs`. `None`: ask git.
fn read_ref(common: &Path, refname: &str) -> Option<RefValue> {
    if !refname.starts_with("refs/")
        || refname
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == ".." || part.ends_with(".lock"))
    {
        return None;
    }
    let loose = common.join(refname);
    match std::fs::read(&loose) {
        Ok(bytes) => return object_id(std::str::from_utf8(&bytes).ok()?).map(RefValue::Object),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        // A directory of that name (`refs/heads/a` when `refs/heads/a/b` exists), or
        // anything else unusual.
        Err(_) => return None,
    }
    let packed = match crate::fsutil::read_bounded(&common.join("packed-refs"), 256 << 20) {
        Ok(bytes) => String::from_utf8(bytes).ok()?,
        Err(error) if error.is_not_found() => return Some(RefValue::Missing),
        Err(_) => return None,
    };
    for line in packed.lines() {
        if line.starts_with('#') || line.starts_with('^') {
            continue;
        }
        let (id, name) = line.split_once(' ')?;
        if name == refname {
            return object_id(id).map(RefValue::Object);
        }
    }
    Some(RefValue::Missing)
}

/// A checkout's `HEAD` file.
enum Head {
    /// `ref: <refname>`.
    Symbolic(String),
    /// A detached HEAD: the commit id.
    Detached(String),
}

/// `HEAD` in the git directory `git_dir`; `None` when it is neither form.
fn read_head(git_dir: &Path) -> Option<Head> {
    let head = read_small(&git_dir.join("HEAD"))?;
    match head.strip_prefix("ref: ") {
        Some(target) => Some(Head::Symbolic(target.trim_end_matches('\n').to_string())),
        None => object_id(&head).map(Head::Detached),
    }
}

/// The branch `refname` (`refs/heads/...`) of the repository whose checkout is `dir`, or
/// `HEAD` of that checkout itself. `None`: the files do not say (ask git).
pub fn read(dir: &Path, rev: &str) -> Option<RefValue> {
    let (git_dir, common) = git_dirs(dir)?;
    if rev != "HEAD" {
        return rev
            .starts_with("refs/heads/")
            .then(|| read_ref(&common, rev))
            .flatten();
    }
    match read_head(&git_dir)? {
        Head::Symbolic(target) => read_ref(&common, &target),
        Head::Detached(id) => Some(RefValue::Object(id)),
    }
}

/// The branch checked out in the checkout whose top is `dir` (`main` for
/// `refs/heads/main`), `Some(None)` on a detached HEAD; `None`: ask git.
pub fn head_branch(dir: &Path) -> Option<Option<String>> {
    let (git_dir, _) = git_dirs(dir)?;
    match read_head(&git_dir)? {
        Head::Symbolic(target) => target
            .strip_prefix("refs/heads/")
            .filter(|name| !name.is_empty())
            .map(|name| Some(name.to_string())),
        Head::Detached(_) => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::run_git;
    use crate::git::testutil::TestRepo;

    fn git_says(dir: &Path, rev: &str) -> RefValue {
        match crate::git::run_git_output(dir, ["rev-parse", "--verify", "--quiet", rev]).unwrap() {
            output if output.success() => RefValue::Object(output.stdout_text().trim().to_string()),
            _ => RefValue::Missing,
        }
    }

    /// Loose, packed, missing, detached and linked-worktree answers agree with git's.
    #[test]
    fn the_files_say_what_git_says() {
        let repo = TestRepo::new();
        let primary = &repo.primary;
        run_git(primary, ["branch", "packed"]).unwrap();
        run_git(primary, ["pack-refs", "--all"]).unwrap();
        repo.write("a.txt", "a\n");
        repo.commit_everything(primary, "loose again");
        run_git(primary, ["branch", "longrun/T1"]).unwrap();
        let worktree = repo.root.join("wt");
        crate::git::worktree_add(primary, &worktree, "longrun/T2", &repo.head(primary)).unwrap();
        let detached = repo.root.join("detached");
        let packed = repo.branch_tip("packed");
        crate::git::worktree_add_detached(primary, &detached, &packed).unwrap();
        for dir in [primary, &worktree, &detached] {
            for rev in [
                "HEAD",
                "refs/heads/main",
                "refs/heads/packed",
                "refs/heads/longrun/T1",
                "refs/heads/longrun/T2",
                "refs/heads/missing",
                "refs/heads/longrun",
            ] {
                let files = read(dir, rev);
                if rev == "refs/heads/longrun" {
                    // A directory there: the files do not say.
                    assert_eq!(files, None);
                    continue;
                }
                assert_eq!(
                    files,
                    Some(git_says(dir, rev)),
                    "{rev} in {}",
                    dir.display()
                );
            }
        }
        // Not a branch, not the top of a checkout, a name git would refuse: ask git.
        assert_eq!(read(primary, "main"), None);
        assert_eq!(read(primary, "refs/tags/v1"), None);
        assert_eq!(read(&primary.join("sub"), "HEAD"), None);
        assert_eq!(read(primary, "refs/heads/../../HEAD"), None);
        assert_eq!(head_branch(primary), Some(Some("main".to_string())));
        assert_eq!(head_branch(&worktree), Some(Some("longrun/T2".to_string())));
        assert_eq!(head_branch(&detached), Some(None));
        assert_eq!(head_branch(&primary.join("sub")), None);
        // An unborn branch: HEAD names nothing, but the branch is checked out.
        run_git(primary, ["checkout", "--quiet", "--orphan", "unborn"]).unwrap();
        assert_eq!(read(primary, "HEAD"), Some(RefValue::Missing));
        assert_eq!(head_branch(primary), Some(Some("unborn".to_string())));
    }
}
