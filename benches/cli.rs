//! Whole-process benchmarks of the `longrun` binary on generated checklists: `next`,
//! `status`, `check` and `task set`, with and without the derived snapshot, at 100, 200,
//! 1,000 and 10,000 tasks. Prints a Markdown table of median, p90 and minimum wall time and
//! peak RSS.
//!
//! It times the real release binary as a person or an orchestrator runs it (spawn, read,
//! output, exit), never library calls, so the numbers include process start-up and the
//! filesystem. It builds the binary with `cargo build --release --bin longrun` first (skip
//! with `--no-build`, or point `LONGRUN_BIN` at a binary) and never touches anything
//! outside its own temporary folder.
//!
//! Usage: `cargo bench --bench cli [-- --quick] [--sizes 200,10000] [--warm-runs N]
//! [--cold-runs N] [--no-build]`; `-- --generate DIR` only writes the fixtures (for
//! profiling by hand).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The checklist template `longrun init` writes; the fixtures reuse its header so the
/// benchmark reads what users will actually have.
const TEMPLATE_CHECKLIST: &str = include_str!("../templates/checklist.yaml");
const TEMPLATE_RUN_LOG: &str = include_str!("../templates/run-log.md");

fn main() -> ExitCode {
    let options = match Options::from_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!(
                "usage: cargo bench --bench cli [-- --quick] [--sizes 200,10000] [--warm-runs N] [--cold-runs N] [--no-build] [--generate DIR]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    /// Timed runs with a valid snapshot.
    warm_runs: usize,
    /// Timed runs without a snapshot (`.longrun/cache` deleted before each).
    cold_runs: usize,
    /// Extra runs under `/usr/bin/time` for peak RSS; kept apart so the timed runs do not
    /// pay for the wrapper.
    rss_runs: usize,
    sizes: Vec<usize>,
    build: bool,
    /// Only write the fixtures under this folder (for profiling by hand) and stop.
    generate_into: Option<PathBuf>,
}

impl Options {
    fn from_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            warm_runs: 30,
            cold_runs: 10,
            rss_runs: 3,
            sizes: vec![100, 200, 1_000, 10_000],
            build: true,
            generate_into: None,
        };
        let mut args = args;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                // cargo passes `--bench` to every bench target.
                "--bench" => {}
                "--quick" => {
                    options.warm_runs = 6;
                    options.cold_runs = 3;
                    options.rss_runs = 1;
                }
                "--no-build" => options.build = false,
                "--warm-runs" | "--cold-runs" => {
                    let value = args
                        .next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|n| *n > 0)
                        .ok_or(format!("`{arg}` needs a positive number"))?;
                    if arg == "--warm-runs" {
                        options.warm_runs = value;
                    } else {
                        options.cold_runs = value;
                    }
                }
                "--generate" => {
                    let dir = args.next().ok_or("`--generate` needs a folder")?;
                    options.generate_into = Some(PathBuf::from(dir));
                }
                "--sizes" => {
                    let list = args.next().ok_or("`--sizes` needs a list like 200,10000")?;
                    options.sizes = list
                        .split(',')
                        .map(|size| size.trim().replace('_', "").parse::<usize>())
                        .collect::<Result<_, _>>()
                        .map_err(|error| format!("`--sizes {list}`: {error}"))?;
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

fn run(options: &Options) -> Result<(), String> {
    if let Some(folder) = &options.generate_into {
        for &size in &options.sizes {
            let root = folder.join(format!("tasks-{size}"));
            let fixture = Fixture::generate(&root, size)?;
            println!(
                "{}: checklist.yaml {} bytes; `task set` targets {}",
                root.display(),
                fixture.checklist_text.len(),
                fixture.set_targets.join(", ")
            );
        }
        return Ok(());
    }
    let scratch =
        tempfile::tempdir().map_err(|error| format!("cannot make a temp dir: {error}"))?;
    let binary = locate_binary(options.build, scratch.path())?;
    let rss_tool = Path::new("/usr/bin/time").is_file();
    eprintln!("binary: {}", binary.display());
    let load_before = load_average();
    let mut rows: Vec<Row> = Vec::new();
    let mut fixtures: Vec<FixtureInfo> = Vec::new();
    for &size in &options.sizes {
        let root = scratch.path().join(format!("tasks-{size}"));
        let fixture = Fixture::generate(&root, size)?;
        eprintln!(
            "fixture: {size} tasks, checklist.yaml {} bytes, run-log.md {} bytes",
            fixture.checklist_text.len(),
            fixture.run_log_bytes
        );
        fixtures.push(FixtureInfo {
            tasks: size,
            checklist_bytes: fixture.checklist_text.len(),
            run_log_bytes: fixture.run_log_bytes,
            complete: fixture.complete,
            ready: 0,
        });
        let bench = Bench {
            binary: &binary,
            fixture: &fixture,
            options,
            rss_tool,
        };
        let ready = bench.ready_count()?;
        if let Some(info) = fixtures.last_mut() {
            info.ready = ready;
        }
        rows.extend(bench.measure_all()?);
    }
    let machine = Machine {
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu: cpu_model(),
        load_before,
        load_after: load_average(),
    };
    println!("{}", render(&machine, &fixtures, &rows, options, rss_tool));
    Ok(())
}

/// What the numbers were measured on: other processes on the machine change them.
struct Machine {
    cores: usize,
    cpu: String,
    load_before: String,
    load_after: String,
}

/// The 1, 5 and 15 minute load averages (Linux), or `unknown`.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Builds (unless told not to) the release `longrun` and copies it into `scratch`, so the
/// measured binary cannot change under the benchmark.
///
/// Cargo hard-links the binary to `<target>/release/longrun`, a path shared by every checkout
/// that uses the same `CARGO_TARGET_DIR`: another checkout's build can replace it at any
/// moment. The copy is therefore checked to come from this checkout (its debug line tables
/// name this folder) and rebuilt (which links it again) when it does not.
fn locate_binary(build: bool, scratch: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("LONGRUN_BIN") {
        return Ok(PathBuf::from(path));
    }
    let manifest_dir = env!("CARGO_MANIFEST_DIR");
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(manifest_dir).join("target"),
    };
    let built = target_dir
        .join("release")
        .join(format!("longrun{}", std::env::consts::EXE_SUFFIX));
    let copy = scratch.join(format!("longrun{}", std::env::consts::EXE_SUFFIX));
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        if build {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--release", "--bin", "longrun"])
                .current_dir(manifest_dir)
                .status()
                .map_err(|error| format!("cannot run `cargo build --release`: {error}"))?;
            if !status.success() {
                return Err(format!(
                    "`cargo build --release --bin longrun` failed: {status}"
                ));
            }
        }
        fs::copy(&built, &copy).map_err(|error| {
            format!(
                "cannot copy `{}` (run `cargo build --release`, or set LONGRUN_BIN): {error}",
                built.display()
            )
        })?;
        let bytes = fs::read(&copy).map_err(|error| error.to_string())?;
        let needle = manifest_dir.as_bytes();
        if bytes.windows(needle.len()).any(|window| window == needle) {
            return Ok(copy);
        }
        if !build {
            break;
        }
    }
    Err(format!(
        "`{}` was not built from `{manifest_dir}` (another checkout shares the target folder, or \
         debug line tables are off); rebuild, or set LONGRUN_BIN",
        built.display()
    ))
}

