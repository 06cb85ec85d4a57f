//! Whole-process timings of the claim commands, as an agent or a cycle pays them: a
//! `longrun claim` + `longrun release` pair, a git-mode claim through a local bare remote,
//! and 16 racing processes draining 1,000 tasks. Then where a pair's time goes, measured
//! in-process on the same files. Run with `cargo bench --bench claim_cli`; it prints medians
//! and throughput and asserts only correctness (no task claimed twice), never time.

// A benchmark's output is its result.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use longrun::state::checklist::{self, FieldValue, LoadOptions, TaskEdit, TaskField};
use longrun::state::claims::{ClaimOutcome, ClaimRequest, ClaimStore};
use longrun::state::model::{EventKind, TaskId};
use longrun::state::runlog::{self, Event};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const PAIRS: usize = 200;
const GIT_PAIRS: usize = 30;
const RACERS: usize = 16;
const DRAIN_TASKS: usize = 1000;

fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let binary = pin_binary(dir.path())?;
    let bench = Bench {
        binary,
        home: dir.path().join("home"),
    };
    std::fs::create_dir_all(&bench.home)?;

    println!(
        "## whole-process pairs: `longrun claim T --worker w` + `longrun release T --token ..`"
    );
    let baseline = bench.repository(&dir.path().join("baseline"), 1)?;
    let mut spawn_only = Vec::new();
    for _ in 0..PAIRS {
        let start = Instant::now();
        bench.run(&baseline, &["--version"])?;
        spawn_only.push(start.elapsed());
    }
    println!(
        "process start + exit (`longrun --version`): median {:?}",
        median(spawn_only)
    );
    for tasks in [1, 100, 1000] {
        let repo = bench.repository(&dir.path().join(format!("pairs-{tasks}")), tasks)?;
        let (pairs, claims, releases) = bench.pairs(&repo, PAIRS)?;
        println!(
            "checklist of {tasks:>4} tasks: pair median {:?} (claim {:?}, release {:?}) over {PAIRS} pairs",
            median(pairs),
            median(claims),
            median(releases)
        );
    }
    breakdown(&dir.path().join("pairs-100"))?;

    println!("\n## git mode: claim through a local bare remote");
    let remote_repo = bench.git_repository(dir.path())?;
    let (pairs, claims, releases) = bench.pairs(&remote_repo, GIT_PAIRS)?;
    println!(
        "claim median {:?}, release median {:?}, pair {:?} over {GIT_PAIRS} pairs",
        median(claims),
        median(releases),
        median(pairs)
    );

    println!("\n## {RACERS} processes racing `claim --next` until {DRAIN_TASKS} tasks are gone");
    let drain = bench.repository(&dir.path().join("drain"), DRAIN_TASKS)?;
    let start = Instant::now();
    let threads: Vec<_> = (0..RACERS)
        .map(|index| {
            let mut command = bench.command(&drain, &["claim", "--next", "--worker"]);
            command.arg(format!("racer{index}"));
            std::thread::spawn(move || -> Vec<String> {
                let mut won = Vec::new();
                loop {
                    let Ok(output) = command.output() else {
                        return won;
                    };
                    if output.status.code() != Some(0) {
                        return won;
                    }
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    if let Some(task) = stdout.lines().next().and_then(|l| l.strip_prefix("task: "))
                    {
                        won.push(task.to_string());
                    }
                }
            })
        })
        .collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for thread in threads {
        for task in thread.join().map_err(|_| "racer panicked")? {
            *counts.entry(task).or_default() += 1;
        }
    }
    let elapsed = start.elapsed();
    let duplicates = counts.values().filter(|&&n| n > 1).count();
    println!(
        "{} tasks claimed in {elapsed:?}: {:.0} claims/s, {duplicates} claimed twice, {} lost",
        counts.len(),
        counts.len() as f64 / elapsed.as_secs_f64(),
        DRAIN_TASKS - counts.len()
    );
    assert_eq!(duplicates, 0, "a task was claimed twice");
    assert_eq!(counts.len(), DRAIN_TASKS, "tasks were lost");
    Ok(())
}

struct Bench {
    binary: PathBuf,
    home: PathBuf,
}

impl Bench {
    /// A git repository after `longrun init`, with `tasks` independent tasks and a run log
    /// whose Events section is last.
    fn repository(&self, root: &Path, tasks: usize) -> Result<PathBuf> {
        std::fs::create_dir_all(root)?;
        self.git(root, &["init", "--quiet"])?;
        self.run(root, &["init"])?;
        let mut checklist = String::from("version: 1\ntasks:\n");
        for index in 0..tasks {
            checklist.push_str(&format!(
                "  - {{task_id: T{index:04}, title: task {index}, validators: [[\"true\"]]}}\n"
            ));
        }
        std::fs::write(root.join("checklist.yaml"), checklist)?;
        std::fs::write(
            root.join("run-log.md"),
            "# Run log\n\n## Context\n- Repo: bench\n\n## Events (append-only)\n",
        )?;
        Ok(root.to_path_buf())
    }

