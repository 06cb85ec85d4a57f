//! Appends new tasks at the end of the `tasks:` list, in block style, with the indentation
//! the file already uses, and leaves every existing byte where it was.
//!
//! Like the in-place editor, the result is verified before it is returned: every old task
//! and every top-level key must read back unchanged, and the new tasks must read back
//! exactly as intended. For a few new tasks the whole new text is parsed again; for many
//! (a plan, an import), [`verify_fast`] reads the file around the new items with the typed
//! parser and the items themselves with the YAML event reader, split over the cores, and
//! falls back to the full parse whenever it cannot vouch for the result. Nothing here
//! touches the disk.

use std::fmt::Write as _;

use std::path::Path;

use super::edit::{EditError, Style, flow_end, line_end, line_start, render_scalar};
use super::{Checklist, FieldSpan, Position, StatusValue, Task, UnknownKey, Validator, readback};
use crate::state::model::{Risk, TaskStatus};

/// A task to add. Empty fields are left out of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTask {
    pub task_id: String,
    pub title: String,
    pub description: String,
    pub acceptance_criteria: Vec<String>,
    pub implementation_notes: String,
    pub note: String,
    pub status: Option<TaskStatus>,
    pub depends_on: Vec<String>,
    pub validators: Vec<Validator>,
    pub risk: Option<Risk>,
    pub milestone: Option<String>,
    /// Where the task came from, such as `prd.md:12`.
    pub source: Option<String>,
    /// A stable key of its origin, such as `prd:add-login-page` or `taskmaster:12`.
    pub source_id: Option<String>,
}

/// Returns `text` with `new_tasks` added at the end of its task list; `checklist` must be
/// parsed from `text`. Creates `tasks:` when the file has none.
pub fn append_tasks(
    text: &str,
    checklist: &Checklist,
    new_tasks: &[NewTask],
) -> Result<String, EditError> {
    if new_tasks.is_empty() {
        return Ok(text.to_string());
    }
    append_tasks_parsed(text, checklist, new_tasks).map(|(new_text, _)| new_text)
}

/// [`append_tasks`], also returning the new text's parsed checklist (the verification
/// reads it anyway; callers that validate the result need not parse it again).
/// `new_tasks` must not be empty.
pub fn append_tasks_parsed(
    text: &str,
    checklist: &Checklist,
    new_tasks: &[NewTask],
) -> Result<(String, Checklist), EditError> {
    let threads = read_threads(new_tasks.len());
    let (new_text, fast) = assemble(text, checklist, new_tasks, threads)?;
    let parsed = match fast {
        Some(parsed) => parsed,
        None => verify(&new_text, checklist, new_tasks.iter())?,
    };
    Ok((new_text, parsed))
}

/// The new text, and its checklist when [`verify_fast`] vouches for it.
fn assemble(
    text: &str,
    checklist: &Checklist,
    new_tasks: &[NewTask],
    threads: usize,
) -> Result<(String, Option<Checklist>), EditError> {
    let splice = splice(text, checklist, new_tasks.len())?;
    let (mut items, mut bounds) = render_items(new_tasks, splice.dash_indent, splice.key_indent);
    if splice.between_lines && items.ends_with('\n') {
        items.pop();
        if let Some(end) = bounds.last_mut() {
            *end = items.len();
        }
    }
    let mut new_text = String::with_capacity(splice.head.len() + items.len() + splice.tail.len());
    new_text.push_str(&splice.head);
    new_text.push_str(&items);
    new_text.push_str(splice.tail);
    let fast = verify_fast(&splice, &items, &bounds, checklist, new_tasks, threads);
    Ok((new_text, fast))
}

/// Threads to read `count` new items with.
fn read_threads(count: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_READ_THREADS)
        .min(count / ITEMS_PER_THREAD)
        .max(1)
}

/// Where the new items go: the new text is `head`, the items, then `tail`.
struct Splice<'t> {
    /// Everything before the items; ends with a newline.
    head: String,
    tail: &'t str,
    dash_indent: usize,
    key_indent: usize,
    /// The items go between two existing lines, so the last one's newline is the one
    /// `tail` starts with.
    between_lines: bool,
}

