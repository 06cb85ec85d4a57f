//! `longrun mine`: mine the run log and write proposals, or (`--apply`) install the proposals
//! a person kept (the newest, or those `--from` names). Resolves the commit before each fix
//! with git (the domain never runs git) and logs every applied item in run-log.md.

use std::path::PathBuf;

use serde::Serialize;

use super::Context;
use crate::cli::MineArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::mine::proposals::{self, AppliedItem, ApplyOutcome, WrittenProposals};
use crate::mine::prose::{self, Outcome, ProseReport};
use crate::mine::{self, Findings, MineOptions};
use crate::state::model::EventKind;
use crate::state::runlog::{Event, FieldKey};

#[derive(Serialize)]
struct MineOutput<'a> {
    findings: &'a Findings,
    proposals: &'a WrittenProposals,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a AgentProse>,
}

/// What `--agent` did.
#[derive(Debug, Serialize)]
struct AgentProse {
    profile: String,
    /// Why the agent's run failed; then every deterministic draft is kept.
    failure: Option<String>,
    /// The agent's scratch folder, prompt and output.
    scratch: PathBuf,
    #[serde(flatten)]
    report: ProseReport,
}

pub fn run(ctx: &Context, args: &MineArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    if args.apply {
        return apply(ctx, args, &workspace);
    }
    // An unknown profile is a usage error before anything is mined.
    let agent = match &args.agent {
        Some(name) => {
            let (config, _warnings) = crate::config::Config::load(&workspace.config())
                .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
            if config.profile(name).is_none() {
                let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
                return Err(CommandError::user(format!(
                    "no agent profile `{name}` in `longrun.yaml`"
                ))
                .with_hint(format!("profiles: {}", known.join(", "))));
            }
            Some((name.as_str(), config))
        }
        None => None,
    };
    let run_log = workspace.run_log();
    if !run_log.is_file() {
        return Err(
            CommandError::user(format!("`{}` does not exist", run_log.display()))
                .with_hint("run `longrun init` first"),
        );
    }
    let checklist = match ctx.load_checklist(&workspace) {
        Ok(loaded) => Some(loaded.checklist),
        Err(error) => {
            ctx.ui.warn(&format!(
                "task notes not read: {}",
                error.message.trim_start_matches("error: ")
            ));
            None
        }
    };
    let options = MineOptions {
        run_log,
        since: args.since,
        run: match &args.run {
            Some(id) => Some(read_run(&workspace, id)?),
            None => None,
        },
    };
    let mut findings = mine::mine(&options, checklist.as_ref()).map_err(mine_error)?;
    if let Err(error) = mine::resolve_bases(&workspace.root, &mut findings) {
        ctx.ui.warn(&format!(
            "the commits before the fixes are unknown, so no eval is proposed: {error}"
        ));
    }
    let stamp = ctx.clock.now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let written =
        proposals::write_proposals(&workspace.root, &stamp, &findings, checklist.as_ref())
            .map_err(mine_error)?;
    let prose = match (&agent, &written.directory) {
        (Some((name, config)), Some(directory)) => Some(write_prose(
            ctx, &workspace, name, config, directory, &stamp,
        )?),
        (Some((name, _)), None) => {
            ctx.ui.status(&format!(
                "nothing to propose, so agent `{name}` was not started"
            ));
            None
        }
        _ => None,
    };
    if args.json {
        ctx.ui.json(&MineOutput {
            findings: &findings,
            proposals: &written,
            agent: prose.as_ref(),
        });
    } else {
        let mut out = report(&findings, &written);
        if let Some(prose) = &prose {
            out.push_str(&prose_report(prose));
        }
        ctx.ui.data(&out);
    }
    if let Some(prose) = &prose {
        if let Some(failure) = &prose.failure {
            ctx.ui.warn(&format!(
                "{failure}; the deterministic proposals are kept as written (its output: `{}`)",
                prose.scratch.join("run").join("agent").display()
            ));
            return Ok(ExitStatus::Negative);
        }
        if prose.report.refused_any() {
            ctx.ui.warn(&format!(
                "some of agent `{}`'s prose broke a rule and was refused; the deterministic drafts stand in for it",
                prose.profile
            ));
            return Ok(ExitStatus::Negative);
        }
    }
    Ok(ExitStatus::Success)
}

