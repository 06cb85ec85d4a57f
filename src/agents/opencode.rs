//! OpenCode's `run --format json`: `step_start`, `tool_use`, `text`, `step_finish`, ...
//! Every `step_finish` part carries that step's tokens and cost; the run's are their sums.
//! `input` there excludes cached tokens. Pure parsing only.

use serde_json::Value;

use super::{AgentReport, Usage, count};

pub(super) fn parse(events: impl Iterator<Item = Value>) -> AgentReport {
    let mut report = AgentReport::default();
    let mut reported_cost = 0.0_f64;
    for event in events {
        let part = event.get("part").unwrap_or(&Value::Null);
        match event.get("type").and_then(Value::as_str).unwrap_or("") {
            "step_finish" => {
                let tokens = part.get("tokens").unwrap_or(&Value::Null);
                let cache = tokens.get("cache").unwrap_or(&Value::Null);
                let reasoning = tokens.get("reasoning").and_then(Value::as_u64);
                report.usage.get_or_insert_with(Usage::default).add(&Usage {
                    input: count(tokens, "input").saturating_add(count(cache, "write")),
                    cached_input: count(cache, "read"),
                    output: count(tokens, "output").saturating_add(reasoning.unwrap_or(0)),
                    reasoning,
                });
                reported_cost += part.get("cost").and_then(Value::as_f64).unwrap_or(0.0);
            }
            "text" => {
                if let Some(text) = part.get("text").and_then(Value::as_str) {
                    report.final_message = Some(text.to_string());
                }
            }
            "error" => {
                let error = event.get("error").unwrap_or(&Value::Null);
                let message = error
                    .get("data")
                    .and_then(|data| data.get("message"))
                    .or_else(|| error.get("message"))
                    .or_else(|| error.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("no detail");
                let message: String = message.trim().chars().take(300).collect();
                report.failure = Some(format!("OpenCode reported an error: {message}"));
            }
            _ => {}
        }
    }
    // OpenCode writes 0 for a model without prices: only a positive sum is a reported cost;
    // otherwise the profile's prices decide (or the cost stays unknown).
    if reported_cost > 0.0 {
        report.cost_usd = Some(reported_cost);
    }
    if report.failure.is_none() && report.usage.is_none() {
        report.failure = Some("OpenCode's output has no `step_finish` event".to_string());
    }
    report
}

#[cfg(test)]
mod tests {
    use crate::agents::{Usage, parse_output};
    use crate::config::{AgentKind, Pricing};

    const TWO_STEPS: &str = r#"{"type":"step_start","timestamp":1,"sessionID":"ses","part":{"type":"step-start"}}
{"type":"tool_use","timestamp":2,"sessionID":"ses","part":{"type":"tool","tool":"write","state":{"status":"completed","input":{"filePath":"/w/hello.txt","content":"hi"}}}}
{"type":"step_finish","timestamp":3,"sessionID":"ses","part":{"type":"step-finish","reason":"tool-calls","cost":0.002,"tokens":{"input":1000,"output":50,"reasoning":0,"cache":{"read":200,"write":0}}}}
{"type":"step_start","timestamp":4,"sessionID":"ses","part":{"type":"step-start"}}
{"type":"text","timestamp":5,"sessionID":"ses","part":{"type":"text","text":"Done: hello.txt written."}}
{"type":"step_finish","timestamp":6,"sessionID":"ses","part":{"type":"step-finish","reason":"stop","cost":0.001,"tokens":{"input":100,"output":20,"reasoning":5,"cache":{"read":1000,"write":10}}}}
"#;

    #[test]
    fn steps_are_summed() {
        let report = parse_output(AgentKind::Opencode, TWO_STEPS.lines(), &Pricing::default());
        assert_eq!(report.failure, None);
        assert_eq!(
            report.usage,
            Some(Usage {
                input: 1110,
                cached_input: 1200,
                output: 75,
                reasoning: Some(5)
            })
        );
        assert!((report.cost_usd.unwrap() - 0.003).abs() < 1e-12);
        assert_eq!(
            report.final_message.as_deref(),
            Some("Done: hello.txt written.")
        );
    }

    #[test]
    fn a_zero_cost_is_unknown_unless_the_profile_has_prices() {
        let text = TWO_STEPS
            .replace("\"cost\":0.002", "\"cost\":0")
            .replace("\"cost\":0.001", "\"cost\":0");
        let unknown = parse_output(AgentKind::Opencode, text.lines(), &Pricing::default());
        assert_eq!(unknown.cost_usd, None);
        let priced = parse_output(
            AgentKind::Opencode,
            text.lines(),
            &Pricing {
                input: Some(1.0),
                cached_input: Some(0.1),
                output: Some(2.0),
            },
        );
        let expected = (1110.0 + 1200.0 * 0.1 + 75.0 * 2.0) / 1e6;
        assert!((priced.cost_usd.unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn a_real_api_error_event_is_a_failure() {
        let text = r#"{"type":"error","timestamp":1795255199605,"sessionID":"ses_e0274c791ffeIRDVSGFNHWkTuh","error":{"name":"APIError","data":{"message":"scripted model server failure","statusCode":400,"isRetryable":false,"responseHeaders":{"cache-control":"no-cache","connection":"close","content-length":"109","content-type":"application/json"},"responseBody":"{\"error\":{\"code\":\"server_error\",\"message\":\"scripted model server failure\",\"type\":\"api_error\"},\"type\":\"error\"}","metadata":{"url":"http://127.0.0.1:36169/v1/chat/completions"}}}}"#;
        let report = parse_output(AgentKind::Opencode, text.lines(), &Pricing::default());
        assert_eq!(
            report.failure.as_deref(),
            Some("OpenCode reported an error: scripted model server failure")
        );
    }

    #[test]
    fn an_error_event_is_a_failure() {
        let text = r#"{"type":"error","timestamp":1,"sessionID":"ses","error":{"name":"APIError","data":{"message":"Internal Server Error","statusCode":500}}}"#;
        let report = parse_output(AgentKind::Opencode, text.lines(), &Pricing::default());
        assert_eq!(
            report.failure.as_deref(),
            Some("OpenCode reported an error: Internal Server Error")
        );
    }
}
