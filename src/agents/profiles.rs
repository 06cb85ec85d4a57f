//! Whether each agent profile can run: its program is found (a bare name on the worker's
//! `PATH`, a path relative to the repository root), and its command line renders. Shared by
//! `longrun check` and `longrun doctor`.
//!
//! Reads file metadata only: it never spawns a program (asking for versions is
//! `process`'s), never reads the environment (the caller's comes in), never prints.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{AgentKind, Config, Profile};

/// What was found about one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileCheck {
    pub name: String,
    pub kind: AgentKind,
    /// `argv[0]` as written.
    pub program: String,
    /// Where the program is, when it exists and is executable.
    pub resolved: Option<PathBuf>,
    /// Routing, escalation or review names this profile: a problem is an error.
    pub used: bool,
    /// Problems, worded for a person (empty: the profile can run).
    pub problems: Vec<String>,
}

/// Checks every profile of `config` against the environment a worker would get from
/// `caller_env`. Profiles in name order. `root` resolves relative programs.
pub fn check_profiles(
    config: &Config,
    caller_env: &[(String, String)],
    root: &Path,
) -> Vec<ProfileCheck> {
    let used = used_profiles(config);
    config
        .agents
        .iter()
        .map(|(name, profile)| {
            let env = config.worker_env(profile, caller_env);
            let path = env
                .iter()
                .find(|(key, _)| key == "PATH")
                .map(|(_, value)| value.as_str())
                .unwrap_or("");
            check_profile(name, profile, path, root, used.contains(name))
        })
        .collect()
}

/// True when a check should be reported: problems in a used profile, or in a profile the
/// file changed (an untouched built-in profile that is not used is nobody's concern).
pub fn worth_reporting(check: &ProfileCheck, config: &Config) -> bool {
    if check.problems.is_empty() {
        return false;
    }
    check.used
        || config
            .agents
            .get(&check.name)
            .is_none_or(|profile| profile.command != Profile::builtin(profile.kind).command)
}

fn check_profile(
    name: &str,
    profile: &Profile,
    path: &str,
    root: &Path,
    used: bool,
) -> ProfileCheck {
    let program = profile.command.first().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    let resolved = find_program(&program, path, root);
    if resolved.is_none() {
        problems.push(if program.contains('/') {
            format!("program `{program}` does not exist or is not executable")
        } else {
            format!("program `{program}` is not on the worker's PATH")
        });
    }
    let probe = Path::new("/nonexistent/longrun-check");
    if let Err(error) = profile.render_argv(&profile.vars(probe, probe, "T1")) {
        problems.push(format!("command line does not render: {error}"));
    }
    ProfileCheck {
        name: name.to_string(),
        kind: profile.kind,
        program,
        resolved,
        used,
        problems,
    }
}

/// The profiles routing, escalation and review can pick.
fn used_profiles(config: &Config) -> Vec<String> {
    let routing = &config.routing;
    let mut used = vec![
        routing.default.clone(),
        routing.by_risk.low.clone(),
        routing.by_risk.medium.clone(),
        routing.by_risk.high.clone(),
        routing.by_risk.critical.clone(),
    ];
    used.extend(routing.escalation.ladder.iter().cloned());
    let review = &config.review.by_risk;
    for list in [&review.low, &review.medium, &review.high, &review.critical] {
        used.extend(list.iter().cloned());
    }
    used.sort();
    used.dedup();
    used
}

/// `program` as the worker would find it: a name with a `/` is a path (relative to the
/// repository root), a bare name is looked up in `path`.
pub fn find_program(program: &str, path: &str, root: &Path) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let candidate = root.join(program);
        return is_executable(&candidate).then_some(candidate);
    }
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_the_workers_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let agent = bin.join("my-agent");
        std::fs::write(&agent, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
        let not_executable = bin.join("plain");
        std::fs::write(&not_executable, "").unwrap();
        let path = format!("/nonexistent:{}", bin.display());
        assert_eq!(find_program("my-agent", &path, dir.path()), Some(agent));
        assert_eq!(find_program("plain", &path, dir.path()), None);
        assert_eq!(find_program("my-agent", "/usr/bin", dir.path()), None);
        assert!(find_program("bin/my-agent", "", dir.path()).is_some());
        assert_eq!(find_program("", &path, dir.path()), None);
    }

    #[test]
    fn a_missing_program_in_a_used_profile_is_reported() {
        let mut config = Config::default();
        let mut profile = Profile::builtin(AgentKind::Command);
        profile.command = vec!["longrun-no-such-agent".into(), "{task_id}".into()];
        config.agents.insert("ghost".into(), profile);
        config.routing.default = "ghost".into();
        let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        let checks = check_profiles(&config, &env, Path::new("/"));
        let ghost = checks.iter().find(|check| check.name == "ghost").unwrap();
        assert!(ghost.used);
        assert_eq!(
            ghost.problems,
            vec!["program `longrun-no-such-agent` is not on the worker's PATH"]
        );
        assert!(worth_reporting(ghost, &config));
        // An untouched, unused built-in profile is not worth a warning.
        let codex = checks.iter().find(|check| check.name == "codex").unwrap();
        assert!(!codex.used);
        assert!(!worth_reporting(codex, &config));
    }
}
