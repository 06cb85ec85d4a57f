//! Worker processes end to end: the real `longrun __supervise` started detached by
//! `spawn_detached`, driving the scripted `longrun-fake-agent`. Real processes, signals and
//! locks; pids are checked through `/proc` here, independently of the code under test.
//!
//! Needs `cargo test --features fake-agent` (the fake agent binary is only built then).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use longrun::process::{
    self, DeadWorker, KillOutcome, RunFiles, Stdin, WorkerResult, WorkerSpec, WorkerState,
};

const FAKE_AGENT: &str = env!("CARGO_BIN_EXE_longrun-fake-agent");

/// Generous: two cores run many tests at once.
const WAIT: Duration = Duration::from_secs(60);

/// A temp dir with a worktree stand-in and a run directory.
struct Workspace {
    _temp: tempfile::TempDir,
    root: PathBuf,
    worktree: PathBuf,
    run_dir: PathBuf,
}

impl Workspace {
    fn new() -> Workspace {
        let temp = tempfile::tempdir().expect("temp dir");
        let root = temp.path().canonicalize().expect("canonical temp dir");
        let worktree = root.join("worktree");
        let run_dir = root.join("runs").join("T1").join("1");
        std::fs::create_dir_all(&worktree).expect("worktree");
        Workspace {
            _temp: temp,
            root,
            worktree,
            run_dir,
        }
    }

    /// A spec running the fake agent with `steps` as its arguments (one step each).
    fn spec(&self, steps: &[&str]) -> WorkerSpec {
        let mut argv = vec![FAKE_AGENT.to_string()];
        argv.extend(steps.iter().map(|step| step.to_string()));
        let mut spec = WorkerSpec::new(argv, self.worktree.clone(), self.run_dir.clone());
        spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
        spec.timeout_secs = 60;
        spec.kill_grace_secs = 1;
        spec
    }

    fn start(&self, spec: &WorkerSpec) -> u32 {
        start(spec)
    }

    fn finish(&self) -> WorkerResult {
        finish(&self.run_dir)
    }

    fn run(&self, spec: &WorkerSpec) -> WorkerResult {
        start(spec);
        finish(&spec.run_dir)
    }

    fn files(&self) -> RunFiles {
        RunFiles::new(&self.run_dir)
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.files().stdout_log()).expect("stdout.log")
    }
}

/// Writes the spec into its run directory and starts a detached supervisor; returns its pid.
fn start(spec: &WorkerSpec) -> u32 {
    let spec_path = spec.run_dir.join("spec.json");
    std::fs::create_dir_all(&spec.run_dir).expect("run dir");
    spec.write(&spec_path).expect("write spec");
    process::spawn_detached(Path::new(&crate::longrun_exe()), &spec_path).expect("spawn_detached")
}

/// Waits for the worker in `run_dir` to finish.
fn finish(run_dir: &Path) -> WorkerResult {
    match process::wait_for_worker(run_dir, WAIT).expect("worker state") {
        WorkerState::Finished(result) => *result,
        other => panic!(
            "worker did not finish: {other:?}\nsupervisor.log:\n{}",
            std::fs::read_to_string(RunFiles::new(run_dir).supervisor_log()).unwrap_or_default()
        ),
    }
}

/// True when `pid` runs no more (gone, or a zombie nobody reaped yet).
fn pid_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').expect("stat") + 1..]
                .split_whitespace()
                .next()
                .unwrap_or("");
            state == "Z" || state == "X"
        }
        Err(_) => true,
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let give_up = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid printed by the fake agent's `fork-daemon` step.
fn daemon_pid(stdout: &str) -> u32 {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("daemon-pid "))
        .expect("daemon-pid line")
        .trim()
        .parse()
        .expect("pid")
}

fn agent_pid(workspace: &Workspace) -> u32 {
    let text = std::fs::read_to_string(workspace.files().agent_record()).expect("agent.json");
    let record: serde_json::Value = serde_json::from_str(&text).expect("agent.json parses");
    record["pid"].as_u64().expect("pid") as u32
}

/// A shared probe: an exclusive one that succeeds would leak into children that other
/// test threads fork meanwhile and make the next probe fail (see `spawn::lock_held`).
fn lock_is_held(path: &Path) -> bool {
    let file = File::open(path).expect("open lock file");
    matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
}

