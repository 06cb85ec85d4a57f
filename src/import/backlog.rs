//! Backlog.md: a `backlog/tasks/` folder of `task-<n> - <title>.md` files, each with YAML
//! front matter (id, title, status, assignee, labels, dependencies) and Markdown sections
//! `## Description` and `## Acceptance Criteria` (`- [ ] #1 text`).
//!
//! Statuses "To Do", "In Progress" and "Done" map to `not_started`, `in_progress` and
//! `complete`; a custom status is reported and imported as `not_started`. Ids are kept
//! (`TASK-1`); the `source_id` uses the lowercase id so `task-1` and `TASK-1` match.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ImportError, Imported, id_text, make_ids_unique, sanitize_id};
use crate::fsutil::{self, MAX_STATE_FILE_BYTES};
use crate::state::checklist::NewTask;
use crate::state::model::TaskStatus;

/// True when `path` is a backlog folder or a task folder.
pub(super) fn looks_like_backlog(path: &Path) -> bool {
    task_folder(path).is_some()
}

fn task_folder(path: &Path) -> Option<PathBuf> {
    if path.join("tasks").is_dir() {
        return Some(path.join("tasks"));
    }
    let entries = std::fs::read_dir(path).ok()?;
    let has_tasks = entries.filter_map(Result::ok).any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy().to_lowercase();
        name.starts_with("task-") && name.ends_with(".md")
    });
    has_tasks.then(|| path.to_path_buf())
}

/// Reads a folder (`backlog/` or `backlog/tasks/`) or a single task file.
pub(super) fn import_backlog(path: &Path, source_name: &str) -> Result<Imported, ImportError> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let Some(folder) = task_folder(path) else {
            return Err(ImportError::Invalid {
                path: path.to_path_buf(),
                message: "no `task-*.md` files and no `tasks/` folder".to_string(),
            });
        };
        let entries = std::fs::read_dir(&folder).map_err(|source| fsutil::FsError::Read {
            path: folder.clone(),
            source,
        })?;
        let mut files: Vec<(u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .map(|p| (file_number(&p), p))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    } else {
        vec![path.to_path_buf()]
    };
    let mut imported = Imported::default();
    let base = source_name.trim_end_matches('/');
    for file in files {
        let text = fsutil::read_text(&file, MAX_STATE_FILE_BYTES)?;
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shown = if path.is_dir() {
            let relative = file.strip_prefix(path).unwrap_or(&file);
            format!("{base}/{}", relative.display())
        } else {
            base.to_string()
        };
        match parse_backlog_file(&text, &shown) {
            Ok(Some(task)) => imported.tasks.push(task),
            Ok(None) => imported
                .unmapped
                .push(format!("`{file_name}` has no front matter and was skipped")),
            Err(message) => {
                if !path.is_dir() && text.trim_start().starts_with(['{', '[']) {
                    let value: Option<Value> = serde_json::from_str(&text).ok();
                    return Err(ImportError::WrongFormat {
                        path: path.to_path_buf(),
                        expected: super::Format::Backlog,
                        looks_like: value.as_ref().and_then(super::detect),
                    });
                }
                imported
                    .unmapped
                    .push(format!("`{file_name}` was skipped: {message}"))
            }
        }
    }
    let mut extra = Vec::new();
    for task in &imported.tasks {
        if task.note.starts_with("unmapped:") {
            extra.push(format!(
                "task {}: {}",
                task.task_id,
                &task.note["unmapped:".len()..]
            ));
        }
    }
    for task in &mut imported.tasks {
        if task.note.starts_with("unmapped:") {
            task.note.clear();
        }
    }
    imported.unmapped.extend(extra);
    if imported.tasks.is_empty() && !path.is_dir() {
        let value: Option<Value> = serde_json::from_str(
            &fsutil::read_text(path, MAX_STATE_FILE_BYTES).unwrap_or_default(),
        )
        .ok();
        return Err(ImportError::WrongFormat {
            path: path.to_path_buf(),
            expected: super::Format::Backlog,
            looks_like: value.as_ref().and_then(super::detect),
        });
    }
    make_ids_unique(&mut imported, "Backlog.md");
    Ok(imported)
}

/// The number in `task-12 - Title.md`, for numeric order.
fn file_number(path: &Path) -> u64 {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    name.strip_prefix("task-")
        .map(|rest| {
            rest.bytes()
                .take_while(u8::is_ascii_digit)
                .fold(0u64, |n, b| {
                    n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
                })
        })
        .unwrap_or(u64::MAX)
}

