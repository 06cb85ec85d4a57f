//! Dispatch: claim a ready task, give it a worktree and a prompt, and start a detached,
//! supervised worker for it. The cycle that dispatches exits at once; the next one reaps.

use std::path::{Path, PathBuf};

use super::{CYCLE_WORKER_PREFIX, Cycle, CycleError, run_dir};
use crate::git;
use crate::git::claims::{MirroredOutcome, claim_mirrored};
use crate::process;
use crate::prompt::{PromptInput, render_worker_prompt};
use crate::state::checklist::{Checklist, Task};
use crate::state::claims::{ClaimOutcome, ClaimRequest};
use crate::state::model::{EventKind, TaskId, TaskStatus};

impl Cycle<'_> {
    /// Claims `task` for a worker: [`Dispatch::Claimed`] when the cycle now holds it (the
    /// worktree and the worker come next, see [`Cycle::schedule`]); otherwise the task's
    /// new status: `in_progress` in a dry run, `blocked` when it cannot be dispatched at
    /// all, `None` when someone else holds it.
    pub(super) fn dispatch(&mut self, task: &Task) -> Result<Dispatch, CycleError> {
        let task_id = task.task_id.clone();
        let Ok(id) = TaskId::parse(&task_id) else {
            return Ok(Dispatch::Done(None));
        };
        let allow_missing =
            self.options.allow_missing_validators || self.config.allow_missing_validators;
        if task.own_validators().is_empty() && !allow_missing {
            self.action(format!(
                "block `{task_id}`: it has no validators, so nothing could prove it done"
            ));
            if !self.options.dry_run {
                self.pending.status(&task_id, TaskStatus::Blocked);
                self.append_note(
                    &task_id,
                    "not dispatched: the task has no validators (fail closed); add `validators:` or run with --allow-missing-validators",
                );
                self.pending.events.push(self.event(
                    EventKind::Block,
                    &task_id,
                    "not dispatched: no validators (fail closed)",
                ));
                self.notify(
                    crate::config::NotifyEvent::Blocked,
                    &task_id,
                    "not dispatched: no validators (fail closed)",
                );
                self.report.blocked.push(task_id);
            }
            return Ok(Dispatch::Done(Some(TaskStatus::Blocked)));
        }
        // Governance rules (vacuous validators, budgets, approvals): see `gates.rs`.
        if let Some(status) = self.before_dispatch(task)? {
            return Ok(Dispatch::Done(Some(status)));
        }
        let attempt = task.attempts + 1;
        let profile_name = self
            .config
            .route(task.risk, task.attempts, task.agent.as_deref())
            .to_string();
        let Some(profile) = self.config.profile(&profile_name).cloned() else {
            self.action(format!(
                "block `{task_id}`: agent profile `{profile_name}` is not in longrun.yaml"
            ));
            if !self.options.dry_run {
                self.pending.status(&task_id, TaskStatus::Blocked);
                self.append_note(
                    &task_id,
                    &format!("not dispatched: agent profile `{profile_name}` does not exist"),
                );
                self.pending.events.push(self.event(
                    EventKind::Block,
                    &task_id,
                    format!("not dispatched: unknown agent profile `{profile_name}`"),
                ));
                self.report.blocked.push(task_id);
            }
            return Ok(Dispatch::Done(Some(TaskStatus::Blocked)));
        };
        self.action(format!(
            "dispatch `{task_id}` attempt {attempt} with `{profile_name}`"
        ));
        if self.options.dry_run {
            self.report.dispatched.push(task_id);
            return Ok(Dispatch::Done(Some(TaskStatus::InProgress)));
        }

        let workspace = self.options.workspace.clone();
        let worktrees_dir = if self.config.worktrees_dir.is_absolute() {
            self.config.worktrees_dir.clone()
        } else {
            workspace.root.join(&self.config.worktrees_dir)
        };
        let worktree = worktrees_dir.join(&task_id);
        let branch = format!("longrun/{task_id}");
        let request = ClaimRequest {
            task: id.clone(),
            worker: format!("{CYCLE_WORKER_PREFIX}{profile_name}"),
            host: self.options.host.clone(),
            pid: std::process::id(),
            attempt,
            branch: branch.clone(),
            worktree: worktree.display().to_string(),
            now: self.now,
            lease: self.config.claims.lease,
            token: None,
        };
        let held = match &self.remote {
            Some(remote) => match claim_mirrored(&self.store, remote, &request)
                .map_err(|error| CycleError::Remote(Box::new(error)))?
            {
                MirroredOutcome::Claimed(held) => held,
                MirroredOutcome::TakenRemotely { .. } | MirroredOutcome::TakenLocally(_) => {
                    self.action(format!("`{task_id}` is claimed elsewhere"));
                    return Ok(Dispatch::Done(None));
                }
            },
            None => match self.store.claim(&request)? {
                ClaimOutcome::Claimed(held) => held,
                ClaimOutcome::Taken(_) => return Ok(Dispatch::Done(None)),
            },
        };
        self.fault("after-claim");
        std::fs::create_dir_all(&worktrees_dir).map_err(|source| {
            crate::fsutil::FsError::Write {
                path: worktrees_dir.clone(),
                source,
            }
        })?;
        Ok(Dispatch::Claimed(Box::new(Claimed {
            held,
            attempt,
            profile_name,
            profile,
            worktree,
            branch,
            base: self.tip.clone(),
        })))
    }

    /// Starts the supervised worker for a claimed task whose worktree is ready.
    pub(super) fn start(
        &mut self,
        checklist: &Checklist,
        task: &Task,
        claimed: Claimed,
    ) -> Result<Option<TaskStatus>, CycleError> {
        let Claimed {
            held,
            attempt,
            profile_name,
            profile,
            worktree,
            branch,
            base: target_tip,
        } = claimed;
        let task_id = task.task_id.clone();
        let workspace = self.options.workspace.clone();

        let run_dir = run_dir(&workspace, &task_id, held.claim().info.claimed_at, attempt);
        std::fs::create_dir_all(&run_dir).map_err(|source| crate::fsutil::FsError::Write {
            path: run_dir.clone(),
            source,
        })?;
        let prompt_file = run_dir.join("prompt.md");
        let prompt = self.prompt(checklist, task, attempt, &worktree, &branch);
        crate::fsutil::write_atomic(&prompt_file, prompt.as_bytes())?;

        let timeout = task
            .timeout
            .as_deref()
            .and_then(|text| crate::config::parse_duration(text).ok())
            .unwrap_or(profile.timeout);
        // `budgets.per_task.wall_clock` bounds every attempt too.
        let timeout = match self.config.budgets.per_task.wall_clock {
            Some(limit) => timeout.min(limit),
            None => timeout,
        };

        // What the primary checkout looks like now: a worker that writes outside its
        // worktree changes it, and the gate rejects that attempt.
        crate::fsutil::write_atomic(
            &run_dir.join("primary.status"),
            self.primary_status()?.as_bytes(),
        )?;
        let mut spec = crate::launch::agent_spec(&crate::launch::AgentLaunch {
            profile: &profile,
            config: &self.config,
            caller_env: &self.options.caller_env,
            job: &task_id,
            workdir: &worktree,
            prompt: &prompt,
            prompt_file: &prompt_file,
            run_dir: &run_dir,
            attempt,
            timeout,
        })
        .map_err(|error| CycleError::Task {
            task: task_id.clone(),
            message: format!("agent profile `{profile_name}`: {error}"),
        })?;
        spec.lock_file = Some(held.path().to_path_buf());
        spec.baseline = self.baseline(task, &target_tip, &worktree, &run_dir);
        // A worker that writes its own task's approval is rejected (see `Approvals::paths_of`).
        let approvals = self.approvals();
        spec.guarded = approvals.paths_of(&task_id);
        spec.guarded.push(approvals.dir().to_path_buf());
        let spec_path = run_dir.join("spec.json");
        spec.write(&spec_path)?;
        // The supervisor takes the claim's OS lock before it reports its pid, so let go of
        // it first. In between, the claim's fresh lease keeps it from looking stale.
        drop(held);
        // Waited for at the end of the scheduling pass: supervisors start side by side.
        self.starting
            .push(process::start_detached(&self.options.exe, &spec_path)?);
        self.fault("after-spawn");

        // The profile is recorded in the dispatch event, not in the task's `agent` key: that
        // key is a person's override, and writing it would pin every later attempt to this
        // profile (no escalation after a failure).
        self.pending.status(&task_id, TaskStatus::InProgress);
        let mut event = self.event(
            EventKind::Dispatch,
            &task_id,
            format!(
                "worker started in {} → {}",
                self.relative(&worktree),
                self.relative(&run_dir)
            ),
        );
        event = super::with_field(event, "attempt", &attempt.to_string());
        event = super::with_field(event, "agent", &profile_name);
        self.pending.events.push(event);
        self.report.dispatched.push(task_id);
        Ok(Some(TaskStatus::InProgress))
    }

    fn prompt(
        &mut self,
        checklist: &Checklist,
        task: &Task,
        attempt: u32,
        worktree: &std::path::Path,
        branch: &str,
    ) -> String {
        let workspace = &self.options.workspace;
        // Read once a cycle: every prompt of the cycle quotes the same files.
        let shared = self.prompt_files.get_or_insert_with(|| {
            let read = |path: PathBuf| std::fs::read_to_string(path).unwrap_or_default();
            super::PromptFiles {
                plan: read(workspace.plan()),
                agents_md: read(workspace.root.join("AGENTS.md")),
                skills: crate::skills::list_skills(&self.config.skills_path(&workspace.root))
                    .skills,
            }
        });
        let (plan, agents_md, skills) = (&shared.plan, &shared.agents_md, &shared.skills);
        let validators: Vec<String> = task.own_validators().iter().map(|v| v.display()).collect();
        let fast: Vec<String> = checklist
            .summary
            .verification_loop
            .fast
            .iter()
            .map(|v| v.display())
            .collect();
        let failure = super::previous_failure_text(workspace, &task.task_id, attempt);
        let worktree_text = worktree.display().to_string();
        let skills_dir = self.config.skills_dir.display().to_string();
        render_worker_prompt(&PromptInput {
            task_id: &task.task_id,
            title: &task.title,
            description: &task.description,
            acceptance_criteria: &task.acceptance_criteria,
            implementation_notes: &task.implementation_notes,
            milestone: task.milestone.as_deref(),
            validators: &validators,
            fast_verification: &fast,
            guidelines: &checklist.guidelines,
            plan,
            agents_md,
            skills,
            skills_dir: &skills_dir,
            failure_evidence: failure.as_deref(),
            attempt,
            max_attempts: task.max_attempts.unwrap_or(self.config.max_attempts),
            worktree: &worktree_text,
            branch,
        })
    }
}

