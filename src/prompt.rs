//! The worker prompt: what a fresh agent is told about its one task, rendered from the
//! embedded `templates/worker.md`.
//!
//! Pure: everything comes in through [`PromptInput`] (the caller reads the checklist, the
//! plan, AGENTS.md and the skills); no file system, no clock, no environment, so the same
//! input always gives the same text. Text from the repository is inserted verbatim, never
//! interpreted: the prompt is data for an agent, not a script. Large inputs (the plan,
//! AGENTS.md, the failure evidence, the skills list) are cut to fixed sizes with a note, so a
//! prompt stays small however large the repository's files grow.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::skills::SkillSummary;
use crate::state::plan::parse_plan;
use crate::templates;

/// Most bytes of plan.md a prompt carries.
pub const PLAN_EXCERPT_LIMIT: usize = 8 * 1024;

/// Most bytes of AGENTS.md a prompt carries.
pub const AGENTS_MD_LIMIT: usize = 8 * 1024;

/// Most bytes of the previous attempt's failure evidence a prompt carries.
pub const FAILURE_EVIDENCE_LIMIT: usize = 8 * 1024;

/// Most bytes of the skills list a prompt carries.
pub const SKILLS_LIMIT: usize = 4 * 1024;

/// The plan.md sections every worker sees, by how their headings start (any case).
pub const PLAN_SECTIONS: &[&str] = &["purpose", "scope", "constraints", "verification"];

/// Everything a worker prompt says. Empty text and empty lists leave their section out.
#[derive(Debug, Clone, Copy, Default)]
pub struct PromptInput<'a> {
    pub task_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub acceptance_criteria: &'a [String],
    pub implementation_notes: &'a str,
    /// The plan.md milestone the task belongs to (`M1`, or the milestone's title).
    pub milestone: Option<&'a str>,
    /// The task's own validators, as they read in messages.
    pub validators: &'a [String],
    /// The checklist's fast verification loop, as it reads in messages.
    pub fast_verification: &'a [String],
    /// The checklist's `guidelines`.
    pub guidelines: &'a [String],
    /// The whole text of plan.md; only the sections in [`PLAN_SECTIONS`] and the task's
    /// milestone are shown, at most [`PLAN_EXCERPT_LIMIT`] bytes.
    pub plan: &'a str,
    /// The whole text of AGENTS.md; at most [`AGENTS_MD_LIMIT`] bytes are shown.
    pub agents_md: &'a str,
    /// Only each skill's name and description are shown; the agent opens `SKILL.md` itself.
    pub skills: &'a [SkillSummary],
    /// The skills folder, relative to the repository root (`skills_dir` in longrun.yaml);
    /// empty is `.agents/skills`.
    pub skills_dir: &'a str,
    /// Why the previous attempt was rejected; at most [`FAILURE_EVIDENCE_LIMIT`] bytes.
    pub failure_evidence: Option<&'a str>,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The worker's git worktree, as the agent should read it.
    pub worktree: &'a str,
    /// The branch checked out in the worktree, normally `longrun/<task_id>`.
    pub branch: &'a str,
}

