//! `longrun mine --agent`: an agent rewrites the prose of the deterministic proposals (the
//! `SKILL.md` descriptions and bodies, the AGENTS.md guideline lines) in a scratch folder,
//! and only what passes the same checks as `longrun skill check`, keeps the body's sections
//! ([`body_violations`]) and the guideline format replaces the deterministic draft. Everything else keeps the draft, with the rule it broke.
//!
//! [`prepare`] copies the drafts out, [`adopt`] judges the agent's copies and installs the
//! accepted ones into the proposal directory. Files only: this module never spawns (the
//! caller runs the agent), never runs git and never prints.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::MineError;
use super::proposals::{self, AGENTS_PATCH, LESSONS_HEADING};
use crate::fsutil;
use crate::skills::{self, SKILL_FILE};

/// The guideline lines' file in the scratch folder.
pub const GUIDELINES_FILE: &str = "guidelines.md";

/// Most guideline lines an agent may leave.
pub const MAX_GUIDELINES: usize = 50;

/// Longest guideline line, in characters.
pub const MAX_GUIDELINE_CHARS: usize = 500;

/// What [`prepare`] put in the scratch folder for the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drafts {
    /// The folder the agent edits (`<scratch>/drafts`).
    pub directory: PathBuf,
    /// The skill drafts, by name, in order.
    pub skills: Vec<String>,
    /// The guideline lines of the AGENTS.md patch, when there is one.
    pub guidelines: Option<Vec<String>>,
}

/// The verdict on everything the agent left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProseReport {
    pub skills: Vec<Verdict>,
    pub guidelines: Option<Verdict>,
    /// Files or folders the agent added, which nothing reads.
    pub ignored: Vec<String>,
}

impl ProseReport {
    /// Whether some of the agent's prose was refused.
    pub fn refused_any(&self) -> bool {
        self.skills
            .iter()
            .chain(&self.guidelines)
            .any(|verdict| verdict.outcome == Outcome::Refused)
    }
}

/// What happened to one draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The skill's name, or `guidelines`.
    pub name: String,
    pub outcome: Outcome,
    /// Why it was refused: `(rule, message)`, rules as `longrun skill check` names them.
    pub violations: Vec<(String, String)>,
}

/// Whether the agent's version replaced the draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It passed the checks and replaced the deterministic draft.
    Accepted,
    /// It broke a rule; the deterministic draft is kept.
    Refused,
    /// The agent left the draft as it was (or removed it): the draft is kept.
    Unchanged,
}

/// Copies the drafts of `proposal_dir` (absolute) into `<scratch>/drafts/`: each skill's
/// `SKILL.md` and `references/`, `findings.json`, and the AGENTS.md patch's lines as
/// [`GUIDELINES_FILE`].
pub fn prepare(proposal_dir: &Path, scratch: &Path) -> Result<Drafts, MineError> {
    let directory = scratch.join("drafts");
    let mut drafts = Drafts {
        directory: directory.clone(),
        ..Drafts::default()
    };
    for name in proposals::sorted_entries(&proposal_dir.join("skills"))? {
        let from = proposal_dir.join("skills").join(&name);
        if !from.join(SKILL_FILE).is_file() {
            continue;
        }
        copy_file(
            &from.join(SKILL_FILE),
            &directory.join("skills").join(&name).join(SKILL_FILE),
        )?;
        for reference in proposals::sorted_entries(&from.join("references"))? {
            copy_file(
                &from.join("references").join(&reference),
                &directory
                    .join("skills")
                    .join(&name)
                    .join("references")
                    .join(&reference),
            )?;
        }
        drafts.skills.push(name);
    }
    let findings = proposal_dir.join("findings.json");
    if findings.is_file() {
        copy_file(&findings, &directory.join("findings.json"))?;
    }
    let patch = proposal_dir.join(AGENTS_PATCH);
    if patch.is_file() {
        let text = fsutil::read_text(&patch, fsutil::MAX_STATE_FILE_BYTES)?;
        let lines = lessons_of_patch(&text);
        write(
            &directory.join(GUIDELINES_FILE),
            &lines
                .iter()
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
        )?;
        drafts.guidelines = Some(lines);
    }
    Ok(drafts)
}

