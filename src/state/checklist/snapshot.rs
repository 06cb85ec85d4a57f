//! The derived snapshot: the overview and the parsed checklist stored in a compact binary
//! form under `.longrun/cache/`, keyed by a 128-bit hash of the file's bytes.
//!
//! It is a cache, never a second source of truth: it is used only when the hash of the
//! bytes just read matches, and any problem reading it means "parse the file instead".
//!
//! Layout: a fixed header (magic, format, the file's hash, then the length and a checksum of
//! each section), the model, the overview. `next`, `status` and `check` read the header,
//! skip the model and read only the overview. The checksums let the file be written without
//! syncing: after a crash a torn or empty file fails them and is rebuilt.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::Checklist;
use super::overview::Overview;
use crate::fsutil::{self, FsError};

/// Below this many bytes of checklist text, a snapshot is made on the calling thread: a
/// thread of its own would cost more than it saves.
pub const PARALLEL_BYTES: usize = 64 * 1024;

/// Below this many bytes of checklist text there is no snapshot: parsing the file costs
/// less than writing one (a 5.6 KB checklist, `longrun init`'s with one task, parses with its
/// overview in 0.09 ms, eleven tasks in 0.23 ms; writing a snapshot is a file created,
/// written and renamed, 0.3 to 0.5 ms on every change, and reading one 0.05 ms).
pub const MIN_BYTES: u64 = 8 * 1024;

/// Whether a checklist of `len` bytes is worth a snapshot: see [`MIN_BYTES`].
pub fn worth_keeping(len: usize) -> bool {
    len as u64 >= MIN_BYTES
}

/// Bumped whenever the layout or the model changes, so an old snapshot is never misread.
const FORMAT: u32 = 4;
const MAGIC: &[u8; 8] = b"LRCKSNAP";
const HEADER_LEN: usize = 8 + 4 + 16 + 4 * 8;
/// A section larger than this is corrupt: the checklist itself is at most 32 MiB.
const MAX_SECTION_BYTES: u64 = 256 * 1024 * 1024;

/// The hash that keys the snapshot.
pub fn hash_bytes(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// The hash of a file's bytes, read in chunks: the read-only commands need the hash but not
/// the text, so they never hold the whole file. Same errors as reading it whole.
pub fn hash_file(path: &Path, limit: u64) -> Result<u128, FsError> {
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
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut reader = file.take(limit + 1);
    // No larger than the file needs: a small checklist is hashed on every claim.
    let chunk = usize::try_from(size.saturating_add(1)).map_or(256 * 1024, |n| n.min(256 * 1024));
    let mut buffer = vec![0u8; chunk.max(4096)];
    let mut total = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        total += read as u64;
        hasher.update(&buffer[..read]);
    }
    if total > limit {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            size: total,
            limit,
        });
    }
    Ok(hasher.digest128())
}

/// The sections' sizes and checksums, from the header.
struct Header {
    model_len: u64,
    model_check: u64,
    overview_len: u64,
    overview_check: u64,
}

/// Opens the snapshot and reads its header; `None` unless it is one for `hash`.
fn open(path: &Path, hash: u128) -> Option<(File, Header)> {
    let mut file = File::open(path).ok()?;
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header).ok()?;
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(header.get(at..at + 8)?.try_into().ok()?))
    };
    if &header[..8] != MAGIC
        || u32::from_le_bytes(header[8..12].try_into().ok()?) != FORMAT
        || u128::from_le_bytes(header[12..28].try_into().ok()?) != hash
    {
        return None;
    }
    let parsed = Header {
        model_len: u64_at(28)?,
        model_check: u64_at(36)?,
        overview_len: u64_at(44)?,
        overview_check: u64_at(52)?,
    };
    (parsed.overview_len <= MAX_SECTION_BYTES && parsed.model_len <= MAX_SECTION_BYTES)
        .then_some((file, parsed))
}

/// Reads one section and checks it against its checksum.
fn read_section(file: &mut File, len: u64, check: u64) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact(&mut bytes).ok()?;
    (xxhash_rust::xxh3::xxh3_64(&bytes) == check).then_some(bytes)
}

/// The snapshot's overview when it exists, is intact and matches `hash`.
pub fn read_overview(path: &Path, hash: u128) -> Option<Overview> {
    let (mut file, header) = open(path, hash)?;
    file.seek(SeekFrom::Current(i64::try_from(header.model_len).ok()?))
        .ok()?;
    let bytes = read_section(&mut file, header.overview_len, header.overview_check)?;
    let overview: Overview = postcard::from_bytes(&bytes).ok()?;
    overview.is_consistent().then_some(overview)
}

