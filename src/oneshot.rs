//! One agent run outside the cycle, start to finish: `plan --agent` and `mine --agent` give
//! a profile a prompt and a scratch directory, wait for it, and then judge what it left
//! there with the same checks a person's files get. Nothing the agent says is taken as
//! proof; this module only reports how the run ended.
//!
//! The agent goes through the same supervisor as the cycle's workers
//! ([`crate::process::run_supervisor`]): its argv from the profile (never a shell), the
//! scrubbed environment ([`Config::worker_env`] plus `LONGRUN_*`), the prompt by stdin, file
//! or argument as the profile says, the profile's timeout (TERM, grace, KILL to the group),
//! output capped into `<run_dir>/agent/`. It never prints and never reads the environment:
//! the caller passes its environment in.

use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::config::{Config, Profile};
use crate::process::{self, NoopRenewer, StopFlag, SupervisorContext};

/// What to run, where, and with what.
pub struct OneShot<'a> {
    /// The profile's name, for messages.
    pub name: &'a str,
    pub profile: &'a Profile,
    pub config: &'a Config,
    /// The caller's environment; only what the config and profile allow passes.
    pub caller_env: &'a [(String, String)],
    /// The agent's working directory (a scratch worktree or folder). Absolute.
    pub workdir: &'a Path,
    /// Where `prompt.md` and the agent's `agent/` run directory go. Absolute, fresh.
    pub run_dir: &'a Path,
    /// What the run is for (`plan`, `mine`): the `{task_id}` placeholder and
    /// `LONGRUN_TASK_ID`.
    pub job: &'a str,
    pub clock: Clock,
}

/// How the run ended.
#[derive(Debug, Clone)]
pub struct OneShotRun {
    pub result: process::WorkerResult,
    /// Why the run counts as failed (could not start, timed out, exited non-zero, killed,
    /// or the agent itself reported a failure); `None` when it finished cleanly.
    pub failure: Option<String>,
    /// The agent's captured output.
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    pub prompt_file: PathBuf,
}

/// Why the run could not be set up (a profile that does not render, an unusable run
/// directory). An agent that fails is not an error: see [`OneShotRun::failure`].
#[derive(Debug, thiserror::Error)]
pub enum OneShotError {
    #[error("agent profile `{name}`: {detail}")]
    Profile { name: String, detail: String },
    #[error(transparent)]
    File(#[from] crate::fsutil::FsError),
    #[error(transparent)]
    Process(#[from] process::ProcessError),
}

/// Writes `prompt` to `<run_dir>/prompt.md`, runs the profile in `workdir` until it exits or
/// its timeout, and says how it ended.
pub fn run(shot: &OneShot<'_>, prompt: &str) -> Result<OneShotRun, OneShotError> {
    let prompt_file = shot.run_dir.join("prompt.md");
    std::fs::create_dir_all(shot.run_dir).map_err(|source| crate::fsutil::FsError::Write {
        path: shot.run_dir.to_path_buf(),
        source,
    })?;
    crate::fsutil::write_atomic(&prompt_file, prompt.as_bytes())?;
    let agent_dir = shot.run_dir.join("agent");
    let mut spec = crate::launch::agent_spec(&crate::launch::AgentLaunch {
        profile: shot.profile,
        config: shot.config,
        caller_env: shot.caller_env,
        job: shot.job,
        workdir: shot.workdir,
        prompt,
        prompt_file: &prompt_file,
        run_dir: &agent_dir,
        attempt: 1,
        timeout: shot.profile.timeout,
    })
    .map_err(|error| OneShotError::Profile {
        name: shot.name.to_string(),
        detail: error.to_string(),
    })?;
    spec.kill_grace_secs = 5;
    let context = SupervisorContext {
        clock: shot.clock,
        renewer: &NoopRenewer,
        stop: StopFlag::new(),
        reap_escapees: false,
        durable: true,
    };
    let result = process::run_supervisor(&spec, &context)?;
    let files = process::RunFiles::new(&agent_dir);
    let failure = failure_of(shot.name, &result, spec.timeout_secs);
    Ok(OneShotRun {
        result,
        failure,
        stdout_log: files.stdout_log(),
        stderr_log: files.stderr_log(),
        prompt_file,
    })
}

/// Why a finished run counts as failed, in words, or `None`.
pub fn failure_of(name: &str, result: &process::WorkerResult, timeout_secs: u64) -> Option<String> {
    if let Some(error) = &result.error {
        return Some(format!("agent `{name}` could not run: {error}"));
    }
    if result.timed_out {
        return Some(format!(
            "agent `{name}` timed out after {timeout_secs}s and was stopped"
        ));
    }
    if result.stopped {
        return Some(format!("agent `{name}` was stopped"));
    }
    match (result.exit_code, result.signal) {
        (Some(0), _) => {}
        (Some(code), _) => return Some(format!("agent `{name}` exited {code}")),
        (None, Some(signal)) => {
            return Some(format!("agent `{name}` was killed by signal {signal}"));
        }
        (None, None) => return Some(format!("agent `{name}` ended without an exit status")),
    }
    result
        .agent_failure
        .as_ref()
        .map(|reason| format!("agent `{name}` reported a failure: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> process::WorkerResult {
        process::WorkerResult {
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            duration_ms: 1,
            started_at: String::new(),
            finished_at: String::new(),
            stdout_bytes: 0,
            stderr_bytes: 0,
            stdout_truncated: false,
            stderr_truncated: false,
            final_message: None,
            usage: None,
            cost_usd: None,
            cost_known: false,
            agent_failure: None,
            stopped: false,
            stopped_before_start: false,
            lease_lost: false,
            leftovers_killed: false,
            output_incomplete: false,
            output_error: None,
            error: None,
            supervisor_peak_rss_kib: None,
            guarded_changed: Vec::new(),
            baseline: None,
        }
    }

    #[test]
    fn only_a_clean_exit_is_not_a_failure() {
        assert_eq!(failure_of("p", &result(), 5), None);
        let mut timed_out = result();
        timed_out.timed_out = true;
        timed_out.exit_code = None;
        timed_out.signal = Some(15);
        assert_eq!(
            failure_of("p", &timed_out, 5).as_deref(),
            Some("agent `p` timed out after 5s and was stopped")
        );
        let mut exited = result();
        exited.exit_code = Some(3);
        assert_eq!(
            failure_of("p", &exited, 5).as_deref(),
            Some("agent `p` exited 3")
        );
        let mut reported = result();
        reported.agent_failure = Some("turn limit".into());
        assert!(
            failure_of("p", &reported, 5)
                .unwrap()
                .contains("turn limit")
        );
        let mut missing = result();
        missing.exit_code = None;
        missing.error = Some("cannot start `nope`".into());
        assert!(
            failure_of("p", &missing, 5)
                .unwrap()
                .contains("could not run")
        );
    }
}
