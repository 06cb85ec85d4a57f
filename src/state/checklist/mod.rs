//! `checklist.yaml`: the typed model, loading (with a derived snapshot), validation, and the
//! in-place editor.
//!
//! The file is the only source of truth. The snapshot under `.longrun/cache/` is a cache
//! keyed by a hash of the file's bytes, used only when the hash matches: it holds the model
//! and an [`Overview`] (what the read-only commands need), and after an edit it is derived
//! from the previous model rather than from a full parse. Nothing here prints, spawns a
//! process or reads the environment; the only threads are scoped helpers that prepare a
//! snapshot while the file is written.

mod append;
mod derive;
mod edit;
mod overview;
mod parse;
mod readback;
mod snapshot;
pub mod validate;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use append::{NewTask, append_tasks, append_tasks_parsed};
pub use edit::{EditError, FieldValue, SummaryField, TaskEdit, TaskField, render_edits};
pub use overview::{Overview, TaskBrief};
pub use parse::SyntaxError;
pub use validate::{Problem, ProblemKind, ValidateOptions};

use crate::fsutil::{self, FsError, MAX_STATE_FILE_BYTES};
use crate::state::model::{Approval, Risk, TaskId, TaskStatus};

/// A parsed checklist plus where its parts are in the text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checklist {
    pub version: Option<u32>,
    pub summary: Summary,
    pub instructions: Option<String>,
    pub guidelines: Vec<String>,
    pub tasks: Vec<Task>,
    /// Top-level keys longrun does not know. Kept in the file, reported as warnings.
    pub unknown_keys: Vec<UnknownKey>,
    pub(crate) summary_key: Option<Position>,
    pub(crate) tasks_key: Option<Position>,
}

/// The `summary` block that longrun maintains after each cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub last_updated: String,
    pub active_task_id: String,
    pub status: String,
    pub blockers: Vec<String>,
    pub next_actions: Vec<String>,
    pub verification_loop: VerificationLoop,
    pub unknown_keys: Vec<UnknownKey>,
    pub(crate) fields: Vec<FieldSpan>,
    pub(crate) value_pos: Option<Position>,
}

/// The checklist-wide validators: `fast` for every task, `full` at milestones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerificationLoop {
    pub fast: Vec<Validator>,
    pub full: Vec<Validator>,
}

/// One task. Text fields keep what the file says; statuses may be unknown words, which
/// `check` reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub title: String,
    pub description: String,
    pub acceptance_criteria: Vec<String>,
    pub implementation_notes: String,
    pub note: String,
    pub status: StatusValue,
    pub depends_on: Vec<String>,
    /// `None` when the task has no `validators` key; `Some(vec![])` when it is empty.
    pub validators: Option<Vec<Validator>>,
    pub risk: Option<Risk>,
    pub approval: Option<Approval>,
    pub agent: Option<String>,
    pub max_attempts: Option<u32>,
    pub paths: Vec<String>,
    pub milestone: Option<String>,
    pub timeout: Option<String>,
    pub attempts: u32,
    /// Where the task came from (`prd.md:12`), written by `plan` and `import`.
    pub source: Option<String>,
    /// A stable key of the task's origin, so planning or importing again finds it.
    pub source_id: Option<String>,
    pub unknown_keys: Vec<UnknownKey>,
    /// Where the task's mapping starts (the first key, or `{` of a flow mapping).
    pub(crate) pos: Position,
    pub(crate) fields: Vec<FieldSpan>,
}

/// A task's status as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusValue {
    /// No `status` key: the task has not started.
    #[default]
    Missing,
    Known(TaskStatus),
    /// A word that is not a status; `check` reports it and nothing acts on the task.
    Unknown(String),
}

impl StatusValue {
    /// The status to act on: a missing status is `not_started`; an unknown word is none.
    pub fn effective(&self) -> Option<TaskStatus> {
        match self {
            StatusValue::Missing => Some(TaskStatus::NotStarted),
            StatusValue::Known(status) => Some(*status),
            StatusValue::Unknown(_) => None,
        }
    }

    /// The word to show a person.
    pub fn display(&self) -> &str {
        match self {
            StatusValue::Missing => TaskStatus::NotStarted.as_str(),
            StatusValue::Known(status) => status.as_str(),
            StatusValue::Unknown(text) => text,
        }
    }
}

/// A validator command. Never run through a shell unless written as `{shell: "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validator {
    Argv(Vec<String>),
    Shell(String),
}

