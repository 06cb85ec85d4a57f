//! The `longrun` binary: parses nothing itself, hands argv to the library and turns the
//! outcome into an exit code.

fn main() -> std::process::ExitCode {
    longrun::run(std::env::args_os())
}
