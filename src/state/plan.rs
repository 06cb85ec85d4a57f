//! Reads the parts of `plan.md` that longrun acts on: the title, the Verification section's
//! "Fast loop" and "Full suite" commands, and the milestones, each with its line.
//!
//! The plan belongs to people: this module only reads it, never writes it, and never runs
//! the commands it finds. Markdown is parsed with pulldown-cmark so code fences, nesting and
//! the different ways people write labels (paragraph `Fast loop:` or heading `### Fast loop`)
//! are understood the way a Markdown viewer shows them. Any text is a valid plan; what is not
//! found is simply absent.

use std::ops::Range;
use std::path::Path;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use crate::fsutil::{self, FsError, MAX_STATE_FILE_BYTES};

/// What longrun reads from `plan.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// `# Plan: X` gives `X`; without such a heading, the first level-one heading's text.
    pub title: Option<PlanItem>,
    /// Line of the Verification heading, when the plan has one.
    pub verification_line: Option<usize>,
    /// Commands of the fast loop, in file order.
    pub fast: Vec<PlanItem>,
    /// Commands of the full suite, in file order.
    pub full: Vec<PlanItem>,
    /// Line of the "Plan of work (milestones)" heading, when the plan has one.
    pub milestones_line: Option<usize>,
    pub milestones: Vec<Milestone>,
}

/// A piece of text from the plan and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    pub text: String,
    pub line: usize,
}

/// One milestone: `M1: Parser accepts fences` as a list item or a heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Milestone {
    /// `M1`, when the milestone is written with such a label.
    pub label: Option<String>,
    /// The text after the label.
    pub title: String,
    /// 1-based line of the list item or heading.
    pub line: usize,
}

/// `plan.md` could not be read. Parsing itself never fails.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Read(#[from] FsError),
}

/// Reads and parses the plan at `path`.
pub fn load_plan(path: &Path) -> Result<Plan, PlanError> {
    let text = fsutil::read_text(path, MAX_STATE_FILE_BYTES)?;
    Ok(parse_plan(&text))
}

/// Parses plan text. Placeholders such as `<command>` and empty items are skipped, and
/// nothing inside a code block counts.
pub fn parse_plan(text: &str) -> Plan {
    let mut parser = PlanParser {
        source: text,
        plan: Plan::default(),
        section: Section::Other,
        loop_label: None,
        first_heading_title: None,
        heading: None,
        paragraph: None,
        items: Vec::new(),
        code_block_depth: 0,
    };
    let options = Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        parser.event(event, range);
    }
    let mut plan = parser.plan;
    if plan.title.is_none() {
        plan.title = parser.first_heading_title;
    }
    plan
}

/// Which of the two verification lists a label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoopKind {
    Fast,
    Full,
}

/// The part of the plan the parser is in, with the level of the heading that opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Other,
    Verification { level: usize },
    Milestones { level: usize },
}

/// Inline text gathered from a heading, paragraph or list item.
#[derive(Debug, Default)]
struct Capture {
    start: usize,
    text: String,
    /// Code spans in order, each with its byte offset in the file and its position in `text`.
    code_spans: Vec<CodeSpan>,
}

impl Capture {
    fn new(start: usize) -> Capture {
        Capture {
            start,
            ..Capture::default()
        }
    }
}

#[derive(Debug)]
struct CodeSpan {
    code: String,
    source_offset: usize,
    text_position: usize,
}

#[derive(Debug)]
struct HeadingCapture {
    level: usize,
    capture: Capture,
}

#[derive(Debug)]
struct ItemCapture {
    capture: Capture,
    /// The verification list this item's nested items belong to, when the item itself is a
    /// label like `- Fast loop:`.
    nested_label: Option<LoopKind>,
    /// The list this item is a command of, fixed when the item starts.
    label: Option<LoopKind>,
}

struct PlanParser<'a> {
    source: &'a str,
    plan: Plan,
    section: Section,
    /// The verification list that list items currently belong to.
    loop_label: Option<LoopKind>,
    first_heading_title: Option<PlanItem>,
    heading: Option<HeadingCapture>,
    paragraph: Option<Capture>,
    /// Open list items, outermost first.
    items: Vec<ItemCapture>,
    code_block_depth: usize,
}

