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
pub mod scope;

use std::collections::HashMap;
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

/// How many failure groups are kept in full (the most frequent); the counts cover them all.
/// A log where every failure reads differently would otherwise carry tens of thousands of
/// groups into `findings.json` that nobody reads and no proposal uses.
pub const MAX_GROUPS: usize = 1000;

/// What to read and which events count.
#[derive(Debug, Clone)]
pub struct MineOptions {
    pub run_log: PathBuf,
    /// Events (and note lines) before this are skipped.
    pub since: Option<Timestamp>,
    /// Only this run's events count (see [`scope`]).
    pub run: Option<scope::RunScope>,
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
    /// How many failure groups there were, and how many of them failed more than once.
    pub failure_group_count: usize,
    pub repeated_group_count: usize,
    /// The first [`MAX_GROUPS`] failure groups, most frequent first, then by signature.
    pub failure_groups: Vec<FailureGroup>,
    /// In the order the fixes were logged.
    pub fixes: Vec<FixPair>,
    /// How many interventions there were, and the first [`MAX_INTERVENTIONS`].
    pub intervention_count: usize,
    pub interventions: Vec<Intervention>,
    /// Items of the run log's `## Follow-ups` section, in file order.
    pub follow_ups: Vec<FollowUp>,
    /// The run `--run` named, as its folder tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<scope::RunScope>,
    /// Task-note lines left out under `--since` or `--run` because nothing tells when they
    /// were written.
    pub notes_without_time: usize,
}

/// One item of the run log's Follow-ups section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub category: FollowUpCategory,
    /// The category's line as written (`Agent guidelines to update (\`AGENTS.md\`)`).
    pub heading: Option<String>,
    pub text: String,
    /// 1-based line in run-log.md.
    pub line: usize,
}

/// The playbook template's Follow-ups categories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FollowUpCategory {
    /// `Skills to extract`: each becomes a skill draft.
    SkillsToExtract,
    /// `Evals to add`: an eval draft when a fix gives it a base commit, else listed.
    EvalsToAdd,
    /// `Agent guidelines to update (AGENTS.md)`: lines of the AGENTS.md patch.
    GuidelinesToUpdate,
    /// `Docs to update`: listed.
    DocsToUpdate,
    /// `Tech debt spotted`: listed.
    TechDebt,
    /// A plain item, or one under a heading of the person's own: listed.
    #[default]
    Other,
}

impl FollowUpCategory {
    /// The category a top-level item's text before its colon names, if any.
    fn of_heading(heading: &str) -> Option<FollowUpCategory> {
        let heading = heading.trim().to_ascii_lowercase();
        let heading = heading.trim_start_matches("agent ");
        [
            ("skills to extract", FollowUpCategory::SkillsToExtract),
            ("skill to extract", FollowUpCategory::SkillsToExtract),
            ("evals to add", FollowUpCategory::EvalsToAdd),
            ("eval to add", FollowUpCategory::EvalsToAdd),
            ("guidelines to update", FollowUpCategory::GuidelinesToUpdate),
            ("docs to update", FollowUpCategory::DocsToUpdate),
            ("tech debt", FollowUpCategory::TechDebt),
        ]
        .into_iter()
        .find(|(name, _)| heading.starts_with(name))
        .map(|(_, category)| category)
    }

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            FollowUpCategory::SkillsToExtract => "skill to extract",
            FollowUpCategory::EvalsToAdd => "eval to add",
            FollowUpCategory::GuidelinesToUpdate => "guideline",
            FollowUpCategory::DocsToUpdate => "docs",
            FollowUpCategory::TechDebt => "tech debt",
            FollowUpCategory::Other => "other",
        }
    }
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
    /// The branch it was merged into (`merged into \`main\``), when the event says.
    pub target: Option<String>,
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
    /// When: the event's time, or what a note line tells (see [`scope`]).
    pub at: Option<String>,
    pub text: String,
}

