//! The ralph loop's `prd.json`: `{"project", "branchName", "userStories": [{"id", "title",
//! "description", "acceptanceCriteria", "priority", "passes", "notes"}]}`.
//!
//! `passes: true` is `complete`, anything else `not_started`; the story id is the task id.

use serde_json::Value;

use super::{Imported, id_text, make_ids_unique, sanitize_id, string_field};
use crate::state::checklist::NewTask;
use crate::state::model::TaskStatus;

/// Maps a parsed prd.json.
pub fn parse_ralph(value: &Value, source_name: &str) -> Result<Imported, String> {
    let stories = value
        .get("userStories")
        .and_then(Value::as_array)
        .ok_or("`userStories` is not a list")?;
    let mut imported = Imported::default();
    if value.get("branchName").is_some() {
        imported.unmapped.push(
            "`branchName` is not mapped: longrun names a branch per task (`longrun/<id>`)"
                .to_string(),
        );
    }
    let mut priorities = 0;
    for (index, story) in stories.iter().enumerate() {
        let raw_id = story
            .get("id")
            .and_then(id_text)
            .unwrap_or_else(|| format!("US-{:03}", index + 1));
        let task_id = sanitize_id(&raw_id, "US-");
        if story.get("priority").is_some() {
            priorities += 1;
        }
        let passes = match story.get("passes") {
            Some(Value::Bool(passes)) => *passes,
            None | Some(Value::Null) => false,
            Some(other) => {
                imported.unmapped.push(format!(
                    "story {raw_id}: `passes` is {other}, not true or false; imported as not started"
                ));
                false
            }
        };
        let criteria = story
            .get("acceptanceCriteria")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut title = string_field(story, "title");
        if title.is_empty() {
            title = format!("User story {raw_id}");
        }
        imported.tasks.push(NewTask {
            task_id,
            title,
            description: string_field(story, "description"),
            acceptance_criteria: criteria,
            note: string_field(story, "notes"),
            status: Some(if passes {
                TaskStatus::Complete
            } else {
                TaskStatus::NotStarted
            }),
            source: Some(format!("{source_name}#{raw_id}")),
            source_id: Some(format!("ralph#{raw_id}")),
            ..NewTask::default()
        });
    }
    if priorities > 0 {
        imported.unmapped.push(format!(
            "`priority` of {priorities} story(ies) is not mapped (tasks keep the file's order)"
        ));
    }
    make_ids_unique(&mut imported, "ralph");
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stories_become_tasks() {
        let value = serde_json::json!({
            "project": "shop", "branchName": "ralph/shop",
            "userStories": [
                {"id": "US-001", "title": "Add priority field", "description": "As a user...",
                 "acceptanceCriteria": ["Typecheck passes", "Column exists"], "priority": 1,
                 "passes": true, "notes": "done in one go"},
                {"id": "US-002", "title": "Show badge", "acceptanceCriteria": [], "priority": 2, "passes": false}
            ]
        });
        let imported = parse_ralph(&value, "prd.json").unwrap();
        assert_eq!(imported.tasks[0].task_id, "US-001");
        assert_eq!(imported.tasks[0].status, Some(TaskStatus::Complete));
        assert_eq!(imported.tasks[0].note, "done in one go");
        assert_eq!(imported.tasks[1].status, Some(TaskStatus::NotStarted));
        assert_eq!(imported.unmapped.len(), 2);
    }
}
