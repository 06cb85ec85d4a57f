//! `longrun loop` and `longrun watch` end to end: real cycles, real detached supervisors,
//! the scripted fake agent doing each task's work, real validators and merges.
//!
//! Needs `cargo test --features fake-agent`. Also holds [`FakeRepo`], the repository the
//! other fake-agent tests (`stop`) use.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::{Run, TestEnv};

const FAKE_AGENT: &str = env!("CARGO_BIN_EXE_longrun-fake-agent");

/// Generous: two cores run many tests at once.
pub const WAIT: Duration = Duration::from_secs(120);

/// A repository whose longrun.yaml sends every task, whatever its risk, to the `fake`
/// profile: the fake agent running `include <scripts>/<task id>`, so each task's steps are
/// the file [`FakeRepo::script`] wrote for it (none: the agent just exits 0).
pub struct FakeRepo {
    pub env: TestEnv,
    /// Outside the repository, so writing scripts never changes the primary checkout.
    pub scripts: PathBuf,
}

/// Three tasks in a chain, each proven by a file its agent commits.
pub const CHAIN: &str = r#"version: 1
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
    title: First
    status: not_started
    validators: [["test", "-f", "t1.txt"]]
  - task_id: T2
    title: Second
    depends_on: [T1]
    validators: [["test", "-f", "t2.txt"]]
  - task_id: T3
    title: Third
    depends_on: [T1, T2]
    validators: [["test", "-f", "t3.txt"]]
"#;

impl FakeRepo {
    /// `longrun init`, then this checklist and the fake profile, all committed on `main`.
    pub fn new(checklist: &str, max_attempts: u32) -> FakeRepo {
        let env = TestEnv::initialized();
        let scripts = env.root.parent().expect("temp base").join("scripts");
        std::fs::create_dir_all(&scripts).expect("scripts dir");
        // `routing.default` alone: every risk not listed under `by_risk` follows it.
        env.write(
            "longrun.yaml",
            format!(
                r#"version: 1
max_parallel: 2
max_attempts: {max_attempts}
worker_env: [PATH, HOME, GIT_CONFIG_GLOBAL, GIT_CONFIG_NOSYSTEM]
agents:
  fake:
    kind: command
    command: ["{FAKE_AGENT}", "include {}/{{task_id}}"]
    prompt: file
    timeout: 5m
routing:
  default: fake
"#,
                scripts.display()
            ),
        );
        env.write("checklist.yaml", checklist);
        env.git(&["add", "-A"]);
        env.git(&["commit", "--quiet", "-m", "plan the work"]);
        FakeRepo { env, scripts }
    }

    /// The fake agent's steps for `task`.
    pub fn script(&self, task: &str, steps: &str) {
        std::fs::write(self.scripts.join(task), steps).expect("write script");
    }

    /// The usual work: write the file the task's validator looks for, and commit it.
    pub fn script_done(&self, task: &str) {
        let file = format!("{}.txt", task.to_lowercase());
        self.script(task, &format!("write {file} done\ncommit add {file}\n"));
    }