/// Reads the run log and the checklist's notes and returns the findings.
pub fn mine(options: &MineOptions, checklist: Option<&Checklist>) -> Result<Findings, MineError> {
    let mut miner = Miner::default();
    let mut run = options.run.clone().map(scope::RunFilter::new);
    // When each task's note was last replaced by hand: the time of its undated lines.
    let mut note_replaced: HashMap<String, Timestamp> = HashMap::new();
    for item in runlog::stream_events(&options.run_log)? {
        match item? {
            StreamItem::Garbage(_) => miner.findings.unreadable_lines += 1,
            StreamItem::Event(logged) => {
                let event = &logged.event;
                if event.kind == EventKind::Note
                    && event.text.starts_with("task set by hand")
                    && event.text.contains("note replaced")
                    && let Some(task) = &event.task
                {
                    note_replaced.insert(task.as_str().to_string(), event.timestamp);
                }
                if options.since.is_some_and(|since| event.timestamp < since) {
                    continue;
                }
                if let Some(run) = &mut run
                    && !run.keep(event)
                {
                    continue;
                }
                miner.event(logged.line, event);
            }
        }
    }
    let filtered = options.since.is_some() || run.is_some();
    for task in checklist.map_or(&[][..], |checklist| checklist.tasks.as_slice()) {
        let mut dated: Option<Timestamp> = note_replaced.get(&task.task_id).copied();
        for line in task.note.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let own = scope::note_line_time(line);
            let at = own.or(dated);
            if let Some(own) = own {
                dated = Some(dated.map_or(own, |d| d.max(own)));
            }
            if is_machine_note(line) {
                continue;
            }
            if filtered {
                let Some(at) = at else {
                    miner.findings.notes_without_time += 1;
                    continue;
                };
                if options.since.is_some_and(|since| at < since)
                    || run
                        .as_ref()
                        .is_some_and(|run| !run.covers_note(&task.task_id, at))
                {
                    continue;
                }
            }
            miner.intervention(Intervention {
                kind: InterventionKind::TaskNote,
                task: Some(task.task_id.clone()),
                line: None,
                at: at.map(crate::clock::format_timestamp),
                text: line.to_string(),
            });
        }
    }
    miner.findings.follow_ups = read_follow_ups(&options.run_log)?;
    miner.findings.run = run.map(|run| run.scope().clone());
    Ok(miner.finish())
}

/// Fills in every fix's `commit_before` (the first parent of its merged commit), asking git
/// about all of them at once (see [`crate::git::first_parents`]); returns how many were
/// found. When git fails they stay unknown: the findings stand without them, and no eval
/// is proposed for those fixes.
pub fn resolve_bases(root: &Path, findings: &mut Findings) -> Result<usize, crate::git::GitError> {
    let afters: Vec<&str> = findings
        .fixes
        .iter()
        .map(|fix| fix.commit_after.as_deref().unwrap_or(""))
        .collect();
    let mut targets: Vec<&str> = findings
        .fixes
        .iter()
        .filter_map(|fix| fix.target.as_deref())
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let parents = crate::git::first_parents(root, &targets, &afters)?;
    let resolved = parents.iter().filter(|parent| parent.is_some()).count();
    for (fix, parent) in findings.fixes.iter_mut().zip(parents) {
        fix.commit_before = parent;
    }
    Ok(resolved)
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

/// A failure signature: paths, file names, hashes, UUIDs, digests, hex addresses,
/// timestamps and numbers masked, so the same failure on another task, attempt or day reads
/// the same. Hand-written scanning, no regex: it runs once per failure event.
pub fn normalise_signature(text: &str) -> String {
    // The cycle writes `<reason> → <failure.md>`; the evidence path is not the failure.
    let text = text.split(" → ").next().unwrap_or(text);
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::with_capacity(text.len());
    let mut previous_word = "";
    let mut index = 0;
    while index < tokens.len() {
        let token = tokens[index];
        if !out.is_empty() {
            out.push(' ');
        }
        let core = trim_token(token);
        // `Nov 20 10:00:00` (syslog) and `2026-11-20 10:00:00`: one `<time>`.
        if is_month(core)
            && let (Some(day), Some(clock)) = (tokens.get(index + 1), tokens.get(index + 2))
            && is_day(trim_token(day))
            && is_clock(trim_token(clock))
        {
            out.push_str(&replace_core(clock, "<time>"));
            index += 3;
            previous_word = "";
            continue;
        }
        if looks_like_timestamp(core) {
            match tokens.get(index + 1) {
                Some(clock) if core.len() == 10 && is_clock(trim_token(clock)) => {
                    out.push_str(&replace_core(clock, "<time>"));
                    index += 2;
                }
                _ => {
                    out.push_str(&replace_core(token, "<time>"));
                    index += 1;
                }
            }
            previous_word = "";
            continue;
        }
        if is_path(core) || is_file_name(core) {
            out.push_str(&replace_core(token, "<path>"));
        } else if is_clock(core) && core.matches(':').count() >= 2 {
            out.push_str(&replace_core(token, "<time>"));
        } else {
            mask_words(token, previous_word, &mut out);
        }
        previous_word = last_word(token);
        index += 1;
    }
    out
}

/// Punctuation around a token that is not part of what it names.
fn trim_token(token: &str) -> &str {
    token.trim_matches(is_token_punctuation)
}

fn is_token_punctuation(c: char) -> bool {
    "`'\"()[]{},;:.<>".contains(c)
}

/// `token` with its core (see [`trim_token`]) replaced by `mask`.
fn replace_core(token: &str, mask: &str) -> String {
    let start = token.len() - token.trim_start_matches(is_token_punctuation).len();
    let end = token
        .trim_end_matches(is_token_punctuation)
        .len()
        .max(start);
    format!("{}{mask}{}", &token[..start], &token[end..])
}

fn is_month(word: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    word.len() == 3 && MONTHS.iter().any(|month| word.eq_ignore_ascii_case(month))
}

fn is_day(word: &str) -> bool {
    (1..=2).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_digit())
}

