//! Importers: tasks from other tools' files, as [`NewTask`]s ready for the merge in
//! `plan::merge`. Each keeps the source's id in `source_id` (so importing again updates
//! instead of duplicating), maps statuses faithfully, and lists what it could not map.
//!
//! Reads files; never writes, prints or reads the environment.

mod backlog;
mod feature_list;
mod ralph;
mod taskmaster;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fsutil::{self, FsError, MAX_STATE_FILE_BYTES};
use crate::state::checklist::NewTask;

pub use backlog::parse_backlog_file;
pub use feature_list::parse_feature_list;
pub use ralph::parse_ralph;
pub use taskmaster::parse_taskmaster;

/// The formats `longrun import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Taskmaster,
    Ralph,
    FeatureList,
    Backlog,
}

impl Format {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Taskmaster => "taskmaster",
            Format::Ralph => "ralph",
            Format::FeatureList => "feature-list",
            Format::Backlog => "backlog",
        }
    }

    /// What the file is called by its tool.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Taskmaster => "a Taskmaster tasks.json",
            Format::Ralph => "a ralph prd.json",
            Format::FeatureList => "a feature_list.json",
            Format::Backlog => "a Backlog.md task folder",
        }
    }

    /// The prefix of every `source_id` this format writes.
    pub fn namespace(self) -> &'static str {
        match self {
            Format::Taskmaster => "taskmaster#",
            Format::Ralph => "ralph#",
            Format::FeatureList => "feature-list#",
            Format::Backlog => "backlog#",
        }
    }
}

/// What an importer produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Tasks in source order; ids unique, `depends_on` in the same ids.
    pub tasks: Vec<NewTask>,
    /// What could not be mapped (or was mapped approximately), one line each.
    pub unmapped: Vec<String>,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("`{path}` is not valid JSON: {message}", path = path.display())]
    NotJson { path: PathBuf, message: String },
    #[error("`{path}` is not {expected}{}", match looks_like {
        Some(format) => format!("; it looks like {} (try `longrun import {} {}`)", format.describe(), format.name(), path.display()),
        None => String::new(),
    }, path = path.display(), expected = expected.describe())]
    WrongFormat {
        path: PathBuf,
        expected: Format,
        looks_like: Option<Format>,
    },
    #[error("`{path}`: {message}", path = path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Reads `path` as `format`. `source_name` is how the path is shown in `source` fields.
pub fn import(format: Format, path: &Path, source_name: &str) -> Result<Imported, ImportError> {
    if format == Format::Backlog {
        return backlog::import_backlog(path, source_name);
    }
    if path.is_dir() {
        return Err(ImportError::WrongFormat {
            path: path.to_path_buf(),
            expected: format,
            looks_like: backlog::looks_like_backlog(path).then_some(Format::Backlog),
        });
    }
    let text = fsutil::read_text(path, MAX_STATE_FILE_BYTES)?;
    let value: Value = serde_json::from_str(&text).map_err(|error| {
        if format != Format::Backlog && text.trim_start().starts_with("---") {
            return ImportError::WrongFormat {
                path: path.to_path_buf(),
                expected: format,
                looks_like: Some(Format::Backlog),
            };
        }
        ImportError::NotJson {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    })?;
    let detected = detect(&value);
    if detected != Some(format) {
        return Err(ImportError::WrongFormat {
            path: path.to_path_buf(),
            expected: format,
            looks_like: detected,
        });
    }
    let invalid = |message: String| ImportError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    match format {
        Format::Taskmaster => parse_taskmaster(&value, source_name).map_err(invalid),
        Format::Ralph => parse_ralph(&value, source_name).map_err(invalid),
        Format::FeatureList => parse_feature_list(&value, source_name).map_err(invalid),
        Format::Backlog => Err(invalid("not a folder".to_string())),
    }
}

/// Which JSON format a value looks like.
pub fn detect(value: &Value) -> Option<Format> {
    match value {
        Value::Object(map) if map.contains_key("userStories") => Some(Format::Ralph),
        Value::Object(map) if map.get("tasks").is_some_and(Value::is_array) => {
            Some(Format::Taskmaster)
        }
        Value::Object(map)
            if !map.is_empty()
                && map
                    .values()
                    .any(|tag| tag.get("tasks").is_some_and(Value::is_array)) =>
        {
            Some(Format::Taskmaster)
        }
        Value::Array(items)
            if items.first().is_some_and(|item| {
                item.get("steps").is_some()
                    || (item.get("passes").is_some() && item.get("description").is_some())
            }) =>
        {
            Some(Format::FeatureList)
        }
        _ => None,
    }
}

/// Makes task ids unique (a later duplicate becomes `<id>-2`, its `source_id` `...~2`),
/// reporting each. Dependencies keep pointing at the first task with the id.
fn make_ids_unique(imported: &mut Imported, tool: &str) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for task in &mut imported.tasks {
        let count = {
            let entry = seen.entry(task.task_id.clone()).or_insert(0);
            *entry += 1;
            *entry
        };
        if count > 1 {
            let mut new_id = format!("{}-{count}", task.task_id);
            while seen.contains_key(&new_id) {
                new_id.push('x');
            }
            imported.unmapped.push(format!(
                "duplicate id `{}` in the {tool} file: the later task \"{}\" was imported as `{new_id}`",
                task.task_id, task.title
            ));
            if let Some(source_id) = &mut task.source_id {
                source_id.push_str(&format!("~{count}"));
            }
            task.task_id = new_id.clone();
            seen.insert(new_id, 1);
        }
    }
}