impl Validator {
    /// How the command reads in messages and logs.
    pub fn display(&self) -> String {
        match self {
            Validator::Argv(argv) => argv
                .iter()
                .map(|arg| {
                    if !arg.is_empty()
                        && arg
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
                    {
                        arg.clone()
                    } else {
                        format!("'{}'", arg.replace('\'', "'\\''"))
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            Validator::Shell(script) => format!("sh -c '{}'", script.replace('\'', "'\\''")),
        }
    }
}

/// A key longrun does not know, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownKey {
    pub task_index: Option<usize>,
    pub key: String,
    pub line: usize,
    pub column: usize,
}

/// A place in the text: byte offset and length, one-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
}

/// Where a key and its value are in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpan {
    /// The key; the keys longrun knows are shared rather than allocated for every task,
    /// which a large checklist's snapshot loads tens of thousands of times.
    #[serde(deserialize_with = "parse::deserialize_key")]
    pub key: Cow<'static, str>,
    pub key_pos: Position,
    pub value_pos: Position,
}

/// Errors loading or writing the checklist. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ChecklistError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("{path}:{line}:{column}: {message}", path = path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot change `{path}`", path = path.display())]
    Edit {
        path: PathBuf,
        #[source]
        source: EditError,
    },
    #[error(
        "`{path}` kept changing while longrun tried to write it ({attempts} attempts); nothing was written",
        path = path.display()
    )]
    Contended { path: PathBuf, attempts: usize },
}

impl Task {
    /// The task id if it is valid.
    pub fn id(&self) -> Option<TaskId> {
        TaskId::parse(&self.task_id).ok()
    }

    /// The 1-based line where the task starts.
    pub fn line(&self) -> usize {
        self.pos.line
    }

    /// The validators this task brings itself (not the checklist's verification loop).
    pub fn own_validators(&self) -> &[Validator] {
        self.validators.as_deref().unwrap_or(&[])
    }
}

impl Checklist {
    /// Parses checklist text; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Checklist, ChecklistError> {
        let mut checklist = parse::parse(text).map_err(|error| ChecklistError::Syntax {
            path: path.to_path_buf(),
            line: error.line,
            column: error.column,
            message: error.message,
        })?;
        for (index, task) in checklist.tasks.iter_mut().enumerate() {
            for unknown in &mut task.unknown_keys {
                unknown.task_index = Some(index);
            }
        }
        Ok(checklist)
    }

    /// Finds a task by id (the first one, if ids are duplicated).
    pub fn task(&self, task_id: &str) -> Option<&Task> {
        self.tasks.iter().find(|task| task.task_id == task_id)
    }

    /// Index of a task by id.
    pub fn task_index(&self, task_id: &str) -> Option<usize> {
        self.tasks.iter().position(|task| task.task_id == task_id)
    }

    /// Every unknown key, top level, summary and tasks, in file order.
    pub fn all_unknown_keys(&self) -> Vec<&UnknownKey> {
        let mut keys: Vec<&UnknownKey> = self
            .unknown_keys
            .iter()
            .chain(&self.summary.unknown_keys)
            .chain(self.tasks.iter().flat_map(|task| &task.unknown_keys))
            .collect();
        keys.sort_by_key(|key| (key.line, key.column));
        keys
    }

    /// Tasks ready to start, in file order: `not_started`, every dependency `complete` or
    /// `archived`, and not in `excluded` (claimed elsewhere).
    pub fn ready_tasks<'a>(&'a self, excluded: &dyn Fn(&str) -> bool) -> Vec<&'a Task> {
        self.ready_tasks_held(excluded, &|task| task.approval == Some(Approval::Before))
    }

    /// [`Checklist::ready_tasks`] as indices into `tasks`.
    pub fn ready_task_indices(&self, excluded: &dyn Fn(&str) -> bool) -> Vec<usize> {
        self.ready_task_indices_held(excluded, &|task| task.approval == Some(Approval::Before))
    }

    /// Like [`Checklist::ready_tasks`], with the caller deciding which tasks are held for a
    /// person (the cycle checks approvals itself, from policy and approval records).
    pub fn ready_tasks_held<'a>(
        &'a self,
        excluded: &dyn Fn(&str) -> bool,
        held: &dyn Fn(&Task) -> bool,
    ) -> Vec<&'a Task> {
        self.ready_task_indices_held(excluded, held)
            .into_iter()
            .map(|index| &self.tasks[index])
            .collect()
    }

    /// [`Checklist::ready_tasks_held`] as indices into `tasks`.
    pub fn ready_task_indices_held(
        &self,
        excluded: &dyn Fn(&str) -> bool,
        held: &dyn Fn(&Task) -> bool,
    ) -> Vec<usize> {
        let statuses: HashMap<&str, Option<TaskStatus>> = self
            .tasks
            .iter()
            .map(|task| (task.task_id.as_str(), task.status.effective()))
            .collect();
        self.tasks
            .iter()
            .enumerate()
            .filter(|(_, task)| task.status.effective() == Some(TaskStatus::NotStarted))
            .filter(|(_, task)| !held(task))
            .filter(|(_, task)| {
                task.depends_on.iter().all(|dependency| {
                    statuses
                        .get(dependency.as_str())
                        .copied()
                        .flatten()
                        .is_some_and(TaskStatus::satisfies_dependency)
                })
            })
            .filter(|(_, task)| !excluded(&task.task_id))
            .map(|(index, _)| index)
            .collect()
    }
}

