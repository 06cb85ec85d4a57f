//! clap types only: what the command line accepts. Arguments are typed (task ids, statuses,
//! event kinds); nothing here reads files or decides anything.

mod duration;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use duration::{Duration, DurationError};

use crate::state::claims::ClaimToken;
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

// Each subcommand's arguments are built only when it is the one run: building all of
// them took most of a short command's parse time.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create the memory files (plan.md, checklist.yaml, run-log.md), config and policy.
    Init(InitArgs),
    /// Check checklist.yaml, plan.md and run-log.md for problems.
    Check(CheckArgs),
    /// Turn a PRD (Markdown) into tasks in checklist.yaml; planning again keeps ids.
    Plan(PlanArgs),
    /// Import tasks from Taskmaster, ralph, a feature list or Backlog.md.
    Import(ImportArgs),
    /// Which agent programs are installed, whether each profile can run, git, state files.
    Doctor(DoctorArgs),
    /// The 30-second view: counts, active, next, blocked, awaiting approval, last events.
    Status(StatusArgs),
    /// Ready tasks in file order (dependencies complete, not claimed), then stale claims.
    Next(NextArgs),
    /// One pass: reap and gate finished workers, dispatch ready tasks, write state, exit.
    Cycle(CycleArgs),
    /// Run cycles until the work is done, each after a worker finishes or `--every` passes.
    Loop(LoopArgs),
    /// Run a cycle when a worker finishes or checklist.yaml changes, at least every `--every`.
    Watch(WatchArgs),
    /// Turn the kill switch on: cycles dispatch nothing (`--kill` also ends running workers).
    Stop(StopArgs),
    /// Turn the kill switch off: cycles dispatch again.
    Resume(ResumeArgs),
    /// Print a crontab line, systemd units or a Claude Code `/loop` prompt that runs cycles.
    Schedule(ScheduleArgs),
    /// Remove old run artifacts, leftover task worktrees and merged task branches.
    Gc(GcArgs),
    /// Append an event to run-log.md.
    Log(LogArgs),
    /// Approve a task held for a person: its dispatch, or its validated candidate's merge.
    Approve(ApproveArgs),
    /// Reject a task held for a person: the candidate goes back with the reason.
    Reject(RejectArgs),
    /// The full story of one task: claims, attempts, validators, reviews, approvals, and
    /// what would unblock it.
    Why(WhyArgs),
    /// Run the built-in example end to end, offline, in a temporary repository.
    Demo(DemoArgs),
    /// The demo's deterministic agent (used by `longrun demo`).
    #[command(name = "__demo-agent", hide = true)]
    DemoAgent,
    /// Show or change one task.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Claim one task for a worker: its lock file in `current_tasks/`, status `in_progress`.
    Claim(ClaimArgs),
    /// Renew the lease of a claim held with TOKEN.
    Heartbeat(HeartbeatArgs),
    /// End a claim held with TOKEN (or clear a dead or corrupt one with `--force`).
    Release(ReleaseArgs),
    /// Every claim: holder, host, pid, age, lease left, stale or corrupt.
    Claims(ClaimsArgs),
    /// Find repeated failures, fixes and interventions in the run log; propose skills, evals
    /// and AGENTS.md lessons under `.longrun/proposals/`.
    Mine(MineArgs),
    /// Agent Skills in `skills_dir` (default `.agents/skills/`): create, list, check.
    #[command(subcommand)]
    Skill(SkillCommand),
    /// Eval tasks in `evals/`: list, show, replay with agent profiles.
    #[command(subcommand)]
    Eval(EvalCommand),
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
pub struct PlanArgs {
    /// The product requirements document to read (Markdown).
    #[arg(long, value_name = "FILE")]
    pub prd: PathBuf,
    /// Let this agent profile (from longrun.yaml) write plan.md, checklist.yaml and
    /// run-log.md from the PRD in a scratch worktree; they replace yours only if they pass
    /// `longrun check`.
    #[arg(long, value_name = "PROFILE")]
    pub agent: Option<String>,
    /// Print the diff of checklist.yaml (with --agent: of every file); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file is.
    pub format: ImportFormat,
    /// The file (or, for `backlog`, the `backlog/` or `backlog/tasks/` folder).
    pub file: PathBuf,
    /// Print the diff of checklist.yaml; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Formats `longrun import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// Taskmaster's `.taskmaster/tasks/tasks.json` (tagged or untagged).
    Taskmaster,
    /// The ralph loop's `prd.json` (`userStories`).
    Ralph,
    /// The autonomous-coding harness's `feature_list.json`.
    FeatureList,
    /// A Backlog.md `backlog/tasks/` folder of Markdown files.
    Backlog,
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
pub struct LoopArgs {
    /// Pause between cycles, cut short when a worker finishes; `0` runs cycles back to back,
    /// still waiting for workers (default: `loop.interval` in longrun.yaml).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub every: Option<std::time::Duration>,
    /// Stop when every task is done or nothing can make progress (`done`), or also at the
    /// first failed or blocked task (`blocked`).
    #[arg(long, value_name = "WHEN", default_value = "done")]
    pub until: UntilArg,
    /// Stop after N cycles.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_cycles: Option<u32>,
    /// At most N workers at once (default: `max_parallel` in longrun.yaml).
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<u32>,
    /// Print each cycle's report as one JSON line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UntilArg {
    Done,
    Blocked,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Run a cycle at least this often (default: `loop.interval` in longrun.yaml).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub every: Option<std::time::Duration>,
    /// At most N workers at once (default: `max_parallel` in longrun.yaml).
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<u32>,
    /// Poll files every 200 ms instead of using file-system events (network file systems).
    #[arg(long)]
    pub poll: bool,
    /// Print each cycle's report as one JSON line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Also end the running workers (their attempts are recorded as failed by the next cycle).
    #[arg(long)]
    pub kill: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Also end the current run, so the per-run budgets (`budgets.per_run` in longrun.yaml)
    /// count again from the next dispatch; use it after a per-run budget stopped dispatch.
    #[arg(long)]
    pub new_run: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What to print: a crontab line, a systemd user service and timer, or a `/loop` prompt.
    #[arg(value_name = "KIND")]
    pub kind: ScheduleKind,
    /// How often to run a cycle (default: `loop.interval` in longrun.yaml).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub every: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleKind {
    Cron,
    Systemd,
    Loop,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Remove run artifacts older than this.
    #[arg(long, value_name = "DURATION", value_parser = duration_arg, default_value = "14d")]
    pub older_than: std::time::Duration,
    /// Say what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove worktrees with uncommitted changes and branches with commits not on the
    /// target branch (that work is lost).
    #[arg(long)]
    pub force: bool,
    /// Print the decisions as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Durations as longrun.yaml writes them: `90s`, `10m`, `1h30m`, `14d`, `0`.
fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    if text.trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    crate::config::parse_duration(text).map_err(|error| error.to_string())
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

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The task waiting for approval.
    pub task: TaskId,
    /// Why it is approved (recorded with the approval).
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The task.
    pub task: TaskId,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    /// The task waiting for approval.
    pub task: TaskId,
    /// What is wrong: the next attempt gets it as evidence.
    #[arg(long)]
    pub reason: String,
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

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// The task to claim. A task whose claim is stale (lease over, holder gone) is taken over.
    #[arg(required_unless_present = "next", conflicts_with = "next")]
    pub task: Option<TaskId>,
    /// Claim the first ready task in file order (then, if none, the first stale claim).
    #[arg(long)]
    pub next: bool,
    /// Who claims: an agent or a person. Defaults to `$LONGRUN_WORKER`.
    #[arg(long, value_name = "NAME")]
    pub worker: Option<String>,
    /// How long the claim lives without a heartbeat, e.g. `90s`, `15m`, `1h30m`
    /// [default: `claims.lease` in longrun.yaml, 15m].
    #[arg(long, value_name = "DURATION")]
    pub lease: Option<Duration>,
    /// Print the claim as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep the claim's OS lock (and renew its lease) while CMD runs; CMD is given after
    /// `--` as argv, never through a shell.
    #[arg(long, requires = "command")]
    pub hold: bool,
    /// The command `--hold` runs.
    #[arg(last = true, value_name = "CMD", requires = "hold")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    /// The claimed task.
    pub task: TaskId,
    /// The claim's token, as `longrun claim` printed it.
    #[arg(long, value_name = "TOKEN")]
    pub token: ClaimToken,
    /// The new lease, from now [default: `claims.lease` in longrun.yaml, 15m].
    #[arg(long, value_name = "DURATION")]
    pub lease: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The claimed task.
    pub task: TaskId,
    /// The claim's token; a token that is not the current claim's is refused.
    #[arg(
        long,
        value_name = "TOKEN",
        required_unless_present = "force",
        conflicts_with = "force"
    )]
    pub token: Option<ClaimToken>,
    /// The task's status afterwards [default: not_started].
    #[arg(long, value_name = "STATUS")]
    pub status: Option<ReleaseStatus>,
    /// Delete the claim file whatever it holds (a corrupt file, a holder known to be dead).
    /// Logged.
    #[arg(long)]
    pub force: bool,
}