/// Renders the worker prompt for one attempt.
pub fn render_worker_prompt(input: &PromptInput<'_>) -> String {
    let attempt = input.attempt.to_string();
    let max_attempts = input.max_attempts.to_string();
    let acceptance_criteria = bullet_list(input.acceptance_criteria);
    let validators = command_list(input.validators);
    let fast_verification = command_list(input.fast_verification);
    let guidelines = bullet_list(input.guidelines);
    // The files' own headings move one level down, under the prompt's `## From ...`.
    let plan = demote_headings(&plan_excerpt(
        input.plan,
        input.milestone,
        PLAN_EXCERPT_LIMIT,
    ));
    let agents_md = demote_headings(&cut_tail(
        input.agents_md.trim(),
        AGENTS_MD_LIMIT,
        "AGENTS.md",
    ));
    let skills_dir = match input.skills_dir.trim_end_matches('/') {
        "" => crate::skills::SKILLS_DIR,
        dir => dir,
    };
    let skills = skills_list(input.skills, skills_dir, SKILLS_LIMIT);
    let failure_evidence = input
        .failure_evidence
        .filter(|evidence| !evidence.trim().is_empty())
        .map(|evidence| fenced(&cut_middle(evidence.trim_end(), FAILURE_EVIDENCE_LIMIT)))
        .unwrap_or_default();
    let milestone = input.milestone.unwrap_or_default().trim();
    let values: [(&str, &str); 18] = [
        ("task_id", input.task_id),
        ("title", input.title),
        ("attempt", &attempt),
        ("max_attempts", &max_attempts),
        ("worktree", input.worktree),
        ("branch", input.branch),
        ("milestone", milestone),
        ("description", input.description.trim_end()),
        ("acceptance_criteria", &acceptance_criteria),
        (
            "implementation_notes",
            input.implementation_notes.trim_end(),
        ),
        ("validators", &validators),
        ("fast_verification", &fast_verification),
        ("guidelines", &guidelines),
        ("plan", &plan),
        ("agents_md", &agents_md),
        ("skills", &skills),
        ("skills_dir", skills_dir),
        ("failure_evidence", &failure_evidence),
    ];
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
    };
    let mut prompt = String::with_capacity(templates::WORKER_MD.len() + 4096);
    render_template(templates::WORKER_MD, &lookup, &mut prompt);
    // Sections end with a blank line so that a missing one leaves none behind; the last
    // one's is not needed.
    let kept = prompt.trim_end_matches('\n').len();
    prompt.truncate(kept);
    prompt.push('\n');
    prompt
}

/// What a reviewer's prompt says.
pub struct ReviewPromptInput<'a> {
    pub task_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub acceptance_criteria: &'a [String],
    pub target: &'a str,
    /// The candidate's diff against the target; cut in the middle when long.
    pub diff: &'a str,
}

/// Largest diff put into a review prompt.
const REVIEW_DIFF_LIMIT: usize = 60 * 1024;

/// Renders `templates/review.md`.
pub fn render_review_prompt(input: &ReviewPromptInput<'_>) -> String {
    let acceptance_criteria = bullet_list(input.acceptance_criteria);
    let diff = fenced(&cut_middle(input.diff.trim_end(), REVIEW_DIFF_LIMIT));
    let values: [(&str, &str); 6] = [
        ("task_id", input.task_id),
        ("title", input.title),
        ("description", input.description.trim_end()),
        ("acceptance_criteria", &acceptance_criteria),
        ("target", input.target),
        ("diff", &diff),
    ];
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
    };
    let mut prompt = String::with_capacity(templates::REVIEW_MD.len() + diff.len());
    render_template(templates::REVIEW_MD, &lookup, &mut prompt);
    prompt
}

/// What the planner's kickoff prompt names.
#[derive(Debug, Clone, Copy, Default)]
pub struct KickoffInput<'a> {
    /// The PRD, relative to the checkout the planner runs in.
    pub prd: &'a str,
    /// Now, as the run log writes it (`2026-11-21T09:00:00Z`), for the example event.
    pub now: &'a str,
}

/// Renders the kickoff prompt of `longrun plan --agent` (`templates/kickoff.md`).
pub fn render_kickoff_prompt(input: &KickoffInput<'_>) -> String {
    let values: [(&str, &str); 2] = [("prd", input.prd), ("now", input.now)];
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
    };
    let mut prompt = String::with_capacity(templates::KICKOFF_MD.len() + 256);
    render_template(templates::KICKOFF_MD, &lookup, &mut prompt);
    prompt
}

/// What the prompt of `longrun mine --agent` names.
#[derive(Debug, Clone, Copy, Default)]
pub struct MinePromptInput<'a> {
    /// The drafts' folder, relative to the agent's working directory.
    pub drafts: &'a str,
    /// The skills to rewrite, one `- name` line each.
    pub skills: &'a str,
    /// Whether an AGENTS.md patch is in the drafts.
    pub agents_patch: bool,
}