/// A task id from any text: characters outside `[A-Za-z0-9._-]` become `-`, at most 64.
fn sanitize_id(text: &str, prefix_if_needed: &str) -> String {
    let mut id: String = text
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        id = format!("{prefix_if_needed}{id}");
    }
    id.truncate(64);
    id
}

/// A JSON id (number or string) as text.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn string_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Lines of free text as a list: bullets and numbers stripped, empty lines dropped.
fn lines_as_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let line = line.trim();
            let line = line
                .strip_prefix("- ")
                .or_else(|| line.strip_prefix("* "))
                .unwrap_or(line);
            let digits = line.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && line[digits..].starts_with(". ") {
                line[digits + 2..].trim().to_string()
            } else {
                line.to_string()
            }
        })
        .filter(|line| !line.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart() {
        let ralph: Value = serde_json::json!({"project": "x", "userStories": []});
        let tagged: Value = serde_json::json!({"master": {"tasks": []}});
        let untagged: Value = serde_json::json!({"tasks": []});
        let features: Value = serde_json::json!([{"category": "a", "description": "b", "steps": [], "passes": false}]);
        assert_eq!(detect(&ralph), Some(Format::Ralph));
        assert_eq!(detect(&tagged), Some(Format::Taskmaster));
        assert_eq!(detect(&untagged), Some(Format::Taskmaster));
        assert_eq!(detect(&features), Some(Format::FeatureList));
        assert_eq!(detect(&serde_json::json!({"a": 1})), None);
    }

    #[test]
    fn duplicate_ids_are_made_unique_and_reported() {
        let mut imported = Imported {
            tasks: vec![
                NewTask {
                    task_id: "A".into(),
                    source_id: Some("x#A".into()),
                    ..NewTask::default()
                },
                NewTask {
                    task_id: "A".into(),
                    source_id: Some("x#A".into()),
                    ..NewTask::default()
                },
            ],
            unmapped: Vec::new(),
        };
        make_ids_unique(&mut imported, "test");
        assert_eq!(imported.tasks[1].task_id, "A-2");
        assert_eq!(imported.tasks[1].source_id.as_deref(), Some("x#A~2"));
        assert_eq!(imported.unmapped.len(), 1);
    }

    #[test]
    fn ids_are_sanitized() {
        assert_eq!(sanitize_id("US 001/a", "X"), "US-001-a");
        assert_eq!(sanitize_id("_x", "X"), "X_x");
    }
}