#[test]
fn supervisor_runs_the_agent_and_captures_output() {
    let workspace = Workspace::new();
    let spec = workspace.spec(&[
        "print working",
        "write notes/out.txt a\\nb",
        "append notes/out.txt \\nc",
        "usage {\"input_tokens\":12}",
        "exit 7",
    ]);
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, Some(7), "{result:?}");
    assert_eq!(result.signal, None);
    assert!(!result.timed_out && !result.stopped && result.error.is_none());
    assert_eq!(
        result.final_message.as_deref(),
        Some("{\"input_tokens\":12}")
    );
    assert_eq!(
        workspace.stdout(),
        "working\n{\"input_tokens\":12}\n",
        "stdout.log holds exactly what the agent printed"
    );
    assert_eq!(result.stdout_bytes, workspace.stdout().len() as u64);
    assert_eq!(
        std::fs::read_to_string(workspace.worktree.join("notes/out.txt")).unwrap(),
        "a\nb\nc",
        "the agent ran in the spec's cwd"
    );
    assert!(!result.cost_known);
    assert_eq!(result.cost_usd, None);
    // Times are RFC 3339 and consistent with the duration.
    let started: jiff::Timestamp = result.started_at.parse().expect("started_at");
    let finished: jiff::Timestamp = result.finished_at.parse().expect("finished_at");
    assert_eq!(
        (finished - started).get_milliseconds(),
        result.duration_ms as i64
    );
}

#[test]
fn stderr_and_a_crash_are_recorded() {
    let workspace = Workspace::new();
    let result = workspace.run(&workspace.spec(&["print before", "crash"]));
    assert_eq!(result.exit_code, None);
    assert_eq!(result.signal, Some(6), "abort is SIGABRT: {result:?}");

    let workspace = Workspace::new();
    let result = workspace.run(&workspace.spec(&["frobnicate"]));
    assert_eq!(result.exit_code, Some(3));
    let stderr = std::fs::read_to_string(workspace.files().stderr_log()).unwrap();
    assert!(stderr.contains("unknown step `frobnicate`"), "{stderr}");
    assert_eq!(result.stderr_bytes, stderr.len() as u64);
}

#[test]
fn timeout_kills_the_whole_group_including_a_forked_grandchild() {
    let workspace = Workspace::new();
    let mut spec = workspace.spec(&["fork-daemon", "hang"]);
    spec.timeout_secs = 1;
    spec.kill_grace_secs = 1;
    let started = Instant::now();
    let result = workspace.run(&spec);
    assert!(result.timed_out, "{result:?}");
    assert_eq!(result.signal, Some(15), "the agent died of the SIGTERM");
    let daemon = daemon_pid(&workspace.stdout());
    let agent = agent_pid(&workspace);
    // The result is written only after the group is gone.
    assert!(pid_gone(daemon), "grandchild {daemon} survived the timeout");
    assert!(pid_gone(agent), "agent {agent} survived the timeout");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn an_agent_that_ignores_sigterm_gets_sigkill_after_the_grace_period() {
    let workspace = Workspace::new();
    // `trap '' TERM` makes SIGTERM ignored, and ignoring survives exec, so `sleep` ignores
    // it too: only the SIGKILL after the grace period ends the group. (A shell here is the
    // agent's own program, given as argv; the supervisor never runs one.)
    let mut spec = WorkerSpec::new(
        vec![
            "sh".into(),
            "-c".into(),
            "trap '' TERM; echo ready; sleep 30; echo survived".into(),
        ],
        workspace.worktree.clone(),
        workspace.run_dir.clone(),
    );
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    spec.timeout_secs = 1;
    spec.kill_grace_secs = 1;
    let result = workspace.run(&spec);
    assert!(result.timed_out);
    assert_eq!(result.signal, Some(9), "{result:?}");
    assert!(
        result.duration_ms >= 2000,
        "grace period skipped: {result:?}"
    );
    assert_eq!(workspace.stdout(), "ready\n");
}

#[test]
fn a_daemon_left_by_an_agent_that_exits_normally_is_killed() {
    let workspace = Workspace::new();
    let result = workspace.run(&workspace.spec(&["fork-daemon", "print done", "exit 0"]));
    assert_eq!(result.exit_code, Some(0), "{result:?}");
    assert!(result.leftovers_killed, "{result:?}");
    assert!(!result.timed_out);
    assert_eq!(result.final_message.as_deref(), Some("done"));
    let daemon = daemon_pid(&workspace.stdout());
    assert!(pid_gone(daemon), "daemon {daemon} outlived its agent");
}

#[test]
fn a_daemon_that_left_the_group_with_setsid_is_killed_too() {
    let workspace = Workspace::new();
    // `setsid` puts `sleep` in a session and group of its own, out of reach of a group
    // kill; its parent shell exits at once, so it is orphaned and adopted by the
    // supervisor (a child subreaper), which kills it. It also holds the stdout pipe, so
    // without that the output would never end.
    let mut spec = WorkerSpec::new(
        vec![
            "sh".into(),
            "-c".into(),
            "setsid sleep 300 & echo \"escaped $!\"".into(),
        ],
        workspace.worktree.clone(),
        workspace.run_dir.clone(),
    );
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, Some(0), "{result:?}");
    assert!(result.leftovers_killed, "{result:?}");
    assert!(!result.output_incomplete, "{result:?}");
    let escaped: u32 = workspace
        .stdout()
        .trim()
        .strip_prefix("escaped ")
        .expect("pid line")
        .parse()
        .expect("pid");
    assert!(pid_gone(escaped), "the setsid daemon {escaped} survived");
    assert!(result.duration_ms < 4000, "{result:?}");
}

