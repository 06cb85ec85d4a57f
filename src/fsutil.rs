//! Small filesystem helpers shared by the state modules: atomic writes, bounded reads.
//!
//! Nothing here knows about checklists or logs; it never spawns a process. The only threads
//! are those of [`BackgroundIo`], each waited for before the value goes away.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

/// The largest state file longrun reads into memory (32 MiB). Larger files stop with a
/// clear size error instead of exhausting memory.
pub const MAX_STATE_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// An I/O failure that names its file.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` is {size} bytes, larger than the {limit} bytes longrun reads")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("`{path}` is not valid UTF-8 (line {line}, column {column})")]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
    },
}

impl FsError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FsError::Read { path, .. }
            | FsError::Write { path, .. }
            | FsError::TooLarge { path, .. }
            | FsError::NotUtf8 { path, .. } => path,
        }
    }

    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Reads a whole file as bytes, refusing files larger than `limit`.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
    let read_error = |source| FsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > limit {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // `take` guards against a file that grows while it is read.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Reads a whole file as UTF-8 text; invalid UTF-8 is an error naming line and column.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FsError> {
    text_of(path, read_bounded(path, limit)?)
}

/// The bytes read from `path` as UTF-8 text, with [`read_text`]'s error when they are not.
pub fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, FsError> {
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let (line, column) = line_column_of_bytes(valid, valid.len());
        FsError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            column,
        }
    })
}

/// One-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    line_column_of_bytes(text.as_bytes(), offset)
}

fn line_column_of_bytes(bytes: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Writes `contents` to `path` atomically: a temp file in the same directory, synced, then
/// renamed over the target. Readers see the old or the new file, never half of one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), FsError> {
    replace(path, contents, true)
}

/// [`write_atomic`] for contents produced piece by piece: `write` fills a buffered temp file
/// (a large JSON document is then never held whole in memory), which is synced and renamed
/// over `path` only when `write` succeeds.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), FsError> {
    let (directory, temp_path) = temp_path_for(path);
    let mut staged = Staged {
        path: path.to_path_buf(),
        directory,
        temp_path,
        committed: false,
    };
    let result = (|| {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged.temp_path)?;
        if let Ok(metadata) = fs::metadata(path) {
            file.set_permissions(metadata.permissions())?;
        }
        let mut writer = io::BufWriter::with_capacity(64 * 1024, file);
        write(&mut writer)?;
        let file = writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()
    })();
    // On an error `staged` is dropped here, which removes the temp file.
    result.map_err(|source| FsError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    staged.rename()?;
    sync_directory(&std::mem::take(&mut staged.directory));
    Ok(())
}

/// Replaces `path` through a temp file and a rename like [`write_atomic`], but without
/// syncing. Only for derived caches that readers verify (a checksum) and can rebuild: after
/// a crash the file may be old, empty or garbage, which a reader must treat as missing. The
/// syncs of a multi-megabyte cache cost more than rebuilding it ever would.
pub fn write_atomic_unsynced(path: &Path, contents: &[u8]) -> Result<(), FsError> {
    replace(path, contents, false)
}

/// [`write_atomic`] with the end of the work left to `background`: the file is in place
/// and its contents are on disk when this returns; the new name is on disk, and the old
/// file's blocks are freed, once `background` has been waited for.
pub fn write_atomic_deferred(
    path: &Path,
    contents: &[u8],
    background: &BackgroundIo,
) -> Result<(), FsError> {
    stage(path, contents, true)?.commit_in(background, true)
}

fn replace(path: &Path, contents: &[u8], sync: bool) -> Result<(), FsError> {
    let directory = stage(path, contents, sync)?.commit()?;
    if sync {
        sync_directory(&directory);
    }
    Ok(())
}

