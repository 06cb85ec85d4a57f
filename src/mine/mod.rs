//! `longrun mine`'s domain: reads the run log (streaming, so a long log is never held
//! whole), the task notes and the run artifacts, and finds what repeats: failures grouped by
//! a normalised signature, failures paired with the passes that ended them, human
//! interventions and the run log's follow-ups. [`proposals`] turns the findings into skill,
//! eval and AGENTS.md drafts and installs accepted ones.
//!
//! Never prints, never spawns and never runs git: the caller resolves commits and passes
//! everything in. The same inputs always give the same findings, in the same order.

pub mod proposals;
pub mod prose;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::state::checklist::Checklist;
use crate::state::model::EventKind;
use crate::state::runlog::{self, RunLogError, StreamItem};

/// How many example events a failure group keeps; the count covers them all.
pub const MAX_EXAMPLES: usize = 5;

/// How many interventions are kept in full; the count covers them all.
pub const MAX_INTERVENTIONS: usize = 200;

/// What to read and which events count.
#[derive(Debug, Clone)]
pub struct MineOptions {
    pub run_log: PathBuf,
    /// Events before this are skipped.
    pub since: Option<Timestamp>,
    /// Only events that mention `runs/<run>/` (the cycle's run directories) count.
    pub run: Option<String>,
}

/// Why mining failed.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    #[error(transparent)]
    RunLog(#[from] RunLogError),
    #[error(transparent)]
    File(#[from] crate::fsutil::FsError),
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Everything mining found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Findings {
    /// Events read (after `--since` and `--run`).
    pub events: usize,
    /// Lines of the Events section that are not events.
    pub unreadable_lines: usize,
    /// Failure groups, most frequent first, then by signature.
    pub failure_groups: Vec<FailureGroup>,
    /// In the order the fixes were logged.
    pub fixes: Vec<FixPair>,
    /// How many interventions there were, and the first [`MAX_INTERVENTIONS`].
    pub intervention_count: usize,
    pub interventions: Vec<Intervention>,
    /// Items of the run log's `## Follow-ups` section, in file order.
    pub follow_ups: Vec<String>,
}

/// Failures with the same normalised signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    pub signature: String,
    /// The validator command, when the failures are validator failures.
    pub validator: Option<String>,
    pub count: usize,
    /// The tasks hit, sorted.
    pub tasks: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
    /// The first [`MAX_EXAMPLES`] failures.
    pub examples: Vec<FailureExample>,
}

/// One failure event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureExample {
    /// 1-based line in run-log.md.
    pub line: usize,
    pub task: String,
    pub attempt: Option<u32>,
    /// The event line as written.
    pub text: String,
    /// The `failure.md` the event points at, relative to the repository root.
    pub evidence: Option<String>,
}

/// A failure of a validator on a task, followed by a merge of that task that the same
/// validator passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixPair {
    pub task: String,
    pub validator: String,
    pub signature: String,
    pub failed_attempt: Option<u32>,
    pub fixed_attempt: Option<u32>,
    /// How many failures of the validator came before the fix.
    pub failures: usize,
    pub failure_line: usize,
    pub fix_line: usize,
    pub failure_evidence: Option<String>,
    /// The merged commit (the `commit=` of the merge event), abbreviated as logged.
    pub commit_after: Option<String>,
    /// The commit the fix started from; filled in by the caller, who may run git.
    pub commit_before: Option<String>,
}

/// What kind of human intervention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterventionKind {
    Approval,
    Rejection,
    /// `longrun task set` by hand.
    HandEdit,
    /// A note, decision, fix or evidence event: kinds the cycle never writes, so a person
    /// (or an agent asked by one) wrote them to steer the work.
    Steering,
    /// A line of a task's `note` that the cycle did not write.
    TaskNote,
}

/// One human intervention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intervention {
    pub kind: InterventionKind,
    pub task: Option<String>,
    /// 1-based line in run-log.md; `None` for a task note.
    pub line: Option<usize>,
    pub text: String,
}