#[test]
fn an_agent_without_leftovers_reports_none() {
    let workspace = Workspace::new();
    let result = workspace.run(&workspace.spec(&["print alone"]));
    assert_eq!(result.exit_code, Some(0));
    assert!(!result.leftovers_killed);
}

#[test]
fn output_beyond_the_cap_is_counted_and_discarded() {
    const PRINTED: u64 = 200 * 1000 * 1000;
    const CAP: u64 = 1024 * 1024;
    let workspace = Workspace::new();
    let mut spec = workspace.spec(&[&format!("print-bytes {PRINTED}"), "print the end"]);
    spec.output_cap_bytes = CAP;
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, Some(0), "{result:?}");
    assert_eq!(result.stdout_bytes, PRINTED + "the end\n".len() as u64);
    assert!(result.stdout_truncated);
    assert!(!result.stderr_truncated);
    assert_eq!(result.final_message.as_deref(), Some("the end"));

    let log = std::fs::read(workspace.files().stdout_log()).unwrap();
    let marker = format!(
        "[longrun: output truncated at {CAP} bytes; {} more bytes were discarded]\n",
        result.stdout_bytes - CAP
    );
    assert!(
        log.len() as u64 <= CAP + marker.len() as u64 + 1,
        "stdout.log is {} bytes",
        log.len()
    );
    assert!(log.ends_with(marker.as_bytes()));
    assert!(log[..CAP as usize].iter().all(|&b| b == b'x' || b == b'\n'));
    // One 64 KiB buffer per stream: the supervisor's peak memory stays far below what was
    // printed (a debug build of longrun itself takes a few MiB).
    let peak = result.supervisor_peak_rss_kib.expect("peak rss on Linux");
    assert!(peak < 32 * 1024, "supervisor peaked at {peak} KiB");
}

#[test]
fn the_agent_sees_only_the_spec_environment() {
    let workspace = Workspace::new();
    let dump = workspace.root.join("env.txt");
    let mut spec = workspace.spec(&[&format!("env-dump {}", dump.display())]);
    spec.env = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("LONGRUN_TASK_ID".into(), "T1".into()),
        ("WITH_SPACES".into(), "a b  c".into()),
    ];
    // The supervisor itself inherits the test's environment, secrets included; none of it
    // may reach the agent.
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, Some(0), "{result:?}");
    assert_eq!(
        std::fs::read_to_string(&dump).unwrap(),
        "LONGRUN_TASK_ID=T1\nPATH=/usr/bin:/bin\nWITH_SPACES=a b  c\n"
    );
}

