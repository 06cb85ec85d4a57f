//! `longrun check`: every problem in checklist.yaml (and whether run-log.md reads), with
//! file, line and column. Exit 0 clean, 1 problems found, 2 unreadable input.

use std::path::Path;

use serde::Serialize;

use super::Context;
use crate::cli::CheckArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::policy::Policy;
use crate::state::checklist::{Checklist, Problem, ValidateOptions, validate::Severity};

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    tasks: usize,
    errors: usize,
    warnings: usize,
    problems: &'a [Problem],
    file_warnings: &'a [String],
}

/// The repository's policy (`policy/*.yaml`), which `check` applies to every task.
pub(super) fn load_policy(root: &Path) -> Result<Policy, CommandError> {
    Policy::load_dir(&root.join("policy")).map_err(|error| {
        let kind = match error.is_internal() {
            true => crate::error::ErrorKind::Internal,
            false => crate::error::ErrorKind::User,
        };
        CommandError::from_error(kind, &error)
    })
}

/// What `longrun check` finds in a checklist: its own problems (validation) and the tasks
/// the policy refuses, each with its line. `plan` shows the same findings after planning and
/// holds a planner agent's checklist to them.
pub(super) fn checklist_problems(
    checklist: &Checklist,
    policy: &Policy,
    allow_missing_validators: bool,
) -> Vec<Problem> {
    let mut problems = checklist.validate(ValidateOptions {
        allow_missing_validators,
    });
    for (task_id, message) in policy.check_checklist(checklist) {
        let line = checklist.task(&task_id).map_or(1, |task| task.line());
        problems.push(Problem {
            kind: crate::state::checklist::ProblemKind::Policy,
            severity: Severity::Error,
            task_id: Some(task_id.clone()),
            line,
            column: 1,
            message: format!("task `{task_id}`: {message}"),
        });
    }
    problems
}

/// The run log's lines that are kept as written but are not events, as `check` prints them.
pub(super) fn run_log_warnings(path: &Path, run_log: &crate::state::runlog::RunLog) -> Vec<String> {
    run_log
        .garbage
        .iter()
        .map(|line| {
            format!(
                "{}:{}:1: warning: kept as written and skipped: {}",
                path.display(),
                line.line,
                line.error
            )
        })
        .collect()
}

pub fn run(ctx: &Context, args: &CheckArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let loaded = ctx.load_checklist(&workspace)?;
    let policy = load_policy(&workspace.root)?;
    let mut problems =
        checklist_problems(&loaded.checklist, &policy, args.allow_missing_validators);
    let (config, config_warnings) = crate::config::Config::load(&workspace.config())
        .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    let config_path = workspace.config().display().to_string();
    // Profiles that cannot run: an error when routing or review uses them (a cycle would
    // fail every attempt), a warning for a profile the file set up but nothing uses.
    let caller_env: Vec<(String, String)> = std::env::vars().collect();
    let profile_findings: Vec<(bool, String)> =
        crate::agents::check_profiles(&config, &caller_env, &workspace.root)
            .into_iter()
            .filter(|check| crate::agents::worth_reporting(check, &config))
            .map(|check| {
                let severity = if check.used { "error" } else { "warning" };
                (
                    check.used,
                    format!(
                        "{config_path}:1:1: {severity}: agent profile `{}`: {}",
                        check.name,
                        check.problems.join("; ")
                    ),
                )
            })
            .collect();
    let profile_errors = profile_findings.iter().filter(|(used, _)| *used).count();
    let run_log = crate::state::runlog::load(&workspace.run_log())?;
    let log_warnings: Vec<String> = run_log_warnings(&workspace.run_log(), &run_log)
        .into_iter()
        .chain(config_warnings.iter().map(|warning| {
            format!(
                "{config_path}:{}:{}: warning: {}",
                warning.line, warning.column, warning.message
            )
        }))
        .chain(profile_findings.into_iter().map(|(_, line)| line))
        .collect();
    let checklist_errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let errors = checklist_errors + profile_errors;
    let warnings = problems.len() - checklist_errors + log_warnings.len() - profile_errors;
    problems.sort_by_key(|p| (p.line, p.column));
    let file = loaded.path.display().to_string();
    if args.json {
        ctx.ui.json(&Report {
            file,
            tasks: loaded.checklist.tasks.len(),
            errors,
            warnings,
            problems: &problems,
            file_warnings: &log_warnings,
        });
    } else {
        let mut out = String::new();
        for problem in &problems {
            let severity = match problem.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            out.push_str(&format!(
                "{file}:{}:{}: {severity}: {}\n",
                problem.line, problem.column, problem.message
            ));
        }
        for warning in &log_warnings {
            out.push_str(warning);
            out.push('\n');
        }
        ctx.ui.data(&out);
        ctx.ui.status(&format!(
            "SUMMARY: {} tasks, {errors} error(s), {warnings} warning(s)",
            loaded.checklist.tasks.len()
        ));
        if problems
            .iter()
            .any(|p| p.kind == crate::state::checklist::ProblemKind::MissingValidators)
            && !args.allow_missing_validators
        {
            ctx.ui.hint(
                "give each task `validators:` (commands longrun runs to prove it done); `--allow-missing-validators` accepts tasks without them",
            );
        }
    }
    Ok(if errors > 0 {
        ExitStatus::Negative
    } else {
        ExitStatus::Success
    })
}