/// Reads the run log and the checklist's notes and returns the findings.
pub fn mine(options: &MineOptions, checklist: Option<&Checklist>) -> Result<Findings, MineError> {
    let mut miner = Miner::default();
    for item in runlog::stream_events(&options.run_log)? {
        match item? {
            StreamItem::Garbage(_) => miner.findings.unreadable_lines += 1,
            StreamItem::Event(logged) => {
                let event = &logged.event;
                if options.since.is_some_and(|since| event.timestamp < since) {
                    continue;
                }
                if let Some(run) = &options.run
                    && !mentions_run(&event.text, run)
                {
                    continue;
                }
                miner.event(logged.line, event);
            }
        }
    }
    if let Some(checklist) = checklist {
        for task in &checklist.tasks {
            for line in task.note.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !is_cycle_note(line) {
                    miner.intervention(Intervention {
                        kind: InterventionKind::TaskNote,
                        task: Some(task.task_id.clone()),
                        line: None,
                        text: line.to_string(),
                    });
                }
            }
        }
    }
    miner.findings.follow_ups = read_follow_ups(&options.run_log)?;
    Ok(miner.finish())
}

/// `T1, T2, T3 and 4 more`: a task list short enough for a line.
pub fn short_task_list(tasks: &[String], shown: usize) -> String {
    let mut text = tasks
        .iter()
        .take(shown)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if tasks.len() > shown {
        text.push_str(&format!(" and {} more", tasks.len() - shown));
    }
    text
}

/// A failure signature: paths, hashes, timestamps and numbers masked, so the same failure
/// on another task, attempt or day reads the same.
pub fn normalise_signature(text: &str) -> String {
    // The cycle writes `<reason> → <failure.md>`; the evidence path is not the failure.
    let text = text.split(" → ").next().unwrap_or(text);
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        let core = token.trim_matches(|c: char| "`'\"()[]{},;:.".contains(c));
        let masked = if core.contains('/') {
            token.replace(core, "<path>")
        } else if looks_like_timestamp(core) {
            token.replace(core, "<time>")
        } else if looks_like_hash(core) {
            token.replace(core, "<hash>")
        } else {
            mask_numbers(token)
        };
        out.push(masked);
    }
    out.join(" ")
}

fn looks_like_timestamp(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
}

fn looks_like_hash(token: &str) -> bool {
    token.len() >= 7
        && token.bytes().all(|b| b.is_ascii_hexdigit())
        && token.bytes().any(|b| b.is_ascii_digit())
        && token.bytes().any(|b| b.is_ascii_alphabetic())
}

