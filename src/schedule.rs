//! `longrun schedule`: the texts that make something else start `longrun cycle` every so
//! often (a crontab line, a systemd user service and timer, a Claude Code `/loop` prompt),
//! with absolute paths so they work from any directory and any environment.
//!
//! Pure text building: the caller passes the executable, the repository and the interval;
//! nothing here reads the environment, writes a file or prints. A path that cannot be
//! written safely into a given format (a newline anywhere, a `%` in a crontab line) is an
//! error rather than a quietly broken schedule.

use std::path::Path;
use std::time::Duration;

/// What a schedule is built from.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleInput<'a> {
    /// The longrun executable, absolute.
    pub exe: &'a Path,
    /// The repository's primary checkout, absolute.
    pub repo: &'a Path,
    pub every: Duration,
}

/// A schedule text and what a person should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// What to install (stdout).
    pub text: String,
    /// Remarks on the chosen interval (stderr).
    pub notes: Vec<String>,
}

/// Why a schedule cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{path}` is not an absolute path")]
    NotAbsolute { path: String },
    #[error("`{path}` cannot be written into a {format}: {reason}")]
    Unwritable {
        path: String,
        format: &'static str,
        reason: &'static str,
    },
    #[error("{format} cannot run something every {every}: {reason}")]
    Interval {
        format: &'static str,
        every: String,
        reason: &'static str,
    },
}

/// A crontab line: `*/10 * * * * cd '/repo' && '/bin/longrun' cycle >> '/repo/.longrun/cron.log' 2>&1`.
pub fn cron(input: &ScheduleInput<'_>) -> Result<Schedule, ScheduleError> {
    let (fields, notes) = cron_fields(input.every)?;
    let repo = cron_path(input.repo)?;
    let exe = cron_path(input.exe)?;
    let log = cron_path(&input.repo.join(".longrun").join("cron.log"))?;
    Ok(Schedule {
        text: format!(
            "{fields} cd {} && {} cycle >> {} 2>&1\n",
            shell_quote(&repo),
            shell_quote(&exe),
            shell_quote(&log)
        ),
        notes,
    })
}

/// The five time fields of a crontab line running every `every`, and remarks. cron counts
/// whole minutes, restarts `*/N` at every hour and `*/N` hours at every midnight, so only
/// whole minutes below an hour, whole hours below a day, and one day are written.
pub fn cron_fields(every: Duration) -> Result<(String, Vec<String>), ScheduleError> {
    let error = |reason| ScheduleError::Interval {
        format: "crontab line",
        every: crate::config::format_duration(every),
        reason,
    };
    let seconds = every.as_secs();
    if seconds < 60 {
        return Err(error(
            "cron runs jobs at most once a minute (use `longrun loop` for shorter pauses)",
        ));
    }
    if !seconds.is_multiple_of(60) {
        return Err(error("cron counts whole minutes"));
    }
    let minutes = seconds / 60;
    let mut notes = Vec::new();
    let fields = if minutes == 1 {
        "* * * * *".to_string()
    } else if minutes < 60 {
        if 60 % minutes != 0 {
            notes.push(format!(
                "cron restarts `*/{minutes}` at every full hour, so the last pause of each hour is {} minutes",
                60 % minutes
            ));
        }
        format!("*/{minutes} * * * *")
    } else if minutes.is_multiple_of(60) && minutes < 24 * 60 {
        let hours = minutes / 60;
        if hours == 1 {
            "0 * * * *".to_string()
        } else {
            if 24 % hours != 0 {
                notes.push(format!(
                    "cron restarts `*/{hours}` hours at midnight, so the last pause of each day is {} hours",
                    24 % hours
                ));
            }
            format!("0 */{hours} * * *")
        }
    } else if minutes == 24 * 60 {
        "0 0 * * *".to_string()
    } else {
        return Err(error(
            "cron writes whole minutes below an hour, whole hours below a day, or one day (or use `longrun schedule systemd`)",
        ));
    };
    Ok((fields, notes))
}

