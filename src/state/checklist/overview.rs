//! The overview: what the read-only commands (`next`, `status`, `check`), a claim of a
//! ready task and the safety check before a write need, derived from a parsed checklist: every task's id, title,
//! status, line and last note line, the tasks ready to start, and the validation problems.
//!
//! It is stored in the snapshot ahead of the full model, so those commands read a few
//! hundred kilobytes and a handful of allocations instead of decoding every field of every
//! task. It is derived data only: built from a [`Checklist`] by the same functions the
//! model offers (`ready_tasks`, `validate`), never edited, never a source of truth.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::validate::{Problem, ValidateOptions};
use super::{Checklist, StatusValue};
use crate::state::model::{Approval, Risk};

/// The derived summary of a checklist. Strings live back to back in one buffer so that
/// loading it costs a few allocations, however many tasks there are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    strings: String,
    tasks: Vec<BriefRecord>,
    /// Indices of the tasks ready to start as far as the file says (statuses and
    /// dependencies), in file order, before claims and a person's gate are applied.
    ready: Vec<usize>,
    /// `validate` with validators required; [`Overview::problems`] adapts the severities.
    problems: Vec<Problem>,
}

/// One task as the read-only commands see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskBrief<'a> {
    pub task_id: &'a str,
    pub title: &'a str,
    pub status: &'a StatusValue,
    /// The 1-based line where the task starts.
    pub line: usize,
    /// The last non-blank line of the task's note, trimmed.
    pub note_last_line: Option<&'a str>,
    /// The task's own `approval` and `risk`: what the gate before dispatch looks at.
    pub approval: Option<Approval>,
    pub risk: Option<Risk>,
    /// Attempts made so far (a claim is the next one).
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BriefRecord {
    task_id: Range<usize>,
    title: Range<usize>,
    note_last_line: Option<Range<usize>>,
    status: StatusValue,
    line: usize,
    approval: Option<Approval>,
    risk: Option<Risk>,
    attempts: u32,
}

impl Overview {
    /// Derives the overview of `checklist`.
    pub fn of(checklist: &Checklist) -> Overview {
        let mut strings = String::new();
        let mut push = |text: &str| {
            let start = strings.len();
            strings.push_str(text);
            start..strings.len()
        };
        let tasks = checklist
            .tasks
            .iter()
            .map(|task| BriefRecord {
                task_id: push(&task.task_id),
                title: push(&task.title),
                note_last_line: last_non_blank_line(&task.note).map(&mut push),
                status: task.status.clone(),
                line: task.line(),
                approval: task.approval,
                risk: task.risk,
                attempts: task.attempts,
            })
            .collect();
        Overview {
            strings,
            tasks,
            ready: checklist.ready_task_indices_held(&|_| false, &|_| false),
            problems: checklist.validate(ValidateOptions {
                allow_missing_validators: false,
            }),
        }
    }

    /// How many tasks the checklist has.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Every task, in file order.
    pub fn tasks(&self) -> impl Iterator<Item = TaskBrief<'_>> {
        self.tasks.iter().map(|record| self.brief(record))
    }

    /// The task with this id (the first one, if ids are duplicated).
    pub fn task(&self, task_id: &str) -> Option<TaskBrief<'_>> {
        self.tasks().find(|task| task.task_id == task_id)
    }

    /// The same tasks as [`Checklist::ready_tasks_held`] with the same `excluded` and
    /// `held` (here seeing each task's brief).
    pub fn ready_tasks(
        &self,
        excluded: &dyn Fn(&str) -> bool,
        held: &dyn Fn(&TaskBrief) -> bool,
    ) -> Vec<TaskBrief<'_>> {
        self.ready
            .iter()
            .filter_map(|&index| self.tasks.get(index))
            .map(|record| self.brief(record))
            .filter(|task| !held(task) && !excluded(task.task_id))
            .collect()
    }

    /// The same problems as [`Checklist::validate`] with the same `options`.
    pub fn problems(&self, options: ValidateOptions) -> Vec<Problem> {
        self.problems
            .iter()
            .map(|problem| Problem {
                severity: problem.kind.severity(options),
                ..problem.clone()
            })
            .collect()
    }

    /// True when every range points inside the strings and every ready index at a task.
    /// A snapshot that fails this is treated as missing rather than trusted.
    pub(crate) fn is_consistent(&self) -> bool {
        let valid = |range: &Range<usize>| self.strings.get(range.clone()).is_some();
        self.tasks.iter().all(|record| {
            valid(&record.task_id)
                && valid(&record.title)
                && record.note_last_line.as_ref().is_none_or(valid)
        }) && self.ready.iter().all(|&index| index < self.tasks.len())
    }

    fn brief<'a>(&'a self, record: &'a BriefRecord) -> TaskBrief<'a> {
        let text = |range: &Range<usize>| self.strings.get(range.clone()).unwrap_or_default();
        TaskBrief {
            task_id: text(&record.task_id),
            title: text(&record.title),
            status: &record.status,
            line: record.line,
            note_last_line: record.note_last_line.as_ref().map(text),
            approval: record.approval,
            risk: record.risk,
            attempts: record.attempts,
        }
    }
}

fn last_non_blank_line(note: &str) -> Option<&str> {
    note.lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
}
