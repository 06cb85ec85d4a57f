//! `longrun gc`: what of the runtime leftovers can go. Run directories under
//! `.longrun/runs/<run>/`, task worktrees under the worktrees folder, `longrun/*` branches,
//! and git's metadata of worktrees whose folder is gone.
//!
//! Three steps: [`gather`] reads the facts (directories, claims, checklist statuses, git's
//! worktrees, branches and merge trailers), [`plan`] decides from those facts alone (pure,
//! unit-tested), [`apply`] carries the plan out. Work is never lost silently: a worktree with
//! uncommitted changes and a branch with commits the target branch does not have are kept
//! unless the caller forces, a worktree whose claim has a live holder is always kept, and
//! every decision carries its reason. Nothing here prints.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::Config;
use crate::cycle::CycleError;
use crate::git::{self, History};
use crate::state::checklist::{self, LoadOptions};
use crate::state::claims::ClaimStore;
use crate::state::model::TaskStatus;
use crate::workspace::Workspace;

/// The branch prefix of task branches.
pub const BRANCH_PREFIX: &str = "longrun/";

/// How run directories are named: the claim's time.
const RUN_NAME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// What the planner needs to know; everything it decides from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub target: String,
    /// Each task's status in checklist.yaml (`None`: an unknown word).
    pub statuses: HashMap<String, Option<TaskStatus>>,
    /// Tasks with a merge commit on the target branch.
    pub merged: HashSet<String>,
    /// Tasks with a claim file, and whether a live process holds it.
    pub claims: HashMap<String, bool>,
    pub runs: Vec<RunFact>,
    pub worktrees: Vec<WorktreeFact>,
    pub branches: Vec<BranchFact>,
    /// Registered worktrees whose folder is gone.
    pub stale_metadata: Vec<PathBuf>,
    /// When the current run started (`.longrun/run.json`), if one is open.
    pub run_started: Option<Timestamp>,
}

/// A folder `.longrun/runs/<run>/`.
#[derive(Debug, Clone)]
pub struct RunFact {
    pub path: PathBuf,
    /// From the folder name; `None` when the name is not a run time.
    pub started: Option<Timestamp>,
    /// The task folders inside.
    pub tasks: Vec<String>,
}

/// A folder in the worktrees folder.
#[derive(Debug, Clone)]
pub struct WorktreeFact {
    pub path: PathBuf,
    pub task: String,
    /// git knows it as a worktree.
    pub registered: bool,
    pub locked: bool,
    /// `Ok(true)`: modified or untracked files; `Err`: why its status could not be read.
    pub dirty: Result<bool, String>,
    /// Its checked-out branch.
    pub branch: Option<String>,
}

/// A `longrun/<task>` branch.
#[derive(Debug, Clone)]
pub struct BranchFact {
    pub name: String,
    pub task: String,
    /// Every commit of it is reachable from the target branch.
    pub merged: bool,
    /// A worktree outside the worktrees folder has it checked out (the primary checkout, or
    /// a person's own worktree).
    pub checked_out_elsewhere: Option<PathBuf>,
}

/// How [`plan`] decides.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    pub now: Timestamp,
    /// Run directories younger than this stay.
    pub older_than: Duration,
    /// Also remove dirty worktrees and unmerged branches.
    pub force: bool,
}

/// One thing gc looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    Run {
        path: PathBuf,
    },
    Worktree {
        path: PathBuf,
        task: String,
    },
    Branch {
        name: String,
        task: String,
    },
    /// Git's record of a worktree whose folder is gone (`git worktree prune`).
    StaleMetadata {
        path: PathBuf,
    },
}

/// What gc does with an item, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    #[serde(flatten)]
    pub item: Item,
    pub remove: bool,
    pub reason: String,
    /// A run directory kept only because it is younger than the cutoff (reported as a
    /// count, not one by one).
    #[serde(skip)]
    pub too_new: bool,
}

/// What [`apply`] did with a decision to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    #[serde(flatten)]
    pub decision: Decision,
    /// Why the removal failed, when it did.
    pub error: Option<String>,
}

