//! Questions about a repository: what a revision names, which commit descends from which,
//! where the common directory and the primary checkout are, which branches exist. Also the
//! deletion of a branch. Read-only apart from [`branch_delete`]; nothing here touches a
//! working tree.

use std::path::{Path, PathBuf};

use super::{
    GitError, check_branch_name, check_object_id, path_from_bytes, run_git_output,
    run_git_with_input, worktree,
};

/// A local branch and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// The short name, without `refs/heads/`.
    pub name: String,
    pub commit: String,
}

/// The full commit id `rev` names, or `None` when it names nothing or something that is not
/// a commit (`rev-parse --verify --quiet <rev>^{commit}`).
pub fn rev_parse(dir: &Path, rev: &str) -> Result<Option<String>, GitError> {
    peel(dir, rev, "commit")
}

/// A value of git's configuration as seen from `dir` (`git config --get <key>`), `None`
/// when unset.
pub fn config_value(dir: &Path, key: &str) -> Result<Option<String>, GitError> {
    let output = run_git_output(dir, ["config", "--get", "--", key])?;
    if !output.success() {
        return Ok(None);
    }
    let value = output.stdout_text().trim().to_string();
    Ok((!value.is_empty()).then_some(value))
}

/// The tree id of `commit`; an error when `commit` does not name a commit.
pub fn tree_of(dir: &Path, commit: &str) -> Result<String, GitError> {
    peel(dir, commit, "tree")?.ok_or_else(|| GitError::Unexpected {
        args: format!("rev-parse --verify --quiet {commit}^{{tree}}"),
        dir: dir.to_path_buf(),
        detail: format!("`{commit}` does not name a commit"),
    })
}

fn peel(dir: &Path, rev: &str, kind: &str) -> Result<Option<String>, GitError> {
    // A branch or a checkout's HEAD: the ref files answer without a git process.
    if kind == "commit" {
        match super::refs::read(dir, rev) {
            Some(super::refs::RefValue::Object(id)) => return Ok(Some(id)),
            Some(super::refs::RefValue::Missing) => return Ok(None),
            None => {}
        }
    }
    let spec = format!("{rev}^{{{kind}}}");
    // `--end-of-options`: a revision from the caller that starts with `-` is a revision, not
    // an option (plain `--` would make rev-parse treat what follows as paths).
    let output = run_git_output(
        dir,
        [
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )?;
    match output.code() {
        Some(0) => {
            let id = output.stdout_text().trim().to_string();
            check_object_id("object id from rev-parse", &id)
                .map_err(|_| output.unexpected(format!("expected an object id, got `{id}`")))?;
            Ok(Some(id))
        }
        // `--verify --quiet` exits 1 when the revision does not resolve to a `kind` (no such
        // revision, or one that peels to a tree or a blob); git dies with 128 for real
        // failures (not a repository, a corrupt object).
        Some(1) => Ok(None),
        _ => Err(output.to_error()),
    }
}

/// True when `ancestor` is `descendant` or one of its ancestors (`merge-base --is-ancestor`).
pub fn is_ancestor(dir: &Path, ancestor: &str, descendant: &str) -> Result<bool, GitError> {
    check_object_id("commit", ancestor)?;
    check_object_id("commit", descendant)?;
    let output = run_git_output(
        dir,
        ["merge-base", "--is-ancestor", "--", ancestor, descendant],
    )?;
    match output.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(output.to_error()),
    }
}

/// The best common ancestor of two commits (`git merge-base`), or `None` when they share
/// no history.
pub fn merge_base(dir: &Path, one: &str, other: &str) -> Result<Option<String>, GitError> {
    check_object_id("commit", one)?;
    check_object_id("commit", other)?;
    let output = run_git_output(dir, ["merge-base", "--", one, other])?;
    match output.code() {
        Some(0) => {
            let id = output.stdout_text().trim().to_string();
            check_object_id("merge base", &id)
                .map_err(|_| output.unexpected(format!("expected a commit id, got `{id}`")))?;
            Ok(Some(id))
        }
        Some(1) if output.stdout.is_empty() => Ok(None),
        _ => Err(output.to_error()),
    }
}

