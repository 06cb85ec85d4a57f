//! The supervisor: runs one agent argv to completion and writes `result.json`.
//!
//! Process groups: the supervisor and the agent are in different groups. The agent gets a
//! group of its own (`process_group(0)`), so one `kill(-pgid)` reaches it and everything it
//! forked, and the supervisor can SIGKILL that group without killing itself. The supervisor
//! (started by `spawn_detached` as the leader of yet another group) catches SIGTERM and
//! SIGINT, terminates the agent's group (TERM, grace, KILL), and still writes the result;
//! only a SIGKILL of the supervisor leaves the agent's group orphaned, which `agent.json`
//! lets a later cycle find and kill.
//!
//! The agent is detected as exited with `waitid(WNOWAIT)`, so it stays an unreaped zombie
//! while the rest of its group is killed: the group id cannot be recycled for an unrelated
//! process in between. This module never prints and never reads the environment.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use serde::{Deserialize, Serialize};

use super::capture::{Capture, StreamSummary};
use super::group::{self, StopFlag};
use super::spec::{LeaseRenewer, Renewal, Stdin, WorkerSpec};
use super::{ProcessError, RunFiles, WorkerResult};
use crate::agents::{self, AgentReport, MAX_EVENT_LINE_BYTES};
use crate::clock::Clock;
use crate::config::{AgentKind, Pricing};
use crate::fsutil::{self, FsError};

/// How often the supervisor looks at the agent, the clock and the stop flag. Short enough
/// that a timeout or a stop is acted on promptly, long enough to cost nothing.
const POLL: Duration = Duration::from_millis(20);

/// How long the supervisor retries its own run lock: a `worker_state` probe holds it for
/// a moment when it tests whether it is free.
const RUN_LOCK_WAIT: Duration = Duration::from_secs(5);

/// After the agent's group is gone its pipes close at once; a longer wait means a process
/// that left the group (`setsid`) still holds them, and the result is written without it.
const OUTPUT_DRAIN_WAIT: Duration = Duration::from_secs(5);

/// SIGKILL cannot be caught, but a process in uninterruptible sleep dies only when the
/// kernel lets it; the supervisor does not wait longer than this to write its result.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// What the supervisor gets from its caller instead of reading the world itself.
pub struct SupervisorContext<'a> {
    /// The source of `started_at` (durations are measured with `Instant`).
    pub clock: Clock,
    /// Called every heartbeat interval while the agent runs.
    pub renewer: &'a dyn LeaseRenewer,
    /// Set when the supervisor is asked to stop (its SIGTERM/SIGINT handlers, or a test).
    pub stop: StopFlag,
    /// This process is a child subreaper ([`become_subreaper`](super::become_subreaper)):
    /// every child other than the agent is a process that escaped the agent's group and
    /// was orphaned, and is killed at the end. Never set it in a process with other
    /// children (a test harness): they would be killed too.
    pub reap_escapees: bool,
    /// Keep the records other processes judge a run by: the run lock, the supervisor's pid
    /// and the agent's, each synced to disk, and a synced `result.json`. A detached worker
    /// needs them (after a crash too). A run inside the caller's process whose result the
    /// caller reads back (a validator) has no one watching from outside: it writes only an
    /// unsynced `result.json`, three files and three disk flushes fewer.
    pub durable: bool,
}

/// Who the agent is, written to `agent.json` right after it starts: its pid is also its
/// process group id, and the start time tells a recycled pid apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AgentRecord {
    pub pid: u32,
    pub start_ticks: Option<u64>,
}

