use std::path::Path;

use super::*;
use crate::templates;

fn parse(text: &str) -> (Config, Vec<Warning>) {
    match Config::parse(Path::new("longrun.yaml"), text) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    }
}

fn config(text: &str) -> Config {
    let (config, warnings) = parse(text);
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
    config
}

/// The error for `text`, as `(line, column, message)`.
fn error(text: &str) -> (usize, usize, String) {
    match Config::parse(Path::new("dir/longrun.yaml"), text) {
        Ok((config, _)) => panic!("parsed: {config:?}"),
        Err(ConfigError::Invalid {
            path,
            line,
            column,
            message,
        }) => {
            assert_eq!(path, Path::new("dir/longrun.yaml"));
            (line, column, message)
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[test]
fn the_template_loads_without_warnings_and_is_the_default() {
    let (mut loaded, warnings) = parse(templates::LONGRUN_YAML);
    assert!(warnings.is_empty(), "{warnings:?}");
    // One difference, on purpose: `init`'s file has reviewers by risk (a cheap one for
    // medium, a strong one for high and critical); without the key nothing is reviewed.
    let review = &loaded.review.by_risk;
    assert!(review.low.is_empty());
    assert_eq!(review.medium, ["reviewer-cheap"]);
    assert_eq!(review.high, ["reviewer-strong"]);
    assert_eq!(review.critical, ["reviewer-strong"]);
    for name in ["reviewer-cheap", "reviewer-strong"] {
        let profile = loaded.agents.remove(name).unwrap();
        assert_eq!(profile.prompt, PromptMode::Stdin);
        assert!(profile.command.contains(&"plan".to_string()), "read-only");
    }
    loaded.review.by_risk = RiskMap::default();
    assert_eq!(loaded, Config::default());
}

#[test]
fn the_defaults_are_what_the_template_says() {
    let config = Config::default();
    assert_eq!(config.target_branch, None);
    assert_eq!(config.max_parallel, 2);
    assert_eq!(config.max_attempts, 3);
    assert_eq!(config.validator_timeout, Duration::from_secs(20 * 60));
    assert_eq!(config.r#loop.interval, Duration::from_secs(120));
    assert_eq!(config.claims.mode, ClaimMode::Local);
    assert_eq!(config.claims.lease, Duration::from_secs(15 * 60));
    assert_eq!(config.worktrees_dir, Path::new(".longrun/worktrees"));
    assert_eq!(config.skills_dir, Path::new(".agents/skills"));
    assert_eq!(config.agents.len(), 4);
    let codex = &config.agents["codex"];
    assert_eq!(codex.kind, AgentKind::Codex);
    assert_eq!(codex.prompt, PromptMode::Stdin);
    assert_eq!(codex.timeout, Duration::from_secs(3600));
    assert_eq!(codex.pricing, Pricing::default());
    assert_eq!(config.agents["command"].prompt, PromptMode::File);
    assert_eq!(config.routing.by_risk.get(Risk::High), "claude");
    assert_eq!(config.notify.on.len(), NotifyEvent::ALL.len());
}

#[test]
fn a_missing_file_is_every_default() {
    let dir = tempfile::tempdir().unwrap();
    let (config, warnings) = Config::load(&dir.path().join("longrun.yaml")).unwrap();
    assert_eq!(config, Config::default());
    assert!(warnings.is_empty());
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("longrun.yaml");
    std::fs::write(&path, "max_parallel: 5\n").unwrap();
    assert_eq!(Config::load(&path).unwrap().0.max_parallel, 5);
    std::fs::write(&path, "max_parallel: 0\n").unwrap();
    let message = Config::load(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("{}:1:15: ", path.display())),
        "{message}"
    );
}

#[test]
fn empty_and_comment_only_files_are_every_default() {
    assert_eq!(config(""), Config::default());
    assert_eq!(config("# nothing yet\n"), Config::default());
    assert_eq!(config("loop:\nclaims:\n"), Config::default());
}

#[test]
fn a_missing_key_takes_its_default() {
    let config = config("max_parallel: 8\nclaims:\n  mode: git\n");
    assert_eq!(config.max_parallel, 8);
    assert_eq!(config.claims.mode, ClaimMode::Git);
    assert_eq!(config.claims.remote, "origin");
    assert_eq!(config.claims.lease, Duration::from_secs(900));
    assert_eq!(config.max_attempts, 3);
}

#[test]
fn every_value_is_read() {
    let config = config(
        r#"
version: 1
target_branch: main
max_parallel: 4
max_attempts: 5
allow_missing_validators: true
strict_validators: true
validator_timeout: 1h30m
worktrees_dir: ../trees
loop: {interval: 90s}
claims: {mode: git, remote: upstream, lease: 2d}
state: {commit: true}
worker_env: [PATH, LC_*]
agents:
  fast:
    kind: codex
    model: 4.10
    effort: low
    prompt: arg
    env_passthrough: [OPENAI_*]
    env: {RUST_LOG: debug, RETRIES: 3}
    timeout: 30m
    pricing: {input: 1.25, cached_input: 0, output: 10}
routing:
  default: fast
  by_risk: {high: claude}
  escalation: {after_failures: 2, ladder: [fast, claude]}
review:
  by_risk: {critical: [claude, fast]}
  timeout: 5m
budgets:
  per_task: {cost_usd: 2.5, tokens: 1000000, wall_clock: 2h}
  per_run: {cost_usd: null, tokens: null, wall_clock: null}
notify:
  command: [notify-send, "longrun {event}", "{task_id}: {message}"]
  on: [failed, run_finished]
"#,
    );
    assert_eq!(config.target_branch.as_deref(), Some("main"));
    assert_eq!(config.max_parallel, 4);
    assert_eq!(config.max_attempts, 5);
    assert!(config.allow_missing_validators);
    assert!(config.strict_validators);
    assert_eq!(config.validator_timeout, Duration::from_secs(5400));
    assert_eq!(config.worktrees_dir, Path::new("../trees"));
    assert_eq!(config.r#loop.interval, Duration::from_secs(90));
    assert_eq!(config.claims.remote, "upstream");
    assert_eq!(config.claims.lease, Duration::from_secs(2 * 86_400));
    assert!(config.state.commit);
    let names: Vec<&str> = config.worker_env.iter().map(EnvPattern::as_str).collect();
    assert_eq!(names, ["PATH", "LC_*"]);

    let fast = &config.agents["fast"];
    assert_eq!(fast.kind, AgentKind::Codex);
    // Unset keys come from the built-in codex profile.
    assert_eq!(fast.command, Profile::builtin(AgentKind::Codex).command);
    // A number keeps its spelling when it is a model name.
    assert_eq!(fast.model, "4.10");
    assert_eq!(fast.effort, "low");
    assert_eq!(fast.prompt, PromptMode::Arg);
    assert_eq!(fast.env["RUST_LOG"], "debug");
    assert_eq!(fast.env["RETRIES"], "3");
    assert_eq!(fast.timeout, Duration::from_secs(1800));
    assert_eq!(
        fast.pricing,
        Pricing {
            input: Some(1.25),
            cached_input: Some(0.0),
            output: Some(10.0),
        }
    );
    // The built-in profiles are still there.
    assert_eq!(config.agents.len(), 5);

    assert_eq!(config.routing.default, "fast");
    assert_eq!(config.routing.by_risk.high, "claude");
    // Risks the file does not list follow `default`.
    assert_eq!(config.routing.by_risk.low, "fast");
    assert_eq!(config.routing.by_risk.critical, "fast");
    assert_eq!(config.routing.escalation.after_failures, 2);
    assert_eq!(config.routing.escalation.ladder, ["fast", "claude"]);
    assert_eq!(config.review.by_risk.critical, ["claude", "fast"]);
    assert!(config.review.by_risk.low.is_empty());
    assert_eq!(config.review.timeout, Duration::from_secs(300));
    assert_eq!(config.budgets.per_task.cost_usd, Some(2.5));
    assert_eq!(config.budgets.per_task.tokens, Some(1_000_000));
    assert_eq!(
        config.budgets.per_task.wall_clock,
        Some(Duration::from_secs(7200))
    );
    assert_eq!(config.budgets.per_run, Budget::default());
    assert_eq!(
        config.notify.on,
        [NotifyEvent::Failed, NotifyEvent::RunFinished]
    );
}

#[test]
fn a_built_in_profile_is_replaced_key_by_key() {
    let config = config("agents:\n  claude:\n    model: opus\n");
    let claude = &config.agents["claude"];
    assert_eq!(claude.model, "opus");
    let builtin = Profile::builtin(AgentKind::Claude);
    assert_eq!(claude.command, builtin.command);
    assert_eq!(claude.env_passthrough, builtin.env_passthrough);
    assert_eq!(config.agents.len(), 4);
}

#[test]
fn unknown_keys_are_warnings_with_their_place_and_left_out() {
    let (config, warnings) = parse(
        "max_paralel: 9\nclaims:\n  mode: local\n  leese: 5m\nagents:\n  claude:\n    modle: opus\nextra: {a: 1}\n",
    );
    assert_eq!(config, Config::default());
    let found: Vec<(&str, usize, usize)> = warnings
        .iter()
        .map(|warning| (warning.key.as_str(), warning.line, warning.column))
        .collect();
    assert_eq!(
        found,
        [
            ("max_paralel", 1, 1),
            ("claims.leese", 4, 3),
            ("agents.claude.modle", 7, 5),
            ("extra", 8, 1),
        ]
    );
    assert!(
        warnings[0].message.contains("did you mean `max_parallel`?"),
        "{}",
        warnings[0].message
    );
    assert!(warnings[1].message.contains("`claims.lease`"));
    assert!(warnings[2].message.contains("`agents.claude.model`"));
    assert!(!warnings[3].message.contains("did you mean"));
    assert_eq!(
        warnings[1].to_string(),
        format!("4:3: {}", warnings[1].message)
    );
}

#[test]
fn bad_values_are_errors_with_line_and_column() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        (
            "max_parallel: 0\n",
            (1, 15),
            "`max_parallel` must be at least 1",
        ),
        ("max_parallel: two\n", (1, 15), "must be a whole number"),
        ("max_attempts: -1\n", (1, 15), "at least 1"),
        ("max_attempts: 1.5\n", (1, 15), "whole number"),
        (
            "state:\n  commit: yes\n",
            (2, 11),
            "`state.commit` must be `true` or `false`",
        ),
        (
            "allow_missing_validators: 1\n",
            (1, 27),
            "`true` or `false`",
        ),
        (
            "claims:\n  mode: shared\n",
            (2, 9),
            "unknown claims mode `shared` (expected one of: local, git)",
        ),
        (
            "claims:\n  mode: git\n  remote: \"\"\n",
            (3, 11),
            "cannot be empty when `claims.mode` is `git`",
        ),
        (
            "claims:\n  lease: 15x\n",
            (2, 10),
            "`claims.lease`: invalid duration `15x`: unknown unit `x`",
        ),
        (
            "claims:\n  lease: 0s\n",
            (2, 10),
            "must be longer than zero",
        ),
        ("validator_timeout: 90\n", (1, 20), "`90` has no unit"),
        (
            "validator_timeout:\n",
            (1, 18),
            "delete the key to use the default",
        ),
        ("loop: 5m\n", (1, 7), "`loop` must be a mapping"),
        ("worker_env: PATH\n", (1, 13), "must be a list"),
        (
            "worker_env: [PATH, \"*\"]\n",
            (1, 20),
            "a bare `*` would pass the whole environment",
        ),
        ("worker_env: [A*B]\n", (1, 14), "only allowed at the end"),
        ("worker_env: [\"A=B\"]\n", (1, 14), "contains `=`"),
        ("worktrees_dir: \"\"\n", (1, 16), "cannot be empty"),
        ("skills_dir: \"\"\n", (1, 1), "`skills_dir` cannot be empty"),
        (
            "skills_dir: ../shared/skills\n",
            (1, 1),
            "`skills_dir` leaves the repository (`../shared/skills`)",
        ),
        (
            "skills_dir: a/../../b\n",
            (1, 1),
            "`skills_dir` leaves the repository",
        ),
        (
            "skills_dir: /etc/skills\n",
            (1, 1),
            "must be relative to the repository root, not absolute",
        ),
        ("skills_dir: ./.\n", (1, 1), "not its root"),
        (
            "skills_dir: .git/skills\n",
            (1, 1),
            "inside git's own `.git`",
        ),
        (
            "version: 2\n",
            (1, 10),
            "unsupported configuration version 2",
        ),
        (
            "agents:\n  claude:\n    prompt: pipe\n",
            (3, 13),
            "unknown prompt mode `pipe`",
        ),
        (
            "agents:\n  claude:\n    kind: gpt\n",
            (3, 11),
            "unknown agent kind `gpt`",
        ),
        (
            "agents:\n  mine:\n    command: [x]\n",
            (2, 3),
            "profile `mine` needs a `kind`",
        ),
        (
            "agents:\n  \"a/b\":\n    kind: command\n",
            (2, 3),
            "profile name `a/b`",
        ),
        (
            "agents:\n  claude:\n    command: []\n",
            (3, 14),
            "needs a program",
        ),
        (
            "agents:\n  claude:\n    command: \"claude -p\"\n",
            (3, 14),
            "must be a list",
        ),
        (
            "agents:\n  claude:\n    timeout: 0m\n",
            (3, 14),
            "longer than zero",
        ),
        (
            "agents:\n  claude:\n    env: {\"A=B\": x}\n",
            (3, 11),
            "`A=B` is not an environment variable name",
        ),
        (
            "agents:\n  claude:\n    env: [A]\n",
            (3, 10),
            "must be a mapping like",
        ),
        (
            "agents:\n  claude:\n    pricing: {input: -1}\n",
            (3, 22),
            "zero or more",
        ),
        (
            "agents:\n  claude:\n    pricing: {output: free}\n",
            (3, 23),
            "must be a number or null",
        ),
        (
            "routing:\n  default: gpt\n",
            (2, 12),
            "`routing.default` names the profile `gpt`, which is not under `agents`",
        ),
        (
            "routing:\n  by_risk:\n    high: nope\n",
            (3, 11),
            "`routing.by_risk.high` names the profile `nope`",
        ),
        (
            "routing:\n  escalation:\n    ladder: [claude, opus]\n",
            (3, 22),
            "profile `opus`",
        ),
        (
            "routing:\n  escalation:\n    ladder: [claude, claude]\n",
            (3, 22),
            "lists `claude` twice",
        ),
        (
            "routing:\n  escalation:\n    after_failures: 0\n",
            (3, 21),
            "at least 1",
        ),
        (
            "review:\n  by_risk:\n    high: [ghost]\n",
            (3, 12),
            "profile `ghost`",
        ),
        (
            "budgets:\n  per_run:\n    tokens: -5\n",
            (3, 13),
            "at least 0",
        ),
        (
            "budgets:\n  per_task:\n    wall_clock: 1x\n",
            (3, 17),
            "unknown unit `x`",
        ),
        (
            "notify:\n  on: [failed, exploded]\n",
            (2, 16),
            "unknown notify event `exploded`",
        ),
        (
            "notify:\n  command: [x, \"{task}\"]\n",
            (2, 16),
            "unknown placeholder `{task}`",
        ),
        ("max_parallel: 1\nmax_parallel: 2\n", (2, 1), "duplicate"),
        ("- a\n- b\n", (1, 1), "the file must be a mapping"),
    ];
    let mut mismatches = Vec::new();
    for (text, place, needle) in cases {
        let (line, column, message) = error(text);
        if !message.contains(needle) || (line, column) != *place {
            mismatches.push(format!(
                "{text:?}: got {line}:{column}: {message:?}; want {place:?} and {needle:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn yaml_syntax_errors_name_the_place() {
    let (line, _, message) = error("max_parallel: 2\nclaims: [a\n");
    assert!(line >= 2, "{line}: {message}");
    let (line, column, _) = error("claims:\n\tmode: git\n");
    assert_eq!((line, column > 0), (2, true));
}

#[test]
fn unknown_placeholders_are_caught_at_load_with_their_place() {
    let (line, column, message) = error(
        "agents:\n  claude:\n    command: [claude, -p]\n    model_args: [--model, \"{modle}\"]\n",
    );
    assert_eq!((line, column), (4, 27));
    assert!(message.contains("`agents.claude.model_args`"), "{message}");
    assert!(
        message.contains("unknown placeholder `{modle}`"),
        "{message}"
    );
    let (line, _, message) = error("agents:\n  codex:\n    effort_args: [\"x={effort\"]\n");
    assert_eq!(line, 3);
    assert!(message.contains("unclosed"), "{message}");
}

#[test]
fn prompt_file_without_the_placeholder_is_a_warning() {
    let (_, warnings) = parse("agents:\n  script:\n    kind: command\n    command: [./run]\n");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "agents.script.prompt");
    assert!(warnings[0].message.contains("{prompt_file}"));
    let (_, warnings) = parse(
        "agents:\n  script:\n    kind: command\n    command: [./run, \"--in={prompt_file}\"]\n",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
}

fn vars<'a>(model: &'a str, effort: &'a str) -> Vars<'a> {
    Vars {
        worktree: Path::new("/repo/.longrun/worktrees/T1"),
        prompt_file: Path::new("/repo/.longrun/runs/r/T1/1/prompt.md"),
        task_id: "T1",
        model,
        effort,
    }
}

#[test]
fn argv_appends_model_and_effort_args_only_when_set() {
    let config = Config::default();
    let codex = &config.agents["codex"];
    let argv = codex.render_argv(&vars("", "")).unwrap();
    assert_eq!(
        argv,
        [
            "codex",
            "exec",
            "--json",
            "--ephemeral",
            "--sandbox",
            "workspace-write",
            "--cd",
            "/repo/.longrun/worktrees/T1",
            "-"
        ]
    );
    let argv = codex.render_argv(&vars("gpt-5", "high")).unwrap();
    assert_eq!(
        &argv[9..],
        ["--model", "gpt-5", "-c", "model_reasoning_effort=high"]
    );
    let argv = codex.render_argv(&vars("", "high")).unwrap();
    assert_eq!(&argv[9..], ["-c", "model_reasoning_effort=high"]);
    let argv = config.agents["command"]
        .render_argv(&vars("m", "e"))
        .unwrap();
    assert_eq!(
        argv,
        [
            "./scripts/agent",
            "--task",
            "T1",
            "--prompt",
            "/repo/.longrun/runs/r/T1/1/prompt.md",
            "--dir",
            "/repo/.longrun/worktrees/T1"
        ]
    );
}

#[test]
fn profile_vars_use_the_profiles_model_and_effort() {
    let config = config("agents:\n  claude:\n    model: opus\n    effort: \"\"\n");
    let claude = &config.agents["claude"];
    let worktree = Path::new("/w");
    let prompt = Path::new("/p");
    let argv = claude
        .render_argv(&claude.vars(worktree, prompt, "T9"))
        .unwrap();
    assert_eq!(&argv[argv.len() - 2..], ["--model", "opus"]);
    assert!(!argv.contains(&"--effort".to_string()));
}

#[test]
fn values_with_spaces_quotes_and_shell_syntax_stay_one_argument() {
    let config = config(
        "agents:\n  odd:\n    kind: command\n    command: [run, \"--m={model}\", \"{{literal}}\", \"{prompt_file}\"]\n",
    );
    let nasty = "a b'c\"d $(rm -rf /); `x` {task_id}";
    let argv = config.agents["odd"]
        .render_argv(&Vars {
            worktree: Path::new("/w t"),
            prompt_file: Path::new("/p q/prompt.md"),
            task_id: "T1",
            model: nasty,
            effort: "",
        })
        .unwrap();
    assert_eq!(
        argv,
        [
            "run".to_string(),
            format!("--m={nasty}"),
            "{literal}".to_string(),
            "/p q/prompt.md".to_string()
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_path_that_is_not_utf8_is_an_error_only_when_used() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let bad = Path::new(OsStr::from_bytes(b"/tmp/\xff"));
    let config = Config::default();
    let codex = &config.agents["codex"];
    let mut vars = vars("", "");
    vars.worktree = bad;
    let error = codex.render_argv(&vars).unwrap_err();
    assert!(matches!(error, PlaceholderError::NotUtf8 { ref name, .. } if name == "worktree"));
    // claude never names the worktree: its cwd is set by the caller.
    assert!(config.agents["claude"].render_argv(&vars).is_ok());
}

#[test]
fn the_worker_environment_is_scrubbed() {
    let config = config(
        "agents:\n  claude:\n    env: {CLAUDE_CODE_MAX_OUTPUT_TOKENS: \"1000\", HOME: /sandbox}\n",
    );
    let caller = env(&[
        ("PATH", "/usr/bin"),
        ("HOME", "/home/me"),
        ("AWS_SECRET_ACCESS_KEY", "aws"),
        ("AWS_ACCESS_KEY_ID", "aws-id"),
        ("GITHUB_TOKEN", "ghp"),
        ("OPENAI_API_KEY", "sk-openai"),
        ("ANTHROPIC_API_KEY", "sk-ant"),
        ("ANTHROPIC_BASE_URL", "https://proxy"),
        ("CLAUDE_CODE_USE_BEDROCK", "1"),
        ("CLAUDEX", "not a prefix match"),
        ("LONGRUN_TASK_ID", "from the caller"),
    ]);
    let worker = config.worker_env(&config.agents["claude"], &caller);
    assert_eq!(
        worker,
        env(&[
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("ANTHROPIC_BASE_URL", "https://proxy"),
            ("CLAUDE_CODE_MAX_OUTPUT_TOKENS", "1000"),
            ("CLAUDE_CODE_USE_BEDROCK", "1"),
            // The profile's fixed value wins over the caller's.
            ("HOME", "/sandbox"),
            ("PATH", "/usr/bin"),
        ])
    );
    let codex = config.worker_env(&config.agents["codex"], &caller);
    let names: Vec<&str> = codex.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["HOME", "OPENAI_API_KEY", "PATH"]);
    for profile in config.agents.values() {
        for (name, _) in config.worker_env(profile, &caller) {
            assert!(
                !matches!(
                    name.as_str(),
                    "AWS_SECRET_ACCESS_KEY"
                        | "AWS_ACCESS_KEY_ID"
                        | "GITHUB_TOKEN"
                        | "LONGRUN_TASK_ID"
                ),
                "{name} leaked"
            );
        }
    }
}

#[test]
fn secrets_pass_only_when_listed() {
    let config = config("worker_env: [PATH, GITHUB_TOKEN]\n");
    let caller = env(&[("GITHUB_TOKEN", "ghp"), ("AWS_SECRET_ACCESS_KEY", "aws")]);
    let worker = config.worker_env(&config.agents["command"], &caller);
    assert_eq!(worker, env(&[("GITHUB_TOKEN", "ghp")]));
}

#[test]
fn env_patterns() {
    let prefix = EnvPattern::parse("XDG_*").unwrap();
    assert!(prefix.matches("XDG_CONFIG_HOME"));
    assert!(prefix.matches("XDG_"));
    assert!(!prefix.matches("XDG"));
    assert!(!prefix.matches("xdg_config_home"));
    let exact = EnvPattern::parse("PATH").unwrap();
    assert!(exact.matches("PATH"));
    assert!(!exact.matches("PATHEXT"));
    for bad in ["", "*", "A*B*", "A B", "A=B"] {
        assert!(EnvPattern::parse(bad).is_err(), "{bad:?}");
    }
}

fn routed(text: &str) -> Config {
    config(&format!(
        "agents:\n  small: {{kind: claude, model: haiku}}\n  medium: {{kind: claude, model: sonnet}}\n  large: {{kind: claude, model: opus}}\n{text}"
    ))
}

#[test]
fn routing_by_risk_and_the_tasks_own_agent() {
    let config = routed("routing:\n  default: medium\n  by_risk: {low: small, high: large}\n");
    assert_eq!(config.route(None, 0, None), "medium");
    assert_eq!(config.route(Some(Risk::Low), 0, None), "small");
    assert_eq!(config.route(Some(Risk::Medium), 0, None), "medium");
    assert_eq!(config.route(Some(Risk::High), 0, None), "large");
    // No ladder: critical follows by_risk, failures change nothing.
    assert_eq!(config.route(Some(Risk::Critical), 5, None), "medium");
    assert_eq!(config.route(Some(Risk::Low), 0, Some("codex")), "codex");
    assert_eq!(config.route(Some(Risk::Low), 0, Some("")), "small");
}

#[test]
fn escalation_climbs_the_ladder_and_stops_at_the_top() {
    let config = routed(
        "routing:\n  default: small\n  by_risk: {high: large, medium: codex}\n  escalation: {after_failures: 1, ladder: [small, medium, large]}\n",
    );
    assert_eq!(config.route(Some(Risk::Low), 0, None), "small");
    assert_eq!(config.route(Some(Risk::Low), 1, None), "medium");
    assert_eq!(config.route(Some(Risk::Low), 2, None), "large");
    assert_eq!(config.route(Some(Risk::Low), 9, None), "large");
    assert_eq!(config.route(None, 1, None), "medium");
    // A profile not on the ladder never moves.
    assert_eq!(config.route(Some(Risk::Medium), 3, None), "codex");
    // Critical starts at the top.
    assert_eq!(config.route(Some(Risk::Critical), 0, None), "large");
    assert_eq!(config.route(Some(Risk::Critical), 4, None), "large");
    // The task's own agent never escalates.
    assert_eq!(config.route(Some(Risk::Low), 2, Some("small")), "small");

    let config = routed(
        "routing:\n  default: small\n  escalation: {after_failures: 2, ladder: [small, medium, large]}\n",
    );
    assert_eq!(config.route(None, 1, None), "small");
    assert_eq!(config.route(None, 2, None), "medium");
    assert_eq!(config.route(None, 3, None), "medium");
    assert_eq!(config.route(None, 4, None), "large");
    assert_eq!(config.route(None, u32::MAX, None), "large");
}

#[test]
fn notifications_render_only_for_chosen_events() {
    let config = config(
        "notify:\n  command: [notify, \"{event}: {task_id}\", \"{message}\"]\n  on: [failed]\n",
    );
    let argv = config
        .notify
        .render_argv(&NotifyVars {
            event: NotifyEvent::Failed,
            task_id: "T1",
            message: "it's $(broken)",
        })
        .unwrap();
    assert_eq!(
        argv,
        Some(vec![
            "notify".to_string(),
            "failed: T1".to_string(),
            "it's $(broken)".to_string()
        ])
    );
    let skipped = config
        .notify
        .render_argv(&NotifyVars {
            event: NotifyEvent::RunFinished,
            task_id: "",
            message: "",
        })
        .unwrap();
    assert_eq!(skipped, None);
    let off = Config::default()
        .notify
        .render_argv(&NotifyVars {
            event: NotifyEvent::Failed,
            task_id: "T1",
            message: "x",
        })
        .unwrap();
    assert_eq!(off, None);
}

#[test]
fn key_suggestions() {
    assert_eq!(suggest("modle", PROFILE_KEYS), Some("model"));
    assert_eq!(suggest("max_paralel", TOP_KEYS), Some("max_parallel"));
    assert_eq!(suggest("zzz", PROFILE_KEYS), None);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
}

#[test]
fn claims_are_remembered_by_the_bytes_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("longrun.yaml");
    let cache = dir.path().join(".longrun/cache/claims.json");
    let load = || Config::load_claims(&path, &cache);
    assert_eq!(load().unwrap(), Config::default().claims, "no file");
    assert!(!cache.exists());

    std::fs::write(&path, "claims:\n  mode: git\n  remote: up\n  lease: 90s\n").unwrap();
    let first = load().unwrap();
    assert_eq!(first, Config::load(&path).unwrap().0.claims);
    assert_eq!(first.lease, Duration::from_secs(90));
    assert!(cache.exists(), "the answer is remembered");
    assert_eq!(
        load().unwrap(),
        first,
        "and given back while the bytes are the same"
    );

    // A changed file is read again, never answered from the cache.
    std::fs::write(&path, "claims:\n  mode: local\n  lease: 2m\n").unwrap();
    let second = load().unwrap();
    assert_eq!(second.mode, ClaimMode::Local);
    assert_eq!(second.lease, Duration::from_secs(120));

    // A file that does not load fails every time, with its line and column.
    std::fs::write(&path, "claims:\n  lease: soon\n").unwrap();
    for _ in 0..2 {
        match load() {
            Err(ConfigError::Invalid { line, column, .. }) => assert_eq!((line, column), (2, 10)),
            other => panic!("unexpected {other:?}"),
        }
    }

    // A damaged cache is ignored.
    std::fs::write(&path, "claims:\n  lease: 3m\n").unwrap();
    load().unwrap();
    std::fs::write(&cache, "{\"version\": 1, \"hash\": ").unwrap();
    assert_eq!(load().unwrap().lease, Duration::from_secs(180));
}

#[test]
fn skills_dir_is_a_folder_inside_the_repository() {
    let config = config("skills_dir: ./tools/../skills/\n");
    assert_eq!(config.skills_dir, Path::new("skills"));
    assert_eq!(
        config.skills_path(Path::new("/repo")),
        Path::new("/repo/skills")
    );
    assert_eq!(repository_relative("a/b/../c").unwrap(), Path::new("a/c"));
}