/// Reads everything [`plan`] needs. Read-only.
pub fn gather(workspace: &Workspace, config: &Config, now: Timestamp) -> Result<Facts, CycleError> {
    let primary = workspace.root.clone();
    let target = crate::cycle::target_branch(config, &primary)?;
    let loaded = checklist::load(
        &workspace.checklist(),
        &LoadOptions {
            snapshot_path: Some(workspace.checklist_snapshot()),
        },
    )?;
    let statuses = loaded
        .checklist
        .tasks
        .iter()
        .map(|task| (task.task_id.clone(), task.status.effective()))
        .collect();
    let merged = match git::rev_parse(&primary, &format!("refs/heads/{target}"))? {
        Some(_) => git::completed_tasks(
            &primary,
            &format!("refs/heads/{target}"),
            History::FirstParent,
        )?
        .into_iter()
        .map(|done| done.task)
        .collect(),
        None => HashSet::new(),
    };
    let target_tip = git::rev_parse(&primary, &format!("refs/heads/{target}"))?;

    let mut claims = HashMap::new();
    for entry in ClaimStore::new(workspace.current_tasks()).list(now)? {
        if let Some(task) = &entry.task {
            claims.insert(task.to_string(), entry.holder_alive);
        }
    }

    let mut runs = Vec::new();
    let runs_dir = workspace.state_dir().join("runs");
    for (name, path) in subfolders(&runs_dir)? {
        let tasks = subfolders(&path)?
            .into_iter()
            .map(|(task, _)| task)
            .collect();
        runs.push(RunFact {
            started: run_time(&name),
            path,
            tasks,
        });
    }

    let worktrees_dir = if config.worktrees_dir.is_absolute() {
        config.worktrees_dir.clone()
    } else {
        primary.join(&config.worktrees_dir)
    };
    let registered = git::worktree_list(&primary)?;
    let mut stale_metadata = Vec::new();
    let mut by_path: HashMap<PathBuf, &git::WorktreeInfo> = HashMap::new();
    for info in &registered {
        if info.prunable.is_some() {
            stale_metadata.push(info.path.clone());
        } else {
            by_path.insert(info.path.clone(), info);
        }
    }
    let mut worktrees = Vec::new();
    // Parked worktrees (clean, detached, named by the merged task that used them last)
    // go like that task's own worktree would.
    let parked = subfolders(&workspace.state_dir().join(crate::cycle::POOL_DIR))?;
    for (task, path) in subfolders(&worktrees_dir)?.into_iter().chain(parked) {
        let info = by_path.get(&path).copied();
        let dirty = match info {
            Some(_) => git::status(&path)
                .map(|entries| !entries.is_empty())
                .map_err(|error| error.to_string()),
            None => Ok(false),
        };
        worktrees.push(WorktreeFact {
            registered: info.is_some(),
            locked: info.is_some_and(|info| info.locked.is_some()),
            branch: info.and_then(|info| info.branch.clone()),
            path,
            task,
            dirty,
        });
    }

    let mut branches = Vec::new();
    for branch in git::list_branches(&primary, BRANCH_PREFIX)? {
        let Some(task) = branch.name.strip_prefix(BRANCH_PREFIX) else {
            continue;
        };
        let merged = match &target_tip {
            Some(tip) => git::is_ancestor(&primary, &branch.commit, tip)?,
            None => false,
        };
        let checked_out_elsewhere = registered
            .iter()
            .filter(|info| info.prunable.is_none() && !info.path.starts_with(&worktrees_dir))
            .find(|info| info.branch.as_deref() == Some(branch.name.as_str()))
            .map(|info| info.path.clone());
        branches.push(BranchFact {
            task: task.to_string(),
            name: branch.name.clone(),
            merged,
            checked_out_elsewhere,
        });
    }

    Ok(Facts {
        target,
        statuses,
        merged,
        claims,
        runs,
        worktrees,
        branches,
        stale_metadata,
        run_started: crate::state::run::RunRecord::load(&workspace.state_dir())?
            .as_ref()
            .and_then(crate::state::run::RunRecord::started),
    })
}

