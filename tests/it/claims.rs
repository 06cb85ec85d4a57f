//! `claim`, `heartbeat`, `release` and `claims`, driven as real processes: races between
//! many processes, a holder killed with SIGKILL, fencing of stale tokens, bad input, and
//! claims made from a linked worktree.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{NOW, Run, TestEnv};

/// A run log whose Events section is the last one, so appends are single writes.
const RUN_LOG: &str = "# Run log\n\n## Context\n- Repo: test\n\n## Events (append-only)\n";

/// An initialised repository whose checklist holds `tasks` as given (flow mappings, one a
/// line, so a large checklist stays small).
fn env_with(tasks: &str) -> TestEnv {
    let env = TestEnv::initialized();
    env.write("checklist.yaml", format!("version: 1\ntasks:\n{tasks}"));
    env.write("run-log.md", RUN_LOG);
    env
}

/// `count` independent tasks `T000`, `T001`, ...
fn independent_tasks(count: usize) -> String {
    (0..count)
        .map(|index| format!("  - {{task_id: T{index:03}, title: t}}\n"))
        .collect()
}

/// T1 ready, T2 waiting on T1, T3 ready, commented.
const SMALL: &str = "  # the first one\n  - task_id: T1\n    title: First   # keep me\n    validators: [[\"true\"]]\n  - {task_id: T2, title: Second, depends_on: [T1]}\n  - task_id: T3\n    title: Third\n";

fn small_env() -> TestEnv {
    env_with(SMALL)
}

/// The token `longrun claim` printed.
fn token_of(run: &Run) -> String {
    run.stdout
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no token in {run:?}"))
        .to_string()
}

