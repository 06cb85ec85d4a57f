//! The worker spec: everything the supervisor needs, written by the cycle as
//! `<run_dir>/spec.json` and read back by `longrun __supervise`. Also the lease-renewal hook
//! the supervisor calls while the agent runs.
//!
//! The spec is data only: argv already expanded (never a shell string), the agent's complete
//! environment, absolute paths. Nothing here spawns a process or reads the environment.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ProcessError;
use crate::config::{AgentKind, Pricing};
use crate::fsutil::{self, FsError};
use crate::state::checklist::Validator;

/// Per-stream output cap when a spec does not set one: 64 MiB.
pub const DEFAULT_OUTPUT_CAP_BYTES: u64 = 64 * 1024 * 1024;

/// How long the supervisor waits for the claim lock when a spec does not say: a cycle that
/// still holds its own lock on the claim file while it spawns releases it when it exits.
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 30;

/// The largest spec file read (the environment and argv are small; this only guards
/// against reading a wrong file).
const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// How to run one agent attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSpec {
    /// The agent command, already expanded: `argv[0]` is the program (a bare name is looked
    /// up in the `PATH` of `env`), the rest are passed as data, never through a shell.
    pub argv: Vec<String>,
    /// The agent's working directory (its worktree). Absolute.
    pub cwd: PathBuf,
    /// The agent's COMPLETE environment: the child starts from an empty one plus exactly
    /// these pairs, so nothing of the cycle's environment (tokens, `GIT_DIR`) leaks in.
    pub env: Vec<(String, String)>,
    pub stdin: Stdin,
    /// Wall-clock limit for the agent; then its group gets SIGTERM. At least 1.
    pub timeout_secs: u64,
    /// Time between SIGTERM and SIGKILL to the agent's group.
    pub kill_grace_secs: u64,
    /// Where `stdout.log`, `stderr.log`, `result.json`, `supervisor.pid` go. Absolute; one
    /// directory per attempt.
    pub run_dir: PathBuf,
    /// Per-stream cap: bytes beyond it are counted and discarded, and a marker line says
    /// so, so an agent printing a gigabyte fills neither the disk nor memory.
    #[serde(default = "default_output_cap")]
    pub output_cap_bytes: u64,
    /// A claim lock file the supervisor opens and holds an exclusive OS lock on for its
    /// whole life, so others see that the holder is alive. Never created, deleted or
    /// written by the supervisor.
    #[serde(default)]
    pub lock_file: Option<PathBuf>,
    /// How long to wait for `lock_file`'s lock before giving up with an error result.
    #[serde(default = "default_lock_wait")]
    pub lock_wait_secs: u64,
    /// Lease renewal while the agent runs; see [`LeaseRenewer`].
    #[serde(default)]
    pub heartbeat: Option<Heartbeat>,
    /// Which agent runs, so that its usage, cost and reported failure are read from
    /// `stdout.log` into the result. `None` (validators, plain commands): nothing is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_kind: Option<AgentKind>,
    /// The profile's prices, for agents that report tokens but no cost.
    #[serde(default, skip_serializing_if = "pricing_is_unknown")]
    pub pricing: Pricing,
    /// Validators to run on the untouched worktree before the agent starts (a task's first
    /// attempt): one that already passes there proves nothing about the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// Files outside the worktree that the agent must not touch, a folder standing for
    /// every file in it (the approval records): the supervisor notes what they hold right
    /// before the agent starts and
    /// compares once it has ended, and `result.json` names any that changed. The cycle
    /// cannot take that note itself: anything it writes down where the agent can write
    /// (its run directory is one such place) the agent could rewrite to match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guarded: Vec<PathBuf>,
}

/// The vacuous-validator check, run by the supervisor in the worker's worktree (at the
/// target's tip, before any work) so that the cycle never waits for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// The task's own validators.
    pub validators: Vec<Validator>,
    /// The commit the worktree starts from (for messages).
    pub base: String,
    pub env: Vec<(String, String)>,
    pub timeout_secs: u64,
    /// Where each validator's files go (`<dir>/<n>/1/...`).
    pub dir: PathBuf,
    /// `strict_validators`: do not start the agent when one is vacuous.
    pub strict: bool,
}

