//! Reads `checklist.yaml` text into the typed model with serde-saphyr, keeping the byte
//! position of every key and value so the editor can change a value in place.
//!
//! Pure: text in, model out. Unknown keys are recorded, never dropped or rejected.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::{
    Checklist, FieldSpan, Position, StatusValue, Summary, Task, UnknownKey, Validator,
    VerificationLoop,
};
use crate::state::model::{Approval, Risk};

/// A YAML or schema error at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses checklist text. `text` must be the whole file.
pub fn parse(text: &str) -> Result<Checklist, SyntaxError> {
    if text.trim().is_empty() {
        return Err(SyntaxError {
            line: 1,
            column: 1,
            message: "the file is empty (expected `summary`, `tasks` and the other checklist keys)"
                .to_string(),
        });
    }
    let document: Document = serde_saphyr::from_str_with_options(text, options())
        .map_err(|error| to_syntax_error(text, &error))?;
    let Document(checklist) = document;
    Ok(checklist)
}

/// Parses one item of the `tasks` list cut out on its own (`  - task_id: ...` up to the
/// next item), with positions relative to the start of `segment`.
pub fn parse_task_item(segment: &str) -> Result<Task, SyntaxError> {
    let items: Vec<Spanned<TaskDe>> = serde_saphyr::from_str_with_options(segment, options())
        .map_err(|error| to_syntax_error(segment, &error))?;
    match <[Spanned<TaskDe>; 1]>::try_from(items) {
        Ok([item]) => {
            let mut task = item.value.0;
            task.pos = position(&item.referenced);
            Ok(task)
        }
        Err(items) => Err(SyntaxError {
            line: 1,
            column: 1,
            message: format!("expected one task, found {}", items.len()),
        }),
    }
}

/// The reader settings for checklist text: a budget raised for large checklists, no
/// snippets in errors, and `y`/`n`/`on`/`off` kept as strings.
pub(super) fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // The defaults suit configuration files; a checklist of 10,000 tasks has about a
    // million nodes. The file size itself is bounded by the reader (32 MiB).
    budget.max_nodes = 20_000_000;
    budget.max_events = 40_000_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    // `y`, `n`, `on`, `off` stay strings: a task titled "y" is not a boolean.
    options.strict_booleans = true;
    options
}

fn to_syntax_error(text: &str, error: &serde_saphyr::Error) -> SyntaxError {
    let (line, column) = error
        .location()
        .map(|location| (location.line() as usize, location.column() as usize))
        .unwrap_or((0, 0));
    let rendered = error.without_snippet().to_string();
    let message = strip_location_prefix(&rendered).to_string();
    let (line, column) = if line == 0 {
        // No location: point at the end of the file rather than at nothing.
        let lines = text.lines().count().max(1);
        (lines, 1)
    } else {
        (line, column.max(1))
    };
    SyntaxError {
        line,
        column,
        message,
    }
}

/// `error: line 2 column 2: tabs disallowed` → `tabs disallowed`.
fn strip_location_prefix(rendered: &str) -> &str {
    let text = rendered.strip_prefix("error: ").unwrap_or(rendered);
    let text = text.lines().next().unwrap_or(text);
    if let Some(rest) = text.strip_prefix("line ")
        && let Some((_, message)) = rest.split_once(": ")
    {
        return message;
    }
    text
}

fn position(location: &serde_saphyr::Location) -> Position {
    let span = location.span();
    Position {
        offset: span.byte_offset().unwrap_or(0) as usize,
        len: span.byte_len().unwrap_or(0) as usize,
        line: location.line() as usize,
        column: location.column() as usize,
    }
}

fn field_span<T>(key: &Spanned<String>, value: &Spanned<T>) -> FieldSpan {
    FieldSpan {
        key: known_key(&key.value),
        key_pos: position(&key.referenced),
        value_pos: position(&value.referenced),
    }
}

/// A key as stored in a [`FieldSpan`]: one of the keys longrun reads, without an
/// allocation, or any other key as written.
pub fn known_key(key: &str) -> Cow<'static, str> {
    const KNOWN: &[&str] = &[
        "task_id",
        "title",
        "description",
        "acceptance_criteria",
        "implementation_notes",
        "note",
        "status",
        "depends_on",
        "validators",
        "risk",
        "approval",
        "agent",
        "max_attempts",
        "paths",
        "milestone",
        "timeout",
        "attempts",
        "cost",
        "source",
        "source_id",
        "last_updated",
        "active_task_id",
        "blockers",
        "next_actions",
        "verification_loop",
    ];
    match KNOWN.iter().find(|known| **known == key) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(key.to_string()),
    }
}

/// Reads a [`FieldSpan`] key through [`known_key`] (serde alone would allocate each one).
pub fn deserialize_key<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Cow<'static, str>, D::Error> {
    struct KeyVisitor;
    impl Visitor<'_> for KeyVisitor {
        type Value = Cow<'static, str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(known_key(v))
        }
    }
    deserializer.deserialize_str(KeyVisitor)
}