/// The claim files in `current_tasks/` (not the mutex or temp files).
fn lock_files(env: &TestEnv) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.path("current_tasks"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Run-log event lines of `kind` (`claim`, `release`, `reject`).
fn events(env: &TestEnv, kind: &str) -> Vec<String> {
    env.read("run-log.md")
        .lines()
        .filter(|line| line.starts_with("- ") && line.split(' ').nth(2) == Some(kind))
        .map(str::to_string)
        .collect()
}

/// The status a task has in the test repository's checklist.yaml.
fn status_of(env: &TestEnv, task: &str) -> String {
    status_of_in(&env.root, task)
}

fn spawn(env: &TestEnv, args: &[&str], extra_env: &[(&str, &str)]) -> Child {
    let mut command = env.command_in(&env.root, args);
    for (key, value) in extra_env {
        command.env(key, value);
    }
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn longrun")
}

fn wait_all(children: Vec<Child>) -> Vec<Run> {
    children
        .into_iter()
        .map(|child| Run::from(child.wait_with_output().expect("wait for longrun")))
        .collect()
}

/// `NOW` plus `seconds`, as `LONGRUN_NOW` takes it.
fn later(seconds: i64) -> String {
    let now: jiff::Timestamp = NOW.parse().unwrap();
    now.checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap()
        .to_string()
}

#[test]
fn claim_heartbeat_release_mirror_the_claim_in_the_checklist_and_the_log() {
    let env = small_env();
    let before = env.read("checklist.yaml");
    let run = env.longrun(&["claim", "T1", "--worker", "alice", "--lease", "10m"]);
    assert_eq!(run.code, 0, "{run:?}");
    let token = token_of(&run);
    assert!(
        run.stdout.starts_with("task: T1\nworker: alice\ntoken: "),
        "{run:?}"
    );
    assert!(
        run.stdout
            .ends_with("lease_expires_at: 2026-11-21T09:10:00Z\n"),
        "{run:?}"
    );

    // The lock file says everything DESIGN section 4 lists.
    assert_eq!(lock_files(&env), ["T1.lock"]);
    let lock = env.read("current_tasks/T1.lock");
    for field in [
        "task: \"T1\"",
        "worker: \"alice\"",
        "host: \"",
        "pid: ",
        "claimed_at: \"2026-11-21T09:00:00Z\"",
        "heartbeat_at: \"2026-11-21T09:00:00Z\"",
        "lease_expires_at: \"2026-11-21T09:10:00Z\"",
        "attempt: 1",
        &format!("token: \"{token}\""),
        "branch: \"longrun/T1\"",
        &format!("worktree: \"{}\"", env.root.display()),
    ] {
        assert!(lock.contains(field), "{field} missing in\n{lock}");
    }
    // Only T1's status changed, in place.
    assert_eq!(
        env.read("checklist.yaml"),
        before.replace(
            "    validators: [[\"true\"]]\n",
            "    validators: [[\"true\"]]\n    status: in_progress\n"
        )
    );
    let claims = events(&env, "claim");
    assert_eq!(claims.len(), 1);
    assert!(
        claims[0].starts_with("- 2026-11-21T09:00:00Z claim [T1] worker=alice host="),
        "{claims:?}"
    );
    assert!(claims[0].contains(&format!("token={}", &token[..12])));

    // A heartbeat five minutes later moves the lease.
    let mut heartbeat = env.command_in(&env.root, &["heartbeat", "T1", "--token", &token]);
    heartbeat.env("LONGRUN_NOW", later(300));
    let run = Run::from(heartbeat.output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "lease_expires_at: 2026-11-21T09:20:00Z\n");
    assert!(
        env.read("current_tasks/T1.lock")
            .contains("lease_expires_at: \"2026-11-21T09:20:00Z\"")
    );

    let run = env.longrun(&["release", "T1", "--token", &token, "--status", "complete"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(lock_files(&env).is_empty());
    assert_eq!(status_of(&env, "T1"), "complete");
    let releases = events(&env, "release");
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert!(
        releases[0].contains("[T1] worker=alice") && releases[0].contains("status=complete"),
        "{releases:?}"
    );
    // T2 is ready now; a release without `--status` puts the task back in the queue.
    let run = env.longrun(&["claim", "--next", "--worker", "bob"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("task: T2\n"), "{run:?}");
    let run = env.longrun(&["release", "T2", "--token", &token_of(&run)]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(status_of(&env, "T2"), "not_started");
}

#[test]
fn json_output_of_claim_and_claims() {
    let env = small_env();
    let run = env.longrun(&["claim", "T3", "--worker", "w", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let claim: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(claim["task"], "T3");
    assert_eq!(claim["worker"], "w");
    assert_eq!(claim["lease_expires_at"], "2026-11-21T09:15:00Z");
    assert_eq!(claim["took_over"], serde_json::Value::Null);
    let token = claim["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);

    let mut list = env.command_in(&env.root, &["claims", "--json"]);
    list.env("LONGRUN_NOW", later(60));
    let run = Run::from(list.output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["task"], "T3");
    assert_eq!(rows[0]["token"], token.as_str());
    assert_eq!(rows[0]["age_seconds"], 60);
    assert_eq!(rows[0]["lease_left_seconds"], 840);
    // The claiming process has exited: no live holder, but the lease still runs.
    assert_eq!(rows[0]["holder_alive"], false);
    assert_eq!(rows[0]["stale"], false);
    assert_eq!(rows[0]["corrupt"], serde_json::Value::Null);

    // Past the lease it is stale, in the table too.
    let mut list = env.command_in(&env.root, &["claims"]);
    list.env("LONGRUN_NOW", later(16 * 60));
    let run = Run::from(list.output().unwrap());
    assert!(run.stdout.contains("STALE"), "{run:?}");
    let status = env.longrun(&["status"]);
    assert!(
        status.stdout.contains("T3  Third  (claimed by `w` on `"),
        "{status:?}"
    );
}

#[test]
fn thirty_two_processes_race_for_one_task_one_winner_every_round() {
    const PROCESSES: usize = 32;
    const ROUNDS: usize = 100;
    let env = env_with("  - {task_id: R, title: contested}\n");
    for round in 0..ROUNDS {
        let children: Vec<Child> = (0..PROCESSES)
            .map(|index| spawn(&env, &["claim", "R", "--worker", &format!("w{index}")], &[]))
            .collect();
        let runs = wait_all(children);
        let winners: Vec<usize> = (0..PROCESSES).filter(|&i| runs[i].code == 0).collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let winner = winners[0];
        for (index, run) in runs.iter().enumerate() {
            if index != winner {
                assert_eq!(run.code, 1, "round {round}: {run:?}");
                // Every loser names the one winner.
                assert!(
                    run.stderr.contains(&format!("held by worker `w{winner}`")),
                    "round {round}: {run:?}"
                );
            }
        }
        let release = env.longrun(&["release", "R", "--token", &token_of(&runs[winner])]);
        assert_eq!(release.code, 0, "round {round}: {release:?}");
    }
    assert!(lock_files(&env).is_empty());
    assert_eq!(events(&env, "claim").len(), ROUNDS);
    assert_eq!(events(&env, "release").len(), ROUNDS);
    assert_eq!(status_of(&env, "R"), "not_started");
}

#[test]
fn sixteen_processes_drain_500_tasks_each_claimed_exactly_once() {
    const PROCESSES: usize = 16;
    const TASKS: usize = 500;
    let env = env_with(&independent_tasks(TASKS));
    // Each process claims with `--next` until nothing is ready.
    let threads: Vec<_> = (0..PROCESSES)
        .map(|index| {
            let mut command = env.command_in(
                &env.root,
                &["claim", "--next", "--worker", &format!("w{index}")],
            );
            std::thread::spawn(move || {
                let mut won = Vec::new();
                loop {
                    let run = Run::from(command.output().expect("run longrun"));
                    match run.code {
                        0 => won.push(
                            run.stdout
                                .lines()
                                .next()
                                .and_then(|line| line.strip_prefix("task: "))
                                .expect("task line")
                                .to_string(),
                        ),
                        1 if run.stderr.contains("no task is ready to claim") => break won,
                        _ => panic!("{run:?}"),
                    }
                }
            })
        })
        .collect();
    let mut claimed: HashMap<String, usize> = HashMap::new();
    for thread in threads {
        for task in thread.join().unwrap() {
            *claimed.entry(task).or_default() += 1;
        }
    }
    assert_eq!(claimed.len(), TASKS, "tasks lost");
    let twice: Vec<_> = claimed.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "claimed more than once: {twice:?}");
    assert_eq!(lock_files(&env).len(), TASKS);
    assert_eq!(events(&env, "claim").len(), TASKS);
    let checklist = env.read("checklist.yaml");
    assert_eq!(checklist.matches("status: in_progress").count(), TASKS);
}

#[test]
fn a_killed_holder_is_taken_over_by_exactly_one_reclaimer_and_fenced_out() {
    const RECLAIMERS: usize = 6;
    let env = small_env();
    let pid_file = env.path("child.pid");
    // The held command writes its pid, so the test can end it; it does not matter for the
    // claim (the lock file is not inherited by the child).
    let script = format!("echo $$ > '{}'; exec sleep 60", pid_file.display());
    let mut holder = spawn(
        &env,
        &[
            "claim", "T1", "--worker", "a", "--lease", "2s", "--hold", "--", "sh", "-c", &script,
        ],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pid_file.exists()
        || std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .is_empty()
    {
        assert!(Instant::now() < deadline, "the held command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let child_pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let old_token = env
        .read("current_tasks/T1.lock")
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .unwrap()
        .trim_matches('"')
        .to_string();

    // Alive and past its lease (fixed clock 10 s later): held, not stale, not taken over.
    let after_lease = later(10);
    let run = Run::from(
        env.command_in(&env.root, &["claim", "T1", "--worker", "early"])
            .env("LONGRUN_NOW", &after_lease)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("held by worker `a`"), "{run:?}");

    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", &child_pid])
        .status();

    let list = Run::from(
        env.command_in(&env.root, &["claims", "--json"])
            .env("LONGRUN_NOW", &after_lease)
            .output()
            .unwrap(),
    );
    let rows: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(rows[0]["stale"], true, "{list:?}");
    assert_eq!(rows[0]["holder_alive"], false, "{list:?}");

    let children: Vec<Child> = (0..RECLAIMERS)
        .map(|index| {
            spawn(
                &env,
                &["claim", "T1", "--worker", &format!("r{index}")],
                &[("LONGRUN_NOW", &after_lease)],
            )
        })
        .collect();
    let runs = wait_all(children);
    let winners: Vec<usize> = (0..RECLAIMERS).filter(|&i| runs[i].code == 0).collect();
    assert_eq!(winners.len(), 1, "{runs:?}");
    let winner = winners[0];
    for (index, run) in runs.iter().enumerate() {
        if index != winner {
            assert_eq!(run.code, 1, "{run:?}");
            // The losers see the new holder, not the dead one.
            assert!(
                run.stderr.contains(&format!("held by worker `r{winner}`")),
                "{run:?}"
            );
        }
    }
    let takeovers = events(&env, "claim");
    assert_eq!(takeovers.len(), 2, "{takeovers:?}");
    assert!(
        takeovers[1].contains(&format!("takeover={}", &old_token[..12]))
            && takeovers[1].contains("previous_worker=a"),
        "{takeovers:?}"
    );

    // The dead holder's late release is refused and logged; nothing changes.
    let before = env.read("checklist.yaml");
    let run = Run::from(
        env.command_in(
            &env.root,
            &[
                "release", "T1", "--token", &old_token, "--status", "complete",
            ],
        )
        .env("LONGRUN_NOW", &after_lease)
        .output()
        .unwrap(),
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("is not the current claim"), "{run:?}");
    assert_eq!(env.read("checklist.yaml"), before);
    assert_eq!(status_of(&env, "T1"), "in_progress");
    let rejects = events(&env, "reject");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(
        rejects[0].contains("operation=release")
            && rejects[0].contains(&format!("holder=r{winner}")),
        "{rejects:?}"
    );
    // The winner's token still works.
    let new_token = token_of(&runs[winner]);
    let run = env.longrun(&[
        "release", "T1", "--token", &new_token, "--status", "complete",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(status_of(&env, "T1"), "complete");
}

#[test]
fn unknown_unready_and_escaping_tasks_are_refused() {
    let env = small_env();
    let before = (env.read("checklist.yaml"), env.read("run-log.md"));

    let run = env.longrun(&["claim", "T9", "--worker", "w"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no task `T9`"), "{run:?}");

    let run = env.longrun(&["claim", "T2", "--worker", "w"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("task `T2` cannot be claimed: it depends on `T1` that is not complete"),
        "{run:?}"
    );

    for escaping in ["../T1", "..", "/etc/passwd", ".hidden", "a/b"] {
        for args in [
            &["claim", escaping, "--worker", "w"][..],
            &["release", escaping, "--force"],
            &["heartbeat", escaping, "--token", "0123456789abcdef"],
        ] {
            let run = env.longrun(args);
            assert_eq!(run.code, 2, "{args:?}: {run:?}");
            assert!(run.stderr.contains("task id"), "{args:?}: {run:?}");
        }
    }
    let run = env.longrun(&["release", "T1", "--token", "not-a-token"]);
    assert_eq!(run.code, 2, "{run:?}");

    // No worker name: refused before anything happens.
    let run = env.longrun(&["claim", "T1"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--worker"), "{run:?}");
    // ... unless LONGRUN_WORKER names one.
    let run = Run::from(
        env.command_in(&env.root, &["claim", "T1", "--json"])
            .env("LONGRUN_WORKER", "from-env")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("\"worker\": \"from-env\""), "{run:?}");
    assert_eq!(lock_files(&env), ["T1.lock"]);
    // Nothing but T1's claim changed the files: the refusals wrote nothing.
    assert_eq!(events(&env, "claim").len(), 1);
    assert_eq!(
        env.read("checklist.yaml"),
        before.0.replace(
            "    validators: [[\"true\"]]\n",
            "    validators: [[\"true\"]]\n    status: in_progress\n"
        )
    );
    assert!(env.read("run-log.md").starts_with(&before.1));
}

#[test]
fn a_bad_lease_is_a_usage_error() {
    let env = small_env();
    for lease in ["0s", "15", "1x", "30m1h", ""] {
        let run = env.longrun(&["claim", "T1", "--worker", "w", "--lease", lease]);
        assert_eq!(run.code, 2, "{lease:?}: {run:?}");
    }
    assert!(lock_files(&env).is_empty());
    let run = env.longrun(&["claim", "T1", "--worker", "w", "--lease", "1h30m"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("lease_expires_at: 2026-11-21T10:30:00Z")
    );
}

#[test]
fn wrong_tokens_are_refused_and_logged() {
    let env = small_env();
    let run = env.longrun(&["claim", "T1", "--worker", "a"]);
    let token = token_of(&run);
    let wrong = "0123456789abcdef0123456789abcdef";
    for args in [
        &["heartbeat", "T1", "--token", wrong][..],
        &["release", "T1", "--token", wrong, "--status", "complete"],
    ] {
        let before = env.read("checklist.yaml");
        let run = env.longrun(args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(
            run.stderr
                .contains("token `0123456789ab` is not the current claim")
                && run.stderr.contains("held by worker `a`"),
            "{run:?}"
        );
        assert_eq!(env.read("checklist.yaml"), before);
    }
    let rejects = events(&env, "reject");
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert!(rejects[0].contains("operation=heartbeat"), "{rejects:?}");
    assert!(rejects[1].contains("operation=release"), "{rejects:?}");
    assert_eq!(lock_files(&env), ["T1.lock"]);

    // A released claim's token is stale: refused too.
    assert_eq!(env.longrun(&["release", "T1", "--token", &token]).code, 0);
    let run = env.longrun(&["heartbeat", "T1", "--token", &token]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not claimed"), "{run:?}");
    let run = env.longrun(&["release", "T1", "--token", &token, "--status", "complete"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(status_of(&env, "T1"), "not_started");
    assert_eq!(events(&env, "reject").len(), 4);
}

#[test]
fn a_corrupt_lock_file_is_listed_held_and_only_cleared_by_force() {
    let env = small_env();
    env.write("current_tasks/T1.lock", "task: [unterminated\n");
    let path = env.path("current_tasks/T1.lock");

    let run = env.longrun(&["claims"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("CORRUPT") && run.stdout.contains(&path.display().to_string()),
        "{run:?}"
    );
    let run = env.longrun(&["claims", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[0]["path"], path.display().to_string());
    assert!(rows[0]["corrupt"].is_string(), "{rows}");

    let run = env.longrun(&["claim", "T1", "--worker", "w"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(&path.display().to_string())
            && run.stderr.contains("release T1 --force"),
        "{run:?}"
    );
    // Also long after any lease could have run out: still held, never deleted.
    let run = Run::from(
        env.command_in(&env.root, &["claim", "T1", "--worker", "w"])
            .env("LONGRUN_NOW", "2030-01-01T00:00:00Z")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 2, "{run:?}");
    // `claim --next` passes it by and takes the next ready task.
    let run = env.longrun(&["claim", "--next", "--worker", "w"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("task: T3\n"), "{run:?}");
    assert!(
        run.stderr.contains("skipped `T1`") && run.stderr.contains(&path.display().to_string()),
        "{run:?}"
    );
    let run = env.longrun(&["next"]);
    assert!(!run.stdout.contains("T1"), "{run:?}");
    let run = env.longrun(&["release", "T1", "--token", "0123456789abcdef"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("corrupt"), "{run:?}");
    assert_eq!(env.read("current_tasks/T1.lock"), "task: [unterminated\n");

    let run = env.longrun(&["release", "T1", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!path.exists());
    let releases = events(&env, "release");
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert!(
        releases[0].contains("forced=true")
            && releases[0].contains("corrupt claim file")
            && releases[0].contains("T1.lock"),
        "{releases:?}"
    );
    let run = env.longrun(&["release", "T1", "--force"]);
    assert_eq!(run.code, 1, "{run:?}");
    let run = env.longrun(&["claim", "T1", "--worker", "w"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn next_and_status_show_holders_and_stale_claims() {
    let env = small_env();
    let run = env.longrun(&["claim", "T1", "--worker", "alice", "--lease", "5m"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.longrun(&["next"]).stdout, "T3  Third\n");
    let status = env.longrun(&["status"]);
    assert!(
        status.stdout.contains("(claimed by `alice` on `"),
        "{status:?}"
    );

    let at = |seconds: i64, args: &[&str]| {
        Run::from(
            env.command_in(&env.root, args)
                .env("LONGRUN_NOW", later(seconds))
                .output()
                .unwrap(),
        )
    };
    let next = at(600, &["next"]);
    assert!(
        next.stdout
            .starts_with("T3  Third\nT1  First  (stale claim of `alice` on `"),
        "{next:?}"
    );
    let status = at(600, &["status"]);
    assert!(
        status
            .stdout
            .contains("lease ended 5m00s ago, no live holder"),
        "{status:?}"
    );
    // `--next` prefers the ready task, then takes over the stale one.
    let first = at(600, &["claim", "--next", "--worker", "bob"]);
    assert!(first.stdout.starts_with("task: T3\n"), "{first:?}");
    let second = at(600, &["claim", "--next", "--worker", "bob"]);
    assert!(second.stdout.starts_with("task: T1\n"), "{second:?}");
    assert!(
        second.stderr.contains("took over `T1` from `alice`"),
        "{second:?}"
    );
    let third = at(600, &["claim", "--next", "--worker", "bob"]);
    assert_eq!(third.code, 1, "{third:?}");
    assert!(
        third.stderr.contains("no task is ready to claim"),
        "{third:?}"
    );
}

#[test]
fn claims_from_a_linked_worktree_act_on_the_primary_checkout() {
    let env = small_env();
    // The state files are not committed: the worktree has none of them.
    env.git(&["worktree", "add", "--quiet", "-b", "longrun/T1", "../wt-T1"]);
    let worktree = env.root.parent().unwrap().join("wt-T1");
    let inside = worktree.join("src");
    std::fs::create_dir_all(&inside).unwrap();
    assert!(!worktree.join("checklist.yaml").exists());

    let run = env.longrun_in(&inside, &["claim", "T1", "--worker", "agent"]);
    assert_eq!(run.code, 0, "{run:?}");
    let token = token_of(&run);
    assert_eq!(lock_files(&env), ["T1.lock"]);
    assert!(!worktree.join("current_tasks").exists());
    assert!(
        env.read("current_tasks/T1.lock")
            .contains(&format!("worktree: \"{}\"", inside.display()))
    );
    assert_eq!(status_of(&env, "T1"), "in_progress");

    let run = env.longrun_in(&worktree, &["heartbeat", "T1", "--token", &token]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = env.longrun_in(&inside, &["claims", "--json"]);
    assert!(run.stdout.contains(&token), "{run:?}");
    let run = env.longrun_in(
        &inside,
        &["release", "T1", "--token", &token, "--status", "complete"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(lock_files(&env).is_empty());
    assert_eq!(status_of(&env, "T1"), "complete");
    assert_eq!(events(&env, "release").len(), 1);

    // With the state files committed, the worktree's own copy is not used either.
    env.git(&["add", "checklist.yaml", "run-log.md"]);
    env.git(&["commit", "--quiet", "-m", "state"]);
    env.git(&["worktree", "add", "--quiet", "-b", "longrun/T3", "../wt-T3"]);
    let worktree = env.root.parent().unwrap().join("wt-T3");
    let run = env.longrun_in(&worktree, &["claim", "T3", "--worker", "agent"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(lock_files(&env), ["T3.lock"]);
    assert_eq!(status_of(&env, "T3"), "in_progress");
    assert!(
        !std::fs::read_to_string(worktree.join("checklist.yaml"))
            .unwrap()
            .contains("in_progress")
    );
}

#[test]
fn hold_keeps_the_os_lock_while_the_command_runs() {
    let env = small_env();
    let marker = env.path("held.txt");
    let script = format!(
        "echo \"$LONGRUN_TASK_ID $LONGRUN_CLAIM_TOKEN\" > '{}'",
        marker.display()
    );
    let run = env.longrun(&[
        "claim", "T1", "--worker", "h", "--hold", "--", "sh", "-c", &script,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let token = token_of(&run);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        format!("T1 {token}\n")
    );
    // The claim outlives the command; releasing is for whoever checks the work.
    assert_eq!(lock_files(&env), ["T1.lock"]);
    let failing = env.longrun(&["claim", "T3", "--worker", "h", "--hold", "--", "false"]);
    assert_eq!(failing.code, 1, "{failing:?}");
    assert!(
        failing.stderr.contains("`false` exited with status 1"),
        "{failing:?}"
    );
    let release = env.longrun(&["release", "T3", "--token", &token_of(&failing)]);
    assert_eq!(release.code, 0, "{release:?}");

    // A command that cannot start: the claim is given back, status and all.
    let missing = env.longrun(&[
        "claim",
        "T3",
        "--worker",
        "h",
        "--hold",
        "--",
        "/nonexistent/program",
    ]);
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("given back"), "{missing:?}");
    assert_eq!(lock_files(&env), ["T1.lock"]);
    assert_eq!(status_of(&env, "T3"), "not_started");
}

/// Machines sharing one run through a bare remote: `count` clones of a repository whose
/// longrun.yaml says `claims: {mode: git, remote: origin}`, each with its own checklist.
struct Machines {
    env: TestEnv,
    bare: std::path::PathBuf,
    clones: Vec<std::path::PathBuf>,
}

impl Machines {
    fn new(count: usize, tasks: &str) -> Machines {
        let env = env_with(tasks);
        let config = env
            .read("longrun.yaml")
            .replace("claims:\n  mode: local\n", "claims:\n  mode: git\n");
        assert!(config.contains("mode: git"), "template changed:\n{config}");
        env.write("longrun.yaml", config);
        env.git(&["add", "-A"]);
        env.git(&["commit", "--quiet", "-m", "longrun state"]);
        let base = env.root.parent().unwrap().to_path_buf();
        let bare = base.join("remote.git");
        env.git(&[
            "clone",
            "--quiet",
            "--bare",
            ".",
            &bare.display().to_string(),
        ]);
        let clones = (0..count)
            .map(|index| {
                let clone = base.join(format!("machine{index}"));
                env.git(&[
                    "clone",
                    "--quiet",
                    &bare.display().to_string(),
                    &clone.display().to_string(),
                ]);
                clone
            })
            .collect();
        Machines { env, bare, clones }
    }

    fn run(&self, machine: usize, args: &[&str]) -> Run {
        self.env.longrun_in(&self.clones[machine], args)
    }

    fn spawn(&self, machine: usize, args: &[&str]) -> Child {
        self.env
            .command_in(&self.clones[machine], args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn longrun")
    }

    /// The claim refs on the remote: task id to commit id.
    fn remote_refs(&self) -> BTreeMap<String, String> {
        let output = std::process::Command::new("git")
            .args([
                "for-each-ref",
                "--format=%(refname:lstrip=3) %(objectname)",
                "refs/longrun/claims/",
            ])
            .current_dir(&self.bare)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git for-each-ref");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(task, id)| (task.to_string(), id.to_string()))
            .collect()
    }

    fn lock_files(&self, machine: usize) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.clones[machine].join("current_tasks"))
            .map(|entries| {
                entries
                    .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

#[test]
fn git_mode_claims_are_decided_by_the_remote_and_mirrored_locally() {
    let machines = Machines::new(2, SMALL);
    let run = machines.run(0, &["claim", "T1", "--worker", "a", "--lease", "5m"]);
    assert_eq!(run.code, 0, "{run:?}");
    let token = token_of(&run);
    // The token is the claim commit the remote holds; the lock file mirrors it.
    assert_eq!(machines.remote_refs().get("T1"), Some(&token));
    assert_eq!(machines.lock_files(0), ["T1.lock"]);
    assert!(run.stderr.contains("on remote `origin`"), "{run:?}");

    // The other machine loses through the remote and names the holder; nothing local.
    let run = machines.run(1, &["claim", "T1", "--worker", "b"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("held by worker `a`") && run.stderr.contains("(on the remote)"),
        "{run:?}"
    );
    assert!(machines.lock_files(1).is_empty());

    // `claims` on the other machine shows the remote claim after a fetch.
    let list = machines.run(1, &["claims", "--json"]);
    assert_eq!(list.code, 0, "{list:?}");
    let rows: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(rows[0]["task"], "T1");
    assert_eq!(rows[0]["source"], "remote");
    assert_eq!(rows[0]["worker"], "a");
    assert_eq!(rows[0]["token"], token.as_str());
    let list = machines.run(0, &["claims", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(rows[0]["source"], "local+remote");
    assert_eq!(rows[0]["mirror_mismatch"], false);

    // A heartbeat moves the remote claim (a new tip, the same token).
    let run = machines.run(0, &["heartbeat", "T1", "--token", &token]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_ne!(machines.remote_refs().get("T1"), Some(&token));

    // Past the lease, machine 1 takes over through the remote; machine 0 is fenced out.
    let run = Run::from(
        machines
            .env
            .command_in(&machines.clones[1], &["claim", "T1", "--worker", "b"])
            .env("LONGRUN_NOW", later(3600))
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("took over `T1` from `a`"), "{run:?}");
    let new_token = token_of(&run);
    assert_eq!(machines.remote_refs().get("T1"), Some(&new_token));
    let run = machines.run(
        0,
        &["release", "T1", "--token", &token, "--status", "complete"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("held by worker `b`"), "{run:?}");
    assert_eq!(status_of_in(&machines.clones[0], "T1"), "in_progress");
    assert_eq!(machines.remote_refs().get("T1"), Some(&new_token));

    let run = machines.run(
        1,
        &[
            "release", "T1", "--token", &new_token, "--status", "complete",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(machines.remote_refs().is_empty());
    assert!(machines.lock_files(1).is_empty());
    assert_eq!(status_of_in(&machines.clones[1], "T1"), "complete");
}

#[test]
fn git_mode_with_an_unreachable_remote_fails_clearly_and_leaves_no_lock() {
    let machines = Machines::new(1, SMALL);
    let clone = &machines.clones[0];
    for remote in ["nosuchremote", "/nonexistent/remote.git"] {
        let config = std::fs::read_to_string(clone.join("longrun.yaml")).unwrap();
        let config = config
            .lines()
            .map(|line| {
                if line.starts_with("  remote: ") {
                    format!("  remote: {remote}")
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(clone.join("longrun.yaml"), config + "\n").unwrap();
        let before = std::fs::read_to_string(clone.join("checklist.yaml")).unwrap();
        let run = machines.run(0, &["claim", "T1", "--worker", "w"]);
        assert_eq!(run.code, 2, "{remote}: {run:?}");
        assert!(run.stderr.contains("cannot reach remote"), "{run:?}");
        assert!(
            machines.lock_files(0).is_empty(),
            "{remote}: lock file left"
        );
        assert_eq!(
            std::fs::read_to_string(clone.join("checklist.yaml")).unwrap(),
            before
        );
        let run = machines.run(0, &["claim", "--next", "--worker", "w"]);
        assert_eq!(run.code, 2, "{remote}: {run:?}");
        assert!(machines.lock_files(0).is_empty());
    }
}

#[test]
fn eight_clones_race_through_the_remote_one_winner_every_round() {
    const MACHINES: usize = 8;
    const ROUNDS: usize = 50;
    let machines = Machines::new(MACHINES, "  - {task_id: R, title: contested}\n");
    for round in 0..ROUNDS {
        let children: Vec<Child> = (0..MACHINES)
            .map(|index| machines.spawn(index, &["claim", "R", "--worker", &format!("m{index}")]))
            .collect();
        let runs = wait_all(children);
        let winners: Vec<usize> = (0..MACHINES).filter(|&i| runs[i].code == 0).collect();
        assert_eq!(winners.len(), 1, "round {round}: {runs:?}");
        let winner = winners[0];
        let token = token_of(&runs[winner]);
        assert_eq!(
            machines.remote_refs().get("R"),
            Some(&token),
            "round {round}"
        );
        for (index, run) in runs.iter().enumerate() {
            if index != winner {
                assert_eq!(run.code, 1, "round {round}: {run:?}");
                assert!(
                    run.stderr.contains(&format!("held by worker `m{winner}`")),
                    "round {round}: {run:?}"
                );
                assert!(machines.lock_files(index).is_empty(), "round {round}");
            }
        }
        let release = machines.run(winner, &["release", "R", "--token", &token]);
        assert_eq!(release.code, 0, "round {round}: {release:?}");
        assert!(machines.remote_refs().is_empty(), "round {round}");
    }
}

#[test]
fn eight_clones_drain_100_tasks_through_the_remote_each_claimed_once() {
    const MACHINES: usize = 8;
    const TASKS: usize = 100;
    let machines = Machines::new(MACHINES, &independent_tasks(TASKS));
    let threads: Vec<_> = (0..MACHINES)
        .map(|index| {
            let mut command = machines.env.command_in(
                &machines.clones[index],
                &["claim", "--next", "--worker", &format!("m{index}")],
            );
            std::thread::spawn(move || {
                let mut won = Vec::new();
                loop {
                    let run = Run::from(command.output().expect("run longrun"));
                    match run.code {
                        0 => won.push((
                            run.stdout
                                .lines()
                                .next()
                                .and_then(|line| line.strip_prefix("task: "))
                                .expect("task line")
                                .to_string(),
                            token_of(&run),
                        )),
                        1 if run.stderr.contains("no task is ready to claim") => break won,
                        _ => panic!("{run:?}"),
                    }
                }
            })
        })
        .collect();
    let mut claimed: HashMap<String, Vec<String>> = HashMap::new();
    for thread in threads {
        for (task, token) in thread.join().unwrap() {
            claimed.entry(task).or_default().push(token);
        }
    }
    assert_eq!(claimed.len(), TASKS, "tasks lost");
    let refs = machines.remote_refs();
    assert_eq!(refs.len(), TASKS);
    for (task, tokens) in &claimed {
        assert_eq!(tokens.len(), 1, "{task} claimed {} times", tokens.len());
        assert_eq!(refs.get(task), Some(&tokens[0]), "{task}");
    }
    let mirrors: usize = (0..MACHINES)
        .map(|index| machines.lock_files(index).len())
        .sum();
    assert_eq!(mirrors, TASKS, "every claim mirrored exactly once");
}

/// The status a task has in `checkout`'s checklist.yaml, read the way a person would: the
/// first `status:` after its id, up to the next task.
fn status_of_in(checkout: &Path, task: &str) -> String {
    let text = std::fs::read_to_string(checkout.join("checklist.yaml")).unwrap();
    let start = text
        .find(&format!("task_id: {task}"))
        .unwrap_or_else(|| panic!("no {task}"));
    let rest = &text[start + 1..];
    let end = rest.find("task_id:").unwrap_or(rest.len());
    rest[..end]
        .split("status: ")
        .nth(1)
        .and_then(|value| {
            value
                .split(|c: char| c == ',' || c == '}' || c.is_whitespace())
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "not_started".to_string())
}
