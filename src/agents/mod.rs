//! What an agent said about its own run: usage, cost, a reported failure and its final
//! message, read from each agent kind's machine output (Claude Code's `stream-json`,
//! Codex's `exec --json`, OpenCode's `run --format json`). A `command` agent reports
//! nothing, so its usage and cost stay unknown.
//!
//! Pure functions over the text of `stdout.log`: this module never reads files, never
//! spawns, never prints. A cost that is neither reported by the agent nor computable from
//! the profile's prices is `None` (unknown), never zero. A run the agent itself reports as
//! failed (an error result, a denied write, a turn limit) is a failure even when the program
//! exited 0; the cycle turns it into a failed attempt with this reason as evidence.

mod claude;
mod codex;
mod opencode;
mod profiles;

pub use profiles::{ProfileCheck, check_profiles, find_program, worth_reporting};

use serde::{Deserialize, Serialize};

use crate::config::{AgentKind, Pricing};

/// The longest line parsed. Agent events are small; a larger line is tool output echoed
/// back, and skipping it keeps memory bounded whatever the agent prints.
pub const MAX_EVENT_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The longest final message kept.
const MAX_FINAL_MESSAGE_CHARS: usize = 2048;

/// Tokens one attempt used, summed over its turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens read without a cache hit (cache writes included).
    pub input: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// The part of `output` spent on reasoning, when the agent says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<u64>,
}

/// What the agent's own output says about its run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentReport {
    /// `None`: the output carries no usage (a `command` agent, or no usage event).
    pub usage: Option<Usage>,
    /// US dollars: reported by the agent, or computed from the profile's prices. `None` is
    /// unknown, never zero.
    pub cost_usd: Option<f64>,
    /// The agent reported that it did not do its job: an error result, a denied tool call,
    /// a turn limit, a failed turn.
    pub failure: Option<String>,
    /// The agent's last answer, when its output has one.
    pub final_message: Option<String>,
}

impl Usage {
    /// Every token counted.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.cached_input)
            .saturating_add(self.output)
    }

    fn add(&mut self, other: &Usage) {
        self.input = self.input.saturating_add(other.input);
        self.cached_input = self.cached_input.saturating_add(other.cached_input);
        self.output = self.output.saturating_add(other.output);
        self.reasoning = match (self.reasoning, other.reasoning) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
    }
}

/// Reads the report of an agent of `kind` from its stdout, line by line. `lines` may skip
/// lines (too long, not UTF-8): every parser tolerates gaps and lines that are not JSON.
pub fn parse_output<'a>(
    kind: AgentKind,
    lines: impl IntoIterator<Item = &'a str>,
    pricing: &Pricing,
) -> AgentReport {
    let events = lines.into_iter().filter_map(|line| {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        serde_json::from_str::<serde_json::Value>(line).ok()
    });
    let mut report = match kind {
        AgentKind::Claude => claude::parse(events),
        AgentKind::Codex => codex::parse(events),
        AgentKind::Opencode => opencode::parse(events),
        AgentKind::Command => AgentReport::default(),
    };
    if report.cost_usd.is_none()
        && let Some(usage) = &report.usage
    {
        report.cost_usd = price(usage, pricing);
    }
    if report
        .cost_usd
        .is_some_and(|cost| !cost.is_finite() || cost < 0.0)
    {
        report.cost_usd = None;
    }
    report.final_message = report
        .final_message
        .map(|message| clip(message.trim()))
        .filter(|message| !message.is_empty());
    report
}

/// The cost of `usage` at `pricing` (USD per million tokens), when every price it needs is
/// known: a token count of zero needs no price, any other needs one.
pub fn price(usage: &Usage, pricing: &Pricing) -> Option<f64> {
    let part = |tokens: u64, price: Option<f64>| -> Option<f64> {
        if tokens == 0 {
            Some(0.0)
        } else {
            price.map(|per_million| tokens as f64 * per_million / 1_000_000.0)
        }
    };
    let total = part(usage.input, pricing.input)?
        + part(usage.cached_input, pricing.cached_input)?
        + part(usage.output, pricing.output)?;
    // No tokens at all and no prices at all: nothing says this cost nothing.
    if usage.total() == 0
        && pricing.input.is_none()
        && pricing.output.is_none()
        && pricing.cached_input.is_none()
    {
        return None;
    }
    Some(total)
}

fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_FINAL_MESSAGE_CHARS {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(MAX_FINAL_MESSAGE_CHARS).collect();
    clipped.push('…');
    clipped
}

/// A non-negative integer field, or zero.
fn count(value: &serde_json::Value, key: &str) -> u64 {
    value
        .get(key)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(input: Option<f64>, cached: Option<f64>, output: Option<f64>) -> Pricing {
        Pricing {
            input,
            cached_input: cached,
            output,
        }
    }

    #[test]
    fn cost_is_known_only_when_every_needed_price_is() {
        let usage = Usage {
            input: 1_000_000,
            cached_input: 0,
            output: 500_000,
            reasoning: None,
        };
        let cost = price(&usage, &prices(Some(2.0), None, Some(10.0))).unwrap();
        assert!((cost - 7.0).abs() < 1e-9, "{cost}");
        assert_eq!(price(&usage, &prices(Some(2.0), None, None)), None);
        let cached = Usage {
            cached_input: 10,
            ..usage
        };
        assert_eq!(price(&cached, &prices(Some(2.0), None, Some(10.0))), None);
        assert_eq!(price(&Usage::default(), &Pricing::default()), None);
    }

    #[test]
    fn a_command_agent_reports_nothing() {
        let report = parse_output(
            AgentKind::Command,
            ["{\"type\":\"result\",\"total_cost_usd\":1}"],
            &prices(Some(1.0), Some(1.0), Some(1.0)),
        );
        assert_eq!(report, AgentReport::default());
    }

    #[test]
    fn long_final_messages_are_clipped() {
        let long = "x".repeat(5000);
        assert_eq!(clip(&long).chars().count(), MAX_FINAL_MESSAGE_CHARS + 1);
    }
}
