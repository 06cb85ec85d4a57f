//! Replays evals: each eval, for each agent profile, for each repeat, in a scratch worktree
//! at the eval's base commit on a throwaway branch (removed afterwards), the agent run
//! through the same supervisor as the cycle's workers, then the eval's validators.
//!
//! Never prints and never reads the environment: the caller passes the profiles, the
//! caller's environment and the clock. Results are written to `<out_dir>/results.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::EvalSpec;
use crate::clock::Clock;
use crate::config::{Config, Profile, PromptMode};
use crate::gate::validate::{ValidateOptions, ValidatorRun, run_validators};
use crate::process::{self, NoopRenewer, Stdin, StopFlag, SupervisorContext, WorkerSpec};
use crate::state::checklist::Validator;

/// What to run and where.
pub struct EvalRunOptions<'a> {
    /// The primary checkout.
    pub primary: &'a Path,
    pub config: &'a Config,
    /// `(profile name, profile)`, in the order to show them.
    pub profiles: &'a [(String, Profile)],
    pub caller_env: &'a [(String, String)],
    pub repeat: u32,
    /// `.longrun/evals/<run>`: attempts' files, scratch worktrees and `results.json`.
    pub out_dir: &'a Path,
    /// The run's name, used in the throwaway branches.
    pub run_name: &'a str,
    pub validator_timeout: Duration,
    pub clock: Clock,
}

/// One attempt of one eval with one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalAttempt {
    pub eval: String,
    pub profile: String,
    /// 1-based.
    pub repeat: u32,
    pub passed: bool,
    pub agent_exit_code: Option<i32>,
    pub agent_timed_out: bool,
    pub duration_ms: u64,
    pub cost_usd: Option<f64>,
    pub validators: Vec<ValidatorRun>,
    /// Why the attempt could not run (a missing base commit, a bad profile).
    pub error: Option<String>,
    /// The attempt's files, relative to the primary checkout.
    pub dir: PathBuf,
}

/// Pass rate, time and cost of one profile over every attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileSummary {
    pub profile: String,
    pub attempts: u32,
    pub passed: u32,
    pub pass_rate: f64,
    pub mean_duration_ms: u64,
    /// `None` when any attempt's cost is unknown.
    pub cost_usd: Option<f64>,
}

/// Everything one `longrun eval run` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalResults {
    pub run: String,
    pub evals: Vec<String>,
    pub attempts: Vec<EvalAttempt>,
    pub profiles: Vec<ProfileSummary>,
}

/// Why the run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EvalRunError {
    #[error(transparent)]
    File(#[from] crate::fsutil::FsError),
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
}

/// Runs every eval with every profile `repeat` times and writes `results.json`.
pub fn run_evals(
    evals: &[EvalSpec],
    options: &EvalRunOptions<'_>,
) -> Result<EvalResults, EvalRunError> {
    let mut attempts = Vec::new();
    for eval in evals {
        for (profile_name, profile) in options.profiles {
            for repeat in 1..=options.repeat {
                attempts.push(run_attempt(eval, profile_name, profile, repeat, options)?);
            }
        }
    }
    let profiles = options
        .profiles
        .iter()
        .map(|(name, _)| summarise(name, &attempts))
        .collect();
    let results = EvalResults {
        run: options.run_name.to_string(),
        evals: evals.iter().map(|eval| eval.id.clone()).collect(),
        attempts,
        profiles,
    };
    let text = serde_json::to_string_pretty(&results).unwrap_or_default() + "\n";
    crate::fsutil::write_atomic(&options.out_dir.join("results.json"), text.as_bytes())?;
    Ok(results)
}

fn summarise(profile: &str, attempts: &[EvalAttempt]) -> ProfileSummary {
    let mine: Vec<&EvalAttempt> = attempts.iter().filter(|a| a.profile == profile).collect();
    let count = mine.len() as u32;
    let passed = mine.iter().filter(|a| a.passed).count() as u32;
    let total_ms: u64 = mine.iter().map(|a| a.duration_ms).sum();
    let cost = mine
        .iter()
        .map(|a| a.cost_usd)
        .try_fold(0.0, |sum, cost| cost.map(|c| sum + c));
    ProfileSummary {
        profile: profile.to_string(),
        attempts: count,
        passed,
        pass_rate: if count == 0 {
            0.0
        } else {
            f64::from(passed) / f64::from(count)
        },
        mean_duration_ms: if count == 0 {
            0
        } else {
            total_ms / u64::from(count)
        },
        cost_usd: if count == 0 { None } else { cost },
    }
}

