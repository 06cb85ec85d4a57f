//! Placeholders inside argv elements: `{worktree}`, `model_reasoning_effort={effort}`.
//!
//! Pure text substitution, one pass, left to right: a value is inserted as data and never
//! scanned again, never split into more arguments and never seen by a shell. `{{` and `}}`
//! write a literal brace. This module does not know what the values are; the caller says
//! which names exist and what they stand for.

/// Placeholders an agent profile's `command`, `model_args` and `effort_args` may use.
pub const AGENT_PLACEHOLDERS: &[&str] = &["worktree", "prompt_file", "task_id", "model", "effort"];

/// Placeholders the `notify` command may use.
pub const NOTIFY_PLACEHOLDERS: &[&str] = &["event", "task_id", "message"];

/// Why an argument could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error(
        "unknown placeholder `{{{name}}}` in `{argument}` (known: {known}; write `{{{{` for a literal brace)",
        known = known.iter().map(|name| format!("{{{name}}}")).collect::<Vec<_>>().join(" ")
    )]
    Unknown {
        name: String,
        argument: String,
        known: &'static [&'static str],
    },
    #[error("unclosed `{{` in `{argument}` (write `{{{{` for a literal brace)")]
    Unclosed { argument: String },
    #[error("`{{{name}}}` in `{argument}` stands for a path that is not valid UTF-8")]
    NotUtf8 { name: String, argument: String },
}

/// What a placeholder name stands for.
pub(crate) enum Lookup<'v> {
    Value(&'v str),
    /// The name is known, but its value cannot be written as text.
    NotUtf8,
}

/// Replaces every placeholder in `argument`. `lookup` is asked only for names in `known`.
pub(crate) fn render<'v>(
    argument: &str,
    known: &'static [&'static str],
    lookup: &dyn Fn(&str) -> Lookup<'v>,
) -> Result<String, PlaceholderError> {
    let mut rendered = String::with_capacity(argument.len());
    let mut rest = argument;
    while let Some(brace) = rest.find(['{', '}']) {
        rendered.push_str(&rest[..brace]);
        let after = &rest[brace + 1..];
        if rest[brace..].starts_with("{{") {
            rendered.push('{');
            rest = &rest[brace + 2..];
        } else if rest[brace..].starts_with("}}") {
            rendered.push('}');
            rest = &rest[brace + 2..];
        } else if rest[brace..].starts_with('}') {
            // A lone `}` cannot open anything; keeping it spares people from doubling it.
            rendered.push('}');
            rest = after;
        } else {
            let Some(close) = after.find('}') else {
                return Err(PlaceholderError::Unclosed {
                    argument: argument.to_string(),
                });
            };
            let name = &after[..close];
            if !known.contains(&name) {
                return Err(PlaceholderError::Unknown {
                    name: name.to_string(),
                    argument: argument.to_string(),
                    known,
                });
            }
            match lookup(name) {
                Lookup::Value(value) => rendered.push_str(value),
                Lookup::NotUtf8 => {
                    return Err(PlaceholderError::NotUtf8 {
                        name: name.to_string(),
                        argument: argument.to_string(),
                    });
                }
            }
            rest = &after[close + 1..];
        }
    }
    rendered.push_str(rest);
    Ok(rendered)
}

/// Checks that `argument` renders with the names in `known`, without any values: what
/// `longrun check` runs on every command of the configuration.
pub(crate) fn check(
    argument: &str,
    known: &'static [&'static str],
) -> Result<(), PlaceholderError> {
    render(argument, known, &|_| Lookup::Value("")).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(argument: &str) -> Result<String, PlaceholderError> {
        render(argument, AGENT_PLACEHOLDERS, &|name| {
            Lookup::Value(match name {
                "worktree" => "/w t",
                "model" => "{effort}",
                "effort" => "high",
                _ => "",
            })
        })
    }

    #[test]
    fn placeholders_are_replaced_inside_an_argument() {
        assert_eq!(agent("{worktree}").unwrap(), "/w t");
        assert_eq!(
            agent("model_reasoning_effort={effort}").unwrap(),
            "model_reasoning_effort=high"
        );
        assert_eq!(agent("a{effort}b{effort}c").unwrap(), "ahighbhighc");
        assert_eq!(agent("plain").unwrap(), "plain");
        assert_eq!(agent("").unwrap(), "");
    }

    #[test]
    fn values_are_data_and_never_expanded_again() {
        // The model's value looks like a placeholder; it is inserted as written.
        assert_eq!(agent("--model={model}").unwrap(), "--model={effort}");
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(agent("{{effort}}").unwrap(), "{effort}");
        assert_eq!(agent("{{\"a\": {effort}}}").unwrap(), "{\"a\": high}");
        assert_eq!(agent("a}b").unwrap(), "a}b");
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_errors_that_name_them() {
        let error = agent("--x={foo}").unwrap_err();
        assert!(matches!(&error, PlaceholderError::Unknown { name, .. } if name == "foo"));
        let message = error.to_string();
        assert!(message.contains("`{foo}`"), "{message}");
        assert!(message.contains("`--x={foo}`"), "{message}");
        assert!(message.contains("{worktree}"), "{message}");
        assert!(message.contains("`{{`"), "{message}");
        assert!(
            matches!(agent("{}"), Err(PlaceholderError::Unknown { name, .. }) if name.is_empty())
        );
        let error = agent("{model").unwrap_err();
        assert_eq!(
            error,
            PlaceholderError::Unclosed {
                argument: "{model".into()
            }
        );
        assert!(error.to_string().contains("unclosed `{`"), "{error}");
        assert!(check("{event}", NOTIFY_PLACEHOLDERS).is_ok());
        assert!(check("{worktree}", NOTIFY_PLACEHOLDERS).is_err());
    }
}
