//! Replays evals: each eval, for each agent profile, for each repeat, in a scratch worktree
//! at the eval's base commit on a throwaway branch (removed afterwards), the agent run
//! through the same supervisor as the cycle's workers (the spec from
//! [`crate::launch::agent_spec`], so usage and cost are read as the cycle reads them), then
//! the eval's validators.
//!
//! What counts as a pass (the rule `longrun eval run --help` and README.md state):
//!
//! - Before any attempt, the eval's validators run once at the base commit in a scratch
//!   worktree (the cycle's vacuous-validator check, [`crate::gate::validate::run_baseline`]).
//!   When every one of them already passes there the eval proves nothing: it is `vacuous`,
//!   its attempts are not run (no agent time or money is spent on it) and each is recorded
//!   as `vacuous`, never as a pass.
//! - An attempt passes only when the agent did not fail by its own account (the cycle's
//!   rule, [`crate::launch::agent_failure`]: not started, timed out, stopped, a reported
//!   failure, a non-zero exit, a signal), left the worktree different from the base (a
//!   commit or a changed file; an agent that changed nothing solved nothing, whatever the
//!   validators say), and every validator then exits 0. The first reason that applies is
//!   recorded as the attempt's `failure`.
//!
//! Never prints and never reads the environment: the caller passes the profiles, the
//! caller's environment and the clock. Results are written to `<out_dir>/results.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::EvalSpec;
use crate::clock::Clock;
use crate::config::{Config, Profile};
use crate::gate::validate::{ValidateOptions, ValidatorRun, run_validators};
use crate::process::{self, NoopRenewer, StopFlag, SupervisorContext};
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

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The agent finished cleanly, changed the worktree, and every validator passed.
    Passed,
    /// The agent failed by its own account, changed nothing, or a validator failed.
    Failed,
    /// Not run: every validator already passes at the base, so the eval proves nothing.
    Vacuous,
    /// Could not be run: a base that is not a commit, a profile that does not render.
    Error,
}

/// One attempt of one eval with one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalAttempt {
    pub eval: String,
    pub profile: String,
    /// 1-based.
    pub repeat: u32,
    pub outcome: AttemptOutcome,
    /// `outcome == passed`.
    pub passed: bool,
    /// Why it did not pass, in words (`the agent exited 4`, `validator `make test` exited
    /// 2`, `the agent changed nothing at the base commit`); `None` when it passed.
    pub failure: Option<String>,
    /// An agent process was started for this attempt (not for a vacuous eval or a base that
    /// is not a commit).
    pub agent_ran: bool,
    pub agent_exit_code: Option<i32>,
    pub agent_timed_out: bool,
    /// The worktree differed from the base after the agent (commits or non-ignored files);
    /// `None` when the agent did not run to the end.
    pub changed: Option<bool>,
    pub duration_ms: u64,
    pub cost_usd: Option<f64>,
    /// The validators run after the agent (none when the agent failed or changed nothing).
    pub validators: Vec<ValidatorRun>,
    /// Why the attempt could not run (a missing base commit, a bad profile).
    pub error: Option<String>,
    /// The attempt's files, relative to the primary checkout.
    pub dir: PathBuf,
}

/// What the eval's validators say at its base commit, before any agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalBaseline {
    pub eval: String,
    /// The eval's `base`, as written.
    pub base: String,
    /// The commit it names here; `None` when it names none.
    pub commit: Option<String>,
    /// The validators that already pass at the base, as displayed.
    pub passing: Vec<String>,
    /// How many validators the eval has.
    pub validators: usize,
    /// Every validator already passes at the base: the eval proves nothing.
    pub vacuous: bool,
    /// Why the check could not run.
    pub error: Option<String>,
    /// Its files, relative to the primary checkout.
    pub dir: PathBuf,
}

/// Pass rate, time and cost of one profile over its attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileSummary {
    pub profile: String,
    /// Attempts that count: every one but the vacuous ones.
    pub attempts: u32,
    pub passed: u32,
    /// `passed / attempts`; 0 when there are none.
    pub pass_rate: f64,
    /// Attempts of vacuous evals, not run and not counted in `attempts`.
    pub vacuous: u32,
    /// Over the attempts whose agent ran.
    pub mean_duration_ms: u64,
    /// The sum over the attempts whose agent ran; `None` when any of them reported no cost
    /// (unknown is never zero).
    pub cost_usd: Option<f64>,
}

/// Everything one `longrun eval run` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalResults {
    pub run: String,
    pub evals: Vec<String>,
    /// One per eval, in `evals` order.
    pub baselines: Vec<EvalBaseline>,
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
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
}

