//! `longrun reject ID --reason`: a person's rejection of a task held at a human gate. A
//! rejected candidate is a failed attempt with the reason as its evidence; a rejected
//! dispatch blocks the task. Shares its logic with `approve`.

use super::Context;
use crate::cli::RejectArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::state::approvals::Decision;

pub fn run(ctx: &Context, args: &RejectArgs) -> Result<ExitStatus, CommandError> {
    if args.reason.trim().is_empty() {
        return Err(CommandError::user("the reason is empty"));
    }
    super::approve::decide(ctx, &args.task, Decision::Reject, args.reason.trim())
}
