//! The checks `longrun check` reports and that guard every command that acts on tasks:
//! task ids, duplicates, unknown and cyclic dependencies, missing validators, unknown
//! statuses and keys, acceptance criteria too vague to check.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Checklist, StatusValue};
use crate::state::model::{TaskId, TaskStatus};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    InvalidTaskId,
    DuplicateTaskId,
    UnknownDependency,
    DependencyCycle,
    MissingValidators,
    UnknownStatus,
    UnknownKey,
    /// A rule of `policy/*.yaml` the task breaks (found by `longrun check`).
    Policy,
    VagueCriterion,
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub severity: Severity,
    pub task_id: Option<String>,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ProblemKind {
    /// Whether this kind of problem is an error or a warning under `options`. The only
    /// place severities are decided, so a stored problem list can be re-read under other
    /// options.
    pub fn severity(self, options: ValidateOptions) -> Severity {
        match self {
            ProblemKind::InvalidTaskId
            | ProblemKind::DuplicateTaskId
            | ProblemKind::UnknownDependency
            | ProblemKind::DependencyCycle
            | ProblemKind::UnknownStatus
            | ProblemKind::Policy => Severity::Error,
            ProblemKind::MissingValidators if options.allow_missing_validators => Severity::Warning,
            ProblemKind::MissingValidators => Severity::Error,
            ProblemKind::UnknownKey | ProblemKind::VagueCriterion => Severity::Warning,
        }
    }
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
            if let Err(error) = TaskId::check(&task.task_id) {
                problems.push(Problem {
                    kind: ProblemKind::InvalidTaskId,
                    severity: ProblemKind::InvalidTaskId.severity(options),
                    task_id: Some(task.task_id.clone()),
                    line,
                    column,
                    message: error.to_string(),
                });
            }
            if let Some(first) = first_line.get(task.task_id.as_str()) {
                problems.push(Problem {
                    kind: ProblemKind::DuplicateTaskId,
                    severity: ProblemKind::DuplicateTaskId.severity(options),
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
                        severity: ProblemKind::UnknownDependency.severity(options),
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
                    severity: ProblemKind::MissingValidators.severity(options),
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
                    severity: ProblemKind::UnknownStatus.severity(options),
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
        problems.extend(self.dependency_cycles(options));
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
        for unknown in self.all_unknown_keys() {
            let owner = unknown
                .task_index
                .and_then(|index| self.tasks.get(index))
                .map(|task| task.task_id.clone());
            problems.push(Problem {
                kind: ProblemKind::UnknownKey,
                severity: ProblemKind::UnknownKey.severity(options),
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
    fn dependency_cycles(&self, options: ValidateOptions) -> Vec<Problem> {
        let index: HashMap<&str, usize> = self
            .tasks
            .iter()
            .enumerate()
            .rev()
            .map(|(i, task)| (task.task_id.as_str(), i))
            .collect();
        // The edges of task `i` are `targets[edge_start[i]..edge_start[i + 1]]`: two flat
        // vectors rather than one per task, which matters at ten thousand tasks.
        let mut edge_start: Vec<usize> = Vec::with_capacity(self.tasks.len() + 1);
        let mut targets: Vec<usize> = Vec::new();
        for task in &self.tasks {
            edge_start.push(targets.len());
            targets.extend(
                task.depends_on
                    .iter()
                    .filter_map(|dependency| index.get(dependency.as_str()).copied()),
            );
        }
        edge_start.push(targets.len());
        let edges = |node: usize| &targets[edge_start[node]..edge_start[node + 1]];
        // 0 = unvisited, 1 = on the current path, 2 = done. Iterative so that a 10,000-long
        // chain does not overflow the stack.
        let mut state = vec![0u8; self.tasks.len()];
        let mut problems = Vec::new();
        let mut path: Vec<usize> = Vec::new();
        let mut next_edge: Vec<usize> = Vec::new();
        for start in 0..self.tasks.len() {
            if state[start] != 0 {
                continue;
            }
            path.clear();
            next_edge.clear();
            path.push(start);
            next_edge.push(0);
            state[start] = 1;
            while let Some(&node) = path.last() {
                let edge_index = next_edge.last().copied().unwrap_or(0);
                if let Some(&target) = edges(node).get(edge_index) {
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
                                severity: ProblemKind::DependencyCycle.severity(options),
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
