//! `run-log.md`, the append-only audit trail: the one-line event format, a pure parser that
//! reports lines it cannot read instead of failing, appends under a lock, a backward tail
//! reader and a streaming reader for logs too long to load whole.
//!
//! This module never prints, never spawns a process and never reads the environment. It only
//! ever adds lines: the bytes of every existing line stay as they were, and a run log that
//! does not exist is an error (creating one from the template is the caller's decision).
//!
//! An event is one line:
//!
//! ```text
//! - 2026-11-21T09:14:03Z failure [T003] attempt=2: validator `cargo test` exited 101
//! ```
//!
//! `- <timestamp> <kind> [<task>] <key=value>*: <text>`. The playbook's hand-written form
//! `- 2026-11-21 09:14 note: text` (minutes, read as UTC) is accepted too. A value with spaces
//! is written in double quotes (`reason="no tests"`); newlines in the text are written as `\n`
//! so one event is always one line.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::Offset;

use crate::fsutil::{self, FsError, MAX_STATE_FILE_BYTES};
use crate::state::model::{EventKind, TaskId, TaskIdError, UnknownValue};

/// The heading written when a run log has no Events section yet (the playbook's wording).
pub const EVENTS_HEADING: &str = "## Events (append-only)";

/// A line longer than this is never an event; the readers skip it without holding it in
/// memory, so one runaway line cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One run-log event. Every field holds only valid values, so [`Event::render`] always
/// produces one line that [`Event::parse_line`] reads back as an equal event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub timestamp: Timestamp,
    pub kind: EventKind,
    pub task: Option<TaskId>,
    /// `key=value` pairs in the order written; a key may repeat.
    pub fields: Vec<(FieldKey, String)>,
    /// Free text; any characters, newlines included (they are escaped when rendered).
    pub text: String,
}

/// The key of a `key=value` pair: a letter, then up to 63 letters, digits, `_`, `-` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldKey(String);

/// Why a string is not a field key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldKeyError {
    #[error("a field key cannot be empty")]
    Empty,
    #[error("field key `{0}` is longer than 64 characters")]
    TooLong(String),
    #[error(
        "field key `{0}` must start with a letter and contain only letters, digits, `_`, `-` and `.`"
    )]
    Invalid(String),
}

/// Why a line of the Events section is not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventLineError {
    #[error("not an event: an event line starts with `- ` and a timestamp")]
    NotAListItem,
    #[error("a template placeholder, not an event")]
    Placeholder,
    #[error("`{0}` is not a timestamp (expected `2026-11-21T09:14:03Z` or `2026-11-21 09:14`)")]
    BadTimestamp(String),
    #[error(transparent)]
    UnknownKind(#[from] UnknownValue),
    #[error("bad task: {0}")]
    BadTask(#[from] TaskIdError),
    #[error("bad field: {0}")]
    BadFieldKey(#[from] FieldKeyError),
    #[error("expected `[task]`, `key=value` or `:` but found `{0}`")]
    UnexpectedToken(String),
    #[error("no `:` ends the event's kind, task and fields")]
    MissingColon,
    #[error("the quoted value of `{0}` has no closing `\"`")]
    UnterminatedQuote(String),
    #[error("line is longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error("line is not valid UTF-8")]
    NotUtf8,
}

/// What a section of the run log is for, from its heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    Context,
    Events,
    FollowUps,
    /// The `# Run log` title and any heading longrun does not know.
    Other,
}

/// A `#` or `##` heading and the lines under it, up to the next such heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: SectionKind,
    /// The heading's text without the `#` marks, e.g. `Events (append-only)`.
    pub title: String,
    /// 1-based line of the heading.
    pub heading_line: usize,
    /// 1-based last line of the section (the heading's line when the section is empty).
    pub last_line: usize,
    /// Byte offset of the heading line.
    heading_offset: usize,
    /// Byte offset just after the last non-blank line (with its newline): where an append
    /// goes, so blank lines before the next heading stay where they are.
    content_end: usize,
}

/// An event and the 1-based line it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub line: usize,
    pub event: Event,
}

/// A line of an Events section that is not an event. It stays in the file untouched; callers
/// report it as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarbageLine {
    pub line: usize,
    /// The line without its newline (lossy when it is not UTF-8, empty when too long).
    pub text: String,
    pub error: EventLineError,
}

/// A parsed run log. Parsing never fails: what is not understood is reported in `garbage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunLog {
    pub sections: Vec<Section>,
    /// Events of every Events section, in file order.
    pub events: Vec<LoggedEvent>,
    pub garbage: Vec<GarbageLine>,
}

/// How an append reached the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendMode {
    /// Events was the last section: one write at the end of the file.
    Appended,
    /// A section followed Events (or there was no Events section): the file was rewritten
    /// atomically with the events inserted.
    Rewritten,
}

/// One item of [`stream_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    Event(LoggedEvent),
    Garbage(GarbageLine),
}

/// A run-log operation that failed; every variant names its file.
#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    #[error("`{path}` does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot append to `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot lock `{path}`")]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    File(FsError),
}

impl RunLogError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            RunLogError::Missing { path }
            | RunLogError::Read { path, .. }
            | RunLogError::Write { path, .. }
            | RunLogError::Lock { path, .. } => path,
            RunLogError::File(error) => error.path(),
        }
    }
}

impl From<FsError> for RunLogError {
    fn from(error: FsError) -> Self {
        if error.is_not_found() {
            RunLogError::Missing {
                path: error.path().to_path_buf(),
            }
        } else {
            RunLogError::File(error)
        }
    }
}

