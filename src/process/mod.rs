//! The only code that spawns agents. It owns the worker lifecycle below the cycle: a
//! [`WorkerSpec`] in, a detached supervisor process ([`spawn_detached`]) that runs the agent
//! argv in its own process group with a scrubbed environment, a timeout, capped output files
//! and a claim lock held for its whole life, and a [`WorkerResult`] written atomically to
//! `result.json` at the end. [`worker_state`] and [`kill_worker`] let a later cycle see and
//! stop what an earlier one started.
//!
//! It must not decide anything about tasks (claims, attempts, validation are the cycle's),
//! never print (callers get values and errors), never read argv or the environment (the
//! spec carries the agent's complete environment), never run a shell, and never run git.
//! Unix only: process groups and signals are the design.

mod capture;
mod group;
mod probe;
mod result;
mod spawn;
mod spec;
mod supervisor;

use std::path::{Path, PathBuf};

pub use group::{
    StopFlag, ancestor_with_arg, become_subreaper, install_interrupt_signals, install_stop_signals,
};
pub use probe::probe_output;
pub use result::{Spent, WorkerResult};
pub use spawn::{
    DeadWorker, KillOutcome, SUPERVISOR_ARG, Starting, WorkerState, kill_worker, spawn_detached,
    start_detached, wait_for_worker, worker_state,
};
pub use spec::{
    Baseline, BaselineResult, DEFAULT_LOCK_WAIT_SECS, DEFAULT_OUTPUT_CAP_BYTES, Heartbeat,
    LeaseRenewer, NoopRenewer, RenewError, Renewal, Stdin, WorkerSpec,
};
pub use supervisor::{SupervisorContext, run_supervisor};

use crate::fsutil::FsError;

/// The files of one run directory, named in one place so the supervisor, the cycle and
/// `longrun status` agree on them.
#[derive(Debug, Clone)]
pub struct RunFiles {
    run_dir: PathBuf,
}

impl RunFiles {
    pub fn new(run_dir: &Path) -> RunFiles {
        RunFiles {
            run_dir: run_dir.to_path_buf(),
        }
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The agent's stdout, at most `output_cap_bytes` plus a truncation marker.
    pub fn stdout_log(&self) -> PathBuf {
        self.run_dir.join("stdout.log")
    }

    /// The agent's stderr, capped like stdout.
    pub fn stderr_log(&self) -> PathBuf {
        self.run_dir.join("stderr.log")
    }

    /// The [`WorkerResult`], written once, atomically, after the agent's group is gone.
    pub fn result(&self) -> PathBuf {
        self.run_dir.join("result.json")
    }

    /// The supervisor's pid, written by the supervisor once it holds `supervisor.lock`.
    pub fn supervisor_pid(&self) -> PathBuf {
        self.run_dir.join("supervisor.pid")
    }

    /// Flock-held by the live supervisor: the liveness proof for this run directory.
    pub fn supervisor_lock(&self) -> PathBuf {
        self.run_dir.join("supervisor.lock")
    }

    /// The supervisor's own stderr (its errors, never the agent's output).
    pub fn supervisor_log(&self) -> PathBuf {
        self.run_dir.join("supervisor.log")
    }

    /// The agent's pid (its process group id) and start time, so an agent group orphaned by
    /// a killed supervisor can be found and killed later.
    pub fn agent_record(&self) -> PathBuf {
        self.run_dir.join("agent.json")
    }
}

/// What went wrong while preparing, running or inspecting a worker.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("invalid worker spec `{path}`: {reason}")]
    InvalidSpec { path: PathBuf, reason: String },
    #[error("cannot parse `{path}`")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("cannot start `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {action}")]
    Signal {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is locked by another live supervisor")]
    RunDirBusy { path: PathBuf },
    #[error("`{path}` already holds a result; use a fresh run directory per attempt")]
    RunDirUsed { path: PathBuf },
    #[error("the supervisor exited ({status}) before starting the agent; see `{log}`{tail}")]
    SupervisorExited {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("`{path}` does not hold a pid")]
    BadPidFile { path: PathBuf },
    #[error("refusing to signal process group {pgid}: it is this process's own group")]
    OwnGroup { pgid: u32 },
}

impl ProcessError {
    fn invalid(path: &Path, reason: impl Into<String>) -> ProcessError {
        ProcessError::InvalidSpec {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
