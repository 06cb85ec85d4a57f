//! Policy: the rules in `policy/*.yaml`, loaded into a typed model, and the checks that
//! apply them to a checklist (before any execution) and to a candidate diff (before every
//! merge). It owns the built-in secret patterns and path globs. It never prints, never runs
//! git (the caller hands it the changed paths and the diff text) and never reveals a secret:
//! a violation names the rule, the file and the line, never the matched text.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use crate::state::checklist::{Checklist, Task, Validator};
use crate::state::model::{Approval, Risk};

/// Paths no worker may change when no policy file says otherwise.
pub const DEFAULT_PROTECTED_PATHS: &[&str] = &[
    "checklist.yaml",
    "plan.md",
    "run-log.md",
    "policy/**",
    "longrun.yaml",
    ".github/**",
];

/// Secret patterns that always apply: (rule name, regular expression).
const BUILTIN_SECRETS: &[(&str, &str)] = &[
    ("aws-access-key", r"(?:AKIA|ASIA)[0-9A-Z]{16}"),
    (
        "aws-secret-key",
        r#"(?i)aws_?secret_?(?:access_?)?key[ \t]*[:=][ \t]*["']?[A-Za-z0-9/+=]{40}"#,
    ),
    ("github-token", r"gh[pousr]_[A-Za-z0-9]{36,}"),
    ("github-fine-grained-token", r"github_pat_[A-Za-z0-9_]{60,}"),
    ("gitlab-token", r"glpat-[A-Za-z0-9_\-]{20,}"),
    (
        "private-key",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----",
    ),
    ("slack-token", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    ("anthropic-key", r"sk-ant-[A-Za-z0-9_\-]{20,}"),
    ("openai-key", r"sk-(?:proj-)?[A-Za-z0-9]{32,}"),
    (
        "generic-api-key",
        r#"(?i)(?:api[_-]?key|secret|token|password)[ \t]*[:=][ \t]*["'][^"' \t]{12,}["']"#,
    ),
];

/// The rules, merged from every `policy/*.yaml` (the stricter value wins).
#[derive(Debug, Clone)]
pub struct Policy {
    pub protected_paths: Vec<String>,
    /// Added plus removed lines; `None`: no limit.
    pub max_diff_lines: Option<u64>,
    /// Validators a task of each risk must have among its own.
    pub required_validators: Vec<(Risk, Vec<Validator>)>,
    /// Risks whose tasks also run the verification loop's full suite before merge.
    pub full_suite_for: Vec<Risk>,
    /// Human gates by risk.
    pub approvals: Vec<(Risk, Vec<Approval>)>,
    /// Built-in then user patterns.
    pub secrets: Vec<SecretPattern>,
    /// The files the rules came from.
    pub sources: Vec<PathBuf>,
}

/// One secret pattern.
#[derive(Debug, Clone)]
pub struct SecretPattern {
    /// The rule is `secret:<name>`: a built-in name, a user pattern's own `name`, or
    /// `user-<n>` for the n-th unnamed user pattern.
    pub name: String,
    pub regex: Regex,
    pub builtin: bool,
}

/// One broken rule, safe to log: it never holds a secret's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `protected-path`, `outside-task-paths`, `max-diff-lines`, `secret:<name>`, ...
    pub rule: String,
    /// The offending paths or `path:line` places.
    pub places: Vec<String>,
    pub message: String,
}

impl Violation {
    /// One line for the run log and the note.
    pub fn line(&self) -> String {
        let mut places: Vec<&str> = self.places.iter().map(String::as_str).take(5).collect();
        if self.places.len() > 5 {
            places.push("...");
        }
        if places.is_empty() {
            return format!("policy `{}`: {}", self.rule, self.message);
        }
        format!(
            "policy `{}`: {} ({})",
            self.rule,
            self.message,
            places.join(", ")
        )
    }
}

/// A policy file that cannot be used: longrun refuses to act rather than guess.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read `{path}`", path = path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}`: {message}", path = path.display())]
    Invalid { path: PathBuf, message: String },
    /// A built-in secret pattern does not compile: this build of longrun lacks a regex
    /// feature the pattern needs (a bug, never the user's doing). Loud, never skipped: a
    /// pattern left out would let its secrets merge.
    #[error(
        "the built-in secret pattern `{name}` does not compile in this build of longrun ({message}); no diff can be scanned for it, so nothing is merged"
    )]
    Builtin { name: String, message: String },
}

