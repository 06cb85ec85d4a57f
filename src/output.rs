//! The one module that writes to the terminal. stdout carries data (lists, `--json`);
//! progress, warnings and hints go to stderr. A closed stdout (`longrun next | head -1`) is
//! not an error.

use std::io::{self, IsTerminal, Write};

/// Where a command's output goes. Tests capture it through the real binary.
#[derive(Clone)]
pub struct Ui {
    color: bool,
    quiet: bool,
}

impl Ui {
    /// `color` is decided once at start-up (`--color`, `NO_COLOR`, whether stderr is a tty).
    pub fn new(color: bool, quiet: bool) -> Ui {
        Ui { color, quiet }
    }

    /// Decides color from the user's choice, `NO_COLOR` and the terminal.
    pub fn color_wanted(choice: ColorChoice, no_color_set: bool) -> bool {
        match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color_set && io::stderr().is_terminal(),
        }
    }

    /// Writes data to stdout. A broken pipe is ignored: the reader has all it wanted.
    pub fn data(&self, text: &str) {
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') && !text.is_empty() {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
    }

    /// Writes a value as pretty JSON to stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.data(&text),
            Err(error) => self.error_line(&format!("error: cannot render JSON: {error}")),
        }
    }

    /// A progress or result line for people, on stderr. Suppressed by `--quiet`.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            self.stderr_line(text);
        }
    }

    /// A warning on stderr, never suppressed.
    pub fn warn(&self, text: &str) {
        let heading = self.paint("warning", "33");
        self.stderr_line(&format!("{heading}: {text}"));
    }

    /// A hint on stderr.
    pub fn hint(&self, text: &str) {
        if !self.quiet {
            let heading = self.paint("hint", "36");
            self.stderr_line(&format!("{heading}: {text}"));
        }
    }

    /// An already formatted error block on stderr.
    pub fn error_line(&self, text: &str) {
        let painted = match text.split_once(": ") {
            Some((heading, rest)) if heading == "error" || heading == "internal error" => {
                format!("{}: {rest}", self.paint(heading, "31"))
            }
            _ => text.to_string(),
        };
        self.stderr_line(&painted);
    }

    fn stderr_line(&self, text: &str) {
        let mut stderr = io::stderr().lock();
        let _ = writeln!(stderr, "{text}");
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[1;{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}
