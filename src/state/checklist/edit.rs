//! The in-place editor: changes the values of a few fields and leaves every other byte of
//! the file as it was (comments, key order, quoting, flow-style tasks, unrelated tasks).
//!
//! Each edit becomes a splice of the original text at the positions the parser recorded.
//! The result is then re-parsed around every splice and compared with the original: only
//! the intended fields may differ, and they must hold the intended values. Anything else
//! refuses the edit; a wrong write is never produced.

use std::fmt::Write as _;

use serde_json::Value;

use super::{Checklist, FieldSpan, Position};

/// A task field longrun writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskField {
    Status,
    Note,
    Attempts,
    Cost,
    Agent,
}

impl TaskField {
    pub fn key(self) -> &'static str {
        match self {
            TaskField::Status => "status",
            TaskField::Note => "note",
            TaskField::Attempts => "attempts",
            TaskField::Cost => "cost",
            TaskField::Agent => "agent",
        }
    }
}

/// A `summary` field longrun writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryField {
    LastUpdated,
    ActiveTaskId,
    Status,
    Blockers,
    NextActions,
}

impl SummaryField {
    pub fn key(self) -> &'static str {
        match self {
            SummaryField::LastUpdated => "last_updated",
            SummaryField::ActiveTaskId => "active_task_id",
            SummaryField::Status => "status",
            SummaryField::Blockers => "blockers",
            SummaryField::NextActions => "next_actions",
        }
    }
}

/// A new value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Integer(u64),
    Number(f64),
    List(Vec<String>),
}

impl FieldValue {
    fn to_json(&self) -> Value {
        match self {
            FieldValue::Text(text) => Value::String(text.clone()),
            FieldValue::Integer(n) => Value::from(*n),
            FieldValue::Number(n) => Value::from(*n),
            FieldValue::List(items) => {
                Value::Array(items.iter().cloned().map(Value::String).collect())
            }
        }
    }
}

/// One change to make.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskEdit {
    Task {
        task_id: String,
        field: TaskField,
        value: FieldValue,
    },
    Summary {
        field: SummaryField,
        value: FieldValue,
    },
}

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("no task `{0}` in the checklist")]
    NoSuchTask(String),
    #[error("task id `{0}` appears more than once; refusing to guess which to change")]
    AmbiguousTask(String),
    #[error("the checklist has no `tasks` list")]
    NoTasks,
    #[error(
        "the edit of {what} could not be made without changing other content ({detail}); the file was left as it was"
    )]
    Unverified { what: String, detail: String },
}

/// Which mapping an edit targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The task at this index.
    Task(usize),
    Summary,
}

/// The text of one edited mapping before and after the edit. Both ranges start at a line
/// start and end at a line start (or the end of the text), and each parses on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditedSegment {
    pub target: Target,
    pub old: std::ops::Range<usize>,
    pub new: std::ops::Range<usize>,
}

/// The edited text, and where it differs from the original.
pub(crate) struct Rendered {
    pub text: String,
    /// The edited mappings in file order; `None` when some edit could only be verified by
    /// comparing whole documents, so its change cannot be pinned to one segment.
    pub segments: Option<Vec<EditedSegment>>,
}

struct Splice {
    start: usize,
    end: usize,
    text: String,
}

/// Returns `text` with `edits` applied, verified; `checklist` must be parsed from `text`.
pub fn render_edits(
    text: &str,
    checklist: &Checklist,
    edits: &[TaskEdit],
) -> Result<String, EditError> {
    render(text, checklist, edits).map(|rendered| rendered.text)
}