/// The statuses a release may leave a task in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReleaseStatus {
    /// Done (only with the current token: fencing).
    #[value(name = "complete")]
    Complete,
    /// Given up.
    #[value(name = "failed")]
    Failed,
    /// Back in the queue.
    #[value(name = "not_started")]
    NotStarted,
}

impl ReleaseStatus {
    pub fn task_status(self) -> TaskStatus {
        match self {
            ReleaseStatus::Complete => TaskStatus::Complete,
            ReleaseStatus::Failed => TaskStatus::Failed,
            ReleaseStatus::NotStarted => TaskStatus::NotStarted,
        }
    }
}

#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MineArgs {
    /// Only events and task-note lines at or after DATE (`2026-11-21` or
    /// `2026-11-21T09:00:00Z`).
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<jiff::Timestamp>,
    /// Only one run (the `<ID>` of `.longrun/runs/<ID>/`): the tasks and attempts its folder
    /// holds, their events from the run's start to their next run, and what people did.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Let this agent profile (from longrun.yaml) rewrite the proposals' prose (skill
    /// descriptions and bodies, guidelines); what fails the Agent Skills checks keeps the
    /// deterministic draft.
    #[arg(long, value_name = "PROFILE", conflicts_with = "apply")]
    pub agent: Option<String>,
    /// Install proposals (what is left of them after review) instead of mining: the newest,
    /// or those --from names.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: the proposals to install, by timestamp (a folder of
    /// `.longrun/proposals/`) or path, instead of the newest.
    #[arg(long, value_name = "DIR", requires = "apply")]
    pub from: Option<PathBuf>,
    /// With --apply: overwrite existing skills and evals, and add new lessons to AGENTS.md's
    /// lessons section when it has one.
    #[arg(long, requires = "apply")]
    pub force: bool,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_since(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Ok(timestamp);
    }
    text.parse::<jiff::civil::Date>()
        .map_err(|error| format!("not a date or timestamp: {error}"))
        .and_then(|date| {
            date.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|zoned| zoned.timestamp())
                .map_err(|error| error.to_string())
        })
}

