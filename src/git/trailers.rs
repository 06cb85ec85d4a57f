//! Git as the record of completion: the `Longrun-*` trailers on merge commits, and the scan of
//! a target branch's history that finds every task merged into it.
//!
//! Formatting and parsing are pure. [`parse_trailers`] is deliberately stricter than
//! `git interpret-trailers`: the last paragraph counts only when every line in it is a trailer
//! (or a continuation), so prose that happens to contain `Word: text` is never read as a
//! completion record. Nothing here decides whether a found record is trustworthy; the cycle
//! checks tokens and trees against its own records.

use std::path::Path;

use super::{GitError, check_object_id, run_git_output};

pub const TRAILER_TASK: &str = "Longrun-Task";
pub const TRAILER_ATTEMPT: &str = "Longrun-Attempt";
pub const TRAILER_TOKEN: &str = "Longrun-Token";
pub const TRAILER_VALIDATED: &str = "Longrun-Validated";

/// The trailers of one task's merge commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTrailers {
    pub task: String,
    pub attempt: u32,
    /// The claim token that fenced the attempt.
    pub token: String,
    /// The tree the validators passed on.
    pub validated_tree: String,
}

impl TaskTrailers {
    /// The trailer block, one `Key: value` line each, ending with a newline.
    pub fn format(&self) -> Result<String, GitError> {
        let attempt = self.attempt.to_string();
        format_trailers(&[
            (TRAILER_TASK, self.task.as_str()),
            (TRAILER_ATTEMPT, attempt.as_str()),
            (TRAILER_TOKEN, self.token.as_str()),
            (TRAILER_VALIDATED, self.validated_tree.as_str()),
        ])
    }

    /// A full merge commit message: `title`, a blank line, the trailers.
    pub fn message(&self, title: &str) -> Result<String, GitError> {
        let title = title.trim_end();
        if title.is_empty() {
            return Err(GitError::InvalidArgument {
                what: "commit title",
                value: title.to_string(),
                reason: "a merge commit needs a title",
            });
        }
        Ok(format!("{title}\n\n{}", self.format()?))
    }
}

/// One completed task found on the target branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedTask {
    pub task: String,
    /// `None` when the trailer is missing or not a number.
    pub attempt: Option<u32>,
    pub token: Option<String>,
    pub validated_tree: Option<String>,
    /// The commit carrying the trailers.
    pub commit: String,
    /// That commit's own tree: equal to `validated_tree` for a merge longrun made.
    pub tree: String,
    pub parents: Vec<String>,
}

/// Which history [`completed_tasks`] scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// Only the target branch's own line (`--first-parent`). longrun always advances the
    /// target so that its merge commits sit on that line; a commit a worker forged on its
    /// task branch, with trailers of its own, only ever reaches the target as a second
    /// parent and is not found.
    FirstParent,
    /// Every commit reachable from the target, as the design's "reachable" rule says. Needed
    /// when people merge the target into itself from elsewhere (`git pull` with local
    /// commits puts the remote's merges on a second parent).
    Reachable,
}

/// Formats trailers as `Key: value` lines. Keys must be letters, digits and `-`; values must
/// be one non-empty line, since a line break would end the trailer and let the rest read as
/// another one.
pub fn format_trailers(trailers: &[(&str, &str)]) -> Result<String, GitError> {
    let mut text = String::new();
    for (key, value) in trailers {
        if key.is_empty()
            || !key
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        {
            return Err(GitError::InvalidArgument {
                what: "trailer key",
                value: (*key).to_string(),
                reason: "use letters, digits and `-`",
            });
        }
        let value = value.trim();
        if value.is_empty() || value.contains(['\n', '\r']) {
            return Err(GitError::InvalidArgument {
                what: "trailer value",
                value: value.to_string(),
                reason: "a trailer value is one non-empty line",
            });
        }
        text.push_str(key);
        text.push_str(": ");
        text.push_str(value);
        text.push('\n');
    }
    Ok(text)
}

/// The trailers of a commit message, in order: the last paragraph after the title when every
/// line of it is `Key: value` (lines starting with whitespace continue the previous value).
/// Keys keep their spelling; compare them with `eq_ignore_ascii_case` as git does.
pub fn parse_trailers(message: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = message.lines().map(|line| line.trim_end()).collect();
    let end = lines
        .iter()
        .rposition(|line| !line.is_empty())
        .map_or(0, |last| last + 1);
    // The title paragraph is never a trailer block, even with `Key: value` in it.
    let Some(title_end) = lines[..end].iter().position(|line| line.is_empty()) else {
        return Vec::new();
    };
    let start = lines[..end]
        .iter()
        .rposition(|line| line.is_empty())
        .map_or(0, |blank| blank + 1);
    if start <= title_end {
        return Vec::new();
    }
    let mut trailers: Vec<(String, String)> = Vec::new();
    for line in &lines[start..end] {
        if line.starts_with([' ', '\t']) {
            match trailers.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                None => return Vec::new(),
            }
            continue;
        }
        match split_trailer(line) {
            Some((key, value)) => trailers.push((key.to_string(), value.to_string())),
            None => return Vec::new(),
        }
    }
    trailers
}

