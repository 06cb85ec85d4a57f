//! `longrun.yaml`: the typed configuration, its defaults, and what it decides on its own:
//! which agent profile works on a task ([`Config::route`]), the argv of an agent
//! ([`Profile::render_argv`]) and the scrubbed environment a worker gets
//! ([`Config::worker_env`]).
//!
//! A missing file is every default; a missing key is that key's default, and the defaults are
//! exactly what `templates/longrun.yaml` shows. Keys longrun does not know are left out of
//! the model and reported as [`Warning`]s with their line and column; a bad value is a
//! [`ConfigError`] naming file, line and column. Everything is checked once, at load, so a
//! typo in a placeholder or a profile name surfaces in `longrun check`, not in the middle of
//! the night. This module reads one file and nothing else: it never reads environment
//! variables (the caller passes its environment in), never prints, never spawns a process.

mod duration;
mod node;
mod placeholder;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use duration::{DurationError, format_duration, parse_duration};
pub use placeholder::{AGENT_PLACEHOLDERS, NOTIFY_PLACEHOLDERS, PlaceholderError};

use crate::fsutil::{self, FsError};
use crate::state::model::{Risk, UnknownValue, text_enum};
use node::{Entry, Node, Pos, Value};
use placeholder::Lookup;

/// The only configuration format version this longrun reads.
pub const CONFIG_VERSION: u32 = 1;

/// The largest `longrun.yaml` longrun reads; a configuration is a page, not a data set.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Everything `longrun.yaml` says. See `templates/longrun.yaml` for what each key means.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub version: u32,
    /// `None`: the branch checked out in the primary checkout when the cycle starts
    /// (written as `""` in the file).
    pub target_branch: Option<String>,
    /// Workers running at the same time; at least 1.
    pub max_parallel: u32,
    /// Attempts per task before it is `failed`; at least 1. A task's own value wins.
    pub max_attempts: u32,
    pub allow_missing_validators: bool,
    pub strict_validators: bool,
    /// Wall-clock limit of one validator command.
    pub validator_timeout: Duration,
    /// Relative to the repository root unless absolute.
    pub worktrees_dir: PathBuf,
    /// Where Agent Skills live (`init` installs the built-in ones there, `skill` and the
    /// worker prompt read them, `mine --apply` installs into it): relative to the repository
    /// root and inside it, checked at load ([`repository_relative`]).
    pub skills_dir: PathBuf,
    pub r#loop: LoopSettings,
    pub claims: Claims,
    pub state: StateSettings,
    /// Names passed from longrun's environment to every worker.
    pub worker_env: Vec<EnvPattern>,
    /// Profiles by name. The four built-in ones (`claude`, `codex`, `opencode`, `command`)
    /// are always present; a profile in the file replaces one key by key.
    pub agents: BTreeMap<String, Profile>,
    pub routing: Routing,
    pub review: Review,
    pub budgets: Budgets,
    pub notify: Notify,
}

/// `loop:`: how `longrun loop` paces its cycles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopSettings {
    /// Pause between two cycles.
    pub interval: Duration,
}

/// `claims:`: who holds a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub mode: ClaimMode,
    /// The remote that decides the winner in `git` mode; never empty in that mode.
    pub remote: String,
    /// How long a claim stays valid without a heartbeat; more than zero.
    pub lease: Duration,
}

text_enum!(
    /// Where claims live: lock files only, or lock files mirrored by refs on a remote.
    ClaimMode, "claims mode" {
        Local = "local",
        Git = "git",
    }
);

/// Bumped whenever [`Claims`] or the way it is read changes, so an old cache is never used.
const CLAIMS_CACHE_VERSION: u32 = 1;

/// What [`Config::load_claims`] remembers.
#[derive(Debug, Serialize, Deserialize)]
struct CachedClaims {
    version: u32,
    /// xxh3-128 of longrun.yaml's bytes, in hex.
    hash: String,
    mode: ClaimMode,
    remote: String,
    lease_secs: u64,
    lease_nanos: u32,
}

impl CachedClaims {
    fn claims(self) -> Option<Claims> {
        let lease = Duration::new(self.lease_secs, self.lease_nanos);
        // The same rules as the file's: a git remote is named, a lease is never zero.
        let git_without_remote = self.mode == ClaimMode::Git && self.remote.is_empty();
        (!lease.is_zero() && !git_without_remote).then_some(Claims {
            mode: self.mode,
            remote: self.remote,
            lease,
        })
    }
}

/// `state:`: whether longrun commits its own state files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    pub commit: bool,
}

/// One agent profile: how to start an agent and what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub kind: AgentKind,
    /// argv with placeholders; never empty, never a shell string.
    pub command: Vec<String>,
    /// Appended (rendered) only when the model is not empty.
    pub model_args: Vec<String>,
    /// Appended (rendered) only when the effort is not empty.
    pub effort_args: Vec<String>,
    pub model: String,
    pub effort: String,
    pub prompt: PromptMode,
    /// Extra names passed from longrun's environment to this profile's workers.
    pub env_passthrough: Vec<EnvPattern>,
    /// Fixed variables set for this profile's workers; they win over passed-through ones.
    pub env: BTreeMap<String, String>,
    /// Wall-clock limit of one attempt.
    pub timeout: Duration,
    pub pricing: Pricing,
}

text_enum!(
    /// Which agent a profile runs: decides how usage and cost are read from its output.
    AgentKind, "agent kind" {
        Claude = "claude",
        Codex = "codex",
        Opencode = "opencode",
        Command = "command",
    }
);

text_enum!(
    /// How the worker prompt reaches the agent.
    PromptMode, "prompt mode" {
        /// Piped to the agent's stdin.
        Stdin = "stdin",
        /// Nothing is piped; the command names `{prompt_file}`.
        File = "file",
        /// The prompt text is the last argument (appended by the caller).
        Arg = "arg",
    }
);

/// USD per million tokens; `None` is unknown, which leaves the cost unknown (never zero).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    pub input: Option<f64>,
    pub cached_input: Option<f64>,
    pub output: Option<f64>,
}

