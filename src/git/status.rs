//! Working-tree status: what is modified, staged, untracked or conflicted in a checkout, and a
//! cheap fingerprint of it. The cycle uses these to find work a worker left uncommitted in its
//! task worktree and to notice a worker writing into the primary checkout (fingerprint before
//! dispatch, compare after).
//!
//! Reads only: `status` runs with optional locks off, so it never rewrites the index under a
//! worker's or a person's feet.

use std::path::{Path, PathBuf};

use super::{GitError, path_from_bytes, run_git_output};

/// One line of `git status --porcelain=v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The two status letters: index (staged) then worktree, e.g. `[' ', 'M']`, `['?', '?']`,
    /// `['R', ' ']`, `['U', 'U']`.
    pub code: [char; 2],
    /// Relative to the top of the worktree; for a rename or copy, the new path.
    pub path: PathBuf,
    /// For a rename or copy, the old path.
    pub original_path: Option<PathBuf>,
}

impl StatusEntry {
    pub fn is_untracked(&self) -> bool {
        self.code == ['?', '?']
    }

    /// An unmerged path (a conflict in progress).
    pub fn is_unmerged(&self) -> bool {
        matches!(self.code, ['U', _] | [_, 'U'] | ['A', 'A'] | ['D', 'D'])
    }
}

/// The status of the worktree `dir`, untracked files listed one by one, ignored files left
/// out.
pub fn status(dir: &Path) -> Result<Vec<StatusEntry>, GitError> {
    let output = run_git_output(dir, status_args(false))?.into_result()?;
    parse_status(&output.stdout).map_err(|detail| output.unexpected(detail))
}

/// True when `dir` has nothing modified, staged or untracked (ignored files do not count).
pub fn is_clean(dir: &Path) -> Result<bool, GitError> {
    Ok(status(dir)?.is_empty())
}

/// A short hex digest of the checkout's state that changes whenever someone commits there,
/// switches branch, stages, or creates, deletes or writes a non-ignored file, including one
/// that was already modified. Compare the value before and after a worker ran: a difference
/// means something wrote into this checkout (the worker, or the person working in it).
///
/// Covers HEAD, the branch, every status entry, and the size and modification time of every
/// path status lists. Ignored files are not covered. Costs three short git runs plus one
/// `stat` per listed path.
pub fn status_fingerprint(dir: &Path) -> Result<String, GitError> {
    let head = super::repo::rev_parse(dir, "HEAD")?;
    // `--branch` adds a `## <branch>` header, so switching branches changes the digest.
    let output = run_git_output(dir, status_args(true))?.into_result()?;
    let entries = parse_status(&output.stdout).map_err(|detail| output.unexpected(detail))?;
    let top = worktree_top(dir)?;

    let mut material = Vec::with_capacity(output.stdout.len() + 64 * entries.len() + 64);
    material.extend_from_slice(head.as_deref().unwrap_or("unborn").as_bytes());
    material.push(0);
    material.extend_from_slice(&output.stdout);
    for entry in &entries {
        material.extend_from_slice(entry.path.as_os_str().as_encoded_bytes());
        material.push(0);
        // A missing or unreadable path hashes as such: that is a state too.
        match std::fs::symlink_metadata(top.join(&entry.path)) {
            Ok(metadata) => {
                material.extend_from_slice(&metadata.len().to_le_bytes());
                let modified = metadata
                    .modified()
                    .ok()
                    .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |since| since.as_nanos());
                material.extend_from_slice(&modified.to_le_bytes());
                material.push(u8::from(metadata.is_dir()));
            }
            Err(error) => material.extend_from_slice(format!("{:?}", error.kind()).as_bytes()),
        }
    }
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&material)))
}

fn status_args(branch_header: bool) -> Vec<&'static str> {
    let mut args = vec![
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        // Fixed so that `status.renames` or `diff.renames` in the person's config cannot
        // change the shape of the output between two fingerprints.
        "--renames",
        "--ignore-submodules=none",
    ];
    if branch_header {
        args.push("--branch");
    }
    args
}

fn worktree_top(dir: &Path) -> Result<PathBuf, GitError> {
    let output = run_git_output(dir, ["rev-parse", "--show-toplevel"])?.into_result()?;
    let mut bytes = output.stdout.as_slice();
    while let [rest @ .., b'\n' | b'\r'] = bytes {
        bytes = rest;
    }
    Ok(path_from_bytes(bytes))
}