/// [`render_edits`], also telling which segments of the text changed.
pub(crate) fn render(
    text: &str,
    checklist: &Checklist,
    edits: &[TaskEdit],
) -> Result<Rendered, EditError> {
    let unchanged = || Rendered {
        text: text.to_string(),
        segments: Some(Vec::new()),
    };
    if edits.is_empty() {
        return Ok(unchanged());
    }
    // Group edits by target so each mapping is verified once with all its changes.
    let mut groups: Vec<(Target, Vec<(&'static str, FieldValue)>)> = Vec::new();
    for edit in edits {
        let (target, key, value) = match edit {
            TaskEdit::Task {
                task_id,
                field,
                value,
            } => {
                let mut matches = checklist
                    .tasks
                    .iter()
                    .enumerate()
                    .filter(|(_, task)| &task.task_id == task_id);
                let (index, _) = matches
                    .next()
                    .ok_or_else(|| EditError::NoSuchTask(task_id.clone()))?;
                if matches.next().is_some() {
                    return Err(EditError::AmbiguousTask(task_id.clone()));
                }
                (Target::Task(index), field.key(), value.clone())
            }
            TaskEdit::Summary { field, value } => (Target::Summary, field.key(), value.clone()),
        };
        match groups.iter_mut().find(|(t, _)| *t == target) {
            Some((_, fields)) => {
                // A later edit of the same field wins.
                fields.retain(|(k, _)| *k != key);
                fields.push((key, value));
            }
            None => groups.push((target, vec![(key, value)])),
        }
    }

    let mut splices: Vec<Splice> = Vec::new();
    for (target, fields) in &groups {
        if *target == Target::Summary && checklist.summary_key.is_none() {
            // No `summary:` yet: all its fields go into one new block.
            splices.push(insert_summary(text, fields));
            continue;
        }
        for (key, value) in fields {
            splices.push(splice_for(text, checklist, *target, key, value)?);
        }
    }
    splices.sort_by_key(|splice| (splice.start, splice.end));
    for pair in splices.windows(2) {
        if pair[0].end > pair[1].start {
            return Err(EditError::Unverified {
                what: "several fields".to_string(),
                detail: "two edits overlap".to_string(),
            });
        }
    }
    let mut new_text = String::with_capacity(text.len() + 256);
    let mut cursor = 0;
    for splice in &splices {
        new_text.push_str(&text[cursor..splice.start]);
        new_text.push_str(&splice.text);
        cursor = splice.end;
    }
    new_text.push_str(&text[cursor..]);
    if new_text == text {
        return Ok(unchanged());
    }
    let segments = verify(text, &new_text, checklist, &groups, &splices)?;
    Ok(Rendered {
        text: new_text,
        segments,
    })
}

fn describe(checklist: &Checklist, target: Target, key: &str) -> String {
    match target {
        Target::Task(index) => format!("`{key}` of task `{}`", checklist.tasks[index].task_id),
        Target::Summary => format!("`summary.{key}`"),
    }
}

/// The fields and the start of the mapping an edit targets.
fn mapping_of(checklist: &Checklist, target: Target) -> (&[FieldSpan], Option<Position>) {
    match target {
        Target::Task(index) => {
            let task = &checklist.tasks[index];
            (&task.fields, Some(task.pos))
        }
        Target::Summary => (&checklist.summary.fields, checklist.summary.value_pos),
    }
}

fn splice_for(
    text: &str,
    checklist: &Checklist,
    target: Target,
    key: &str,
    value: &FieldValue,
) -> Result<Splice, EditError> {
    let unverified = |detail: &str| EditError::Unverified {
        what: describe(checklist, target, key),
        detail: detail.to_string(),
    };
    let (fields, mapping_pos) = mapping_of(checklist, target);
    let flow_mapping = mapping_pos.is_some_and(|pos| text[pos.offset..].starts_with('{'));

    if let Some(field) = fields.iter().find(|field| field.key == key) {
        let colon = colon_after_key(text, field).ok_or_else(|| unverified("no `:` after key"))?;
        let value_start = field.value_pos.offset;
        let inline = value_start > colon && !text[colon + 1..value_start].contains('\n');
        let key_indent = field.key_pos.column.saturating_sub(1);
        if inline && field.value_pos.len > 0 {
            let first = text.as_bytes()[value_start];
            let (end, style) = match first {
                b'[' | b'{' => (
                    flow_end(text, value_start).ok_or_else(|| unverified("unclosed bracket"))?,
                    Style::Flow,
                ),
                b'"' => (value_start + field.value_pos.len, Style::Double),
                b'\'' => (value_start + field.value_pos.len, Style::Single),
                b'|' | b'>' => return Err(unverified("unexpected block scalar position")),
                _ => (value_start + field.value_pos.len, Style::Plain),
            };
            // Several lines read best as a literal block, whatever the old value looked like.
            if !flow_mapping
                && let FieldValue::Text(new_text) = value
                && new_text.contains('\n')
                && block_scalar_safe(new_text)
            {
                return Ok(Splice {
                    start: colon + 1,
                    end,
                    text: render_block(value, key_indent, key_indent + 2),
                });
            }
            let rendered = render_inline(value, style, flow_mapping || style == Style::Flow);
            return Ok(Splice {
                start: value_start,
                end,
                text: rendered,
            });
        }
        if flow_mapping {
            // `key:` with no value inside `{...}`.
            return Ok(Splice {
                start: colon + 1,
                end: colon + 1,
                text: format!(" {}", render_inline(value, Style::Plain, true)),
            });
        }
        // A block value (block scalar or collection) or nothing: replace everything from
        // after the colon to the end of the value's last line.
        let end = block_value_end(text, colon, key_indent);
        let old = &text[colon + 1..end];
        let list_indent = first_item_indent(old).unwrap_or(key_indent + 2);
        return Ok(Splice {
            start: colon + 1,
            end,
            text: render_block(value, key_indent, list_indent),
        });
    }

    // The key is missing: add it at the end of its mapping.
    let Some(mapping_pos) = mapping_pos else {
        return Err(unverified("the summary is not a block mapping"));
    };
    if flow_mapping {
        let close = flow_end(text, mapping_pos.offset)
            .ok_or_else(|| unverified("unclosed `{`"))?
            .saturating_sub(1);
        let inner = text[mapping_pos.offset + 1..close].trim();
        let separator = if inner.is_empty() {
            ""
        } else if inner.ends_with(',') {
            " "
        } else {
            ", "
        };
        // Put it right after the last value so spacing before `}` stays as it was.
        let insert_at =
            mapping_pos.offset + 1 + text[mapping_pos.offset + 1..close].trim_end().len();
        return Ok(Splice {
            start: insert_at,
            end: insert_at,
            text: format!(
                "{separator}{key}: {}",
                render_inline(value, Style::Plain, true)
            ),
        });
    }
    match fields.iter().max_by_key(|field| field.key_pos.offset) {
        Some(last) => {
            let colon =
                colon_after_key(text, last).ok_or_else(|| unverified("no `:` after key"))?;
            let key_indent = last.key_pos.column.saturating_sub(1);
            let inline = last.value_pos.offset > colon
                && !text[colon + 1..last.value_pos.offset].contains('\n');
            let end = if inline && last.value_pos.len > 0 {
                let start = last.value_pos.offset;
                let value_end = match text.as_bytes()[start] {
                    b'[' | b'{' => {
                        flow_end(text, start).ok_or_else(|| unverified("unclosed bracket"))?
                    }
                    _ => start + last.value_pos.len,
                };
                line_end(text, value_end)
            } else {
                block_value_end(text, colon, key_indent).max(line_end(text, colon))
            };
            let indent = " ".repeat(key_indent);
            Ok(Splice {
                start: end,
                end,
                text: format!(
                    "\n{indent}{key}:{}",
                    render_block(value, key_indent, key_indent + 2)
                ),
            })
        }
        None => {
            // `summary:` with an empty value: add the first key on the next line.
            let key_pos = checklist
                .summary_key
                .ok_or_else(|| unverified("no mapping to add the key to"))?;
            let end = line_end(text, key_pos.offset);
            Ok(Splice {
                start: end,
                end,
                text: format!("\n  {key}:{}", render_block(value, 2, 4)),
            })
        }
    }
}

/// A file without `summary`: add one at the top, after leading comments.
fn insert_summary(text: &str, fields: &[(&'static str, FieldValue)]) -> Splice {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with("---") || trimmed.trim().is_empty() {
            offset += line.len();
        } else {
            break;
        }
    }
    let mut block = String::new();
    if offset > 0 && !text[..offset].ends_with('\n') {
        block.push('\n');
    }
    block.push_str("summary:\n");
    for (key, value) in fields {
        block.push_str(&format!("  {key}:{}\n", render_block(value, 2, 4)));
    }
    Splice {
        start: offset,
        end: offset,
        text: block,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    Single,
    Double,
    Flow,
}

/// Renders a value that sits on the key's line.
fn render_inline(value: &FieldValue, style: Style, in_flow: bool) -> String {
    match value {
        FieldValue::Text(text) => render_scalar(text, style, in_flow),
        FieldValue::Integer(n) => n.to_string(),
        FieldValue::Number(n) => format_number(*n),
        FieldValue::List(items) => {
            let rendered: Vec<String> = items
                .iter()
                .map(|item| render_scalar(item, Style::Plain, true))
                .collect();
            format!("[{}]", rendered.join(", "))
        }
    }
}

/// Renders a value that starts right after `key:` in a block mapping (leading space
/// included), possibly over several lines.
fn render_block(value: &FieldValue, key_indent: usize, list_indent: usize) -> String {
    match value {
        FieldValue::Text(text) if text.contains('\n') && block_scalar_safe(text) => {
            let (indicator, body) = match text.strip_suffix('\n') {
                Some(body) => ("|", body),
                None => ("|-", text.as_str()),
            };
            let indent = " ".repeat(key_indent + 2);
            let mut out = format!(" {indicator}");
            for line in body.split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&indent);
                    out.push_str(line);
                }
            }
            out
        }
        FieldValue::List(items) if !items.is_empty() => {
            let indent = " ".repeat(list_indent);
            let mut out = String::new();
            for item in items {
                let _ = write!(
                    out,
                    "\n{indent}- {}",
                    render_scalar(item, Style::Plain, false)
                );
            }
            out
        }
        other => format!(" {}", render_inline(other, Style::Plain, false)),
    }
}

