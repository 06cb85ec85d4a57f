//! Timings of the run-log readers and appender on a generated 100,000-event log.
//! Run with `cargo bench --bench runlog`; it prints medians and asserts nothing about time.

// A benchmark's output is its result.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use jiff::Timestamp;
use longrun::state::model::{EventKind, TaskId};
use longrun::state::runlog::{self, Event, FieldKey, StreamItem};

const EVENTS: usize = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("run-log.md");
    let lock = dir.path().join(".longrun/locks/run-log.lock");
    let attempt = FieldKey::parse("attempt")?;
    let task = TaskId::parse("T003")?;

    for follow_ups in [false, true] {
        let mut text =
            String::from("# Run log\n\n## Context\n- Repo: bench\n\n## Events (append-only)\n");
        for index in 0..EVENTS {
            let event = Event::new(
                Timestamp::from_second(1_795_000_000 + index as i64)?,
                EventKind::ALL[index % EventKind::ALL.len()],
                format!("validator `cargo test` exited 101 (3 failed) → .longrun/runs/r1/T003/{index}/validate.log"),
            )
            .with_task(task.clone())
            .with_field(attempt.clone(), (index % 5).to_string());
            text.push_str(&event.render());
            text.push('\n');
        }
        if follow_ups {
            text.push_str("\n## Follow-ups\n- Skills to extract:\n- Docs to update:\n");
        }
        std::fs::write(&path, &text)?;
        println!(
            "{} events, {:.1} MiB, {}",
            EVENTS,
            text.len() as f64 / (1024.0 * 1024.0),
            if follow_ups {
                "Follow-ups after Events"
            } else {
                "Events last"
            }
        );

        let tail = median(200, || {
            let events = runlog::read_last_events(&path, 10).map_err(|e| e.to_string())?;
            check(events.len() == 10, "tail length")
        })?;
        println!("  read_last_events(10): {tail:?}");

        let stream = median(7, || {
            let mut count = 0;
            for item in runlog::stream_events(&path).map_err(|e| e.to_string())? {
                if let StreamItem::Event(_) = item.map_err(|e| e.to_string())? {
                    count += 1;
                }
            }
            check(count == EVENTS, "stream count")
        })?;
        println!("  stream_events (all):  {stream:?}");

        let parse = median(7, || {
            check(runlog::parse(&text).events.len() == EVENTS, "parse count")
        })?;
        println!("  parse (in memory):    {parse:?}");

        let append = median(20, || {
            let event = Event::new(
                Timestamp::from_second(1_800_000_000).map_err(|e| e.to_string())?,
                EventKind::Note,
                "bench append",
            );
            runlog::append_event(&path, &lock, &event).map_err(|e| e.to_string())?;
            Ok(())
        })?;
        println!("  append_event:         {append:?} (includes fsync)");
    }
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what} is wrong"))
    }
}

/// The median wall time of `runs` calls of `work`.
fn median(runs: usize, mut work: impl FnMut() -> Result<(), String>) -> Result<Duration, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        work()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[runs / 2])
}
