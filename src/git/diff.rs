//! Diffs between two commits, for policy: the changed paths, the size of the change, and
//! the unified text. Read-only; never touches a worktree or the index.

use std::path::Path;

use super::{GitError, run_git_output};

/// The largest binary file whose change is read as text for the secret scan (git's own
/// binary detection, a NUL byte or a `-diff`/`binary` attribute, would otherwise hide its
/// lines). Larger ones are listed in [`DiffSummary::unscanned`] for policy to refuse.
pub const MAX_SCANNED_BINARY_BYTES: u64 = 8 * 1024 * 1024;

/// The diff without context, colour, external drivers, text conversion or rename
/// detection: every changed line, as committed.
const PLAIN_DIFF: [&str; 5] = [
    "-U0",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
];

/// What changed between `base` and `head`: the paths, the added plus removed lines (a
/// binary file counts as one of each) and the unified diff with no context (`-U0`), without
/// colour, external diff drivers or text conversion. Binary files up to
/// [`MAX_SCANNED_BINARY_BYTES`] are diffed again as text (`--text`) and their changes
/// appended, so that nothing added escapes the secret scan; larger ones are listed as
/// unscanned. One `git diff`, and two more commands only when binary files changed.
pub fn diff_summary(dir: &Path, base: &str, head: &str) -> Result<DiffSummary, GitError> {
    let mut args = vec!["diff", "--numstat", "--patch", "-z"];
    args.extend(PLAIN_DIFF);
    args.extend(["--end-of-options", base, head, "--"]);
    let output = run_git_output(dir, &args)?.into_result()?;
    let mut summary = parse_summary(&output.stdout);
    if summary.binary.is_empty() {
        return Ok(summary);
    }
    // Paths go on the command line: a few hundred per command keeps it short.
    const PER_COMMAND: usize = 500;
    let mut scanned = Vec::new();
    for paths in summary.binary.chunks(PER_COMMAND) {
        // The new side's sizes (a deleted file is not in `head`: it adds nothing to scan).
        let mut args: Vec<String> = ["ls-tree", "-l", "-z", "--end-of-options", head, "--"]
            .map(str::to_string)
            .to_vec();
        args.extend(paths.iter().cloned());
        let listed = run_git_output(dir, &args)?.into_result()?;
        for (size, path) in parse_tree_sizes(&listed.stdout) {
            if size <= MAX_SCANNED_BINARY_BYTES {
                scanned.push(format!(":(literal){path}"));
            } else {
                summary.unscanned.push(path);
            }
        }
    }
    for paths in scanned.chunks(PER_COMMAND) {
        let mut args = vec!["diff", "--text"];
        args.extend(PLAIN_DIFF);
        args.extend(["--end-of-options", base, head, "--"]);
        args.extend(paths.iter().map(String::as_str));
        let binary = run_git_output(dir, &args)?.into_result()?;
        if !summary.text.is_empty() && !summary.text.ends_with('\n') {
            summary.text.push('\n');
        }
        summary
            .text
            .push_str(&String::from_utf8_lossy(&binary.stdout));
    }
    Ok(summary)
}

/// `ls-tree -l -z` records, `<mode> <type> <object> <size>\t<path>\0`: (size, path) of
/// each blob.
fn parse_tree_sizes(bytes: &[u8]) -> Vec<(u64, String)> {
    bytes
        .split(|&b| b == 0)
        .filter_map(|record| {
            let tab = record.iter().position(|&b| b == b'\t')?;
            let (meta, path) = (&record[..tab], &record[tab + 1..]);
            let meta = std::str::from_utf8(meta).ok()?;
            let mut fields = meta.split_whitespace();
            let _mode = fields.next()?;
            if fields.next()? != "blob" {
                return None;
            }
            let _object = fields.next()?;
            let size = fields.next()?.parse().ok()?;
            Some((size, String::from_utf8_lossy(path).into_owned()))
        })
        .collect()
}