/// The run `--run` names, from its folder under `.longrun/runs/`; an unknown one is a usage
/// error that lists the newest runs.
fn read_run(
    workspace: &crate::workspace::Workspace,
    id: &str,
) -> Result<mine::scope::RunScope, CommandError> {
    let runs = workspace.state_dir().join("runs");
    match mine::scope::read_run(&runs, id) {
        Ok(mut scope) => {
            if let Ok(relative) = scope.directory.strip_prefix(&workspace.root) {
                scope.directory = relative.to_path_buf();
            }
            Ok(scope)
        }
        Err(mine::scope::RunScopeError::Mine(error)) => Err(mine_error(error)),
        Err(error) => {
            let known = proposals::sorted_entries(&runs).unwrap_or_default();
            let hint = if known.is_empty() {
                "no run has left a folder in `.longrun/runs/` yet".to_string()
            } else {
                format!("the newest runs: {}", newest(&known))
            };
            Err(CommandError::user(error.to_string()).with_hint(hint))
        }
    }
}

/// Runs the agent on a copy of the drafts in `.longrun/mine/<stamp>/` and installs what
/// passes the checks into the proposal directory.
fn write_prose(
    ctx: &Context,
    workspace: &crate::workspace::Workspace,
    name: &str,
    config: &crate::config::Config,
    proposals_dir: &std::path::Path,
    stamp: &str,
) -> Result<AgentProse, CommandError> {
    let relative_scratch = PathBuf::from(".longrun/mine").join(stamp);
    let scratch = workspace.root.join(&relative_scratch);
    // A scratch left by an earlier run in the same second is replaced, never mixed in.
    let _ = std::fs::remove_dir_all(&scratch);
    let proposal_dir = workspace.root.join(proposals_dir);
    let drafts = prose::prepare(&proposal_dir, &scratch).map_err(mine_error)?;
    let skills: String = drafts
        .skills
        .iter()
        .map(|skill| format!("- `{skill}`\n"))
        .collect();
    let prompt = crate::prompt::render_mine_prompt(&crate::prompt::MinePromptInput {
        drafts: "drafts",
        skills: if skills.is_empty() {
            "(none)\n"
        } else {
            &skills
        },
        agents_patch: drafts.guidelines.is_some(),
    });
    let Some(profile) = config.profile(name) else {
        return Err(CommandError::internal(
            "the profile was checked before mining",
        ));
    };
    ctx.ui.status(&format!(
        "agent `{name}` is writing the prose of `{}` in `{}`",
        proposals_dir.display(),
        relative_scratch.display()
    ));
    let caller_env: Vec<(String, String)> = std::env::vars().collect();
    let run = crate::oneshot::run(
        &crate::oneshot::OneShot {
            name,
            profile,
            config,
            caller_env: &caller_env,
            workdir: &scratch,
            run_dir: &scratch.join("run"),
            job: "mine",
            clock: ctx.clock,
        },
        &prompt,
    )
    .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    let mut prose = AgentProse {
        profile: name.to_string(),
        failure: run.failure.clone(),
        scratch: relative_scratch,
        report: ProseReport::default(),
    };
    if prose.failure.is_none() {
        let agents_md = match std::fs::read_to_string(workspace.root.join("AGENTS.md")) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(error.into()),
        };
        prose.report =
            prose::adopt(&proposal_dir, &drafts, agents_md.as_deref()).map_err(mine_error)?;
        let record = serde_json::to_string_pretty(&prose).unwrap_or_default() + "\n";
        crate::fsutil::write_atomic(&proposal_dir.join("agent.json"), record.as_bytes())?;
    }
    Ok(prose)
}