    /// Waits until every started worker has written its result.
    pub fn wait_for_results(&self) {
        let runs = self.env.path(".longrun/runs");
        let give_up = Instant::now() + WAIT;
        loop {
            let pending: Vec<PathBuf> = attempt_dirs(&runs)
                .into_iter()
                .filter(|dir| dir.join("spec.json").is_file() && !dir.join("result.json").is_file())
                .collect();
            if pending.is_empty() {
                return;
            }
            assert!(
                Instant::now() < give_up,
                "workers did not finish: {pending:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a started worker's supervisor has started its agent (`agent.json`).
    pub fn wait_for_agent(&self) {
        let runs = self.env.path(".longrun/runs");
        let give_up = Instant::now() + WAIT;
        while !attempt_dirs(&runs)
            .iter()
            .any(|dir| dir.join("agent.json").is_file())
        {
            assert!(Instant::now() < give_up, "no agent started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `longrun` and fails the test if it takes longer than [`WAIT`].
    pub fn longrun_bounded(&self, args: &[&str]) -> Run {
        let mut command = self.env.command(args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start longrun");
        let give_up = Instant::now() + WAIT;
        loop {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            if Instant::now() >= give_up {
                let _ = child.kill();
                let output = child.wait_with_output().expect("output");
                panic!(
                    "`longrun {}` did not finish in {WAIT:?}\n--- stderr\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The task ids of the merge commits on `main`, newest first.
    pub fn merged_tasks(&self) -> Vec<String> {
        self.env
            .git(&[
                "log",
                "--first-parent",
                "--format=%(trailers:key=Longrun-Task,valueonly)",
                "main",
            ])
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The status of `task` as checklist.yaml says (through `longrun task show --json`).
    pub fn status_of(&self, task: &str) -> String {
        let run = self.env.longrun(&["task", "show", task, "--json"]);
        assert_eq!(run.code, 0, "{run:?}");
        let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
        // The model serialises a known status as `{"Known": "complete"}`.
        value["status"]["Known"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// `.longrun/runs/<run>/<task>/<attempt>/` folders.
pub fn attempt_dirs(runs: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let children = |dir: &std::path::Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    for run in children(runs) {
        for task in children(&run) {
            dirs.extend(children(&task));
        }
    }
    dirs
}

/// A `longrun` process in the background whose stderr lines arrive on a channel.
pub struct Background {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Background {
    pub fn start(mut command: Command) -> Background {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start longrun");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Background {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `text`, and returns it.
    pub fn expect_line(&mut self, text: &str) -> String {
        let give_up = Instant::now() + WAIT;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line with `{text}`; stderr so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Sends `signal` (a `kill` name such as `INT`) and returns the exit code and the rest
    /// of stderr.
    pub fn signal_and_wait(&mut self, signal: &str) -> (i32, String) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
        let give_up = Instant::now() + WAIT;
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status.code().unwrap_or(-1);
            }
            if Instant::now() >= give_up {
                let _ = self.child.kill();
                panic!(
                    "longrun did not exit after SIG{signal}:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The rest of stderr, until the reader sees its end (bounded, in case something the
        // command started still held the pipe).
        let mut rest = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(give_up.saturating_duration_since(Instant::now()))
        {
            rest.push(line);
        }
        self.seen.extend(rest.iter().cloned());
        (code, rest.join("\n"))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A failed assertion must not leave a loop running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn loop_every_0_until_done_completes_a_chain_of_tasks_with_trailers() {
    let repo = FakeRepo::new(CHAIN, 2);
    for task in ["T1", "T2", "T3"] {
        repo.script_done(task);
    }
    let run = repo.longrun_bounded(&["loop", "--every", "0", "--until", "done"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("loop: done after"), "{run:?}");
    assert!(run.stderr.contains("3/3 tasks complete"), "{run:?}");
    // One summary line per cycle; the chain needs a cycle per task and one to merge the last.
    let summaries = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("SUMMARY: "))
        .count();
    assert!(summaries >= 4, "{run:?}");
    assert_eq!(repo.merged_tasks(), ["T3", "T2", "T1"]);
    for task in ["T1", "T2", "T3"] {
        assert_eq!(repo.status_of(task), "complete");
    }
    assert_eq!(repo.env.git(&["show", "main:t3.txt"]), "done");
    // Nothing is left claimed.
    let claims = std::fs::read_dir(repo.env.path("current_tasks"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                // Dot files are the store's own mutex, not claims.
                .filter(|name| name.ends_with(".lock") && !name.starts_with('.'))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(claims, 0);
}

#[test]
fn loop_json_prints_one_line_per_cycle_and_an_end_record() {
    let repo = FakeRepo::new(CHAIN, 2);
    for task in ["T1", "T2", "T3"] {
        repo.script_done(task);
    }
    let run = repo.longrun_bounded(&["loop", "--every", "0", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let records: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON value per line"))
        .collect();
    let last = records.last().expect("records");
    assert_eq!(last["end"], "done");
    assert_eq!(last["exit"], 0);
    assert_eq!(records.len() as u64 - 1, last["cycles"].as_u64().unwrap());
    assert_eq!(records[0]["woke"], "start");
    assert_eq!(records[0]["report"]["dispatched"][0], "T1");
    assert!(
        records[1..records.len() - 1]
            .iter()
            .all(|record| record["woke"] == "worker_finished"),
        "back-to-back cycles wait for a worker: {}",
        run.stdout
    );
}

#[test]
fn loop_until_blocked_stops_with_1_when_a_validator_always_fails() {
    let repo = FakeRepo::new(CHAIN, 2);
    // T1's agent commits, but never the file its validator wants.
    repo.script("T1", "write other.txt x\ncommit not what was asked\n");
    let run = repo.longrun_bounded(&["loop", "--every", "0", "--until", "blocked"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("failed or blocked"), "{run:?}");
    let status = repo.status_of("T1");
    assert!(status == "blocked" || status == "failed", "{status}");
    let task: serde_json::Value =
        serde_json::from_str(&repo.env.longrun(&["task", "show", "T1", "--json"]).stdout).unwrap();
    assert_eq!(task["attempts"], 2, "{task}");
    assert!(repo.merged_tasks().is_empty());
    assert!(repo.env.read("run-log.md").contains("failure [T1]"));

    // `--until done` sees the rest wait on T1: stalled, one cycle, exit 1.
    let run = repo.longrun_bounded(&["loop", "--every", "0"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("stopped after 1 cycle:"), "{run:?}");
    assert!(
        run.stderr.contains("nothing moves until a person acts"),
        "{run:?}"
    );
}

#[test]
fn max_cycles_1_runs_exactly_one_cycle() {
    let repo = FakeRepo::new(CHAIN, 2);
    repo.script_done("T1");
    let run = repo.longrun_bounded(&["loop", "--every", "0", "--max-cycles", "1"]);
    assert_eq!(run.code, 0, "{run:?}");
    let summaries: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("SUMMARY: "))
        .collect();
    assert_eq!(
        summaries,
        ["SUMMARY: 0/3 complete, 1 dispatched"],
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("stopped after 1 cycle (`--max-cycles`)"),
        "{run:?}"
    );
    repo.wait_for_results();
    // Not merged: that is the next cycle's job.
    assert!(repo.merged_tasks().is_empty());
    assert_eq!(repo.status_of("T1"), "in_progress");
}

#[test]
fn sigint_ends_the_loop_with_130_and_leaves_the_worker_running() {
    let repo = FakeRepo::new(CHAIN, 2);
    repo.script("T1", "hang\n");
    let mut looping = Background::start(repo.env.command(&["loop", "--every", "1h"]));
    looping.expect_line("SUMMARY: 0/3 complete, 1 dispatched");
    let (code, rest) = looping.signal_and_wait("INT");
    assert_eq!(code, 130, "{}", looping.seen.join("\n"));
    assert!(
        rest.contains("interrupted by SIGINT after 1 cycle"),
        "{rest}"
    );
    assert!(rest.contains("keep running detached (`T1`)"), "{rest}");
    // The worker outlived the loop; end it so nothing is left behind.
    let stop = repo.env.longrun(&["stop", "--kill"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stderr.contains("stopped `T1` attempt 1"), "{stop:?}");
}

/// One task.
pub const ONE: &str = r#"version: 1
tasks:
  - task_id: T1
    title: Only
    status: not_started
    validators: [["test", "-f", "t1.txt"]]
"#;

fn watch_reacts_to_the_checklist_and_to_workers(extra: &[&str], mode: &str) {
    let checklist = ONE.replacen("status: not_started", "status: blocked", 1);
    let repo = FakeRepo::new(&checklist, 2);
    repo.script_done("T1");
    let mut args = vec!["watch", "--every", "1h"];
    args.extend_from_slice(extra);
    let mut watching = Background::start(repo.env.command(&args));
    watching.expect_line(mode);
    watching.expect_line("SUMMARY: 0/1 complete");

    // A person unblocks T1 (saved with a rename, like editors do): the watch dispatches it
    // without waiting the hour, and merges it as soon as its worker is done.
    let unblock = repo
        .env
        .longrun(&["task", "set", "T1", "--status", "not_started"]);
    assert_eq!(unblock.code, 0, "{unblock:?}");
    watching.expect_line("SUMMARY: 0/1 complete, 1 dispatched");
    watching.expect_line("SUMMARY: 1/1 complete, 1 merged");
    // The merge cycle wrote checklist.yaml itself: that must not start another cycle.
    std::thread::sleep(Duration::from_secs(2));
    let (code, rest) = watching.signal_and_wait("TERM");
    assert_eq!(code, 130, "{}", watching.seen.join("\n"));
    assert!(rest.contains("interrupted by SIGTERM"), "{rest}");
    assert!(!rest.contains("SUMMARY"), "{rest}");
    assert_eq!(repo.merged_tasks(), ["T1"]);
}

#[test]
fn watch_runs_a_cycle_when_the_checklist_changes_or_a_worker_finishes() {
    watch_reacts_to_the_checklist_and_to_workers(&[], "watch: watching `checklist.yaml`");
}

#[test]
fn watch_polls_when_asked() {
    watch_reacts_to_the_checklist_and_to_workers(&["--poll"], "watch: polling");
}