impl FieldKey {
    /// Checks `text` against the field key rules.
    pub fn parse(text: &str) -> Result<FieldKey, FieldKeyError> {
        if text.is_empty() {
            return Err(FieldKeyError::Empty);
        }
        if text.len() > 64 {
            return Err(FieldKeyError::TooLong(text.to_string()));
        }
        let first_ok = text.starts_with(|c: char| c.is_ascii_alphabetic());
        if !first_ok || !text.bytes().all(is_key_byte) {
            return Err(FieldKeyError::Invalid(text.to_string()));
        }
        Ok(FieldKey(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FieldKey {
    type Err = FieldKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldKey::parse(s)
    }
}

impl fmt::Display for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Event {
    /// An event without task or fields. The time is kept to the second: the log is read by
    /// people, and sub-second digits would only make every line longer.
    pub fn new(timestamp: Timestamp, kind: EventKind, text: impl Into<String>) -> Event {
        let timestamp = Timestamp::from_second(timestamp.as_second()).unwrap_or(timestamp);
        Event {
            timestamp,
            kind,
            task: None,
            fields: Vec::new(),
            text: text.into(),
        }
    }

    pub fn with_task(mut self, task: TaskId) -> Event {
        self.task = Some(task);
        self
    }

    /// Adds a `key=value` pair after those already there.
    pub fn with_field(mut self, key: FieldKey, value: impl Into<String>) -> Event {
        self.fields.push((key, value.into()));
        self
    }

    /// The value of the first field named `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field_key, _)| field_key.as_str() == key)
            .map(|(_, value)| value.as_str())
    }

    /// The event as one line, without a newline.
    pub fn render(&self) -> String {
        // Timestamp's Display is RFC 3339 in UTC with `Z`; fractional seconds appear only
        // when present, so whole-second clocks give `2026-11-21T09:14:03Z`.
        let mut line = format!("- {} {}", self.timestamp, self.kind);
        if let Some(task) = &self.task {
            line.push_str(" [");
            line.push_str(task.as_str());
            line.push(']');
        }
        for (key, value) in &self.fields {
            line.push(' ');
            line.push_str(key.as_str());
            line.push('=');
            push_value(&mut line, value);
        }
        line.push(':');
        if !self.text.is_empty() {
            line.push(' ');
            push_escaped_text(&mut line, &self.text);
        }
        line
    }

    /// Reads one event line (without its newline).
    pub fn parse_line(line: &str) -> Result<Event, EventLineError> {
        let rest = line
            .strip_prefix("- ")
            .ok_or(EventLineError::NotAListItem)?
            .trim_start_matches(' ');
        if is_placeholder(rest) {
            return Err(EventLineError::Placeholder);
        }
        let (timestamp, rest) = parse_timestamp(rest)?;
        let rest = rest.trim_start_matches(' ');
        let kind_end = rest.find([' ', ':']).unwrap_or(rest.len());
        // Hand-written playbook lines sometimes capitalise the kind; the kind is still an
        // enum, only its spelling is forgiven.
        let kind: EventKind = rest[..kind_end].to_ascii_lowercase().parse()?;
        let mut rest = &rest[kind_end..];
        let mut task = None;
        let mut fields = Vec::new();
        loop {
            if let Some(after_colon) = rest.strip_prefix(':') {
                let text = after_colon.strip_prefix(' ').unwrap_or(after_colon);
                return Ok(Event {
                    timestamp,
                    kind,
                    task,
                    fields,
                    text: unescape_text(text),
                });
            }
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                return Err(EventLineError::MissingColon);
            }
            if let Some(after_bracket) = rest.strip_prefix('[') {
                let close = after_bracket
                    .find(']')
                    .ok_or_else(|| EventLineError::UnexpectedToken(first_token(rest)))?;
                if task.is_some() || !fields.is_empty() {
                    return Err(EventLineError::UnexpectedToken(first_token(rest)));
                }
                task = Some(TaskId::parse(&after_bracket[..close])?);
                rest = &after_bracket[close + 1..];
                continue;
            }
            let key_end = rest
                .bytes()
                .position(|b| !is_key_byte(b))
                .unwrap_or(rest.len());
            if rest.as_bytes().get(key_end) != Some(&b'=') {
                return Err(EventLineError::UnexpectedToken(first_token(rest)));
            }
            let key = FieldKey::parse(&rest[..key_end])?;
            let after_equals = &rest[key_end + 1..];
            let (value, after_value) = if after_equals.starts_with('"') {
                let (value, after) = parse_quoted(after_equals)
                    .ok_or_else(|| EventLineError::UnterminatedQuote(key.0.clone()))?;
                if !(after.is_empty() || after.starts_with([' ', ':'])) {
                    return Err(EventLineError::UnexpectedToken(first_token(rest)));
                }
                (value, after)
            } else {
                let token_end = after_equals.find(' ').unwrap_or(after_equals.len());
                let token = &after_equals[..token_end];
                // A bare value never ends with `:` (render quotes such values), so a token
                // ending with one closes the header: `attempt=2: text`.
                match token.strip_suffix(':') {
                    Some(value) => (value.to_string(), &after_equals[token_end - 1..]),
                    None => (token.to_string(), &after_equals[token_end..]),
                }
            };
            fields.push((key, value));
            rest = after_value;
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl RunLog {
    /// The last Events section, where appends go.
    pub fn events_section(&self) -> Option<&Section> {
        self.sections
            .iter()
            .rev()
            .find(|section| section.kind == SectionKind::Events)
    }
}

/// Parses run-log text. Never fails: lines of an Events section that are not events are
/// returned in `garbage`; lines of other sections are not looked at beyond their headings.
pub fn parse(text: &str) -> RunLog {
    let mut log = RunLog::default();
    let mut offset = 0;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let line_number = index + 1;
        let line_end = offset + raw_line.len();
        let line = strip_line_ending(raw_line);
        if let Some((_, title)) = heading(line) {
            log.sections.push(Section {
                kind: section_kind(title),
                title: title.to_string(),
                heading_line: line_number,
                last_line: line_number,
                heading_offset: offset,
                content_end: line_end,
            });
        } else if let Some(section) = log.sections.last_mut() {
            section.last_line = line_number;
            if !line.trim().is_empty() {
                section.content_end = line_end;
            }
            if section.kind == SectionKind::Events {
                match classify_event_line(line) {
                    Some(Ok(event)) => log.events.push(LoggedEvent {
                        line: line_number,
                        event,
                    }),
                    Some(Err(error)) => log.garbage.push(GarbageLine {
                        line: line_number,
                        text: line.to_string(),
                        error,
                    }),
                    None => {}
                }
            }
        }
        offset = line_end;
    }
    log
}

/// Reads and parses a whole run log (at most [`MAX_STATE_FILE_BYTES`]). For long logs prefer
/// [`stream_events`] or [`read_last_events`].
pub fn load(path: &Path) -> Result<RunLog, RunLogError> {
    let text = fsutil::read_text(path, MAX_STATE_FILE_BYTES)?;
    Ok(parse(&text))
}

/// Adds one event at the end of the Events section. See [`append_events`].
pub fn append_event(
    path: &Path,
    lock_path: &Path,
    event: &Event,
) -> Result<AppendMode, RunLogError> {
    append_events(path, lock_path, std::slice::from_ref(event))
}

/// Adds `events` at the end of the last Events section, in one write, holding an exclusive
/// lock on `lock_path` (created if missing; a separate file because a rewrite replaces the
/// run log's inode, which would orphan a lock held on the log itself).
///
/// When Events is the last section, the lines are appended with a single write and nothing
/// else is read beyond the tail. When a section follows (the playbook's Follow-ups), the file
/// is read whole and rewritten atomically with the lines inserted before the blank lines that
/// end Events. A run log without an Events section gets one, before Follow-ups or at the end.
/// Existing lines keep their bytes; new lines use the file's line ending. An empty `events`
/// does nothing.
pub fn append_events(
    path: &Path,
    lock_path: &Path,
    events: &[Event],
) -> Result<AppendMode, RunLogError> {
    if events.is_empty() {
        return Ok(AppendMode::Appended);
    }
    let rendered: Vec<String> = events.iter().map(Event::render).collect();
    let _lock = lock_exclusive(lock_path)?;

    let read_error = |source| RunLogError::Read {
        path: path.to_path_buf(),
        source,
    };
    let write_error = |source| RunLogError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = match OpenOptions::new().read(true).append(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(RunLogError::Missing {
                path: path.to_path_buf(),
            });
        }
        Err(error) => return Err(write_error(error)),
    };
    let length = file.metadata().map_err(read_error)?.len();
    let end = inspect_end(&file, length).map_err(read_error)?;

    if end.events_last && !end.last_line_blank {
        let line_ending = if end.crlf { "\r\n" } else { "\n" };
        let mut block = String::new();
        if length > 0 && !end.ends_with_newline {
            block.push_str(line_ending);
        }
        for line in &rendered {
            block.push_str(line);
            block.push_str(line_ending);
        }
        // One write on an O_APPEND handle: the kernel places it at the end of the file as it
        // is at that moment, and every appender holds the lock, so lines never interleave.
        (&file).write_all(block.as_bytes()).map_err(write_error)?;
        file.sync_data().map_err(write_error)?;
        return Ok(AppendMode::Appended);
    }
    drop(file);

    let text = fsutil::read_text(path, MAX_STATE_FILE_BYTES)?;
    let new_text = insert_events(&text, &rendered);
    fsutil::write_atomic(path, new_text.as_bytes())?;
    Ok(AppendMode::Rewritten)
}

/// The last `count` events of the run log, oldest first, read backwards from the end of the
/// file in 64 KiB chunks so a long log is not read whole.
///
/// Sections after Events (Follow-ups) are skipped when their heading is reached. The scan
/// stops once it has `count` events and has either reached their section's heading or read
/// 256 KiB of that section: a section that long is presumed to be Events, since the other
/// sections are a few lines. That presumption is the only way this can differ from
/// [`parse`], and only for a log whose trailing non-Events section holds `count` or more
/// event-shaped lines in more than 256 KiB.
pub fn read_last_events(path: &Path, count: usize) -> Result<Vec<Event>, RunLogError> {
    let file = open_existing(path)?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let read_error = |source| RunLogError::Read {
        path: path.to_path_buf(),
        source,
    };
    let length = file.metadata().map_err(read_error)?.len();
    let mut lines = BackwardLines::new(&file, length);
    // Both lists are newest first. `confirmed` holds events of sections whose Events heading
    // was reached; `open` those of the section the scan is in, whose heading is still above.
    let mut confirmed: Vec<Event> = Vec::new();
    let mut open: Vec<Event> = Vec::new();
    let mut open_bytes: u64 = 0;
    while let Some(line) = lines.next_line().map_err(read_error)? {
        let text = line.text();
        if let Some((_, title)) = text.and_then(heading) {
            if section_kind(title) == SectionKind::Events {
                confirmed.append(&mut open);
            } else {
                open.clear();
            }
            open_bytes = 0;
            if confirmed.len() >= count {
                break;
            }
            continue;
        }
        open_bytes += line.length;
        // Once enough events are in hand only headings matter, so the rest is not parsed.
        if confirmed.len() + open.len() < count
            && let Some(Ok(event)) = text.and_then(classify_event_line)
        {
            open.push(event);
        }
        if confirmed.len() + open.len() >= count && open_bytes >= PRESUME_EVENTS_AFTER_BYTES {
            confirmed.append(&mut open);
            break;
        }
    }
    // At the start of the file the open section is the preamble before any heading: its
    // lines are not events.
    confirmed.truncate(count);
    confirmed.reverse();
    Ok(confirmed)
}

/// Every event and garbage line of the run log in file order, read line by line so a long
/// log is never held in memory whole.
pub fn stream_events(path: &Path) -> Result<EventStream, RunLogError> {
    let file = open_existing(path)?;
    Ok(EventStream {
        path: path.to_path_buf(),
        reader: BufReader::with_capacity(64 * 1024, file),
        line: Vec::new(),
        line_number: 0,
        in_events: false,
        failed: false,
    })
}

/// The iterator of [`stream_events`]. After an I/O error it yields that error once and ends.
#[derive(Debug)]
pub struct EventStream {
    path: PathBuf,
    reader: BufReader<File>,
    line: Vec<u8>,
    line_number: usize,
    in_events: bool,
    failed: bool,
}

impl Iterator for EventStream {
    type Item = Result<StreamItem, RunLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            match self.next_line() {
                Ok(None) => return None,
                Ok(Some(item)) => {
                    if let Some(item) = item {
                        return Some(Ok(item));
                    }
                }
                Err(source) => {
                    self.failed = true;
                    return Some(Err(RunLogError::Read {
                        path: self.path.clone(),
                        source,
                    }));
                }
            }
        }
    }
}

