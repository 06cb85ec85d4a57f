//! The real agent CLIs (Claude Code, Codex, OpenCode), installed from npm by `.ci/run`,
//! run by `longrun cycle` against the scripted model server, offline: each edits files
//! through its own tools in the task worktree, the validators pass and the work is merged
//! with its usage and cost recorded; a model that never answers is killed at the task's
//! timeout; an API error is a failed attempt with the reason.
//!
//! The binaries come from `LONGRUN_CLAUDE_BIN`, `LONGRUN_CODEX_BIN`, `LONGRUN_OPENCODE_BIN`
//! (and `LONGRUN_OPENCODE_PLUGIN_DIR`), or from the default npm cache of `.ci/run`. When one
//! is missing the test says so loudly; with `LONGRUN_REQUIRE_AGENT_CLIS` set (CI) it fails.

// A missing CLI is reported loudly on stderr, and the start-up time is printed as a
// diagnostic (BENCHMARKS.md); no test asserts on time.
#![allow(clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::TestEnv;
use crate::cycle::{CycleRepo, find_files};

const CLAUDE_VERSION_PATH: &str = "claude/node_modules/@anthropic-ai/claude-code-linux-x64/claude";
const CODEX_PATH: &str =
    "codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex";
const OPENCODE_PATH: &str = "opencode/node_modules/opencode-linux-x64/bin/opencode";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    Claude,
    Codex,
    Opencode,
}

/// The scripted model server, killed when dropped.
struct ModelServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ModelServer {
    fn start(dir: &Path, scenario: &Value) -> ModelServer {
        let scenario_path = dir.join("scenario.json");
        std::fs::write(&scenario_path, scenario.to_string()).unwrap();
        let log = dir.join("requests.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_longrun-model-server"))
            .arg(&scenario_path)
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        ModelServer { child, port, log }
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Requests to the model API (not a connectivity probe of `/`).
    fn model_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|request| request["path"].as_str().unwrap().starts_with("/v1/"))
            .collect()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where an agent CLI is, or `None` (with a loud message) when it is not installed; with
/// `LONGRUN_REQUIRE_AGENT_CLIS` set a missing CLI fails the test instead.
fn installed(variable: &str, default_path: &str) -> Option<PathBuf> {
    let cache = std::env::var_os("LONGRUN_NPM_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/longrun-ci/npm"))
        });
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| cache.map(|cache| cache.join(default_path)));
    match path {
        Some(path) if path.is_file() => Some(path),
        other => {
            let message = format!(
                "AGENT CLI NOT INSTALLED: `{variable}` is unset and {other:?} does not exist; run .ci/run (it installs the pinned CLIs from npm)"
            );
            if std::env::var_os("LONGRUN_REQUIRE_AGENT_CLIS").is_some() {
                panic!("{message}");
            }
            eprintln!("SKIPPED (loudly): {message}");
            None
        }
    }
}

fn binary(agent: Agent) -> Option<PathBuf> {
    match agent {
        Agent::Claude => installed("LONGRUN_CLAUDE_BIN", CLAUDE_VERSION_PATH),
        Agent::Codex => installed("LONGRUN_CODEX_BIN", CODEX_PATH),
        Agent::Opencode => installed("LONGRUN_OPENCODE_BIN", OPENCODE_PATH),
    }
}

fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The longrun.yaml profile `agent` for `agent`, pointed at the server through its fixed
/// environment only (the cycle scrubs everything else), with its state in `home`.
fn profile(agent: Agent, program: &Path, port: u16, home: &Path) -> String {
    let program = yaml_string(&program.display().to_string());
    let home_text = home.display().to_string();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut env = vec![
        ("HOME".to_string(), home_text.clone()),
        ("XDG_CONFIG_HOME".to_string(), format!("{home_text}/config")),
        ("XDG_DATA_HOME".to_string(), format!("{home_text}/data")),
        ("XDG_CACHE_HOME".to_string(), format!("{home_text}/cache")),
        ("XDG_STATE_HOME".to_string(), format!("{home_text}/state")),
    ];
    for dir in ["config", "data", "cache", "state"] {
        std::fs::create_dir_all(home.join(dir)).unwrap();
    }
    let (kind, command, prompt, pricing) = match agent {
        Agent::Claude => {
            env.extend(
                [
                    ("ANTHROPIC_BASE_URL", base_url.as_str()),
                    ("ANTHROPIC_API_KEY", "scripted"),
                    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                    ("DISABLE_AUTOUPDATER", "1"),
                    ("DISABLE_TELEMETRY", "1"),
                    ("DISABLE_ERROR_REPORTING", "1"),
                    ("CLAUDE_CODE_MAX_RETRIES", "0"),
                ]
                .map(|(name, value)| (name.to_string(), value.to_string())),
            );
            (
                "claude",
                format!(
                    "[{program}, \"-p\", \"--output-format\", \"stream-json\", \"--verbose\", \"--permission-mode\", \"acceptEdits\", \"--no-session-persistence\"]"
                ),
                "stdin",
                "{input: null, cached_input: null, output: null}",
            )
        }
        Agent::Codex => {
            let codex_home = home.join("codex");
            std::fs::create_dir_all(&codex_home).unwrap();
            std::fs::write(
                codex_home.join("config.toml"),
                format!(
                    "model = \"gpt-5.5\"\nmodel_provider = \"fake\"\ncheck_for_update_on_startup = false\n\n[model_providers.fake]\nname = \"fake\"\nbase_url = \"{base_url}/v1\"\nwire_api = \"responses\"\nenv_key = \"FAKE_API_KEY\"\nstream_max_retries = 0\nrequest_max_retries = 0\n\n[features]\nplugins = false\n\n[analytics]\nenabled = false\n"
                ),
            )
            .unwrap();
            env.push(("CODEX_HOME".into(), codex_home.display().to_string()));
            env.push(("FAKE_API_KEY".into(), "scripted".into()));
            (
                "codex",
                format!(
                    "[{program}, \"exec\", \"--json\", \"--ephemeral\", \"--sandbox\", \"workspace-write\", \"--cd\", \"{{worktree}}\", \"-\"]"
                ),
                "stdin",
                "{input: 1.25, cached_input: 0.125, output: 10}",
            )
        }
        Agent::Opencode => {
            let config = json!({
                "model": "fake/fake-model",
                "small_model": "fake/fake-model",
                "autoupdate": false,
                "share": "disabled",
                "provider": {"fake": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Scripted",
                    "options": {"baseURL": format!("{base_url}/v1"), "apiKey": "scripted"},
                    "models": {"fake-model": {"name": "Scripted", "cost": {"input": 3, "output": 15, "cache_read": 0.3}}},
                }},
            });
            env.push(("OPENCODE_CONFIG_CONTENT".into(), config.to_string()));
            env.push(("OPENCODE_DISABLE_MODELS_FETCH".into(), "1".into()));
            env.push(("OPENCODE_DISABLE_AUTOUPDATE".into(), "1".into()));
            preinstall_opencode_plugin(&home.join("config/opencode"));
            (
                "opencode",
                format!(
                    "[{program}, \"run\", \"--format\", \"json\", \"--dir\", \"{{worktree}}\"]"
                ),
                "arg",
                "{input: null, cached_input: null, output: null}",
            )
        }
    };
    let env_yaml: Vec<String> = env
        .iter()
        .map(|(name, value)| format!("{name}: {}", yaml_string(value)))
        .collect();
    format!(
        "max_attempts: 1\nrouting:\n  default: agent\nagents:\n  agent:\n    kind: {kind}\n    command: {command}\n    prompt: {prompt}\n    timeout: 180s\n    env: {{{}}}\n    pricing: {pricing}\n",
        env_yaml.join(", ")
    )
}

