//! `longrun claims [--json]`: every claim with its holder, host, pid, age, lease left, and
//! whether it is stale or corrupt. In git mode the remote's claims are fetched first
//! (`refs/longrun/claims/*`), so claims made on other machines show too.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::Context;
use super::claiming::{self, Claims, human_seconds, seconds_between};
use crate::cli::ClaimsArgs;
use crate::clock::format_timestamp;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::git::claims::{RemoteClaim, RemoteContent};
use crate::state::claims::{Claim, ClaimEntry, LockContent};

/// One row: a lock file, a remote claim, or both (a mirrored claim).
#[derive(Serialize)]
struct ClaimRow {
    task: String,
    /// `local` (a lock file), `remote` (a ref only), `local+remote` (mirrored).
    source: &'static str,
    /// The lock file, when there is one.
    path: Option<String>,
    worker: Option<String>,
    host: Option<String>,
    pid: Option<u32>,
    token: Option<String>,
    attempt: Option<u32>,
    branch: Option<String>,
    worktree: Option<String>,
    claimed_at: Option<String>,
    heartbeat_at: Option<String>,
    lease_expires_at: Option<String>,
    age_seconds: Option<i64>,
    /// Negative once the lease is over.
    lease_left_seconds: Option<i64>,
    /// A process on this machine holds the lock file's OS lock (unknown for remote-only
    /// claims: always false there).
    holder_alive: bool,
    /// The lease is over and no live holder is known: the claim may be taken over.
    stale: bool,
    /// Why the lock file (or the remote claim) cannot be read; it counts as held.
    corrupt: Option<String>,
    /// The remote holds another token than the lock file (the mirror is out of date).
    mirror_mismatch: bool,
}

pub fn run(ctx: &Context, args: &ClaimsArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let settings = ctx.claim_settings(&workspace)?;
    let claims = Claims::open(&workspace, &settings)?;
    let now = ctx.clock.now();
    let local = claims.store.list(now).map_err(claiming::claim_error)?;
    let remote = match &claims.remote {
        None => Vec::new(),
        Some(remote) => match remote.fetch_all() {
            Ok(list) => list,
            Err(error) => {
                // A listing is still useful offline: show what the last fetch brought.
                ctx.ui.warn(&format!(
                    "cannot fetch claims from remote `{}`; showing the last fetched ones: {error}",
                    remote.remote()
                ));
                remote.list_fetched().map_err(claiming::git_error)?
            }
        },
    };
    let rows = rows(&local, &remote, now);
    if args.json {
        ctx.ui.json(&rows);
    } else if rows.is_empty() {
        ctx.ui.status("no claims");
    } else {
        ctx.ui.data(&render(&rows));
        let stale = rows.iter().filter(|row| row.stale).count();
        let corrupt = rows.iter().filter(|row| row.corrupt.is_some()).count();
        ctx.ui.status(&format!(
            "SUMMARY: {} claim(s), {stale} stale, {corrupt} corrupt",
            rows.len()
        ));
    }
    Ok(ExitStatus::Success)
}

fn rows(local: &[ClaimEntry], remote: &[RemoteClaim], now: Timestamp) -> Vec<ClaimRow> {
    let mut rows: BTreeMap<String, ClaimRow> = BTreeMap::new();
    for entry in local {
        let task = entry.task.as_ref().map_or_else(
            || {
                entry
                    .path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default()
            },
            |task| task.to_string(),
        );
        let mut row = match &entry.lock {
            LockContent::Claim(claim) => claim_row(&task, "local", claim, now),
            LockContent::Corrupt { reason } => ClaimRow {
                corrupt: Some(reason.clone()),
                ..empty_row(&task, "local")
            },
        };
        row.path = Some(entry.path.display().to_string());
        row.holder_alive = entry.holder_alive;
        row.stale = entry.stale;
        rows.insert(task, row);
    }
    for claim in remote {
        let task = claim.task.to_string();
        match rows.get_mut(&task) {
            Some(row) => {
                row.source = "local+remote";
                let remote_token = match &claim.content {
                    RemoteContent::Claim(remote_claim) => Some(remote_claim.token.to_string()),
                    RemoteContent::Corrupt { .. } => None,
                };
                row.mirror_mismatch = remote_token != row.token;
            }
            None => {
                let row = match &claim.content {
                    RemoteContent::Claim(remote_claim) => {
                        let mut row = claim_row(&task, "remote", remote_claim, now);
                        // No OS lock is visible across machines: the lease alone decides.
                        row.stale = remote_claim.info.lease_expired(now);
                        row
                    }
                    RemoteContent::Corrupt { reason } => ClaimRow {
                        corrupt: Some(reason.clone()),
                        ..empty_row(&task, "remote")
                    },
                };
                rows.insert(task, row);
            }
        }
    }
    rows.into_values().collect()
}