/// Runs every eval with every profile `repeat` times and writes `results.json`.
pub fn run_evals(
    evals: &[EvalSpec],
    options: &EvalRunOptions<'_>,
) -> Result<EvalResults, EvalRunError> {
    let mut attempts = Vec::new();
    let mut baselines = Vec::new();
    for eval in evals {
        let baseline = run_baseline(eval, options)?;
        for (profile_name, profile) in options.profiles {
            for repeat in 1..=options.repeat {
                attempts.push(run_attempt(
                    eval,
                    &baseline,
                    profile_name,
                    profile,
                    repeat,
                    options,
                )?);
            }
        }
        baselines.push(baseline);
    }
    let profiles = options
        .profiles
        .iter()
        .map(|(name, _)| summarise(name, &attempts))
        .collect();
    let results = EvalResults {
        run: options.run_name.to_string(),
        evals: evals.iter().map(|eval| eval.id.clone()).collect(),
        baselines,
        attempts,
        profiles,
    };
    let text = serde_json::to_string_pretty(&results).unwrap_or_default() + "\n";
    crate::fsutil::write_atomic(&options.out_dir.join("results.json"), text.as_bytes())?;
    Ok(results)
}

/// The newest baseline of eval `id` with base `base` among the runs under `evals_dir`
/// (`.longrun/evals`), with its run's name; `None` when no run checked it. Runs whose
/// `results.json` cannot be read are skipped.
pub fn latest_baseline(evals_dir: &Path, id: &str, base: &str) -> Option<(String, EvalBaseline)> {
    #[derive(Deserialize)]
    struct Stored {
        run: String,
        #[serde(default)]
        baselines: Vec<EvalBaseline>,
    }
    let mut runs: Vec<(String, u32, PathBuf)> = std::fs::read_dir(evals_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            // `<stamp>` or `<stamp>-<n>` (runs started in the same second).
            let (stamp, number) = match name.split_once('-') {
                Some((stamp, number)) => (stamp.to_string(), number.parse().ok()?),
                None => (name.clone(), 1),
            };
            Some((stamp, number, entry.path().join("results.json")))
        })
        .collect();
    runs.sort();
    runs.into_iter().rev().find_map(|(_, _, path)| {
        let bytes = crate::fsutil::read_bounded(&path, crate::fsutil::MAX_STATE_FILE_BYTES).ok()?;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        let baseline = stored.baselines.into_iter().find(|baseline| {
            baseline.eval == id && baseline.base == base && baseline.error.is_none()
        })?;
        Some((stored.run, baseline))
    })
}

fn summarise(profile: &str, attempts: &[EvalAttempt]) -> ProfileSummary {
    let mine: Vec<&EvalAttempt> = attempts.iter().filter(|a| a.profile == profile).collect();
    let vacuous = mine
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Vacuous)
        .count() as u32;
    let count = mine.len() as u32 - vacuous;
    let passed = mine.iter().filter(|a| a.passed).count() as u32;
    let ran: Vec<&&EvalAttempt> = mine.iter().filter(|a| a.agent_ran).collect();
    let total_ms: u64 = ran.iter().map(|a| a.duration_ms).sum();
    let cost = ran
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
        vacuous,
        mean_duration_ms: if ran.is_empty() {
            0
        } else {
            total_ms / ran.len() as u64
        },
        cost_usd: if ran.is_empty() { None } else { cost },
    }
}

/// The eval's validators at its base commit, in a detached scratch worktree removed
/// afterwards.
fn run_baseline(
    eval: &EvalSpec,
    options: &EvalRunOptions<'_>,
) -> Result<EvalBaseline, EvalRunError> {
    let dir = options.out_dir.join(&eval.id).join("baseline");
    create_dir(&dir)?;
    let mut baseline = EvalBaseline {
        eval: eval.id.clone(),
        base: eval.base.clone(),
        commit: None,
        passing: Vec::new(),
        validators: eval.validators.len(),
        vacuous: false,
        error: None,
        dir: relative(options.primary, &dir),
    };
    let Some(commit) = crate::git::rev_parse(options.primary, &eval.base)? else {
        baseline.error = Some(format!("base `{}` is not a commit here", eval.base));
        return Ok(baseline);
    };
    baseline.commit = Some(commit.clone());
    let worktree = options
        .out_dir
        .join("worktrees")
        .join(format!("{}-baseline", eval.id));
    create_dir(worktree.parent().unwrap_or(options.out_dir))?;
    crate::git::worktree_add_detached(options.primary, &worktree, &commit)?;
    let check = process::Baseline {
        validators: validators_of(eval),
        base: commit,
        env: crate::launch::validator_env(
            options.config,
            options.caller_env,
            &eval.id,
            &worktree,
            &dir,
            0,
        ),
        timeout_secs: options.validator_timeout.as_secs().max(1),
        dir: dir.clone(),
        strict: false,
    };
    let found = crate::gate::validate::run_baseline(&check, &worktree, options.clock);
    // The scratch worktree goes whatever happened; the validators' files stay.
    let removed = crate::git::worktree_remove(options.primary, &worktree, true);
    let found = found?;
    removed?;
    // In the eval's own words, not as the shell runs them (`sh -c '...'`).
    baseline.passing = eval
        .validators
        .iter()
        .zip(check.validators.iter())
        .filter(|(_, validator)| found.vacuous.contains(&validator.display()))
        .map(|(text, _)| text.clone())
        .collect();
    baseline.vacuous = baseline.passing.len() == eval.validators.len();
    Ok(baseline)
}