/// OpenCode installs `@opencode-ai/plugin` into its config dir at start-up; a copy of the
/// package installed by `.ci/run` keeps it offline.
fn preinstall_opencode_plugin(config_dir: &Path) {
    let Some(source) = std::env::var_os("LONGRUN_OPENCODE_PLUGIN_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/longrun-ci/npm/opencode-config"))
        })
        .filter(|dir| dir.join("node_modules/@opencode-ai/plugin").is_dir())
    else {
        let message = "the @opencode-ai/plugin package is not installed (LONGRUN_OPENCODE_PLUGIN_DIR); OpenCode would try the network";
        assert!(
            std::env::var_os("LONGRUN_REQUIRE_AGENT_CLIS").is_none(),
            "{message}"
        );
        eprintln!("WARNING: {message}");
        return;
    };
    std::fs::create_dir_all(config_dir).unwrap();
    let status = Command::new("cp")
        .arg("-R")
        .arg(source.join("node_modules"))
        .arg(source.join("package.json"))
        .arg(config_dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A repository whose task T1 is worked on by `agent`, with the scripted `scenario`.
struct AgentRun {
    repo: CycleRepo,
    server: ModelServer,
    worktree: PathBuf,
}

fn setup(
    agent: Agent,
    scenario: impl FnOnce(&Path) -> Value,
    task_extra: &str,
) -> Option<AgentRun> {
    let program = binary(agent)?;
    let env = TestEnv::initialized();
    let base = env.root.parent().unwrap().to_path_buf();
    let worktree = env.root.join(".longrun/worktrees/T1");
    let server_dir = base.join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = ModelServer::start(&server_dir, &scenario(&worktree));
    let config = profile(agent, &program, server.port, &base.join("agent-home"));
    env.write("longrun.yaml", config);
    env.write(
        "checklist.yaml",
        format!(
            "tasks:\n  - task_id: T1\n    title: Write hello\n{task_extra}    validators: [[\"grep\", \"-q\", \"hello from the agent\", \"hello.txt\"], [\"test\", \"-f\", \"ran.txt\"]]\n"
        ),
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "longrun state"]);
    let scripts = base.join("scripts");
    Some(AgentRun {
        repo: CycleRepo { env, scripts },
        server,
        worktree,
    })
}

/// Writes `hello.txt` with the tool, runs a command that writes `ran.txt`, answers.
fn editing_scenario(worktree: &Path) -> Value {
    json!({
        "mode": "script",
        "steps": [
            {"write": {"path": worktree.join("hello.txt").display().to_string(), "content": "hello from the agent\n"}},
            {"command": "echo 'it ran; \"quoted\" $HOME' > ran.txt"},
            {"answer": "Wrote hello.txt and ran.txt."}
        ],
        "usage": {"input": 1000, "cached_input": 200, "output": 50},
    })
}

fn result_json(run: &AgentRun) -> Value {
    // The attempt's own result; validators keep theirs in folders below it.
    let results = find_files(&run.repo.env.path(".longrun/runs"), "result.json");
    let agent_result = results
        .iter()
        .min_by_key(|path| path.components().count())
        .unwrap_or_else(|| panic!("no result.json: {results:?}"));
    serde_json::from_str(&std::fs::read_to_string(agent_result).unwrap()).unwrap()
}