impl PlanParser<'_> {
    fn line(&self, offset: usize) -> usize {
        fsutil::line_column(self.source, offset).0
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => self.code_block_depth += 1,
            Event::End(TagEnd::CodeBlock) => {
                self.code_block_depth = self.code_block_depth.saturating_sub(1)
            }
            // Text of a code block is never a command, a milestone or a label.
            _ if self.code_block_depth > 0 => {}
            Event::Start(Tag::Heading { level, .. }) => {
                self.heading = Some(HeadingCapture {
                    level: level as usize,
                    capture: Capture::new(range.start),
                });
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(heading) = self.heading.take() {
                    self.end_heading(heading);
                }
            }
            Event::Start(Tag::Paragraph) if self.items.is_empty() => {
                self.paragraph = Some(Capture::new(range.start));
            }
            Event::End(TagEnd::Paragraph) if self.items.is_empty() => {
                if let Some(paragraph) = self.paragraph.take() {
                    self.end_paragraph(paragraph);
                }
            }
            Event::Start(Tag::Item) => self.start_item(range.start),
            Event::End(TagEnd::Item) => {
                if let Some(item) = self.items.pop() {
                    self.end_item(item);
                }
            }
            Event::Start(Tag::List(_)) => {
                // A nested list starts: if its parent item is a label (`- Fast loop:`), the
                // nested items are that list's commands.
                if let Some(parent) = self.items.last_mut() {
                    parent.nested_label =
                        parse_loop_label(&parent.capture.text).map(|(kind, _)| kind);
                }
            }
            Event::Code(code) => {
                if let Some(capture) = self.current_capture() {
                    capture.code_spans.push(CodeSpan {
                        code: code.to_string(),
                        source_offset: range.start,
                        text_position: capture.text.len(),
                    });
                    capture.text.push_str(&code);
                }
            }
            Event::Text(text) | Event::InlineHtml(text) | Event::Html(text) => {
                // Inline HTML is kept as text: `<command>` is how the template marks a
                // placeholder, and Markdown reads it as a tag.
                if let Some(capture) = self.current_capture() {
                    capture.text.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(capture) = self.current_capture() {
                    capture.text.push(' ');
                }
            }
            _ => {}
        }
    }

    /// Where inline text goes: the open heading, else the innermost item, else the paragraph.
    fn current_capture(&mut self) -> Option<&mut Capture> {
        if let Some(heading) = self.heading.as_mut() {
            return Some(&mut heading.capture);
        }
        if let Some(item) = self.items.last_mut() {
            return Some(&mut item.capture);
        }
        self.paragraph.as_mut()
    }

    fn end_heading(&mut self, heading: HeadingCapture) {
        let text = collapse_whitespace(&heading.capture.text);
        let line = self.line(heading.capture.start);
        let level = heading.level;

        if level == 1 {
            if let Some(title) = strip_prefix_ignore_case(&text, "plan:") {
                if self.plan.title.is_none() {
                    self.plan.title = Some(PlanItem {
                        text: title.trim().to_string(),
                        line,
                    });
                }
            } else if self.first_heading_title.is_none() && !text.is_empty() {
                self.first_heading_title = Some(PlanItem {
                    text: text.clone(),
                    line,
                });
            }
        }

        // A heading at the section's level or above closes it.
        let open_level = match self.section {
            Section::Verification { level } | Section::Milestones { level } => Some(level),
            Section::Other => None,
        };
        if open_level.is_some_and(|open| level <= open) {
            self.section = Section::Other;
            self.loop_label = None;
        }

        match self.section {
            Section::Verification { .. } => {
                // `### Fast loop` labels the lists under it; any other subheading ends the
                // current list.
                self.loop_label = None;
                if let Some((kind, label_end)) = parse_loop_label(&heading.capture.text) {
                    self.loop_label = Some(kind);
                    let commands = code_commands_after(&heading.capture, label_end);
                    self.push_commands(kind, commands);
                }
            }
            Section::Milestones {
                level: section_level,
            } => {
                if level == section_level + 1 {
                    self.push_milestone(&text, line, true);
                }
            }
            Section::Other => {
                let lower = text.to_ascii_lowercase();
                if lower.starts_with("verification") {
                    self.section = Section::Verification { level };
                    self.loop_label = None;
                    self.plan.verification_line.get_or_insert(line);
                } else if lower.starts_with("plan of work") || lower.starts_with("milestones") {
                    self.section = Section::Milestones { level };
                    self.plan.milestones_line.get_or_insert(line);
                }
            }
        }
    }

    fn end_paragraph(&mut self, paragraph: Capture) {
        if !matches!(self.section, Section::Verification { .. }) {
            return;
        }
        if let Some((kind, label_end)) = parse_loop_label(&paragraph.text) {
            self.loop_label = Some(kind);
            // "Fast loop: `cargo check`" names its command inline.
            let commands = code_commands_after(&paragraph, label_end);
            self.push_commands(kind, commands);
        } else if paragraph.text.trim_end().ends_with(':') {
            // Another labelled list ("Evidence to keep:") follows; it holds no commands.
            self.loop_label = None;
        }
    }

    fn start_item(&mut self, start: usize) {
        let label = match (self.section, self.items.as_slice()) {
            (Section::Verification { .. }, []) => self.loop_label,
            // Only the direct children of a label item (`- Fast loop:`) are commands; deeper
            // items are details of a command.
            (Section::Verification { .. }, [parent]) => parent.nested_label,
            _ => None,
        };
        self.items.push(ItemCapture {
            capture: Capture::new(start),
            nested_label: None,
            label,
        });
    }

    fn end_item(&mut self, item: ItemCapture) {
        let text = collapse_whitespace(&item.capture.text);
        match self.section {
            Section::Verification { .. } => {
                let depth = self.items.len() + 1;
                if depth == 1
                    && let Some((kind, label_end)) = parse_loop_label(&item.capture.text)
                {
                    // A label item names its commands inline or in its nested list.
                    let commands = code_commands_after(&item.capture, label_end);
                    self.push_commands(kind, commands);
                    return;
                }
                if let Some(kind) = item.label {
                    // "`cargo test` (20 s)": the code span is the command, the rest a remark.
                    let command = match item.capture.code_spans.first() {
                        Some(span) => (span.code.clone(), span.source_offset),
                        None => (text, item.capture.start),
                    };
                    self.push_commands(kind, vec![command]);
                }
            }
            Section::Milestones { .. } => {
                let line = self.line(item.capture.start);
                self.push_milestone(&text, line, false);
            }
            Section::Other => {}
        }
    }

    fn push_commands(&mut self, kind: LoopKind, commands: Vec<(String, usize)>) {
        for (command, offset) in commands {
            let command = command.trim();
            if command.is_empty() || is_placeholder(command) {
                continue;
            }
            let item = PlanItem {
                text: command.to_string(),
                line: self.line(offset),
            };
            match kind {
                LoopKind::Fast => self.plan.fast.push(item),
                LoopKind::Full => self.plan.full.push(item),
            }
        }
    }

    /// Records a milestone. List items count only with an `M<n>` label (other items under
    /// the heading are explanations); headings count with or without one.
    fn push_milestone(&mut self, text: &str, line: usize, is_heading: bool) {
        let (label, title) = match split_milestone_label(text) {
            Some((label, title)) => (Some(label.to_string()), title),
            None if is_heading => (None, text),
            None => return,
        };
        let title = title.trim();
        if title.is_empty() || is_placeholder(title) {
            return;
        }
        self.plan.milestones.push(Milestone {
            label,
            title: title.to_string(),
            line,
        });
    }
}