fn splice<'t>(text: &'t str, checklist: &Checklist, count: usize) -> Result<Splice<'t>, EditError> {
    let unverified = |detail: &str| EditError::Unverified {
        what: format!("{count} new task(s)"),
        detail: detail.to_string(),
    };
    match (checklist.tasks.last(), checklist.tasks_key) {
        (Some(last), _) => {
            let start = line_start(text, last.pos.offset);
            let before = &text[start..last.pos.offset];
            let dash = before.find('-').ok_or_else(|| {
                unverified("the task list is written in flow style (`tasks: [...]`)")
            })?;
            if before[..dash].chars().any(|c| c != ' ') {
                return Err(unverified(
                    "the task list is written in flow style (`tasks: [...]`)",
                ));
            }
            // Keys line up the way the last block-style task has them.
            let key_indent = checklist
                .tasks
                .iter()
                .rev()
                .find(|task| !text[task.pos.offset..].starts_with('{'))
                .and_then(|task| {
                    let start = line_start(text, task.pos.offset);
                    let task_dash = text[start..task.pos.offset].find('-')?;
                    let gap = task.pos.column.saturating_sub(1).checked_sub(task_dash)?;
                    Some(dash + gap)
                })
                .unwrap_or(dash + 2);
            let mut end = item_end(text, start, dash);
            if text[last.pos.offset..].starts_with('{')
                && let Some(close) = flow_end(text, last.pos.offset)
            {
                end = end.max(line_end(text, close.saturating_sub(1)));
            }
            Ok(Splice {
                head: format!("{}\n", &text[..end]),
                tail: &text[end..],
                dash_indent: dash,
                key_indent,
                between_lines: true,
            })
        }
        (None, Some(key)) => {
            let key_line_end = line_end(text, key.offset);
            let after_colon = text[key.offset..key_line_end]
                .find(':')
                .map(|i| key.offset + i + 1)
                .ok_or_else(|| unverified("no `:` after `tasks`"))?;
            let rest = &text[after_colon..key_line_end];
            let value = rest.split(" #").next().unwrap_or(rest).trim();
            let indent = key.column.saturating_sub(1) + 2;
            if !matches!(value, "" | "~" | "null" | "[]") {
                return Err(unverified("the `tasks` value is not a list"));
            }
            // `tasks: []  # none yet` becomes `tasks:  # none yet` followed by the items.
            let mut head = String::with_capacity(key_line_end + 1);
            if value.is_empty() {
                head.push_str(&text[..key_line_end]);
            } else {
                let at = after_colon + rest.find(value).unwrap_or(0);
                head.push_str(&text[..after_colon]);
                head.push_str(&text[at + value.len()..key_line_end]);
            }
            head.push('\n');
            Ok(Splice {
                head,
                tail: &text[key_line_end..],
                dash_indent: indent,
                key_indent: indent + 2,
                between_lines: true,
            })
        }
        (None, None) => {
            let mut head = text.to_string();
            if !text.is_empty() && !text.ends_with('\n') {
                head.push('\n');
            }
            head.push_str("\ntasks:\n");
            Ok(Splice {
                head,
                tail: "",
                dash_indent: 2,
                key_indent: 4,
                between_lines: false,
            })
        }
    }
}

/// The end (before its newline) of the sequence item whose `-` is at column `dash` on the
/// line starting at `start`: the last non-blank line indented deeper than the dash.
fn item_end(text: &str, start: usize, dash: usize) -> usize {
    let mut end = line_end(text, start);
    let mut cursor = end;
    while cursor < text.len() {
        let line_start = cursor + 1;
        let next_end = line_end(text, line_start);
        let line = &text[line_start..next_end];
        let trimmed = line.trim_start_matches(' ');
        cursor = next_end;
        if trimmed.trim().is_empty() {
            continue;
        }
        if line.len() - trimmed.len() <= dash {
            break;
        }
        end = next_end;
    }
    end
}

