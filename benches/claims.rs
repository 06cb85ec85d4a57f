//! Timings of the claim protocol: a local claim + release pair, and a claim + release through
//! a local bare git remote. Run with `cargo bench --bench claims`; it prints medians.
//!
//! Not a test: nothing here asserts, and it never runs under `cargo test`.

// A benchmark reports on stdout; there is no output module to go through here.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use longrun::git::claims::{Leased, RemoteClaimOutcome, RemoteClaims};
use longrun::git::git_command;
use longrun::state::claims::{ClaimOutcome, ClaimRequest, ClaimStore};
use longrun::state::model::TaskId;

fn request(id: &str) -> ClaimRequest {
    ClaimRequest {
        task: TaskId::parse(id).unwrap(),
        worker: "bench".to_string(),
        host: "bench-host".to_string(),
        pid: std::process::id(),
        attempt: 1,
        branch: format!("longrun/{id}"),
        worktree: format!("/w/{id}"),
        now: "2026-11-21T09:00:00Z".parse::<Timestamp>().unwrap(),
        lease: Duration::from_secs(600),
        token: None,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn git(dir: &Path, args: &[&str]) {
    let status = git_command(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();

    let store = ClaimStore::new(dir.path().join("current_tasks"));
    let request_t1 = request("T1");
    let mut pairs = Vec::new();
    let mut claims = Vec::new();
    let mut releases = Vec::new();
    for _ in 0..500 {
        let start = Instant::now();
        let ClaimOutcome::Claimed(held) = store.claim(&request_t1).unwrap() else {
            panic!("taken")
        };
        let claimed = Instant::now();
        store.release(held.task(), held.token()).unwrap();
        let done = Instant::now();
        claims.push(claimed - start);
        releases.push(done - claimed);
        pairs.push(done - start);
    }
    println!(
        "local: claim+release median {:?} (claim {:?}, release {:?}) over {} pairs",
        median(pairs.clone()),
        median(claims),
        median(releases),
        pairs.len()
    );

    git(dir.path(), &["init", "--quiet", "--bare", "remote.git"]);
    git(dir.path(), &["clone", "--quiet", "remote.git", "clone"]);
    let remote = RemoteClaims::new(dir.path().join("clone"), "origin")
        .unwrap()
        .with_env("GIT_CONFIG_GLOBAL", "/dev/null")
        .with_env("GIT_CONFIG_NOSYSTEM", "1");
    let mut claims = Vec::new();
    let mut releases = Vec::new();
    let mut losses = Vec::new();
    let task = TaskId::parse("T1").unwrap();
    for _ in 0..30 {
        let start = Instant::now();
        let RemoteClaimOutcome::Won(claim) = remote.claim(&request_t1).unwrap() else {
            panic!("lost")
        };
        let claimed = Instant::now();
        let RemoteClaimOutcome::Lost { .. } = remote.claim(&request_t1).unwrap() else {
            panic!("won twice")
        };
        let lost = Instant::now();
        let Leased::Done(_) = remote.release(&task, &claim.token).unwrap() else {
            panic!("not holder")
        };
        claims.push(claimed - start);
        losses.push(lost - claimed);
        releases.push(lost.elapsed());
    }
    println!(
        "git (local bare remote): claim median {:?}, losing claim (with holder lookup) {:?}, release {:?}",
        median(claims),
        median(losses),
        median(releases)
    );
}