impl PolicyError {
    /// A bug in longrun rather than a problem with the user's files.
    pub fn is_internal(&self) -> bool {
        matches!(self, PolicyError::Builtin { .. })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    protected_paths: Option<Vec<String>>,
    #[serde(default)]
    max_diff_lines: Option<u64>,
    #[serde(default)]
    validators: Option<RawValidators>,
    #[serde(default)]
    approvals: Option<RawApprovals>,
    #[serde(default)]
    secrets: Option<RawSecrets>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidators {
    #[serde(default)]
    required_by_risk: std::collections::BTreeMap<String, Vec<RawValidator>>,
    #[serde(default)]
    full_suite_for: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawValidator {
    Argv(Vec<String>),
    Shell { shell: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovals {
    #[serde(default)]
    by_risk: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    #[serde(default)]
    patterns: Vec<RawPattern>,
}

/// A user pattern: a bare regular expression (named `user-<n>`) or one with its own name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPattern {
    Bare(String),
    Named { name: String, pattern: String },
}

/// Every built-in pattern, compiled; one that does not compile is an error, never skipped.
fn builtin_secrets() -> Result<Vec<SecretPattern>, PolicyError> {
    BUILTIN_SECRETS
        .iter()
        .map(|(name, pattern)| {
            Regex::new(pattern)
                .map(|regex| SecretPattern {
                    name: (*name).to_string(),
                    regex,
                    builtin: true,
                })
                .map_err(|error| PolicyError::Builtin {
                    name: (*name).to_string(),
                    // regex's message spans lines (the pattern, a caret, the reason).
                    message: error
                        .to_string()
                        .lines()
                        .map(str::trim)
                        .filter(|line| !line.is_empty())
                        .collect::<Vec<_>>()
                        .join(" "),
                })
        })
        .collect()
}

/// [`Policy::approval_needed`] with the policy's `approvals` by risk.
pub fn approval_needed(
    by_risk: &[(Risk, Vec<Approval>)],
    approval: Option<Approval>,
    risk: Option<Risk>,
    when: Approval,
) -> bool {
    if approval == Some(when) {
        return true;
    }
    let Some(risk) = risk else {
        return false;
    };
    by_risk
        .iter()
        .any(|(r, gates)| *r == risk && gates.contains(&when))
}

impl Policy {
    /// The defaults with every built-in secret pattern: the policy of a repository without
    /// `policy/*.yaml`.
    pub fn builtin() -> Result<Policy, PolicyError> {
        Ok(Policy {
            secrets: builtin_secrets()?,
            ..Policy::without_secrets()
        })
    }

    /// The defaults without any secret pattern (compiling them is most of a load's time).
    fn without_secrets() -> Policy {
        Policy {
            protected_paths: DEFAULT_PROTECTED_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect(),
            max_diff_lines: None,
            required_validators: Vec::new(),
            full_suite_for: Vec::new(),
            approvals: Vec::new(),
            secrets: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// Loads every `*.yaml` in `dir` (sorted by name). No directory: the defaults.
    pub fn load_dir(dir: &Path) -> Result<Policy, PolicyError> {
        Policy::load_files(dir, Policy::builtin()?, true)
    }

    /// Only the human gates by risk (`approvals.by_risk`) of every `*.yaml` in `dir`,
    /// merged as [`Policy::load_dir`] merges them, without compiling a secret pattern: what
    /// `next`, `status` and `claim` need to tell which tasks wait for a person. (A bad
    /// pattern is reported by `check` and by the cycle, which load the whole policy.)
    pub fn approvals_in(dir: &Path) -> Result<Vec<(Risk, Vec<Approval>)>, PolicyError> {
        Policy::load_files(dir, Policy::without_secrets(), false).map(|policy| policy.approvals)
    }

    fn load_files(dir: &Path, mut policy: Policy, secrets: bool) -> Result<Policy, PolicyError> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(policy);
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
            })
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Read {
                path: path.clone(),
                source,
            })?;
            policy.merge(&path, &text, secrets)?;
        }
        Ok(policy)
    }

    /// Adds one file's rules: lists add up, limits take the smaller value.
    pub fn merge_text(&mut self, path: &Path, text: &str) -> Result<(), PolicyError> {
        self.merge(path, text, true)
    }

    /// [`Policy::merge_text`]; without `secrets`, the secret patterns are left out.
    fn merge(&mut self, path: &Path, text: &str, secrets: bool) -> Result<(), PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawPolicy = if text.trim().is_empty() {
            RawPolicy::default()
        } else {
            serde_saphyr::from_str(text).map_err(|error| invalid(first_line(&error.to_string())))?
        };
        if let Some(version) = raw.version
            && version != 1
        {
            return Err(invalid(format!("unknown policy version {version}")));
        }
        for path in raw.protected_paths.unwrap_or_default() {
            if !self.protected_paths.contains(&path) {
                self.protected_paths.push(path);
            }
        }
        if let Some(limit) = raw.max_diff_lines {
            self.max_diff_lines = Some(self.max_diff_lines.map_or(limit, |old| old.min(limit)));
        }
        if let Some(validators) = raw.validators {
            for (risk, list) in validators.required_by_risk {
                let risk: Risk = risk
                    .parse()
                    .map_err(|_| invalid(format!("unknown risk `{risk}`")))?;
                let list: Vec<Validator> = list
                    .into_iter()
                    .map(|raw| match raw {
                        RawValidator::Argv(argv) => Validator::Argv(argv),
                        RawValidator::Shell { shell } => Validator::Shell(shell),
                    })
                    .collect();
                if !list.is_empty() {
                    self.required_validators.push((risk, list));
                }
            }
            for risk in validators.full_suite_for {
                let risk: Risk = risk
                    .parse()
                    .map_err(|_| invalid(format!("unknown risk `{risk}`")))?;
                if !self.full_suite_for.contains(&risk) {
                    self.full_suite_for.push(risk);
                }
            }
        }
        if let Some(approvals) = raw.approvals {
            for (risk, list) in approvals.by_risk {
                let risk: Risk = risk
                    .parse()
                    .map_err(|_| invalid(format!("unknown risk `{risk}`")))?;
                let mut gates = Vec::new();
                for word in list {
                    let approval: Approval = word
                        .parse()
                        .map_err(|_| invalid(format!("unknown approval `{word}`")))?;
                    gates.push(approval);
                }
                if !gates.is_empty() {
                    self.approvals.push((risk, gates));
                }
            }
        }
        let patterns = raw
            .secrets
            .filter(|_| secrets)
            .map(|s| s.patterns)
            .unwrap_or_default();
        for raw in patterns {
            let (name, pattern) = match raw {
                RawPattern::Bare(pattern) => {
                    let number = self.secrets.iter().filter(|p| !p.builtin).count() + 1;
                    (format!("user-{number}"), pattern)
                }
                RawPattern::Named { name, pattern } => {
                    let fits = !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                    if !fits {
                        return Err(invalid(format!(
                            "secret pattern name `{name}`: use letters, digits, `-`, `_` and `.` only"
                        )));
                    }
                    (name, pattern)
                }
            };
            if self.secrets.iter().any(|p| p.name == name) {
                return Err(invalid(format!(
                    "secret pattern name `{name}` is already taken (built-in names and `user-<n>` included)"
                )));
            }
            let regex = Regex::new(&pattern).map_err(|error| {
                invalid(format!(
                    "secret pattern `{name}`: {}",
                    first_line(&error.to_string())
                ))
            })?;
            self.secrets.push(SecretPattern {
                name,
                regex,
                builtin: false,
            });
        }
        self.sources.push(path.to_path_buf());
        Ok(())
    }