/// What the baseline check found (in `result.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineResult {
    pub base: String,
    /// The validators that already pass on the base, as displayed.
    pub vacuous: Vec<String>,
    /// The agent was not started because of them (`strict`).
    pub refused: bool,
}

/// Where the agent's stdin comes from. Never the supervisor's own stdin or a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stdin {
    Null,
    /// A file read from the start (a prompt, for agents that read one on stdin).
    File(PathBuf),
}

/// Lease renewal: every `interval_secs` the supervisor calls the [`LeaseRenewer`] with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The claim file whose lease is renewed.
    pub lock_file: PathBuf,
    pub interval_secs: u64,
}

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    Renewed,
    /// The claim now belongs to someone else (taken over after the lease expired): the
    /// agent is stopped, since its work would be fenced off anyway.
    Lost,
}

/// A renewal that failed for now (I/O, a busy remote); the agent keeps running and the
/// next interval tries again.
pub type RenewError = Box<dyn std::error::Error + Send + Sync>;

/// The hook the claims code implements to renew a lease. The supervisor calls it on its
/// main thread every heartbeat interval while the agent runs; keep it short.
pub trait LeaseRenewer {
    fn renew(&self, heartbeat: &Heartbeat, now: Timestamp) -> Result<Renewal, RenewError>;
}

/// The default renewer: renews nothing and reports success.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopRenewer;

impl LeaseRenewer for NoopRenewer {
    fn renew(&self, _heartbeat: &Heartbeat, _now: Timestamp) -> Result<Renewal, RenewError> {
        Ok(Renewal::Renewed)
    }
}

/// Left out of spec files when nothing is priced, so specs without an agent read as before.
fn pricing_is_unknown(pricing: &Pricing) -> bool {
    *pricing == Pricing::default()
}

fn default_output_cap() -> u64 {
    DEFAULT_OUTPUT_CAP_BYTES
}

fn default_lock_wait() -> u64 {
    DEFAULT_LOCK_WAIT_SECS
}

impl WorkerSpec {
    /// A spec with defaults for everything but the command, its directory and the run dir.
    pub fn new(argv: Vec<String>, cwd: PathBuf, run_dir: PathBuf) -> WorkerSpec {
        WorkerSpec {
            argv,
            cwd,
            env: Vec::new(),
            stdin: Stdin::Null,
            timeout_secs: 3600,
            kill_grace_secs: 10,
            run_dir,
            output_cap_bytes: DEFAULT_OUTPUT_CAP_BYTES,
            lock_file: None,
            lock_wait_secs: DEFAULT_LOCK_WAIT_SECS,
            heartbeat: None,
            agent_kind: None,
            pricing: Pricing::default(),
            baseline: None,
            guarded: Vec::new(),
        }
    }

