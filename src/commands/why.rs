//! `longrun why ID`: the full story of one task (see [`crate::cycle::why`]) as text or JSON.

use super::Context;
use crate::cli::WhyArgs;
use crate::error::CommandError;
use crate::exit::ExitStatus;

pub fn run(ctx: &Context, args: &WhyArgs) -> Result<ExitStatus, CommandError> {
    let workspace = ctx.workspace()?;
    let loaded = ctx.load_checklist(&workspace)?;
    let Some(task) = loaded.checklist.task(args.task.as_str()) else {
        return Err(CommandError::user(format!(
            "no task `{}` in `{}`",
            args.task,
            loaded.path.display()
        )));
    };
    let (config, _) = crate::config::Config::load(&workspace.config())
        .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    let target = config
        .target_branch
        .clone()
        .or_else(|| crate::git::current_branch(&workspace.root))
        .unwrap_or_else(|| "HEAD".to_string());
    let target_ref = if target == "HEAD" {
        target
    } else {
        format!("refs/heads/{target}")
    };
    let verification = &loaded.checklist.summary.verification_loop;
    let loop_validators: Vec<_> = verification
        .fast
        .iter()
        .chain(&verification.full)
        .cloned()
        .collect();
    let story = crate::cycle::why::story(
        &workspace,
        task,
        &loop_validators,
        &target_ref,
        &config.budgets,
        ctx.clock.now(),
    )
    .map_err(|error| CommandError::from_error(crate::error::ErrorKind::User, &error))?;
    if args.json {
        ctx.ui.json(&story);
        return Ok(ExitStatus::Success);
    }
    let mut out = format!(
        "{}  {}\nstatus: {} (attempts: {})\nvalidators: {}\n",
        story.task_id,
        story.title,
        story.status,
        story.attempts,
        if story.validators.is_empty() {
            "(none)".to_string()
        } else {
            story
                .validators
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    out.push_str(&format!(
        "claim: {}\n",
        story.claim.as_deref().unwrap_or("(none)")
    ));
    if let Some(commit) = &story.merged_as {
        out.push_str(&format!("merged as: {commit}\n"));
    }
    if let Some(tip) = &story.branch_tip {
        out.push_str(&format!(
            "task branch: longrun/{} at {tip}\n",
            story.task_id
        ));
    }
    for attempt in &story.runs {
        out.push_str(&format!(
            "\nattempt {} ({}): agent {}\n",
            attempt.attempt,
            attempt.dir.display(),
            attempt.agent
        ));
        for validator in &attempt.validators {
            out.push_str(&format!("  validator {validator}\n"));
        }
        for review in &attempt.reviews {
            out.push_str(&format!("  review: {review}\n"));
        }
        if let Some(failure) = &attempt.failure {
            for line in failure.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("  | {line}\n"));
            }
        }
    }
    if !story.approvals.is_empty() || story.awaiting.is_some() {
        out.push_str("\napprovals:\n");
        if let Some(awaiting) = &story.awaiting {
            out.push_str(&format!(
                "  awaiting a decision on {} since {}\n",
                awaiting.commit, awaiting.at
            ));
        }
        for record in &story.approvals {
            out.push_str(&format!(
                "  {:?} {:?} by {} at {} on {}{}\n",
                record.stage,
                record.decision,
                record.by,
                record.at,
                record.commit,
                if record.text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", record.text)
                }
            ));
        }
    }
    out.push_str("\nevents:\n");
    for event in &story.events {
        out.push_str(&format!("  {event}\n"));
    }
    out.push_str(&format!(
        "\ngate: {}\nto unblock: {}\n",
        story.gate, story.unblock
    ));
    ctx.ui.data(&out);
    Ok(ExitStatus::Success)
}