/// [`diff_summary`]'s result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffSummary {
    /// Sorted, each once.
    pub paths: Vec<String>,
    pub changed_lines: u64,
    pub text: String,
    /// Paths git calls binary (`-` in `--numstat`), sorted.
    pub binary: Vec<String>,
    /// Binary files over [`MAX_SCANNED_BINARY_BYTES`], whose lines were not read.
    pub unscanned: Vec<String>,
}

/// `--numstat -z --patch`: `<added>\t<removed>\t<path>\0` records, one more `\0`, then
/// the patch.
fn parse_summary(bytes: &[u8]) -> DiffSummary {
    let (numstat, patch) = match bytes.windows(2).position(|pair| pair == b"\0\0") {
        Some(end) => (&bytes[..=end], &bytes[end + 2..]),
        None => (bytes, &[][..]),
    };
    let mut paths: Vec<String> = Vec::new();
    let mut binary: Vec<String> = Vec::new();
    for record in numstat.split(|&b| b == 0) {
        let mut parts = record.splitn(3, |&b| b == b'\t');
        let (Some(added), Some(_), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let path = String::from_utf8_lossy(path).into_owned();
        if added == b"-" {
            binary.push(path.clone());
        }
        paths.push(path);
    }
    paths.sort();
    paths.dedup();
    binary.sort();
    binary.dedup();
    DiffSummary {
        paths,
        changed_lines: parse_numstat(numstat),
        text: String::from_utf8_lossy(patch).into_owned(),
        binary,
        unscanned: Vec::new(),
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
    fn a_secret_in_a_binary_file_is_in_the_text_and_a_huge_one_is_unscanned() {
        let repo = TestRepo::new();
        repo.write("keep.txt", "one\n");
        let base = repo.commit_everything(&repo.primary, "base");
        let key = format!("AKIA{}", "ABCDEFGHIJKLMNOP");
        std::fs::write(
            repo.primary.join("blob.bin"),
            format!("\0\x01header\nkey={key}\n").as_bytes(),
        )
        .unwrap();
        let mut huge = vec![0u8; MAX_SCANNED_BINARY_BYTES as usize + 1];
        huge.extend_from_slice(key.as_bytes());
        std::fs::write(repo.primary.join("huge.bin"), &huge).unwrap();
        let head = repo.commit_everything(&repo.primary, "binaries");
        let summary = diff_summary(&repo.primary, &base, &head).unwrap();
        assert_eq!(summary.binary, ["blob.bin", "huge.bin"]);
        assert_eq!(summary.unscanned, ["huge.bin"]);
        let added = crate::policy::added_lines(&summary.text);
        assert!(
            added
                .iter()
                .any(|(path, line, text)| path == "blob.bin" && *line == 2 && text.contains(&key)),
            "{added:?}"
        );
        assert!(
            added.iter().all(|(path, ..)| path != "huge.bin"),
            "{added:?}"
        );
    }

    #[test]
    fn tree_sizes_parse() {
        assert_eq!(
            parse_tree_sizes(
                b"100644 blob 0614890ee2349e2709ff4648b5b83c2a0ae6a566      25\td/b.bin\x00160000 commit 0614890ee2349e2709ff4648b5b83c2a0ae6a566       -\tsub\x00"
            ),
            [(25, "d/b.bin".to_string())]
        );
    }

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
        assert_eq!(summary.binary, ["bin.dat"]);
        assert!(summary.unscanned.is_empty());
        // The plain `-U0` diff, then the binary file's change read as text.
        let plain_text = diff_text(&repo.primary, &base, &head, 0).unwrap();
        let binary_part = summary
            .text
            .strip_prefix(plain_text.as_str())
            .unwrap_or_else(|| panic!("{}", summary.text));
        assert!(
            binary_part.starts_with("diff --git a/bin.dat b/bin.dat\n"),
            "{binary_part}"
        );
        assert!(binary_part.contains("+++ b/bin.dat\n"), "{binary_part}");
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