/// A loaded checklist with the exact bytes it came from.
#[derive(Debug, Clone)]
pub struct LoadedChecklist {
    pub path: PathBuf,
    pub text: String,
    pub hash: u128,
    pub checklist: Checklist,
    /// True when the model came from the snapshot rather than a fresh parse.
    pub from_snapshot: bool,
}

/// Where the derived snapshot lives; `None` disables it.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub snapshot_path: Option<PathBuf>,
}

impl LoadOptions {
    /// The snapshot to use for a checklist of `len` bytes: none when disabled or when the
    /// file is too small to be worth one ([`snapshot::worth_keeping`]).
    fn snapshot_for(&self, len: usize) -> Option<&PathBuf> {
        self.snapshot_path
            .as_ref()
            .filter(|_| snapshot::worth_keeping(len))
    }
}

/// The overview of a checklist, with the hash of the bytes it describes.
#[derive(Debug, Clone)]
pub struct LoadedOverview {
    pub path: PathBuf,
    pub hash: u128,
    pub overview: Overview,
    /// True when the overview came from the snapshot rather than a fresh parse.
    pub from_snapshot: bool,
}

/// Reads and parses `path`, using the snapshot when its hash matches the file's bytes.
pub fn load(path: &Path, options: &LoadOptions) -> Result<LoadedChecklist, ChecklistError> {
    let text = fsutil::read_text(path, MAX_STATE_FILE_BYTES)?;
    from_text(path, text, options).map(|(loaded, _)| loaded)
}

/// The overview of `path`: from the snapshot when its hash matches the file's bytes, which
/// then are only hashed, never held or decoded; otherwise from a full load (which writes
/// the snapshot).
pub fn load_overview(path: &Path, options: &LoadOptions) -> Result<LoadedOverview, ChecklistError> {
    // A small file is parsed: cheaper than hashing it and reading the snapshot. A file that
    // cannot be looked at is left to the read below, which names the error.
    let small = std::fs::metadata(path).is_ok_and(|meta| meta.len() < snapshot::MIN_BYTES);
    if let Some(snapshot_path) = options.snapshot_path.as_ref().filter(|_| !small) {
        let hash = snapshot::hash_file(path, MAX_STATE_FILE_BYTES)?;
        if let Some(overview) = snapshot::read_overview(snapshot_path, hash) {
            return Ok(LoadedOverview {
                path: path.to_path_buf(),
                hash,
                overview,
                from_snapshot: true,
            });
        }
    }
    let text = fsutil::read_text(path, MAX_STATE_FILE_BYTES)?;
    let (loaded, overview) = from_text(path, text, options)?;
    Ok(LoadedOverview {
        overview: overview.unwrap_or_else(|| Overview::of(&loaded.checklist)),
        path: loaded.path,
        hash: loaded.hash,
        from_snapshot: false,
    })
}