#[test]
fn shell_metacharacters_in_argv_are_data() {
    let workspace = Workspace::new();
    let victim = workspace.root.join("created");
    let hostile = format!(
        "$(touch {0}) `touch {0}` ; touch {0} && touch {0} | cat > {0} *",
        victim.display()
    );
    let mut spec = WorkerSpec::new(
        vec!["echo".into(), hostile.clone(), "$HOME".into()],
        workspace.worktree.clone(),
        workspace.run_dir.clone(),
    );
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, Some(0), "{result:?}");
    assert_eq!(workspace.stdout(), format!("{hostile} $HOME\n"));
    assert!(!victim.exists(), "a shell ran the argument");
    assert!(
        std::fs::read_dir(&workspace.worktree)
            .unwrap()
            .next()
            .is_none(),
        "nothing was created in the working directory"
    );
}

#[test]
fn state_goes_running_then_finished_and_the_claim_lock_is_held_meanwhile() {
    let workspace = Workspace::new();
    let claim = workspace.root.join("T1.lock");
    std::fs::write(&claim, "task: T1\ntoken: abc\n").unwrap();
    let mut spec = workspace.spec(&["sleep 1500", "print finished"]);
    spec.lock_file = Some(claim.clone());
    let supervisor = workspace.start(&spec);

    // spawn_detached returns once the supervisor holds both locks.
    assert_eq!(
        process::worker_state(&workspace.run_dir).unwrap(),
        WorkerState::Running
    );
    assert!(
        lock_is_held(&claim),
        "the claim is not locked while running"
    );
    let pid_file = std::fs::read_to_string(workspace.files().supervisor_pid()).unwrap();
    assert_eq!(pid_file.trim(), supervisor.to_string());

    let result = workspace.finish();
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.final_message.as_deref(), Some("finished"));
    // Finished is reported once result.json exists; the locks go when the supervisor's
    // last thread exits, a moment later.
    wait_until("the claim lock to be released", || !lock_is_held(&claim));
    wait_until("the supervisor to exit", || pid_gone(supervisor));
    assert_eq!(
        std::fs::read_to_string(&claim).unwrap(),
        "task: T1\ntoken: abc\n",
        "the claim file was changed"
    );
    // A finished run directory is not run again.
    let spec_path = workspace.run_dir.join("spec.json");
    assert!(process::spawn_detached(Path::new(&crate::longrun_exe()), &spec_path).is_err());
}

