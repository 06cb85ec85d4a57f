//! Proposals from mining findings: `SKILL.md` drafts with their evidence, eval drafts and an
//! AGENTS.md patch, written under `.longrun/proposals/<timestamp>/`, and `--apply`, which
//! installs what a person kept there.
//!
//! Writing is deterministic: the same findings and time give the same bytes. Installing never
//! overwrites an existing file unless asked to. This module never prints, never runs git and
//! never appends to the run log (the caller logs what was applied).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    FailureGroup, Findings, FixPair, FollowUp, FollowUpCategory, InterventionKind, MineError,
};
use crate::eval::EvalSpec;
use crate::fsutil;
use crate::skills::{self, SkillDraft};
use crate::state::checklist::Checklist;

/// Where proposals go, relative to the repository root.
pub const PROPOSALS_DIR: &str = ".longrun/proposals";

/// The AGENTS.md patch file in a proposal directory.
pub const AGENTS_PATCH: &str = "AGENTS.md.patch";

/// The heading of the section the AGENTS.md patch adds.
pub const LESSONS_HEADING: &str = "## Lessons from longrun mine";

/// A failure group needs this many failures to become a skill draft.
pub const MIN_REPEATS: usize = 2;

/// At most this many skill drafts per mining run: the most frequent repeated failure groups
/// (the groups come sorted by count, then signature, so the pick is deterministic). A log
/// with thousands of distinct failures would otherwise get thousands of drafts no one reads.
pub const MAX_SKILLS: usize = 10;

/// At most this many evals are proposed per mining run: the latest fix of each task and
/// validator, newest first.
pub const MAX_EVALS: usize = 50;

/// At most this many fixes are listed in a skill draft's procedure.
const MAX_FIXES_SHOWN: usize = 10;

/// The sections every skill draft's body has, as `## ` headings, in this order: when to
/// use it, the procedure, the verification step and the evidence (which links
/// `references/evidence.md`). An agent's rewrite must keep them all ([`super::prose`]).
pub const SKILL_SECTIONS: [&str; 4] = ["When to use", "Procedure", "Verification", "Evidence"];

/// The file an Evidence section links.
pub const EVIDENCE_FILE: &str = "references/evidence.md";

/// Largest piece of an artifact quoted in `references/evidence.md`.
const MAX_EXCERPT_BYTES: usize = 4 * 1024;

/// What [`write_proposals`] wrote, paths relative to the repository root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WrittenProposals {
    /// `.longrun/proposals/<timestamp>`; `None` when there was nothing to propose.
    pub directory: Option<PathBuf>,
    pub skills: Vec<String>,
    /// Failure groups that got no skill draft: repeated ones past [`MAX_SKILLS`]...
    pub repeated_groups_left_out: usize,
    /// ... and those seen fewer than [`MIN_REPEATS`] times.
    pub single_groups_left_out: usize,
    /// Skill drafts asked for by the Follow-ups' "Skills to extract" (also in `skills`), and
    /// how many such items were past [`MAX_SKILLS`].
    pub follow_up_skills: Vec<String>,
    pub follow_up_skills_left_out: usize,
    pub evals: Vec<String>,
    /// Fix pairs without a known base commit: no eval can replay them.
    pub evals_without_base: usize,
    /// The Follow-ups' "Evals to add" a fix gave evidence for, with the eval drafted for it.
    pub follow_up_evals: Vec<FollowUpEval>,
    /// The Follow-ups' "Evals to add" no fix gave evidence for (no base commit to replay
    /// from): listed for a person, not drafted.
    pub evals_without_evidence: Vec<String>,
    pub agents_patch: bool,
    /// Lessons left out of the patch because AGENTS.md already says them.
    pub lessons_already_in_agents_md: usize,
}

/// An "Evals to add" follow-up and the eval drafted for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpEval {
    pub item: String,
    pub eval: String,
}

/// One item `--apply` looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedItem {
    /// `skill`, `eval` or `agents-md`.
    pub kind: &'static str,
    pub name: String,
    /// Where it went (or would have gone), relative to the repository root.
    pub destination: PathBuf,
    /// In JSON `"outcome": "installed"`, or `"skipped"` with a `"reason"`.
    #[serde(flatten)]
    pub outcome: ApplyOutcome,
}

/// What happened to one proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome", content = "reason")]
pub enum ApplyOutcome {
    Installed,
    Overwritten,
    Skipped(String),
}