/// Runs the agent described by `spec` to completion and writes `result.json`.
///
/// Failures to start the agent (missing program, claim lock held elsewhere) are results
/// with `error` set, so the cycle sees them as finished attempts with evidence. `Err` means
/// the run directory itself is unusable or busy and no result could be written.
pub fn run_supervisor(
    spec: &WorkerSpec,
    ctx: &SupervisorContext<'_>,
) -> Result<WorkerResult, ProcessError> {
    let files = RunFiles::new(&spec.run_dir);
    spec.validate(&files.run_dir().join("spec.json"))?;
    std::fs::create_dir_all(files.run_dir()).map_err(|source| FsError::Write {
        path: files.run_dir().to_path_buf(),
        source,
    })?;
    // Held until this function returns, after result.json is written: whoever finds the
    // lock free can trust that a missing result means the supervisor died. (A run in the
    // caller's own process has no one watching it from outside.)
    let _run_lock = match ctx.durable {
        true => Some(acquire_run_lock(&files.supervisor_lock())?),
        false => None,
    };
    if files.result().exists() {
        return Err(ProcessError::RunDirUsed {
            path: files.run_dir().to_path_buf(),
        });
    }
    let started = Instant::now();
    let started_at = ctx.clock.now();
    // The claim lock comes before the pid file: `spawn_detached` returns once the pid file
    // is there, so from then on the claim is visibly held.
    let claim_lock = match &spec.lock_file {
        Some(lock_file) => {
            acquire_claim_lock(lock_file, Duration::from_secs(spec.lock_wait_secs), ctx).map(Some)
        }
        None => Ok(None),
    };
    if ctx.durable {
        fsutil::write_atomic(
            &files.supervisor_pid(),
            format!("{}\n", std::process::id()).as_bytes(),
        )?;
    }
    // Held, like the run lock, until the result is written.
    let (outcome, _claim_lock, baseline) = match claim_lock {
        Ok(claim_lock) => {
            let baseline = match &spec.baseline {
                Some(baseline) => Some(crate::gate::validate::run_baseline(
                    baseline, &spec.cwd, ctx.clock,
                )?),
                None => None,
            };
            let guarded_before = guarded_state(&spec.guarded);
            let mut outcome = match &baseline {
                Some(found) if found.refused => AgentOutcome::failed(format!(
                    "not started: vacuous validators ({}) and strict_validators",
                    found.vacuous.join(", ")
                )),
                _ => supervise_agent(spec, ctx, &files, started)?,
            };
            // The agent's group is gone by now: nothing it started can change them later.
            outcome.guarded_changed =
                guarded_changes(&guarded_before, &guarded_state(&spec.guarded));
            (outcome, claim_lock, baseline)
        }
        Err(reason) => (AgentOutcome::failed(reason), None, None),
    };
    let duration = started.elapsed();

    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let finished_at = started_at
        .checked_add(SignedDuration::from_millis(
            i64::try_from(duration_ms).unwrap_or(i64::MAX),
        ))
        .unwrap_or(started_at);
    // An agent that never started has no output to read.
    let report = spec
        .agent_kind
        .filter(|_| outcome.error.is_none())
        .map(|kind| read_agent_report(kind, &files.stdout_log(), &spec.pricing));
    let report = report.unwrap_or_default();
    let result = WorkerResult {
        exit_code: outcome.status.and_then(|status| status.code()),
        signal: outcome.status.and_then(|status| status.signal()),
        timed_out: outcome.ending == Some(Ending::TimedOut),
        duration_ms,
        started_at: rfc3339(started_at),
        finished_at: rfc3339(finished_at),
        stdout_bytes: outcome.stdout.total_bytes,
        stderr_bytes: outcome.stderr.total_bytes,
        stdout_truncated: outcome.stdout.truncated,
        stderr_truncated: outcome.stderr.truncated,
        final_message: report.final_message.or(outcome.stdout.final_message),
        usage: report
            .usage
            .and_then(|usage| serde_json::to_value(usage).ok()),
        cost_usd: report.cost_usd,
        cost_known: report.cost_usd.is_some(),
        agent_failure: report.failure,
        stopped: outcome.ending == Some(Ending::Stopped),
        stopped_before_start: outcome.stopped_before_start,
        lease_lost: outcome.ending == Some(Ending::LeaseLost),
        leftovers_killed: outcome.leftovers_killed,
        output_incomplete: outcome.output_incomplete,
        output_error: outcome.output_error,
        error: outcome.error,
        guarded_changed: outcome.guarded_changed,
        supervisor_peak_rss_kib: group::peak_rss_kib(),
        baseline,
    };
    result.write_with(&files.result(), ctx.durable)?;
    Ok(result)
}

