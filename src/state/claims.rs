//! Task claims on local disk: `current_tasks/<task_id>.lock`, one file per claimed task.
//!
//! This module owns the lock files and the protocol around them: exclusive creation, the OS
//! lock (`flock`) that proves a holder is alive, lease renewal, token-fenced release, and the
//! race-free takeover of stale claims. It never prints, never reads the environment or the
//! clock (the caller passes `now` and the host name), and never spawns a process; claims that
//! travel through a git remote are built on top of it in `git::claims`.
//!
//! The protocol, in one place:
//!
//! * **Create** (`claim`): the claim is written in full to a temp file, synced and
//!   `flock`ed, then hard-linked to `<task_id>.lock`. `link(2)` fails with `EEXIST` exactly
//!   like `O_CREAT|O_EXCL` does, so one claimant wins; unlike a bare `O_EXCL` create, no
//!   reader ever sees an empty or half-written lock file, and the winner already holds the
//!   OS lock at the moment the file becomes visible.
//! * **Liveness**: the holder keeps the `flock` on the lock file's inode for as long as it
//!   lives ([`HeldClaim`]). The kernel drops it when the process dies, so "no live holder" is
//!   a non-blocking `try_lock` that succeeds; no pid guessing.
//! * **Mutations** (renew, release, takeover, adopt, forced removal) happen under an
//!   exclusive `flock` on `current_tasks/.claims-mutex.lock`; readers (listing, inspecting a taken
//!   claim) take it shared. The liveness lock cannot double as the mutation lock: the live
//!   holder keeps it forever, and a `longrun heartbeat` run by another process must still be
//!   able to renew. Inside the mutex, a check ("the token is still X", "the lease expired and
//!   nobody holds the file") and the act that depends on it (rewrite, unlink, rename) cannot
//!   be separated by another mutation, which closes the check-then-act races.
//! * **Renew** rewrites the file in place, keeping the inode, so the holder's `flock` stays
//!   on the file everyone sees. Readers hold the mutex shared, so they never see a half
//!   rewrite.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;

use crate::clock::format_timestamp;
use crate::fsutil::{BackgroundIo, sync_directory};
use crate::state::model::TaskId;

/// The directory of the primary checkout that holds the claim files.
pub const CLAIMS_DIR_NAME: &str = "current_tasks";

/// The file every mutation locks exclusively (and every reader shared). It is never deleted:
/// removing a lock file that someone may be waiting on would split the lock in two.
// Ends in `.lock` so the `current_tasks/*.lock` line of `.gitignore` covers it; the leading
// dot keeps it out of claim listings (a task id never starts with a dot).
pub const MUTEX_FILE_NAME: &str = ".claims-mutex.lock";

/// Lock files are a few hundred bytes; anything far larger is not one of ours.
const MAX_LOCK_FILE_BYTES: u64 = 64 * 1024;

/// How often `claim` retries when the lock file vanishes between "exists" and "read it".
const CLAIM_RETRIES: usize = 8;

/// What a caller asks for when it claims a task. Time and host come from the caller, so the
/// store stays free of clock and environment reads.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub task: TaskId,
    /// The worker (agent) that will do the task.
    pub worker: String,
    pub host: String,
    pub pid: u32,
    pub attempt: u32,
    /// The task branch, e.g. `longrun/T3`.
    pub branch: String,
    /// The worker's worktree, as text.
    pub worktree: String,
    pub now: Timestamp,
    /// How long the claim lives without a heartbeat.
    pub lease: Duration,
    /// `None`: a fresh random token. `Some`: this token (git mode: the claim commit id).
    pub token: Option<ClaimToken>,
}

/// Everything a claim says except its token. Timestamps have whole seconds, exactly as they
/// are written to the file, so a claim read back compares equal to the claim written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimInfo {
    pub task: TaskId,
    pub worker: String,
    pub host: String,
    pub pid: u32,
    pub claimed_at: Timestamp,
    pub heartbeat_at: Timestamp,
    pub lease_expires_at: Timestamp,
    pub attempt: u32,
    pub branch: String,
    pub worktree: String,
}

/// A claim as stored in a lock file: its information and the token that fences it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub info: ClaimInfo,
    pub token: ClaimToken,
}

/// The fencing token of one claim: lowercase hex, 16 to 64 digits. Unique per claim (random,
/// or the claim commit id in git mode); a release or merge is accepted only with the current
/// token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimToken(String);

/// Text that is not a claim token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a claim token (expected 16 to 64 lowercase hex digits)")]
pub struct ClaimTokenError(pub String);

/// A successful claim. It owns the open lock file with the OS lock held: dropping it releases
/// the OS lock (the claim then looks dead once its lease expires) but leaves the claim file in
/// place; only [`ClaimStore::release`] ends a claim.
#[derive(Debug)]
pub struct HeldClaim {
    claim: Claim,
    path: PathBuf,
    // Held for its `flock`; never read after creation.
    _file: File,
}

/// The result of [`ClaimStore::claim`].
#[derive(Debug)]
pub enum ClaimOutcome {
    Claimed(HeldClaim),
    /// Someone holds the task (or its lock file is corrupt, which counts as held).
    Taken(ClaimEntry),
}

/// The result of [`ClaimStore::take_over_stale`].
#[derive(Debug)]
pub enum TakeoverOutcome {
    /// The stale claim was replaced; `previous` is what it said (for the run log).
    TookOver {
        held: HeldClaim,
        previous: Box<Claim>,
    },
    /// The lock file was gone by the time we looked, so this was an ordinary claim.
    Claimed(HeldClaim),
    /// The claim is not (or no longer) the stale one we were asked to replace: it has a live
    /// holder, an unexpired lease, a different token (another reclaimer won), or is corrupt.
    Taken(ClaimEntry),
}

/// One lock file as seen by [`ClaimStore::list`] and friends.
#[derive(Debug, Clone)]
pub struct ClaimEntry {
    pub path: PathBuf,
    /// The task named by the file name; `None` when the name is not a task id (the entry is
    /// then corrupt).
    pub task: Option<TaskId>,
    pub lock: LockContent,
    /// Some process holds the OS lock on the file.
    pub holder_alive: bool,
    /// The lease has run out (`false` for a corrupt file: it has no lease to trust).
    pub lease_expired: bool,
    /// The lease has run out and no process holds the file: it may be taken over. Never true
    /// for a corrupt file.
    pub stale: bool,
}

/// What a lock file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockContent {
    Claim(Box<Claim>),
    /// The file does not parse as a claim. It counts as held until a person removes it or a
    /// forced release clears it; longrun never deletes it on its own.
    Corrupt {
        reason: String,
    },
}

/// A claim store failure. Every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("cannot {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "claim file `{path}` is corrupt: {reason}; it counts as held until a person removes it or a forced release clears it"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("task `{task}` is not claimed (no `{path}`)")]
    NotClaimed { task: TaskId, path: PathBuf },
    #[error(
        "token `{given}` is not the current claim on task `{task}` (`{path}` holds token `{}` of worker `{}` on `{}`)",
        current.token, current.info.worker, current.info.host
    )]
    WrongToken {
        task: TaskId,
        path: PathBuf,
        given: ClaimToken,
        current: Box<Claim>,
    },
    #[error("claim file `{path}` is locked by another live process")]
    HeldElsewhere { path: PathBuf },
    #[error("a lease of {lease:?} from {now} is out of range")]
    LeaseOutOfRange { now: Timestamp, lease: Duration },
    #[error("claim file `{path}` changed too often while claiming task `{task}`; try again")]
    Contended { task: TaskId, path: PathBuf },
    #[error("internal error: lock path `{path}` is not directly inside `{dir}`")]
    PathEscape { path: PathBuf, dir: PathBuf },
}

