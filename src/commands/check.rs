//! `longrun check`: every problem in checklist.yaml (and whether run-log.md reads), with
//! file, line and column. Exit 0 clean, 1 problems found, 2 unreadable input.

use serde::Serialize;

use super::Context;
use crate::cli::CheckArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::checklist::{Problem, ValidateOptions, validate::Severity};

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    tasks: usize,
    errors: usize,
    warnings: usize,
    problems: &'a [Problem],
}

pub fn run(ctx: &Context, args: &CheckArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let loaded = ctx.load_overview(&workspace)?;
    let problems = loaded.overview.problems(ValidateOptions {
        allow_missing_validators: args.allow_missing_validators,
    });
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    let file = loaded.path.display().to_string();
    if args.json {
        ctx.ui.json(&Report {
            file,
            tasks: loaded.overview.task_count(),
            errors,
            warnings,
            problems: &problems,
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
        ctx.ui.data(&out);
        ctx.ui.status(&format!(
            "SUMMARY: {} tasks, {errors} error(s), {warnings} warning(s)",
            loaded.overview.task_count()
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
