//! `longrun schedule cron|systemd|loop [--every D]`: prints what makes something else run
//! `longrun cycle` every so often, with absolute paths (this executable, the repository).
//! The text goes to stdout, ready to install; how to install it goes to stderr.

use super::Context;
use super::r#loop::load_config;
use crate::cli::{ScheduleArgs, ScheduleKind};
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::schedule::{self, ScheduleInput};

pub fn run(ctx: &Context, args: &ScheduleArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let every = match args.every {
        Some(every) => every,
        None => load_config(&workspace)?.r#loop.interval,
    };
    let exe = std::env::current_exe().map_err(|error| {
        CommandError::user(format!("cannot find the longrun executable: {error}"))
    })?;
    let repo = std::path::absolute(&workspace.root)?;
    let input = ScheduleInput {
        exe: &exe,
        repo: &repo,
        every,
    };
    let built = match args.kind {
        ScheduleKind::Cron => schedule::cron(&input),
        ScheduleKind::Systemd => schedule::systemd(&input),
        ScheduleKind::Loop => schedule::loop_prompt(&input),
    }
    .map_err(|error| CommandError::user(error.to_string()))?;
    if args.kind == ScheduleKind::Cron {
        // The crontab line appends to `.longrun/cron.log`; the shell opens it before
        // longrun runs, so the folder must exist before the first run.
        let state_dir = workspace.state_dir();
        std::fs::create_dir_all(&state_dir).map_err(|source| crate::fsutil::FsError::Write {
            path: state_dir,
            source,
        })?;
    }
    ctx.ui.data(&built.text);
    for note in &built.notes {
        ctx.ui.warn(note);
    }
    match args.kind {
        ScheduleKind::Cron => {
            ctx.ui.hint(
                "install it with `(crontab -l 2>/dev/null; longrun schedule cron) | crontab -`",
            );
            ctx.ui.hint(
                "cron runs jobs with PATH=/usr/bin:/bin; if your agent CLIs live elsewhere, put a `PATH=...` line above it",
            );
        }
        ScheduleKind::Systemd => {
            ctx.ui
                .hint("save the two units as the comments say, then enable the timer");
        }
        ScheduleKind::Loop => {
            ctx.ui.hint(
                "paste it into a Claude Code session opened in the repository; `/loop` tasks end with the session",
            );
        }
    }
    Ok(ExitStatus::Success)
}