/// One task file; `Ok(None)` when it has no front matter. Things that could not be mapped
/// are put in the note as `unmapped: ...` for the caller to report.
pub fn parse_backlog_file(text: &str, source_name: &str) -> Result<Option<NewTask>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Ok(None);
    };
    let end = rest
        .find("\n---")
        .ok_or("the front matter is not closed by `---`")?;
    let front = &rest[..end + 1];
    let body = rest[end + 4..].trim_start_matches(['-']);
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let value: Value = serde_saphyr::from_str_with_options(front, options)
        .map_err(|error| format!("front matter: {}", error.without_snippet()))?;
    let raw_id = value
        .get("id")
        .and_then(id_text)
        .ok_or("the front matter has no `id`")?;
    let title = value
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or(&raw_id)
        .trim()
        .to_string();
    let mut unmapped = Vec::new();
    let status = match value.get("status").and_then(Value::as_str).map(str::trim) {
        None | Some("To Do") => TaskStatus::NotStarted,
        Some("In Progress") => TaskStatus::InProgress,
        Some("Done") => TaskStatus::Complete,
        Some(other) => {
            unmapped.push(format!(
                "status \"{other}\" is not a Backlog.md default; imported as `not_started`"
            ));
            TaskStatus::NotStarted
        }
    };
    for key in ["assignee", "labels"] {
        let present = match value.get(key) {
            Some(Value::Array(items)) => !items.is_empty(),
            Some(Value::String(s)) => !s.is_empty(),
            _ => false,
        };
        if present {
            unmapped.push(format!("`{key}` is not mapped"));
        }
    }
    let depends_on = match value.get("dependencies") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(id_text)
            .map(|d| sanitize_id(&d, "task-"))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![sanitize_id(s, "task-")],
        _ => Vec::new(),
    };
    let sections = sections(body);
    let section = |names: &[&str]| -> String {
        sections
            .iter()
            .find(|(name, _)| names.iter().any(|n| name.eq_ignore_ascii_case(n)))
            .map(|(_, text)| text.clone())
            .unwrap_or_default()
    };
    let criteria = section(&["Acceptance Criteria"])
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("- [ ]")
                .or_else(|| line.strip_prefix("- [x]"))
                .or_else(|| line.strip_prefix("- [X]"))
                .or_else(|| line.strip_prefix("- "))?
                .trim();
            // `#1 text`: the number is Backlog.md's own index.
            let rest = match rest.strip_prefix('#') {
                Some(numbered) => numbered
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .trim(),
                None => rest,
            };
            (!rest.is_empty()).then(|| rest.to_string())
        })
        .collect();
    let mut notes = section(&["Implementation Plan"]);
    let impl_notes = section(&["Implementation Notes"]);
    if !impl_notes.is_empty() {
        if !notes.is_empty() {
            notes.push_str("\n\n");
        }
        notes.push_str(&impl_notes);
    }
    Ok(Some(NewTask {
        task_id: sanitize_id(&raw_id, "task-"),
        title,
        description: section(&["Description"]),
        acceptance_criteria: criteria,
        implementation_notes: notes,
        note: if unmapped.is_empty() {
            String::new()
        } else {
            format!("unmapped:{}", unmapped.join("; "))
        },
        status: Some(status),
        depends_on,
        source: Some(source_name.to_string()),
        source_id: Some(format!("backlog#{}", raw_id.to_lowercase())),
        ..NewTask::default()
    }))
}

/// `## Name` sections with their text, HTML comment lines (`<!-- AC:BEGIN -->`) removed.
fn sections(body: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            sections.push((name.trim().to_string(), String::new()));
        } else if let Some((_, text)) = sections.last_mut() {
            let trimmed = line.trim();
            if trimmed.starts_with("<!--") && trimmed.ends_with("-->") {
                continue;
            }
            text.push_str(line);
            text.push('\n');
        }
    }
    for (_, text) in &mut sections {
        *text = text.trim().to_string();
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_file_maps_front_matter_and_sections() {
        let text = "---\nid: task-7\ntitle: 'Release: binaries'\nstatus: In Progress\nassignee: ['@ana']\nlabels: []\ndependencies: [task-2]\n---\n\n## Description\n\n<!-- SECTION:DESCRIPTION:BEGIN -->\nPublish on tag\n<!-- SECTION:DESCRIPTION:END -->\n\n## Acceptance Criteria\n<!-- AC:BEGIN -->\n- [ ] #1 Tag builds binaries\n- [x] #2 Checksums published\n<!-- AC:END -->\n";
        let task = parse_backlog_file(text, "backlog/tasks/task-7.md")
            .unwrap()
            .unwrap();
        assert_eq!(task.task_id, "task-7");
        assert_eq!(task.title, "Release: binaries");
        assert_eq!(task.status, Some(TaskStatus::InProgress));
        assert_eq!(task.description, "Publish on tag");
        assert_eq!(
            task.acceptance_criteria,
            ["Tag builds binaries", "Checksums published"]
        );
        assert_eq!(task.depends_on, ["task-2"]);
        assert!(task.note.contains("`assignee` is not mapped"));
    }
}