/// Renders tasks as block sequence items, each ending with a newline, and where each
/// starts (plus the end).
fn render_items(tasks: &[NewTask], dash_indent: usize, key_indent: usize) -> (String, Vec<usize>) {
    let mut out = String::new();
    let mut bounds = Vec::with_capacity(tasks.len() + 1);
    let dash = " ".repeat(dash_indent);
    let key = " ".repeat(key_indent);
    let item = " ".repeat(key_indent + 2);
    let first_pad = " ".repeat(key_indent.saturating_sub(dash_indent + 1).max(1));
    let scalar = |text: &str| render_scalar(text, Style::Plain, false);
    for task in tasks {
        bounds.push(out.len());
        let _ = writeln!(out, "{dash}-{first_pad}task_id: {}", scalar(&task.task_id));
        let _ = writeln!(out, "{key}title: {}", scalar(&task.title));
        if !task.description.is_empty() {
            let _ = writeln!(out, "{key}description: {}", scalar(&task.description));
        }
        if !task.acceptance_criteria.is_empty() {
            let _ = writeln!(out, "{key}acceptance_criteria:");
            for criterion in &task.acceptance_criteria {
                let _ = writeln!(out, "{item}- {}", scalar(criterion));
            }
        }
        if !task.implementation_notes.is_empty() {
            let _ = writeln!(
                out,
                "{key}implementation_notes: {}",
                scalar(&task.implementation_notes)
            );
        }
        if let Some(status) = task.status {
            let _ = writeln!(out, "{key}status: {}", status.as_str());
        }
        if !task.depends_on.is_empty() {
            let list: Vec<String> = task
                .depends_on
                .iter()
                .map(|id| render_scalar(id, Style::Flow, true))
                .collect();
            let _ = writeln!(out, "{key}depends_on: [{}]", list.join(", "));
        }
        if !task.validators.is_empty() {
            let _ = writeln!(out, "{key}validators:");
            for validator in &task.validators {
                let rendered = match validator {
                    Validator::Argv(argv) => {
                        let words: Vec<String> = argv
                            .iter()
                            .map(|word| render_scalar(word, Style::Flow, true))
                            .collect();
                        format!("[{}]", words.join(", "))
                    }
                    Validator::Shell(script) => format!("{{shell: {}}}", scalar(script)),
                };
                let _ = writeln!(out, "{item}- {rendered}");
            }
        }
        if let Some(risk) = task.risk {
            let _ = writeln!(out, "{key}risk: {}", risk.as_str());
        }
        if let Some(milestone) = &task.milestone {
            let _ = writeln!(out, "{key}milestone: {}", scalar(milestone));
        }
        if !task.note.is_empty() {
            let _ = writeln!(out, "{key}note: {}", scalar(&task.note));
        }
        if let Some(source) = &task.source {
            let _ = writeln!(out, "{key}source: {}", scalar(source));
        }
        if let Some(source_id) = &task.source_id {
            let _ = writeln!(out, "{key}source_id: {}", scalar(source_id));
        }
    }
    bounds.push(out.len());
    (out, bounds)
}

/// Old content unchanged, new tasks as intended, checked on the typed model of the new
/// text (one parse, which the caller can reuse). Positions are not compared: they move.
fn verify<'n>(
    new_text: &str,
    checklist: &Checklist,
    new_tasks: impl ExactSizeIterator<Item = &'n NewTask>,
) -> Result<Checklist, EditError> {
    let count = new_tasks.len();
    let fail = |detail: String| EditError::Unverified {
        what: format!("{count} new task(s)"),
        detail,
    };
    let parsed = Checklist::parse(Path::new("checklist.yaml"), new_text)
        .map_err(|error| fail(format!("the new text does not parse: {error}")))?;
    let old_count = checklist.tasks.len();
    if parsed.tasks.len() != old_count + count {
        return Err(fail("the task list would not hold the new tasks".into()));
    }
    for (old, new) in checklist.tasks.iter().zip(&parsed.tasks) {
        if content(old) != content(new) {
            return Err(fail(format!("task `{}` would change", old.task_id)));
        }
    }
    for (task, actual) in new_tasks.zip(&parsed.tasks[old_count..]) {
        if expected(task) != content(actual) || !actual.unknown_keys.is_empty() {
            return Err(fail(format!(
                "task `{}` would not read back as written",
                task.task_id
            )));
        }
    }
    let top = |c: &Checklist| {
        let mut summary = c.summary.clone();
        summary.fields.clear();
        summary.value_pos = None;
        let unknown: Vec<String> = summary.unknown_keys.drain(..).map(|k| k.key).collect();
        (
            c.version,
            summary,
            unknown,
            c.instructions.clone(),
            c.guidelines.clone(),
            c.unknown_keys
                .iter()
                .map(|k| k.key.clone())
                .collect::<Vec<_>>(),
        )
    };
    if top(checklist) != top(&parsed) {
        return Err(fail("content outside the task list would change".into()));
    }
    // Values of keys the model ignores (`cost`, unknown keys) are not compared: the new
    // text only inserts between whole lines, so their bytes are untouched.
    Ok(parsed)
}

