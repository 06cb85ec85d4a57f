//! The gate: proves a finished worker's result and merges it, or rejects it with evidence.
//!
//! An agent's word is never proof. The gate brings the target branch into the task branch,
//! runs the validators itself on that candidate (fail closed: no validators, no merge), and
//! only then merges into the target with a commit that carries the task's trailers. It
//! never prints and never touches the primary checkout's uncommitted changes.

pub mod review;
pub mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::Clock;
use crate::git::{self, AdvanceOutcome, GitError, Identity, MergeOutcome, TaskTrailers};
use crate::state::checklist::Validator;
use validate::{ValidateOptions, ValidatorRun, run_validators};

/// Everything the gate needs about one finished attempt.
pub struct GateInput<'a> {
    pub primary: &'a Path,
    pub worktree: &'a Path,
    pub target_branch: &'a str,
    /// The target's tip as the caller last saw it (`None`: look it up).
    pub target_tip: Option<&'a str>,
    pub task_id: &'a str,
    pub task_title: &'a str,
    pub attempt: u32,
    pub token: &'a str,
    /// The task's own validators, then the checklist's fast loop.
    pub task_validators: &'a [Validator],
    pub fast_validators: &'a [Validator],
    /// The checklist's full suite, run after the fast loop when the task ends a milestone
    /// or the run (empty otherwise).
    pub full_validators: &'a [Validator],
    /// The rules every diff must follow.
    pub policy: &'a crate::policy::Policy,
    /// The task's own `paths` allowlist (empty: anything not protected).
    pub task_paths: &'a [String],
    /// Reviewers to run after the validators pass (empty: no agent review).
    pub reviewers: &'a [review::Reviewer],
    /// What reviewers read about the task.
    pub review_task: ReviewTask<'a>,
    /// Whether a person must approve the validated candidate before it merges.
    pub approval: ApprovalGate<'a>,
    pub allow_missing_validators: bool,
    pub validator_env: &'a [(String, String)],
    pub validator_timeout: Duration,
    pub identity: &'a Identity,
    /// Where the attempt's files are (`validate/` goes inside).
    pub run_dir: &'a Path,
    pub clock: Clock,
    /// Several machines: the merge is published by a leased push to this remote, which
    /// decides between machines; the local branch follows.
    pub publish: Option<Publish<'a>>,
    /// Make the merge commit but leave the target branch where it is: the caller lands
    /// several at once ([`GateOutcome::Validated`]). Ignored when publishing.
    pub defer_landing: bool,
}

/// Where merges are published when several machines share a remote.
#[derive(Debug, Clone, Copy)]
pub struct Publish<'a> {
    pub remote: &'a str,
    /// The local ref holding the remote's target as last fetched
    /// (`refs/remotes/<remote>/<target>`).
    pub tracking_ref: &'a str,
}

/// The task as reviewers read it.
#[derive(Debug, Clone, Copy)]
pub struct ReviewTask<'a> {
    pub description: &'a str,
    pub acceptance_criteria: &'a [String],
}

/// A human gate before the merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalGate<'a> {
    NotRequired,
    /// Required; `approved` is the commit a person approved, if any. Only that exact
    /// candidate merges: a different one (new commits, a moved target) waits again.
    Required {
        approved: Option<&'a str>,
    },
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateOutcome {
    /// Merged into the target branch.
    Merged {
        commit: String,
        validated_tree: String,
        runs: Vec<ValidatorRun>,
    },
    /// The attempt is rejected; `summary` goes back to the next attempt.
    Rejected {
        reason: String,
        summary: String,
        runs: Vec<ValidatorRun>,
    },
    /// Validated, and held for a person's approval of exactly `candidate` (the task
    /// branch's tip); nothing merged.
    AwaitingApproval {
        candidate: String,
        runs: Vec<ValidatorRun>,
    },
    /// Nothing was decided; try again next cycle (the target moved under us, or a person's
    /// uncommitted changes in the primary checkout are in the way of the merge).
    Deferred { reason: String },
    /// With `defer_landing`: validated, and `commit` is the merge commit on top of
    /// `target_tip`, not yet on the target branch. It lands when the caller moves the
    /// branch to it (or to a later merge commit built on it).
    Validated {
        commit: String,
        validated_tree: String,
        runs: Vec<ValidatorRun>,
    },
}

/// Errors the gate cannot turn into a decision (git itself failing).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot run validators")]
    Process(#[from] crate::process::ProcessError),
    #[error("the target branch `{0}` does not exist")]
    NoTarget(String),
}

/// What [`gate`] decided, and the task branch's own head before anything was merged into
/// it (`None` when the gate stopped before that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gated {
    pub outcome: GateOutcome,
    pub task_head: Option<String>,
}

/// Gates one attempt whose worker has finished.
pub fn gate(input: &GateInput<'_>) -> Result<Gated, GateError> {
    let mut task_head = None;
    let outcome = gate_attempt(input, &mut task_head)?;
    Ok(Gated { outcome, task_head })
}

