//! `longrun plan --prd FILE --agent PROFILE`: the planner agent writes plan.md,
//! checklist.yaml and run-log.md from the PRD in a scratch worktree ([`crate::planner`]);
//! what it wrote is held to `longrun check`'s checks and to the rules no planner may break
//! (the run log only grows, no task disappears, no task's status moves), its diff is shown,
//! and only then does it replace the user's files, each under its lock and only if the user
//! did not change it meanwhile. A result that fails replaces nothing: the findings are
//! printed, the scratch worktree is kept, and the exit status is 1.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Context;
use crate::cli::PlanArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::fsutil;
use crate::plan::diff::unified_diff;
use crate::planner::{self, PlanFile, PlannerOptions};
use crate::state::checklist::{self, Checklist, LoadOptions, Problem, validate::Severity};
use crate::state::model::{EventKind, TaskStatus};
use crate::state::runlog::{Event, FieldKey};
use crate::workspace::Workspace;

#[derive(Serialize)]
struct JsonReport<'a> {
    source: &'a str,
    agent: &'a str,
    dry_run: bool,
    /// The files written into the workspace.
    replaced: &'a [&'a str],
    files: Vec<JsonFile<'a>>,
    tasks: usize,
    added: &'a [String],
    check: JsonCheck<'a>,
    /// The agent's prompt and output.
    run_dir: String,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    name: &'a str,
    changed: bool,
    diff: String,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    errors: usize,
    warnings: usize,
    problems: &'a [Problem],
    file_warnings: &'a [String],
}

/// What the checks found in the planner's files.
#[derive(Default)]
struct Findings {
    /// `path:line:column: message` lines that refuse the result.
    errors: Vec<String>,
    /// Shown, never refusing.
    warnings: Vec<String>,
    /// The checklist's own problems (both severities), for `--json`.
    problems: Vec<Problem>,
    /// The planner's checklist, parsed, when it read.
    parsed: Option<Checklist>,
    /// Ids of tasks the planner added.
    added: Vec<String>,
}