/// `Fast loop (iteration): ...` → the loop and the byte position in `text` where the label
/// ends. Accepts "fast loop", "fast", "full suite", "full", "slow loop" and "slow" in any
/// case, ended by `:`, `(` or the end of the text.
fn parse_loop_label(text: &str) -> Option<(LoopKind, usize)> {
    let head_end = text.find([':', '(']).unwrap_or(text.len());
    let head = collapse_whitespace(&text[..head_end]).to_ascii_lowercase();
    let kind = match head.as_str() {
        "fast loop" | "fast" => LoopKind::Fast,
        "full suite" | "full" | "slow loop" | "slow" => LoopKind::Full,
        _ => return None,
    };
    // Skip a parenthesised note and the colon: what follows may name commands inline.
    let mut label_end = head_end;
    if text[label_end..].starts_with('(') {
        label_end = text[label_end..]
            .find(')')
            .map_or(text.len(), |close| label_end + close + 1);
    }
    if let Some(colon) = text[label_end..].find(':')
        && text[label_end..label_end + colon].trim().is_empty()
    {
        label_end += colon + 1;
    }
    Some((kind, label_end))
}

/// The code spans of a label's text that come after the label itself, as commands.
fn code_commands_after(capture: &Capture, label_end: usize) -> Vec<(String, usize)> {
    capture
        .code_spans
        .iter()
        .filter(|span| span.text_position >= label_end)
        .map(|span| (span.code.clone(), span.source_offset))
        .collect()
}

