//! `longrun __supervise --spec FILE` (hidden): the detached supervisor process started by
//! `process::spawn_detached`. Installs the stop signals, runs the worker, and reports a
//! one-line summary on stderr (which `spawn_detached` points at `supervisor.log`).
//!
//! Exit 0 once `result.json` is written, whatever the agent did: the result is the answer.
//! Exit 2 when no result could be written (bad spec, busy or unusable run directory).

use super::Context;
use crate::cli::SuperviseArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::process::{self, NoopRenewer, SupervisorContext, WorkerSpec};

pub fn run(ctx: &Context, args: &SuperviseArgs) -> Result<ExitStatus, CommandError> {
    let spec_path = ctx.cwd.join(&args.spec);
    // Handlers first: a stop that arrives while the spec is read must not kill us before
    // the result is written.
    let stop = process::install_stop_signals()?;
    // This process has no children but the agent, so it can adopt and kill whatever the
    // agent orphans outside its group.
    let reap_escapees = process::become_subreaper()?;
    let spec = WorkerSpec::load(&spec_path)?;
    // Lease renewal arrives with the claims code; until then heartbeats renew nothing.
    let renewer = NoopRenewer;
    let context = SupervisorContext {
        clock: ctx.clock,
        renewer: &renewer,
        stop,
        reap_escapees,
        durable: true,
    };
    let result = process::run_supervisor(&spec, &context)?;
    let ending = match (&result.error, result.exit_code, result.signal) {
        (Some(error), _, _) => format!("not run: {error}"),
        (None, Some(code), _) => format!("exit {code}"),
        (None, None, Some(signal)) => format!("signal {signal}"),
        (None, None, None) => "unknown ending".to_string(),
    };
    ctx.ui.status(&format!(
        "supervised `{}`: {ending}{} in {} ms",
        spec.argv[0],
        if result.timed_out { " (timed out)" } else { "" },
        result.duration_ms
    ));
    Ok(ExitStatus::Success)
}
