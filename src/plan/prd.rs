//! Reads a product requirements document (Markdown) into tasks, with pulldown-cmark so
//! nesting, task-list markers and code spans are understood the way a Markdown viewer shows
//! them.
//!
//! Pure: text in, tasks and warnings out. What the rules are:
//! - headings become milestones (the deepest heading above a task that is not itself a
//!   section name such as "Tasks");
//! - task-list items (`- [ ]`, `- [x]`) anywhere, and list items directly under headings
//!   such as Tasks, Milestones, Roadmap or Steps, become tasks;
//! - nested bullets become acceptance criteria, except those that name dependencies
//!   ("Depends on T2", "After `<title>`", "Blocked by ...") or validators ("Verify: `cmd`");
//! - dependency phrases in an item's own text ("(depends on T2)", "blocked by Login page")
//!   become `depends_on`; `T<n>` means the n-th task of the document;
//! - commands in backticks (or fenced code) under Verification, Validation, Tests or
//!   Acceptance headings become validators: of the tasks under the same milestone when the
//!   section sits inside one, otherwise of every task without validators of its own;
//! - words such as migration, auth, payment, delete and production raise `risk`.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::state::checklist::{NewTask, Validator, split_command_line};
use crate::state::model::{Risk, TaskStatus};

/// Longest title kept whole; longer item text becomes the description.
const MAX_TITLE_CHARS: usize = 120;

/// What the PRD gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrdPlan {
    /// The first level-one heading.
    pub title: Option<String>,
    /// Tasks in document order with provisional ids `T1`, `T2`, ... (their `depends_on`
    /// uses the same ids).
    pub tasks: Vec<NewTask>,
    /// Lines of the tasks, parallel to `tasks`.
    pub lines: Vec<usize>,
    /// Things the reader could not use, with their lines.
    pub warnings: Vec<PrdWarning>,
}

/// Something in the PRD that was skipped or guessed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrdWarning {
    pub line: usize,
    pub message: String,
}