/// `M1: text`, `M2. text`, `M3 - text`, `M4) text` → (`M1`, `text`).
fn split_milestone_label(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    if !text.starts_with(['M', 'm']) {
        return None;
    }
    let digits_end = text[1..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(text.len(), |i| i + 1);
    if digits_end == 1 {
        return None;
    }
    let label = &text[..digits_end];
    let rest = &text[digits_end..];
    let trimmed = rest.trim_start();
    let after = if let Some(stripped) = trimmed
        .strip_prefix(':')
        .or_else(|| trimmed.strip_prefix('.'))
        .or_else(|| trimmed.strip_prefix(')'))
        .or_else(|| trimmed.strip_prefix('-'))
        .or_else(|| trimmed.strip_prefix('—'))
    {
        stripped
    } else if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        rest
    } else {
        // `M1x` or `Makefile` is not a milestone label.
        return None;
    };
    Some((label, after))
}

/// A template placeholder: the whole text is one `<...>`.
fn is_placeholder(text: &str) -> bool {
    let text = text.trim();
    text.len() >= 2 && text.starts_with('<') && text.ends_with('>')
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates;

    fn texts(items: &[PlanItem]) -> Vec<&str> {
        items.iter().map(|item| item.text.as_str()).collect()
    }

    #[test]
    fn the_template_has_a_title_and_only_placeholders() {
        let plan = parse_plan(templates::PLAN_MD);
        assert_eq!(plan.title.as_ref().unwrap().text, "<project name>");
        assert_eq!(plan.title.as_ref().unwrap().line, 1);
        assert!(plan.verification_line.is_some());
        assert!(plan.milestones_line.is_some());
        assert!(plan.fast.is_empty(), "{:?}", plan.fast);
        assert!(plan.full.is_empty(), "{:?}", plan.full);
        assert!(plan.milestones.is_empty(), "{:?}", plan.milestones);
    }

    #[test]
    fn the_template_once_filled_in_gives_its_commands_and_milestones() {
        let filled = templates::render_plan("demo")
            .replacen("- `<command>`", "- `cargo test --lib`", 1)
            .replacen("- `<command>`", "- `cargo test --all-targets`", 1)
            .replace("- M1: <outcome; proof>", "- M1: Parser reads fences")
            .replace("- M2: <outcome; proof>", "- M2: Scaffold is idempotent");
        let plan = parse_plan(&filled);
        assert_eq!(plan.title.as_ref().unwrap().text, "demo");
        assert_eq!(texts(&plan.fast), ["cargo test --lib"]);
        assert_eq!(texts(&plan.full), ["cargo test --all-targets"]);
        let line_of = |needle: &str| {
            filled
                .lines()
                .position(|line| line.contains(needle))
                .unwrap()
                + 1
        };
        assert_eq!(plan.fast[0].line, line_of("cargo test --lib"));
        assert_eq!(plan.full[0].line, line_of("cargo test --all-targets"));
        // M3 is still a placeholder and is skipped.
        assert_eq!(plan.milestones.len(), 2);
        assert_eq!(plan.milestones[0].label.as_deref(), Some("M1"));
        assert_eq!(plan.milestones[0].title, "Parser reads fences");
        assert_eq!(plan.milestones[0].line, line_of("M1: Parser"));
        assert_eq!(plan.milestones[1].title, "Scaffold is idempotent");
        // "Evidence to keep" is not a command list.
        assert!(!texts(&plan.fast).iter().any(|c| c.contains("run-log")));
    }

    const HAND_WRITTEN: &str = r#"Intro text before any heading.

# Plan: Billing rewrite

```markdown
# Plan: not this one
## Verification
Fast loop:
- `rm -rf /`
```

## Plan of work (milestones)

Each milestone has an outcome and a proof:

- Outcome
- Proof

### M1: Invoices render
- `cargo test invoices` passes
  - M9: not a milestone of its own? It is labelled, so it counts.

### Cleanup

#### Details are not milestones

## Verification

Some prose about verification.

**Fast loop** (on every save):

- `cargo check`
  - `cargo check` runs in 5 s; this nested note is not a command
- `cargo test --lib` (about 20 s)
- [ ] `cargo clippy -- -D warnings`
- <command>

```sh
cargo test --this-is-in-a-fence
```

Evidence to capture:

- `run-log.md` events

### Full suite

- cargo test --all-targets
- `./scripts/e2e.sh`
  and a continuation line

## Rollout and rollback

- `not a command`
"#;

    #[test]
    fn a_hand_written_plan_with_fences_nesting_and_headings() {
        let plan = parse_plan(HAND_WRITTEN);
        let title = plan.title.unwrap();
        assert_eq!(title.text, "Billing rewrite");
        assert_eq!(title.line, 3);
        assert_eq!(
            texts(&plan.fast),
            [
                "cargo check",
                "cargo test --lib",
                "cargo clippy -- -D warnings"
            ]
        );
        assert_eq!(
            texts(&plan.full),
            ["cargo test --all-targets", "./scripts/e2e.sh"]
        );
        let lines: Vec<&str> = HAND_WRITTEN.lines().collect();
        for item in plan.fast.iter().chain(&plan.full) {
            assert!(
                lines[item.line - 1].contains(&item.text),
                "line {} does not hold `{}`",
                item.line,
                item.text
            );
        }
        let milestones: Vec<(Option<&str>, &str)> = plan
            .milestones
            .iter()
            .map(|m| (m.label.as_deref(), m.title.as_str()))
            .collect();
        assert_eq!(
            milestones,
            [
                (Some("M1"), "Invoices render"),
                (
                    Some("M9"),
                    "not a milestone of its own? It is labelled, so it counts."
                ),
                (None, "Cleanup"),
            ]
        );
        assert_eq!(
            lines[plan.milestones[0].line - 1],
            "### M1: Invoices render"
        );
        assert_eq!(lines[plan.milestones[2].line - 1], "### Cleanup");
    }

    #[test]
    fn labels_as_list_items_and_inline_commands() {
        let text = "\
# Some project

## Verification

- Fast loop: `make quick`
- Full suite:
  - `make all`
  - make docs
    - a detail, not a command
- Evidence: `not a command`

Slow loop (nightly): `make soak` and `make fuzz`
";
        let plan = parse_plan(text);
        // No `# Plan:` heading: the first level-one heading is the title.
        assert_eq!(plan.title.unwrap().text, "Some project");
        assert_eq!(texts(&plan.fast), ["make quick"]);
        assert_eq!(
            texts(&plan.full),
            ["make all", "make docs", "make soak", "make fuzz"]
        );
    }

    #[test]
    fn a_plan_without_the_sections_is_empty_not_an_error() {
        let plan = parse_plan("Just some notes.\n\n- `cargo test`\n- M1: loose\n");
        assert_eq!(plan, Plan::default());
        assert_eq!(parse_plan(""), Plan::default());
    }

    #[test]
    fn the_verification_section_ends_at_the_next_peer_heading() {
        let text = "## Verification\n\nFast loop:\n\n## Notes\n\n- `cargo test`\n";
        assert!(parse_plan(text).fast.is_empty());
    }

    #[test]
    fn milestone_labels() {
        assert_eq!(split_milestone_label("M1: a"), Some(("M1", " a")));
        assert_eq!(split_milestone_label("M12. b").map(|m| m.0), Some("M12"));
        assert_eq!(
            split_milestone_label("M3 - c").map(|m| m.1.trim()),
            Some("c")
        );
        assert_eq!(split_milestone_label("M4 d").map(|m| m.1.trim()), Some("d"));
        assert_eq!(split_milestone_label("Makefile"), None);
        assert_eq!(split_milestone_label("M1x: no"), None);
        assert_eq!(split_milestone_label("Outcome"), None);
    }

    #[test]
    fn loading_names_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.md");
        let error = load_plan(&path).unwrap_err();
        assert!(error.to_string().contains("plan.md"), "{error}");
        std::fs::write(&path, "# Plan: x\n").unwrap();
        assert_eq!(load_plan(&path).unwrap().title.unwrap().text, "x");
    }
}