/// The snapshot's checklist when it exists, is intact and matches `hash`.
pub fn read(path: &Path, hash: u128) -> Option<Checklist> {
    let (mut file, header) = open(path, hash)?;
    let bytes = read_section(&mut file, header.model_len, header.model_check)?;
    postcard::from_bytes(&bytes).ok()
}

/// The snapshot of `checklist`, parsed from a file whose bytes hash to `hash`, and the
/// overview it holds (derived here, so a snapshot can never pair a model with another
/// model's overview).
///
/// For a large checklist the overview is derived on a second thread while the model is
/// encoded: both take milliseconds, and a write should not wait for them one by one.
/// `text_len`, the size of the checklist's text, sizes the buffer: the snapshot is about
/// 1.2 to 1.4 times the text, and a buffer that doubles past it would hold twice that.
pub fn encode(
    hash: u128,
    checklist: &Checklist,
    text_len: usize,
) -> Result<(Vec<u8>, Overview), postcard::Error> {
    std::thread::scope(|scope| {
        let overview_job = (text_len >= PARALLEL_BYTES).then(|| {
            std::thread::Builder::new()
                .name("overview".to_string())
                .spawn_scoped(scope, || Overview::of(checklist))
        });
        // One buffer, header first and filled in last, so no section is ever copied.
        let mut bytes = Vec::with_capacity(HEADER_LEN + 4096 + text_len + text_len / 2);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT.to_le_bytes());
        bytes.extend_from_slice(&hash.to_le_bytes());
        bytes.resize(HEADER_LEN, 0);
        let bytes = postcard::to_extend(checklist, bytes)?;
        let model_end = bytes.len();
        let overview = match overview_job {
            Some(Ok(job)) => job
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // A small checklist, or no thread to be had: derive it here.
            _ => Overview::of(checklist),
        };
        let mut bytes = postcard::to_extend(&overview, bytes)?;
        let mut sizes = [0u8; 32];
        for (slot, section) in [HEADER_LEN..model_end, model_end..bytes.len()]
            .into_iter()
            .enumerate()
        {
            let at = slot * 16;
            sizes[at..at + 8].copy_from_slice(&(section.len() as u64).to_le_bytes());
            sizes[at + 8..at + 16]
                .copy_from_slice(&xxhash_rust::xxh3::xxh3_64(&bytes[section]).to_le_bytes());
        }
        bytes[28..HEADER_LEN].copy_from_slice(&sizes);
        Ok((bytes, overview))
    })
}

/// Stores encoded snapshot bytes at `path`.
pub fn store(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    stage(path, bytes)?.commit().map(|_| ())
}

/// Encoded snapshot bytes in a temp file next to `path`, to be put in place with
/// [`fsutil::Staged::commit`]. Never synced (see the module documentation).
pub fn stage(path: &Path, bytes: &[u8]) -> Result<fsutil::Staged, FsError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| FsError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    fsutil::stage(path, bytes, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_a_file_in_chunks_matches_hashing_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        // Larger than one chunk, not a multiple of it.
        let bytes: Vec<u8> = (0..700_001u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(hash_file(&path, 1 << 20).unwrap(), hash_bytes(&bytes));
        assert!(matches!(
            hash_file(&path, 1000),
            Err(FsError::TooLarge { .. })
        ));
        assert!(
            hash_file(&dir.path().join("missing"), 10)
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn a_damaged_or_foreign_snapshot_is_never_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap");
        let checklist = Checklist::parse(
            Path::new("checklist.yaml"),
            "tasks:\n  - task_id: T1\n    title: One\n    validators: [\"true\"]\n",
        )
        .unwrap();
        let (bytes, overview) = encode(7, &checklist, 100).unwrap();
        assert_eq!(overview, Overview::of(&checklist));
        store(&path, &bytes).unwrap();
        assert_eq!(read(&path, 7), Some(checklist.clone()));
        assert_eq!(read_overview(&path, 7), Some(overview));
        assert_eq!(read(&path, 8), None, "another file's hash");
        let good = std::fs::read(&path).unwrap();
        // A flipped byte in one section loses that section only.
        let mut bad = good.clone();
        bad[HEADER_LEN + 2] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(read(&path, 7), None);
        assert!(read_overview(&path, 7).is_some());
        let mut bad = good.clone();
        let last = bad.len() - 2;
        bad[last] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(read_overview(&path, 7), None);
        assert_eq!(read(&path, 7), Some(checklist.clone()));
        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert_eq!(read_overview(&path, 7), None);
        std::fs::write(&path, &good[..HEADER_LEN + 3]).unwrap();
        assert_eq!(read(&path, 7), None);
        assert_eq!(read_overview(&path, 7), None);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(read_overview(&path, 7), None);
    }
}
