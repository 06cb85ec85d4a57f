//! Merges tasks from a source (a PRD, a Taskmaster file, ...) into an existing checklist
//! without ever losing what is there: tasks already planned from the same source (matched
//! by `source_id`) keep their ids and statuses, new ones are appended with fresh ids, and
//! tasks whose source disappeared are reported, never deleted.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::state::checklist::{
    Checklist, EditError, FieldValue, NewTask, TaskEdit, TaskField, append_tasks_parsed,
    render_edits,
};

/// How new tasks get their ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStyle {
    /// `T<n>` after the highest such id in the checklist, with its zero padding (`T004`).
    Sequential,
    /// The id the source gives, made unique with a `-2`, `-3`... suffix when taken.
    Preferred,
}

/// What the merge may do.
#[derive(Debug, Clone, Copy)]
pub struct MergeOptions<'a> {
    pub id_style: IdStyle,
    /// Tasks already in the checklist take the source's status (importers: the source
    /// tool is where the work was tracked). `plan` keeps the checklist's statuses.
    pub update_status: bool,
    /// Only tasks whose `source_id` starts with this belong to the source; the others are
    /// never reported as gone.
    pub namespace: &'a str,
}

/// The outcome of a merge, ready to render and report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeReport {
    /// Tasks to append, with final ids and dependencies.
    #[serde(skip)]
    pub new_tasks: Vec<NewTask>,
    #[serde(skip)]
    pub edits: Vec<TaskEdit>,
    pub added: Vec<TaskLine>,
    /// Matched by `source_id`: id and status kept.
    pub kept: Vec<TaskLine>,
    /// Matched, and their status taken from the source.
    pub status_updated: Vec<TaskLine>,
    /// In the checklist from this source, but no longer in it: kept, reported.
    pub source_gone: Vec<TaskLine>,
    /// New tasks whose preferred id was taken and that got another one.
    pub renamed: Vec<Renamed>,
}

/// A task in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskLine {
    pub task_id: String,
    pub title: String,
    pub source: Option<String>,
}

/// An id that had to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    pub wanted: String,
    pub given: String,
}

/// Merges `incoming` (ids unique among themselves; `depends_on` uses those ids) into
/// `existing`.
pub fn merge(existing: &Checklist, incoming: &[NewTask], options: MergeOptions<'_>) -> MergeReport {
    let mut report = MergeReport::default();
    let by_source: HashMap<&str, usize> = existing
        .tasks
        .iter()
        .enumerate()
        .rev()
        .filter_map(|(i, task)| task.source_id.as_deref().map(|s| (s, i)))
        .collect();
    let mut taken: HashSet<String> = existing.tasks.iter().map(|t| t.task_id.clone()).collect();
    let mut next_number = next_sequential(existing);
    let mut final_ids: HashMap<String, String> = HashMap::new();
    let mut matched: HashSet<usize> = HashSet::new();
    let mut fresh: Vec<NewTask> = Vec::new();

    for task in incoming {
        let found = task
            .source_id
            .as_deref()
            .and_then(|source_id| by_source.get(source_id).copied())
            .filter(|index| !matched.contains(index));
        if let Some(index) = found {
            matched.insert(index);
            let old = &existing.tasks[index];
            final_ids.insert(task.task_id.clone(), old.task_id.clone());
            let line = TaskLine {
                task_id: old.task_id.clone(),
                title: old.title.clone(),
                source: task.source.clone(),
            };
            match task.status {
                Some(status) if options.update_status && old.status.effective() != Some(status) => {
                    report.edits.push(TaskEdit::Task {
                        task_id: old.task_id.clone(),
                        field: TaskField::Status,
                        value: FieldValue::Text(status.as_str().to_string()),
                    });
                    report.status_updated.push(line);
                }
                _ => report.kept.push(line),
            }
            continue;
        }
        let id = match options.id_style {
            IdStyle::Sequential => loop {
                let (width, number) = next_number;
                next_number.1 += 1;
                let id = format!("T{number:0width$}");
                if !taken.contains(&id) {
                    break id;
                }
            },
            IdStyle::Preferred => {
                let mut id = task.task_id.clone();
                let mut suffix = 2;
                while taken.contains(&id) {
                    id = format!("{}-{suffix}", task.task_id);
                    suffix += 1;
                }
                if id != task.task_id {
                    report.renamed.push(Renamed {
                        wanted: task.task_id.clone(),
                        given: id.clone(),
                    });
                }
                id
            }
        };
        taken.insert(id.clone());
        final_ids.insert(task.task_id.clone(), id.clone());
        let mut task = task.clone();
        task.task_id = id;
        fresh.push(task);
    }
    for task in &mut fresh {
        for dependency in &mut task.depends_on {
            if let Some(id) = final_ids.get(dependency.as_str()) {
                *dependency = id.clone();
            }
        }
        report.added.push(TaskLine {
            task_id: task.task_id.clone(),
            title: task.title.clone(),
            source: task.source.clone(),
        });
    }
    report.new_tasks = fresh;
    for (index, task) in existing.tasks.iter().enumerate() {
        if !matched.contains(&index)
            && task
                .source_id
                .as_deref()
                .is_some_and(|s| s.starts_with(options.namespace))
        {
            report.source_gone.push(TaskLine {
                task_id: task.task_id.clone(),
                title: task.title.clone(),
                source: task.source.clone(),
            });
        }
    }
    report
}

