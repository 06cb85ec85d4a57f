//! What the claim commands (`claim`, `heartbeat`, `release`, `claims`) and the read
//! commands (`next`, `status`) share: the claim settings, one front for local and git
//! claims, the rules for which tasks may be claimed, the status writes that mirror a claim in
//! checklist.yaml, and the run-log events. Not a command itself.
//!
//! The lock file (or, in git mode, the remote ref) is the truth about who holds a task; the
//! status in checklist.yaml follows it. Every status write decides under the checklist lock,
//! from the claim as it is at that moment, so two commands racing on one task cannot leave
//! a status that contradicts the claim:
//!
//! * claim: lock file first, then `in_progress`, written only while our token still holds;
//! * release: the new status first, written only while our token still holds, then the lock
//!   file goes. A token that was taken over writes nothing.
//!
//! Stale claims: a task whose claim is stale (lease over, no live holder) is available. It
//! is not "ready" in the checklist sense (its status says `in_progress`), so `next` and
//! `claim --next` list ready tasks first and stale claims after them; `claim ID` of a task
//! with a stale claim takes it over. `status` shows who holds each active task and which
//! claims went stale.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::clock::format_timestamp;
use crate::error::CommandError;
use crate::fsutil::BackgroundIo;
use crate::git::claims::{
    self as git_claims, GitClaimError, Leased, MirroredOutcome, RemoteClaim, RemoteClaims,
    RemoteContent,
};
use crate::state::approvals::{Approvals, DispatchGate};
use crate::state::checklist::{
    self, Checklist, FieldValue, LoadOptions, Task, TaskEdit, TaskField, UpdateOutcome,
};
use crate::state::claims::{
    Claim, ClaimEntry, ClaimError, ClaimOutcome, ClaimRequest, ClaimStore, ClaimToken, HeldClaim,
    LockContent, TakeoverOutcome,
};
use crate::state::model::{Approval, EventKind, Risk, TaskId, TaskStatus};
use crate::state::runlog::{Event, FieldKey};
use crate::workspace::Workspace;

/// How many hex digits of a token the run log shows: enough to tell claims apart, short
/// enough to read. The full token is in the lock file and in `longrun claims --json`.
const TOKEN_PREFIX: usize = 12;

/// Where claims live and how long they last, from longrun.yaml's `claims:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSettings {
    pub mode: ClaimMode,
    pub lease: Duration,
}

/// `claims.mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimMode {
    /// Lock files in the primary checkout's `current_tasks/` only.
    Local,
    /// Lock files mirrored by `refs/longrun/claims/<id>` on `remote`, which picks winners.
    Git { remote: String },
}

/// Local and git claims behind one set of operations.
pub struct Claims {
    pub store: ClaimStore,
    pub remote: Option<RemoteClaims>,
    /// The ends of the changes to the claim files and checklist.yaml (directory syncs, the
    /// freeing of replaced files), started as each change is made and waited for together
    /// by [`Claims::settle`] (or when this is dropped).
    pub background: Arc<BackgroundIo>,
}

/// What a claim attempt came to.
#[derive(Debug)]
pub enum Attempt {
    Claimed(HeldClaim),
    /// A stale claim was replaced; `previous` is what it said.
    TookOver {
        held: HeldClaim,
        previous: Box<Claim>,
    },
    Taken(Holder),
}

/// Who holds a task, as far as this machine can tell.
#[derive(Debug)]
pub enum Holder {
    Local(ClaimEntry),
    /// Another machine, through the remote (`None`: it let go before we could look).
    Remote(Option<RemoteClaim>),
}

/// A token operation that the current claim does not allow: exit 1, and a `reject` event.
#[derive(Debug)]
pub struct Refusal {
    pub message: String,
    /// The claim that holds the task now, if any.
    pub current: Option<Box<Claim>>,
}

/// The answer to a token-fenced operation.
pub enum Fenced<T> {
    Done(T),
    Refused(Refusal),
}

/// A task `claim --next` or `next` may take, in the order they are offered.
pub struct Candidate<'a> {
    pub task: &'a Task,
    /// The stale claim a claim would take over.
    pub stale: Option<&'a ClaimEntry>,
}