fn stdout_log(run: &AgentRun) -> String {
    find_files(&run.repo.env.path(".longrun/runs"), "stdout.log")
        .iter()
        .take(1)
        .map(|path| std::fs::read_to_string(path).unwrap_or_default())
        .collect()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn edits_and_merges(agent: Agent) {
    let Some(run) = setup(agent, editing_scenario, "") else {
        return;
    };
    let dispatched_at = now_ms();
    let started = Instant::now();
    let settled = run.repo.cycle_until_settled(Duration::from_secs(240));
    let task = run.repo.task("T1");
    let log = run.repo.log();
    assert_eq!(
        task["status"]["Known"],
        "complete",
        "{agent:?}: {task}\n{log}\n{settled:?}\nstdout: {}",
        stdout_log(&run)
    );
    let env = &run.repo.env;
    assert_eq!(env.read("hello.txt"), "hello from the agent\n");
    assert!(env.read("ran.txt").contains("it ran"));
    // Every scripted step was asked for, through the agent's real tools.
    let requests = run.server.model_requests();
    let steps: Vec<u64> = requests
        .iter()
        .filter_map(|request| request["step"].as_u64())
        .collect();
    assert!(steps.contains(&2), "{agent:?}: {steps:?}");
    let first_request = requests[0]["at_ms"].as_u64().unwrap() as u128;
    // The cycle writes spec.json just before it starts the supervisor: from there to the
    // first request is longrun's supervisor plus the CLI's own start-up.
    let spec = find_files(&run.repo.env.path(".longrun/runs"), "spec.json");
    let spec_written = std::fs::metadata(&spec[0])
        .and_then(|metadata| metadata.modified())
        .map(|time| time.duration_since(UNIX_EPOCH).unwrap().as_millis())
        .unwrap_or(0);
    eprintln!(
        "BENCH {agent:?}: `longrun cycle` start -> first model request {} ms; spec.json written -> first model request {} ms; settled in {} ms",
        first_request.saturating_sub(dispatched_at),
        first_request.saturating_sub(spec_written),
        started.elapsed().as_millis()
    );
    let result = result_json(&run);
    assert_eq!(result["exit_code"], 0, "{result}");
    assert_eq!(result["agent_failure"], Value::Null, "{result}");
    let usage = &result["usage"];
    assert!(
        usage["output"].as_u64().unwrap() >= 100,
        "{agent:?}: {result}"
    );
    assert!(
        usage["input"].as_u64().unwrap() >= 1000,
        "{agent:?}: {result}"
    );
    assert_eq!(result["cost_known"], true, "{agent:?}: {result}");
    let cost = result["cost_usd"].as_f64().unwrap();
    assert!(cost > 0.0, "{agent:?}: {result}");
    assert!(log.contains("cost [T1] attempt=1 usd="), "{agent:?}: {log}");
    assert!(log.contains("merge [T1] attempt=1"), "{log}");
    assert!(!run.worktree.exists());
}

fn never_finishing_is_killed_at_the_timeout(agent: Agent) {
    // OpenCode alone needs 5 to 30 s (on a loaded machine) before its first request.
    let timeout = match agent {
        Agent::Opencode => "    timeout: 60s\n",
        Agent::Claude | Agent::Codex => "    timeout: 20s\n",
    };
    let Some(run) = setup(agent, |_| json!({"mode": "never_finish"}), timeout) else {
        return;
    };
    let started = Instant::now();
    run.repo.cycle_until_settled(Duration::from_secs(180));
    let task = run.repo.task("T1");
    assert_eq!(task["status"]["Known"], "failed", "{agent:?}: {task}");
    let result = result_json(&run);
    assert_eq!(result["timed_out"], true, "{agent:?}: {result}");
    assert_eq!(result["cost_known"], false, "{result}");
    let log = run.repo.log();
    assert!(
        log.contains("the agent timed out after"),
        "{agent:?}: {log}"
    );
    assert!(log.contains("cost unknown"), "{log}");
    assert!(
        !run.server.model_requests().is_empty(),
        "the agent asked the model"
    );
    // The agent's whole process group is gone.
    let agent_record = find_files(&run.repo.env.path(".longrun/runs"), "agent.json");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&agent_record[0]).unwrap()).unwrap();
    let group = record["pid"].as_u64().unwrap().to_string();
    let leftovers = Command::new("pgrep")
        .arg("-g")
        .arg(&group)
        .output()
        .unwrap();
    assert!(
        leftovers.stdout.is_empty(),
        "{agent:?}: processes left in group {group}: {}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
    assert!(started.elapsed() < Duration::from_secs(170));
}

fn an_api_error_is_a_failed_attempt_with_the_reason(agent: Agent) {
    let Some(run) = setup(
        agent,
        |_| json!({"mode": "api_error", "error_status": error_status(agent)}),
        "",
    ) else {
        return;
    };
    run.repo.cycle_until_settled(Duration::from_secs(180));
    let task = run.repo.task("T1");
    assert_eq!(task["status"]["Known"], "failed", "{agent:?}: {task}");
    let log = run.repo.log();
    let failure = log
        .lines()
        .find(|line| line.contains("failure [T1] attempt=1"))
        .unwrap_or_else(|| panic!("{agent:?}: {log}"))
        .to_string();
    let expected = match agent {
        Agent::Claude => "Claude Code reported an error: API Error: 500",
        Agent::Codex => "Codex reported a failed turn",
        Agent::Opencode => "OpenCode reported an error",
    };
    assert!(
        failure.contains(expected),
        "{agent:?}: {failure}\n{}",
        stdout_log(&run)
    );
    assert!(!run.repo.env.path("hello.txt").exists());
}

#[test]
fn claude_code_edits_and_its_work_is_merged_with_usage_and_cost() {
    edits_and_merges(Agent::Claude);
}

#[test]
fn codex_edits_and_its_work_is_merged_with_usage_and_cost() {
    edits_and_merges(Agent::Codex);
}