/// The checklist text after the merge: status edits in place, then the new tasks appended.
/// `checklist` must be parsed from `text`.
pub fn render_merge(
    text: &str,
    checklist: &Checklist,
    report: &MergeReport,
) -> Result<String, EditError> {
    render_merge_parsed(text, checklist, report).map(|(text, _)| text)
}

/// [`render_merge`], with the parsed result when appending produced one.
pub fn render_merge_parsed(
    text: &str,
    checklist: &Checklist,
    report: &MergeReport,
) -> Result<(String, Option<Checklist>), EditError> {
    let edited = render_edits(text, checklist, &report.edits)?;
    if report.new_tasks.is_empty() {
        return Ok((edited, None));
    }
    if report.edits.is_empty() {
        return append_tasks_parsed(&edited, checklist, &report.new_tasks)
            .map(|(text, parsed)| (text, Some(parsed)));
    }
    let reparsed =
        Checklist::parse(std::path::Path::new("checklist.yaml"), &edited).map_err(|error| {
            EditError::Unverified {
                what: "status updates".to_string(),
                detail: error.to_string(),
            }
        })?;
    append_tasks_parsed(&edited, &reparsed, &report.new_tasks)
        .map(|(text, parsed)| (text, Some(parsed)))
}

/// The zero-padding width and the next number for `T<n>` ids.
fn next_sequential(checklist: &Checklist) -> (usize, u64) {
    let mut width = 1;
    let mut highest = 0u64;
    for task in &checklist.tasks {
        if let Some(digits) = task.task_id.strip_prefix('T')
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(number) = digits.parse::<u64>()
        {
            if digits.starts_with('0') {
                width = width.max(digits.len());
            }
            highest = highest.max(number);
        }
    }
    (width, highest + 1)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::state::model::TaskStatus;

    fn task(id: &str, source_id: &str, deps: &[&str]) -> NewTask {
        NewTask {
            task_id: id.to_string(),
            title: format!("title {id}"),
            status: Some(TaskStatus::NotStarted),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            source_id: Some(source_id.to_string()),
            ..NewTask::default()
        }
    }

    const EXISTING: &str = "tasks:\n  - task_id: T001\n    title: old\n    status: complete\n    source_id: prd.md#a\n  - task_id: T002\n    title: gone\n    source_id: prd.md#gone\n  - task_id: X\n    title: hand-written\n";

    #[test]
    fn kept_ids_new_ids_and_gone_sources() {
        let checklist = Checklist::parse(Path::new("c.yaml"), EXISTING).unwrap();
        let incoming = [
            task("T1", "prd.md#a", &[]),
            task("T2", "prd.md#b", &["T1", "T9"]),
        ];
        let options = MergeOptions {
            id_style: IdStyle::Sequential,
            update_status: false,
            namespace: "prd.md#",
        };
        let report = merge(&checklist, &incoming, options);
        assert_eq!(report.kept[0].task_id, "T001");
        assert_eq!(report.new_tasks[0].task_id, "T003");
        assert_eq!(report.new_tasks[0].depends_on, ["T001", "T9"]);
        assert_eq!(report.source_gone[0].task_id, "T002");
        assert!(report.edits.is_empty());
        let text = render_merge(EXISTING, &checklist, &report).unwrap();
        assert!(text.starts_with(EXISTING.trim_end()), "{text}");
        let again = Checklist::parse(Path::new("c.yaml"), &text).unwrap();
        let second = merge(&again, &incoming, options);
        assert!(second.new_tasks.is_empty());
        assert_eq!(second.kept.len(), 2);
    }

    #[test]
    fn importers_update_statuses_and_rename_taken_ids() {
        let checklist = Checklist::parse(Path::new("c.yaml"), EXISTING).unwrap();
        let mut done = task("1", "prd.md#a", &[]);
        done.status = Some(TaskStatus::InProgress);
        let incoming = [done, task("X", "tm#x", &["1"])];
        let report = merge(
            &checklist,
            &incoming,
            MergeOptions {
                id_style: IdStyle::Preferred,
                update_status: true,
                namespace: "tm#",
            },
        );
        assert_eq!(report.status_updated[0].task_id, "T001");
        assert_eq!(report.new_tasks[0].task_id, "X-2");
        assert_eq!(report.new_tasks[0].depends_on, ["T001"]);
        let text = render_merge(EXISTING, &checklist, &report).unwrap();
        let again = Checklist::parse(Path::new("c.yaml"), &text).unwrap();
        assert_eq!(
            again.tasks[0].status.effective(),
            Some(TaskStatus::InProgress)
        );
        assert_eq!(again.tasks[3].task_id, "X-2");
    }
}