fn run_attempt(
    eval: &EvalSpec,
    profile_name: &str,
    profile: &Profile,
    repeat: u32,
    options: &EvalRunOptions<'_>,
) -> Result<EvalAttempt, EvalRunError> {
    let profile_slug = crate::mine::proposals::slug(profile_name, 40);
    let attempt_dir = options
        .out_dir
        .join(&eval.id)
        .join(&profile_slug)
        .join(repeat.to_string());
    std::fs::create_dir_all(&attempt_dir).map_err(|source| crate::fsutil::FsError::Write {
        path: attempt_dir.clone(),
        source,
    })?;
    let mut attempt = EvalAttempt {
        eval: eval.id.clone(),
        profile: profile_name.to_string(),
        repeat,
        passed: false,
        agent_exit_code: None,
        agent_timed_out: false,
        duration_ms: 0,
        cost_usd: None,
        validators: Vec::new(),
        error: None,
        dir: attempt_dir
            .strip_prefix(options.primary)
            .unwrap_or(&attempt_dir)
            .to_path_buf(),
    };
    let Some(base) = crate::git::rev_parse(options.primary, &eval.base)? else {
        attempt.error = Some(format!("base `{}` is not a commit here", eval.base));
        return Ok(attempt);
    };
    let worktree = options
        .out_dir
        .join("worktrees")
        .join(format!("{}-{profile_slug}-{repeat}", eval.id));
    let branch = format!(
        "longrun-eval/{}/{}/{profile_slug}/{repeat}",
        options.run_name, eval.id
    );
    if let Some(parent) = worktree.parent() {
        std::fs::create_dir_all(parent).map_err(|source| crate::fsutil::FsError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    crate::git::worktree_add(options.primary, &worktree, &branch, &base)?;
    let outcome = agent_and_validators(eval, profile, &worktree, &attempt_dir, repeat, options);
    // The scratch worktree and its branch go whatever happened; the attempt's files stay.
    let removed = crate::git::worktree_remove(options.primary, &worktree, true);
    let deleted = crate::git::branch_delete(options.primary, &branch, true);
    match outcome {
        Ok((result, validators)) => {
            attempt.agent_exit_code = result.exit_code;
            attempt.agent_timed_out = result.timed_out;
            attempt.duration_ms = result.duration_ms;
            attempt.cost_usd = if result.cost_known {
                result.cost_usd
            } else {
                None
            };
            attempt.passed = !validators.is_empty()
                && validators.len() == eval.validators.len()
                && validators.iter().all(ValidatorRun::passed);
            attempt.validators = validators;
            if let Some(error) = result.error {
                attempt.error = Some(error);
                attempt.passed = false;
            }
        }
        Err(message) => attempt.error = Some(message),
    }
    removed?;
    deleted?;
    Ok(attempt)
}

fn agent_and_validators(
    eval: &EvalSpec,
    profile: &Profile,
    worktree: &Path,
    attempt_dir: &Path,
    repeat: u32,
    options: &EvalRunOptions<'_>,
) -> Result<(process::WorkerResult, Vec<ValidatorRun>), String> {
    let prompt = render_prompt(eval);
    let prompt_file = attempt_dir.join("prompt.md");
    crate::fsutil::write_atomic(&prompt_file, prompt.as_bytes()).map_err(|e| e.to_string())?;
    let vars = profile.vars(worktree, &prompt_file, &eval.id);
    let mut argv = profile
        .render_argv(&vars)
        .map_err(|error| format!("agent profile: {error}"))?;
    let stdin = match profile.prompt {
        PromptMode::Stdin => Stdin::File(prompt_file.clone()),
        PromptMode::File => Stdin::Null,
        PromptMode::Arg => {
            argv.push(prompt.clone());
            Stdin::Null
        }
    };
    let agent_dir = attempt_dir.join("agent");
    let mut env = options.config.worker_env(profile, options.caller_env);
    env.retain(|(name, _)| !name.starts_with("LONGRUN_"));
    env.extend(crate::cycle::longrun_env(
        &eval.id,
        worktree,
        Some(&prompt_file),
        &agent_dir,
        repeat,
    ));
    let timeout = eval
        .timeout
        .as_deref()
        .and_then(|text| crate::config::parse_duration(text).ok())
        .unwrap_or(profile.timeout);
    let mut spec = WorkerSpec::new(argv, worktree.to_path_buf(), agent_dir);
    spec.env = env.clone();
    spec.stdin = stdin;
    spec.timeout_secs = timeout.as_secs().max(1);
    let context = SupervisorContext {
        clock: options.clock,
        renewer: &NoopRenewer,
        stop: StopFlag::new(),
        reap_escapees: false,
        durable: true,
    };
    let result = process::run_supervisor(&spec, &context).map_err(|e| e.to_string())?;
    let validators: Vec<Validator> = eval
        .validators
        .iter()
        .map(|command| Validator::Shell(command.clone()))
        .collect();
    let runs = run_validators(
        &validators,
        &ValidateOptions {
            worktree,
            dir: &attempt_dir.join("validate"),
            env: &env,
            timeout: options.validator_timeout,
            clock: options.clock,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok((result, runs))
}

/// The prompt an eval's agent gets: the task, its acceptance criteria, the validators.
pub fn render_prompt(eval: &EvalSpec) -> String {
    let mut out = format!("# Eval `{}`\n\n## Task\n\n{}\n", eval.id, eval.task.trim());
    if !eval.acceptance.is_empty() {
        out.push_str("\n## Acceptance criteria\n\n");
        for item in &eval.acceptance {
            out.push_str(&format!("- {item}\n"));
        }
    }
    out.push_str("\n## Validators (all must exit 0 in your working directory)\n\n");
    for validator in &eval.validators {
        out.push_str(&format!("- `{validator}`\n"));
    }
    out.push_str("\nCommit your work before you stop.\n");
    out
}
