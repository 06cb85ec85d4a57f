//! `longrun plan --prd FILE`: reads a PRD, merges its tasks into checklist.yaml (ids and
//! statuses of tasks planned before are kept), writes a plan.md skeleton when there is
//! none, then shows what `longrun check` finds. Also holds the apply-and-report steps
//! `import` shares.

use std::path::Path;

use serde::Serialize;

use super::Context;
use crate::cli::PlanArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::fsutil;
use crate::plan::{self, IdStyle, MergeOptions, MergeReport, diff::unified_diff};
use crate::state::checklist::{
    self, Checklist, ChecklistError, LoadOptions, NewTask, Problem, validate::Severity,
};
use crate::state::model::EventKind;
use crate::state::runlog::Event;
use crate::workspace::Workspace;

/// Largest PRD read (4 MiB): far beyond any real document, small enough to stay fast.
pub const MAX_PRD_BYTES: u64 = 4 * 1024 * 1024;
/// Most tasks one plan or import may add.
pub const MAX_NEW_TASKS: usize = 20_000;

pub fn run(ctx: &Context, args: &PlanArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    if let Some(agent) = &args.agent {
        return super::plan_agent::run(ctx, &workspace, args, agent);
    }
    let (_, text, source_name) = read_prd(ctx, &workspace, args)?;
    let prd = plan::parse_prd(&text, &source_name);
    if prd.tasks.is_empty() {
        return Err(CommandError::negative(format!(
            "no tasks found in `{source_name}`; nothing was written"
        ))
        .with_hint(
            "write tasks as task-list items (`- [ ] ...`), or as a list under a heading such as `## Tasks`, `## Milestones`, `## Roadmap` or `## Steps`",
        ));
    }
    let warnings: Vec<String> = prd
        .warnings
        .iter()
        .map(|w| format!("{source_name}:{}: {}", w.line, w.message))
        .collect();
    let namespace = format!("{source_name}#");
    let applied = apply(
        ctx,
        &workspace,
        &prd.tasks,
        MergeOptions {
            id_style: IdStyle::Sequential,
            update_status: false,
            namespace: &namespace,
        },
        args.dry_run,
    )?;
    let mut created_plan = false;
    if !args.dry_run && applied.written && !workspace.plan().exists() {
        let name = prd.title.clone().unwrap_or_else(|| {
            workspace
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".to_string())
        });
        let rendered = crate::templates::render_plan(&name);
        fsutil::create_new_atomic(&workspace.plan(), rendered.as_bytes())?;
        created_plan = true;
    }
    report(
        ctx,
        &workspace,
        &Outcome {
            source: &source_name,
            what: "plan",
            applied: &applied,
            warnings: &warnings,
            created_plan,
            dry_run: args.dry_run,
            json: args.json,
        },
    )
}

/// The PRD named on the command line: its path, its text (at most [`MAX_PRD_BYTES`]) and
/// its name as a person would type it from the repository root.
pub(super) fn read_prd(
    ctx: &Context,
    workspace: &Workspace,
    args: &PlanArgs,
) -> Result<(std::path::PathBuf, String, String), CommandError> {
    let prd_path = ctx.cwd.join(&args.prd);
    let text = fsutil::read_text(&prd_path, MAX_PRD_BYTES).map_err(|error| {
        let too_large = matches!(error, fsutil::FsError::TooLarge { .. });
        let error = CommandError::from(error);
        if too_large {
            error.with_hint("split the PRD into smaller documents and plan each one")
        } else {
            error
        }
    })?;
    let source_name = display_relative(workspace, &prd_path);
    Ok((prd_path, text, source_name))
}

/// What applying a merge did.
pub(super) struct Applied {
    pub report: MergeReport,
    pub old_text: String,
    pub new_text: String,
    pub written: bool,
    pub problems: Vec<Problem>,
    pub tasks: usize,
}