impl Claims {
    /// The claims of `workspace` as `settings` say.
    pub fn open(workspace: &Workspace, settings: &ClaimSettings) -> Result<Claims, CommandError> {
        let background = Arc::new(BackgroundIo::new());
        let store = ClaimStore::new(workspace.current_tasks()).in_background(background.clone());
        let remote = match &settings.mode {
            ClaimMode::Local => None,
            ClaimMode::Git { remote } => {
                Some(RemoteClaims::new(&workspace.root, remote).map_err(git_error)?)
            }
        };
        Ok(Claims {
            store,
            remote,
            background,
        })
    }

    /// Waits until every change made so far is durable: call before reporting it done.
    pub fn settle(&self) {
        self.background.wait();
    }

    /// Claims `request.task`, taking over a stale claim. Exactly one of any number of racing
    /// claimants gets `Claimed` or `TookOver`.
    pub fn attempt(&self, request: &ClaimRequest) -> Result<Attempt, CommandError> {
        match &self.remote {
            None => self.attempt_local(request),
            Some(remote) => self.attempt_git(remote, request),
        }
    }

    fn attempt_local(&self, request: &ClaimRequest) -> Result<Attempt, CommandError> {
        let entry = match self.store.claim(request).map_err(claim_error)? {
            ClaimOutcome::Claimed(held) => return Ok(Attempt::Claimed(held)),
            ClaimOutcome::Taken(entry) => entry,
        };
        let stale_token = match entry.claim() {
            Some(claim) if entry.stale => claim.token.clone(),
            _ => return Ok(Attempt::Taken(Holder::Local(entry))),
        };
        Ok(
            match self
                .store
                .take_over_stale(request, &stale_token)
                .map_err(claim_error)?
            {
                TakeoverOutcome::TookOver { held, previous } => {
                    Attempt::TookOver { held, previous }
                }
                TakeoverOutcome::Claimed(held) => Attempt::Claimed(held),
                TakeoverOutcome::Taken(entry) => Attempt::Taken(Holder::Local(entry)),
            },
        )
    }

    fn attempt_git(
        &self,
        remote: &RemoteClaims,
        request: &ClaimRequest,
    ) -> Result<Attempt, CommandError> {
        let store = &self.store;
        let holder = match git_claims::claim_mirrored(store, remote, request).map_err(git_error)? {
            MirroredOutcome::Claimed(held) => return Ok(Attempt::Claimed(held)),
            MirroredOutcome::TakenRemotely { holder } => holder,
            MirroredOutcome::TakenLocally(entry) => {
                if !entry.stale {
                    return Ok(Attempt::Taken(Holder::Local(entry)));
                }
                // The local mirror is stale; the remote decides whether the claim is too.
                match remote.holder(&request.task).map_err(git_error)? {
                    Some(holder) => Some(holder),
                    // The remote let go but the mirror stayed (a release that failed half
                    // way): a person clears it with `release --force`.
                    None => return Ok(Attempt::Taken(Holder::Local(entry))),
                }
            }
        };
        let Some(holder) = holder else {
            return Ok(Attempt::Taken(Holder::Remote(None)));
        };
        let previous = match &holder.content {
            // Across machines no OS lock is visible: a claim is stale when its lease is over.
            RemoteContent::Claim(claim) if claim.info.lease_expired(request.now) => claim.clone(),
            _ => return Ok(Attempt::Taken(Holder::Remote(Some(holder)))),
        };
        Ok(
            match git_claims::take_over_mirrored(store, remote, request, &holder.tip)
                .map_err(git_error)?
            {
                MirroredOutcome::Claimed(held) => Attempt::TookOver { held, previous },
                MirroredOutcome::TakenRemotely { holder } => Attempt::Taken(Holder::Remote(holder)),
                MirroredOutcome::TakenLocally(entry) => Attempt::Taken(Holder::Local(entry)),
            },
        )
    }

    /// Checks that `token` holds `task` now. In git mode the remote answers; a local mirror
    /// with another token refuses too (a takeover on this machine).
    pub fn verify(&self, task: &TaskId, token: &ClaimToken) -> Result<Fenced<()>, CommandError> {
        let local = self.store.verify(task, token);
        let Some(remote) = &self.remote else {
            return match local {
                Ok(_) => Ok(Fenced::Done(())),
                Err(error) => refusal_or_error(error),
            };
        };
        match local {
            Ok(_) => {}
            // A claim made from another clone has no mirror here: the remote answers.
            Err(ClaimError::NotClaimed { .. }) => {}
            Err(error) => return refusal_or_error(error),
        }
        match remote.holder(task).map_err(git_error)? {
            Some(RemoteClaim {
                content: RemoteContent::Claim(claim),
                ..
            }) if claim.token == *token => Ok(Fenced::Done(())),
            holder => Ok(Fenced::Refused(remote_refusal(task, token, holder))),
        }
    }