/// Up to this many commits are asked of `git cat-file --batch-check` directly; more are
/// looked up in one walk of the branches' first-parent history first. An abbreviated id
/// costs `cat-file` about 40 µs (git first tries it as a ref name, a dozen failed `stat`s),
/// so 20,000 of them take 0.8 s, while walking 20,000 commits takes 0.16 s.
const BATCH_CHECK_LIMIT: usize = 1000;

/// The first parent of each of `commits` (full or abbreviated ids, as a run log writes
/// them), in order. `None` for an id that is not hexadecimal, names nothing, is ambiguous or
/// names a root commit.
///
/// One git process in the common case: `cat-file --batch-check` for a few commits, or for
/// many, one `git log --first-parent` over `branches` (where merged commits are), matched by
/// prefix; only commits the walk did not meet (a rewritten branch) are then asked of
/// `cat-file`.
pub fn first_parents(
    dir: &Path,
    branches: &[&str],
    commits: &[&str],
) -> Result<Vec<Option<String>>, GitError> {
    first_parents_with_limit(dir, branches, commits, BATCH_CHECK_LIMIT)
}

fn first_parents_with_limit(
    dir: &Path,
    branches: &[&str],
    commits: &[&str],
    batch_limit: usize,
) -> Result<Vec<Option<String>>, GitError> {
    let is_id =
        |id: &str| (4..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit());
    let mut parents = vec![None; commits.len()];
    let mut left: Vec<usize> = (0..commits.len()).filter(|&i| is_id(commits[i])).collect();
    let branches: Vec<&str> = branches
        .iter()
        .copied()
        .filter(|branch| check_branch_name(branch).is_ok())
        .collect();
    if left.len() > batch_limit && !branches.is_empty() {
        let mut wanted: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::new();
        for &index in &left {
            wanted
                .entry(commits[index].to_ascii_lowercase())
                .or_default()
                .push(index);
        }
        let mut lengths: Vec<usize> = wanted.keys().map(String::len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        let mut args = vec![
            "log".to_string(),
            "--first-parent".to_string(),
            "--format=%H %P".to_string(),
            "--end-of-options".to_string(),
        ];
        args.extend(branches.iter().map(|branch| format!("refs/heads/{branch}")));
        args.push("--".to_string());
        let output = run_git_output(dir, &args)?;
        // A branch that no longer exists makes the walk fail: `cat-file` answers instead.
        if output.success() {
            for (id, parent) in parse_commit_parents(&output.stdout_text()) {
                for &length in &lengths {
                    if let Some(indices) = id.get(..length).and_then(|prefix| wanted.remove(prefix))
                    {
                        for index in indices {
                            parents[index] = parent.map(str::to_string);
                        }
                    }
                }
                if wanted.is_empty() {
                    break;
                }
            }
            left = wanted.into_values().flatten().collect();
            left.sort_unstable();
        }
    }
    if left.is_empty() {
        return Ok(parents);
    }
    let input: String = left
        .iter()
        .map(|&index| format!("{}^1\n", commits[index]))
        .collect();
    let output = run_git_with_input(
        dir,
        [
            "cat-file",
            "--buffer",
            "--batch-check=%(objectname) %(objecttype)",
        ],
        input.as_bytes(),
    )?;
    if !output.success() {
        return Err(output.to_error());
    }
    let answers = parse_batch_check_commits(&output.stdout_text());
    if answers.len() != left.len() {
        return Err(output.unexpected(format!(
            "{} answer(s) to {} question(s)",
            answers.len(),
            left.len()
        )));
    }
    for (index, answer) in left.into_iter().zip(answers) {
        parents[index] = answer;
    }
    Ok(parents)
}

/// Reads `git log --format='%H %P'` output: each commit with its first parent (`None` for a
/// root commit).
pub fn parse_commit_parents(stdout: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    stdout.lines().filter_map(|line| {
        let mut words = line.split(' ');
        let id = words.next().filter(|id| !id.is_empty())?;
        Some((id, words.next().filter(|parent| !parent.is_empty())))
    })
}

/// Reads `git cat-file --batch-check='%(objectname) %(objecttype)'` output: one answer per
/// line, the id when it names a commit (`<id> commit`), `None` otherwise (`<rev> missing`,
/// `<rev> ambiguous`, another type).
pub fn parse_batch_check_commits(stdout: &str) -> Vec<Option<String>> {
    stdout
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((id, "commit")) if check_object_id("commit", id).is_ok() => Some(id.to_string()),
            _ => None,
        })
        .collect()
}