/// A systemd user service running one cycle and a timer starting it every `every`, each
/// preceded by a comment saying where to save it, and how to turn it on.
pub fn systemd(input: &ScheduleInput<'_>) -> Result<Schedule, ScheduleError> {
    let repo = systemd_path(input.repo)?;
    let exe = systemd_path(input.exe)?;
    if input.every.as_secs() == 0 {
        return Err(ScheduleError::Interval {
            format: "systemd timer",
            every: "0s".to_string(),
            reason: "a timer needs a pause of at least one second (use `longrun loop --every 0`)",
        });
    }
    let name = unit_name(input.repo);
    let every = systemd_timespan(input.every);
    let description_repo = systemd_specifiers(&repo);
    let text = format!(
        "\
# Save as ~/.config/systemd/user/{name}.service and the timer below as
# ~/.config/systemd/user/{name}.timer, then:
#   systemctl --user daemon-reload
#   systemctl --user enable --now {name}.timer
# Keep it running while you are logged out: loginctl enable-linger \"$USER\"
# See what the cycles said: journalctl --user -u {name}.service
# Agents installed outside systemd's PATH: add `Environment=PATH=...` under [Service].

# {name}.service: one `longrun cycle` in the repository.
[Unit]
Description=longrun cycle in {description_repo}

[Service]
Type=oneshot
WorkingDirectory={working_directory}
ExecStart={exec} cycle
# The cycle starts workers that outlive it; by default systemd would kill them with it.
KillMode=process

# {name}.timer: starts {name}.service every {every}.
[Unit]
Description=longrun cycle in {description_repo} every {every}

[Timer]
OnActiveSec=10s
OnUnitActiveSec={every}
AccuracySec=10s
Unit={name}.service

[Install]
WantedBy=timers.target
",
        working_directory = systemd_specifiers(&repo),
        exec = systemd_exec_arg(&exe),
    );
    Ok(Schedule {
        text,
        notes: Vec::new(),
    })
}

/// The `/loop` command for a Claude Code session: run a cycle every `every` and report its
/// summary, without touching the state files (the harness owns them).
pub fn loop_prompt(input: &ScheduleInput<'_>) -> Result<Schedule, ScheduleError> {
    let repo = checked_path(input.repo, "`/loop` prompt")?;
    let exe = checked_path(input.exe, "`/loop` prompt")?;
    let interval = loop_interval(input.every)?;
    Ok(Schedule {
        text: format!(
            "/loop {interval} Run `cd {} && {} cycle` and report its SUMMARY line and any error lines. Never edit checklist.yaml, run-log.md, current_tasks/ or the task worktrees yourself: longrun records every decision.\n",
            shell_quote(&repo),
            shell_quote(&exe)
        ),
        notes: Vec::new(),
    })
}

/// `/loop` intervals: a number and one unit (`s`, `m`, `h`, `d`), at least a minute.
pub fn loop_interval(every: Duration) -> Result<String, ScheduleError> {
    let seconds = every.as_secs();
    let error = |reason| ScheduleError::Interval {
        format: "`/loop` prompt",
        every: crate::config::format_duration(every),
        reason,
    };
    if seconds < 60 {
        return Err(error("`/loop` runs a prompt at most once a minute"));
    }
    Ok(if seconds.is_multiple_of(86_400) {
        format!("{}d", seconds / 86_400)
    } else if seconds.is_multiple_of(3_600) {
        format!("{}h", seconds / 3_600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        return Err(error("`/loop` counts whole minutes"));
    })
}

/// `longrun-<folder name>`, with anything systemd does not allow in a unit name replaced by
/// `-`.
pub fn unit_name(repo: &Path) -> String {
    let folder = repo
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        "longrun-repo".to_string()
    } else {
        format!("longrun-{cleaned}")
    }
}

