//! Talking to a remote for several machines: fetch the target branch before merging, push the
//! merge with a lease so that exactly one machine wins a race. Owns the parser of
//! `git push --porcelain`.
//!
//! Credentials and transport are git's business: prompts are off (`GIT_TERMINAL_PROMPT=0`),
//! so a remote that needs a password fails instead of hanging a cron job. Nothing here
//! retries; a rejected push is an outcome and the cycle decides (fetch, re-merge, re-validate).

use std::path::Path;

use super::{GitError, check_object_id, run_git, run_git_output};

/// What became of a leased push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote ref now points at the pushed commit.
    Accepted,
    /// The remote ref already pointed at the pushed commit. git reports this before checking
    /// the lease, so it also happens when the lease was stale.
    UpToDate,
    Rejected {
        kind: RejectKind,
        reason: String,
    },
}

/// Why a push was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// The remote ref is not where the lease said (`stale info`), or moved on without us
    /// (`fetch first`, `non-fast-forward`): someone else pushed first.
    Moved,
    /// The remote refused it (a hook, a protected branch).
    RemoteRejected,
    /// Anything else git reported for the ref.
    Other,
}

/// One ref line of `git push --porcelain`: `<flag>\t<from>:<to>\t<summary>[ (<reason>)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRefStatus {
    /// ` ` fast-forward, `+` forced, `-` deleted, `*` new, `=` up to date, `!` rejected.
    pub flag: char,
    pub from: String,
    pub to: String,
    pub summary: String,
    pub reason: Option<String>,
}

/// Fetches `refspecs` from `remote` (a remote name or URL), without tags or submodules.
pub fn fetch(dir: &Path, remote: &str, refspecs: &[&str]) -> Result<(), GitError> {
    let mut args = vec![
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-recurse-submodules",
        "--no-write-fetch-head",
        "--",
        remote,
    ];
    args.extend_from_slice(refspecs);
    run_git(dir, args).map(|_| ())
}

/// Pushes `local_commit` to `remote_ref` (a full ref, e.g. `refs/heads/main`) on `remote`,
/// only if the remote ref is at `expected_old` (`None`: only if it does not exist yet).
pub fn push_with_lease(
    dir: &Path,
    remote: &str,
    local_commit: &str,
    remote_ref: &str,
    expected_old: Option<&str>,
) -> Result<PushOutcome, GitError> {
    check_object_id("local commit", local_commit)?;
    if let Some(old) = expected_old {
        check_object_id("expected old commit", old)?;
    }
    if !remote_ref.starts_with("refs/") || remote_ref.contains(':') {
        return Err(GitError::InvalidArgument {
            what: "remote ref",
            value: remote_ref.to_string(),
            reason: "expected a full ref name such as `refs/heads/main`",
        });
    }
    let lease = format!(
        "--force-with-lease={remote_ref}:{}",
        expected_old.unwrap_or_default()
    );
    let refspec = format!("{local_commit}:{remote_ref}");
    let output = run_git_output(
        dir,
        [
            "push",
            "--porcelain",
            "--no-recurse-submodules",
            &lease,
            "--",
            remote,
            &refspec,
        ],
    )?;
    let statuses = parse_push_porcelain(&output.stdout_text());
    let Some(status) = statuses.into_iter().find(|status| status.to == remote_ref) else {
        // No line for our ref: the push never got that far (no such remote, network).
        return Err(if output.success() {
            output.unexpected(format!("no status line for `{remote_ref}`"))
        } else {
            output.to_error()
        });
    };
    Ok(match status.flag {
        ' ' | '+' | '*' => PushOutcome::Accepted,
        '=' => PushOutcome::UpToDate,
        _ => {
            let reason = status.reason.unwrap_or(status.summary.clone());
            let kind = if status.summary.contains("remote rejected") {
                RejectKind::RemoteRejected
            } else if ["stale info", "fetch first", "non-fast-forward"].contains(&reason.as_str()) {
                RejectKind::Moved
            } else {
                RejectKind::Other
            };
            PushOutcome::Rejected { kind, reason }
        }
    })
}

