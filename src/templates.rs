//! The files `longrun init` writes into a user's repository, embedded in the binary from
//! `templates/`, and the few substitutions made when rendering them.
//!
//! Pure text: this module never touches the file system, the clock or the environment; the
//! caller passes the project name and the start time in. Deciding what to create is
//! [`crate::scaffold`]'s job.

/// `plan.md`: the blueprint. Its title holds [`PLAN_TITLE_PLACEHOLDER`].
pub const PLAN_MD: &str = include_str!("../templates/plan.md");

/// `checklist.yaml`: the tasks, with one baseline task and every task field explained.
pub const CHECKLIST_YAML: &str = include_str!("../templates/checklist.yaml");

/// `run-log.md`: the append-only audit trail, with empty Context lines to fill in.
pub const RUN_LOG_MD: &str = include_str!("../templates/run-log.md");

/// `longrun.yaml`: every configuration key with its default.
pub const LONGRUN_YAML: &str = include_str!("../templates/longrun.yaml");

/// `policy/default.yaml`: protected paths, diff size, validators, approvals, secrets.
pub const POLICY_DEFAULT_YAML: &str = include_str!("../templates/policy/default.yaml");

/// The `## Working with longrun` section of `AGENTS.md`.
pub const AGENTS_SECTION_MD: &str = include_str!("../templates/AGENTS.md");

/// The worker prompt, rendered by [`crate::prompt::render_worker_prompt`]. Not written into
/// a user's repository.
pub const WORKER_MD: &str = include_str!("../templates/worker.md");

/// The reviewer prompt, rendered by [`crate::prompt::render_review_prompt`]. Not written
/// into a user's repository.
pub const REVIEW_MD: &str = include_str!("../templates/review.md");

/// The planner's kickoff prompt (`longrun plan --agent`), rendered by
/// [`crate::prompt::render_kickoff_prompt`]. Not written into a user's repository.
pub const KICKOFF_MD: &str = include_str!("../templates/kickoff.md");

/// The prompt of `longrun mine --agent`, rendered by [`crate::prompt::render_mine_prompt`].
/// Not written into a user's repository.
pub const MINE_MD: &str = include_str!("../templates/mine.md");

/// The heading that marks [`AGENTS_SECTION_MD`]; its presence means the section is there.
pub const AGENTS_SECTION_HEADING: &str = "Working with longrun";

/// The lines longrun needs in `.gitignore`, one pattern a line.
pub const GITIGNORE: &str = include_str!("../templates/gitignore");

/// The built-in Agent Skills (`skills/` in longrun's repository), installed by `longrun init`
/// into `.agents/skills/<name>/SKILL.md`: `(name, SKILL.md text)`, in install order.
pub const BUILTIN_SKILLS: &[(&str, &str)] = &[
    (
        "longrun-worker",
        include_str!("../skills/longrun-worker/SKILL.md"),
    ),
    ("verify", include_str!("../skills/verify/SKILL.md")),
    ("review", include_str!("../skills/review/SKILL.md")),
    ("ci-triage", include_str!("../skills/ci-triage/SKILL.md")),
    (
        "clean-commit",
        include_str!("../skills/clean-commit/SKILL.md"),
    ),
];

/// The placeholder in [`PLAN_MD`]'s title that becomes the project name.
pub const PLAN_TITLE_PLACEHOLDER: &str = "<project name>";

/// One embedded template: where it comes from in `templates/`, where `longrun init` puts it
/// (relative to the repository root), and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// Path under `templates/` in longrun's own repository.
    pub source: &'static str,
    /// Path relative to the user's repository root.
    pub destination: &'static str,
    pub contents: &'static str,
}

/// Every embedded template, in the order `longrun init` handles them.
pub const ALL: &[Template] = &[
    Template {
        source: "plan.md",
        destination: "plan.md",
        contents: PLAN_MD,
    },
    Template {
        source: "checklist.yaml",
        destination: "checklist.yaml",
        contents: CHECKLIST_YAML,
    },
    Template {
        source: "run-log.md",
        destination: "run-log.md",
        contents: RUN_LOG_MD,
    },
    Template {
        source: "longrun.yaml",
        destination: "longrun.yaml",
        contents: LONGRUN_YAML,
    },
    Template {
        source: "policy/default.yaml",
        destination: "policy/default.yaml",
        contents: POLICY_DEFAULT_YAML,
    },
    Template {
        source: "AGENTS.md",
        destination: "AGENTS.md",
        contents: AGENTS_SECTION_MD,
    },
    Template {
        source: "gitignore",
        destination: ".gitignore",
        contents: GITIGNORE,
    },
];

