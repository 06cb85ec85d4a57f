//! Governance rules the cycle applies around the gate: when the full verification suite
//! runs, vacuous-validator flags from a first attempt's baseline check, policy before
//! dispatch, human gates, budgets and the run they count in (`.longrun/run.json`), and
//! notifications. Each rule decides from files and git only; notifications are started
//! detached so that a slow or hanging notifier never holds the cycle. Nothing here prints.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Cycle, CycleError, short};
use crate::config::{NotifyEvent, NotifyVars, PromptMode};
use crate::gate::review::{PromptDelivery, Reviewer};
use crate::git;
use crate::process::{self, Spent, Stdin, WorkerSpec};
use crate::state::approvals::{Approvals, Awaiting, Decision, DispatchGate, Stage};
use crate::state::checklist::{Checklist, Task};
use crate::state::model::{Approval, EventKind, TaskStatus};
use crate::state::run::RunRecord;

/// How long a notifier may run before its process group is killed.
const NOTIFY_TIMEOUT_SECS: u64 = 30;

/// Whether the verification loop's `full` suite runs before a task merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FullSuite {
    /// It runs, for this reason.
    Runs(String),
    /// It does not.
    No,
    /// It would if these tasks, gated earlier in the same cycle, merge: the answer waits
    /// for their gates (the next cycle decides on what they became).
    WaitsFor(Vec<String>),
}

/// Whether the verification loop's `full` suite runs before `task` merges: when the task
/// completes its milestone (every other task of it is complete), when it is the last open
/// task of the run, or when its risk is listed in the policy's `full_suite_for`.
/// `gated_first`: tasks gated before it this cycle, whose merge is not decided yet.
pub(super) fn full_suite(
    checklist: &Checklist,
    task: &Task,
    policy: &crate::policy::Policy,
    gated_first: &[&str],
) -> FullSuite {
    if checklist.summary.verification_loop.full.is_empty() {
        return FullSuite::No;
    }
    if policy.full_suite_for(task) {
        return FullSuite::Runs("policy `full_suite_for` its risk".to_string());
    }
    let milestone = task.milestone.as_deref().filter(|m| !m.is_empty());
    // The other tasks that must be complete for `task` to end its milestone or the run.
    let ends = |in_scope: &dyn Fn(&Task) -> bool| -> Option<Vec<String>> {
        let mut waiting = Vec::new();
        for other in &checklist.tasks {
            if other.task_id == task.task_id
                || !in_scope(other)
                || other
                    .status
                    .effective()
                    .is_some_and(|status| status.satisfies_dependency())
            {
                continue;
            }
            if !gated_first.contains(&other.task_id.as_str()) {
                return None;
            }
            waiting.push(other.task_id.clone());
        }
        Some(waiting)
    };
    let mut waits_for = Vec::new();
    if let Some(milestone) = milestone {
        match ends(&|other| other.milestone.as_deref() == Some(milestone)) {
            Some(waiting) if waiting.is_empty() => {
                return FullSuite::Runs(format!("the last task of milestone `{milestone}`"));
            }
            Some(waiting) => waits_for = waiting,
            None => {}
        }
    }
    match ends(&|_| true) {
        Some(waiting) if waiting.is_empty() => {
            FullSuite::Runs("the last task before the run is done".to_string())
        }
        Some(waiting) => FullSuite::WaitsFor(waiting),
        None if !waits_for.is_empty() => FullSuite::WaitsFor(waits_for),
        None => FullSuite::No,
    }
}

/// A notification as its command reads it on stdin.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Notification {
    pub event: NotifyEvent,
    pub task_id: String,
    pub message: String,
    pub at: String,
}

