//! Reads back the task items the appender rendered, straight from the YAML event stream of
//! the parser serde-saphyr is built on, at about half the cost of the full typed parse.
//!
//! Only the shapes the appender writes are understood: a block sequence of block mappings
//! whose values are scalars, block or flow sequences of scalars, and validators (flow
//! sequences, or `{shell: ...}`). Anything else (anchors, tags, aliases, a plain scalar that
//! might not read as a string, a key longrun would not write) returns `None`, and the
//! caller falls back to the full parse: this reader may decline, never guess.

use std::borrow::Cow;

use granit_parser::{Event, Parser, ScalarStyle, Span, StrInput};

use super::parse::known_key;
use super::{FieldSpan, Position, StatusValue, Task, Validator};

/// A node of the rendered items, with where it starts.
enum Node<'a> {
    Scalar(Cow<'a, str>, ScalarStyle, Position),
    Seq(Vec<Node<'a>>, Position),
    Map(Vec<(Node<'a>, Node<'a>)>, Position),
}

impl Node<'_> {
    fn pos(&self) -> Position {
        match self {
            Node::Scalar(_, _, pos) | Node::Seq(_, pos) | Node::Map(_, pos) => *pos,
        }
    }

    /// The text of a scalar that reads as a string, whatever its quoting.
    fn text(&self) -> Option<&str> {
        match self {
            Node::Scalar(text, ScalarStyle::Plain, _) => plain_is_string(text).then_some(text),
            Node::Scalar(text, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted, _) => {
                Some(text)
            }
            _ => None,
        }
    }

    fn texts(&self) -> Option<Vec<String>> {
        match self {
            Node::Seq(items, _) => items
                .iter()
                .map(|item| item.text().map(str::to_string))
                .collect(),
            _ => None,
        }
    }
}

/// Reads `items` (a block sequence of task mappings, parsed on its own) into tasks with
/// positions relative to the start of `items`; `None` when it holds anything else.
pub(super) fn read_items(items: &str) -> Option<Vec<Task>> {
    let mut events = Events {
        parser: Parser::new_from_str(items),
    };
    if !matches!(events.next()?.0, Event::StreamStart)
        || !matches!(events.next()?.0, Event::DocumentStart(false, None))
    {
        return None;
    }
    let (first, span) = events.next()?;
    let Node::Seq(nodes, _) = events.node(first, span)? else {
        return None;
    };
    if !matches!(events.next()?.0, Event::DocumentEnd)
        || !matches!(events.next()?.0, Event::StreamEnd)
    {
        return None;
    }
    nodes.into_iter().map(task).collect()
}

struct Events<'a> {
    parser: Parser<'a, StrInput<'a>>,
}

impl<'a> Events<'a> {
    fn next(&mut self) -> Option<(Event<'a>, Span)> {
        self.parser.next_event()?.ok()
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Option<Node<'a>> {
        let pos = position(&span)?;
        match event {
            Event::Scalar(text, style, 0, None) => Some(Node::Scalar(text, style, pos)),
            Event::SequenceStart(_, 0, None) => {
                let mut items = Vec::new();
                loop {
                    match self.next()? {
                        (Event::SequenceEnd, _) => return Some(Node::Seq(items, pos)),
                        (event, span) => items.push(self.node(event, span)?),
                    }
                }
            }
            Event::MappingStart(_, 0, None) => {
                let mut entries = Vec::new();
                loop {
                    match self.next()? {
                        (Event::MappingEnd, _) => return Some(Node::Map(entries, pos)),
                        (key @ Event::Scalar(..), span) => {
                            let key = self.node(key, span)?;
                            let (value, span) = self.next()?;
                            entries.push((key, self.node(value, span)?));
                        }
                        _ => return None,
                    }
                }
            }
            // Anchors, aliases, tags, comments: never written by the appender.
            _ => None,
        }
    }
}

/// A span's start as the typed parser reports it (one-based line and column, a byte
/// offset and length).
fn position(span: &Span) -> Option<Position> {
    let offset = span.start.byte_offset()?;
    let end = span.end.byte_offset()?;
    Some(Position {
        offset,
        len: end.checked_sub(offset)?,
        line: span.start.line(),
        column: span.start.col() + 1,
    })
}