#[test]
fn opencode_edits_and_its_work_is_merged_with_usage_and_cost() {
    edits_and_merges(Agent::Opencode);
}

#[test]
fn claude_code_that_never_hears_back_is_killed_at_the_timeout() {
    never_finishing_is_killed_at_the_timeout(Agent::Claude);
}

#[test]
fn codex_that_never_hears_back_is_killed_at_the_timeout() {
    never_finishing_is_killed_at_the_timeout(Agent::Codex);
}

#[test]
fn opencode_that_never_hears_back_is_killed_at_the_timeout() {
    never_finishing_is_killed_at_the_timeout(Agent::Opencode);
}

#[test]
fn claude_code_api_error_is_a_failed_attempt() {
    an_api_error_is_a_failed_attempt_with_the_reason(Agent::Claude);
}

#[test]
fn codex_api_error_is_a_failed_attempt() {
    an_api_error_is_a_failed_attempt_with_the_reason(Agent::Codex);
}

#[test]
fn opencode_api_error_is_a_failed_attempt() {
    an_api_error_is_a_failed_attempt_with_the_reason(Agent::Opencode);
}

/// The API error the server answers with: a 500 for Claude Code (no retries with
/// `CLAUDE_CODE_MAX_RETRIES=0`) and Codex (`request_max_retries = 0`); OpenCode retries a
/// 5xx for about a minute and a half, so it gets a 400, which it does not retry.
fn error_status(agent: Agent) -> u16 {
    match agent {
        Agent::Opencode => 400,
        Agent::Claude | Agent::Codex => 500,
    }
}

// --- Bad input and safety -----------------------------------------------------------------
//
// Covered elsewhere: an agent printing 1 GB is capped (tests/it/process.rs,
// `a_gigabyte_of_output_is_capped...`), and an agent forking a daemon is killed with its
// group at its timeout (tests/it/cycle.rs, `a_hanging_agent_is_killed_at_its_timeout`).