/// Parses `git status --porcelain=v1 -z`: `XY <path>` entries ended by NUL; a rename or copy
/// (`R` or `C` in either column) is followed by a second NUL-ended field, the old path. A
/// `## ` branch header (from `--branch`) is skipped.
pub fn parse_status(output: &[u8]) -> Result<Vec<StatusEntry>, String> {
    let mut entries = Vec::new();
    let mut fields = output.split(|byte| *byte == 0);
    while let Some(field) = fields.next() {
        if field.is_empty() {
            continue;
        }
        if field.starts_with(b"## ") {
            continue;
        }
        let [index, worktree, b' ', path @ ..] = field else {
            return Err(format!(
                "status entry `{}` is not `XY <path>`",
                String::from_utf8_lossy(field)
            ));
        };
        if path.is_empty() {
            return Err(format!(
                "status entry `{}` has no path",
                String::from_utf8_lossy(field)
            ));
        }
        let code = [char::from(*index), char::from(*worktree)];
        let original_path = if code.contains(&'R') || code.contains(&'C') {
            let original = fields
                .next()
                .filter(|original| !original.is_empty())
                .ok_or_else(|| {
                    format!(
                        "rename of `{}` without its old path",
                        String::from_utf8_lossy(path)
                    )
                })?;
            Some(path_from_bytes(original))
        } else {
            None
        };
        entries.push(StatusEntry {
            code,
            path: path_from_bytes(path),
            original_path,
        });
    }
    Ok(entries)
}

/// Parses NUL-separated paths, as printed by `git diff --name-only -z`.
pub fn parse_null_separated_paths(output: &[u8]) -> Vec<PathBuf> {
    output
        .split(|byte| *byte == 0)
        .filter(|field| !field.is_empty())
        .map(path_from_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::run_git;
    use crate::git::testutil::{TestRepo, write_in};

    fn entry(code: &str, path: &str, original: Option<&str>) -> StatusEntry {
        let mut chars = code.chars();
        StatusEntry {
            code: [chars.next().unwrap(), chars.next().unwrap()],
            path: PathBuf::from(path),
            original_path: original.map(PathBuf::from),
        }
    }

    #[test]
    fn parses_renames_spaces_and_untracked() {
        let output = b"## main\0R  b renamed\0b\0 M src/lib.rs\0?? d i r/new file\0?? tab\there\0C  copy\0orig name\0UU both\0";
        assert_eq!(
            parse_status(output).unwrap(),
            vec![
                entry("R ", "b renamed", Some("b")),
                entry(" M", "src/lib.rs", None),
                entry("??", "d i r/new file", None),
                entry("??", "tab\there", None),
                entry("C ", "copy", Some("orig name")),
                entry("UU", "both", None),
            ]
        );
        assert_eq!(parse_status(b"").unwrap(), vec![]);
    }

    #[test]
    fn refuses_malformed_status() {
        assert!(parse_status(b"M\0").is_err());
        assert!(parse_status(b"R  new\0").is_err());
        assert!(parse_status(b"MM \0").is_err());
    }

    #[test]
    fn entry_kinds() {
        assert!(entry("??", "x", None).is_untracked());
        assert!(entry("UU", "x", None).is_unmerged());
        assert!(entry("AA", "x", None).is_unmerged());
        assert!(!entry(" M", "x", None).is_unmerged());
    }

    #[test]
    fn null_separated_paths() {
        assert_eq!(
            parse_null_separated_paths(b"a b\0c\0"),
            vec![PathBuf::from("a b"), PathBuf::from("c")]
        );
        assert!(parse_null_separated_paths(b"").is_empty());
    }

    #[test]
    fn status_of_a_real_worktree_with_a_rename_and_spaces() {
        let repo = TestRepo::new();
        assert!(is_clean(&repo.primary).unwrap());
        run_git(&repo.primary, ["mv", "README.md", "READ ME.md"]).unwrap();
        repo.write("dir with space/new file.txt", "new\n");
        let entries = status(&repo.primary).unwrap();
        assert_eq!(
            entries,
            vec![
                entry("R ", "READ ME.md", Some("README.md")),
                entry("??", "dir with space/new file.txt", None),
            ]
        );
        assert!(!is_clean(&repo.primary).unwrap());
    }

    #[test]
    fn fingerprint_changes_on_every_kind_of_write() {
        let repo = TestRepo::new();
        let clean = status_fingerprint(&repo.primary).unwrap();
        assert_eq!(clean.len(), 16);
        assert_eq!(status_fingerprint(&repo.primary).unwrap(), clean);

        repo.write("notes.txt", "one\n");
        let untracked = status_fingerprint(&repo.primary).unwrap();
        assert_ne!(untracked, clean);

        // Writing again to a file that is already untracked leaves `git status` unchanged;
        // the size catches it.
        repo.write("notes.txt", "one two\n");
        let rewritten = status_fingerprint(&repo.primary).unwrap();
        assert_ne!(rewritten, untracked);

        // A commit leaves the tree clean again but moves HEAD.
        repo.commit_everything(&repo.primary, "notes");
        let committed = status_fingerprint(&repo.primary).unwrap();
        assert_ne!(committed, clean);

        // From a subdirectory, the same checkout has the same fingerprint.
        write_in(&repo.primary, "sub/x.txt", "x\n");
        let from_top = status_fingerprint(&repo.primary).unwrap();
        assert_eq!(
            status_fingerprint(&repo.primary.join("sub")).unwrap(),
            from_top
        );
    }
}