    /// A clone of a bare remote, in git mode, with one task.
    fn git_repository(&self, base: &Path) -> Result<PathBuf> {
        let origin = self.repository(&base.join("origin"), 1)?;
        let config = std::fs::read_to_string(origin.join("longrun.yaml"))?
            .replace("claims:\n  mode: local\n", "claims:\n  mode: git\n");
        std::fs::write(origin.join("longrun.yaml"), config)?;
        self.git(&origin, &["add", "-A"])?;
        self.git(&origin, &["commit", "--quiet", "-m", "state"])?;
        let bare = base.join("remote.git");
        self.git(
            base,
            &["clone", "--quiet", "--bare", "origin", "remote.git"],
        )?;
        self.git(
            base,
            &["clone", "--quiet", &bare.display().to_string(), "clone"],
        )?;
        Ok(base.join("clone"))
    }

    /// Claim + release pairs on task T0000: (pairs, claims, releases).
    fn pairs(
        &self,
        repo: &Path,
        count: usize,
    ) -> Result<(Vec<Duration>, Vec<Duration>, Vec<Duration>)> {
        let (mut pairs, mut claims, mut releases) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..count {
            let start = Instant::now();
            let claimed = self.run(repo, &["claim", "T0000", "--worker", "bench"])?;
            let after_claim = Instant::now();
            let stdout = String::from_utf8_lossy(&claimed.stdout);
            let token = stdout
                .lines()
                .find_map(|line| line.strip_prefix("token: "))
                .ok_or("no token printed")?
                .to_string();
            self.run(repo, &["release", "T0000", "--token", &token])?;
            let done = Instant::now();
            claims.push(after_claim - start);
            releases.push(done - after_claim);
            pairs.push(done - start);
        }
        Ok((pairs, claims, releases))
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs longrun; a non-zero exit is an error.
    fn run(&self, dir: &Path, args: &[&str]) -> Result<Output> {
        let output = self.command(dir, args).output()?;
        if !output.status.success() {
            return Err(format!(
                "longrun {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(output)
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Result<()> {
        let status = Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@localhost")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@localhost")
            .args(args)
            .status()?;
        if !status.success() {
            return Err(format!("git {args:?} failed").into());
        }
        Ok(())
    }
}

/// Where a pair's time goes, in-process on the same kind of files: the claim store, the
/// status write through the in-place checklist writer, the run-log append.
fn breakdown(repo: &Path) -> Result<()> {
    let now: Timestamp = "2026-11-21T09:00:00Z".parse()?;
    let task = TaskId::parse("T0001")?;
    let store = ClaimStore::new(repo.join("current_tasks"));
    let request = ClaimRequest {
        task: task.clone(),
        worker: "bench".to_string(),
        host: "bench".to_string(),
        pid: std::process::id(),
        attempt: 1,
        branch: "longrun/T0001".to_string(),
        worktree: repo.display().to_string(),
        now,
        lease: Duration::from_secs(900),
        token: None,
    };
    let options = LoadOptions {
        snapshot_path: Some(repo.join(".longrun/cache/checklist.snapshot")),
    };
    let (mut store_pairs, mut loads, mut status_writes, mut appends) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..PAIRS {
        let start = Instant::now();
        let ClaimOutcome::Claimed(held) = store.claim(&request)? else {
            return Err("taken".into());
        };
        store.release(held.task(), held.token())?;
        store_pairs.push(start.elapsed());

        let start = Instant::now();
        checklist::load(&repo.join("checklist.yaml"), &options)?;
        loads.push(start.elapsed());

        let status = if round % 2 == 0 {
            "in_progress"
        } else {
            "not_started"
        };
        let start = Instant::now();
        checklist::update(
            &repo.join("checklist.yaml"),
            &repo.join(".longrun/locks/checklist.lock"),
            &options,
            |_| {
                Ok(vec![TaskEdit::Task {
                    task_id: task.to_string(),
                    field: TaskField::Status,
                    value: FieldValue::Text(status.to_string()),
                }])
            },
        )?;
        status_writes.push(start.elapsed());

        let start = Instant::now();
        runlog::append_events(
            &repo.join("run-log.md"),
            &repo.join(".longrun/locks/run-log.lock"),
            &[Event::new(now, EventKind::Note, "bench").with_task(task.clone())],
        )?;
        appends.push(start.elapsed());
    }
    println!(
        "in-process, 100-task checklist: lock file claim+release {:?}, checklist load (snapshot) {:?}, one status write {:?}, one run-log append {:?}",
        median(store_pairs),
        median(loads),
        median(status_writes),
        median(appends)
    );
    Ok(())
}

/// A hard link to the binary under test, taken now: `<target>/release/longrun` is shared by
/// every checkout using the same target directory and may be replaced while this runs.
fn pin_binary(dir: &Path) -> Result<PathBuf> {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_longrun"));
    let folder = dir.join("bin");
    std::fs::create_dir_all(&folder)?;
    let pinned = folder.join("longrun");
    if std::fs::hard_link(&built, &pinned).is_err() {
        std::fs::copy(&built, &pinned)?;
    }
    Ok(pinned)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
