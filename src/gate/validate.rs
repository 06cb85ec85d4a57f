//! Runs validators: each command in the candidate worktree, with a timeout, a scrubbed
//! environment and its output in files, through the same supervisor as agents. Never runs a
//! shell unless the validator was written as `{shell: "..."}`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::process::{self, NoopRenewer, StopFlag, SupervisorContext, WorkerSpec};
use crate::state::checklist::Validator;

/// The evidence of one validator run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorRun {
    pub command: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    pub log: PathBuf,
    /// The lines that matter from its output: error lines, the first and last lines.
    pub summary: String,
}

impl ValidatorRun {
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// `exited 101` / `timed out` / `killed`.
    pub fn outcome(&self) -> String {
        match (self.timed_out, self.exit_code) {
            (true, _) => "timed out".to_string(),
            (false, Some(code)) => format!("exited {code}"),
            (false, None) => "was killed".to_string(),
        }
    }
}

/// How to run validators.
pub struct ValidateOptions<'a> {
    pub worktree: &'a Path,
    /// Where each validator's files go: `<dir>/<n>/stdout.log` ...
    pub dir: &'a Path,
    pub env: &'a [(String, String)],
    pub timeout: Duration,
    pub clock: Clock,
}

/// The vacuous-validator check (see [`process::Baseline`]): runs each validator on the
/// untouched worktree and lists those that already pass. Then puts the worktree back as it
/// was (tracked files restored, new untracked files removed; ignored build output is kept),
/// so the agent starts from the base commit and nothing a validator wrote is taken for the
/// agent's work.
pub fn run_baseline(
    baseline: &process::Baseline,
    worktree: &Path,
    clock: Clock,
) -> Result<process::BaselineResult, process::ProcessError> {
    let env = baseline.env.clone();
    let mut vacuous = Vec::new();
    // One at a time: `run_validators` stops at the first failure, and each one's verdict
    // matters here.
    for (index, validator) in baseline.validators.iter().enumerate() {
        let runs = run_validators(
            std::slice::from_ref(validator),
            &ValidateOptions {
                worktree,
                dir: &baseline.dir.join((index + 1).to_string()),
                env: &env,
                timeout: Duration::from_secs(baseline.timeout_secs.max(1)),
                clock,
            },
        )?;
        if runs.iter().all(ValidatorRun::passed) {
            vacuous.push(validator.display());
        }
    }
    if !crate::git::is_clean(worktree).unwrap_or(false) {
        let _ = crate::git::run_git(worktree, ["reset", "--hard", "--quiet"]);
        let _ = crate::git::run_git(worktree, ["clean", "-d", "--force", "--quiet"]);
    }
    Ok(process::BaselineResult {
        base: baseline.base.clone(),
        refused: baseline.strict && !vacuous.is_empty(),
        vacuous,
    })
}

/// Runs `validators` in order and stops at the first failure (fail fast: later validators
/// would only repeat the news).
pub fn run_validators(
    validators: &[Validator],
    options: &ValidateOptions<'_>,
) -> Result<Vec<ValidatorRun>, process::ProcessError> {
    let mut runs = Vec::new();
    for (index, validator) in validators.iter().enumerate() {
        let argv = match validator {
            Validator::Argv(argv) => argv.clone(),
            Validator::Shell(script) => vec!["sh".to_string(), "-c".to_string(), script.clone()],
        };
        let run_dir = options.dir.join(format!("{}", index + 1));
        let _ = std::fs::remove_dir_all(&run_dir);
        let mut spec = WorkerSpec::new(argv, options.worktree.to_path_buf(), run_dir.clone());
        spec.env = options.env.to_vec();
        spec.timeout_secs = options.timeout.as_secs().max(1);
        spec.kill_grace_secs = 5;
        spec.output_cap_bytes = 16 * 1024 * 1024;
        let context = SupervisorContext {
            clock: options.clock,
            renewer: &NoopRenewer,
            stop: StopFlag::new(),
            // The cycle (or `loop`) may have detached supervisors as children: never treat
            // them as escapees of a validator.
            reap_escapees: false,
            durable: false,
        };
        let result = process::run_supervisor(&spec, &context)?;
        let log = run_dir.join("output.log");
        let combined = combine_logs(&run_dir, &log);
        let run = ValidatorRun {
            command: validator.display(),
            exit_code: if result.error.is_some() {
                None
            } else {
                result.exit_code
            },
            timed_out: result.timed_out,
            duration_ms: result.duration_ms,
            log,
            summary: match &result.error {
                Some(error) => format!("could not run: {error}"),
                None => summarize_output(&combined, 20, 2000),
            },
        };
        let passed = run.passed();
        runs.push(run);
        if !passed {
            break;
        }
    }
    Ok(runs)
}

