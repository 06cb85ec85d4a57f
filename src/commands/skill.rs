//! `longrun skill new|list|check`: Agent Skills in the skills folder (`skills_dir` in
//! longrun.yaml, `.agents/skills` by default). The rules live in [`crate::skills`]; this file
//! only finds the directories and prints.

use std::path::PathBuf;

use serde::Serialize;

use super::Context;
use crate::cli::{SkillCheckArgs, SkillListArgs, SkillNewArgs};
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::skills::{self, SkillCheck, SkillDraft};

pub fn new(ctx: &Context, args: &SkillNewArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let skills_dir = configured_skills_dir(&workspace)?;
    let name = args.name.as_str();
    let description = match &args.description {
        Some(description) => {
            description_problem(description).map_or(Ok(()), |(rule, message)| {
                Err(CommandError::user(format!(
                    "`--description` breaks the Agent Skills rule `{rule}`: {message}; nothing was created"
                )))
            })?;
            description.clone()
        }
        None => format!("TODO: what `{name}` does and when to use it."),
    };
    let draft = SkillDraft {
        name: name.to_string(),
        description,
        metadata: Vec::new(),
        body: format!(
            "# {name}\n\n## When to use\n\nTODO: the situations where this skill applies.\n\n## Procedure\n\n1. TODO\n\n## Verification\n\nTODO: the command that shows it worked.\n"
        ),
    };
    let text = skills::render_skill_md(&draft);
    let (_, violations) = skills::check_front_matter(&text, Some(name));
    if let Some(violation) = violations.first() {
        return Err(CommandError::user(format!(
            "the skill would be invalid: {}: {}",
            violation.rule, violation.message
        )));
    }
    let relative = skills_dir.join(name).join(skills::SKILL_FILE);
    let path = workspace.root.join(&relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| crate::fsutil::FsError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    match crate::fsutil::create_new_atomic(&path, text.as_bytes())? {
        crate::fsutil::CreateOutcome::Created => {
            ctx.ui.data(&relative.display().to_string());
            ctx.ui.status(&format!(
                "created skill `{name}`; edit `{}`",
                relative.display()
            ));
            Ok(ExitStatus::Success)
        }
        crate::fsutil::CreateOutcome::AlreadyExists => Err(CommandError::user(format!(
            "`{}` already exists; nothing was changed",
            relative.display()
        ))),
    }
}

#[derive(Serialize)]
struct ListedSkill {
    name: String,
    description: String,
    path: PathBuf,
    valid: bool,
    violations: Vec<skills::Violation>,
}

pub fn list(ctx: &Context, args: &SkillListArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let skills_dir = configured_skills_dir(&workspace)?;
    let checks = installed_skills(&workspace.root.join(&skills_dir))?;
    let listed: Vec<ListedSkill> = checks
        .into_iter()
        .map(|check| ListedSkill {
            name: check.name.clone().unwrap_or_else(|| {
                check
                    .directory
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
            description: check.description.clone().unwrap_or_default(),
            path: check
                .directory
                .strip_prefix(&workspace.root)
                .unwrap_or(&check.directory)
                .join(skills::SKILL_FILE),
            valid: check.is_valid(),
            violations: check.violations,
        })
        .collect();
    if args.json {
        ctx.ui.json(&listed);
        return Ok(ExitStatus::Success);
    }
    if listed.is_empty() {
        ctx.ui
            .status(&format!("no skills in `{}`", skills_dir.display()));
        return Ok(ExitStatus::Success);
    }
    let width = listed.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for skill in &listed {
        let mark = if skill.valid { "ok     " } else { "INVALID" };
        let description: String = skill.description.chars().take(70).collect();
        out.push_str(&format!(
            "{:width$}  {mark}  {}  {}\n",
            skill.name,
            skill.path.display(),
            description
        ));
    }
    ctx.ui.data(&out);
    Ok(ExitStatus::Success)
}

pub fn check(ctx: &Context, args: &SkillCheckArgs) -> Result<ExitStatus, CommandError> {
    let checks = if args.dirs.is_empty() {
        let workspace = ctx.workspace()?;
        let skills_dir = configured_skills_dir(&workspace)?;
        installed_skills(&workspace.root.join(skills_dir))?
    } else {
        args.dirs
            .iter()
            .map(|dir| skills::check_skill_dir(&ctx.cwd.join(dir)))
            .collect()
    };
    let invalid = checks.iter().filter(|check| !check.is_valid()).count();
    if args.json {
        ctx.ui.json(&checks);
    } else {
        let mut out = String::new();
        for check in &checks {
            let shown = check
                .directory
                .strip_prefix(&ctx.cwd)
                .unwrap_or(&check.directory)
                .display()
                .to_string();
            if check.is_valid() {
                out.push_str(&format!("ok       {shown}\n"));
            }
            for violation in &check.violations {
                out.push_str(&format!(
                    "invalid  {shown}: {}: {}\n",
                    violation.rule, violation.message
                ));
            }
        }
        ctx.ui.data(&out);
        ctx.ui.status(&format!(
            "SUMMARY: {} skill(s), {} valid, {invalid} invalid",
            checks.len(),
            checks.len() - invalid
        ));
    }
    Ok(if invalid > 0 {
        ExitStatus::Negative
    } else {
        ExitStatus::Success
    })
}

/// Every directory in the skills folder `dir`, checked, in name order.
fn installed_skills(dir: &std::path::Path) -> Result<Vec<SkillCheck>, CommandError> {
    let dir = dir.to_path_buf();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(crate::fsutil::FsError::Read { path: dir, source }.into());
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs
        .iter()
        .map(|dir| skills::check_skill_dir(dir))
        .collect())
}

/// The skills folder longrun.yaml names, relative to the repository root. A longrun.yaml
/// that does not load is an error (file, line and column), not a silent default.
pub(super) fn configured_skills_dir(
    workspace: &crate::workspace::Workspace,
) -> Result<PathBuf, CommandError> {
    let (config, _warnings) = crate::config::Config::load(&workspace.config())
        .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    Ok(config.skills_dir)
}

/// Why a description given on the command line would not be kept as written: the rule it
/// breaks and what exactly is wrong. Refused rather than cut or rewritten, so that what is
/// written is what the person typed (only its whitespace is put on one line).
fn description_problem(description: &str) -> Option<(skills::Rule, String)> {
    if description.trim().is_empty() {
        return Some((skills::Rule::DescriptionRequired, "it is empty".to_string()));
    }
    let length = description.trim().chars().count();
    if length > skills::MAX_DESCRIPTION_CHARS {
        return Some((
            skills::Rule::DescriptionLength,
            format!(
                "it is {length} characters, more than {}",
                skills::MAX_DESCRIPTION_CHARS
            ),
        ));
    }
    if description.contains("---") {
        return Some((
            skills::Rule::InnerDelimiter,
            "it contains `---`, which would end the front matter for readers that split `SKILL.md` at the first `---` (the reference validator does)".to_string(),
        ));
    }
    None
}
