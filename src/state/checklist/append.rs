//! Appends new tasks at the end of the `tasks:` list, in block style, with the indentation
//! the file already uses, and leaves every existing byte where it was.
//!
//! Like the in-place editor, the result is verified before it is returned: the new text is
//! re-parsed, every old task and every top-level key must read back unchanged, and the new
//! tasks must read back exactly as intended. Nothing here touches the disk.

use std::fmt::Write as _;

use std::path::Path;

use super::edit::{EditError, Style, flow_end, line_end, line_start, render_scalar};
use super::{Checklist, StatusValue, Task, Validator};
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
/// parses it anyway; callers that validate the result need not parse it again).
/// `new_tasks` must not be empty.
pub fn append_tasks_parsed(
    text: &str,
    checklist: &Checklist,
    new_tasks: &[NewTask],
) -> Result<(String, Checklist), EditError> {
    let unverified = |detail: &str| EditError::Unverified {
        what: format!("{} new task(s)", new_tasks.len()),
        detail: detail.to_string(),
    };
    let (insert_at, dash_indent, key_indent, prefix) =
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
                (end, dash, key_indent, "\n".to_string())
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
                let items = render_items(new_tasks, indent, indent + 2);
                let block = format!("\n{}", items.trim_end_matches('\n'));
                if value.is_empty() {
                    return splice_and_verify(
                        text,
                        checklist,
                        new_tasks,
                        (key_line_end, key_line_end),
                        &block,
                    );
                }
                // `tasks: []  # none yet` becomes `tasks:  # none yet` followed by the items.
                let at = after_colon + rest.find(value).unwrap_or(0);
                let mut new_text = String::with_capacity(text.len() + block.len());
                new_text.push_str(&text[..after_colon]);
                new_text.push_str(&text[at + value.len()..key_line_end]);
                new_text.push_str(&block);
                new_text.push_str(&text[key_line_end..]);
                let parsed = verify(&new_text, checklist, new_tasks)?;
                return Ok((new_text, parsed));
            }
            (None, None) => {
                let mut block = String::new();
                if !text.is_empty() && !text.ends_with('\n') {
                    block.push('\n');
                }
                block.push_str("\ntasks:\n");
                block.push_str(&render_items(new_tasks, 2, 4));
                let new_text = format!("{text}{block}");
                let parsed = verify(&new_text, checklist, new_tasks)?;
                return Ok((new_text, parsed));
            }
        };
    let rendered = render_items(new_tasks, dash_indent, key_indent);
    let block = format!("{prefix}{}", rendered.trim_end_matches('\n'));
    splice_and_verify(text, checklist, new_tasks, (insert_at, insert_at), &block)
}

fn splice_and_verify(
    text: &str,
    checklist: &Checklist,
    new_tasks: &[NewTask],
    (start, end): (usize, usize),
    block: &str,
) -> Result<(String, Checklist), EditError> {
    let mut new_text = String::with_capacity(text.len() + block.len());
    new_text.push_str(&text[..start]);
    new_text.push_str(block);
    new_text.push_str(&text[end..]);
    let parsed = verify(&new_text, checklist, new_tasks)?;
    Ok((new_text, parsed))
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

/// Renders tasks as block sequence items, each ending with a newline.
fn render_items(tasks: &[NewTask], dash_indent: usize, key_indent: usize) -> String {
    let mut out = String::new();
    let dash = " ".repeat(dash_indent);
    let key = " ".repeat(key_indent);
    let item = " ".repeat(key_indent + 2);
    let first_pad = " ".repeat(key_indent.saturating_sub(dash_indent + 1).max(1));
    let scalar = |text: &str| render_scalar(text, Style::Plain, false);
    for task in tasks {
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
    out
}

/// Old content unchanged, new tasks as intended, checked on the typed model of the new
/// text (one parse, which the caller can reuse). Positions are not compared: they move.
fn verify(
    new_text: &str,
    checklist: &Checklist,
    new_tasks: &[NewTask],
) -> Result<Checklist, EditError> {
    let fail = |detail: String| EditError::Unverified {
        what: format!("{} new task(s)", new_tasks.len()),
        detail,
    };
    let parsed = Checklist::parse(Path::new("checklist.yaml"), new_text)
        .map_err(|error| fail(format!("the new text does not parse: {error}")))?;
    let old_count = checklist.tasks.len();
    if parsed.tasks.len() != old_count + new_tasks.len() {
        return Err(fail("the task list would not hold the new tasks".into()));
    }
    for (old, new) in checklist.tasks.iter().zip(&parsed.tasks) {
        if content(old) != content(new) {
            return Err(fail(format!("task `{}` would change", old.task_id)));
        }
    }
    for (task, actual) in new_tasks.iter().zip(&parsed.tasks[old_count..]) {
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