fn format_number(n: f64) -> String {
    if n.is_finite() {
        let text = format!("{n}");
        if text.contains('.') || text.contains('e') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        "0.0".to_string()
    }
}

/// A literal block scalar can hold `text` exactly.
fn block_scalar_safe(text: &str) -> bool {
    let body = text.strip_suffix('\n').unwrap_or(text);
    // A block scalar's indentation is taken from its first non-empty line, so that line
    // must not start with a space (it would read back without it).
    let first_content = body.split('\n').find(|line| !line.is_empty()).unwrap_or("");
    !body.is_empty()
        && !first_content.starts_with([' ', '\t'])
        && !body.ends_with('\n')
        && !text.contains(['\r', '\t'])
        && body.split('\n').all(|line| line == line.trim_end())
        && body.chars().all(|c| !c.is_control() || c == '\n')
}

pub(super) fn render_scalar(text: &str, style: Style, in_flow: bool) -> String {
    match style {
        Style::Plain | Style::Flow if plain_safe(text, in_flow) => text.to_string(),
        Style::Single if !text.contains('\n') && text.chars().all(|c| !c.is_control()) => {
            format!("'{}'", text.replace('\'', "''"))
        }
        _ => double_quoted(text),
    }
}

/// YAML double-quoted scalars accept JSON's escapes.
fn double_quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// True when `text` reads back as the same string without quotes.
fn plain_safe(text: &str, in_flow: bool) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if !(first.is_alphanumeric() || first == '_' || first == '/' || first == '(') {
        return false;
    }
    if text.ends_with(' ') || text.contains(": ") || text.contains(" #") || text.ends_with(':') {
        return false;
    }
    let allowed =
        |c: char| c.is_alphanumeric() || " _./()+=@%-".contains(c) || (!in_flow && c == ',');
    if !text.chars().all(allowed) {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let reserved = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", ".nan", ".inf",
    ];
    if reserved.contains(&lower.as_str()) {
        return false;
    }
    // Anything that could read as a number stays quoted.
    let numberish = text
        .chars()
        .all(|c| c.is_ascii_digit() || "+-._eExXoO".contains(c) || c.is_ascii_hexdigit());
    !(numberish && text.chars().any(|c| c.is_ascii_digit()))
}