impl Cycle<'_> {
    /// Queues a notification; they are started at the end of the cycle.
    pub(super) fn notify(&mut self, event: NotifyEvent, task_id: &str, message: impl Into<String>) {
        if self.options.dry_run {
            return;
        }
        self.notifications.push(Notification {
            event,
            task_id: task_id.to_string(),
            message: message.into(),
            at: crate::clock::format_timestamp(self.now),
        });
    }

    /// Starts each queued notification's command detached, under a supervisor with a
    /// timeout, with the event as JSON on stdin. Failures to start are logged, never
    /// raised; what a notifier did is read back (and logged when it failed) next cycle.
    pub(super) fn send_notifications(&mut self) -> Result<(), CycleError> {
        self.collect_notifications();
        let notifications = std::mem::take(&mut self.notifications);
        for (index, notification) in notifications.iter().enumerate() {
            let vars = NotifyVars {
                event: notification.event,
                task_id: &notification.task_id,
                message: &notification.message,
            };
            let argv = match self.config.notify.render_argv(&vars) {
                Ok(Some(argv)) => argv,
                Ok(None) => continue,
                Err(error) => {
                    let event = self.event(
                        EventKind::Note,
                        &notification.task_id,
                        format!("notify `{}` not sent: {error}", notification.event),
                    );
                    self.pending.events.push(event);
                    continue;
                }
            };
            let dir = self
                .options
                .workspace
                .state_dir()
                .join("notify")
                .join(format!(
                    "{}-{index}-{}",
                    self.now.strftime("%Y%m%dT%H%M%SZ"),
                    notification.event
                ));
            let outcome = self.start_notifier(&dir, argv, notification);
            let text = match outcome {
                Ok(()) => format!(
                    "notify `{}` started → {}",
                    notification.event,
                    self.relative(&dir)
                ),
                Err(error) => format!("notify `{}` could not start: {error}", notification.event),
            };
            let event = self.event(EventKind::Note, &notification.task_id, text);
            self.pending.events.push(event);
        }
        Ok(())
    }

    fn start_notifier(
        &self,
        dir: &Path,
        argv: Vec<String>,
        notification: &Notification,
    ) -> Result<(), CycleError> {
        std::fs::create_dir_all(dir).map_err(|source| crate::fsutil::FsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let payload = serde_json::to_vec(notification).unwrap_or_default();
        let stdin_path = dir.join("event.json");
        crate::fsutil::write_atomic(&stdin_path, &payload)?;
        let mut spec = WorkerSpec::new(argv, self.primary.clone(), dir.join("run"));
        spec.env = self
            .options
            .caller_env
            .iter()
            .filter(|(name, _)| self.config.worker_env.iter().any(|p| p.matches(name)))
            .cloned()
            .collect();
        spec.stdin = Stdin::File(stdin_path);
        spec.timeout_secs = NOTIFY_TIMEOUT_SECS;
        spec.kill_grace_secs = 2;
        let spec_path = dir.join("spec.json");
        spec.write(&spec_path)?;
        process::spawn_detached(&self.options.exe, &spec_path)?;
        Ok(())
    }

    /// Logs notifiers from earlier cycles that failed, and removes finished ones.
    fn collect_notifications(&mut self) {
        let root = self.options.workspace.state_dir().join("notify");
        let Ok(entries) = std::fs::read_dir(&root) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let run = dir.join("run");
            let Ok(state) = process::worker_state(&run) else {
                continue;
            };
            let process::WorkerState::Finished(result) = state else {
                continue;
            };
            let failure = if result.timed_out {
                Some("timed out and was killed".to_string())
            } else if let Some(error) = &result.error {
                Some(format!("could not run: {error}"))
            } else {
                match result.exit_code {
                    Some(0) => None,
                    Some(code) => Some(format!("exited {code}")),
                    None => Some("was killed".to_string()),
                }
            };
            if let Some(failure) = failure {
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let event = self.event(EventKind::Note, "", format!("notifier `{name}` {failure}"));
                self.pending.events.push(event);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

impl Cycle<'_> {
    /// The rules checked before a task is dispatched: it may go (`None`), or it gets the
    /// returned status instead (`blocked`). Logs what it finds.
    pub(super) fn before_dispatch(
        &mut self,
        task: &Task,
    ) -> Result<Option<TaskStatus>, CycleError> {
        let task_id = task.task_id.clone();
        if self.budget_stopped {
            return Ok(Some(TaskStatus::NotStarted));
        }
        if let Some(status) = self.stop_for_budget(task)? {
            return Ok(Some(status));
        }
        if let Some(status) = self.hold_before(task) {
            return Ok(Some(status));
        }
        // Policy applies whatever allowed missing validators: a risk's required validators
        // are missing too when a task has none.
        let breaks = self.policy.check_task(task);
        if !breaks.is_empty() {
            let text = format!("not dispatched: {}", breaks.join("; "));
            self.action(format!("block `{task_id}`: {text}"));
            if !self.options.dry_run {
                self.pending.status(&task_id, TaskStatus::Blocked);
                self.pending
                    .events
                    .push(self.event(EventKind::Block, &task_id, text.clone()));
                self.append_note(&task_id, &text);
                self.report.blocked.push(task_id.clone());
                self.notify(NotifyEvent::Blocked, &task_id, text);
            }
            return Ok(Some(TaskStatus::Blocked));
        }
        if task.own_validators().is_empty() {
            // Only reached when missing validators are allowed (dispatch refuses
            // otherwise): every such dispatch says so, and by what.
            let allowed_by = if self.options.allow_missing_validators {
                "--allow-missing-validators"
            } else {
                "`allow_missing_validators: true` in longrun.yaml"
            };
            self.action(format!(
                "`{task_id}` has no validators: dispatched anyway ({allowed_by})"
            ));
            if !self.options.dry_run {
                self.pending.events.push(self.event(
                    EventKind::Decision,
                    &task_id,
                    format!("dispatched without validators: allowed by {allowed_by} (nothing but the fast loop proves it)"),
                ));
                self.append_note(
                    &task_id,
                    &format!(
                        "no validators: dispatched because {allowed_by} allows missing validators"
                    ),
                );
            }
        }
        if !self.options.dry_run {
            self.open_run()?;
        }
        Ok(None)
    }

    /// The vacuous-validator check for `task`'s first attempt, run by its supervisor on the
    /// fresh worktree at `base` before the agent starts (see [`process::Baseline`]).
    pub(super) fn baseline(
        &self,
        task: &Task,
        base: &str,
        worktree: &Path,
        run_dir: &Path,
    ) -> Option<process::Baseline> {
        let validators = task.own_validators();
        if task.attempts > 0 || validators.is_empty() {
            return None;
        }
        let dir = run_dir.join("baseline");
        Some(process::Baseline {
            validators: validators.to_vec(),
            base: base.to_string(),
            env: self.validator_env(&task.task_id, worktree, &dir, 0),
            timeout_secs: self.config.validator_timeout.as_secs().max(1),
            dir,
            strict: self.config.strict_validators,
        })
    }

    /// Records what a worker's baseline check found: vacuous validators are flagged in the
    /// run log and the task note; under `strict_validators` the agent was not started and
    /// the task is blocked (no attempt counted). Returns the status when it blocked.
    pub(super) fn vacuous_found(
        &mut self,
        task: &Task,
        found: &process::BaselineResult,
    ) -> Option<TaskStatus> {
        if found.vacuous.is_empty() {
            return None;
        }
        let task_id = task.task_id.clone();
        let list = found
            .vacuous
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "vacuous validator: {list} already passes on `{}` ({}) before any work, so it proves nothing about this task{}",
            self.target,
            short(&found.base),
            if found.refused {
                "; not dispatched (strict_validators)"
            } else {
                ""
            }
        );
        // A gate deferred or waiting for approval sees the same result again next cycle:
        // the note (written with the event) says whether it was recorded already.
        let recorded = self
            .notes
            .get(&task_id)
            .is_some_and(|note| note.contains(&text));
        if !recorded {
            self.action(format!("`{task_id}`: {text}"));
        }
        if self.options.dry_run || (recorded && !found.refused) {
            return found.refused.then_some(TaskStatus::Blocked);
        }
        let kind = if found.refused {
            EventKind::Block
        } else {
            EventKind::Evidence
        };
        self.pending
            .events
            .push(self.event(kind, &task_id, text.clone()));
        self.append_note(
            &task_id,
            &format!("{} {text}", crate::clock::format_timestamp(self.now)),
        );
        if !found.refused {
            return None;
        }
        self.pending.status(&task_id, TaskStatus::Blocked);
        self.report.blocked.push(task_id.clone());
        self.notify(NotifyEvent::Blocked, &task_id, text);
        Some(TaskStatus::Blocked)
    }
}

/// What the human gate after validation says before the gate runs.
pub(super) enum Hold {
    /// Gate it; `None`: no approval required, `Some(approved)`: required, with the commit
    /// a person approved if any.
    Gate(Option<Option<String>>),
    /// Validated and waiting for a person: nothing to do this cycle.
    Wait,
    /// A person rejected the candidate: a failed attempt with this reason.
    Rejected(String),
}

impl Cycle<'_> {
    pub(super) fn approvals(&self) -> Approvals {
        Approvals::new(self.options.workspace.state_dir().join("approvals"))
    }

    /// The human gate after validation, decided from the approval records and the task
    /// branch's tip: an approval counts only for the exact commit it names.
    pub(super) fn hold_after(
        &mut self,
        task: &Task,
        claim: &crate::state::claims::Claim,
    ) -> Result<Hold, CycleError> {
        if !self.policy.needs_approval(task, Approval::After) {
            return Ok(Hold::Gate(None));
        }
        let task_id = task.task_id.clone();
        let approvals = self.approvals();
        let tip = git::rev_parse(&self.primary, &format!("refs/heads/{}", claim.info.branch))?;
        if let Some(record) = approvals
            .record(&task_id, Stage::After)
            .filter(|record| self.person_decided(record))
        {
            if Some(&record.commit) == tip.as_ref() {
                return Ok(match record.decision {
                    Decision::Approve => Hold::Gate(Some(Some(record.commit))),
                    Decision::Reject => {
                        approvals.remove_record(&task_id, Stage::After);
                        approvals.remove_awaiting(&task_id);
                        Hold::Rejected(format!(
                            "rejected by {} at review of {}: {}",
                            record.by,
                            short(&record.commit),
                            record.text
                        ))
                    }
                });
            }
            approvals.remove_record(&task_id, Stage::After);
            let text = format!(
                "the approval of {} by {} no longer counts: the task branch is now at {}",
                short(&record.commit),
                record.by,
                tip.as_deref().map_or("nothing", short)
            );
            self.action(format!("`{task_id}`: {text}"));
            self.pending
                .events
                .push(self.event(EventKind::Approve, &task_id, text.clone()));
            self.append_note(&task_id, &text);
        }
        if let Some(awaiting) = approvals.awaiting(&task_id)
            && Some(&awaiting.commit) == tip.as_ref()
        {
            // Still waiting: keep the claim alive so nothing else takes the task.
            let _ = self.store.renew(
                &claim.info.task,
                &claim.token,
                self.now,
                self.config.claims.lease,
            );
            self.action(format!(
                "`{task_id}`: {} waits for `longrun approve {task_id}`",
                short(&awaiting.commit)
            ));
            return Ok(Hold::Wait);
        }
        Ok(Hold::Gate(Some(None)))
    }

    /// Records a validated candidate held for approval: status `awaiting_approval`, the
    /// claim, worktree and branch kept, a notification sent.
    pub(super) fn await_approval(
        &mut self,
        task_id: &str,
        claim: &crate::state::claims::Claim,
        candidate: &str,
        runs: &[crate::gate::validate::ValidatorRun],
    ) -> Result<(), CycleError> {
        self.approvals().write_awaiting(&Awaiting {
            task: task_id.to_string(),
            stage: Stage::After,
            commit: candidate.to_string(),
            at: crate::clock::format_timestamp(self.now),
        })?;
        let validators: Vec<String> = runs
            .iter()
            .map(|run| format!("`{}`", run.command))
            .collect();
        let (what, proven) = if validators.is_empty() {
            (
                "unvalidated candidate",
                "no validator ran: missing validators were allowed".to_string(),
            )
        } else {
            (
                "validated candidate",
                format!("{} passed", validators.join(", ")),
            )
        };
        let text = format!(
            "{what} {} awaits approval ({proven}): `longrun approve {task_id}` or `longrun reject {task_id} --reason ...`",
            short(candidate),
        );
        let mut event = self.event(EventKind::Decision, task_id, text.clone());
        event = super::with_field(event, "attempt", &claim.info.attempt.to_string());
        event = super::with_field(event, "commit", short(candidate));
        self.pending.events.push(event);
        self.pending.status(task_id, TaskStatus::AwaitingApproval);
        self.append_note(
            task_id,
            &format!("{} {text}", crate::clock::format_timestamp(self.now)),
        );
        self.notify(NotifyEvent::AwaitingApproval, task_id, text);
        let _ = self.store.renew(
            &claim.info.task,
            &claim.token,
            self.now,
            self.config.claims.lease,
        );
        self.action(format!(
            "`{task_id}` awaits approval of {}",
            short(candidate)
        ));
        Ok(())
    }

    /// The human gate before dispatch: `None` lets the task go.
    fn hold_before(&mut self, task: &Task) -> Option<TaskStatus> {
        let task_id = task.task_id.clone();
        // The rule `next`, `status` and `claim` show readiness by, too.
        let needed = self.policy.needs_approval(task, Approval::Before);
        let mut gate = self.approvals().dispatch_gate(&task_id, needed);
        if let DispatchGate::Approved(record) | DispatchGate::Rejected(record) = &gate
            && !self.person_decided(record)
        {
            gate = DispatchGate::Waiting;
        }
        match gate {
            DispatchGate::Open | DispatchGate::Approved(_) => None,
            DispatchGate::Rejected(record) => {
                let text = format!("not dispatched: {} rejected it: {}", record.by, record.text);
                self.action(format!("block `{task_id}`: {text}"));
                if !self.options.dry_run {
                    self.pending.status(&task_id, TaskStatus::Blocked);
                    self.pending
                        .events
                        .push(self.event(EventKind::Block, &task_id, text.clone()));
                    self.report.blocked.push(task_id.clone());
                }
                Some(TaskStatus::Blocked)
            }
            DispatchGate::Waiting => {
                let text = format!(
                    "held before dispatch until a person approves: `longrun approve {task_id}`"
                );
                self.action(format!("`{task_id}`: {text}"));
                if !self.options.dry_run {
                    self.pending.status(&task_id, TaskStatus::AwaitingApproval);
                    self.pending.events.push(self.event(
                        EventKind::Decision,
                        &task_id,
                        text.clone(),
                    ));
                    self.append_note(&task_id, &text);
                    self.notify(NotifyEvent::AwaitingApproval, &task_id, text);
                }
                Some(TaskStatus::AwaitingApproval)
            }
        }
    }

    /// True when `record` is a person's decision: the run log holds the event their
    /// `longrun approve` or `reject` wrote with it ([`Approvals::witnessed`]). Otherwise
    /// the record is some process's forgery (a worker's, most likely): it is removed, and
    /// the run log and a notification say so.
    pub(super) fn person_decided(&mut self, record: &crate::state::approvals::Record) -> bool {
        if Approvals::witnessed(record, &self.options.workspace.run_log()) {
            return true;
        }
        let text = format!(
            "the {} record of `{}` for {} (by \"{}\") has no `{}` event in run-log.md: not written by `longrun {}`, so it does not count and was removed",
            record.stage.as_str(),
            record.task,
            short(&record.commit),
            record.by,
            match record.decision {
                Decision::Approve => "approve",
                Decision::Reject => "reject",
            },
            match record.decision {
                Decision::Approve => "approve",
                Decision::Reject => "reject",
            },
        );
        self.action(format!("`{}`: {text}", record.task));
        if !self.options.dry_run {
            self.approvals().remove_record(&record.task, record.stage);
            self.pending
                .events
                .push(self.event(EventKind::Evidence, &record.task, text));
        }
        false
    }

    /// After a merge, approvals of the task are spent.
    pub(super) fn clear_approvals(&self, task_id: &str) {
        let approvals = self.approvals();
        approvals.remove_record(task_id, Stage::After);
        approvals.remove_awaiting(task_id);
    }
}