/// What each guarded file holds, a guarded folder standing for the files in it: `None`
/// when it does not exist (or cannot be read), else a hash of its bytes (the files are
/// small records).
fn guarded_state(paths: &[PathBuf]) -> std::collections::BTreeMap<PathBuf, Option<u64>> {
    let mut state = std::collections::BTreeMap::new();
    for path in paths {
        let files: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .collect(),
            Err(_) => vec![path.clone()],
        };
        for file in files {
            let hash = fsutil::read_bounded(&file, 1024 * 1024)
                .ok()
                .map(|bytes| xxhash_rust::xxh3::xxh3_64(&bytes));
            state.insert(file, hash);
        }
    }
    state
}

/// The files whose state differs between `before` and `after` (created, changed, removed).
fn guarded_changes(
    before: &std::collections::BTreeMap<PathBuf, Option<u64>>,
    after: &std::collections::BTreeMap<PathBuf, Option<u64>>,
) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path).copied().flatten() != after.get(*path).copied().flatten())
        .cloned()
        .collect();
    changed.sort();
    changed.dedup();
    changed
}

/// The agent's own report, read from its (capped) stdout log line by line; lines longer
/// than [`MAX_EVENT_LINE_BYTES`] are skipped, so memory stays bounded. An unreadable log
/// reads as an empty one: the parsers then report the missing events.
fn read_agent_report(kind: AgentKind, stdout_log: &Path, pricing: &Pricing) -> AgentReport {
    let mut lines = Vec::new();
    if let Ok(file) = File::open(stdout_log) {
        let mut reader = BufReader::new(file);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader
                .by_ref()
                .take(MAX_EVENT_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buffer)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if buffer.last() != Some(&b'\n') && buffer.len() > MAX_EVENT_LINE_BYTES {
                skip_line(&mut reader);
                continue;
            }
            // Only lines that look like JSON events are kept; the rest is never parsed.
            if buffer.first() == Some(&b'{')
                && let Ok(line) = String::from_utf8(std::mem::take(&mut buffer))
            {
                lines.push(line);
            }
        }
    }
    agents::parse_output(kind, lines.iter().map(String::as_str), pricing)
}

/// Skips to the next line without holding the rest of this one in memory.
fn skip_line(reader: &mut impl BufRead) {
    loop {
        let Ok(chunk) = reader.fill_buf() else {
            return;
        };
        if chunk.is_empty() {
            return;
        }
        match chunk.iter().position(|byte| *byte == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return;
            }
            None => {
                let length = chunk.len();
                reader.consume(length);
            }
        }
    }
}

/// Why the supervisor ended the agent before it exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    TimedOut,
    Stopped,
    LeaseLost,
}

#[derive(Debug, Default)]
struct AgentOutcome {
    status: Option<ExitStatus>,
    ending: Option<Ending>,
    leftovers_killed: bool,
    output_incomplete: bool,
    output_error: Option<String>,
    stdout: StreamSummary,
    stderr: StreamSummary,
    error: Option<String>,
    /// The stop came before the agent started; nothing ran.
    stopped_before_start: bool,
    /// Guarded files (the spec's) that changed while the agent ran.
    guarded_changed: Vec<PathBuf>,
}

impl AgentOutcome {
    fn failed(error: String) -> AgentOutcome {
        AgentOutcome {
            error: Some(error),
            ..AgentOutcome::default()
        }
    }
}

