//! The only code that runs git. Every command is built by [`git_command`]: working directory
//! set, the variables a git hook exports (`GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE`, ...)
//! removed, `LC_ALL=C`, no prompts, no optional locks, stdin null.
//!
//! The submodules hold the operations the cycle needs (worktrees, status, commits, the gate's
//! merge, trailers, remotes). They ask git for machine output only (`--porcelain`, `-z`,
//! `--format`) and parse it with pure functions that are unit-tested on canned output. Nothing
//! here prints, reads environment variables or decides policy: callers pass identities, refs
//! and paths in, and get typed outcomes back. Refusals that the cycle must act on (a conflict,
//! a moved branch, local changes in the way, a rejected push) are outcomes, not errors.

mod commit;
mod diff;
mod merge;
mod refs;
mod remote;
mod repo;
mod status;
mod trailers;
mod worktree;

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

pub mod claims;

pub use commit::{commit_all, create_merge_commit};
pub use diff::{DiffSummary, MAX_SCANNED_BINARY_BYTES, diff_summary, diff_text};
pub use merge::{
    AdvanceMethod, AdvanceOutcome, MergeOutcome, TreeMerge, advance_branch,
    advance_branch_to_descendant, fast_forward, merge_clean, merge_into_clean_task,
    merge_target_into_task, merge_trees, parse_overwritten_paths, reset_hard,
};
pub use remote::{
    PushOutcome, PushRefStatus, RejectKind, fetch, parse_push_porcelain, push_with_lease,
};
pub use repo::{
    Branch, branch_delete, branches_delete, common_dir, config_value, first_parents, is_ancestor,
    list_branches, merge_base, parse_batch_check_commits, parse_branch_list, parse_commit_parents,
    primary_checkout, rev_parse, tree_of,
};
pub use status::{
    StatusEntry, is_clean, parse_null_separated_paths, parse_status, status, status_fingerprint,
};
pub use trailers::{
    CompletedTask, History, TRAILER_ATTEMPT, TRAILER_TASK, TRAILER_TOKEN, TRAILER_VALIDATED,
    TaskTrailers, completed_tasks, format_trailers, parse_completed_tasks, parse_trailers,
};
pub use worktree::{
    WorktreeAdded, WorktreeInfo, parse_worktree_list, worktree_add, worktree_add_detached,
    worktree_list, worktree_park, worktree_prune, worktree_remove, worktree_unpark,
};

/// A git invocation that failed, or whose result longrun cannot use. Every variant that comes
/// from running git names the command line and the directory it ran in.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run `git {args}` in `{dir}`")]
    Spawn {
        args: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`git {args}` failed in `{dir}` (exit {status}): {stderr}")]
    Failed {
        args: String,
        dir: PathBuf,
        status: String,
        stderr: String,
    },
    /// git succeeded but its output did not parse, or the repository is not in the state the
    /// command should have left it in.
    #[error("`git {args}` in `{dir}`: {detail}")]
    Unexpected {
        args: String,
        dir: PathBuf,
        detail: String,
    },
    /// A caller passed a value git would misread (an object id that is not hex, a branch
    /// name that looks like an option, a trailer value with a line break).
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidArgument {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    /// The operation needs a clean worktree (a merge must be abortable without losing work).
    #[error("`{dir}` has uncommitted changes ({count} paths), first: `{first}`")]
    DirtyWorktree {
        dir: PathBuf,
        count: usize,
        first: String,
    },
    /// `advance_branch` was asked to move a branch to a commit that does not descend from the
    /// branch's expected tip.
    #[error("`{new}` does not descend from `{old}`: advancing `{branch}` would lose commits")]
    NotFastForward {
        branch: String,
        old: String,
        new: String,
    },
}

/// Who authors and commits the commits longrun makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Identity {
        Identity {
            name: name.into(),
            email: email.into(),
        }
    }
}

/// What a git run produced, whatever its exit status. Built by [`run_git_output`] for the
/// commands whose failure is an answer (`merge-base --is-ancestor`, a refused merge, a
/// rejected push) rather than an error.
#[derive(Debug)]
pub struct GitOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// The command line, for error messages.
    pub args: String,
    pub dir: PathBuf,
}