/// The repository's common directory (the primary checkout's `.git`, or the bare repository),
/// the same from every worktree. Claims and runtime files that all worktrees share live
/// relative to it.
pub fn common_dir(dir: &Path) -> Result<PathBuf, GitError> {
    let output = run_git_output(
        dir,
        ["rev-parse", "--path-format=absolute", "--git-common-dir"],
    )?
    .into_result()?;
    let mut bytes = output.stdout.as_slice();
    while let Some((last, rest)) = bytes.split_last() {
        if *last == b'\n' || *last == b'\r' {
            bytes = rest;
        } else {
            break;
        }
    }
    if bytes.is_empty() {
        return Err(output.unexpected("no common directory in the output"));
    }
    Ok(path_from_bytes(bytes))
}

/// The primary checkout (the main worktree) of the repository `dir` belongs to, from any of
/// its worktrees; `None` for a bare repository.
pub fn primary_checkout(dir: &Path) -> Result<Option<PathBuf>, GitError> {
    // git lists the main worktree first, also when `core.worktree` puts it somewhere other
    // than next to the common directory.
    let worktrees = worktree::worktree_list(dir)?;
    Ok(worktrees
        .into_iter()
        .next()
        .filter(|main| !main.bare)
        .map(|main| main.path))
}

/// The local branches whose short name starts with `prefix` (all branches for `""`), in
/// refname order.
pub fn list_branches(dir: &Path, prefix: &str) -> Result<Vec<Branch>, GitError> {
    let output = run_git_output(
        dir,
        [
            "for-each-ref",
            "--format=%(objectname)%00%(refname)",
            "--",
            "refs/heads/",
        ],
    )?
    .into_result()?;
    let branches = parse_branch_list(&output.stdout).map_err(|detail| output.unexpected(detail))?;
    // Filtered here, not by a for-each-ref pattern: patterns match whole path components, so
    // `longrun/T` would not find `longrun/T1`.
    Ok(branches
        .into_iter()
        .filter(|branch| branch.name.starts_with(prefix))
        .collect())
}

/// Parses `for-each-ref --format=%(objectname)%00%(refname)` output for `refs/heads/`: one
/// line per ref (ref names cannot hold a newline or NUL).
pub fn parse_branch_list(output: &[u8]) -> Result<Vec<Branch>, String> {
    let text = String::from_utf8_lossy(output);
    let mut branches = Vec::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        let (commit, refname) = line
            .split_once('\0')
            .ok_or_else(|| format!("no NUL separator in `{line}`"))?;
        let name = refname
            .strip_prefix("refs/heads/")
            .ok_or_else(|| format!("`{refname}` is not under refs/heads/"))?;
        branches.push(Branch {
            name: name.to_string(),
            commit: commit.to_string(),
        });
    }
    Ok(branches)
}

/// Deletes a local branch. Without `force`, git refuses a branch not merged into the
/// checked-out branch of `dir`; with or without, it refuses a branch checked out in any
/// worktree. Returns false when the branch did not exist, so a retried cleanup succeeds.
pub fn branch_delete(dir: &Path, branch: &str, force: bool) -> Result<bool, GitError> {
    check_branch_name(branch)?;
    let flag = if force { "-D" } else { "-d" };
    let output = run_git_output(dir, ["branch", "--quiet", flag, "--", branch])?;
    if output.success() {
        return Ok(true);
    }
    // Only then ask why: a branch that is not there is not an error.
    if rev_parse(dir, &format!("refs/heads/{branch}"))?.is_none() {
        return Ok(false);
    }
    output.into_result().map(|_| true)
}