    /// Whether a task needs a person's approval `when` (its own `approval` or its risk's).
    pub fn needs_approval(&self, task: &Task, when: Approval) -> bool {
        self.approval_needed(task.approval, task.risk, when)
    }

    /// [`Policy::needs_approval`] from a task's `approval` and `risk` alone. Without a risk
    /// the policy has no say, so a caller may skip loading it for such a task.
    pub fn approval_needed(
        &self,
        approval: Option<Approval>,
        risk: Option<Risk>,
        when: Approval,
    ) -> bool {
        approval_needed(&self.approvals, approval, risk, when)
    }

    /// Whether the full verification suite runs before this task merges.
    pub fn full_suite_for(&self, task: &Task) -> bool {
        task.risk
            .is_some_and(|risk| self.full_suite_for.contains(&risk))
    }

    /// Problems with the checklist that stop execution before anything runs:
    /// (task id, message).
    pub fn check_checklist(&self, checklist: &Checklist) -> Vec<(String, String)> {
        checklist
            .tasks
            .iter()
            .flat_map(|task| {
                self.check_task(task)
                    .into_iter()
                    .map(|message| (task.task_id.clone(), message))
            })
            .collect()
    }

    /// What a task lacks that its risk requires.
    pub fn check_task(&self, task: &Task) -> Vec<String> {
        let Some(risk) = task.risk else {
            return Vec::new();
        };
        self.required_validators
            .iter()
            .filter(|(r, _)| *r == risk)
            .flat_map(|(_, required)| required)
            .filter(|validator| !task.own_validators().contains(validator))
            .map(|validator| {
                format!(
                    "a {risk}-risk task must have the validator `{}` (policy)",
                    validator.display()
                )
            })
            .collect()
    }

