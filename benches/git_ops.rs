//! Timings of the git operations the cycle runs per task: `git worktree add` on a repository
//! of 10,000 small files (a fresh worktree, and re-pointing an existing one as a reused pool
//! would), and the gate's merge path a → b → c on a small repository.
//! Run with `cargo bench --bench git_ops`; it prints medians and asserts nothing about time.
//! It uses the machine's git configuration as a cycle would.

// A benchmark's output is its result.
#![allow(clippy::print_stdout)]

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use longrun::git::{self, AdvanceOutcome, Identity, MergeOutcome, TaskTrailers};

const FILES: usize = 10_000;
const ROUNDS: usize = 7;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BenchResult<()> {
    let identity = Identity::new("longrun bench", "bench@example.com");
    let temp = tempfile::tempdir()?;
    let root = temp.path().canonicalize()?;

    let big = root.join("big");
    fs::create_dir(&big)?;
    git::run_git(&big, ["init", "--quiet", "--initial-branch=main"])?;
    for index in 0..FILES {
        let dir = big.join(format!("d{:03}", index / 100));
        fs::create_dir_all(&dir)?;
        fs::write(
            dir.join(format!("f{index:05}.txt")),
            format!("file {index}\n"),
        )?;
    }
    let started = Instant::now();
    let base = git::commit_all(&big, "10,000 files", &identity)?.ok_or("nothing committed")?;
    println!("setup: commit of {FILES} files {:?}", started.elapsed());

    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut remove = Vec::new();
    for round in 0..ROUNDS {
        let one = root.join(format!("wt/a{round}"));
        let two = root.join(format!("wt/b{round}"));
        first.push(time(|| {
            git::worktree_add(&big, &one, &format!("longrun/A{round}"), &base).map(drop)
        })?);
        second.push(time(|| {
            git::worktree_add(&big, &two, &format!("longrun/B{round}"), &base).map(drop)
        })?);
        remove.push(time(|| git::worktree_remove(&big, &one, false))?);
        git::worktree_remove(&big, &two, false)?;
    }
    println!(
        "worktree add, {FILES} files: first {:?}, second {:?} (median of {ROUNDS}); remove {:?}",
        median(&mut first),
        median(&mut second),
        median(&mut remove)
    );

    // A pool would keep a worktree and re-point it at the next task's branch instead.
    let pooled = root.join("wt/pool");
    git::worktree_add(&big, &pooled, "longrun/pool", &base)?;
    fs::write(big.join("d000/f00000.txt"), "changed on main\n")?;
    let moved = git::commit_all(&big, "one file changed", &identity)?.ok_or("nothing")?;
    let mut repoint = Vec::new();
    for round in 0..ROUNDS {
        let target = if round % 2 == 0 { &moved } else { &base };
        let branch = format!("longrun/P{round}");
        repoint.push(time(|| {
            git::run_git(
                &pooled,
                ["switch", "--quiet", "--no-track", "-C", &branch, target],
            )
            .map(drop)
        })?);
    }
    println!(
        "pooled worktree re-pointed with `git switch -C` (1 file differs): {:?} (median of {ROUNDS})",
        median(&mut repoint)
    );
    let mut status = Vec::new();
    let mut fingerprint = Vec::new();
    for _ in 0..ROUNDS {
        status.push(time(|| git::status(&big).map(drop))?);
        fingerprint.push(time(|| git::status_fingerprint(&big).map(drop))?);
    }
    println!(
        "status on {FILES} files: {:?}; status_fingerprint: {:?}",
        median(&mut status),
        median(&mut fingerprint)
    );

    gate_path(&root, &identity)?;
    Ok(())
}