/// Writes the proposals for `findings` under `<root>/.longrun/proposals/<stamp>/`.
pub fn write_proposals(
    root: &Path,
    stamp: &str,
    findings: &Findings,
    checklist: Option<&Checklist>,
) -> Result<WrittenProposals, MineError> {
    let relative_dir = Path::new(PROPOSALS_DIR).join(stamp);
    let directory = root.join(&relative_dir);
    let mut written = WrittenProposals::default();
    let mut files: Vec<(PathBuf, String)> = Vec::new();

    let mut used_names = std::collections::BTreeSet::new();
    let mut skill_for_signature = std::collections::BTreeMap::new();
    let mut fixes_by_signature: std::collections::HashMap<&str, Vec<&FixPair>> =
        std::collections::HashMap::new();
    for fix in &findings.fixes {
        fixes_by_signature
            .entry(fix.signature.as_str())
            .or_default()
            .push(fix);
    }
    let repeated = findings.repeated_group_count;
    written.repeated_groups_left_out = repeated.saturating_sub(MAX_SKILLS);
    written.single_groups_left_out = findings.failure_group_count.saturating_sub(repeated);
    for group in findings
        .failure_groups
        .iter()
        .filter(|group| group.count >= MIN_REPEATS)
        .take(MAX_SKILLS)
    {
        let fixes = fixes_by_signature
            .get(group.signature.as_str())
            .map_or(&[][..], Vec::as_slice);
        let name = unique_name(&skill_name_for(group), &mut used_names);
        let body = skill_body(group, fixes);
        let draft = SkillDraft {
            name: name.clone(),
            description: skill_description(group),
            metadata: vec![
                ("source".to_string(), "longrun mine".to_string()),
                ("failures".to_string(), group.count.to_string()),
                ("signature".to_string(), group.signature.clone()),
            ],
            body,
        };
        let skill_dir = directory.join("skills").join(&name);
        files.push((
            skill_dir.join(skills::SKILL_FILE),
            skills::render_skill_md(&draft),
        ));
        files.push((
            skill_dir.join("references").join("evidence.md"),
            evidence_md(root, group),
        ));
        skill_for_signature.insert(group.signature.clone(), name.clone());
        written.skills.push(name);
    }

    let wanted: Vec<&FollowUp> =
        follow_ups_of(findings, FollowUpCategory::SkillsToExtract).collect();
    written.follow_up_skills_left_out = wanted.len().saturating_sub(MAX_SKILLS);
    for item in wanted.into_iter().take(MAX_SKILLS) {
        let name = unique_name(&follow_up_skill_name(&item.text), &mut used_names);
        let what = item.text.trim_end_matches('.');
        let draft = SkillDraft {
            name: name.clone(),
            description: format!(
                "{what}: a skill the run log's Follow-ups ask for. Use when a task needs {}.",
                lowercase_first(what)
            ),
            metadata: vec![
                ("source".to_string(), "longrun mine".to_string()),
                (
                    "follow-up".to_string(),
                    format!("run-log.md line {}", item.line),
                ),
            ],
            body: follow_up_skill_body(item),
        };
        let skill_dir = directory.join("skills").join(&name);
        files.push((
            skill_dir.join(skills::SKILL_FILE),
            skills::render_skill_md(&draft),
        ));
        files.push((
            skill_dir.join("references").join("evidence.md"),
            format!(
                "# Evidence\n\n## run-log.md line {}\n\n```text\n- {}\n```\n",
                item.line,
                item.text.replace("```", "'''")
            ),
        ));
        written.follow_up_skills.push(name.clone());
        written.skills.push(name);
    }

    let mut used_ids = std::collections::BTreeSet::new();
    let mut eval_of_fix = std::collections::HashMap::new();
    for index in eval_candidates(findings) {
        let fix = &findings.fixes[index];
        let Some(base) = &fix.commit_before else {
            written.evals_without_base += 1;
            continue;
        };
        let id = unique_name(
            &slug(&format!("{}-{}", fix.task, fix.validator), 48),
            &mut used_ids,
        );
        files.push((
            directory.join("evals").join(format!("{id}.yaml")),
            eval_spec(fix, &id, base, checklist, None).render(),
        ));
        eval_of_fix.insert(index, id.clone());
        written.evals.push(id);
    }
    for item in follow_ups_of(findings, FollowUpCategory::EvalsToAdd) {
        let Some((index, base)) = fix_for_follow_up(findings, item) else {
            written.evals_without_evidence.push(item.text.clone());
            continue;
        };
        let id = match eval_of_fix.get(&index) {
            Some(id) => id.clone(),
            None => {
                let id = unique_name(&slug(&item.text, 48), &mut used_ids);
                let fix = &findings.fixes[index];
                files.push((
                    directory.join("evals").join(format!("{id}.yaml")),
                    eval_spec(fix, &id, base, checklist, Some(item)).render(),
                ));
                eval_of_fix.insert(index, id.clone());
                written.evals.push(id.clone());
                id
            }
        };
        written.follow_up_evals.push(FollowUpEval {
            item: item.text.clone(),
            eval: id,
        });
    }

    let agents_path = root.join("AGENTS.md");
    let agents_now = match fs::read_to_string(&agents_path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(MineError::Read {
                path: agents_path,
                source,
            });
        }
    };
    let all_lessons = lessons(findings, &skill_for_signature);
    let lessons: Vec<String> = all_lessons
        .iter()
        .filter(|lesson| {
            !agents_now
                .as_deref()
                .is_some_and(|agents| says_already(agents, lesson))
        })
        .map(|lesson| lesson.line.clone())
        .collect();
    written.lessons_already_in_agents_md = all_lessons.len() - lessons.len();
    if !lessons.is_empty() {
        files.push((
            directory.join(AGENTS_PATCH),
            agents_patch(agents_now.as_deref(), &lessons),
        ));
        written.agents_patch = true;
    }

    if files.is_empty() {
        return Ok(written);
    }
    for (path, contents) in files {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| MineError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        fsutil::write_atomic(&path, contents.as_bytes())?;
    }
    // Streamed: the findings of a long log are megabytes of JSON.
    fsutil::write_atomic_with(&directory.join("findings.json"), |out| {
        serde_json::to_writer_pretty(&mut *out, findings)?;
        out.write_all(b"\n")
    })?;
    written.directory = Some(relative_dir);
    Ok(written)
}