/// Decides, for every item, whether it goes and why. Pure.
///
/// - A run directory goes when it is older than the cutoff and none of its tasks is
///   claimed (any claim file counts: the next cycle reaps from the run directory), except
///   the latest run of a task that is not complete: it holds the evidence the next
///   attempt's prompt and the repeated-failure check read, and what a person looks at;
///   and except the runs of the current run (claimed since it started): the per-run
///   budgets are counted from their results.
/// - A worktree goes when its task is finished (complete, archived or failed in
///   checklist.yaml, or merged per the trailers) or has no claim; never while a live
///   process holds the claim, never when locked, and not with uncommitted changes unless
///   forced.
/// - A branch goes on the same condition about its task, unless commits of it are not on
///   the target branch (then only when forced) or it is checked out outside the worktrees
///   folder.
/// - Stale worktree metadata always goes.
pub fn plan(facts: &Facts, options: &GcOptions) -> Vec<Decision> {
    let mut decisions = Vec::new();
    let done = |task: &str| {
        facts.merged.contains(task)
            || facts
                .statuses
                .get(task)
                .copied()
                .flatten()
                .is_some_and(TaskStatus::satisfies_dependency)
    };
    let finished = |task: &str| {
        done(task)
            || facts
                .statuses
                .get(task)
                .copied()
                .flatten()
                .is_some_and(TaskStatus::is_terminal)
    };
    let finished_reason = |task: &str| -> String {
        if facts.merged.contains(task) {
            format!("`{task}` is merged into `{}`", facts.target)
        } else {
            match facts.statuses.get(task).copied().flatten() {
                Some(status) => format!("`{task}` is {status}"),
                None => format!("`{task}` is not in checklist.yaml"),
            }
        }
    };

    // The latest run of each task that is not done.
    let mut latest: BTreeMap<&str, (Timestamp, &Path)> = BTreeMap::new();
    for run in &facts.runs {
        let Some(started) = run.started else { continue };
        for task in &run.tasks {
            if done(task) {
                continue;
            }
            let entry = latest.entry(task).or_insert((started, &run.path));
            if started > entry.0 {
                *entry = (started, &run.path);
            }
        }
    }
    let cutoff = options.older_than.as_secs().min(i64::MAX as u64) as i64;
    for run in &facts.runs {
        let item = Item::Run {
            path: run.path.clone(),
        };
        let Some(started) = run.started else {
            decisions.push(keep(
                item,
                "its name is not a run time: not made by longrun",
            ));
            continue;
        };
        let age = options.now.as_second().saturating_sub(started.as_second());
        if age < cutoff {
            let mut decision = keep(
                item,
                &format!(
                    "newer than {}",
                    crate::config::format_duration(options.older_than)
                ),
            );
            decision.too_new = true;
            decisions.push(decision);
            continue;
        }
        if let Some(run_started) = facts.run_started
            && started >= run_started
        {
            decisions.push(keep(
                item,
                &format!(
                    "part of the current run (since {}): its per-run budgets count it",
                    crate::clock::format_timestamp(run_started)
                ),
            ));
            continue;
        }
        if let Some(task) = run
            .tasks
            .iter()
            .find(|task| facts.claims.contains_key(*task))
        {
            decisions.push(keep(item, &format!("`{task}` is claimed")));
            continue;
        }
        if let Some(task) = run.tasks.iter().find(|task| {
            latest
                .get(task.as_str())
                .is_some_and(|(_, path)| *path == run.path)
        }) {
            decisions.push(keep(
                item,
                &format!("the latest evidence of `{task}`, which is not complete"),
            ));
            continue;
        }
        decisions.push(remove(
            item,
            &format!("{} old, no task in it is claimed", age_text(age)),
        ));
    }

    // Worktrees first: a branch whose worktree goes is free to go too.
    let mut kept_worktree_branches: HashMap<String, PathBuf> = HashMap::new();
    for worktree in &facts.worktrees {
        let item = Item::Worktree {
            path: worktree.path.clone(),
            task: worktree.task.clone(),
        };
        let task = worktree.task.as_str();
        let claim = facts.claims.get(task).copied();
        let verdict: Result<String, String> = if !worktree.registered {
            Err("not a registered git worktree; left alone".to_string())
        } else if worktree.locked {
            Err("locked (`git worktree unlock` it first)".to_string())
        } else if claim == Some(true) {
            Err(format!("a live process holds `{task}`'s claim"))
        } else if !finished(task) && claim.is_some() {
            Err(format!("`{task}` is claimed"))
        } else {
            let why = if finished(task) {
                finished_reason(task)
            } else {
                format!("`{task}` has no claim")
            };
            match &worktree.dirty {
                Err(error) => Err(format!("cannot read its status: {error}")),
                Ok(true) if !options.force => Err(format!(
                    "{why}, but it has uncommitted changes (`--force` removes it anyway)"
                )),
                Ok(true) => Ok(format!("{why}; uncommitted changes discarded (--force)")),
                Ok(false) => Ok(why),
            }
        };
        match verdict {
            Ok(reason) => decisions.push(remove(item, &reason)),
            Err(reason) => {
                if let Some(branch) = &worktree.branch {
                    kept_worktree_branches.insert(branch.clone(), worktree.path.clone());
                }
                decisions.push(keep(item, &reason));
            }
        }
    }

    for branch in &facts.branches {
        let item = Item::Branch {
            name: branch.name.clone(),
            task: branch.task.clone(),
        };
        let task = branch.task.as_str();
        let claim = facts.claims.get(task).copied();
        let checked_out = branch
            .checked_out_elsewhere
            .as_ref()
            .or_else(|| kept_worktree_branches.get(&branch.name));
        let verdict: Result<String, String> = if let Some(path) = checked_out {
            Err(format!("checked out in `{}`", path.display()))
        } else if claim == Some(true) || (!finished(task) && claim.is_some()) {
            Err(format!("`{task}` is claimed"))
        } else {
            let why = if finished(task) {
                finished_reason(task)
            } else {
                format!("`{task}` has no claim")
            };
            if branch.merged {
                Ok(format!("{why}; every commit is on `{}`", facts.target))
            } else if options.force {
                Ok(format!(
                    "{why}; commits not on `{}` discarded (--force)",
                    facts.target
                ))
            } else {
                Err(format!(
                    "{why}, but it has commits that are not on `{}` (`--force` removes it anyway)",
                    facts.target
                ))
            }
        };
        match verdict {
            Ok(reason) => decisions.push(remove(item, &reason)),
            Err(reason) => decisions.push(keep(item, &reason)),
        }
    }

    for path in &facts.stale_metadata {
        decisions.push(remove(
            Item::StaleMetadata { path: path.clone() },
            "its folder is gone",
        ));
    }
    decisions
}