    /// Reads and validates a spec file.
    pub fn load(path: &Path) -> Result<WorkerSpec, ProcessError> {
        let bytes = fsutil::read_bounded(path, MAX_SPEC_BYTES)?;
        let spec: WorkerSpec =
            serde_json::from_slice(&bytes).map_err(|source| ProcessError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        spec.validate(path)?;
        Ok(spec)
    }

    /// Writes the spec atomically (validated first, so a bad spec never reaches a file).
    pub fn write(&self, path: &Path) -> Result<(), ProcessError> {
        self.validate(path)?;
        let mut text = serde_json::to_string_pretty(self).map_err(|source| {
            ProcessError::Fs(FsError::Write {
                path: path.to_path_buf(),
                source: source.into(),
            })
        })?;
        text.push('\n');
        fsutil::write_atomic(path, text.as_bytes())?;
        Ok(())
    }

    /// Checks what serde cannot: a program to run, absolute paths (the supervisor runs in
    /// another working directory than the cycle that wrote the spec), sane durations.
    /// `origin` names the spec in errors.
    pub fn validate(&self, origin: &Path) -> Result<(), ProcessError> {
        match self.argv.first() {
            None => return Err(ProcessError::invalid(origin, "`argv` is empty")),
            Some(program) if program.is_empty() => {
                return Err(ProcessError::invalid(origin, "`argv[0]` is empty"));
            }
            Some(_) => {}
        }
        if self.argv.iter().any(|arg| arg.contains('\0')) {
            return Err(ProcessError::invalid(origin, "`argv` contains a NUL byte"));
        }
        for (key, value) in &self.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
                return Err(ProcessError::invalid(
                    origin,
                    format!("`env` entry `{key}` is not a valid variable"),
                ));
            }
        }
        let mut paths = vec![("cwd", &self.cwd), ("run_dir", &self.run_dir)];
        if let Some(lock_file) = &self.lock_file {
            paths.push(("lock_file", lock_file));
        }
        if let Stdin::File(file) = &self.stdin {
            paths.push(("stdin", file));
        }
        for (name, path) in paths {
            if !path.is_absolute() {
                return Err(ProcessError::invalid(
                    origin,
                    format!(
                        "`{name}` must be an absolute path, not `{}`",
                        path.display()
                    ),
                ));
            }
        }
        if self.timeout_secs == 0 {
            return Err(ProcessError::invalid(
                origin,
                "`timeout_secs` must be at least 1",
            ));
        }
        if let Some(heartbeat) = &self.heartbeat
            && heartbeat.interval_secs == 0
        {
            return Err(ProcessError::invalid(
                origin,
                "`heartbeat.interval_secs` must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> WorkerSpec {
        WorkerSpec::new(
            vec!["agent".into(), "--flag".into()],
            PathBuf::from("/work/tree"),
            PathBuf::from("/work/runs/1"),
        )
    }

    #[test]
    fn round_trips_through_json_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        let mut original = spec();
        original.env = vec![("PATH".into(), "/usr/bin".into())];
        original.stdin = Stdin::File(PathBuf::from("/work/prompt.md"));
        original.heartbeat = Some(Heartbeat {
            lock_file: PathBuf::from("/work/current_tasks/T1.lock"),
            interval_secs: 30,
        });
        original.write(&path).unwrap();
        assert_eq!(WorkerSpec::load(&path).unwrap(), original);

        // A minimal spec gets the documented defaults.
        std::fs::write(
            &path,
            r#"{"argv":["a"],"cwd":"/w","env":[["K","V"]],"stdin":"null",
                "timeout_secs":5,"kill_grace_secs":1,"run_dir":"/r"}"#,
        )
        .unwrap();
        let loaded = WorkerSpec::load(&path).unwrap();
        assert_eq!(loaded.output_cap_bytes, DEFAULT_OUTPUT_CAP_BYTES);
        assert_eq!(loaded.lock_wait_secs, DEFAULT_LOCK_WAIT_SECS);
        assert_eq!(loaded.env, vec![("K".to_string(), "V".to_string())]);
        assert_eq!(loaded.lock_file, None);
    }

    #[test]
    fn rejects_what_cannot_run() {
        let origin = Path::new("spec.json");
        let mut empty = spec();
        empty.argv.clear();
        assert!(empty.validate(origin).is_err());

        let mut relative = spec();
        relative.cwd = PathBuf::from("tree");
        let error = relative.validate(origin).unwrap_err().to_string();
        assert!(error.contains("`cwd` must be an absolute path"), "{error}");

        let mut zero = spec();
        zero.timeout_secs = 0;
        assert!(zero.validate(origin).is_err());

        let mut bad_env = spec();
        bad_env.env = vec![("A=B".into(), "x".into())];
        assert!(bad_env.validate(origin).is_err());

        assert!(spec().validate(origin).is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        std::fs::write(
            &path,
            r#"{"argv":["a"],"cwd":"/w","env":[],"stdin":"null","timeout_secs":5,
                "kill_grace_secs":1,"run_dir":"/r","shell":"rm -rf /"}"#,
        )
        .unwrap();
        assert!(matches!(
            WorkerSpec::load(&path),
            Err(ProcessError::Parse { .. })
        ));
    }
}
