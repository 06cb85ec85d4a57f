//! The checks `longrun check` reports and that guard every command that acts on tasks:
//! task ids, duplicates, unknown and cyclic dependencies, missing validators, unknown
//! statuses and keys, acceptance criteria too vague to check.

use std::collections::HashMap;

use serde::Serialize;

use super::{Checklist, StatusValue};
use crate::state::model::{TaskId, TaskStatus};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    InvalidTaskId,
    DuplicateTaskId,
    UnknownDependency,
    DependencyCycle,
    MissingValidators,
    UnknownStatus,
    UnknownKey,
    VagueCriterion,
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub severity: Severity,
    pub task_id: Option<String>,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Problem {
    /// Problems that make acting on the checklist unsafe: a command that would claim,
    /// dispatch or change tasks refuses while any is present.
    pub fn blocks_action(&self) -> bool {
        matches!(
            self.kind,
            ProblemKind::InvalidTaskId
                | ProblemKind::DuplicateTaskId
                | ProblemKind::UnknownDependency
                | ProblemKind::DependencyCycle
        )
    }
}

/// Which findings are errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    /// Tasks without validators are accepted (logged by the caller as unsafe).
    pub allow_missing_validators: bool,
}

impl Checklist {
    /// Every problem, in file order.
    pub fn validate(&self, options: ValidateOptions) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut first_line: HashMap<&str, usize> = HashMap::with_capacity(self.tasks.len());
        for task in &self.tasks {
            let line = task.line();
            let column = task.pos.column;
            if let Err(error) = TaskId::parse(&task.task_id) {
                problems.push(Problem {
                    kind: ProblemKind::InvalidTaskId,
                    severity: Severity::Error,
                    task_id: Some(task.task_id.clone()),
                    line,
                    column,
                    message: error.to_string(),
                });
            }
            if let Some(first) = first_line.get(task.task_id.as_str()) {
                problems.push(Problem {
                    kind: ProblemKind::DuplicateTaskId,
                    severity: Severity::Error,
                    task_id: Some(task.task_id.clone()),
                    line,
                    column,
                    message: format!(
                        "task id `{}` is used again (first on line {first})",
                        task.task_id
                    ),
                });
            } else {
                first_line.insert(task.task_id.as_str(), line);
            }
        }
        for task in &self.tasks {
            let line = task.line();
            let column = task.pos.column;
            for dependency in &task.depends_on {
                if !first_line.contains_key(dependency.as_str()) {
                    problems.push(Problem {
                        kind: ProblemKind::UnknownDependency,
                        severity: Severity::Error,
                        task_id: Some(task.task_id.clone()),
                        line,
                        column,
                        message: format!(
                            "task `{}` depends on `{dependency}`, which is not in the checklist",
                            task.task_id
                        ),
                    });
                }
            }
            let finished = matches!(
                task.status.effective(),
                Some(TaskStatus::Complete | TaskStatus::Archived)
            );
            if task.own_validators().is_empty() && !finished {
                problems.push(Problem {
                    kind: ProblemKind::MissingValidators,
                    severity: if options.allow_missing_validators {
                        Severity::Warning
                    } else {
                        Severity::Error
                    },
                    task_id: Some(task.task_id.clone()),
                    line,
                    column,
                    message: format!(
                        "task `{}` has no validators: nothing would prove it done, so it can never be merged",
                        task.task_id
                    ),
                });
            }
            if let StatusValue::Unknown(word) = &task.status {
                problems.push(Problem {
                    kind: ProblemKind::UnknownStatus,
                    severity: Severity::Error,
                    task_id: Some(task.task_id.clone()),
                    line,
                    column,
                    message: format!(
                        "task `{}` has unknown status `{word}` (expected one of: {})",
                        task.task_id,
                        TaskStatus::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        for task in &self.tasks {
            for criterion in &task.acceptance_criteria {
                if is_vague(criterion) {
                    problems.push(Problem {
                        kind: ProblemKind::VagueCriterion,
                        severity: Severity::Warning,
                        task_id: Some(task.task_id.clone()),
                        line: task.line(),
                        column: task.pos.column,
                        message: format!(
                            "task `{}` has a vague acceptance criterion \"{criterion}\": say what is observed (a command, an output, a number)",
                            task.task_id
                        ),
                    });
                }
            }
        }
        problems.extend(self.dependency_cycles());
        for unknown in self.all_unknown_keys() {
            let owner = unknown
                .task_index
                .and_then(|index| self.tasks.get(index))
                .map(|task| task.task_id.clone());
            problems.push(Problem {
                kind: ProblemKind::UnknownKey,
                severity: Severity::Warning,
                message: match &owner {
                    Some(task_id) => format!(
                        "unknown key `{}` in task `{task_id}` (kept as written)",
                        unknown.key
                    ),
                    None => format!("unknown key `{}` (kept as written)", unknown.key),
                },
                task_id: owner,
                line: unknown.line,
                column: unknown.column,
            });
        }
        problems.sort_by_key(|problem| (problem.line, problem.column));
        problems
    }

    /// Each dependency cycle once, named like `T3 -> T5 -> T3`.
    fn dependency_cycles(&self) -> Vec<Problem> {
        let index: HashMap<&str, usize> = self
            .tasks
            .iter()
            .enumerate()
            .rev()
            .map(|(i, task)| (task.task_id.as_str(), i))
            .collect();
        let edges: Vec<Vec<usize>> = self
            .tasks
            .iter()
            .map(|task| {
                task.depends_on
                    .iter()
                    .filter_map(|dependency| index.get(dependency.as_str()).copied())
                    .collect()
            })
            .collect();
        // 0 = unvisited, 1 = on the current path, 2 = done. Iterative so that a 10,000-long
        // chain does not overflow the stack.
        let mut state = vec![0u8; self.tasks.len()];
        let mut problems = Vec::new();
        for start in 0..self.tasks.len() {
            if state[start] != 0 {
                continue;
            }
            let mut path: Vec<usize> = vec![start];
            let mut next_edge: Vec<usize> = vec![0];
            state[start] = 1;
            while let Some(&node) = path.last() {
                let edge_index = next_edge.last().copied().unwrap_or(0);
                if let Some(&target) = edges[node].get(edge_index) {
                    if let Some(last) = next_edge.last_mut() {
                        *last += 1;
                    }
                    match state[target] {
                        0 => {
                            state[target] = 1;
                            path.push(target);
                            next_edge.push(0);
                        }
                        1 => {
                            let from = path.iter().position(|&n| n == target).unwrap_or(0);
                            let mut names: Vec<&str> = path[from..]
                                .iter()
                                .map(|&n| self.tasks[n].task_id.as_str())
                                .collect();
                            names.push(self.tasks[target].task_id.as_str());
                            let task = &self.tasks[target];
                            problems.push(Problem {
                                kind: ProblemKind::DependencyCycle,
                                severity: Severity::Error,
                                task_id: Some(task.task_id.clone()),
                                line: task.line(),
                                column: task.pos.column,
                                message: format!("dependency cycle: {}", names.join(" -> ")),
                            });
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                    path.pop();
                    next_edge.pop();
                }
            }
        }
        problems
    }
}

/// True for criteria nobody could check: "works", "is good", "login works", "done".
pub fn is_vague(criterion: &str) -> bool {
    let lower = criterion.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return true;
    }
    const VAGUE_ENDINGS: &[&[&str]] = &[
        &["works"],
        &["work"],
        &["working"],
        &["is", "good"],
        &["looks", "good"],
        &["good"],
        &["is", "fine"],
        &["fine"],
        &["ok"],
        &["okay"],
        &["done"],
        &["is", "done"],
        &["works", "well"],
        &["works", "correctly"],
        &["works", "properly"],
        &["works", "fine"],
        &["as", "expected"],
        &["is", "correct"],
        &["correct"],
        &["no", "bugs"],
        &["is", "better"],
        &["is", "fast"],
        &["is", "nice"],
        &["user", "friendly"],
    ];
    // Short criteria only: "returns 200 and the page works" says something checkable.
    words.len() <= 4
        && VAGUE_ENDINGS
            .iter()
            .any(|ending| words.len() >= ending.len() && words.ends_with(ending))
}

#[cfg(test)]
mod tests {
    use super::is_vague;

    #[test]
    fn vague_criteria_are_recognised() {
        for vague in [
            "works",
            "It works.",
            "login works",
            "UI is good",
            "works as expected",
            "Done",
            "",
        ] {
            assert!(is_vague(vague), "{vague:?}");
        }
        for precise in [
            "`cargo test` passes",
            "GET /health returns 200 within 50 ms",
            "shows an error on a bad password",
            "the export works for files over 2 GB and keeps timestamps",
        ] {
            assert!(!is_vague(precise), "{precise:?}");
        }
    }
}