/// The agent's part of the report: each draft, accepted or refused with its rules.
fn prose_report(prose: &AgentProse) -> String {
    let mut out = format!("\nProse by agent `{}`:\n", prose.profile);
    if let Some(failure) = &prose.failure {
        out.push_str(&format!(
            "  none: {failure}; every deterministic draft is kept\n"
        ));
        return out;
    }
    let verdicts = prose
        .report
        .skills
        .iter()
        .map(|verdict| ("skill", verdict))
        .chain(
            prose
                .report
                .guidelines
                .iter()
                .map(|verdict| ("agents-md", verdict)),
        );
    for (kind, verdict) in verdicts {
        match verdict.outcome {
            Outcome::Accepted => {
                out.push_str(&format!("  {kind}  {}  accepted\n", verdict.name));
            }
            Outcome::Unchanged => out.push_str(&format!(
                "  {kind}  {}  unchanged (the deterministic draft stays)\n",
                verdict.name
            )),
            Outcome::Refused => {
                out.push_str(&format!(
                    "  {kind}  {}  refused; the deterministic draft is kept:\n",
                    verdict.name
                ));
                for (rule, message) in &verdict.violations {
                    out.push_str(&format!("    {rule}: {message}\n"));
                }
            }
        }
    }
    for ignored in &prose.report.ignored {
        out.push_str(&format!("  ignored  {ignored} (not a draft)\n"));
    }
    out
}

fn apply(
    ctx: &Context,
    args: &MineArgs,
    workspace: &crate::workspace::Workspace,
) -> Result<ExitStatus, CommandError> {
    let directory = match &args.from {
        Some(from) => chosen_proposals(ctx, workspace, from)?,
        None => {
            let Some(newest) = proposals::latest_proposals(&workspace.root).map_err(mine_error)?
            else {
                return Err(CommandError::user(format!(
                    "no proposals in `{}`",
                    proposals::PROPOSALS_DIR
                ))
                .with_hint(
                    "run `longrun mine` first, review what it wrote, delete what you reject",
                ));
            };
            ctx.ui.status(&format!(
                "applying the newest proposals, `{}` (`--from DIR` applies another)",
                newest.display()
            ));
            newest
        }
    };
    let skills_dir = super::skill::configured_skills_dir(workspace)?;
    let applied = proposals::apply_proposals(&workspace.root, &directory, &skills_dir, args.force)
        .map_err(mine_error)?;
    let now = ctx.clock.now();
    let events: Vec<Event> = applied
        .iter()
        .filter(|item| !matches!(item.outcome, ApplyOutcome::Skipped(_)))
        .map(|item| {
            let verb = match item.outcome {
                ApplyOutcome::Overwritten => "overwrote",
                _ => "installed",
            };
            let mut event = Event::new(
                now,
                EventKind::Decision,
                format!(
                    "mine applied {} `{}`: {verb} `{}` from `{}`",
                    item.kind,
                    item.name,
                    item.destination.display(),
                    directory.display()
                ),
            );
            if let Ok(key) = FieldKey::parse("proposal") {
                event = event.with_field(key, directory.display().to_string());
            }
            event
        })
        .collect();
    if !events.is_empty() {
        ctx.append_events(workspace, &events)?;
    }
    if args.json {
        ctx.ui.json(&ApplyOutput {
            directory: &directory,
            applied: &applied,
        });
    } else {
        ctx.ui.data(&apply_report(&directory, &applied));
    }
    Ok(ExitStatus::Success)
}

#[derive(Serialize)]
struct ApplyOutput<'a> {
    /// The proposal directory applied, relative to the repository root when inside it.
    directory: &'a std::path::Path,
    applied: &'a [AppliedItem],
}

