//! The only code that runs git. Every command is built by [`git_command`]: working directory
//! set, `GIT_DIR`/`GIT_WORK_TREE`/`GIT_INDEX_FILE` removed, `LC_ALL=C`, no prompts, stdin null.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod claims;

/// A git invocation that failed, with its command line and stderr.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run `git`")]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed in `{dir}` (exit {status}): {stderr}")]
    Failed {
        args: String,
        dir: PathBuf,
        status: String,
        stderr: String,
    },
}

/// Builds a hermetic git command running in `dir`.
pub fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_COMMON_DIR")
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    command
}

/// Runs git with `args` in `dir` and returns its stdout; a non-zero exit is an error.
pub fn run_git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = git_command(dir)
        .args(args)
        .output()
        .map_err(GitError::Spawn)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            dir: dir.to_path_buf(),
            status: output
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |code| code.to_string()),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Creates a new repository in `dir` (`git init`).
pub fn init_repository(dir: &Path) -> Result<(), GitError> {
    run_git(dir, &["init", "--quiet"]).map(|_| ())
}

/// True when `dir` is inside a git work tree.
pub fn is_inside_work_tree(dir: &Path) -> bool {
    run_git(dir, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|out| out.trim() == "true")
}

/// The checked-out branch's short name, or `None` on a detached HEAD or outside a repository.
pub fn current_branch(dir: &Path) -> Option<String> {
    let output = run_git(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok()?;
    let branch = output.trim();
    (!branch.is_empty()).then(|| branch.to_string())
}