    /// Applies the rules to a candidate's diff against the target.
    pub fn check_diff(&self, task_paths: &[String], diff: &DiffFacts) -> Vec<Violation> {
        let mut violations = Vec::new();
        let protected: Vec<String> = diff
            .paths
            .iter()
            .filter(|path| {
                self.protected_paths
                    .iter()
                    .any(|glob| glob_match(glob, path))
            })
            .cloned()
            .collect();
        if !protected.is_empty() {
            violations.push(Violation {
                rule: "protected-path".to_string(),
                message: "the change touches paths no worker may change".to_string(),
                places: protected,
            });
        }
        if !task_paths.is_empty() {
            let outside: Vec<String> = diff
                .paths
                .iter()
                .filter(|path| !task_paths.iter().any(|glob| glob_match(glob, path)))
                .cloned()
                .collect();
            if !outside.is_empty() {
                violations.push(Violation {
                    rule: "outside-task-paths".to_string(),
                    message: format!(
                        "the change touches paths outside the task's `paths` ({})",
                        task_paths.join(", ")
                    ),
                    places: outside,
                });
            }
        }
        if let Some(limit) = self.max_diff_lines
            && diff.changed_lines > limit
        {
            violations.push(Violation {
                rule: "max-diff-lines".to_string(),
                message: format!(
                    "{} lines changed, more than the limit of {limit}",
                    diff.changed_lines
                ),
                places: Vec::new(),
            });
        }
        if !diff.unscanned.is_empty() {
            violations.push(Violation {
                rule: "unscanned-binary".to_string(),
                message: "binary files this large are not scanned for secrets, so no worker may add them; a person can commit them".to_string(),
                places: diff.unscanned.clone(),
            });
        }
        for (path, line, text) in added_lines(&diff.text) {
            for pattern in &self.secrets {
                if pattern.regex.is_match(text) {
                    let place = format!("{path}:{line}");
                    let rule = format!("secret:{}", pattern.name);
                    match violations.iter_mut().find(|v| v.rule == rule) {
                        Some(violation) => violation.places.push(place),
                        None => violations.push(Violation {
                            rule,
                            message: "an added line looks like a secret (text REDACTED)"
                                .to_string(),
                            places: vec![place],
                        }),
                    }
                }
            }
        }
        violations
    }
}

/// What the gate learns about a candidate's diff from git.
#[derive(Debug, Clone, Default)]
pub struct DiffFacts {
    /// Paths changed (added, modified, deleted, renamed from or to), relative to the root.
    pub paths: Vec<String>,
    /// Added plus removed lines.
    pub changed_lines: u64,
    /// The unified diff (`-U0`), binary files' changes included as text.
    pub text: String,
    /// Binary files too large to be scanned for secrets: refused (fail closed).
    pub unscanned: Vec<String>,
}