fn split_trailer(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim_end();
    let valid_key = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    valid_key.then(|| (key, value.trim()))
}

/// Every commit on `target` (a full ref such as `refs/heads/main` or
/// `refs/remotes/origin/main`, or a commit id) whose message carries a `Longrun-Task`
/// trailer, newest first. One `git log` run; git's `--grep` keeps the output to candidate
/// commits and [`parse_completed_tasks`] checks the trailers properly.
pub fn completed_tasks(
    dir: &Path,
    target: &str,
    history: History,
) -> Result<Vec<CompletedTask>, GitError> {
    let grep = format!("--grep=^{TRAILER_TASK}:");
    let mut args = vec![
        "log",
        "-z",
        "--no-color",
        // `log.showSignature` would put gpg output in front of the format.
        "--no-show-signature",
        "--encoding=UTF-8",
        "--format=%H%x1f%T%x1f%P%x1f%B",
        &grep,
        "--regexp-ignore-case",
    ];
    if history == History::FirstParent {
        args.push("--first-parent");
    }
    args.extend(["--end-of-options", target, "--"]);
    let output = run_git_output(dir, args)?.into_result()?;
    parse_completed_tasks(&output.stdout).map_err(|detail| output.unexpected(detail))
}

/// Parses `git log -z --format=%H%x1f%T%x1f%P%x1f%B`: NUL between commits, unit separators
/// between the fields, the raw message last (so it may hold anything but NUL). Commits
/// without a `Longrun-Task` trailer are skipped.
pub fn parse_completed_tasks(output: &[u8]) -> Result<Vec<CompletedTask>, String> {
    let text = String::from_utf8_lossy(output);
    let mut tasks = Vec::new();
    for record in text.split('\0') {
        // git separates records with NUL and may start the next one with a newline.
        let record = record.trim_start_matches('\n');
        if record.is_empty() {
            continue;
        }
        let mut fields = record.splitn(4, '\u{1f}');
        let (Some(commit), Some(tree), Some(parents), Some(message)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("log record has too few fields: `{record}`"));
        };
        check_object_id("commit", commit).map_err(|error| error.to_string())?;
        check_object_id("tree", tree).map_err(|error| error.to_string())?;
        let trailers = parse_trailers(message);
        let value = |key: &str| {
            trailers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(key))
                .map(|(_, value)| value.clone())
        };
        let Some(task) = value(TRAILER_TASK) else {
            continue;
        };
        tasks.push(CompletedTask {
            task,
            attempt: value(TRAILER_ATTEMPT).and_then(|attempt| attempt.parse().ok()),
            token: value(TRAILER_TOKEN),
            validated_tree: value(TRAILER_VALIDATED),
            commit: commit.to_string(),
            tree: tree.to_string(),
            parents: parents.split_whitespace().map(str::to_string).collect(),
        });
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testutil::{TestRepo, identity};
    use crate::git::{create_merge_commit, run_git, tree_of};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn sample() -> TaskTrailers {
        TaskTrailers {
            task: "T003".into(),
            attempt: 2,
            token: "9f".repeat(20),
            validated_tree: "ab".repeat(20),
        }
    }

    #[test]
    fn trailers_round_trip() {
        let trailers = sample();
        let message = trailers.message("Merge T003: add the parser").unwrap();
        assert_eq!(
            message,
            format!(
                "Merge T003: add the parser\n\nLongrun-Task: T003\nLongrun-Attempt: 2\nLongrun-Token: {}\nLongrun-Validated: {}\n",
                "9f".repeat(20),
                "ab".repeat(20)
            )
        );
        assert_eq!(
            parse_trailers(&message),
            pairs(&[
                ("Longrun-Task", "T003"),
                ("Longrun-Attempt", "2"),
                ("Longrun-Token", &"9f".repeat(20)),
                ("Longrun-Validated", &"ab".repeat(20)),
            ])
        );
    }

    #[test]
    fn format_refuses_what_would_forge_a_trailer() {
        assert!(format_trailers(&[("Longrun-Task", "T1\nLongrun-Task: T2")]).is_err());
        assert!(format_trailers(&[("Longrun-Task", "  ")]).is_err());
        assert!(format_trailers(&[("Bad Key", "x")]).is_err());
        assert!(format_trailers(&[("", "x")]).is_err());
        assert_eq!(format_trailers(&[]).unwrap(), "");
        assert!(sample().message("  \n").is_err());
    }

    #[test]
    fn only_a_last_paragraph_of_trailers_counts() {
        // Title only: never trailers.
        assert!(parse_trailers("Longrun-Task: T1").is_empty());
        assert!(parse_trailers("Longrun-Task: T1\nLongrun-Attempt: 1\n").is_empty());
        // Prose in the last paragraph: not a trailer block.
        assert!(parse_trailers("Title\n\nNote: this is prose\nand more prose\n").is_empty());
        // Trailers earlier in the body but not last: ignored.
        assert!(parse_trailers("Title\n\nLongrun-Task: T1\n\nclosing words\n").is_empty());
        // Continuations, trailing blank lines, CRLF, spacing around the colon.
        assert_eq!(
            parse_trailers(
                "Title\r\n\r\nbody\r\n\r\nKey : one\r\n  two\r\nOther:three\r\n\r\n\r\n"
            ),
            pairs(&[("Key", "one two"), ("Other", "three")])
        );
        // A continuation with nothing to continue.
        assert!(parse_trailers("Title\n\n  lead\nKey: v\n").is_empty());
        assert!(parse_trailers("").is_empty());
    }

    #[test]
    fn parses_log_records() {
        let commit = "c".repeat(40);
        let tree = "d".repeat(40);
        let other = "e".repeat(40);
        let output = format!(
            "{commit}\u{1f}{tree}\u{1f}{other} {commit}\u{1f}Merge T1\n\nlongrun-task: T1\nLongrun-Attempt: x\n\0\
             \n{other}\u{1f}{tree}\u{1f}{commit}\u{1f}Mentions Longrun-Task: in prose\n\0\
             {other}\u{1f}{tree}\u{1f}\u{1f}Root\n\nLongrun-Task: T0\nLongrun-Attempt: 1\nLongrun-Token: tok\nLongrun-Validated: {tree}\n\0"
        );
        let tasks = parse_completed_tasks(output.as_bytes()).unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].task, "T1");
        assert_eq!(tasks[0].attempt, None);
        assert_eq!(tasks[0].token, None);
        assert_eq!(tasks[0].parents, vec![other.clone(), commit.clone()]);
        assert_eq!(
            tasks[1],
            CompletedTask {
                task: "T0".into(),
                attempt: Some(1),
                token: Some("tok".into()),
                validated_tree: Some(tree.clone()),
                commit: other.clone(),
                tree: tree.clone(),
                parents: vec![],
            }
        );
        assert!(parse_completed_tasks(b"not a record\0").is_err());
        assert!(parse_completed_tasks(b"").unwrap().is_empty());
    }

    #[test]
    fn git_agrees_with_the_trailer_format() {
        let repo = TestRepo::new();
        let message = sample().message("Merge T003").unwrap();
        let head = repo.head(&repo.primary);
        let tree = tree_of(&repo.primary, &head).unwrap();
        let commit =
            create_merge_commit(&repo.primary, &tree, &[&head], &message, &identity()).unwrap();
        let parsed_by_git = run_git(
            &repo.primary,
            [
                "show",
                "--no-patch",
                "--format=%(trailers:only,separator=%x00)",
                &commit,
            ],
        )
        .unwrap();
        let ours: Vec<String> = parse_trailers(&message)
            .into_iter()
            .map(|(key, value)| format!("{key}: {value}"))
            .collect();
        assert_eq!(
            parsed_by_git.trim_end().split('\0').collect::<Vec<_>>(),
            ours
        );
    }

    #[test]
    fn completed_tasks_finds_merges_on_the_first_parent_line_only_when_asked() {
        let repo = TestRepo::new();
        let me = identity();
        let base = repo.head(&repo.primary);
        let tree = tree_of(&repo.primary, &base).unwrap();

        // A forged record on a task branch, reachable only as a second parent.
        let forged_message = TaskTrailers {
            task: "T9".into(),
            ..sample()
        }
        .message("I am done, trust me")
        .unwrap();
        let forged =
            create_merge_commit(&repo.primary, &tree, &[&base], &forged_message, &me).unwrap();
        let real = TaskTrailers {
            validated_tree: tree.clone(),
            ..sample()
        };
        let merge = create_merge_commit(
            &repo.primary,
            &tree,
            &[&base, &forged],
            &real.message("Merge T003").unwrap(),
            &me,
        )
        .unwrap();
        run_git(
            &repo.primary,
            ["update-ref", "refs/heads/main", &merge, &base],
        )
        .unwrap();

        let first_parent =
            completed_tasks(&repo.primary, "refs/heads/main", History::FirstParent).unwrap();
        assert_eq!(first_parent.len(), 1);
        assert_eq!(first_parent[0].task, "T003");
        assert_eq!(first_parent[0].attempt, Some(2));
        assert_eq!(
            first_parent[0].validated_tree.as_deref(),
            Some(tree.as_str())
        );
        assert_eq!(first_parent[0].tree, tree);
        assert_eq!(first_parent[0].commit, merge);
        assert_eq!(first_parent[0].parents, vec![base.clone(), forged.clone()]);

        let reachable =
            completed_tasks(&repo.primary, "refs/heads/main", History::Reachable).unwrap();
        let tasks: Vec<_> = reachable.iter().map(|task| task.task.as_str()).collect();
        assert_eq!(tasks, ["T003", "T9"]);

        assert!(completed_tasks(&repo.primary, "refs/heads/nope", History::Reachable).is_err());
    }
}