fn gate_attempt(
    input: &GateInput<'_>,
    task_head: &mut Option<String>,
) -> Result<GateOutcome, GateError> {
    let rejected = |reason: String, summary: String, runs: Vec<ValidatorRun>| {
        Ok(GateOutcome::Rejected {
            reason,
            summary,
            runs,
        })
    };
    let target_ref = match &input.publish {
        Some(publish) => publish.tracking_ref.to_string(),
        None => format!("refs/heads/{}", input.target_branch),
    };
    // The tip the cycle last saw is as good as a fresh lookup: the merge below moves the
    // target only from exactly that commit (compare and swap), and defers otherwise.
    let target_tip = match input.target_tip {
        Some(tip) => tip.to_string(),
        None => git::rev_parse(input.primary, &target_ref)?
            .ok_or_else(|| GateError::NoTarget(input.target_branch.to_string()))?,
    };

    // Work the agent left uncommitted is still its work: commit it so it is judged too.
    let committed = git::commit_all(
        input.worktree,
        &format!(
            "{}: work left uncommitted by the worker\n\nCommitted by longrun before validation.",
            input.task_id
        ),
        input.identity,
    )?;
    let head = match committed {
        Some(head) => head,
        None => git::rev_parse(input.worktree, "HEAD")?.unwrap_or_default(),
    };
    // One question answers both: has the task anything of its own, and does it already
    // contain the target?
    let base = match head.is_empty() {
        true => None,
        false => git::merge_base(input.primary, &target_tip, &head)?,
    };
    if head.is_empty() || base.as_deref() == Some(head.as_str()) {
        return rejected(
            "the worker made no commits".to_string(),
            "The task branch has no commit that is not already on the target branch: nothing was done."
                .to_string(),
            Vec::new(),
        );
    }

    // The worktree is clean and at `head`: everything was just committed.
    *task_head = Some(head.clone());
    let merged = match base.as_deref() == Some(target_tip.as_str()) {
        true => MergeOutcome::UpToDate { head },
        false => git::merge_clean(input.worktree, &target_tip, &head, input.identity)?,
    };
    let candidate = match merged {
        MergeOutcome::Conflict { paths } => {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            return rejected(
                format!(
                    "merge conflict with `{}` in {}",
                    input.target_branch,
                    list.join(", ")
                ),
                format!(
                    "Bringing `{}` into the task branch conflicts in: {}. Rebuild the change on top of the current `{}`.",
                    input.target_branch,
                    list.join(", "),
                    input.target_branch
                ),
                Vec::new(),
            );
        }
        MergeOutcome::UpToDate { head } => head,
        MergeOutcome::Merged { commit } => commit,
    };

    // Policy before validators: a protected path or a secret is refused whatever the tests say.
    let diff = git::diff_summary(input.primary, &target_tip, &candidate)?;
    let facts = crate::policy::DiffFacts {
        paths: diff.paths,
        changed_lines: diff.changed_lines,
        text: diff.text,
    };
    let violations = input.policy.check_diff(input.task_paths, &facts);
    if !violations.is_empty() {
        let lines: Vec<String> = violations.iter().map(|v| v.line()).collect();
        return rejected(
            lines.join("; "),
            format!(
                "The change breaks policy ({}):\n{}",
                input
                    .policy
                    .sources
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                lines.join("\n")
            ),
            Vec::new(),
        );
    }

    if input.task_validators.is_empty() && !input.allow_missing_validators {
        return rejected(
            "no validators: nothing proves the task done (fail closed)".to_string(),
            "The task has no validators, so longrun cannot merge it.".to_string(),
            Vec::new(),
        );
    }
    let validators: Vec<Validator> = input
        .task_validators
        .iter()
        .chain(input.fast_validators)
        .chain(input.full_validators)
        .cloned()
        .collect();
    let runs = run_validators(
        &validators,
        &ValidateOptions {
            worktree: input.worktree,
            dir: &input.run_dir.join("validate"),
            env: input.validator_env,
            timeout: input.validator_timeout,
            clock: input.clock,
        },
    )?;
    if let Some(failed) = runs.iter().find(|run| !run.passed()) {
        return rejected(
            format!("validator `{}` {}", failed.command, failed.outcome()),
            format!(
                "Validator `{}` {} on the candidate (log: {}):\n{}",
                failed.command,
                failed.outcome(),
                failed.log.display(),
                failed.summary
            ),
            runs,
        );
    }
    // A worker may have written into the worktree while validators ran (it should be
    // dead, but a leftover process could still be writing): merge only what was validated.
    if !git::is_clean(input.worktree)? {
        return rejected(
            "the worktree changed during validation".to_string(),
            "Files changed in the worktree while the validators ran; the result is not trusted."
                .to_string(),
            runs,
        );
    }

    // Agent review: after validators (it never replaces them), before any human gate.
    if !input.reviewers.is_empty() {
        let prompt = crate::prompt::render_review_prompt(&crate::prompt::ReviewPromptInput {
            task_id: input.task_id,
            title: input.task_title,
            description: input.review_task.description,
            acceptance_criteria: input.review_task.acceptance_criteria,
            target: input.target_branch,
            diff: &git::diff_text(input.primary, &target_tip, &candidate, 3)?,
        });
        for reviewer in input.reviewers {
            match review::run_reviewer(reviewer, &prompt, input.worktree, input.clock)? {
                review::ReviewOutcome::Approved { .. } => {}
                review::ReviewOutcome::Failed { reason, summary } => {
                    return rejected(reason, summary, runs);
                }
            }
            if !git::is_clean(input.worktree)? {
                return rejected(
                    format!("the reviewer `{}` changed the worktree", reviewer.name),
                    "A reviewer must only read; the worktree changed while it ran.".to_string(),
                    runs,
                );
            }
        }
    }

    if let ApprovalGate::Required { approved } = input.approval
        && approved != Some(candidate.as_str())
    {
        return Ok(GateOutcome::AwaitingApproval { candidate, runs });
    }

    let validated_tree = git::tree_of(input.worktree, &candidate)?;
    let trailers = TaskTrailers {
        task: input.task_id.to_string(),
        attempt: input.attempt,
        token: input.token.to_string(),
        validated_tree: validated_tree.clone(),
    };
    let message = trailers.message(&format!(
        "Merge {}: {}",
        input.task_id,
        single_line(input.task_title)
    ))?;
    let merge = git::create_merge_commit(
        input.primary,
        &validated_tree,
        &[target_tip.as_str(), candidate.as_str()],
        &message,
        input.identity,
    )?;
    if let Some(publish) = &input.publish {
        let remote_ref = format!("refs/heads/{}", input.target_branch);
        match git::push_with_lease(
            input.primary,
            publish.remote,
            &merge,
            &remote_ref,
            Some(&target_tip),
        )? {
            git::PushOutcome::Accepted | git::PushOutcome::UpToDate => {}
            git::PushOutcome::Rejected { kind, reason } => {
                return Ok(GateOutcome::Deferred {
                    reason: match kind {
                        git::RejectKind::Moved => format!(
                            "another machine merged into `{}` first; it is merged and validated again on the new tip next cycle",
                            input.target_branch
                        ),
                        _ => format!("the remote refused the merge: {reason}"),
                    },
                });
            }
        }
        // The remote is the record now; the tracking ref and the local branch follow. A
        // local branch that cannot follow (a person's changes in the way) catches up later.
        // (git's push may have moved the tracking ref already; the cycle lock makes this
        // the only writer of it.)
        git::run_git(
            input.primary,
            ["update-ref", publish.tracking_ref, merge.as_str()],
        )?;
        let local_ref = format!("refs/heads/{}", input.target_branch);
        if let Some(local) = git::rev_parse(input.primary, &local_ref)?
            && git::is_ancestor(input.primary, &local, &merge)?
        {
            let _ = git::advance_branch(input.primary, input.target_branch, &merge, &local)?;
        }
        return Ok(GateOutcome::Merged {
            commit: merge,
            validated_tree,
            runs,
        });
    }
    if input.defer_landing {
        return Ok(GateOutcome::Validated {
            commit: merge,
            validated_tree,
            runs,
        });
    }
    Ok(
        match land(input.primary, input.target_branch, &merge, &target_tip)? {
            None => GateOutcome::Merged {
                commit: merge,
                validated_tree,
                runs,
            },
            Some(reason) => GateOutcome::Deferred { reason },
        },
    )
}