impl Cycle<'_> {
    /// The reviewers for `task` by its risk (`review.by_risk`; no risk reads as low), each
    /// with its argv rendered for its own prompt file under the attempt's run directory.
    pub(super) fn reviewers(
        &self,
        task: &Task,
        worktree: &Path,
        run_dir: &Path,
        attempt: u32,
    ) -> Result<Vec<Reviewer>, CycleError> {
        let risk = task.risk.unwrap_or(crate::state::model::Risk::Low);
        let mut reviewers = Vec::new();
        for (index, name) in self.config.review.by_risk.get(risk).iter().enumerate() {
            let Some(profile) = self.config.profile(name).cloned() else {
                return Err(CycleError::Task {
                    task: task.task_id.clone(),
                    message: format!("reviewer profile `{name}` is not in longrun.yaml"),
                });
            };
            let dir = run_dir.join("review").join((index + 1).to_string());
            let prompt_file = dir.join("prompt.md");
            let vars = profile.vars(worktree, &prompt_file, &task.task_id);
            let argv = profile
                .render_argv(&vars)
                .map_err(|error| CycleError::Task {
                    task: task.task_id.clone(),
                    message: format!("reviewer profile `{name}`: {error}"),
                })?;
            let mut env = self.config.worker_env(&profile, &self.options.caller_env);
            env.retain(|(name, _)| !name.starts_with("LONGRUN_"));
            env.extend(super::longrun_env(
                &task.task_id,
                worktree,
                Some(&prompt_file),
                &dir,
                attempt,
            ));
            reviewers.push(Reviewer {
                name: name.clone(),
                argv,
                prompt_file,
                prompt: match profile.prompt {
                    PromptMode::Stdin => PromptDelivery::Stdin,
                    PromptMode::File => PromptDelivery::File,
                    PromptMode::Arg => PromptDelivery::Arg,
                },
                env,
                timeout: self.config.review.timeout,
                run_dir: dir.join("run"),
            });
        }
        Ok(reviewers)
    }
}

