//! Where a repository's longrun files are. Found by walking up from the working directory
//! to the folder holding `checklist.yaml` or `longrun.yaml`; from inside a linked worktree
//! (a task's worktree), the primary checkout is found through git's common directory, read
//! from the files git writes, without running git.
//!
//! Pure path logic: nothing here reads a state file or prints.

use std::fs;
use std::path::{Path, PathBuf};

/// The files and folders of one repository's longrun state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The primary checkout: where the state files and `current_tasks/` live.
    pub root: PathBuf,
}

/// No longrun state was found.
#[derive(Debug, thiserror::Error)]
#[error("no `checklist.yaml` or `longrun.yaml` in `{start}` or any parent folder")]
pub struct NotFound {
    pub start: PathBuf,
}

impl Workspace {
    /// A workspace rooted at `root`, as given.
    pub fn at(root: impl Into<PathBuf>) -> Workspace {
        Workspace { root: root.into() }
    }

    /// Walks up from `start` to the nearest folder with `checklist.yaml` or `longrun.yaml`,
    /// then follows a linked worktree back to its primary checkout.
    pub fn discover(start: &Path) -> Result<Workspace, NotFound> {
        let mut directory = Some(start);
        while let Some(current) = directory {
            if current.join("checklist.yaml").is_file() || current.join("longrun.yaml").is_file() {
                let root = primary_checkout(current).unwrap_or_else(|| current.to_path_buf());
                return Ok(Workspace { root });
            }
            directory = current.parent();
        }
        Err(NotFound {
            start: start.to_path_buf(),
        })
    }

    pub fn checklist(&self) -> PathBuf {
        self.root.join("checklist.yaml")
    }
    pub fn run_log(&self) -> PathBuf {
        self.root.join("run-log.md")
    }
    pub fn plan(&self) -> PathBuf {
        self.root.join("plan.md")
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("longrun.yaml")
    }
    pub fn current_tasks(&self) -> PathBuf {
        self.root.join("current_tasks")
    }
    /// Runtime folder, ignored by git.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".longrun")
    }
    pub fn checklist_snapshot(&self) -> PathBuf {
        self.state_dir().join("cache").join("checklist.snapshot")
    }
    /// longrun.yaml's `claims:`, remembered by the hash of the file (see
    /// `Config::load_claims`).
    pub fn claims_cache(&self) -> PathBuf {
        self.state_dir().join("cache").join("claims.json")
    }
    pub fn checklist_lock(&self) -> PathBuf {
        self.state_dir().join("locks").join("checklist.lock")
    }
    pub fn run_log_lock(&self) -> PathBuf {
        self.state_dir().join("locks").join("run-log.lock")
    }
}

/// For a linked worktree (its `.git` is a file `gitdir: <common>/worktrees/<name>`), the
/// primary checkout's folder; `None` for a primary checkout or when git's files say
/// otherwise.
fn primary_checkout(directory: &Path) -> Option<PathBuf> {
    let dot_git = directory.join(".git");
    if !dot_git.is_file() {
        return None;
    }
    let pointer = fs::read_to_string(&dot_git).ok()?;
    let git_dir = PathBuf::from(pointer.strip_prefix("gitdir:")?.trim());
    let git_dir = if git_dir.is_absolute() {
        git_dir
    } else {
        directory.join(git_dir)
    };
    let common = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(text) => {
            let common = PathBuf::from(text.trim());
            if common.is_absolute() {
                common
            } else {
                git_dir.join(common)
            }
        }
        Err(_) => return None,
    };
    let common = fs::canonicalize(common).ok()?;
    // A non-bare repository's common directory is `<primary>/.git`.
    if common.file_name()? != ".git" {
        return None;
    }
    let primary = common.parent()?.to_path_buf();
    (primary.join("checklist.yaml").is_file() || primary.join("longrun.yaml").is_file())
        .then_some(primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_upwards_and_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let deep = root.join("a/b");
        fs::create_dir_all(&deep).unwrap();
        assert!(Workspace::discover(&deep).is_err());
        fs::write(root.join("checklist.yaml"), "tasks: []\n").unwrap();
        assert_eq!(Workspace::discover(&deep).unwrap().root, root);
    }

    #[test]
    fn follows_a_linked_worktree_to_the_primary_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let primary = dir.path().join("primary");
        let git_dir = primary.join(".git/worktrees/T1");
        fs::create_dir_all(&git_dir).unwrap();
        fs::write(primary.join("checklist.yaml"), "tasks: []\n").unwrap();
        fs::write(git_dir.join("commondir"), "../..\n").unwrap();
        let worktree = dir.path().join("wt");
        fs::create_dir_all(&worktree).unwrap();
        fs::write(worktree.join("checklist.yaml"), "tasks: []\n").unwrap();
        fs::write(
            worktree.join(".git"),
            format!("gitdir: {}\n", git_dir.display()),
        )
        .unwrap();
        let found = Workspace::discover(&worktree).unwrap();
        assert_eq!(found.root, fs::canonicalize(&primary).unwrap());
    }
}
