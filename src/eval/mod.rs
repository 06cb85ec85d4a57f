//! Eval tasks: `evals/<id>.yaml` (a base commit, the task text, acceptance criteria, the
//! validators that decide, an optional timeout), how they are read and written, and
//! [`run`], which replays them with agent profiles in scratch worktrees.
//!
//! Reading and rendering never print, spawn or run git; rendering is deterministic so mined
//! drafts are byte-for-byte reproducible.

pub mod run;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil;

/// Where evals live, relative to the repository root.
pub const EVALS_DIR: &str = "evals";

/// One eval task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    /// Equals the file name without `.yaml`; a-z, 0-9 and `-`.
    pub id: String,
    /// The commit the agent starts from.
    pub base: String,
    /// What the agent is asked to do.
    pub task: String,
    #[serde(default)]
    pub acceptance: Vec<String>,
    /// Shell commands run in the worktree after the agent; all must exit 0.
    pub validators: Vec<String>,
    /// How long the agent may run (`30m`, `90s`); the profile's timeout otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Where the eval came from (mined evals name the run-log lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An eval file and what was read from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvalFile {
    pub path: PathBuf,
    pub spec: Result<EvalSpec, String>,
}

impl EvalSpec {
    /// Parses and checks an eval: an id of a-z, 0-9 and `-`, a base, a task, validators.
    pub fn parse(text: &str) -> Result<EvalSpec, String> {
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        let mut spec: EvalSpec =
            serde_saphyr::from_str_with_options(text, options).map_err(|error| {
                let message = error.without_snippet().to_string();
                message.lines().next().unwrap_or_default().to_string()
            })?;
        // A block scalar keeps its final newline; the task is the text without it.
        spec.task = spec.task.trim_end().to_string();
        if crate::skills::skill_name_problem(&spec.id).is_some() {
            return Err(format!(
                "eval id `{}` must be lowercase letters, digits and single hyphens",
                spec.id
            ));
        }
        if spec.base.trim().is_empty() || spec.base.starts_with('-') {
            return Err("`base` must name a commit".to_string());
        }
        if spec.task.trim().is_empty() {
            return Err("`task` is empty".to_string());
        }
        if spec.validators.is_empty() || spec.validators.iter().any(|v| v.trim().is_empty()) {
            return Err("`validators` must list at least one command".to_string());
        }
        if let Some(timeout) = &spec.timeout {
            crate::config::parse_duration(timeout)
                .map_err(|error| format!("`timeout`: {error}"))?;
        }
        Ok(spec)
    }

    /// The YAML text of the eval, in a fixed layout.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("id: {}\n", self.id));
        out.push_str(&format!("base: {}\n", quote(&self.base)));
        out.push_str("task: |\n");
        for line in self.task.trim_end().lines() {
            if line.trim().is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("  {line}\n"));
            }
        }
        if self.acceptance.is_empty() {
            out.push_str("acceptance: []\n");
        } else {
            out.push_str("acceptance:\n");
            for item in &self.acceptance {
                out.push_str(&format!("  - {}\n", quote(item)));
            }
        }
        out.push_str("validators:\n");
        for validator in &self.validators {
            out.push_str(&format!("  - {}\n", quote(validator)));
        }
        if let Some(timeout) = &self.timeout {
            out.push_str(&format!("timeout: {}\n", quote(timeout)));
        }
        if let Some(source) = &self.source {
            out.push_str(&format!("source: {}\n", quote(source)));
        }
        out
    }
}

fn quote(text: &str) -> String {
    let flat = text.replace(['\n', '\r'], " ");
    format!("'{}'", flat.replace('\'', "''"))
}

/// Every `*.yaml` in `evals_dir`, sorted by file name; a missing directory has none.
pub fn list_evals(evals_dir: &Path) -> Result<Vec<EvalFile>, fsutil::FsError> {
    let entries = match std::fs::read_dir(evals_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(fsutil::FsError::Read {
                path: evals_dir.to_path_buf(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml") && path.is_file())
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let spec = load_eval(&path);
        files.push(EvalFile { path, spec });
    }
    Ok(files)
}

/// Reads one eval file; the id must equal the file's stem.
pub fn load_eval(path: &Path) -> Result<EvalSpec, String> {
    let text = fsutil::read_text(path, fsutil::MAX_STATE_FILE_BYTES).map_err(|e| e.to_string())?;
    let spec = EvalSpec::parse(&text)?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if spec.id != stem {
        return Err(format!(
            "the eval's id is `{}` but its file is `{stem}.yaml`; they must match",
            spec.id
        ));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eval_round_trips_through_its_text() {
        let spec = EvalSpec {
            id: "t1-cargo-test".to_string(),
            base: "abc123".to_string(),
            task: "Add greet.\n\nIt's: a test # not a comment".to_string(),
            acceptance: vec!["prints 'hi'".to_string()],
            validators: vec!["cargo test".to_string(), "sh -c 'exit 0'".to_string()],
            timeout: Some("5m".to_string()),
            source: Some("run-log.md lines 3-9".to_string()),
        };
        let text = spec.render();
        assert_eq!(EvalSpec::parse(&text).unwrap(), spec, "{text}");
    }

    #[test]
    fn broken_evals_say_why() {
        assert!(EvalSpec::parse("id: x\n").is_err());
        let base = "id: Bad\nbase: a\ntask: t\nvalidators: [x]\n";
        assert!(EvalSpec::parse(base).unwrap_err().contains("eval id"));
        let none = "id: ok\nbase: a\ntask: t\nvalidators: []\n";
        assert!(EvalSpec::parse(none).unwrap_err().contains("validators"));
        let extra = "id: ok\nbase: a\ntask: t\nvalidators: [x]\nmodel: y\n";
        assert!(EvalSpec::parse(extra).is_err());
    }
}
