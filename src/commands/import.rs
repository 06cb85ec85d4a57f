//! `longrun import <format> FILE`: tasks from another tool into checklist.yaml.

use super::Context;
use crate::cli::ImportArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;

pub fn run(_ctx: &Context, _args: &ImportArgs) -> Result<ExitStatus, CommandError> {
    Err(CommandError::user("not yet"))
}