/// `10:00`, `10:00:00`, `10:00:00.123`, `10:00:00Z`, `10:00:00+01:00`.
fn is_clock(word: &str) -> bool {
    let bytes = word.as_bytes();
    let hour = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&hour) || bytes.get(hour) != Some(&b':') {
        return false;
    }
    let rest = &bytes[hour + 1..];
    rest.len() >= 2
        && rest[..2].iter().all(u8::is_ascii_digit)
        && rest[2..]
            .iter()
            .all(|b| b.is_ascii_digit() || b":.,+-Z".contains(b))
}

/// A date, alone or starting a timestamp: `2026-11-20`, `2026-11-20T10:00:00Z`.
fn looks_like_timestamp(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..10].iter().all(u8::is_ascii_digit)
}

/// A Unix path (`src/a.rs`, `/tmp/x`) or a Windows one (`C:\src\a.rs`, `\\server\share`,
/// `src\a.rs`).
fn is_path(core: &str) -> bool {
    if core.contains('/') {
        return true;
    }
    let bytes = core.as_bytes();
    if bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && &bytes[1..3] == b":\\" {
        return true;
    }
    if core.starts_with("\\\\") || core.starts_with(".\\") {
        return true;
    }
    let name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-';
    bytes
        .windows(3)
        .any(|w| w[1] == b'\\' && name_byte(w[0]) && name_byte(w[2]))
}

/// A file name with an extension: `main.rs:12`, `lib.rs:40:7` (any extension when a line
/// number follows), or `config.yaml` (a known extension).
fn is_file_name(core: &str) -> bool {
    let (name, line) = match core.split_once(':') {
        Some((name, line)) => (name, Some(line)),
        None => (core, None),
    };
    if let Some(line) = line {
        let mut parts = line.split(':');
        let numeric = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !parts.next().is_some_and(numeric) || !parts.next().is_none_or(numeric) {
            return false;
        }
        if parts.next().is_some() {
            return false;
        }
    }
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    let stem_ok = !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    let extension_ok = (1..=8).contains(&extension.len())
        && extension.starts_with(|c: char| c.is_ascii_alphabetic())
        && extension.bytes().all(|b| b.is_ascii_alphanumeric());
    stem_ok && extension_ok && (line.is_some() || KNOWN_EXTENSIONS.contains(&extension))
}

/// Extensions that make a bare `name.ext` a file name without a line number after it.
const KNOWN_EXTENSIONS: &[&str] = &[
    "c", "cc", "cfg", "cjs", "cpp", "cs", "css", "csv", "dart", "ex", "exs", "go", "h", "hpp",
    "hs", "html", "ini", "java", "js", "json", "jsx", "kt", "lock", "log", "lua", "md", "mjs",
    "ml", "php", "proto", "py", "rb", "rs", "scala", "scss", "sh", "sql", "svelte", "swift",
    "toml", "ts", "tsx", "txt", "vue", "xml", "yaml", "yml", "zig",
];

/// Digest algorithms kept as written: `sha256:<hash>` reads better than `sha#:<hash>`.
const ALGORITHMS: &[&str] = &[
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake3",
];

/// Keys whose value is a commit or object id even when it has no digit: `commit=abcdefa`.
const HASH_KEYS: &[&str] = &["commit", "tree", "sha", "hash", "rev", "head", "base", "id"];

/// Masks the words of one token into `out`: UUIDs as `<uuid>`, `0x` numbers as `<hex>`, hex
/// words as `<hash>` (7 or more hex digits with a digit among them, 8 or more without, any
/// 7 or more after a [`HASH_KEYS`] key), and every other run of digits as `#`.
fn mask_words(token: &str, previous_word: &str, out: &mut String) {
    let bytes = token.as_bytes();
    let mut key = previous_word;
    let mut at = 0;
    while at < bytes.len() {
        if !bytes[at].is_ascii_alphanumeric() {
            let next = bytes[at..]
                .iter()
                .position(u8::is_ascii_alphanumeric)
                .map_or(bytes.len(), |n| at + n);
            out.push_str(&token[at..next]);
            at = next;
            continue;
        }
        if let Some(length) = uuid_at(&bytes[at..]) {
            out.push_str("<uuid>");
            at += length;
            key = "";
            continue;
        }
        let end = bytes[at..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |n| at + n);
        let word = &token[at..end];
        out.push_str(&mask_word(word, key));
        key = word;
        at = end;
    }
}

fn mask_word(word: &str, key: &str) -> String {
    let bytes = word.as_bytes();
    if bytes.len() >= 3
        && bytes[0] == b'0'
        && (bytes[1] | 0x20) == b'x'
        && bytes[2..].iter().all(u8::is_ascii_hexdigit)
    {
        return "<hex>".to_string();
    }
    if ALGORITHMS
        .iter()
        .any(|name| word.eq_ignore_ascii_case(name))
    {
        return word.to_string();
    }
    if bytes.len() >= 7 && bytes.iter().all(u8::is_ascii_hexdigit) {
        let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
        let after_key = HASH_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k));
        let letters = bytes.len() - digits;
        if after_key || (digits > 0 && letters > 0) || (digits == 0 && bytes.len() >= 8) {
            return "<hash>".to_string();
        }
    }
    mask_numbers(word)
}