struct Document(Checklist);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping with `summary`, `instructions`, `guidelines` and `tasks`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut checklist = Checklist::default();
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            if seen.contains(&key.value) {
                return Err(de::Error::custom(format!("duplicate key `{}`", key.value)));
            }
            seen.push(key.value.clone());
            let key_pos = position(&key.referenced);
            match key.value.as_str() {
                "version" => {
                    let value: Spanned<Option<u32>> = map.next_value()?;
                    if let Some(version) = value.value
                        && version != 1
                    {
                        return Err(de::Error::custom(format!(
                            "unsupported checklist version {version} (this longrun reads version 1)"
                        )));
                    }
                    checklist.version = value.value;
                }
                "summary" => {
                    let value: Spanned<Option<SummaryDe>> = map.next_value()?;
                    checklist.summary_key = Some(key_pos);
                    checklist.summary = value.value.map(|s| s.0).unwrap_or_default();
                    checklist.summary.value_pos = Some(position(&value.referenced));
                }
                "instructions" => {
                    let value: Option<String> = map.next_value()?;
                    checklist.instructions = value;
                }
                "guidelines" => {
                    let value: Option<Vec<String>> = map.next_value()?;
                    checklist.guidelines = value.unwrap_or_default();
                }
                "tasks" => {
                    let value: Option<Vec<Spanned<TaskDe>>> = map.next_value()?;
                    checklist.tasks_key = Some(key_pos);
                    checklist.tasks = value
                        .unwrap_or_default()
                        .into_iter()
                        .map(|spanned| {
                            let mut task = spanned.value.0;
                            task.pos = position(&spanned.referenced);
                            task
                        })
                        .collect();
                }
                other => {
                    map.next_value::<IgnoredAny>()?;
                    checklist.unknown_keys.push(UnknownKey {
                        task_index: None,
                        key: other.to_string(),
                        line: key_pos.line,
                        column: key_pos.column,
                    });
                }
            }
        }
        Ok(Document(checklist))
    }
}

struct SummaryDe(Summary);

impl<'de> Deserialize<'de> for SummaryDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SummaryVisitor)
    }
}

struct SummaryVisitor;

impl<'de> Visitor<'de> for SummaryVisitor {
    type Value = SummaryDe;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the `summary` mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SummaryDe, A::Error> {
        let mut summary = Summary::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match key.value.as_str() {
                "last_updated" | "active_task_id" | "status" => {
                    let value: Spanned<Option<Scalar>> = map.next_value()?;
                    summary.fields.push(field_span(&key, &value));
                    let text = value.value.map(|s| s.0).unwrap_or_default();
                    match key.value.as_str() {
                        "last_updated" => summary.last_updated = text,
                        "active_task_id" => summary.active_task_id = text,
                        _ => summary.status = text,
                    }
                }
                "blockers" | "next_actions" => {
                    let value: Spanned<Option<Vec<String>>> = map.next_value()?;
                    summary.fields.push(field_span(&key, &value));
                    let list = value.value.unwrap_or_default();
                    if key.value == "blockers" {
                        summary.blockers = list;
                    } else {
                        summary.next_actions = list;
                    }
                }
                "verification_loop" => {
                    let value: Spanned<Option<VerificationLoopDe>> = map.next_value()?;
                    summary.fields.push(field_span(&key, &value));
                    summary.verification_loop = value.value.map(|v| v.0).unwrap_or_default();
                }
                other => {
                    let value: Spanned<IgnoredAny> = map.next_value()?;
                    summary.fields.push(field_span(&key, &value));
                    let pos = position(&key.referenced);
                    summary.unknown_keys.push(UnknownKey {
                        task_index: None,
                        key: format!("summary.{other}"),
                        line: pos.line,
                        column: pos.column,
                    });
                }
            }
        }
        Ok(SummaryDe(summary))
    }
}

struct VerificationLoopDe(VerificationLoop);

impl<'de> Deserialize<'de> for VerificationLoopDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            fast: Option<Vec<ValidatorDe>>,
            #[serde(default)]
            full: Option<Vec<ValidatorDe>>,
        }
        let raw = Raw::deserialize(deserializer)?;
        Ok(VerificationLoopDe(VerificationLoop {
            fast: validators(raw.fast).unwrap_or_default(),
            full: validators(raw.full).unwrap_or_default(),
        }))
    }
}

/// Any scalar read as its text: numbers and booleans in a string field are kept as written
/// rather than rejected (`title: 2024` is a title).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
}

struct TaskDe(Task);

impl<'de> Deserialize<'de> for TaskDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TaskVisitor)
    }
}

struct TaskVisitor;