fn empty_row(task: &str, source: &'static str) -> ClaimRow {
    ClaimRow {
        task: task.to_string(),
        source,
        path: None,
        worker: None,
        host: None,
        pid: None,
        token: None,
        attempt: None,
        branch: None,
        worktree: None,
        claimed_at: None,
        heartbeat_at: None,
        lease_expires_at: None,
        age_seconds: None,
        lease_left_seconds: None,
        holder_alive: false,
        stale: false,
        corrupt: None,
        mirror_mismatch: false,
    }
}

fn claim_row(task: &str, source: &'static str, claim: &Claim, now: Timestamp) -> ClaimRow {
    let info = &claim.info;
    ClaimRow {
        worker: Some(info.worker.clone()),
        host: Some(info.host.clone()),
        pid: Some(info.pid),
        token: Some(claim.token.to_string()),
        attempt: Some(info.attempt),
        branch: Some(info.branch.clone()),
        worktree: Some(info.worktree.clone()),
        claimed_at: Some(format_timestamp(info.claimed_at)),
        heartbeat_at: Some(format_timestamp(info.heartbeat_at)),
        lease_expires_at: Some(format_timestamp(info.lease_expires_at)),
        age_seconds: Some(seconds_between(info.claimed_at, now)),
        lease_left_seconds: Some(seconds_between(now, info.lease_expires_at)),
        ..empty_row(task, source)
    }
}

/// One aligned line per claim: task, worker, host, pid, age, lease left, state.
fn render(rows: &[ClaimRow]) -> String {
    let header = [
        "TASK",
        "WORKER",
        "HOST",
        "PID",
        "AGE",
        "LEASE LEFT",
        "STATE",
    ];
    let mut table: Vec<[String; 7]> = vec![header.map(str::to_string)];
    for row in rows {
        let state = state(row);
        let dash = || "-".to_string();
        table.push([
            row.task.clone(),
            row.worker.clone().unwrap_or_else(dash),
            row.host.clone().unwrap_or_else(dash),
            row.pid.map_or_else(dash, |pid| pid.to_string()),
            row.age_seconds.map_or_else(dash, human_seconds),
            row.lease_left_seconds.map_or_else(dash, human_seconds),
            state,
        ]);
    }
    let mut widths = [0usize; 7];
    for line in &table {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &table {
        let mut text = String::new();
        for (index, (cell, width)) in line.iter().zip(widths).enumerate() {
            if index + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:width$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn state(row: &ClaimRow) -> String {
    let mut state = if let Some(reason) = &row.corrupt {
        format!(
            "CORRUPT {}: {reason} (held until `longrun release {} --force`)",
            row.path.as_deref().unwrap_or("(remote)"),
            row.task
        )
    } else if row.stale {
        "STALE (may be taken over)".to_string()
    } else if row.holder_alive {
        "held".to_string()
    } else if row.source == "remote" {
        "remote".to_string()
    } else {
        "no live holder".to_string()
    };
    if row.source != "local" && row.corrupt.is_none() {
        state.push_str(&format!(" [{}]", row.source));
    }
    if row.mirror_mismatch {
        state.push_str(" (lock file out of date with the remote)");
    }
    state
}