/// Writes stdout then stderr into one file (for a person to open) and returns its text,
/// bounded.
fn combine_logs(run_dir: &Path, combined: &Path) -> String {
    let read = |name: &str| {
        crate::fsutil::read_bounded(&run_dir.join(name), 4 * 1024 * 1024)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    let stdout = read("stdout.log");
    let stderr = read("stderr.log");
    let mut text = stdout;
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&stderr);
    }
    // Not synced, like the logs it is made of: evidence to read, which nothing decides by.
    let _ = crate::fsutil::write_atomic_unsynced(combined, text.as_bytes());
    text
}

/// True for a line of output that reads like an error: what a failure's summary keeps
/// and its signature is made of.
pub fn looks_like_error(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    [
        "error",
        "fail",
        "panic",
        "expected",
        "assert",
        "fatal",
        "not found",
    ]
    .iter()
    .any(|word| lower.contains(word))
}

/// Keeps the lines that matter: the first lines, lines that look like errors, and the last
/// lines, at most `max_lines` lines and `max_bytes` bytes.
pub fn summarize_output(output: &str, max_lines: usize, max_bytes: usize) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() <= max_lines {
        return bound(&lines.join("\n"), max_bytes);
    }
    let head = 3.min(lines.len());
    let tail = 6.min(lines.len() - head);
    let mut keep: Vec<usize> = (0..head).collect();
    let error_budget = max_lines.saturating_sub(head + tail);
    keep.extend(
        (head..lines.len() - tail)
            .filter(|&i| looks_like_error(lines[i]))
            .take(error_budget),
    );
    keep.extend(lines.len() - tail..lines.len());
    let mut out = String::new();
    let mut previous: Option<usize> = None;
    for index in keep {
        if let Some(previous) = previous
            && index > previous + 1
        {
            out.push_str("...\n");
        }
        out.push_str(lines[index]);
        out.push('\n');
        previous = Some(index);
    }
    bound(out.trim_end(), max_bytes)
}

fn bound(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n... (cut at {max_bytes} bytes)", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_keep_first_error_and_last_lines() {
        let mut output = String::new();
        for i in 0..100 {
            output.push_str(&format!("line {i}\n"));
            if i == 50 {
                output.push_str("error[E0308]: mismatched types\n");
            }
        }
        let summary = summarize_output(&output, 12, 4000);
        assert!(
            summary.starts_with("line 0\nline 1\nline 2\n...\nerror[E0308]"),
            "{summary}"
        );
        assert!(summary.ends_with("line 99"), "{summary}");
        assert!(summary.lines().count() <= 14);
        let short = summarize_output("a\n\nb\n", 12, 4000);
        assert_eq!(short, "a\nb");
        assert!(summarize_output(&"x".repeat(10_000), 12, 100).len() < 140);
    }

    #[test]
    fn validators_run_without_a_shell_and_stop_at_the_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("marker");
        let validators = vec![
            Validator::Argv(vec![
                "echo".into(),
                format!("$(touch {})", marker.display()),
            ]),
            Validator::Argv(vec!["false".into()]),
            Validator::Argv(vec!["true".into()]),
        ];
        let env = vec![("PATH".to_string(), std::env::var("PATH").unwrap())];
        let runs = run_validators(
            &validators,
            &ValidateOptions {
                worktree: dir.path(),
                dir: &dir.path().join("v"),
                env: &env,
                timeout: Duration::from_secs(10),
                clock: Clock::System,
            },
        )
        .unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs[0].passed());
        assert!(runs[0].summary.contains("$(touch"), "{:?}", runs[0]);
        assert!(!marker.exists(), "the argument was data, not a command");
        assert!(!runs[1].passed());
        assert_eq!(runs[1].outcome(), "exited 1");
    }

    #[test]
    fn shell_validators_run_through_sh_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![("PATH".to_string(), std::env::var("PATH").unwrap())];
        let runs = run_validators(
            &[Validator::Shell("test 1 -eq 1 && echo yes".into())],
            &ValidateOptions {
                worktree: dir.path(),
                dir: &dir.path().join("v"),
                env: &env,
                timeout: Duration::from_secs(10),
                clock: Clock::System,
            },
        )
        .unwrap();
        assert!(runs[0].passed());
        assert_eq!(runs[0].summary, "yes");
    }
}