/// The proposal directory `--from` names: a timestamp under `.longrun/proposals/`, or a
/// path (from the current directory); relative to the repository root when inside it.
fn chosen_proposals(
    ctx: &Context,
    workspace: &crate::workspace::Workspace,
    from: &std::path::Path,
) -> Result<PathBuf, CommandError> {
    let by_name = PathBuf::from(proposals::PROPOSALS_DIR).join(from);
    let plain_name = from.components().count() == 1 && !from.is_absolute();
    let path = if plain_name && workspace.root.join(&by_name).is_dir() {
        workspace.root.join(&by_name)
    } else {
        ctx.cwd.join(from)
    };
    if !path.is_dir() {
        let known = proposals::sorted_entries(&workspace.root.join(proposals::PROPOSALS_DIR))
            .map_err(mine_error)?;
        let error = CommandError::user(format!(
            "no proposals `{}`: neither `{}` nor `{}` is a directory",
            from.display(),
            by_name.display(),
            path.display()
        ));
        return Err(if known.is_empty() {
            error.with_hint("run `longrun mine` first")
        } else {
            error.with_hint(format!("proposals: {}", newest(&known)))
        });
    }
    let path = path.canonicalize().unwrap_or(path);
    let root = workspace
        .root
        .canonicalize()
        .unwrap_or(workspace.root.clone());
    Ok(path
        .strip_prefix(&root)
        .map(std::path::Path::to_path_buf)
        .unwrap_or(path))
}

fn mine_error(error: mine::MineError) -> CommandError {
    CommandError::from_error(crate::error::ErrorKind::User, &error)
}

/// How many items of each list the report shows; the rest is counted ("and N more").
const REPORT_ITEMS: usize = 10;

/// `  ... and N more (see findings.json)` when a list was cut.
fn more(out: &mut String, total: usize, shown: usize) {
    if total > shown {
        out.push_str(&format!(
            "  ... and {} more (see findings.json)\n",
            total - shown
        ));
    }
}

