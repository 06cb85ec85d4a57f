//! `longrun heartbeat ID --token T [--lease 15m]`: renews the lease of a claim. A token that is
//! not the current claim's (taken over, released, cleared) is refused with exit 1 and a
//! `reject` event, so a holder that lost its task learns it and the log shows it.

use super::Context;
use super::claiming::{Claims, Fenced, event, short};
use crate::cli::HeartbeatArgs;
use crate::clock::format_timestamp;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::model::EventKind;

pub fn run(ctx: &Context, args: &HeartbeatArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let settings = ctx.claim_settings(&workspace)?;
    let lease = args
        .lease
        .map_or(settings.lease, crate::cli::Duration::as_std);
    let claims = Claims::open(&workspace, &settings)?;
    let now = ctx.clock.now();
    match claims.renew(&args.task, &args.token, now, lease)? {
        Fenced::Done(claim) => {
            let lease_end = format_timestamp(claim.info.lease_expires_at);
            ctx.ui.data(&format!("lease_expires_at: {lease_end}\n"));
            ctx.ui.status(&format!(
                "renewed the claim on `{}` until {lease_end}",
                args.task
            ));
            Ok(ExitStatus::Success)
        }
        Fenced::Refused(refusal) => {
            let mut fields = vec![
                ("operation", "heartbeat".to_string()),
                ("token", short(&args.token)),
            ];
            if let Some(current) = &refusal.current {
                fields.push(("holder", current.info.worker.clone()));
                fields.push(("holder_token", short(&current.token)));
            }
            let event = event(
                now,
                EventKind::Reject,
                &args.task,
                &fields,
                format!("heartbeat refused: {}", refusal.message),
            );
            ctx.append_events(&workspace, &[event])?;
            Err(refusal.into_error())
        }
    }
}