/// The length of a UUID (`8-4-4-4-12` hex digits) at the start of `bytes`.
fn uuid_at(bytes: &[u8]) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    if bytes.len() < 36 {
        return None;
    }
    let mut at = 0;
    for (index, length) in GROUPS.iter().enumerate() {
        if !bytes[at..at + length].iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        at += length;
        if index < GROUPS.len() - 1 {
            if bytes[at] != b'-' {
                return None;
            }
            at += 1;
        }
    }
    match bytes.get(at) {
        Some(b) if b.is_ascii_alphanumeric() => None,
        _ => Some(at),
    }
}

/// The last alphanumeric word of a token: `commit` of `(commit`, `tree` of `tree`.
fn last_word(token: &str) -> &str {
    let trimmed = token.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    let start = trimmed
        .rfind(|c: char| !c.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    &trimmed[start..]
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

/// The branch of a cycle merge event: `merged into \`main\` as ...`.
pub fn merge_target(text: &str) -> Option<String> {
    let rest = text.strip_prefix("merged into `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The field longrun adds to what an agent inside a worker writes with `longrun log` or
/// `longrun task set` (`by=agent`): the log's only other sign of who wrote a line is its
/// form, and an agent's `longrun log note` looks like a person's.
pub const BY_FIELD: &str = "by";

/// The value of [`BY_FIELD`] for an agent in a worker.
pub const BY_AGENT: &str = "agent";

/// One form of an event longrun writes by itself: its kind, how its text starts and, when
/// the start is not enough, what it contains.
struct MachineForm {
    kind: EventKind,
    starts: &'static str,
    contains: &'static str,
}

const fn form(kind: EventKind, starts: &'static str, contains: &'static str) -> MachineForm {
    MachineForm {
        kind,
        starts,
        contains,
    }
}

/// Every event of a kind a person also writes (note, decision, evidence, fix, approve,
/// reject) that longrun writes by itself, by writer. Mining reads them as what they are, not
/// as a person's intervention. Logs written before [`BY_FIELD`] existed are read the same.
const MACHINE_FORMS: &[MachineForm] = &[
    // cycle/gates.rs: notifications.
    form(EventKind::Note, "notify `", ""),
    form(EventKind::Note, "notifier `", ""),
    // cycle/mod.rs: a merge waiting for the target branch.
    form(EventKind::Note, "merge deferred: ", ""),
    // commands/plan.rs, commands/import.rs, commands/plan_agent.rs.
    form(EventKind::Note, "plan: ", " task(s) added"),
    form(EventKind::Note, "import ", " task(s) added from `"),
    // cycle/gates.rs: governance.
    form(EventKind::Evidence, "vacuous validator: ", ""),
    form(
        EventKind::Decision,
        "dispatched without validators: allowed by ",
        "",
    ),
    form(
        EventKind::Decision,
        "validated candidate ",
        " awaits approval",
    ),
    form(
        EventKind::Decision,
        "unvalidated candidate ",
        " awaits approval",
    ),
    // cycle/gates.rs: an approval record no person's event accounts for.
    form(EventKind::Evidence, "the before record of `", " has no `"),
    form(EventKind::Evidence, "the after record of `", " has no `"),
    // cycle/gates.rs, commands/resume.rs: the run budgets count in.
    form(
        EventKind::Decision,
        "run started at ",
        ": per-run budgets count from here",
    ),
    form(EventKind::Decision, "run ended: every task is complete", ""),
    form(EventKind::Decision, "budget: dispatch resumes: ", ""),
    form(
        EventKind::Decision,
        "new run (`longrun resume --new-run`)",
        "",
    ),
    form(
        EventKind::Decision,
        "held before dispatch until a person approves",
        "",
    ),
    form(EventKind::Approve, "the approval of ", " no longer counts"),
    // commands/heartbeat.rs, commands/release.rs: a token that is not the claim's.
    form(EventKind::Reject, "heartbeat refused: ", ""),
    form(EventKind::Reject, "release refused: ", ""),
    // commands/stop.rs, commands/resume.rs: the kill switch.
    form(EventKind::Decision, "kill switch on (`longrun stop`)", ""),
    form(
        EventKind::Decision,
        "kill switch off (`longrun resume`)",
        "",
    ),
    form(
        EventKind::Decision,
        "worker of attempt ",
        "stopped by `longrun stop --kill`",
    ),
    // commands/mine.rs: `mine --apply`.
    form(EventKind::Decision, "mine applied ", ""),
];

/// Whether longrun (or an agent in a worker) wrote `event` rather than a person.
pub fn machine_written(event: &crate::state::runlog::Event) -> bool {
    if event.field(BY_FIELD) == Some(BY_AGENT) || event.field("operation").is_some() {
        return true;
    }
    MACHINE_FORMS.iter().any(|form| {
        form.kind == event.kind
            && event.text.starts_with(form.starts)
            && event.text.contains(form.contains)
    })
}

/// What kind of human intervention `event` is, if it is one: `longrun approve` and
/// `longrun reject`, `longrun task set` by hand, and what a person logged.
pub fn intervention_kind(event: &crate::state::runlog::Event) -> Option<InterventionKind> {
    if machine_written(event) {
        return None;
    }
    match event.kind {
        EventKind::Approve => Some(InterventionKind::Approval),
        EventKind::Reject => Some(InterventionKind::Rejection),
        EventKind::Note if event.text.starts_with("task set by hand") => {
            Some(InterventionKind::HandEdit)
        }
        EventKind::Note | EventKind::Decision | EventKind::Fix | EventKind::Evidence => {
            Some(InterventionKind::Steering)
        }
        _ => None,
    }
}

/// The starts of the note lines longrun writes into a task's `note`, after an optional
/// timestamp (cycle/mod.rs, cycle/dispatch.rs, cycle/gates.rs, commands/approve.rs).
const MACHINE_NOTES: &[(&str, &str)] = &[
    ("vacuous validator: ", ""),
    ("validated candidate ", " awaits approval"),
    (
        "no validators: dispatched because ",
        " allows missing validators",
    ),
    ("unvalidated candidate ", " awaits approval"),
    ("not dispatched: ", ""),
    ("the approval of ", " no longer counts"),
    ("held before dispatch until a person approves", ""),
    // `longrun approve` before dispatch: the approval is its own event.
    ("dispatch approved by ", ""),
    ("dispatch rejected by ", ""),
];

/// Whether a line of a task's note is one longrun wrote.
fn is_machine_note(line: &str) -> bool {
    let text = match line.split_once(' ') {
        Some((first, rest)) if looks_like_timestamp(first) => rest,
        _ => line,
    };
    // `attempt <n>: ...`: the outcome of an attempt.
    let attempt = text.strip_prefix("attempt ").is_some_and(|rest| {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(':')
    });
    attempt
        || MACHINE_NOTES
            .iter()
            .any(|(starts, contains)| text.starts_with(starts) && text.contains(contains))
}

#[derive(Default)]
struct Miner {
    findings: Findings,
    /// By signature: the group, its tasks gathered in `tasks` (sorted and deduplicated at
    /// the end; a set per group costs more than a group seen once).
    groups: HashMap<String, FailureGroup>,
    /// Per task and validator: the first failure of the current streak and how many.
    open_failures: HashMap<(String, String), (FixPair, usize)>,
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
                let target = merge_target(&event.text);
                let attempt = event.field("attempt").and_then(|a| a.parse().ok());
                for validator in passed_validators(&event.text) {
                    if let Some((mut pair, failures)) =
                        self.open_failures.remove(&(task.clone(), validator))
                    {
                        pair.fixed_attempt = attempt;
                        pair.fix_line = line;
                        pair.failures = failures;
                        pair.commit_after = commit.clone();
                        pair.target = target.clone();
                        self.findings.fixes.push(pair);
                    }
                }
            }
            _ => {
                if let Some(kind) = intervention_kind(event) {
                    self.logged(kind, line, event, task);
                }
            }
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
        let timestamp = crate::clock::format_timestamp(event.timestamp);
        // Looked up before inserting: a failure that repeats (most do) costs no copy of its
        // signature. The group's own `signature` is filled in from the key at the end.
        if !self.groups.contains_key(&signature) {
            let group = FailureGroup {
                signature: String::new(),
                validator: validator.clone(),
                count: 0,
                tasks: Vec::new(),
                first_seen: timestamp.clone(),
                last_seen: String::new(),
                examples: Vec::new(),
            };
            self.groups.insert(signature.clone(), group);
        }
        let Some(group) = self.groups.get_mut(&signature) else {
            return;
        };
        group.count += 1;
        group.last_seen = timestamp;
        if group.examples.len() < MAX_EXAMPLES {
            group.examples.push(FailureExample {
                line,
                task: task.clone().unwrap_or_default(),
                attempt,
                text: event.render(),
                evidence: evidence.clone(),
            });
        }
        let Some(task) = task else { return };
        // A task failing again and again (the usual streak) is kept once.
        if group.tasks.last() != Some(&task) {
            group.tasks.push(task.clone());
        }
        let Some(validator) = validator else { return };
        let key = (task, validator);
        if let Some((_, count)) = self.open_failures.get_mut(&key) {
            *count += 1;
            return;
        }
        let pair = FixPair {
            task: key.0.clone(),
            validator: key.1.clone(),
            signature,
            failed_attempt: attempt,
            fixed_attempt: None,
            failures: 1,
            failure_line: line,
            fix_line: 0,
            failure_evidence: evidence,
            commit_after: None,
            target: None,
            commit_before: None,
        };
        self.open_failures.insert(key, (pair, 1));
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
            at: Some(crate::clock::format_timestamp(event.timestamp)),
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
            .into_iter()
            .map(|(signature, mut group)| {
                group.signature = signature;
                group.tasks.sort_unstable();
                group.tasks.dedup();
                group
            })
            .collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.signature.cmp(&b.signature)));
        self.findings.failure_group_count = groups.len();
        self.findings.repeated_group_count = groups
            .iter()
            .filter(|group| group.count >= proposals::MIN_REPEATS)
            .count();
        groups.truncate(MAX_GROUPS);
        self.findings.failure_groups = groups;
        self.findings
    }
}