/// Starts the agent and follows it to the end.
fn supervise_agent(
    spec: &WorkerSpec,
    ctx: &SupervisorContext<'_>,
    files: &RunFiles,
    started: Instant,
) -> Result<AgentOutcome, ProcessError> {
    let stdout_file = create_log(&files.stdout_log())?;
    let stderr_file = create_log(&files.stderr_log())?;

    let stdin = match &spec.stdin {
        Stdin::Null => Stdio::null(),
        Stdin::File(path) => match File::open(path) {
            Ok(file) => Stdio::from(file),
            Err(error) => {
                let reason = format!("cannot open stdin file `{}`: {error}", path.display());
                return Ok(AgentOutcome::failed(reason));
            }
        },
    };
    if !spec.cwd.is_dir() {
        let reason = format!(
            "the working directory `{}` does not exist",
            spec.cwd.display()
        );
        return Ok(AgentOutcome::failed(reason));
    }
    if ctx.stop.requested().is_some() {
        let outcome = AgentOutcome {
            ending: Some(Ending::Stopped),
            stopped_before_start: true,
            ..AgentOutcome::default()
        };
        return Ok(outcome);
    }

    let mut command = Command::new(&spec.argv[0]);
    command
        .args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .current_dir(&spec.cwd)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let reason = format!("cannot start `{}`: {error}", spec.argv[0]);
            return Ok(AgentOutcome::failed(reason));
        }
    };
    let pid = child.id();
    let record = AgentRecord {
        pid,
        start_ticks: group::process_start_ticks(pid),
    };
    if ctx.durable
        && let Err(error) = write_agent_record(files, &record)
    {
        // Only orphan detection after a SIGKILLed supervisor needs this file.
        tracing::warn!("cannot record the agent's pid: {error}");
    }

    let captures = start_captures(&mut child, stdout_file, stderr_file, spec.output_cap_bytes);
    let mut outcome = follow_agent(spec, ctx, &mut child, started);

    // One deadline for both streams: a pipe held open elsewhere costs the wait once.
    let drain_deadline = Instant::now() + OUTPUT_DRAIN_WAIT;
    let (stdout, stdout_complete) = match captures.0 {
        Some(capture) => capture.finish(drain_deadline),
        None => (StreamSummary::default(), true),
    };
    let (stderr, stderr_complete) = match captures.1 {
        Some(capture) => capture.finish(drain_deadline),
        None => (StreamSummary::default(), true),
    };
    outcome.output_incomplete = !(stdout_complete && stderr_complete);
    let write_errors: Vec<String> = [("stdout.log", &stdout), ("stderr.log", &stderr)]
        .into_iter()
        .filter_map(|(name, summary)| {
            (summary.write_error.as_ref()).map(|error| format!("`{name}`: {error}"))
        })
        .collect();
    if !write_errors.is_empty() {
        outcome.output_error = Some(format!("cannot write {}", write_errors.join("; ")));
    }
    outcome.stdout = stdout;
    outcome.stderr = stderr;
    Ok(outcome)
}

/// Waits for the agent, ending it on timeout, stop or lost lease; then clears its group and
/// reaps it.
fn follow_agent(
    spec: &WorkerSpec,
    ctx: &SupervisorContext<'_>,
    child: &mut Child,
    started: Instant,
) -> AgentOutcome {
    let pgid = child.id();
    let grace = Duration::from_secs(spec.kill_grace_secs);
    let deadline = started + Duration::from_secs(spec.timeout_secs);
    let heartbeat_interval = spec
        .heartbeat
        .as_ref()
        .map(|heartbeat| Duration::from_secs(heartbeat.interval_secs));
    let mut next_heartbeat = heartbeat_interval.map(|interval| started + interval);
    let mut next_zombie_sweep = started + ZOMBIE_SWEEP;
    let mut outcome = AgentOutcome::default();
    let mut exit = ExitWait::new(child);

    while !leader_exited(child) {
        let now = Instant::now();
        if ctx.reap_escapees && now >= next_zombie_sweep {
            next_zombie_sweep = now + ZOMBIE_SWEEP;
            reap_orphaned_zombies(pgid);
        }
        if ctx.stop.requested().is_some() {
            outcome.ending = Some(Ending::Stopped);
        } else if now >= deadline {
            outcome.ending = Some(Ending::TimedOut);
        } else if let (Some(due), Some(interval), Some(heartbeat)) =
            (next_heartbeat, heartbeat_interval, &spec.heartbeat)
            && now >= due
        {
            next_heartbeat = Some(now + interval);
            match ctx.renewer.renew(heartbeat, ctx.clock.now()) {
                Ok(Renewal::Renewed) => {}
                Ok(Renewal::Lost) => outcome.ending = Some(Ending::LeaseLost),
                Err(error) => tracing::warn!("lease renewal failed, will retry: {error}"),
            }
        }
        if outcome.ending.is_some() {
            end_group(pgid, grace, child);
            break;
        }
        exit.wait(POLL);
    }

    // The agent has exited (or was ended) but is not reaped yet, so its group id is still
    // reserved. Whatever is left in the group (a daemon it forked) goes too.
    match group::live_group_members(pgid) {
        Some(members) if !members.is_empty() => {
            end_group(pgid, grace, child);
            outcome.leftovers_killed = outcome.ending.is_none();
        }
        Some(_) => {}
        // Without /proc the zombie leader keeps `kill(-pgid, 0)` succeeding, so members
        // cannot be told apart from it: kill the group without a grace period.
        None => {
            let _ = group::signal_group(pgid, Signal::KILL);
        }
    }
    if ctx.reap_escapees && kill_escapees(pgid) {
        outcome.leftovers_killed |= outcome.ending.is_none();
    }
    match child.wait() {
        Ok(status) => outcome.status = Some(status),
        Err(error) => outcome.error = Some(format!("cannot reap the agent: {error}")),
    }
    outcome
}