/// `routing:`: which profile works on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// For tasks without a risk.
    pub default: String,
    /// A risk the file does not list uses `default`.
    pub by_risk: RiskMap<String>,
    pub escalation: Escalation,
}

/// `routing.escalation:`: moving up a ladder of profiles after failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// Failed attempts per step up the ladder; at least 1.
    pub after_failures: u32,
    /// Profile names, weakest first. Empty: no escalation.
    pub ladder: Vec<String>,
}

/// One value per risk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskMap<T> {
    pub low: T,
    pub medium: T,
    pub high: T,
    pub critical: T,
}

impl<T> RiskMap<T> {
    pub fn get(&self, risk: Risk) -> &T {
        match risk {
            Risk::Low => &self.low,
            Risk::Medium => &self.medium,
            Risk::High => &self.high,
            Risk::Critical => &self.critical,
        }
    }

    fn get_mut(&mut self, risk: Risk) -> &mut T {
        match risk {
            Risk::Low => &mut self.low,
            Risk::Medium => &mut self.medium,
            Risk::High => &mut self.high,
            Risk::Critical => &mut self.critical,
        }
    }
}

/// `review:`: agent reviews of a candidate before merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Reviewer profiles by risk; empty: no agent review.
    pub by_risk: RiskMap<Vec<String>>,
    pub timeout: Duration,
}

/// `budgets:`: limits per task and per run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budgets {
    pub per_task: Budget,
    pub per_run: Budget,
}

/// One set of limits; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budget {
    pub cost_usd: Option<f64>,
    pub tokens: Option<u64>,
    pub wall_clock: Option<Duration>,
}

/// `notify:`: the program run when something needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// argv with `{event}`, `{task_id}`, `{message}`; empty: no notifications.
    pub command: Vec<String>,
    pub on: Vec<NotifyEvent>,
}

text_enum!(
    /// What a notification is about.
    NotifyEvent, "notify event" {
        Blocked = "blocked",
        Failed = "failed",
        AwaitingApproval = "awaiting_approval",
        BudgetExceeded = "budget_exceeded",
        RunFinished = "run_finished",
    }
);

/// A name in `worker_env` or `env_passthrough`: `PATH` matches itself; `ANTHROPIC_*` matches
/// every name that starts with `ANTHROPIC_`. A bare `*` is refused: it would pass the whole
/// environment, secrets included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvPattern(String);

/// The values of a profile's placeholders for one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    pub worktree: &'a Path,
    pub prompt_file: &'a Path,
    pub task_id: &'a str,
    /// Empty: `model_args` are left out.
    pub model: &'a str,
    /// Empty: `effort_args` are left out.
    pub effort: &'a str,
}

/// Values of the `notify` command's placeholders.
#[derive(Debug, Clone, Copy)]
pub struct NotifyVars<'a> {
    pub event: NotifyEvent,
    /// Empty when the event is not about one task.
    pub task_id: &'a str,
    pub message: &'a str,
}

/// Something in the file that longrun ignores or that looks like a mistake; loading goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The dotted key the warning is about, like `agents.claude.modle`.
    pub key: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// `longrun.yaml` could not be read or holds a bad value. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] FsError),
    #[error("{path}:{line}:{column}: {message}", path = path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Why a `worker_env` or `env_passthrough` entry is not a usable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an environment variable name: {reason}")]
pub struct EnvPatternError {
    pub text: String,
    pub reason: &'static str,
}

impl EnvPattern {
    /// Checks a name or a `PREFIX_*` pattern.
    pub fn parse(text: &str) -> Result<EnvPattern, EnvPatternError> {
        let error = |reason| EnvPatternError {
            text: text.to_string(),
            reason,
        };
        let name = text.strip_suffix('*').unwrap_or(text);
        if name.is_empty() {
            return Err(error(if text.is_empty() {
                "it is empty"
            } else {
                "a bare `*` would pass the whole environment, secrets included"
            }));
        }
        if name.contains('*') {
            return Err(error("`*` is only allowed at the end, as a prefix match"));
        }
        if let Some(reason) = env_name_problem(name) {
            return Err(error(reason));
        }
        Ok(EnvPattern(text.to_string()))
    }

