//! `longrun plan --agent`: the planner agent, run in a scratch git worktree made from HEAD
//! (never in the user's checkout), with the user's current `plan.md`, `checklist.yaml`,
//! `run-log.md` and the PRD copied in, and what it left there afterwards.
//!
//! This module sets the scratch up, runs the agent through [`crate::oneshot`], and reads the
//! three files back. It decides nothing about them: the command holds them to `longrun
//! check`'s checks and to [`run_log_kept`] before anything in the workspace is replaced. It
//! never prints, never reads the environment, and runs git only through [`crate::git`].

use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::config::{Config, Profile};
use crate::fsutil::{self, FsError, MAX_STATE_FILE_BYTES};
use crate::oneshot::{self, OneShot, OneShotError, OneShotRun};

/// The files a planner writes, in the order they are shown.
pub const PLAN_FILES: [&str; 3] = ["plan.md", "checklist.yaml", "run-log.md"];

/// Where a PRD from outside the repository is put in the scratch worktree.
const OUTSIDE_PRD_DIR: &str = ".longrun-prd";

/// What to run and where.
pub struct PlannerOptions<'a> {
    /// The primary checkout (the workspace root).
    pub primary: &'a Path,
    /// The PRD, absolute, and its text (already read and bounded by the caller).
    pub prd: &'a Path,
    pub prd_text: &'a str,
    /// `.longrun/plans/<stamp>`: the scratch worktree (`worktree/`), the prompt and the
    /// agent's output (`run/`).
    pub out_dir: &'a Path,
    /// The profile's name and the profile.
    pub name: &'a str,
    pub profile: &'a Profile,
    pub config: &'a Config,
    pub caller_env: &'a [(String, String)],
    pub clock: Clock,
}