/// The fixes that become evals, as indices into `findings.fixes` in log order: the latest
/// fix of each task and validator, at most [`MAX_EVALS`], newest kept.
pub fn eval_candidates(findings: &Findings) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut picked: Vec<usize> = findings
        .fixes
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, fix)| seen.insert((fix.task.as_str(), fix.validator.as_str())))
        .map(|(index, _)| index)
        .take(MAX_EVALS)
        .collect();
    picked.reverse();
    picked
}

/// The newest proposal directory, relative to the root.
pub fn latest_proposals(root: &Path) -> Result<Option<PathBuf>, MineError> {
    let base = root.join(PROPOSALS_DIR);
    let entries = match fs::read_dir(&base) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MineError::Read { path: base, source }),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    Ok(names.pop().map(|name| Path::new(PROPOSALS_DIR).join(name)))
}

/// Installs what is left in the proposal directory `proposals` (relative to `root`): skills
/// into `skills_dir` (relative to `root`: longrun.yaml's `skills_dir`), evals into `evals/`,
/// the patch into AGENTS.md. An existing file is kept unless `force`; an invalid skill is
/// never installed.
pub fn apply_proposals(
    root: &Path,
    proposals: &Path,
    skills_dir: &Path,
    force: bool,
) -> Result<Vec<AppliedItem>, MineError> {
    let directory = root.join(proposals);
    let mut applied = Vec::new();

    for name in sorted_entries(&directory.join("skills"))? {
        let source = directory.join("skills").join(&name);
        let destination = skills_dir.join(&name);
        let check = skills::check_skill_dir(&source);
        let outcome = if !check.is_valid() {
            ApplyOutcome::Skipped(format!(
                "not a valid skill: {}",
                check
                    .violations
                    .iter()
                    .map(|v| format!("{}: {}", v.rule, v.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        } else {
            install_tree(&source, &root.join(&destination), force)?
        };
        applied.push(AppliedItem {
            kind: "skill",
            name,
            destination,
            outcome,
        });
    }

    for name in sorted_entries(&directory.join("evals"))? {
        let Some(id) = name.strip_suffix(".yaml") else {
            continue;
        };
        let source = directory.join("evals").join(&name);
        let destination = Path::new(crate::eval::EVALS_DIR).join(&name);
        let text = fsutil::read_text(&source, fsutil::MAX_STATE_FILE_BYTES)?;
        let outcome = match EvalSpec::parse(&text) {
            Err(message) => ApplyOutcome::Skipped(format!("not a valid eval: {message}")),
            Ok(_) => install_file(&text, &root.join(&destination), force)?,
        };
        applied.push(AppliedItem {
            kind: "eval",
            name: id.to_string(),
            destination,
            outcome,
        });
    }

    let patch_path = directory.join(AGENTS_PATCH);
    if patch_path.is_file() {
        let patch = fsutil::read_text(&patch_path, fsutil::MAX_STATE_FILE_BYTES)?;
        let agents_path = root.join("AGENTS.md");
        let current = match fs::read_to_string(&agents_path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(MineError::Read {
                    path: agents_path,
                    source,
                });
            }
        };
        let outcome = apply_agents_patch(current.as_deref(), &patch, force);
        let outcome = match outcome {
            Ok((text, outcome)) => {
                fsutil::write_atomic(&agents_path, text.as_bytes())?;
                outcome
            }
            Err(reason) => ApplyOutcome::Skipped(reason),
        };
        applied.push(AppliedItem {
            kind: "agents-md",
            name: LESSONS_HEADING.trim_start_matches("## ").to_string(),
            destination: PathBuf::from("AGENTS.md"),
            outcome,
        });
    }
    Ok(applied)
}

/// The names in `directory`, sorted, without hidden ones; none when it does not exist.
pub(crate) fn sorted_entries(directory: &Path) -> Result<Vec<String>, MineError> {
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(MineError::Read {
                path: directory.to_path_buf(),
                source,
            });
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

fn install_file(
    contents: &str,
    destination: &Path,
    force: bool,
) -> Result<ApplyOutcome, MineError> {
    if let Some(parent) = destination.parent() {
        fs::create_dir_all(parent).map_err(|source| MineError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    if destination.exists() {
        if !force {
            return Ok(ApplyOutcome::Skipped(
                "already exists (use --force to overwrite)".to_string(),
            ));
        }
        fsutil::write_atomic(destination, contents.as_bytes())?;
        return Ok(ApplyOutcome::Overwritten);
    }
    match fsutil::create_new_atomic(destination, contents.as_bytes())? {
        fsutil::CreateOutcome::Created => Ok(ApplyOutcome::Installed),
        fsutil::CreateOutcome::AlreadyExists => Ok(ApplyOutcome::Skipped(
            "appeared while installing".to_string(),
        )),
    }
}

/// Copies a skill directory (its files, one level of sub-folders deep enough for
/// `references/`) to `destination`.
fn install_tree(source: &Path, destination: &Path, force: bool) -> Result<ApplyOutcome, MineError> {
    if destination.exists() && !force {
        return Ok(ApplyOutcome::Skipped(
            "already exists (use --force to overwrite)".to_string(),
        ));
    }
    let existed = destination.exists();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for name in sorted_entries(&source.join(&relative))? {
            let from = source.join(&relative).join(&name);
            if from.is_dir() {
                pending.push(relative.join(&name));
                continue;
            }
            let text = fsutil::read_text(&from, fsutil::MAX_STATE_FILE_BYTES)?;
            let to = destination.join(&relative).join(&name);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|source| MineError::Write {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            fsutil::write_atomic(&to, text.as_bytes())?;
        }
    }
    Ok(if existed {
        ApplyOutcome::Overwritten
    } else {
        ApplyOutcome::Installed
    })
}

/// A lowercase slug of a-z, 0-9 and single hyphens, at most `limit` characters.
pub fn slug(text: &str, limit: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(limit).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("item");
    }
    out
}

fn unique_name(base: &str, used: &mut std::collections::BTreeSet<String>) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while used.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    used.insert(name.clone());
    name
}

fn skill_name_for(group: &FailureGroup) -> String {
    match &group.validator {
        Some(validator) => format!("fix-{}", slug(validator, 40)),
        None => {
            let words: Vec<&str> = group
                .signature
                .split_whitespace()
                .filter(|word| !word.contains('<') && !word.contains('#'))
                .take(5)
                .collect();
            format!("avoid-{}", slug(&words.join(" "), 40))
        }
    }
}

fn skill_description(group: &FailureGroup) -> String {
    match &group.validator {
        Some(validator) => format!(
            "What to do when the validator `{validator}` fails, learned from {} failure(s) on {} in this repository's run log. Use when `{validator}` fails or before committing changes it checks.",
            group.count,
            super::short_task_list(&group.tasks, 5)
        ),
        None => format!(
            "How to avoid a failure that repeated {} time(s) on {} in this repository: {}. Use when you see this failure or work on those tasks.",
            group.count,
            super::short_task_list(&group.tasks, 5),
            group.signature
        ),
    }
}

fn skill_body(group: &FailureGroup, fixes: &[&FixPair]) -> String {
    let mut body = String::new();
    let subject = group
        .validator
        .as_ref()
        .map_or_else(|| "this failure".to_string(), |v| format!("`{v}` fails"));
    body.push_str(&format!("# When {subject}\n\n## When to use\n\n"));
    body.push_str(&format!(
        "Use this skill when a failure reads like\n\n    {}\n\nIt happened {} time(s) on {} between {} and {}.\n\n",
        group.signature,
        group.count,
        super::short_task_list(&group.tasks, 10),
        group.first_seen,
        group.last_seen
    ));
    body.push_str("## Procedure\n\n");
    body.push_str("1. Read the attempt's `failure.md` and the validator's `output.log` in its run directory; start from the first error.\n");
    match &group.validator {
        Some(validator) => body.push_str(&format!(
            "2. Reproduce it in the worktree: `{validator}`.\n"
        )),
        None => body.push_str("2. Reproduce it in the worktree before changing anything.\n"),
    }
    if fixes.is_empty() {
        body.push_str("3. No attempt has fixed this yet: fix the cause, not the symptom, and log what you learned with `longrun log decision`.\n");
    } else {
        body.push_str("3. Earlier fixes of the same failure; read their diffs first:\n");
        for fix in fixes.iter().rev().take(MAX_FIXES_SHOWN).rev() {
            let range = match (&fix.commit_before, &fix.commit_after) {
                (Some(before), Some(after)) => format!(" (`git diff {before} {after}`)"),
                (None, Some(after)) => format!(" (`git show {after}`)"),
                _ => String::new(),
            };
            body.push_str(&format!(
                "   - `{}`: failed at attempt {}, passed at attempt {}{range}\n",
                fix.task,
                fix.failed_attempt
                    .map_or("?".to_string(), |a| a.to_string()),
                fix.fixed_attempt.map_or("?".to_string(), |a| a.to_string()),
            ));
        }
    }
    if fixes.len() > MAX_FIXES_SHOWN {
        body.push_str(&format!(
            "   - ... and {} earlier fix(es), in `findings.json`\n",
            fixes.len() - MAX_FIXES_SHOWN
        ));
    }
    body.push_str("4. Commit the fix in a small commit that says why.\n\n## Verification\n\n");
    match &group.validator {
        Some(validator) => body.push_str(&format!(
            "Run `{validator}` on the committed state; it must exit 0.\n\n"
        )),
        None => {
            body.push_str("Run the task's validators on the committed state; all must exit 0.\n\n")
        }
    }
    body.push_str("## Evidence\n\n");
    for example in &group.examples {
        body.push_str(&format!("- `run-log.md` line {}", example.line));
        if let Some(evidence) = &example.evidence {
            body.push_str(&format!(": `{evidence}`"));
        }
        body.push('\n');
    }
    body.push_str("- [references/evidence.md](references/evidence.md): the log excerpts.\n");
    body
}

fn evidence_md(root: &Path, group: &FailureGroup) -> String {
    let mut out = format!(
        "# Evidence\n\nSignature: `{}`\n\nFailures: {} on {}.\n",
        group.signature,
        group.count,
        super::short_task_list(&group.tasks, 5)
    );
    for example in &group.examples {
        out.push_str(&format!(
            "\n## run-log.md line {}\n\n```text\n{}\n```\n",
            example.line, example.text
        ));
        let Some(evidence) = &example.evidence else {
            continue;
        };
        let failure = root.join(evidence);
        if let Some(text) = excerpt(&failure) {
            out.push_str(&format!("\n`{evidence}`:\n\n```text\n{text}\n```\n"));
        }
        let Some(run_dir) = failure.parent() else {
            continue;
        };
        let validate = run_dir.join("validate");
        if let Ok(names) = sorted_entries(&validate) {
            for name in names {
                let log = validate.join(&name).join("output.log");
                if let Some(text) = excerpt(&log) {
                    let shown = Path::new(evidence)
                        .parent()
                        .map_or_else(PathBuf::new, Path::to_path_buf)
                        .join("validate")
                        .join(&name)
                        .join("output.log");
                    out.push_str(&format!(
                        "\n`{}` (last lines):\n\n```text\n{text}\n```\n",
                        shown.display()
                    ));
                }
            }
        }
    }
    out
}

/// The last [`MAX_EXCERPT_BYTES`] of a file, from a line start, without fences that would
/// close ours.
fn excerpt(path: &Path) -> Option<String> {
    let bytes = fsutil::read_bounded(path, 64 * 1024 * 1024).ok()?;
    let start = bytes.len().saturating_sub(MAX_EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&bytes[start..]).into_owned();
    if start > 0
        && let Some(newline) = text.find('\n')
    {
        text = text[newline + 1..].to_string();
    }
    Some(text.trim_end().replace("```", "'''"))
}

/// One line of the AGENTS.md patch, and what AGENTS.md must contain for it to be said
/// already (the counts in a line change from run to run; what it is about does not).
struct Lesson {
    line: String,
    key: String,
}

fn lessons(
    findings: &Findings,
    skill_for_signature: &std::collections::BTreeMap<String, String>,
) -> Vec<Lesson> {
    let mut lessons = Vec::new();
    for group in &findings.failure_groups {
        let Some(skill) = skill_for_signature.get(&group.signature) else {
            continue;
        };
        let what = group
            .validator
            .as_ref()
            .map_or_else(|| format!("`{}`", group.signature), |v| format!("`{v}`"));
        lessons.push(Lesson {
            line: format!(
                "- {what} failed {} time(s) on {}: run it before every commit; see the `{skill}` skill.",
                group.count,
                super::short_task_list(&group.tasks, 5)
            ),
            key: format!("see the `{skill}` skill"),
        });
    }
    for intervention in findings
        .interventions
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                InterventionKind::Steering | InterventionKind::TaskNote
            )
        })
        .take(10)
    {
        let text = one_line(&intervention.text);
        let line = match &intervention.task {
            Some(task) => format!("- A person had to say, on {task}: {text}"),
            None => format!("- A person had to say: {text}"),
        };
        lessons.push(Lesson { line, key: text });
    }
    for item in follow_ups_of(findings, FollowUpCategory::GuidelinesToUpdate) {
        let text = one_line(&item.text);
        lessons.push(Lesson {
            line: format!("- {text}"),
            key: text,
        });
    }
    lessons
}

/// Whether `agents_md` already says `lesson`: its key, whitespace and case aside.
fn says_already(agents_md: &str, lesson: &Lesson) -> bool {
    let key = one_line(&lesson.key).to_lowercase();
    !key.is_empty() && one_line(agents_md).to_lowercase().contains(&key)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The follow-ups of one category, in file order.
fn follow_ups_of(
    findings: &Findings,
    category: FollowUpCategory,
) -> impl Iterator<Item = &FollowUp> {
    findings
        .follow_ups
        .iter()
        .filter(move |item| item.category == category)
}

/// The latest fix with a base commit that an "Evals to add" item is about: a fix of a task
/// it names (`T3`), or of a validator it names in backticks.
fn fix_for_follow_up<'a>(findings: &'a Findings, item: &FollowUp) -> Option<(usize, &'a str)> {
    let words: std::collections::HashSet<&str> = item
        .text
        .split(|c: char| c.is_whitespace() || ",;:()[]'\"".contains(c))
        .map(|word| word.trim_end_matches('.'))
        .filter(|word| !word.is_empty())
        .collect();
    let commands: Vec<&str> = item.text.split('`').skip(1).step_by(2).collect();
    findings
        .fixes
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, fix)| {
            words.contains(fix.task.as_str()) || commands.contains(&fix.validator.as_str())
        })
        .find_map(|(index, fix)| Some((index, fix.commit_before.as_deref()?)))
}

