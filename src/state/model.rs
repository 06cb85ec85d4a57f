//! The vocabulary every state file shares: task ids, statuses, risks, approval gates.
//!
//! Pure data: parsing from text and rendering back, nothing else. Invalid values cannot be
//! constructed, so code past the parsers never re-checks them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A validated task id: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`. It can never be a path: no `/`,
/// no `..` component, no spaces, never starting with a dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskId(String);

/// Why a string is not a task id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskIdError {
    #[error("a task id cannot be empty")]
    Empty,
    #[error("task id `{0}` is longer than 64 characters")]
    TooLong(String),
    #[error(
        "task id `{0}` must start with a letter or digit and contain only letters, digits, `.`, `_` and `-` (it must never be usable as a path)"
    )]
    Invalid(String),
}

impl TaskId {
    /// Checks `text` against the task id rules.
    pub fn parse(text: &str) -> Result<TaskId, TaskIdError> {
        TaskId::check(text)?;
        Ok(TaskId(text.to_string()))
    }

    /// [`TaskId::parse`] without keeping the id: validation of many tasks needs no copies.
    pub fn check(text: &str) -> Result<(), TaskIdError> {
        if text.is_empty() {
            return Err(TaskIdError::Empty);
        }
        if text.len() > 64 {
            return Err(TaskIdError::TooLong(text.to_string()));
        }
        let mut bytes = text.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
        let rest_ok =
            bytes.all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        // `..` inside an id is harmless as a file name (`a..b.lock`), but a reader could
        // mistake it for a parent reference; refuse it so no id ever looks like a path.
        if !first_ok || !rest_ok || text.contains("..") {
            return Err(TaskIdError::Invalid(text.to_string()));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TaskId {
    type Error = TaskIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TaskId::parse(&value)
    }
}

impl From<TaskId> for String {
    fn from(value: TaskId) -> Self {
        value.0
    }
}

impl FromStr for TaskId {
    type Err = TaskIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskId::parse(s)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Declares a plain enum with a fixed text form used in files, on the command line and in
/// JSON, so statuses and kinds are never compared as strings.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text form used in files and on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        what: $what,
                        value: s.to_string(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

// Other modules with text enums of their own (the configuration's kinds and modes) use it too.
pub(crate) use text_enum;

/// A value that is not one of an enum's text forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {})", expected.join(", "))]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

text_enum!(
    /// A task's state. The playbook's five plus `blocked` and `awaiting_approval`.
    TaskStatus, "status" {
        NotStarted = "not_started",
        InProgress = "in_progress",
        Complete = "complete",
        Failed = "failed",
        Archived = "archived",
        Blocked = "blocked",
        AwaitingApproval = "awaiting_approval",
    }
);

impl TaskStatus {
    /// `complete` and `archived` satisfy a dependency.
    pub fn satisfies_dependency(self) -> bool {
        matches!(self, TaskStatus::Complete | TaskStatus::Archived)
    }

    /// No more work happens on a task in a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Complete | TaskStatus::Failed | TaskStatus::Archived
        )
    }
}

text_enum!(
    /// How much damage a task can do; drives review, routing and approvals.
    Risk, "risk" {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
);

text_enum!(
    /// A human gate on a task.
    Approval, "approval" {
        None = "none",
        Before = "before",
        After = "after",
    }
);

text_enum!(
    /// What a run-log event records: the playbook's five kinds, then longrun's own.
    EventKind, "event kind" {
        Decision = "decision",
        Evidence = "evidence",
        Failure = "failure",
        Fix = "fix",
        Note = "note",
        Claim = "claim",
        Release = "release",
        Dispatch = "dispatch",
        Merge = "merge",
        Reject = "reject",
        Approve = "approve",
        Block = "block",
        Cost = "cost",
        Cycle = "cycle",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_that_could_be_paths_are_refused() {
        for bad in [
            "",
            "../../etc",
            "..",
            "a/b",
            "a b",
            ".hidden",
            "-x",
            "a\\b",
            "T1..",
            "é",
        ] {
            assert!(TaskId::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(TaskId::parse(&"a".repeat(65)).is_err());
        for good in ["T1", "T001", "auth.login-2", "a_b", &"a".repeat(64)] {
            assert!(TaskId::parse(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for status in TaskStatus::ALL {
            assert_eq!(status.as_str().parse::<TaskStatus>().unwrap(), *status);
        }
        let error = "done".parse::<TaskStatus>().unwrap_err();
        assert!(error.to_string().contains("not_started"));
    }
}
