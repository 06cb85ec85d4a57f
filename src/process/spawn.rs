//! Starting, inspecting and stopping supervisors from the outside: what the cycle (and
//! `longrun stop`, `longrun status`) uses. A supervisor is started detached so it outlives
//! the cycle that started it; afterwards only files in its run directory and the OS lock on
//! `supervisor.lock` say what it is doing.
//!
//! Liveness is never guessed from a pid: a held flock on `supervisor.lock` means alive (the
//! kernel drops it when the holder dies), `result.json` means finished, neither means dead.
//! Pids are used only to send signals, and only after the lock (or the start time in
//! `agent.json`) shows they still belong to this run.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::group;
use super::supervisor::AgentRecord;
use super::{ProcessError, RunFiles, WorkerResult, WorkerSpec};
use crate::fsutil::{self, FsError};

/// How long `spawn_detached` waits for the supervisor to take its lock and write its pid.
/// It normally takes a few milliseconds; past this the supervisor is left to run anyway.
const START_WAIT: Duration = Duration::from_secs(10);

/// What a run directory says about its worker.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerState {
    /// A live supervisor holds `supervisor.lock`.
    Running,
    /// `result.json` exists and parses.
    Finished(Box<WorkerResult>),
    /// No live supervisor and no result: the supervisor died (SIGKILL, crash, reboot).
    Dead(DeadWorker),
}

/// What is known about a dead worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadWorker {
    /// The agent's process group, when processes of it outlived the supervisor. They may
    /// still be writing to the worktree; [`kill_worker`] kills them.
    pub orphaned_agent_group: Option<u32>,
}

/// What [`kill_worker`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// SIGTERM went to the live supervisor's group; it ends the agent's group (TERM, grace,
    /// KILL) and then writes `result.json` with `stopped: true`.
    SupervisorSignalled { pid: u32 },
    /// The supervisor was already dead; the agent group it left behind got SIGKILL.
    OrphanedAgentKilled { pgid: u32 },
    /// Nothing of this run is alive.
    NotRunning,
}

/// Starts `<exe> __supervise --spec <spec_path>` detached and returns the supervisor's pid.
///
/// The supervisor leads its own process group (`process_group(0)`; a new session would need
/// `setsid` in `pre_exec`, which is unsafe code), so signals meant for the cycle's group,
/// like a terminal's Ctrl-C, never reach it, and it ignores SIGHUP. Its stdin is
/// `/dev/null`, its stdout and stderr go to `supervisor.log` in the run directory.
///
/// This returns once the supervisor holds its run lock and the spec's claim lock and has
/// written `supervisor.pid`, so from then on the worker is `Running` (or already
/// `Finished`) and the claim is visibly held. A caller holding its own lock on the claim
/// file must let go of it before calling this: the supervisor waits for it (up to
/// `lock_wait_secs`), and this call waits at most 10 s for the supervisor. A supervisor
/// that dies before starting is an error carrying the tail of its log.
///
/// A thread is left waiting on the child, so a long-lived caller (`longrun loop`) does not
/// collect zombies; a short-lived one simply exits and the supervisor is reparented.
pub fn spawn_detached(exe: &Path, spec_path: &Path) -> Result<u32, ProcessError> {
    start_detached(exe, spec_path)?.wait()
}

/// A supervisor started by [`start_detached`] that may not hold its locks yet.
#[derive(Debug)]
pub struct Starting {
    files: RunFiles,
    pid: u32,
    child: Child,
}

impl Starting {
    /// Waits until the supervisor holds its locks (see [`spawn_detached`]); returns its pid.
    pub fn wait(mut self) -> Result<u32, ProcessError> {
        let pid = self.pid;
        let still_running = wait_until_started(&self.files, pid, &mut self.child)?;
        if still_running {
            let mut child = self.child;
            let reaper = std::thread::Builder::new()
                .name("longrun-supervisor-reaper".into())
                .spawn(move || {
                    let _ = child.wait();
                });
            if let Err(error) = reaper {
                tracing::warn!("cannot start a reaper thread for supervisor {pid}: {error}");
            }
        }
        Ok(pid)
    }
}

/// The hidden subcommand a detached supervisor runs as (`longrun __supervise --spec ...`):
/// every process of a worker descends from one.
pub const SUPERVISOR_ARG: &str = "__supervise";