    /// True when the variable `name` is covered.
    pub fn matches(&self, name: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == self.0,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why `name` cannot be set in a process environment, if it cannot.
fn env_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains('=') {
        Some("it contains `=`")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else if name.chars().any(char::is_whitespace) {
        Some("it contains whitespace")
    } else {
        None
    }
}

impl Default for Config {
    /// Exactly what `templates/longrun.yaml` shows.
    fn default() -> Config {
        let agents = AgentKind::ALL
            .iter()
            .map(|kind| (kind.as_str().to_string(), Profile::builtin(*kind)))
            .collect();
        let claude = AgentKind::Claude.as_str().to_string();
        Config {
            version: CONFIG_VERSION,
            target_branch: None,
            max_parallel: 2,
            max_attempts: 3,
            allow_missing_validators: false,
            strict_validators: false,
            validator_timeout: minutes(20),
            worktrees_dir: PathBuf::from(".longrun/worktrees"),
            skills_dir: PathBuf::from(crate::skills::SKILLS_DIR),
            r#loop: LoopSettings {
                interval: minutes(2),
            },
            claims: Claims {
                mode: ClaimMode::Local,
                remote: "origin".to_string(),
                lease: minutes(15),
            },
            state: StateSettings { commit: false },
            worker_env: patterns(&[
                "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "TMPDIR", "SHELL",
            ]),
            agents,
            routing: Routing {
                default: claude.clone(),
                by_risk: RiskMap {
                    low: claude.clone(),
                    medium: claude.clone(),
                    high: claude.clone(),
                    critical: claude,
                },
                escalation: Escalation {
                    after_failures: 1,
                    ladder: Vec::new(),
                },
            },
            review: Review {
                by_risk: RiskMap::default(),
                timeout: minutes(20),
            },
            budgets: Budgets::default(),
            notify: Notify {
                command: Vec::new(),
                on: vec![
                    NotifyEvent::Blocked,
                    NotifyEvent::Failed,
                    NotifyEvent::AwaitingApproval,
                    NotifyEvent::BudgetExceeded,
                    NotifyEvent::RunFinished,
                ],
            },
        }
    }
}

fn minutes(count: u64) -> Duration {
    Duration::from_secs(count * 60)
}

/// Built-in patterns are written by hand above and known to be valid.
fn patterns(names: &[&str]) -> Vec<EnvPattern> {
    names
        .iter()
        .map(|name| EnvPattern(name.to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

impl Profile {
    /// The profile `templates/longrun.yaml` shows for `kind`; a profile in the file starts
    /// from the built-in profile of its kind and replaces what it lists.
    pub fn builtin(kind: AgentKind) -> Profile {
        let (command, model_args, effort_args, prompt, passthrough): (
            &[&str],
            &[&str],
            &[&str],
            PromptMode,
            &[&str],
        ) = match kind {
            AgentKind::Claude => (
                &[
                    "claude",
                    "-p",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                    "--permission-mode",
                    "acceptEdits",
                ],
                &["--model", "{model}"],
                &["--effort", "{effort}"],
                PromptMode::Stdin,
                &["ANTHROPIC_*", "CLAUDE_*"],
            ),
            AgentKind::Codex => (
                &[
                    "codex",
                    "exec",
                    "--json",
                    "--ephemeral",
                    "--sandbox",
                    "workspace-write",
                    "--cd",
                    "{worktree}",
                    "-",
                ],
                &["--model", "{model}"],
                &["-c", "model_reasoning_effort={effort}"],
                PromptMode::Stdin,
                &["CODEX_HOME", "OPENAI_API_KEY"],
            ),
            AgentKind::Opencode => (
                &["opencode", "run", "--format", "json", "--dir", "{worktree}"],
                &["--model", "{model}"],
                &["--variant", "{effort}"],
                PromptMode::Stdin,
                &[
                    "OPENCODE_*",
                    "XDG_*",
                    "ANTHROPIC_API_KEY",
                    "OPENAI_API_KEY",
                    "OPENROUTER_API_KEY",
                ],
            ),
            AgentKind::Command => (
                &[
                    "./scripts/agent",
                    "--task",
                    "{task_id}",
                    "--prompt",
                    "{prompt_file}",
                    "--dir",
                    "{worktree}",
                ],
                &[],
                &[],
                PromptMode::File,
                &[],
            ),
        };
        Profile {
            kind,
            command: strings(command),
            model_args: strings(model_args),
            effort_args: strings(effort_args),
            model: String::new(),
            effort: String::new(),
            prompt,
            env_passthrough: patterns(passthrough),
            env: BTreeMap::new(),
            timeout: minutes(60),
            pricing: Pricing::default(),
        }
    }

    /// The placeholder values for one attempt with this profile's own model and effort.
    pub fn vars<'a>(
        &'a self,
        worktree: &'a Path,
        prompt_file: &'a Path,
        task_id: &'a str,
    ) -> Vars<'a> {
        Vars {
            worktree,
            prompt_file,
            task_id,
            model: &self.model,
            effort: &self.effort,
        }
    }

    /// The agent's argv: `command`, then `model_args` when `vars.model` is not empty, then
    /// `effort_args` when `vars.effort` is not empty, every placeholder replaced inside its
    /// element. Values are inserted as data: an element stays one element whatever the value
    /// holds (spaces, quotes, `$(...)`, braces), and nothing is ever given to a shell.
    ///
    /// With [`PromptMode::Arg`] the caller appends the prompt text as the last element; with
    /// [`PromptMode::Stdin`] it pipes the prompt in; with [`PromptMode::File`] the command is
    /// expected to name `{prompt_file}`.
    pub fn render_argv(&self, vars: &Vars<'_>) -> Result<Vec<String>, PlaceholderError> {
        let worktree = vars.worktree.to_str();
        let prompt_file = vars.prompt_file.to_str();
        let lookup = |name: &str| {
            let value = match name {
                "worktree" => worktree,
                "prompt_file" => prompt_file,
                "task_id" => Some(vars.task_id),
                "model" => Some(vars.model),
                "effort" => Some(vars.effort),
                _ => Some(""),
            };
            value.map_or(Lookup::NotUtf8, Lookup::Value)
        };
        let mut elements: Vec<&String> = self.command.iter().collect();
        if !vars.model.is_empty() {
            elements.extend(&self.model_args);
        }
        if !vars.effort.is_empty() {
            elements.extend(&self.effort_args);
        }
        elements
            .into_iter()
            .map(|element| placeholder::render(element, AGENT_PLACEHOLDERS, &lookup))
            .collect()
    }

    /// True when some argument of the profile names `{prompt_file}`.
    fn mentions_prompt_file(&self) -> bool {
        self.command
            .iter()
            .chain(&self.model_args)
            .chain(&self.effort_args)
            .any(|argument| argument.contains("{prompt_file}"))
    }
}

impl Notify {
    /// The notification argv with its placeholders replaced, or `None` when notifications
    /// are off (empty `command`) or `vars.event` is not in `on`.
    pub fn render_argv(
        &self,
        vars: &NotifyVars<'_>,
    ) -> Result<Option<Vec<String>>, PlaceholderError> {
        if self.command.is_empty() || !self.on.contains(&vars.event) {
            return Ok(None);
        }
        let lookup = |name: &str| {
            Lookup::Value(match name {
                "event" => vars.event.as_str(),
                "task_id" => vars.task_id,
                _ => vars.message,
            })
        };
        self.command
            .iter()
            .map(|element| placeholder::render(element, NOTIFY_PLACEHOLDERS, &lookup))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

impl Config {
    /// Reads `path`. A missing file is every default, with no warnings.
    pub fn load(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
        match fsutil::read_text(path, MAX_CONFIG_BYTES) {
            Ok(text) => Config::parse(path, &text),
            Err(error) if error.is_not_found() => Ok((Config::default(), Vec::new())),
            Err(error) => Err(ConfigError::Read(error)),
        }
    }

    /// Only `claims:`, for the commands that need nothing else (`claim`, `release`,
    /// `heartbeat`, `claims`), which run far more often than the file changes. The answer is
    /// kept in `cache` under a hash of the file's bytes and used only while the bytes hash
    /// the same, so it is always what [`Config::load`] gives for them: a file that does not
    /// load is never cached and fails here as it does there. The cache is written unsynced;
    /// anything unreadable in it means "load the file".
    pub fn load_claims(path: &Path, cache: &Path) -> Result<Claims, ConfigError> {
        let bytes = match fsutil::read_bounded(path, MAX_CONFIG_BYTES) {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => return Ok(Config::default().claims),
            Err(error) => return Err(ConfigError::Read(error)),
        };
        let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes));
        if let Some(claims) = fsutil::read_bounded(cache, 64 * 1024)
            .ok()
            .and_then(|cached| serde_json::from_slice::<CachedClaims>(&cached).ok())
            .filter(|cached| cached.version == CLAIMS_CACHE_VERSION && cached.hash == hash)
            .and_then(|cached| cached.claims())
        {
            return Ok(claims);
        }
        let text = fsutil::text_of(path, bytes).map_err(ConfigError::Read)?;
        let (config, _warnings) = Config::parse(path, &text)?;
        let claims = config.claims;
        let cached = CachedClaims {
            version: CLAIMS_CACHE_VERSION,
            hash,
            mode: claims.mode,
            remote: claims.remote.clone(),
            lease_secs: claims.lease.as_secs(),
            lease_nanos: claims.lease.subsec_nanos(),
        };
        if let Ok(json) = serde_json::to_vec(&cached) {
            // A cache: failing to write it only costs a parse next time.
            let _ = cache
                .parent()
                .map(std::fs::create_dir_all)
                .transpose()
                .map(|_| fsutil::write_atomic_unsynced(cache, &json));
        }
        Ok(claims)
    }

    /// Parses configuration text; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
        let invalid = |pos: Pos, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: pos.line,
            column: pos.column,
            message,
        };
        let root = node::parse(text).map_err(|error| invalid(error.pos, error.message))?;
        let mut reader = Reader {
            source: text,
            warnings: Vec::new(),
            references: Vec::new(),
        };
        let config = reader
            .config(&root)
            .map_err(|error| invalid(error.pos, error.message))?;
        let mut warnings = reader.warnings;
        warnings.sort_by_key(|warning| (warning.line, warning.column));
        Ok((config, warnings))
    }