impl ClaimError {
    /// A refusal rather than a fault: the caller asked for something the current claim does
    /// not allow (wrong token, nothing to release, a live holder). Commands exit 1 on these.
    /// A corrupt file is not a refusal: a person has to look at it.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ClaimError::NotClaimed { .. }
                | ClaimError::WrongToken { .. }
                | ClaimError::HeldElsewhere { .. }
        )
    }
}

/// The claim files of one repository: a directory, normally `<primary checkout>/current_tasks`.
#[derive(Debug, Clone)]
pub struct ClaimStore {
    dir: PathBuf,
    /// Where the end of a link, rename or unlink goes (the directory sync, the freeing of a
    /// removed file); `None`: done on the spot.
    background: Option<Arc<BackgroundIo>>,
}

impl ClaimToken {
    /// Checks `text` against the token rules.
    pub fn parse(text: &str) -> Result<ClaimToken, ClaimTokenError> {
        let valid = (16..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(ClaimToken(text.to_string()))
        } else {
            Err(ClaimTokenError(text.to_string()))
        }
    }

    /// A fresh token: 128 random bits as 32 hex digits.
    pub fn generate() -> ClaimToken {
        ClaimToken(random_hex_128())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ClaimToken {
    type Err = ClaimTokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClaimToken::parse(s)
    }
}

impl ClaimRequest {
    /// The claim information this request produces: claimed and heartbeat now, lease from
    /// now, timestamps cut to whole seconds as they are stored.
    pub fn info(&self) -> Result<ClaimInfo, ClaimError> {
        let now = whole_seconds(self.now);
        Ok(ClaimInfo {
            task: self.task.clone(),
            worker: self.worker.clone(),
            host: self.host.clone(),
            pid: self.pid,
            claimed_at: now,
            heartbeat_at: now,
            lease_expires_at: lease_end(self.now, self.lease)?,
            attempt: self.attempt,
            branch: self.branch.clone(),
            worktree: self.worktree.clone(),
        })
    }
}

impl ClaimInfo {
    /// True when the lease has run out at `now`.
    pub fn lease_expired(&self, now: Timestamp) -> bool {
        now >= self.lease_expires_at
    }

    /// This information with a heartbeat at `now` and a lease running `lease` from `now`.
    pub fn renewed(&self, now: Timestamp, lease: Duration) -> Result<ClaimInfo, ClaimError> {
        Ok(ClaimInfo {
            heartbeat_at: whole_seconds(now),
            lease_expires_at: lease_end(now, lease)?,
            ..self.clone()
        })
    }

    /// The YAML form. `token` is omitted when `None` (a git claim commit cannot contain its
    /// own id); `nonce`, when given, is appended so two otherwise equal texts differ.
    pub fn to_yaml(&self, token: Option<&ClaimToken>, nonce: Option<&ClaimToken>) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(&format!(
            "# longrun claim on task {}; managed by longrun, do not edit\n",
            self.task
        ));
        push_field(&mut out, "task", &quoted(self.task.as_str()));
        push_field(&mut out, "worker", &quoted(&self.worker));
        push_field(&mut out, "host", &quoted(&self.host));
        push_field(&mut out, "pid", &self.pid.to_string());
        push_field(&mut out, "claimed_at", &timestamp_field(self.claimed_at));
        push_field(
            &mut out,
            "heartbeat_at",
            &timestamp_field(self.heartbeat_at),
        );
        push_field(
            &mut out,
            "lease_expires_at",
            &timestamp_field(self.lease_expires_at),
        );
        push_field(&mut out, "attempt", &self.attempt.to_string());
        if let Some(token) = token {
            push_field(&mut out, "token", &quoted(token.as_str()));
        }
        push_field(&mut out, "branch", &quoted(&self.branch));
        push_field(&mut out, "worktree", &quoted(&self.worktree));
        if let Some(nonce) = nonce {
            push_field(&mut out, "nonce", &quoted(nonce.as_str()));
        }
        out
    }

    /// Parses the YAML form; the token is `None` when the text has none. The error is a
    /// reason for a person, without the file name (the caller knows it).
    pub fn from_yaml(text: &str) -> Result<(ClaimInfo, Option<ClaimToken>), String> {
        let raw: RawClaim = match RawClaim::from_own_yaml(text) {
            Some(raw) => raw,
            None => serde_saphyr::from_str(text).map_err(|error| error.to_string())?,
        };
        let timestamp = |field: &str, value: &str| {
            value
                .parse::<Timestamp>()
                .map_err(|error| format!("`{field}` is not a timestamp: {error}"))
        };
        let info = ClaimInfo {
            task: TaskId::parse(&raw.task).map_err(|error| error.to_string())?,
            worker: raw.worker,
            host: raw.host,
            pid: raw.pid,
            claimed_at: timestamp("claimed_at", &raw.claimed_at)?,
            heartbeat_at: timestamp("heartbeat_at", &raw.heartbeat_at)?,
            lease_expires_at: timestamp("lease_expires_at", &raw.lease_expires_at)?,
            attempt: raw.attempt,
            branch: raw.branch,
            worktree: raw.worktree,
        };
        let token = raw
            .token
            .map(|token| ClaimToken::parse(&token).map_err(|error| error.to_string()))
            .transpose()?;
        Ok((info, token))
    }
}

impl Claim {
    /// The lock file text.
    pub fn to_yaml(&self) -> String {
        self.info.to_yaml(Some(&self.token), None)
    }

    /// Parses a lock file text; a lock file must carry a token.
    pub fn from_yaml(text: &str) -> Result<Claim, String> {
        match ClaimInfo::from_yaml(text)? {
            (info, Some(token)) => Ok(Claim { info, token }),
            (_, None) => Err("missing field `token`".to_string()),
        }
    }
}

impl HeldClaim {
    pub fn claim(&self) -> &Claim {
        &self.claim
    }

    pub fn task(&self) -> &TaskId {
        &self.claim.info.task
    }

    pub fn token(&self) -> &ClaimToken {
        &self.claim.token
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renews the lease through `store` and keeps this handle's copy of the claim current.
    pub fn renew(
        &mut self,
        store: &ClaimStore,
        now: Timestamp,
        lease: Duration,
    ) -> Result<&Claim, ClaimError> {
        self.claim = store.renew(&self.claim.info.task, &self.claim.token, now, lease)?;
        Ok(&self.claim)
    }
}

impl ClaimEntry {
    /// The parsed claim, unless the file is corrupt.
    pub fn claim(&self) -> Option<&Claim> {
        match &self.lock {
            LockContent::Claim(claim) => Some(claim),
            LockContent::Corrupt { .. } => None,
        }
    }

    pub fn is_corrupt(&self) -> bool {
        matches!(self.lock, LockContent::Corrupt { .. })
    }
}

impl ClaimStore {
    /// A store in `dir` (normally `<primary checkout>/current_tasks`). Nothing is touched
    /// until the first operation; a missing directory is created by the first claim.
    pub fn new(dir: impl Into<PathBuf>) -> ClaimStore {
        ClaimStore {
            dir: dir.into(),
            background: None,
        }
    }