/// [`spawn_detached`] without the wait: starts the supervisor and returns at once, so that
/// a caller starting several lets them start side by side. Call [`Starting::wait`] before
/// relying on the worker being visibly alive.
pub fn start_detached(exe: &Path, spec_path: &Path) -> Result<Starting, ProcessError> {
    let spec_path = std::path::absolute(spec_path).map_err(|source| FsError::Read {
        path: spec_path.to_path_buf(),
        source,
    })?;
    let spec = WorkerSpec::load(&spec_path)?;
    let files = RunFiles::new(&spec.run_dir);
    std::fs::create_dir_all(files.run_dir()).map_err(|source| FsError::Write {
        path: files.run_dir().to_path_buf(),
        source,
    })?;
    if files.result().exists() {
        return Err(ProcessError::RunDirUsed {
            path: files.run_dir().to_path_buf(),
        });
    }
    if lock_held(&files.supervisor_lock())? {
        return Err(ProcessError::RunDirBusy {
            path: files.supervisor_lock(),
        });
    }
    // A pid file left by an earlier supervisor would look like this one having started.
    remove_if_present(&files.supervisor_pid())?;
    let log_error = |source| FsError::Write {
        path: files.supervisor_log(),
        source,
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(files.supervisor_log())
        .map_err(log_error)?;
    let log_for_stderr = log.try_clone().map_err(log_error)?;

    let child = Command::new(exe)
        .arg(SUPERVISOR_ARG)
        .arg("--spec")
        .arg(&spec_path)
        .current_dir(files.run_dir())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr)
        .process_group(0)
        .spawn()
        .map_err(|source| ProcessError::Spawn {
            program: exe.display().to_string(),
            source,
        })?;
    let pid = child.id();
    Ok(Starting { files, pid, child })
}

/// Looks at a run directory: `Finished` when `result.json` exists and parses, `Running`
/// when a live supervisor holds `supervisor.lock`, `Dead` otherwise.
///
/// The lock is probed with a non-blocking shared `try_lock_shared` on a fresh open (flock
/// belongs to an open file description, so this works from any process, the supervisor's
/// parent included). The result is checked again after a free lock, because the supervisor
/// writes it before it lets go of the lock.
pub fn worker_state(run_dir: &Path) -> Result<WorkerState, ProcessError> {
    let files = RunFiles::new(run_dir);
    if let Some(result) = load_result_if_present(&files)? {
        return Ok(WorkerState::Finished(Box::new(result)));
    }
    if lock_held(&files.supervisor_lock())? {
        return Ok(WorkerState::Running);
    }
    if let Some(result) = load_result_if_present(&files)? {
        return Ok(WorkerState::Finished(Box::new(result)));
    }
    Ok(WorkerState::Dead(DeadWorker {
        orphaned_agent_group: orphaned_agent_group(&files),
    }))
}

/// Polls [`worker_state`] until the worker is no longer running or `timeout` passes.
pub fn wait_for_worker(run_dir: &Path, timeout: Duration) -> Result<WorkerState, ProcessError> {
    let give_up = Instant::now() + timeout;
    loop {
        let state = worker_state(run_dir)?;
        if state != WorkerState::Running || Instant::now() >= give_up {
            return Ok(state);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a worker. A live supervisor gets SIGTERM on its group and does the rest itself
/// (the agent's group gets TERM, then KILL after the grace period, and `result.json` is
/// still written). A dead supervisor's orphaned agent group gets SIGKILL. Returns at once;
/// use [`wait_for_worker`] to see the end.
pub fn kill_worker(run_dir: &Path) -> Result<KillOutcome, ProcessError> {
    let files = RunFiles::new(run_dir);
    // A result means the agent's group is already gone; the supervisor may still hold its
    // lock for the moment it takes to exit, and there is nothing left to stop.
    if files.result().exists() {
        return Ok(KillOutcome::NotRunning);
    }
    if lock_held(&files.supervisor_lock())? {
        // The lock proves the supervisor that wrote supervisor.pid is alive, so the pid
        // cannot have been recycled.
        let pid = read_pid(&files.supervisor_pid())?;
        if pid == group::own_process_group() || pid == std::process::id() {
            return Err(ProcessError::OwnGroup { pgid: pid });
        }
        let delivered =
            group::signal_group(pid, Signal::TERM).map_err(|source| ProcessError::Signal {
                action: format!("signal the supervisor's process group {pid}"),
                source,
            })?;
        if !delivered {
            // A supervisor started by other means may not lead a group: signal it alone.
            signal_process(pid, Signal::TERM)?;
        }
        return Ok(KillOutcome::SupervisorSignalled { pid });
    }
    match orphaned_agent_group(&files) {
        Some(pgid) if pgid != group::own_process_group() => {
            group::signal_group(pgid, Signal::KILL).map_err(|source| ProcessError::Signal {
                action: format!("kill the orphaned agent process group {pgid}"),
                source,
            })?;
            Ok(KillOutcome::OrphanedAgentKilled { pgid })
        }
        _ => Ok(KillOutcome::NotRunning),
    }
}

/// Waits for the supervisor's pid file (written once it holds its lock). `Ok(true)` while
/// the supervisor still runs, `Ok(false)` when it already finished (and was reaped here).
fn wait_until_started(files: &RunFiles, pid: u32, child: &mut Child) -> Result<bool, ProcessError> {
    let give_up = Instant::now() + START_WAIT;
    let mut pause = Duration::from_micros(250);
    loop {
        let pid_written = read_pid(&files.supervisor_pid()).is_ok_and(|written| written == pid);
        if pid_written {
            return Ok(true);
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                // A very short agent: the supervisor may have finished already.
                if files.result().exists() {
                    return Ok(false);
                }
                return Err(ProcessError::SupervisorExited {
                    status: status.to_string(),
                    log: files.supervisor_log(),
                    tail: log_tail(&files.supervisor_log()),
                });
            }
            Ok(None) => {}
            Err(error) => tracing::warn!("cannot check supervisor {pid}: {error}"),
        }
        if Instant::now() >= give_up {
            tracing::warn!("supervisor {pid} has not written its pid file yet; leaving it to run");
            return Ok(true);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// The agent group left behind by a dead supervisor, if any of it is still alive and it
/// is provably the same group (its leader, if still there, has the recorded start time).
fn orphaned_agent_group(files: &RunFiles) -> Option<u32> {
    let bytes = fsutil::read_bounded(&files.agent_record(), 4096).ok()?;
    let record: AgentRecord = serde_json::from_slice(&bytes).ok()?;
    if !group::group_alive(record.pid) {
        return None;
    }
    // A group id stays reserved while the group has members, so a leader with another start
    // time means the old group emptied and the number now belongs to someone else.
    if let (Some(recorded), Some(current)) =
        (record.start_ticks, group::process_start_ticks(record.pid))
        && recorded != current
    {
        return None;
    }
    Some(record.pid)
}

/// True when another open file description holds a flock on `path`. A missing file is not
/// held.
fn lock_held(path: &Path) -> Result<bool, ProcessError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(ProcessError::Fs(FsError::Read {
                path: path.to_path_buf(),
                source,
            }));
        }
    };
    // A shared lock, not an exclusive one: when the probe gets it, it holds it until
    // `file` is dropped, and a child that this process forks meanwhile (another thread
    // spawning) keeps a copy of it until its exec. An exclusive probe lock leaked that way
    // would make the next probe report a dead supervisor as running; a shared one is
    // compatible with other probes and only delays a starting supervisor, which retries.
    match file.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(source)) => Err(ProcessError::Fs(FsError::Read {
            path: path.to_path_buf(),
            source,
        })),
    }
}