// ---------------------------------------------------------------------------------------
// Scenarios and measurement

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Next,
    Status,
    Check,
    TaskSet,
    /// The `next` that follows a `task set`: shows what a write leaves for the next reader.
    NextAfterSet,
}

struct Scenario {
    kind: Kind,
    label: &'static str,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario {
        kind: Kind::Next,
        label: "next",
    },
    Scenario {
        kind: Kind::Status,
        label: "status",
    },
    Scenario {
        kind: Kind::Check,
        label: "check",
    },
    Scenario {
        kind: Kind::TaskSet,
        label: "task set --status",
    },
    Scenario {
        kind: Kind::NextAfterSet,
        label: "next, right after task set",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cache {
    /// `.longrun/cache` deleted before each run: the binary parses the YAML and writes the
    /// snapshot. The file itself is in the OS page cache either way.
    Cold,
    /// The snapshot matches the file when the run starts.
    Warm,
}

impl Cache {
    fn label(self) -> &'static str {
        match self {
            Cache::Cold => "cold",
            Cache::Warm => "warm",
        }
    }
}

struct Row {
    tasks: usize,
    command: &'static str,
    cache: Cache,
    samples: Vec<Duration>,
    peak_rss_kib: Option<u64>,
}

struct Bench<'a> {
    binary: &'a Path,
    fixture: &'a Fixture,
    options: &'a Options,
    rss_tool: bool,
}