/// Judges what the agent left in `drafts.directory` and installs what passes into
/// `proposal_dir` (absolute): a skill's `SKILL.md`, or the AGENTS.md patch rebuilt from
/// the agent's guideline lines against `agents_md` (the repository's AGENTS.md now).
pub fn adopt(
    proposal_dir: &Path,
    drafts: &Drafts,
    agents_md: Option<&str>,
) -> Result<ProseReport, MineError> {
    let mut report = ProseReport::default();
    for name in &drafts.skills {
        let agent_dir = drafts.directory.join("skills").join(name);
        let theirs = read_optional(&agent_dir.join(SKILL_FILE))?;
        let ours_path = proposal_dir.join("skills").join(name).join(SKILL_FILE);
        let ours = read_optional(&ours_path)?;
        let verdict = match theirs {
            None => unchanged(name),
            Some(text) if Some(&text) == ours.as_ref() => unchanged(name),
            Some(text) => {
                let check = skills::check_skill_dir(&agent_dir);
                let mut violations: Vec<(String, String)> = check
                    .violations
                    .iter()
                    .map(|v| (v.rule.as_str().to_string(), v.message.clone()))
                    .collect();
                violations.extend(body_violations(&text));
                if violations.is_empty() {
                    write(&ours_path, &text)?;
                    Verdict {
                        name: name.clone(),
                        outcome: Outcome::Accepted,
                        violations: Vec::new(),
                    }
                } else {
                    Verdict {
                        name: name.clone(),
                        outcome: Outcome::Refused,
                        violations,
                    }
                }
            }
        };
        report.skills.push(verdict);
    }
    for name in proposals::sorted_entries(&drafts.directory.join("skills"))? {
        if !drafts.skills.contains(&name) {
            report.ignored.push(format!("skills/{name}"));
        }
    }

    if let Some(lines) = &drafts.guidelines {
        let text = read_optional(&drafts.directory.join(GUIDELINES_FILE))?;
        let verdict = match text {
            None => unchanged("guidelines"),
            Some(text) => {
                let theirs: Vec<String> = text
                    .lines()
                    .map(|line| line.trim_end().to_string())
                    .filter(|line| !line.trim().is_empty())
                    .collect();
                if theirs == *lines {
                    unchanged("guidelines")
                } else {
                    let violations = guideline_violations(&theirs);
                    if violations.is_empty() {
                        write(
                            &proposal_dir.join(AGENTS_PATCH),
                            &proposals::agents_patch(agents_md, &theirs),
                        )?;
                        Verdict {
                            name: "guidelines".to_string(),
                            outcome: Outcome::Accepted,
                            violations,
                        }
                    } else {
                        Verdict {
                            name: "guidelines".to_string(),
                            outcome: Outcome::Refused,
                            violations,
                        }
                    }
                }
            }
        };
        report.guidelines = Some(verdict);
    }
    Ok(report)
}