/// One of [`PLAN_FILES`] before and after the planner: `None` when the file is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFile {
    pub name: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl PlanFile {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// What the planner did.
#[derive(Debug)]
pub struct PlannerRun {
    /// The scratch worktree; the caller removes it or keeps it for a person to look at.
    pub worktree: PathBuf,
    pub run: OneShotRun,
    /// [`PLAN_FILES`], before and after. `after` is read only when the agent finished
    /// cleanly; otherwise it equals `before`.
    pub files: Vec<PlanFile>,
}

/// Why the planner could not run.
#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    #[error("the repository has no commit to make the planner's scratch worktree from")]
    NoHead,
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    #[error(transparent)]
    File(#[from] FsError),
    #[error(transparent)]
    Agent(#[from] OneShotError),
}

/// Reads the user's [`PLAN_FILES`] as they are now (`None` for a missing file).
pub fn read_plan_files(primary: &Path) -> Result<Vec<Option<String>>, FsError> {
    PLAN_FILES
        .iter()
        .map(|name| read_optional(&primary.join(name)))
        .collect()
}

/// Makes the scratch worktree at HEAD, puts `before` (the user's current files) and the
/// PRD in it, runs the planner there, and reads the files back.
pub fn run_planner(
    options: &PlannerOptions<'_>,
    before: &[Option<String>],
) -> Result<PlannerRun, PlannerError> {
    let head = crate::git::rev_parse(options.primary, "HEAD")?.ok_or(PlannerError::NoHead)?;
    let worktree = options.out_dir.join("worktree");
    std::fs::create_dir_all(options.out_dir).map_err(|source| FsError::Write {
        path: options.out_dir.to_path_buf(),
        source,
    })?;
    crate::git::worktree_add_detached(options.primary, &worktree, &head)?;
    // The user's files as they are now, committed or not: the planner starts from them.
    for (name, text) in PLAN_FILES.iter().zip(before) {
        let path = worktree.join(name);
        match text {
            Some(text) => fsutil::write_atomic(&path, text.as_bytes())?,
            None => {
                if path.exists() {
                    std::fs::remove_file(&path).map_err(|source| FsError::Write {
                        path: path.clone(),
                        source,
                    })?;
                }
            }
        }
    }
    let prd_relative = prd_in_worktree(options.primary, options.prd);
    let prd_path = worktree.join(&prd_relative);
    if let Some(parent) = prd_path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| FsError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    fsutil::write_atomic(&prd_path, options.prd_text.as_bytes())?;

    let now = options
        .clock
        .now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let prompt = crate::prompt::render_kickoff_prompt(&crate::prompt::KickoffInput {
        prd: &prd_relative.display().to_string(),
        now: &now,
    });
    let run = oneshot::run(
        &OneShot {
            name: options.name,
            profile: options.profile,
            config: options.config,
            caller_env: options.caller_env,
            workdir: &worktree,
            run_dir: &options.out_dir.join("run"),
            job: "plan",
            clock: options.clock,
        },
        &prompt,
    )?;
    let mut files = Vec::new();
    for (name, text) in PLAN_FILES.iter().zip(before) {
        let after = if run.failure.is_none() {
            read_optional(&worktree.join(name))?
        } else {
            text.clone()
        };
        files.push(PlanFile {
            name,
            before: text.clone(),
            after,
        });
    }
    Ok(PlannerRun {
        worktree,
        run,
        files,
    })
}

/// Removes a scratch worktree made by [`run_planner`].
pub fn remove_scratch(primary: &Path, worktree: &Path) -> Result<(), crate::git::GitError> {
    crate::git::worktree_remove(primary, worktree, true)
}

/// Where the PRD goes in the scratch worktree: the same relative path when it is inside the
/// repository, else `.longrun-prd/<file name>`.
pub fn prd_in_worktree(primary: &Path, prd: &Path) -> PathBuf {
    let inside = prd
        .strip_prefix(primary)
        .ok()
        .filter(|relative| {
            !relative.as_os_str().is_empty()
                && relative
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
                && !relative.starts_with(".longrun")
                && !relative.starts_with(".git")
        })
        .map(Path::to_path_buf);
    inside.unwrap_or_else(|| {
        Path::new(OUTSIDE_PRD_DIR).join(prd.file_name().unwrap_or("prd.md".as_ref()))
    })
}

/// Checks that `after` keeps every event of `before`, in order and byte for byte, and has an
/// Events section: the run log is append-only, for a planner too. The error names the line
/// of `before` whose event is gone or changed.
pub fn run_log_kept(before: &str, after: &str) -> Result<(), String> {
    let after_log = crate::state::runlog::parse(after);
    if after_log.events_section().is_none() {
        return Err("1:1: there is no `## Events` section".to_string());
    }
    let before_log = crate::state::runlog::parse(before);
    let before_lines: Vec<&str> = before.lines().collect();
    let after_lines: Vec<&str> = after.lines().collect();
    let mut kept = after_log
        .events
        .iter()
        .map(|event| after_lines.get(event.line - 1).copied().unwrap_or(""));
    for event in &before_log.events {
        let line = before_lines.get(event.line - 1).copied().unwrap_or("");
        if !kept.any(|candidate| candidate == line) {
            return Err(format!(
                "{}:1: the event on this line of the run log as it was is missing or changed (the run log is append-only): {line}",
                event.line
            ));
        }
    }
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<String>, FsError> {
    match fsutil::read_text(path, MAX_STATE_FILE_BYTES) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "# Run log\n\n## Context\n- Repo: x\n\n## Events (append-only)\n- 2026-11-20T10:00:00Z decision: one\n- 2026-11-20T11:00:00Z note: two\n\n## Follow-ups\n";

    #[test]
    fn a_run_log_may_only_grow() {
        let grown = LOG.replace(
            "note: two\n",
            "note: two\n- 2026-11-21T09:00:00Z decision: planned 3 tasks\n",
        );
        assert_eq!(run_log_kept(LOG, &grown), Ok(()));
        let filled = grown.replace("- Repo: x", "- Repo: x (the shop)");
        assert_eq!(run_log_kept(LOG, &filled), Ok(()));
        let edited = LOG.replace("decision: one", "decision: uno");
        let error = run_log_kept(LOG, &edited).unwrap_err();
        assert!(error.starts_with("7:1: "), "{error}");
        let reordered = LOG.replace(
            "- 2026-11-20T10:00:00Z decision: one\n- 2026-11-20T11:00:00Z note: two\n",
            "- 2026-11-20T11:00:00Z note: two\n- 2026-11-20T10:00:00Z decision: one\n",
        );
        assert!(run_log_kept(LOG, &reordered).is_err());
        assert!(
            run_log_kept(LOG, "# Run log\n")
                .unwrap_err()
                .contains("no `## Events` section")
        );
    }

    #[test]
    fn the_prd_keeps_its_place_inside_the_repository_only() {
        let root = Path::new("/repo");
        assert_eq!(
            prd_in_worktree(root, Path::new("/repo/docs/prd.md")),
            PathBuf::from("docs/prd.md")
        );
        assert_eq!(
            prd_in_worktree(root, Path::new("/elsewhere/spec.md")),
            PathBuf::from(".longrun-prd/spec.md")
        );
        assert_eq!(
            prd_in_worktree(root, Path::new("/repo/.longrun/x.md")),
            PathBuf::from(".longrun-prd/x.md")
        );
    }
}