/// Parses the ref lines of `git push --porcelain` stdout; `To <url>` and `Done` lines are
/// skipped.
pub fn parse_push_porcelain(stdout: &str) -> Vec<PushRefStatus> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let flag_field = fields.next()?;
            let refs = fields.next()?;
            let rest = fields.next()?;
            let mut flag_chars = flag_field.chars();
            let flag = flag_chars.next()?;
            if flag_chars.next().is_some() {
                return None;
            }
            // The source side may be empty (a deletion) but the separator is always there.
            let (from, to) = refs.rsplit_once(':')?;
            let (summary, reason) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once(" (")) {
                Some((summary, reason)) => (summary.to_string(), Some(reason.to_string())),
                None => (rest.to_string(), None),
            };
            Some(PushRefStatus {
                flag,
                from: from.to_string(),
                to: to.to_string(),
                summary,
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testutil::TestRepo;
    use crate::git::{rev_parse, run_git};

    #[test]
    fn parses_push_porcelain_lines() {
        let stdout = "To ../remote.git\n\
                      !\tHEAD~1:refs/heads/main\t[rejected] (stale info)\n\
                      +\tabc:refs/heads/forced\t4727023...bae2124 (forced update)\n\
                      *\tHEAD:refs/heads/new\t[new branch]\n\
                      =\tabc:refs/heads/same\t[up to date]\n\
                      \x20\tabc:refs/heads/ff\tbae2124..4727023\n\
                      !\tabc:refs/heads/hooked\t[remote rejected] (pre-receive hook declined)\n\
                      -\t:refs/heads/gone\t[deleted]\n\
                      Done\n";
        let statuses = parse_push_porcelain(stdout);
        assert_eq!(statuses.len(), 7);
        assert_eq!(
            statuses[0],
            PushRefStatus {
                flag: '!',
                from: "HEAD~1".into(),
                to: "refs/heads/main".into(),
                summary: "[rejected]".into(),
                reason: Some("stale info".into()),
            }
        );
        assert_eq!(statuses[1].reason.as_deref(), Some("forced update"));
        assert_eq!(statuses[2].summary, "[new branch]");
        assert_eq!(statuses[2].reason, None);
        assert_eq!(statuses[3].flag, '=');
        assert_eq!(statuses[4].flag, ' ');
        assert_eq!(statuses[4].summary, "bae2124..4727023");
        assert_eq!(statuses[5].summary, "[remote rejected]");
        assert_eq!(statuses[6].from, "");
        assert_eq!(statuses[6].to, "refs/heads/gone");
        assert!(parse_push_porcelain("To x\nDone\n").is_empty());
    }

    #[test]
    fn leased_push_and_fetch_against_a_bare_remote() {
        let repo = TestRepo::new();
        let remote = repo.root.join("remote.git");
        std::fs::create_dir(&remote).unwrap();
        run_git(&remote, ["init", "--quiet", "--bare"]).unwrap();
        let remote_url = remote.to_str().unwrap();
        let first = repo.head(&repo.primary);

        // Create-only: succeeds once, then the ref exists.
        assert_eq!(
            push_with_lease(&repo.primary, remote_url, &first, "refs/heads/main", None).unwrap(),
            PushOutcome::Accepted
        );
        repo.write("a.txt", "a\n");
        let second = repo.commit_everything(&repo.primary, "second");
        assert_eq!(
            push_with_lease(&repo.primary, remote_url, &second, "refs/heads/main", None).unwrap(),
            PushOutcome::Rejected {
                kind: RejectKind::Moved,
                reason: "stale info".into()
            }
        );
        // With the right lease it lands; pushing it again is up to date.
        assert_eq!(
            push_with_lease(
                &repo.primary,
                remote_url,
                &second,
                "refs/heads/main",
                Some(&first)
            )
            .unwrap(),
            PushOutcome::Accepted
        );
        assert_eq!(
            push_with_lease(
                &repo.primary,
                remote_url,
                &second,
                "refs/heads/main",
                Some(&second)
            )
            .unwrap(),
            PushOutcome::UpToDate
        );
        // A stale lease is refused and the remote keeps its value.
        repo.write("b.txt", "b\n");
        let third = repo.commit_everything(&repo.primary, "third");
        assert!(matches!(
            push_with_lease(
                &repo.primary,
                remote_url,
                &third,
                "refs/heads/main",
                Some(&first)
            )
            .unwrap(),
            PushOutcome::Rejected {
                kind: RejectKind::Moved,
                ..
            }
        ));
        assert_eq!(
            rev_parse(&remote, "refs/heads/main").unwrap(),
            Some(second.clone())
        );

        fetch(
            &repo.primary,
            remote_url,
            &["+refs/heads/main:refs/remotes/origin/main"],
        )
        .unwrap();
        assert_eq!(
            rev_parse(&repo.primary, "refs/remotes/origin/main").unwrap(),
            Some(second)
        );

        let missing = repo.root.join("missing.git");
        let missing = missing.to_str().unwrap();
        assert!(push_with_lease(&repo.primary, missing, &third, "refs/heads/main", None).is_err());
        assert!(fetch(&repo.primary, missing, &["refs/heads/main"]).is_err());
        assert!(push_with_lease(&repo.primary, remote_url, &third, "main", None).is_err());
    }
}