/// Moves `target_branch` from `expected_old` to `commit` (a merge commit built on it),
/// updating its checkout if it has one; `Some(reason)` when it could not, and the merge is
/// deferred: the branch moved, or a person's uncommitted changes are in the way.
pub fn land(
    primary: &Path,
    target_branch: &str,
    commit: &str,
    expected_old: &str,
) -> Result<Option<String>, GateError> {
    Ok(
        match git::advance_branch(primary, target_branch, commit, expected_old)? {
            AdvanceOutcome::Advanced { .. } => None,
            AdvanceOutcome::Moved { .. } => Some(format!(
                "`{target_branch}` moved while the task was validated; it is validated again next cycle"
            )),
            AdvanceOutcome::BlockedByLocalChanges { paths, .. } => {
                let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                Some(format!(
                    "uncommitted changes in the primary checkout are in the way of the merge ({}); commit or stash them",
                    if list.is_empty() {
                        "see git status".to_string()
                    } else {
                        list.join(", ")
                    }
                ))
            }
        },
    )
}

fn single_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "task".to_string()
    } else {
        line.to_string()
    }
}

/// A failure's signature: the reason with numbers, hashes and paths masked, so the same
/// failure twice in a row is recognised (the loop breaker).
pub fn failure_signature(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut chars = reason.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                chars.next();
            }
            out.push('#');
        } else {
            out.push(c);
        }
    }
    out
}

/// The path of the attempt's failure evidence, read by the next attempt's prompt.
pub fn failure_file(run_dir: &Path) -> PathBuf {
    run_dir.join("failure.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_mask_numbers() {
        assert_eq!(
            failure_signature("validator `cargo test` exited 101 (3 failed)"),
            failure_signature("validator `cargo test` exited 101 (4 failed)")
        );
        assert_ne!(
            failure_signature("validator `a` exited 1"),
            failure_signature("validator `b` exited 1")
        );
    }
}