impl EventStream {
    /// Reads one line: `None` at the end, `Some(None)` for a line that yields nothing.
    fn next_line(&mut self) -> io::Result<Option<Option<StreamItem>>> {
        self.line.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.line)?;
        if read == 0 {
            return Ok(None);
        }
        self.line_number += 1;
        let line_number = self.line_number;
        if self.line.last() != Some(&b'\n') && self.line.len() > MAX_LINE_BYTES {
            self.skip_rest_of_line()?;
            return Ok(Some(self.in_events.then(|| {
                StreamItem::Garbage(GarbageLine {
                    line: line_number,
                    text: String::new(),
                    error: EventLineError::TooLong,
                })
            })));
        }
        let Ok(text) = std::str::from_utf8(&self.line) else {
            return Ok(Some(self.in_events.then(|| {
                StreamItem::Garbage(GarbageLine {
                    line: line_number,
                    text: String::from_utf8_lossy(strip_line_ending_bytes(&self.line)).into_owned(),
                    error: EventLineError::NotUtf8,
                })
            })));
        };
        let text = strip_line_ending(text);
        if let Some((_, title)) = heading(text) {
            self.in_events = section_kind(title) == SectionKind::Events;
            return Ok(Some(None));
        }
        if !self.in_events {
            return Ok(Some(None));
        }
        Ok(Some(classify_event_line(text).map(|parsed| match parsed {
            Ok(event) => StreamItem::Event(LoggedEvent {
                line: line_number,
                event,
            }),
            Err(error) => StreamItem::Garbage(GarbageLine {
                line: line_number,
                text: text.to_string(),
                error,
            }),
        })))
    }

    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                return Ok(());
            }
            if let Some(newline) = buffer.iter().position(|&b| b == b'\n') {
                self.reader.consume(newline + 1);
                return Ok(());
            }
            let length = buffer.len();
            self.reader.consume(length);
        }
    }
}

/// How far back the scans go inside one section before presuming it is Events rather than
/// reading on to its heading (see [`read_last_events`]).
const PRESUME_EVENTS_AFTER_BYTES: u64 = 256 * 1024;

/// How much the backward reader reads at a time.
const BACKWARD_CHUNK_BYTES: u64 = 64 * 1024;

fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.')
}

fn first_token(text: &str) -> String {
    text.split(' ').next().unwrap_or_default().to_string()
}

/// The template's `- <YYYY-MM-DD HH:MM> decision: ...` lines: angle brackets around text
/// with no digit. A filled-in `<2026-11-21 09:14>` is not a placeholder; it is reported.
fn is_placeholder(rest: &str) -> bool {
    let Some(inside) = rest.strip_prefix('<') else {
        return false;
    };
    inside
        .find('>')
        .is_some_and(|close| !inside[..close].bytes().any(|b| b.is_ascii_digit()))
}

/// Reads `2026-11-21T09:14:03Z` (any RFC 3339 instant) or the playbook's `2026-11-21 09:14`
/// (read as UTC) from the start of `rest`.
fn parse_timestamp(rest: &str) -> Result<(Timestamp, &str), EventLineError> {
    let bad = |token: &str| EventLineError::BadTimestamp(token.to_string());
    let token_end = rest.find(' ').unwrap_or(rest.len());
    let token = &rest[..token_end];
    let after = &rest[token_end..];
    if token.contains(['T', 't']) {
        let timestamp = token.parse::<Timestamp>().map_err(|_| bad(token))?;
        return Ok((timestamp, after));
    }
    // The playbook form is two tokens; jiff is lenient about widths, so check the shapes.
    let date_shape = token.len() == 10 && token.as_bytes()[4] == b'-';
    let date = date_shape
        .then(|| token.parse::<Date>().ok())
        .flatten()
        .ok_or_else(|| bad(token))?;
    let after_date = after.trim_start_matches(' ');
    let time_end = after_date.find(' ').unwrap_or(after_date.len());
    let time_token = &after_date[..time_end];
    let both = || format!("{token} {time_token}");
    let time_shape = matches!(time_token.len(), 5 | 8) && time_token.as_bytes()[2] == b':';
    let time = time_shape
        .then(|| time_token.parse::<Time>().ok())
        .flatten()
        .ok_or_else(|| EventLineError::BadTimestamp(both()))?;
    let timestamp = Offset::UTC
        .to_timestamp(date.to_datetime(time))
        .map_err(|_| EventLineError::BadTimestamp(both()))?;
    Ok((timestamp, &after_date[time_end..]))
}

