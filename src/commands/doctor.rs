//! `longrun doctor [--json]`: is this machine ready to run agents? Which agent programs
//! are installed and their versions (`<program> --version`, argv only, a short time limit),
//! whether each profile's command line is complete, git's version, and whether the state
//! files read. Exit 0 healthy, 1 problems found.

use std::time::Duration;

use serde::Serialize;

use super::Context;
use crate::agents::{self, ProfileCheck};
use crate::cli::DoctorArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// How long `<program> --version` may take before it is killed.
const VERSION_TIME_LIMIT: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct Report {
    git: Finding,
    profiles: Vec<ProfileReport>,
    state: Vec<Finding>,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct ProfileReport {
    #[serde(flatten)]
    check: ProfileCheck,
    /// `--version`'s first line, or why there is none.
    version: Option<String>,
}

#[derive(Serialize)]
struct Finding {
    what: String,
    ok: bool,
    detail: String,
}

pub fn run(ctx: &Context, args: &DoctorArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let caller_env: Vec<(String, String)> = std::env::vars().collect();
    let git = match crate::git::version(&workspace.root) {
        Ok(version) => Finding {
            what: "git".into(),
            ok: true,
            detail: version,
        },
        Err(error) => Finding {
            what: "git".into(),
            ok: false,
            detail: error.to_string(),
        },
    };
    let mut state = Vec::new();
    let config = match crate::config::Config::load(&workspace.config()) {
        Ok((config, warnings)) => {
            state.push(Finding {
                what: "longrun.yaml".into(),
                ok: true,
                detail: format!("reads, {} warning(s)", warnings.len()),
            });
            Some(config)
        }
        Err(error) => {
            state.push(Finding {
                what: "longrun.yaml".into(),
                ok: false,
                detail: error.to_string(),
            });
            None
        }
    };
    state.push(match ctx.load_checklist(&workspace) {
        Ok(loaded) => Finding {
            what: "checklist.yaml".into(),
            ok: true,
            detail: format!("{} task(s)", loaded.checklist.tasks.len()),
        },
        Err(error) => Finding {
            what: "checklist.yaml".into(),
            ok: false,
            detail: error.to_string(),
        },
    });
    state.push(match crate::state::runlog::load(&workspace.run_log()) {
        Ok(log) if log.garbage.is_empty() => {
            let events_last = log
                .sections
                .last()
                .is_some_and(|section| section.kind == crate::state::runlog::SectionKind::Events);
            // Correct either way, but an event inserted before a later section rewrites the
            // whole file, which grows with the log.
            let detail = if events_last {
                "reads"
            } else {
                "reads; a section follows Events, so every event rewrites the whole file: \
                 move `## Events (append-only)` to the end to make each event one append"
            };
            Finding {
                what: "run-log.md".into(),
                ok: true,
                detail: detail.into(),
            }
        }
        Ok(log) => Finding {
            what: "run-log.md".into(),
            ok: false,
            detail: format!(
                "{} line(s) do not parse (kept as written)",
                log.garbage.len()
            ),
        },
        Err(error) => Finding {
            what: "run-log.md".into(),
            ok: false,
            detail: error.to_string(),
        },
    });

    let mut profiles = Vec::new();
    if let Some(config) = &config {
        for check in agents::check_profiles(config, &caller_env, &workspace.root) {
            let version = check.resolved.as_ref().map(|program| {
                let env = config
                    .agents
                    .get(&check.name)
                    .map(|profile| config.worker_env(profile, &caller_env))
                    .unwrap_or_default();
                crate::process::probe_output(
                    program,
                    &["--version"],
                    &workspace.root,
                    &env,
                    VERSION_TIME_LIMIT,
                )
                .unwrap_or_else(|error| format!("unknown ({error})"))
            });
            profiles.push(ProfileReport { check, version });
        }
    }
    let errors = usize::from(!git.ok)
        + state.iter().filter(|finding| !finding.ok).count()
        + profiles
            .iter()
            .filter(|report| report.check.used && !report.check.problems.is_empty())
            .count();
    let warnings = profiles
        .iter()
        .filter(|report| !report.check.used && !report.check.problems.is_empty())
        .count();
    let report = Report {
        git,
        profiles,
        state,
        errors,
        warnings,
    };
    if args.json {
        ctx.ui.json(&report);
    } else {
        ctx.ui.data(&render(&report));
        ctx.ui.status(&format!(
            "SUMMARY: {} profile(s), {errors} error(s), {warnings} warning(s)",
            report.profiles.len()
        ));
    }
    Ok(if errors > 0 {
        ExitStatus::Negative
    } else {
        ExitStatus::Success
    })
}

fn render(report: &Report) -> String {
    let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
    let mut out = String::new();
    out.push_str(&format!(
        "{} git: {}\n",
        mark(report.git.ok),
        report.git.detail
    ));
    for finding in &report.state {
        out.push_str(&format!(
            "{} `{}`: {}\n",
            mark(finding.ok),
            finding.what,
            finding.detail
        ));
    }
    for profile in &report.profiles {
        let check = &profile.check;
        let status = match (check.problems.is_empty(), check.used) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            (false, false) => "warn",
        };
        let used = if check.used { "used" } else { "unused" };
        let mut found = match (&check.resolved, &profile.version) {
            (Some(path), Some(version)) => format!("`{}` ({version})", path.display()),
            (Some(path), None) => format!("`{}`", path.display()),
            (None, _) => String::new(),
        };
        for problem in &check.problems {
            if !found.is_empty() {
                found.push_str("; ");
            }
            found.push_str(problem);
        }
        out.push_str(&format!(
            "{status} profile `{}` ({}, {used}): {found}\n",
            check.name, check.kind
        ));
    }
    out
}
