//! Claude Code's `--output-format stream-json`: one JSON event per line, the last a
//! `result` event with the run's cost, usage, turn count and outcome. Pure parsing only.

use serde_json::Value;

use super::{AgentReport, Usage, count};

pub(super) fn parse(events: impl Iterator<Item = Value>) -> AgentReport {
    let Some(result) = events
        .filter(|event| event.get("type").and_then(Value::as_str) == Some("result"))
        .last()
    else {
        return AgentReport {
            failure: Some("Claude Code's output has no `result` event".to_string()),
            ..AgentReport::default()
        };
    };
    let usage = result.get("usage").map(|usage| Usage {
        input: count(usage, "input_tokens")
            .saturating_add(count(usage, "cache_creation_input_tokens")),
        cached_input: count(usage, "cache_read_input_tokens"),
        output: count(usage, "output_tokens"),
        reasoning: None,
    });
    let text = result
        .get("result")
        .and_then(Value::as_str)
        .map(str::to_string);
    AgentReport {
        usage,
        cost_usd: result.get("total_cost_usd").and_then(Value::as_f64),
        failure: failure(&result, text.as_deref()),
        final_message: text,
    }
}

fn failure(result: &Value, text: Option<&str>) -> Option<String> {
    let subtype = result.get("subtype").and_then(Value::as_str).unwrap_or("");
    let turns = result.get("num_turns").and_then(Value::as_u64).unwrap_or(0);
    if subtype == "error_max_turns" {
        return Some(format!(
            "Claude Code stopped at its turn limit after {turns} turns (`error_max_turns`)"
        ));
    }
    if subtype.starts_with("error") {
        return Some(format!("Claude Code ended with `{subtype}`"));
    }
    if result.get("is_error").and_then(Value::as_bool) == Some(true) {
        let detail = text.unwrap_or("no detail").trim();
        let detail: String = detail.chars().take(300).collect();
        return Some(format!("Claude Code reported an error: {detail}"));
    }
    let denials = result
        .get("permission_denials")
        .and_then(Value::as_array)
        .filter(|denials| !denials.is_empty())?;
    let described: Vec<String> = denials
        .iter()
        .take(5)
        .map(|denial| {
            let tool = denial
                .get("tool_name")
                .and_then(Value::as_str)
                .unwrap_or("a tool");
            match denial
                .get("tool_input")
                .and_then(|input| input.get("file_path").or_else(|| input.get("command")))
                .and_then(Value::as_str)
            {
                Some(target) => format!("`{tool}` on `{target}`"),
                None => format!("`{tool}`"),
            }
        })
        .collect();
    Some(format!(
        "Claude Code was denied permission {} time(s): {}",
        denials.len(),
        described.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use crate::agents::{AgentReport, Usage, parse_output};
    use crate::config::{AgentKind, Pricing};

    fn parse(text: &str) -> AgentReport {
        parse_output(AgentKind::Claude, text.lines(), &Pricing::default())
    }

    const SUCCESS: &str = r#"{"type":"system","subtype":"init","session_id":"s","tools":["Write"]}
{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Write"}]}}
not json at all
{"type":"result","subtype":"success","is_error":false,"duration_ms":2100,"num_turns":2,"result":"Wrote hello.txt.","session_id":"s","total_cost_usd":0.0123,"usage":{"input_tokens":120,"cache_creation_input_tokens":30,"cache_read_input_tokens":400,"output_tokens":55},"permission_denials":[]}
"#;

    #[test]
    fn a_successful_result_carries_cost_and_usage() {
        let report = parse(SUCCESS);
        assert_eq!(report.failure, None);
        assert_eq!(report.cost_usd, Some(0.0123));
        assert_eq!(
            report.usage,
            Some(Usage {
                input: 150,
                cached_input: 400,
                output: 55,
                reasoning: None
            })
        );
        assert_eq!(report.final_message.as_deref(), Some("Wrote hello.txt."));
    }

    #[test]
    fn reported_errors_are_failures_even_with_exit_zero() {
        let api = parse(
            r#"{"type":"result","subtype":"success","is_error":true,"num_turns":1,"result":"API Error: 500 {\"error\":\"boom\"}","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}"#,
        );
        let failure = api.failure.unwrap();
        assert!(
            failure.contains("reported an error: API Error: 500"),
            "{failure}"
        );

        let turns = parse(
            r#"{"type":"result","subtype":"error_max_turns","is_error":false,"num_turns":3,"total_cost_usd":0.5,"usage":{"input_tokens":1,"output_tokens":2}}"#,
        );
        assert!(turns.failure.unwrap().contains("turn limit after 3 turns"));
        assert_eq!(turns.cost_usd, Some(0.5));

        let denied = parse(
            r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"I could not write.","total_cost_usd":0.01,"usage":{"input_tokens":1,"output_tokens":2},"permission_denials":[{"tool_name":"Write","tool_use_id":"t1","tool_input":{"file_path":"/w/a.txt","content":"x"}}]}"#,
        );
        let failure = denied.failure.unwrap();
        assert!(
            failure.contains("denied permission 1 time(s): `Write` on `/w/a.txt`"),
            "{failure}"
        );
    }

    #[test]
    fn no_result_event_is_a_failure_with_unknown_cost() {
        let report = parse("{\"type\":\"system\"}\n");
        assert!(report.failure.unwrap().contains("no `result` event"));
        assert_eq!(report.cost_usd, None);
        assert_eq!(report.usage, None);
    }
}
