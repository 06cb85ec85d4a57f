//! `longrun stop [--kill]`: turns the kill switch on (`.longrun/STOP`), so cycles reap and
//! gate but dispatch nothing. With `--kill` it also ends the cycle's running workers: each
//! supervisor gets SIGTERM, ends its agent's process group and writes `result.json` with
//! `stopped: true`, which the next cycle records as a failed attempt. Idempotent.

use std::time::{Duration, Instant};

use super::Context;
use crate::cli::StopArgs;
use crate::cycle::{self, CycleWorker};
use crate::error::{CommandError, ErrorKind};
use crate::exit::ExitStatus;
use crate::process::{self, KillOutcome, WorkerState};
use crate::state::model::{EventKind, TaskId};
use crate::state::runlog::Event;

/// How long `--kill` waits for the stopped workers to write their results: longer than a
/// supervisor's grace period between TERM and KILL (10 s).
const KILL_WAIT: Duration = Duration::from_secs(30);

pub fn run(ctx: &Context, args: &StopArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let now = ctx.clock.now();
    let note = format!(
        "kill switch turned on by `longrun stop` at {}\n",
        crate::clock::format_timestamp(now)
    );
    let mut events = Vec::new();
    if cycle::set_kill_switch(&workspace, true, &note)? {
        ctx.ui.status(
            "kill switch on: `.longrun/STOP` exists, so cycles dispatch nothing (they still reap and merge finished work); `longrun resume` turns it off",
        );
        events.push(Event::new(
            now,
            EventKind::Decision,
            "kill switch on (`longrun stop`): cycles dispatch nothing",
        ));
    } else {
        ctx.ui
            .status("kill switch already on: `.longrun/STOP` exists, so cycles dispatch nothing");
    }

    let workers = cycle::cycle_workers(&workspace, now)
        .map_err(|error| CommandError::from_error(ErrorKind::User, &error))?;
    let mut status = ExitStatus::Success;
    if args.kill {
        let mut signalled: Vec<&CycleWorker> = Vec::new();
        let mut orphans = 0;
        for worker in &workers {
            match process::kill_worker(&worker.run_dir) {
                Ok(KillOutcome::SupervisorSignalled { pid }) => {
                    ctx.ui.status(&format!(
                        "stopping `{}` attempt {} (supervisor {pid})",
                        worker.task, worker.attempt
                    ));
                    signalled.push(worker);
                }
                Ok(KillOutcome::OrphanedAgentKilled { pgid }) => {
                    ctx.ui.status(&format!(
                        "killed what was left of `{}` attempt {} (process group {pgid}; its supervisor had died)",
                        worker.task, worker.attempt
                    ));
                    events.push(kill_event(now, worker));
                    orphans += 1;
                }
                Ok(KillOutcome::NotRunning) => {}
                Err(error) => {
                    ctx.ui.warn(&format!(
                        "cannot stop `{}`: {}",
                        worker.task,
                        CommandError::from_error(ErrorKind::User, &error).message
                    ));
                    status = ExitStatus::Negative;
                }
            }
        }
        if signalled.is_empty() && orphans == 0 {
            ctx.ui.status("no running workers to stop");
        }
        let give_up = Instant::now() + KILL_WAIT;
        for worker in signalled {
            let left = give_up.saturating_duration_since(Instant::now());
            match process::wait_for_worker(&worker.run_dir, left) {
                Ok(WorkerState::Running) => {
                    ctx.ui.warn(&format!(
                        "`{}`'s worker has not ended after {} s; it was asked to stop and will",
                        worker.task,
                        KILL_WAIT.as_secs()
                    ));
                    status = ExitStatus::Negative;
                }
                Ok(WorkerState::Finished(result)) if result.stopped_before_start => {
                    ctx.ui.status(&format!(
                        "stopped `{}` attempt {} before its agent started: the next cycle releases it without counting an attempt",
                        worker.task, worker.attempt
                    ));
                }
                Ok(_) => {
                    ctx.ui.status(&format!(
                        "stopped `{}` attempt {}: the next cycle records it as a failed attempt",
                        worker.task, worker.attempt
                    ));
                }
                Err(error) => {
                    ctx.ui.warn(&format!(
                        "cannot tell whether `{}` stopped: {}",
                        worker.task,
                        CommandError::from_error(ErrorKind::User, &error).message
                    ));
                    status = ExitStatus::Negative;
                }
            }
            events.push(kill_event(now, worker));
        }
    } else {
        let running = workers
            .iter()
            .filter(|worker| {
                matches!(
                    process::worker_state(&worker.run_dir),
                    Ok(WorkerState::Running)
                )
            })
            .count();
        if running > 0 {
            ctx.ui.hint(&format!(
                "{running} worker(s) still run and will be merged or rejected as usual; `longrun stop --kill` ends them"
            ));
        }
    }
    if !events.is_empty() && workspace.run_log().is_file() {
        ctx.append_events(&workspace, &events)?;
    }
    Ok(status)
}

fn kill_event(now: jiff::Timestamp, worker: &CycleWorker) -> Event {
    let event = Event::new(
        now,
        EventKind::Decision,
        format!(
            "worker of attempt {} stopped by `longrun stop --kill`",
            worker.attempt
        ),
    );
    match TaskId::parse(&worker.task) {
        Ok(task) => event.with_task(task),
        Err(_) => event,
    }
}