impl Bench<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.binary);
        command
            .args(args)
            .current_dir(&self.fixture.root)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("LONGRUN_NOW")
            .stdin(Stdio::null());
        command
    }

    /// Runs once, untimed or timed by the caller, and insists on success: a benchmark of a
    /// failing command measures nothing.
    fn run_checked(&self, args: &[&str]) -> Result<String, String> {
        let output = self
            .command(args)
            .output()
            .map_err(|error| format!("cannot run `longrun`: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "`longrun {}` failed ({}) in {}: {}",
                args.join(" "),
                output.status,
                self.fixture.root.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn timed(&self, args: &[&str]) -> Result<Duration, String> {
        let start = Instant::now();
        self.run_checked(args)?;
        Ok(start.elapsed())
    }

    /// Peak resident set of one run, in KiB, from GNU time's `%M`.
    fn peak_rss(&self, args: &[&str]) -> Result<u64, String> {
        let report = self.fixture.root.join(".rss");
        let output = Command::new("/usr/bin/time")
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&report)
            .arg(self.binary)
            .args(args)
            .current_dir(&self.fixture.root)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run /usr/bin/time: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "`longrun {}` failed under /usr/bin/time",
                args.join(" ")
            ));
        }
        let text = fs::read_to_string(&report).map_err(|error| error.to_string())?;
        let _ = fs::remove_file(&report);
        text.lines()
            .last()
            .and_then(|line| line.trim().parse().ok())
            .ok_or_else(|| format!("unexpected /usr/bin/time output `{text}`"))
    }

    fn ready_count(&self) -> Result<usize, String> {
        let out = self.run_checked(&["next", "--count", "1000000"])?;
        Ok(out.lines().count())
    }

    fn drop_cache(&self) -> Result<(), String> {
        let cache = self.fixture.root.join(".longrun/cache");
        match fs::remove_dir_all(&cache) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(format!("cannot delete {}: {error}", cache.display())),
        }
    }

    /// The task a scenario's writes toggle: each writing scenario has its own, so that the
    /// alternation of its statuses is never disturbed by another scenario.
    fn set_target(&self, scenario: Kind, cache: Cache) -> &str {
        let index = match (scenario, cache) {
            (Kind::TaskSet, Cache::Warm) => 0,
            (Kind::TaskSet, Cache::Cold) => 1,
            _ => 2,
        };
        &self.fixture.set_targets[index]
    }

    /// `task set` alternates the status so that every run really rewrites the file.
    fn set_args(&self, scenario: Kind, cache: Cache, run: usize) -> Vec<&str> {
        let status = if run.is_multiple_of(2) {
            "in_progress"
        } else {
            "not_started"
        };
        vec![
            "task",
            "set",
            self.set_target(scenario, cache),
            "--status",
            status,
        ]
    }

    /// One run of a scenario: untimed preparation, then the timed command (or, for
    /// `Measure::Rss`, the command under `/usr/bin/time`).
    fn run_once(
        &self,
        scenario: &Scenario,
        cache: Cache,
        run: usize,
        measure: Measure,
    ) -> Result<Sample, String> {
        let read_args: &[&str] = match scenario.kind {
            Kind::Next | Kind::NextAfterSet => &["next"],
            Kind::Status => &["status"],
            Kind::Check => &["check"],
            Kind::TaskSet => &[],
        };
        // Before the run: bring the snapshot into the state the scenario is about. Other
        // scenarios ran in between, and a write may leave a stale snapshot behind.
        match (scenario.kind, cache) {
            (_, Cache::Cold) => self.drop_cache()?,
            (Kind::NextAfterSet, Cache::Warm) => {
                // The write is untimed; the `next` after it is what is measured.
                self.run_checked(&["next"])?;
                self.run_checked(&self.set_args(scenario.kind, cache, run))?;
            }
            (_, Cache::Warm) => {
                self.run_checked(&["next"])?;
            }
        }
        let args: Vec<&str> = match scenario.kind {
            Kind::TaskSet => self.set_args(scenario.kind, cache, run),
            _ => read_args.to_vec(),
        };
        match measure {
            Measure::Time => self.timed(&args).map(Sample::Time),
            Measure::Rss => self.peak_rss(&args).map(Sample::Rss),
        }
    }

    /// Every scenario, in rounds: one run of each per round, so that a burst of load from
    /// other processes spreads over all scenarios instead of spoiling one.
    fn measure_all(&self) -> Result<Vec<Row>, String> {
        let mut rows: Vec<Row> = Vec::new();
        for cache in [Cache::Warm, Cache::Cold] {
            let scenarios: Vec<&Scenario> = SCENARIOS
                .iter()
                .filter(|scenario| cache == Cache::Warm || scenario.kind != Kind::NextAfterSet)
                .collect();
            let runs = match cache {
                Cache::Cold => self.options.cold_runs,
                Cache::Warm => self.options.warm_runs,
            };
            let first = rows.len();
            for scenario in &scenarios {
                rows.push(Row {
                    tasks: self.fixture.tasks,
                    command: scenario.label,
                    cache,
                    samples: Vec::with_capacity(runs),
                    peak_rss_kib: None,
                });
            }
            let rss_runs = if self.rss_tool {
                self.options.rss_runs
            } else {
                0
            };
            eprintln!(
                "  {:>6} tasks, {}: {runs} rounds",
                self.fixture.tasks,
                cache.label()
            );
            for run in 0..runs + rss_runs {
                let measure = if run < runs {
                    Measure::Time
                } else {
                    Measure::Rss
                };
                for (offset, scenario) in scenarios.iter().enumerate() {
                    let row = &mut rows[first + offset];
                    match self.run_once(scenario, cache, run, measure)? {
                        Sample::Time(duration) => row.samples.push(duration),
                        Sample::Rss(kib) => {
                            row.peak_rss_kib = Some(row.peak_rss_kib.map_or(kib, |p| p.max(kib)))
                        }
                    }
                }
            }
        }
        Ok(rows)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Time,
    Rss,
}

