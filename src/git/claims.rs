//! Claims across machines, through a git remote: `refs/longrun/claims/<task_id>`.
//!
//! This module owns the git side of a claim: the claim commit, the create-only push that lets
//! the remote pick one winner, leased heartbeats and releases, fetching and listing the
//! remote's claims, and finding the primary checkout (where `current_tasks/` lives) from any
//! worktree. It runs git only through [`crate::git::git_command`], parses git's machine
//! output with the pure functions at the bottom, and never prints or reads the environment
//! or the clock (time comes in through [`ClaimRequest::now`] and friends).
//!
//! The protocol:
//!
//! * A claim is a parentless commit of the empty tree whose message is the claim's YAML (no
//!   token, plus a random nonce so no two claimants ever build the same commit: pushing a
//!   commit the ref already points at is "up to date", not a conflict). Its id is the token.
//!   It is pushed with `git push --porcelain --force-with-lease=<ref>: <remote>
//!   <commit>:<ref>`; the empty lease means "must not exist", so the remote accepts exactly
//!   one claimant and rejects the rest.
//! * A heartbeat pushes a new commit (parent: the claim commit; message: the renewed YAML
//!   with `token: <claim commit id>`) leased on the ref's current value; a release deletes
//!   the ref leased on its current value. Both first read the ref and refuse when it does
//!   not carry the caller's token, so a holder that was taken over cannot touch the new
//!   claim, and a lease failure means someone else moved the ref.
//! * "Lost the race" is an answer ([`RemoteClaimOutcome::Lost`], [`Leased::NotHolder`]);
//!   "cannot talk to the remote" is an error ([`GitClaimError::Remote`]).
//! * With a local store ([`claim_mirrored`]) the remote goes first and the lock file follows
//!   with the commit id as token: a claim that cannot reach the remote fails before any
//!   local file exists. Renew and release go in the same order (remote, then the local
//!   mirror), so the lock file never claims more than the remote granted.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use jiff::Timestamp;

use crate::git::{GitError, git_command};
use crate::state::claims::{
    Claim, ClaimEntry, ClaimError, ClaimInfo, ClaimOutcome, ClaimRequest, ClaimStore, ClaimToken,
    HeldClaim, TakeoverOutcome,
};
use crate::state::model::TaskId;

/// Where claims live on the remote.
pub const REMOTE_CLAIMS_PREFIX: &str = "refs/longrun/claims/";

/// Where `fetch` copies the remote's claims locally.
pub const FETCHED_CLAIMS_PREFIX: &str = "refs/longrun/remote-claims/";

/// How often a leased update is retried when the ref moves under it for a reason other than
/// a takeover (e.g. two heartbeats of the same holder crossing).
const LEASE_RETRIES: usize = 3;

/// The claims of one remote, worked from a repository (any worktree of it).
#[derive(Debug)]
pub struct RemoteClaims {
    repo: PathBuf,
    remote: String,
    extra_env: Vec<(OsString, OsString)>,
    empty_tree: OnceLock<String>,
}

/// A claim as the remote holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteClaim {
    pub task: TaskId,
    /// The commit the ref points at now: the claim commit, or its latest heartbeat.
    pub tip: ClaimToken,
    pub content: RemoteContent,
}

/// What a claim ref's commit says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteContent {
    /// A claim; its token is the claim commit id.
    Claim(Box<Claim>),
    /// The commit message is not a claim for this ref's task. Counts as held.
    Corrupt { reason: String },
}

/// The answer to a create-only claim push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteClaimOutcome {
    /// The remote took our claim commit; its id is the claim's token.
    Won(Claim),
    /// Someone else's claim got there first (or, for a takeover, the stale claim had already
    /// changed). `holder` is what the ref held when we looked afterwards, if anything.
    Lost { holder: Option<RemoteClaim> },
}

/// The answer to a leased heartbeat or release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leased<T> {
    Done(T),
    /// The ref does not carry the caller's token (taken over, released, or never claimed).
    NotHolder {
        holder: Option<RemoteClaim>,
    },
}

/// The answer to [`claim_mirrored`].
#[derive(Debug)]
pub enum MirroredOutcome {
    /// Claimed on the remote and mirrored in the lock file, which this process holds.
    Claimed(HeldClaim),
    /// Someone holds the task on the remote; nothing was written locally.
    TakenRemotely { holder: Option<RemoteClaim> },
    /// A local lock file exists; the remote was not asked (or our remote claim was rolled
    /// back because the local lock file appeared in between).
    TakenLocally(ClaimEntry),
}

/// A git claim failure, naming the remote, ref or command involved.
#[derive(Debug, thiserror::Error)]
pub enum GitClaimError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot reach remote `{remote}`: `git {args}` failed: {stderr}")]
    Remote {
        remote: String,
        args: String,
        stderr: String,
    },
    #[error("remote `{remote}` refused `{reference}`: {reason}")]
    Rejected {
        remote: String,
        reference: String,
        reason: String,
    },
    #[error("`{remote}` is not a usable remote name or URL")]
    BadRemote { remote: String },
    #[error(
        "task id `{task}` cannot be a git ref name (a ref component may not end with `.` or `.lock`)"
    )]
    RefName { task: TaskId },
    #[error("unexpected output from `git {args}`: {output}")]
    UnexpectedOutput { args: String, output: String },
    #[error("`{reference}` on remote `{remote}` kept changing; try again")]
    Contended { remote: String, reference: String },
    #[error(
        "`{common_dir}` is not the `.git` directory of a checkout, so there is no primary checkout to hold `current_tasks/`"
    )]
    NoPrimaryCheckout { common_dir: PathBuf },
    #[error(transparent)]
    Store(#[from] ClaimError),
    #[error(
        "claimed `{reference}` on the remote but could not write the lock file, and could not undo the remote claim (token `{token}`); release it by hand"
    )]
    RollbackFailed {
        reference: String,
        token: ClaimToken,
        #[source]
        cause: Box<GitClaimError>,
    },
}

/// How one ref fared in `git push --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    pub flag: PushFlag,
    /// The pushed object (empty or `(delete)` for a deletion).
    pub source: String,
    /// The remote ref.
    pub destination: String,
    /// `[new reference]`, `old..new`, `[rejected]`, `[remote rejected]`, ...
    pub summary: String,
    /// The parenthesised explanation, e.g. `stale info` or `failed to update ref`.
    pub reason: Option<String>,
}

/// The flag column of `git push --porcelain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFlag {
    FastForward,
    Forced,
    Deleted,
    New,
    Rejected,
    UpToDate,
}

/// A commit object's parents and message, from `git cat-file commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitObject {
    pub parents: Vec<String>,
    pub message: String,
}