/// The first half of an atomic replace: `contents` in a complete temp file next to `path`
/// (synced when `sync`), with `path`'s permissions. [`Staged::commit`] renames it over
/// `path`; dropping it uncommitted removes the temp file. Two staged files can then be
/// written (and synced) side by side and put in place one right after the other.
pub fn stage(path: &Path, contents: &[u8], sync: bool) -> Result<Staged, FsError> {
    let (directory, temp_path) = temp_path_for(path);
    let staged = Staged {
        path: path.to_path_buf(),
        directory,
        temp_path,
        committed: false,
    };
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged.temp_path)?;
        if let Ok(metadata) = fs::metadata(path) {
            // Keep the permissions a person gave the file.
            file.set_permissions(metadata.permissions())?;
        }
        file.write_all(contents)?;
        if sync {
            file.sync_all()?;
        }
        Ok(())
    })();
    // On an error `staged` is dropped here, which removes the temp file.
    result.map_err(|source| FsError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(staged)
}

/// A complete temp file waiting to be renamed over its target; see [`stage`].
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    directory: PathBuf,
    temp_path: PathBuf,
    committed: bool,
}

impl Staged {
    /// Renames the temp file over the target and returns the directory to sync for the
    /// rename to be durable (left to the caller, who may have more to put there).
    pub fn commit(mut self) -> Result<PathBuf, FsError> {
        self.rename()?;
        Ok(std::mem::take(&mut self.directory))
    }

    /// Renames the temp file over the target, leaving to `background` the directory sync
    /// (when `sync_dir`) and the freeing of the file it replaced (see [`BackgroundIo`]).
    pub fn commit_in(mut self, background: &BackgroundIo, sync_dir: bool) -> Result<(), FsError> {
        // The file about to be replaced, held open so that the rename does not free it.
        let replaced = File::open(&self.path).ok();
        self.rename()?;
        let directory = std::mem::take(&mut self.directory);
        background.spawn(move || {
            if sync_dir {
                sync_directory(&directory);
            }
            drop(replaced);
        });
        Ok(())
    }

    fn rename(&mut self) -> Result<(), FsError> {
        fs::rename(&self.temp_path, &self.path).map_err(|source| FsError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

/// The end of a change that nothing after it depends on, run in the background while the
/// caller goes on, and all waited for by [`BackgroundIo::wait`] or when the value is dropped.
///
/// Two kinds of work end a change on disk: syncing the directory of a rename, link or
/// unlink (the change is durable once that is done), and freeing the blocks of the file a
/// rename replaced or an unlink removed, which happens at its last close and, on a file
/// system that discards freed blocks (`-o discard`), waits for the device. A command that
/// changes several files (a claim file, checklist.yaml, the run log) would otherwise wait for
/// each in turn; here they overlap the rest of the command and each other, and the block
/// layer merges flushes that are in flight together. What is on disk by the time the
/// command finishes is the same; only the waiting is shared. Like [`write_atomic`]'s own,
/// the directory syncs are best effort.
#[derive(Debug, Default)]
pub struct BackgroundIo {
    running: Mutex<Vec<JoinHandle<()>>>,
}

impl BackgroundIo {
    pub fn new() -> BackgroundIo {
        BackgroundIo::default()
    }

    /// Runs `job` on its own thread; without a thread to be had, runs it now.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        // The job goes back and forth through a slot, so it can still run here if the
        // thread cannot be started.
        let slot = std::sync::Arc::new(Mutex::new(Some(job)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("background-io".to_string())
            .stack_size(64 * 1024)
            .spawn(move || {
                let job = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(job) = job {
                    job();
                }
            });
        match spawned {
            Ok(handle) => self
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(handle),
            Err(_) => {
                let job = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(job) = job {
                    job();
                }
            }
        }
    }

    /// Syncs `directory` in the background (best effort, see [`sync_directory`]).
    pub fn sync_dir(&self, directory: &Path) {
        let directory = directory.to_path_buf();
        self.spawn(move || sync_directory(&directory));
    }

    /// Waits for everything started so far.
    pub fn wait(&self) {
        let handles =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner));
        for handle in handles {
            // A job is a sync or a close; a panic there would be a bug in std.
            let _ = handle.join();
        }
    }
}

impl Drop for BackgroundIo {
    fn drop(&mut self) {
        self.wait();
    }
}

/// What [`create_new_atomic`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The file did not exist and now holds the contents.
    Created,
    /// Something already existed at the path; it was left untouched.
    AlreadyExists,
}

/// Creates `path` holding `contents`, only if nothing exists there yet, atomically: readers
/// never see a half-written file, and a file that appears concurrently is never clobbered.
///
/// The complete temp file is hard-linked to the target, which fails when the target exists
/// (the same guarantee as `O_CREAT|O_EXCL`). On file systems without hard links it falls back
/// to checking just before a rename, which leaves only a tiny race.
pub fn create_new_atomic(path: &Path, contents: &[u8]) -> Result<CreateOutcome, FsError> {
    let write_error = |source| FsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let (directory, temp_path) = temp_path_for(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        let outcome = match fs::hard_link(&temp_path, path) {
            Ok(()) => CreateOutcome::Created,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                CreateOutcome::AlreadyExists
            }
            Err(_) => {
                if fs::symlink_metadata(path).is_ok() {
                    CreateOutcome::AlreadyExists
                } else {
                    fs::rename(&temp_path, path)?;
                    CreateOutcome::Created
                }
            }
        };
        Ok(outcome)
    })();
    // After a link (or no link) the temp name is still there; after a rename it is gone.
    let _ = fs::remove_file(&temp_path);
    let outcome = result.map_err(write_error)?;
    if outcome == CreateOutcome::Created {
        sync_directory(&directory);
    }
    Ok(outcome)
}

