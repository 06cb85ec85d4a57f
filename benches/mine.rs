//! `longrun mine` on generated 100,000-event run logs: the time of the streaming analysis, of
//! resolving every fix's base commit (one git process against a real repository holding the
//! merged commits) and of writing the proposals, and the peak memory (VmHWM, reset first
//! through `/proc/self/clear_refs` so the log's generation does not count). Three logs:
//!
//! - `typical`: few distinct failures, many fixes, notes and evidence;
//! - `hex-addresses`: every failure line carries its own hex address (`0x7ffd...`), which
//!   masking must fold into one signature (the audit's log: 2,721 groups before);
//! - `many-groups`: failures carry words no mask touches, three failures each: 10,000
//!   repeated groups, of which only the 10 most frequent get skill drafts (the cap);
//! - `all-distinct`: every failure its own group (30,000 groups seen once): the most
//!   memory the groups can take.
//!
//! Budget for each: under 1 s (the fastest of five rounds) and under 100 MB; a run over
//! budget exits with an error. Run with `cargo bench --bench mine`.

// A benchmark's output is its result.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use longrun::mine::{self, MineOptions};
use longrun::state::model::{EventKind, TaskId};
use longrun::state::runlog::{Event, FieldKey};

const EVENTS: usize = 100_000;
const TASKS: usize = 500;
const ROUNDS: usize = 5;
const VALIDATORS: &[&str] = &[
    "cargo test",
    "cargo clippy -- -D warnings",
    "make lint",
    "npm test",
];

/// What the failure lines look like.
#[derive(Clone, Copy)]
enum Shape {
    Typical,
    HexAddresses,
    ManyGroups,
    AllDistinct,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Typical => "typical",
            Shape::HexAddresses => "hex-addresses",
            Shape::ManyGroups => "many-groups",
            Shape::AllDistinct => "all-distinct",
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("repo");
    let commits = make_repository(&repo, EVENTS / 10 * 2)?;
    let mut over_budget = Vec::new();
    for shape in [
        Shape::Typical,
        Shape::HexAddresses,
        Shape::ManyGroups,
        Shape::AllDistinct,
    ] {
        if !bench(shape, dir.path(), &repo, &commits)? {
            over_budget.push(shape.name());
        }
    }
    if !over_budget.is_empty() {
        return Err(format!("over budget: {}", over_budget.join(", ")).into());
    }
    Ok(())
}

/// Mines the log of `shape` [`ROUNDS`] times; false when over budget.
fn bench(
    shape: Shape,
    dir: &Path,
    repo: &Path,
    commits: &[String],
) -> Result<bool, Box<dyn std::error::Error>> {
    let path = dir.join(format!("run-log-{}.md", shape.name()));
    generate(&path, shape, commits)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "\n[{}] run log: {EVENTS} events, {:.1} MB, {TASKS} tasks",
        shape.name(),
        size as f64 / 1e6
    );
    let options = MineOptions {
        run_log: path.clone(),
        since: None,
        run: None,
    };
    let mut mine_times = Vec::new();
    let mut base_times = Vec::new();
    let mut write_times = Vec::new();
    let mut peak_kb = 0;
    for round in 0..ROUNDS {
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let start = Instant::now();
        let mut findings = mine::mine(&options, None)?;
        mine_times.push(start.elapsed());

        let start = Instant::now();
        let resolved = mine::resolve_bases(repo, &mut findings)?;
        base_times.push(start.elapsed());

        let out = dir.join(format!("out-{}-{round}", shape.name()));
        std::fs::create_dir_all(&out)?;
        let start = Instant::now();
        let written = mine::proposals::write_proposals(&out, "20261121T090000Z", &findings, None)?;
        write_times.push(start.elapsed());
        if reset {
            peak_kb = peak_kb.max(vm_hwm_kb().unwrap_or(0));
        }
        if round == 0 {
            println!(
                "findings: {} failure groups, {} fixes ({resolved} base commits resolved), {} interventions; proposals: {} skills ({} repeated groups left out), {} evals, {:.1} MB written",
                findings.failure_group_count,
                findings.fixes.len(),
                findings.intervention_count,
                written.skills.len(),
                written.repeated_groups_left_out,
                written.evals.len(),
                tree_size(&out) as f64 / 1e6
            );
        }
        std::fs::remove_dir_all(&out)?;
    }
    let mut totals: Vec<Duration> = (0..ROUNDS)
        .map(|round| mine_times[round] + base_times[round] + write_times[round])
        .collect();
    for (name, times) in [
        ("mine (stream + analyse)", &mut mine_times),
        ("base commits (git)", &mut base_times),
        ("write proposals", &mut write_times),
        ("total", &mut totals),
    ] {
        println!(
            "{name:<24} median {:>5.0} ms, fastest {:>5.0} ms",
            ms(median(times)),
            ms(times[0])
        );
    }
    println!(
        "peak RSS (VmHWM):        {:.1} MB (budget 100 MB)",
        peak_kb as f64 / 1024.0
    );
    // The fastest round is the budget's measure: the build machine is shared, and the other
    // rounds measure its other users as much as this code.
    Ok(totals[0] <= Duration::from_secs(1) && peak_kb <= 100 * 1024)
}