impl GitOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, or `None` when git was killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stdout as text; git's machine output is UTF-8 except for path bytes, which callers
    /// that need them exactly parse from [`GitOutput::stdout`] instead.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The error describing this run: its command line, directory, status and stderr.
    pub fn to_error(&self) -> GitError {
        GitError::Failed {
            args: self.args.clone(),
            dir: self.dir.clone(),
            status: self
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |code| code.to_string()),
            stderr: self.stderr.trim().to_string(),
        }
    }

    /// `Ok(self)` on exit 0, the error otherwise.
    pub fn into_result(self) -> Result<GitOutput, GitError> {
        if self.success() {
            Ok(self)
        } else {
            Err(self.to_error())
        }
    }

    /// An `Unexpected` error about this run, for output that does not parse.
    pub fn unexpected(&self, detail: impl Into<String>) -> GitError {
        GitError::Unexpected {
            args: self.args.clone(),
            dir: self.dir.clone(),
            detail: detail.into(),
        }
    }
}

/// Builds a hermetic git command running in `dir`.
pub fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command.current_dir(dir);
    // A cycle started from a git hook inherits these; they would point every command at the
    // hook's repository and index instead of `dir`.
    for variable in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
    ] {
        command.env_remove(variable);
    }
    command
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        // `git status` otherwise refreshes and rewrites the index, which takes `index.lock`
        // and can make a worker's (or the person's) own `git commit` fail at that moment.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        // Its own process group: a terminal's Ctrl-C goes to the whole foreground group, and
        // `longrun loop` answers it by finishing the current cycle, which needs the cycle's
        // git commands to finish too rather than die halfway through a merge.
        .process_group(0);
    // No `git maintenance run --auto` after each merge and commit: the cycle makes hundreds
    // of them and runs that check once a cycle instead (`auto_maintenance`). Appended to any
    // configuration the caller's environment already passes this way.
    let given = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|count| count.parse::<usize>().ok())
        .unwrap_or(0);
    command
        .env("GIT_CONFIG_COUNT", (given + 1).to_string())
        .env(format!("GIT_CONFIG_KEY_{given}"), "maintenance.auto")
        .env(format!("GIT_CONFIG_VALUE_{given}"), "false");
    if cfg!(test) {
        // Unit tests run real git; the developer's own configuration (hooks, signing,
        // default branch, rerere) must not change what they see.
        command
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
    }
    command
}

/// Runs git with `args` in `dir` and returns its stdout; a non-zero exit is an error.
pub fn run_git<I, S>(dir: &Path, args: I) -> Result<String, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_git_output(dir, args)?
        .into_result()
        .map(|output| output.stdout_text())
}

/// Runs git with `args` in `dir` and returns what it produced whatever the exit status; only
/// a failure to start git is an error.
pub fn run_git_output<I, S>(dir: &Path, args: I) -> Result<GitOutput, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    execute(dir, None, None, args)
}

/// Like [`run_git_output`], with `input` on git's stdin (`cat-file --batch-check` and other
/// batch commands: one process for many questions). The input is written from a thread so
/// a large answer cannot block git while it waits for the rest of the question.
pub fn run_git_with_input<I, S>(dir: &Path, args: I, input: &[u8]) -> Result<GitOutput, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    execute(dir, None, Some(input), args)
}

/// Like [`run_git_output`], with `identity` as author and committer of any commit it makes.
pub fn run_git_as<I, S>(dir: &Path, identity: &Identity, args: I) -> Result<GitOutput, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    execute(dir, Some(identity), None, args)
}