    /// The same store, with the end of a link, rename or unlink (the directory sync that
    /// makes it durable, the freeing of a removed file) left to `background` rather than
    /// waited for: the caller's other writes overlap it, and the caller waits for
    /// `background` before it reports the change as done. Which claimant wins, and what
    /// every process sees, does not depend on when that work finishes.
    pub fn in_background(self, background: Arc<BackgroundIo>) -> ClaimStore {
        ClaimStore {
            background: Some(background),
            ..self
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock file of `task`, checked to sit directly in the store directory.
    pub fn lock_path(&self, task: &TaskId) -> Result<PathBuf, ClaimError> {
        let path = self.dir.join(format!("{task}.lock"));
        // A TaskId cannot hold a separator or `..`, so this holds by construction; checking it
        // costs nothing and keeps a future TaskId change from writing outside the store.
        if path.parent() != Some(self.dir.as_path()) {
            return Err(ClaimError::PathEscape {
                path,
                dir: self.dir.clone(),
            });
        }
        Ok(path)
    }

    /// Claims `request.task`: exactly one of any number of racing claimants gets
    /// [`ClaimOutcome::Claimed`]; the others get [`ClaimOutcome::Taken`] with the winner's
    /// claim. An existing claim is never replaced here, stale or not: see
    /// [`ClaimStore::take_over_stale`].
    pub fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, ClaimError> {
        let task = &request.task;
        let path = self.lock_path(task)?;
        // Cheap path for the common "already taken" case: no temp file, no fsync.
        if let Some(entry) = self.entry(task, request.now)? {
            return Ok(ClaimOutcome::Taken(entry));
        }
        let claim = Claim {
            info: request.info()?,
            token: request.token.clone().unwrap_or_else(ClaimToken::generate),
        };
        let prepared = self.prepare(&claim)?;
        for _ in 0..CLAIM_RETRIES {
            match fs::hard_link(prepared.path(), &path) {
                Ok(()) => {
                    self.sync_dir();
                    return Ok(ClaimOutcome::Claimed(prepared.into_held(claim, path)));
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    if let Some(entry) = self.entry(task, request.now)? {
                        return Ok(ClaimOutcome::Taken(entry));
                    }
                    // Released between our link and our look: try again.
                }
                Err(source) => {
                    return Err(ClaimError::Io {
                        action: "create lock file",
                        path,
                        source,
                    });
                }
            }
        }
        Err(ClaimError::Contended {
            task: task.clone(),
            path,
        })
    }

    /// The lock file of `task` as it is now, or `None` when the task is not claimed.
    pub fn entry(&self, task: &TaskId, now: Timestamp) -> Result<Option<ClaimEntry>, ClaimError> {
        let path = self.lock_path(task)?;
        if !self.dir.exists() {
            return Ok(None);
        }
        let _mutex = self.mutex(MutexMode::Shared)?;
        let Some(file) = open_existing(&path)? else {
            return Ok(None);
        };
        inspect(&path, &file, Some(task), now).map(Some)
    }

    /// The current claim on `task` if `token` is its token: the fence a gate checks before it
    /// merges a worker's result. Refused like [`ClaimStore::release`] otherwise. A snapshot:
    /// the caller that acts on it must still hold the claim (its own [`HeldClaim`]) or
    /// re-check under its own serialization.
    pub fn verify(&self, task: &TaskId, token: &ClaimToken) -> Result<Claim, ClaimError> {
        let path = self.lock_path(task)?;
        if !self.dir.exists() {
            return Err(ClaimError::NotClaimed {
                task: task.clone(),
                path,
            });
        }
        let _mutex = self.mutex(MutexMode::Shared)?;
        let file =
            File::open(&path).map_err(|source| not_claimed_or_io(task, &path, source, "open"))?;
        let current = read_claim(&path, &file)?;
        check_token(task, &path, token, &current)?;
        Ok(current)
    }

    /// Every lock file in the store, sorted by path. Corrupt files are listed (as corrupt,
    /// with their path), never skipped. A missing store directory lists as empty.
    pub fn list(&self, now: Timestamp) -> Result<Vec<ClaimEntry>, ClaimError> {
        let read_dir = match fs::read_dir(&self.dir) {
            Ok(read_dir) => read_dir,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(ClaimError::Io {
                    action: "list claims in",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut names = Vec::new();
        for dir_entry in read_dir {
            let dir_entry = dir_entry.map_err(|source| ClaimError::Io {
                action: "list claims in",
                path: self.dir.clone(),
                source,
            })?;
            let name = dir_entry.file_name().to_string_lossy().into_owned();
            // Dot files are ours (the mutex, temp files of claims in progress).
            if !name.starts_with('.') && name.ends_with(".lock") {
                names.push(name);
            }
        }
        names.sort();
        let _mutex = self.mutex(MutexMode::Shared)?;
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let path = self.dir.join(&name);
            let task = name
                .strip_suffix(".lock")
                .and_then(|stem| TaskId::parse(stem).ok());
            // Gone since the directory listing: released meanwhile, nothing to show.
            let Some(file) = open_existing(&path)? else {
                continue;
            };
            entries.push(inspect(&path, &file, task.as_ref(), now)?);
        }
        Ok(entries)
    }

    /// Renews the lease of `task` for the holder of `token`: heartbeat now, lease from now.
    /// Any process with the token may renew (e.g. `longrun heartbeat` from a worker); the
    /// file keeps its inode, so the holder's OS lock stays on it.
    pub fn renew(
        &self,
        task: &TaskId,
        token: &ClaimToken,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Claim, ClaimError> {
        let path = self.lock_path(task)?;
        let _mutex = self.mutex(MutexMode::Exclusive)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| not_claimed_or_io(task, &path, source, "open"))?;
        let current = read_claim(&path, &file)?;
        check_token(task, &path, token, &current)?;
        let renewed = Claim {
            info: current.info.renewed(now, lease)?,
            token: current.token,
        };
        let io_error = |source| ClaimError::Io {
            action: "renew",
            path: path.clone(),
            source,
        };
        // In place, not by rename: the inode (and the holder's flock on it) must survive.
        // Readers take the mutex shared, so none of them sees the rewrite half done.
        let text = renewed.to_yaml();
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        file.write_all(text.as_bytes()).map_err(io_error)?;
        file.set_len(text.len() as u64).map_err(io_error)?;
        file.sync_data().map_err(io_error)?;
        Ok(renewed)
    }

    /// Ends the claim on `task` held with `token`: the lock file is deleted. Refused with
    /// [`ClaimError::WrongToken`] when the claim was taken over, [`ClaimError::NotClaimed`]
    /// when there is none, and [`ClaimError::Corrupt`] for a corrupt file. Returns what the
    /// released claim said.
    pub fn release(&self, task: &TaskId, token: &ClaimToken) -> Result<Claim, ClaimError> {
        let path = self.lock_path(task)?;
        let _mutex = self.mutex(MutexMode::Exclusive)?;
        let file =
            File::open(&path).map_err(|source| not_claimed_or_io(task, &path, source, "open"))?;
        let current = read_claim(&path, &file)?;
        check_token(task, &path, token, &current)?;
        // Token check and unlink happen under the exclusive mutex: no takeover can slip
        // between them and have its fresh claim deleted by the old holder.
        fs::remove_file(&path).map_err(|source| ClaimError::Io {
            action: "delete",
            path: path.clone(),
            source,
        })?;
        self.sync_dir();
        self.let_go(file);
        Ok(current)
    }

    /// Deletes the lock file of `task` whatever it holds: a person's `--force` for a corrupt
    /// file or a claim they know is dead. Returns what the file held, `None` when there was
    /// no file.
    pub fn force_remove(&self, task: &TaskId) -> Result<Option<LockContent>, ClaimError> {
        let path = self.lock_path(task)?;
        let _mutex = self.mutex(MutexMode::Exclusive)?;
        let Some(file) = open_existing(&path)? else {
            return Ok(None);
        };
        let content = read_content(&path, &file, Some(task))?;
        fs::remove_file(&path).map_err(|source| ClaimError::Io {
            action: "delete",
            path: path.clone(),
            source,
        })?;
        self.sync_dir();
        self.let_go(file);
        Ok(Some(content))
    }

    /// Takes the OS lock of an existing claim for this process, e.g. in a supervisor started
    /// after the claiming process let go. Fails with [`ClaimError::HeldElsewhere`] while
    /// another process holds it.
    pub fn adopt(&self, task: &TaskId, token: &ClaimToken) -> Result<HeldClaim, ClaimError> {
        let path = self.lock_path(task)?;
        let _mutex = self.mutex(MutexMode::Exclusive)?;
        let file =
            File::open(&path).map_err(|source| not_claimed_or_io(task, &path, source, "open"))?;
        let current = read_claim(&path, &file)?;
        check_token(task, &path, token, &current)?;
        match file.try_lock() {
            Ok(()) => Ok(HeldClaim {
                claim: current,
                path,
                _file: file,
            }),
            Err(TryLockError::WouldBlock) => Err(ClaimError::HeldElsewhere { path }),
            Err(TryLockError::Error(source)) => Err(ClaimError::Io {
                action: "lock",
                path,
                source,
            }),
        }
    }

    /// Replaces the stale claim whose token is `stale_token` with a new claim for `request`.
    ///
    /// Race-free because everything happens under the exclusive mutex, in this order: the new
    /// claim is written to a temp file (and its OS lock taken) beforehand; then, holding the
    /// mutex, the current file is opened and re-read (it must still carry `stale_token`),
    /// its lease must have run out at `request.now`, and its OS lock is taken without waiting
    /// (failure means a live holder); only then is the prepared file renamed over it. Of N
    /// reclaimers, the first through the mutex renames; the others re-read a file with the
    /// winner's token and report [`TakeoverOutcome::Taken`] with the winner's claim.
    pub fn take_over_stale(
        &self,
        request: &ClaimRequest,
        stale_token: &ClaimToken,
    ) -> Result<TakeoverOutcome, ClaimError> {
        let task = &request.task;
        let path = self.lock_path(task)?;
        let claim = Claim {
            info: request.info()?,
            token: request.token.clone().unwrap_or_else(ClaimToken::generate),
        };
        let prepared = self.prepare(&claim)?;
        let _mutex = self.mutex(MutexMode::Exclusive)?;
        let Some(old_file) = open_existing(&path)? else {
            // Released meanwhile; claim it like anyone would (the link still decides, since
            // `claim` does not take the mutex).
            return match fs::hard_link(prepared.path(), &path) {
                Ok(()) => {
                    self.sync_dir();
                    Ok(TakeoverOutcome::Claimed(prepared.into_held(claim, path)))
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    let file = open_existing(&path)?.ok_or_else(|| ClaimError::Contended {
                        task: task.clone(),
                        path: path.clone(),
                    })?;
                    Ok(TakeoverOutcome::Taken(inspect(
                        &path,
                        &file,
                        Some(task),
                        request.now,
                    )?))
                }
                Err(source) => Err(ClaimError::Io {
                    action: "create lock file",
                    path,
                    source,
                }),
            };
        };
        let content = read_content(&path, &old_file, Some(task))?;
        let previous = match content {
            LockContent::Claim(previous)
                if previous.token == *stale_token && previous.info.lease_expired(request.now) =>
            {
                previous
            }
            _ => {
                return Ok(TakeoverOutcome::Taken(inspect(
                    &path,
                    &old_file,
                    Some(task),
                    request.now,
                )?));
            }
        };
        // Holding the old inode's lock until the rename is done means no holder can appear on
        // it in between (and a dead holder cannot come back).
        match old_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Ok(TakeoverOutcome::Taken(entry_from(
                    &path,
                    Some(task),
                    LockContent::Claim(previous),
                    true,
                    request.now,
                )));
            }
            Err(TryLockError::Error(source)) => {
                return Err(ClaimError::Io {
                    action: "lock",
                    path,
                    source,
                });
            }
        }
        fs::rename(prepared.path(), &path).map_err(|source| ClaimError::Io {
            action: "replace stale lock file",
            path: path.clone(),
            source,
        })?;
        self.sync_dir();
        let held = prepared.into_held(claim, path);
        self.let_go(old_file);
        Ok(TakeoverOutcome::TookOver { held, previous })
    }

    /// Writes `claim` to a fresh temp file in the store, synced and with its OS lock held, so
    /// that linking or renaming it into place publishes a complete, already-held claim.
    fn prepare(&self, claim: &Claim) -> Result<Prepared, ClaimError> {
        fs::create_dir_all(&self.dir).map_err(|source| ClaimError::Io {
            action: "create claims directory",
            path: self.dir.clone(),
            source,
        })?;
        let path = self.dir.join(format!(
            ".{}.{}.{}.tmp.lock",
            claim.info.task,
            std::process::id(),
            &random_hex_128()[..16]
        ));
        let io_error = |action, source| ClaimError::Io {
            action,
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| io_error("create", source))?;
        let temp = TempName(path.clone());
        match file.try_lock() {
            Ok(()) => {}
            // Nobody else knows this name; a lock here means something is badly wrong.
            Err(TryLockError::WouldBlock) => {
                return Err(io_error(
                    "lock",
                    io::Error::new(io::ErrorKind::WouldBlock, "new temp file already locked"),
                ));
            }
            Err(TryLockError::Error(source)) => return Err(io_error("lock", source)),
        }
        file.write_all(claim.to_yaml().as_bytes())
            .map_err(|source| io_error("write", source))?;
        file.sync_all().map_err(|source| io_error("sync", source))?;
        Ok(Prepared { file, temp })
    }

    /// Syncs the store directory so a link, rename or unlink in it survives a crash, now or
    /// in the background. Best effort, like `fsutil::write_atomic`: the operation itself
    /// already happened.
    fn sync_dir(&self) {
        match &self.background {
            Some(background) => background.sync_dir(&self.dir),
            None => sync_directory(&self.dir),
        }
    }

    /// Lets go of a lock file that was just unlinked or replaced: its last close frees its
    /// blocks, which may wait for the device (see `fsutil::BackgroundIo`).
    fn let_go(&self, file: File) {
        match &self.background {
            Some(background) => background.spawn(move || drop(file)),
            None => drop(file),
        }
    }

    fn mutex(&self, mode: MutexMode) -> Result<File, ClaimError> {
        let path = self.dir.join(MUTEX_FILE_NAME);
        let io_error = |source| ClaimError::Io {
            action: "lock",
            path: path.clone(),
            source,
        };
        if mode == MutexMode::Exclusive {
            fs::create_dir_all(&self.dir).map_err(|source| ClaimError::Io {
                action: "create claims directory",
                path: self.dir.clone(),
                source,
            })?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error)?;
        // Blocking: every holder keeps it for a few system calls only.
        match mode {
            MutexMode::Shared => file.lock_shared().map_err(io_error)?,
            MutexMode::Exclusive => file.lock().map_err(io_error)?,
        }
        Ok(file)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MutexMode {
    Shared,
    Exclusive,
}

/// A claim written to a temp file with its OS lock held, not yet published.
struct Prepared {
    file: File,
    temp: TempName,
}

/// Removes a temp file name when dropped. After a link the temp name is a second name of
/// the lock file; after a rename it no longer exists; on an error it is garbage. In every
/// case it should go, and a failure leaves only a dot file that listing ignores.
struct TempName(PathBuf);

impl Drop for TempName {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl Prepared {
    fn path(&self) -> &Path {
        &self.temp.0
    }

    /// The published claim: the lock file now names the prepared inode, whose OS lock the
    /// file handle holds. The temp name goes with `temp`.
    fn into_held(self, claim: Claim, path: PathBuf) -> HeldClaim {
        let Prepared { file, temp } = self;
        drop(temp);
        HeldClaim {
            claim,
            path,
            _file: file,
        }
    }
}

/// The raw YAML shape; validated into [`ClaimInfo`] by `ClaimInfo::from_yaml`.
#[derive(Debug, Deserialize, PartialEq)]
struct RawClaim {
    task: String,
    worker: String,
    host: String,
    pid: u32,
    claimed_at: String,
    heartbeat_at: String,
    lease_expires_at: String,
    attempt: u32,
    token: Option<String>,
    branch: String,
    worktree: String,
}

impl RawClaim {
    /// Reads a lock file exactly as [`ClaimInfo::to_yaml`] writes it (comment lines, then
    /// `key: value` lines, strings double-quoted with [`quoted`]'s escapes, integers in
    /// decimal) without a YAML parser: `next`, `status` and the cycle read every claim, and
    /// the general parser (with the reads around it) cost about 26 µs a file, 10 ms of `next`
    /// with 388 claims. Anything else (another layout, an unknown or
    /// repeated key, a missing field, another escape) gives `None`, and the caller parses
    /// the text as YAML, so what a lock file means never depends on this reader.
    fn from_own_yaml(text: &str) -> Option<RawClaim> {
        #[derive(Default)]
        struct Fields {
            task: Option<String>,
            worker: Option<String>,
            host: Option<String>,
            pid: Option<u32>,
            claimed_at: Option<String>,
            heartbeat_at: Option<String>,
            lease_expires_at: Option<String>,
            attempt: Option<u32>,
            token: Option<String>,
            branch: Option<String>,
            worktree: Option<String>,
            nonce: Option<String>,
        }
        fn set<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
            if slot.is_some() {
                return None;
            }
            *slot = Some(value?);
            Some(())
        }
        let body = text.strip_suffix('\n')?;
        let mut fields = Fields::default();
        for line in body.split('\n') {
            if line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once(": ")?;
            match key {
                "task" => set(&mut fields.task, unquote(value))?,
                "worker" => set(&mut fields.worker, unquote(value))?,
                "host" => set(&mut fields.host, unquote(value))?,
                "pid" => set(&mut fields.pid, decimal(value))?,
                "claimed_at" => set(&mut fields.claimed_at, unquote(value))?,
                "heartbeat_at" => set(&mut fields.heartbeat_at, unquote(value))?,
                "lease_expires_at" => set(&mut fields.lease_expires_at, unquote(value))?,
                "attempt" => set(&mut fields.attempt, decimal(value))?,
                "token" => set(&mut fields.token, unquote(value))?,
                "branch" => set(&mut fields.branch, unquote(value))?,
                "worktree" => set(&mut fields.worktree, unquote(value))?,
                // Written in git mode; not part of the claim.
                "nonce" => set(&mut fields.nonce, unquote(value))?,
                _ => return None,
            }
        }
        Some(RawClaim {
            task: fields.task?,
            worker: fields.worker?,
            host: fields.host?,
            pid: fields.pid?,
            claimed_at: fields.claimed_at?,
            heartbeat_at: fields.heartbeat_at?,
            lease_expires_at: fields.lease_expires_at?,
            attempt: fields.attempt?,
            token: fields.token,
            branch: fields.branch?,
            worktree: fields.worktree?,
        })
    }
}

/// The inverse of [`quoted`]: a double-quoted scalar with exactly its escapes.
fn unquote(value: &str) -> Option<String> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => return None,
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if hex.len() != 4 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                        return None;
                    }
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            // `quoted` escapes these; raw, they are not its output.
            ch if ch.is_control()
                || matches!(
                    ch,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                return None;
            }
            ch => out.push(ch),
        }
    }
    Some(out)
}

/// A `u32` written as `to_string` writes it (no sign, no leading zero).
fn decimal(value: &str) -> Option<u32> {
    let plain = !value.is_empty()
        && value.bytes().all(|byte| byte.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    if plain { value.parse().ok() } else { None }
}

fn push_field(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}

fn timestamp_field(timestamp: Timestamp) -> String {
    quoted(&format_timestamp(timestamp))
}

/// A YAML double-quoted scalar. Everything that is not printable in YAML (controls, line and
/// paragraph separators, byte-order marks, non-characters) is escaped, so any string
/// round-trips and no value can start a new key.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ch if ch.is_control()
                || matches!(
                    ch,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", ch as u32));
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
    out
}

fn whole_seconds(timestamp: Timestamp) -> Timestamp {
    // In range by construction: `timestamp` was valid with its fraction.
    Timestamp::from_second(timestamp.as_second()).unwrap_or(timestamp)
}

fn lease_end(now: Timestamp, lease: Duration) -> Result<Timestamp, ClaimError> {
    now.checked_add(lease)
        .map(whole_seconds)
        .map_err(|_| ClaimError::LeaseOutOfRange { now, lease })
}

fn not_claimed_or_io(
    task: &TaskId,
    path: &Path,
    source: io::Error,
    action: &'static str,
) -> ClaimError {
    if source.kind() == io::ErrorKind::NotFound {
        ClaimError::NotClaimed {
            task: task.clone(),
            path: path.to_path_buf(),
        }
    } else {
        ClaimError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

fn open_existing(path: &Path) -> Result<Option<File>, ClaimError> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClaimError::Io {
            action: "open",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads and parses an open lock file. `task` is the task its name says; a claim for a
/// different task, or a name that is no task id, makes the file corrupt.
fn read_content(
    path: &Path,
    mut file: &File,
    task: Option<&TaskId>,
) -> Result<LockContent, ClaimError> {
    // Room for a whole lock file (about 320 bytes), so it is read in one call and one to see
    // the end, where an empty buffer grows from 32 bytes in five.
    let mut bytes = Vec::with_capacity(1024);
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.take(MAX_LOCK_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|source| ClaimError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
    let corrupt = |reason: String| Ok(LockContent::Corrupt { reason });
    let Some(task) = task else {
        return corrupt("the file name is not `<task id>.lock`".to_string());
    };
    if bytes.len() as u64 > MAX_LOCK_FILE_BYTES {
        return corrupt(format!("larger than {MAX_LOCK_FILE_BYTES} bytes"));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return corrupt("not UTF-8 text".to_string());
    };
    if text.trim().is_empty() {
        return corrupt("the file is empty".to_string());
    }
    match Claim::from_yaml(&text) {
        Ok(claim) if claim.info.task == *task => Ok(LockContent::Claim(Box::new(claim))),
        Ok(claim) => corrupt(format!(
            "it claims task `{}`, not `{task}`",
            claim.info.task
        )),
        Err(reason) => corrupt(reason),
    }
}

/// Reads a lock file that must hold a valid claim (for renew, release, adopt).
fn read_claim(path: &Path, file: &File) -> Result<Claim, ClaimError> {
    let task = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_suffix(".lock"))
        .and_then(|stem| TaskId::parse(stem).ok());
    match read_content(path, file, task.as_ref())? {
        LockContent::Claim(claim) => Ok(*claim),
        LockContent::Corrupt { reason } => Err(ClaimError::Corrupt {
            path: path.to_path_buf(),
            reason,
        }),
    }
}

fn check_token(
    task: &TaskId,
    path: &Path,
    token: &ClaimToken,
    current: &Claim,
) -> Result<(), ClaimError> {
    if current.token == *token {
        Ok(())
    } else {
        Err(ClaimError::WrongToken {
            task: task.clone(),
            path: path.to_path_buf(),
            given: token.clone(),
            current: Box::new(current.clone()),
        })
    }
}

/// Reads an open lock file and probes its OS lock without waiting.
fn inspect(
    path: &Path,
    file: &File,
    task: Option<&TaskId>,
    now: Timestamp,
) -> Result<ClaimEntry, ClaimError> {
    let lock = read_content(path, file, task)?;
    let holder_alive = match file.try_lock() {
        Ok(()) => {
            // Only a probe: let go at once so it never looks like a holder.
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(source)) => {
            return Err(ClaimError::Io {
                action: "probe the lock on",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(entry_from(path, task, lock, holder_alive, now))
}

fn entry_from(
    path: &Path,
    task: Option<&TaskId>,
    lock: LockContent,
    holder_alive: bool,
    now: Timestamp,
) -> ClaimEntry {
    let lease_expired = match &lock {
        LockContent::Claim(claim) => claim.info.lease_expired(now),
        LockContent::Corrupt { .. } => false,
    };
    ClaimEntry {
        path: path.to_path_buf(),
        task: task.cloned(),
        stale: lease_expired && !holder_alive,
        lock,
        holder_alive,
        lease_expired,
    }
}

/// 128 random bits as hex: from the kernel, or (if `/dev/urandom` is unreadable) from std's
/// randomly keyed hasher mixed with the pid and a counter, which is still unique per process.
fn random_hex_128() -> String {
    let mut bytes = [0u8; 16];
    let from_kernel = File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut bytes))
        .is_ok();
    if !from_kernel {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        for half in 0..2u64 {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(count);
            hasher.write_u32(std::process::id());
            hasher.write_u64(half);
            let start = (half as usize) * 8;
            bytes[start..start + 8].copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Barrier, Mutex};

    use super::*;

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
            pid: 4242,
            attempt: 1,
            branch: format!("longrun/{id}"),
            worktree: format!("/work/wt/{id}"),
            now,
            lease: LEASE,
            token: None,
        }
    }

    fn store() -> (tempfile::TempDir, ClaimStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ClaimStore::new(dir.path().join(CLAIMS_DIR_NAME));
        (dir, store)
    }

    fn claimed(outcome: ClaimOutcome) -> HeldClaim {
        match outcome {
            ClaimOutcome::Claimed(held) => held,
            ClaimOutcome::Taken(entry) => panic!("expected a claim, got taken: {entry:?}"),
        }
    }

    fn taken(outcome: ClaimOutcome) -> ClaimEntry {
        match outcome {
            ClaimOutcome::Taken(entry) => entry,
            ClaimOutcome::Claimed(held) => panic!("expected taken, got claim {:?}", held.claim()),
        }
    }

    /// Names in the store directory other than the mutex: temp files must never linger.
    fn files(store: &ClaimStore) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(store.dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != MUTEX_FILE_NAME)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn tokens_are_validated_and_unique() {
        assert!(ClaimToken::parse("0123456789abcdef").is_ok());
        assert!(ClaimToken::parse(&"a".repeat(64)).is_ok());
        for bad in [
            "",
            "abc",
            "0123456789ABCDEF",
            "0123456789abcdeg",
            &"a".repeat(65),
        ] {
            assert!(ClaimToken::parse(bad).is_err(), "{bad:?}");
        }
        let tokens: std::collections::HashSet<_> =
            (0..1000).map(|_| ClaimToken::generate()).collect();
        assert_eq!(tokens.len(), 1000);
        assert!(tokens.iter().all(|token| token.as_str().len() == 32));
    }

    #[test]
    fn lock_file_text_is_the_documented_yaml() {
        let claim = Claim {
            info: request("T3", "codex", t0()).info().unwrap(),
            token: ClaimToken::parse("00112233445566778899aabbccddeeff").unwrap(),
        };
        let text = claim.to_yaml();
        assert_eq!(
            text,
            "# longrun claim on task T3; managed by longrun, do not edit\n\
             task: \"T3\"\n\
             worker: \"codex\"\n\
             host: \"host-a\"\n\
             pid: 4242\n\
             claimed_at: \"2026-11-21T09:00:00Z\"\n\
             heartbeat_at: \"2026-11-21T09:00:00Z\"\n\
             lease_expires_at: \"2026-11-21T09:10:00Z\"\n\
             attempt: 1\n\
             token: \"00112233445566778899aabbccddeeff\"\n\
             branch: \"longrun/T3\"\n\
             worktree: \"/work/wt/T3\"\n"
        );
        assert_eq!(Claim::from_yaml(&text).unwrap(), claim);
        // Without a token it is a claim commit message, not a lock file.
        let message = claim.info.to_yaml(None, Some(&claim.token));
        assert!(Claim::from_yaml(&message).unwrap_err().contains("token"));
        assert_eq!(ClaimInfo::from_yaml(&message).unwrap(), (claim.info, None));
    }

    #[test]
    fn timestamps_are_cut_to_whole_seconds() {
        let now: Timestamp = "2026-11-21T09:00:00.999Z".parse().unwrap();
        let info = request("T1", "w", now).info().unwrap();
        assert_eq!(info.claimed_at, t0());
        assert_eq!(info.lease_expires_at, later(600));
    }

    proptest::proptest! {
        #[test]
        fn any_text_fields_round_trip(
            worker in proptest::prelude::any::<String>(),
            host in proptest::prelude::any::<String>(),
            branch in proptest::prelude::any::<String>(),
            worktree in "\\PC*",
        ) {
            let mut info = request("T1", "w", t0()).info().unwrap();
            info.worker = worker;
            info.host = host;
            info.branch = branch;
            info.worktree = worktree;
            let claim = Claim { info, token: ClaimToken::generate() };
            let text = claim.to_yaml();
            // The reader of longrun's own layout takes every file longrun writes, and reads
            // it as the YAML parser does.
            let own = RawClaim::from_own_yaml(&text);
            proptest::prop_assert!(own.is_some(), "declined: {}", text);
            let yaml: RawClaim = serde_saphyr::from_str(&text).unwrap();
            proptest::prop_assert_eq!(own, Some(yaml));
            proptest::prop_assert_eq!(Claim::from_yaml(&text), Ok(claim.clone()));
            let nonce = ClaimToken::generate();
            let mirrored = claim.info.to_yaml(Some(&claim.token), Some(&nonce));
            let yaml: RawClaim = serde_saphyr::from_str(&mirrored).unwrap();
            proptest::prop_assert_eq!(RawClaim::from_own_yaml(&mirrored), Some(yaml));
        }
    }

    #[test]
    fn the_own_layout_reader_declines_what_longrun_does_not_write() {
        let claim = Claim {
            info: request("T1", "w", t0()).info().unwrap(),
            token: ClaimToken::generate(),
        };
        let text = claim.to_yaml();
        assert!(RawClaim::from_own_yaml(&text).is_some());
        let variants = [
            text.replace("worker: \"w\"", "worker: w"),
            text.replace("worker: \"w\"", "worker: 'w'"),
            text.replace("worker: \"w\"", "worker: \"\\x41\""),
            text.replace("worker: \"w\"", "worker:  \"w\""),
            text.replace("worker: \"w\"", "worker: \"w\" # a comment"),
            text.replace("worker: \"w\"", "worker: \"w\"\nworker: \"v\""),
            text.replace("worker: \"w\"", "worker: \"w\"\nextra: \"x\""),
            text.replace("worker: \"w\"\n", ""),
            text.replace("attempt: 1", "attempt: 01"),
            text.replace("attempt: 1", "attempt: +1"),
            text.replace("attempt: 1", "attempt: \"1\""),
            text.replace('\n', "\r\n"),
            text.trim_end().to_string(),
            "{task: T1, worker: w}\n".to_string(),
        ];
        for variant in &variants {
            assert_eq!(RawClaim::from_own_yaml(variant), None, "{variant}");
            // What it means is then the YAML parser's answer, as before.
            let yaml: Result<RawClaim, _> = serde_saphyr::from_str(variant);
            if let Ok((info, _)) = ClaimInfo::from_yaml(variant) {
                assert_eq!(info.worker, yaml.unwrap().worker, "{variant}");
            }
        }
        // Comment lines anywhere and keys in another order are still its layout.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.reverse();
        let reordered = format!("{}\n# note\n", lines.join("\n"));
        let yaml: RawClaim = serde_saphyr::from_str(&reordered).unwrap();
        assert_eq!(RawClaim::from_own_yaml(&reordered), Some(yaml));
    }

    #[test]
    fn claim_creates_the_lock_file_and_a_second_claim_sees_the_holder() {
        let (_dir, store) = store();
        let held = claimed(store.claim(&request("T1", "alice", t0())).unwrap());
        assert_eq!(held.path(), store.dir().join("T1.lock"));
        let on_disk = Claim::from_yaml(&fs::read_to_string(held.path()).unwrap()).unwrap();
        assert_eq!(&on_disk, held.claim());
        assert_eq!(files(&store), ["T1.lock"]);

        let entry = taken(store.claim(&request("T1", "bob", later(1))).unwrap());
        assert_eq!(entry.claim().unwrap().token, *held.token());
        assert_eq!(entry.claim().unwrap().info.worker, "alice");
        assert!(entry.holder_alive);
        assert!(!entry.stale);
        assert_eq!(files(&store), ["T1.lock"], "the loser left a temp file");
    }

    #[test]
    fn a_given_token_is_used() {
        let (_dir, store) = store();
        let token = ClaimToken::parse(&"c".repeat(40)).unwrap();
        let mut req = request("T1", "w", t0());
        req.token = Some(token.clone());
        let held = claimed(store.claim(&req).unwrap());
        assert_eq!(*held.token(), token);
    }

    #[test]
    fn renew_and_release_are_fenced_by_the_token() {
        let (_dir, store) = store();
        let t1 = task("T1");
        let mut held = claimed(store.claim(&request("T1", "alice", t0())).unwrap());
        let wrong = ClaimToken::generate();

        let error = store.renew(&t1, &wrong, later(60), LEASE).unwrap_err();
        assert!(matches!(error, ClaimError::WrongToken { .. }), "{error}");
        assert!(error.is_refusal());
        assert!(error.to_string().contains("T1.lock"), "{error}");
        let error = store.release(&t1, &wrong).unwrap_err();
        assert!(matches!(error, ClaimError::WrongToken { .. }), "{error}");

        assert_eq!(store.verify(&t1, held.token()).unwrap(), *held.claim());
        assert!(matches!(
            store.verify(&t1, &wrong).unwrap_err(),
            ClaimError::WrongToken { .. }
        ));
        let renewed = held.renew(&store, later(300), LEASE).unwrap().clone();
        assert_eq!(renewed.info.heartbeat_at, later(300));
        assert_eq!(renewed.info.lease_expires_at, later(900));
        assert_eq!(renewed.info.claimed_at, t0());
        let entry = store.entry(&t1, later(700)).unwrap().unwrap();
        assert_eq!(entry.claim(), Some(&renewed));
        assert!(!entry.lease_expired, "renewal did not move the lease");
        // Renewal rewrites in place: the holder's OS lock still covers the visible file.
        assert!(entry.holder_alive);

        let released = store.release(&t1, held.token()).unwrap();
        assert_eq!(released, renewed);
        assert!(files(&store).is_empty());
        assert!(matches!(
            store.release(&t1, held.token()).unwrap_err(),
            ClaimError::NotClaimed { .. }
        ));
        assert!(matches!(
            store
                .renew(&t1, held.token(), later(301), LEASE)
                .unwrap_err(),
            ClaimError::NotClaimed { .. }
        ));
        drop(held);
        // Released: anyone may claim again.
        claimed(store.claim(&request("T1", "bob", later(302))).unwrap());
    }

    #[test]
    fn dropping_a_held_claim_keeps_the_file_but_frees_the_os_lock() {
        let (_dir, store) = store();
        let t1 = task("T1");
        let held = claimed(store.claim(&request("T1", "alice", t0())).unwrap());
        let token = held.token().clone();
        let entry = store.entry(&t1, later(601)).unwrap().unwrap();
        assert!(entry.holder_alive && entry.lease_expired && !entry.stale);

        drop(held);
        let entry = store.entry(&t1, later(599)).unwrap().unwrap();
        assert!(!entry.holder_alive);
        assert!(!entry.stale, "a claim within its lease is never stale");
        let entry = store.entry(&t1, later(600)).unwrap().unwrap();
        assert!(entry.stale);
        assert_eq!(entry.claim().unwrap().token, token);
        // Still claimed: a plain claim does not replace it, stale or not.
        assert!(taken(store.claim(&request("T1", "bob", later(700))).unwrap()).stale);
    }

    #[test]
    fn a_live_holder_with_an_expired_lease_is_not_taken_over() {
        let (_dir, store) = store();
        let held = claimed(store.claim(&request("T1", "alice", t0())).unwrap());
        let outcome = store
            .take_over_stale(&request("T1", "bob", later(3600)), held.token())
            .unwrap();
        match outcome {
            TakeoverOutcome::Taken(entry) => {
                assert!(entry.holder_alive && entry.lease_expired && !entry.stale);
                assert_eq!(entry.claim().unwrap().token, *held.token());
            }
            other => panic!("expected taken, got {other:?}"),
        }
        assert_eq!(files(&store), ["T1.lock"]);
    }

    #[test]
    fn an_unexpired_lease_is_not_taken_over_even_without_a_holder() {
        let (_dir, store) = store();
        let held = claimed(store.claim(&request("T1", "alice", t0())).unwrap());
        let token = held.token().clone();
        drop(held);
        let outcome = store
            .take_over_stale(&request("T1", "bob", later(10)), &token)
            .unwrap();
        assert!(matches!(outcome, TakeoverOutcome::Taken(entry) if !entry.stale));
    }

    #[test]
    fn takeover_needs_the_token_that_was_seen_stale() {
        let (_dir, store) = store();
        let held = claimed(store.claim(&request("T1", "alice", t0())).unwrap());
        drop(held);
        let outcome = store
            .take_over_stale(&request("T1", "bob", later(3600)), &ClaimToken::generate())
            .unwrap();
        assert!(matches!(outcome, TakeoverOutcome::Taken(entry) if entry.stale));
    }

    #[test]
    fn takeover_of_a_released_claim_is_an_ordinary_claim() {
        let (_dir, store) = store();
        let outcome = store
            .take_over_stale(&request("T1", "bob", t0()), &ClaimToken::generate())
            .unwrap();
        assert!(matches!(outcome, TakeoverOutcome::Claimed(_)));
        assert_eq!(files(&store), ["T1.lock"]);
    }

    #[test]
    fn a_corrupt_lock_file_is_listed_held_and_only_cleared_by_force() {
        let (_dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        let path = store.dir().join("T1.lock");
        fs::write(&path, "task: [unterminated\n").unwrap();
        let t1 = task("T1");

        let entries = store.list(later(1_000_000)).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, path);
        assert!(entries[0].is_corrupt());
        assert!(!entries[0].stale && !entries[0].holder_alive);

        let entry = taken(
            store
                .claim(&request("T1", "bob", later(1_000_000)))
                .unwrap(),
        );
        assert!(entry.is_corrupt());
        let outcome = store
            .take_over_stale(
                &request("T1", "bob", later(1_000_000)),
                &ClaimToken::generate(),
            )
            .unwrap();
        assert!(matches!(outcome, TakeoverOutcome::Taken(entry) if entry.is_corrupt()));
        let error = store.release(&t1, &ClaimToken::generate()).unwrap_err();
        assert!(matches!(error, ClaimError::Corrupt { .. }));
        assert!(
            error.to_string().contains(&*path.to_string_lossy()),
            "{error}"
        );
        assert!(store.adopt(&t1, &ClaimToken::generate()).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "task: [unterminated\n");

        let removed = store.force_remove(&t1).unwrap().unwrap();
        assert!(matches!(removed, LockContent::Corrupt { .. }));
        assert!(!path.exists());
        assert!(store.force_remove(&t1).unwrap().is_none());
    }

    #[test]
    fn corrupt_shapes_are_all_reported() {
        let (_dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        let valid_other_task = Claim {
            info: request("T9", "w", t0()).info().unwrap(),
            token: ClaimToken::generate(),
        }
        .to_yaml();
        let cases: [(&str, &[u8]); 5] = [
            ("A.lock", b""),
            ("B.lock", b"\xff\xfe"),
            ("C.lock", valid_other_task.as_bytes()),
            ("D.lock", b"task: \"D\"\n"),
            ("not a task.lock", valid_other_task.as_bytes()),
        ];
        for (name, bytes) in cases {
            fs::write(store.dir().join(name), bytes).unwrap();
        }
        let entries = store.list(t0()).unwrap();
        assert_eq!(entries.len(), 5);
        for entry in &entries {
            assert!(entry.is_corrupt(), "{entry:?}");
            assert!(!entry.stale);
        }
        assert!(entries.iter().any(|entry| entry.task.is_none()));
    }

    #[test]
    fn adopt_takes_the_os_lock_once_the_claimant_lets_go() {
        let (_dir, store) = store();
        let t1 = task("T1");
        let held = claimed(store.claim(&request("T1", "alice", t0())).unwrap());
        let token = held.token().clone();
        assert!(matches!(
            store.adopt(&t1, &token).unwrap_err(),
            ClaimError::HeldElsewhere { .. }
        ));
        drop(held);
        assert!(matches!(
            store.adopt(&t1, &ClaimToken::generate()).unwrap_err(),
            ClaimError::WrongToken { .. }
        ));
        let adopted = store.adopt(&t1, &token).unwrap();
        assert!(store.entry(&t1, later(9999)).unwrap().unwrap().holder_alive);
        drop(adopted);
        assert!(store.entry(&t1, later(9999)).unwrap().unwrap().stale);
    }

    #[test]
    fn exactly_one_of_16_reclaimers_takes_over_and_the_dead_token_is_refused() {
        let (_dir, store) = store();
        let t1 = task("T1");
        for round in 0..5 {
            let now = later(round * 10_000);
            let dead = claimed(store.claim(&request("T1", "dead", now)).unwrap());
            let dead_token = dead.token().clone();
            drop(dead);
            let takeover_time = later(round * 10_000 + 601);
            assert!(store.entry(&t1, takeover_time).unwrap().unwrap().stale);

            let barrier = Arc::new(Barrier::new(16));
            let threads: Vec<_> = (0..16)
                .map(|index| {
                    let store = store.clone();
                    let barrier = Arc::clone(&barrier);
                    let dead_token = dead_token.clone();
                    std::thread::spawn(move || {
                        let req = request("T1", &format!("reclaimer-{index}"), takeover_time);
                        barrier.wait();
                        store.take_over_stale(&req, &dead_token).unwrap()
                    })
                })
                .collect();
            let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let winners: Vec<&HeldClaim> = outcomes
                .iter()
                .filter_map(|outcome| match outcome {
                    TakeoverOutcome::TookOver { held, previous } => {
                        assert_eq!(previous.token, dead_token);
                        Some(held)
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
            let winner = winners[0].token().clone();
            for outcome in &outcomes {
                if let TakeoverOutcome::Taken(entry) = outcome {
                    // Every loser sees the new holder, alive.
                    assert_eq!(entry.claim().unwrap().token, winner);
                    assert!(entry.holder_alive);
                } else {
                    assert!(matches!(outcome, TakeoverOutcome::TookOver { .. }));
                }
            }
            // The dead holder comes back: fenced out.
            assert!(matches!(
                store
                    .renew(&t1, &dead_token, takeover_time, LEASE)
                    .unwrap_err(),
                ClaimError::WrongToken { .. }
            ));
            assert!(matches!(
                store.release(&t1, &dead_token).unwrap_err(),
                ClaimError::WrongToken { .. }
            ));
            store.release(&t1, &winner).unwrap();
            drop(outcomes);
            assert!(files(&store).is_empty(), "{:?}", files(&store));
        }
    }

    #[test]
    fn racing_claimants_have_exactly_one_winner_per_round() {
        const THREADS: usize = 32;
        const ROUNDS: usize = 100;
        let (_dir, store) = store();
        let barrier = Arc::new(Barrier::new(THREADS));
        let wins = Arc::new(Mutex::new(vec![Vec::new(); ROUNDS]));
        let threads: Vec<_> = (0..THREADS)
            .map(|index| {
                let store = store.clone();
                let barrier = Arc::clone(&barrier);
                let wins = Arc::clone(&wins);
                std::thread::spawn(move || {
                    for round in 0..ROUNDS {
                        let id = format!("R{round}");
                        barrier.wait();
                        let outcome = store
                            .claim(&request(&id, &format!("w{index}"), t0()))
                            .unwrap();
                        let held = match outcome {
                            ClaimOutcome::Claimed(held) => {
                                wins.lock().unwrap()[round].push(index);
                                Some(held)
                            }
                            ClaimOutcome::Taken(entry) => {
                                assert!(!entry.is_corrupt(), "{entry:?}");
                                None
                            }
                        };
                        // Everyone has tried before the winner releases.
                        barrier.wait();
                        if let Some(held) = held {
                            store.release(held.task(), held.token()).unwrap();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        for (round, winners) in wins.lock().unwrap().iter().enumerate() {
            assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        }
        assert!(files(&store).is_empty(), "{:?}", files(&store));
    }

    #[test]
    fn sixteen_workers_drain_500_tasks_each_claimed_exactly_once() {
        const THREADS: usize = 16;
        const TASKS: usize = 500;
        let (_dir, store) = store();
        let barrier = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|index| {
                let store = store.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut won = Vec::new();
                    // Different starting points so the workers collide all along the list.
                    for step in 0..TASKS {
                        let id = format!("T{}", (step + index * 7) % TASKS);
                        if let ClaimOutcome::Claimed(held) =
                            store.claim(&request(&id, "w", t0())).unwrap()
                        {
                            won.push(held);
                        }
                    }
                    won
                })
            })
            .collect();
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut held_all = Vec::new();
        for thread in threads {
            for held in thread.join().unwrap() {
                *counts.entry(held.task().to_string()).or_default() += 1;
                held_all.push(held);
            }
        }
        assert_eq!(counts.len(), TASKS);
        assert!(counts.values().all(|&count| count == 1), "{counts:?}");
        let entries = store.list(t0()).unwrap();
        assert_eq!(entries.len(), TASKS);
        assert!(entries.iter().all(|entry| entry.holder_alive));
        assert_eq!(files(&store).len(), TASKS, "temp files left behind");
    }

    #[test]
    fn a_missing_store_lists_as_empty() {
        let (_dir, store) = store();
        assert!(store.list(t0()).unwrap().is_empty());
        assert!(store.entry(&task("T1"), t0()).unwrap().is_none());
        assert!(matches!(
            store
                .verify(&task("T1"), &ClaimToken::generate())
                .unwrap_err(),
            ClaimError::NotClaimed { .. }
        ));
        assert!(!store.dir().exists(), "reading created the store directory");
    }
}