/// The rules an AGENTS.md guideline list must meet: one `- ` line per guideline
/// (`guideline-format`), at most [`MAX_GUIDELINE_CHARS`] characters each
/// (`guideline-length`), between 1 and [`MAX_GUIDELINES`] of them (`guideline-count`).
pub fn guideline_violations(lines: &[String]) -> Vec<(String, String)> {
    let mut violations = Vec::new();
    if lines.is_empty() || lines.len() > MAX_GUIDELINES {
        violations.push((
            "guideline-count".to_string(),
            format!(
                "{} guideline line(s); between 1 and {MAX_GUIDELINES} are allowed",
                lines.len()
            ),
        ));
    }
    for (index, line) in lines.iter().enumerate() {
        let text = line.strip_prefix("- ").map(str::trim);
        if text.is_none_or(str::is_empty) || line.trim_start() == LESSONS_HEADING {
            violations.push((
                "guideline-format".to_string(),
                format!(
                    "line {}: a guideline is one line starting with `- `: {line:?}",
                    index + 1
                ),
            ));
        } else if line.chars().count() > MAX_GUIDELINE_CHARS {
            violations.push((
                "guideline-length".to_string(),
                format!(
                    "line {}: {} characters; at most {MAX_GUIDELINE_CHARS} are allowed",
                    index + 1,
                    line.chars().count()
                ),
            ));
        }
    }
    violations
}

/// The rules a skill's body must meet beyond the Agent Skills ones, the parts every
/// deterministic draft has: each of [`proposals::SKILL_SECTIONS`] as a `## ` heading with
/// something under it (`body-sections`), and an Evidence section that links
/// [`proposals::EVIDENCE_FILE`] (`evidence-link`).
pub fn body_violations(skill_md: &str) -> Vec<(String, String)> {
    let body = body_of(skill_md);
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in body.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            sections.push((title.trim().to_ascii_lowercase(), Vec::new()));
        } else if line.starts_with("# ") {
            sections.push((String::new(), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut()
            && !line.trim().is_empty()
        {
            lines.push(line);
        }
    }
    let mut violations = Vec::new();
    for name in proposals::SKILL_SECTIONS {
        let found = sections
            .iter()
            .find(|(title, _)| *title == name.to_ascii_lowercase());
        match found {
            None => violations.push((
                "body-sections".to_string(),
                format!("the body has no `## {name}` section"),
            )),
            Some((_, lines)) if lines.is_empty() => violations.push((
                "body-sections".to_string(),
                format!("the `## {name}` section is empty"),
            )),
            Some((_, lines)) => {
                if name == "Evidence"
                    && !lines
                        .iter()
                        .any(|line| line.contains(proposals::EVIDENCE_FILE))
                {
                    violations.push((
                        "evidence-link".to_string(),
                        format!(
                            "the `## Evidence` section does not link `{}`",
                            proposals::EVIDENCE_FILE
                        ),
                    ));
                }
            }
        }
    }
    violations
}

/// What follows the front matter's closing `---` line; the whole text when there is none.
fn body_of(skill_md: &str) -> &str {
    let mut lines = skill_md.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return skill_md;
    }
    let mut offset = skill_md.find('\n').map_or(skill_md.len(), |i| i + 1);
    for line in lines {
        offset += line.len();
        if line.trim_end() == "---" {
            return &skill_md[offset..];
        }
    }
    ""
}

/// The guideline lines a patch from [`proposals::agents_patch`] adds.
pub fn lessons_of_patch(patch: &str) -> Vec<String> {
    patch
        .lines()
        .filter_map(|line| line.strip_prefix('+'))
        .filter(|line| !line.starts_with("++") && line.starts_with("- "))
        .map(str::to_string)
        .collect()
}

