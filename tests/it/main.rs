//! The one integration test binary: a module per command, all driving the real `longrun`
//! binary in a temp dir holding a real git repository, with a clean environment and a
//! fixed clock.

// The real agent CLIs against the scripted model server (built with the fake agent).
#[cfg(feature = "fake-agent")]
mod agents;
mod bad_input;
#[cfg(feature = "fake-agent")]
mod budgets;
mod check;
mod claims;
#[cfg(feature = "fake-agent")]
mod cycle;
#[cfg(feature = "fake-agent")]
mod eval;
mod gc;
#[cfg(feature = "fake-agent")]
mod governance;
#[cfg(feature = "fake-agent")]
mod governance_cycle;
mod help;
mod import;
mod init;
mod log;
mod plan;
// The planner agent is the fake agent.
#[cfg(feature = "fake-agent")]
mod plan_agent;
// The fake agent binary exists only with `--features fake-agent`.
#[cfg(feature = "fake-agent")]
mod loop_cmd;
mod mine;
#[cfg(feature = "fake-agent")]
mod mine_agent;
mod next_status;
#[cfg(feature = "fake-agent")]
mod process;
mod schedule;
mod skills;
mod stop;
mod task;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The `longrun` binary under test.
///
/// Cargo puts it at `<target>/debug/longrun`, a path every checkout sharing the target
/// directory writes to: a build in another worktree can replace it while these tests run.
/// A hard link taken once, when the first test starts, keeps this build's file whatever
/// happens to the path later.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let built = PathBuf::from(env!("CARGO_BIN_EXE_longrun"));
        let base = std::env::temp_dir();
        // Links left by earlier runs; an hour is far longer than any run.
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|meta| meta.modified())
                    .ok()
                    .and_then(|time| SystemTime::now().duration_since(time).ok())
                    .is_some_and(|age| age > Duration::from_secs(3600));
                if old
                    && entry
                        .file_name()
                        .to_string_lossy()
                        .starts_with("longrun-it-bin-")
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        // Named `longrun`, in a folder of its own: the name shows in usage lines.
        let folder = base.join(format!("longrun-it-bin-{}", std::process::id()));
        let pinned = folder.join("longrun");
        let _ = std::fs::remove_dir_all(&folder);
        let linked = std::fs::create_dir_all(&folder).is_ok()
            && (std::fs::hard_link(&built, &pinned).is_ok()
                || std::fs::copy(&built, &pinned).is_ok());
        if linked { pinned } else { built }
    })
}

/// The `longrun` binary under test, as an argument for `Command::new` (see [`binary`]).
pub fn longrun_exe() -> std::ffi::OsString {
    binary().as_os_str().to_owned()
}

/// A temp dir with a git repository, a clean environment and a fixed clock.
pub struct TestEnv {
    _temp: tempfile::TempDir,
    pub root: PathBuf,
    home: PathBuf,
}

/// What one run of `longrun` did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

pub const NOW: &str = "2026-11-21T09:00:00Z";