    /// Renews the lease of the claim held with `token`.
    pub fn renew(
        &self,
        task: &TaskId,
        token: &ClaimToken,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Fenced<Claim>, CommandError> {
        match &self.remote {
            None => match self.store.renew(task, token, now, lease) {
                Ok(claim) => Ok(Fenced::Done(claim)),
                Err(error) => refusal_or_error(error),
            },
            Some(remote) => {
                match git_claims::renew_mirrored(&self.store, remote, task, token, now, lease) {
                    Ok(Leased::Done(claim)) => Ok(Fenced::Done(claim)),
                    Ok(Leased::NotHolder { holder }) => {
                        Ok(Fenced::Refused(remote_refusal(task, token, holder)))
                    }
                    // The remote granted the renewal, but this machine has no mirror (the
                    // claim was made from another clone): the remote is the truth.
                    Err(GitClaimError::Store(ClaimError::NotClaimed { .. })) => {
                        match remote.holder(task).map_err(git_error)? {
                            Some(RemoteClaim {
                                content: RemoteContent::Claim(claim),
                                ..
                            }) => Ok(Fenced::Done(*claim)),
                            holder => Ok(Fenced::Refused(remote_refusal(task, token, holder))),
                        }
                    }
                    Err(GitClaimError::Store(error)) => refusal_or_error(error),
                    Err(error) => Err(git_error(error)),
                }
            }
        }
    }

    /// Ends the claim held with `token`; returns what it said.
    pub fn release(
        &self,
        task: &TaskId,
        token: &ClaimToken,
    ) -> Result<Fenced<Claim>, CommandError> {
        match &self.remote {
            None => match self.store.release(task, token) {
                Ok(claim) => Ok(Fenced::Done(claim)),
                Err(error) => refusal_or_error(error),
            },
            Some(remote) => match git_claims::release_mirrored(&self.store, remote, task, token) {
                Ok(Leased::Done(claim)) => Ok(Fenced::Done(claim)),
                Ok(Leased::NotHolder { holder }) => {
                    Ok(Fenced::Refused(remote_refusal(task, token, holder)))
                }
                Err(GitClaimError::Store(error)) => refusal_or_error(error),
                Err(error) => Err(git_error(error)),
            },
        }
    }

    /// Deletes the claim on `task` whatever it holds. Returns what was removed locally and,
    /// in git mode, the remote claim that was released; `(None, None)` when there was none.
    pub fn force_remove(
        &self,
        task: &TaskId,
    ) -> Result<(Option<LockContent>, Option<Claim>), CommandError> {
        let mut remote_released = None;
        if let Some(remote) = &self.remote
            && let Some(holder) = remote.holder(task).map_err(git_error)?
        {
            let RemoteContent::Claim(claim) = &holder.content else {
                return Err(CommandError::user(format!(
                    "the claim of `{task}` on remote `{}` is not readable, so it cannot be released without its token",
                    remote.remote()
                ))
                .with_hint(format!(
                    "delete it by hand: `git push {} --delete {}`",
                    remote.remote(),
                    git_claims::claim_ref(task).map_err(git_error)?
                )));
            };
            if let Leased::Done(claim) = remote.release(task, &claim.token).map_err(git_error)? {
                remote_released = Some(claim);
            }
        }
        let local = self.store.force_remove(task).map_err(claim_error)?;
        Ok((local, remote_released))
    }
}

/// Every claim file of `store`, keyed by task (corrupt files whose name is no task id are
/// left out here; `longrun claims` shows them).
pub fn claims_by_task(
    store: &ClaimStore,
    now: Timestamp,
) -> Result<HashMap<TaskId, ClaimEntry>, CommandError> {
    Ok(store
        .list(now)
        .map_err(claim_error)?
        .into_iter()
        .filter_map(|entry| entry.task.clone().map(|task| (task, entry)))
        .collect())
}

impl Holder {
    /// One line for a person: who holds the task and until when.
    pub fn describe(&self) -> String {
        match self {
            Holder::Local(entry) => match &entry.lock {
                LockContent::Claim(claim) => describe_claim(claim),
                LockContent::Corrupt { reason } => format!(
                    "a corrupt claim file `{}` ({reason}), which counts as held",
                    entry.path.display()
                ),
            },
            Holder::Remote(Some(RemoteClaim {
                content: RemoteContent::Claim(claim),
                ..
            })) => format!("{} (on the remote)", describe_claim(claim)),
            Holder::Remote(Some(RemoteClaim {
                content: RemoteContent::Corrupt { reason },
                ..
            })) => format!("an unreadable claim on the remote ({reason}), which counts as held"),
            Holder::Remote(None) => "another claimant on the remote".to_string(),
        }
    }