/// The list items of the run log's `## Follow-ups` section (any heading starting with
/// "Follow-up"), read line by line, each with its category. The template's structure: a
/// top-level item naming a category (`- Skills to extract:`), its items nested under it
/// (`  - how to rebase`) or after its colon (`- Evals to add: the retry test`); a top-level
/// item that names no category stands alone.
fn read_follow_ups(path: &Path) -> Result<Vec<FollowUp>, MineError> {
    let file = std::fs::File::open(path).map_err(|source| MineError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut parser = FollowUpParser::default();
    let mut line = Vec::new();
    let mut number = 0;
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
        number += 1;
        parser.line(number, String::from_utf8_lossy(&line).trim_end());
    }
    Ok(parser.items)
}

/// Reads the Follow-ups section one line at a time (see [`read_follow_ups`]).
#[derive(Default)]
struct FollowUpParser {
    inside: bool,
    /// The category the items nested under the last top-level item belong to, and its
    /// heading as written.
    current: Option<(FollowUpCategory, String)>,
    items: Vec<FollowUp>,
}

impl FollowUpParser {
    fn line(&mut self, number: usize, text: &str) {
        if let Some(title) = text.strip_prefix("## ") {
            self.inside = title.trim().to_ascii_lowercase().starts_with("follow-up");
            self.current = None;
            return;
        }
        if !self.inside {
            return;
        }
        let indent = text.len() - text.trim_start().len();
        let Some(item) = text
            .trim_start()
            .strip_prefix("- ")
            .or_else(|| text.trim_start().strip_prefix("* "))
            .map(str::trim)
        else {
            return;
        };
        if indent > 0 {
            // Nested: an item of the category above, or a detail of a plain item.
            let (category, heading) = match &self.current {
                Some((category, heading)) => (*category, Some(heading.clone())),
                None => (FollowUpCategory::Other, None),
            };
            self.push(number, category, heading, item);
            return;
        }
        match item.split_once(':') {
            Some((heading, rest)) if FollowUpCategory::of_heading(heading).is_some() => {
                let category = FollowUpCategory::of_heading(heading).unwrap_or_default();
                let heading = heading.trim().to_string();
                self.push(number, category, Some(heading.clone()), rest);
                self.current = Some((category, heading));
            }
            // Any other `Heading:` with nothing after it is a category of the person's own.
            Some((heading, "")) => {
                self.current = Some((FollowUpCategory::Other, heading.trim().to_string()));
            }
            _ => {
                self.current = None;
                self.push(number, FollowUpCategory::Other, None, item);
            }
        }
    }

