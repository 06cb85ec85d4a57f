//! `longrun init`: creates what is missing, never overwrites, says what it did.

use super::Context;
use crate::cli::InitArgs;
use crate::clock::format_timestamp;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::git;
use crate::scaffold::{self, ScaffoldOptions};

pub fn run(ctx: &Context, args: &InitArgs) -> Result<ExitStatus, CommandError> {
    let root = ctx.cwd.clone();
    if !root.is_dir() {
        return Err(CommandError::user(format!(
            "`{}` is not a folder",
            root.display()
        )));
    }
    if !git::is_inside_work_tree(&root) {
        if args.git {
            git::init_repository(&root)
                .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
            ctx.ui
                .status(&format!("created a git repository in `{}`", root.display()));
        } else {
            return Err(CommandError::user(format!(
                "`{}` is not inside a git repository",
                root.display()
            ))
            .with_hint("run `longrun init --git` to create one, or `git init` first"));
        }
    }
    // An existing longrun.yaml may name another skills folder; one that does not load stops
    // here (file, line and column) rather than scattering skills into the default folder.
    let (config, _warnings) = crate::config::Config::load(&root.join("longrun.yaml"))
        .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    let branch = git::current_branch(&root);
    let report = scaffold::scaffold(
        &root,
        &ScaffoldOptions {
            start_time: format_timestamp(ctx.clock.now()),
            project_name: None,
            branch,
            skills_dir: Some(config.skills_dir),
        },
    )
    .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    let relative = |path: &std::path::Path| {
        path.strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let mut out = String::new();
    for path in &report.created {
        out.push_str(&format!("created      {}\n", relative(path)));
    }
    for path in &report.appended {
        out.push_str(&format!("appended to  {}\n", relative(path)));
    }
    for path in &report.left_alone {
        out.push_str(&format!("left alone   {}\n", relative(path)));
    }
    ctx.ui.data(&out);
    for notice in &report.notices {
        ctx.ui
            .warn(&format!("`{}`: {}", relative(&notice.path), notice.message));
    }
    if report.is_unchanged() {
        ctx.ui
            .status("everything was already in place; nothing changed");
    } else {
        ctx.ui
            .hint("describe the work in `plan.md` and `checklist.yaml`, then run `longrun check`");
    }
    Ok(ExitStatus::Success)
}