impl TestEnv {
    /// An empty folder that is not a git repository.
    pub fn bare() -> TestEnv {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = temp.path().canonicalize().expect("canonical temp dir");
        let root = base.join("repo");
        let home = base.join("home");
        std::fs::create_dir_all(&root).expect("repo dir");
        std::fs::create_dir_all(&home).expect("home dir");
        // The default routing uses the `claude` profile, and `longrun check` reports a used
        // profile whose program is missing: a stub `claude` on PATH stands for an install.
        let bin = base.join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        let stub = bin.join("claude");
        std::fs::write(&stub, "#!/bin/sh\necho 'stub claude 0.0.0'\n").expect("stub claude");
        std::fs::set_permissions(
            &stub,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .expect("stub mode");
        TestEnv {
            _temp: temp,
            root,
            home,
        }
    }

    /// A git repository with one commit.
    #[allow(clippy::new_without_default)]
    pub fn new() -> TestEnv {
        let env = TestEnv::bare();
        env.git(&["init", "--quiet", "--initial-branch=main"]);
        std::fs::write(env.root.join("README.md"), "# test project\n").expect("readme");
        env.git(&["add", "README.md"]);
        env.git(&["commit", "--quiet", "-m", "initial"]);
        env
    }

    /// A repository after `longrun init`.
    pub fn initialized() -> TestEnv {
        let env = TestEnv::new();
        let run = env.longrun(&["init"]);
        assert_eq!(run.code, 0, "{run:?}");
        env
    }

    /// Gives `command` the test's clean environment and working directory.
    pub fn configure(&self, command: &mut Command) {
        self.clean(command);
    }

    /// The test's PATH: its stub programs first, then the caller's.
    pub fn path_variable(&self) -> std::ffi::OsString {
        let mut paths = vec![self.home.parent().expect("base").join("bin")];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        std::env::join_paths(paths).expect("PATH")
    }

    fn clean(&self, command: &mut Command) {
        command
            .env_clear()
            .env("PATH", self.path_variable())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_AUTHOR_DATE", "2026-11-21T08:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-21T08:00:00Z")
            .env("LONGRUN_NOW", NOW)
            .env("NO_COLOR", "1")
            .current_dir(&self.root)
            .stdin(Stdio::null());
    }

    /// Runs git in the repository; panics when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        let mut command = Command::new("git");
        self.clean(&mut command);
        let output = command.args(args).output().expect("run git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `longrun` with `args` in the repository root.
    pub fn longrun(&self, args: &[&str]) -> Run {
        self.longrun_in(&self.root, args)
    }

    /// Runs `longrun` with `args` in `dir`.
    pub fn longrun_in(&self, dir: &Path, args: &[&str]) -> Run {
        self.longrun_with_env(dir, args, &[])
    }

    /// Runs `longrun` with `args` in `dir`, with `env` added to the clean environment.
    pub fn longrun_with_env(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command_in(dir, args);
        command.envs(env.iter().copied());
        let output: Output = command.output().expect("run longrun");
        Run::from(output)
    }

    /// A `longrun` command with the clean environment, ready to spawn (for tests that run
    /// several at once or change the environment).
    pub fn command_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        self.clean(&mut command);
        command.current_dir(dir).args(args);
        command
    }

    /// `longrun` with `args` in the repository root, with the clean environment, not yet
    /// started (for commands that run in the background).
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_in(&self.root, args)
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent dir");
        }
        std::fs::write(path, contents).expect("write file");
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).expect("read file")
    }

    pub fn read_bytes(&self, relative: &str) -> Vec<u8> {
        std::fs::read(self.path(relative)).expect("read file")
    }

    /// Replaces the temp path in output so snapshots are stable.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.root.display().to_string(), "[REPO]")
    }
}

/// A small, commented checklist used across tests: T1 complete, T2 ready, T3 waits on T2.
pub const CHECKLIST: &str = r#"# Team checklist: comments must survive.
version: 1
summary:
  last_updated: ""
  active_task_id: ""
  status: in_progress
  blockers: []
  next_actions: []
  verification_loop:
    fast: []
    full: []

tasks:
  - task_id: T1
    title: "Set up the project"   # done last week
    status: complete
    validators: [["true"]]
    note: ""
  - {task_id: T2, title: Parser, status: not_started, depends_on: [T1], validators: ["true"]}
  # T3 waits for the parser.
  - task_id: T3
    title: 'Writer'
    depends_on:
      - T2
    validators:
      - "true"
  - task_id: T4
    title: Blocked one
    status: blocked
    note: |-
      tried twice
      same failure: linker error
    validators: [["true"]]
"#;

pub const RUN_LOG: &str = "# Run log\n\n## Context\n- Repo: test\n\n## Events (append-only)\n- 2026-11-20T10:00:00Z decision: use the parser crate\n\n## Follow-ups\n- Skills to extract:\n";

/// A repository with CHECKLIST and RUN_LOG in place.
pub fn with_checklist() -> TestEnv {
    let env = TestEnv::initialized();
    env.write("checklist.yaml", CHECKLIST);
    env.write("run-log.md", RUN_LOG);
    env
}
