//! One file per command. This module holds the only `match` on the command enum and the
//! context every command receives.

mod approve;
mod check;
mod claim;
mod claiming;
mod claims;
mod cycle;
mod demo;
mod doctor;
mod eval;
mod gc;
mod heartbeat;
mod import;
mod init;
mod log;
mod r#loop;
mod mine;
mod next;
mod plan;
mod plan_agent;
mod reject;
mod release;
mod resume;
mod schedule;
mod skill;
mod status;
mod stop;
mod supervise;
mod task;
mod watch;
mod why;

use std::path::PathBuf;

use crate::cli::{Cli, ColorArg, Command, EvalCommand, SkillCommand, TaskCommand};
use crate::clock::Clock;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::{ColorChoice, Ui};
use crate::state::checklist::{self, LoadOptions, LoadedChecklist, Problem};
use crate::workspace::Workspace;

/// What every command gets: the output, the clock, and where it runs.
pub struct Context {
    pub ui: Ui,
    pub clock: Clock,
    pub cwd: PathBuf,
}

/// Runs a parsed command line and returns its exit status.
pub fn run(cli: Cli) -> ExitStatus {
    let color_choice = match cli.global.color {
        ColorArg::Auto => ColorChoice::Auto,
        ColorArg::Always => ColorChoice::Always,
        ColorArg::Never => ColorChoice::Never,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ui = Ui::new(Ui::color_wanted(color_choice, no_color), cli.global.quiet);
    init_tracing(cli.global.verbose);
    let result = context(&cli, ui).and_then(|ctx| {
        let outcome = dispatch(&ctx, cli.command);
        if let Err(error) = &outcome {
            ctx.ui.error_line(&error.to_string());
        }
        outcome.or_else(|error| Ok(error.exit_status()))
    });
    match result {
        Ok(status) => status,
        Err(error) => {
            Ui::new(false, false).error_line(&error.to_string());
            error.exit_status()
        }
    }
}

fn dispatch(ctx: &Context, command: Command) -> Result<ExitStatus, CommandError> {
    match command {
        Command::Init(args) => init::run(ctx, &args),
        Command::Log(args) => log::run(ctx, &args),
        Command::Approve(args) => approve::run(ctx, &args),
        Command::Reject(args) => reject::run(ctx, &args),
        Command::Why(args) => why::run(ctx, &args),
        Command::Demo(args) => demo::run(ctx, &args),
        Command::DemoAgent => demo::agent(ctx),
        Command::Check(args) => check::run(ctx, &args),
        Command::Plan(args) => plan::run(ctx, &args),
        Command::Import(args) => import::run(ctx, &args),
        Command::Doctor(args) => doctor::run(ctx, &args),
        Command::Cycle(args) => cycle::run(ctx, &args),
        Command::Loop(args) => r#loop::run(ctx, &args),
        Command::Watch(args) => watch::run(ctx, &args),
        Command::Stop(args) => stop::run(ctx, &args),
        Command::Resume(args) => resume::run(ctx, &args),
        Command::Schedule(args) => schedule::run(ctx, &args),
        Command::Gc(args) => gc::run(ctx, &args),
        Command::Status(args) => status::run(ctx, &args),
        Command::Next(args) => next::run(ctx, &args),
        Command::Task(TaskCommand::Set(args)) => task::set(ctx, &args),
        Command::Task(TaskCommand::Show(args)) => task::show(ctx, &args),
        Command::Supervise(args) => supervise::run(ctx, &args),
        Command::Claim(args) => claim::run(ctx, &args),
        Command::Heartbeat(args) => heartbeat::run(ctx, &args),
        Command::Release(args) => release::run(ctx, &args),
        Command::Claims(args) => claims::run(ctx, &args),
        Command::Mine(args) => mine::run(ctx, &args),
        Command::Skill(SkillCommand::New(args)) => skill::new(ctx, &args),
        Command::Skill(SkillCommand::List(args)) => skill::list(ctx, &args),
        Command::Skill(SkillCommand::Check(args)) => skill::check(ctx, &args),
        Command::Eval(EvalCommand::List(args)) => eval::list(ctx, &args),
        Command::Eval(EvalCommand::Show(args)) => eval::show(ctx, &args),
        Command::Eval(EvalCommand::Run(args)) => eval::run(ctx, &args),
    }
}

fn context(cli: &Cli, ui: Ui) -> Result<Context, CommandError> {
    let clock =
        Clock::from_setting(std::env::var("LONGRUN_NOW").ok().as_deref()).map_err(|error| {
            CommandError::user(format!("`LONGRUN_NOW` is not a timestamp: {error}"))
        })?;
    let cwd = match &cli.global.directory {
        Some(directory) => std::path::absolute(directory)?,
        None => std::env::current_dir()?,
    };
    Ok(Context { ui, clock, cwd })
}

/// Debug logging only when asked for, so a plain command pays nothing for it.
fn init_tracing(verbose: u8) {
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    let filter = match (from_env, verbose) {
        (Some(filter), _) => filter,
        (None, 0) => return,
        (None, 1) => "longrun=debug".to_string(),
        (None, _) => "longrun=trace".to_string(),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

impl Context {
    /// The workspace around the working directory.
    pub fn workspace(&self) -> Result<Workspace, CommandError> {
        Workspace::discover(&self.cwd).or_else(|error| {
            // A task's worktree is checked out from a branch that may not carry the state
            // files (they are often uncommitted): ask git for the primary checkout.
            crate::git::claims::primary_checkout(&self.cwd)
                .ok()
                .filter(|primary| {
                    primary.join("checklist.yaml").is_file()
                        || primary.join("longrun.yaml").is_file()
                })
                .map(Workspace::at)
                .ok_or_else(|| {
                    CommandError::user(error.to_string())
                        .with_hint("run `longrun init` in the repository first")
                })
        })
    }

    /// The claim settings: longrun.yaml's `claims:` (mode, remote, lease). A missing
    /// longrun.yaml means the defaults (local claims, 15m leases).
    pub fn claim_settings(
        &self,
        workspace: &Workspace,
    ) -> Result<claiming::ClaimSettings, CommandError> {
        // Warnings (unknown keys) are `longrun check`'s to report; repeating them on every
        // claim and heartbeat would bury the output that matters.
        let claims =
            crate::config::Config::load_claims(&workspace.config(), &workspace.claims_cache())
                .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
        let mode = match claims.mode {
            crate::config::ClaimMode::Local => claiming::ClaimMode::Local,
            crate::config::ClaimMode::Git => claiming::ClaimMode::Git {
                remote: claims.remote,
            },
        };
        Ok(claiming::ClaimSettings {
            mode,
            lease: claims.lease,
        })
    }

    /// Loads checklist.yaml (through the snapshot) and requires run-log.md to exist.
    pub fn load_checklist(&self, workspace: &Workspace) -> Result<LoadedChecklist, CommandError> {
        require_run_log(workspace)?;
        let loaded = checklist::load(&workspace.checklist(), &snapshot_options(workspace))?;
        Ok(loaded)
    }

    /// Loads only the overview of checklist.yaml (ids, titles, statuses, ready set,
    /// problems): what read commands need, a fraction of the snapshot to decode.
    pub fn load_overview(
        &self,
        workspace: &Workspace,
    ) -> Result<checklist::LoadedOverview, CommandError> {
        require_run_log(workspace)?;
        let loaded =
            checklist::load_overview(&workspace.checklist(), &snapshot_options(workspace))?;
        Ok(loaded)
    }

    /// Appends events to run-log.md in one write, under its lock.
    pub fn append_events(
        &self,
        workspace: &Workspace,
        events: &[crate::state::runlog::Event],
    ) -> Result<(), CommandError> {
        crate::state::runlog::append_events(
            &workspace.run_log(),
            &workspace.run_log_lock(),
            events,
        )?;
        Ok(())
    }

    /// Refuses to act on a checklist with problems that make acting unsafe.
    pub fn require_actionable(&self, loaded: &LoadedChecklist) -> Result<(), CommandError> {
        let problems = loaded.checklist.validate(checklist::ValidateOptions {
            allow_missing_validators: true,
        });
        refuse_unsafe(&loaded.path, problems)
    }

    /// [`Context::require_actionable`] from the overview (the problems are stored in it).
    pub fn require_actionable_overview(
        &self,
        loaded: &checklist::LoadedOverview,
    ) -> Result<(), CommandError> {
        let problems = loaded.overview.problems(checklist::ValidateOptions {
            allow_missing_validators: true,
        });
        refuse_unsafe(&loaded.path, problems)
    }
}

/// Refuses to act when any of `problems` makes acting unsafe, naming each (up to ten).
fn refuse_unsafe(path: &std::path::Path, problems: Vec<Problem>) -> Result<(), CommandError> {
    let blocking: Vec<Problem> = problems
        .into_iter()
        .filter(Problem::blocks_action)
        .collect();
    if blocking.is_empty() {
        return Ok(());
    }
    let mut error = CommandError::user(format!(
        "`{}` has {} problem(s) that make acting on it unsafe; nothing was changed",
        path.display(),
        blocking.len()
    ));
    for problem in blocking.iter().take(10) {
        error = error.with_cause(format!(
            "{}:{}:{}: {}",
            path.display(),
            problem.line,
            problem.column,
            problem.message
        ));
    }
    Err(error.with_hint("run `longrun check` for the full list"))
}

fn snapshot_options(workspace: &Workspace) -> LoadOptions {
    LoadOptions {
        snapshot_path: Some(workspace.checklist_snapshot()),
    }
}

/// Every command that reads the state needs the run log too: a missing one is an error
/// that names it, before anything else happens.
fn require_run_log(workspace: &Workspace) -> Result<(), CommandError> {
    let run_log = workspace.run_log();
    if run_log.is_file() {
        return Ok(());
    }
    Err(
        CommandError::user(format!("{}:1:1: the run log is missing", run_log.display()))
            .with_hint("`longrun init` creates it without touching the other files"),
    )
}

/// `by=agent` for an event written from inside a worker (`LONGRUN_TASK_ID` is set, as the
/// cycle sets it for every agent it starts), so that `longrun mine` can tell it from a
/// person's; `None` otherwise, leaving a person's event as the playbook writes it.
fn worker_marker() -> Option<(crate::state::runlog::FieldKey, &'static str)> {
    let in_worker = std::env::var_os("LONGRUN_TASK_ID").is_some_and(|value| !value.is_empty());
    let key = crate::state::runlog::FieldKey::parse(crate::mine::BY_FIELD).ok()?;
    in_worker.then_some((key, crate::mine::BY_AGENT))
}