/// Carries out the decisions to remove: git's stale worktree metadata first (pruned once),
/// then in plan order (worktrees before their branches). Failures are recorded per
/// item; the rest goes on.
pub fn apply(primary: &Path, decisions: &[Decision], force: bool) -> Vec<Applied> {
    let mut applied = Vec::new();
    let mut pruned = false;
    // Stale metadata first: git keeps a branch of a vanished worktree "checked out" until
    // the record is pruned, and would refuse to delete it.
    let (stale, rest): (Vec<&Decision>, Vec<&Decision>) = decisions
        .iter()
        .filter(|decision| decision.remove)
        .partition(|decision| matches!(decision.item, Item::StaleMetadata { .. }));
    for decision in stale.into_iter().chain(rest) {
        let result: Result<(), String> = match &decision.item {
            Item::Run { path } => std::fs::remove_dir_all(path).map_err(|error| error.to_string()),
            Item::Worktree { path, .. } => {
                git::worktree_remove(primary, path, force).map_err(|error| git_error_text(&error))
            }
            // The planner checked reachability from the target branch itself; git's own
            // `-d` check compares with whatever branch is checked out, which is not the rule.
            Item::Branch { name, .. } => git::branch_delete(primary, name, true)
                .map(|_| ())
                .map_err(|error| git_error_text(&error)),
            Item::StaleMetadata { .. } if pruned => Ok(()),
            Item::StaleMetadata { .. } => {
                pruned = true;
                git::worktree_prune(primary).map_err(|error| git_error_text(&error))
            }
        };
        applied.push(Applied {
            decision: decision.clone(),
            error: result.err(),
        });
    }
    applied
}