    /// The skills folder of the repository at `root`.
    pub fn skills_path(&self, root: &Path) -> PathBuf {
        root.join(&self.skills_dir)
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.agents.get(name)
    }

    /// The profile name for a task's next attempt. The task's own `agent` wins. Otherwise
    /// the risk picks from `routing.by_risk` (no risk: `routing.default`), and a `critical`
    /// task starts at the top of the escalation ladder when there is one. Every
    /// `escalation.after_failures` failed attempts move one step up the ladder, stopping at
    /// its top; a profile that is not on the ladder never moves.
    ///
    /// Profiles named in this file are checked at load; a task's own `agent` is not (it
    /// comes from checklist.yaml): the caller looks it up with [`Config::profile`].
    pub fn route<'a>(
        &'a self,
        risk: Option<Risk>,
        failed_attempts: u32,
        task_agent: Option<&'a str>,
    ) -> &'a str {
        if let Some(agent) = task_agent.filter(|agent| !agent.is_empty()) {
            return agent;
        }
        let escalation = &self.routing.escalation;
        let ladder = &escalation.ladder;
        let start: &str = match (risk, ladder.last()) {
            (Some(Risk::Critical), Some(top)) => top,
            (Some(risk), _) => self.routing.by_risk.get(risk),
            (None, _) => &self.routing.default,
        };
        let steps = failed_attempts
            .checked_div(escalation.after_failures)
            .unwrap_or(0) as usize;
        match ladder.iter().position(|name| name == start) {
            Some(index) if steps > 0 => &ladder[index.saturating_add(steps).min(ladder.len() - 1)],
            _ => start,
        }
    }

    /// The environment of a worker running `profile`: the variables of `caller_env` named by
    /// `worker_env` or the profile's `env_passthrough`, then the profile's fixed `env` (which
    /// wins). Nothing else of the caller's environment passes. Sorted by name. The caller
    /// adds `LONGRUN_TASK_ID`, `LONGRUN_WORKTREE`, `LONGRUN_PROMPT_FILE` and
    /// `LONGRUN_RUN_DIR`.
    pub fn worker_env(
        &self,
        profile: &Profile,
        caller_env: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut env: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in caller_env {
            let allowed = self
                .worker_env
                .iter()
                .chain(&profile.env_passthrough)
                .any(|pattern| pattern.matches(name));
            if allowed {
                env.insert(name, value);
            }
        }
        for (name, value) in &profile.env {
            env.insert(name, value);
        }
        env.into_iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }
}

/// A folder inside the repository, written relative to its root: not empty, not absolute,
/// not the root itself, never above it (`..` is allowed only inside), not inside `.git`. The
/// check is on the text (the repository root is not known here); the path comes back
/// without `.` components. `Err` says why, to follow the key's name.
pub fn repository_relative(text: &str) -> Result<PathBuf, String> {
    use std::path::Component;
    if text.trim().is_empty() {
        return Err("cannot be empty".to_string());
    }
    let path = Path::new(text);
    let mut kept: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(format!(
                    "must be relative to the repository root, not absolute (`{text}`)"
                ));
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if kept.pop().is_none() {
                    return Err(format!("leaves the repository (`{text}`)"));
                }
            }
            Component::Normal(name) => kept.push(name),
        }
    }
    match kept.first() {
        None => Err(format!(
            "must name a folder inside the repository, not its root (`{text}`)"
        )),
        Some(first) if *first == ".git" => Err(format!("is inside git's own `.git` (`{text}`)")),
        Some(_) => Ok(kept.iter().collect()),
    }
}