/// The offset of the `:` that ends a key.
fn colon_after_key(text: &str, field: &FieldSpan) -> Option<usize> {
    let mut index = field.key_pos.offset + field.key_pos.len;
    let bytes = text.as_bytes();
    // A quoted key's span may stop before its closing quote.
    while index < bytes.len() && bytes[index] != b':' {
        if bytes[index] == b'\n' {
            return None;
        }
        index += 1;
    }
    (index < bytes.len()).then_some(index)
}

/// The offset just past the bracket that closes the flow collection starting at `start`.
pub(super) fn flow_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut index = start;
    while index < bytes.len() {
        match bytes[index] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(index + 1);
                }
            }
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' {
                    if bytes[index] == b'\\' {
                        index += 1;
                    }
                    index += 1;
                }
            }
            b'\'' => {
                index += 1;
                while index < bytes.len() {
                    if bytes[index] == b'\'' {
                        if bytes.get(index + 1) == Some(&b'\'') {
                            index += 1;
                        } else {
                            break;
                        }
                    }
                    index += 1;
                }
            }
            b'#' if index > 0 && bytes[index - 1].is_ascii_whitespace() => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// The offset of the end of the line containing `offset` (its `\n`, or the end of text).
pub(super) fn line_end(text: &str, offset: usize) -> usize {
    text[offset..].find('\n').map_or(text.len(), |i| offset + i)
}