/// A bare value is written as is; anything a bare token could not carry is quoted.
fn push_value(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty()
        || value.starts_with('"')
        || value.ends_with(':')
        || value.chars().any(|c| c.is_whitespace() || needs_escape(c));
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => push_char_escaped(out, c),
        }
    }
    out.push('"');
}

/// Reads a quoted value starting at `"`; returns it and the text after the closing quote.
fn parse_quoted(text: &str) -> Option<(String, &str)> {
    let inside = text.strip_prefix('"')?;
    let mut value = String::new();
    let mut index = 0;
    loop {
        let offset = inside[index..].find(['"', '\\'])?;
        value.push_str(&inside[index..index + offset]);
        index += offset;
        let rest = &inside[index..];
        if rest.starts_with('"') {
            return Some((value, &inside[index + 1..]));
        }
        match rest[1..].chars().next() {
            Some(quoted @ ('"' | '\\')) => {
                value.push(quoted);
                index += 2;
            }
            _ => index += unescape_one(rest, &mut value),
        }
    }
}

/// Characters that would break the one-line form or hide in a terminal: line breaks
/// (including the Unicode ones some editors honour) and control characters other than tab.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

fn push_char_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// Escapes the free text. Backslashes are doubled only where the reader would otherwise take
/// them for an escape, so paths and regexes stay readable (`\d+` is written as is).
fn push_escaped_text(out: &mut String, text: &str) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let ambiguous = chars
                .peek()
                .is_some_and(|&next| matches!(next, '\\' | 'n' | 'r' | 'u') || needs_escape(next));
            out.push_str(if ambiguous { "\\\\" } else { "\\" });
        } else {
            push_char_escaped(out, c);
        }
    }
}

/// Reverses [`push_escaped_text`]: `\\`, `\n`, `\r` and `\u{hex}` are escapes; any other
/// backslash is itself.
fn unescape_text(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while let Some(offset) = text[index..].find('\\') {
        out.push_str(&text[index..index + offset]);
        index += offset;
        if text[index..].starts_with("\\\\") {
            out.push('\\');
            index += 2;
        } else {
            index += unescape_one(&text[index..], &mut out);
        }
    }
    out.push_str(&text[index..]);
    out
}

/// Decodes the escape at the start of `text` (which starts with `\`) other than `\\`;
/// returns how many bytes it used. An unknown escape is a literal backslash.
fn unescape_one(text: &str, out: &mut String) -> usize {
    let rest = &text[1..];
    if rest.starts_with('n') {
        out.push('\n');
        return 2;
    }
    if rest.starts_with('r') {
        out.push('\r');
        return 2;
    }
    if let Some(braced) = rest.strip_prefix("u{")
        && let Some(close) = braced.find('}')
        && (1..=6).contains(&close)
        && let Ok(code) = u32::from_str_radix(&braced[..close], 16)
        && let Some(c) = char::from_u32(code)
    {
        out.push(c);
        return 3 + close + 1;
    }
    out.push('\\');
    1
}

/// `None` for a line that is quietly not an event (blank or a template placeholder).
fn classify_event_line(line: &str) -> Option<Result<Event, EventLineError>> {
    if line.trim().is_empty() {
        return None;
    }
    match Event::parse_line(line) {
        Err(EventLineError::Placeholder) => None,
        parsed => Some(parsed),
    }
}

/// A `#` or `##` heading: its level and text. Deeper headings stay inside their section.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    if !(1..=2).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let title = rest.trim();
    // A closing run of `#` (`## Events ##`) is not part of the title.
    let without_closing = title.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        return Some((level, without_closing.trim_end()));
    }
    Some((level, title))
}

fn section_kind(title: &str) -> SectionKind {
    let lower = title.to_lowercase();
    let mut words = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty());
    match (words.next(), words.next()) {
        (Some("context"), _) => SectionKind::Context,
        (Some("events"), _) => SectionKind::Events,
        (Some("followups" | "followup"), _) | (Some("follow"), Some("ups" | "up")) => {
            SectionKind::FollowUps
        }
        _ => SectionKind::Other,
    }
}