/// The added lines of a unified diff: (path, line number in the new file, text).
pub fn added_lines(diff: &str) -> Vec<(String, u64, &str)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut line = 0u64;
    for text in diff.lines() {
        if let Some(rest) = text.strip_prefix("+++ ") {
            path = rest.strip_prefix("b/").unwrap_or(rest).to_string();
        } else if text.starts_with("--- ") || text.starts_with("diff --git ") {
            continue;
        } else if let Some(rest) = text.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`
            line = rest
                .split_whitespace()
                .find_map(|part| part.strip_prefix('+'))
                .and_then(|part| part.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(added) = text.strip_prefix('+') {
            out.push((path.clone(), line, added));
            line += 1;
        } else if text.starts_with(' ') {
            line += 1;
        }
    }
    out
}

/// Matches a path against a glob: `*` and `?` stay within one path segment, `**` crosses
/// segments, and a pattern without a `/` that names a directory (`dir/**`) matches what is
/// under it. A pattern ending in `/` matches everything under that directory.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
    if let Some(dir) = pattern.strip_suffix('/') {
        return path.starts_with(&format!("{dir}/"));
    }
    match_bytes(pattern.as_bytes(), path.as_bytes())
}

fn match_bytes(pattern: &[u8], path: &[u8]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((b'*', rest)) if rest.first() == Some(&b'*') => {
            let rest = &rest[1..];
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=path.len())
                .any(|i| (i == 0 || path[i - 1] == b'/') && match_bytes(rest, &path[i..]))
                || rest.is_empty()
        }
        Some((b'*', rest)) => (0..=path.len())
            .take_while(|&i| i == 0 || path[i - 1] != b'/')
            .any(|i| match_bytes(rest, &path[i..])),
        Some((b'?', rest)) => {
            path.first().is_some_and(|&c| c != b'/') && match_bytes(rest, &path[1..])
        }
        Some((c, rest)) => path.first() == Some(c) && match_bytes(rest, &path[1..]),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_segments_and_trees() {
        assert!(glob_match("policy/**", "policy/default.yaml"));
        assert!(glob_match("policy/**", "policy/a/b.yaml"));
        assert!(!glob_match("policy/**", "policyx/a"));
        assert!(glob_match(".github/**", ".github/workflows/x.yml"));
        assert!(glob_match("checklist.yaml", "checklist.yaml"));
        assert!(!glob_match("checklist.yaml", "sub/checklist.yaml"));
        assert!(glob_match("src/*.rs", "src/main.rs"));
        assert!(!glob_match("src/*.rs", "src/a/main.rs"));
        assert!(glob_match("src/**/*.rs", "src/a/b/main.rs"));
        assert!(glob_match("src/**/*.rs", "src/main.rs"));
        assert!(glob_match("docs/", "docs/x.md"));
    }

    #[test]
    fn secrets_are_found_and_never_quoted() {
        let key = format!("AKIA{}", "ABCDEFGHIJKLMNOP");
        let diff = format!(
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -0,0 +1,2 @@\n+hello\n+key = {key}\n"
        );
        let facts = DiffFacts {
            paths: vec!["x".into()],
            changed_lines: 2,
            text: diff,
            unscanned: Vec::new(),
        };
        let policy = Policy::builtin().unwrap();
        let violations = policy.check_diff(&[], &facts);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].rule, "secret:aws-access-key");
        assert_eq!(violations[0].places, vec!["x:2".to_string()]);
        assert!(!violations[0].line().contains(&key));
        let token = format!("ghp_{}", "a".repeat(36));
        assert!(
            policy.secrets.iter().any(|p| p.regex.is_match(&token)),
            "github token"
        );
        assert!(
            policy
                .secrets
                .iter()
                .any(|p| p.regex.is_match("-----BEGIN OPENSSH PRIVATE KEY-----"))
        );
    }

    /// Every built-in pattern is there, each once. (Test builds have every regex feature
    /// through a dev-dependency, so a feature missing from the shipped build shows only in
    /// `.ci/release-smoke`; this catches a pattern that does not compile at all.)
    #[test]
    fn every_built_in_pattern_compiles_and_the_case_insensitive_ones_match() {
        let policy = Policy::builtin().unwrap();
        let names: Vec<&str> = policy.secrets.iter().map(|p| p.name.as_str()).collect();
        let expected: Vec<&str> = BUILTIN_SECRETS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, expected);
        let matching = |text: &str| -> Vec<&str> {
            policy
                .secrets
                .iter()
                .filter(|p| p.regex.is_match(text))
                .map(|p| p.name.as_str())
                .collect()
        };
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert!(matching(&format!("AWS_SECRET_ACCESS_KEY = {secret}")).contains(&"aws-secret-key"));
        assert!(
            matching("Api_Key: \"0123456789abcdef\"").contains(&"generic-api-key"),
            "{:?}",
            matching("Api_Key: \"0123456789abcdef\"")
        );
    }

    #[test]
    fn user_patterns_are_numbered_or_named_and_never_clash() {
        let mut policy = Policy::builtin().unwrap();
        policy
            .merge_text(
                Path::new("a.yaml"),
                "secrets:\n  patterns:\n    - \"INTERNAL-[0-9]+\"\n    - {name: stripe, pattern: \"sk_live_[0-9a-z]{8,}\"}\n    - \"(?i)corp-token-[a-z]+\"\n",
            )
            .unwrap();
        let users: Vec<&str> = policy
            .secrets
            .iter()
            .filter(|p| !p.builtin)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(users, ["user-1", "stripe", "user-3"]);
        // Built-in patterns left out (the gates-only load) do not shift the numbers either.
        let mut gates_only = Policy::without_secrets();
        gates_only
            .merge_text(
                Path::new("a.yaml"),
                "secrets:\n  patterns: [\"X-[0-9]+\"]\n",
            )
            .unwrap();
        assert_eq!(gates_only.secrets[0].name, "user-1");
        for clash in [
            "secrets:\n  patterns: [{name: aws-access-key, pattern: x}]\n",
            "secrets:\n  patterns: [{name: stripe, pattern: y}]\n",
            "secrets:\n  patterns: [{name: \"has space\", pattern: y}]\n",
        ] {
            assert!(
                policy
                    .clone()
                    .merge_text(Path::new("b.yaml"), clash)
                    .is_err(),
                "{clash}"
            );
        }
    }

    #[test]
    fn a_violation_without_places_has_no_empty_parentheses() {
        let violation = Violation {
            rule: "max-diff-lines".to_string(),
            places: Vec::new(),
            message: "9 lines changed, more than the limit of 3".to_string(),
        };
        assert_eq!(
            violation.line(),
            "policy `max-diff-lines`: 9 lines changed, more than the limit of 3"
        );
    }

    #[test]
    fn binary_files_too_large_to_scan_are_refused() {
        let facts = DiffFacts {
            paths: vec!["big.bin".into()],
            changed_lines: 2,
            text: String::new(),
            unscanned: vec!["big.bin".into()],
        };
        let violations = Policy::builtin().unwrap().check_diff(&[], &facts);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].rule, "unscanned-binary");
        assert_eq!(violations[0].places, ["big.bin"]);
    }

    #[test]
    fn the_gates_alone_are_the_whole_policy_s_gates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "approvals:\n  by_risk:\n    high: [after]\n    critical: [before]\nsecrets:\n  patterns: [\"[\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yml"),
            "approvals:\n  by_risk:\n    high: [before]\n",
        )
        .unwrap();
        // The bad pattern stops the whole policy, not the gates (which never compile it).
        assert!(Policy::load_dir(dir.path()).is_err());
        let gates = Policy::approvals_in(dir.path()).unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "approvals:\n  by_risk:\n    high: [after]\n    critical: [before]\n",
        )
        .unwrap();
        assert_eq!(gates, Policy::load_dir(dir.path()).unwrap().approvals);
        assert!(approval_needed(
            &gates,
            None,
            Some(Risk::High),
            Approval::Before
        ));
        assert!(!approval_needed(
            &gates,
            None,
            Some(Risk::Low),
            Approval::Before
        ));
        assert!(approval_needed(
            &gates,
            Some(Approval::Before),
            None,
            Approval::Before
        ));
    }

    #[test]
    fn policy_files_merge_strictly() {
        let mut policy = Policy::builtin().unwrap();
        policy
            .merge_text(
                Path::new("a.yaml"),
                "version: 1\nmax_diff_lines: 100\napprovals:\n  by_risk:\n    high: [after]\nvalidators:\n  required_by_risk:\n    high: [[\"cargo\", \"test\"]]\nsecrets:\n  patterns: [\"INTERNAL-[0-9]+\"]\n",
            )
            .unwrap();
        policy
            .merge_text(Path::new("b.yaml"), "max_diff_lines: 5000\n")
            .unwrap();
        assert_eq!(policy.max_diff_lines, Some(100));
        assert_eq!(policy.approvals, vec![(Risk::High, vec![Approval::After])]);
        assert!(policy.secrets.iter().any(|p| p.name == "user-1"));
        assert!(
            policy
                .merge_text(Path::new("c.yaml"), "protected: []\n")
                .is_err()
        );
    }
}