#[test]
fn a_profile_naming_a_missing_program_is_reported_by_check_and_doctor() {
    let env = TestEnv::initialized();
    env.write(
        "longrun.yaml",
        "routing:\n  default: ghost\nagents:\n  ghost:\n    kind: command\n    command: [\"longrun-no-such-agent\", \"{task_id}\"]\n  spare:\n    kind: command\n    command: [\"./scripts/not-there\"]\n",
    );
    let check = env.longrun(&["check"]);
    assert_eq!(check.code, 1, "{check:?}");
    assert!(
        check.stdout.contains(
            "error: agent profile `ghost`: program `longrun-no-such-agent` is not on the worker's PATH"
        ),
        "{check:?}"
    );
    assert!(
        check.stdout.contains(
            "warning: agent profile `spare`: program `./scripts/not-there` does not exist or is not executable"
        ),
        "{check:?}"
    );
    let doctor = env.longrun(&["doctor"]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(
        doctor.stdout.contains("FAIL profile `ghost` (command, used): program `longrun-no-such-agent` is not on the worker's PATH"),
        "{doctor:?}"
    );
    assert!(
        doctor.stdout.contains("ok   git: git version"),
        "{doctor:?}"
    );
    // The stub `claude` on the test PATH answers `--version`.
    assert!(doctor.stdout.contains("(stub claude 0.0.0)"), "{doctor:?}");
    let json = env.longrun(&["doctor", "--json"]);
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    let ghost = value["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|profile| profile["name"] == "ghost")
        .unwrap()
        .clone();
    assert_eq!(ghost["used"], true);
    assert_eq!(ghost["resolved"], Value::Null);
    assert_eq!(value["errors"], 1);
}

#[test]
fn an_unknown_placeholder_is_an_error_check_surfaces() {
    let env = TestEnv::initialized();
    env.write(
        "longrun.yaml",
        "agents:\n  claude:\n    command: [\"claude\", \"--dir\", \"{worktre}\"]\n",
    );
    let check = env.longrun(&["check"]);
    assert_eq!(check.code, 2, "{check:?}");
    assert!(check.stderr.contains("longrun.yaml:3:"), "{check:?}");
    assert!(check.stderr.contains("{worktre}"), "{check:?}");
    let doctor = env.longrun(&["doctor"]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    assert!(doctor.stdout.contains("FAIL `longrun.yaml`"), "{doctor:?}");
}

#[test]
fn a_prompt_with_shell_metacharacters_reaches_the_agent_as_data() {
    let title = r#"Say $(touch pwned) `touch pwned2` "double" 'single' ; rm -rf / | && > x"#;
    let env = TestEnv::initialized();
    // The agent is `sh -c` with the prompt as `$1`: the prompt arrives as one argument and
    // is written out verbatim; nothing of it is run.
    env.write(
        "longrun.yaml",
        "max_attempts: 1\nrouting:\n  default: echo\nagents:\n  echo:\n    kind: command\n    command: [\"sh\", \"-c\", \"printf '%s' \\\"$1\\\" > prompt-arg.md; cp \\\"$LONGRUN_PROMPT_FILE\\\" prompt-file.md\", \"agent\"]\n    prompt: arg\n    timeout: 60s\n",
    );
    env.write(
        "checklist.yaml",
        format!(
            "tasks:\n  - task_id: T1\n    title: {}\n    validators: [[\"grep\", \"-qF\", {}, \"prompt-arg.md\"], [\"cmp\", \"prompt-arg.md\", \"prompt-file.md\"], [\"test\", \"!\", \"-e\", \"pwned\"], [\"test\", \"!\", \"-e\", \"pwned2\"]]\n",
            yaml_string(title),
            yaml_string(title)
        ),
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "longrun state"]);
    let repo = CycleRepo {
        scripts: env.root.parent().unwrap().join("scripts"),
        env,
    };
    repo.cycle_until_settled(Duration::from_secs(60));
    assert_eq!(
        repo.task("T1")["status"]["Known"],
        "complete",
        "{}",
        repo.log()
    );
    assert!(repo.env.read("prompt-arg.md").contains(title));
    assert!(!repo.env.path("pwned").exists());
}

/// A `claude` profile run by the fake agent, printing Claude Code's `result` event: a
/// denied write is a failed attempt although the program exited 0, and a clean result's
/// cost reaches result.json and the run log.
#[test]
fn an_agents_own_report_decides_the_attempt_and_its_cost() {
    let env = TestEnv::initialized();
    let scripts = env.root.parent().unwrap().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    let config = format!(
        "max_attempts: 1\nrouting:\n  default: fake-claude\nagents:\n  fake-claude:\n    kind: claude\n    command: [{}, {}]\n    prompt: file\n    timeout: 60s\n",
        yaml_string(crate::cycle::fake_agent()),
        yaml_string(&format!("include {}/{{task_id}}", scripts.display()))
    );
    env.write("longrun.yaml", config);
    env.write(
        "checklist.yaml",
        "tasks:\n  - task_id: T1\n    title: Denied\n    validators: [[\"test\", \"-f\", \"a.txt\"]]\n  - task_id: T2\n    title: Paid\n    validators: [[\"test\", \"-f\", \"b.txt\"]]\n",
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "longrun state"]);
    std::fs::write(
        scripts.join("T1"),
        "write a.txt a\nprint {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,\"result\":\"I could not write.\",\"total_cost_usd\":0.02,\"usage\":{\"input_tokens\":10,\"output_tokens\":5},\"permission_denials\":[{\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"/w/a.txt\"}}]}\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("T2"),
        "write b.txt b\nprint {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,\"result\":\"Wrote b.\",\"total_cost_usd\":0.0123,\"usage\":{\"input_tokens\":1000,\"cache_read_input_tokens\":200,\"output_tokens\":50},\"permission_denials\":[]}\n",
    )
    .unwrap();
    let repo = CycleRepo { env, scripts };
    repo.cycle_until_settled(Duration::from_secs(60));
    let log = repo.log();
    assert_eq!(repo.task("T1")["status"]["Known"], "failed", "{log}");
    assert!(
        log.contains("failure [T1] attempt=1: Claude Code was denied permission 1 time(s): `Write` on `/w/a.txt`"),
        "{log}"
    );
    assert_eq!(repo.task("T2")["status"]["Known"], "complete", "{log}");
    assert!(
        log.contains("cost [T2] attempt=1 usd=0.012300 input=1000 cached_input=200 output=50"),
        "{log}"
    );
    assert!(log.contains("cost [T1] attempt=1 usd=0.020000"), "{log}");
}