/// One task mapping, read with the typed parser's rules for the keys the appender writes.
fn task(node: Node<'_>) -> Option<Task> {
    let Node::Map(entries, pos) = node else {
        return None;
    };
    let mut task = Task {
        pos,
        ..Task::default()
    };
    let mut has_id = false;
    for (key, value) in entries {
        let Node::Scalar(name, ScalarStyle::Plain, key_pos) = &key else {
            return None;
        };
        if task.fields.iter().any(|field| field.key == *name) {
            return None;
        }
        task.fields.push(FieldSpan {
            key: known_key(name),
            key_pos: *key_pos,
            value_pos: value.pos(),
        });
        let text = || value.text().map(str::to_string);
        match name.as_ref() {
            "task_id" => {
                has_id = true;
                task.task_id = text()?;
            }
            "title" => task.title = text()?,
            "description" => task.description = text()?,
            "implementation_notes" => task.implementation_notes = text()?,
            "note" => task.note = text()?,
            "acceptance_criteria" => task.acceptance_criteria = value.texts()?,
            "depends_on" => task.depends_on = value.texts()?,
            "status" => {
                let text = text()?;
                task.status = match text.parse() {
                    Ok(status) => StatusValue::Known(status),
                    Err(_) => StatusValue::Unknown(text),
                };
            }
            "risk" => task.risk = Some(text()?.parse().ok()?),
            "milestone" => task.milestone = Some(text()?),
            "source" => task.source = Some(text()?),
            "source_id" => task.source_id = Some(text()?),
            "validators" => {
                let Node::Seq(items, _) = &value else {
                    return None;
                };
                let validators = items
                    .iter()
                    .map(|item| match item {
                        Node::Seq(..) => {
                            let argv = item.texts()?;
                            (!argv.is_empty()).then_some(Validator::Argv(argv))
                        }
                        Node::Map(entries, _) => match entries.as_slice() {
                            [(Node::Scalar(key, ScalarStyle::Plain, _), script)]
                                if key == "shell" =>
                            {
                                Some(Validator::Shell(script.text()?.to_string()))
                            }
                            _ => None,
                        },
                        Node::Scalar(..) => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                task.validators = Some(validators);
            }
            _ => return None,
        }
    }
    has_id.then_some(task)
}

/// True when a plain scalar certainly reads as a string, not as null, a boolean or a
/// number: it starts with a letter, `_`, `/` or `(` and is none of the words YAML (1.1 or
/// 1.2) or Rust's float parser give another meaning. Conservative on purpose: `false`
/// only sends the caller to the full parse.
fn plain_is_string(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if !(first.is_alphabetic() || matches!(first, '_' | '/' | '(')) {
        return false;
    }
    const WORDS: &[&str] = &[
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf", "infinity",
    ];
    !WORDS.iter().any(|word| text.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_that_might_not_be_strings_are_declined() {
        for text in [
            "", "1", "0x1F", "-1", ".5", "~", "Null", "TRUE", "NaN", "Infinity", "+x",
        ] {
            assert!(!plain_is_string(text), "{text}");
        }
        for text in ["T1", "not_started", "Add login", "/usr/bin", "(a) b", "_x"] {
            assert!(plain_is_string(text), "{text}");
        }
    }

    #[test]
    fn anything_but_plain_task_items_is_declined() {
        for items in [
            "- &a {task_id: T1}\n",
            "- task_id: T1\n  title: !!str x\n",
            "- task_id: T1\n  unknown: x\n",
            "- task_id: T1\n  title: 12\n",
            "- task_id: T1\n  task_id: T2\n",
            "- title: no id\n",
            "- task_id: T1\n---\n- task_id: T2\n",
            "- task_id: T1\n  validators: [[]]\n",
            "- task_id: T1\n  validators: [{shell: x, y: z}]\n",
            "- task_id: T1\n  risk: extreme\n",
            "- task_id: [T1\n",
        ] {
            assert!(read_items(items).is_none(), "{items}");
        }
        assert!(read_items("- task_id: T1\n  title: 'x'\n").is_some());
    }
}