/// What fills the Context lines of a new `run-log.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunLogContext {
    /// The repository's name (usually its folder name).
    pub repo: String,
    /// The branch or worktree, when the caller knows it.
    pub branch: Option<String>,
    /// When the run was set up, already formatted by the caller.
    pub start_time: String,
}

/// [`PLAN_MD`] with the project name in its title.
pub fn render_plan(project_name: &str) -> String {
    let name = single_line(project_name);
    PLAN_MD.replacen(PLAN_TITLE_PLACEHOLDER, &name, 1)
}

/// [`RUN_LOG_MD`] with the Context lines filled in; a value that is not known stays blank.
pub fn render_run_log(context: &RunLogContext) -> String {
    let mut rendered = String::with_capacity(RUN_LOG_MD.len() + 64);
    let mut in_context = false;
    for line in RUN_LOG_MD.split_inclusive('\n') {
        if line.starts_with("## ") {
            in_context = line.trim_end() == "## Context";
        }
        // Only the Context section is filled, so a Follow-ups line that happens to share a
        // label is never touched.
        let value = if in_context {
            match line.trim_end() {
                "- Repo:" => Some(context.repo.as_str()),
                "- Branch/worktree:" => context.branch.as_deref(),
                "- Start time:" => Some(context.start_time.as_str()),
                _ => None,
            }
        } else {
            None
        };
        match value.map(single_line) {
            Some(value) if !value.is_empty() => {
                rendered.push_str(line.trim_end());
                rendered.push(' ');
                rendered.push_str(&value);
                rendered.push('\n');
            }
            _ => rendered.push_str(line),
        }
    }
    rendered
}