#[derive(Debug, Subcommand)]
pub enum SkillCommand {
    /// Create `<skills_dir>/NAME/SKILL.md` from a template (`skills_dir` in longrun.yaml,
    /// default `.agents/skills`).
    New(SkillNewArgs),
    /// List the skills with their name, description, path and validity.
    List(SkillListArgs),
    /// Check skills against the Agent Skills rules; exit 1 on any violation.
    Check(SkillCheckArgs),
}

#[derive(Debug, Args)]
pub struct SkillNewArgs {
    /// 1-64 lowercase letters, digits and single hyphens.
    pub name: crate::skills::SkillName,
    /// What the skill does and when to use it: at most 1024 characters, no `---`. A longer
    /// one or one with `---` is refused, never cut or rewritten.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct SkillListArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillCheckArgs {
    /// Skill directories (default: every one in the skills folder, `skills_dir` in
    /// longrun.yaml).
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// List the evals in `evals/`.
    List(EvalListArgs),
    /// Show one eval.
    Show(EvalShowArgs),
    /// Replay evals with agent profiles in scratch worktrees and compare pass rates.
    ///
    /// First each eval's validators run once at its base commit: when all of them already
    /// pass there, the eval proves nothing (vacuous), its attempts are not run and count as
    /// `vacuous`, never as passes. An attempt passes only when the agent did not fail by its
    /// own account (the cycle's rule: timed out, exited non-zero, killed, or reported a
    /// failure), changed something (a commit or a file) and then every validator exits 0.
    /// Results go to `.longrun/evals/<run>/results.json`; exit 1 when any attempt did not
    /// pass.
    Run(EvalRunArgs),
}

#[derive(Debug, Args)]
pub struct EvalListArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalShowArgs {
    pub id: crate::skills::SkillName,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalRunArgs {
    /// Evals to run (default: all).
    #[arg(value_name = "ID")]
    pub ids: Vec<crate::skills::SkillName>,
    /// Agent profile from longrun.yaml; repeat to compare (default: the default profile).
    #[arg(long = "agent", value_name = "PROFILE")]
    pub agents: Vec<String>,
    /// Attempts per eval and profile.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}