/// A systemd time span: `10min`, `1h 30min`, `2d`.
pub fn systemd_timespan(every: Duration) -> String {
    let mut seconds = every.as_secs();
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut parts = Vec::new();
    for (unit, length) in [("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)] {
        if seconds >= length {
            parts.push(format!("{}{unit}", seconds / length));
            seconds %= length;
        }
    }
    parts.join(" ")
}

/// Single-quotes `text` for a POSIX shell: `'` becomes `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// One `ExecStart=` word: specifiers (`%`) and variables (`$`) doubled, and double quotes
/// around anything systemd would otherwise split or unescape.
pub fn systemd_exec_arg(text: &str) -> String {
    let escaped = systemd_specifiers(text).replace('$', "$$");
    let needs_quotes = escaped.is_empty()
        || escaped
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if needs_quotes {
        format!("\"{}\"", escaped.replace('\\', r"\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

/// `%` doubled: systemd expands `%x` specifiers in most settings.
pub fn systemd_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

fn checked_path(path: &Path, format: &'static str) -> Result<String, ScheduleError> {
    let text = path.to_str().ok_or_else(|| ScheduleError::Unwritable {
        path: path.to_string_lossy().into_owned(),
        format,
        reason: "it is not valid UTF-8",
    })?;
    if !path.is_absolute() {
        return Err(ScheduleError::NotAbsolute {
            path: text.to_string(),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(ScheduleError::Unwritable {
            path: text.escape_debug().to_string(),
            format,
            reason: "it holds a control character such as a newline",
        });
    }
    Ok(text.to_string())
}

fn cron_path(path: &Path) -> Result<String, ScheduleError> {
    let text = checked_path(path, "crontab line")?;
    if text.contains('%') {
        // cron turns `%` into a newline, and implementations differ on escaping it.
        return Err(ScheduleError::Unwritable {
            path: text,
            format: "crontab line",
            reason: "cron treats `%` as a line break (use `longrun schedule systemd`)",
        });
    }
    Ok(text)
}

fn systemd_path(path: &Path) -> Result<String, ScheduleError> {
    checked_path(path, "systemd unit")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(exe: &'a Path, repo: &'a Path, minutes: u64) -> ScheduleInput<'a> {
        ScheduleInput {
            exe,
            repo,
            every: Duration::from_secs(minutes * 60),
        }
    }

    #[test]
    fn cron_line_has_five_time_fields_absolute_quoted_paths_and_a_log() {
        let schedule = cron(&input(
            Path::new("/opt/long run/longrun"),
            Path::new("/home/ann/it's"),
            10,
        ))
        .unwrap();
        assert_eq!(
            schedule.text,
            "*/10 * * * * cd '/home/ann/it'\\''s' && '/opt/long run/longrun' cycle >> '/home/ann/it'\\''s/.longrun/cron.log' 2>&1\n"
        );
        let fields: Vec<&str> = schedule.text.split_whitespace().take(5).collect();
        assert_eq!(fields, ["*/10", "*", "*", "*", "*"]);
        assert!(schedule.notes.is_empty());
    }

    #[test]
    fn cron_fields_for_common_intervals() {
        let fields = |minutes: u64| cron_fields(Duration::from_secs(minutes * 60)).map(|f| f.0);
        assert_eq!(fields(1).unwrap(), "* * * * *");
        assert_eq!(fields(2).unwrap(), "*/2 * * * *");
        assert_eq!(fields(60).unwrap(), "0 * * * *");
        assert_eq!(fields(120).unwrap(), "0 */2 * * *");
        assert_eq!(fields(1440).unwrap(), "0 0 * * *");
        assert!(fields(90).is_err());
        assert!(fields(2 * 1440).is_err());
        assert!(cron_fields(Duration::from_secs(30)).is_err());
        assert!(cron_fields(Duration::from_secs(150)).is_err());
        let (_, notes) = cron_fields(Duration::from_secs(7 * 60)).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn every_cron_minute_field_is_in_range() {
        for minutes in 1..60u64 {
            let (fields, _) = cron_fields(Duration::from_secs(minutes * 60)).unwrap();
            let minute = fields.split(' ').next().unwrap();
            let step: u64 = minute.strip_prefix("*/").map_or(1, |n| n.parse().unwrap());
            assert!((1..=59).contains(&step), "{fields}");
        }
    }

    #[test]
    fn cron_refuses_percent_signs_and_newlines() {
        let exe = Path::new("/usr/bin/longrun");
        assert!(cron(&input(exe, Path::new("/srv/100%"), 10)).is_err());
        assert!(cron(&input(exe, Path::new("/srv/a\nb"), 10)).is_err());
        assert!(cron(&input(exe, Path::new("relative"), 10)).is_err());
    }

    #[test]
    fn systemd_units_name_the_repository_and_keep_workers_alive() {
        let schedule = systemd(&input(
            Path::new("/usr/local/bin/longrun"),
            Path::new("/srv/My Repo"),
            90,
        ))
        .unwrap();
        let text = &schedule.text;
        assert!(text.contains("[Service]\nType=oneshot\nWorkingDirectory=/srv/My Repo\n"));
        assert!(text.contains("ExecStart=/usr/local/bin/longrun cycle\n"));
        assert!(text.contains("KillMode=process\n"));
        assert!(text.contains("[Timer]\nOnActiveSec=10s\nOnUnitActiveSec=1h 30min\n"));
        assert!(text.contains("Unit=longrun-My-Repo.service\n"));
        assert!(text.contains("~/.config/systemd/user/longrun-My-Repo.timer"));
    }

    #[test]
    fn systemd_escapes_specifiers_variables_and_spaces() {
        assert_eq!(systemd_exec_arg("/usr/bin/longrun"), "/usr/bin/longrun");
        assert_eq!(systemd_exec_arg("/a b/longrun"), "\"/a b/longrun\"");
        assert_eq!(systemd_exec_arg("/a%b/$x"), "/a%%b/$$x");
        assert_eq!(systemd_exec_arg("/a\"b"), "\"/a\\\"b\"");
        assert_eq!(systemd_specifiers("/srv/100%"), "/srv/100%%");
    }

    #[test]
    fn systemd_timespans() {
        assert_eq!(systemd_timespan(Duration::from_secs(600)), "10min");
        assert_eq!(systemd_timespan(Duration::from_secs(5400)), "1h 30min");
        assert_eq!(systemd_timespan(Duration::from_secs(86_400 + 5)), "1d 5s");
        assert_eq!(systemd_timespan(Duration::ZERO), "0s");
    }

    #[test]
    fn unit_names_are_safe() {
        assert_eq!(unit_name(Path::new("/srv/greet")), "longrun-greet");
        assert_eq!(unit_name(Path::new("/srv/a b/c d")), "longrun-c-d");
        assert_eq!(unit_name(Path::new("/")), "longrun-repo");
        assert_eq!(unit_name(Path::new("/srv/ü")), "longrun-repo");
        assert_eq!(unit_name(Path::new("/srv/ünï")), "longrun-n");
    }

    #[test]
    fn loop_prompt_names_the_command_and_forbids_state_edits() {
        let schedule = loop_prompt(&input(
            Path::new("/usr/bin/longrun"),
            Path::new("/srv/greet"),
            10,
        ))
        .unwrap();
        assert!(
            schedule
                .text
                .starts_with("/loop 10m Run `cd '/srv/greet' && '/usr/bin/longrun' cycle`"),
            "{}",
            schedule.text
        );
        assert!(schedule.text.contains("Never edit checklist.yaml"));
        assert_eq!(loop_interval(Duration::from_secs(7200)).unwrap(), "2h");
        assert_eq!(loop_interval(Duration::from_secs(5400)).unwrap(), "90m");
        assert_eq!(loop_interval(Duration::from_secs(86_400)).unwrap(), "1d");
        assert!(loop_interval(Duration::from_secs(30)).is_err());
        assert!(loop_interval(Duration::from_secs(90)).is_err());
    }
}