fn mask_numbers(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    let mut in_number = false;
    for c in token.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// The validator command of a cycle failure: `validator \`cmd\` exited 1`.
pub fn failed_validator(text: &str) -> Option<String> {
    let rest = &text[text.find("validator `")? + "validator `".len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// The validators a merge event lists as passed: `validators: \`a\` exit 0 ...; \`b\` ...`.
pub fn passed_validators(text: &str) -> Vec<String> {
    let Some(start) = text.find("validators: ") else {
        return Vec::new();
    };
    let mut passed = Vec::new();
    let mut rest = &text[start + "validators: ".len()..];
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else { break };
        let command = &after[..close];
        let tail = &after[close + 1..];
        if tail.starts_with(" exit 0") {
            passed.push(command.to_string());
        }
        // Skip to the next validator, past this one's `(log path)`.
        match tail.find("; `") {
            Some(next) => rest = &tail[next + 2..],
            None => break,
        }
    }
    passed
}

fn mentions_run(text: &str, run: &str) -> bool {
    text.contains(&format!("runs/{run}/"))
}

/// The cycle's own note lines: `<timestamp> attempt <n>: ...`.
fn is_cycle_note(line: &str) -> bool {
    let Some((first, rest)) = line.split_once(' ') else {
        return false;
    };
    looks_like_timestamp(first) && rest.starts_with("attempt ")
}

/// Notes the cycle itself writes to the run log; everything else is a person's.
fn is_cycle_text(text: &str) -> bool {
    text.starts_with("merge deferred:") || text.starts_with("mine applied ")
}

#[derive(Default)]
struct Miner {
    findings: Findings,
    groups: HashMap<String, FailureGroup>,
    /// Per task and validator: the first failure of the current streak and how many.
    open_failures: HashMap<(String, String), (FixPair, usize)>,
    task_sets: HashMap<String, BTreeSet<String>>,
}

impl Miner {
    fn event(&mut self, line: usize, event: &crate::state::runlog::Event) {
        self.findings.events += 1;
        let task = event.task.as_ref().map(|task| task.as_str().to_string());
        match event.kind {
            EventKind::Failure => self.failure(line, event, task),
            EventKind::Merge => {
                let Some(task) = task else { return };
                let commit = event.field("commit").map(str::to_string);
                let attempt = event.field("attempt").and_then(|a| a.parse().ok());
                for validator in passed_validators(&event.text) {
                    if let Some((mut pair, failures)) =
                        self.open_failures.remove(&(task.clone(), validator))
                    {
                        pair.fixed_attempt = attempt;
                        pair.fix_line = line;
                        pair.failures = failures;
                        pair.commit_after = commit.clone();
                        self.findings.fixes.push(pair);
                    }
                }
            }
            EventKind::Approve => self.logged(InterventionKind::Approval, line, event, task),
            EventKind::Reject => self.logged(InterventionKind::Rejection, line, event, task),
            EventKind::Note if event.text.starts_with("task set by hand") => {
                self.logged(InterventionKind::HandEdit, line, event, task)
            }
            EventKind::Note | EventKind::Decision | EventKind::Fix | EventKind::Evidence
                if !is_cycle_text(&event.text) =>
            {
                self.logged(InterventionKind::Steering, line, event, task)
            }
            _ => {}
        }
    }

    fn failure(&mut self, line: usize, event: &crate::state::runlog::Event, task: Option<String>) {
        let signature = normalise_signature(&event.text);
        let validator = failed_validator(&event.text);
        let attempt = event.field("attempt").and_then(|a| a.parse().ok());
        let evidence = event
            .text
            .split_once(" → ")
            .map(|(_, path)| path.trim().to_string());
        let task_name = task.clone().unwrap_or_default();
        let timestamp = crate::clock::format_timestamp(event.timestamp);
        let group = self
            .groups
            .entry(signature.clone())
            .or_insert_with(|| FailureGroup {
                signature: signature.clone(),
                validator: validator.clone(),
                count: 0,
                tasks: Vec::new(),
                first_seen: timestamp.clone(),
                last_seen: timestamp.clone(),
                examples: Vec::new(),
            });
        group.count += 1;
        group.last_seen = timestamp;
        if group.examples.len() < MAX_EXAMPLES {
            group.examples.push(FailureExample {
                line,
                task: task_name.clone(),
                attempt,
                text: event.render(),
                evidence: evidence.clone(),
            });
        }
        if let Some(task) = task {
            self.task_sets
                .entry(signature.clone())
                .or_default()
                .insert(task.clone());
            if let Some(validator) = validator {
                self.open_failures
                    .entry((task.clone(), validator.clone()))
                    .and_modify(|(_, count)| *count += 1)
                    .or_insert_with(|| {
                        (
                            FixPair {
                                task,
                                validator,
                                signature,
                                failed_attempt: attempt,
                                fixed_attempt: None,
                                failures: 1,
                                failure_line: line,
                                fix_line: 0,
                                failure_evidence: evidence,
                                commit_after: None,
                                commit_before: None,
                            },
                            1,
                        )
                    });
            }
        }
    }

    fn logged(
        &mut self,
        kind: InterventionKind,
        line: usize,
        event: &crate::state::runlog::Event,
        task: Option<String>,
    ) {
        self.intervention(Intervention {
            kind,
            task,
            line: Some(line),
            text: event.text.clone(),
        });
    }

    fn intervention(&mut self, intervention: Intervention) {
        self.findings.intervention_count += 1;
        if self.findings.interventions.len() < MAX_INTERVENTIONS {
            self.findings.interventions.push(intervention);
        }
    }

    fn finish(mut self) -> Findings {
        let mut groups: Vec<FailureGroup> = self
            .groups
            .into_values()
            .map(|mut group| {
                group.tasks = self
                    .task_sets
                    .remove(&group.signature)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                group
            })
            .collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.signature.cmp(&b.signature)));
        self.findings.failure_groups = groups;
        self.findings
    }
}