/// The verification of [`verify`] at about half the cost for many new tasks, or `None`
/// when it cannot vouch for the text (the caller then runs [`verify`]).
///
/// Two reads: the typed parser reads the whole file with only the first and the last new
/// item in place (old content unchanged, both items read back, the list goes on and ends
/// where it should); the event reader ([`readback`]) reads all the items on their own,
/// each must be the task intended, and its first and last must agree with the typed read
/// to the byte. Between two verified items at the same indentation, items that read back
/// on their own read back the same in place.
fn verify_fast(
    splice: &Splice<'_>,
    items: &str,
    bounds: &[usize],
    checklist: &Checklist,
    new_tasks: &[NewTask],
    threads: usize,
) -> Option<Checklist> {
    let count = new_tasks.len();
    let threads = threads.clamp(1, count);
    // For a few tasks the full read costs no more.
    if count < 3 || bounds.len() != count + 1 {
        return None;
    }
    let first = &items[..bounds[1]];
    let last = &items[bounds[count - 1]..];
    let middle = &items[bounds[1]..bounds[count - 1]];
    let mut skeleton =
        String::with_capacity(splice.head.len() + first.len() + last.len() + splice.tail.len());
    for part in [splice.head.as_str(), first, last, splice.tail] {
        skeleton.push_str(part);
    }
    let ends = [&new_tasks[0], &new_tasks[count - 1]];

    // The items are read in chunks of whole items, side by side on the machine's cores,
    // while the typed read of the skeleton runs beside them.
    let head_lines = newlines(&splice.head);
    let per_thread = count.div_ceil(threads);
    let mut chunks = Vec::with_capacity(threads);
    let mut line = head_lines;
    for first_index in (0..count).step_by(per_thread) {
        let tasks = first_index..(first_index + per_thread).min(count);
        let (start, end) = (bounds[tasks.start], bounds[tasks.end]);
        chunks.push(Chunk {
            tasks,
            start,
            end,
            line,
        });
        line += newlines(&items[start..end]);
    }
    let read_chunk = |chunk: Chunk| -> Option<Vec<Task>> {
        let mut read = readback::read_items(&items[chunk.start..chunk.end])?;
        if read.len() != chunk.tasks.len() {
            return None;
        }
        for (task, actual) in new_tasks[chunk.tasks].iter().zip(&mut read) {
            shift_task(actual, 0, splice.head.len() + chunk.start, chunk.line);
            let mut wanted = expected(task);
            wanted.pos = actual.pos;
            // Compared without the spans (the read's own, checked below for the ends).
            let fields = std::mem::take(&mut actual.fields);
            if wanted != *actual {
                return None;
            }
            actual.fields = fields;
        }
        Some(read)
    };
    let read_chunk = &read_chunk;
    let (mut parsed, mut read) = std::thread::scope(|scope| {
        let typed = scope.spawn(|| verify(&skeleton, checklist, ends.into_iter()).ok());
        let mut chunks = chunks.into_iter();
        let own = chunks.next()?;
        let others: Vec<_> = chunks
            .map(|chunk| scope.spawn(move || read_chunk(chunk)))
            .collect();
        let mut read = read_chunk(own);
        for other in others {
            let more = other.join().ok().flatten();
            match (&mut read, more) {
                (Some(read), Some(mut more)) => read.append(&mut more),
                _ => read = None,
            }
        }
        Some((typed.join().ok()??, read?))
    })?;
    // The skeleton's text from the last item on sits `middle` further on in the new text.
    let cut = (
        splice.head.len() + first.len(),
        head_lines + newlines(first) + 1,
    );
    shift_checklist(&mut parsed, cut, middle.len(), newlines(middle));
    let old = checklist.tasks.len();
    let ends_agree = matches!(parsed.tasks.get(old..)?, [first, last]
        if *first == read[0] && *last == read[count - 1]);
    if !ends_agree {
        return None;
    }
    parsed.tasks.truncate(old);
    parsed.tasks.append(&mut read);
    Some(parsed)
}