// ---------------------------------------------------------------------------------------
// Reading the tree into the model.

/// An error at a place in the file, before the file's path is attached.
struct Located {
    pos: Pos,
    message: String,
}

type Read<T> = Result<T, Located>;

/// A place in the file that names a profile, checked once every profile is known.
struct ProfileReference {
    name: String,
    pos: Pos,
    key: String,
}

struct Reader<'t> {
    source: &'t str,
    warnings: Vec<Warning>,
    references: Vec<ProfileReference>,
}

const TOP_KEYS: &[&str] = &[
    "version",
    "target_branch",
    "max_parallel",
    "max_attempts",
    "allow_missing_validators",
    "strict_validators",
    "validator_timeout",
    "worktrees_dir",
    "skills_dir",
    "loop",
    "claims",
    "state",
    "worker_env",
    "agents",
    "routing",
    "review",
    "budgets",
    "notify",
];
const LOOP_KEYS: &[&str] = &["interval"];
const CLAIMS_KEYS: &[&str] = &["mode", "remote", "lease"];
const STATE_KEYS: &[&str] = &["commit"];
const PROFILE_KEYS: &[&str] = &[
    "kind",
    "command",
    "model_args",
    "effort_args",
    "model",
    "effort",
    "prompt",
    "env_passthrough",
    "env",
    "timeout",
    "pricing",
];
const PRICING_KEYS: &[&str] = &["input", "cached_input", "output"];
const ROUTING_KEYS: &[&str] = &["default", "by_risk", "escalation"];
const RISK_KEYS: &[&str] = &["low", "medium", "high", "critical"];
const ESCALATION_KEYS: &[&str] = &["after_failures", "ladder"];
const REVIEW_KEYS: &[&str] = &["by_risk", "timeout"];
const BUDGETS_KEYS: &[&str] = &["per_task", "per_run"];
const BUDGET_KEYS: &[&str] = &["cost_usd", "tokens", "wall_clock"];
const NOTIFY_KEYS: &[&str] = &["command", "on"];

/// `parent.key`, or `key` at the top.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn at(pos: Pos, message: impl Into<String>) -> Located {
    Located {
        pos,
        message: message.into(),
    }
}

