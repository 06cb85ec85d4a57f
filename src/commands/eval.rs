//! `longrun eval list|show|run`: eval tasks in `evals/`. The format lives in
//! [`crate::eval`], the replay in [`crate::eval::run`]; this file picks evals and profiles,
//! and prints the table.

use std::path::PathBuf;

use serde::Serialize;

use super::Context;
use crate::cli::{EvalListArgs, EvalRunArgs, EvalShowArgs};
use crate::error::CommandError;
use crate::eval::run::{AttemptOutcome, EvalBaseline, EvalResults, EvalRunOptions};
use crate::eval::{self, EvalSpec};
use crate::exit::ExitStatus;

/// One eval in `eval list --json`.
#[derive(Serialize)]
struct ListedEval {
    /// The file's stem (the id when the eval is valid).
    id: String,
    /// Relative to the repository root.
    path: PathBuf,
    valid: bool,
    /// `None` when the file is not a valid eval.
    spec: Option<EvalSpec>,
    /// Why the file is not a valid eval.
    error: Option<String>,
}

pub fn list(ctx: &Context, args: &EvalListArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let files = eval::list_evals(&workspace.root.join(eval::EVALS_DIR))?;
    if args.json {
        let listed: Vec<ListedEval> = files
            .into_iter()
            .map(|file| {
                let id = file
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let path = file
                    .path
                    .strip_prefix(&workspace.root)
                    .unwrap_or(&file.path)
                    .to_path_buf();
                let (spec, error) = match file.spec {
                    Ok(spec) => (Some(spec), None),
                    Err(message) => (None, Some(message)),
                };
                ListedEval {
                    id,
                    path,
                    valid: spec.is_some(),
                    spec,
                    error,
                }
            })
            .collect();
        ctx.ui.json(&listed);
        return Ok(ExitStatus::Success);
    }
    if files.is_empty() {
        ctx.ui
            .status(&format!("no evals in `{}/`", eval::EVALS_DIR));
        return Ok(ExitStatus::Success);
    }
    let mut out = String::new();
    for file in &files {
        let stem = file
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match &file.spec {
            Ok(spec) => {
                let first = spec.task.lines().next().unwrap_or_default();
                let base = &spec.base[..spec.base.len().min(10)];
                out.push_str(&format!("{stem}  base {base}  {first}\n"));
            }
            Err(message) => out.push_str(&format!("{stem}  INVALID: {message}\n")),
        }
    }
    ctx.ui.data(&out);
    Ok(ExitStatus::Success)
}

/// `eval show --json`: the eval's fields, and what the newest run found at its base.
#[derive(Serialize)]
struct ShownEval<'a> {
    #[serde(flatten)]
    spec: &'a EvalSpec,
    /// The newest `eval run` that checked this eval's base; `None` when none did.
    baseline: Option<ShownBaseline>,
}

#[derive(Serialize)]
struct ShownBaseline {
    run: String,
    #[serde(flatten)]
    baseline: EvalBaseline,
}

pub fn show(ctx: &Context, args: &EvalShowArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let spec = load(&workspace.root, args.id.as_str())?;
    let baseline = crate::eval::run::latest_baseline(
        &workspace.state_dir().join("evals"),
        &spec.id,
        &spec.base,
    )
    .map(|(run, baseline)| ShownBaseline { run, baseline });
    if args.json {
        ctx.ui.json(&ShownEval {
            spec: &spec,
            baseline,
        });
        return Ok(ExitStatus::Success);
    }
    let mut out = spec.render();
    // Comment lines: the output stays the eval's YAML.
    match &baseline {
        None => out.push_str("# baseline: not checked yet (`longrun eval run` checks it)\n"),
        Some(shown) if shown.baseline.vacuous => out.push_str(&format!(
            "# baseline (run {}): VACUOUS: every validator already passes at the base {}, so this eval proves nothing\n",
            shown.run,
            short(shown.baseline.commit.as_deref().unwrap_or_default())
        )),
        Some(shown) => out.push_str(&format!(
            "# baseline (run {}): {} of {} validator(s) fail at the base {}, as they should\n",
            shown.run,
            shown.baseline.validators - shown.baseline.passing.len(),
            shown.baseline.validators,
            short(shown.baseline.commit.as_deref().unwrap_or_default())
        )),
    }
    ctx.ui.data(&out);
    Ok(ExitStatus::Success)
}

