//! `longrun mine` on a generated 100,000-event run log: the time of the streaming analysis
//! and of writing the proposals, and the peak memory (VmHWM, reset first through
//! `/proc/self/clear_refs` so the log's generation does not count). Budget: under 1 s and
//! under 100 MB; a run over budget exits with an error. Run with `cargo bench --bench mine`.

// A benchmark's output is its result.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use longrun::mine::{self, MineOptions};
use longrun::state::model::{EventKind, TaskId};
use longrun::state::runlog::{Event, FieldKey};

const EVENTS: usize = 100_000;
const TASKS: usize = 500;
const VALIDATORS: &[&str] = &[
    "cargo test",
    "cargo clippy -- -D warnings",
    "make lint",
    "npm test",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("run-log.md");
    generate(&path)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "run log: {EVENTS} events, {:.1} MB, {TASKS} tasks",
        size as f64 / 1e6
    );

    let options = MineOptions {
        run_log: path.clone(),
        since: None,
        run: None,
    };
    let mut mine_times = Vec::new();
    let mut write_times = Vec::new();
    let mut peak_kb = 0;
    for round in 0..5 {
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let start = Instant::now();
        let findings = mine::mine(&options, None)?;
        let mined = start.elapsed();
        let out = dir.path().join(format!("out{round}"));
        std::fs::create_dir_all(&out)?;
        let start = Instant::now();
        let written = mine::proposals::write_proposals(&out, "20261121T090000Z", &findings, None)?;
        write_times.push(start.elapsed());
        mine_times.push(mined);
        if reset {
            peak_kb = peak_kb.max(vm_hwm_kb().unwrap_or(0));
        }
        if round == 0 {
            println!(
                "findings: {} failure groups, {} fixes, {} interventions; proposals: {} skills, {} evals",
                findings.failure_groups.len(),
                findings.fixes.len(),
                findings.intervention_count,
                written.skills.len(),
                written.evals.len() + written.evals_without_base
            );
        }
    }
    let mine_median = median(&mut mine_times);
    let write_median = median(&mut write_times);
    let total = mine_median + write_median;
    println!(
        "mine (stream + analyse), median of 5: {:.0} ms",
        ms(mine_median)
    );
    println!(
        "write proposals, median of 5:        {:.0} ms",
        ms(write_median)
    );
    println!(
        "total:                               {:.0} ms (budget 1000 ms)",
        ms(total)
    );
    println!(
        "peak RSS during mining (VmHWM):      {:.1} MB (budget 100 MB)",
        peak_kb as f64 / 1024.0
    );
    if total > Duration::from_secs(1) || peak_kb > 100 * 1024 {
        return Err("over budget".into());
    }
    Ok(())
}

fn generate(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"# Run log\n\n## Context\n- Repo: bench\n\n## Events (append-only)\n")?;
    let attempt = FieldKey::parse("attempt")?;
    let commit = FieldKey::parse("commit")?;
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
        let event = match index % 10 {
            0 | 1 => Event::new(at, EventKind::Dispatch, format!("worker started in .longrun/worktrees/{task} → {run}")),
            2..=4 => Event::new(
                at,
                EventKind::Failure,
                format!("validator `{validator}` exited {} ({} failed) → {run}/failure.md", 1 + index % 3, index % 17),
            ),
            5 | 6 => Event::new(
                at,
                EventKind::Merge,
                format!("merged into `main` as {index:010x} (tree abc); validators: `{validator}` exit 0 in {} ms ({run}/validate/1/output.log)", index % 900),
            )
            .with_field(commit.clone(), format!("{index:010x}")),
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

fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