    /// True for a corrupt claim file, which a person has to look at.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Holder::Local(entry) if entry.is_corrupt())
    }
}

/// `worker `a` on `host` (pid 7), lease until ...`.
pub fn describe_claim(claim: &Claim) -> String {
    format!(
        "worker `{}` on `{}` (pid {}), lease until {}",
        claim.info.worker,
        claim.info.host,
        claim.info.pid,
        format_timestamp(claim.info.lease_expires_at)
    )
}

/// The human gate before dispatch as the cycle applies it: `Policy::needs_approval` with
/// `Approval::Before`, then the approval records (`Approvals::dispatch_gate`). `next`,
/// `status`, `claim` and `approve` ask it, so none of them calls a task ready that the cycle
/// would hold, or holds one the cycle would start.
pub struct DispatchGates {
    approvals: Approvals,
    /// The policy's approvals by risk; read only when some task has a risk, since without
    /// one the policy has no say.
    by_risk: Option<Vec<(Risk, Vec<Approval>)>>,
}

impl DispatchGates {
    /// The gates of `workspace`; `any_risk`: whether a task the caller asks about has a
    /// `risk` (the policy files are read only then).
    pub fn load(workspace: &Workspace, any_risk: bool) -> Result<DispatchGates, CommandError> {
        let by_risk = if any_risk {
            let by_risk = crate::policy::Policy::approvals_in(&workspace.root.join("policy"))
                .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
            Some(by_risk)
        } else {
            None
        };
        Ok(DispatchGates {
            approvals: Approvals::new(workspace.state_dir().join("approvals")),
            by_risk,
        })
    }

    /// [`DispatchGates::load`] for the tasks of `checklist`.
    pub fn for_checklist(
        workspace: &Workspace,
        checklist: &Checklist,
    ) -> Result<DispatchGates, CommandError> {
        DispatchGates::load(
            workspace,
            checklist.tasks.iter().any(|task| task.risk.is_some()),
        )
    }

    /// Where the task with this id, `approval` and `risk` stands before dispatch.
    pub fn gate(
        &self,
        task_id: &str,
        approval: Option<Approval>,
        risk: Option<Risk>,
    ) -> DispatchGate {
        let needed = match (&self.by_risk, risk) {
            (Some(by_risk), _) => {
                crate::policy::approval_needed(by_risk, approval, risk, Approval::Before)
            }
            (None, None) => approval == Some(Approval::Before),
            // Asked about a risk the policy was not read for: held, never let through.
            (None, Some(_)) => true,
        };
        self.approvals.dispatch_gate(task_id, needed)
    }

    /// True when `task` may not start yet for want of a person's approval (or was refused).
    pub fn holds(&self, task: &Task) -> bool {
        !self.gate(&task.task_id, task.approval, task.risk).lets_go()
    }
}

/// The tasks a claim may take, in the order `claim --next` tries them: ready tasks in file
/// order (a stale claim on one of them is taken over), then tasks held by a stale claim.
/// A task with any other claim (live, within its lease, or corrupt) is left out, and so is
/// one the gate before dispatch holds.
pub fn candidates<'a>(
    checklist: &'a Checklist,
    claims: &'a HashMap<TaskId, ClaimEntry>,
    gates: &DispatchGates,
) -> Vec<Candidate<'a>> {
    let claim_of = |task: &Task| task.id().and_then(|id| claims.get(&id));
    let mut ready: Vec<Candidate> = checklist
        .ready_tasks_held(&|_| false, &|task| gates.holds(task))
        .into_iter()
        .filter_map(|task| match claim_of(task) {
            None => Some(Candidate { task, stale: None }),
            Some(entry) if entry.stale => Some(Candidate {
                task,
                stale: Some(entry),
            }),
            Some(_) => None,
        })
        .collect();
    let taken_over = checklist.tasks.iter().filter_map(|task| {
        let entry = claim_of(task)?;
        (entry.stale
            && task.status.effective() == Some(TaskStatus::InProgress)
            && !gates.holds(task)
            && open_dependencies(checklist, task).is_empty())
        .then_some(Candidate {
            task,
            stale: Some(entry),
        })
    });
    ready.extend(taken_over);
    ready
}