/// Items of the new tasks read by one thread.
struct Chunk {
    tasks: std::ops::Range<usize>,
    /// Byte range in the items.
    start: usize,
    end: usize,
    /// Lines of the new text before `start`.
    line: usize,
}

/// Reading items is split over at most this many threads, each with at least
/// [`ITEMS_PER_THREAD`] items (fewer are not worth a thread).
const MAX_READ_THREADS: usize = 4;
const ITEMS_PER_THREAD: usize = 250;

fn newlines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

/// Moves every position at or after byte `from` (and every unknown key at or after line
/// `from_line`, the one `from` is on) by `bytes` and `lines`.
fn shift_checklist(
    checklist: &mut Checklist,
    (from, from_line): (usize, usize),
    bytes: usize,
    lines: usize,
) {
    let shift = |pos: &mut Position| shift_position(pos, from, bytes, lines);
    let shift_key = |key: &mut UnknownKey| {
        if key.line >= from_line {
            key.line += lines;
        }
    };
    for pos in [
        &mut checklist.summary_key,
        &mut checklist.tasks_key,
        &mut checklist.summary.value_pos,
    ]
    .into_iter()
    .flatten()
    {
        shift(pos);
    }
    shift_fields(&mut checklist.summary.fields, from, bytes, lines);
    checklist.unknown_keys.iter_mut().for_each(shift_key);
    checklist
        .summary
        .unknown_keys
        .iter_mut()
        .for_each(shift_key);
    for task in &mut checklist.tasks {
        shift_task(task, from, bytes, lines);
        task.unknown_keys.iter_mut().for_each(shift_key);
    }
}

fn shift_task(task: &mut Task, from: usize, bytes: usize, lines: usize) {
    shift_position(&mut task.pos, from, bytes, lines);
    shift_fields(&mut task.fields, from, bytes, lines);
}

fn shift_fields(fields: &mut [FieldSpan], from: usize, bytes: usize, lines: usize) {
    for field in fields {
        shift_position(&mut field.key_pos, from, bytes, lines);
        shift_position(&mut field.value_pos, from, bytes, lines);
    }
}

fn shift_position(pos: &mut Position, from: usize, bytes: usize, lines: usize) {
    if pos.offset >= from {
        pos.offset += bytes;
        pos.line += lines;
    }
}

/// A task without its positions.
fn content(task: &Task) -> Task {
    let mut task = task.clone();
    task.pos = Default::default();
    task.fields.clear();
    for key in &mut task.unknown_keys {
        key.line = 0;
        key.column = 0;
    }
    task
}