/// A repository with `count` commits in a line (one `git fast-import`), their ids in order.
fn make_repository(repo: &Path, count: usize) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let git = |args: &[&str]| {
        let mut command = Command::new("git");
        command
            .current_dir(repo)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        command
    };
    std::fs::create_dir_all(repo)?;
    if !git(&["init", "-q"]).status()?.success() {
        return Err("git init failed".into());
    }
    let mut stream = String::new();
    for mark in 1..=count {
        let message = format!("merge {mark}");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{mark}\ncommitter B <b@example.com> {} +0000\ndata {}\n{message}\n",
            1_795_000_000 + mark,
            message.len()
        ));
        if mark > 1 {
            stream.push_str(&format!("from :{}\n", mark - 1));
        }
        stream.push('\n');
    }
    let marks = repo.join("marks");
    let mut child = git(&[
        "fast-import",
        "--quiet",
        &format!("--export-marks={}", marks.display()),
    ])
    .stdin(Stdio::piped())
    .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(stream.as_bytes())?;
    if !child.wait()?.success() {
        return Err("git fast-import failed".into());
    }
    let mut ids = vec![String::new(); count];
    for line in std::fs::read_to_string(&marks)?.lines() {
        let (mark, id) = line.split_once(' ').ok_or("bad marks line")?;
        let mark: usize = mark.trim_start_matches(':').parse()?;
        ids[mark - 1] = id.to_string();
    }
    Ok(ids)
}

fn generate(
    path: &Path,
    shape: Shape,
    commits: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"# Run log\n\n## Context\n- Repo: bench\n\n## Events (append-only)\n")?;
    let attempt = FieldKey::parse("attempt")?;
    let commit_key = FieldKey::parse("commit")?;
    let mut merges = 0;
    for index in 0..EVENTS {
        // A merge is about the task that failed three events before, so fixes pair up.
        let subject = if matches!(index % 10, 5 | 6) {
            index - 3
        } else {
            index
        };
        let task = TaskId::parse(&format!("T{:04}", subject % TASKS))?;
        let validator = VALIDATORS[(subject / TASKS) % VALIDATORS.len()];
        let at = Timestamp::from_second(1_795_000_000 + index as i64)?;
        let run = format!(".longrun/runs/r{}/{task}/{}", index / 1000, index % 7);
        let detail = match shape {
            Shape::Typical => format!("({} failed)", index % 17),
            Shape::HexAddresses => format!("segfault at 0x7ffd{index:08x} ({} failed)", index % 17),
            Shape::ManyGroups => format!("undefined symbol `{}`", letters(index / 10)),
            Shape::AllDistinct => format!("undefined symbol `{}`", letters(index)),
        };
        let event = match index % 10 {
            0 | 1 => Event::new(at, EventKind::Dispatch, format!("worker started in .longrun/worktrees/{task} → {run}")),
            2..=4 => Event::new(
                at,
                EventKind::Failure,
                format!("validator `{validator}` exited {} {detail} → {run}/failure.md", 1 + index % 3),
            ),
            5 | 6 => {
                let commit = &commits[merges % commits.len()][..10];
                merges += 1;
                Event::new(
                    at,
                    EventKind::Merge,
                    format!("merged into `main` as {commit} (tree abc); validators: `{validator}` exit 0 in {} ms ({run}/validate/1/output.log)", index % 900),
                )
                .with_field(commit_key.clone(), commit)
            }
            7 => Event::new(at, EventKind::Release, "claim released"),
            8 => Event::new(at, EventKind::Note, format!("steer: prefer the v{} API", index % 4)),
            _ => Event::new(at, EventKind::Evidence, "ran the tests by hand"),
        }
        .with_task(task)
        .with_field(attempt.clone(), (1 + index % 3).to_string());
        out.write_all(event.render().as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n## Follow-ups\n- retry policy docs\n")?;
    out.flush()?;
    Ok(())
}

/// `index` in letters `g` to `z`: a word with no digit and no hex letter, so no mask folds
/// two of them together.
fn letters(mut index: usize) -> String {
    let mut word = String::from("sym");
    loop {
        word.push((b'g' + (index % 20) as u8) as char);
        index /= 20;
        if index == 0 {
            break word;
        }
    }
}

fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Sorts `times` (so `times[0]` is the fastest) and returns the median.
fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