/// The claim time a run folder is named after.
pub fn run_time(name: &str) -> Option<Timestamp> {
    let parsed = jiff::fmt::strtime::parse(RUN_NAME_FORMAT, name).ok()?;
    let civil = parsed.to_datetime().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

fn age_text(seconds: i64) -> String {
    let days = seconds / 86_400;
    if days >= 1 {
        format!("{days} days")
    } else {
        crate::config::format_duration(Duration::from_secs(seconds.max(0) as u64))
    }
}

fn keep(item: Item, reason: &str) -> Decision {
    Decision {
        item,
        remove: false,
        reason: reason.to_string(),
        too_new: false,
    }
}

fn remove(item: Item, reason: &str) -> Decision {
    Decision {
        item,
        remove: true,
        reason: reason.to_string(),
        too_new: false,
    }
}

fn git_error_text(error: &git::GitError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The folders directly inside `dir` (name and path), sorted; none when `dir` is missing.
fn subfolders(dir: &Path) -> Result<Vec<(String, PathBuf)>, CycleError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(crate::fsutil::FsError::Read {
                path: dir.to_path_buf(),
                source,
            }
            .into());
        }
    };
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| crate::fsutil::FsError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        // `file_type` does not follow symlinks: a link is not ours to delete through.
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            folders.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    folders.sort();
    Ok(folders)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn now() -> Timestamp {
        "2026-11-21T09:00:00Z".parse().unwrap()
    }

    fn options(force: bool) -> GcOptions {
        GcOptions {
            now: now(),
            older_than: Duration::from_secs(14 * DAY as u64),
            force,
        }
    }

    fn run(days_ago: i64, tasks: &[&str]) -> RunFact {
        let started = Timestamp::from_second(now().as_second() - days_ago * DAY).unwrap();
        let name = started
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime(RUN_NAME_FORMAT)
            .to_string();
        RunFact {
            path: PathBuf::from(format!("/r/.longrun/runs/{name}")),
            started: run_time(&name),
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn worktree(task: &str, dirty: bool) -> WorktreeFact {
        WorktreeFact {
            path: PathBuf::from(format!("/r/.longrun/worktrees/{task}")),
            task: task.to_string(),
            registered: true,
            locked: false,
            dirty: Ok(dirty),
            branch: Some(format!("longrun/{task}")),
        }
    }

    fn branch(task: &str, merged: bool) -> BranchFact {
        BranchFact {
            name: format!("longrun/{task}"),
            task: task.to_string(),
            merged,
            checked_out_elsewhere: None,
        }
    }

    fn facts() -> Facts {
        Facts {
            target: "main".into(),
            statuses: [
                ("T1", TaskStatus::Complete),
                ("T2", TaskStatus::NotStarted),
                ("T3", TaskStatus::InProgress),
                ("T4", TaskStatus::Failed),
            ]
            .into_iter()
            .map(|(task, status)| (task.to_string(), Some(status)))
            .collect(),
            claims: [("T3".to_string(), true)].into_iter().collect(),
            ..Facts::default()
        }
    }

    fn removed(decisions: &[Decision]) -> Vec<String> {
        decisions
            .iter()
            .filter(|d| d.remove)
            .map(|d| match &d.item {
                Item::Run { path } => path.display().to_string(),
                Item::Worktree { task, .. } => format!("worktree {task}"),
                Item::Branch { name, .. } => format!("branch {name}"),
                Item::StaleMetadata { path } => format!("prune {}", path.display()),
            })
            .collect()
    }

    #[test]
    fn run_names_parse_as_utc_times() {
        assert_eq!(
            run_time("20261121T090000Z"),
            Some("2026-11-21T09:00:00Z".parse().unwrap())
        );
        assert_eq!(run_time("notes"), None);
        assert_eq!(run_time("20261321T090000Z"), None);
    }

    #[test]
    fn old_unclaimed_runs_go_but_new_claimed_and_latest_evidence_stay() {
        let mut facts = facts();
        let old_complete = run(30, &["T1"]);
        let new_complete = run(2, &["T1"]);
        let old_claimed = run(20, &["T3"]);
        let older_t2 = run(40, &["T2"]);
        let latest_t2 = run(30, &["T2"]);
        facts.runs = vec![
            old_complete.clone(),
            new_complete,
            old_claimed,
            older_t2.clone(),
            latest_t2,
            RunFact {
                path: PathBuf::from("/r/.longrun/runs/by-hand"),
                started: None,
                tasks: Vec::new(),
            },
        ];
        let decisions = plan(&facts, &options(false));
        assert_eq!(
            removed(&decisions),
            [
                old_complete.path.display().to_string(),
                older_t2.path.display().to_string()
            ]
        );
        let reasons: Vec<&str> = decisions
            .iter()
            .filter(|d| !d.remove)
            .map(|d| d.reason.as_str())
            .collect();
        assert_eq!(
            reasons,
            [
                "newer than 14d",
                "`T3` is claimed",
                "the latest evidence of `T2`, which is not complete",
                "its name is not a run time: not made by longrun"
            ]
        );
    }

    #[test]
    fn runs_of_the_current_run_stay_for_its_budgets() {
        let mut facts = facts();
        let before = run(40, &["T1"]);
        let since = run(30, &["T1"]);
        facts.runs = vec![before.clone(), since.clone()];
        facts.run_started = since.started;
        let decisions = plan(&facts, &options(false));
        assert_eq!(removed(&decisions), [before.path.display().to_string()]);
        let kept = decisions.iter().find(|d| !d.remove).unwrap();
        assert_eq!(
            kept.reason,
            format!(
                "part of the current run (since {}): its per-run budgets count it",
                crate::clock::format_timestamp(since.started.unwrap())
            )
        );
        facts.run_started = None;
        assert_eq!(removed(&plan(&facts, &options(false))).len(), 2);
    }

    #[test]
    fn worktrees_go_when_finished_or_unclaimed_and_clean_unless_forced() {
        let mut facts = facts();
        facts.worktrees = vec![
            worktree("T1", false),
            worktree("T2", false),
            worktree("T3", false),
            worktree("T4", true),
        ];
        let decisions = plan(&facts, &options(false));
        assert_eq!(removed(&decisions), ["worktree T1", "worktree T2"]);
        let t4 = decisions.iter().find(|d| d.reason.contains("T4")).unwrap();
        assert!(t4.reason.contains("uncommitted changes"), "{}", t4.reason);

        let decisions = plan(&facts, &options(true));
        assert_eq!(
            removed(&decisions),
            ["worktree T1", "worktree T2", "worktree T4"],
            "--force never removes a worktree a live worker holds"
        );
    }

    #[test]
    fn a_stale_claim_of_an_unfinished_task_keeps_its_worktree() {
        let mut facts = facts();
        facts.claims.insert("T2".into(), false);
        facts.worktrees = vec![worktree("T2", false)];
        facts.branches = vec![branch("T2", true)];
        let decisions = plan(&facts, &options(true));
        assert!(removed(&decisions).is_empty(), "{decisions:?}");
    }

    #[test]
    fn unregistered_and_locked_worktrees_stay() {
        let mut facts = facts();
        let mut loose = worktree("T1", false);
        loose.registered = false;
        let mut locked = worktree("T4", false);
        locked.locked = true;
        facts.worktrees = vec![loose, locked];
        assert!(removed(&plan(&facts, &options(true))).is_empty());
    }

    #[test]
    fn branches_go_when_merged_or_forced_and_never_while_checked_out() {
        let mut facts = facts();
        facts.merged.insert("T5".into());
        facts.worktrees = vec![worktree("T4", true)];
        let mut elsewhere = branch("T1", true);
        elsewhere.checked_out_elsewhere = Some(PathBuf::from("/r"));
        facts.branches = vec![
            elsewhere,
            branch("T2", false),
            branch("T3", true),
            branch("T4", true),
            branch("T5", true),
        ];
        let decisions = plan(&facts, &options(false));
        assert_eq!(removed(&decisions), ["branch longrun/T5"]);
        let t2 = decisions
            .iter()
            .find(|d| matches!(&d.item, Item::Branch { task, .. } if task == "T2"))
            .unwrap();
        assert!(t2.reason.contains("not on `main`"), "{}", t2.reason);
        let t4 = decisions
            .iter()
            .find(|d| matches!(&d.item, Item::Branch { task, .. } if task == "T4"))
            .unwrap();
        assert!(t4.reason.contains("checked out in"), "{}", t4.reason);

        // Forced: the dirty T4 worktree goes, so its branch may go too.
        let decisions = plan(&facts, &options(true));
        assert_eq!(
            removed(&decisions),
            [
                "worktree T4",
                "branch longrun/T2",
                "branch longrun/T4",
                "branch longrun/T5"
            ]
        );
    }

    #[test]
    fn stale_metadata_is_pruned() {
        let mut facts = facts();
        facts.stale_metadata = vec![PathBuf::from("/r/.longrun/worktrees/gone")];
        assert_eq!(
            removed(&plan(&facts, &options(false))),
            ["prune /r/.longrun/worktrees/gone"]
        );
    }
}