pub fn run(
    ctx: &Context,
    workspace: &Workspace,
    args: &PlanArgs,
    agent: &str,
) -> Result<ExitStatus, CommandError> {
    let (config, _warnings) = crate::config::Config::load(&workspace.config())
        .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    let Some(profile) = config.profile(agent) else {
        let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
        return Err(
            CommandError::user(format!("no agent profile `{agent}` in `longrun.yaml`"))
                .with_hint(format!("profiles: {}", known.join(", "))),
        );
    };
    let (prd_path, prd_text, source) = super::plan::read_prd(ctx, workspace, args)?;
    let prd_path = std::path::absolute(&prd_path).unwrap_or(prd_path);
    let before = planner::read_plan_files(&workspace.root)?;
    let out_dir = fresh_dir(&workspace.state_dir().join("plans"), ctx);
    let shown = |path: &Path| relative(workspace, path);
    ctx.ui.status(&format!(
        "planning `{source}` with agent `{agent}` in a scratch worktree under `{}`",
        shown(&out_dir)
    ));
    let caller_env: Vec<(String, String)> = std::env::vars().collect();
    let planned = planner::run_planner(
        &PlannerOptions {
            primary: &workspace.root,
            prd: &prd_path,
            prd_text: &prd_text,
            out_dir: &out_dir,
            name: agent,
            profile,
            config: &config,
            caller_env: &caller_env,
            clock: ctx.clock,
        },
        &before,
    )
    .map_err(|error| {
        CommandError::from_error(crate::error::ErrorKind::User, &error)
            .with_hint(format!("what the planner left is in `{}`", shown(&out_dir)))
    })?;
    let worktree = shown(&planned.worktree);
    let run_dir = shown(&out_dir.join("run"));
    if let Some(failure) = &planned.run.failure {
        return Err(CommandError::negative(format!(
            "{failure}; nothing was replaced"
        ))
        .with_cause(format!(
            "its output: `{}`, `{}`",
            shown(&planned.run.stdout_log),
            shown(&planned.run.stderr_log)
        ))
        .with_hint(format!(
            "the scratch worktree is kept at `{worktree}`; remove it with `git worktree remove --force {worktree}`"
        )));
    }
    if !planned.files.iter().any(PlanFile::changed) {
        let _ = planner::remove_scratch(&workspace.root, &planned.worktree);
        return Err(CommandError::negative(format!(
            "agent `{agent}` changed none of plan.md, checklist.yaml and run-log.md; nothing was replaced"
        ))
        .with_hint(format!("its output is in `{run_dir}`")));
    }

    let policy = super::check::load_policy(&workspace.root)?;
    let mut findings = check_files(&planned.files, &planned.worktree, &policy);
    let diffs: Vec<(&str, bool, String)> = planned
        .files
        .iter()
        .map(|file| {
            let diff = unified_diff(
                file.name,
                file.before.as_deref().unwrap_or(""),
                file.after.as_deref().unwrap_or(""),
            );
            (file.name, file.changed(), diff)
        })
        .collect();

    if !findings.errors.is_empty() {
        // The first errors go with the error itself; the rest, and the warnings, before it.
        const SHOWN: usize = 10;
        for line in findings.errors.iter().skip(SHOWN).chain(&findings.warnings) {
            ctx.ui.status(line);
        }
        let mut error = CommandError::negative(format!(
            "what agent `{agent}` planned fails {} check(s); nothing was replaced",
            findings.errors.len()
        ));
        for line in findings.errors.iter().take(SHOWN) {
            error = error.with_cause(line.clone());
        }
        return Err(error.with_hint(format!(
            "the planner's files are kept in `{worktree}` (its output in `{run_dir}`); fix and copy them yourself, or plan again"
        )));
    }

    let tasks = findings
        .parsed
        .as_ref()
        .map_or(0, |checklist| checklist.tasks.len());
    // Only the files the planner changed are replaced, and only when the user did not change
    // them while it ran.
    let mut replaced: Vec<&str> = Vec::new();
    if !args.dry_run {
        let now = planner::read_plan_files(&workspace.root)?;
        for (file, current) in planned.files.iter().zip(&now) {
            if file.changed() && *current != file.before {
                return Err(CommandError::negative(format!(
                    "`{}` changed while the planner ran; nothing was replaced",
                    file.name
                ))
                .with_hint(format!(
                    "the planner's files are kept in `{worktree}`; plan again, or merge them by hand"
                )));
            }
        }
        for file in planned.files.iter().filter(|file| file.changed()) {
            let Some(after) = &file.after else {
                continue;
            };
            let parsed = if file.name == "checklist.yaml" {
                findings.parsed.take()
            } else {
                None
            };
            let written = replace(workspace, file, after, parsed)
                .map_err(|error| partial(error, &replaced, &worktree))?;
            if !written {
                return Err(partial(
                    CommandError::negative(format!(
                        "`{}` changed while the planner's result was being written",
                        file.name
                    )),
                    &replaced,
                    &worktree,
                ));
            }
            replaced.push(file.name);
        }
        let mut text = format!(
            "plan: `{source}` planned by agent `{agent}`: replaced {}; {} task(s) added",
            replaced
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
            findings.added.len()
        );
        if findings.added.is_empty() {
            text.push_str(" (none)");
        }
        let mut event = Event::new(ctx.clock.now(), EventKind::Note, text);
        if let Ok(key) = FieldKey::parse("agent") {
            event = event.with_field(key, agent.to_string());
        }
        ctx.append_events(workspace, &[event])?;
        let _ = planner::remove_scratch(&workspace.root, &planned.worktree);
    } else {
        let _ = planner::remove_scratch(&workspace.root, &planned.worktree);
    }

    let errors = findings.errors.len();
    let warnings = findings.warnings.len();
    if args.json {
        ctx.ui.json(&JsonReport {
            source: &source,
            agent,
            dry_run: args.dry_run,
            replaced: &replaced,
            files: diffs
                .into_iter()
                .map(|(name, changed, diff)| JsonFile {
                    name,
                    changed,
                    diff,
                })
                .collect(),
            tasks,
            added: &findings.added,
            check: JsonCheck {
                errors,
                warnings,
                problems: &findings.problems,
                file_warnings: &findings.warnings,
            },
            run_dir,
        });
        return Ok(ExitStatus::Success);
    }
    let mut out = String::new();
    for (_, _, diff) in &diffs {
        out.push_str(diff);
    }
    ctx.ui.data(&out);
    for line in &findings.warnings {
        ctx.ui.status(line);
    }
    let changed: Vec<&str> = diffs
        .iter()
        .filter(|(_, changed, _)| *changed)
        .map(|(name, _, _)| *name)
        .collect();
    ctx.ui.status(&format!(
        "SUMMARY: agent `{agent}` planned {tasks} task(s) ({} new) and changed {}; check: {errors} error(s), {warnings} warning(s)",
        findings.added.len(),
        changed.join(", ")
    ));
    if args.dry_run {
        ctx.ui.status(&format!(
            "dry run: nothing was replaced (the agent's output is in `{run_dir}`)"
        ));
    } else {
        ctx.ui.status(&format!(
            "replaced {}; the agent's prompt and output are in `{run_dir}`",
            replaced.join(", ")
        ));
    }
    Ok(ExitStatus::Success)
}

