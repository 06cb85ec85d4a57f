//! `longrun import <format> FILE`: tasks from Taskmaster, ralph, a feature list or
//! Backlog.md into checklist.yaml. Importing again matches tasks by `source_id`: ids stay,
//! statuses follow the source, new tasks are appended, vanished ones are reported.

use super::Context;
use super::plan::{Outcome, apply, display_relative, report};
use crate::cli::{ImportArgs, ImportFormat};
use crate::error::{CommandError, ErrorKind};
use crate::exit::ExitStatus;
use crate::import::{self, Format, ImportError};
use crate::plan::{IdStyle, MergeOptions};

pub fn run(ctx: &Context, args: &ImportArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let format = match args.format {
        ImportFormat::Taskmaster => Format::Taskmaster,
        ImportFormat::Ralph => Format::Ralph,
        ImportFormat::FeatureList => Format::FeatureList,
        ImportFormat::Backlog => Format::Backlog,
    };
    let path = ctx.cwd.join(&args.file);
    let source_name = display_relative(&workspace, &path);
    let imported = import::import(format, &path, &source_name).map_err(|error| {
        let hint = matches!(error, ImportError::WrongFormat { looks_like: None, .. });
        let command_error = CommandError::from_error(ErrorKind::User, &error);
        if hint {
            command_error.with_hint(
                "formats: `taskmaster` (.taskmaster/tasks/tasks.json), `ralph` (prd.json), `feature-list` (feature_list.json), `backlog` (backlog/tasks/)",
            )
        } else {
            command_error
        }
    })?;
    if imported.tasks.is_empty() {
        return Err(CommandError::negative(format!(
            "no tasks found in `{source_name}`; nothing was written"
        )));
    }
    let applied = apply(
        ctx,
        &workspace,
        &imported.tasks,
        MergeOptions {
            id_style: IdStyle::Preferred,
            update_status: true,
            namespace: format.namespace(),
        },
        args.dry_run,
    )?;
    let what = format!("import {}", format.name());
    report(
        ctx,
        &workspace,
        &Outcome {
            source: &source_name,
            what: &what,
            applied: &applied,
            warnings: &imported.unmapped,
            created_plan: false,
            dry_run: args.dry_run,
            json: args.json,
        },
    )
}
