//! `longrun eval run` with the scripted fake agent: a profile that solves the eval passes,
//! one that does not fails, `--repeat` repeats, and no scratch worktree or branch is left.

use crate::cycle::{CycleRepo, fake_agent};

fn eval_repo() -> CycleRepo {
    let repo = CycleRepo::with_config(
        "tasks: []\n",
        &format!(
            "  lazy:\n    kind: command\n    command: [\"{}\", \"print nothing to do\"]\n    prompt: file\n    timeout: 60s\n",
            fake_agent()
        ),
    );
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.env.write(
        "evals/write-hello.yaml",
        format!(
            "id: write-hello\nbase: '{base}'\ntask: |\n  Write hello.txt.\nacceptance:\n  - 'hello.txt says hello'\nvalidators:\n  - 'grep -q hello hello.txt'\n"
        ),
    );
    repo.script("write-hello", "write hello.txt hello\ncommit add hello\n");
    repo
}

#[test]
fn a_solving_profile_passes_and_a_lazy_one_fails_side_by_side() {
    let repo = eval_repo();
    let run = repo.env.longrun(&[
        "eval", "run", "--agent", "fake", "--agent", "lazy", "--repeat", "3", "--json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let attempts = value["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 6);
    let profiles = value["profiles"].as_array().unwrap();
    assert_eq!(profiles[0]["profile"], "fake");
    assert_eq!(profiles[0]["attempts"], 3);
    assert_eq!(profiles[0]["passed"], 3);
    assert_eq!(profiles[1]["profile"], "lazy");
    assert_eq!(profiles[1]["passed"], 0);
    assert!(
        repo.env
            .path(".longrun/evals/20261121T090000Z/results.json")
            .is_file()
    );
    // Nothing of the scratch worktrees is left, and the primary checkout is untouched.
    assert!(!repo.env.path("hello.txt").exists());
    let branches = repo.env.git(&["branch", "--list", "longrun-eval/*"]);
    assert!(branches.trim().is_empty(), "{branches}");
    let worktrees = repo.env.git(&["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");

    let table = repo.env.longrun(&["eval", "run", "write-hello"]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("100%"), "{table:?}");
    assert!(
        table
            .stdout
            .contains("SUMMARY: 1 attempt(s), 1 passed, 0 failed"),
        "{table:?}"
    );
}

/// Writes `evals/<id>.yaml`.
fn write_eval(repo: &CycleRepo, id: &str, base: &str, validator: &str, extra: &str) {
    repo.env.write(
        &format!("evals/{id}.yaml"),
        format!(
            "id: {id}\nbase: '{base}'\ntask: |\n  Do {id}.\nvalidators:\n  - '{validator}'\n{extra}"
        ),
    );
}

fn results(run: &crate::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("{error}: {run:?}"))
}

/// The worktree is made at the eval's base, not at HEAD: HEAD already has the fix, the base
/// does not, so an agent that changes something unrelated fails there, a do-nothing agent
/// fails, and only the agent that makes the fix passes.
#[test]
fn an_eval_runs_at_its_base_commit_not_at_head() {
    let repo = eval_repo();
    repo.env.write("status.txt", "broken\n");
    repo.env.git(&["add", "-A"]);
    repo.env.git(&["commit", "-q", "-m", "broken status"]);
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.env.write("status.txt", "fixed\n");
    repo.env.git(&["add", "-A"]);
    repo.env.git(&["commit", "-q", "-m", "fix status"]);
    write_eval(&repo, "fix-status", &base, "grep -q fixed status.txt", "");
    repo.script("fix-status", "write notes.txt unrelated\ncommit notes\n");
    let run = repo.env.longrun(&[
        "eval",
        "run",
        "fix-status",
        "--agent",
        "fake",
        "--agent",
        "lazy",
        "--json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let value = results(&run);
    let baseline = &value["baselines"][0];
    assert_eq!(baseline["commit"], base.as_str(), "{value}");
    assert_eq!(baseline["vacuous"], false, "{value}");
    assert_eq!(baseline["passing"], serde_json::json!([]), "{value}");
    let attempts = value["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["profile"], "fake");
    assert_eq!(attempts[0]["outcome"], "failed", "{value}");
    assert_eq!(attempts[0]["changed"], true, "{value}");
    assert_eq!(
        attempts[0]["failure"], "validator `grep -q fixed status.txt` exited 1",
        "{value}"
    );
    assert_eq!(attempts[1]["profile"], "lazy");
    assert_eq!(attempts[1]["outcome"], "failed", "{value}");
    assert_eq!(
        attempts[1]["failure"], "the agent changed nothing at the base commit",
        "{value}"
    );

    repo.script("fix-status", "write status.txt fixed\ncommit fix\n");
    let fixed = repo.env.longrun(&["eval", "run", "fix-status", "--json"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert_eq!(results(&fixed)["attempts"][0]["outcome"], "passed");
}

/// The agent's own failure fails the attempt even when its commits satisfy the validators:
/// the eval's `timeout` stops a hanging agent, and a non-zero exit is a failure.
#[test]
fn an_agent_that_times_out_or_exits_non_zero_fails_the_attempt() {
    let repo = eval_repo();
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    write_eval(
        &repo,
        "slow-hello",
        &base,
        "grep -q hello hello.txt",
        "timeout: 1s\n",
    );
    repo.script(
        "slow-hello",
        "write hello.txt hello\ncommit add hello\nhang\n",
    );
    repo.script(
        "write-hello",
        "write hello.txt hello\ncommit add hello\nexit 4\n",
    );
    let started = std::time::Instant::now();
    let run = repo
        .env
        .longrun(&["eval", "run", "--agent", "fake", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    // The profile allows 60 s; the eval's own timeout is what stopped the agent.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    let value = results(&run);
    let attempts = value["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{value}");
    let slow = &attempts[0];
    assert_eq!(slow["eval"], "slow-hello");
    assert_eq!(slow["agent_timed_out"], true, "{value}");
    assert_eq!(slow["passed"], false, "{value}");
    assert_eq!(slow["outcome"], "failed", "{value}");
    let reason = slow["failure"].as_str().unwrap();
    assert!(reason.starts_with("the agent timed out after"), "{reason}");
    let exited = &attempts[1];
    assert_eq!(exited["eval"], "write-hello");
    assert_eq!(exited["agent_exit_code"], 4, "{value}");
    assert_eq!(exited["passed"], false, "{value}");
    assert_eq!(exited["failure"], "the agent exited 4", "{value}");
    assert_eq!(value["profiles"][0]["passed"], 0, "{value}");

    let table = repo.env.longrun(&["eval", "run", "--agent", "fake"]);
    assert_eq!(table.code, 1, "{table:?}");
    assert!(
        table.stdout.contains("  fake #1: the agent exited 4\n"),
        "{table:?}"
    );
}

/// An agent that leaves the worktree as the base does not pass, even when the validators
/// happen to pass afterwards (here: a file outside the worktree that the validator checks).
#[test]
fn an_agent_that_changes_nothing_does_not_pass() {
    let repo = eval_repo();
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let marker = repo.scripts.join("outside-marker");
    write_eval(
        &repo,
        "outside",
        &base,
        &format!("test -f {}", marker.display()),
        "",
    );
    repo.script(
        "outside",
        &format!("write-outside {} here\n", marker.display()),
    );
    let run = repo
        .env
        .longrun(&["eval", "run", "outside", "--agent", "fake", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let value = results(&run);
    assert_eq!(value["baselines"][0]["vacuous"], false, "{value}");
    let attempt = &value["attempts"][0];
    assert_eq!(attempt["changed"], false, "{value}");
    assert_eq!(attempt["outcome"], "failed", "{value}");
    assert_eq!(
        attempt["failure"], "the agent changed nothing at the base commit",
        "{value}"
    );
    assert!(marker.exists(), "the agent ran");
}

/// An eval whose validators already pass at its base proves nothing: it is reported as
/// vacuous (stderr, the table, results.json, `eval show`), its attempts are not run and
/// never count as passes.
#[test]
fn a_vacuous_eval_is_reported_and_never_counted_as_solved() {
    let repo = eval_repo();
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    write_eval(&repo, "already-done", &base, "test -f longrun.yaml", "");
    let run = repo
        .env
        .longrun(&["eval", "run", "already-done", "--agent", "lazy", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("eval `already-done` is vacuous: every validator already passes at its base"),
        "{run:?}"
    );
    let value = results(&run);
    assert_eq!(value["baselines"][0]["vacuous"], true, "{value}");
    assert_eq!(
        value["baselines"][0]["passing"],
        serde_json::json!(["test -f longrun.yaml"])
    );
    let attempt = &value["attempts"][0];
    assert_eq!(attempt["outcome"], "vacuous", "{value}");
    assert_eq!(attempt["passed"], false, "{value}");
    assert_eq!(attempt["agent_ran"], false, "{value}");
    let summary = &value["profiles"][0];
    assert_eq!(summary["passed"], 0, "{value}");
    assert_eq!(summary["attempts"], 0, "{value}");
    assert_eq!(summary["vacuous"], 1, "{value}");
    let stored: serde_json::Value = serde_json::from_str(
        &repo
            .env
            .read(".longrun/evals/20261121T090000Z/results.json"),
    )
    .unwrap();
    assert_eq!(stored["baselines"][0]["vacuous"], true);

    let table = repo
        .env
        .longrun(&["eval", "run", "already-done", "--agent", "lazy"]);
    assert_eq!(table.code, 1, "{table:?}");
    let line = table
        .stdout
        .lines()
        .find(|line| line.starts_with("already-done "))
        .unwrap_or_else(|| panic!("{table:?}"));
    assert!(
        line.contains("VACUOUS: every validator already passes at the base"),
        "{line}"
    );
    assert!(
        table
            .stdout
            .contains("SUMMARY: 0 attempt(s), 0 passed, 0 failed, 1 not run (vacuous eval)"),
        "{table:?}"
    );

    let shown = repo.env.longrun(&["eval", "show", "already-done"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(
        shown.stdout.contains(
            "# baseline (run 20261121T090000Z-2): VACUOUS: every validator already passes"
        ),
        "{shown:?}"
    );
    let json = repo
        .env
        .longrun(&["eval", "show", "already-done", "--json"]);
    let value = results(&json);
    assert_eq!(value["baseline"]["vacuous"], true, "{value}");
    assert_eq!(value["baseline"]["run"], "20261121T090000Z-2", "{value}");
}

/// A `kind: claude` profile's reported cost reaches results.json and the side-by-side
/// table, as it reaches the cycle's run log.
#[test]
fn a_claude_profiles_cost_is_in_the_table_and_the_results() {
    let result = "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,\"result\":\"Wrote hello.\",\"total_cost_usd\":0.25,\"usage\":{\"input_tokens\":1000,\"output_tokens\":50},\"permission_denials\":[]}";
    let repo = CycleRepo::with_config(
        "tasks: []\n",
        &format!(
            "  paid:\n    kind: claude\n    command: [\"{}\", \"include {}/paid-{{task_id}}\"]\n    prompt: file\n    timeout: 60s\n",
            fake_agent(),
            "SCRIPTS"
        ),
    );
    // The scripts folder is only known once the repository exists.
    let config = repo
        .env
        .read("longrun.yaml")
        .replace("SCRIPTS", &repo.scripts.display().to_string());
    repo.env.write("longrun.yaml", config);
    repo.env.git(&["commit", "-q", "-am", "paid profile"]);
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    write_eval(&repo, "write-hello", &base, "grep -q hello hello.txt", "");
    repo.script("write-hello", "write hello.txt hello\ncommit add hello\n");
    repo.script(
        "paid-write-hello",
        &format!("write hello.txt hello\ncommit add hello\nprint {result}\n"),
    );
    let run = repo.env.longrun(&[
        "eval", "run", "--agent", "paid", "--agent", "fake", "--json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let value = results(&run);
    assert_eq!(value["attempts"][0]["cost_usd"], 0.25, "{value}");
    assert_eq!(value["profiles"][0]["profile"], "paid");
    assert_eq!(value["profiles"][0]["cost_usd"], 0.25, "{value}");
    // A `kind: command` agent reports nothing: unknown, never zero.
    assert_eq!(value["profiles"][1]["cost_usd"], serde_json::Value::Null);

    let table = repo
        .env
        .longrun(&["eval", "run", "--agent", "paid", "--agent", "fake"]);
    assert_eq!(table.code, 0, "{table:?}");
    let paid = table
        .stdout
        .lines()
        .find(|line| line.starts_with("paid "))
        .unwrap_or_else(|| panic!("{table:?}"));
    assert!(paid.trim_end().ends_with("$0.25"), "{paid}");
    let fake = table
        .stdout
        .lines()
        .find(|line| line.starts_with("fake "))
        .unwrap_or_else(|| panic!("{table:?}"));
    assert!(fake.trim_end().ends_with("unknown"), "{fake}");
}

/// `eval list --json` and `eval show --json`: the fields, relative paths, invalid files
/// with their reason, and no baseline before any run.
#[test]
fn eval_list_and_show_print_json() {
    let repo = eval_repo();
    repo.env
        .write("evals/broken.yaml", "id: broken\nbase: x\ntask: t\n");
    let list = repo.env.longrun(&["eval", "list", "--json"]);
    assert_eq!(list.code, 0, "{list:?}");
    let listed = results(&list);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["id"], "broken");
    assert_eq!(listed[0]["path"], "evals/broken.yaml");
    assert_eq!(listed[0]["valid"], false);
    assert_eq!(listed[0]["spec"], serde_json::Value::Null);
    assert!(
        listed[0]["error"].as_str().unwrap().contains("validators"),
        "{listed:?}"
    );
    assert_eq!(listed[1]["id"], "write-hello");
    assert_eq!(listed[1]["path"], "evals/write-hello.yaml");
    assert_eq!(listed[1]["valid"], true);
    assert_eq!(listed[1]["error"], serde_json::Value::Null);
    assert_eq!(
        listed[1]["spec"]["validators"],
        serde_json::json!(["grep -q hello hello.txt"])
    );
    assert_eq!(listed[1]["spec"]["task"], "Write hello.txt.");

    let show = repo.env.longrun(&["eval", "show", "write-hello", "--json"]);
    assert_eq!(show.code, 0, "{show:?}");
    let shown = results(&show);
    let base = repo.env.git(&["rev-parse", "HEAD"]).trim().to_string();
    assert_eq!(shown["id"], "write-hello");
    assert_eq!(shown["base"], base.as_str());
    assert_eq!(
        shown["acceptance"],
        serde_json::json!(["hello.txt says hello"])
    );
    assert_eq!(shown["baseline"], serde_json::Value::Null, "{shown}");
    let text = repo.env.longrun(&["eval", "show", "write-hello"]);
    assert!(
        text.stdout.contains("# baseline: not checked yet"),
        "{text:?}"
    );

    let run = repo.env.longrun(&["eval", "run", "write-hello"]);
    assert_eq!(run.code, 0, "{run:?}");
    let shown = results(&repo.env.longrun(&["eval", "show", "write-hello", "--json"]));
    assert_eq!(shown["baseline"]["vacuous"], false, "{shown}");
    assert_eq!(shown["baseline"]["commit"], base.as_str(), "{shown}");
    let missing = repo.env.longrun(&["eval", "show", "nope", "--json"]);
    assert_eq!(missing.code, 2, "{missing:?}");
}