/// The directory of `path` and a fresh temp file name next to it.
fn temp_path_for(path: &Path) -> (PathBuf, PathBuf) {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp_path = directory.join(format!(
        ".{file_name}.longrun-tmp.{}.{}",
        std::process::id(),
        unique_suffix()
    ));
    (directory, temp_path)
}

/// Syncs a directory so a rename or link in it survives a crash. Best effort: some
/// platforms cannot open a directory for syncing, and the data itself is already synced.
pub fn sync_directory(directory: &Path) {
    if let Ok(dir) = File::open(directory) {
        let _ = dir.sync_all();
    }
}

/// Takes an exclusive OS lock on `path` (created if missing, parents too), waiting for
/// other holders. The lock is released when the returned file is dropped or the process
/// dies, so a crashed holder never blocks anyone.
pub fn lock_exclusive(path: &Path) -> Result<File, FsError> {
    let write_error = |source| FsError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent).map_err(write_error)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(write_error)?;
    file.lock().map_err(write_error)?;
    Ok(file)
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    (COUNTER.fetch_add(1, Ordering::Relaxed) << 32) ^ nanos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "ab\ncé\nx";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        // 'é' is two bytes: the byte after it is column 3.
        assert_eq!(line_column(text, 6), (2, 3));
        assert_eq!(line_column(text, 7), (3, 1));
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        write_atomic_unsynced(&path, b"three").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn a_staged_file_is_in_place_only_once_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        write_atomic(&path, b"one").unwrap();
        let staged = stage(&path, b"two", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(staged.commit().unwrap(), dir.path());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        drop(stage(&path, b"three", false).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let background = BackgroundIo::new();
        write_atomic_deferred(&path, b"four", &background).unwrap();
        background.sync_dir(dir.path());
        background.wait();
        assert_eq!(fs::read(&path).unwrap(), b"four");
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temp file is left");
    }

    #[test]
    fn create_new_never_clobbers_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        assert_eq!(
            create_new_atomic(&path, b"one").unwrap(),
            CreateOutcome::Created
        );
        assert_eq!(
            create_new_atomic(&path, b"two").unwrap(),
            CreateOutcome::AlreadyExists
        );
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn bounded_read_refuses_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs::write(&path, vec![b'x'; 100]).unwrap();
        assert!(matches!(
            read_bounded(&path, 10),
            Err(FsError::TooLarge { size: 100, .. })
        ));
        assert_eq!(read_bounded(&path, 100).unwrap().len(), 100);
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad");
        fs::write(&path, b"ok\nab\xffc").unwrap();
        match read_text(&path, 100) {
            Err(FsError::NotUtf8 { line, column, .. }) => assert_eq!((line, column), (2, 3)),
            other => panic!("unexpected {other:?}"),
        }
    }
}