/// The claim ref as a leased update sees it.
enum Current {
    /// The ref carries the caller's token: its current value and claim.
    Held(RemoteClaim, Claim),
    NotHolder(Option<RemoteClaim>),
}

/// What a push did to the one ref we pushed.
enum PushResult {
    Accepted,
    /// Refused by our side's lease check: the ref was not what we expected when the remote
    /// advertised it. Certain evidence that someone else moved it.
    LeaseFailed,
    /// Refused by the remote (a ref update that lost a race there, or a hook or policy).
    RemoteRejected(String),
}

impl RemoteClaims {
    /// Claims on `remote` (a remote name or URL), worked from the repository at `repo`.
    pub fn new(repo: impl Into<PathBuf>, remote: &str) -> Result<RemoteClaims, GitClaimError> {
        // A leading `-` would be read as an option by `git push`/`git fetch`.
        if remote.is_empty() || remote.starts_with('-') || remote.contains('\0') {
            return Err(GitClaimError::BadRemote {
                remote: remote.to_string(),
            });
        }
        Ok(RemoteClaims {
            repo: repo.into(),
            remote: remote.to_string(),
            extra_env: Vec::new(),
            empty_tree: OnceLock::new(),
        })
    }

    /// Adds an environment variable to every git command this runs, after
    /// [`git_command`]'s own settings. Tests isolate git with it (`GIT_CONFIG_GLOBAL`).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Claims `request.task` with a create-only push. `request.token` is ignored: on the
    /// remote the token is always the claim commit id.
    pub fn claim(&self, request: &ClaimRequest) -> Result<RemoteClaimOutcome, GitClaimError> {
        self.create(request, None)
    }

    /// Replaces the claim whose ref points at `stale_tip` (seen stale in a listing: its lease
    /// ran out) with a new claim for `request`. The push is leased on `stale_tip`, so of all
    /// reclaimers exactly one wins, and a heartbeat that landed since makes everyone lose.
    pub fn take_over(
        &self,
        request: &ClaimRequest,
        stale_tip: &ClaimToken,
    ) -> Result<RemoteClaimOutcome, GitClaimError> {
        self.create(request, Some(stale_tip))
    }