/// Holds the planner's files to `longrun check`'s checks and to the planner's own rules.
/// Paths in the findings are the scratch worktree's, where the files can be read.
fn check_files(files: &[PlanFile], worktree: &Path, policy: &crate::policy::Policy) -> Findings {
    let mut findings = Findings::default();
    let file = |name: &str| files.iter().find(|file| file.name == name);
    for plan_file in files {
        if plan_file.before.is_some() && plan_file.after.is_none() {
            findings.errors.push(format!(
                "{}:1:1: error: the planner deleted `{}`",
                worktree.join(plan_file.name).display(),
                plan_file.name
            ));
        }
    }

    let checklist_path = worktree.join("checklist.yaml");
    let shown = checklist_path.display().to_string();
    match file("checklist.yaml").and_then(|file| file.after.as_deref()) {
        None => findings
            .errors
            .push(format!("{shown}:1:1: error: there is no checklist")),
        Some(text) => match Checklist::parse(&checklist_path, text) {
            Err(error) => findings.errors.push(format!("{error}")),
            Ok(parsed) => {
                let problems = super::check::checklist_problems(&parsed, policy, false);
                for problem in &problems {
                    let line = format!(
                        "{shown}:{}:{}: {}: {}",
                        problem.line,
                        problem.column,
                        match problem.severity {
                            Severity::Error => "error",
                            Severity::Warning => "warning",
                        },
                        problem.message
                    );
                    match problem.severity {
                        Severity::Error => findings.errors.push(line),
                        Severity::Warning => findings.warnings.push(line),
                    }
                }
                findings.problems = problems;
                let before = file("checklist.yaml")
                    .and_then(|file| file.before.as_deref())
                    .and_then(|text| Checklist::parse(Path::new("checklist.yaml"), text).ok());
                compare_tasks(before.as_ref(), &parsed, &shown, &mut findings);
                findings.parsed = Some(parsed);
            }
        },
    }

    let run_log_path = worktree.join("run-log.md");
    let shown = run_log_path.display().to_string();
    match file("run-log.md").and_then(|file| file.after.as_deref()) {
        None => findings
            .errors
            .push(format!("{shown}:1:1: error: there is no run log")),
        Some(after) => {
            let before = file("run-log.md")
                .and_then(|file| file.before.as_deref())
                .unwrap_or("");
            if let Err(message) = planner::run_log_kept(before, after) {
                findings.errors.push(format!("{shown}:{message}"));
            }
            let parsed = crate::state::runlog::parse(after);
            findings
                .warnings
                .extend(super::check::run_log_warnings(&run_log_path, &parsed));
        }
    }
    findings
}

