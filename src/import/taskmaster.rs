//! Taskmaster's `.taskmaster/tasks/tasks.json`, tagged (`{"master": {"tasks": [...]}}`) or
//! untagged (`{"tasks": [...]}`).
//!
//! Subtasks become tasks of their own, `T<parent>.<sub>`, listed right after their parent:
//! Taskmaster tracks a status per subtask, and folding them into acceptance criteria would
//! lose it. A subtask's dependencies are mapped as Taskmaster states them (a number is a
//! sibling subtask, `"2.1"` names another task's subtask); the parent gets no extra ones.

use serde_json::Value;

use super::{Imported, id_text, lines_as_list, make_ids_unique, string_field};
use crate::state::checklist::NewTask;
use crate::state::model::TaskStatus;

/// Maps a parsed tasks.json.
pub fn parse_taskmaster(value: &Value, source_name: &str) -> Result<Imported, String> {
    let mut imported = Imported::default();
    let tasks = match value.get("tasks").and_then(Value::as_array) {
        Some(tasks) => tasks,
        None => {
            let map = value.as_object().ok_or("expected an object")?;
            let tag = if map.contains_key("master") {
                "master"
            } else {
                map.iter()
                    .find(|(_, v)| v.get("tasks").is_some_and(Value::is_array))
                    .map(|(k, _)| k.as_str())
                    .ok_or("no `tasks` list in any tag")?
            };
            let others: Vec<&str> = map
                .iter()
                .filter(|(k, v)| *k != tag && v.get("tasks").is_some_and(Value::is_array))
                .map(|(k, _)| k.as_str())
                .collect();
            if !others.is_empty() {
                imported.unmapped.push(format!(
                    "only the `{tag}` tag was imported; tags {} were left out",
                    others
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            map.get(tag)
                .and_then(|t| t.get("tasks"))
                .and_then(Value::as_array)
                .ok_or("no `tasks` list")?
        }
    };
    let mut priorities = 0usize;
    for (index, task) in tasks.iter().enumerate() {
        let Some(id) = task.get("id").and_then(id_text) else {
            imported
                .unmapped
                .push(format!("task #{} has no `id` and was skipped", index + 1));
            continue;
        };
        if task.get("priority").and_then(Value::as_str).is_some() {
            priorities += 1;
        }
        let task_id = format!("T{id}");
        let depends_on = dependencies(task, None);
        imported.tasks.push(map_task(
            task,
            &task_id,
            &id,
            depends_on,
            source_name,
            &mut imported.unmapped,
        ));
        if let Some(subtasks) = task.get("subtasks").and_then(Value::as_array) {
            for subtask in subtasks {
                let Some(sub_id) = subtask.get("id").and_then(id_text) else {
                    imported.unmapped.push(format!(
                        "a subtask of task {id} has no `id` and was skipped"
                    ));
                    continue;
                };
                let full = format!("{id}.{sub_id}");
                let depends_on = dependencies(subtask, Some(&id));
                let mapped = map_task(
                    subtask,
                    &format!("T{full}"),
                    &full,
                    depends_on,
                    source_name,
                    &mut imported.unmapped,
                );
                imported.tasks.push(mapped);
            }
        }
    }
    if priorities > 0 {
        imported.unmapped.push(format!(
            "`priority` of {priorities} task(s) is not mapped (longrun orders by file order and dependencies)"
        ));
    }
    make_ids_unique(&mut imported, "Taskmaster");
    Ok(imported)
}

fn dependencies(task: &Value, parent: Option<&str>) -> Vec<String> {
    task.get("dependencies")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(id_text)
                .map(|dep| match parent {
                    Some(parent) if !dep.contains('.') => format!("T{parent}.{dep}"),
                    _ => format!("T{dep}"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn map_task(
    task: &Value,
    task_id: &str,
    source_key: &str,
    depends_on: Vec<String>,
    source_name: &str,
    unmapped: &mut Vec<String>,
) -> NewTask {
    let status_text = string_field(task, "status");
    let status = match status_text.as_str() {
        "" | "pending" => TaskStatus::NotStarted,
        "in-progress" => TaskStatus::InProgress,
        "done" => TaskStatus::Complete,
        "review" => TaskStatus::AwaitingApproval,
        "blocked" => TaskStatus::Blocked,
        "cancelled" => TaskStatus::Archived,
        "deferred" => {
            unmapped.push(format!(
                "task {source_key}: status `deferred` has no equivalent; imported as `blocked`"
            ));
            TaskStatus::Blocked
        }
        other => {
            unmapped.push(format!(
                "task {source_key}: unknown status `{other}`; imported as `not_started`"
            ));
            TaskStatus::NotStarted
        }
    };
    let mut title = string_field(task, "title");
    if title.is_empty() {
        title = format!("Taskmaster task {source_key}");
    }
    NewTask {
        task_id: task_id.to_string(),
        title,
        description: string_field(task, "description"),
        acceptance_criteria: lines_as_list(&string_field(task, "testStrategy")),
        implementation_notes: string_field(task, "details"),
        status: Some(status),
        depends_on,
        source: Some(format!("{source_name}#{source_key}")),
        source_id: Some(format!("taskmaster#{source_key}")),
        ..NewTask::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_tasks_subtasks_statuses_and_dependencies() {
        let value = serde_json::json!({
            "master": {"tasks": [
                {"id": 1, "title": "Schema", "description": "d", "details": "use sqlx",
                 "testStrategy": "- migration applies\n- rollback works cleanly", "status": "done",
                 "dependencies": [], "priority": "high", "subtasks": []},
                {"id": 2, "title": "Login", "status": "deferred", "dependencies": ["1"],
                 "subtasks": [
                    {"id": 1, "title": "Hash", "status": "in-progress", "dependencies": []},
                    {"id": 2, "title": "Route", "status": "review", "dependencies": [1, "1.1"]}
                 ]}
            ]},
            "feature-x": {"tasks": []}
        });
        let imported = parse_taskmaster(&value, "tasks.json").unwrap();
        let ids: Vec<&str> = imported.tasks.iter().map(|t| t.task_id.as_str()).collect();
        assert_eq!(ids, ["T1", "T2", "T2.1", "T2.2"]);
        assert_eq!(imported.tasks[0].status, Some(TaskStatus::Complete));
        assert_eq!(
            imported.tasks[0].acceptance_criteria,
            ["migration applies", "rollback works cleanly"]
        );
        assert_eq!(imported.tasks[0].implementation_notes, "use sqlx");
        assert_eq!(imported.tasks[1].depends_on, ["T1"]);
        assert_eq!(imported.tasks[1].status, Some(TaskStatus::Blocked));
        assert_eq!(imported.tasks[3].depends_on, ["T2.1", "T1.1"]);
        assert_eq!(imported.tasks[3].status, Some(TaskStatus::AwaitingApproval));
        assert_eq!(
            imported.tasks[2].source_id.as_deref(),
            Some("taskmaster#2.1")
        );
        let unmapped = imported.unmapped.join("\n");
        assert!(unmapped.contains("`deferred`"), "{unmapped}");
        assert!(unmapped.contains("`feature-x`"), "{unmapped}");
        assert!(unmapped.contains("`priority` of 1 task(s)"), "{unmapped}");
    }
}
