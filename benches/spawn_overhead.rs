//! Spawn overhead: time from calling `spawn_detached` until the agent process runs its
//! first step, and until `spawn_detached` returns, over 20 runs of the fake agent.
//!
//! `cargo bench --features fake-agent --bench spawn_overhead`. Prints medians; asserts
//! nothing, so machine load never fails a build.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use longrun::process::{self, WorkerSpec, WorkerState};

const RUNS: usize = 20;

fn main() {
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().canonicalize().expect("canonical temp dir");
    let longrun = env!("CARGO_BIN_EXE_longrun");
    let agent = env!("CARGO_BIN_EXE_longrun-fake-agent");
    let mut to_agent = Vec::new();
    let mut to_return = Vec::new();
    for run in 0..RUNS {
        let run_dir = root.join(format!("run-{run}"));
        std::fs::create_dir_all(&run_dir).expect("run dir");
        let stamp = run_dir.join("agent-started");
        let mut spec = WorkerSpec::new(
            vec![agent.to_string(), format!("timestamp {}", stamp.display())],
            root.clone(),
            run_dir.clone(),
        );
        spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
        let spec_path = run_dir.join("spec.json");
        spec.write(&spec_path).expect("spec");

        let before = now_nanos();
        process::spawn_detached(longrun.as_ref(), &spec_path).expect("spawn");
        let returned = now_nanos();
        let state = process::wait_for_worker(&run_dir, Duration::from_secs(30)).expect("state");
        assert!(matches!(state, WorkerState::Finished(_)), "{state:?}");
        let started: u128 = std::fs::read_to_string(&stamp)
            .expect("stamp")
            .trim()
            .parse()
            .expect("nanos");
        to_agent.push(started.saturating_sub(before));
        to_return.push(returned.saturating_sub(before));
    }
    report("spawn_detached -> agent's first step", &mut to_agent);
    report(
        "spawn_detached call (returns once the supervisor holds its lock)",
        &mut to_return,
    );
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn report(what: &str, samples: &mut [u128]) {
    samples.sort_unstable();
    let ms = |nanos: u128| nanos as f64 / 1e6;
    println!(
        "{what}: median {:.2} ms, min {:.2} ms, max {:.2} ms ({} runs)",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}