/// The list items of the run log's `## Follow-ups` section (any heading starting with
/// "Follow-up"), read line by line.
fn read_follow_ups(path: &Path) -> Result<Vec<String>, MineError> {
    let file = std::fs::File::open(path).map_err(|source| MineError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut items = Vec::new();
    let mut inside = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(runlog::MAX_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)
            .map_err(|source| MineError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if let Some(title) = text.strip_prefix("## ") {
            inside = title.trim().to_ascii_lowercase().starts_with("follow-up");
            continue;
        }
        if inside && let Some(item) = text.strip_prefix("- ").or(text.strip_prefix("* ")) {
            let item = item.trim();
            // The template's empty prompts (`- Skills to extract:`) are not follow-ups.
            if !item.is_empty() && !item.starts_with('<') && !item.ends_with(':') {
                items.push(item.to_string());
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_mask_paths_numbers_hashes_and_times() {
        let a = normalise_signature(
            "validator `cargo test` exited 101 at 2026-11-21T09:00:00Z in src/a.rs (abc1234f) → .longrun/runs/x/T1/1/failure.md",
        );
        let b = normalise_signature(
            "validator `cargo test` exited 1 at 2026-11-22T10:00:00Z in src/b/c.rs (99fe0aa1) → .longrun/runs/y/T2/3/failure.md",
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "validator `cargo test` exited # at <time> in <path> (<hash>)"
        );
        assert_ne!(
            normalise_signature("validator `cargo test` exited 1"),
            normalise_signature("validator `cargo clippy` exited 1")
        );
    }

    #[test]
    fn validators_are_read_from_failures_and_merges() {
        assert_eq!(
            failed_validator("validator `sh -c 'exit 1'` exited 1 → x").as_deref(),
            Some("sh -c 'exit 1'")
        );
        assert_eq!(failed_validator("merge conflict in `a.rs`"), None);
        let merge = "merged into `main` as abc (tree def); validators: `cargo test` exit 0 in 5 ms (.longrun/runs/r/T1/2/validate/0/output.log); `make lint` exit 0 in 1 ms (x)";
        assert_eq!(passed_validators(merge), ["cargo test", "make lint"]);
        assert!(passed_validators("status reconciled from merge commit abc").is_empty());
    }

    #[test]
    fn a_fix_pairs_with_the_first_failure_of_its_streak() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run-log.md");
        std::fs::write(
            &path,
            "# Run log\n\n## Events\n\
- 2026-11-20T10:00:00Z failure [T1] attempt=1: validator `a` exited 1 → x/failure.md\n\
- 2026-11-20T10:01:00Z failure [T1] attempt=2: validator `a` exited 2 → y/failure.md\n\
- 2026-11-20T10:02:00Z merge [T2] attempt=1 commit=abc: validators: `a` exit 0 in 1 ms (z)\n\
- 2026-11-20T10:03:00Z merge [T1] attempt=3 commit=def: validators: `b` exit 0 in 1 ms (z); `a` exit 0 in 2 ms (w)\n\
not an event\n\
\n## Follow-ups\n- Docs to update:\n- write the FAQ\n",
        )
        .unwrap();
        let options = MineOptions {
            run_log: path,
            since: None,
            run: None,
        };
        let findings = mine(&options, None).unwrap();
        assert_eq!(findings.events, 4);
        assert_eq!(findings.unreadable_lines, 1);
        assert_eq!(findings.failure_groups.len(), 1);
        assert_eq!(findings.failure_groups[0].count, 2);
        assert_eq!(findings.fixes.len(), 1);
        let fix = &findings.fixes[0];
        assert_eq!((fix.task.as_str(), fix.validator.as_str()), ("T1", "a"));
        assert_eq!(
            (fix.failed_attempt, fix.fixed_attempt, fix.failures),
            (Some(1), Some(3), 2)
        );
        assert_eq!(fix.commit_after.as_deref(), Some("def"));
        assert_eq!(fix.failure_evidence.as_deref(), Some("x/failure.md"));
        assert_eq!(findings.follow_ups, ["write the FAQ"]);
        assert_eq!(
            short_task_list(&["A".into(), "B".into(), "C".into()], 2),
            "A, B and 1 more"
        );
    }

    #[test]
    fn cycle_notes_are_not_steering() {
        assert!(is_cycle_note(
            "2026-11-21T09:00:00Z attempt 2: validator `x` exited 1"
        ));
        assert!(!is_cycle_note("use the new API, not the old one"));
    }
}