fn unchanged(name: &str) -> Verdict {
    Verdict {
        name: name.to_string(),
        outcome: Outcome::Unchanged,
        violations: Vec::new(),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, MineError> {
    match fsutil::read_text(path, skills::MAX_SKILL_FILE_BYTES) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn copy_file(from: &Path, to: &Path) -> Result<(), MineError> {
    if from.is_dir() {
        return Ok(());
    }
    let text = fsutil::read_text(from, fsutil::MAX_STATE_FILE_BYTES)?;
    write(to, &text)
}

fn write(path: &Path, text: &str) -> Result<(), MineError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| MineError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    fsutil::write_atomic(path, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    #[test]
    fn guidelines_are_single_bullet_lines() {
        assert!(guideline_violations(&lines(&["- run `make lint` before committing"])).is_empty());
        let rules = |items: &[&str]| -> Vec<String> {
            guideline_violations(&lines(items))
                .into_iter()
                .map(|(rule, _)| rule)
                .collect()
        };
        assert_eq!(rules(&[]), ["guideline-count"]);
        assert_eq!(rules(&["## Lessons", "- ok"]), ["guideline-format"]);
        assert_eq!(rules(&["- "]), ["guideline-format"]);
        assert_eq!(
            rules(&[&format!("- {}", "x".repeat(MAX_GUIDELINE_CHARS))]),
            ["guideline-length"]
        );
        let many: Vec<String> = (0..=MAX_GUIDELINES).map(|i| format!("- {i}")).collect();
        assert_eq!(guideline_violations(&many)[0].0, "guideline-count");
    }

    #[test]
    fn a_skill_body_needs_its_four_sections_and_the_evidence_link() {
        let good = "---\nname: x\ndescription: d\n---\n\n# X\n\n## When to use\n\nWhen x.\n\n## Procedure\n\n1. Do.\n\n## Verification\n\nRun `x`.\n\n## Evidence\n\n- [references/evidence.md](references/evidence.md)\n";
        assert_eq!(body_violations(good), []);
        let rules = |text: &str| -> Vec<String> {
            body_violations(text)
                .into_iter()
                .map(|(rule, message)| format!("{rule}: {message}"))
                .collect()
        };
        assert_eq!(
            rules(&good.replace("## Verification\n\nRun `x`.\n\n", "")),
            ["body-sections: the body has no `## Verification` section"]
        );
        assert_eq!(
            rules(&good.replace("1. Do.\n", "")),
            ["body-sections: the `## Procedure` section is empty"]
        );
        assert_eq!(
            rules(&good.replace(
                "- [references/evidence.md](references/evidence.md)",
                "- the log"
            )),
            ["evidence-link: the `## Evidence` section does not link `references/evidence.md`"]
        );
        // Headings in the front matter do not count.
        assert_eq!(rules("---\nname: x\n## When to use\n---\nbody\n").len(), 4);
    }

    /// The deterministic drafts meet the body rules an agent's rewrite is held to.
    #[test]
    fn deterministic_drafts_have_the_sections_an_agent_must_keep() {
        let dir = tempfile::tempdir().unwrap();
        let findings = crate::mine::Findings {
            failure_group_count: 1,
            repeated_group_count: 1,
            failure_groups: vec![crate::mine::FailureGroup {
                signature: "validator `make` exited #".to_string(),
                validator: Some("make".to_string()),
                count: 2,
                tasks: vec!["T1".to_string()],
                first_seen: String::new(),
                last_seen: String::new(),
                examples: Vec::new(),
            }],
            follow_ups: vec![crate::mine::FollowUp {
                category: crate::mine::FollowUpCategory::SkillsToExtract,
                heading: None,
                text: "how to rebase".to_string(),
                line: 3,
            }],
            ..crate::mine::Findings::default()
        };
        let written = proposals::write_proposals(dir.path(), "x", &findings, None).unwrap();
        assert_eq!(written.skills, ["fix-make", "how-to-rebase"]);
        for skill in &written.skills {
            let text = std::fs::read_to_string(
                dir.path()
                    .join(proposals::PROPOSALS_DIR)
                    .join("x/skills")
                    .join(skill)
                    .join(SKILL_FILE),
            )
            .unwrap();
            assert_eq!(body_violations(&text), [], "{text}");
        }
    }

    #[test]
    fn the_patch_lines_round_trip() {
        let lessons = lines(&["- one", "- two"]);
        let patch = proposals::agents_patch(Some("# AGENTS\n"), &lessons);
        assert_eq!(lessons_of_patch(&patch), lessons);
        let fresh = proposals::agents_patch(None, &lessons);
        assert_eq!(lessons_of_patch(&fresh), lessons);
    }
}