    /// Renews the lease of the claim held with `token`: a new heartbeat commit, pushed with a
    /// lease on the ref's current value.
    pub fn renew(
        &self,
        task: &TaskId,
        token: &ClaimToken,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Leased<RemoteClaim>, GitClaimError> {
        let reference = claim_ref(task)?;
        for _ in 0..LEASE_RETRIES {
            let (current, claim) = match self.current_for(task, token)? {
                Current::Held(current, claim) => (current, claim),
                Current::NotHolder(holder) => return Ok(Leased::NotHolder { holder }),
            };
            let info = claim.info.renewed(now, lease)?;
            let commit = self.commit(&info, Some(token), Some(token), now)?;
            match self.push(commit.as_str(), &reference, Some(&current.tip))? {
                PushResult::Accepted => {
                    return Ok(Leased::Done(RemoteClaim {
                        task: task.clone(),
                        tip: commit,
                        content: RemoteContent::Claim(Box::new(Claim {
                            info,
                            token: token.clone(),
                        })),
                    }));
                }
                // Moved under us: look again; a takeover shows up as NotHolder.
                PushResult::LeaseFailed | PushResult::RemoteRejected(_) => {}
            }
        }
        Err(self.contended(&reference))
    }

    /// Ends the claim held with `token`: deletes the ref, leased on its current value.
    /// Returns what the released claim said.
    pub fn release(
        &self,
        task: &TaskId,
        token: &ClaimToken,
    ) -> Result<Leased<Claim>, GitClaimError> {
        let reference = claim_ref(task)?;
        for _ in 0..LEASE_RETRIES {
            let (current, claim) = match self.current_for(task, token)? {
                Current::Held(current, claim) => (current, claim),
                Current::NotHolder(holder) => return Ok(Leased::NotHolder { holder }),
            };
            match self.push("", &reference, Some(&current.tip))? {
                PushResult::Accepted => return Ok(Leased::Done(claim)),
                PushResult::LeaseFailed | PushResult::RemoteRejected(_) => {}
            }
        }
        Err(self.contended(&reference))
    }

    /// The claim the remote holds for `task` now, or `None`. Asks the remote (`ls-remote`)
    /// and fetches the claim commit when it is not here yet; no local ref is written, so
    /// concurrent processes in worktrees of one repository do not fight over ref locks.
    pub fn holder(&self, task: &TaskId) -> Result<Option<RemoteClaim>, GitClaimError> {
        let reference = claim_ref(task)?;
        let mut last_error = None;
        for _ in 0..LEASE_RETRIES {
            let Some(tip) = self.ls_remote(&reference)? else {
                return Ok(None);
            };
            if let Some(commit) = self.read_commit(&tip)? {
                return Ok(Some(remote_claim(task.clone(), tip, &commit)));
            }
            // Not here: fetch the ref's objects only. If the ref moved meanwhile, the next
            // round sees the new tip.
            let args = [
                "fetch",
                "--no-tags",
                "--no-write-fetch-head",
                "--quiet",
                "--",
                &self.remote,
                &reference,
            ];
            if let Err(error) = self.run_remote(&args) {
                last_error = Some(error);
            }
        }
        Err(last_error.unwrap_or_else(|| self.contended(&reference)))
    }

    /// Fetches every claim of the remote into `refs/longrun/remote-claims/*` (pruning the
    /// released ones) and lists them.
    pub fn fetch_all(&self) -> Result<Vec<RemoteClaim>, GitClaimError> {
        let refspec = format!("+{REMOTE_CLAIMS_PREFIX}*:{FETCHED_CLAIMS_PREFIX}*");
        self.run_remote(&[
            "fetch",
            "--no-tags",
            "--no-write-fetch-head",
            "--prune",
            "--quiet",
            "--",
            &self.remote,
            &refspec,
        ])?;
        self.list_fetched()
    }

    /// The claims as of the last [`RemoteClaims::fetch_all`], without asking the remote.
    /// Refs whose name is not a task id are skipped: no task could be claimed by them.
    pub fn list_fetched(&self) -> Result<Vec<RemoteClaim>, GitClaimError> {
        let output = self.run_local(&[
            "for-each-ref",
            "--format=%(objectname)%00%(refname)%00%(contents)%00",
            FETCHED_CLAIMS_PREFIX,
        ])?;
        let mut claims = Vec::new();
        for (id, refname, message) in parse_for_each_ref(&output) {
            let Some(task) = refname
                .strip_prefix(FETCHED_CLAIMS_PREFIX)
                .and_then(|name| TaskId::parse(name).ok())
            else {
                continue;
            };
            let tip = ClaimToken::parse(&id).map_err(|_| GitClaimError::UnexpectedOutput {
                args: "for-each-ref".to_string(),
                output: id.clone(),
            })?;
            // for-each-ref does not show parents; a claim message without a token is the
            // claim commit itself, with one it names its claim commit.
            let commit = CommitObject {
                parents: Vec::new(),
                message,
            };
            claims.push(remote_claim(task, tip, &commit));
        }
        claims.sort_by(|a, b| a.task.cmp(&b.task));
        Ok(claims)
    }

    /// Claims or takes over; `expect` is the lease (`None`: the ref must not exist).
    fn create(
        &self,
        request: &ClaimRequest,
        expect: Option<&ClaimToken>,
    ) -> Result<RemoteClaimOutcome, GitClaimError> {
        let task = &request.task;
        let reference = claim_ref(task)?;
        let info = request.info()?;
        let commit = self.commit(&info, None, None, request.now)?;
        let won = || {
            RemoteClaimOutcome::Won(Claim {
                info: info.clone(),
                token: commit.clone(),
            })
        };
        for _ in 0..LEASE_RETRIES {
            match self.push(commit.as_str(), &reference, expect)? {
                PushResult::Accepted => return Ok(won()),
                PushResult::LeaseFailed => {
                    // Lost for certain; who holds it is for display only, so a failure to
                    // look is not an error here.
                    let holder = self.holder(task).ok().flatten();
                    return Ok(RemoteClaimOutcome::Lost { holder });
                }
                PushResult::RemoteRejected(reason) => {
                    // A ref update that lost a race on the remote looks like a policy
                    // refusal; the ref itself tells them apart.
                    match self.holder(task)? {
                        Some(holder) if holder.tip == commit => return Ok(won()),
                        Some(holder) if Some(&holder.tip) != expect => {
                            return Ok(RemoteClaimOutcome::Lost {
                                holder: Some(holder),
                            });
                        }
                        // Unchanged: nobody won; the refusal was about us. Try again, then
                        // report it.
                        _ => {
                            if !reason.contains("failed to update ref")
                                && !reason.contains("failed to lock")
                            {
                                return Err(GitClaimError::Rejected {
                                    remote: self.remote.clone(),
                                    reference,
                                    reason,
                                });
                            }
                        }
                    }
                }
            }
        }
        Err(self.contended(&reference))
    }

    /// Reads the claim ref and checks it carries `token`.
    fn current_for(&self, task: &TaskId, token: &ClaimToken) -> Result<Current, GitClaimError> {
        Ok(match self.holder(task)? {
            None => Current::NotHolder(None),
            Some(remote) => match &remote.content {
                RemoteContent::Claim(claim) if claim.token == *token => {
                    let claim = (**claim).clone();
                    Current::Held(remote, claim)
                }
                _ => Current::NotHolder(Some(remote)),
            },
        })
    }

    /// Creates a claim commit of the empty tree; `token` goes into the message (heartbeats),
    /// `parent` is the claim commit (heartbeats). A random nonce makes every commit unique.
    fn commit(
        &self,
        info: &ClaimInfo,
        token: Option<&ClaimToken>,
        parent: Option<&ClaimToken>,
        now: Timestamp,
    ) -> Result<ClaimToken, GitClaimError> {
        let tree = self.empty_tree()?;
        let message = info.to_yaml(token, Some(&ClaimToken::generate()));
        let date = format!("{} +0000", now.as_second());
        let mut args = vec![
            "-c",
            "commit.gpgSign=false",
            "commit-tree",
            tree.as_str(),
            "-m",
            message.as_str(),
        ];
        if let Some(parent) = parent {
            args.extend(["-p", parent.as_str()]);
        }
        let mut command = self.command();
        // A fixed identity and the caller's clock: claim commits never depend on the user's
        // configuration or environment.
        command
            .env("GIT_AUTHOR_NAME", "longrun")
            .env("GIT_AUTHOR_EMAIL", "longrun@localhost")
            .env("GIT_COMMITTER_NAME", "longrun")
            .env("GIT_COMMITTER_EMAIL", "longrun@localhost")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .args(&args);
        let output = self.output(command)?;
        let stdout = checked(&self.repo, &args, output)?;
        ClaimToken::parse(stdout.trim()).map_err(|_| GitClaimError::UnexpectedOutput {
            args: "commit-tree".to_string(),
            output: stdout,
        })
    }

    fn empty_tree(&self) -> Result<String, GitClaimError> {
        if let Some(tree) = self.empty_tree.get() {
            return Ok(tree.clone());
        }
        // `mktree` on empty input writes the empty tree of this repository's hash function.
        let tree = self.run_local(&["mktree"])?.trim().to_string();
        Ok(self.empty_tree.get_or_init(|| tree).clone())
    }

    /// Pushes `source` (a commit id, or `""` to delete) to `reference` with a lease.
    fn push(
        &self,
        source: &str,
        reference: &str,
        expect: Option<&ClaimToken>,
    ) -> Result<PushResult, GitClaimError> {
        let lease = format!(
            "--force-with-lease={reference}:{}",
            expect.map_or("", |tip| tip.as_str())
        );
        let refspec = format!("{source}:{reference}");
        let args = [
            "push",
            "--porcelain",
            "--no-verify",
            &lease,
            "--",
            &self.remote,
            &refspec,
        ];
        let output = self.output(self.command_with(&args))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let pushed = parse_push_porcelain(&stdout)
            .into_iter()
            .find(|pushed| pushed.destination == reference);
        match pushed {
            Some(pushed) => Ok(match pushed.flag {
                PushFlag::Rejected if pushed.summary == "[rejected]" => PushResult::LeaseFailed,
                PushFlag::Rejected if pushed.summary == "[remote rejected]" => {
                    PushResult::RemoteRejected(pushed.reason.unwrap_or_default())
                }
                PushFlag::Rejected => {
                    return Err(GitClaimError::Rejected {
                        remote: self.remote.clone(),
                        reference: reference.to_string(),
                        reason: format!("{} {}", pushed.summary, pushed.reason.unwrap_or_default())
                            .trim()
                            .to_string(),
                    });
                }
                // `=` for a create means the ref already is our unique commit: a retry of a
                // push that landed.
                PushFlag::New
                | PushFlag::FastForward
                | PushFlag::Forced
                | PushFlag::Deleted
                | PushFlag::UpToDate => PushResult::Accepted,
            }),
            None if output.status.success() => Err(GitClaimError::UnexpectedOutput {
                args: args.join(" "),
                output: stdout.into_owned(),
            }),
            None => Err(self.remote_error(&args, &output)),
        }
    }

    /// The ref's value on the remote, or `None` when it does not exist.
    fn ls_remote(&self, reference: &str) -> Result<Option<ClaimToken>, GitClaimError> {
        let output = self.run_remote(&["ls-remote", "--", &self.remote, reference])?;
        match parse_ls_remote(&output)
            .into_iter()
            .find(|(_, name)| name == reference)
        {
            Some((id, _)) => {
                ClaimToken::parse(&id)
                    .map(Some)
                    .map_err(|_| GitClaimError::UnexpectedOutput {
                        args: "ls-remote".to_string(),
                        output,
                    })
            }
            None => Ok(None),
        }
    }

    /// The commit `id`, or `None` when this repository does not have it.
    fn read_commit(&self, id: &ClaimToken) -> Result<Option<CommitObject>, GitClaimError> {
        let args = ["cat-file", "commit", id.as_str()];
        let output = self.output(self.command_with(&args))?;
        if output.status.success() {
            Ok(Some(parse_commit_object(&String::from_utf8_lossy(
                &output.stdout,
            ))))
        } else {
            Ok(None)
        }
    }

    fn command(&self) -> std::process::Command {
        let mut command = git_command(&self.repo);
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    fn command_with(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.command();
        command.args(args);
        command
    }

    fn output(&self, mut command: std::process::Command) -> Result<Output, GitClaimError> {
        let args = command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        command.output().map_err(|source| {
            GitClaimError::Git(GitError::Spawn {
                args,
                dir: self.repo.clone(),
                source,
            })
        })
    }

    /// Runs a local git command; a failure is a [`GitError`].
    fn run_local(&self, args: &[&str]) -> Result<String, GitClaimError> {
        let output = self.output(self.command_with(args))?;
        checked(&self.repo, args, output)
    }

    /// Runs a git command that talks to the remote; a failure is [`GitClaimError::Remote`].
    fn run_remote(&self, args: &[&str]) -> Result<String, GitClaimError> {
        let output = self.output(self.command_with(args))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(self.remote_error(args, &output))
        }
    }

    fn remote_error(&self, args: &[&str], output: &Output) -> GitClaimError {
        GitClaimError::Remote {
            remote: self.remote.clone(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }
    }

    fn contended(&self, reference: &str) -> GitClaimError {
        GitClaimError::Contended {
            remote: self.remote.clone(),
            reference: reference.to_string(),
        }
    }
}

/// Claims a task on the remote and mirrors it in the local lock file, in that order, so a
/// claim that cannot reach the remote leaves nothing behind locally. An existing local lock
/// file answers first (without asking the remote). If the lock file cannot be written after
/// the remote granted the claim, the remote claim is released again before returning.
pub fn claim_mirrored(
    store: &ClaimStore,
    remote: &RemoteClaims,
    request: &ClaimRequest,
) -> Result<MirroredOutcome, GitClaimError> {
    if let Some(entry) = store.entry(&request.task, request.now)? {
        return Ok(MirroredOutcome::TakenLocally(entry));
    }
    let claim = match remote.claim(request)? {
        RemoteClaimOutcome::Won(claim) => claim,
        RemoteClaimOutcome::Lost { holder } => {
            return Ok(MirroredOutcome::TakenRemotely { holder });
        }
    };
    let mirrored_request = ClaimRequest {
        token: Some(claim.token.clone()),
        ..request.clone()
    };
    let local = store.claim(&mirrored_request).map(|outcome| match outcome {
        ClaimOutcome::Claimed(held) => Ok(held),
        ClaimOutcome::Taken(entry) => Err(entry),
    });
    finish_mirror(remote, &request.task, claim, local)
}

/// Replaces the stale claim whose remote ref points at `stale_tip` (its lease ran out, as
/// seen in a listing) and mirrors the new claim locally. The remote decides first (a push
/// leased on `stale_tip`); a local lock file is then replaced only if it is stale too (no
/// live process holds it, its lease ran out). If the local side refuses, the new remote
/// claim is released again.
pub fn take_over_mirrored(
    store: &ClaimStore,
    remote: &RemoteClaims,
    request: &ClaimRequest,
    stale_tip: &ClaimToken,
) -> Result<MirroredOutcome, GitClaimError> {
    let local = store.entry(&request.task, request.now)?;
    let local_token = match local {
        None => None,
        Some(entry) => {
            let stale_token = entry
                .claim()
                .filter(|_| entry.stale)
                .map(|claim| claim.token.clone());
            match stale_token {
                Some(token) => Some(token),
                // A live local holder, an unexpired lease or a corrupt file: not ours to
                // replace, so the remote is not asked.
                None => return Ok(MirroredOutcome::TakenLocally(entry)),
            }
        }
    };
    let claim = match remote.take_over(request, stale_tip)? {
        RemoteClaimOutcome::Won(claim) => claim,
        RemoteClaimOutcome::Lost { holder } => {
            return Ok(MirroredOutcome::TakenRemotely { holder });
        }
    };
    let mirrored_request = ClaimRequest {
        token: Some(claim.token.clone()),
        ..request.clone()
    };
    let local = match &local_token {
        None => store.claim(&mirrored_request).map(|outcome| match outcome {
            ClaimOutcome::Claimed(held) => Ok(held),
            ClaimOutcome::Taken(entry) => Err(entry),
        }),
        Some(local_token) => store
            .take_over_stale(&mirrored_request, local_token)
            .map(|outcome| match outcome {
                TakeoverOutcome::TookOver { held, .. } | TakeoverOutcome::Claimed(held) => Ok(held),
                TakeoverOutcome::Taken(entry) => Err(entry),
            }),
    };
    finish_mirror(remote, &request.task, claim, local)
}

/// Renews a mirrored claim: the remote first (leased), then the lock file, so the lock file
/// never shows a lease the remote did not grant.
pub fn renew_mirrored(
    store: &ClaimStore,
    remote: &RemoteClaims,
    task: &TaskId,
    token: &ClaimToken,
    now: Timestamp,
    lease: Duration,
) -> Result<Leased<Claim>, GitClaimError> {
    match remote.renew(task, token, now, lease)? {
        Leased::NotHolder { holder } => Ok(Leased::NotHolder { holder }),
        Leased::Done(_) => Ok(Leased::Done(store.renew(task, token, now, lease)?)),
    }
}

/// Releases a mirrored claim: the remote first (a leased delete), then the lock file. When
/// the remote says the token no longer holds the task, a lock file still carrying that token
/// is an outdated mirror and is removed too; a lock file with another token is left alone.
pub fn release_mirrored(
    store: &ClaimStore,
    remote: &RemoteClaims,
    task: &TaskId,
    token: &ClaimToken,
) -> Result<Leased<Claim>, GitClaimError> {
    let remote_outcome = remote.release(task, token)?;
    match store.release(task, token) {
        Ok(_) | Err(ClaimError::NotClaimed { .. }) => {}
        Err(ClaimError::WrongToken { .. })
            if matches!(remote_outcome, Leased::NotHolder { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(remote_outcome)
}

/// The local half of a mirrored claim or takeover: keep the held lock file, or roll the
/// remote claim back when the local side refused or failed.
fn finish_mirror(
    remote: &RemoteClaims,
    task: &TaskId,
    claim: Claim,
    local: Result<Result<HeldClaim, ClaimEntry>, ClaimError>,
) -> Result<MirroredOutcome, GitClaimError> {
    if let Ok(Ok(held)) = local {
        return Ok(MirroredOutcome::Claimed(held));
    }
    // The lock file could not follow the remote: undo the remote claim so the task is not
    // held by nobody until its lease runs out.
    if let Err(rollback) = remote.release(task, &claim.token) {
        return Err(GitClaimError::RollbackFailed {
            reference: claim_ref(task)?,
            token: claim.token,
            cause: Box::new(rollback),
        });
    }
    match local {
        Ok(Ok(held)) => Ok(MirroredOutcome::Claimed(held)),
        Ok(Err(entry)) => Ok(MirroredOutcome::TakenLocally(entry)),
        Err(error) => Err(GitClaimError::Store(error)),
    }
}

/// The primary checkout of the repository containing `dir`, found through git's common
/// directory, so that every linked worktree agrees on one `current_tasks/`.
pub fn primary_checkout(dir: &Path) -> Result<PathBuf, GitClaimError> {
    // A bare repository (or a `--separate-git-dir` layout) has no checkout that could hold
    // claim files.
    match super::repo::primary_checkout(dir).map_err(GitClaimError::Git)? {
        Some(primary) => Ok(primary),
        None => Err(GitClaimError::NoPrimaryCheckout {
            common_dir: super::repo::common_dir(dir).map_err(GitClaimError::Git)?,
        }),
    }
}

/// `refs/longrun/claims/<task_id>`, for task ids git accepts as a ref component.
pub fn claim_ref(task: &TaskId) -> Result<String, GitClaimError> {
    let id = task.as_str();
    // TaskId already rules out `/`, `..`, a leading `.`, spaces and the other characters
    // git forbids; these two endings are the remaining ref-name rules.
    if id.ends_with('.') || id.ends_with(".lock") {
        return Err(GitClaimError::RefName { task: task.clone() });
    }
    Ok(format!("{REMOTE_CLAIMS_PREFIX}{id}"))
}

/// Parses `git push --porcelain` output: one `<flag>\t<from>:<to>\t<summary> (<reason>)`
/// line per ref; `To <url>` and `Done` lines are skipped.
pub fn parse_push_porcelain(stdout: &str) -> Vec<PushedRef> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let flag = match fields.next()? {
                " " => PushFlag::FastForward,
                "+" => PushFlag::Forced,
                "-" => PushFlag::Deleted,
                "*" => PushFlag::New,
                "!" => PushFlag::Rejected,
                "=" => PushFlag::UpToDate,
                _ => return None,
            };
            let (source, destination) = fields.next()?.split_once(':')?;
            let status = fields.next().unwrap_or("");
            let (summary, reason) = match status.split_once(" (") {
                Some((summary, rest)) if rest.ends_with(')') => (
                    summary.to_string(),
                    Some(rest[..rest.len() - 1].to_string()),
                ),
                _ => (status.to_string(), None),
            };
            Some(PushedRef {
                flag,
                source: source.to_string(),
                destination: destination.to_string(),
                summary,
                reason,
            })
        })
        .collect()
}

/// Parses `git ls-remote` output into `(object id, ref name)` pairs.
pub fn parse_ls_remote(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (id, name) = line.split_once('\t')?;
            Some((id.to_string(), name.to_string()))
        })
        .collect()
}