/// Why `task` cannot be claimed by id, or `None` when it can: its status, the gate before
/// dispatch and its dependencies. Claims are checked separately (a claim may be taken over).
pub fn not_claimable_reason(
    checklist: &Checklist,
    task: &Task,
    gates: &DispatchGates,
) -> Option<String> {
    match task.status.effective() {
        // `in_progress` is claimable: its claim may be stale, gone after a crash, or live (the
        // claim attempt then names the holder).
        Some(TaskStatus::NotStarted | TaskStatus::InProgress) => {}
        Some(status) => return Some(format!("its status is `{status}`")),
        None => {
            return Some(format!(
                "its status `{}` is not a status longrun knows",
                task.status.display()
            ));
        }
    }
    match gates.gate(&task.task_id, task.approval, task.risk) {
        DispatchGate::Open | DispatchGate::Approved(_) => {}
        DispatchGate::Waiting => {
            return Some(format!(
                "it waits for a person's approval before it starts (`longrun approve {}`)",
                task.task_id
            ));
        }
        DispatchGate::Rejected(record) => {
            return Some(format!(
                "{} rejected it before it started: {}",
                record.by, record.text
            ));
        }
    }
    let open: Vec<String> = open_dependencies(checklist, task);
    if !open.is_empty() {
        return Some(format!(
            "it depends on {} that {} not complete",
            open.join(", "),
            if open.len() == 1 { "is" } else { "are" }
        ));
    }
    None
}

fn open_dependencies(checklist: &Checklist, task: &Task) -> Vec<String> {
    task.depends_on
        .iter()
        .filter(|dependency| {
            !checklist
                .task(dependency)
                .and_then(|task| task.status.effective())
                .is_some_and(TaskStatus::satisfies_dependency)
        })
        .map(|dependency| format!("`{dependency}`"))
        .collect()
}

/// Writes `task`'s status through the in-place writer. `decide` runs with the checklist lock
/// held (possibly more than once, when a person saved the file meanwhile) and returns the
/// status to write, or `None` to write nothing. The directory sync that makes the write
/// durable is left to `background`, for the caller to wait for with its other changes.
pub fn write_status<F>(
    workspace: &Workspace,
    background: &BackgroundIo,
    task: &TaskId,
    mut decide: F,
) -> Result<UpdateOutcome, CommandError>
where
    F: FnMut() -> Option<TaskStatus>,
{
    let options = LoadOptions {
        snapshot_path: Some(workspace.checklist_snapshot()),
    };
    let outcome = checklist::update_deferred(
        &workspace.checklist(),
        &workspace.checklist_lock(),
        &options,
        background,
        |current| {
            let Some(current_task) = current.task(task.as_str()) else {
                // Removed from the file meanwhile: nothing to mirror.
                return Ok(Vec::new());
            };
            Ok(match decide() {
                Some(status) if current_task.status.effective() != Some(status) => {
                    vec![TaskEdit::Task {
                        task_id: task.to_string(),
                        field: TaskField::Status,
                        value: FieldValue::Text(status.as_str().to_string()),
                    }]
                }
                _ => Vec::new(),
            })
        },
    )?;
    Ok(outcome)
}

/// The claim's host name: the kernel's, else `$HOSTNAME`, else `localhost`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// `--worker`, else `$LONGRUN_WORKER`; a name is one line of at most 128 characters.
pub fn worker_name(given: Option<&str>) -> Result<String, CommandError> {
    let name = match given {
        Some(name) => name.to_string(),
        None => std::env::var("LONGRUN_WORKER").unwrap_or_default(),
    };
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(CommandError::user("no worker name")
            .with_hint("give `--worker NAME` or set `LONGRUN_WORKER`"));
    }
    if name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(CommandError::user(format!(
            "worker name `{}` must be one line of at most 128 characters",
            name.escape_debug()
        )));
    }
    Ok(name)
}