/// Merges `incoming` into checklist.yaml under its lock (or, with `dry_run`, only in
/// memory), then checks the result the way `longrun check` does (validation and policy).
pub(super) fn apply(
    ctx: &Context,
    workspace: &Workspace,
    incoming: &[NewTask],
    options: MergeOptions<'_>,
    dry_run: bool,
) -> Result<Applied, CommandError> {
    let loaded = ctx.load_checklist(workspace)?;
    let policy = super::check::load_policy(&workspace.root)?;
    let path = workspace.checklist();
    let edit_error = |source| ChecklistError::Edit {
        path: path.clone(),
        source,
    };
    // The merged checklist is checked where it is parsed, and then handed to the snapshot
    // without a copy: a 2,000-task checklist is costly to clone (BENCHMARKS.md).
    let findings = |checklist: &Checklist| {
        (
            super::check::checklist_problems(checklist, &policy, false),
            checklist.tasks.len(),
        )
    };
    let mut state = None;
    let written = if dry_run {
        let report = plan::merge(&loaded.checklist, incoming, options);
        if report.new_tasks.len() > MAX_NEW_TASKS {
            return Err(too_many(report.new_tasks.len()));
        }
        let (new_text, parsed) =
            plan::render_merge_parsed(&loaded.text, &loaded.checklist, &report)
                .map_err(edit_error)?;
        let checked = match parsed {
            Some(parsed) => findings(&parsed),
            None if new_text == loaded.text => findings(&loaded.checklist),
            None => findings(&Checklist::parse(&path, &new_text)?),
        };
        state = Some((report, loaded.text.clone(), new_text, checked));
        false
    } else {
        let options_load = LoadOptions {
            snapshot_path: Some(workspace.checklist_snapshot()),
        };
        let outcome = checklist::rewrite(
            &path,
            &workspace.checklist_lock(),
            &options_load,
            |current| {
                let report = plan::merge(&current.checklist, incoming, options);
                if report.new_tasks.len() > MAX_NEW_TASKS {
                    let text = current.text.clone();
                    state = Some((report, text.clone(), text, (Vec::new(), 0)));
                    return Ok(None);
                }
                let (new_text, parsed) =
                    plan::render_merge_parsed(&current.text, &current.checklist, &report)
                        .map_err(edit_error)?;
                let checked = match &parsed {
                    Some(parsed) => findings(parsed),
                    None if new_text == current.text => findings(&current.checklist),
                    None => findings(&Checklist::parse(&path, &new_text)?),
                };
                state = Some((report, current.text.clone(), new_text.clone(), checked));
                Ok(Some((new_text, parsed)))
            },
        )?;
        if let Some((report, _, _, _)) = &state
            && report.new_tasks.len() > MAX_NEW_TASKS
        {
            return Err(too_many(report.new_tasks.len()));
        }
        outcome == checklist::UpdateOutcome::Written
    };
    let Some((report, old_text, new_text, (problems, tasks))) = state else {
        return Err(CommandError::internal("the merge did not run"));
    };
    Ok(Applied {
        report,
        old_text,
        new_text,
        written,
        problems,
        tasks,
    })
}

fn too_many(count: usize) -> CommandError {
    CommandError::user(format!(
        "{count} new tasks is more than the {MAX_NEW_TASKS} one run may add; nothing was written"
    ))
    .with_hint("split the source into smaller parts")
}

/// The path as a person would type it from the repository root.
/// `..` and `.` are folded lexically so `./prd.md` and `sub/../prd.md` name the same
/// source (the `source_id` namespace depends on it).
pub(super) fn display_relative(workspace: &Workspace, path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut path = std::path::PathBuf::new();
    for component in absolute.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                path.pop();
            }
            other => path.push(other),
        }
    }
    path.strip_prefix(&workspace.root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

/// What to report.
pub(super) struct Outcome<'a> {
    pub source: &'a str,
    /// `plan` or `import <format>`, for the run log.
    pub what: &'a str,
    pub applied: &'a Applied,
    /// Things the reader could not use or map.
    pub warnings: &'a [String],
    pub created_plan: bool,
    pub dry_run: bool,
    pub json: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    source: &'a str,
    dry_run: bool,
    written: bool,
    created_plan: bool,
    #[serde(flatten)]
    merge: &'a MergeReport,
    warnings: &'a [String],
    check: JsonCheck<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    tasks: usize,
    errors: usize,
    warnings: usize,
    problems: &'a [Problem],
}

