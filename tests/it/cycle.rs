//! The stateless cycle with the scripted fake agent: real git, real worktrees, real
//! detached supervisors.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{Run, TestEnv};

/// A repository whose only agent is the fake agent, reading `scripts/<task>` for its steps.
pub struct CycleRepo {
    pub env: TestEnv,
    pub scripts: PathBuf,
}

pub fn fake_agent() -> &'static str {
    env!("CARGO_BIN_EXE_longrun-fake-agent")
}

impl CycleRepo {
    pub fn new(checklist: &str) -> CycleRepo {
        CycleRepo::with_config(checklist, "")
    }

    pub fn with_config(checklist: &str, extra_config: &str) -> CycleRepo {
        CycleRepo::with_routing(checklist, "routing:\n  default: fake\n", extra_config)
    }

    /// Like [`CycleRepo::with_config`], with its own `routing:` block; `fake` and `fake2`
    /// (the same scripted agent under another name) are both defined.
    pub fn with_routing(checklist: &str, routing: &str, extra_config: &str) -> CycleRepo {
        let env = TestEnv::initialized();
        let scripts = env.root.parent().unwrap().join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        env.write("checklist.yaml", checklist);
        env.write(
            "longrun.yaml",
            format!(
                "max_attempts: 3\nmax_parallel: 4\n{routing}agents:\n  fake:\n    kind: command\n    command: [\"{agent}\", \"include {scripts}/{{task_id}}\"]\n    prompt: file\n    timeout: 60s\n  fake2:\n    kind: command\n    command: [\"{agent}\", \"include {scripts}/{{task_id}}\"]\n    prompt: file\n    timeout: 60s\n  reviewer:\n    kind: command\n    command: [\"{agent}\", \"include {scripts}/review-{{task_id}}\"]\n    prompt: file\n    timeout: 60s\n{extra_config}",
                agent = fake_agent(),
                scripts = scripts.display()
            ),
        );
        env.git(&["add", "-A"]);
        env.git(&["commit", "-q", "-m", "longrun state"]);
        CycleRepo { env, scripts }
    }

    pub fn script(&self, task: &str, steps: &str) {
        std::fs::write(self.scripts.join(task), steps).unwrap();
    }

    pub fn cycle(&self) -> Run {
        self.env.longrun(&["cycle"])
    }

