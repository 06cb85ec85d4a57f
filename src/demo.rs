//! `longrun demo`: the embedded example (`examples/demo/`) and its deterministic agent.
//!
//! The demo project, its checklist and the demo agent's solutions are compiled into the
//! binary, so the demo runs anywhere, offline, with no API key. Nothing here prints: the
//! command layer reports progress.

use std::path::Path;

use crate::fsutil::{self, FsError};
use crate::git::{self, GitError, Identity};

/// The project the demo copies into a fresh repository: `(relative path, contents)`.
pub const PROJECT: &[(&str, &str)] = &[
    (
        "README.md",
        include_str!("../examples/demo/project/README.md"),
    ),
    (
        "checklist.yaml",
        include_str!("../examples/demo/project/checklist.yaml"),
    ),
    ("plan.md", include_str!("../examples/demo/project/plan.md")),
    (
        "tests/run.sh",
        include_str!("../examples/demo/project/tests/run.sh"),
    ),
    (
        "tests/test_changelog.sh",
        include_str!("../examples/demo/project/tests/test_changelog.sh"),
    ),
    (
        "tests/test_docs.sh",
        include_str!("../examples/demo/project/tests/test_docs.sh"),
    ),
    (
        "tests/test_greet.sh",
        include_str!("../examples/demo/project/tests/test_greet.sh"),
    ),
    (
        "tests/test_many.sh",
        include_str!("../examples/demo/project/tests/test_many.sh"),
    ),
    (
        "tests/test_shout.sh",
        include_str!("../examples/demo/project/tests/test_shout.sh"),
    ),
    (
        "tests/test_usage.sh",
        include_str!("../examples/demo/project/tests/test_usage.sh"),
    ),
    (
        "tests/test_version.sh",
        include_str!("../examples/demo/project/tests/test_version.sh"),
    ),
];

/// What the demo agent writes, by task (and `<task>/attempt-<n>/` for one attempt only).
pub const SOLUTIONS: &[(&str, &str)] = &[
    (
        "T1/bin/greet",
        include_str!("../examples/demo/solutions/T1/bin/greet"),
    ),
    (
        "T2/bin/greet",
        include_str!("../examples/demo/solutions/T2/bin/greet"),
    ),
    (
        "T3/attempt-1/bin/greet",
        include_str!("../examples/demo/solutions/T3/attempt-1/bin/greet"),
    ),
    (
        "T3/bin/greet",
        include_str!("../examples/demo/solutions/T3/bin/greet"),
    ),
    (
        "T4/bin/greet",
        include_str!("../examples/demo/solutions/T4/bin/greet"),
    ),
    (
        "T5/bin/greet",
        include_str!("../examples/demo/solutions/T5/bin/greet"),
    ),
    (
        "T6/docs/usage.md",
        include_str!("../examples/demo/solutions/T6/docs/usage.md"),
    ),
    (
        "T7/CHANGELOG.md",
        include_str!("../examples/demo/solutions/T7/CHANGELOG.md"),
    ),
];
/// Errors of the demo's own steps.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("the demo agent has no solution for task `{0}`")]
    NoSolution(String),
}

/// The files the demo agent writes for `task` on `attempt`: the attempt-specific version
/// when there is one (a deliberately wrong first try), else the task's solution.
pub fn solution_files(task: &str, attempt: u32) -> Vec<(&'static str, &'static str)> {
    let attempt_prefix = format!("{task}/attempt-{attempt}/");
    let specific: Vec<(&str, &str)> = SOLUTIONS
        .iter()
        .filter_map(|(path, text)| path.strip_prefix(&attempt_prefix).map(|rest| (rest, *text)))
        .collect();
    if !specific.is_empty() {
        return specific;
    }
    let task_prefix = format!("{task}/");
    SOLUTIONS
        .iter()
        .filter(|(path, _)| !path.contains("/attempt-"))
        .filter_map(|(path, text)| path.strip_prefix(&task_prefix).map(|rest| (rest, *text)))
        .collect()
}

/// The demo agent's whole job: write the task's files in `worktree` and commit them.
/// Returns the paths it wrote.
pub fn run_agent(worktree: &Path, task: &str, attempt: u32) -> Result<Vec<String>, DemoError> {
    let files = solution_files(task, attempt);
    if files.is_empty() {
        return Err(DemoError::NoSolution(task.to_string()));
    }
    let mut written = Vec::new();
    for (path, text) in files {
        let target = worktree.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| FsError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        fsutil::write_atomic(&target, text.as_bytes())?;
        written.push(path.to_string());
    }
    let identity = Identity::new("longrun demo agent", "demo-agent@longrun.invalid");
    git::commit_all(
        worktree,
        &format!("{task}: {}", written.join(", ")),
        &identity,
    )?;
    Ok(written)
}

/// Writes the demo project into `root` (an empty folder) and makes it a git repository
/// with one commit. `exe` is the longrun binary the demo agent profile runs.
pub fn create_project(root: &Path, exe: &Path) -> Result<(), DemoError> {
    for (path, text) in PROJECT {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| FsError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        fsutil::write_atomic(&target, text.as_bytes())?;
    }
    fsutil::write_atomic(&root.join("longrun.yaml"), demo_config(exe).as_bytes())?;
    git::run_git(root, ["init", "--quiet", "--initial-branch=main"])?;
    Ok(())
}

/// Commits everything in `root` as the demo's starting point.
pub fn commit_start(root: &Path) -> Result<(), DemoError> {
    let identity = Identity::new("longrun demo", "demo@longrun.invalid");
    git::commit_all(root, "The greet project, planned for longrun", &identity)?;
    Ok(())
}

/// The demo's longrun.yaml: every task goes to the built-in demo agent.
pub fn demo_config(exe: &Path) -> String {
    let exe = exe
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!(
        "# The demo's configuration: every task goes to longrun's built-in, deterministic demo
# agent (`longrun __demo-agent`), so the demo needs no API key and no network.
max_parallel: 2
max_attempts: 3
validator_timeout: 60s
routing:
  default: demo
agents:
  demo:
    kind: command
    command: [\"{exe}\", \"__demo-agent\"]
    prompt: file
    timeout: 60s
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_solution_and_t3_starts_wrong() {
        for task in ["T1", "T2", "T3", "T4", "T5", "T6", "T7"] {
            assert!(!solution_files(task, 1).is_empty(), "{task}");
            assert!(!solution_files(task, 2).is_empty(), "{task}");
        }
        let first = solution_files("T3", 1);
        let second = solution_files("T3", 2);
        assert_eq!(first[0].0, "bin/greet");
        assert_ne!(first[0].1, second[0].1);
        assert!(solution_files("T9", 1).is_empty());
    }
}
