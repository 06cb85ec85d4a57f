//! clap types only: what the command line accepts. Arguments are typed (task ids, statuses,
//! event kinds); nothing here reads files or decides anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::state::model::{TaskId, TaskStatus};

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
    /// Create the memory files (plan.md, checklist.yaml, run-log.md), config and policy.
    Init(InitArgs),
    /// Check checklist.yaml, plan.md and run-log.md for problems.
    Check(CheckArgs),
    /// Which agent programs are installed, whether each profile can run, git, state files.
    Doctor(DoctorArgs),
    /// The 30-second view: counts, active, next, blocked, awaiting approval, last events.
    Status(StatusArgs),
    /// Ready tasks in file order: dependencies complete, not claimed.
    Next(NextArgs),
    /// One pass: reap and gate finished workers, dispatch ready tasks, write state, exit.
    Cycle(CycleArgs),
    /// Append an event to run-log.md.
    Log(LogArgs),
    /// Run the built-in example end to end, offline, in a temporary repository.
    Demo(DemoArgs),
    /// The demo's deterministic agent (used by `longrun demo`).
    #[command(name = "__demo-agent", hide = true)]
    DemoAgent,
    /// Show or change one task.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Internal: run one worker from its spec file (started detached by the cycle).
    #[command(hide = true, name = "__supervise")]
    Supervise(SuperviseArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Create a git repository first when the folder is not in one.
    #[arg(long)]
    pub git: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// Accept tasks without validators (they then pass vacuously: unsafe).
    #[arg(long)]
    pub allow_missing_validators: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NextArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// How many tasks to list.
    #[arg(short = 'n', long = "count", default_value_t = 10)]
    pub count: usize,
}

#[derive(Debug, Args)]
pub struct CycleArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// At most N workers at once (default: `max_parallel` in longrun.yaml).
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<u32>,
    /// Say what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Merge tasks without validators (unsafe: nothing proves them done; logged).
    #[arg(long)]
    pub allow_missing_validators: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Create the demo repository here (an empty or missing folder) instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Event kind: decision, evidence, failure, fix, note, claim, release, dispatch, merge,
    /// reject, approve, block, cost, cycle.
    pub kind: crate::state::model::EventKind,
    /// The task the event is about.
    #[arg(long)]
    pub task: Option<TaskId>,
    /// What happened (one line).
    pub message: String,
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Change a task's status and note in place (comments and layout are kept).
    Set(TaskSetArgs),
    /// Show one task.
    Show(TaskShowArgs),
}

#[derive(Debug, Args)]
pub struct TaskSetArgs {
    pub task: TaskId,
    /// New status.
    #[arg(long)]
    pub status: Option<TaskStatus>,
    /// New note (replaces the note).
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct TaskShowArgs {
    pub task: TaskId,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The worker spec (`<run_dir>/spec.json`) written by the cycle.
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
}