    /// Runs cycles until no task is running or waiting, or `limit` passes.
    pub fn cycle_until_settled(&self, limit: Duration) -> Run {
        let start = Instant::now();
        loop {
            let run = self.cycle();
            assert!(run.code == 0 || run.code == 1, "{run:?}");
            let status = self.env.longrun(&["status", "--json"]);
            let value: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
            let counts = value["counts"].as_array().unwrap();
            let open = counts.iter().any(|c| {
                let status = c["status"].as_str().unwrap();
                status == "in_progress" || status == "not_started"
            });
            if !open {
                return run;
            }
            if start.elapsed() > limit {
                panic!("not settled after {limit:?}: {}", status.stdout);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn task(&self, id: &str) -> serde_json::Value {
        let run = self.env.longrun(&["task", "show", id, "--json"]);
        assert_eq!(run.code, 0, "{run:?}");
        serde_json::from_str(&run.stdout).unwrap()
    }

    pub fn log(&self) -> String {
        self.env.read("run-log.md")
    }
}

const TWO_TASKS: &str = r#"# Two tasks; comments must survive the run.
tasks:
  - task_id: T1
    title: Write hello
    validators: [["test", "-f", "hello.txt"]]
  - task_id: T2
    title: Say world
    depends_on: [T1]
    validators: [["grep", "-q", "world", "hello.txt"]]
"#;

#[test]
fn tasks_are_dispatched_validated_and_merged_with_trailers() {
    let repo = CycleRepo::new(TWO_TASKS);
    repo.script("T1", "write hello.txt hello\ncommit add hello\n");
    repo.script("T2", "write hello.txt hello world\ncommit say world\n");
    let first = repo.cycle();
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first.stderr.contains("dispatch `T1` attempt 1 with `fake`"),
        "{first:?}"
    );
    assert!(!first.stderr.contains("`T2`"), "T2 waits for T1: {first:?}");
    repo.cycle_until_settled(Duration::from_secs(60));

    let env = &repo.env;
    assert_eq!(env.read("hello.txt"), "hello world");
    let log = env.git(&["log", "--first-parent", "--format=%s%n%b", "main"]);
    assert!(log.contains("Merge T1: Write hello"), "{log}");
    assert!(log.contains("Longrun-Task: T2"), "{log}");
    assert!(log.contains("Longrun-Attempt: 1"), "{log}");
    assert!(log.contains("Longrun-Token: "), "{log}");
    assert!(log.contains("Longrun-Validated: "), "{log}");
    assert_eq!(repo.task("T1")["status"]["Known"], "complete");
    assert_eq!(repo.task("T2")["attempts"], 1);
    let note = repo.task("T2")["note"].as_str().unwrap().to_string();
    assert!(note.contains("merged as"), "{note}");
    assert!(note.contains("`grep -q world hello.txt` exit 0"), "{note}");
    let run_log = repo.log();
    assert!(
        run_log.contains("dispatch [T1] attempt=1 agent=fake"),
        "{run_log}"
    );
    assert!(run_log.contains("merge [T2] attempt=1"), "{run_log}");
    // No claim, worktree or task branch is left behind.
    assert!(!env.path("current_tasks/T1.lock").exists());
    assert!(!env.path(".longrun/worktrees/T1").exists());
    let branches = env.git(&["branch", "--list", "longrun/*"]);
    assert!(branches.trim().is_empty(), "{branches}");
    // The person's comment survived every write.
    assert!(
        env.read("checklist.yaml")
            .starts_with("# Two tasks; comments must survive the run.\n")
    );
}

#[test]
fn a_failed_validation_goes_back_with_its_evidence_and_passes_next_time() {
    let repo = CycleRepo::new(TWO_TASKS);
    repo.script("T1", "write hello.txt hello\ncommit add hello\n");
    repo.script(
        "T2",
        "only-on-attempt 1 write hello.txt hello there\nonly-on-attempt 2 write hello.txt hello world\ncommit attempt\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let t2 = repo.task("T2");
    assert_eq!(t2["status"]["Known"], "complete");
    assert_eq!(t2["attempts"], 2);
    let log = repo.log();
    assert!(
        log.contains("failure [T2] attempt=1: validator `grep -q world hello.txt` exited 1"),
        "{log}"
    );
    // The second attempt's prompt carried the first attempt's evidence.
    let prompts = find_files(&repo.env.path(".longrun/runs"), "prompt.md");
    let second = prompts
        .iter()
        .find(|p| p.to_string_lossy().contains("/T2/2/"))
        .expect("attempt 2 prompt");
    let prompt = std::fs::read_to_string(second).unwrap();
    assert!(prompt.contains("exited 1"), "{prompt}");
}

#[test]
fn attempts_are_bounded_and_a_repeated_failure_blocks() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Never right\n    max_attempts: 2\n    validators: [[\"test\", \"-f\", \"a.txt\"], [\"test\", \"!\", \"-f\", \"c.txt\"]]\n  - task_id: T2\n    title: Same failure\n    validators: [[\"test\", \"-f\", \"nope\"]]\n",
    );
    // Attempt 1 fails the first validator, attempt 2 the second: two different failures.
    repo.script(
        "T1",
        "only-on-attempt 1 write x.txt 1\nonly-on-attempt 2 write a.txt 2\nonly-on-attempt 2 write c.txt 2\ncommit try\n",
    );
    repo.script("T2", "only-on-attempt 1 write b.txt 1\nonly-on-attempt 2 write b.txt 2\nonly-on-attempt 3 write b.txt 3\ncommit try\n");
    let last = repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(
        last.code, 1,
        "failed/blocked tasks make the cycle exit 1: {last:?}"
    );
    let t1 = repo.task("T1");
    assert_eq!(t1["status"]["Known"], "failed");
    assert_eq!(t1["attempts"], 2);
    // T2 failed the same way twice in a row: blocked by the loop breaker, not retried.
    let t2 = repo.task("T2");
    assert_eq!(t2["status"]["Known"], "blocked");
    assert_eq!(t2["attempts"], 2);
    assert!(
        repo.log()
            .contains("block [T2]: the same failure twice in a row")
    );
}

#[test]
fn a_task_without_validators_is_never_dispatched() {
    let repo = CycleRepo::new("tasks:\n  - task_id: T1\n    title: Unprovable\n");
    repo.script("T1", "write x.txt x\ncommit x\n");
    let run = repo.cycle();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("block `T1`: it has no validators"),
        "{run:?}"
    );
    assert_eq!(repo.task("T1")["status"]["Known"], "blocked");
    assert!(!repo.env.path(".longrun/worktrees/T1").exists());
}

#[test]
fn a_merge_conflict_fails_the_attempt_with_the_path() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"shared.txt\"]]\n  - task_id: T2\n    title: Two\n    validators: [[\"test\", \"-f\", \"shared.txt\"]]\n",
    );
    repo.script("T1", "sleep 200\nwrite shared.txt from T1\ncommit one\n");
    repo.script(
        "T2",
        "only-on-attempt 1 sleep 600\nwrite shared.txt from T2\ncommit two\n",
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    let log = repo.log();
    assert!(
        log.contains("merge conflict with `main` in shared.txt"),
        "{log}"
    );
    assert_eq!(repo.task("T1")["status"]["Known"], "complete");
}

#[test]
fn a_worker_that_writes_outside_its_worktree_is_rejected() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Sneaky\n    max_attempts: 1\n    validators: [[\"true\"]]\n",
    );
    let outside = repo.env.path("src/outside.txt");
    repo.script(
        "T1",
        &format!(
            "write ok.txt ok\nwrite-outside {} sneaky\ncommit ok\n",
            outside.display()
        ),
    );
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "failed");
    let log = repo.log();
    assert!(
        log.contains("the primary checkout changed while the worker ran (src/"),
        "{log}"
    );
}

