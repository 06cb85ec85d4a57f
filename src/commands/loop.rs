//! `longrun loop`: cycles one after another until the work is done, a task fails or
//! blocks (`--until blocked`), `--max-cycles` cycles ran, or SIGINT/SIGTERM arrives.
//!
//! Between cycles it waits `--every`, cut short when a worker finishes, by polling the
//! running workers' run directories (cheap: a `stat` and a lock probe each). A signal never
//! interrupts a cycle; the workers are detached and keep running after the loop exits.
//! Exit 0 when done, 1 when stopped on failed or blocked tasks, 130 when interrupted.
//! Also holds what `longrun watch` shares with it: the progress lines and the ending.

use super::Context;
use super::cycle::{cycle_options, exit_status, summary_line};
use crate::cli::{LoopArgs, UntilArg};
use crate::config::{Config, format_duration};
use crate::cycle::repeat::{
    self, Ending, MAX_CONSECUTIVE_ERRORS, PollWait, Progress, RepeatOptions, RepeatOutcome, Until,
    Wait, Wake,
};
use crate::error::{CommandError, ErrorKind};
use crate::exit::ExitStatus;
use crate::process::{self, StopFlag};
use crate::workspace::Workspace;

pub fn run(ctx: &Context, args: &LoopArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let every = match args.every {
        Some(every) => every,
        None => load_config(&workspace)?.r#loop.interval,
    };
    let options = cycle_options(ctx, workspace, args.max_parallel, false, false)?;
    let stop = process::install_interrupt_signals()?;
    let until = match args.until {
        UntilArg::Done => Until::Done,
        UntilArg::Blocked => Until::Blocked,
    };
    let repeat_options = RepeatOptions {
        cycle: &options,
        every,
        until: Some(until),
        max_cycles: args.max_cycles,
        watch_checklist: false,
    };
    ctx.ui.status(&format!(
        "loop: {}; Ctrl-C stops after the current cycle",
        pace_text(every)
    ));
    let outcome = drive(ctx, &repeat_options, &mut PollWait, &stop, args.json);
    Ok(finish(ctx, "loop", &outcome, args.json))
}

/// longrun.yaml, for the defaults of `--every`.
pub(super) fn load_config(workspace: &Workspace) -> Result<Config, CommandError> {
    Config::load(&workspace.config())
        .map(|(config, _warnings)| config)
        .map_err(|error| CommandError::from_error(ErrorKind::User, &error))
}

pub(super) fn pace_text(every: std::time::Duration) -> String {
    if every.is_zero() {
        "cycles back to back, each after a worker finishes".to_string()
    } else {
        format!(
            "a cycle every {}, or sooner when a worker finishes",
            format_duration(every)
        )
    }
}

/// Runs the cycles, printing one line per cycle.
pub(super) fn drive(
    ctx: &Context,
    options: &RepeatOptions<'_>,
    waiter: &mut dyn Wait,
    stop: &StopFlag,
    json: bool,
) -> RepeatOutcome {
    repeat::repeat(options, waiter, stop, &mut |progress| {
        print_progress(ctx, &progress, json)
    })
}

fn print_progress(ctx: &Context, progress: &Progress<'_>, json: bool) {
    match progress {
        Progress::Cycle {
            number,
            woke,
            report,
        } => {
            if json {
                json_line(
                    ctx,
                    &serde_json::json!({"cycle": number, "woke": wake_name(woke), "report": report}),
                );
            } else if !report.ran {
                ctx.ui.status(
                    "another cycle is running (`.longrun/cycle.lock` is held); trying again later",
                );
            } else {
                ctx.ui.status(&summary_line(report));
            }
        }
        Progress::Failed {
            number,
            woke,
            error,
        } => {
            let error = CommandError::from_error(ErrorKind::User, *error);
            if json {
                json_line(
                    ctx,
                    &serde_json::json!({"cycle": number, "woke": wake_name(woke), "error": error.to_string()}),
                );
            }
            ctx.ui.error_line(&error.to_string());
        }
    }
}

/// Says how the run ended and picks the exit status.
pub(super) fn finish(
    ctx: &Context,
    command: &str,
    outcome: &RepeatOutcome,
    json: bool,
) -> ExitStatus {
    let cycles = match outcome.cycles {
        1 => "1 cycle".to_string(),
        count => format!("{count} cycles"),
    };
    let stuck = outcome.last.as_ref().map_or(0, |report| report.stuck);
    let (name, message, status) = match outcome.ending {
        Ending::Done => {
            let (complete, total) = outcome
                .last
                .as_ref()
                .map_or((0, 0), |report| (report.complete, report.total));
            (
                "done",
                format!("{command}: done after {cycles}: {complete}/{total} tasks complete"),
                ExitStatus::Success,
            )
        }
        Ending::Stuck => (
            "stuck",
            format!(
                "{command}: stopped after {cycles}: {stuck} task(s) failed or blocked; `longrun status` shows them"
            ),
            ExitStatus::Negative,
        ),
        Ending::Stalled => (
            "stalled",
            format!(
                "{command}: stopped after {cycles}: the open tasks wait on {stuck} failed or blocked task(s), so nothing moves until a person acts; `longrun status` shows them"
            ),
            ExitStatus::Negative,
        ),
        Ending::CycleLimit => (
            "cycle_limit",
            format!("{command}: stopped after {cycles} (`--max-cycles`)"),
            outcome
                .last
                .as_ref()
                .filter(|_| outcome.error.is_none())
                .map_or(ExitStatus::Error, exit_status),
        ),
        Ending::Interrupted(signal) => (
            "interrupted",
            format!(
                "{command}: interrupted by {} after {cycles}",
                signal_name(signal)
            ),
            ExitStatus::Interrupted,
        ),
        Ending::Errors => (
            "errors",
            format!(
                "{command}: gave up after {MAX_CONSECUTIVE_ERRORS} failed cycles in a row (the last error is above)"
            ),
            ExitStatus::Error,
        ),
    };
    if json {
        json_line(
            ctx,
            &serde_json::json!({
                "end": name,
                "cycles": outcome.cycles,
                "exit": status as i32,
                "running": outcome.running,
            }),
        );
    }
    ctx.ui.status(&message);
    if !outcome.running.is_empty() {
        let tasks: Vec<String> = outcome
            .running
            .iter()
            .map(|task| format!("`{task}`"))
            .collect();
        ctx.ui.status(&format!(
            "{} worker(s) keep running detached ({}): the next `longrun cycle` reaps them; `longrun stop --kill` ends them",
            tasks.len(),
            tasks.join(", ")
        ));
    }
    status
}

fn json_line(ctx: &Context, value: &serde_json::Value) {
    // One compact line per record, so a reader can act on each as it arrives.
    ctx.ui.data(&value.to_string());
}

fn wake_name(wake: &Wake) -> &'static str {
    match wake {
        Wake::Start => "start",
        Wake::Interval => "interval",
        Wake::WorkerFinished(_) => "worker_finished",
        Wake::ChecklistChanged => "checklist_changed",
        Wake::Interrupted(_) => "interrupted",
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".to_string(),
        15 => "SIGTERM".to_string(),
        other => format!("signal {other}"),
    }
}