impl<'de> Visitor<'de> for TaskVisitor {
    type Value = TaskDe;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task mapping with at least `task_id`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TaskDe, A::Error> {
        let mut task = Task::default();
        let mut has_id = false;
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            if task.fields.iter().any(|field| field.key == key.value) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}` in a task",
                    key.value
                )));
            }
            macro_rules! take {
                ($ty:ty) => {{
                    let value: Spanned<$ty> = map.next_value()?;
                    task.fields.push(field_span(&key, &value));
                    value.value
                }};
            }
            match key.value.as_str() {
                "task_id" => {
                    has_id = true;
                    task.task_id = take!(Scalar).0;
                }
                "title" => task.title = take!(Option<Scalar>).map(|s| s.0).unwrap_or_default(),
                "description" => {
                    task.description = take!(Option<Scalar>).map(|s| s.0).unwrap_or_default()
                }
                "acceptance_criteria" => {
                    task.acceptance_criteria = take!(Option<Vec<Scalar>>)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| s.0)
                        .collect()
                }
                "implementation_notes" => {
                    task.implementation_notes =
                        take!(Option<Scalar>).map(|s| s.0).unwrap_or_default()
                }
                "note" => task.note = take!(Option<Scalar>).map(|s| s.0).unwrap_or_default(),
                "status" => {
                    task.status = match take!(Option<Scalar>) {
                        None => StatusValue::Missing,
                        Some(Scalar(text)) => match text.parse() {
                            Ok(status) => StatusValue::Known(status),
                            Err(_) => StatusValue::Unknown(text),
                        },
                    }
                }
                "depends_on" => {
                    task.depends_on = take!(Option<StringOrList>).map(|l| l.0).unwrap_or_default()
                }
                "validators" => task.validators = validators(take!(Option<Vec<ValidatorDe>>)),
                "risk" => task.risk = take!(Option<Enum<Risk>>).map(|e| e.0),
                "approval" => task.approval = take!(Option<Enum<Approval>>).map(|e| e.0),
                "agent" => task.agent = take!(Option<Scalar>).map(|s| s.0),
                "max_attempts" => task.max_attempts = take!(Option<u32>),
                "paths" => {
                    task.paths = take!(Option<StringOrList>).map(|l| l.0).unwrap_or_default()
                }
                "milestone" => task.milestone = take!(Option<Scalar>).map(|s| s.0),
                "timeout" => task.timeout = take!(Option<Scalar>).map(|s| s.0),
                "attempts" => task.attempts = take!(Option<u32>).unwrap_or(0),
                "cost" => {
                    take!(IgnoredAny);
                }
                "source" => task.source = take!(Option<Scalar>).map(|s| s.0),
                "source_id" => task.source_id = take!(Option<Scalar>).map(|s| s.0),
                other => {
                    let pos = position(&key.referenced);
                    take!(IgnoredAny);
                    task.unknown_keys.push(UnknownKey {
                        task_index: None,
                        key: other.to_string(),
                        line: pos.line,
                        column: pos.column,
                    });
                }
            }
        }
        if !has_id {
            return Err(de::Error::custom("a task has no `task_id`"));
        }
        Ok(TaskDe(task))
    }
}

/// An enum field read through its text form, with the allowed values in the error.
struct Enum<T>(T);

impl<'de, T> Deserialize<'de> for Enum<T>
where
    T: std::str::FromStr<Err = crate::state::model::UnknownValue>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Scalar(text) = Scalar::deserialize(deserializer)?;
        text.parse::<T>()
            .map(Enum)
            .map_err(|error| de::Error::custom(error.to_string()))
    }
}

/// `depends_on: T1` and `depends_on: [T1, T2]` both mean a list.
struct StringOrList(Vec<String>);

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = StringOrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringOrList, E> {
                Ok(StringOrList(vec![v.to_string()]))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<StringOrList, S::Error> {
                let mut items = Vec::new();
                while let Some(Scalar(item)) = seq.next_element::<Scalar>()? {
                    items.push(item);
                }
                Ok(StringOrList(items))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// A validator as written in YAML: a string, an argv list, or `{shell: "..."}`.
struct ValidatorDe(Validator);

impl<'de> Deserialize<'de> for ValidatorDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValidatorVisitor;
        impl<'de> Visitor<'de> for ValidatorVisitor {
            type Value = Validator;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command: a string, a list of arguments, or `{shell: \"...\"}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Validator, E> {
                let argv = super::split_command_line(v).map_err(E::custom)?;
                if argv.is_empty() {
                    return Err(E::custom("a validator command is empty"));
                }
                Ok(Validator::Argv(argv))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Validator, S::Error> {
                let mut argv = Vec::new();
                while let Some(Scalar(item)) = seq.next_element::<Scalar>()? {
                    argv.push(item);
                }
                if argv.is_empty() {
                    return Err(de::Error::custom("a validator command is empty"));
                }
                Ok(Validator::Argv(argv))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Validator, M::Error> {
                let mut shell = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "shell" {
                        shell = Some(map.next_value::<String>()?);
                    } else {
                        return Err(de::Error::custom(format!(
                            "unknown validator key `{key}` (only `shell` is allowed)"
                        )));
                    }
                }
                shell
                    .map(Validator::Shell)
                    .ok_or_else(|| de::Error::custom("a validator mapping needs `shell`"))
            }
        }
        deserializer
            .deserialize_any(ValidatorVisitor)
            .map(ValidatorDe)
    }
}

fn validators(list: Option<Vec<ValidatorDe>>) -> Option<Vec<Validator>> {
    list.map(|items| items.into_iter().map(|v| v.0).collect())
}