/// A task the cycle claimed, waiting for its worktree and worker.
pub(super) struct Claimed {
    held: crate::state::claims::HeldClaim,
    attempt: u32,
    profile_name: String,
    profile: crate::config::Profile,
    pub(super) worktree: PathBuf,
    pub(super) branch: String,
    /// What the task branch starts from: the target's tip.
    pub(super) base: String,
}

/// What [`Cycle::dispatch`] did.
pub(super) enum Dispatch {
    Done(Option<TaskStatus>),
    Claimed(Box<Claimed>),
}

/// The task's worktree: `parked` (see [`Cycle::release_finished`]) when there is one,
/// else a new one. Touches only this worktree, so several are prepared side by side.
pub(super) fn prepare_worktree(
    primary: &Path,
    parked: Option<&Path>,
    claimed: &Claimed,
) -> Result<(), CycleError> {
    let (worktree, branch, base) = (&claimed.worktree, &claimed.branch, &claimed.base);
    if !worktree.exists()
        && let Some(parked) = parked
    {
        match git::worktree_unpark(primary, parked, worktree, branch, base) {
            Ok(_) => return Ok(()),
            Err(error) => {
                tracing::debug!("cannot reuse {}: {error}", parked.display());
                for path in [parked, worktree.as_path()] {
                    if path.exists() {
                        let _ = git::worktree_remove(primary, path, true);
                    }
                }
            }
        }
    }
    git::worktree_add(primary, worktree, branch, base)?;
    Ok(())
}