fn validators_of(eval: &EvalSpec) -> Vec<Validator> {
    eval.validators
        .iter()
        .map(|command| Validator::Shell(command.clone()))
        .collect()
}

fn create_dir(dir: &Path) -> Result<(), EvalRunError> {
    std::fs::create_dir_all(dir).map_err(|source| {
        EvalRunError::File(crate::fsutil::FsError::Write {
            path: dir.to_path_buf(),
            source,
        })
    })
}

fn relative(primary: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(primary).unwrap_or(path).to_path_buf()
}

fn run_attempt(
    eval: &EvalSpec,
    baseline: &EvalBaseline,
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
    create_dir(&attempt_dir)?;
    let mut attempt = EvalAttempt {
        eval: eval.id.clone(),
        profile: profile_name.to_string(),
        repeat,
        outcome: AttemptOutcome::Error,
        passed: false,
        failure: None,
        agent_ran: false,
        agent_exit_code: None,
        agent_timed_out: false,
        changed: None,
        duration_ms: 0,
        cost_usd: None,
        validators: Vec::new(),
        error: None,
        dir: relative(options.primary, &attempt_dir),
    };
    let Some(base) = baseline.commit.clone() else {
        let error = baseline
            .error
            .clone()
            .unwrap_or_else(|| format!("base `{}` is not a commit here", eval.base));
        attempt.failure = Some(error.clone());
        attempt.error = Some(error);
        return Ok(attempt);
    };
    if baseline.vacuous {
        attempt.outcome = AttemptOutcome::Vacuous;
        attempt.failure = Some(format!(
            "not run: every validator already passes at the base {}, so the eval proves nothing",
            short(&base)
        ));
        return Ok(attempt);
    }
    let worktree = options
        .out_dir
        .join("worktrees")
        .join(format!("{}-{profile_slug}-{repeat}", eval.id));
    let branch = format!(
        "longrun-eval/{}/{}/{profile_slug}/{repeat}",
        options.run_name, eval.id
    );
    create_dir(worktree.parent().unwrap_or(options.out_dir))?;
    crate::git::worktree_add(options.primary, &worktree, &branch, &base)?;
    let outcome = agent_and_validators(
        eval,
        profile,
        &base,
        &worktree,
        &attempt_dir,
        repeat,
        options,
    );
    // The scratch worktree and its branch go whatever happened; the attempt's files stay.
    let removed = crate::git::worktree_remove(options.primary, &worktree, true);
    let deleted = crate::git::branch_delete(options.primary, &branch, true);
    match outcome {
        Ok(ran) => {
            let result = ran.result;
            attempt.agent_ran = true;
            attempt.agent_exit_code = result.exit_code;
            attempt.agent_timed_out = result.timed_out;
            attempt.duration_ms = result.duration_ms;
            attempt.cost_usd = if result.cost_known {
                result.cost_usd
            } else {
                None
            };
            attempt.changed = ran.changed;
            attempt.validators = ran.validators;
            attempt.error = result.error.clone();
            attempt.failure = verdict(eval, &result, ran.changed, &attempt.validators);
            attempt.outcome = match attempt.failure {
                None => AttemptOutcome::Passed,
                Some(_) => AttemptOutcome::Failed,
            };
            attempt.passed = attempt.outcome == AttemptOutcome::Passed;
        }
        Err(message) => {
            attempt.failure = Some(message.clone());
            attempt.error = Some(message);
        }
    }
    removed?;
    deleted?;
    Ok(attempt)
}

/// Why a finished attempt did not pass, or `None` when it did (see the module's rule).
fn verdict(
    eval: &EvalSpec,
    result: &process::WorkerResult,
    changed: Option<bool>,
    validators: &[ValidatorRun],
) -> Option<String> {
    if let Some(reason) = crate::launch::agent_failure(result) {
        return Some(reason);
    }
    match changed {
        Some(true) => {}
        Some(false) => return Some("the agent changed nothing at the base commit".to_string()),
        None => return Some("whether the agent changed anything is unknown".to_string()),
    }
    if let Some((index, failed)) = validators.iter().enumerate().find(|(_, run)| !run.passed()) {
        // In the eval's own words, not as the shell runs it (`sh -c '...'`).
        let command = eval.validators.get(index).unwrap_or(&failed.command);
        return Some(format!("validator `{command}` {}", failed.outcome()));
    }
    if validators.len() != eval.validators.len() {
        return Some("not every validator ran".to_string());
    }
    None
}

