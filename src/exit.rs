//! Exit codes: the one place that says which number means what.

/// The process exit status of every `longrun` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The command did what was asked.
    Success = 0,
    /// A negative result: `check` found problems, a task failed, nothing to claim.
    Negative = 1,
    /// An error: bad input, a bad state file, a git failure.
    Error = 2,
    /// Interrupted after children were reaped.
    Interrupted = 130,
    /// An internal bug.
    Bug = 101,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status as u8)
    }
}
