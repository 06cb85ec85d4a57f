//! The derived snapshot: the parsed checklist stored in a compact binary form under
//! `.longrun/cache/`, keyed by a 128-bit hash of the file's bytes.
//!
//! It is a cache, never a second source of truth: it is used only when the hash of the
//! bytes just read matches, and any problem reading it means "parse the file instead".

use std::path::Path;

use super::Checklist;
use crate::fsutil;

/// Bumped whenever the model's layout changes, so an old snapshot is never misread.
const FORMAT: u32 = 2;
const MAGIC: &[u8; 8] = b"LRCKSNAP";

/// The hash that keys the snapshot.
pub fn hash_bytes(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// The snapshot's checklist when it exists, is readable and matches `hash`.
pub fn read(path: &Path, hash: u128) -> Option<Checklist> {
    let bytes = std::fs::read(path).ok()?;
    let header_len = MAGIC.len() + 4 + 16;
    if bytes.len() < header_len || &bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let format = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    let stored_hash = u128::from_le_bytes(bytes[12..28].try_into().ok()?);
    if format != FORMAT || stored_hash != hash {
        return None;
    }
    postcard::from_bytes(&bytes[header_len..]).ok()
}

/// Writes the snapshot atomically.
pub fn write(path: &Path, hash: u128, checklist: &Checklist) -> Result<(), fsutil::FsError> {
    let body = postcard::to_stdvec(checklist).map_err(|error| fsutil::FsError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    })?;
    let mut bytes = Vec::with_capacity(28 + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&hash.to_le_bytes());
    bytes.extend_from_slice(&body);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| fsutil::FsError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    fsutil::write_atomic(path, &bytes)
}