/// A budget that dispatching a task now would exceed.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetStop {
    /// A per-run budget: nothing more is dispatched in this run. Otherwise the task's own.
    pub whole_run: bool,
    /// Which budget, the same from cycle to cycle: `per-run wall-clock`, `per-run cost`,
    /// `per-run tokens`, `per-task cost`, `per-task tokens`.
    pub budget: &'static str,
    /// The longrun.yaml key that sets it.
    pub key: &'static str,
    /// The limit and what was spent against it, for people.
    pub text: String,
}

/// The budget dispatching `task_id` at `now` would exceed, if any. Per-run budgets count
/// from `run_started`, the current run's start (none open: nothing is spent in it yet), and
/// only attempts claimed since; per-task budgets count every attempt of the task. Unknown
/// costs are said to be unknown, never counted as zero.
pub fn budget_stop(
    budgets: &crate::config::Budgets,
    runs: &Path,
    run_started: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
    task_id: &str,
) -> Option<BudgetStop> {
    let run_limit = &budgets.per_run;
    if let Some(started) = run_started {
        if let Some(limit) = run_limit.wall_clock {
            let elapsed = now.duration_since(started).as_secs().max(0) as u64;
            if elapsed >= limit.as_secs() {
                return Some(BudgetStop {
                    whole_run: true,
                    budget: "per-run wall-clock",
                    key: "budgets.per_run.wall_clock",
                    text: format!(
                        "per-run wall-clock budget of {} s spent ({elapsed} s since the run started at {})",
                        limit.as_secs(),
                        crate::clock::format_timestamp(started)
                    ),
                });
            }
        }
        if run_limit.cost_usd.is_some() || run_limit.tokens.is_some() {
            let spent = Spent::read_since(runs, None, Some(started));
            if let Some(stop) = spent_over(true, run_limit, spent) {
                return Some(stop);
            }
        }
    }
    let task_limit = &budgets.per_task;
    if task_limit.cost_usd.is_some() || task_limit.tokens.is_some() {
        return spent_over(false, task_limit, Spent::read(runs, Some(task_id)));
    }
    None
}