pub fn run(ctx: &Context, args: &EvalRunArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let (config, _warnings) = crate::config::Config::load(&workspace.config())
        .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    let evals: Vec<EvalSpec> = if args.ids.is_empty() {
        let files = eval::list_evals(&workspace.root.join(eval::EVALS_DIR))?;
        let mut specs = Vec::new();
        for file in files {
            match file.spec {
                Ok(spec) => specs.push(spec),
                Err(message) => ctx
                    .ui
                    .warn(&format!("skipped `{}`: {message}", file.path.display())),
            }
        }
        specs
    } else {
        args.ids
            .iter()
            .map(|id| load(&workspace.root, id.as_str()))
            .collect::<Result<_, _>>()?
    };
    if evals.is_empty() {
        return Err(
            CommandError::user(format!("no evals in `{}/`", eval::EVALS_DIR))
                .with_hint("`longrun mine` proposes evals from fixed failures"),
        );
    }
    let names: Vec<String> = if args.agents.is_empty() {
        vec![config.routing.default.clone()]
    } else {
        args.agents.clone()
    };
    let mut profiles = Vec::new();
    for name in names {
        let Some(profile) = config.profile(&name) else {
            let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
            return Err(
                CommandError::user(format!("no agent profile `{name}` in `longrun.yaml`"))
                    .with_hint(format!("profiles: {}", known.join(", "))),
            );
        };
        if !profiles.iter().any(|(n, _): &(String, _)| *n == name) {
            profiles.push((name, profile.clone()));
        }
    }
    // Runs started in the same second (or under a fixed clock) get their own directory.
    let stamp = ctx.clock.now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut run_name = stamp.clone();
    let mut suffix = 2;
    while workspace.state_dir().join("evals").join(&run_name).exists() {
        run_name = format!("{stamp}-{suffix}");
        suffix += 1;
    }
    let out_dir = workspace.state_dir().join("evals").join(&run_name);
    let caller_env: Vec<(String, String)> = std::env::vars().collect();
    ctx.ui.status(&format!(
        "running {} eval(s) × {} profile(s) × {} → `{}`",
        evals.len(),
        profiles.len(),
        args.repeat,
        out_dir
            .strip_prefix(&workspace.root)
            .unwrap_or(&out_dir)
            .display()
    ));
    let results = crate::eval::run::run_evals(
        &evals,
        &EvalRunOptions {
            primary: &workspace.root,
            config: &config,
            profiles: &profiles,
            caller_env: &caller_env,
            repeat: args.repeat,
            out_dir: &out_dir,
            run_name: &run_name,
            validator_timeout: config.validator_timeout,
            clock: ctx.clock,
        },
    )
    .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    for baseline in results.baselines.iter().filter(|b| b.vacuous) {
        ctx.ui.warn(&format!(
            "eval `{}` is vacuous: every validator already passes at its base {}, so it proves nothing; its attempts were not run",
            baseline.eval,
            short(baseline.commit.as_deref().unwrap_or_default())
        ));
    }
    if args.json {
        ctx.ui.json(&results);
    } else {
        ctx.ui.data(&table(&results));
    }
    let all_passed = results.attempts.iter().all(|a| a.passed);
    Ok(if all_passed {
        ExitStatus::Success
    } else {
        ExitStatus::Negative
    })
}

fn load(root: &std::path::Path, id: &str) -> Result<EvalSpec, CommandError> {
    let path = root.join(eval::EVALS_DIR).join(format!("{id}.yaml"));
    if !path.is_file() {
        return Err(
            CommandError::user(format!("no eval `{id}` (`{}`)", path.display()))
                .with_hint("`longrun eval list` shows the evals"),
        );
    }
    eval::load_eval(&path).map_err(|message| {
        CommandError::user(format!("`{}` is not a valid eval", path.display())).with_cause(message)
    })
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// Profiles side by side: pass rate, mean duration, cost; then one line per eval and one
/// per attempt that did not pass, with its reason.
fn table(results: &EvalResults) -> String {
    let mut out = format!(
        "{:<24} {:>9} {:>10} {:>12} {:>10}\n",
        "profile", "attempts", "pass rate", "mean time", "cost"
    );
    for summary in &results.profiles {
        out.push_str(&format!(
            "{:<24} {:>9} {:>9.0}% {:>10.1} s {:>10}\n",
            summary.profile,
            summary.attempts,
            summary.pass_rate * 100.0,
            summary.mean_duration_ms as f64 / 1000.0,
            summary
                .cost_usd
                .map_or("unknown".to_string(), |c| format!("${c:.2}"))
        ));
    }
    out.push('\n');
    for (eval, baseline) in results.evals.iter().zip(&results.baselines) {
        if baseline.vacuous {
            out.push_str(&format!(
                "{eval:<24}  VACUOUS: every validator already passes at the base {}; it proves nothing and was not run\n",
                short(baseline.commit.as_deref().unwrap_or_default())
            ));
            continue;
        }
        let mut line = format!("{eval:<24}");
        for summary in &results.profiles {
            let attempts: Vec<_> = results
                .attempts
                .iter()
                .filter(|a| &a.eval == eval && a.profile == summary.profile)
                .collect();
            let passed = attempts.iter().filter(|a| a.passed).count();
            line.push_str(&format!(
                "  {}: {passed}/{} passed",
                summary.profile,
                attempts.len()
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for attempt in results.attempts.iter().filter(|a| &a.eval == eval) {
            if let Some(failure) = attempt.failure.as_deref().filter(|_| !attempt.passed) {
                out.push_str(&format!(
                    "  {} #{}: {failure}\n",
                    attempt.profile, attempt.repeat
                ));
            }
        }
    }
    let count = |outcome| {
        results
            .attempts
            .iter()
            .filter(|a| a.outcome == outcome)
            .count()
    };
    let vacuous = count(AttemptOutcome::Vacuous);
    out.push_str(&format!(
        "SUMMARY: {} attempt(s), {} passed, {} failed{}; results in `.longrun/evals/{}/results.json`\n",
        results.attempts.len() - vacuous,
        count(AttemptOutcome::Passed),
        count(AttemptOutcome::Failed) + count(AttemptOutcome::Error),
        if vacuous > 0 {
            format!(", {vacuous} not run (vacuous eval)")
        } else {
            String::new()
        },
        results.run
    ));
    out
}
