//! Diffs between two commits, for policy: the changed paths, the size of the change, and
//! the unified text. Read-only; never touches a worktree or the index.

use std::path::Path;

use super::{GitError, run_git_output};

/// Paths changed between `base` and `head` (both sides of a rename), sorted, deduplicated.
pub fn changed_paths(dir: &Path, base: &str, head: &str) -> Result<Vec<String>, GitError> {
    let output = run_git_output(
        dir,
        [
            "diff",
            "--name-status",
            "-z",
            "--no-renames",
            "--end-of-options",
            base,
            head,
            "--",
        ],
    )?
    .into_result()?;
    Ok(parse_name_status(&output.stdout))
}

/// Added plus removed lines between `base` and `head` (binary files count as one line).
pub fn changed_line_count(dir: &Path, base: &str, head: &str) -> Result<u64, GitError> {
    let output = run_git_output(
        dir,
        [
            "diff",
            "--numstat",
            "-z",
            "--no-renames",
            "--end-of-options",
            base,
            head,
            "--",
        ],
    )?
    .into_result()?;
    Ok(parse_numstat(&output.stdout))
}

/// The unified diff between `base` and `head` with `context` lines around changes,
/// without colour or external diff drivers, text conversion off.
pub fn diff_text(dir: &Path, base: &str, head: &str, context: u32) -> Result<String, GitError> {
    let context = format!("-U{context}");
    let output = run_git_output(
        dir,
        [
            "diff",
            context.as_str(),
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            "--end-of-options",
            base,
            head,
            "--",
        ],
    )?
    .into_result()?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `--name-status -z`: `<status>\0<path>\0` records.
pub fn parse_name_status(bytes: &[u8]) -> Vec<String> {
    let mut fields = bytes.split(|&b| b == 0).filter(|f| !f.is_empty());
    let mut paths = Vec::new();
    while let Some(status) = fields.next() {
        let count = if matches!(status.first(), Some(b'R' | b'C')) {
            2
        } else {
            1
        };
        for _ in 0..count {
            if let Some(path) = fields.next() {
                paths.push(String::from_utf8_lossy(path).into_owned());
            }
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// `--numstat -z`: `<added>\t<removed>\t<path>\0` records; `-` for binary files.
pub fn parse_numstat(bytes: &[u8]) -> u64 {
    bytes
        .split(|&b| b == 0)
        .filter_map(|record| {
            let text = String::from_utf8_lossy(record);
            let mut parts = text.splitn(3, '\t');
            let added = parts.next()?;
            let removed = parts.next()?;
            parts.next()?;
            let count = |n: &str| n.parse::<u64>().unwrap_or(1);
            Some(count(added) + count(removed))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_and_numstat_parse() {
        assert_eq!(
            parse_name_status(b"M\0a.txt\0A\0.github/w.yml\0D\0b\0"),
            vec![".github/w.yml", "a.txt", "b"]
        );
        assert_eq!(parse_numstat(b"3\t1\ta.txt\0-\t-\tbin\0"), 6);
    }
}
