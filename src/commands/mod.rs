//! One file per command. This module holds the only `match` on the command enum and the
//! context every command receives.

use crate::cli::{Cli, Command};
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Ui;

/// Runs a parsed command line and returns its exit status.
pub fn run(cli: Cli) -> ExitStatus {
    let ui = Ui::new(false, cli.global.quiet);
    let result: Result<ExitStatus, CommandError> = match cli.command {
        Command::Check(_) => Err(CommandError::internal("`check` is not built yet")),
    };
    match result {
        Ok(status) => status,
        Err(error) => {
            ui.error_line(&error.to_string());
            error.exit_status()
        }
    }
}
