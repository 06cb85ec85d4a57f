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

/// The validators the gate runs, in order: the task's own, then the fast loop, then the
/// full suite, each command once, where it first comes (the loops often share one with
/// each other or with the task): a second run on the same tree would prove nothing more.
/// `validate/<n>/` in a run directory is the n-th of these.
pub fn validator_order(lists: &[&[Validator]]) -> Vec<Validator> {
    let mut order: Vec<Validator> = Vec::new();
    for validator in lists.iter().flat_map(|list| list.iter()) {
        if !order.contains(validator) {
            order.push(validator.clone());
        }
    }
    order
}

fn rejected(reason: String, summary: String, runs: Vec<ValidatorRun>) -> GateOutcome {
    GateOutcome::Rejected {
        reason,
        summary,
        runs,
    }
}

fn no_commits() -> GateOutcome {
    rejected(
        "the worker made no commits".to_string(),
        "The task branch has no commit that is not already on the target branch: nothing was done."
            .to_string(),
        Vec::new(),
    )
}

fn conflict(input: &GateInput<'_>, paths: &[PathBuf]) -> GateOutcome {
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    rejected(
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
    )
}

/// Commits what the worker left uncommitted (it is still its work, judged too) and returns
/// the task branch's head; empty when the branch has no commit at all.
fn task_head(input: &GateInput<'_>) -> Result<String, GateError> {
    let committed = git::commit_all(
        input.worktree,
        &format!(
            "{}: work left uncommitted by the worker\n\nCommitted by longrun before validation.",
            input.task_id
        ),
        input.identity,
    )?;
    Ok(match committed {
        Some(head) => head,
        None => git::rev_parse(input.worktree, "HEAD")?.unwrap_or_default(),
    })
}