#[test]
fn uncommitted_changes_in_the_primary_checkout_are_never_disturbed() {
    let repo = CycleRepo::new(TWO_TASKS);
    repo.env
        .write("README.md", "# my local edit, not committed\n");
    repo.script("T1", "write hello.txt hello\ncommit add hello\n");
    repo.script("T2", "write hello.txt hello world\ncommit say world\n");
    // The edit was made before the workers started: it is not theirs.
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T2")["status"]["Known"], "complete");
    assert_eq!(
        repo.env.read("README.md"),
        "# my local edit, not committed\n"
    );
    assert_eq!(repo.env.read("hello.txt"), "hello world");
}

#[test]
fn a_persons_checklist_edits_during_the_run_survive() {
    let repo = CycleRepo::new(TWO_TASKS);
    repo.script("T1", "sleep 300\nwrite hello.txt hello\ncommit add hello\n");
    repo.script("T2", "write hello.txt hello world\ncommit say world\n");
    assert_eq!(repo.cycle().code, 0);
    // While T1's worker runs, a person adds a comment and retitles T2.
    let text = repo.env.read("checklist.yaml");
    let edited = text
        .replace(
            "  - task_id: T2\n",
            "  # T2 reviewed by Ada\n  - task_id: T2\n",
        )
        .replace("title: Say world", "title: Say world (reviewed)");
    repo.env.write("checklist.yaml", &edited);
    repo.cycle_until_settled(Duration::from_secs(60));
    let after = repo.env.read("checklist.yaml");
    assert!(
        after.contains("  # T2 reviewed by Ada\n  - task_id: T2\n"),
        "{after}"
    );
    assert!(after.contains("title: Say world (reviewed)"), "{after}");
    assert_eq!(repo.task("T2")["status"]["Known"], "complete");
}

