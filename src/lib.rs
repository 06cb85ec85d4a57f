//! longrun: a git-native control plane for long-running coding-agent work.
//!
//! The binary is a thin wrapper around [`run`]. Layers, one way: `cli` (clap types) →
//! `commands` (validate, call the domain, print through `output`) → domain modules
//! (`state`, `git`, `process`) that never print and never read argv or the environment.

pub mod agents;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod demo;
pub mod error;
pub mod eval;
pub mod exit;
pub mod fsutil;
pub mod gate;
pub mod gc;
pub mod git;
pub mod import;
pub mod launch;
pub mod mine;
pub mod oneshot;
pub mod output;
pub mod parallel;
pub mod plan;
pub mod planner;
pub mod policy;
pub mod process;
pub mod prompt;
pub mod scaffold;
pub mod schedule;
pub mod skills;
pub mod state;
pub mod templates;
pub mod workspace;

use std::ffi::OsString;

use crate::exit::ExitStatus;

/// Runs one `longrun` invocation and returns its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> std::process::ExitCode {
    let cli = match parse_args(args) {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout and usage errors to stderr.
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitStatus::Success.into()
                }
                _ => ExitStatus::Error.into(),
            };
        }
    };
    commands::run(cli).into()
}

/// `Cli::try_parse_from`, without freeing the command definition afterwards: it is built
/// for every subcommand (thousands of allocations) and freeing it took a quarter of a
/// millisecond, a sixth of a short command's whole run. It is needed until the process
/// exits anyway when an error is shown, and is never built twice.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<cli::Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = cli::Cli::command();
    let parsed = command
        .try_get_matches_from_mut(args)
        .and_then(|matches| cli::Cli::from_arg_matches(&matches))
        .map_err(|error| error.format(&mut command));
    std::mem::forget(command);
    parsed
}