/// The cost or token limit of `limit` that `spent` reaches, if any.
fn spent_over(whole_run: bool, limit: &crate::config::Budget, spent: Spent) -> Option<BudgetStop> {
    let scope = if whole_run { "per-run" } else { "per-task" };
    if let Some(max) = limit.cost_usd
        && spent.cost_usd >= max
    {
        let unknown = if spent.unknown_cost > 0 {
            format!(
                "; cost unknown for {} of {} attempts (agents that report none)",
                spent.unknown_cost, spent.attempts
            )
        } else {
            String::new()
        };
        return Some(BudgetStop {
            whole_run,
            budget: if whole_run {
                "per-run cost"
            } else {
                "per-task cost"
            },
            key: if whole_run {
                "budgets.per_run.cost_usd"
            } else {
                "budgets.per_task.cost_usd"
            },
            text: format!(
                "{scope} cost budget of ${max:.2} spent (${:.2} known{unknown})",
                spent.cost_usd
            ),
        });
    }
    if let Some(max) = limit.tokens
        && spent.tokens >= max
    {
        return Some(BudgetStop {
            whole_run,
            budget: if whole_run {
                "per-run tokens"
            } else {
                "per-task tokens"
            },
            key: if whole_run {
                "budgets.per_run.tokens"
            } else {
                "budgets.per_task.tokens"
            },
            text: format!(
                "{scope} token budget of {max} spent ({} tokens)",
                spent.tokens
            ),
        });
    }
    None
}

