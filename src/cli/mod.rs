//! clap types only: what the command line accepts. Arguments are typed (task ids, statuses,
//! durations); nothing here reads files or decides anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A git-native control plane for long-running coding-agent work.
#[derive(Debug, Parser)]
#[command(name = "longrun", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// More detail on stderr (-v, -vv); `RUST_LOG` also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and warnings on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to color stderr: auto, always, never (`NO_COLOR` is honoured).
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check checklist.yaml, plan.md and run-log.md for problems.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// Do not report tasks without validators (validation then passes vacuously: unsafe).
    #[arg(long)]
    pub allow_missing_validators: bool,
}