/// SIGTERM (and SIGCONT) to the group, up to `grace` for it to empty, then SIGKILL and a
/// bounded wait for the agent itself to exit.
fn end_group(pgid: u32, grace: Duration, child: &mut Child) {
    if let Err(error) = group::terminate_group(pgid) {
        tracing::warn!("cannot signal process group {pgid}: {error}");
    }
    let grace_end = Instant::now() + grace;
    while Instant::now() < grace_end {
        if leader_exited(child) && !group::group_alive(pgid) {
            return;
        }
        std::thread::sleep(POLL);
    }
    if let Err(error) = group::signal_group(pgid, Signal::KILL) {
        tracing::warn!("cannot kill process group {pgid}: {error}");
    }
    let kill_end = Instant::now() + KILL_WAIT;
    while !leader_exited(child) && Instant::now() < kill_end {
        std::thread::sleep(POLL);
    }
}

/// Kills and reaps every child of this (subreaper) process except the agent: processes
/// that left the agent's group (`setsid`) and were orphaned. Their own children are
/// reparented here as they die, so this repeats until none are left. They get SIGKILL at
/// once: they left the group on purpose, and the agent they served is gone. Returns
/// whether any was alive.
fn kill_escapees(agent_pid: u32) -> bool {
    let own_pid = std::process::id();
    let give_up = Instant::now() + KILL_WAIT;
    let mut found = false;
    loop {
        let Some(children) = group::children_of(own_pid) else {
            return found;
        };
        let escapees: Vec<_> = children
            .into_iter()
            .filter(|child| child.pid != agent_pid)
            .collect();
        if escapees.is_empty() || Instant::now() >= give_up {
            return found;
        }
        for escapee in escapees {
            if !escapee.zombie {
                found = true;
                // Its own group too, if it leads one; the id cannot belong to anyone else
                // while the process is alive.
                let _ = group::signal_group(escapee.pid, Signal::KILL);
                let _ = group::signal_process(escapee.pid, Signal::KILL);
            }
            if let Some(pid) = i32::try_from(escapee.pid).ok().and_then(Pid::from_raw) {
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG);
            }
        }
        std::thread::sleep(POLL);
    }
}

/// A subreaper inherits every orphan below it; those that exit while the agent still runs
/// are reaped this often so they do not pile up as zombies over a long run.
const ZOMBIE_SWEEP: Duration = Duration::from_secs(1);

/// Reaps exited orphans adopted as subreaper; live ones are left alone until the end.
fn reap_orphaned_zombies(agent_pid: u32) {
    let Some(children) = group::children_of(std::process::id()) else {
        return;
    };
    for child in children {
        if child.zombie
            && child.pid != agent_pid
            && let Some(pid) = i32::try_from(child.pid).ok().and_then(Pid::from_raw)
        {
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG);
        }
    }
}

/// Waits for the agent's exit for up to a poll interval, so that the loop's other checks
/// (timeout, stop, heartbeat) still run: woken by the exit itself through a pidfd where the
/// kernel has them, so that a quick process (a validator) is seen to end at once rather
/// than a poll interval later. Elsewhere it sleeps, 1 ms at first, doubling up to `POLL`.
struct ExitWait {
    pidfd: Option<rustix::fd::OwnedFd>,
    backoff: Duration,
}

impl ExitWait {
    fn new(child: &Child) -> ExitWait {
        ExitWait {
            pidfd: rustix::process::pidfd_open(
                Pid::from_child(child),
                rustix::process::PidfdFlags::empty(),
            )
            .ok(),
            backoff: Duration::from_millis(1),
        }
    }