/// Renders the prompt of `longrun mine --agent` (`templates/mine.md`).
pub fn render_mine_prompt(input: &MinePromptInput<'_>) -> String {
    let patch = if input.agents_patch {
        crate::mine::proposals::AGENTS_PATCH
    } else {
        ""
    };
    let values: [(&str, &str); 3] = [
        ("drafts", input.drafts),
        ("skills", input.skills),
        ("agents_patch", patch),
    ];
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
    };
    let mut prompt = String::with_capacity(templates::MINE_MD.len() + 256);
    render_template(templates::MINE_MD, &lookup, &mut prompt);
    prompt
}

/// The parts of `plan` a worker needs, at most `limit` bytes: the task's milestone first
/// (when `milestone` names one the plan has), then the Purpose, Scope, Constraints and
/// Verification sections in file order. A longer excerpt is cut with a note that says so.
pub fn plan_excerpt(plan: &str, milestone: Option<&str>, limit: usize) -> String {
    let headings = headings(plan);
    let mut pieces: Vec<String> = Vec::new();
    let mut taken: Vec<Range<usize>> = Vec::new();
    if let Some(range) = milestone.and_then(|name| milestone_range(plan, &headings, name)) {
        let text = plan[range.clone()].trim_end();
        if headings
            .iter()
            .any(|heading| heading.range.start == range.start)
        {
            pieces.push(text.to_string());
        } else {
            pieces.push(format!("The task's milestone:\n\n{text}"));
        }
        taken.push(range);
    }
    for heading in &headings {
        let wanted = PLAN_SECTIONS
            .iter()
            .any(|prefix| heading.title.to_ascii_lowercase().starts_with(prefix));
        let inside_taken = taken
            .iter()
            .any(|range| range.start <= heading.range.start && heading.range.end <= range.end);
        if wanted && !inside_taken {
            let section = plan[heading.range.clone()].trim_end();
            // A milestone heading inside this section is already shown above.
            pieces.push(section.to_string());
            taken.push(heading.range.clone());
        }
    }
    cut_tail(&pieces.join("\n\n"), limit, "plan.md")
}

/// A heading of the plan and the byte range of its section (up to the next heading of the
/// same or a higher level).
struct Heading {
    level: HeadingLevel,
    title: String,
    range: Range<usize>,
    line: usize,
}

fn headings(text: &str) -> Vec<Heading> {
    let mut headings: Vec<Heading> = Vec::new();
    let mut current: Option<(HeadingLevel, usize, String)> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((level, range.start, String::new()));
            }
            Event::Text(part) | Event::Code(part) => {
                if let Some((_, _, title)) = current.as_mut() {
                    title.push_str(&part);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, start, title)) = current.take() {
                    headings.push(Heading {
                        level,
                        title: title.trim().to_string(),
                        range: start..text.len(),
                        line: crate::fsutil::line_column(text, start).0,
                    });
                }
            }
            _ => {}
        }
    }
    for index in 0..headings.len() {
        let level = headings[index].level;
        if let Some(next) = headings[index + 1..]
            .iter()
            .find(|heading| heading.level <= level)
        {
            headings[index].range.end = next.range.start;
        }
    }
    headings
}

/// Where the milestone called `name` (its label like `M1`, or its title) is written: its
/// heading's section, or its list item.
fn milestone_range(plan: &str, headings: &[Heading], name: &str) -> Option<Range<usize>> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let milestone = parse_plan(plan).milestones.into_iter().find(|milestone| {
        milestone
            .label
            .as_deref()
            .is_some_and(|label| label.eq_ignore_ascii_case(name))
            || milestone.title.eq_ignore_ascii_case(name)
    })?;
    if let Some(heading) = headings
        .iter()
        .find(|heading| heading.line == milestone.line)
    {
        return Some(heading.range.clone());
    }
    // The outermost list item that starts on the milestone's line.
    Parser::new(plan)
        .into_offset_iter()
        .find_map(|(event, range)| match event {
            Event::Start(Tag::Item)
                if crate::fsutil::line_column(plan, range.start).0 == milestone.line =>
            {
                Some(range)
            }
            _ => None,
        })
}