/// What the agent and then the validators did in one attempt's worktree.
struct Ran {
    result: process::WorkerResult,
    changed: Option<bool>,
    validators: Vec<ValidatorRun>,
}

fn agent_and_validators(
    eval: &EvalSpec,
    profile: &Profile,
    base: &str,
    worktree: &Path,
    attempt_dir: &Path,
    repeat: u32,
    options: &EvalRunOptions<'_>,
) -> Result<Ran, String> {
    let prompt = render_prompt(eval);
    let prompt_file = attempt_dir.join("prompt.md");
    crate::fsutil::write_atomic(&prompt_file, prompt.as_bytes()).map_err(|e| e.to_string())?;
    let agent_dir = attempt_dir.join("agent");
    let timeout = eval
        .timeout
        .as_deref()
        .and_then(|text| crate::config::parse_duration(text).ok())
        .unwrap_or(profile.timeout);
    let spec = crate::launch::agent_spec(&crate::launch::AgentLaunch {
        profile,
        config: options.config,
        caller_env: options.caller_env,
        job: &eval.id,
        workdir: worktree,
        prompt: &prompt,
        prompt_file: &prompt_file,
        run_dir: &agent_dir,
        attempt: repeat,
        timeout,
    })
    .map_err(|error| format!("agent profile: {error}"))?;
    let context = SupervisorContext {
        clock: options.clock,
        renewer: &NoopRenewer,
        stop: StopFlag::new(),
        reap_escapees: false,
        durable: true,
    };
    let result = process::run_supervisor(&spec, &context).map_err(|e| e.to_string())?;
    if crate::launch::agent_failure(&result).is_some() {
        // The attempt failed already; its validators would prove nothing either way.
        return Ok(Ran {
            result,
            changed: None,
            validators: Vec::new(),
        });
    }
    let changed = worktree_changed(worktree, base).ok();
    if changed != Some(true) {
        return Ok(Ran {
            result,
            changed,
            validators: Vec::new(),
        });
    }
    let validate_dir = attempt_dir.join("validate");
    let env = crate::launch::validator_env(
        options.config,
        options.caller_env,
        &eval.id,
        worktree,
        &validate_dir,
        repeat,
    );
    let runs = run_validators(
        &validators_of(eval),
        &ValidateOptions {
            worktree,
            dir: &validate_dir,
            env: &env,
            timeout: options.validator_timeout,
            clock: options.clock,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(Ran {
        result,
        changed,
        validators: runs,
    })
}

/// True when the worktree is no longer the base: a commit on top of it (or another HEAD),
/// or a changed, staged or new non-ignored file.
fn worktree_changed(worktree: &Path, base: &str) -> Result<bool, crate::git::GitError> {
    let head = crate::git::rev_parse(worktree, "HEAD")?;
    if head.as_deref() != Some(base) {
        return Ok(true);
    }
    Ok(!crate::git::is_clean(worktree)?)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(eval: &str, base: &str, vacuous: bool) -> EvalBaseline {
        EvalBaseline {
            eval: eval.to_string(),
            base: base.to_string(),
            commit: Some("c0ffee".to_string()),
            passing: Vec::new(),
            validators: 1,
            vacuous,
            error: None,
            dir: PathBuf::new(),
        }
    }

    fn write_run(dir: &Path, run: &str, baselines: &[EvalBaseline]) {
        let value = serde_json::json!({"run": run, "baselines": baselines, "attempts": []});
        std::fs::create_dir_all(dir.join(run)).unwrap();
        std::fs::write(dir.join(run).join("results.json"), value.to_string()).unwrap();
    }

    #[test]
    fn the_latest_baseline_is_the_newest_run_that_checked_the_same_base() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        assert_eq!(latest_baseline(&dir.join("none"), "e", "b"), None);
        write_run(dir, "20261121T090000Z", &[baseline("e", "b", false)]);
        write_run(dir, "20261121T090000Z-2", &[baseline("e", "b", false)]);
        // `-10` is newer than `-2`, though it sorts before it as text.
        write_run(dir, "20261121T090000Z-10", &[baseline("e", "b", true)]);
        // A newer run of another eval, or of the same eval at another base, does not count.
        write_run(
            dir,
            "20261122T090000Z",
            &[baseline("other", "b", false), baseline("e", "old", false)],
        );
        std::fs::create_dir_all(dir.join("20261123T090000Z")).unwrap();
        std::fs::write(dir.join("20261123T090000Z/results.json"), "not json").unwrap();
        let (run, found) = latest_baseline(dir, "e", "b").unwrap();
        assert_eq!(run, "20261121T090000Z-10");
        assert!(found.vacuous);
    }
}
