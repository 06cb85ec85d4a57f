//! Agent review: a reviewer profile reads the candidate's diff against the acceptance
//! criteria and answers with a verdict block. Runs synchronously through the supervisor in
//! the candidate worktree, after validators pass and before the merge. Fails closed: no
//! verdict block, a reviewer that cannot run, or one that changes the worktree is a failed
//! review. Approval never replaces validators; it only adds a check.

use std::path::PathBuf;
use std::time::Duration;

use crate::clock::Clock;
use crate::process::{self, NoopRenewer, Stdin, StopFlag, SupervisorContext, WorkerSpec};

/// One reviewer to run, prepared by the cycle.
#[derive(Debug, Clone)]
pub struct Reviewer {
    /// The profile's name.
    pub name: String,
    /// The argv, rendered for `prompt_file`.
    pub argv: Vec<String>,
    /// Where the gate writes the prompt before starting the reviewer.
    pub prompt_file: PathBuf,
    pub prompt: PromptDelivery,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// The reviewer's run directory (output, result.json).
    pub run_dir: PathBuf,
}

/// How a reviewer gets its prompt (mirrors the profile's `prompt:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptDelivery {
    Stdin,
    File,
    Arg,
}

/// A reviewer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub approve: bool,
    pub findings: Vec<String>,
}

/// What one review came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewOutcome {
    Approved {
        reviewer: String,
    },
    /// A failed review: the reason (one line) and the evidence for the next attempt.
    Failed {
        reason: String,
        summary: String,
    },
}

/// Finds the last ```` ```verdict ```` block in `output`: its first line is `approve` or
/// `request_changes`, then `findings:` and `- ` lines. Agents that print JSON streams carry
/// the block inside strings with `\n` escapes, so those are read too.
pub fn parse_verdict(output: &str) -> Option<Verdict> {
    parse_block(output).or_else(|| parse_block(&output.replace("\\n", "\n")))
}

fn parse_block(output: &str) -> Option<Verdict> {
    let start = output.rfind("```verdict")?;
    let body = &output[start + "```verdict".len()..];
    let body = body.split_once('\n')?.1;
    let end = body.find("```").unwrap_or(body.len());
    let mut lines = body[..end].lines().map(str::trim).filter(|l| !l.is_empty());
    let approve = match lines.next()? {
        "approve" => true,
        "request_changes" => false,
        _ => return None,
    };
    let findings = lines
        .filter(|line| *line != "findings:")
        .filter_map(|line| line.strip_prefix("- "))
        .map(str::to_string)
        .collect();
    Some(Verdict { approve, findings })
}

/// Runs `reviewer` with `prompt` and reads its verdict.
pub fn run_reviewer(
    reviewer: &Reviewer,
    prompt: &str,
    worktree: &std::path::Path,
    clock: Clock,
) -> Result<ReviewOutcome, process::ProcessError> {
    let name = &reviewer.name;
    if let Some(parent) = reviewer.prompt_file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    crate::fsutil::write_atomic(&reviewer.prompt_file, prompt.as_bytes())?;
    let _ = std::fs::remove_dir_all(&reviewer.run_dir);
    let mut argv = reviewer.argv.clone();
    let stdin = match reviewer.prompt {
        PromptDelivery::Stdin => Stdin::File(reviewer.prompt_file.clone()),
        PromptDelivery::File => Stdin::Null,
        PromptDelivery::Arg => {
            argv.push(prompt.to_string());
            Stdin::Null
        }
    };
    let mut spec = WorkerSpec::new(argv, worktree.to_path_buf(), reviewer.run_dir.clone());
    spec.env = reviewer.env.clone();
    spec.stdin = stdin;
    spec.timeout_secs = reviewer.timeout.as_secs().max(1);
    spec.kill_grace_secs = 5;
    let context = SupervisorContext {
        clock,
        renewer: &NoopRenewer,
        stop: StopFlag::new(),
        reap_escapees: false,
        durable: true,
    };
    let result = process::run_supervisor(&spec, &context)?;
    let stdout = crate::fsutil::read_bounded(&reviewer.run_dir.join("stdout.log"), 4 << 20)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let log = reviewer.run_dir.join("stdout.log");
    let could_not = |what: String| ReviewOutcome::Failed {
        reason: format!("review by `{name}` failed: {what} (fail closed)"),
        summary: format!(
            "The reviewer `{name}` {what}, so the review failed closed (output: {}).",
            log.display()
        ),
    };
    if let Some(error) = &result.error {
        return Ok(could_not(format!("could not start: {error}")));
    }
    if result.timed_out {
        return Ok(could_not("timed out".to_string()));
    }
    if result.exit_code != Some(0) {
        return Ok(could_not(match result.exit_code {
            Some(code) => format!("exited {code}"),
            None => "was killed".to_string(),
        }));
    }
    match parse_verdict(&stdout) {
        None => Ok(could_not("gave no verdict block".to_string())),
        Some(verdict) if verdict.approve => Ok(ReviewOutcome::Approved {
            reviewer: name.clone(),
        }),
        Some(verdict) => {
            let first = verdict
                .findings
                .first()
                .cloned()
                .unwrap_or_else(|| "(no findings given)".to_string());
            let list: Vec<String> = verdict.findings.iter().map(|f| format!("- {f}")).collect();
            Ok(ReviewOutcome::Failed {
                reason: format!("review by `{name}` requested changes: {first}"),
                summary: format!(
                    "The reviewer `{name}` requested changes:\n{}",
                    if list.is_empty() {
                        "(no findings given)".to_string()
                    } else {
                        list.join("\n")
                    }
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_blocks_parse() {
        let text = "thinking...\n```verdict\nrequest_changes\nfindings:\n- a.rs: wrong\n- b.rs: missing\n```\n";
        assert_eq!(
            parse_verdict(text),
            Some(Verdict {
                approve: false,
                findings: vec!["a.rs: wrong".into(), "b.rs: missing".into()]
            })
        );
        let json = r#"{"type":"result","result":"ok\n```verdict\napprove\nfindings:\n```"}"#;
        assert_eq!(parse_verdict(json).map(|v| v.approve), Some(true));
        assert_eq!(parse_verdict("looks good to me"), None);
        assert_eq!(parse_verdict("```verdict\nmaybe\n```"), None);
    }
}