#[test]
fn a_dry_run_changes_nothing() {
    let repo = CycleRepo::new(TWO_TASKS);
    repo.script("T1", "write hello.txt hello\ncommit add hello\n");
    let before = (repo.env.read("checklist.yaml"), repo.env.read("run-log.md"));
    let run = repo.env.longrun(&["cycle", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("would dispatch `T1` attempt 1"),
        "{run:?}"
    );
    assert_eq!(
        before,
        (repo.env.read("checklist.yaml"), repo.env.read("run-log.md"))
    );
    assert!(!repo.env.path("current_tasks/T1.lock").exists());
    assert!(!repo.env.path(".longrun/worktrees").exists());
}

#[test]
fn overlapping_cycles_exit_quietly_and_exactly_one_works() {
    let repo = CycleRepo::new(TWO_TASKS);
    repo.script("T1", "write hello.txt hello\ncommit add hello\n");
    let root = repo.env.root.clone();
    // Hold the cycle lock the way a running cycle does, then start four cycles.
    std::fs::create_dir_all(root.join(".longrun")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".longrun/cycle.lock"))
        .unwrap();
    lock.lock().unwrap();
    for _ in 0..4 {
        let run = repo.cycle();
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stderr.contains("another cycle is running"), "{run:?}");
    }
    assert!(!root.join("current_tasks/T1.lock").exists());
    drop(lock);
    // Four at once: one dispatches T1, the others see the lock (or nothing left to do).
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mut command = std::process::Command::new(crate::longrun_exe());
            repo.env.configure(&mut command);
            command.arg("cycle").output().unwrap()
        })
        .collect();
    let dispatched = handles
        .iter()
        .filter(|out| String::from_utf8_lossy(&out.stderr).contains("dispatch `T1`"))
        .count();
    assert_eq!(dispatched, 1);
    let log = repo.log();
    assert_eq!(log.matches("dispatch [T1]").count(), 1, "{log}");
}

#[test]
fn a_worker_killed_with_sigkill_counts_an_attempt_and_is_dispatched_again() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Dies once\n    validators: [[\"test\", \"-f\", \"done.txt\"]]\n",
    );
    repo.script(
        "T1",
        "only-on-attempt 1 hang\nwrite done.txt done\ncommit done\n",
    );
    assert_eq!(repo.cycle().code, 0);
    let runs = repo.env.path(".longrun/runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid_file = loop {
        if let Some(found) = find_files(&runs, "supervisor.pid").into_iter().next() {
            break found;
        }
        assert!(Instant::now() < deadline, "no supervisor.pid");
        std::thread::sleep(Duration::from_millis(50));
    };
    let agent = std::fs::read_to_string(pid_file.with_file_name("agent.json"));
    let supervisor: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Kill the supervisor and the agent's whole group, as a crash or OOM killer would.
    let _ = std::process::Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{supervisor}")])
        .status();
    if let Ok(agent) = agent {
        let value: serde_json::Value = serde_json::from_str(&agent).unwrap();
        let pid = value["pid"].as_u64().unwrap();
        let _ = std::process::Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pid}")])
            .status();
    }
    std::thread::sleep(Duration::from_millis(200));
    repo.cycle_until_settled(Duration::from_secs(60));
    let t1 = repo.task("T1");
    assert_eq!(t1["status"]["Known"], "complete");
    assert_eq!(t1["attempts"], 2);
    assert!(repo.log().contains("the worker died without a result"));
}

#[test]
fn a_hanging_agent_is_killed_at_its_timeout() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: Hangs\n    timeout: 2s\n    max_attempts: 1\n    validators: [[\"true\"]]\n",
    );
    repo.script("T1", "fork-daemon\nhang\n");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(repo.task("T1")["status"]["Known"], "failed");
    assert!(repo.log().contains("the agent timed out after"));
}

pub fn find_files(dir: &std::path::Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(find_files(&path, name));
        } else if path.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Kills the cycle at each step (fault injection aborts the process there), then lets