/// Deletes `branches` (merged or not) with one git process; each missing or checked-out
/// one is skipped, the others are still deleted. Best effort: the caller does not need
/// them gone (`gc` removes leftovers).
pub fn branches_delete(dir: &Path, branches: &[String]) -> Result<(), GitError> {
    if branches.is_empty() {
        return Ok(());
    }
    let mut args: Vec<&str> = vec!["branch", "--quiet", "-D", "--"];
    for branch in branches {
        check_branch_name(branch)?;
        args.push(branch);
    }
    run_git_output(dir, args).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::run_git;
    use crate::git::testutil::TestRepo;

    #[test]
    fn branch_list_parses_names_and_commits() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let output = format!("{a}\0refs/heads/longrun/T1\n{b}\0refs/heads/main\n");
        let branches = parse_branch_list(output.as_bytes()).unwrap();
        assert_eq!(
            branches,
            vec![
                Branch {
                    name: "longrun/T1".into(),
                    commit: a
                },
                Branch {
                    name: "main".into(),
                    commit: b
                },
            ]
        );
        assert!(parse_branch_list(b"garbage\n").is_err());
        assert_eq!(parse_branch_list(b"").unwrap(), vec![]);
    }

    #[test]
    fn rev_parse_answers_none_for_missing_and_non_commits() {
        let repo = TestRepo::new();
        let head = repo.head(&repo.primary);
        assert_eq!(
            rev_parse(&repo.primary, "main").unwrap(),
            Some(head.clone())
        );
        assert_eq!(rev_parse(&repo.primary, "no-such-branch").unwrap(), None);
        assert_eq!(rev_parse(&repo.primary, "--all").unwrap(), None);
        let tree = tree_of(&repo.primary, &head).unwrap();
        assert_ne!(tree, head);
        // A tree is not a commit.
        assert_eq!(rev_parse(&repo.primary, &tree).unwrap(), None);
        assert!(tree_of(&repo.primary, "no-such-branch").is_err());
    }

    #[test]
    fn first_parents_answer_many_commits_in_order_by_batch_or_by_walk() {
        let repo = TestRepo::new();
        let first = repo.head(&repo.primary);
        repo.write("a.txt", "a\n");
        let second = repo.commit_everything(&repo.primary, "second");
        repo.write("b.txt", "b\n");
        let third = repo.commit_everything(&repo.primary, "third");
        // Not on `main`'s first-parent history: only `cat-file` finds it.
        run_git(&repo.primary, ["checkout", "-q", "-b", "side"]).unwrap();
        repo.write("c.txt", "c\n");
        let side = repo.commit_everything(&repo.primary, "side");
        let asked = [
            &third[..10],
            "not-hex",
            &first,
            "0000000000",
            &second,
            "",
            &third,
            &side[..12],
        ];
        let expected = [
            Some(second.clone()),
            None,
            None, // a root commit has no parent
            None, // names nothing
            Some(first.clone()),
            None,
            Some(second.clone()),
            Some(third.clone()),
        ];
        for limit in [0, BATCH_CHECK_LIMIT] {
            assert_eq!(
                first_parents_with_limit(&repo.primary, &["main"], &asked, limit).unwrap(),
                expected,
                "limit {limit}"
            );
        }
        // A branch that is gone: `cat-file` answers everything.
        assert_eq!(
            first_parents_with_limit(&repo.primary, &["gone"], &asked, 0).unwrap(),
            expected
        );
        assert_eq!(first_parents(&repo.primary, &["main"], &[]).unwrap(), []);
        let many: Vec<&str> = std::iter::repeat_n(&third[..10], 5000).collect();
        let answers = first_parents(&repo.primary, &["main"], &many).unwrap();
        assert_eq!(answers.len(), 5000);
        assert!(
            answers
                .iter()
                .all(|a| a.as_deref() == Some(second.as_str()))
        );
    }

    #[test]
    fn log_parents_parse_roots_and_merges() {
        let parsed: Vec<_> = parse_commit_parents("a b c\nd e\nf\n\n").collect();
        assert_eq!(parsed, [("a", Some("b")), ("d", Some("e")), ("f", None)]);
    }

    #[test]
    fn batch_check_output_parses_commits_only() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        assert_eq!(
            parse_batch_check_commits(&format!(
                "{a} commit\nabc^1 missing\n{b} tree\nab^1 ambiguous\n"
            )),
            [Some(a), None, None, None]
        );
    }

    #[test]
    fn rev_parse_outside_a_repository_is_an_error() {
        let temp = tempfile::tempdir().unwrap();
        assert!(rev_parse(temp.path(), "HEAD").is_err());
    }

    #[test]
    fn ancestry_common_dir_primary_and_branches() {
        let repo = TestRepo::new();
        let first = repo.head(&repo.primary);
        repo.write("a.txt", "a\n");
        let second = repo.commit_everything(&repo.primary, "second");
        assert!(is_ancestor(&repo.primary, &first, &second).unwrap());
        assert!(!is_ancestor(&repo.primary, &second, &first).unwrap());
        assert!(is_ancestor(&repo.primary, &second, &second).unwrap());
        assert!(is_ancestor(&repo.primary, "HEAD", &second).is_err());

        assert_eq!(
            common_dir(&repo.primary).unwrap(),
            repo.primary.join(".git")
        );
        assert_eq!(
            primary_checkout(&repo.primary).unwrap(),
            Some(repo.primary.clone())
        );

        run_git(&repo.primary, ["branch", "longrun/T1", &first]).unwrap();
        run_git(&repo.primary, ["branch", "longrun/T2", &second]).unwrap();
        let branches = list_branches(&repo.primary, "longrun/").unwrap();
        let names: Vec<_> = branches.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["longrun/T1", "longrun/T2"]);
        assert_eq!(branches[0].commit, first);
        assert_eq!(list_branches(&repo.primary, "").unwrap().len(), 3);

        // T1 is merged into main (an ancestor), so -d deletes it; a retry finds nothing.
        assert!(branch_delete(&repo.primary, "longrun/T1", false).unwrap());
        assert!(!branch_delete(&repo.primary, "longrun/T1", false).unwrap());
        // The checked-out branch cannot be deleted, forced or not.
        assert!(branch_delete(&repo.primary, "main", true).is_err());
        assert!(branch_delete(&repo.primary, "-D", true).is_err());
    }

    #[test]
    fn unmerged_branches_need_force() {
        let repo = TestRepo::new();
        let base = repo.head(&repo.primary);
        run_git(&repo.primary, ["checkout", "--quiet", "-b", "side"]).unwrap();
        repo.write("side.txt", "side\n");
        repo.commit_everything(&repo.primary, "side");
        run_git(&repo.primary, ["checkout", "--quiet", "main"]).unwrap();
        assert_eq!(repo.head(&repo.primary), base);
        assert!(branch_delete(&repo.primary, "side", false).is_err());
        assert!(branch_delete(&repo.primary, "side", true).unwrap());
    }

    #[test]
    fn merge_base_of_forks_and_of_unrelated_histories() {
        let repo = TestRepo::new();
        let base = repo.head(&repo.primary);
        repo.write("a.txt", "a\n");
        let main = repo.commit_everything(&repo.primary, "a");
        run_git(&repo.primary, ["checkout", "--quiet", "-b", "side", &base]).unwrap();
        repo.write("b.txt", "b\n");
        let side = repo.commit_everything(&repo.primary, "b");
        assert_eq!(
            merge_base(&repo.primary, &main, &side).unwrap(),
            Some(base.clone())
        );
        assert_eq!(merge_base(&repo.primary, &base, &side).unwrap(), Some(base));
        run_git(&repo.primary, ["checkout", "--quiet", "--orphan", "other"]).unwrap();
        let other = repo.commit_everything(&repo.primary, "unrelated");
        assert_eq!(merge_base(&repo.primary, &main, &other).unwrap(), None);
        assert!(merge_base(&repo.primary, "HEAD", &main).is_err());
    }

    #[test]
    fn several_branches_go_in_one_call_past_missing_and_checked_out_ones() {
        let repo = TestRepo::new();
        for branch in ["longrun/T1", "longrun/T2"] {
            run_git(&repo.primary, ["branch", branch]).unwrap();
        }
        let names = ["longrun/T1", "longrun/gone", "main", "longrun/T2"].map(String::from);
        branches_delete(&repo.primary, &names).unwrap();
        let left = list_branches(&repo.primary, "").unwrap();
        let left: Vec<_> = left.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(left, ["main"]);
        assert!(branches_delete(&repo.primary, &["-D".to_string()]).is_err());
    }
}
