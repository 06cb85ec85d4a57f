//! Codex's `exec --json`: `thread.started`, `turn.started`, `item.*`, then `turn.completed`
//! with the turn's token usage or `turn.failed` with an error. Codex reports no cost: it is
//! priced from the profile (or left unknown) by the caller. Pure parsing only.

use serde_json::Value;

use super::{AgentReport, Usage, count};

pub(super) fn parse(events: impl Iterator<Item = Value>) -> AgentReport {
    let mut report = AgentReport::default();
    let mut completed = false;
    for event in events {
        match event.get("type").and_then(Value::as_str).unwrap_or("") {
            "turn.completed" => {
                completed = true;
                if let Some(usage) = event.get("usage") {
                    let cached = count(usage, "cached_input_tokens");
                    let reasoning = usage.get("reasoning_output_tokens").and_then(Value::as_u64);
                    report.usage.get_or_insert_with(Usage::default).add(&Usage {
                        // Codex counts cached tokens inside `input_tokens`.
                        input: count(usage, "input_tokens").saturating_sub(cached),
                        cached_input: cached,
                        output: count(usage, "output_tokens"),
                        reasoning,
                    });
                }
            }
            "turn.failed" => {
                let message = event
                    .get("error")
                    .and_then(|error| error.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("no detail");
                report.failure = Some(format!(
                    "Codex reported a failed turn: {}",
                    first_chars(message)
                ));
            }
            "error" if report.failure.is_none() => {
                let message = event
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no detail");
                report.failure = Some(format!("Codex reported an error: {}", first_chars(message)));
            }
            "item.completed" => {
                let item = event.get("item").unwrap_or(&Value::Null);
                if item.get("type").and_then(Value::as_str) == Some("agent_message")
                    && let Some(text) = item.get("text").and_then(Value::as_str)
                {
                    report.final_message = Some(text.to_string());
                }
            }
            _ => {}
        }
    }
    if report.failure.is_none() && !completed {
        report.failure = Some("Codex's output has no `turn.completed` event".to_string());
    }
    report
}

fn first_chars(text: &str) -> String {
    text.trim().chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use crate::agents::{Usage, parse_output};
    use crate::config::{AgentKind, Pricing};

    const SUCCESS: &str = r#"{"type":"thread.started","thread_id":"0199"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":[{"path":"/w/hello.txt","kind":"add"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Created hello.txt."}}
{"type":"turn.completed","usage":{"input_tokens":2400,"cached_input_tokens":2000,"output_tokens":300,"reasoning_output_tokens":100}}
"#;

    #[test]
    fn usage_is_read_and_priced_from_the_profile() {
        let pricing = Pricing {
            input: Some(1.25),
            cached_input: Some(0.125),
            output: Some(10.0),
        };
        let report = parse_output(AgentKind::Codex, SUCCESS.lines(), &pricing);
        assert_eq!(report.failure, None);
        assert_eq!(
            report.usage,
            Some(Usage {
                input: 400,
                cached_input: 2000,
                output: 300,
                reasoning: Some(100)
            })
        );
        let expected = (400.0 * 1.25 + 2000.0 * 0.125 + 300.0 * 10.0) / 1e6;
        assert!((report.cost_usd.unwrap() - expected).abs() < 1e-12);
        assert_eq!(report.final_message.as_deref(), Some("Created hello.txt."));
    }

    #[test]
    fn without_prices_the_cost_is_unknown_not_zero() {
        let report = parse_output(AgentKind::Codex, SUCCESS.lines(), &Pricing::default());
        assert_eq!(report.cost_usd, None);
        assert!(report.usage.is_some());
    }

    #[test]
    fn a_failed_turn_is_a_failure() {
        let text = r#"{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 1/5"}
{"type":"turn.failed","error":{"message":"unexpected status 500 Internal Server Error"}}
"#;
        let report = parse_output(AgentKind::Codex, text.lines(), &Pricing::default());
        let failure = report.failure.unwrap();
        assert!(
            failure.contains("failed turn: unexpected status 500"),
            "{failure}"
        );
        assert_eq!(report.cost_usd, None);
    }
}