fn load_result_if_present(files: &RunFiles) -> Result<Option<WorkerResult>, ProcessError> {
    match WorkerResult::load(&files.result()) {
        Ok(result) => Ok(Some(result)),
        Err(ProcessError::Fs(error)) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

fn read_pid(path: &Path) -> Result<u32, ProcessError> {
    let text = fsutil::read_text(path, 64)?;
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|&pid| pid > 0)
        .ok_or_else(|| ProcessError::BadPidFile {
            path: path.to_path_buf(),
        })
}

fn signal_process(pid: u32, signal: Signal) -> Result<(), ProcessError> {
    group::signal_process(pid, signal)
        .map(|_| ())
        .map_err(|source| ProcessError::Signal {
            action: format!("signal process {pid}"),
            source,
        })
}

fn remove_if_present(path: &Path) -> Result<(), ProcessError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ProcessError::Fs(FsError::Write {
            path: path.to_path_buf(),
            source,
        })),
    }
}

/// The last lines of the supervisor's log, for an error message.
fn log_tail(path: &Path) -> String {
    let Ok(text) = fsutil::read_text(path, fsutil::MAX_STATE_FILE_BYTES) else {
        return String::new();
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("\n");
    if tail.is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_run_dir_is_dead_and_kill_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            worker_state(dir.path()).unwrap(),
            WorkerState::Dead(DeadWorker {
                orphaned_agent_group: None
            })
        );
        assert_eq!(kill_worker(dir.path()).unwrap(), KillOutcome::NotRunning);
    }

    #[test]
    fn a_held_lock_is_running_and_a_result_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(dir.path());
        let holder = fsutil::lock_exclusive(&files.supervisor_lock()).unwrap();
        assert_eq!(worker_state(dir.path()).unwrap(), WorkerState::Running);
        // Our own group: kill_worker must refuse rather than signal this test process.
        std::fs::write(
            files.supervisor_pid(),
            format!("{}\n", group::own_process_group()),
        )
        .unwrap();
        assert!(matches!(
            kill_worker(dir.path()),
            Err(ProcessError::OwnGroup { .. })
        ));
        drop(holder);
        // Another test thread that forks at the moment the lock is taken carries a copy of
        // its descriptor until it execs: allow that moment to pass.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while worker_state(dir.path()).unwrap() == WorkerState::Running
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(matches!(
            worker_state(dir.path()).unwrap(),
            WorkerState::Dead(_)
        ));
    }

    #[test]
    fn a_dead_agent_record_is_not_an_orphan() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(dir.path());
        // A real process that has exited and been reaped: its group is gone.
        let mut child = Command::new("true").process_group(0).spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        std::fs::write(
            files.agent_record(),
            serde_json::to_string(&AgentRecord {
                pid,
                start_ticks: Some(1),
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(orphaned_agent_group(&files), None);
    }
}