fn eval_spec(
    fix: &FixPair,
    id: &str,
    base: &str,
    checklist: Option<&Checklist>,
    follow_up: Option<&FollowUp>,
) -> EvalSpec {
    let task = checklist.and_then(|checklist| checklist.task(&fix.task));
    let mut source = format!(
        "run-log.md lines {}-{}: task {} failed `{}` {} time(s), then merged as {}",
        fix.failure_line,
        fix.fix_line,
        fix.task,
        fix.validator,
        fix.failures,
        fix.commit_after.as_deref().unwrap_or("?")
    );
    if let Some(item) = follow_up {
        source = format!(
            "run-log.md line {} (Evals to add): {}; {source}",
            item.line,
            one_line(&item.text)
        );
    }
    EvalSpec {
        id: id.to_string(),
        base: base.to_string(),
        task: task.map_or_else(
            || format!("Redo task {} so that `{}` passes.", fix.task, fix.validator),
            |task| {
                let mut text = task.title.trim().to_string();
                if !task.description.trim().is_empty() {
                    text.push_str("\n\n");
                    text.push_str(task.description.trim());
                }
                text
            },
        ),
        acceptance: task
            .map(|task| task.acceptance_criteria.clone())
            .unwrap_or_default(),
        validators: vec![fix.validator.clone()],
        timeout: task.and_then(|task| task.timeout.clone()),
        source: Some(source),
    }
}

