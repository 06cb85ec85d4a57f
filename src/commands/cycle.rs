//! `longrun cycle`: one stateless pass. Exit 0, or 1 when a task is failed or blocked.

use super::Context;
use crate::cli::CycleArgs;
use crate::cycle::{self, CycleOptions, CycleReport};
use crate::error::{CommandError, ErrorKind};
use crate::exit::ExitStatus;
use crate::workspace::Workspace;

pub fn run(ctx: &Context, args: &CycleArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let options = cycle_options(
        ctx,
        workspace,
        args.max_parallel,
        args.dry_run,
        args.allow_missing_validators,
    )?;
    let report = cycle::run_cycle(&options).map_err(|error| {
        // A built-in secret pattern that does not compile is a bug in this build.
        let kind = match &error {
            cycle::CycleError::Policy(policy) if policy.is_internal() => ErrorKind::Internal,
            _ => ErrorKind::User,
        };
        CommandError::from_error(kind, &error)
    })?;
    print_report(ctx, &report, args.json);
    Ok(exit_status(&report))
}

/// The options every cycle-running command builds the same way.
pub fn cycle_options(
    ctx: &Context,
    workspace: Workspace,
    max_parallel: Option<u32>,
    dry_run: bool,
    allow_missing_validators: bool,
) -> Result<CycleOptions, CommandError> {
    let exe = std::env::current_exe().map_err(|error| {
        CommandError::user(format!("cannot find the longrun executable: {error}"))
    })?;
    Ok(CycleOptions {
        workspace,
        clock: ctx.clock,
        exe,
        caller_env: std::env::vars().collect(),
        host: host_name(),
        max_parallel,
        dry_run,
        allow_missing_validators,
        fault: fault_point(),
    })
}

/// Fault injection for the crash tests: only in builds with the test feature.
fn fault_point() -> Option<String> {
    if cfg!(feature = "fake-agent") {
        std::env::var("LONGRUN_FAULT")
            .ok()
            .filter(|v| !v.is_empty())
    } else {
        None
    }
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

pub fn exit_status(report: &CycleReport) -> ExitStatus {
    if report.stuck > 0 {
        ExitStatus::Negative
    } else {
        ExitStatus::Success
    }
}

pub fn print_report(ctx: &Context, report: &CycleReport, json: bool) {
    if json {
        ctx.ui.json(report);
        return;
    }
    if !report.ran {
        ctx.ui
            .status("another cycle is running (`.longrun/cycle.lock` is held); nothing to do");
        return;
    }
    for action in &report.actions {
        ctx.ui.status(&format!(
            "{}{action}",
            if report.dry_run { "would " } else { "" }
        ));
    }
    ctx.ui.status(&summary_line(report));
}

pub fn summary_line(report: &CycleReport) -> String {
    let mut parts = vec![format!("{}/{} complete", report.complete, report.total)];
    for (count, label) in [
        (report.merged.len(), "merged"),
        (report.rejected.len(), "rejected"),
        (report.failed.len(), "failed"),
        (report.blocked.len(), "blocked"),
        (report.deferred.len(), "deferred"),
        (report.dispatched.len(), "dispatched"),
        (report.running.len(), "running"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {label}"));
        }
    }
    if report.stopped {
        parts.push("kill switch on".to_string());
    }
    format!("SUMMARY: {}", parts.join(", "))
}