    /// Returns when the process exited, after `longest`, or on a signal.
    fn wait(&mut self, longest: Duration) {
        if let Some(pidfd) = &self.pidfd {
            let timeout = rustix::event::Timespec {
                tv_sec: i64::try_from(longest.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(longest.subsec_nanos()),
            };
            let mut fds = [rustix::event::PollFd::new(
                pidfd,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                // Exited, time is up, or a signal (a stop request): the caller looks.
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                // A pidfd that cannot be polled: sleep from now on.
                Err(_) => self.pidfd = None,
            }
            return;
        }
        std::thread::sleep(self.backoff.min(longest));
        self.backoff = (self.backoff * 2).min(longest);
    }
}

/// True once the agent has exited, without reaping it (`WNOWAIT`).
fn leader_exited(child: &Child) -> bool {
    let pid = Pid::from_child(child);
    match rustix::process::waitid(
        WaitId::Pid(pid),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
    ) {
        Ok(status) => status.is_some(),
        // ECHILD: already reaped, so certainly exited.
        Err(_) => true,
    }
}

type Captures = (Option<Capture>, Option<Capture>);

fn start_captures(child: &mut Child, stdout_file: File, stderr_file: File, cap: u64) -> Captures {
    let stdout = child.stdout.take().and_then(|pipe| {
        Capture::start("stdout", pipe, stdout_file, cap, true)
            .map_err(|error| tracing::warn!("cannot start the stdout reader: {error}"))
            .ok()
    });
    let stderr = child.stderr.take().and_then(|pipe| {
        Capture::start("stderr", pipe, stderr_file, cap, false)
            .map_err(|error| tracing::warn!("cannot start the stderr reader: {error}"))
            .ok()
    });
    (stdout, stderr)
}

fn create_log(path: &Path) -> Result<File, ProcessError> {
    File::create(path).map_err(|source| {
        ProcessError::Fs(FsError::Write {
            path: path.to_path_buf(),
            source,
        })
    })
}

fn write_agent_record(files: &RunFiles, record: &AgentRecord) -> Result<(), ProcessError> {
    let path = files.agent_record();
    let text = serde_json::to_string(record).map_err(|source| {
        ProcessError::Fs(FsError::Write {
            path: path.clone(),
            source: source.into(),
        })
    })?;
    fsutil::write_atomic(&path, format!("{text}\n").as_bytes())?;
    Ok(())
}

/// Takes `supervisor.lock`, retrying briefly (a probe may hold it for a moment). Still held
/// after that means another live supervisor owns this run directory.
fn acquire_run_lock(path: &Path) -> Result<File, ProcessError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| FsError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    let give_up = Instant::now() + RUN_LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(ProcessError::RunDirBusy {
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(ProcessError::Fs(FsError::Write {
                    path: path.to_path_buf(),
                    source,
                }));
            }
        }
    }
}

/// Opens the claim lock file without creating or truncating it (it is the claims code's
/// file) and takes an exclusive lock on it, waiting up to `wait` for a cycle that still
/// holds its own lock. A stop request ends the wait.
fn acquire_claim_lock(
    path: &Path,
    wait: Duration,
    ctx: &SupervisorContext<'_>,
) -> Result<File, String> {
    // Read-only is enough for flock and guarantees the claim's content is never touched.
    let file = File::open(path)
        .map_err(|error| format!("cannot open the claim lock `{}`: {error}", path.display()))?;
    let give_up = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock)
                if Instant::now() < give_up && ctx.stop.requested().is_none() =>
            {
                std::thread::sleep(POLL);
            }
            Err(TryLockError::WouldBlock) if ctx.stop.requested().is_some() => {
                return Err(format!(
                    "stopped while waiting for the claim lock `{}`",
                    path.display()
                ));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(format!(
                    "the claim lock `{}` is held by another process",
                    path.display()
                ));
            }
            Err(TryLockError::Error(error)) => {
                return Err(format!(
                    "cannot lock the claim `{}`: {error}",
                    path.display()
                ));
            }
        }
    }
}

