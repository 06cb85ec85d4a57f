//! `longrun resume`: turns the kill switch off (removes `.longrun/STOP`), so cycles dispatch
//! ready tasks again; with `--new-run` also ends the current run (`.longrun/run.json`), so
//! the per-run budgets count again from the next dispatch. Idempotent.

use super::Context;
use crate::cli::ResumeArgs;
use crate::cycle;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::model::EventKind;
use crate::state::runlog::Event;

pub fn run(ctx: &Context, args: &ResumeArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    if args.new_run {
        end_run(ctx, &workspace)?;
    }
    if cycle::set_kill_switch(&workspace, false, "")? {
        ctx.ui.status(
            "kill switch off: `.longrun/STOP` removed, so the next cycle dispatches ready tasks again",
        );
        if workspace.run_log().is_file() {
            let event = Event::new(
                ctx.clock.now(),
                EventKind::Decision,
                "kill switch off (`longrun resume`): cycles dispatch again",
            );
            ctx.append_events(&workspace, &[event])?;
        }
    } else {
        ctx.ui
            .status("kill switch was not on (no `.longrun/STOP`): cycles already dispatch");
    }
    Ok(ExitStatus::Success)
}

/// Ends the current run under the cycle lock (a cycle writes the run record under it too),
/// waiting a little for a running cycle.
fn end_run(ctx: &Context, workspace: &crate::workspace::Workspace) -> Result<(), CommandError> {
    let cycle_error =
        |error: cycle::CycleError| CommandError::from_error(crate::error::ErrorKind::User, &error);
    let started = std::time::Instant::now();
    let _lock = loop {
        if let Some(lock) = cycle::try_cycle_lock(workspace).map_err(cycle_error)? {
            break lock;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            return Err(CommandError::user(
                "a cycle has held `.longrun/cycle.lock` for 30 s; run `longrun resume --new-run` again when it is done",
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let ended = crate::state::run::RunRecord::end(&workspace.state_dir())?;
    let text = if ended {
        "new run (`longrun resume --new-run`): the current run ended; per-run budgets count again from the next dispatch"
    } else {
        "no run was open (`longrun resume --new-run`): per-run budgets count from the next dispatch"
    };
    ctx.ui.status(text);
    if ended && workspace.run_log().is_file() {
        let event = Event::new(ctx.clock.now(), EventKind::Decision, text);
        ctx.append_events(workspace, &[event])?;
    }
    Ok(())
}
