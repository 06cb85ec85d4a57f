//! `longrun resume`: turns the kill switch off (removes `.longrun/STOP`), so cycles dispatch
//! ready tasks again. Idempotent.

use super::Context;
use crate::cli::ResumeArgs;
use crate::cycle;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::model::EventKind;
use crate::state::runlog::Event;

pub fn run(ctx: &Context, _args: &ResumeArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
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
