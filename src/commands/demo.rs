//! `longrun demo`: the main job on the embedded example. Creates a repository from
//! `examples/demo/`, runs cycles with the built-in demo agent until every task is complete
//! or one is blocked, and ends with the status view and the repository's path.
//!
//! `longrun __demo-agent` (hidden) is that agent: it writes the task's embedded solution in
//! its worktree and commits, deterministically, without a model.

use std::time::{Duration, Instant};

use super::Context;
use crate::cli::{DemoArgs, StatusArgs};
use crate::cycle;
use crate::demo;
use crate::error::{CommandError, ErrorKind};
use crate::exit::ExitStatus;
use crate::scaffold::{self, ScaffoldOptions};
use crate::workspace::Workspace;

pub fn run(ctx: &Context, args: &DemoArgs) -> Result<ExitStatus, CommandError> {
    let started = Instant::now();
    let root = match &args.dir {
        Some(dir) => std::path::absolute(dir)?,
        None => std::env::temp_dir().join(format!(
            "longrun-demo-{}-{}",
            ctx.clock.now().as_second(),
            std::process::id()
        )),
    };
    if root.exists() && std::fs::read_dir(&root)?.next().is_some() {
        return Err(CommandError::user(format!(
            "`{}` is not empty; the demo needs a fresh folder",
            root.display()
        )));
    }
    std::fs::create_dir_all(&root)?;
    let exe = std::env::current_exe().map_err(|error| {
        CommandError::user(format!("cannot find the longrun executable: {error}"))
    })?;
    let user_error = |error: &(dyn std::error::Error + 'static)| {
        CommandError::from_error(ErrorKind::User, error)
    };
    demo::create_project(&root, &exe).map_err(|e| user_error(&e))?;
    scaffold::scaffold(
        &root,
        &ScaffoldOptions {
            start_time: crate::clock::format_timestamp(ctx.clock.now()),
            project_name: Some("greet".to_string()),
            branch: Some("main".to_string()),
            skills_dir: None,
        },
    )
    .map_err(|e| user_error(&e))?;
    demo::commit_start(&root).map_err(|e| user_error(&e))?;
    ctx.ui.status(&format!(
        "demo repository: {} (7 tasks, validators are real shell tests)",
        root.display()
    ));

    let workspace = Workspace::at(root.clone());
    let deadline = started + Duration::from_secs(args.timeout);
    let mut last_summary = String::new();
    let outcome = loop {
        let options = super::cycle::cycle_options(ctx, workspace.clone(), None, false, false)?;
        let report = cycle::run_cycle(&options).map_err(|e| user_error(&e))?;
        for action in &report.actions {
            ctx.ui.status(&format!("  {action}"));
        }
        let summary = super::cycle::summary_line(&report);
        if summary != last_summary && !report.actions.is_empty() {
            ctx.ui.status(&summary);
            last_summary = summary;
        }
        if report.open == 0 || report.stuck > 0 {
            break report;
        }
        if Instant::now() > deadline {
            return Err(CommandError::user(format!(
                "the demo did not finish within {} s; its repository is at `{}`",
                args.timeout,
                root.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    let demo_ctx = Context {
        ui: ctx.ui.clone(),
        clock: ctx.clock,
        cwd: root.clone(),
    };
    super::status::run(&demo_ctx, &StatusArgs { json: false })?;
    ctx.ui.status(&format!(
        "done in {:.1} s: {}/{} tasks complete{}",
        started.elapsed().as_secs_f64(),
        outcome.complete,
        outcome.total,
        if outcome.stuck > 0 {
            ", some blocked"
        } else {
            ""
        }
    ));
    ctx.ui.status(&format!(
        "look around: cd {} && git log --graph --oneline && cat run-log.md",
        root.display()
    ));
    Ok(if outcome.stuck > 0 {
        ExitStatus::Negative
    } else {
        ExitStatus::Success
    })
}

/// The demo agent: reads its task from the `LONGRUN_*` environment the supervisor gives it.
pub fn agent(ctx: &Context) -> Result<ExitStatus, CommandError> {
    let task = std::env::var("LONGRUN_TASK_ID").map_err(|_| {
        CommandError::user(
            "`LONGRUN_TASK_ID` is not set: the demo agent runs under `longrun cycle`",
        )
    })?;
    let attempt: u32 = std::env::var("LONGRUN_ATTEMPT")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1);
    // A moment of "thinking", so parallel workers are visible in the demo.
    std::thread::sleep(Duration::from_millis(300));
    let written = demo::run_agent(&ctx.cwd, &task, attempt)
        .map_err(|error| CommandError::from_error(ErrorKind::User, &error))?;
    ctx.ui.data(&format!(
        "demo agent: {task} attempt {attempt}: wrote {} and committed",
        written.join(", ")
    ));
    Ok(ExitStatus::Success)
}