/// RFC 3339 in UTC with milliseconds: durations of short runs stay visible.
fn rfc3339(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::process::spec::{Heartbeat, NoopRenewer, RenewError};

    struct Fixture {
        _temp: tempfile::TempDir,
        root: PathBuf,
    }

    impl Fixture {
        fn new() -> Fixture {
            let temp = tempfile::tempdir().unwrap();
            let root = temp.path().canonicalize().unwrap();
            Fixture { _temp: temp, root }
        }

        fn spec(&self, argv: &[&str]) -> WorkerSpec {
            let mut spec = WorkerSpec::new(
                argv.iter().map(|arg| arg.to_string()).collect(),
                self.root.clone(),
                self.root.join("run"),
            );
            spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
            spec.timeout_secs = 30;
            spec.kill_grace_secs = 1;
            spec
        }
    }

    fn fixed_context(renewer: &dyn LeaseRenewer) -> SupervisorContext<'_> {
        SupervisorContext {
            clock: Clock::Fixed("2026-11-21T09:00:00Z".parse().unwrap()),
            renewer,
            stop: StopFlag::new(),
            reap_escapees: false,
            durable: true,
        }
    }

    #[test]
    fn the_agents_own_report_fills_usage_cost_and_failure() {
        let fixture = Fixture::new();
        let long_line = format!(
            "{{\"padding\":\"{}\"}}",
            "x".repeat(MAX_EVENT_LINE_BYTES + 10)
        );
        let result_event = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"Done.","total_cost_usd":0.25,"usage":{"input_tokens":10,"output_tokens":5},"permission_denials":[{"tool_name":"Write","tool_input":{"file_path":"/x"}}]}"#;
        let output = fixture.root.join("output.jsonl");
        std::fs::write(&output, format!("{long_line}\n{result_event}\n")).unwrap();
        let mut spec = fixture.spec(&["cat", output.to_str().unwrap()]);
        spec.agent_kind = Some(AgentKind::Claude);
        let result = run_supervisor(&spec, &fixed_context(&NoopRenewer)).unwrap();
        assert_eq!(result.exit_code, Some(0), "{result:?}");
        assert_eq!(result.cost_usd, Some(0.25));
        assert!(result.cost_known);
        assert_eq!(result.usage.as_ref().unwrap()["input"], 10);
        assert_eq!(result.final_message.as_deref(), Some("Done."));
        let failure = result.agent_failure.unwrap();
        assert!(failure.contains("denied permission"), "{failure}");

        // A plain command: nothing is read, the cost stays unknown.
        let fixture = Fixture::new();
        let result = run_supervisor(
            &fixture.spec(&["echo", result_event]),
            &fixed_context(&NoopRenewer),
        )
        .unwrap();
        assert_eq!((result.cost_usd, result.cost_known), (None, false));
        assert_eq!(result.usage, None);
        assert_eq!(result.agent_failure, None);
    }

    #[test]
    fn runs_argv_and_captures_output() {
        let fixture = Fixture::new();
        let spec = fixture.spec(&["echo", "hello", "$(touch nothing)"]);
        let result = run_supervisor(&spec, &fixed_context(&NoopRenewer)).unwrap();
        assert_eq!(result.exit_code, Some(0), "{result:?}");
        assert_eq!(result.signal, None);
        assert!(!result.timed_out);
        assert_eq!(result.started_at, "2026-11-21T09:00:00.000Z");
        assert_eq!(
            result.final_message.as_deref(),
            Some("hello $(touch nothing)")
        );
        let files = RunFiles::new(&spec.run_dir);
        assert_eq!(
            std::fs::read_to_string(files.stdout_log()).unwrap(),
            "hello $(touch nothing)\n"
        );
        assert!(!fixture.root.join("nothing").exists());
        assert_eq!(WorkerResult::load(&files.result()).unwrap(), result);
        let pid: u32 = std::fs::read_to_string(files.supervisor_pid())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(pid, std::process::id());
    }

    #[test]
    fn exit_code_and_missing_program_are_results() {
        let fixture = Fixture::new();
        let result =
            run_supervisor(&fixture.spec(&["false"]), &fixed_context(&NoopRenewer)).unwrap();
        assert_eq!(result.exit_code, Some(1));
        assert!(result.error.is_none());

        let fixture = Fixture::new();
        let spec = fixture.spec(&["longrun-no-such-program"]);
        let result = run_supervisor(&spec, &fixed_context(&NoopRenewer)).unwrap();
        assert_eq!(result.exit_code, None);
        let error = result.error.unwrap();
        assert!(
            error.contains("cannot start `longrun-no-such-program`"),
            "{error}"
        );
        assert!(RunFiles::new(&spec.run_dir).result().is_file());
    }

    #[test]
    fn timeout_terminates_the_agent() {
        let fixture = Fixture::new();
        let mut spec = fixture.spec(&["sleep", "30"]);
        spec.timeout_secs = 1;
        spec.kill_grace_secs = 1;
        let started = Instant::now();
        let result = run_supervisor(&spec, &fixed_context(&NoopRenewer)).unwrap();
        assert!(result.timed_out);
        assert_eq!(result.signal, Some(15), "sleep dies of the SIGTERM");
        assert_eq!(result.exit_code, None);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(result.duration_ms >= 1000);
    }

    #[test]
    fn a_used_run_dir_is_refused() {
        let fixture = Fixture::new();
        let spec = fixture.spec(&["true"]);
        run_supervisor(&spec, &fixed_context(&NoopRenewer)).unwrap();
        assert!(matches!(
            run_supervisor(&spec, &fixed_context(&NoopRenewer)),
            Err(ProcessError::RunDirUsed { .. })
        ));
    }

    #[test]
    fn stop_request_ends_the_agent_and_is_recorded() {
        let fixture = Fixture::new();
        let spec = fixture.spec(&["sleep", "30"]);
        let context = fixed_context(&NoopRenewer);
        let stop = context.stop.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            stop.request(15);
        });
        let result = run_supervisor(&spec, &context).unwrap();
        stopper.join().unwrap();
        assert!(result.stopped);
        assert!(!result.timed_out);
        assert_eq!(result.signal, Some(15));
    }

    struct CountingRenewer {
        calls: AtomicUsize,
        lose_after: usize,
    }

    impl LeaseRenewer for CountingRenewer {
        fn renew(&self, heartbeat: &Heartbeat, _now: Timestamp) -> Result<Renewal, RenewError> {
            assert!(heartbeat.lock_file.ends_with("T1.lock"));
            let calls = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(if calls >= self.lose_after {
                Renewal::Lost
            } else {
                Renewal::Renewed
            })
        }
    }

    #[test]
    fn heartbeat_renews_and_a_lost_lease_stops_the_agent() {
        let fixture = Fixture::new();
        let mut spec = fixture.spec(&["sleep", "30"]);
        spec.heartbeat = Some(Heartbeat {
            lock_file: fixture.root.join("T1.lock"),
            interval_secs: 1,
        });
        let renewer = CountingRenewer {
            calls: AtomicUsize::new(0),
            lose_after: 2,
        };
        let result = run_supervisor(&spec, &fixed_context(&renewer)).unwrap();
        assert_eq!(renewer.calls.load(Ordering::SeqCst), 2);
        assert!(result.lease_lost);
        assert!((2000..5000).contains(&result.duration_ms), "{result:?}");
    }

    #[test]
    fn claim_lock_is_held_while_running_and_never_written() {
        let fixture = Fixture::new();
        let claim = fixture.root.join("T1.lock");
        std::fs::write(&claim, "task: T1\n").unwrap();
        let mut spec = fixture.spec(&["sleep", "1"]);
        spec.lock_file = Some(claim.clone());
        let probe_claim = claim.clone();
        let prober = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            let probe = File::open(&probe_claim).unwrap();
            matches!(probe.try_lock(), Err(TryLockError::WouldBlock))
        });
        let result = run_supervisor(&spec, &fixed_context(&NoopRenewer)).unwrap();
        assert_eq!(result.exit_code, Some(0));
        assert!(
            prober.join().unwrap(),
            "the claim was not locked while the agent ran"
        );
        assert_eq!(std::fs::read_to_string(&claim).unwrap(), "task: T1\n");
        File::open(&claim).unwrap().try_lock().unwrap();
    }

    #[test]
    fn a_claim_held_elsewhere_is_an_error_result() {
        let fixture = Fixture::new();
        let claim = fixture.root.join("T1.lock");
        std::fs::write(&claim, "task: T1\n").unwrap();
        let holder = File::open(&claim).unwrap();
        holder.lock().unwrap();
        let mut spec = fixture.spec(&["true"]);
        spec.lock_file = Some(claim);
        spec.lock_wait_secs = 0;
        let result = run_supervisor(&spec, &fixed_context(&NoopRenewer)).unwrap();
        assert_eq!(result.exit_code, None);
        assert!(result.error.unwrap().contains("held by another process"));
    }
}