fn strip_line_ending(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn strip_line_ending_bytes(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The line ending of the file: that of the last line before `at` that has one, else of the
/// first line, else `\n`.
fn line_ending_at(text: &str, at: usize) -> &'static str {
    let newline = text[..at].rfind('\n').or_else(|| text.find('\n'));
    match newline {
        Some(index) if index > 0 && text.as_bytes()[index - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

fn ends_with_blank_line(text: &str) -> bool {
    text.is_empty() || text.ends_with("\n\n") || text.ends_with("\n\r\n")
}

/// `text` with `rendered` lines added at the end of its last Events section, or with a new
/// Events section holding them (before Follow-ups, else at the end).
fn insert_events(text: &str, rendered: &[String]) -> String {
    let log = parse(text);
    let insert_at = match log.events_section() {
        Some(events) => events.content_end,
        None => log
            .sections
            .iter()
            .find(|section| section.kind == SectionKind::FollowUps)
            .map_or(text.len(), |section| section.heading_offset),
    };
    let line_ending = line_ending_at(text, insert_at);
    let (before, after) = text.split_at(insert_at);
    let mut out = String::with_capacity(text.len() + rendered.len() * 128 + 64);
    out.push_str(before);
    if !before.is_empty() && !before.ends_with('\n') {
        out.push_str(line_ending);
    }
    let new_section = log.events_section().is_none();
    if new_section {
        if !ends_with_blank_line(&out) {
            out.push_str(line_ending);
        }
        out.push_str(EVENTS_HEADING);
        out.push_str(line_ending);
    }
    for line in rendered {
        out.push_str(line);
        out.push_str(line_ending);
    }
    if new_section && !after.is_empty() {
        // Keep a blank line between the new section and the heading that follows it.
        out.push_str(line_ending);
    }
    out.push_str(after);
    out
}

fn open_existing(path: &Path) -> Result<File, RunLogError> {
    File::open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            RunLogError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            RunLogError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Opens (creating it and its directory if needed) and exclusively locks `lock_path`. The
/// lock lasts as long as the returned handle; the kernel drops it if the process dies.
fn lock_exclusive(lock_path: &Path) -> Result<File, RunLogError> {
    let lock_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunLogError::Lock { path, source }
    };
    if let Some(parent) = lock_path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent).map_err(lock_error(parent))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(lock_path)
        .map_err(lock_error(lock_path))?;
    file.lock().map_err(lock_error(lock_path))?;
    Ok(file)
}

/// What the end of a run log looks like, from a backward scan.
struct EndOfFile {
    /// Events is the last section (or presumed so, see [`read_last_events`]).
    events_last: bool,
    /// The last line is blank, or the file is empty.
    last_line_blank: bool,
    ends_with_newline: bool,
    /// The last line that has a line ending ends with `\r\n`.
    crlf: bool,
}

fn inspect_end(file: &File, length: u64) -> io::Result<EndOfFile> {
    let mut end = EndOfFile {
        events_last: false,
        last_line_blank: true,
        ends_with_newline: false,
        crlf: false,
    };
    let mut lines = BackwardLines::new(file, length);
    let mut first = true;
    let mut line_ending_known = false;
    let mut scanned: u64 = 0;
    // Only the last lines (until the line ending is known) and headings are looked at:
    // the hundreds of kilobytes of events in between are not copied out line by line.
    while let Some(line) =
        lines.next_line_keeping(|bytes| !line_ending_known || bytes.first() == Some(&b'#'))?
    {
        let text = line.text();
        if first {
            first = false;
            end.ends_with_newline = line.has_newline;
            end.last_line_blank = text.is_some_and(|text| text.trim().is_empty());
        }
        if !line_ending_known && line.has_newline && line.bytes.is_some() {
            line_ending_known = true;
            end.crlf = line.crlf;
        }
        if let Some((_, title)) = text.and_then(heading) {
            end.events_last = section_kind(title) == SectionKind::Events;
            return Ok(end);
        }
        scanned += line.length;
        if scanned >= PRESUME_EVENTS_AFTER_BYTES {
            end.events_last = true;
            return Ok(end);
        }
    }
    // The start of the file and no heading: there is no Events section.
    Ok(end)
}

/// A line found by [`BackwardLines`].
struct BackLine {
    /// The line without its line ending; `None` when longer than [`MAX_LINE_BYTES`].
    bytes: Option<Vec<u8>>,
    /// Bytes in the file, line ending included.
    length: u64,
    has_newline: bool,
    crlf: bool,
}

impl BackLine {
    /// The line as text; `None` when too long or not UTF-8 (never an event or heading).
    fn text(&self) -> Option<&str> {
        self.bytes
            .as_deref()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
    }
}

/// Reads a file's lines from last to first, a chunk at a time.
struct BackwardLines<'a> {
    file: &'a File,
    /// The file's bytes from `buffer_start` to `position`: what is read and not yet returned.
    buffer: Vec<u8>,
    buffer_start: u64,
    position: u64,
}

impl<'a> BackwardLines<'a> {
    fn new(file: &'a File, length: u64) -> BackwardLines<'a> {
        BackwardLines {
            file,
            buffer: Vec::new(),
            buffer_start: length,
            position: length,
        }
    }

    fn next_line(&mut self) -> io::Result<Option<BackLine>> {
        self.next_line_keeping(|_| true)
    }

    /// [`BackwardLines::next_line`], with the line's bytes (and so its text) only when
    /// `keep` says so; the others come back as if too long.
    fn next_line_keeping(
        &mut self,
        keep: impl FnOnce(&[u8]) -> bool,
    ) -> io::Result<Option<BackLine>> {
        if self.position == 0 {
            return Ok(None);
        }
        let line_end = self.position;
        if self.buffer_start == line_end {
            self.read_chunk(true)?;
        }
        let has_newline = self.buffer[(line_end - 1 - self.buffer_start) as usize] == b'\n';
        let content_end = if has_newline { line_end - 1 } else { line_end };
        // Search [buffer_start, search_end) for the newline that ends the previous line.
        let mut search_end = content_end;
        let mut too_long = false;
        let line_start = loop {
            let searchable = &self.buffer[..(search_end - self.buffer_start) as usize];
            if let Some(index) = searchable.iter().rposition(|&b| b == b'\n') {
                break self.buffer_start + index as u64 + 1;
            }
            if self.buffer_start == 0 {
                break 0;
            }
            if content_end - self.buffer_start > MAX_LINE_BYTES as u64 {
                too_long = true;
            }
            search_end = self.buffer_start;
            self.read_chunk(!too_long)?;
        };
        // A line that grew past the limit only in its last chunk is too long as well, so
        // this reader and `stream_events` agree on which lines are events.
        let too_long = too_long || content_end - line_start > MAX_LINE_BYTES as u64;
        let bytes = (!too_long)
            .then(|| {
                let start = (line_start - self.buffer_start) as usize;
                let end = (content_end - self.buffer_start) as usize;
                &self.buffer[start..end]
            })
            .filter(|bytes| keep(bytes))
            .map(<[u8]>::to_vec);
        let (bytes, crlf) = match bytes {
            Some(mut bytes) if has_newline && bytes.last() == Some(&b'\r') => {
                bytes.pop();
                (Some(bytes), true)
            }
            bytes => (bytes, false),
        };
        self.position = line_start;
        self.buffer
            .truncate((line_start - self.buffer_start) as usize);
        Ok(Some(BackLine {
            bytes,
            length: line_end - line_start,
            has_newline,
            crlf,
        }))
    }

    /// Reads the chunk before `buffer_start`, keeping what is buffered after it unless the
    /// line being read is already too long to keep.
    fn read_chunk(&mut self, keep: bool) -> io::Result<()> {
        let start = self.buffer_start.saturating_sub(BACKWARD_CHUNK_BYTES);
        let length = (self.buffer_start - start) as usize;
        let mut chunk = vec![0; length];
        let mut file = self.file;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        if keep {
            chunk.extend_from_slice(&self.buffer);
        }
        self.buffer = chunk;
        self.buffer_start = start;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The playbook template, as `templates/run-log.md` holds it.
    const TEMPLATE: &str = "# Run log

## Context
- Repo:
- Branch/worktree:
- Start time:

## Events (append-only)
- <YYYY-MM-DD HH:MM> decision: ...
- <YYYY-MM-DD HH:MM> evidence: ...

## Follow-ups
- Skills to extract:
- Evals to add:
- Agent guidelines to update (`AGENTS.md`):
- Docs to update:
- Tech debt spotted:
";

    /// The playbook's layout, which `longrun init` wrote until session 5: Follow-ups after an
    /// empty Events section, so every append is a rewrite.
    const PLAYBOOK_LAYOUT: &str = "# Run log

Append-only: events are added at the end of the Events section and never edited. Add them
with `longrun log <kind> --task <id> \"...\"`; long output belongs in files under
`.longrun/runs/`, linked from the event.

## Context
- Repo:
- Branch/worktree:
- Start time:

## Events (append-only)

## Follow-ups
- Skills to extract:
- Evals to add:
- Agent guidelines to update (`AGENTS.md`):
- Docs to update:
- Tech debt spotted:
";

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn event(second: i64, text: &str) -> Event {
        Event::new(
            Timestamp::from_second(1_795_000_000 + second).unwrap(),
            EventKind::Note,
            text,
        )
    }

    fn key(text: &str) -> FieldKey {
        FieldKey::parse(text).unwrap()
    }

    fn write_log(dir: &Path, text: &str) -> (PathBuf, PathBuf) {
        let path = dir.join("run-log.md");
        fs::write(&path, text).unwrap();
        (path, dir.join(".longrun/locks/run-log.lock"))
    }

    fn events_of(log: &RunLog) -> Vec<Event> {
        log.events
            .iter()
            .map(|logged| logged.event.clone())
            .collect()
    }

    #[test]
    fn parses_the_design_example() {
        let line = "- 2026-11-21T09:14:03Z failure [T003] attempt=2: validator `cargo test` exited 101 (3 failed) → .longrun/runs/r1/T003/2/validate.log";
        let event = Event::parse_line(line).unwrap();
        assert_eq!(event.timestamp, at("2026-11-21T09:14:03Z"));
        assert_eq!(event.kind, EventKind::Failure);
        assert_eq!(event.task, Some(TaskId::parse("T003").unwrap()));
        assert_eq!(event.field("attempt"), Some("2"));
        assert_eq!(
            event.text,
            "validator `cargo test` exited 101 (3 failed) → .longrun/runs/r1/T003/2/validate.log"
        );
        assert_eq!(event.render(), line);
    }

    #[test]
    fn parses_the_playbook_minute_form_as_utc() {
        let event = Event::parse_line("- 2026-11-21 09:14 decision: use jiff").unwrap();
        assert_eq!(event.timestamp, at("2026-11-21T09:14:00Z"));
        assert_eq!(event.kind, EventKind::Decision);
        assert_eq!(event.task, None);
        assert_eq!(event.text, "use jiff");

        let event = Event::parse_line("- 2026-11-21 09:14:30 Fix [T1] pr=12: done").unwrap();
        assert_eq!(event.timestamp, at("2026-11-21T09:14:30Z"));
        assert_eq!(event.kind, EventKind::Fix);
        assert_eq!(event.field("pr"), Some("12"));
    }

    #[test]
    fn lines_that_are_not_events_say_why() {
        type Check = fn(&EventLineError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("just text", |e| matches!(e, EventLineError::NotAListItem)),
            ("- <YYYY-MM-DD HH:MM> note: ...", |e| {
                matches!(e, EventLineError::Placeholder)
            }),
            ("- <2026-11-21 09:14> note: filled in", |e| {
                matches!(e, EventLineError::BadTimestamp(_))
            }),
            ("- 2026-11-21T09:14:03 note: no zone", |e| {
                matches!(e, EventLineError::BadTimestamp(_))
            }),
            ("- 2026-11-21 9:14 note: short hour", |e| {
                matches!(e, EventLineError::BadTimestamp(_))
            }),
            ("- 2026-11-21T09:14:03Z party: x", |e| {
                matches!(e, EventLineError::UnknownKind(_))
            }),
            ("- 2026-11-21T09:14:03Z note [../x]: x", |e| {
                matches!(e, EventLineError::BadTask(_))
            }),
            (
                "- 2026-11-21T09:14:03Z note maybe: x",
                |e| matches!(e, EventLineError::UnexpectedToken(t) if t == "maybe:"),
            ),
            ("- 2026-11-21T09:14:03Z note 1x=2: x", |e| {
                matches!(e, EventLineError::BadFieldKey(_))
            }),
            (
                "- 2026-11-21T09:14:03Z note a=\"open: x",
                |e| matches!(e, EventLineError::UnterminatedQuote(k) if k == "a"),
            ),
            ("- 2026-11-21T09:14:03Z note a=1", |e| {
                matches!(e, EventLineError::MissingColon)
            }),
            (
                "- 2026-11-21T09:14:03Z note a=1 [T1]: task after field",
                |e| matches!(e, EventLineError::UnexpectedToken(_)),
            ),
        ];
        for (line, expected) in cases {
            let error = Event::parse_line(line).unwrap_err();
            assert!(expected(&error), "{line:?} gave {error:?}");
        }
        let error = Event::parse_line("- 2026-11-21T09:14:03Z party: x").unwrap_err();
        assert!(error.to_string().contains("unknown event kind `party`"));
    }

    #[test]
    fn values_with_spaces_colons_or_quotes_are_quoted() {
        let event = event(0, "text")
            .with_field(key("reason"), "no tests: at all")
            .with_field(key("empty"), "")
            .with_field(key("url"), "http://x:80/a")
            .with_field(key("ends"), "colon:")
            .with_field(key("quote"), "\"hi\" \\ there");
        let line = event.render();
        assert!(
            line.contains(
                r#" reason="no tests: at all" empty="" url=http://x:80/a ends="colon:" quote="\"hi\" \\ there":"#
            ),
            "{line}"
        );
        assert_eq!(Event::parse_line(&line).unwrap(), event);
    }

    #[test]
    fn text_is_always_one_line_and_round_trips() {
        for text in [
            "first\nsecond\r\nthird",
            r"C:\new\path and \d+ and \\server and \u{41}",
            "trailing backslash \\",
            "backslash before newline \\\n!",
            "  leading spaces and tab\t",
            "bell \u{7} and line separator \u{2028}",
        ] {
            let line = event(0, text).render();
            assert!(
                !line.contains(['\n', '\r', '\u{2028}', '\u{7}']),
                "{line:?}"
            );
            assert_eq!(Event::parse_line(&line).unwrap().text, text, "{line:?}");
        }
        let precise = Event::new(at("2026-11-21T09:14:03.25Z"), EventKind::Cost, "x");
        assert!(
            // Kept to the second.
            precise.render().starts_with("- 2026-11-21T09:14:03Z cost:")
        );
        assert_eq!(Event::parse_line(&precise.render()).unwrap(), precise);
        // Backslashes that cannot be mistaken for escapes are written as they are.
        assert!(
            event(0, r"grep '\d+' C:\tmp")
                .render()
                .ends_with(r": grep '\d+' C:\tmp")
        );
        assert!(event(0, "").render().ends_with(" note:"));
    }

    #[test]
    fn the_template_has_sections_and_no_events_or_warnings() {
        let log = parse(TEMPLATE);
        let kinds: Vec<SectionKind> = log.sections.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SectionKind::Other,
                SectionKind::Context,
                SectionKind::Events,
                SectionKind::FollowUps
            ]
        );
        let events = log.events_section().unwrap();
        assert_eq!(events.title, "Events (append-only)");
        assert_eq!((events.heading_line, events.last_line), (8, 11));
        assert!(log.events.is_empty());
        assert!(log.garbage.is_empty(), "{:?}", log.garbage);
    }

    #[test]
    fn garbage_lines_are_reported_with_line_numbers_and_kept() {
        let text = "# Run log\n\n## Events\n- 2026-11-21 09:14 note: one\n  continued by hand\n- 2026-11-21T09:15:00Z bogus: two\n\n- 2026-11-21T09:16:00Z note: three\n\n## Follow-ups\n- not an event, not looked at\n";
        let log = parse(text);
        let lines: Vec<usize> = log.events.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 8]);
        let garbage: Vec<(usize, &str)> = log
            .garbage
            .iter()
            .map(|g| (g.line, g.text.as_str()))
            .collect();
        assert_eq!(
            garbage,
            [
                (5, "  continued by hand"),
                (6, "- 2026-11-21T09:15:00Z bogus: two")
            ]
        );

        let dir = tempfile::tempdir().unwrap();
        let (path, lock) = write_log(dir.path(), text);
        append_event(&path, &lock, &event(0, "four")).unwrap();
        let after = fs::read_to_string(&path).unwrap();
        let expected = text.replace(
            "three\n\n## Follow-ups",
            &format!("three\n{}\n\n## Follow-ups", event(0, "four").render()),
        );
        assert_eq!(after, expected);
    }

    #[test]
    fn append_before_follow_ups_rewrites_and_keeps_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let (path, lock) = write_log(dir.path(), TEMPLATE);
        let first = event(0, "first").with_task(TaskId::parse("T1").unwrap());
        assert_eq!(
            append_event(&path, &lock, &first).unwrap(),
            AppendMode::Rewritten
        );
        let second = [event(1, "second"), event(2, "third")];
        assert_eq!(
            append_events(&path, &lock, &second).unwrap(),
            AppendMode::Rewritten
        );
        let expected = TEMPLATE.replace(
            "evidence: ...\n",
            &format!(
                "evidence: ...\n{}\n{}\n{}\n",
                first.render(),
                second[0].render(),
                second[1].render()
            ),
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);
        let log = load(&path).unwrap();
        assert_eq!(
            events_of(&log),
            [first, second[0].clone(), second[1].clone()]
        );
        assert!(log.garbage.is_empty());
        assert!(lock.exists());
    }

    #[test]
    fn append_to_the_playbook_layout_goes_under_the_empty_events_heading() {
        let log = parse(PLAYBOOK_LAYOUT);
        assert!(log.events.is_empty() && log.garbage.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let (path, lock) = write_log(dir.path(), PLAYBOOK_LAYOUT);
        append_event(&path, &lock, &event(0, "a")).unwrap();
        append_event(&path, &lock, &event(1, "b")).unwrap();
        let expected = PLAYBOOK_LAYOUT.replace(
            "## Events (append-only)\n",
            &format!(
                "## Events (append-only)\n{}\n{}\n",
                event(0, "a").render(),
                event(1, "b").render()
            ),
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);
        assert_eq!(
            read_last_events(&path, 5).unwrap(),
            [event(0, "a"), event(1, "b")]
        );
    }

    #[test]
    fn the_init_template_takes_events_as_appends_to_the_same_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, lock) = write_log(dir.path(), crate::templates::RUN_LOG_MD);
        let inode = fs::metadata(&path).unwrap().ino();
        for index in 0..3 {
            assert_eq!(
                append_event(&path, &lock, &event(index, "x")).unwrap(),
                AppendMode::Appended
            );
        }
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(crate::templates::RUN_LOG_MD));
        assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
        let log = parse(&text);
        assert_eq!(log.events.len(), 3);
        assert!(log.garbage.is_empty());
        assert_eq!(log.sections.last().unwrap().kind, SectionKind::Events);
    }

    #[test]
    fn append_when_events_is_last_writes_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let start = "# Run log\n\n## Context\n- Repo: x\n\n## Events (append-only)\n- <YYYY-MM-DD HH:MM> note: ...\n";
        let (path, lock) = write_log(dir.path(), start);
        assert_eq!(
            append_event(&path, &lock, &event(0, "a")).unwrap(),
            AppendMode::Appended
        );
        assert_eq!(
            append_event(&path, &lock, &event(1, "b")).unwrap(),
            AppendMode::Appended
        );
        let expected = format!(
            "{start}{}\n{}\n",
            event(0, "a").render(),
            event(1, "b").render()
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn append_to_a_file_without_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        // Events last, no final newline: the last line gets its newline, nothing else moves.
        let start = "## Events\n- 2026-11-21 09:14 note: hand written";
        let (path, lock) = write_log(dir.path(), start);
        assert_eq!(
            append_event(&path, &lock, &event(0, "a")).unwrap(),
            AppendMode::Appended
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{start}\n{}\n", event(0, "a").render())
        );

        // Only a heading, no final newline.
        let (path, lock) = write_log(dir.path(), "## Events (append-only)");
        append_event(&path, &lock, &event(0, "a")).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("## Events (append-only)\n{}\n", event(0, "a").render())
        );

        // Follow-ups last, no final newline: inserted inside Events, the tail kept as is.
        let start = "## Events\n- 2026-11-21 09:14 note: x\n\n## Follow-ups\n- Docs to update:";
        let (path, lock) = write_log(dir.path(), start);
        assert_eq!(
            append_event(&path, &lock, &event(0, "a")).unwrap(),
            AppendMode::Rewritten
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            start.replace(": x\n", &format!(": x\n{}\n", event(0, "a").render()))
        );
    }

    #[test]
    fn trailing_blank_lines_after_the_last_event_stay_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let start = "## Events\n- 2026-11-21 09:14 note: x\n\n\n";
        let (path, lock) = write_log(dir.path(), start);
        assert_eq!(
            append_event(&path, &lock, &event(0, "a")).unwrap(),
            AppendMode::Rewritten
        );
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "## Events\n- 2026-11-21 09:14 note: x\n{}\n\n\n",
                event(0, "a").render()
            )
        );
    }

    #[test]
    fn a_missing_events_section_is_added_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let line = event(0, "a").render();

        let start = "# Run log\n\n## Context\n- Repo: x\n\n## Follow-ups\n- Docs to update:\n";
        let (path, lock) = write_log(dir.path(), start);
        append_event(&path, &lock, &event(0, "a")).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            start.replace(
                "## Follow-ups",
                &format!("## Events (append-only)\n{line}\n\n## Follow-ups")
            )
        );

        let start = "# Run log\n\n## Context\n- Repo: x";
        let (path, lock) = write_log(dir.path(), start);
        append_event(&path, &lock, &event(0, "a")).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{start}\n\n## Events (append-only)\n{line}\n")
        );

        let (path, lock) = write_log(dir.path(), "");
        append_event(&path, &lock, &event(0, "a")).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("## Events (append-only)\n{line}\n")
        );
    }

    #[test]
    fn a_crlf_file_gets_crlf_lines() {
        let dir = tempfile::tempdir().unwrap();
        let line = event(0, "a").render();
        let (path, lock) = write_log(dir.path(), "## Events\r\n- 2026-11-21 09:14 note: x\r\n");
        assert_eq!(
            append_event(&path, &lock, &event(0, "a")).unwrap(),
            AppendMode::Appended
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("## Events\r\n- 2026-11-21 09:14 note: x\r\n{line}\r\n")
        );
        let (path, lock) = write_log(dir.path(), &TEMPLATE.replace('\n', "\r\n"));
        append_event(&path, &lock, &event(0, "a")).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!("evidence: ...\r\n{line}\r\n\r\n## Follow-ups")));
        assert_eq!(events_of(&parse(&text)), [event(0, "a")]);
    }

    #[test]
    fn a_missing_run_log_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run-log.md");
        let lock = dir.path().join("run-log.lock");
        for error in [
            append_event(&path, &lock, &event(0, "a")).unwrap_err(),
            read_last_events(&path, 3).unwrap_err(),
            stream_events(&path).unwrap_err(),
            load(&path).unwrap_err(),
        ] {
            assert!(matches!(error, RunLogError::Missing { .. }), "{error:?}");
            assert_eq!(error.path(), path);
            assert!(error.to_string().contains("run-log.md"));
        }
        assert!(!path.exists());
    }

    fn concurrent_appends(start: &str, threads: usize, per_thread: usize) {
        let dir = tempfile::tempdir().unwrap();
        let (path, lock) = write_log(dir.path(), start);
        std::thread::scope(|scope| {
            for thread in 0..threads {
                let (path, lock) = (&path, &lock);
                scope.spawn(move || {
                    for index in 0..per_thread {
                        let event = event(index as i64, "concurrent\nappend")
                            .with_field(key("thread"), thread.to_string())
                            .with_field(key("index"), index.to_string());
                        append_event(path, lock, &event).unwrap();
                    }
                });
            }
        });
        let text = fs::read_to_string(&path).unwrap();
        let log = parse(&text);
        assert!(log.garbage.is_empty(), "{:?}", log.garbage);
        let mut seen: Vec<(usize, usize)> = log
            .events
            .iter()
            .map(|logged| {
                assert_eq!(logged.event.text, "concurrent\nappend");
                let field = |name| logged.event.field(name).unwrap().parse().unwrap();
                (field("thread"), field("index"))
            })
            .collect();
        seen.sort_unstable();
        let expected: Vec<(usize, usize)> = (0..threads)
            .flat_map(|thread| (0..per_thread).map(move |index| (thread, index)))
            .collect();
        assert_eq!(seen, expected);
        // Without the new lines the file is what it was, byte for byte.
        let without_new: String = text
            .split_inclusive('\n')
            .filter(|line| Event::parse_line(strip_line_ending(line)).is_err())
            .collect();
        assert_eq!(without_new, start);
    }

    #[test]
    fn concurrent_appends_in_place_all_land_whole() {
        concurrent_appends("# Run log\n\n## Events (append-only)\n", 8, 50);
    }

    #[test]
    fn concurrent_appends_before_follow_ups_all_land_whole() {
        concurrent_appends(TEMPLATE, 8, 10);
    }

    /// A log with `count` events, optionally followed by Follow-ups holding an event-shaped
    /// line that is not an event.
    fn generated_log(count: usize, follow_ups: bool) -> (String, Vec<Event>) {
        let mut text = String::from(TEMPLATE.split("## Follow-ups").next().unwrap().trim_end());
        text.push('\n');
        let mut events = Vec::with_capacity(count);
        for index in 0..count {
            let event = event(index as i64, &format!("event number {index}"))
                .with_field(key("n"), index.to_string());
            text.push_str(&event.render());
            text.push('\n');
            if index % 1000 == 7 {
                text.push_str("a garbage line in the middle\n\n");
            }
            events.push(event);
        }
        if follow_ups {
            text.push_str("\n## Follow-ups\n- 2026-11-21 09:14 note: not in Events\n- Docs:\n");
        }
        (text, events)
    }

    #[test]
    fn tail_of_a_100_000_line_log_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        for follow_ups in [false, true] {
            let (text, events) = generated_log(100_000, follow_ups);
            let (path, _) = write_log(dir.path(), &text);
            for count in [1, 10, 1000] {
                let tail = read_last_events(&path, count).unwrap();
                assert_eq!(tail, events[events.len() - count..], "{count} {follow_ups}");
            }
            assert!(read_last_events(&path, 0).unwrap().is_empty());
        }
    }

    #[test]
    fn tail_agrees_with_parse() {
        let dir = tempfile::tempdir().unwrap();
        let (small, _) = generated_log(30, true);
        let texts = [
            TEMPLATE.to_string(),
            small.clone(),
            small.replace('\n', "\r\n"),
            small.trim_end().to_string(),
            format!("{small}\n## Events\n- 2026-11-22 10:00 note: second section\n"),
            "- 2026-11-21 09:14 note: before any heading\n".to_string(),
            "## Follow-ups\n- 2026-11-21 09:14 note: x\n".to_string(),
            String::new(),
        ];
        for text in texts {
            let (path, _) = write_log(dir.path(), &text);
            let all = events_of(&parse(&text));
            for count in [1, 2, 5, 100] {
                let expected = &all[all.len().saturating_sub(count)..];
                assert_eq!(
                    read_last_events(&path, count).unwrap(),
                    expected,
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn long_lines_cross_chunks_and_overlong_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let long = event(0, &"x".repeat(200 * 1024));
        let overlong = format!("- {}", "y".repeat(MAX_LINE_BYTES + 10));
        let text = format!(
            "## Events\n{}\n{overlong}\n{}\n",
            long.render(),
            event(1, "after").render()
        );
        let (path, _) = write_log(dir.path(), &text);
        assert_eq!(
            read_last_events(&path, 3).unwrap(),
            [long.clone(), event(1, "after")]
        );
        let items: Vec<StreamItem> = stream_events(&path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(matches!(&items[0], StreamItem::Event(e) if e.event == long && e.line == 2));
        assert!(matches!(
            &items[1],
            StreamItem::Garbage(GarbageLine {
                line: 3,
                error: EventLineError::TooLong,
                ..
            })
        ));
        assert!(matches!(&items[2], StreamItem::Event(e) if e.line == 4));
    }

    #[test]
    fn stream_agrees_with_parse() {
        let dir = tempfile::tempdir().unwrap();
        let (text, _) = generated_log(3000, true);
        let mut text = text.replace("a garbage line in the middle", "- 2026-11-21 09:14 nope: x");
        text.push_str("## Events\n- 2026-11-22 10:00 note: second section\n");
        let (path, _) = write_log(dir.path(), &text);
        let log = parse(&text);
        let mut events = Vec::new();
        let mut garbage = Vec::new();
        for item in stream_events(&path).unwrap() {
            match item.unwrap() {
                StreamItem::Event(event) => events.push(event),
                StreamItem::Garbage(line) => garbage.push(line),
            }
        }
        assert_eq!(events, log.events);
        assert_eq!(garbage, log.garbage);
        assert_eq!(events.len(), 3001);
        assert_eq!(garbage.len(), 3);
    }

    #[test]
    fn invalid_utf8_lines_are_garbage_in_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run-log.md");
        fs::write(&path, b"## Events\n- 2026-11-21 09:14 note: \xff\n").unwrap();
        let items: Vec<StreamItem> = stream_events(&path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(matches!(
            &items[..],
            [StreamItem::Garbage(GarbageLine {
                line: 2,
                error: EventLineError::NotUtf8,
                ..
            })]
        ));
        assert!(read_last_events(&path, 1).unwrap().is_empty());
    }

    #[test]
    fn headings_and_section_kinds() {
        assert_eq!(heading("## Events ##"), Some((2, "Events")));
        assert_eq!(heading("# C#"), Some((1, "C#")));
        assert_eq!(heading("### Deeper"), None);
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(section_kind("Follow ups"), SectionKind::FollowUps);
        assert_eq!(section_kind("Followups"), SectionKind::FollowUps);
        assert_eq!(section_kind("events"), SectionKind::Events);
        assert_eq!(section_kind("Eventsourcing"), SectionKind::Other);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_event() -> impl Strategy<Value = Event> {
            (
                0i64..4_000_000_000,
                0..EventKind::ALL.len(),
                proptest::option::of("[A-Za-z0-9][A-Za-z0-9_-]{0,10}"),
                proptest::collection::vec(("[a-z][a-z0-9_.-]{0,8}", any::<String>()), 0..4),
                any::<String>(),
            )
                .prop_map(|(second, kind, task, fields, text)| Event {
                    timestamp: Timestamp::from_second(second).unwrap(),
                    kind: EventKind::ALL[kind],
                    task: task.map(|task| TaskId::parse(&task).unwrap()),
                    fields: fields
                        .into_iter()
                        .map(|(key, value)| (FieldKey::parse(&key).unwrap(), value))
                        .collect(),
                    text,
                })
        }

        proptest! {
            #[test]
            fn render_is_one_line_and_parses_back(event in any_event()) {
                let line = event.render();
                prop_assert!(!line.contains(['\n', '\r']));
                prop_assert_eq!(Event::parse_line(&line).unwrap(), event);
            }

            #[test]
            fn text_with_backslashes_round_trips(text in r"[\\nru{}0-9a\n\r ]{0,12}") {
                let event = event(0, &text);
                prop_assert_eq!(Event::parse_line(&event.render()).unwrap().text, text);
            }

            #[test]
            fn parse_never_panics(text in "(## Events\n|- 2026-11-21 09:14 note: |[ -~]{0,20}|\n){0,20}") {
                let _ = parse(&text);
            }
        }
    }
}