/// The report a person reads in a minute: every list cut at [`REPORT_ITEMS`].
fn report(findings: &Findings, written: &WrittenProposals) -> String {
    let mut out = format!(
        "Mined {} event(s): {} failure group(s), {} fix(es), {} intervention(s), {} follow-up(s).\n",
        findings.events,
        findings.failure_group_count,
        findings.fixes.len(),
        findings.intervention_count,
        findings.follow_ups.len()
    );
    if let Some(run) = &findings.run {
        let tasks: Vec<String> = run
            .tasks
            .iter()
            .map(|(task, attempts)| {
                let attempts: Vec<String> = attempts.iter().map(u32::to_string).collect();
                format!("{task} (attempt {})", attempts.join(", "))
            })
            .collect();
        out.push_str(&format!(
            "Run `{}` (`{}`){}: {}; each task's events until its next run or its merge.\n",
            run.id,
            run.directory.display(),
            run.start
                .map(|start| format!(" from {}", crate::clock::format_timestamp(start)))
                .unwrap_or_default(),
            mine::short_task_list(&tasks, 6)
        ));
    }
    if findings.notes_without_time > 0 {
        out.push_str(&format!(
            "{} task-note line(s) left out: nothing tells when they were written.\n",
            findings.notes_without_time
        ));
    }
    if findings.unreadable_lines > 0 {
        out.push_str(&format!(
            "{} line(s) of the Events section are not events (`longrun check` lists them).\n",
            findings.unreadable_lines
        ));
    }
    if !findings.failure_groups.is_empty() {
        out.push_str("\nRepeated failures\n");
        for group in findings.failure_groups.iter().take(REPORT_ITEMS) {
            out.push_str(&format!(
                "  {:>4}x  {}  [{}]\n",
                group.count,
                group.signature,
                mine::short_task_list(&group.tasks, 6)
            ));
        }
        more(&mut out, findings.failure_group_count, REPORT_ITEMS);
    }
    if !findings.fixes.is_empty() {
        out.push_str("\nFixes (a failure, then a pass of the same validator)\n");
        for fix in findings.fixes.iter().take(REPORT_ITEMS) {
            out.push_str(&format!(
                "  {}  `{}`  failed {}x, fixed in {}{}\n",
                fix.task,
                fix.validator,
                fix.failures,
                fix.commit_after.as_deref().unwrap_or("?"),
                fix.commit_before
                    .as_deref()
                    .map(|before| format!(" (from {})", &before[..before.len().min(10)]))
                    .unwrap_or_default()
            ));
        }
        more(&mut out, findings.fixes.len(), REPORT_ITEMS);
    }
    if findings.intervention_count > 0 {
        out.push_str("\nHuman interventions\n");
        for intervention in findings.interventions.iter().take(REPORT_ITEMS) {
            let text: String = intervention.text.chars().take(80).collect();
            out.push_str(&format!(
                "  {:<10} {}  {}\n",
                serde_json::to_value(intervention.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                intervention.task.as_deref().unwrap_or("-"),
                text
            ));
        }
        more(&mut out, findings.intervention_count, REPORT_ITEMS);
    }
    if !findings.follow_ups.is_empty() {
        out.push_str("\nFollow-ups\n");
        for item in findings.follow_ups.iter().take(REPORT_ITEMS) {
            out.push_str(&format!(
                "  {:<16} {}  (line {})\n",
                item.category.label(),
                item.text,
                item.line
            ));
        }
        more(&mut out, findings.follow_ups.len(), REPORT_ITEMS);
    }
    match &written.directory {
        None => out.push_str("\nNothing to propose.\n"),
        Some(directory) => {
            out.push_str(&format!("\nProposals in `{}`:\n", directory.display()));
            for skill in written.skills.iter().take(REPORT_ITEMS) {
                out.push_str(&format!("  skill  skills/{skill}/SKILL.md\n"));
            }
            more(&mut out, written.skills.len(), REPORT_ITEMS);
            for eval in written.evals.iter().take(REPORT_ITEMS) {
                out.push_str(&format!("  eval   evals/{eval}.yaml\n"));
            }
            more(&mut out, written.evals.len(), REPORT_ITEMS);
            if written.agents_patch {
                out.push_str(&format!("  patch  {}\n", proposals::AGENTS_PATCH));
            }
            if written.lessons_already_in_agents_md > 0 {
                out.push_str(&format!(
                    "  ({} lesson(s) left out: AGENTS.md already says them)\n",
                    written.lessons_already_in_agents_md
                ));
            }
            if !written.follow_up_skills.is_empty() {
                out.push_str(&format!(
                    "  ({} skill draft(s) from the Follow-ups' skills to extract: {})\n",
                    written.follow_up_skills.len(),
                    mine::short_task_list(&written.follow_up_skills, 5)
                ));
            }
            if written.follow_up_skills_left_out > 0 {
                out.push_str(&format!(
                    "  ({} more skill(s) to extract past the first {}: not drafted)\n",
                    written.follow_up_skills_left_out,
                    proposals::MAX_SKILLS
                ));
            }
            for item in written.follow_up_evals.iter().take(REPORT_ITEMS) {
                out.push_str(&format!(
                    "  (eval to add \"{}\": evals/{}.yaml)\n",
                    item.item, item.eval
                ));
            }
            more(&mut out, written.follow_up_evals.len(), REPORT_ITEMS);
            let left_out = written.repeated_groups_left_out + written.single_groups_left_out;
            if left_out > 0 {
                out.push_str(&format!(
                    "  ({left_out} more failure group(s) got no skill: {} repeated past the {} most frequent, {} seen once)\n",
                    written.repeated_groups_left_out,
                    proposals::MAX_SKILLS,
                    written.single_groups_left_out
                ));
            }
            if written.evals_without_base > 0 {
                out.push_str(&format!(
                    "  ({} fix(es) had no known base commit: no eval)\n",
                    written.evals_without_base
                ));
            }
            out.push_str("Review them, delete what you reject, then run `longrun mine --apply`.\n");
        }
    }
    if !written.evals_without_evidence.is_empty() {
        out.push_str(
            "\nEvals to add with no fix to replay (name a task or a `validator` that was fixed):\n",
        );
        for item in written.evals_without_evidence.iter().take(REPORT_ITEMS) {
            out.push_str(&format!("  - {item}\n"));
        }
        more(&mut out, written.evals_without_evidence.len(), REPORT_ITEMS);
    }
    out
}

fn apply_report(directory: &std::path::Path, applied: &[AppliedItem]) -> String {
    let mut out = format!("Applied `{}`:\n", directory.display());
    for item in applied {
        let outcome = match &item.outcome {
            ApplyOutcome::Installed => "installed  ".to_string(),
            ApplyOutcome::Overwritten => "overwrote  ".to_string(),
            ApplyOutcome::Skipped(reason) => format!("skipped ({reason}) "),
        };
        out.push_str(&format!(
            "  {outcome}{} `{}` → {}\n",
            item.kind,
            item.name,
            item.destination.display()
        ));
    }
    if applied.is_empty() {
        out.push_str("  nothing left to apply\n");
    }
    out
}

/// The five newest of `sorted` folder names (timestamps sort by time), newest first.
fn newest(sorted: &[String]) -> String {
    sorted
        .iter()
        .rev()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::{FailureGroup, FixPair, Intervention, InterventionKind};

    #[test]
    fn every_list_of_the_report_is_cut_with_a_count_of_the_rest() {
        let group = |i: usize| FailureGroup {
            signature: format!("failure {i}"),
            validator: None,
            count: 2,
            tasks: vec!["T1".to_string()],
            first_seen: String::new(),
            last_seen: String::new(),
            examples: Vec::new(),
        };
        let fix = |i: usize| FixPair {
            task: format!("T{i}"),
            validator: "make".to_string(),
            signature: String::new(),
            failed_attempt: Some(1),
            fixed_attempt: Some(2),
            failures: 1,
            failure_line: i,
            fix_line: i + 1,
            failure_evidence: None,
            commit_after: None,
            target: None,
            commit_before: None,
        };
        let findings = Findings {
            events: 100,
            failure_group_count: 25,
            repeated_group_count: 25,
            failure_groups: (0..25).map(group).collect(),
            fixes: (0..13).map(fix).collect(),
            intervention_count: 40,
            interventions: (0..40)
                .map(|i| Intervention {
                    kind: InterventionKind::Steering,
                    task: None,
                    line: Some(i),
                    at: None,
                    text: format!("steer {i}"),
                })
                .collect(),
            follow_ups: (0..12)
                .map(|i| crate::mine::FollowUp {
                    category: crate::mine::FollowUpCategory::Other,
                    heading: None,
                    text: format!("item {i}"),
                    line: i,
                })
                .collect(),
            ..Findings::default()
        };
        let written = WrittenProposals {
            directory: Some(PathBuf::from(".longrun/proposals/x")),
            skills: (0..10).map(|i| format!("s{i}")).collect(),
            repeated_groups_left_out: 15,
            evals: (0..50).map(|i| format!("e{i}")).collect(),
            ..WrittenProposals::default()
        };
        let text = report(&findings, &written);
        for expected in [
            "  ... and 15 more (see findings.json)\n\nFixes",
            "  ... and 3 more (see findings.json)\n\nHuman interventions",
            "  ... and 30 more (see findings.json)\n\nFollow-ups",
            "  ... and 2 more (see findings.json)\n\nProposals",
            "  ... and 40 more (see findings.json)\n",
            "(15 more failure group(s) got no skill: 15 repeated past the 10 most frequent, 0 seen once)",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
        assert!(!text.contains("failure 10 "), "{text}");
        assert!(text.lines().count() < 80, "{text}");
    }
}