/// What a new task must read back as.
fn expected(task: &NewTask) -> Task {
    Task {
        task_id: task.task_id.clone(),
        title: task.title.clone(),
        description: task.description.clone(),
        acceptance_criteria: task.acceptance_criteria.clone(),
        implementation_notes: task.implementation_notes.clone(),
        note: task.note.clone(),
        status: match task.status {
            Some(status) => StatusValue::Known(status),
            None => StatusValue::Missing,
        },
        depends_on: task.depends_on.clone(),
        validators: (!task.validators.is_empty()).then(|| task.validators.clone()),
        risk: task.risk,
        milestone: task.milestone.clone(),
        source: task.source.clone(),
        source_id: task.source_id.clone(),
        ..Task::default()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Checklist {
        Checklist::parse(Path::new("checklist.yaml"), text).unwrap()
    }

    fn new_task(id: &str) -> NewTask {
        NewTask {
            task_id: id.to_string(),
            title: format!("Task {id}: add it"),
            description: "Line one\nline two".to_string(),
            acceptance_criteria: vec!["returns 200 on `GET /`".to_string(), "y".to_string()],
            status: Some(TaskStatus::NotStarted),
            depends_on: vec!["T1".to_string()],
            validators: vec![Validator::Argv(vec![
                "cargo".into(),
                "test".into(),
                "--lib".into(),
                "a b".into(),
            ])],
            risk: Some(Risk::High),
            milestone: Some("M1: Auth".to_string()),
            source: Some("prd.md:12".to_string()),
            source_id: Some("prd:add-it".to_string()),
            ..NewTask::default()
        }
    }

    const COMMENTED: &str = "# Team checklist: comments survive.\nversion: 1\ntasks:\n    # first\n    -   task_id: T1   # the first\n        title: 'One'\n        validators:\n          - \"true\"\n\n    # trailing comment of T1\n    - {task_id: T2, title: Two,\n       validators: [x]}\n\n# after the tasks\nguidelines:\n  - keep it\n";

    #[test]
    fn appends_with_the_files_indentation_and_keeps_comments() {
        let checklist = parse(COMMENTED);
        let new = append_tasks(COMMENTED, &checklist, &[new_task("T3"), new_task("T4")]).unwrap();
        assert!(new.starts_with(&COMMENTED[..COMMENTED.find("\n\n# after").unwrap()]));
        assert!(
            new.ends_with("\n\n# after the tasks\nguidelines:\n  - keep it\n"),
            "{new}"
        );
        assert!(
            new.contains("\n    -   task_id: T3\n        title: 'Task T3: add it'")
                || new.contains("\n    -   task_id: T3\n        title: \"Task T3: add it\""),
            "{new}"
        );
        let reparsed = parse(&new);
        assert_eq!(reparsed.tasks.len(), 4);
        assert_eq!(reparsed.tasks[2].source.as_deref(), Some("prd.md:12"));
        assert_eq!(reparsed.tasks[3].source_id.as_deref(), Some("prd:add-it"));
        assert_eq!(reparsed.tasks[3].description, "Line one\nline two");
        assert_eq!(reparsed.tasks[2].risk, Some(Risk::High));
        assert!(reparsed.tasks[2].unknown_keys.is_empty());
    }

    #[test]
    fn creates_the_task_list_when_missing_or_empty() {
        for text in [
            "version: 1\n",
            "version: 1",
            "tasks: []  # none yet\nversion: 1\n",
            "tasks:\nversion: 1\n",
            "tasks: ~\n",
        ] {
            let checklist = parse(text);
            let new = append_tasks(text, &checklist, &[new_task("T1")]).unwrap();
            let reparsed = parse(&new);
            assert_eq!(reparsed.tasks.len(), 1, "{new}");
            assert_eq!(reparsed.tasks[0].task_id, "T1");
        }
    }

    #[test]
    fn the_playbook_fixture_keeps_every_byte() {
        let text = include_str!("../../../tests/fixtures/playbook-checklist.yaml");
        let checklist = parse(text);
        let new = append_tasks(text, &checklist, &[new_task("T900")]).unwrap();
        let reparsed = parse(&new);
        assert_eq!(reparsed.tasks.len(), checklist.tasks.len() + 1);
        // Only insertions: removing the new block gives the original back.
        let block_start = new.find("task_id: T900").unwrap();
        let line = new[..block_start].rfind('\n').unwrap();
        let block_end = line + 1 + new[line + 1..].find("source_id: \"prd:add-it\"").unwrap();
        let block_end = new[block_end..]
            .find('\n')
            .map_or(new.len(), |i| block_end + i);
        let mut without = new.clone();
        without.replace_range(line..block_end, "");
        assert_eq!(without, text);
    }

    #[test]
    fn awkward_text_reads_back() {
        let text = "tasks:\n- task_id: T1\n  validators: [x]\n";
        let checklist = parse(text);
        let mut task = new_task("T2");
        task.title = "no: colon # hash 'quote' \"dq\" - dash".to_string();
        task.acceptance_criteria = vec!["true".into(), "123".into(), "- item".into(), "".into()];
        task.validators
            .push(Validator::Shell("test -f x && echo 'ok'".into()));
        let new = append_tasks(text, &checklist, &[task.clone()]).unwrap();
        let reparsed = parse(&new);
        assert_eq!(reparsed.tasks[1].title, task.title);
        assert_eq!(
            reparsed.tasks[1].acceptance_criteria,
            task.acceptance_criteria
        );
        assert!(
            new.starts_with("tasks:\n- task_id: T1\n  validators: [x]\n- task_id: T2\n  title:"),
            "{new}"
        );
    }

    /// Tasks of every shape the appender writes, including text that needs quoting.
    fn varied_tasks() -> Vec<NewTask> {
        let mut plain = NewTask {
            task_id: "P1".into(),
            title: "Plain".into(),
            ..NewTask::default()
        };
        let mut tasks = vec![new_task("N1"), plain.clone()];
        let mut awkward = new_task("N2");
        awkward.title = "no: colon # hash 'quote' \"dq\" - dash ünï 🦀".into();
        awkward.description = "line one\n\n  line three\ttab".into();
        awkward.acceptance_criteria =
            vec!["true".into(), "0x1F".into(), "- item".into(), String::new()];
        awkward
            .validators
            .push(Validator::Shell("test -f x && echo 'ok'".into()));
        awkward.note = "null".into();
        awkward.depends_on = vec!["N1".into(), "a, b".into(), "[x]".into()];
        tasks.push(awkward);
        plain.task_id = "P2".into();
        plain.status = Some(TaskStatus::Complete);
        plain.implementation_notes = "use `x`".into();
        tasks.push(plain);
        tasks.push(new_task("N3"));
        tasks
    }

    #[test]
    fn the_fast_verification_agrees_with_the_full_parse_to_the_byte() {
        let texts = [
            COMMENTED,
            include_str!("../../../tests/fixtures/playbook-checklist.yaml"),
            crate::templates::CHECKLIST_YAML,
            "version: 1\n",
            "version: 1",
            "tasks: []  # none yet\nversion: 1\n",
            "tasks:\nversion: 1\n",
            "tasks: ~\n",
            "tasks:\n- task_id: T1\n  odd: 1\n  validators: [x]\nzzz: 1\nsummary:\n  status: x\n  extra: [1]\n",
            "tasks:\n  - task_id: T1\n    description: |\n      kept\n\n# end\nguidelines: [a]\n",
        ];
        for text in texts {
            let checklist = parse(text);
            // One reader, and items split over three.
            let many: Vec<NewTask> = (0..4).flat_map(|_| varied_tasks()).collect();
            for (tasks, threads) in [(varied_tasks(), 1), (many, 3)] {
                let (new_text, fast) = assemble(text, &checklist, &tasks, threads).unwrap();
                let fast = fast.unwrap_or_else(|| panic!("the fast path declined:\n{new_text}"));
                let full = parse(&new_text);
                assert_eq!(fast, full, "{new_text}");
            }
            // The slow path gives the same.
            let (_, slow) = append_tasks_parsed(text, &checklist, &varied_tasks()[..2]).unwrap();
            assert_eq!(slow.tasks.len(), checklist.tasks.len() + 2);
        }
    }

    #[test]
    fn the_fast_verification_declines_what_it_cannot_vouch_for() {
        // A block scalar kept with its trailing blank lines (`|+`) would lose them to the
        // new items: the typed read of the skeleton sees the old task change.
        let text = "tasks:\n  - task_id: T1\n    description: |+\n      kept\n\n";
        let checklist = parse(text);
        let (_, fast) = assemble(text, &checklist, &varied_tasks(), 2).unwrap();
        assert!(fast.is_none());
        assert!(matches!(
            append_tasks_parsed(text, &checklist, &varied_tasks()),
            Err(EditError::Unverified { .. })
        ));
    }

    #[test]
    fn a_flow_task_list_is_refused() {
        let text = "tasks: [{task_id: T1}]\n";
        let checklist = parse(text);
        assert!(matches!(
            append_tasks(text, &checklist, &[new_task("T2")]),
            Err(EditError::Unverified { .. })
        ));
    }
}