/// Parses `text`; `source_name` (such as `prd.md`) goes into each task's `source` and
/// `source_id`.
pub fn parse_prd(text: &str, source_name: &str) -> PrdPlan {
    let mut reader = Reader {
        lines: LineIndex::new(text),
        headings: Vec::new(),
        heading: None,
        items: Vec::new(),
        code_block: None,
        paragraph: None,
        raw: Vec::new(),
        scoped_commands: Vec::new(),
        title: None,
        warnings: Vec::new(),
    };
    let parser = Parser::new_ext(text, Options::ENABLE_TASKLISTS);
    for (event, range) in parser.into_offset_iter() {
        reader.event(event, range);
    }
    reader.finish(source_name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SectionKind {
    Tasks,
    Verification,
    Other,
}

#[derive(Debug)]
struct Heading {
    level: usize,
    text: String,
    kind: SectionKind,
}

#[derive(Debug, Default)]
struct ItemFrame {
    line: usize,
    text: String,
    codes: Vec<String>,
    checkbox: Option<bool>,
    /// Decided when the first nested list or the end of the item is reached.
    is_task: bool,
    top_level: bool,
    children: Vec<(String, Vec<String>)>,
}

/// A task before ids and references are resolved.
#[derive(Debug)]
struct RawTask {
    line: usize,
    title: String,
    description: String,
    done: bool,
    criteria: Vec<String>,
    dependencies: Vec<Reference>,
    validators: Vec<Vec<String>>,
    milestone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reference {
    Id(String),
    Title(String),
}

struct Reader {
    lines: LineIndex,
    headings: Vec<Heading>,
    heading: Option<(usize, String)>,
    items: Vec<ItemFrame>,
    code_block: Option<(usize, String)>,
    paragraph: Option<Vec<String>>,
    raw: Vec<RawTask>,
    /// Verification commands with the milestone they belong to (`None`: every task).
    scoped_commands: Vec<(Option<String>, Vec<String>, usize)>,
    title: Option<String>,
    warnings: Vec<PrdWarning>,
}

impl Reader {
    fn section(&self) -> SectionKind {
        self.headings
            .iter()
            .rev()
            .map(|h| h.kind)
            .find(|kind| *kind != SectionKind::Other)
            .unwrap_or(SectionKind::Other)
    }

    fn milestone(&self) -> Option<String> {
        self.headings
            .iter()
            .rev()
            .find(|h| h.level >= 2 && h.kind == SectionKind::Other)
            .map(|h| h.text.clone())
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => {
                self.code_block = Some((self.lines.line(range.start), String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((line, body)) = self.code_block.take()
                    && self.section() == SectionKind::Verification
                {
                    for (index, command) in body.lines().enumerate() {
                        self.add_command(command, line + 1 + index);
                    }
                }
            }
            Event::Text(text) if self.code_block.is_some() => {
                if let Some((_, body)) = &mut self.code_block {
                    body.push_str(&text);
                }
            }
            Event::Start(Tag::Heading { .. }) => {
                self.heading = Some((self.lines.line(range.start), String::new()));
            }
            Event::End(TagEnd::Heading(level)) => {
                if let Some((_, text)) = self.heading.take() {
                    let level = level as usize;
                    let text = collapse(&text);
                    if level == 1 && self.title.is_none() {
                        self.title = Some(text.clone());
                    }
                    while self.headings.last().is_some_and(|h| h.level >= level) {
                        self.headings.pop();
                    }
                    let kind = classify_heading(&text);
                    self.headings.push(Heading { level, text, kind });
                }
            }
            Event::Start(Tag::Paragraph) if self.items.is_empty() => {
                self.paragraph = Some(Vec::new());
            }
            Event::End(TagEnd::Paragraph) if self.items.is_empty() => {
                if let Some(codes) = self.paragraph.take()
                    && self.section() == SectionKind::Verification
                {
                    let line = self.lines.line(range.start);
                    for code in codes {
                        self.add_command(&code, line);
                    }
                }
            }
            Event::Start(Tag::List(_)) => {
                // The parent item's own text is complete: decide whether it is a task.
                let section = self.section();
                let depth = self.items.len();
                let parent_is_task_below = self.items.iter().any(|i| i.is_task);
                if let Some(parent) = self.items.last_mut()
                    && !parent_is_task_below
                {
                    parent.is_task = parent.checkbox.is_some()
                        || (depth == 1 && parent.top_level && section == SectionKind::Tasks);
                }
            }
            Event::Start(Tag::Item) => {
                let top_level = self.items.is_empty();
                self.items.push(ItemFrame {
                    line: self.lines.line(range.start),
                    top_level,
                    ..ItemFrame::default()
                });
            }
            Event::TaskListMarker(done) => {
                if let Some(item) = self.items.last_mut() {
                    item.checkbox = Some(done);
                }
            }
            Event::End(TagEnd::Item) => {
                if let Some(item) = self.items.pop() {
                    self.end_item(item);
                }
            }
            Event::Text(text) => self.push_text(&text),
            Event::Code(code) => {
                self.push_text(&format!("`{code}`"));
                if let Some(item) = self.items.last_mut() {
                    item.codes.push(code.to_string());
                } else if let Some(codes) = &mut self.paragraph {
                    codes.push(code.to_string());
                }
            }
            Event::SoftBreak | Event::HardBreak => self.push_text(" "),
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str) {
        if let Some((_, heading)) = &mut self.heading {
            heading.push_str(text);
        } else if let Some(item) = self.items.last_mut() {
            item.text.push_str(text);
        }
    }

    fn add_command(&mut self, command: &str, line: usize) {
        let command = command.trim();
        if command.is_empty() || command.starts_with('#') || command.contains('<') {
            return;
        }
        let command = command.strip_prefix("$ ").unwrap_or(command);
        match split_command_line(command) {
            Ok(argv) if !argv.is_empty() => {
                let scope = self.milestone();
                self.scoped_commands.push((scope, argv, line));
            }
            Ok(_) => {}
            Err(error) => self.warnings.push(PrdWarning {
                line,
                message: format!("command skipped: {error}"),
            }),
        }
    }

    fn end_item(&mut self, mut item: ItemFrame) {
        let section = self.section();
        let ancestor_task = self.items.iter().rposition(|i| i.is_task);
        if let Some(index) = ancestor_task {
            // A nested bullet of a task (at any depth): criterion, dependency or validator.
            let text = collapse(&item.text);
            let mut children = std::mem::take(&mut item.children);
            let frame = &mut self.items[index];
            if !text.is_empty() {
                frame.children.push((text, item.codes));
            }
            frame.children.append(&mut children);
            return;
        }
        if !item.is_task {
            item.is_task =
                item.checkbox.is_some() || (item.top_level && section == SectionKind::Tasks);
        }
        if item.is_task {
            self.emit_task(item);
        } else if section == SectionKind::Verification {
            for code in item.codes.clone() {
                self.add_command(&code, item.line);
            }
            for (_, codes) in item.children {
                for code in codes {
                    self.add_command(&code, item.line);
                }
            }
        } else if let Some(parent) = self.items.last_mut() {
            // A nested bullet under a bullet that is not a task: its children stay with it.
            parent.children.append(&mut item.children);
        }
    }

    fn emit_task(&mut self, item: ItemFrame) {
        let text = collapse(&item.text);
        let (text, mut dependencies) = extract_dependencies(&text);
        if text.is_empty() {
            self.warnings.push(PrdWarning {
                line: item.line,
                message: "a list item without text was skipped".to_string(),
            });
            return;
        }
        let mut criteria = Vec::new();
        let mut validators = Vec::new();
        for (child, codes) in item.children {
            let lower = child.to_ascii_lowercase();
            if let Some(rest) = dependency_prefix(&child) {
                dependencies.extend(parse_references(rest));
            } else if !codes.is_empty()
                && ["verify", "verification", "validat", "test", "check", "run "]
                    .iter()
                    .any(|p| lower.starts_with(p))
            {
                for code in codes {
                    match split_command_line(&code) {
                        Ok(argv) if !argv.is_empty() => validators.push(argv),
                        _ => self.warnings.push(PrdWarning {
                            line: item.line,
                            message: format!(
                                "command `{code}` skipped: it does not split into words"
                            ),
                        }),
                    }
                }
            } else {
                criteria.push(child);
            }
        }
        let (title, description) = if text.chars().count() > MAX_TITLE_CHARS {
            let cut: String = text.chars().take(MAX_TITLE_CHARS - 3).collect();
            (format!("{}...", cut.trim_end()), text.clone())
        } else {
            (text, String::new())
        };
        let milestone = self.milestone();
        self.raw.push(RawTask {
            line: item.line,
            title,
            description,
            done: item.checkbox == Some(true),
            criteria,
            dependencies,
            validators,
            milestone,
        });
    }

    fn finish(mut self, source_name: &str) -> PrdPlan {
        let ids: Vec<String> = (1..=self.raw.len()).map(|n| format!("T{n}")).collect();
        let mut used_slugs: std::collections::HashMap<String, usize> = Default::default();
        let mut plan = PrdPlan {
            title: self.title.take(),
            ..PrdPlan::default()
        };
        let titles: Vec<String> = self.raw.iter().map(|t| t.title.to_lowercase()).collect();
        for (index, raw) in self.raw.iter().enumerate() {
            let mut depends_on = Vec::new();
            for reference in &raw.dependencies {
                let resolved = match reference {
                    Reference::Id(id) => Some(id.clone()),
                    Reference::Title(title) => {
                        let wanted = title.to_lowercase();
                        let found = titles
                            .iter()
                            .position(|t| *t == wanted)
                            .or_else(|| titles.iter().position(|t| t.starts_with(&wanted)))
                            .or_else(|| titles.iter().position(|t| t.contains(&wanted)));
                        match found {
                            Some(found) if found != index => Some(ids[found].clone()),
                            _ => {
                                self.warnings.push(PrdWarning {
                                    line: raw.line,
                                    message: format!(
                                        "`{}` depends on \"{title}\", which is not a task in the document; the dependency was left out",
                                        ids[index]
                                    ),
                                });
                                None
                            }
                        }
                    }
                };
                if let Some(id) = resolved
                    && !depends_on.contains(&id)
                {
                    depends_on.push(id);
                }
            }
            let mut validators: Vec<Validator> = raw
                .validators
                .iter()
                .cloned()
                .map(Validator::Argv)
                .collect();
            if validators.is_empty() {
                let scoped: Vec<&Vec<String>> = self
                    .scoped_commands
                    .iter()
                    .filter(|(scope, _, _)| scope.is_some() && *scope == raw.milestone)
                    .map(|(_, argv, _)| argv)
                    .collect();
                let chosen: Vec<&Vec<String>> = if scoped.is_empty() {
                    self.scoped_commands
                        .iter()
                        .filter(|(scope, _, _)| scope.is_none())
                        .map(|(_, argv, _)| argv)
                        .collect()
                } else {
                    scoped
                };
                for argv in chosen {
                    let validator = Validator::Argv(argv.clone());
                    if !validators.contains(&validator) {
                        validators.push(validator);
                    }
                }
            }
            let slug = slug(&raw.title);
            let count = used_slugs.entry(slug.clone()).or_insert(0);
            *count += 1;
            let slug = if *count > 1 {
                format!("{slug}-{count}")
            } else {
                slug
            };
            let risk = risk_of(
                [raw.title.as_str(), raw.description.as_str()]
                    .into_iter()
                    .chain(raw.criteria.iter().map(String::as_str)),
            );
            plan.tasks.push(NewTask {
                task_id: ids[index].clone(),
                title: raw.title.clone(),
                description: raw.description.clone(),
                acceptance_criteria: raw.criteria.clone(),
                status: Some(if raw.done {
                    TaskStatus::Complete
                } else {
                    TaskStatus::NotStarted
                }),
                depends_on,
                validators,
                risk,
                milestone: raw.milestone.clone(),
                source: Some(format!("{source_name}:{}", raw.line)),
                source_id: Some(format!("{source_name}#{slug}")),
                ..NewTask::default()
            });
            plan.lines.push(raw.line);
        }
        plan.warnings = self.warnings;
        plan.warnings.sort_by_key(|w| w.line);
        plan
    }
}

fn classify_heading(text: &str) -> SectionKind {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
    if has(&[
        "verification",
        "verify",
        "validation",
        "validators",
        "tests",
        "test",
        "testing",
        "acceptance",
    ]) {
        SectionKind::Verification
    } else if has(&[
        "tasks",
        "task",
        "milestones",
        "milestone",
        "roadmap",
        "steps",
        "todo",
        "to-do",
        "backlog",
        "deliverables",
        "phases",
    ]) {
        SectionKind::Tasks
    } else {
        SectionKind::Other
    }
}

/// Whitespace collapsed to single spaces, trimmed, a trailing `:` removed.
fn collapse(text: &str) -> String {
    // One pass and one allocation: this runs for every item, heading and nested bullet.
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    let kept = out.trim_end_matches(':').trim_end().len();
    out.truncate(kept);
    out
}

const DEPENDENCY_MARKERS: &[&str] = &["depends on ", "depend on ", "blocked by ", "requires "];

/// The rest of a nested bullet that is only a dependency: "Depends on T1, T2".
fn dependency_prefix(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    DEPENDENCY_MARKERS
        .iter()
        .chain(&["after "])
        .find(|marker| lower.starts_with(*marker))
        .map(|marker| text[marker.len()..].trim_start_matches(':').trim())
}

/// Splits dependency phrases out of an item's text: "(depends on T2)", "; after Login",
/// "- blocked by T3". Returns the text without them and the references.
fn extract_dependencies(text: &str) -> (String, Vec<Reference>) {
    let lower = text.to_ascii_lowercase();
    // Every marker and separator holds one of these words: most titles have none of them,
    // and then the eight searches below are skipped.
    if !["depend", "blocked", "requires", "after"]
        .iter()
        .any(|word| lower.contains(word))
    {
        return (text.to_string(), Vec::new());
    }
    // In parentheses, any marker including "after".
    if let Some(open) = lower.find('(')
        && let Some(close_rel) = lower[open..].find(')')
    {
        let close = open + close_rel;
        let inner = &text[open + 1..close];
        if let Some(rest) = dependency_prefix(inner.trim()) {
            let references = parse_references(rest);
            let mut cleaned = format!("{}{}", &text[..open], &text[close + 1..]);
            cleaned = collapse(&cleaned);
            let (cleaned, mut more) = extract_dependencies(&cleaned);
            let mut all = references;
            all.append(&mut more);
            return (cleaned, all);
        }
    }
    // Outside parentheses: "depends on" / "blocked by" / "requires" anywhere, "after" only
    // after a separator, so "redirect after login" stays a title.
    let mut best: Option<(usize, usize)> = None;
    for marker in DEPENDENCY_MARKERS {
        if let Some(at) = lower.find(marker)
            && (at == 0 || lower.as_bytes()[at - 1] == b' ')
            && best.is_none_or(|(b, _)| at < b)
        {
            best = Some((at, marker.len()));
        }
    }
    for separator in ["; after ", " — after ", " - after ", ", after "] {
        if let Some(at) = lower.find(separator)
            && best.is_none_or(|(b, _)| at < b)
        {
            best = Some((at, separator.len()));
        }
    }
    match best {
        Some((at, len)) => {
            let rest = &text[at + len..];
            let references = parse_references(rest);
            let head = text[..at].trim_end_matches([' ', ',', ';', '-', '—', ':']);
            (collapse(head), references)
        }
        None => (text.to_string(), Vec::new()),
    }
}

/// "T1, T2 and the login page" → `Id(T1)`, `Id(T2)`, `Title(the login page)`.
fn parse_references(text: &str) -> Vec<Reference> {
    let text = text.trim().trim_end_matches(['.', ')', ';']);
    let mut references = Vec::new();
    for part in text.split([',', ';']).flat_map(|p| p.split(" and ")) {
        let part = part
            .trim()
            .trim_matches(|c: char| c == '`' || c == '"' || c == '\'' || c == '*')
            .trim();
        if part.is_empty() {
            continue;
        }
        let is_id = part.len() >= 2
            && part.as_bytes()[0].eq_ignore_ascii_case(&b't')
            && part[1..].bytes().all(|b| b.is_ascii_digit());
        if is_id {
            references.push(Reference::Id(format!("T{}", &part[1..])));
        } else {
            references.push(Reference::Title(part.to_string()));
        }
    }
    references
}

/// A stable key from a title: lowercase ASCII words joined by `-`, at most 60 bytes; a
/// hash when the title has no ASCII letters or digits.
pub fn slug(title: &str) -> String {
    let mut slug = String::new();
    for word in title
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if slug.len() + word.len() + 1 > 60 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(word);
    }
    if slug.is_empty() {
        format!(
            "h{:012x}",
            xxhash_rust::xxh3::xxh3_64(title.as_bytes()) >> 16
        )
    } else {
        slug
    }
}

/// The risk that words in the task's text suggest, if any.
pub fn risk_of<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<Risk> {
    let mut risk: Option<Risk> = None;
    for text in texts {
        let lower = text.to_lowercase();
        for word in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let found = match word {
                "payment" | "payments" | "billing" | "production" | "prod" | "delete"
                | "deletes" | "deletion" | "drop" | "credentials" | "secrets" | "money" => {
                    Some(Risk::High)
                }
                "migration" | "migrations" | "migrate" | "auth" | "authentication"
                | "authorization" | "oauth" | "login" | "password" | "passwords"
                | "permissions" | "security" | "encryption" => Some(Risk::Medium),
                _ => None,
            };
            if let Some(found) = found
                && risk.is_none_or(|current| rank(found) > rank(current))
            {
                risk = Some(found);
            }
        }
    }
    risk
}

fn rank(risk: Risk) -> u8 {
    match risk {
        Risk::Low => 0,
        Risk::Medium => 1,
        Risk::High => 2,
        Risk::Critical => 3,
    }
}

/// Byte offsets of line starts, for offset → line in O(log n).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRD: &str = "# Shop PRD

Some intro text with a - [ ] fake.

## Goals

- Fast checkout
- Works offline

## Milestones

### M1: Accounts

- [ ] Add the login page
  - shows an error on a bad password
  - Verify: `cargo test -p web login`
- [x] Create the users table migration
- [ ] Password reset (depends on T1)
  - After Add the login page

### M2: Payments

1. Stripe payment integration; after Create the users table
   - refunds work
2. Delete stale carts blocked by T9

#### Tests

- `cargo test -p payments`

## Verification

```sh
cargo test --workspace
# a comment
```

- Also `cargo clippy -- -D warnings`
";

    fn plan() -> PrdPlan {
        parse_prd(PRD, "prd.md")
    }

    #[test]
    fn tasks_come_from_task_lists_and_numbered_items_under_task_headings() {
        let plan = plan();
        let titles: Vec<&str> = plan.tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Add the login page",
                "Create the users table migration",
                "Password reset",
                "Stripe payment integration",
                "Delete stale carts",
            ]
        );
        assert_eq!(plan.lines, [14, 17, 18, 23, 25]);
        assert_eq!(plan.tasks[0].source.as_deref(), Some("prd.md:14"));
        assert_eq!(
            plan.tasks[0].source_id.as_deref(),
            Some("prd.md#add-the-login-page")
        );
        assert_eq!(plan.title.as_deref(), Some("Shop PRD"));
    }

    #[test]
    fn nested_bullets_milestones_dependencies_validators_and_risk() {
        let plan = plan();
        let [login, migration, reset, stripe, delete] = &plan.tasks[..] else {
            panic!("{plan:?}");
        };
        assert_eq!(
            login.acceptance_criteria,
            ["shows an error on a bad password"]
        );
        assert_eq!(
            login.validators,
            [Validator::Argv(vec![
                "cargo".into(),
                "test".into(),
                "-p".into(),
                "web".into(),
                "login".into()
            ])]
        );
        assert_eq!(login.milestone.as_deref(), Some("M1: Accounts"));
        assert_eq!(login.risk, Some(Risk::Medium));
        assert_eq!(migration.status, Some(TaskStatus::Complete));
        assert_eq!(migration.risk, Some(Risk::Medium));
        assert_eq!(reset.depends_on, ["T1"]);
        assert_eq!(stripe.depends_on, ["T2"]);
        assert_eq!(stripe.acceptance_criteria, ["refunds work"]);
        assert_eq!(stripe.risk, Some(Risk::High));
        assert_eq!(
            stripe.validators,
            [Validator::Argv(vec![
                "cargo".into(),
                "test".into(),
                "-p".into(),
                "payments".into()
            ])]
        );
        assert_eq!(delete.depends_on, ["T9"]);
        assert_eq!(delete.risk, Some(Risk::High));
        // Accounts has no section of its own: the global commands apply to its tasks.
        assert_eq!(
            migration.validators,
            [
                Validator::Argv(vec!["cargo".into(), "test".into(), "--workspace".into()]),
                Validator::Argv(vec![
                    "cargo".into(),
                    "clippy".into(),
                    "--".into(),
                    "-D".into(),
                    "warnings".into()
                ]),
            ]
        );
    }

    #[test]
    fn nothing_recognisable_gives_no_tasks() {
        let plan = parse_prd(
            "# Notes\n\nJust prose.\n\n- a bullet\n- another\n",
            "prd.md",
        );
        assert!(plan.tasks.is_empty());
    }

    #[test]
    fn unknown_titles_are_warned_about_and_dropped() {
        let plan = parse_prd("## Tasks\n\n- Build it (after Something missing)\n", "p.md");
        assert_eq!(plan.tasks[0].title, "Build it");
        assert!(plan.tasks[0].depends_on.is_empty());
        assert_eq!(plan.warnings.len(), 1);
    }

    #[test]
    fn titles_with_after_in_them_stay_whole() {
        let plan = parse_prd("## Steps\n\n1. Redirect after login\n", "p.md");
        assert_eq!(plan.tasks[0].title, "Redirect after login");
    }

    #[test]
    fn duplicate_titles_get_distinct_source_ids() {
        let plan = parse_prd("## Tasks\n- Same\n- Same\n", "p.md");
        assert_eq!(plan.tasks[0].source_id.as_deref(), Some("p.md#same"));
        assert_eq!(plan.tasks[1].source_id.as_deref(), Some("p.md#same-2"));
    }
}
