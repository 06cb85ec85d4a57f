//! Whole-process timings of the claim commands, as an agent or a cycle pays them: a
//! `longrun claim` + `longrun release` pair, a git-mode claim through a local bare remote,
//! and 16 racing processes draining 1,000 tasks. Then where a pair's time goes, measured
//! in-process on the same files, and the floor under all of it on this machine: a process
//! that does nothing (`/bin/true`) and a disk flush. Run with `cargo bench --bench
//! claim_cli`; it prints medians and throughput and asserts only correctness (no task
//! claimed twice), never time.
//!
//! `LONGRUN_BENCH_BIN=/path/to/longrun` times another build than this one;
//! `LONGRUN_BENCH_BASELINE=/path/to/longrun` adds a second build whose pairs alternate with
//! the first's, so a before/after comparison sees the same machine load;
//! `LONGRUN_BENCH_PAIRS_ONLY=1` stops after the pairs (no git mode, no race).

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
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home)?;
    // This build, and the one to compare it with when `LONGRUN_BENCH_BASELINE` names one:
    // their pairs alternate, so both see the same load on a shared machine.
    let mut benches = vec![Bench {
        label: "this build",
        binary: pin_binary(dir.path(), "longrun", std::env::var_os("LONGRUN_BENCH_BIN"))?,
        home: home.clone(),
    }];
    if let Some(baseline) = std::env::var_os("LONGRUN_BENCH_BASELINE") {
        benches.push(Bench {
            label: "baseline",
            binary: pin_binary(dir.path(), "longrun-baseline", Some(baseline))?,
            home,
        });
    }
    let bench = &benches[0];

    println!("## the floor: a process that does nothing, a disk flush");
    let floor = bench.repository(&dir.path().join("floor"), 1)?;
    let mut true_only = Vec::new();
    let mut versions = vec![Vec::new(); benches.len()];
    for _ in 0..PAIRS {
        let start = Instant::now();
        Command::new("/bin/true").status()?;
        true_only.push(start.elapsed());
        for (bench, samples) in benches.iter().zip(&mut versions) {
            let start = Instant::now();
            bench.run(&floor, &["--version"])?;
            samples.push(start.elapsed());
        }
    }
    println!(
        "process start + exit, `/bin/true`: median {:?}",
        median(true_only)
    );
    for (bench, samples) in benches.iter().zip(versions) {
        println!(
            "process start + exit, `longrun --version` ({}): median {:?}",
            bench.label,
            median(samples)
        );
    }
    let (file_sync, dir_sync) = flush_latency(&floor)?;
    println!(
        "fsync of a new 100-byte file: median {file_sync:?}; fsync of its directory: median {dir_sync:?}"
    );

    println!(
        "\n## whole-process pairs: `longrun claim T --worker w` + `longrun release T --token ..`"
    );
    for tasks in [1, 100, 1000] {
        let repos = benches
            .iter()
            .map(|bench| {
                bench.repository(
                    &dir.path()
                        .join(format!("pairs-{tasks}-{}", bench.label.replace(' ', "-"))),
                    tasks,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let timings = interleaved_pairs(&benches, &repos, PAIRS)?;
        for (bench, (pairs, claims, releases)) in benches.iter().zip(timings) {
            println!(
                "checklist of {tasks:>4} tasks ({}): pair median {:?} (claim {:?}, release {:?}) over {PAIRS} pairs",
                bench.label,
                median(pairs),
                median(claims),
                median(releases)
            );
        }
    }
    breakdown(&dir.path().join("pairs-100-this-build"))?;
    if std::env::var_os("LONGRUN_BENCH_PAIRS_ONLY").is_some() {
        return Ok(());
    }

    println!("\n## git mode: claim through a local bare remote");
    let remotes = benches
        .iter()
        .map(|bench| bench.git_repository(&dir.path().join(bench.label.replace(' ', "-"))))
        .collect::<Result<Vec<_>>>()?;
    for (bench, (pairs, claims, releases)) in benches
        .iter()
        .zip(interleaved_pairs(&benches, &remotes, GIT_PAIRS)?)
    {
        println!(
            "{}: claim median {:?}, release median {:?}, pair {:?} over {GIT_PAIRS} pairs",
            bench.label,
            median(claims),
            median(releases),
            median(pairs)
        );
    }

    println!("\n## {RACERS} processes racing `claim --next` until {DRAIN_TASKS} tasks are gone");
    for bench in &benches {
        let drain = bench.repository(
            &dir.path()
                .join(format!("drain-{}", bench.label.replace(' ', "-"))),
            DRAIN_TASKS,
        )?;
        drain_race(bench, &drain)?;
    }
    Ok(())
}

/// `count` claim + release pairs on each bench's repository, one bench after the other
/// within every round: (pairs, claims, releases) per bench.
fn interleaved_pairs(benches: &[Bench], repos: &[PathBuf], count: usize) -> Result<Vec<Timings>> {
    let mut timings: Vec<Timings> = benches.iter().map(|_| Timings::default()).collect();
    for _ in 0..count {
        for ((bench, repo), timing) in benches.iter().zip(repos).zip(&mut timings) {
            let (pairs, claims, releases) = bench.pairs(repo, 1)?;
            timing.0.extend(pairs);
            timing.1.extend(claims);
            timing.2.extend(releases);
        }
    }
    Ok(timings)
}

type Timings = (Vec<Duration>, Vec<Duration>, Vec<Duration>);

/// 16 processes claim `--next` until none is left; every task must be won exactly once.
fn drain_race(bench: &Bench, drain: &Path) -> Result<()> {
    let start = Instant::now();
    let threads: Vec<_> = (0..RACERS)
        .map(|index| {
            let mut command = bench.command(drain, &["claim", "--next", "--worker"]);
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
        "{}: {} tasks claimed in {elapsed:?}: {:.0} claims/s, {duplicates} claimed twice, {} lost",
        bench.label,
        counts.len(),
        counts.len() as f64 / elapsed.as_secs_f64(),
        DRAIN_TASKS - counts.len()
    );
    assert_eq!(duplicates, 0, "a task was claimed twice");
    assert_eq!(counts.len(), DRAIN_TASKS, "tasks were lost");
    Ok(())
}

struct Bench {
    label: &'static str,
    binary: PathBuf,
    home: PathBuf,
}

impl Bench {
    /// A git repository as `longrun init` leaves it (its checklist.yaml with the comments and
    /// instructions, its run-log.md), with the example task replaced by `tasks` tasks
    /// written the way people write them.
    fn repository(&self, root: &Path, tasks: usize) -> Result<PathBuf> {
        std::fs::create_dir_all(root)?;
        self.git(root, &["init", "--quiet"])?;
        self.run(root, &["init"])?;
        let scaffolded = std::fs::read_to_string(root.join("checklist.yaml"))?;
        let header_end = scaffolded
            .find("\ntasks:\n")
            .ok_or("init's checklist.yaml has no `tasks:`")?;
        let mut checklist = format!("{}\ntasks:\n", &scaffolded[..header_end]);
        for index in 0..tasks {
            checklist.push_str(&format!(
                "  - task_id: T{index:04}\n    title: \"Task {index}\"\n    description: \"Make part {index} work.\"\n    acceptance_criteria:\n      - \"part {index} works\"\n    status: not_started\n    note: \"\"\n    validators:\n      - [\"true\"]\n"
            ));
        }
        std::fs::write(root.join("checklist.yaml"), checklist)?;
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

/// The latency of the two kinds of disk flush a claim waits for, medians of 200: a new
/// small file's data (what a temp file costs before its rename or link) and a directory
/// (what makes a rename, link or unlink durable).
fn flush_latency(dir: &Path) -> Result<(Duration, Duration)> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for round in 0..PAIRS {
        let path = dir.join(format!(".flush-probe-{round}"));
        let mut file = std::fs::File::create(&path)?;
        std::io::Write::write_all(&mut file, &[b'x'; 100])?;
        let start = Instant::now();
        file.sync_all()?;
        files.push(start.elapsed());
        let directory = std::fs::File::open(dir)?;
        let start = Instant::now();
        directory.sync_all()?;
        dirs.push(start.elapsed());
        std::fs::remove_file(&path)?;
    }
    Ok((median(files), median(dirs)))
}

/// A hard link to the binary under test (`given`, else this build's), taken now:
/// `<target>/release/longrun` is shared by every checkout using the same target directory
/// and may be replaced while this runs.
fn pin_binary(dir: &Path, name: &str, given: Option<std::ffi::OsString>) -> Result<PathBuf> {
    let built = given.map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_longrun")),
        PathBuf::from,
    );
    let folder = dir.join("bin");
    std::fs::create_dir_all(&folder)?;
    let pinned = folder.join(name);
    if std::fs::hard_link(&built, &pinned).is_err() {
        std::fs::copy(&built, &pinned)?;
    }
    Ok(pinned)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
