//! The one error type at the top: every command returns `Result<_, CommandError>`; its kind
//! picks the exit code and the heading (jj's `CommandError`).
//!
//! Library modules keep their own `thiserror` enums; they become a `CommandError` here, with
//! their source chain rendered as `caused by:` lines.

use std::fmt;

use crate::exit::ExitStatus;

/// What went wrong, at the level a person cares about. Picks the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A negative answer, not a fault: nothing to claim, the task is taken (exit 1).
    Negative,
    /// Bad input, a bad state file, a git failure (exit 2).
    User,
    /// Interrupted by a signal after children were reaped (exit 130).
    Interrupted,
    /// A bug in longrun (exit 101).
    Internal,
}

/// An error ready to print: a message, its causes, and hints on what to do.
#[derive(Debug)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    pub causes: Vec<String>,
    pub hints: Vec<String>,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CommandError {
        CommandError {
            kind,
            message: message.into(),
            causes: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// Bad input or state (exit 2).
    pub fn user(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::User, message)
    }

    /// A negative result (exit 1).
    pub fn negative(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::Negative, message)
    }

    /// A bug (exit 101).
    pub fn internal(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::Internal, message)
    }

    /// Builds a user error from any error, with its source chain as causes.
    pub fn from_error(kind: ErrorKind, error: &(dyn std::error::Error + 'static)) -> CommandError {
        let mut command_error = CommandError::new(kind, error.to_string());
        let mut source = error.source();
        while let Some(cause) = source {
            command_error.causes.push(cause.to_string());
            source = cause.source();
        }
        command_error
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CommandError {
        self.hints.push(hint.into());
        self
    }

    pub fn with_cause(mut self, cause: impl Into<String>) -> CommandError {
        self.causes.push(cause.into());
        self
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self.kind {
            ErrorKind::Negative => ExitStatus::Negative,
            ErrorKind::User => ExitStatus::Error,
            ErrorKind::Interrupted => ExitStatus::Interrupted,
            ErrorKind::Internal => ExitStatus::Bug,
        }
    }
}

impl fmt::Display for CommandError {
    /// `error: ...`, `caused by: ...`, `hint: ...`, one per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let heading = match self.kind {
            ErrorKind::Internal => "internal error",
            _ => "error",
        };
        write!(f, "{heading}: {}", self.message)?;
        for cause in &self.causes {
            write!(f, "\ncaused by: {cause}")?;
        }
        for hint in &self.hints {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

/// Converts a library error into a user error (exit 2) with its cause chain.
macro_rules! user_error_from {
    ($($error:ty),+ $(,)?) => {
        $(impl From<$error> for CommandError {
            fn from(error: $error) -> CommandError {
                CommandError::from_error(ErrorKind::User, &error)
            }
        })+
    };
}

user_error_from!(
    crate::fsutil::FsError,
    std::io::Error,
    crate::state::checklist::ChecklistError,
    crate::state::runlog::RunLogError,
    crate::process::ProcessError,
    crate::git::GitError,
    crate::policy::PolicyError,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_heading_causes_and_hints() {
        let error = CommandError::user("cannot load `checklist.yaml`")
            .with_cause("line 3, column 1: tab")
            .with_hint("indent with spaces");
        assert_eq!(
            error.to_string(),
            "error: cannot load `checklist.yaml`\ncaused by: line 3, column 1: tab\nhint: indent with spaces"
        );
        assert_eq!(error.exit_status(), ExitStatus::Error);
    }
}
