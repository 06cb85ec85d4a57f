//! `longrun watch`: a cycle whenever a worker finishes or checklist.yaml changes, and at
//! least every `--every`, until SIGINT or SIGTERM (exit 130; workers keep running).
//!
//! File-system events come from `notify`; when watching cannot start (or with `--poll`)
//! it polls the same files every 200 ms instead. Everything else is `longrun loop`'s.

use super::Context;
use super::cycle::cycle_options;
use super::r#loop::{drive, finish, load_config};
use crate::cli::WatchArgs;
use crate::config::format_duration;
use crate::cycle::repeat::{PollWait, RepeatOptions, Wait};
use crate::cycle::watcher::NotifyWait;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::process;

pub fn run(ctx: &Context, args: &WatchArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let every = match args.every {
        Some(every) => every,
        None => load_config(&workspace)?.r#loop.interval,
    };
    let root = workspace.root.clone();
    let runs_dir = workspace.state_dir().join("runs");
    let options = cycle_options(ctx, workspace, args.max_parallel, false, false)?;
    let stop = process::install_interrupt_signals()?;
    let mut waiter: Box<dyn Wait> = if args.poll {
        ctx.ui
            .status("watch: polling `checklist.yaml` and the workers every 200 ms");
        Box::new(PollWait)
    } else {
        match NotifyWait::start(&root, &runs_dir) {
            Ok(waiter) => {
                ctx.ui
                    .status("watch: watching `checklist.yaml` and `.longrun/runs/` for changes");
                Box::new(waiter)
            }
            Err(error) => {
                let error = CommandError::from_error(crate::error::ErrorKind::User, &error);
                ctx.ui.warn(&format!(
                    "cannot watch files ({}); polling every 200 ms instead",
                    error.message
                ));
                Box::new(PollWait)
            }
        }
    };
    ctx.ui.status(&format!(
        "watch: {}; Ctrl-C stops after the current cycle",
        if every.is_zero() {
            "a cycle on every change".to_string()
        } else {
            format!(
                "a cycle on every change, and at least every {}",
                format_duration(every)
            )
        }
    ));
    let repeat_options = RepeatOptions {
        cycle: &options,
        every,
        until: None,
        max_cycles: None,
        watch_checklist: true,
    };
    let outcome = drive(ctx, &repeat_options, waiter.as_mut(), &stop, args.json);
    Ok(finish(ctx, "watch", &outcome, args.json))
}
