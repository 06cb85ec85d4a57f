//! `longrun-fake-agent`: a scripted stand-in for a coding agent, so process and cycle tests
//! are deterministic (jj's `fake-editor`). Built only with `--features fake-agent`.
//!
//! The script is the file named by `FAKE_AGENT_SCRIPT`, or else the arguments; either way
//! one step per line (an argument may hold several lines). Steps run in order; the agent
//! exits 0 after the last. An unknown or malformed step exits 3 with a message on stderr.
//!
//! ```text
//! write <relative path> <content>     create or replace a file (\n, \t, \0, \\ escapes)
//! append <path> <text>                append to a file (same escapes)
//! write-outside <absolute path> <content>
//! commit <message>                    git add -A, git commit in the working directory
//! print <text>                        one stdout line
//! print-bytes <n>                     n bytes of filler lines on stdout, fast
//! usage <json>                        one stdout line, as agents report token usage
//! env-dump <path>                     the environment as sorted KEY=VALUE lines
//! timestamp <path>                    nanoseconds since the Unix epoch, now
//! fork-daemon                         a child in this process group that hangs; prints
//!                                     `daemon-pid <pid>`; its stdio is /dev/null
//! sleep <ms> | hang | exit <code> | crash (abort, SIGABRT)
//! fail-if-exists <path>               exit 1 when the path exists
//! only-on-attempt <n> <step>          run <step> only when LONGRUN_ATTEMPT is n
//! include <path>                      the steps of another file (none if it is missing)
//! ```
//!
//! It reads the environment (that is its job) and uses no crate but std.

// A test double talks on stdout and stderr by design.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

fn main() -> ExitCode {
    let script = match std::env::var_os("FAKE_AGENT_SCRIPT") {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("fake-agent: cannot read script {path:?}: {error}");
                return ExitCode::from(3);
            }
        },
        None => std::env::args().skip(1).collect::<Vec<_>>().join("\n"),
    };
    for line in script.lines() {
        // Trailing spaces may be content (`write f a `); only a CR from a CRLF file goes.
        let line = line.trim_start().trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Err(exit) = run_step(line) {
            return exit;
        }
    }
    ExitCode::SUCCESS
}

/// Runs one step; `Err` carries the exit code when the step ends the agent.
fn run_step(line: &str) -> Result<(), ExitCode> {
    let (step, rest) = line.split_once(' ').unwrap_or((line, ""));
    match step {
        "write" | "write-outside" => {
            let (path, content) = two_args(step, rest)?;
            if step == "write-outside" && !Path::new(path).is_absolute() {
                return Err(fail(&format!(
                    "write-outside needs an absolute path: {path}"
                )));
            }
            let path = Path::new(path);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| fail(&e.to_string()))?;
            }
            std::fs::write(path, unescape(content)).map_err(|e| fail(&e.to_string()))
        }
        "append" => {
            let (path, text) = two_args(step, rest)?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(unescape(text).as_bytes()))
                .map_err(|e| fail(&e.to_string()))
        }
        "commit" => commit(rest),
        "print" | "usage" => {
            println!("{rest}");
            Ok(())
        }
        "print-bytes" => print_bytes(number(step, rest)?),
        "env-dump" => {
            let mut pairs: Vec<String> = std::env::vars_os()
                .map(|(key, value)| {
                    format!("{}={}", key.to_string_lossy(), value.to_string_lossy())
                })
                .collect();
            pairs.sort();
            let text: String = pairs.iter().map(|pair| format!("{pair}\n")).collect();
            std::fs::write(rest, text).map_err(|e| fail(&e.to_string()))
        }
        "timestamp" => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            std::fs::write(rest, format!("{nanos}\n")).map_err(|e| fail(&e.to_string()))
        }
        "fork-daemon" => fork_daemon(),
        "sleep" => {
            std::thread::sleep(Duration::from_millis(number(step, rest)?));
            Ok(())
        }
        "hang" => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        "exit" => {
            let code = number(step, rest)?;
            Err(ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)))
        }
        "crash" => std::process::abort(),
        "fail-if-exists" => {
            if Path::new(rest).exists() {
                eprintln!("fake-agent: {rest} exists");
                Err(ExitCode::FAILURE)
            } else {
                Ok(())
            }
        }
        "include" => {
            // Steps from another file; a missing file is no step at all, so one agent
            // command line (`include /scripts/{task_id}`) can serve every task.
            match std::fs::read_to_string(rest.trim()) {
                Ok(text) => {
                    for line in text.lines() {
                        let line = line.trim_start().trim_end_matches('\r');
                        if line.trim().is_empty() || line.starts_with('#') {
                            continue;
                        }
                        run_step(line)?;
                    }
                    Ok(())
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(fail(&format!("cannot read {rest}: {error}"))),
            }
        }
        "only-on-attempt" => {
            let (attempt, inner) = two_args(step, rest)?;
            if std::env::var("LONGRUN_ATTEMPT").ok().as_deref() == Some(attempt) {
                run_step(inner)
            } else {
                Ok(())
            }
        }
        _ => Err(fail(&format!("unknown step `{step}`"))),
    }
}