impl Reader<'_> {
    /// The entries of a mapping that longrun knows, in file order; unknown keys become
    /// warnings. A `null` (an empty `loop:`) is an empty mapping: every default.
    fn fields<'n>(&mut self, node: &'n Node, key: &str, known: &[&str]) -> Read<Vec<&'n Entry>> {
        let entries = match &node.value {
            Value::Null => return Ok(Vec::new()),
            Value::Map(entries) => entries,
            _ => {
                let what = if key.is_empty() {
                    "the file".to_string()
                } else {
                    format!("`{key}`")
                };
                return Err(at(
                    node.pos,
                    format!("{what} must be a mapping, found {}", node.describe()),
                ));
            }
        };
        let mut known_entries = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            if entries[..index]
                .iter()
                .any(|earlier| earlier.key == entry.key)
            {
                return Err(at(
                    entry.key_pos,
                    format!("duplicate key `{}`", join(key, &entry.key)),
                ));
            }
            if known.contains(&entry.key.as_str()) {
                known_entries.push(entry);
            } else {
                self.unknown_key(key, entry, known);
            }
        }
        Ok(known_entries)
    }

    fn unknown_key(&mut self, parent: &str, entry: &Entry, known: &[&str]) {
        let key = join(parent, &entry.key);
        let mut message = format!("unknown key `{key}` is ignored");
        if let Some(suggestion) = suggest(&entry.key, known) {
            message.push_str(&format!(" (did you mean `{}`?)", join(parent, suggestion)));
        }
        self.warnings.push(Warning {
            key,
            line: entry.key_pos.line,
            column: entry.key_pos.column,
            message,
        });
    }

    fn config(&mut self, root: &Node) -> Read<Config> {
        let mut config = Config::default();
        let mut by_risk: RiskMap<Option<String>> = RiskMap::default();
        for entry in self.fields(root, "", TOP_KEYS)? {
            let node = &entry.value;
            let key = entry.key.as_str();
            match key {
                // `version:` left empty means the current version.
                "version" if !matches!(node.value, Value::Null) => {
                    let version = self.count(node, key, 0)?;
                    if version != CONFIG_VERSION {
                        return Err(at(
                            node.pos,
                            format!(
                                "unsupported configuration version {version} (this longrun reads version {CONFIG_VERSION})"
                            ),
                        ));
                    }
                }
                "target_branch" => {
                    let branch = self.string(node, key)?;
                    config.target_branch = (!branch.is_empty()).then_some(branch);
                }
                "max_parallel" => config.max_parallel = self.count(node, key, 1)?,
                "max_attempts" => config.max_attempts = self.count(node, key, 1)?,
                "allow_missing_validators" => {
                    config.allow_missing_validators = self.boolean(node, key)?
                }
                "strict_validators" => config.strict_validators = self.boolean(node, key)?,
                "validator_timeout" => {
                    config.validator_timeout = self.positive_duration(node, key)?
                }
                "worktrees_dir" => {
                    let dir = self.string(node, key)?;
                    if dir.is_empty() {
                        return Err(at(node.pos, "`worktrees_dir` cannot be empty"));
                    }
                    config.worktrees_dir = PathBuf::from(dir);
                }
                "skills_dir" => {
                    let dir = self.string(node, key)?;
                    // The key's place: the key is what a person looks for in the file.
                    config.skills_dir = repository_relative(&dir)
                        .map_err(|reason| at(entry.key_pos, format!("`skills_dir` {reason}")))?;
                }
                "loop" => {
                    for field in self.fields(node, key, LOOP_KEYS)? {
                        // Zero is allowed: back-to-back cycles.
                        config.r#loop.interval =
                            self.duration(&field.value, &join(key, &field.key))?;
                    }
                }
                "claims" => self.claims(node, key, &mut config.claims)?,
                "state" => {
                    for field in self.fields(node, key, STATE_KEYS)? {
                        config.state.commit = self.boolean(&field.value, &join(key, &field.key))?;
                    }
                }
                "worker_env" => config.worker_env = self.env_patterns(node, key)?,
                "agents" => self.agents(node, key, &mut config.agents)?,
                "routing" => self.routing(node, key, &mut config.routing, &mut by_risk)?,
                "review" => self.review(node, key, &mut config.review)?,
                "budgets" => {
                    for field in self.fields(node, key, BUDGETS_KEYS)? {
                        let budget = match field.key.as_str() {
                            "per_task" => &mut config.budgets.per_task,
                            _ => &mut config.budgets.per_run,
                        };
                        *budget = self.budget(&field.value, &join(key, &field.key))?;
                    }
                }
                "notify" => self.notify(node, key, &mut config.notify)?,
                _ => {}
            }
        }
        // A risk the file does not list follows `routing.default`, wherever it is set.
        for risk in Risk::ALL {
            *config.routing.by_risk.get_mut(*risk) = by_risk
                .get(*risk)
                .clone()
                .unwrap_or_else(|| config.routing.default.clone());
        }
        for reference in &self.references {
            if !config.agents.contains_key(&reference.name) {
                let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
                return Err(at(
                    reference.pos,
                    format!(
                        "`{}` names the profile `{}`, which is not under `agents` (profiles: {})",
                        reference.key,
                        reference.name,
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(config)
    }

    fn claims(&mut self, node: &Node, key: &str, claims: &mut Claims) -> Read<()> {
        let mut remote_pos = node.pos;
        for field in self.fields(node, key, CLAIMS_KEYS)? {
            let path = join(key, &field.key);
            match field.key.as_str() {
                "mode" => claims.mode = self.enumeration(&field.value, &path)?,
                "remote" => {
                    remote_pos = field.value.pos;
                    claims.remote = self.string(&field.value, &path)?;
                }
                _ => claims.lease = self.positive_duration(&field.value, &path)?,
            }
        }
        if claims.mode == ClaimMode::Git && claims.remote.is_empty() {
            return Err(at(
                remote_pos,
                "`claims.remote` cannot be empty when `claims.mode` is `git`",
            ));
        }
        Ok(())
    }

    fn agents(
        &mut self,
        node: &Node,
        key: &str,
        agents: &mut BTreeMap<String, Profile>,
    ) -> Read<()> {
        let Value::Map(entries) = &node.value else {
            if matches!(node.value, Value::Null) {
                return Ok(());
            }
            return Err(at(
                node.pos,
                format!(
                    "`agents` must be a mapping of profiles, found {}",
                    node.describe()
                ),
            ));
        };
        for (index, entry) in entries.iter().enumerate() {
            let name = &entry.key;
            if entries[..index].iter().any(|earlier| &earlier.key == name) {
                return Err(at(entry.key_pos, format!("duplicate profile `{name}`")));
            }
            if let Some(problem) = profile_name_problem(name) {
                return Err(at(
                    entry.key_pos,
                    format!("profile name `{name}` {problem}"),
                ));
            }
            let profile = self.profile(&entry.value, &join(key, name), name, entry.key_pos)?;
            agents.insert(name.clone(), profile);
        }
        Ok(())
    }

    fn profile(&mut self, node: &Node, key: &str, name: &str, name_pos: Pos) -> Read<Profile> {
        let fields = self.fields(node, key, PROFILE_KEYS)?;
        // The kind picks the built-in profile the other keys replace, so it comes first,
        // wherever it is written.
        let kind = match fields.iter().find(|field| field.key == "kind") {
            Some(field) => self.enumeration(&field.value, &join(key, "kind"))?,
            None => name.parse::<AgentKind>().map_err(|_| {
                at(
                    name_pos,
                    format!(
                        "profile `{name}` needs a `kind` (one of: claude, codex, opencode, command)"
                    ),
                )
            })?,
        };
        let mut profile = Profile::builtin(kind);
        let mut prompt_pos = None;
        for field in &fields {
            let node = &field.value;
            let path = join(key, &field.key);
            match field.key.as_str() {
                "kind" => {}
                "command" => {
                    let command = self.argv(node, &path, AGENT_PLACEHOLDERS)?;
                    if command.first().is_none_or(String::is_empty) {
                        return Err(at(
                            node.pos,
                            format!("`{path}` needs a program to run as its first element"),
                        ));
                    }
                    profile.command = command;
                }
                "model_args" => profile.model_args = self.argv(node, &path, AGENT_PLACEHOLDERS)?,
                "effort_args" => {
                    profile.effort_args = self.argv(node, &path, AGENT_PLACEHOLDERS)?
                }
                "model" => profile.model = self.string(node, &path)?,
                "effort" => profile.effort = self.string(node, &path)?,
                "prompt" => {
                    prompt_pos = Some(node.pos);
                    profile.prompt = self.enumeration(node, &path)?;
                }
                "env_passthrough" => profile.env_passthrough = self.env_patterns(node, &path)?,
                "env" => profile.env = self.fixed_env(node, &path)?,
                "timeout" => profile.timeout = self.positive_duration(node, &path)?,
                _ => profile.pricing = self.pricing(node, &path)?,
            }
        }
        if profile.prompt == PromptMode::File && !profile.mentions_prompt_file() {
            let pos = prompt_pos.unwrap_or(name_pos);
            self.warnings.push(Warning {
                key: join(key, "prompt"),
                line: pos.line,
                column: pos.column,
                message: format!(
                    "profile `{name}` has `prompt: file` but no argument names `{{prompt_file}}`; the agent is only told through LONGRUN_PROMPT_FILE"
                ),
            });
        }
        Ok(profile)
    }

    fn pricing(&mut self, node: &Node, key: &str) -> Read<Pricing> {
        let mut pricing = Pricing::default();
        for field in self.fields(node, key, PRICING_KEYS)? {
            let value = self.amount(&field.value, &join(key, &field.key))?;
            match field.key.as_str() {
                "input" => pricing.input = value,
                "cached_input" => pricing.cached_input = value,
                _ => pricing.output = value,
            }
        }
        Ok(pricing)
    }

    fn routing(
        &mut self,
        node: &Node,
        key: &str,
        routing: &mut Routing,
        by_risk: &mut RiskMap<Option<String>>,
    ) -> Read<()> {
        for field in self.fields(node, key, ROUTING_KEYS)? {
            let path = join(key, &field.key);
            match field.key.as_str() {
                "default" => routing.default = self.profile_name(&field.value, &path)?,
                "by_risk" => {
                    for risk_field in self.fields(&field.value, &path, RISK_KEYS)? {
                        let risk_path = join(&path, &risk_field.key);
                        let name = self.profile_name(&risk_field.value, &risk_path)?;
                        *by_risk.get_mut(risk_of(&risk_field.key)) = Some(name);
                    }
                }
                _ => {
                    for escalation_field in self.fields(&field.value, &path, ESCALATION_KEYS)? {
                        let value = &escalation_field.value;
                        let escalation_path = join(&path, &escalation_field.key);
                        if escalation_field.key == "after_failures" {
                            routing.escalation.after_failures =
                                self.count(value, &escalation_path, 1)?;
                        } else {
                            routing.escalation.ladder =
                                self.profile_names(value, &escalation_path)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn review(&mut self, node: &Node, key: &str, review: &mut Review) -> Read<()> {
        for field in self.fields(node, key, REVIEW_KEYS)? {
            let path = join(key, &field.key);
            if field.key == "timeout" {
                review.timeout = self.positive_duration(&field.value, &path)?;
                continue;
            }
            for risk_field in self.fields(&field.value, &path, RISK_KEYS)? {
                let risk_path = join(&path, &risk_field.key);
                *review.by_risk.get_mut(risk_of(&risk_field.key)) =
                    self.profile_names(&risk_field.value, &risk_path)?;
            }
        }
        Ok(())
    }

    fn budget(&mut self, node: &Node, key: &str) -> Read<Budget> {
        let mut budget = Budget::default();
        for field in self.fields(node, key, BUDGET_KEYS)? {
            let value = &field.value;
            let path = join(key, &field.key);
            match field.key.as_str() {
                "cost_usd" => budget.cost_usd = self.amount(value, &path)?,
                "tokens" => {
                    budget.tokens = match value.value {
                        Value::Null => None,
                        _ => Some(self.whole_number(value, &path, 0, u64::MAX)?),
                    }
                }
                _ => {
                    budget.wall_clock = match value.value {
                        Value::Null => None,
                        _ => Some(self.positive_duration(value, &path)?),
                    }
                }
            }
        }
        Ok(budget)
    }

    fn notify(&mut self, node: &Node, key: &str, notify: &mut Notify) -> Read<()> {
        for field in self.fields(node, key, NOTIFY_KEYS)? {
            let path = join(key, &field.key);
            if field.key == "command" {
                let command = self.argv(&field.value, &path, NOTIFY_PLACEHOLDERS)?;
                if command.first().is_some_and(String::is_empty) {
                    return Err(at(
                        field.value.pos,
                        format!("`{path}` needs a program to run as its first element"),
                    ));
                }
                notify.command = command;
            } else {
                let mut events = Vec::new();
                for item in self.list(&field.value, &path)? {
                    let event: NotifyEvent = self.enumeration(item, &path)?;
                    if !events.contains(&event) {
                        events.push(event);
                    }
                }
                notify.on = events;
            }
        }
        Ok(())
    }

    // --- Scalars ---------------------------------------------------------------------

    /// Text as written; numbers and booleans keep their spelling (`model: 4.10`), `null`
    /// is empty.
    fn string(&self, node: &Node, key: &str) -> Read<String> {
        match &node.value {
            Value::Null => Ok(String::new()),
            Value::Seq(_) | Value::Map(_) => Err(at(
                node.pos,
                format!("`{key}` must be text, found {}", node.describe()),
            )),
            _ => Ok(node.scalar_text(self.source).unwrap_or_default()),
        }
    }

    fn boolean(&self, node: &Node, key: &str) -> Read<bool> {
        match node.value {
            Value::Bool(value) => Ok(value),
            _ => Err(at(
                node.pos,
                format!(
                    "`{key}` must be `true` or `false`, found {}",
                    node.describe()
                ),
            )),
        }
    }

    fn count(&self, node: &Node, key: &str, min: u32) -> Read<u32> {
        let value = self.whole_number(node, key, u64::from(min), u64::from(u32::MAX))?;
        // `whole_number` checked the range.
        Ok(u32::try_from(value).unwrap_or(u32::MAX))
    }

    fn whole_number(&self, node: &Node, key: &str, min: u64, max: u64) -> Read<u64> {
        let Value::Int(value) = node.value else {
            return Err(at(
                node.pos,
                format!("`{key}` must be a whole number, found {}", node.describe()),
            ));
        };
        match u64::try_from(value) {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ if value < i128::from(min) => Err(at(
                node.pos,
                format!("`{key}` must be at least {min}, found {value}"),
            )),
            _ => Err(at(
                node.pos,
                format!("`{key}` must be at most {max}, found {value}"),
            )),
        }
    }

    /// A non-negative number of dollars, or `null` for unknown / no limit.
    fn amount(&self, node: &Node, key: &str) -> Read<Option<f64>> {
        let value = match node.value {
            Value::Null => return Ok(None),
            Value::Int(value) => value as f64,
            Value::Float(value) => value,
            _ => {
                return Err(at(
                    node.pos,
                    format!(
                        "`{key}` must be a number or null, found {}",
                        node.describe()
                    ),
                ));
            }
        };
        if !value.is_finite() || value < 0.0 {
            return Err(at(
                node.pos,
                format!("`{key}` must be zero or more, found {value}"),
            ));
        }
        Ok(Some(value))
    }

    fn duration(&self, node: &Node, key: &str) -> Read<Duration> {
        match &node.value {
            Value::Str(text) => {
                parse_duration(text).map_err(|error| at(node.pos, format!("`{key}`: {error}")))
            }
            Value::Int(value) => Err(at(
                node.pos,
                format!("`{key}`: `{value}` has no unit; write it like `{value}s` or `{value}m`"),
            )),
            Value::Null => Err(at(
                node.pos,
                format!("`{key}` needs a duration like `15m`; delete the key to use the default"),
            )),
            _ => Err(at(
                node.pos,
                format!(
                    "`{key}` must be a duration like `15m`, found {}",
                    node.describe()
                ),
            )),
        }
    }

    fn positive_duration(&self, node: &Node, key: &str) -> Read<Duration> {
        let duration = self.duration(node, key)?;
        if duration.is_zero() {
            return Err(at(node.pos, format!("`{key}` must be longer than zero")));
        }
        Ok(duration)
    }

    fn enumeration<T: FromStr<Err = UnknownValue>>(&self, node: &Node, key: &str) -> Read<T> {
        let Value::Str(text) = &node.value else {
            return Err(at(
                node.pos,
                format!("`{key}` must be a word, found {}", node.describe()),
            ));
        };
        text.parse()
            .map_err(|error: UnknownValue| at(node.pos, format!("`{key}`: {error}")))
    }

    // --- Lists -----------------------------------------------------------------------

    /// The items of a list; `null` is an empty list. A single string is refused rather than
    /// split: commands are argv lists, never shell strings.
    fn list<'n>(&self, node: &'n Node, key: &str) -> Read<&'n [Node]> {
        match &node.value {
            Value::Null => Ok(&[]),
            Value::Seq(items) => Ok(items),
            _ => Err(at(
                node.pos,
                format!(
                    "`{key}` must be a list like `[a, b]`, found {}",
                    node.describe()
                ),
            )),
        }
    }

    fn string_items(&self, node: &Node, key: &str) -> Read<Vec<(String, Pos)>> {
        self.list(node, key)?
            .iter()
            .map(|item| match item.value {
                Value::Null | Value::Seq(_) | Value::Map(_) => Err(at(
                    item.pos,
                    format!("items of `{key}` must be text, found {}", item.describe()),
                )),
                _ => Ok((self.string(item, key)?, item.pos)),
            })
            .collect()
    }

    /// An argv list whose placeholders are checked against `known`.
    fn argv(&self, node: &Node, key: &str, known: &'static [&'static str]) -> Read<Vec<String>> {
        let items = self.string_items(node, key)?;
        for (item, pos) in &items {
            placeholder::check(item, known)
                .map_err(|error| at(*pos, format!("`{key}`: {error}")))?;
        }
        Ok(items.into_iter().map(|(item, _)| item).collect())
    }

    fn env_patterns(&self, node: &Node, key: &str) -> Read<Vec<EnvPattern>> {
        let mut patterns: Vec<EnvPattern> = Vec::new();
        for (item, pos) in self.string_items(node, key)? {
            let pattern =
                EnvPattern::parse(&item).map_err(|error| at(pos, format!("`{key}`: {error}")))?;
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
        Ok(patterns)
    }

    fn fixed_env(&mut self, node: &Node, key: &str) -> Read<BTreeMap<String, String>> {
        let entries = match &node.value {
            Value::Null => return Ok(BTreeMap::new()),
            Value::Map(entries) => entries,
            _ => {
                return Err(at(
                    node.pos,
                    format!(
                        "`{key}` must be a mapping like `{{NAME: value}}`, found {}",
                        node.describe()
                    ),
                ));
            }
        };
        let mut env = BTreeMap::new();
        for entry in entries {
            if let Some(reason) = env_name_problem(&entry.key) {
                return Err(at(
                    entry.key_pos,
                    format!(
                        "`{key}`: `{}` is not an environment variable name: {reason}",
                        entry.key
                    ),
                ));
            }
            let value = match entry.value.value {
                Value::Seq(_) | Value::Map(_) => {
                    return Err(at(
                        entry.value.pos,
                        format!(
                            "`{}` must be text, found {}",
                            join(key, &entry.key),
                            entry.value.describe()
                        ),
                    ));
                }
                _ => self.string(&entry.value, key)?,
            };
            if value.contains('\0') {
                return Err(at(
                    entry.value.pos,
                    format!("`{}` contains a NUL byte", join(key, &entry.key)),
                ));
            }
            if env.insert(entry.key.clone(), value).is_some() {
                return Err(at(
                    entry.key_pos,
                    format!("duplicate key `{}`", join(key, &entry.key)),
                ));
            }
        }
        Ok(env)
    }

    /// A profile name, remembered so that it is checked once every profile is read.
    fn profile_name(&mut self, node: &Node, key: &str) -> Read<String> {
        let name = self.string(node, key)?;
        if name.is_empty() {
            return Err(at(node.pos, format!("`{key}` needs a profile name")));
        }
        self.references.push(ProfileReference {
            name: name.clone(),
            pos: node.pos,
            key: key.to_string(),
        });
        Ok(name)
    }

    fn profile_names(&mut self, node: &Node, key: &str) -> Read<Vec<String>> {
        let mut names = Vec::new();
        for item in self.list(node, key)? {
            let name = self.profile_name(item, key)?;
            if names.contains(&name) {
                return Err(at(item.pos, format!("`{key}` lists `{name}` twice")));
            }
            names.push(name);
        }
        Ok(names)
    }
}

/// Only called with keys from [`RISK_KEYS`].
fn risk_of(key: &str) -> Risk {
    key.parse().unwrap_or(Risk::Critical)
}

/// Profile names appear in checklist.yaml, logs and file names: keep them plain words.
fn profile_name_problem(name: &str) -> Option<&'static str> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    (!valid).then_some(
        "must start with a letter or digit and contain only letters, digits, `.`, `_` and `-` (at most 64)",
    )
}

/// The known key closest to a misspelt one, if it is close enough to be a typo.
fn suggest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests;
