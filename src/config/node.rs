//! A YAML document read into a small tree whose every node knows its line and column, so
//! the typed reader in [`super`] can point at the exact key or value it rejects, and can
//! report keys it does not know instead of silently dropping them.
//!
//! Pure: text in, tree out. This module knows nothing about what the keys mean.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A one-based line and column in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A YAML value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// Byte range of the node in the source, when the parser knows it; used to recover how
    /// a number was written (`4.10` stays `4.10` when read as a model name).
    span: Option<(usize, usize)>,
}

/// The shapes a YAML value can take, after `strict_booleans` (only `true`/`false` are
/// booleans).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One key of a mapping, its place, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// A YAML error with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parses one YAML document. An empty document (or one holding only comments) is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if text.trim().is_empty() || is_only_comments(text) {
        return Ok(Node {
            value: Value::Null,
            pos: Pos { line: 1, column: 1 },
            span: None,
        });
    }
    let node: Node = serde_saphyr::from_str_with_options(text, options())
        .map_err(|error| to_syntax_error(text, &error))?;
    Ok(node)
}

impl Node {
    /// How a scalar was written in the file, when the parser gave its place; otherwise its
    /// value formatted back. Strings are returned as parsed (without quotes).
    pub fn scalar_text(&self, source: &str) -> Option<String> {
        let written = self
            .span
            .and_then(|(start, len)| source.get(start..start + len))
            .map(str::trim)
            .filter(|text| !text.is_empty());
        match &self.value {
            Value::Str(text) => Some(text.clone()),
            Value::Bool(value) => Some(written.map_or_else(|| value.to_string(), str::to_string)),
            Value::Int(value) => Some(written.map_or_else(|| value.to_string(), str::to_string)),
            Value::Float(value) => Some(written.map_or_else(|| value.to_string(), str::to_string)),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// A word for the node's type, for messages: "a list", "the number `3`".
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".to_string(),
            Value::Bool(value) => format!("`{value}`"),
            Value::Int(value) => format!("the number `{value}`"),
            Value::Float(value) => format!("the number `{value}`"),
            Value::Str(text) => format!("the text `{text}`"),
            Value::Seq(_) => "a list".to_string(),
            Value::Map(_) => "a mapping".to_string(),
        }
    }
}

fn is_only_comments(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    })
}

fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    // `y`, `n`, `on`, `off` stay text: `effort: on` is not a boolean, and `state.commit: yes`
    // is reported rather than guessed.
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
    let pos = if line == 0 {
        // No location: point at the end of the file rather than at nothing.
        Pos {
            line: text.lines().count().max(1),
            column: 1,
        }
    } else {
        Pos {
            line,
            column: column.max(1),
        }
    };
    SyntaxError { pos, message }
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

fn pos_of(location: &serde_saphyr::Location) -> Pos {
    Pos {
        line: location.line() as usize,
        column: location.column() as usize,
    }
}

fn span_of(location: &serde_saphyr::Location) -> Option<(usize, usize)> {
    let span = location.span();
    Some((
        usize::try_from(span.byte_offset()?).ok()?,
        usize::try_from(span.byte_len()?).ok()?,
    ))
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned: Spanned<ValueDe> = Spanned::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value.0,
            pos: pos_of(&spanned.referenced),
            span: span_of(&spanned.referenced),
        })
    }
}

struct ValueDe(Value);

impl<'de> Deserialize<'de> for ValueDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(ValueDe)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(i128::from(v)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("number too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Value, S::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Value, M::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyDe>>()? {
            let value: Node = map.next_value()?;
            entries.push(Entry {
                key: key.value.0,
                key_pos: pos_of(&key.referenced),
                value,
            });
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key: any scalar, read as its text (`1: x` has the key `1`).
struct KeyDe(String);

impl<'de> Deserialize<'de> for KeyDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyDe;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key written as text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyDe, E> {
                Ok(KeyDe(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyDe, E> {
                Ok(KeyDe(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyDe, E> {
                Ok(KeyDe(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyDe, E> {
                Ok(KeyDe(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyDe, E> {
                Ok(KeyDe(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyDe, E> {
                Ok(KeyDe(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyDe, E> {
                Ok(KeyDe("null".to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[Entry] {
        match &node.value {
            Value::Map(entries) => entries,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn every_node_knows_its_place() {
        let text = "a: 1\nb:\n  - x\n  - \"y\"\nc: {d: 4.10, e: null, f: yes, g: true}\nh:\n";
        let root = parse(text).unwrap();
        let entries = map(&root);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].key, "a");
        assert_eq!(entries[0].key_pos, Pos { line: 1, column: 1 });
        assert_eq!(entries[0].value.value, Value::Int(1));
        assert_eq!(entries[0].value.pos, Pos { line: 1, column: 4 });
        let Value::Seq(items) = &entries[1].value.value else {
            panic!()
        };
        assert_eq!(items[0].value, Value::Str("x".into()));
        assert_eq!(items[1].pos, Pos { line: 4, column: 5 });
        let inner = map(&entries[2].value);
        assert_eq!(inner[0].value.value, Value::Float(4.1));
        assert_eq!(inner[0].value.scalar_text(text).as_deref(), Some("4.10"));
        assert_eq!(inner[1].value.value, Value::Null);
        assert_eq!(inner[2].value.value, Value::Str("yes".into()));
        assert_eq!(inner[3].value.value, Value::Bool(true));
        assert_eq!(
            inner[3].key_pos,
            Pos {
                line: 5,
                column: 31
            }
        );
        assert_eq!(entries[3].value.value, Value::Null);
    }

    #[test]
    fn empty_and_comment_only_documents_are_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert_eq!(parse("# nothing\n\n# here\n").unwrap().value, Value::Null);
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let error = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(error.pos.line >= 2, "{error:?}");
        let error = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(error.pos.line, 2, "{error:?}");
    }
}