    fn push(
        &mut self,
        line: usize,
        category: FollowUpCategory,
        heading: Option<String>,
        text: &str,
    ) {
        let text = text.trim();
        // The template's placeholders (`<fill in>`) are not follow-ups.
        if text.is_empty() || text.starts_with('<') {
            return;
        }
        self.items.push(FollowUp {
            category,
            heading,
            text: text.to_string(),
            line,
        });
    }
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

    /// Each form: two texts that differ only in the masked part read the same, and the
    /// mask is the one named.
    #[test]
    fn signatures_mask_each_common_form() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "segfault at 0x7ffd1234abcd",
                "segfault at 0x55d0aa",
                "segfault at <hex>",
            ),
            (
                "merge failed commit=abc1234f",
                "merge failed commit=0099ffee",
                "merge failed commit=<hash>",
            ),
            (
                "merge failed commit=abcdefa",
                "merge failed commit=fedcbaa",
                "merge failed commit=<hash>",
            ),
            (
                "object deadbeefcafe missing",
                "object 9fceb02d0ae5 missing",
                "object <hash> missing",
            ),
            (
                "job 123e4567-e89b-12d3-a456-426614174000 died",
                "job 0f8fad5b-d9cb-469f-a165-70867728950e died",
                "job <uuid> died",
            ),
            (
                "image sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 missing",
                "image sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 missing",
                "image sha256:<hash> missing",
            ),
            (
                "panicked at main.rs:12",
                "panicked at lib.rs:40:7",
                "panicked at <path>",
            ),
            (
                "cannot parse config.yaml",
                "cannot parse deploy.yml",
                "cannot parse <path>",
            ),
            (
                "cannot open C:\\Users\\ci\\src\\main.rs",
                "cannot open D:\\build\\lib.rs",
                "cannot open <path>",
            ),
            (
                "Nov 20 10:00:00 host sshd: refused",
                "Dec 1 23:59:59 host sshd: refused",
                "<time> host sshd: refused",
            ),
            (
                "at 2026-11-20 10:00:00 the lock was held",
                "at 2027-01-02 23:59:59 the lock was held",
                "at <time> the lock was held",
            ),
            (
                "timeout after 10:00:00.123",
                "timeout after 09:12:13.5",
                "timeout after <time>",
            ),
        ];
        for (a, b, expected) in cases {
            assert_eq!(normalise_signature(a), *expected, "{a}");
            assert_eq!(normalise_signature(b), *expected, "{b}");
        }
        // What must stay: words, digest names, short numbers as `#`, a plain decimal.
        assert_eq!(
            normalise_signature("test parse_v2 failed 3 times in 1234567 ms"),
            "test parse_v# failed # times in # ms"
        );
        assert_eq!(
            normalise_signature("effaced the defaced facade"),
            "effaced the defaced facade",
            "English words made of hex letters are words"
        );
        assert_eq!(
            normalise_signature("std::io::Error: e.g. v1.2.3"),
            "std::io::Error: e.g. v#.#.#"
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
        assert_eq!(
            (findings.failure_group_count, findings.repeated_group_count),
            (1, 1)
        );
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
        assert_eq!(
            findings.follow_ups,
            [FollowUp {
                category: FollowUpCategory::Other,
                heading: None,
                text: "write the FAQ".to_string(),
                line: 12,
            }]
        );
        assert_eq!(
            short_task_list(&["A".into(), "B".into(), "C".into()], 2),
            "A, B and 1 more"
        );
    }

    #[test]
    fn the_most_frequent_groups_are_kept_and_all_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run-log.md");
        let mut log = String::from("## Events\n");
        for index in 0..MAX_GROUPS + 5 {
            // Words no mask touches: every failure its own group.
            let word: String = index
                .to_string()
                .bytes()
                .map(|digit| (b'g' + digit - b'0') as char)
                .collect();
            log.push_str(&format!(
                "- 2026-11-20T10:00:00Z failure [T1]: symbol {word} missing\n"
            ));
        }
        log.push_str("- 2026-11-20T10:00:00Z failure [T2]: symbol g missing\n");
        std::fs::write(&path, log).unwrap();
        let options = MineOptions {
            run_log: path,
            since: None,
            run: None,
        };
        let findings = mine(&options, None).unwrap();
        assert_eq!(findings.failure_group_count, MAX_GROUPS + 5);
        assert_eq!(findings.repeated_group_count, 1);
        assert_eq!(findings.failure_groups.len(), MAX_GROUPS);
        assert_eq!(findings.failure_groups[0].signature, "symbol g missing");
        assert_eq!(findings.failure_groups[0].tasks, ["T1", "T2"]);
    }

    /// One line of each form longrun writes by itself, and the person's forms next to them.
    #[test]
    fn only_a_persons_events_are_interventions() {
        let kind = |line: &str| {
            let event = crate::state::runlog::Event::parse_line(line).unwrap();
            intervention_kind(&event)
        };
        for line in [
            "- 2026-11-21T09:00:00Z note [T1]: notify `blocked` started → .longrun/notify/x",
            "- 2026-11-21T09:00:00Z note [T1]: notify `blocked` not sent: bad template",
            "- 2026-11-21T09:00:00Z note: notifier `20261121T090000Z-0-blocked` exited 3",
            "- 2026-11-21T09:00:00Z note [T1]: merge deferred: `main` moved",
            "- 2026-11-21T09:00:00Z note: plan: 2 task(s) added from `plan.md`, 0 status(es) updated, 0 kept, 0 gone from the source",
            "- 2026-11-21T09:00:00Z note: import ralph: 2 task(s) added from `prd.json`, 0 status(es) updated, 0 kept, 0 gone from the source",
            "- 2026-11-21T09:00:00Z note agent=planner: plan: `prd.md` planned by agent `planner`: replaced `plan.md`; 1 task(s) added",
            "- 2026-11-21T09:00:00Z evidence [T1]: vacuous validator: `true` already passes on `main` (abc) before any work",
            "- 2026-11-21T09:00:00Z decision [T1]: dispatched without validators: allowed by --allow-missing-validators (nothing but the fast loop proves it)",
            "- 2026-11-21T09:00:00Z decision [T1] attempt=1 commit=abc: validated candidate abc awaits approval (`x` passed): `longrun approve T1` or `longrun reject T1 --reason ...`",
            "- 2026-11-21T09:00:00Z decision [T1]: held before dispatch until a person approves: `longrun approve T1`",
            "- 2026-11-21T09:00:00Z approve [T1]: the approval of abc by Ada no longer counts: the task branch is now at def",
            "- 2026-11-21T09:00:00Z reject [T1] operation=heartbeat token=0123456789ab: heartbeat refused: token `0123456789ab` is not the current claim",
            "- 2026-11-21T09:00:00Z reject [T1] operation=release token=0123456789ab status=complete: release refused: not claimed",
            "- 2026-11-21T09:00:00Z decision: kill switch on (`longrun stop`): cycles dispatch nothing",
            "- 2026-11-21T09:00:00Z decision: kill switch off (`longrun resume`): cycles dispatch again",
            "- 2026-11-21T09:00:00Z decision [T1]: worker of attempt 2 stopped by `longrun stop --kill`",
            "- 2026-11-21T09:00:00Z decision proposal=x: mine applied eval `t1`: installed `evals/t1.yaml` from `x`",
            "- 2026-11-21T09:00:00Z note [T1] by=agent: the parser needs a lookahead",
            "- 2026-11-21T09:00:00Z note [T1] by=agent status=blocked: task set by hand: status → blocked",
            "- 2026-11-21T09:00:00Z block [T1]: budget: not dispatched: over budget",
        ] {
            assert_eq!(kind(line), None, "{line}");
        }
        for (line, expected) in [
            (
                "- 2026-11-21T09:00:00Z approve [T1] stage=after commit=abc: merge approved by Ada at commit abc: looks right",
                InterventionKind::Approval,
            ),
            (
                "- 2026-11-21T09:00:00Z reject [T1] stage=after commit=abc: merge rejected by Ada at commit abc: naming is off",
                InterventionKind::Rejection,
            ),
            (
                "- 2026-11-21T09:00:00Z reject [T1]: the naming is off, redo it",
                InterventionKind::Rejection,
            ),
            (
                "- 2026-11-21T09:00:00Z note [T1] status=blocked: task set by hand: status → blocked",
                InterventionKind::HandEdit,
            ),
            (
                "- 2026-11-21T09:00:00Z note [T1]: use the v2 API",
                InterventionKind::Steering,
            ),
            (
                "- 2026-11-21 09:00 decision: plan the import before the parser",
                InterventionKind::Steering,
            ),
            (
                "- 2026-11-21 09:00 note: plan: the parser first, then the printer",
                InterventionKind::Steering,
            ),
            (
                "- 2026-11-21 09:00 evidence: vacuous tests found by hand in `a.rs`",
                InterventionKind::Steering,
            ),
        ] {
            assert_eq!(kind(line), Some(expected), "{line}");
        }
    }

    #[test]
    fn follow_ups_keep_the_templates_categories_and_nested_items() {
        let mut parser = FollowUpParser::default();
        // Lines, not one literal: a `\` line continuation would eat the indentation.
        let text = [
            "# Run log",
            "",
            "## Follow-ups",
            "- Skills to extract:",
            "  - how to rebase a task branch",
            "  * bisect a flaky test",
            "- Evals to add: the retry test from T3",
            "- Agent guidelines to update (`AGENTS.md`):",
            "    - run `make lint` before committing",
            "- Docs to update:",
            "- Tech debt spotted:",
            "  - <fill in>",
            "  - the parser copies every line",
            "- Questions:",
            "  - who owns the CI?",
            "- a plain item: with a colon",
            "  - its detail",
            "",
            "## Events (append-only)",
            "- 2026-11-20T10:00:00Z note: not a follow-up",
        ]
        .join("\n");
        for (index, line) in text.lines().enumerate() {
            parser.line(index + 1, line);
        }
        let items: Vec<(FollowUpCategory, Option<&str>, &str, usize)> = parser
            .items
            .iter()
            .map(|item| {
                (
                    item.category,
                    item.heading.as_deref(),
                    item.text.as_str(),
                    item.line,
                )
            })
            .collect();
        use FollowUpCategory::*;
        assert_eq!(
            items,
            [
                (
                    SkillsToExtract,
                    Some("Skills to extract"),
                    "how to rebase a task branch",
                    5
                ),
                (
                    SkillsToExtract,
                    Some("Skills to extract"),
                    "bisect a flaky test",
                    6
                ),
                (
                    EvalsToAdd,
                    Some("Evals to add"),
                    "the retry test from T3",
                    7
                ),
                (
                    GuidelinesToUpdate,
                    Some("Agent guidelines to update (`AGENTS.md`)"),
                    "run `make lint` before committing",
                    9
                ),
                (
                    TechDebt,
                    Some("Tech debt spotted"),
                    "the parser copies every line",
                    13
                ),
                (Other, Some("Questions"), "who owns the CI?", 15),
                (Other, None, "a plain item: with a colon", 16),
                (Other, None, "its detail", 17),
            ]
        );
    }

    #[test]
    fn cycle_notes_are_not_steering() {
        for line in [
            "2026-11-21T09:00:00Z attempt 2: validator `x` exited 1",
            "2026-11-21T09:00:00Z attempt 3: merged as abc after `x` exit 0",
            "2026-11-21T09:00:00Z vacuous validator: `true` already passes",
            "2026-11-21T09:00:00Z validated candidate abc awaits approval (`x` passed)",
            "no validators: dispatched because --allow-missing-validators allows missing validators",
            "not dispatched: the task has no validators (fail closed)",
            "the approval of abc by Ada no longer counts: the task branch is now at def",
            "held before dispatch until a person approves: `longrun approve T1`",
            "dispatch approved by Ada <ada@example.com>",
            "dispatch rejected by Ada <ada@example.com>: too risky",
        ] {
            assert!(is_machine_note(line), "{line}");
        }
        for line in [
            "use the new API, not the old one",
            "attempt the migration only after T2: it needs the schema",
            "2026-11-21T09:00:00Z talked to Ada: keep the old flag",
        ] {
            assert!(!is_machine_note(line), "{line}");
        }
    }
}