/// A valid skill name from a follow-up's words: `How to rebase a task branch` gives
/// `how-to-rebase-a-task-branch`, cut at a word within the 64 characters allowed.
fn follow_up_skill_name(text: &str) -> String {
    let full = slug(text, 200);
    if full.len() <= 64 {
        return full;
    }
    let cut = full[..=64].rfind('-').unwrap_or(64);
    full[..cut].trim_end_matches('-').to_string()
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The body of a skill a follow-up asks for: the same sections as a failure group's draft,
/// with what only a person (or `--agent`) can write marked as such.
fn follow_up_skill_body(item: &FollowUp) -> String {
    format!(
        "# {title}\n\n## When to use\n\nThe run log's Follow-ups ask for this skill (\"Skills to extract\", `run-log.md` line {line}): {text}\n\n## Procedure\n\n1. To write: the steps, each a command or a check, from the runs that needed this.\n\n## Verification\n\nTo write: the command that shows it worked; it must exit 0.\n\n## Evidence\n\n- `run-log.md` line {line}: the follow-up.\n- [references/evidence.md](references/evidence.md): the log excerpt.\n",
        title = item.text.trim_end_matches('.'),
        line = item.line,
        text = item.text,
    )
}

/// A unified diff that appends the lessons section at the end of AGENTS.md.
pub fn agents_patch(current: Option<&str>, lessons: &[String]) -> String {
    let mut added = vec![String::new(), LESSONS_HEADING.to_string(), String::new()];
    added.extend(lessons.iter().cloned());
    let mut out = String::new();
    match current {
        None => {
            out.push_str("--- /dev/null\n+++ b/AGENTS.md\n");
            let added = &added[1..];
            out.push_str(&format!("@@ -0,0 +1,{} @@\n", added.len()));
            for line in added {
                out.push_str(&format!("+{line}\n"));
            }
        }
        Some(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let context_start = lines.len().saturating_sub(3);
            let context = &lines[context_start..];
            out.push_str("--- a/AGENTS.md\n+++ b/AGENTS.md\n");
            out.push_str(&format!(
                "@@ -{},{} +{},{} @@\n",
                context_start + 1,
                context.len(),
                context_start + 1,
                context.len() + added.len()
            ));
            for line in context {
                out.push_str(&format!(" {line}\n"));
            }
            for line in &added {
                out.push_str(&format!("+{line}\n"));
            }
        }
    }
    out
}

/// Applies a patch written by [`agents_patch`]: its context must still be the end of the file
/// (unless `force`), and the section must not be there already.
fn apply_agents_patch(
    current: Option<&str>,
    patch: &str,
    force: bool,
) -> Result<(String, ApplyOutcome), String> {
    let mut context = Vec::new();
    let mut added = Vec::new();
    let mut in_hunk = false;
    for line in patch.lines() {
        if line.starts_with("@@") {
            in_hunk = true;
            continue;
        }
        if !in_hunk {
            continue;
        }
        if let Some(text) = line.strip_prefix('+') {
            added.push(text);
        } else if let Some(text) = line.strip_prefix(' ') {
            context.push(text);
        } else if line.is_empty() {
            context.push("");
        } else {
            return Err(format!("the patch has a line it cannot apply: {line:?}"));
        }
    }
    if added.is_empty() {
        return Err("the patch adds nothing".to_string());
    }
    let text = current.unwrap_or("");
    let lines: Vec<&str> = text.lines().collect();
    if let Some(heading) = lines
        .iter()
        .position(|line| line.trim_end() == LESSONS_HEADING)
    {
        if !force {
            return Err(format!(
                "AGENTS.md already has `{LESSONS_HEADING}` (use --force to add the new lessons to it)"
            ));
        }
        return merge_lessons(&lines, heading, &added);
    }
    let ends_with_context =
        lines.len() >= context.len() && lines[lines.len() - context.len()..] == context[..];
    if !force && !ends_with_context {
        return Err(
            "AGENTS.md changed since the patch was written (use --force to append anyway)"
                .to_string(),
        );
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for line in added {
        out.push_str(line);
        out.push('\n');
    }
    Ok((out, ApplyOutcome::Installed))
}

/// `--force` on an AGENTS.md that has the lessons section already (at line index
/// `heading`): the patch's lessons it does not have yet go at the end of that section,
/// never under a second heading.
fn merge_lessons(
    lines: &[&str],
    heading: usize,
    added: &[&str],
) -> Result<(String, ApplyOutcome), String> {
    let end = lines[heading + 1..]
        .iter()
        .position(|line| line.starts_with("# ") || line.starts_with("## "))
        .map_or(lines.len(), |offset| heading + 1 + offset);
    // After the section's last non-blank line, so blank lines before the next heading stay.
    let insert_at = (heading + 1..end)
        .rev()
        .find(|&index| !lines[index].trim().is_empty())
        .map_or(heading + 1, |index| index + 1);
    let present: std::collections::HashSet<&str> = lines[heading..end]
        .iter()
        .map(|line| line.trim_end())
        .collect();
    let new: Vec<&str> = added
        .iter()
        .copied()
        .filter(|line| line.starts_with("- ") && !present.contains(line.trim_end()))
        .collect();
    if new.is_empty() {
        return Err(format!(
            "AGENTS.md's `{LESSONS_HEADING}` has every lesson of the patch already"
        ));
    }
    let mut out: Vec<&str> = Vec::with_capacity(lines.len() + new.len() + 1);
    out.extend_from_slice(&lines[..insert_at]);
    if insert_at == heading + 1 {
        out.push("");
    }
    out.extend_from_slice(&new);
    out.extend_from_slice(&lines[insert_at..]);
    Ok((out.join("\n") + "\n", ApplyOutcome::Overwritten))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(task: &str, validator: &str, line: usize) -> FixPair {
        FixPair {
            task: task.to_string(),
            validator: validator.to_string(),
            signature: String::new(),
            failed_attempt: Some(1),
            fixed_attempt: Some(2),
            failures: 1,
            failure_line: line,
            fix_line: line + 1,
            failure_evidence: None,
            commit_after: None,
            target: None,
            commit_before: None,
        }
    }

    #[test]
    fn evals_come_from_the_latest_fix_of_each_task_and_validator() {
        let mut findings = Findings {
            fixes: vec![
                fix("T1", "cargo test", 1),
                fix("T2", "cargo test", 3),
                fix("T1", "cargo test", 5),
                fix("T1", "make lint", 7),
            ],
            ..Findings::default()
        };
        assert_eq!(eval_candidates(&findings), [1, 2, 3]);
        findings.fixes = (0..MAX_EVALS + 10)
            .map(|i| fix(&format!("T{i}"), "x", i))
            .collect();
        let picked = eval_candidates(&findings);
        assert_eq!(picked.len(), MAX_EVALS);
        assert_eq!(picked[0], 10, "the newest are kept");
    }

    fn group(signature: &str, count: usize) -> FailureGroup {
        FailureGroup {
            signature: signature.to_string(),
            validator: None,
            count,
            tasks: vec!["T1".to_string()],
            first_seen: "2026-11-20T10:00:00Z".to_string(),
            last_seen: "2026-11-20T10:00:00Z".to_string(),
            examples: Vec::new(),
        }
    }

    #[test]
    fn skills_are_drafted_for_the_most_frequent_repeated_groups_only() {
        let dir = tempfile::tempdir().unwrap();
        // Sorted as `mine` sorts them: by count, then signature.
        let mut groups: Vec<FailureGroup> = (0..MAX_SKILLS + 5)
            .map(|i| {
                group(
                    &format!("failure number {}", (b'a' + i as u8) as char),
                    100 - i,
                )
            })
            .collect();
        groups.extend((0..3).map(|i| group(&format!("once {i}"), 1)));
        let findings = Findings {
            failure_group_count: groups.len(),
            repeated_group_count: MAX_SKILLS + 5,
            failure_groups: groups,
            ..Findings::default()
        };
        let written = write_proposals(dir.path(), "stamp", &findings, None).unwrap();
        assert_eq!(written.skills.len(), MAX_SKILLS);
        assert_eq!(written.skills[0], "avoid-failure-number-a");
        assert_eq!(
            written.skills[MAX_SKILLS - 1],
            format!(
                "avoid-failure-number-{}",
                (b'a' + MAX_SKILLS as u8 - 1) as char
            )
        );
        assert_eq!(written.repeated_groups_left_out, 5);
        assert_eq!(written.single_groups_left_out, 3);
        let drafted = sorted_entries(&dir.path().join(PROPOSALS_DIR).join("stamp/skills")).unwrap();
        assert_eq!(drafted.len(), MAX_SKILLS);
    }

    #[test]
    fn slugs_are_valid_skill_names() {
        for text in [
            "cargo test --all",
            "  --weird__ Name!! ",
            "sh -c 'exit 1'",
            "",
        ] {
            let name = format!("fix-{}", slug(text, 40));
            assert_eq!(skills::skill_name_problem(&name), None, "{name}");
        }
        assert_eq!(slug("cargo test --all", 40), "cargo-test-all");
    }

    #[test]
    fn the_agents_patch_applies_to_what_it_was_made_from_only() {
        let lessons = vec!["- run the tests".to_string()];
        let current = "# AGENTS.md\n\nBe nice.\n";
        let patch = agents_patch(Some(current), &lessons);
        assert!(
            patch.starts_with("--- a/AGENTS.md\n+++ b/AGENTS.md\n@@ -1,3 +1,7 @@\n"),
            "{patch}"
        );
        let (text, _) = apply_agents_patch(Some(current), &patch, false).unwrap();
        assert_eq!(
            text,
            format!("{current}\n{LESSONS_HEADING}\n\n- run the tests\n")
        );
        assert!(apply_agents_patch(Some(&text), &patch, false).is_err());
        assert!(apply_agents_patch(Some("# other\n"), &patch, false).is_err());
        let fresh = agents_patch(None, &lessons);
        let (text, _) = apply_agents_patch(None, &fresh, false).unwrap();
        assert_eq!(text, format!("{LESSONS_HEADING}\n\n- run the tests\n"));
    }

    #[test]
    fn forcing_the_agents_patch_adds_to_the_lessons_section_there_is() {
        let current = format!(
            "# AGENTS.md\n\n{LESSONS_HEADING}\n\n- run the tests\n\n## Style\n\nShort lines.\n"
        );
        let patch = agents_patch(
            Some("# something else\n"),
            &["- run the tests".to_string(), "- lint first".to_string()],
        );
        let refused = apply_agents_patch(Some(&current), &patch, false).unwrap_err();
        assert!(refused.contains("use --force"), "{refused}");
        let (text, outcome) = apply_agents_patch(Some(&current), &patch, true).unwrap();
        assert_eq!(outcome, ApplyOutcome::Overwritten);
        assert_eq!(
            text,
            format!(
                "# AGENTS.md\n\n{LESSONS_HEADING}\n\n- run the tests\n- lint first\n\n## Style\n\nShort lines.\n"
            )
        );
        assert_eq!(text.matches(LESSONS_HEADING).count(), 1);
        // Again: nothing new to add.
        assert!(apply_agents_patch(Some(&text), &patch, true).is_err());
    }
}