fn commit(message: &str) -> Result<(), ExitCode> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(["-c", "user.name=fake", "-c", "user.email=fake@example.com"])
            .args(args)
            .stdin(Stdio::null())
            .status()
    };
    for args in [
        &["add", "-A"][..],
        &["commit", "--quiet", "-m", message][..],
    ] {
        match git(args) {
            Ok(status) if status.success() => {}
            Ok(status) => return Err(fail_with(4, &format!("git {args:?} failed: {status}"))),
            Err(error) => return Err(fail_with(4, &format!("cannot run git: {error}"))),
        }
    }
    Ok(())
}

fn print_bytes(count: u64) -> Result<(), ExitCode> {
    // 1 MiB of 99-byte lines: large writes keep a gigabyte fast.
    let mut block = Vec::with_capacity(1 << 20);
    while block.len() + 100 <= 1 << 20 {
        block.extend_from_slice(&[b'x'; 99]);
        block.push(b'\n');
    }
    let mut stdout = std::io::stdout().lock();
    let mut left = count;
    while left > 0 {
        let size = left.min(block.len() as u64) as usize;
        if stdout.write_all(&block[..size]).is_err() {
            // The reader went away: nothing more to say.
            return Err(ExitCode::from(5));
        }
        left -= size as u64;
    }
    let _ = stdout.flush();
    Ok(())
}

fn fork_daemon() -> Result<(), ExitCode> {
    let exe = std::env::current_exe().map_err(|e| fail(&e.to_string()))?;
    // Same process group (the default): a group kill must reach it. Null stdio, like a
    // daemon that let go of its parent's pipes.
    let child = Command::new(exe)
        .arg("hang")
        .env_remove("FAKE_AGENT_SCRIPT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(&e.to_string()))?;
    println!("daemon-pid {}", child.id());
    let _ = std::io::stdout().flush();
    // Dropping the handle neither waits for nor kills the child.
    drop(child);
    Ok(())
}

fn two_args<'a>(step: &str, rest: &'a str) -> Result<(&'a str, &'a str), ExitCode> {
    rest.split_once(' ')
        .ok_or_else(|| fail(&format!("`{step}` needs two arguments")))
}

fn number(step: &str, rest: &str) -> Result<u64, ExitCode> {
    rest.trim()
        .parse()
        .map_err(|_| fail(&format!("`{step}` needs a number, got `{rest}`")))
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn fail(message: &str) -> ExitCode {
    fail_with(3, message)
}

fn fail_with(code: u8, message: &str) -> ExitCode {
    eprintln!("fake-agent: {message}");
    ExitCode::from(code)
}