enum Sample {
    Time(Duration),
    /// Peak resident set in KiB.
    Rss(u64),
}

// ---------------------------------------------------------------------------------------
// Report

struct FixtureInfo {
    tasks: usize,
    checklist_bytes: usize,
    run_log_bytes: usize,
    complete: usize,
    ready: usize,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

fn render(
    machine: &Machine,
    fixtures: &[FixtureInfo],
    rows: &[Row],
    options: &Options,
    rss_tool: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Machine\n\n{} cores ({}); load average (1, 5, 15 min) {} before, {} after.",
        machine.cores, machine.cpu, machine.load_before, machine.load_after
    );
    let _ = writeln!(out, "\n## Fixtures\n");
    let _ = writeln!(
        out,
        "| tasks | checklist.yaml | run-log.md | complete | ready (`next`) |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
    for info in fixtures {
        let _ = writeln!(
            out,
            "| {} | {:.1} KiB | {:.1} KiB | {} | {} |",
            info.tasks,
            info.checklist_bytes as f64 / 1024.0,
            info.run_log_bytes as f64 / 1024.0,
            info.complete,
            info.ready
        );
    }
    let _ = writeln!(
        out,
        "\n## Whole-process wall time ({} warm runs, {} cold runs each)\n",
        options.warm_runs, options.cold_runs
    );
    let _ = writeln!(
        out,
        "| tasks | command | snapshot | median ms | p90 ms | min ms | peak RSS MiB |"
    );
    let _ = writeln!(out, "|---:|---|---|---:|---:|---:|---:|");
    for row in rows {
        let mut sorted = row.samples.clone();
        sorted.sort();
        let rss = match row.peak_rss_kib {
            Some(kib) => format!("{:.1}", kib as f64 / 1024.0),
            None if rss_tool => "-".to_string(),
            None => "n/a".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {:.2} | {:.2} | {:.2} | {} |",
            row.tasks,
            row.command,
            row.cache.label(),
            millis(median(&sorted)),
            millis(percentile(&sorted, 0.9)),
            millis(sorted[0]),
            rss
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// Fixtures

/// A generated workspace: checklist.yaml, run-log.md, a claim in current_tasks/.
struct Fixture {
    root: PathBuf,
    tasks: usize,
    checklist_text: String,
    run_log_bytes: usize,
    complete: usize,
    /// `not_started` tasks in the middle of the file, one for each scenario that writes.
    set_targets: [String; 3],
}

/// splitmix64: tiny, deterministic, good enough to scatter dependencies and words.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const VERBS: &[&str] = &[
    "Add", "Port", "Refactor", "Fix", "Document", "Test", "Harden", "Split", "Cache", "Validate",
    "Measure", "Remove", "Rename", "Wire", "Expose",
];
const NOUNS: &[&str] = &[
    "parser",
    "claim files",
    "run log",
    "worktree setup",
    "merge gate",
    "policy loader",
    "snapshot cache",
    "status view",
    "retry budget",
    "validator runner",
    "config schema",
    "event stream",
    "lock file",
    "heartbeat",
    "cost report",
    "agent profile",
    "review step",
];
const WORDS: &[&str] = &[
    "the",
    "state",
    "file",
    "every",
    "task",
    "keeps",
    "its",
    "order",
    "and",
    "comments",
    "when",
    "a",
    "worker",
    "fails",
    "longrun",
    "records",
    "evidence",
    "so",
    "reviewer",
    "can",
    "trust",
    "merge",
    "without",
    "rerunning",
    "slow",
    "suites",
    "on",
    "main",
    "branch",
    "after",
    "each",
    "cycle",
    "with",
    "clear",
    "errors",
    "line",
    "column",
];
const VALIDATORS: &[&str] = &[
    "[\"cargo\", \"test\", \"--lib\"]",
    "\"cargo test --test it\"",
    "[\"cargo\", \"clippy\", \"--all-targets\", \"--\", \"-D\", \"warnings\"]",
    "{shell: \"cargo build 2>&1 | tee build.log\"}",
    "[\"git\", \"diff\", \"--check\"]",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut out = String::new();
    for index in 0..words {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(rng.pick(WORDS));
    }
    out
}

fn task_id(index: usize) -> String {
    format!("T{:05}", index + 1)
}

impl Fixture {
    fn generate(root: &Path, tasks: usize) -> Result<Fixture, String> {
        let mut rng = Rng(0x5EED_0000 + tasks as u64);
        // Exactly half complete, scattered: a shuffled index list, first half complete.
        let mut order: Vec<usize> = (0..tasks).collect();
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        let mut complete = vec![false; tasks];
        for &index in &order[..tasks / 2] {
            complete[index] = true;
        }

        let header_end = TEMPLATE_CHECKLIST
            .find("\ntasks:\n")
            .ok_or("the template has no `tasks:` line")?;
        let mut text = String::with_capacity(tasks * 330 + 8192);
        text.push_str(&TEMPLATE_CHECKLIST[..header_end]);
        text.push_str("\ntasks:\n");
        let mut statuses = Vec::with_capacity(tasks);
        for (index, &is_complete) in complete.iter().enumerate() {
            let status = if is_complete {
                "complete"
            } else {
                match rng.below(100) {
                    0..=79 => "not_started",
                    80..=87 => "in_progress",
                    88..=91 => "blocked",
                    92..=95 => "failed",
                    _ => "awaiting_approval",
                }
            };
            statuses.push(status);
            write_task(&mut text, &mut rng, index, status);
        }

        // The tasks `task set` edits: `not_started` ones from the middle on, so that the
        // edit moves everything after it.
        let candidates: Vec<String> = (tasks / 2..tasks)
            .chain(0..tasks / 2)
            .filter(|&index| statuses[index] == "not_started")
            .take(3)
            .map(task_id)
            .collect();
        let set_targets: [String; 3] = candidates
            .try_into()
            .map_err(|_| "fewer than three `not_started` tasks to edit")?;

        fs::create_dir_all(root.join("current_tasks"))
            .map_err(|error| format!("cannot create {}: {error}", root.display()))?;
        let write = |name: &str, contents: &str| {
            fs::write(root.join(name), contents)
                .map_err(|error| format!("cannot write {name}: {error}"))
        };
        write("checklist.yaml", &text)?;
        // The default routing names `claude`, which `check` requires on the PATH: a profile
        // whose program every machine has keeps the bench independent of what is installed.
        write(
            "longrun.yaml",
            "routing:\n  default: bench\n  by_risk: {low: bench, medium: bench, high: bench, critical: bench}\nagents:\n  bench:\n    kind: command\n    command: [\"true\", \"{prompt_file}\"]\n",
        )?;
        let run_log = run_log(&mut rng, &statuses);
        write("run-log.md", &run_log)?;
        // One claim per `in_progress` task, the way `longrun claim` writes them, with a
        // lease that has not run out (a live claim, as in a running system).
        for (index, status) in statuses.iter().enumerate() {
            if *status == "in_progress" {
                let id = task_id(index);
                write(
                    &format!("current_tasks/{id}.lock"),
                    &format!(
                        "# longrun claim on task {id}; managed by longrun, do not edit\ntask: \"{id}\"\nworker: \"w{}\"\nhost: \"bench\"\npid: {}\nclaimed_at: \"2026-01-05T10:00:00Z\"\nheartbeat_at: \"2026-01-05T10:00:00Z\"\nlease_expires_at: \"2099-01-01T00:00:00Z\"\nattempt: 1\ntoken: \"{:032x}\"\nbranch: \"longrun/{id}\"\nworktree: \"/tmp/bench\"\n",
                        index % 4,
                        1000 + index,
                        index
                    ),
                )?;
            }
        }
        Ok(Fixture {
            root: root.to_path_buf(),
            tasks,
            checklist_text: text,
            run_log_bytes: run_log.len(),
            complete: tasks / 2,
            set_targets,
        })
    }
}

/// One task in the template's style: block mapping, literal description, quoted criteria,
/// flow `depends_on`, mixed validator forms, occasional comments.
fn write_task(out: &mut String, rng: &mut Rng, index: usize, status: &str) {
    let id = task_id(index);
    if index.is_multiple_of(25) {
        let _ = writeln!(
            out,
            "\n  # Milestone M{}: {} {}.",
            index / 25 + 1,
            rng.pick(VERBS).to_lowercase(),
            rng.pick(NOUNS)
        );
    }
    let _ = writeln!(out, "  - task_id: {id}");
    let _ = writeln!(
        out,
        "    title: \"{} the {} ({})\"",
        rng.pick(VERBS),
        rng.pick(NOUNS),
        index + 1
    );
    let _ = writeln!(out, "    description: |-");
    for _ in 0..1 + usize::from(rng.below(4) == 0) {
        let words = 5 + rng.below(4);
        let _ = writeln!(out, "      {}.", sentence(rng, words));
    }
    let _ = writeln!(out, "    acceptance_criteria:");
    for _ in 0..1 + usize::from(rng.below(3) == 0) {
        let words = 4 + rng.below(3);
        let _ = writeln!(out, "      - \"{}.\"", sentence(rng, words));
    }
    if rng.below(8) == 0 {
        let _ = writeln!(out, "    implementation_notes: \"{}.\"", sentence(rng, 6));
    }
    let _ = writeln!(out, "    status: {status}");
    if status == "complete" {
        let _ = writeln!(
            out,
            "    note: \"Merged as {:07x}.\"",
            rng.next_u64() & 0xFFF_FFFF
        );
    } else if status == "blocked" || status == "failed" {
        let _ = writeln!(out, "    note: |-");
        let _ = writeln!(out, "      Attempt 1: {}.", sentence(rng, 6));
        let _ = writeln!(out, "      Attempt 2: {}.", sentence(rng, 5));
    } else {
        let _ = writeln!(out, "    note: \"\"");
    }
    // Up to three dependencies, always on earlier tasks, mostly nearby ones.
    let mut depends_on: Vec<usize> = Vec::new();
    if index > 0 {
        for _ in 0..rng.below(4) {
            let back = if rng.below(3) == 0 {
                1 + rng.below(index)
            } else {
                1 + rng.below(index.min(20))
            };
            let dependency = index - back;
            if !depends_on.contains(&dependency) {
                depends_on.push(dependency);
            }
        }
    }
    let ids: Vec<String> = depends_on.into_iter().map(task_id).collect();
    let _ = writeln!(out, "    depends_on: [{}]", ids.join(", "));
    let _ = writeln!(out, "    validators:");
    for _ in 0..1 + usize::from(rng.below(8) == 0) {
        let _ = writeln!(out, "      - {}", rng.pick(VALIDATORS));
    }
    if rng.below(4) == 0 {
        let _ = writeln!(out, "    risk: {}", rng.pick(&["low", "medium", "high"]));
    }
}

/// The template's run log with an Events section as longrun writes it: a dispatch,
/// evidence and a merge for each complete task, failures for failed ones.
fn run_log(rng: &mut Rng, statuses: &[&str]) -> String {
    let mut events = String::new();
    let mut minute = 0u64;
    let mut stamp = |rng: &mut Rng| {
        minute += 1 + rng.below(9) as u64;
        format!(
            "2026-01-{:02}T{:02}:{:02}:00Z",
            1 + (minute / 1440) % 28,
            (minute / 60) % 24,
            minute % 60
        )
    };
    for (index, status) in statuses.iter().enumerate() {
        let id = task_id(index);
        match *status {
            "complete" => {
                let _ = writeln!(
                    events,
                    "- {} dispatch [{id}] attempt=1 agent=claude: worker started in .longrun/worktrees/{id}",
                    stamp(rng)
                );
                let _ = writeln!(
                    events,
                    "- {} evidence [{id}] attempt=1: validators passed → .longrun/runs/r1/{id}/1/validate.log",
                    stamp(rng)
                );
                let _ = writeln!(
                    events,
                    "- {} merge [{id}] commit={:07x}: merged into main",
                    stamp(rng),
                    rng.next_u64() & 0xFFF_FFFF
                );
            }
            "failed" | "blocked" => {
                let _ = writeln!(
                    events,
                    "- {} failure [{id}] attempt=2: validator `cargo test` exited 101 → .longrun/runs/r1/{id}/2/validate.log",
                    stamp(rng)
                );
            }
            "in_progress" => {
                let _ = writeln!(events, "- {} claim [{id}] worker=w1: claimed", stamp(rng));
            }
            _ => {}
        }
    }
    let marker = "## Events (append-only)\n";
    match TEMPLATE_RUN_LOG.find(marker) {
        Some(at) => {
            let split = at + marker.len();
            format!(
                "{}\n{events}{}",
                &TEMPLATE_RUN_LOG[..split],
                &TEMPLATE_RUN_LOG[split..]
            )
        }
        None => format!("{TEMPLATE_RUN_LOG}\n{events}"),
    }
}
