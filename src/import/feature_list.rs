//! The autonomous-coding harness's `feature_list.json`: an array of `{category,
//! description, steps, passes}`. Ids are assigned `F001`, `F002`... in file order; the
//! `source_id` is derived from the description, so reordering the file keeps the match.

use serde_json::Value;

use super::{Imported, make_ids_unique, string_field};
use crate::plan::prd::slug;
use crate::state::checklist::NewTask;
use crate::state::model::TaskStatus;

/// Longest title; the full text is kept in the description.
const MAX_TITLE_CHARS: usize = 120;

/// Maps a parsed feature_list.json.
pub fn parse_feature_list(value: &Value, source_name: &str) -> Result<Imported, String> {
    let features = value.as_array().ok_or("expected a list of features")?;
    let mut imported = Imported::default();
    let width = features.len().to_string().len().max(3);
    for (index, feature) in features.iter().enumerate() {
        let text = string_field(feature, "description");
        let category = string_field(feature, "category");
        let passes = feature
            .get("passes")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (title, description) = if text.chars().count() > MAX_TITLE_CHARS {
            let cut: String = text.chars().take(MAX_TITLE_CHARS - 3).collect();
            (format!("{}...", cut.trim_end()), text.clone())
        } else if text.is_empty() {
            (format!("Feature {}", index + 1), String::new())
        } else {
            (text.clone(), String::new())
        };
        let steps = feature
            .get("steps")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let key = format!(
            "{}-{:08x}",
            slug(&format!("{category} {text}")),
            xxhash_rust::xxh3::xxh3_64(format!("{category}\n{text}").as_bytes()) as u32
        );
        imported.tasks.push(NewTask {
            task_id: format!("F{:0width$}", index + 1),
            title,
            description,
            acceptance_criteria: steps,
            status: Some(if passes {
                TaskStatus::Complete
            } else {
                TaskStatus::NotStarted
            }),
            milestone: (!category.is_empty()).then_some(category),
            source: Some(format!("{source_name}#{}", index + 1)),
            source_id: Some(format!("feature-list#{key}")),
            ..NewTask::default()
        });
    }
    make_ids_unique(&mut imported, "feature list");
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_get_sequential_ids_and_steps_as_criteria() {
        let value = serde_json::json!([
            {"category": "functional", "description": "User can sign up", "steps": ["Open /signup", "Submit the form"], "passes": false},
            {"category": "style", "description": "Buttons are blue", "steps": [], "passes": true}
        ]);
        let imported = parse_feature_list(&value, "feature_list.json").unwrap();
        assert_eq!(imported.tasks[0].task_id, "F001");
        assert_eq!(imported.tasks[1].task_id, "F002");
        assert_eq!(
            imported.tasks[0].acceptance_criteria,
            ["Open /signup", "Submit the form"]
        );
        assert_eq!(imported.tasks[1].status, Some(TaskStatus::Complete));
        assert_eq!(imported.tasks[0].milestone.as_deref(), Some("functional"));
    }
}