/// Folds a caller-supplied value onto one line, so a folder name with a newline in it cannot
/// inject a heading or an event into a Markdown file.
fn single_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_yaml(text: &str) -> serde_json::Value {
        match serde_saphyr::from_str::<serde_json::Value>(text) {
            Ok(value) => value,
            Err(error) => panic!("template is not valid YAML: {error}"),
        }
    }

    #[test]
    fn checklist_template_is_valid_yaml_with_a_validated_baseline_task() {
        let checklist = parse_yaml(CHECKLIST_YAML);
        assert_eq!(checklist["version"], 1);
        for key in [
            "last_updated",
            "active_task_id",
            "status",
            "blockers",
            "next_actions",
        ] {
            assert!(checklist["summary"].get(key).is_some(), "summary.{key}");
        }
        assert!(checklist["summary"]["verification_loop"]["fast"].is_array());
        assert!(checklist["summary"]["verification_loop"]["full"].is_array());
        assert!(checklist["instructions"].is_string());
        assert!(checklist["guidelines"].is_array());
        let tasks = checklist["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 1);
        let task = &tasks[0];
        assert_eq!(task["task_id"], "T001");
        assert_eq!(task["status"], "not_started");
        assert_eq!(
            task["validators"],
            serde_json::json!([["git", "diff", "--check"]])
        );
        assert!(
            task["acceptance_criteria"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        );
    }

    #[test]
    fn checklist_template_explains_every_task_field() {
        for field in [
            "task_id",
            "title",
            "description",
            "acceptance_criteria",
            "implementation_notes",
            "note",
            "status",
            "depends_on",
            "validators",
            "risk",
            "approval",
            "agent",
            "max_attempts",
            "paths",
            "milestone",
            "timeout",
        ] {
            assert!(
                CHECKLIST_YAML.contains(&format!("{field}:")),
                "checklist template does not show `{field}`"
            );
        }
        assert!(CHECKLIST_YAML.contains("{shell:"));
    }

    #[test]
    fn config_template_is_valid_yaml_with_the_documented_defaults() {
        let config = parse_yaml(LONGRUN_YAML);
        assert_eq!(config["target_branch"], "");
        assert_eq!(config["max_parallel"], 2);
        assert_eq!(config["max_attempts"], 3);
        assert_eq!(config["allow_missing_validators"], false);
        assert_eq!(config["strict_validators"], false);
        assert_eq!(config["claims"]["mode"], "local");
        assert_eq!(config["claims"]["remote"], "origin");
        assert_eq!(config["claims"]["lease"], "15m");
        assert_eq!(config["state"]["commit"], false);
        assert_eq!(config["worktrees_dir"], ".longrun/worktrees");
        assert!(config["validator_timeout"].is_string());
        assert_eq!(
            config["agents"]["claude"]["command"],
            serde_json::json!([
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits"
            ])
        );
        for profile in ["claude", "codex", "opencode", "command"] {
            let agent = &config["agents"][profile];
            assert_eq!(agent["kind"], profile);
            for key in [
                "command",
                "model",
                "effort",
                "env_passthrough",
                "prompt",
                "timeout",
                "pricing",
            ] {
                assert!(agent.get(key).is_some(), "agents.{profile}.{key}");
            }
        }
        for risk in ["low", "medium", "high", "critical"] {
            let profile = config["routing"]["by_risk"][risk].as_str().unwrap();
            assert!(config["agents"].get(profile).is_some());
        }
        assert!(config["routing"].get("escalation").is_some());
        assert!(config["review"].get("by_risk").is_some());
        assert!(config["budgets"]["per_task"].get("cost_usd").is_some());
        assert!(config["budgets"]["per_run"].get("wall_clock").is_some());
        assert!(config["notify"]["command"].is_array());
    }

    #[test]
    fn policy_template_is_valid_yaml_and_protects_the_control_files() {
        let policy = parse_yaml(POLICY_DEFAULT_YAML);
        let protected: Vec<&str> = policy["protected_paths"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|path| path.as_str())
            .collect();
        for path in [
            "checklist.yaml",
            "plan.md",
            "run-log.md",
            "policy/**",
            "longrun.yaml",
            ".github/**",
        ] {
            assert!(protected.contains(&path), "{path} is not protected");
        }
        assert!(policy["max_diff_lines"].is_u64());
        assert!(policy["approvals"]["by_risk"]["critical"].is_array());
        assert!(policy["secrets"]["patterns"].is_array());
    }

    #[test]
    fn shipped_policy_matches_the_template() {
        // The crate's own repository ships policy/default.yaml; it must not drift from the
        // copy `longrun init` writes.
        assert_eq!(include_str!("../policy/default.yaml"), POLICY_DEFAULT_YAML);
    }

    #[test]
    fn markdown_templates_have_the_playbook_shape() {
        assert!(PLAN_MD.starts_with(&format!("# Plan: {PLAN_TITLE_PLACEHOLDER}\n")));
        for heading in [
            "## Purpose",
            "## Progress and logs",
            "## Context",
            "## Scope",
            "### Acceptance criteria",
            "## Constraints and invariants",
            "## Plan of work (milestones)",
            "## Implementation map",
            "## Verification",
            "## Rollout and rollback",
            "## Idempotence and recovery",
            "## Interfaces and dependencies",
            "## Skills and tools",
            "## Open questions",
        ] {
            assert!(PLAN_MD.contains(&format!("\n{heading}\n")), "{heading}");
        }
        assert!(RUN_LOG_MD.starts_with("# Run log\n"));
        for heading in ["## Context", "## Events (append-only)", "## Follow-ups"] {
            assert!(RUN_LOG_MD.contains(&format!("\n{heading}\n")), "{heading}");
        }
        assert!(AGENTS_SECTION_MD.starts_with(&format!("## {AGENTS_SECTION_HEADING}\n")));
        assert_eq!(GITIGNORE, ".longrun/\ncurrent_tasks/*.lock\n");
    }

    #[test]
    fn every_template_ends_with_a_newline_and_has_a_unique_destination() {
        let mut destinations: Vec<&str> = ALL.iter().map(|t| t.destination).collect();
        destinations.sort_unstable();
        destinations.dedup();
        assert_eq!(destinations.len(), ALL.len());
        for template in ALL {
            assert!(template.contents.ends_with('\n'), "{}", template.source);
        }
    }

    #[test]
    fn plan_title_gets_the_project_name_on_one_line() {
        let plan = render_plan("my-app");
        assert!(plan.starts_with("# Plan: my-app\n"));
        let plan = render_plan("evil\n# Injected");
        assert!(plan.starts_with("# Plan: evil # Injected\n"));
    }

    #[test]
    fn run_log_context_is_filled_in() {
        let log = render_run_log(&RunLogContext {
            repo: "my-app".into(),
            branch: Some("main".into()),
            start_time: "2026-11-21T09:14:03Z".into(),
        });
        assert!(log.contains("\n- Repo: my-app\n"));
        assert!(log.contains("\n- Branch/worktree: main\n"));
        assert!(log.contains("\n- Start time: 2026-11-21T09:14:03Z\n"));
        // Unknown values stay blank, ready for a person to fill in.
        let log = render_run_log(&RunLogContext {
            repo: "my-app".into(),
            branch: None,
            start_time: "2026-11-21T09:14:03Z".into(),
        });
        assert!(log.contains("\n- Branch/worktree:\n"));
    }
}