fn execute<I, S>(
    dir: &Path,
    identity: Option<&Identity>,
    input: Option<&[u8]>,
    args: I,
) -> Result<GitOutput, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args
        .into_iter()
        .map(|arg| arg.as_ref().to_os_string())
        .collect();
    let display = args
        .iter()
        .map(|arg| arg.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = git_command(dir);
    if let Some(identity) = identity {
        // The environment, not `-c user.name=...`: `GIT_AUTHOR_NAME` and friends outrank
        // configuration, so a variable exported in the person's shell would otherwise
        // replace the identity the caller chose.
        command
            .env("GIT_AUTHOR_NAME", &identity.name)
            .env("GIT_AUTHOR_EMAIL", &identity.email)
            .env("GIT_COMMITTER_NAME", &identity.name)
            .env("GIT_COMMITTER_EMAIL", &identity.email);
    }
    let started = std::time::Instant::now();
    let spawn_error = |source| GitError::Spawn {
        args: display.clone(),
        dir: dir.to_path_buf(),
        source,
    };
    command.args(&args);
    let output = match input {
        None => command.output().map_err(spawn_error)?,
        Some(input) => {
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(spawn_error)?;
            let output = std::thread::scope(|scope| {
                if let Some(mut stdin) = child.stdin.take() {
                    scope.spawn(move || {
                        use std::io::Write;
                        // git closing its stdin early shows in its exit status and stderr.
                        let _ = stdin.write_all(input);
                    });
                }
                child.wait_with_output()
            });
            output.map_err(spawn_error)?
        }
    };
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    let shown: &str = &display;
    tracing::trace!("git {shown}: {took_ms:.1} ms");
    Ok(GitOutput {
        status: output.status,
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        args: display,
        dir: dir.to_path_buf(),
    })
}

/// `git maintenance run --auto`: what git itself runs after a commit or a merge (packing
/// loose objects once there are many), which longrun's own git commands skip. Quick when
/// there is nothing to do; git detaches the work when there is. Errors are ignored: it is
/// housekeeping. At most once every [`MAINTENANCE_EVERY`] per repository in one process
/// (`longrun loop` runs many cycles): git's own check runs after every commit, but nothing
/// it does is urgent.
pub fn auto_maintenance(dir: &Path) {
    static LAST: std::sync::Mutex<Option<(PathBuf, std::time::Instant)>> =
        std::sync::Mutex::new(None);
    if let Ok(mut last) = LAST.lock() {
        if let Some((repo, at)) = last.as_ref()
            && repo == dir
            && at.elapsed() < MAINTENANCE_EVERY
        {
            return;
        }
        *last = Some((dir.to_path_buf(), std::time::Instant::now()));
    }
    let _ = run_git_output(dir, ["maintenance", "run", "--auto", "--quiet"]);
}

/// How often [`auto_maintenance`] asks git at most.
pub const MAINTENANCE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Creates a new repository in `dir` (`git init`).
/// `git --version`'s text, like `git version 2.47.3`.
pub fn version(dir: &Path) -> Result<String, GitError> {
    run_git(dir, ["--version"]).map(|text| text.trim().to_string())
}

pub fn init_repository(dir: &Path) -> Result<(), GitError> {
    run_git(dir, ["init", "--quiet"]).map(|_| ())
}

/// True when `dir` is inside a git work tree.
pub fn is_inside_work_tree(dir: &Path) -> bool {
    run_git(dir, ["rev-parse", "--is-inside-work-tree"]).is_ok_and(|out| out.trim() == "true")
}

/// The checked-out branch's short name, or `None` on a detached HEAD or outside a repository.
pub fn current_branch(dir: &Path) -> Option<String> {
    if let Some(branch) = refs::head_branch(dir) {
        return branch;
    }
    let output = run_git(dir, ["symbolic-ref", "--quiet", "--short", "HEAD"]).ok()?;
    let branch = output.trim();
    (!branch.is_empty()).then(|| branch.to_string())
}

/// Refuses anything but a full hexadecimal object id (SHA-1 or SHA-256). Commit and tree ids
/// go to git as positional arguments; checking them keeps a stray `-x` or `HEAD~1` from being
/// read as an option or a different revision.
pub(crate) fn check_object_id(what: &'static str, value: &str) -> Result<(), GitError> {
    let hex = value.bytes().all(|byte| byte.is_ascii_hexdigit());
    if hex && (value.len() == 40 || value.len() == 64) {
        Ok(())
    } else {
        Err(GitError::InvalidArgument {
            what,
            value: value.to_string(),
            reason: "expected a full hexadecimal object id",
        })
    }
}

