//! `longrun gc [--older-than 14d] [--dry-run] [--force]`: removes old run artifacts,
//! leftover task worktrees and task branches that are done with, and git's metadata of
//! worktrees whose folder is gone. Says what it removed and what it kept, and why.
//!
//! The decisions are `gc::plan`'s; this file takes the cycle lock (so no cycle creates a
//! worktree meanwhile), calls it, applies it unless `--dry-run`, and prints.

use std::path::Path;

use super::Context;
use super::r#loop::load_config;
use crate::cli::GcArgs;
use crate::cycle;
use crate::error::{CommandError, ErrorKind};
use crate::exit::ExitStatus;
use crate::gc::{self, Applied, Decision, GcOptions, Item};

pub fn run(ctx: &Context, args: &GcArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let config = load_config(&workspace)?;
    let now = ctx.clock.now();
    let cycle_error = |error: cycle::CycleError| CommandError::from_error(ErrorKind::User, &error);
    // A dry run changes nothing, so it need not keep cycles out.
    let _lock = if args.dry_run {
        None
    } else {
        match cycle::try_cycle_lock(&workspace).map_err(cycle_error)? {
            Some(lock) => Some(lock),
            None => {
                return Err(CommandError::negative(
                    "a cycle is running (`.longrun/cycle.lock` is held); nothing was removed",
                )
                .with_hint("run `longrun gc` again when it has finished"));
            }
        }
    };
    let facts = gc::gather(&workspace, &config, now).map_err(cycle_error)?;
    let decisions = gc::plan(
        &facts,
        &GcOptions {
            now,
            older_than: args.older_than,
            force: args.force,
        },
    );
    let applied = if args.dry_run {
        Vec::new()
    } else {
        gc::apply(&workspace.root, &decisions, args.force)
    };
    let failed: Vec<&Applied> = applied.iter().filter(|a| a.error.is_some()).collect();

    if args.json {
        let removed: Vec<&Decision> = decisions.iter().filter(|d| d.remove).collect();
        let kept: Vec<&Decision> = decisions.iter().filter(|d| !d.remove).collect();
        ctx.ui.json(&serde_json::json!({
            "dry_run": args.dry_run,
            "remove": removed,
            "keep": kept,
            "failed": failed,
        }));
    } else {
        let root = &workspace.root;
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for decision in decisions.iter().filter(|d| d.remove) {
            let failure = applied
                .iter()
                .find(|a| a.decision == *decision)
                .and_then(|a| a.error.as_deref());
            match failure {
                Some(error) => ctx.ui.warn(&format!(
                    "could not remove {}: {error}",
                    describe(root, &decision.item)
                )),
                None => ctx.ui.status(&format!(
                    "{verb} {}: {}",
                    describe(root, &decision.item),
                    decision.reason
                )),
            }
        }
        for decision in decisions.iter().filter(|d| !d.remove && !d.too_new) {
            ctx.ui.status(&format!(
                "kept {}: {}",
                describe(root, &decision.item),
                decision.reason
            ));
        }
        let too_new = decisions.iter().filter(|d| d.too_new).count();
        if too_new > 0 {
            ctx.ui.status(&format!(
                "kept {too_new} run director{} newer than {}",
                if too_new == 1 { "y" } else { "ies" },
                crate::config::format_duration(args.older_than)
            ));
        }
        let removed = decisions.iter().filter(|d| d.remove).count() - failed.len();
        let kept = decisions.iter().filter(|d| !d.remove).count();
        let mut summary = if args.dry_run {
            format!("SUMMARY: would remove {removed}, keep {kept} (dry run: nothing changed)")
        } else {
            format!("SUMMARY: removed {removed}, kept {kept}")
        };
        if !failed.is_empty() {
            summary.push_str(&format!(", {} failed", failed.len()));
        }
        ctx.ui.status(&summary);
    }
    Ok(if failed.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Negative
    })
}

fn describe(root: &Path, item: &Item) -> String {
    let relative = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    match item {
        Item::Run { path } => format!("run directory `{}`", relative(path)),
        Item::Worktree { path, .. } => format!("worktree `{}`", relative(path)),
        Item::Branch { name, .. } => format!("branch `{name}`"),
        Item::StaleMetadata { path } => {
            format!("git's record of the worktree `{}`", relative(path))
        }
    }
}