/// The checklist of `text`, and its overview when one was derived on the way (to write
/// the snapshot).
fn from_text(
    path: &Path,
    mut text: String,
    options: &LoadOptions,
) -> Result<(LoadedChecklist, Option<Overview>), ChecklistError> {
    // A writer puts the new snapshot in place right before the new file, so a reader that
    // read the file a moment before finds a snapshot of newer bytes. Before paying for a
    // parse, the file is read again (twice at most): usually it is by then the newer one,
    // whose snapshot is there. The answer is the file as it was at some moment during the
    // load, as always.
    let mut rereads = 2;
    let hash = loop {
        let hash = snapshot::hash_bytes(text.as_bytes());
        let Some(snapshot_path) = options.snapshot_for(text.len()) else {
            break hash;
        };
        if let Some(checklist) = snapshot::read(snapshot_path, hash) {
            let loaded = LoadedChecklist {
                path: path.to_path_buf(),
                text,
                hash,
                checklist,
                from_snapshot: true,
            };
            return Ok((loaded, None));
        }
        if rereads == 0 {
            break hash;
        }
        rereads -= 1;
        let again = fsutil::read_text(path, MAX_STATE_FILE_BYTES)?;
        if again == text {
            break hash;
        }
        text = again;
    };
    let checklist = Checklist::parse(path, &text)?;
    let mut overview = None;
    if let Some(snapshot_path) = options.snapshot_for(text.len())
        && let Ok((bytes, derived)) = snapshot::encode(hash, &checklist, text.len())
    {
        // The snapshot is a cache: failing to write it only costs speed next time. Stored
        // only while the file still holds these bytes: a writer may have replaced both
        // during the parse, and its snapshot of the new text must not be clobbered with
        // one of the old (every reader after would parse again).
        if snapshot::hash_file(path, MAX_STATE_FILE_BYTES).is_ok_and(|now| now == hash) {
            let _ = snapshot::store(snapshot_path, &bytes);
        }
        overview = Some(derived);
    }
    let loaded = LoadedChecklist {
        path: path.to_path_buf(),
        text,
        hash,
        checklist,
        from_snapshot: false,
    };
    Ok((loaded, overview))
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The file was rewritten with the edits.
    Written,
    /// Every edit was already in place; the file was not touched.
    Unchanged,
}

/// Applies edits to the checklist in place and writes it atomically.
///
/// `make_edits` sees the current checklist and returns the edits to make. When the file
/// changed since it was read (a person saved it meanwhile), the edits are made again on the
/// new content; the file is never written from a stale copy. `lock_path` is an exclusive
/// lock that serialises longrun's own writers. The snapshot (when `options` has one) is
/// refreshed for the new text, so the next reader stays warm.
pub fn update<F>(
    path: &Path,
    lock_path: &Path,
    options: &LoadOptions,
    make_edits: F,
) -> Result<UpdateOutcome, ChecklistError>
where
    F: FnMut(&Checklist) -> Result<Vec<TaskEdit>, ChecklistError>,
{
    // The directory sync (and the freeing of the replaced file) ends after the lock is let
    // go: the next writer need not wait for it. This returns once it is done, so the write
    // is durable all the same.
    let background = fsutil::BackgroundIo::new();
    update_deferred(path, lock_path, options, &background, make_edits)
}

/// [`update`], with the end of the write left to `background`: the contents are synced
/// before the rename; the rename is durable once the caller has waited for `background`.
pub fn update_deferred<F>(
    path: &Path,
    lock_path: &Path,
    options: &LoadOptions,
    background: &fsutil::BackgroundIo,
    mut make_edits: F,
) -> Result<UpdateOutcome, ChecklistError>
where
    F: FnMut(&Checklist) -> Result<Vec<TaskEdit>, ChecklistError>,
{
    const ATTEMPTS: usize = 5;
    let _lock = crate::fsutil::lock_exclusive(lock_path)?;
    for _ in 0..ATTEMPTS {
        let loaded = load(path, options)?;
        let edits = make_edits(&loaded.checklist)?;
        let rendered = edit::render(&loaded.text, &loaded.checklist, &edits).map_err(|source| {
            ChecklistError::Edit {
                path: path.to_path_buf(),
                source,
            }
        })?;
        if rendered.text == loaded.text {
            return Ok(UpdateOutcome::Unchanged);
        }
        // Re-read just before the rename: a person may have saved in between.
        if snapshot::hash_file(path, MAX_STATE_FILE_BYTES)? != loaded.hash {
            continue;
        }
        let Some(snapshot_path) = options.snapshot_for(rendered.text.len()) else {
            fsutil::write_atomic_deferred(path, rendered.text.as_bytes(), background)?;
            return Ok(UpdateOutcome::Written);
        };
        // The next snapshot is prepared and written to its temp file on another thread
        // while this one writes and syncs the file's. Then the snapshot goes in place right
        // before the file: a reader of the new text finds its snapshot at once, where
        // storing it after the file would send every reader in between to a full parse
        // (and make it store a snapshot of its own).
        // A small checklist's snapshot takes less time to make than a thread to start.
        let next_snapshot = |loaded| {
            let bytes = snapshot_after_edit(path, loaded, &rendered)?;
            snapshot::stage(snapshot_path, &bytes).ok()
        };
        let (staged, staged_snapshot) = if rendered.text.len() < snapshot::PARALLEL_BYTES {
            let staged_snapshot = next_snapshot(loaded);
            (
                fsutil::stage(path, rendered.text.as_bytes(), true)?,
                staged_snapshot,
            )
        } else {
            std::thread::scope(|scope| -> Result<_, ChecklistError> {
                let job = std::thread::Builder::new()
                    .name("snapshot".to_string())
                    .spawn_scoped(scope, || next_snapshot(loaded));
                let staged = fsutil::stage(path, rendered.text.as_bytes(), true)?;
                // Without a thread, or with a failure, the snapshot is left stale: the next
                // reader finds its hash does not match and rebuilds it.
                Ok((staged, job.ok().and_then(|job| job.join().ok()).flatten()))
            })?
        };
        // The snapshot is a cache: failing to write it only costs speed next time.
        if let Some(staged_snapshot) = staged_snapshot {
            let _ = staged_snapshot.commit_in(background, false);
        }
        staged.commit_in(background, true)?;
        return Ok(UpdateOutcome::Written);
    }
    Err(ChecklistError::Contended {
        path: path.to_path_buf(),
        attempts: ATTEMPTS,
    })
}