/// No task of the checklist as it was may disappear or change status, and a new task starts
/// `not_started`: an agent's word never moves a task (only validators, policy and people
/// do).
fn compare_tasks(
    before: Option<&Checklist>,
    after: &Checklist,
    shown: &str,
    findings: &mut Findings,
) {
    let old: HashMap<&str, Option<TaskStatus>> = before
        .map(|checklist| {
            checklist
                .tasks
                .iter()
                .map(|task| (task.task_id.as_str(), task.status.effective()))
                .collect()
        })
        .unwrap_or_default();
    let new: HashMap<&str, usize> = after
        .tasks
        .iter()
        .enumerate()
        .map(|(index, task)| (task.task_id.as_str(), index))
        .collect();
    if let Some(before) = before {
        for task in &before.tasks {
            if !new.contains_key(task.task_id.as_str()) {
                findings.errors.push(format!(
                    "{shown}:1:1: error: task `{}` was removed; tasks are never deleted (set `status: archived` instead)",
                    task.task_id
                ));
            }
        }
    }
    for task in &after.tasks {
        let status = task.status.effective();
        match old.get(task.task_id.as_str()) {
            Some(was) if *was != status => findings.errors.push(format!(
                "{shown}:{}:1: error: task `{}`: the planner changed its status from `{}` to `{}`; statuses move only through validators and people",
                task.line(),
                task.task_id,
                was.map_or("?", TaskStatus::as_str),
                task.status.display()
            )),
            Some(_) => {}
            None => {
                if status != Some(TaskStatus::NotStarted) {
                    findings.errors.push(format!(
                        "{shown}:{}:1: error: new task `{}` has status `{}`; a planned task starts `not_started`",
                        task.line(),
                        task.task_id,
                        task.status.display()
                    ));
                }
                findings.added.push(task.task_id.clone());
            }
        }
    }
}

/// Writes one of the planner's files over the user's, under the file's lock, only if it is
/// still what the planner started from. `Ok(false)`: it changed meanwhile, nothing written.
fn replace(
    workspace: &Workspace,
    file: &PlanFile,
    after: &str,
    parsed: Option<Checklist>,
) -> Result<bool, CommandError> {
    let path = workspace.root.join(file.name);
    if file.before.is_none() {
        return Ok(matches!(
            fsutil::create_new_atomic(&path, after.as_bytes())?,
            fsutil::CreateOutcome::Created
        ));
    }
    match file.name {
        "checklist.yaml" => {
            let mut raced = false;
            let mut parsed = parsed;
            let outcome = checklist::rewrite(
                &path,
                &workspace.checklist_lock(),
                &LoadOptions {
                    snapshot_path: Some(workspace.checklist_snapshot()),
                },
                |current| {
                    if Some(current.text.as_str()) != file.before.as_deref() {
                        raced = true;
                        return Ok(None);
                    }
                    Ok(Some((after.to_string(), parsed.take())))
                },
            )?;
            Ok(!raced && outcome == checklist::UpdateOutcome::Written)
        }
        "run-log.md" => {
            let _lock = fsutil::lock_exclusive(&workspace.run_log_lock())?;
            if read_current(&path)? != file.before {
                return Ok(false);
            }
            fsutil::write_atomic(&path, after.as_bytes())?;
            Ok(true)
        }
        _ => {
            if read_current(&path)? != file.before {
                return Ok(false);
            }
            fsutil::write_atomic(&path, after.as_bytes())?;
            Ok(true)
        }
    }
}

fn read_current(path: &Path) -> Result<Option<String>, CommandError> {
    match fsutil::read_text(path, fsutil::MAX_STATE_FILE_BYTES) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// An error after some files were already replaced says which.
fn partial(error: CommandError, replaced: &[&str], worktree: &str) -> CommandError {
    let error = if replaced.is_empty() {
        error.with_cause("nothing was replaced")
    } else {
        error.with_cause(format!(
            "already replaced: {}; the rest is not",
            replaced.join(", ")
        ))
    };
    error.with_hint(format!("the planner's files are kept in `{worktree}`"))
}

/// A new directory under `base` named after now, `-2`, `-3`... when taken.
fn fresh_dir(base: &Path, ctx: &Context) -> PathBuf {
    let stamp = ctx.clock.now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut name = stamp.clone();
    let mut suffix = 2;
    while base.join(&name).exists() {
        name = format!("{stamp}-{suffix}");
        suffix += 1;
    }
    base.join(name)
}

fn relative(workspace: &Workspace, path: &Path) -> String {
    path.strip_prefix(&workspace.root)
        .unwrap_or(path)
        .display()
        .to_string()
}