/// An event with `key=value` fields; the keys are literals, valid by construction.
pub fn event(
    now: Timestamp,
    kind: EventKind,
    task: &TaskId,
    fields: &[(&str, String)],
    text: impl Into<String>,
) -> Event {
    let mut event = Event::new(now, kind, text).with_task(task.clone());
    for (key, value) in fields {
        if let Ok(key) = FieldKey::parse(key) {
            event = event.with_field(key, value.clone());
        }
    }
    event
}

/// The first digits of a token, for the run log.
pub fn short(token: &ClaimToken) -> String {
    token.as_str().chars().take(TOKEN_PREFIX).collect()
}

/// `5m`, `1h05m`, `45s`; negative durations get a `-`.
pub fn human_seconds(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let seconds = seconds.unsigned_abs();
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{sign}{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{sign}{hours}h{minutes:02}m")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{secs:02}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// Seconds from `from` to `to` (negative when `to` is earlier).
pub fn seconds_between(from: Timestamp, to: Timestamp) -> i64 {
    to.as_second() - from.as_second()
}

/// A claim store failure: a refusal is a negative answer (exit 1), anything else exit 2.
pub fn claim_error(error: ClaimError) -> CommandError {
    let kind = if error.is_refusal() {
        crate::error::ErrorKind::Negative
    } else {
        crate::error::ErrorKind::User
    };
    let corrupt = matches!(error, ClaimError::Corrupt { .. });
    let command_error = CommandError::from_error(kind, &error);
    if corrupt {
        command_error.with_hint(
            "look at the file; `longrun release ID --force` deletes it (and logs that it did)",
        )
    } else {
        command_error
    }
}

/// A git claim failure: the store's own errors as above, the rest exit 2.
pub fn git_error(error: GitClaimError) -> CommandError {
    match error {
        GitClaimError::Store(error) => claim_error(error),
        GitClaimError::Remote { .. } => {
            CommandError::from_error(crate::error::ErrorKind::User, &error).with_hint(
                "claims in git mode need the remote (`claims.remote` in longrun.yaml); nothing was claimed locally",
            )
        }
        error => CommandError::from_error(crate::error::ErrorKind::User, &error),
    }
}

fn refusal_or_error<T>(error: ClaimError) -> Result<Fenced<T>, CommandError> {
    refusal_of(error).map(Fenced::Refused)
}

/// The refusal a claim store error stands for (a wrong token, no claim), or the error as
/// a command error when it is a fault rather than a refusal.
pub fn refusal_of(error: ClaimError) -> Result<Refusal, CommandError> {
    match error {
        ClaimError::WrongToken { given, current, .. } => Ok(Refusal {
            message: format!(
                "token `{}` is not the current claim: the task is held by {} with token `{}`",
                short(&given),
                describe_claim(&current),
                short(&current.token)
            ),
            current: Some(current),
        }),
        ClaimError::NotClaimed { task, path } => Ok(Refusal {
            message: format!(
                "task `{task}` is not claimed (no `{}`): the claim was released or cleared",
                path.display()
            ),
            current: None,
        }),
        error => Err(claim_error(error)),
    }
}

fn remote_refusal(task: &TaskId, token: &ClaimToken, holder: Option<RemoteClaim>) -> Refusal {
    match holder {
        None => Refusal {
            message: format!("task `{task}` is not claimed on the remote: the claim was released"),
            current: None,
        },
        Some(RemoteClaim {
            content: RemoteContent::Claim(claim),
            ..
        }) => Refusal {
            message: format!(
                "token `{}` is not the current claim: the task is held by {} on the remote with token `{}`",
                short(token),
                describe_claim(&claim),
                short(&claim.token)
            ),
            current: Some(claim),
        },
        Some(RemoteClaim {
            content: RemoteContent::Corrupt { reason },
            ..
        }) => Refusal {
            message: format!("the claim of `{task}` on the remote is unreadable ({reason})"),
            current: None,
        },
    }
}

impl Refusal {
    /// The refusal as an exit-1 error.
    pub fn into_error(self) -> CommandError {
        CommandError::negative(self.message)
    }
}