/// normal cycles run: the run converges, no task is merged twice, none is lost, no claim is
/// left, and every state file parses.
#[test]
fn a_cycle_killed_at_any_step_converges() {
    for point in [
        "after-claim",
        "after-worktree",
        "after-spawn",
        "before-gate",
        "after-merge",
        "after-land",
        "after-status-write",
        "before-release",
        "after-gate",
    ] {
        let repo = CycleRepo::new(TWO_TASKS);
        repo.script("T1", "write hello.txt hello\ncommit add hello\n");
        repo.script("T2", "write hello.txt hello world\ncommit say world\n");
        let mut crashed = false;
        for _ in 0..200 {
            let mut command = std::process::Command::new(crate::longrun_exe());
            repo.env.configure(&mut command);
            let output = command
                .env("LONGRUN_FAULT", point)
                .arg("cycle")
                .output()
                .unwrap();
            if output.status.code().is_none() {
                crashed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(crashed, "{point}: the fault point was never reached");
        repo.cycle_until_settled(Duration::from_secs(60));
        let env = &repo.env;
        let log = env.git(&["log", "--first-parent", "--format=%B", "main"]);
        for task in ["T1", "T2"] {
            assert_eq!(
                log.matches(&format!("Longrun-Task: {task}\n")).count(),
                1,
                "{point}: {task} merged once\n{log}"
            );
            assert_eq!(repo.task(task)["status"]["Known"], "complete", "{point}");
        }
        assert_eq!(env.read("hello.txt"), "hello world", "{point}");
        let claims: Vec<_> = std::fs::read_dir(env.path("current_tasks"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".lock"))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(claims.is_empty(), "{point}: claims left: {claims:?}");
        let check = env.longrun(&["check"]);
        assert_eq!(check.code, 0, "{point}: {check:?}");
        assert!(!env.path(".longrun/worktrees/T1").exists(), "{point}");
    }
}

#[test]
fn the_demo_runs_to_completion() {
    let env = TestEnv::bare();
    let dir = env.root.join("demo");
    let run = env.longrun(&["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("7/7 tasks complete"), "{run:?}");
    assert!(run.stderr.contains("reject `T3` attempt 1"), "{run:?}");
    assert!(
        run.stdout.contains("SUMMARY: 7 tasks: 7 complete"),
        "{run:?}"
    );
    let log = std::fs::read_to_string(dir.join("run-log.md")).unwrap();
    assert_eq!(log.matches("merge [T").count(), 7, "{log}");
}

/// Two machines (clones of one bare remote, claims in git mode) run cycles on the same
/// 20-task checklist at the same time: every task is merged exactly once into the remote's
/// target branch, with its trailers, and both clones' status agree at the end.
#[test]
fn two_machines_share_a_remote_and_merge_every_task_once() {
    let env = TestEnv::new();
    let base = env.root.parent().unwrap().to_path_buf();
    let scripts = base.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    let mut checklist = String::from("tasks:\n");
    for i in 1..=20 {
        checklist.push_str(&format!(
            "  - task_id: T{i}\n    title: Task {i}\n    validators: [[\"test\", \"-f\", \"tasks/T{i}.txt\"]]\n"
        ));
        std::fs::write(
            scripts.join(format!("T{i}")),
            format!("sleep 50\nwrite tasks/T{i}.txt done {i}\ncommit task {i}\n"),
        )
        .unwrap();
    }
    assert_eq!(env.longrun(&["init"]).code, 0);
    env.write("checklist.yaml", &checklist);
    env.write(
        "longrun.yaml",
        format!(
            "max_parallel: 3\nclaims:\n  mode: git\n  remote: origin\n  lease: 5m\nrouting:\n  default: fake\nagents:\n  fake:\n    kind: command\n    command: [\"{}\", \"include {}/{{task_id}}\"]\n    prompt: file\n    timeout: 60s\n",
            fake_agent(),
            scripts.display()
        ),
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "plan"]);
    let remote = base.join("remote.git");
    env.git(&[
        "clone",
        "-q",
        "--bare",
        env.root.to_str().unwrap(),
        remote.to_str().unwrap(),
    ]);
    let clones: Vec<PathBuf> = ["a", "b"].iter().map(|name| base.join(name)).collect();
    for clone in &clones {
        env.git(&[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            clone.to_str().unwrap(),
        ]);
    }

    let run_until_done = |dir: PathBuf| {
        let start = Instant::now();
        loop {
            let run = env.longrun_in(&dir, &["cycle"]);
            assert!(run.code == 0 || run.code == 1, "{}: {run:?}", dir.display());
            let status = env.longrun_in(&dir, &["status", "--json"]);
            let value: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
            let complete = value["counts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["status"] == "complete")
                .map_or(0, |c| c["count"].as_u64().unwrap());
            if complete == 20 {
                return value;
            }
            assert!(
                start.elapsed() < Duration::from_secs(150),
                "{}: {}",
                dir.display(),
                status.stdout
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| run_until_done(clones[0].clone()));
        let b = scope.spawn(|| run_until_done(clones[1].clone()));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a["counts"], b["counts"], "both clones agree");
    let log = env.git(&[
        "--git-dir",
        remote.to_str().unwrap(),
        "log",
        "--first-parent",
        "--format=%B",
        "main",
    ]);
    for i in 1..=20 {
        assert_eq!(
            log.matches(&format!("Longrun-Task: T{i}\n")).count(),
            1,
            "T{i} merged exactly once\n{log}"
        );
    }
    // Both machines did some of the work.
    let a_log = std::fs::read_to_string(clones[0].join("run-log.md")).unwrap();
    let b_log = std::fs::read_to_string(clones[1].join("run-log.md")).unwrap();
    let merged_by = |log: &str| {
        log.lines()
            .filter(|line| line.contains(" merge [T") && line.contains(" attempt="))
            .count()
    };
    assert_eq!(
        merged_by(&a_log) + merged_by(&b_log),
        20,
        "{a_log}\n{b_log}"
    );
}

/// A merged task's clean worktree is parked and reused by the next dispatch (no fresh
/// checkout of every file), without the previous task's ignored files; when no task is
/// left, the parked worktrees go.
#[test]
fn a_merged_tasks_worktree_is_reused_clean_by_the_next_task() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"one.txt\"]]\n  - task_id: T2\n    title: Two\n    depends_on: [T1]\n    validators: [[\"test\", \"-f\", \"two.txt\"]]\n",
    );
    let ignore = format!("{}build/\n", repo.env.read(".gitignore"));
    repo.env.write(".gitignore", &ignore);
    repo.env
        .git(&["commit", "-q", "-am", "ignore build output"]);
    repo.script(
        "T1",
        "write one.txt 1\ncommit one\nwrite build/cache.txt left by T1\n",
    );
    repo.script(
        "T2",
        "fail-if-exists build/cache.txt\nwrite two.txt 2\ncommit two\n",
    );
    let start = Instant::now();
    while repo.task("T1")["status"]["Known"] != "complete" {
        assert!(start.elapsed() < Duration::from_secs(60), "T1 never merged");
        let run = repo.cycle();
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The cycle that merged T1 dispatched T2 into T1's old worktree: git's record of it
    // still has T1's name.
    let gitdir = repo.env.read(".longrun/worktrees/T2/.git");
    assert!(gitdir.contains("worktrees/T1"), "{gitdir}");
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(
        repo.task("T2")["status"]["Known"],
        "complete",
        "{}",
        repo.log()
    );
    assert_eq!(repo.task("T2")["attempts"], 1, "{}", repo.log());
    let worktrees = repo.env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
}

/// `tasks` (T1 to T3, each writing and committing `t<n>.txt`) dispatched by one cycle and
/// finished, with `local` written in the primary checkout first; returns when a cycle
/// would gate all three.
fn three_tasks_finished_together(tasks: &str, local: Option<(&str, &str)>) -> CycleRepo {
    let repo = CycleRepo::new(&format!("tasks:\n{tasks}"));
    for task in ["T1", "T2", "T3"] {
        let file = format!("{}.txt", task.to_lowercase());
        repo.script(task, &format!("write {file} done\ncommit add {file}\n"));
    }
    if let Some((path, text)) = local {
        repo.env.write(path, text);
    }
    let first = repo.cycle();
    assert!(first.stderr.contains("3 dispatched"), "{first:?}");
    // Until all three supervisors are done (a dry run lists what it would gate).
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let dry = repo.env.longrun(&["cycle", "--dry-run"]);
        if ["T1", "T2", "T3"]
            .iter()
            .all(|task| dry.stderr.contains(&format!("gate `{task}`")))
        {
            return repo;
        }
        assert!(Instant::now() < give_up, "workers did not finish: {dry:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Three tasks finish together; the middle one fails its validator. The gates build each
/// merge on the one before without moving the branch, and the branch then moves once, to
/// the last: two merges land in one fast-forward, chained, and the rejected task is not
/// in either.
#[test]
fn merges_of_one_cycle_land_together_and_a_rejected_task_is_left_out() {
    let repo = three_tasks_finished_together(
        "  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"t1.txt\"]]\n  - task_id: T2\n    title: Two\n    max_attempts: 1\n    validators: [[\"test\", \"-f\", \"never.txt\"]]\n  - task_id: T3\n    title: Three\n    validators: [[\"test\", \"-f\", \"t3.txt\"]]\n",
        None,
    );
    let env = &repo.env;
    let before = env.git(&["rev-parse", "main"]).trim().to_string();
    let reflog_before = env
        .git(&["reflog", "show", "--format=%H", "main"])
        .lines()
        .count();

    let second = repo.cycle();
    assert!(second.stderr.contains("merged `T1`"), "{second:?}");
    assert!(second.stderr.contains("merged `T3`"), "{second:?}");
    assert!(
        second.stderr.contains("reject `T2` attempt 1"),
        "{second:?}"
    );

    // One move of the branch, to a chain of two merge commits on the old tip.
    let reflog_after = env
        .git(&["reflog", "show", "--format=%H", "main"])
        .lines()
        .count();
    assert_eq!(reflog_after, reflog_before + 1);
    let chain = env.git(&["log", "--first-parent", "--format=%H %P%n%B", "-2", "main"]);
    let tip_parents = env.git(&["log", "-1", "--format=%P", "main"]);
    let first_merge = tip_parents.split_whitespace().next().unwrap().to_string();
    let first_parents = env.git(&["log", "-1", "--format=%P", &first_merge]);
    assert_eq!(
        first_parents.split_whitespace().next(),
        Some(before.as_str()),
        "{chain}"
    );
    assert!(chain.contains("Longrun-Task: T3"), "{chain}");
    assert!(chain.contains("Longrun-Task: T1"), "{chain}");
    assert!(
        !env.git(&["log", "--format=%B", "main"])
            .contains("Longrun-Task: T2")
    );
    assert_eq!(env.read("t1.txt"), "done");
    assert_eq!(env.read("t3.txt"), "done");
    assert!(!env.path("t2.txt").exists());
    assert_eq!(repo.task("T1")["status"]["Known"], "complete");
    assert_eq!(repo.task("T3")["status"]["Known"], "complete");
    assert_eq!(repo.task("T2")["status"]["Known"], "failed");
    // Only longrun's own state files differ from the branch in the primary checkout.
    let status = env.git(&["status", "--porcelain"]);
    assert!(
        status
            .lines()
            .all(|line| line.ends_with("checklist.yaml") || line.ends_with("run-log.md")),
        "{status}"
    );
}

/// When the branch cannot move after the gates (here a person's untracked file is in the
/// way of one merge), every merge of the cycle waits, and no task branch keeps a merge of
/// another task that never landed: each goes back to its own head, cycle after cycle.
#[test]
fn a_landing_that_cannot_happen_defers_all_and_leaves_no_branch_holding_unlanded_merges() {
    // A person's file, there before any worker starts (so it is not theirs).
    let repo = three_tasks_finished_together(
        "  - task_id: T1\n    title: One\n    validators: [[\"test\", \"-f\", \"t1.txt\"]]\n  - task_id: T2\n    title: Two\n    validators: [[\"test\", \"-f\", \"t2.txt\"]]\n  - task_id: T3\n    title: Three\n    validators: [[\"test\", \"-f\", \"t3.txt\"]]\n",
        Some(("t3.txt", "mine, not committed\n")),
    );

    let blocked = repo.cycle();
    assert!(!blocked.stderr.contains("merged `"), "{blocked:?}");
    let log = repo.log();
    assert_eq!(
        log.matches("merge deferred: uncommitted changes").count(),
        3,
        "{log}"
    );
    let env = &repo.env;
    for (task, own) in [("T1", "t1.txt"), ("T2", "t2.txt"), ("T3", "t3.txt")] {
        let files = env.git(&["ls-tree", "-r", "--name-only", &format!("longrun/{task}")]);
        let files: Vec<&str> = files.lines().filter(|f| f.starts_with('t')).collect();
        assert_eq!(files, [own], "{task}'s branch holds only its own work");
    }
    assert_eq!(env.read("t3.txt"), "mine, not committed\n");

    // Still in the way next cycle: deferred again, and the branches stay clean.
    let again = repo.cycle();
    assert!(!again.stderr.contains("merged `"), "{again:?}");
    assert_eq!(
        repo.log()
            .matches("merge deferred: uncommitted changes")
            .count(),
        6
    );
    for (task, own) in [("T1", "t1.txt"), ("T2", "t2.txt"), ("T3", "t3.txt")] {
        let files = env.git(&["ls-tree", "-r", "--name-only", &format!("longrun/{task}")]);
        let files: Vec<&str> = files.lines().filter(|f| f.starts_with('t')).collect();
        assert_eq!(files, [own], "{task}'s branch holds only its own work");
        assert_eq!(repo.task(task)["status"]["Known"], "in_progress");
    }
    assert!(
        !env.git(&["log", "--format=%B", "main"])
            .contains("Longrun-Task:")
    );
}

/// A worker that finishes while the cycle is busy gating another task frees its slot in
/// that same cycle: the cycle looks again at the end and starts the next task there (the
/// finished attempt waits, claimed, for the next cycle's gate).
#[test]
fn a_slot_freed_during_the_gates_is_filled_before_the_cycle_ends() {
    let repo = CycleRepo::new(
        "tasks:\n  - task_id: T1\n    title: One\n    validators: [[\"sh\", \"-c\", \"test -f t1.txt && sleep 4\"]]\n  - task_id: T2\n    title: Two\n    validators: [[\"test\", \"-f\", \"t2.txt\"]]\n  - task_id: T3\n    title: Three\n    validators: [[\"test\", \"-f\", \"t3.txt\"]]\n  - task_id: T4\n    title: Four\n    validators: [[\"test\", \"-f\", \"t4.txt\"]]\n",
    );
    repo.script("T1", "write t1.txt done\ncommit add t1.txt\n");
    repo.script("T2", "sleep 1500\nwrite t2.txt done\ncommit add t2.txt\n");
    repo.script("T3", "write t3.txt done\ncommit add t3.txt\n");
    repo.script("T4", "write t4.txt done\ncommit add t4.txt\n");
    let cycle = || repo.env.longrun(&["cycle", "--max-parallel", "2"]);

    let first = cycle();
    assert!(first.stderr.contains("dispatch `T1`"), "{first:?}");
    assert!(first.stderr.contains("dispatch `T2`"), "{first:?}");
    // T1 done, T2 still sleeping.
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let dry = repo
            .env
            .longrun(&["cycle", "--dry-run", "--max-parallel", "2"]);
        if dry.stderr.contains("gate `T1`") {
            assert!(
                !dry.stderr.contains("gate `T2`"),
                "T2 finished too soon: {dry:?}"
            );
            break;
        }
        assert!(Instant::now() < give_up, "T1 did not finish: {dry:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // T1's slot goes to T3 at the start; T2 ends during T1's four-second validator, and
    // its slot goes to T4 before the cycle ends. T2 itself is gated next cycle.
    let second = cycle();
    assert!(second.stderr.contains("merged `T1`"), "{second:?}");
    assert!(second.stderr.contains("dispatch `T3`"), "{second:?}");
    assert!(second.stderr.contains("dispatch `T4`"), "{second:?}");
    assert!(!second.stderr.contains("gate `T2`"), "{second:?}");
    assert_eq!(repo.task("T2")["status"]["Known"], "in_progress");

    repo.cycle_until_settled(Duration::from_secs(60));
    for task in ["T1", "T2", "T3", "T4"] {
        assert_eq!(repo.task(task)["status"]["Known"], "complete", "{task}");
    }
}