/// Proves the candidate checked out in the task worktree (the task branch with
/// `target_tip` merged in): policy on its diff, then the validators, then that nothing
/// changed while they ran, then the reviewers. The validator runs, or the rejection.
fn prove(
    input: &GateInput<'_>,
    target_tip: &str,
    candidate: &str,
) -> Result<Result<Vec<ValidatorRun>, GateOutcome>, GateError> {
    // Policy before validators: a protected path or a secret is refused whatever the tests say.
    let diff = git::diff_summary(input.primary, target_tip, candidate)?;
    let facts = crate::policy::DiffFacts {
        paths: diff.paths,
        changed_lines: diff.changed_lines,
        text: diff.text,
        unscanned: diff.unscanned,
    };
    let violations = input.policy.check_diff(input.task_paths, &facts);
    if !violations.is_empty() {
        let lines: Vec<String> = violations.iter().map(|v| v.line()).collect();
        return Ok(Err(rejected(
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
        )));
    }

    if input.task_validators.is_empty() && !input.allow_missing_validators {
        return Ok(Err(rejected(
            "no validators: nothing proves the task done (fail closed)".to_string(),
            "The task has no validators, so longrun cannot merge it.".to_string(),
            Vec::new(),
        )));
    }
    let validators = validator_order(&[
        input.task_validators,
        input.fast_validators,
        input.full_validators,
    ]);
    let started = std::time::Instant::now();
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
    tracing::trace!(
        "`{}`: {} validators: {:.1} ms",
        input.task_id,
        runs.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Some(failed) = runs.iter().find(|run| !run.passed()) {
        // The evidence names exactly what was proven on: the candidate and its tree, and
        // how long each validator took (a slow one near its timeout shows here).
        let tree = git::tree_of(input.worktree, candidate)?;
        let timings: Vec<String> = runs
            .iter()
            .map(|run| {
                format!(
                    "- `{}` {} in {} ms",
                    run.command,
                    run.outcome(),
                    run.duration_ms
                )
            })
            .collect();
        return Ok(Err(rejected(
            format!("validator `{}` {}", failed.command, failed.outcome()),
            format!(
                "Validator `{}` {} after {} ms on the candidate {} (tree {}) (log: {}):\n{}\n\nValidators run:\n{}",
                failed.command,
                failed.outcome(),
                failed.duration_ms,
                candidate,
                tree,
                failed.log.display(),
                failed.summary,
                timings.join("\n")
            ),
            runs,
        )));
    }
    // A worker may have written into the worktree while validators ran (it should be
    // dead, but a leftover process could still be writing): merge only what was validated.
    if !git::is_clean(input.worktree)? {
        return Ok(Err(rejected(
            "the worktree changed during validation".to_string(),
            "Files changed in the worktree while the validators ran; the result is not trusted."
                .to_string(),
            runs,
        )));
    }

    // Agent review: after validators (it never replaces them), before any human gate.
    if !input.reviewers.is_empty() {
        let prompt = crate::prompt::render_review_prompt(&crate::prompt::ReviewPromptInput {
            task_id: input.task_id,
            title: input.task_title,
            description: input.review_task.description,
            acceptance_criteria: input.review_task.acceptance_criteria,
            target: input.target_branch,
            diff: &git::diff_text(input.primary, target_tip, candidate, 3)?,
        });
        for reviewer in input.reviewers {
            match review::run_reviewer(reviewer, &prompt, input.worktree, input.clock)? {
                review::ReviewOutcome::Approved { .. } => {}
                review::ReviewOutcome::Failed { reason, summary } => {
                    return Ok(Err(rejected(reason, summary, runs)));
                }
            }
            if !git::is_clean(input.worktree)? {
                return Ok(Err(rejected(
                    format!("the reviewer `{}` changed the worktree", reviewer.name),
                    "A reviewer must only read; the worktree changed while it ran.".to_string(),
                    runs,
                )));
            }
        }
    }
    Ok(Ok(runs))
}

/// The merge commit of a validated candidate onto `target_tip`, with the task's trailers
/// (not on any branch yet).
fn merge_commit(
    input: &GateInput<'_>,
    target_tip: &str,
    candidate: &str,
    validated_tree: &str,
) -> Result<String, GateError> {
    let trailers = TaskTrailers {
        task: input.task_id.to_string(),
        attempt: input.attempt,
        token: input.token.to_string(),
        validated_tree: validated_tree.to_string(),
    };
    let message = trailers.message(&format!(
        "Merge {}: {}",
        input.task_id,
        single_line(input.task_title)
    ))?;
    Ok(git::create_merge_commit(
        input.primary,
        validated_tree,
        &[target_tip, candidate],
        &message,
        input.identity,
    )?)
}

fn gate_attempt(
    input: &GateInput<'_>,
    task_head: &mut Option<String>,
) -> Result<GateOutcome, GateError> {
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

    let head = self::task_head(input)?;
    // One question answers both: has the task anything of its own, and does it already
    // contain the target?
    let base = match head.is_empty() {
        true => None,
        false => git::merge_base(input.primary, &target_tip, &head)?,
    };
    if head.is_empty() || base.as_deref() == Some(head.as_str()) {
        return Ok(no_commits());
    }

    // The worktree is clean and at `head`: everything was just committed.
    *task_head = Some(head.clone());
    let merged = match base.as_deref() == Some(target_tip.as_str()) {
        true => MergeOutcome::UpToDate { head },
        false => git::merge_clean(input.worktree, &target_tip, &head, input.identity)?,
    };
    let candidate = match merged {
        MergeOutcome::Conflict { paths } => return Ok(conflict(input, &paths)),
        MergeOutcome::UpToDate { head } => head,
        MergeOutcome::Merged { commit } => commit,
    };

    let runs = match prove(input, &target_tip, &candidate)? {
        Ok(runs) => runs,
        Err(rejection) => return Ok(rejection),
    };

    if let ApprovalGate::Required { approved } = input.approval
        && approved != Some(candidate.as_str())
    {
        return Ok(GateOutcome::AwaitingApproval { candidate, runs });
    }

    let validated_tree = git::tree_of(input.worktree, &candidate)?;
    let merge = merge_commit(input, &target_tip, &candidate, &validated_tree)?;
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

/// One attempt of a [`gate_batch`] on its way through.
struct Link {
    /// Index into the batch's inputs.
    index: usize,
    /// The task branch's own head (everything the worker left, committed).
    head: String,
    /// The merge commit of the link before (or the batch's tip) this one is built on.
    built_on: String,
    candidate: String,
    validated_tree: String,
    /// This link's merge commit onto `built_on`: the next link builds on it.
    merge: String,
}

/// An attempt of a [`gate_batch`] waiting for its place in the chain: its index, its head,
/// and the merge base of its head and the batch's tip.
type Waiting = (usize, String, Option<String>);

/// Gates the finished attempts of one cycle that need neither a person's approval nor a
/// push (`approval` not required, no `publish`), as if [`gate`] with `defer_landing` ran on
/// each in turn, each on top of the merge commit of the one before (the first on `tip`):
/// every merge commit's tree is the exact candidate its validators passed on, and the last
/// validated merge commit holds them all. Outcomes are `Validated` or `Rejected`, in the
/// inputs' order.
///
/// Faster than one after the other: the chain of merges is built serially without a
/// working tree (`merge-tree` and `commit-tree`, a few milliseconds a task), and each link,
/// as soon as it is built, is checked out in its task worktree and proven on another
/// thread. Building on merges not yet proven is a speculation: when a task fails, the tasks
/// after it were built on a merge that will not exist, so their worktrees go back to their
/// own heads and they are built and proven again on the chain without it.
///
/// On an error, every task worktree moved is put back at its own head before returning.
pub fn gate_batch(inputs: &[GateInput<'_>], tip: &str) -> Result<Vec<Gated>, GateError> {
    let mut outcomes: Vec<Option<Gated>> = vec![None; inputs.len()];
    // Each worktree is its own: the leftovers are committed side by side, and the merge
    // base with the batch's tip looked up (every later tip of the chain descends from it).
    let heads = crate::parallel::in_parallel(inputs.iter().collect(), |input| {
        let head = task_head(input)?;
        let base = match head.is_empty() {
            true => None,
            false => git::merge_base(input.primary, tip, &head)?,
        };
        Ok::<_, GateError>((head, base))
    });
    let mut waiting: Vec<Waiting> = Vec::new();
    for (index, found) in heads.into_iter().enumerate() {
        let (head, base) = found?;
        if head.is_empty() || base.as_deref() == Some(head.as_str()) {
            outcomes[index] = Some(Gated {
                outcome: no_commits(),
                task_head: None,
            });
        } else {
            waiting.push((index, head, base));
        }
    }
    let mut tip = tip.to_string();
    let mut moved: Vec<(usize, String)> = Vec::new();
    let result = (|| -> Result<(), GateError> {
        while !waiting.is_empty() {
            let (built, proven) = crate::parallel::pipeline(
                |send| {
                    build_chain(
                        inputs,
                        &tip,
                        std::mem::take(&mut waiting),
                        &mut outcomes,
                        send,
                    )
                },
                |link: Link| {
                    let proof = prove_link(&inputs[link.index], &link);
                    (link, proof)
                },
            );
            moved.extend(
                proven
                    .iter()
                    .map(|(link, _)| (link.index, link.head.clone())),
            );
            built?;
            let mut proven = proven.into_iter();
            for (link, proof) in proven.by_ref() {
                let task_head = Some(link.head.clone());
                match proof? {
                    Ok(runs) => {
                        tip = link.merge.clone();
                        outcomes[link.index] = Some(Gated {
                            outcome: GateOutcome::Validated {
                                commit: link.merge,
                                validated_tree: link.validated_tree,
                                runs,
                            },
                            task_head,
                        });
                    }
                    Err(rejection) => {
                        outcomes[link.index] = Some(Gated {
                            outcome: rejection,
                            task_head,
                        });
                        break;
                    }
                }
            }
            // Built on the merge that failed: back to their own heads, and again.
            for (link, _) in proven {
                git::reset_hard(inputs[link.index].worktree, &link.head)?;
                // Rebuilt on the chain's tip as it now is.
                let base = git::merge_base(inputs[link.index].primary, &tip, &link.head)?;
                waiting.push((link.index, link.head, base));
            }
        }
        Ok(())
    })();
    if let Err(error) = result {
        for (index, head) in moved {
            if let Err(reset) = git::reset_hard(inputs[index].worktree, &head) {
                tracing::warn!("{reset}");
            }
        }
        return Err(error);
    }
    Ok(outcomes
        .into_iter()
        .map(|gated| {
            gated.unwrap_or_else(|| Gated {
                outcome: rejected(
                    "the gate reached no decision".to_string(),
                    "The gate reached no decision for this attempt.".to_string(),
                    Vec::new(),
                ),
                task_head: None,
            })
        })
        .collect())
}

/// Checks a link's candidate out in its task worktree (a fast-forward of the task branch)
/// and proves it (see [`prove`]).
fn prove_link(
    input: &GateInput<'_>,
    link: &Link,
) -> Result<Result<Vec<ValidatorRun>, GateOutcome>, GateError> {
    if link.candidate != link.head
        && let Some(refused) = git::fast_forward(input.worktree, &link.candidate)?
    {
        return Ok(Err(rejected(
            "the candidate could not be checked out in the task worktree".to_string(),
            format!(
                "Moving the task worktree to the candidate (the task branch with `{}` merged in) failed: {refused}",
                input.target_branch
            ),
            Vec::new(),
        )));
    }
    prove(input, &link.built_on, &link.candidate)
}

/// The serial part of [`gate_batch`]: for each waiting attempt in order, its candidate (the
/// task branch with the chain's tip merged in) and its merge commit onto that tip, which
/// the next one builds on; each link goes to `send` as soon as it is built. Attempts that
/// conflict are decided here and left out of the chain.
fn build_chain(
    inputs: &[GateInput<'_>],
    tip: &str,
    waiting: Vec<Waiting>,
    outcomes: &mut [Option<Gated>],
    send: &mut dyn FnMut(Link),
) -> Result<(), GateError> {
    let mut tip = tip.to_string();
    for (index, head, base) in waiting {
        let input = &inputs[index];
        let (candidate, validated_tree) = if base.as_deref() == Some(tip.as_str()) {
            // The task branch contains the tip already: it is its own candidate.
            let tree = git::tree_of(input.primary, &head)?;
            (head.clone(), tree)
        } else {
            match git::merge_trees(input.primary, &head, &tip)? {
                git::TreeMerge::Conflict { paths } => {
                    outcomes[index] = Some(Gated {
                        outcome: conflict(input, &paths),
                        task_head: Some(head),
                    });
                    continue;
                }
                git::TreeMerge::Clean { tree } => {
                    // The commit `git merge` in the worktree would make.
                    let candidate = git::create_merge_commit(
                        input.primary,
                        &tree,
                        &[head.as_str(), tip.as_str()],
                        &format!("Merge {tip} into the task branch"),
                        input.identity,
                    )?;
                    (candidate, tree)
                }
            }
        };
        let merge = merge_commit(input, &tip, &candidate, &validated_tree)?;
        send(Link {
            index,
            head,
            built_on: std::mem::replace(&mut tip, merge.clone()),
            candidate,
            validated_tree,
            merge,
        });
    }
    Ok(())
}

/// Moves `target_branch` from `expected_old` to `commit` (a merge commit built on it, or a
/// chain of them: the caller made it so, and it is not asked again),
/// updating its checkout if it has one; `Some(reason)` when it could not, and the merge is
/// deferred: the branch moved, or a person's uncommitted changes are in the way.
pub fn land(
    primary: &Path,
    target_branch: &str,
    commit: &str,
    expected_old: &str,
) -> Result<Option<String>, GateError> {
    Ok(
        match git::advance_branch_to_descendant(primary, target_branch, commit, expected_old)? {
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

/// A failure's signature, by which the same failure twice in a row is recognised (the
/// loop breaker): the reason with numbers, hashes and paths masked, and for a failed
/// validator a short hash of its `output`'s error lines (or last lines), masked the same
/// way: `cargo test` failing on another test is not the same failure.
pub fn failure_signature(reason: &str, output: &str) -> String {
    let reason = mask_numbers(reason);
    let looks_like_error = |line: &&str| validate::looks_like_error(line);
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut telling: Vec<&str> = lines.iter().copied().filter(looks_like_error).collect();
    if telling.is_empty() {
        telling = lines[lines.len().saturating_sub(3)..].to_vec();
    }
    if telling.is_empty() {
        return reason;
    }
    let masked: Vec<String> = telling
        .iter()
        .map(|line| mask_numbers(line.trim()))
        .collect();
    let hash = xxhash_rust::xxh3::xxh3_64(masked.join("\n").as_bytes());
    format!("{reason} [output {:08x}]", hash >> 32)
}

/// `text` with every run of letters and digits that starts with a digit as `#`.
fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
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
    use crate::git::run_git;
    use crate::git::testutil::{TestRepo, identity, write_in};

    /// A task worktree on `longrun/<task>` from `main`, with one commit writing `file`.
    fn finished_task(repo: &TestRepo, task: &str, file: &str, text: &str) -> PathBuf {
        let base = repo.branch_tip("main");
        let worktree = repo.root.join("worktrees").join(task);
        git::worktree_add(&repo.primary, &worktree, &format!("longrun/{task}"), &base).unwrap();
        write_in(&worktree, file, text);
        repo.commit_everything(&worktree, &format!("{task} work"));
        worktree
    }

    struct Batch {
        repo: TestRepo,
        worktrees: Vec<PathBuf>,
        validators: Vec<Vec<Validator>>,
        policy: crate::policy::Policy,
        run_dirs: Vec<PathBuf>,
        ids: Vec<String>,
    }

    impl Batch {
        fn new(tasks: &[(&str, &str, &str, &str)]) -> Batch {
            let repo = TestRepo::new();
            repo.write("shared.txt", "base\n");
            repo.commit_everything(&repo.primary, "shared");
            let mut batch = Batch {
                worktrees: Vec::new(),
                validators: Vec::new(),
                policy: crate::policy::Policy::builtin().unwrap(),
                run_dirs: Vec::new(),
                ids: Vec::new(),
                repo,
            };
            for (task, file, text, must_exist) in tasks {
                batch
                    .worktrees
                    .push(finished_task(&batch.repo, task, file, text));
                batch.validators.push(vec![Validator::Argv(vec![
                    "test".into(),
                    "-f".into(),
                    must_exist.to_string(),
                ])]);
                batch.run_dirs.push(batch.repo.root.join("runs").join(task));
                batch.ids.push(task.to_string());
            }
            batch
        }

        fn gate(&self) -> Vec<Gated> {
            let me = identity();
            let inputs: Vec<GateInput> = (0..self.ids.len())
                .map(|i| GateInput {
                    primary: &self.repo.primary,
                    worktree: &self.worktrees[i],
                    target_branch: "main",
                    target_tip: None,
                    task_id: &self.ids[i],
                    task_title: &self.ids[i],
                    attempt: 1,
                    token: "token",
                    task_validators: &self.validators[i],
                    fast_validators: &[],
                    full_validators: &[],
                    policy: &self.policy,
                    task_paths: &[],
                    reviewers: &[],
                    review_task: ReviewTask {
                        description: "",
                        acceptance_criteria: &[],
                    },
                    approval: ApprovalGate::NotRequired,
                    allow_missing_validators: false,
                    validator_env: &[],
                    validator_timeout: Duration::from_secs(30),
                    identity: &me,
                    run_dir: &self.run_dirs[i],
                    clock: Clock::System,
                    publish: None,
                    defer_landing: true,
                })
                .collect();
            gate_batch(&inputs, &self.repo.branch_tip("main")).unwrap()
        }

        fn git(&self, args: &[&str]) -> String {
            run_git(&self.repo.primary, args)
                .unwrap()
                .trim()
                .to_string()
        }

        fn files(&self, commit: &str) -> Vec<String> {
            self.git(&["ls-tree", "--name-only", commit])
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    /// Validated merges form one chain on the old tip, each with the tree its validators
    /// passed on; a task that fails is left out and the ones after it are proven again
    /// on the chain without it; a conflict is rejected with its path.
    #[test]
    fn a_batch_chains_the_validated_and_rebuilds_after_a_failure() {
        let batch = Batch::new(&[
            ("T1", "t1.txt", "one\n", "t1.txt"),
            ("T2", "t2.txt", "two\n", "never.txt"),
            ("T3", "shared.txt", "three\n", "t3.txt"),
            ("T4", "t4.txt", "four\n", "t4.txt"),
            ("T5", "shared.txt", "five\n", "shared.txt"),
        ]);
        // T3 leaves work uncommitted: the gate commits it and judges it too.
        write_in(&batch.worktrees[2], "t3.txt", "three\n");
        let old_tip = batch.repo.branch_tip("main");
        let gated = batch.gate();

        let validated: Vec<(String, String)> = gated
            .iter()
            .filter_map(|g| match &g.outcome {
                GateOutcome::Validated {
                    commit,
                    validated_tree,
                    runs,
                } => {
                    assert_eq!(runs.len(), 1);
                    Some((commit.clone(), validated_tree.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(validated.len(), 3, "{gated:?}");
        assert!(
            matches!(&gated[1].outcome, GateOutcome::Rejected { reason, .. } if reason.contains("never.txt")),
            "{:?}",
            gated[1]
        );
        assert!(
            matches!(&gated[4].outcome, GateOutcome::Rejected { reason, .. } if reason == "merge conflict with `main` in shared.txt"),
            "{:?}",
            gated[4]
        );
        // T1 on the old tip, T3 on T1's merge, T4 on T3's: T2 is in none of them.
        let mut built_on = old_tip.clone();
        for (commit, tree) in &validated {
            let parents = batch.git(&["log", "-1", "--format=%P", commit]);
            assert_eq!(parents.split_whitespace().next(), Some(built_on.as_str()));
            assert_eq!(
                &batch.git(&["rev-parse", &format!("{commit}^{{tree}}")]),
                tree
            );
            assert!(!batch.files(commit).contains(&"t2.txt".to_string()));
            built_on = commit.clone();
        }
        assert_eq!(
            batch.files(&built_on),
            ["README.md", "shared.txt", "t1.txt", "t3.txt", "t4.txt"]
        );
        // Each validated worktree is at its candidate (the merge's second parent), clean.
        for (i, (commit, _)) in [0, 2, 3].iter().zip(&validated) {
            let candidate = batch.git(&["rev-parse", &format!("{commit}^2")]);
            assert_eq!(batch.repo.head(&batch.worktrees[*i]), candidate);
            assert!(git::is_clean(&batch.worktrees[*i]).unwrap());
        }
        // The target branch itself did not move: the caller lands the chain.
        assert_eq!(batch.repo.branch_tip("main"), old_tip);
    }

    /// The batch and the one-by-one gate make the same candidate trees.
    #[test]
    fn a_batch_validates_the_trees_the_single_gate_would() {
        let tasks = [
            ("T1", "a.txt", "a\n", "a.txt"),
            ("T2", "b.txt", "b\n", "b.txt"),
        ];
        let batch = Batch::new(&tasks);
        let chained = batch.gate();
        let trees: Vec<String> = chained
            .iter()
            .map(|g| match &g.outcome {
                GateOutcome::Validated { validated_tree, .. } => validated_tree.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        // T2 alone on T1's merge with `git merge` in its worktree gives the same tree.
        let single = Batch::new(&tasks);
        let first = match &single.gate()[0].outcome {
            GateOutcome::Validated { commit, .. } => commit.clone(),
            other => panic!("{other:?}"),
        };
        let head = single.repo.head(&single.worktrees[1]);
        let merged = git::merge_clean(&single.worktrees[1], &first, &head, &identity()).unwrap();
        let MergeOutcome::Merged { commit } = merged else {
            panic!("{merged:?}")
        };
        assert_eq!(
            single.git(&["rev-parse", &format!("{commit}^{{tree}}")]),
            trees[1]
        );
    }

    /// A command the task and the loops share runs once, where it first comes.
    #[test]
    fn a_shared_validator_runs_once() {
        let argv = |words: &[&str]| Validator::Argv(words.iter().map(|w| w.to_string()).collect());
        let (a, b, c) = (argv(&["a"]), argv(&["b"]), argv(&["c"]));
        assert_eq!(
            validator_order(&[
                std::slice::from_ref(&a),
                &[b.clone(), a.clone()],
                &[b.clone(), c.clone()]
            ]),
            [a, b, c]
        );
        assert!(validator_order(&[&[], &[]]).is_empty());
    }

    /// A task whose branch has nothing of its own is rejected, and nothing else moves.
    #[test]
    fn a_batch_rejects_a_branch_without_commits() {
        let batch = Batch::new(&[("T1", "a.txt", "a\n", "a.txt")]);
        run_git(&batch.worktrees[0], ["reset", "--quiet", "--hard", "main"]).unwrap();
        let gated = batch.gate();
        assert!(
            matches!(&gated[0].outcome, GateOutcome::Rejected { reason, .. } if reason == "the worker made no commits"),
            "{gated:?}"
        );
    }

    #[test]
    fn signatures_mask_numbers() {
        assert_eq!(
            failure_signature("validator `cargo test` exited 101 (3 failed)", ""),
            failure_signature("validator `cargo test` exited 101 (4 failed)", "")
        );
        assert_ne!(
            failure_signature("validator `a` exited 1", ""),
            failure_signature("validator `b` exited 1", "")
        );
    }

    #[test]
    fn signatures_tell_a_validator_failing_on_another_error() {
        let reason = "validator `cargo test` exited 101";
        let parse =
            "running 12 tests\ntest parse ... FAILED\nerror: test failed, to rerun pass `--lib`";
        let parse_again =
            "running 13 tests\ntest parse ... FAILED\nerror: test failed, to rerun pass `--lib`";
        let render =
            "running 13 tests\ntest render ... FAILED\nerror: test failed, to rerun pass `--lib`";
        assert_eq!(
            failure_signature(reason, parse),
            failure_signature(reason, parse_again)
        );
        assert_ne!(
            failure_signature(reason, parse),
            failure_signature(reason, render)
        );
        // Without error lines, the last lines decide.
        assert_ne!(
            failure_signature("validator `x` exited 1", "a\nb"),
            failure_signature("validator `x` exited 1", "a\nc")
        );
    }
}