/// The end (before the newline) of the last line that belongs to the block value of the
/// key whose `:` is at `colon`: lines indented deeper than the key, and `- ` items at the
/// key's own indentation. Trailing blank lines are not part of it.
fn block_value_end(text: &str, colon: usize, key_indent: usize) -> usize {
    let mut end = line_end(text, colon);
    let mut cursor = end;
    while cursor < text.len() {
        let line_start = cursor + 1;
        if line_start > text.len() {
            break;
        }
        let next_end = line_end(text, line_start);
        let line = &text[line_start..next_end];
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if trimmed.trim().is_empty() {
            cursor = next_end;
            continue;
        }
        let belongs = indent > key_indent
            || (indent == key_indent && (trimmed.starts_with("- ") || trimmed == "-"));
        if !belongs {
            break;
        }
        end = next_end;
        cursor = next_end;
    }
    end
}

/// The indentation of the first `- ` item in a block sequence's text.
fn first_item_indent(block: &str) -> Option<usize> {
    block.lines().skip(1).find_map(|line| {
        let trimmed = line.trim_start_matches(' ');
        trimmed
            .starts_with('-')
            .then_some(line.len() - trimmed.len())
    })
}

// ---------------------------------------------------------------------------------------
// Verification

/// Checks that the new text differs from the old only in the intended fields, and returns
/// the segments it compared (`None` when some target needed a whole-document comparison).
fn verify(
    old_text: &str,
    new_text: &str,
    checklist: &Checklist,
    groups: &[(Target, Vec<(&'static str, FieldValue)>)],
    splices: &[Splice],
) -> Result<Option<Vec<EditedSegment>>, EditError> {
    let mut segments = Some(Vec::with_capacity(groups.len()));
    let shift = |offset: usize| -> usize {
        let mut shifted = offset as isize;
        for splice in splices {
            // Splices never cross a segment boundary, so "starts before" means "lies before".
            if splice.start < offset {
                shifted += splice.text.len() as isize - (splice.end - splice.start) as isize;
            }
        }
        shifted.max(0) as usize
    };
    for (target, fields) in groups {
        let what = || {
            let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
            match target {
                Target::Task(index) => format!(
                    "{} of task `{}`",
                    keys.join(", "),
                    checklist.tasks[*index].task_id
                ),
                Target::Summary => format!("summary.{}", keys.join(", summary.")),
            }
        };
        let segment = segment_of(old_text, checklist, *target);
        let checked = match segment {
            Some((start, end)) => {
                let new_end = if end >= old_text.len() {
                    new_text.len()
                } else {
                    shift(end)
                };
                let new_start = shift(start);
                let old_value = parse_segment(&old_text[start..end], *target);
                let new_value = parse_segment(&new_text[new_start..new_end], *target);
                match (old_value, new_value) {
                    (Some(old), Some(new)) => {
                        if let Some(segments) = &mut segments {
                            segments.push(EditedSegment {
                                target: *target,
                                old: start..end,
                                new: new_start..new_end,
                            });
                        }
                        Some(compare(&old, &new, fields))
                    }
                    (Some(_), None) => Some(Err("the edited text no longer parses".to_string())),
                    _ => None,
                }
            }
            None => None,
        };
        let result = match checked {
            Some(result) => result,
            // The segment cannot stand alone (aliases, flow-style task lists): compare the
            // whole documents instead.
            None => {
                segments = None;
                let all_targets: Vec<Target> = groups.iter().map(|(t, _)| *t).collect();
                compare_whole(old_text, new_text, *target, fields, &all_targets)
            }
        };
        result.map_err(|detail| EditError::Unverified {
            what: what(),
            detail,
        })?;
    }
    if let Some(segments) = &mut segments {
        segments.sort_by_key(|segment| segment.old.start);
    }
    Ok(segments)
}

/// The byte range of a task item (from its line start to the next item) or of the
/// `summary:` block, when that range is a YAML document on its own.
fn segment_of(text: &str, checklist: &Checklist, target: Target) -> Option<(usize, usize)> {
    match target {
        Target::Task(index) => {
            let task = &checklist.tasks[index];
            let start = line_start(text, task.pos.offset);
            let end = match checklist.tasks.get(index + 1) {
                Some(next) => line_start(text, next.pos.offset),
                None => next_top_level_line(text, task.pos.offset),
            };
            (end > start && text[start..task.pos.offset].trim_start().starts_with('-'))
                .then_some((start, end))
        }
        Target::Summary => {
            let key = checklist.summary_key?;
            let start = line_start(text, key.offset);
            (start == key.offset).then(|| (start, next_top_level_line(text, key.offset)))
        }
    }
}

pub(super) fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// The start of the first line after `offset`'s line that starts a new top-level key.
fn next_top_level_line(text: &str, offset: usize) -> usize {
    let mut cursor = line_end(text, offset);
    while cursor < text.len() {
        let start = cursor + 1;
        if let Some(&first) = text.as_bytes().get(start)
            && (first.is_ascii_alphanumeric() || first == b'"' || first == b'\'' || first == b'_')
        {
            return start;
        }
        cursor = line_end(text, start.min(text.len()));
        if start >= text.len() {
            break;
        }
    }
    text.len()
}

fn parse_value(text: &str) -> Option<Value> {
    serde_saphyr::from_str_with_options::<Value>(text, super::parse::options()).ok()
}

/// Parses a segment into the mapping it holds.
fn parse_segment(segment: &str, target: Target) -> Option<Value> {
    let value = parse_value(segment)?;
    match target {
        Target::Task(_) => match value {
            Value::Array(mut items) if items.len() == 1 => items.pop(),
            _ => None,
        },
        Target::Summary => match value {
            Value::Object(mut map) if map.len() == 1 => map.remove("summary"),
            _ => None,
        },
    }
}

fn compare_whole(
    old_text: &str,
    new_text: &str,
    target: Target,
    fields: &[(&'static str, FieldValue)],
    all_targets: &[Target],
) -> Result<(), String> {
    let old = parse_value(old_text).ok_or("the original text cannot be re-read")?;
    let new = parse_value(new_text).ok_or("the edited text no longer parses")?;
    let pick = |doc: &Value| -> Option<Value> {
        match target {
            Target::Task(index) => doc.get("tasks")?.get(index).cloned(),
            Target::Summary => doc.get("summary").cloned(),
        }
    };
    // A summary that did not exist yet compares as an empty mapping.
    let old_mapping = pick(&old).or_else(|| {
        (target == Target::Summary && old.get("summary").is_none())
            .then(|| Value::Object(serde_json::Map::new()))
    });
    let (Some(old_mapping), Some(new_mapping)) = (old_mapping, pick(&new)) else {
        return Err("the edited mapping cannot be found again".to_string());
    };
    compare(&old_mapping, &new_mapping, fields)?;
    // Everything outside the edited mappings must be identical too (each edited mapping
    // is checked by its own group).
    let blank = |mut doc: Value| -> Value {
        for target in all_targets {
            match target {
                Target::Task(index) => {
                    if let Some(task) = doc.get_mut("tasks").and_then(|t| t.get_mut(*index)) {
                        *task = Value::Null;
                    }
                }
                Target::Summary => {
                    if let Some(map) = doc.as_object_mut() {
                        map.remove("summary");
                    }
                }
            }
        }
        doc
    };
    if blank(old) == blank(new) {
        Ok(())
    } else {
        Err("content outside the edited mapping changed".to_string())
    }
}

fn compare(old: &Value, new: &Value, fields: &[(&'static str, FieldValue)]) -> Result<(), String> {
    let (Some(old_map), Some(new_map)) = (old.as_object(), new.as_object()) else {
        return Err("the edited value is no longer a mapping".to_string());
    };
    for (key, old_value) in old_map {
        if fields.iter().any(|(k, _)| k == key) {
            continue;
        }
        if new_map.get(key) != Some(old_value) {
            return Err(format!("`{key}` would change"));
        }
    }
    for (key, value) in fields {
        let expected = value.to_json();
        let actual = new_map.get(*key);
        let same = match (actual, &expected) {
            (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (Some(actual), expected) => actual == expected,
            (None, _) => false,
        };
        if !same {
            return Err(format!("`{key}` would not read back as written"));
        }
    }
    let extra = new_map
        .keys()
        .filter(|key| !old_map.contains_key(*key) && !fields.iter().any(|(k, _)| k == key))
        .count();
    if extra > 0 {
        return Err("unexpected keys appeared".to_string());
    }
    Ok(())
}