/// Prints the merge, the diff (dry run), the warnings and the check findings; logs the
/// change in run-log.md.
pub(super) fn report(
    ctx: &Context,
    workspace: &Workspace,
    outcome: &Outcome<'_>,
) -> Result<ExitStatus, CommandError> {
    let applied = outcome.applied;
    let merge = &applied.report;
    let errors = applied
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let check_warnings = applied.problems.len() - errors;
    let diff = outcome
        .dry_run
        .then(|| unified_diff("checklist.yaml", &applied.old_text, &applied.new_text));
    if outcome.json {
        ctx.ui.json(&JsonReport {
            source: outcome.source,
            dry_run: outcome.dry_run,
            written: applied.written,
            created_plan: outcome.created_plan,
            merge,
            warnings: outcome.warnings,
            check: JsonCheck {
                tasks: applied.tasks,
                errors,
                warnings: check_warnings,
                problems: &applied.problems,
            },
            diff,
        });
    } else {
        let mut out = String::new();
        let source =
            |s: &Option<String>| s.as_deref().map(|s| format!("  ({s})")).unwrap_or_default();
        for line in &merge.added {
            out.push_str(&format!(
                "added    {}  {}{}\n",
                line.task_id,
                line.title,
                source(&line.source)
            ));
        }
        for line in &merge.status_updated {
            out.push_str(&format!(
                "updated  {}  {}{}\n",
                line.task_id,
                line.title,
                source(&line.source)
            ));
        }
        for line in &merge.kept {
            out.push_str(&format!(
                "kept     {}  {}{}\n",
                line.task_id,
                line.title,
                source(&line.source)
            ));
        }
        for line in &merge.source_gone {
            out.push_str(&format!(
                "gone     {}  {}{}  (no longer in the source; left in the checklist)\n",
                line.task_id,
                line.title,
                source(&line.source)
            ));
        }
        if let Some(diff) = &diff {
            out.push_str(diff);
        }
        ctx.ui.data(&out);
        for renamed in &merge.renamed {
            ctx.ui.warn(&format!(
                "id `{}` is taken; the task was added as `{}`",
                renamed.wanted, renamed.given
            ));
        }
        for warning in outcome.warnings {
            ctx.ui.warn(warning);
        }
        let file = workspace.checklist().display().to_string();
        for problem in &applied.problems {
            let severity = match problem.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            ctx.ui.status(&format!(
                "{file}:{}:{}: {severity}: {}",
                problem.line, problem.column, problem.message
            ));
        }
        let verb = if outcome.dry_run {
            "would add"
        } else {
            "added"
        };
        ctx.ui.status(&format!(
            "SUMMARY: {verb} {} task(s), {} updated, {} kept, {} gone from the source; check: {errors} error(s), {check_warnings} warning(s)",
            merge.added.len(),
            merge.status_updated.len(),
            merge.kept.len(),
            merge.source_gone.len(),
        ));
        if outcome.dry_run {
            ctx.ui.status("dry run: nothing was written");
        } else if outcome.created_plan {
            ctx.ui
                .status("created `plan.md` from the template; fill in its sections");
        }
    }
    if applied.written {
        let text = format!(
            "{}: {} task(s) added from `{}`, {} status(es) updated, {} kept, {} gone from the source",
            outcome.what,
            merge.added.len(),
            outcome.source,
            merge.status_updated.len(),
            merge.kept.len(),
            merge.source_gone.len()
        );
        ctx.append_events(
            workspace,
            &[Event::new(ctx.clock.now(), EventKind::Note, text)],
        )?;
    }
    Ok(ExitStatus::Success)
}
