//! Timings of `longrun plan` on a generated 2,000-item PRD and of importing 10,000
//! Taskmaster tasks: the in-process pipeline (read, merge, render, verify, re-check) and
//! the real binary end to end. Run with `cargo bench --bench plan`; prints medians.

// A benchmark's output is its result.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use longrun::import::parse_taskmaster;
use longrun::plan::{IdStyle, MergeOptions, merge, parse_prd, render_merge_parsed};
use longrun::state::checklist::{Checklist, ValidateOptions};

const PRD_ITEMS: usize = 2_000;
const TASKMASTER_TASKS: usize = 10_000;
const RUNS: usize = 7;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn prd() -> String {
    let mut text = String::from("# Big product\n\n## Milestones\n\n");
    for milestone in 0..(PRD_ITEMS / 50) {
        text.push_str(&format!("### M{milestone}: Area {milestone}\n\n"));
        for item in 0..50 {
            let n = milestone * 50 + item + 1;
            text.push_str(&format!(
                "- [ ] Implement feature {n} of the payment area (depends on T{})\n  - returns 200 for request {n}\n  - Verify: `cargo test -p area{milestone} feature_{n}`\n",
                n.saturating_sub(1).max(1)
            ));
        }
        text.push('\n');
    }
    text.push_str("## Verification\n\n- `cargo test --workspace`\n");
    text
}

fn taskmaster() -> String {
    let tasks: Vec<serde_json::Value> = (1..=TASKMASTER_TASKS)
        .map(|id| {
            serde_json::json!({
                "id": id,
                "title": format!("Task number {id}"),
                "description": "Do the thing described in the PRD section.",
                "details": "Some implementation details.",
                "testStrategy": "- unit tests pass\n- the endpoint returns 200",
                "status": if id % 3 == 0 { "done" } else { "pending" },
                "dependencies": if id > 1 { vec![id - 1] } else { vec![] },
                "priority": "medium",
                "subtasks": []
            })
        })
        .collect();
    serde_json::json!({"master": {"tasks": tasks}}).to_string()
}

fn pipeline_plan(prd: &str, checklist_text: &str) -> usize {
    let plan = parse_prd(prd, "prd.md");
    let checklist = Checklist::parse(Path::new("checklist.yaml"), checklist_text).unwrap();
    let options = MergeOptions {
        id_style: IdStyle::Sequential,
        update_status: false,
        namespace: "prd.md#",
    };
    let report = merge(&checklist, &plan.tasks, options);
    let (_text, after) = render_merge_parsed(checklist_text, &checklist, &report).unwrap();
    let after = after.unwrap();
    after.validate(ValidateOptions::default()).len() + after.tasks.len()
}

fn pipeline_import(json: &str, checklist_text: &str) -> usize {
    let t = Instant::now();
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let imported = parse_taskmaster(&value, "tasks.json").unwrap();
    let t1 = t.elapsed();
    let checklist = Checklist::parse(Path::new("checklist.yaml"), checklist_text).unwrap();
    let options = MergeOptions {
        id_style: IdStyle::Preferred,
        update_status: true,
        namespace: "taskmaster#",
    };
    let report = merge(&checklist, &imported.tasks, options);
    let t2 = t.elapsed();
    let (_text, after) = render_merge_parsed(checklist_text, &checklist, &report).unwrap();
    let after = after.unwrap();
    let t3 = t.elapsed();
    let n = after.validate(ValidateOptions::default()).len() + after.tasks.len();
    let t5 = t.elapsed();
    if std::env::var_os("PLAN_BENCH_STEPS").is_some() {
        println!(
            "  steps: read {t1:?}, merge {t2:?}, render+verify (one parse) {t3:?}, validate {t5:?}"
        );
    }
    n
}

/// CPU seconds used so far by this process (`self`) and its waited-for children, from
/// `/proc/self/stat` (Linux; 0 elsewhere). The machine this runs on is often shared, so
/// wall time alone overstates the cost; both are printed.
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the `(comm)`: utime, stime, cutime, cstime are fields 14-17.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let tick = 100.0;
    let get = |i: usize| fields.get(i - 3).copied().unwrap_or(0.0) / tick;
    (get(14) + get(15), get(16) + get(17))
}

/// Median wall time and mean CPU time of `f` in this process.
fn time<F: FnMut()>(mut f: F) -> (Duration, f64) {
    let cpu_start = cpu_seconds().0;
    let times = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    (median(times), (cpu_seconds().0 - cpu_start) / RUNS as f64)
}

/// One end-to-end run of the binary on a fresh copy of the repository.
fn binary(
    args: &[&str],
    files: &[(&str, &str)],
) -> Result<(Duration, f64), Box<dyn std::error::Error>> {
    let exe = env!("CARGO_BIN_EXE_longrun");
    let mut times = Vec::new();
    let mut cpu = 0.0;
    for _ in 0..RUNS {
        let dir = tempfile::tempdir()?;
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
        };
        git(&["init", "--quiet"])?;
        let init = Command::new(exe)
            .arg("init")
            .current_dir(dir.path())
            .output()?;
        assert!(init.status.success());
        for (name, contents) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, contents)?;
        }
        let cpu_before = cpu_seconds().1;
        let start = Instant::now();
        let out = Command::new(exe)
            .args(args)
            .arg("--quiet")
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()?;
        times.push(start.elapsed());
        cpu += cpu_seconds().1 - cpu_before;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((median(times), cpu / RUNS as f64))
}

fn show(label: &str, (wall, cpu): (Duration, f64)) {
    println!(
        "{label}: {:.1} ms wall (median of {RUNS}), {:.1} ms CPU (mean)",
        wall.as_secs_f64() * 1000.0,
        cpu * 1000.0
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let template = longrun::templates::CHECKLIST_YAML;
    let prd = prd();
    let json = taskmaster();
    show(
        &format!(
            "plan, {PRD_ITEMS}-item PRD ({} KiB), in process",
            prd.len() / 1024
        ),
        time(|| {
            pipeline_plan(&prd, template);
        }),
    );
    show(
        &format!(
            "import, {TASKMASTER_TASKS} Taskmaster tasks ({} KiB), in process",
            json.len() / 1024
        ),
        time(|| {
            pipeline_import(&json, template);
        }),
    );
    show(
        &format!("`longrun plan --prd prd.md`, {PRD_ITEMS} items, binary end to end"),
        binary(&["plan", "--prd", "prd.md"], &[("prd.md", &prd)])?,
    );
    show(
        &format!(
            "`longrun import taskmaster tasks.json`, {TASKMASTER_TASKS} tasks, binary end to end"
        ),
        binary(
            &["import", "taskmaster", "tasks.json"],
            &[("tasks.json", &json)],
        )?,
    );
    Ok(())
}