/// The gate on a small repository, for a task whose target moved on meanwhile (a real merge
/// in step a) and for one whose target did not (step a is a no-op).
fn gate_path(root: &Path, identity: &Identity) -> BenchResult<()> {
    let small = root.join("small");
    fs::create_dir(&small)?;
    git::run_git(&small, ["init", "--quiet", "--initial-branch=main"])?;
    for index in 0..20 {
        fs::write(small.join(format!("f{index}.txt")), format!("{index}\n"))?;
    }
    git::commit_all(&small, "base", identity)?;
    // An unrelated uncommitted change in the primary checkout, as a person would have.
    fs::write(small.join("f19.txt"), "the person's edit\n")?;

    let mut moved_total = Vec::new();
    let mut steps = [Vec::new(), Vec::new(), Vec::new()];
    let mut quiet_total = Vec::new();
    for round in 0..ROUNDS * 2 {
        let target_moves = round % 2 == 0;
        let start = git::rev_parse(&small, "refs/heads/main")?.ok_or("no main")?;
        let worktree = root.join(format!("small-wt/T{round}"));
        git::worktree_add(&small, &worktree, &format!("longrun/T{round}"), &start)?;
        fs::write(worktree.join(format!("task{round}.txt")), "work\n")?;
        git::commit_all(&worktree, "task work", identity)?;
        if target_moves {
            // Another task landed meanwhile: commit on main through a scratch branch so the
            // person's uncommitted edit stays out of it.
            let other = root.join(format!("small-wt/other{round}"));
            git::worktree_add(&small, &other, &format!("other/{round}"), &start)?;
            fs::write(other.join(format!("other{round}.txt")), "other\n")?;
            let landed = git::commit_all(&other, "other work", identity)?.ok_or("nothing")?;
            git::worktree_remove(&small, &other, true)?;
            match git::advance_branch(&small, "main", &landed, &start)? {
                AdvanceOutcome::Advanced { .. } => {}
                outcome => return Err(format!("setup could not advance main: {outcome:?}").into()),
            }
        }

        let target = git::rev_parse(&small, "refs/heads/main")?.ok_or("no main")?;
        let whole = Instant::now();
        let a = Instant::now();
        let head = match git::merge_target_into_task(&worktree, &target, identity)? {
            MergeOutcome::UpToDate { head } => head,
            MergeOutcome::Merged { commit } => commit,
            MergeOutcome::Conflict { paths } => return Err(format!("conflict {paths:?}").into()),
        };
        let a = a.elapsed();
        let b = Instant::now();
        let tree = git::tree_of(&worktree, &head)?;
        let message = TaskTrailers {
            task: format!("T{round}"),
            attempt: 1,
            token: "bench".into(),
            validated_tree: tree.clone(),
        }
        .message(&format!("Merge T{round}"))?;
        let commit =
            git::create_merge_commit(&small, &tree, &[&target, &head], &message, identity)?;
        let b = b.elapsed();
        let c = Instant::now();
        let outcome = git::advance_branch(&small, "main", &commit, &target)?;
        let c = c.elapsed();
        let total = whole.elapsed();
        if !matches!(outcome, AdvanceOutcome::Advanced { .. }) {
            return Err(format!("gate did not advance: {outcome:?}").into());
        }
        if target_moves {
            moved_total.push(total);
            for (step, took) in steps.iter_mut().zip([a, b, c]) {
                step.push(took);
            }
        } else {
            quiet_total.push(total);
        }
        git::worktree_remove(&small, &worktree, false)?;
    }
    println!(
        "gate a→b→c, target moved: {:?} (a merge {:?}, b commit-tree {:?}, c advance {:?}); target unchanged: {:?} (medians of {ROUNDS})",
        median(&mut moved_total),
        median(&mut steps[0]),
        median(&mut steps[1]),
        median(&mut steps[2]),
        median(&mut quiet_total)
    );
    let started = Instant::now();
    let completed = git::completed_tasks(&small, "refs/heads/main", git::History::FirstParent)?;
    println!(
        "completed_tasks found {} merges in {:?}",
        completed.len(),
        started.elapsed()
    );
    Ok(())
}

fn time(operation: impl FnOnce() -> Result<(), git::GitError>) -> BenchResult<Duration> {
    let started = Instant::now();
    operation()?;
    Ok(started.elapsed())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
