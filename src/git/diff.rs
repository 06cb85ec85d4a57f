//! Diffs between two commits, for policy: the changed paths, the size of the change, and
//! the unified text. Read-only; never touches a worktree or the index.

use std::path::Path;

use super::{GitError, run_git_output};

/// What changed between `base` and `head`, from one `git diff`: the paths, the added plus
/// removed lines (a binary file counts as one of each) and the unified diff with no context
/// (`-U0`), without colour, external diff drivers or text conversion.
pub fn diff_summary(dir: &Path, base: &str, head: &str) -> Result<DiffSummary, GitError> {
    let output = run_git_output(
        dir,
        [
            "diff",
            "--numstat",
            "--patch",
            "-z",
            "-U0",
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
    Ok(parse_summary(&output.stdout))
}

/// [`diff_summary`]'s result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffSummary {
    /// Sorted, each once.
    pub paths: Vec<String>,
    pub changed_lines: u64,
    pub text: String,
}

/// `--numstat -z --patch`: `<added>\t<removed>\t<path>\0` records, one more `\0`, then
/// the patch.
fn parse_summary(bytes: &[u8]) -> DiffSummary {
    let (numstat, patch) = match bytes.windows(2).position(|pair| pair == b"\0\0") {
        Some(end) => (&bytes[..=end], &bytes[end + 2..]),
        None => (bytes, &[][..]),
    };
    let mut paths: Vec<String> = numstat
        .split(|&b| b == 0)
        .filter_map(|record| {
            let mut parts = record.splitn(3, |&b| b == b'\t');
            parts.next()?;
            parts.next()?;
            parts
                .next()
                .map(|path| String::from_utf8_lossy(path).into_owned())
        })
        .collect();
    paths.sort();
    paths.dedup();
    DiffSummary {
        paths,
        changed_lines: parse_numstat(numstat),
        text: String::from_utf8_lossy(patch).into_owned(),
    }
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
    use crate::git::run_git;
    use crate::git::testutil::TestRepo;

    #[test]
    fn numstat_parses() {
        assert_eq!(parse_numstat(b"3\t1\ta.txt\0-\t-\tbin\0"), 6);
    }

    #[test]
    fn one_diff_gives_the_paths_the_size_and_the_text() {
        let repo = TestRepo::new();
        repo.write("keep.txt", "one\ntwo\n");
        repo.write("gone.txt", "bye\n");
        let base = repo.commit_everything(&repo.primary, "base");
        repo.write("keep.txt", "one\n2\nthree\n");
        std::fs::remove_file(repo.primary.join("gone.txt")).unwrap();
        repo.write("dir/with space.txt", "new\n");
        std::fs::write(repo.primary.join("bin.dat"), [0u8, 1, 2, 0, 255]).unwrap();
        let head = repo.commit_everything(&repo.primary, "change");

        let summary = diff_summary(&repo.primary, &base, &head).unwrap();
        assert_eq!(
            summary.paths,
            ["bin.dat", "dir/with space.txt", "gone.txt", "keep.txt"]
        );
        // keep: 1 removed + 2 added; gone: 1; new: 1; binary: 1 each way.
        assert_eq!(summary.changed_lines, 7);
        // The same text as the plain `-U0` diff.
        assert_eq!(
            summary.text,
            diff_text(&repo.primary, &base, &head, 0).unwrap()
        );
        assert!(summary.text.contains("+three"), "{}", summary.text);
        let plain = run_git(
            &repo.primary,
            ["diff", "--name-only", "-z", "--no-renames", &base, &head],
        )
        .unwrap();
        let mut names: Vec<&str> = plain.split('\0').filter(|n| !n.is_empty()).collect();
        names.sort();
        assert_eq!(summary.paths, names);

        assert_eq!(
            diff_summary(&repo.primary, &head, &head).unwrap(),
            DiffSummary::default()
        );
    }
}
