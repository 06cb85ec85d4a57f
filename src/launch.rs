//! An agent profile run through the supervisor, as the cycle's workers, one-shot runs
//! (`plan --agent`, `mine --agent`) and evals all run it: how a profile, a prompt and a
//! working directory become a [`WorkerSpec`] ([`agent_spec`]), the environment its
//! validators get ([`validator_env`]), and when the agent's own result counts as a failure
//! ([`agent_failure`]). One copy, so the three callers cannot drift apart: an eval that built
//! its spec by hand once ran without the profile's kind and prices, so its cost was never
//! read.
//!
//! Builds data and judges results: it never spawns, prints or reads the environment (the
//! caller passes its environment in).

use std::path::Path;
use std::time::Duration;

use crate::config::{Config, PlaceholderError, Profile, PromptMode};
use crate::process::{Stdin, WorkerResult, WorkerSpec};

/// What one agent run needs.
pub struct AgentLaunch<'a> {
    pub profile: &'a Profile,
    pub config: &'a Config,
    /// The caller's environment; only what the config and the profile allow passes.
    pub caller_env: &'a [(String, String)],
    /// What the run is for: a task id, an eval id, `plan`, `mine`. The `{task_id}`
    /// placeholder and `LONGRUN_TASK_ID`.
    pub job: &'a str,
    /// The agent's working directory. Absolute.
    pub workdir: &'a Path,
    /// The prompt text (appended as the last argument for `prompt: arg`).
    pub prompt: &'a str,
    /// Where the prompt was written (`{prompt_file}`, stdin for `prompt: stdin`).
    pub prompt_file: &'a Path,
    /// The supervisor's run directory (`LONGRUN_RUN_DIR`). Absolute.
    pub run_dir: &'a Path,
    /// 1 for a first attempt (`LONGRUN_ATTEMPT`).
    pub attempt: u32,
    /// The wall-clock limit of the run.
    pub timeout: Duration,
}

/// The spec of one agent run: the profile's argv (never a shell), the prompt by stdin, file
/// or argument as the profile says, the scrubbed environment plus `LONGRUN_*`, the
/// timeout, and the profile's kind and prices so that the supervisor reads usage, cost and
/// a reported failure from the agent's output. Callers add what only they have (a claim's
/// lock file, a baseline, guarded files).
pub fn agent_spec(launch: &AgentLaunch<'_>) -> Result<WorkerSpec, PlaceholderError> {
    let profile = launch.profile;
    let vars = profile.vars(launch.workdir, launch.prompt_file, launch.job);
    let mut argv = profile.render_argv(&vars)?;
    let stdin = match profile.prompt {
        PromptMode::Stdin => Stdin::File(launch.prompt_file.to_path_buf()),
        PromptMode::File => Stdin::Null,
        PromptMode::Arg => {
            argv.push(launch.prompt.to_string());
            Stdin::Null
        }
    };
    let mut env = launch.config.worker_env(profile, launch.caller_env);
    env.retain(|(name, _)| !name.starts_with("LONGRUN_"));
    env.extend(crate::cycle::longrun_env(
        launch.job,
        launch.workdir,
        Some(launch.prompt_file),
        launch.run_dir,
        launch.attempt,
    ));
    let mut spec = WorkerSpec::new(
        argv,
        launch.workdir.to_path_buf(),
        launch.run_dir.to_path_buf(),
    );
    spec.env = env;
    spec.stdin = stdin;
    spec.timeout_secs = launch.timeout.as_secs().max(1);
    spec.agent_kind = Some(profile.kind);
    spec.pricing = profile.pricing.clone();
    Ok(spec)
}

/// The environment validators run with: the caller's variables that `worker_env` names
/// (not a profile's passthrough or fixed variables: a validator is not the agent), plus
/// `LONGRUN_*` without a prompt file.
pub fn validator_env(
    config: &Config,
    caller_env: &[(String, String)],
    job: &str,
    worktree: &Path,
    run_dir: &Path,
    attempt: u32,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = caller_env
        .iter()
        .filter(|(name, _)| config.worker_env.iter().any(|p| p.matches(name)))
        .cloned()
        .collect();
    env.extend(crate::cycle::longrun_env(
        job, worktree, None, run_dir, attempt,
    ));
    env
}

/// Why an agent's run failed by its own account, whatever its work looks like: it could not
/// start, timed out, was stopped, lost its claim, reported a failure in its output (an
/// error result, a denied write, a turn limit), exited non-zero or was killed. `None` when
/// it exited 0 and reported nothing wrong. Validators decide the rest.
pub fn agent_failure(result: &WorkerResult) -> Option<String> {
    if let Some(error) = &result.error {
        return Some(format!("the agent could not be started: {error}"));
    }
    if result.timed_out {
        return Some(format!(
            "the agent timed out after {} s and its process group was killed",
            result.duration_ms / 1000
        ));
    }
    if result.stopped {
        return Some("the agent was stopped".to_string());
    }
    if result.lease_lost {
        return Some("the claim was lost while the agent ran".to_string());
    }
    if let Some(reported) = &result.agent_failure {
        return Some(match result.exit_code {
            Some(0) | None => reported.clone(),
            Some(code) => format!("{reported} (exit {code})"),
        });
    }
    match (result.exit_code, result.signal) {
        (Some(0), _) => None,
        (Some(code), _) => Some(format!("the agent exited {code}")),
        (None, Some(signal)) => Some(format!("the agent was killed by signal {signal}")),
        (None, None) => Some("the agent ended without an exit status".to_string()),
    }
}