/// Parses `git cat-file commit` output: headers up to the first empty line, then the message.
pub fn parse_commit_object(text: &str) -> CommitObject {
    let (headers, message) = text.split_once("\n\n").unwrap_or((text, ""));
    let parents = headers
        .lines()
        .filter_map(|line| line.strip_prefix("parent "))
        .map(str::to_string)
        .collect();
    CommitObject {
        parents,
        message: message.to_string(),
    }
}

/// Parses `git for-each-ref --format=%(objectname)%00%(refname)%00%(contents)%00` output
/// into `(object id, ref name, message)` triples (each record ends with NUL and a newline).
pub fn parse_for_each_ref(stdout: &str) -> Vec<(String, String, String)> {
    let mut fields = stdout.split('\0');
    let mut records = Vec::new();
    while let (Some(id), Some(name), Some(message)) = (fields.next(), fields.next(), fields.next())
    {
        let id = id.trim_start_matches('\n');
        if id.is_empty() {
            break;
        }
        records.push((id.to_string(), name.to_string(), message.to_string()));
    }
    records
}

/// Reads a claim commit for `task` pointed at by `tip`.
fn remote_claim(task: TaskId, tip: ClaimToken, commit: &CommitObject) -> RemoteClaim {
    let content = match ClaimInfo::from_yaml(&commit.message) {
        Ok((info, _)) if info.task != task => RemoteContent::Corrupt {
            reason: format!("it claims task `{}`, not `{task}`", info.task),
        },
        // A heartbeat names its claim commit; the claim commit is its own token.
        Ok((info, token)) => RemoteContent::Claim(Box::new(Claim {
            info,
            token: token.unwrap_or_else(|| tip.clone()),
        })),
        Err(reason) => RemoteContent::Corrupt { reason },
    };
    RemoteClaim { task, tip, content }
}