#[test]
fn a_sigkilled_supervisor_is_dead_and_its_orphaned_agent_group_is_killed() {
    let workspace = Workspace::new();
    let claim = workspace.root.join("T1.lock");
    std::fs::write(&claim, "task: T1\n").unwrap();
    let mut spec = workspace.spec(&["fork-daemon", "hang"]);
    spec.lock_file = Some(claim.clone());
    let supervisor = workspace.start(&spec);
    wait_until("the daemon to start", || {
        std::fs::read_to_string(workspace.files().stdout_log())
            .is_ok_and(|text| text.contains("daemon-pid"))
    });
    let daemon = daemon_pid(&workspace.stdout());
    let agent = agent_pid(&workspace);

    let status = Command::new("kill")
        .args(["-KILL", &supervisor.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    // The leader turns zombie before its other threads have exited and closed its files,
    // so the lock (and with it `Running`) lasts a moment longer than the pid: wait on the
    // state, not the pid.
    let state = process::wait_for_worker(&workspace.run_dir, WAIT).unwrap();
    wait_until("the supervisor to die", || pid_gone(supervisor));

    // No result, no lock: dead, and the agent's group is reported as orphaned.
    assert_eq!(
        state,
        WorkerState::Dead(DeadWorker {
            orphaned_agent_group: Some(agent)
        })
    );
    assert!(
        !lock_is_held(&claim),
        "a dead supervisor still holds the claim"
    );
    assert!(!pid_gone(agent) && !pid_gone(daemon));

    assert_eq!(
        process::kill_worker(&workspace.run_dir).unwrap(),
        KillOutcome::OrphanedAgentKilled { pgid: agent }
    );
    wait_until("the orphaned agent to die", || pid_gone(agent));
    wait_until("the orphaned daemon to die", || pid_gone(daemon));
    assert_eq!(
        process::worker_state(&workspace.run_dir).unwrap(),
        WorkerState::Dead(DeadWorker {
            orphaned_agent_group: None
        })
    );
    assert!(!workspace.files().result().exists());
}

#[test]
fn kill_worker_stops_a_live_worker_and_the_result_is_still_written() {
    let workspace = Workspace::new();
    let mut spec = workspace.spec(&["fork-daemon", "print started", "hang"]);
    spec.kill_grace_secs = 5;
    let supervisor = workspace.start(&spec);
    wait_until("the agent to print", || {
        std::fs::read_to_string(workspace.files().stdout_log())
            .is_ok_and(|text| text.contains("started"))
    });
    assert_eq!(
        process::kill_worker(&workspace.run_dir).unwrap(),
        KillOutcome::SupervisorSignalled { pid: supervisor }
    );
    let result = workspace.finish();
    assert!(result.stopped, "{result:?}");
    assert!(!result.timed_out);
    assert_eq!(result.signal, Some(15));
    assert!(
        result.duration_ms < 5000,
        "the agent took SIGTERM, no grace wait: {result:?}"
    );
    assert!(pid_gone(daemon_pid(&workspace.stdout())));
    assert!(pid_gone(agent_pid(&workspace)));
    wait_until("the supervisor to exit", || pid_gone(supervisor));
    assert_eq!(
        process::kill_worker(&workspace.run_dir).unwrap(),
        KillOutcome::NotRunning
    );
}

#[test]
fn a_program_that_cannot_start_is_a_finished_error_result() {
    let workspace = Workspace::new();
    let mut spec = workspace.spec(&[]);
    spec.argv = vec!["/nonexistent/agent".into()];
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, None);
    assert_eq!(result.signal, None);
    let error = result.error.expect("error");
    assert!(
        error.contains("cannot start `/nonexistent/agent`"),
        "{error}"
    );
}

#[test]
fn a_broken_spec_is_refused_before_anything_starts() {
    let workspace = Workspace::new();
    std::fs::create_dir_all(&workspace.run_dir).unwrap();
    let spec_path = workspace.run_dir.join("spec.json");
    std::fs::write(&spec_path, r#"{"argv": "rm -rf /"}"#).unwrap();
    let error = process::spawn_detached(Path::new(&crate::longrun_exe()), &spec_path).unwrap_err();
    assert!(error.to_string().contains("cannot parse"), "{error}");
    assert!(!workspace.files().supervisor_pid().exists());
}

#[test]
fn stdin_comes_from_the_spec_file() {
    let workspace = Workspace::new();
    let prompt = workspace.root.join("prompt.md");
    std::fs::write(&prompt, "line one\nline two\n").unwrap();
    let mut spec = WorkerSpec::new(
        vec!["cat".into()],
        workspace.worktree.clone(),
        workspace.run_dir.clone(),
    );
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    spec.stdin = Stdin::File(prompt);
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, Some(0), "{result:?}");
    assert_eq!(workspace.stdout(), "line one\nline two\n");
}

#[test]
fn fake_agent_attempts_commits_and_outside_writes() {
    let workspace = Workspace::new();
    let env = crate::TestEnv::new();
    let outside = workspace.root.join("outside.txt");
    let script = workspace.root.join("script.txt");
    std::fs::write(
        &script,
        format!(
            "only-on-attempt 1 exit 9\n\
             write src/lib.rs pub fn answer() -> u32 {{ 42 }}\\n\n\
             commit add answer\n\
             write-outside {} escaped\n\
             fail-if-exists never-there\n",
            outside.display()
        ),
    )
    .unwrap();
    let spec_for = |attempt: &str, run: &str| {
        let mut spec = WorkerSpec::new(
            vec![FAKE_AGENT.into()],
            env.root.clone(),
            workspace.root.join(run),
        );
        spec.env = vec![
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("HOME".into(), workspace.root.display().to_string()),
            ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("FAKE_AGENT_SCRIPT".into(), script.display().to_string()),
            ("LONGRUN_ATTEMPT".into(), attempt.into()),
        ];
        spec
    };
    let spec = spec_for("1", "attempt-1");
    let result = workspace.run(&spec);
    assert_eq!(result.exit_code, Some(9), "attempt 1 fails: {result:?}");
    assert!(!env.path("src/lib.rs").exists());

    let result = workspace.run(&spec_for("2", "attempt-2"));
    assert_eq!(result.exit_code, Some(0), "attempt 2 succeeds: {result:?}");
    assert_eq!(env.read("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n");
    assert_eq!(
        env.git(&["log", "-1", "--format=%s %an"]),
        "add answer fake\n"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "escaped");
}