/// Refuses branch names git would read as options or that are empty. git itself checks the
/// rest of the ref name rules when it creates the ref.
pub(crate) fn check_branch_name(value: &str) -> Result<(), GitError> {
    let reason = if value.is_empty() {
        Some("a branch name cannot be empty")
    } else if value.starts_with('-') {
        Some("a branch name cannot start with `-`")
    } else if value.starts_with("refs/") {
        Some("pass the short branch name, without `refs/`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(GitError::InvalidArgument {
            what: "branch name",
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A path from git's `-z` output. On Unix the bytes are the file name exactly; elsewhere git
/// writes UTF-8.
pub(crate) fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A real repository in a temp dir for the git tests. Configuration is isolated by
    //! [`super::git_command`] under `cfg(test)`; identities are passed explicitly.

    use std::fs;
    use std::path::{Path, PathBuf};

    use super::{Identity, run_git, run_git_as};

    pub fn identity() -> Identity {
        Identity::new("Longrun Test", "longrun-test@example.com")
    }

    pub struct TestRepo {
        // Held for its Drop: the directory lives as long as the repository.
        _temp: tempfile::TempDir,
        pub root: PathBuf,
        pub primary: PathBuf,
    }

    impl TestRepo {
        /// A repository with one commit on `main` holding `README.md`.
        pub fn new() -> TestRepo {
            let temp = tempfile::tempdir().unwrap();
            let root = temp.path().canonicalize().unwrap();
            let primary = root.join("primary");
            fs::create_dir(&primary).unwrap();
            run_git(&primary, ["init", "--quiet", "--initial-branch=main"]).unwrap();
            let repo = TestRepo {
                _temp: temp,
                root,
                primary,
            };
            repo.write("README.md", "hello\n");
            repo.commit_everything(&repo.primary, "initial");
            repo
        }

        pub fn write(&self, relative: &str, text: &str) {
            write_in(&self.primary, relative, text);
        }

        pub fn read(&self, relative: &str) -> Vec<u8> {
            fs::read(self.primary.join(relative)).unwrap()
        }

        /// `add -A` and commit in `dir`; returns the new HEAD.
        pub fn commit_everything(&self, dir: &Path, message: &str) -> String {
            run_git(dir, ["add", "-A"]).unwrap();
            run_git_as(dir, &identity(), ["commit", "--quiet", "-m", message])
                .unwrap()
                .into_result()
                .unwrap();
            self.head(dir)
        }

        pub fn head(&self, dir: &Path) -> String {
            run_git(dir, ["rev-parse", "HEAD"])
                .unwrap()
                .trim()
                .to_string()
        }

        pub fn branch_tip(&self, branch: &str) -> String {
            run_git(
                &self.primary,
                ["rev-parse", &format!("refs/heads/{branch}")],
            )
            .unwrap()
            .trim()
            .to_string()
        }
    }

    pub fn write_in(dir: &Path, relative: &str, text: &str) {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, text).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_must_be_full_hex() {
        assert!(check_object_id("commit", &"a".repeat(40)).is_ok());
        assert!(check_object_id("commit", &"0".repeat(64)).is_ok());
        assert!(check_object_id("commit", "HEAD").is_err());
        assert!(check_object_id("commit", &format!("-{}", "a".repeat(39))).is_err());
        assert!(check_object_id("commit", "abc123").is_err());
    }

    #[test]
    fn branch_names_that_look_like_options_are_refused() {
        assert!(check_branch_name("longrun/T1").is_ok());
        assert!(check_branch_name("-D").is_err());
        assert!(check_branch_name("").is_err());
        assert!(check_branch_name("refs/heads/main").is_err());
    }

    #[test]
    fn failed_runs_carry_command_line_and_stderr() {
        let temp = tempfile::tempdir().unwrap();
        let error = run_git(temp.path(), ["rev-parse", "--verify", "no-such-ref"]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("git rev-parse --verify no-such-ref"),
            "{text}"
        );
        assert!(text.contains("not a git repository"), "{text}");
    }
}