/// The snapshot bytes of a file just rewritten from `loaded` by `rendered`.
///
/// The new model is derived from the old one: only the edited mappings are parsed again
/// (the editor already proved each parses alone) and everything after them moves by the
/// bytes and lines they grew or shrank. That costs a few milliseconds where a full parse of
/// a large checklist costs hundreds, and it keeps the next reader warm. When an edit cannot
/// be pinned to its segments, the whole new text is parsed as before.
fn snapshot_after_edit(
    path: &Path,
    loaded: LoadedChecklist,
    rendered: &edit::Rendered,
) -> Option<Vec<u8>> {
    let derived = rendered.segments.as_deref().and_then(|segments| {
        derive::after_edit(loaded.checklist, &loaded.text, &rendered.text, segments)
    });
    let checklist = match derived {
        Some(checklist) => checklist,
        None => Checklist::parse(path, &rendered.text).ok()?,
    };
    let hash = snapshot::hash_bytes(rendered.text.as_bytes());
    snapshot::encode(hash, &checklist, rendered.text.len())
        .ok()
        .map(|(bytes, _)| bytes)
}

/// Rewrites the checklist through `make_text`, atomically, under the same lock and
/// re-read rule as [`update`]: `make_text` sees the freshly loaded file and returns the new
/// text (or `None` to leave it alone), with its parsed model when it has one (it then feeds
/// the snapshot without a second parse); a file changed meanwhile is read again.
pub fn rewrite<F>(
    path: &Path,
    lock_path: &Path,
    options: &LoadOptions,
    mut make_text: F,
) -> Result<UpdateOutcome, ChecklistError>
where
    F: FnMut(&LoadedChecklist) -> Result<Option<(String, Option<Checklist>)>, ChecklistError>,
{
    const ATTEMPTS: usize = 5;
    let _lock = crate::fsutil::lock_exclusive(lock_path)?;
    for _ in 0..ATTEMPTS {
        let loaded = load(path, options)?;
        let Some((new_text, parsed)) = make_text(&loaded)? else {
            return Ok(UpdateOutcome::Unchanged);
        };
        if new_text == loaded.text {
            return Ok(UpdateOutcome::Unchanged);
        }
        let current = fsutil::read_bounded(path, MAX_STATE_FILE_BYTES)?;
        if snapshot::hash_bytes(&current) != loaded.hash {
            continue;
        }
        fsutil::write_atomic(path, new_text.as_bytes())?;
        if let Some(snapshot_path) = options.snapshot_for(new_text.len()) {
            let checklist = match parsed {
                Some(checklist) => Some(checklist),
                None => Checklist::parse(path, &new_text).ok(),
            };
            if let Some(checklist) = checklist {
                let hash = snapshot::hash_bytes(new_text.as_bytes());
                if let Ok((bytes, _)) = snapshot::encode(hash, &checklist, new_text.len()) {
                    // A cache: failing to write it only costs speed next time.
                    let _ = snapshot::store(snapshot_path, &bytes);
                }
            }
        }
        return Ok(UpdateOutcome::Written);
    }
    Err(ChecklistError::Contended {
        path: path.to_path_buf(),
        attempts: ATTEMPTS,
    })
}

/// Splits a command line like a POSIX shell would into words, without expanding anything:
/// single and double quotes, backslash escapes. Never runs a shell.
pub fn split_command_line(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(format!("unclosed single quote in `{text}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err(format!("unclosed double quote in `{text}`")),
                        },
                        Some(c) => current.push(c),
                        None => return Err(format!("unclosed double quote in `{text}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => current.push(c),
                    None => return Err(format!("trailing backslash in `{text}`")),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests;