/// Moves every `#`-style heading one level down (`## Purpose` becomes `### Purpose`), so a
/// file shown inside a prompt section stays below that section. Nothing else changes; code
/// blocks are left alone, and a level-six heading stays at six.
fn demote_headings(text: &str) -> String {
    let mut starts: Vec<usize> = Parser::new(text)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Heading { level, .. }) if level != HeadingLevel::H6 => {
                let indent =
                    text[range.start..].len() - text[range.start..].trim_start_matches(' ').len();
                text[range.start + indent..]
                    .starts_with('#')
                    .then_some(range.start + indent)
            }
            _ => None,
        })
        .collect();
    starts.sort_unstable();
    let mut demoted = String::with_capacity(text.len() + starts.len());
    let mut copied = 0;
    for start in starts {
        demoted.push_str(&text[copied..start]);
        demoted.push('#');
        copied = start;
    }
    demoted.push_str(&text[copied..]);
    demoted
}

/// `- item` lines; continuation lines of a multi-line item are indented under it.
fn bullet_list(items: &[String]) -> String {
    items
        .iter()
        .filter(|item| !item.trim().is_empty())
        .map(|item| format!("- {}", item.trim_end().replace('\n', "\n  ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `- `command`` lines, each command exactly as given.
fn command_list(commands: &[String]) -> String {
    commands
        .iter()
        .filter(|command| !command.trim().is_empty())
        .map(|command| format!("- {}", inline_code(command)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn skills_list(skills: &[SkillSummary], skills_dir: &str, limit: usize) -> String {
    let note = |left: usize| format!("- ... and {left} more in `{skills_dir}/`\n");
    // Room kept for the note, so that it always fits when a skill does not.
    let reserve = note(skills.len()).len();
    let mut list = String::new();
    for (index, skill) in skills.iter().enumerate() {
        let description = skill.description.split_whitespace().collect::<Vec<_>>();
        let line = format!("- `{}`: {}\n", skill.name, description.join(" "));
        let is_last = index + 1 == skills.len();
        if list.len() + line.len() + if is_last { 0 } else { reserve } > limit {
            list.push_str(&note(skills.len() - index));
            break;
        }
        list.push_str(&line);
    }
    list.trim_end().to_string()
}

/// Inline code that holds `text` exactly, whatever backticks it contains.
fn inline_code(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text) + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// A fenced block that holds `text` exactly, whatever fences it contains.
fn fenced(text: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(text) + 1).max(3));
    format!("{fence}text\n{text}\n{fence}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `text` cut to at most `limit` bytes, note included: the beginning is kept, preferably up
/// to a line end, and a note says how much of `source` is not shown.
fn cut_tail(text: &str, limit: usize, source: &str) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let note = |omitted: usize| {
        format!(
            "\n\n[... {omitted} more bytes of {source} not shown; read {source} in your worktree]"
        )
    };
    let room = limit.saturating_sub(note(text.len()).len());
    let mut end = floor_char_boundary(text, room);
    // Cut at a line end when one is near, so no line is shown half.
    if let Some(newline) = text[..end].rfind('\n')
        && newline >= end / 2
    {
        end = newline;
    }
    let kept = text[..end].trim_end();
    format!("{kept}{}", note(text.len() - kept.len()))
}

/// `text` cut to at most `limit` bytes, note included, keeping its beginning and its end:
/// the first error and the final summary of a log both matter.
fn cut_middle(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let note = |omitted: usize| format!("\n[... {omitted} bytes cut ...]\n");
    let room = limit.saturating_sub(note(text.len()).len());
    let head_end = floor_char_boundary(text, room / 4);
    let tail_start = ceil_char_boundary(text, text.len() - (room - head_end));
    format!(
        "{}{}{}",
        &text[..head_end],
        note(tail_start - head_end),
        &text[tail_start..]
    )
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

/// Renders the tiny template language of `templates/worker.md`: `{{name}}` is replaced by
/// the value, `{{#name}}...{{/name}}` is kept only when the value is not empty. A section tag
/// alone on its line takes the line with it. Values are inserted once and never scanned for
/// tags, so text from the repository cannot inject anything.
fn render_template<'v>(template: &str, lookup: &dyn Fn(&str) -> Option<&'v str>, out: &mut String) {
    let mut rest = template;
    loop {
        let Some(open) = rest.find("{{") else {
            out.push_str(rest);
            return;
        };
        let Some(length) = rest[open + 2..].find("}}") else {
            out.push_str(rest);
            return;
        };
        let tag = &rest[open + 2..open + 2 + length];
        let tag_end = open + 2 + length + 2;
        if let Some(name) = tag.strip_prefix('#') {
            let closing = format!("{{{{/{name}}}}}");
            let Some(close) = rest[tag_end..].find(&closing).map(|at| tag_end + at) else {
                // An unclosed section is text; the template tests make sure there is none.
                out.push_str(&rest[..tag_end]);
                rest = &rest[tag_end..];
                continue;
            };
            let (keep_until, body_start) = standalone(rest, open, tag_end);
            let (body_end, after) = standalone(rest, close, close + closing.len());
            out.push_str(&rest[..keep_until]);
            if lookup(name).is_some_and(|value| !value.is_empty()) {
                render_template(&rest[body_start..body_end], lookup, out);
            }
            rest = &rest[after..];
        } else {
            out.push_str(&rest[..open]);
            out.push_str(lookup(tag).unwrap_or_default());
            rest = &rest[tag_end..];
        }
    }
}

/// For a tag at `text[start..end]`: when it is alone on its line, the start of that line
/// and the position after its line end; otherwise the tag itself.
fn standalone(text: &str, start: usize, end: usize) -> (usize, usize) {
    let line_start = text[..start].rfind('\n').map_or(0, |index| index + 1);
    let line_end = text[end..]
        .find('\n')
        .map_or(text.len(), |index| end + index + 1);
    if text[line_start..start].trim().is_empty() && text[end..line_end].trim().is_empty() {
        (line_start, line_end)
    } else {
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const NAMES: &[&str] = &[
        "task_id",
        "title",
        "attempt",
        "max_attempts",
        "worktree",
        "branch",
        "milestone",
        "description",
        "acceptance_criteria",
        "implementation_notes",
        "validators",
        "fast_verification",
        "guidelines",
        "plan",
        "agents_md",
        "skills",
        "skills_dir",
        "failure_evidence",
    ];

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    const PLAN: &str = "# Plan: Billing\n\nIntro.\n\n## Purpose\n\nPURPOSE-TEXT\n\n## Context\n\nCONTEXT-TEXT\n\n## Scope\n\n### Goal\n\nSCOPE-GOAL\n\n### Acceptance criteria\n\n- SCOPE-CRITERION\n\n## Constraints and invariants\n\n- CONSTRAINT-TEXT\n\n## Plan of work (milestones)\n\n- M1: Parser reads fences\n  - proof: MILESTONE-ONE-PROOF\n- M2: Scaffold is idempotent\n\n## Verification\n\nFast loop:\n\n- `cargo test`\n\n## Rollout and rollback\n\nROLLOUT-TEXT\n";

    fn skill(name: &str, description: &str) -> SkillSummary {
        SkillSummary {
            name: name.to_string(),
            description: description.to_string(),
            path: PathBuf::from(format!(".agents/skills/{name}/SKILL.md")),
        }
    }

    #[test]
    fn the_template_uses_only_known_names_and_every_one() {
        let mut used: Vec<&str> = Vec::new();
        let mut rest = templates::WORKER_MD;
        while let Some(open) = rest.find("{{") {
            let length = rest[open + 2..].find("}}").expect("closed tag");
            let tag = &rest[open + 2..open + 2 + length];
            let name = tag.trim_start_matches(['#', '/']);
            assert!(NAMES.contains(&name), "unknown name `{name}` in worker.md");
            if tag.starts_with('#') {
                assert!(
                    rest.contains(&format!("{{{{/{name}}}}}")),
                    "section `{name}` is not closed"
                );
            }
            used.push(name);
            rest = &rest[open + 2 + length + 2..];
        }
        for name in NAMES {
            assert!(used.contains(name), "`{name}` is never shown");
        }
    }

    #[test]
    fn every_input_appears() {
        let criteria = strings(&["CRITERION-ONE", "CRITERION-TWO"]);
        let validators = strings(&["cargo test --lib", "sh -c 'VALIDATOR-TWO'"]);
        let fast = strings(&["FAST-COMMAND"]);
        let guidelines = strings(&["GUIDELINE-ONE"]);
        let skills = [skill(
            "pdf-tools",
            "SKILL-DESCRIPTION   spread\n over lines",
        )];
        let input = PromptInput {
            task_id: "T042",
            title: "TITLE-TEXT",
            description: "DESCRIPTION-TEXT",
            acceptance_criteria: &criteria,
            implementation_notes: "NOTES-TEXT",
            milestone: Some("M1"),
            validators: &validators,
            fast_verification: &fast,
            guidelines: &guidelines,
            plan: PLAN,
            agents_md: "AGENTS-TEXT",
            skills: &skills,
            skills_dir: "tools/skills",
            failure_evidence: Some("EVIDENCE-TEXT"),
            attempt: 2,
            max_attempts: 3,
            worktree: "/repo/.longrun/worktrees/T042",
            branch: "longrun/T042",
        };
        let prompt = render_worker_prompt(&input);
        for needle in [
            "# Task T042: TITLE-TEXT",
            "attempt 2 of 3",
            "milestone `M1`",
            "DESCRIPTION-TEXT",
            "- CRITERION-ONE\n- CRITERION-TWO",
            "NOTES-TEXT",
            "- `cargo test --lib`",
            "- `sh -c 'VALIDATOR-TWO'`",
            "- `FAST-COMMAND`",
            "- GUIDELINE-ONE",
            "PURPOSE-TEXT",
            "SCOPE-GOAL",
            "SCOPE-CRITERION",
            "CONSTRAINT-TEXT",
            "MILESTONE-ONE-PROOF",
            "- `cargo test`",
            "AGENTS-TEXT",
            "- `pdf-tools`: SKILL-DESCRIPTION spread over lines",
            "described in `tools/skills/<name>/SKILL.md`",
            "EVIDENCE-TEXT",
            "`/repo/.longrun/worktrees/T042`",
            "`longrun/T042`",
            "longrun log <kind> --task T042",
            "`checklist.yaml`, `plan.md`, `run-log.md`, `longrun.yaml`",
            "`policy/`",
            "`current_tasks/`",
            "longrun, not you, decides",
        ] {
            assert!(prompt.contains(needle), "missing {needle:?} in:\n{prompt}");
        }
        // Sections not meant for workers stay out.
        for absent in [
            "CONTEXT-TEXT",
            "ROLLOUT-TEXT",
            "Scaffold is idempotent",
            "{{",
        ] {
            assert!(!prompt.contains(absent), "{absent:?} should not appear");
        }
        assert!(prompt.ends_with("over lines\n"), "{prompt}");
        // Deterministic.
        assert_eq!(prompt, render_worker_prompt(&input));
    }

    #[test]
    fn empty_optional_sections_disappear() {
        let input = PromptInput {
            task_id: "T1",
            title: "Minimal",
            attempt: 1,
            max_attempts: 3,
            worktree: "/w",
            branch: "longrun/T1",
            ..PromptInput::default()
        };
        let prompt = render_worker_prompt(&input);
        for heading in [
            "## The previous attempt failed",
            "## Description",
            "## Acceptance criteria",
            "## Implementation notes",
            "## Validators",
            "## Fast verification loop",
            "## Guidelines",
            "## From plan.md",
            "## From AGENTS.md",
            "## Skills",
            "milestone",
        ] {
            assert!(!prompt.contains(heading), "{heading:?} in:\n{prompt}");
        }
        assert!(prompt.contains("## Rules"));
        assert!(!prompt.contains("\n\n\n"), "{prompt}");
        assert!(prompt.ends_with("and stop.\n"), "{prompt}");
        // Whitespace-only and empty list items count as empty too.
        let blank = strings(&["  "]);
        let prompt = render_worker_prompt(&PromptInput {
            acceptance_criteria: &blank,
            failure_evidence: Some(""),
            ..input
        });
        assert!(!prompt.contains("## Acceptance criteria"));
        assert!(!prompt.contains("## The previous attempt failed"));
    }

    #[test]
    fn shell_syntax_quotes_and_tags_pass_through_verbatim() {
        let nasty = "$(rm -rf /) `id` \"double\" 'single' ; | & > < \\ {{title}} {{#plan}}";
        let command = strings(&["grep -q '`x`' \"$HOME\" && echo `date`"]);
        let criteria = strings(&[nasty]);
        let prompt = render_worker_prompt(&PromptInput {
            task_id: "T1",
            title: nasty,
            description: nasty,
            acceptance_criteria: &criteria,
            validators: &command,
            failure_evidence: Some("```\nerror: $(x)\n```"),
            attempt: 2,
            max_attempts: 2,
            worktree: "/w",
            branch: "longrun/T1",
            ..PromptInput::default()
        });
        assert!(prompt.contains(&format!("# Task T1: {nasty}\n")));
        assert!(prompt.contains(&format!("\n{nasty}\n")));
        assert!(prompt.contains(&format!("- {nasty}\n")));
        // Inline code that still holds the backticks exactly.
        assert!(prompt.contains("- `` grep -q '`x`' \"$HOME\" && echo `date` ``"));
        // The evidence fence is longer than any fence inside it.
        assert!(
            prompt.contains("````text\n```\nerror: $(x)\n```\n````"),
            "{prompt}"
        );
    }

    #[test]
    fn bounded_sizes_hold() {
        let huge_plan = format!(
            "## Purpose\n\n{}\n## Verification\n\n- `cargo test`\n",
            "purpose line that goes on\n".repeat(2_000)
        );
        let excerpt = plan_excerpt(&huge_plan, None, PLAN_EXCERPT_LIMIT);
        assert!(excerpt.len() <= PLAN_EXCERPT_LIMIT, "{}", excerpt.len());
        assert!(excerpt.contains("more bytes of plan.md not shown"));
        assert!(excerpt.starts_with("## Purpose"));

        let agents = "é".repeat(10_000);
        let evidence = format!("FIRST{}LAST", "ü".repeat(50_000));
        let skills: Vec<SkillSummary> = (0..500)
            .map(|i| skill(&format!("skill-{i}"), &"d".repeat(200)))
            .collect();
        let prompt = render_worker_prompt(&PromptInput {
            task_id: "T1",
            plan: &huge_plan,
            agents_md: &agents,
            skills: &skills,
            failure_evidence: Some(&evidence),
            attempt: 2,
            max_attempts: 3,
            ..PromptInput::default()
        });
        let budget = templates::WORKER_MD.len()
            + PLAN_EXCERPT_LIMIT
            + AGENTS_MD_LIMIT
            + FAILURE_EVIDENCE_LIMIT
            + SKILLS_LIMIT
            + 64;
        assert!(prompt.len() <= budget, "{} > {budget}", prompt.len());
        assert!(prompt.contains("more bytes of AGENTS.md not shown"));
        assert!(prompt.contains("FIRST") && prompt.contains("LAST"));
        assert!(prompt.contains("bytes cut"));
        assert!(prompt.contains("more in `.agents/skills/`"));
        assert!(prompt.contains("`skill-0`"));

        assert!(cut_middle(&evidence, 1000).len() <= 1000);
        assert!(cut_tail(&agents, 1000, "AGENTS.md").len() <= 1000);
        assert!(skills_list(&skills, ".agents/skills", 1000).len() <= 1000);
        assert_eq!(cut_tail("short", 1000, "x"), "short");
    }

    #[test]
    fn the_milestone_is_found_by_label_title_or_heading() {
        let excerpt = plan_excerpt(PLAN, Some("m2"), PLAN_EXCERPT_LIMIT);
        assert!(excerpt.starts_with("The task's milestone:\n\n- M2: Scaffold is idempotent"));
        assert!(!excerpt.contains("M1:"));
        let excerpt = plan_excerpt(PLAN, Some("Parser reads fences"), PLAN_EXCERPT_LIMIT);
        assert!(excerpt.contains("MILESTONE-ONE-PROOF"));
        let headed =
            "## Plan of work\n\n### M1: Invoices\n\nHEADED-PROOF\n\n### M2: Other\n\nOTHER\n";
        let excerpt = plan_excerpt(headed, Some("M1"), PLAN_EXCERPT_LIMIT);
        assert_eq!(excerpt, "### M1: Invoices\n\nHEADED-PROOF");
        // An unknown milestone only leaves the standard sections.
        let excerpt = plan_excerpt(PLAN, Some("M9"), PLAN_EXCERPT_LIMIT);
        assert!(excerpt.starts_with("## Purpose"));
        assert_eq!(plan_excerpt("", Some("M1"), 100), "");
    }

    #[test]
    fn embedded_headings_move_one_level_down() {
        let text =
            "# Title\n\n## Section\n\n```\n# not a heading\n```\n\n###### Deep\n  ### Indented\n";
        assert_eq!(
            demote_headings(text),
            "## Title\n\n### Section\n\n```\n# not a heading\n```\n\n###### Deep\n  #### Indented\n"
        );
        let prompt = render_worker_prompt(&PromptInput {
            plan: PLAN,
            agents_md: "## Working with longrun\n\nAGENTS-BODY\n",
            ..PromptInput::default()
        });
        assert!(
            prompt.contains("## From plan.md\n\n### Purpose\n"),
            "{prompt}"
        );
        assert!(prompt.contains("## From AGENTS.md\n\n### Working with longrun\n"));
    }

    #[test]
    fn plan_sections_in_code_blocks_are_not_headings() {
        let plan = "## Context\n\n```\n## Purpose\nFENCED\n```\n\n## Purpose\n\nREAL\n";
        assert_eq!(plan_excerpt(plan, None, 1000), "## Purpose\n\nREAL");
    }

    #[test]
    fn the_kickoff_names_the_prd_and_the_three_files() {
        let prompt = render_kickoff_prompt(&KickoffInput {
            prd: "docs/prd.md",
            now: "2026-11-21T09:00:00Z",
        });
        assert!(prompt.starts_with("# Kickoff: plan the work in `docs/prd.md`\n"));
        for file in ["plan.md", "checklist.yaml", "run-log.md"] {
            assert!(prompt.contains(&format!("`{file}`")), "{file}");
        }
        assert!(
            prompt.contains("- 2026-11-21T09:00:00Z decision: planned N tasks from docs/prd.md")
        );
        assert!(prompt.contains("stop"));
        assert!(!prompt.contains("{{"), "{prompt}");
    }

    #[test]
    fn the_mine_prompt_mentions_guidelines_only_when_there_are_some() {
        let with = render_mine_prompt(&MinePromptInput {
            drafts: "drafts",
            skills: "- `fix-cargo-test`\n",
            agents_patch: true,
        });
        assert!(with.contains("- `fix-cargo-test`"), "{with}");
        assert!(with.contains("`drafts/guidelines.md`"), "{with}");
        assert!(with.contains("and every guideline line against the format above"));
        let without = render_mine_prompt(&MinePromptInput {
            drafts: "drafts",
            skills: "- `fix-cargo-test`\n",
            agents_patch: false,
        });
        assert!(!without.contains("guidelines.md"), "{without}");
        assert!(!without.contains("guideline line"), "{without}");
        for prompt in [with, without] {
            assert!(!prompt.contains("{{"), "{prompt}");
        }
    }
}