impl Cycle<'_> {
    /// Starts a run when none is open: the per-run budgets count from this dispatch.
    fn open_run(&mut self) -> Result<(), CycleError> {
        let state_dir = self.options.workspace.state_dir();
        if RunRecord::load(&state_dir)?.is_some() {
            return Ok(());
        }
        RunRecord::starting(self.now).write(&state_dir)?;
        let text = format!(
            "run started at {}: per-run budgets count from here",
            crate::clock::format_timestamp(self.now)
        );
        self.action(text.clone());
        self.pending
            .events
            .push(self.event(EventKind::Decision, "", text));
        Ok(())
    }

    /// Ends the run when every task is complete (after [`Cycle::summarize`]): the next
    /// dispatch starts a new one, with its own per-run budgets.
    pub(super) fn end_run_when_done(&mut self) -> Result<(), CycleError> {
        let report = &self.report;
        if self.options.dry_run || report.total == 0 || report.complete < report.total {
            return Ok(());
        }
        if RunRecord::end(&self.options.workspace.state_dir())? {
            let text = "run ended: every task is complete; the next dispatch starts a new run";
            self.action(text.to_string());
            self.pending
                .events
                .push(self.event(EventKind::Decision, "", text));
        }
        Ok(())
    }

    /// Stops a dispatch over budget: the run-wide stop is logged and notified once per
    /// budget and run (the run record remembers it), a task's own stop blocks the task.
    pub(super) fn stop_for_budget(
        &mut self,
        task: &Task,
    ) -> Result<Option<TaskStatus>, CycleError> {
        let state_dir = self.options.workspace.state_dir();
        let record = RunRecord::load(&state_dir)?;
        let stop = budget_stop(
            &self.config.budgets,
            &state_dir.join("runs"),
            record.as_ref().and_then(RunRecord::started),
            self.now,
            &task.task_id,
        );
        let run_stopped = stop.as_ref().is_some_and(|stop| stop.whole_run);
        if !run_stopped
            && !self.options.dry_run
            && let Some(mut record) = record.clone()
            && let Some(budget) = record.budget_stopped.take()
        {
            // The budget was raised since the stop: dispatch goes on, and says so.
            record.write(&state_dir)?;
            self.pending.events.push(self.event(
                EventKind::Decision,
                "",
                format!("budget: dispatch resumes: the {budget} budget is no longer spent"),
            ));
        }
        let Some(stop) = stop else {
            return Ok(None);
        };
        let task_id = task.task_id.clone();
        let text = stop.text;
        self.action(format!("not dispatching `{task_id}`: {text}"));
        if self.options.dry_run {
            return Ok(Some(TaskStatus::NotStarted));
        }
        if stop.whole_run {
            if let Some(mut record) = record
                && record.budget_stopped.as_deref() != Some(stop.budget)
            {
                record.budget_stopped = Some(stop.budget.to_string());
                record.write(&state_dir)?;
                self.pending.events.push(self.event(
                    EventKind::Block,
                    "",
                    format!(
                        "budget: dispatch stopped: {text}; raise `{}` in longrun.yaml, or start a new run with `longrun resume --new-run`",
                        stop.key
                    ),
                ));
                self.notify(NotifyEvent::BudgetExceeded, "", text);
            }
            self.budget_stopped = true;
            return Ok(Some(TaskStatus::NotStarted));
        }
        let text = format!("not dispatched: {text}");
        self.pending.status(&task_id, TaskStatus::Blocked);
        self.pending
            .events
            .push(self.event(EventKind::Block, &task_id, format!("budget: {text}")));
        self.append_note(&task_id, &text);
        self.report.blocked.push(task_id.clone());
        self.notify(NotifyEvent::BudgetExceeded, &task_id, text);
        Ok(Some(TaskStatus::Blocked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checklist(statuses: &[(&str, &str, &str)]) -> Checklist {
        let mut text =
            String::from("summary:\n  verification_loop:\n    full: [[\"true\"]]\ntasks:\n");
        for (id, milestone, status) in statuses {
            text.push_str(&format!(
                "  - task_id: {id}\n    title: {id}\n    status: {status}\n"
            ));
            if !milestone.is_empty() {
                text.push_str(&format!("    milestone: {milestone}\n"));
            }
        }
        Checklist::parse(std::path::Path::new("checklist.yaml"), &text).unwrap()
    }

    fn decide(checklist: &Checklist, id: &str, gated_first: &[&str]) -> FullSuite {
        let policy = crate::policy::Policy::builtin().unwrap();
        full_suite(checklist, checklist.task(id).unwrap(), &policy, gated_first)
    }

    #[test]
    fn the_full_suite_runs_when_a_task_completes_its_milestone_or_the_run() {
        let list = checklist(&[
            ("T1", "m1", "complete"),
            ("T2", "m1", "in_progress"),
            ("T3", "m2", "in_progress"),
            ("T4", "m2", "not_started"),
        ]);
        // T2 ends m1 whatever else is open.
        assert_eq!(
            decide(&list, "T2", &[]),
            FullSuite::Runs("the last task of milestone `m1`".into())
        );
        // T3 does not end m2 while T4 is open, nor the run.
        assert_eq!(decide(&list, "T3", &[]), FullSuite::No);
        let list = checklist(&[
            ("T1", "m1", "complete"),
            ("T2", "m1", "in_progress"),
            ("T3", "", "in_progress"),
        ]);
        // Finishing together: T3 ends the run only if T2, gated first, merges.
        assert_eq!(
            decide(&list, "T3", &["T2"]),
            FullSuite::WaitsFor(vec!["T2".into()])
        );
        assert_eq!(decide(&list, "T3", &[]), FullSuite::No);
        // Once T2 is complete, T3 ends the run.
        let list = checklist(&[
            ("T1", "m1", "complete"),
            ("T2", "m1", "complete"),
            ("T3", "", "in_progress"),
        ]);
        assert_eq!(
            decide(&list, "T3", &[]),
            FullSuite::Runs("the last task before the run is done".into())
        );
        let list = checklist(&[("T1", "m1", "in_progress"), ("T2", "m1", "in_progress")]);
        assert_eq!(
            decide(&list, "T2", &["T1"]),
            FullSuite::WaitsFor(vec!["T1".into()])
        );
        assert_eq!(
            decide(&list, "T2", &[]),
            FullSuite::No,
            "T1 is open and not gated first"
        );
    }
}