fn checked(dir: &Path, args: &[&str], output: Output) -> Result<String, GitClaimError> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitClaimError::Git(GitError::Failed {
            args: args.join(" "),
            dir: dir.to_path_buf(),
            status: output
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |code| code.to_string()),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::state::claims::CLAIMS_DIR_NAME;

    const LEASE: Duration = Duration::from_secs(600);

    fn t0() -> Timestamp {
        "2026-11-21T09:00:00Z".parse().unwrap()
    }

    fn later(seconds: i64) -> Timestamp {
        t0().checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap()
    }

    fn task(id: &str) -> TaskId {
        TaskId::parse(id).unwrap()
    }

    fn request(id: &str, worker: &str, now: Timestamp) -> ClaimRequest {
        ClaimRequest {
            task: task(id),
            worker: worker.to_string(),
            host: "host-a".to_string(),
            pid: 7,
            attempt: 1,
            branch: format!("longrun/{id}"),
            worktree: format!("/w/{id}"),
            now,
            lease: LEASE,
            token: None,
        }
    }

    /// Runs git for test setup, isolated from the machine's configuration.
    fn git(dir: &Path, args: &[&str]) -> String {
        let output = git_command(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@localhost")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@localhost")
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn remote_claims(clone: &Path, remote: &str) -> RemoteClaims {
        RemoteClaims::new(clone, remote)
            .unwrap()
            .with_env("GIT_CONFIG_GLOBAL", "/dev/null")
            .with_env("GIT_CONFIG_NOSYSTEM", "1")
    }

    /// A bare remote and `clones` clones of it, each with its `RemoteClaims` on `origin`.
    fn setup(clones: usize) -> (tempfile::TempDir, PathBuf, Vec<RemoteClaims>) {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("remote.git");
        std::fs::create_dir(&bare).unwrap();
        git(&bare, &["init", "--quiet", "--bare"]);
        let claims = (0..clones)
            .map(|index| {
                let name = format!("clone{index}");
                git(dir.path(), &["clone", "--quiet", "remote.git", &name]);
                remote_claims(&dir.path().join(name), "origin")
            })
            .collect();
        (dir, bare, claims)
    }

    fn won(outcome: RemoteClaimOutcome) -> Claim {
        match outcome {
            RemoteClaimOutcome::Won(claim) => claim,
            other => panic!("expected a win, got {other:?}"),
        }
    }

    fn remote_ref(bare: &Path, id: &str) -> Option<String> {
        let out = git(
            bare,
            &[
                "for-each-ref",
                "--format=%(objectname)",
                &format!("{REMOTE_CLAIMS_PREFIX}{id}"),
            ],
        );
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_string())
    }

    #[test]
    fn push_porcelain_lines_are_parsed() {
        let stdout = "To /tmp/remote.git\n\
            *\tabc:refs/longrun/claims/T1\t[new reference]\n\
            !\tdef:refs/longrun/claims/T2\t[rejected] (stale info)\n\
            !\t0123:refs/longrun/claims/T3\t[remote rejected] (failed to update ref)\n\
            -\t:refs/longrun/claims/T4\t[deleted]\n\
            !\t(delete):refs/longrun/claims/T5\t[rejected] (stale info)\n\
            =\tabc:refs/longrun/claims/T6\t[up to date]\n\
            +\tabc:refs/longrun/claims/T7\t111...222 (forced update)\n\
            \x20\tabc:refs/heads/main\t111..222\n\
            !\tabc:refs/heads/x\t[rejected] (fetch first)\n\
            Done\n";
        let parsed = parse_push_porcelain(stdout);
        let flags: Vec<_> = parsed.iter().map(|p| p.flag).collect();
        assert_eq!(
            flags,
            [
                PushFlag::New,
                PushFlag::Rejected,
                PushFlag::Rejected,
                PushFlag::Deleted,
                PushFlag::Rejected,
                PushFlag::UpToDate,
                PushFlag::Forced,
                PushFlag::FastForward,
                PushFlag::Rejected,
            ]
        );
        assert_eq!(parsed[1].summary, "[rejected]");
        assert_eq!(parsed[1].reason.as_deref(), Some("stale info"));
        assert_eq!(parsed[2].summary, "[remote rejected]");
        assert_eq!(parsed[2].reason.as_deref(), Some("failed to update ref"));
        assert_eq!(parsed[3].source, "");
        assert_eq!(parsed[3].destination, "refs/longrun/claims/T4");
        assert_eq!(parsed[4].source, "(delete)");
        assert_eq!(parsed[6].summary, "111...222");
        assert_eq!(parsed[6].reason.as_deref(), Some("forced update"));
        assert_eq!(parsed[7].reason, None);
        assert_eq!(parsed[8].reason.as_deref(), Some("fetch first"));
        // A fatal error prints no ref lines at all.
        assert!(parse_push_porcelain("").is_empty());
        assert!(
            parse_push_porcelain("fatal: '/nope' does not appear to be a git repository\n")
                .is_empty()
        );
    }

    #[test]
    fn ls_remote_commit_and_for_each_ref_output_are_parsed() {
        assert_eq!(
            parse_ls_remote("aaa\trefs/longrun/claims/T1\nbbb\trefs/x/refs/longrun/claims/T1\n"),
            [
                ("aaa".to_string(), "refs/longrun/claims/T1".to_string()),
                (
                    "bbb".to_string(),
                    "refs/x/refs/longrun/claims/T1".to_string()
                ),
            ]
        );
        let commit = parse_commit_object(
            "tree 4b82\nparent p1\nparent p2\nauthor a <a> 1 +0000\ncommitter c <c> 1 +0000\n\n# subject\ntask: \"T1\"\n",
        );
        assert_eq!(commit.parents, ["p1", "p2"]);
        assert_eq!(commit.message, "# subject\ntask: \"T1\"\n");
        let records = parse_for_each_ref("id1\0refs/a\0msg one\n\0\nid2\0refs/b\0two\0\n");
        assert_eq!(
            records,
            [
                (
                    "id1".to_string(),
                    "refs/a".to_string(),
                    "msg one\n".to_string()
                ),
                ("id2".to_string(), "refs/b".to_string(), "two".to_string()),
            ]
        );
        assert!(parse_for_each_ref("").is_empty());
    }

    #[test]
    fn task_ids_that_git_refuses_as_refs_are_reported() {
        assert_eq!(claim_ref(&task("T1")).unwrap(), "refs/longrun/claims/T1");
        for bad in ["T1.", "x.lock"] {
            assert!(matches!(
                claim_ref(&task(bad)),
                Err(GitClaimError::RefName { .. })
            ));
        }
        assert!(RemoteClaims::new("/", "--upload-pack=evil").is_err());
        assert!(RemoteClaims::new("/", "").is_err());
    }

    #[test]
    fn claim_renew_release_and_takeover_through_a_bare_remote() {
        let (_dir, bare, clones) = setup(2);
        let (a, b) = (&clones[0], &clones[1]);
        let t1 = task("T1");

        let claim = won(a.claim(&request("T1", "alice", t0())).unwrap());
        assert_eq!(
            remote_ref(&bare, "T1").as_deref(),
            Some(claim.token.as_str())
        );
        // The commit is a parentless commit of the empty tree, message = the claim YAML.
        let message = git(&bare, &["log", "-1", "--format=%B", claim.token.as_str()]);
        assert_eq!(
            ClaimInfo::from_yaml(&message).unwrap(),
            (claim.info.clone(), None)
        );
        assert_eq!(
            git(
                &bare,
                &["log", "-1", "--format=%P%n%an", claim.token.as_str()]
            ),
            "\nlongrun\n"
        );

        // B loses and sees A as the holder (fetching A's commit it never had).
        match b.claim(&request("T1", "bob", later(1))).unwrap() {
            RemoteClaimOutcome::Lost {
                holder: Some(holder),
            } => {
                assert_eq!(holder.tip, claim.token);
                assert_eq!(
                    holder.content,
                    RemoteContent::Claim(Box::new(claim.clone()))
                );
            }
            other => panic!("expected lost with holder, got {other:?}"),
        }

        // Heartbeat: a new tip, the same token; wrong tokens are refused.
        assert!(matches!(
            b.renew(&t1, &ClaimToken::generate(), later(60), LEASE)
                .unwrap(),
            Leased::NotHolder { holder: Some(_) }
        ));
        let renewed = match a.renew(&t1, &claim.token, later(300), LEASE).unwrap() {
            Leased::Done(renewed) => renewed,
            other => panic!("{other:?}"),
        };
        assert_ne!(renewed.tip, claim.token);
        let RemoteContent::Claim(renewed_claim) = &renewed.content else {
            panic!("{renewed:?}")
        };
        assert_eq!(renewed_claim.token, claim.token);
        assert_eq!(renewed_claim.info.lease_expires_at, later(900));
        // Another machine sees the renewal, token included.
        assert_eq!(b.holder(&t1).unwrap().unwrap(), renewed);
        let listed = b.fetch_all().unwrap();
        assert_eq!(listed, std::slice::from_ref(&renewed));

        // A takeover leased on the tip B saw before the heartbeat loses...
        assert!(matches!(
            b.take_over(&request("T1", "bob", later(2000)), &claim.token)
                .unwrap(),
            RemoteClaimOutcome::Lost { .. }
        ));
        // ...one leased on the current tip wins, and fences A out.
        let taken = won(b
            .take_over(&request("T1", "bob", later(2000)), &renewed.tip)
            .unwrap());
        assert!(matches!(
            a.renew(&t1, &claim.token, later(2001), LEASE).unwrap(),
            Leased::NotHolder { holder: Some(holder) } if holder.tip == taken.token
        ));
        assert!(matches!(
            a.release(&t1, &claim.token).unwrap(),
            Leased::NotHolder { holder: Some(_) }
        ));
        assert_eq!(
            remote_ref(&bare, "T1").as_deref(),
            Some(taken.token.as_str())
        );

        assert_eq!(
            b.release(&t1, &taken.token).unwrap(),
            Leased::Done(taken.clone())
        );
        assert_eq!(remote_ref(&bare, "T1"), None);
        assert!(matches!(
            b.release(&t1, &taken.token).unwrap(),
            Leased::NotHolder { holder: None }
        ));
        // Listing prunes released claims.
        assert!(a.fetch_all().unwrap().is_empty());
        assert!(b.fetch_all().unwrap().is_empty());
    }

    #[test]
    fn an_unreachable_remote_is_an_error_and_leaves_no_lock_file() {
        let (dir, _bare, clones) = setup(1);
        let clone = dir.path().join("clone0");
        let store = ClaimStore::new(clone.join(CLAIMS_DIR_NAME));
        for unreachable in [
            remote_claims(&clone, "nosuchremote"),
            remote_claims(&clone, &dir.path().join("missing.git").to_string_lossy()),
        ] {
            let error =
                claim_mirrored(&store, &unreachable, &request("T1", "w", t0())).unwrap_err();
            assert!(matches!(error, GitClaimError::Remote { .. }), "{error}");
            assert!(error.to_string().contains("cannot reach remote"), "{error}");
            let leftovers: Vec<_> = std::fs::read_dir(store.dir())
                .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
                .unwrap_or_default();
            assert!(leftovers.is_empty(), "{leftovers:?}");
            assert!(matches!(
                unreachable.holder(&task("T1")).unwrap_err(),
                GitClaimError::Remote { .. }
            ));
        }
        // The reachable remote works from the same clone.
        assert!(matches!(
            claim_mirrored(&store, &clones[0], &request("T1", "w", t0())).unwrap(),
            MirroredOutcome::Claimed(_)
        ));
    }

    #[test]
    fn a_mirrored_claim_writes_the_commit_id_as_token_and_respects_local_locks() {
        let (dir, bare, clones) = setup(2);
        let store = ClaimStore::new(dir.path().join("clone0").join(CLAIMS_DIR_NAME));
        let held = match claim_mirrored(&store, &clones[0], &request("T1", "w", t0())).unwrap() {
            MirroredOutcome::Claimed(held) => held,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            remote_ref(&bare, "T1").as_deref(),
            Some(held.token().as_str())
        );
        // Same machine again: the lock file answers, the remote is not asked.
        assert!(matches!(
            claim_mirrored(&store, &clones[0], &request("T1", "w", t0())).unwrap(),
            MirroredOutcome::TakenLocally(_)
        ));
        // Another machine: the remote answers.
        let other = ClaimStore::new(dir.path().join("clone1").join(CLAIMS_DIR_NAME));
        assert!(matches!(
            claim_mirrored(&other, &clones[1], &request("T1", "w", t0())).unwrap(),
            MirroredOutcome::TakenRemotely { holder: Some(_) }
        ));
        assert!(other.list(t0()).unwrap().is_empty());

        // A lock file that cannot be written after the remote said yes: the remote claim is
        // rolled back, so the task is not held by nobody until the lease runs out.
        let blocker = dir.path().join("not-a-directory");
        std::fs::write(&blocker, "").unwrap();
        let unwritable = ClaimStore::new(blocker.join(CLAIMS_DIR_NAME));
        let error = claim_mirrored(&unwritable, &clones[1], &request("T2", "w", t0())).unwrap_err();
        assert!(matches!(error, GitClaimError::Store(_)), "{error}");
        assert_eq!(
            remote_ref(&bare, "T2"),
            None,
            "the remote claim was not rolled back"
        );
        drop(held);
    }

    #[test]
    fn mirrored_renew_release_and_takeover_keep_lock_files_in_step_with_the_remote() {
        let (dir, bare, clones) = setup(2);
        let store_a = ClaimStore::new(dir.path().join("clone0").join(CLAIMS_DIR_NAME));
        let store_b = ClaimStore::new(dir.path().join("clone1").join(CLAIMS_DIR_NAME));
        let (a, b) = (&clones[0], &clones[1]);
        let t1 = task("T1");
        let claimed = |outcome: MirroredOutcome| match outcome {
            MirroredOutcome::Claimed(held) => held,
            other => panic!("expected a claim, got {other:?}"),
        };

        // Heartbeat: both sides move together.
        let held = claimed(claim_mirrored(&store_a, a, &request("T1", "alice", t0())).unwrap());
        let token = held.token().clone();
        let renewed = match renew_mirrored(&store_a, a, &t1, &token, later(300), LEASE).unwrap() {
            Leased::Done(claim) => claim,
            other => panic!("{other:?}"),
        };
        assert_eq!(renewed.info.lease_expires_at, later(900));
        let local = store_a.entry(&t1, later(300)).unwrap().unwrap();
        assert_eq!(local.claim(), Some(&renewed));
        let RemoteContent::Claim(remote_claim) = a.holder(&t1).unwrap().unwrap().content else {
            panic!("corrupt remote claim")
        };
        assert_eq!(*remote_claim, renewed);

        // Alice's process dies; past the lease, Bob (another machine) takes over.
        drop(held);
        let stale_tip = b
            .fetch_all()
            .unwrap()
            .into_iter()
            .find(|claim| claim.task == t1)
            .unwrap()
            .tip;
        let bob = claimed(
            take_over_mirrored(&store_b, b, &request("T1", "bob", later(1000)), &stale_tip)
                .unwrap(),
        );
        assert_eq!(
            remote_ref(&bare, "T1").as_deref(),
            Some(bob.token().as_str())
        );
        // Alice comes back: fenced out on the remote, and her outdated mirror goes away.
        assert!(matches!(
            renew_mirrored(&store_a, a, &t1, &token, later(1001), LEASE).unwrap(),
            Leased::NotHolder { holder: Some(_) }
        ));
        assert!(matches!(
            release_mirrored(&store_a, a, &t1, &token).unwrap(),
            Leased::NotHolder { holder: Some(_) }
        ));
        assert!(store_a.entry(&t1, later(1001)).unwrap().is_none());
        assert_eq!(
            remote_ref(&bare, "T1").as_deref(),
            Some(bob.token().as_str())
        );

        // Bob's process dies too; Carol on Bob's machine takes over the local stale mirror.
        let bob_token = bob.token().clone();
        drop(bob);
        let carol = claimed(
            take_over_mirrored(
                &store_b,
                b,
                &request("T1", "carol", later(5000)),
                &bob_token,
            )
            .unwrap(),
        );
        let local = store_b.entry(&t1, later(5000)).unwrap().unwrap();
        assert_eq!(local.claim().unwrap().token, *carol.token());
        assert_eq!(
            remote_ref(&bare, "T1").as_deref(),
            Some(carol.token().as_str())
        );
        // A takeover while Carol is alive is refused locally without asking the remote.
        assert!(matches!(
            take_over_mirrored(&store_b, b, &request("T1", "dave", later(9000)), carol.token())
                .unwrap(),
            MirroredOutcome::TakenLocally(entry) if entry.holder_alive
        ));

        assert!(matches!(
            release_mirrored(&store_b, b, &t1, carol.token()).unwrap(),
            Leased::Done(_)
        ));
        assert!(store_b.entry(&t1, later(5001)).unwrap().is_none());
        assert_eq!(remote_ref(&bare, "T1"), None);
    }

    #[test]
    fn eight_clones_racing_for_one_ref_have_exactly_one_winner_per_round() {
        const ROUNDS: usize = 12;
        let (_dir, bare, clones) = setup(8);
        let clones = Arc::new(clones);
        let barrier = Arc::new(Barrier::new(clones.len()));
        let threads: Vec<_> = (0..clones.len())
            .map(|index| {
                let clones = Arc::clone(&clones);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let me = &clones[index];
                    let mut wins = Vec::new();
                    for round in 0..ROUNDS {
                        let id = format!("R{round}");
                        barrier.wait();
                        let outcome = me.claim(&request(&id, &format!("w{index}"), t0())).unwrap();
                        let mine = match outcome {
                            RemoteClaimOutcome::Won(claim) => {
                                wins.push((round, claim.token.clone()));
                                Some(claim)
                            }
                            RemoteClaimOutcome::Lost { .. } => None,
                        };
                        barrier.wait();
                        if let Some(claim) = mine {
                            assert!(matches!(
                                me.release(&task(&id), &claim.token).unwrap(),
                                Leased::Done(_)
                            ));
                        }
                    }
                    wins
                })
            })
            .collect();
        let mut winners: HashMap<usize, usize> = HashMap::new();
        for thread in threads {
            for (round, _) in thread.join().unwrap() {
                *winners.entry(round).or_default() += 1;
            }
        }
        for round in 0..ROUNDS {
            assert_eq!(winners.get(&round), Some(&1), "round {round}: {winners:?}");
        }
        assert!(git(&bare, &["for-each-ref", REMOTE_CLAIMS_PREFIX]).is_empty());
    }

    #[test]
    fn eight_clones_drain_30_tasks_each_claimed_exactly_once() {
        const TASKS: usize = 30;
        let (_dir, bare, clones) = setup(8);
        let clones = Arc::new(clones);
        let barrier = Arc::new(Barrier::new(clones.len()));
        let threads: Vec<_> = (0..clones.len())
            .map(|index| {
                let clones = Arc::clone(&clones);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut won = Vec::new();
                    for step in 0..TASKS {
                        let id = format!("T{}", (step + index * 4) % TASKS);
                        if let RemoteClaimOutcome::Won(claim) =
                            clones[index].claim(&request(&id, "w", t0())).unwrap()
                        {
                            won.push((id, claim.token));
                        }
                    }
                    won
                })
            })
            .collect();
        let mut counts: HashMap<String, Vec<ClaimToken>> = HashMap::new();
        for thread in threads {
            for (id, token) in thread.join().unwrap() {
                counts.entry(id).or_default().push(token);
            }
        }
        assert_eq!(counts.len(), TASKS);
        for (id, tokens) in &counts {
            assert_eq!(tokens.len(), 1, "{id} won {} times", tokens.len());
            assert_eq!(remote_ref(&bare, id).as_deref(), Some(tokens[0].as_str()));
        }
    }

    #[test]
    fn the_primary_checkout_is_found_from_any_worktree() {
        let dir = tempfile::tempdir().unwrap();
        let primary = dir.path().join("primary");
        std::fs::create_dir(&primary).unwrap();
        git(&primary, &["init", "--quiet"]);
        git(
            &primary,
            &["commit", "--quiet", "--allow-empty", "-m", "root"],
        );
        git(
            &primary,
            &["worktree", "add", "--quiet", "-b", "side", "../linked"],
        );
        let sub = dir.path().join("linked").join("sub");
        std::fs::create_dir(&sub).unwrap();
        let expected = primary.canonicalize().unwrap();
        for from in [&primary, &dir.path().join("linked"), &sub] {
            assert_eq!(
                primary_checkout(from).unwrap().canonicalize().unwrap(),
                expected
            );
        }
        let bare = dir.path().join("bare.git");
        std::fs::create_dir(&bare).unwrap();
        git(&bare, &["init", "--quiet", "--bare"]);
        assert!(matches!(
            primary_checkout(&bare),
            Err(GitClaimError::NoPrimaryCheckout { .. })
        ));
        assert!(matches!(
            primary_checkout(dir.path()),
            Err(GitClaimError::Git(_))
        ));
    }
}
