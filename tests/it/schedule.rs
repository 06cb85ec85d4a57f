//! `longrun schedule`: the printed schedules name this executable and this repository by
//! absolute path, and parse as their formats require.

use crate::TestEnv;

#[test]
fn cron_line_has_five_fields_absolute_paths_and_a_log_file() {
    let env = TestEnv::initialized();
    let run = env.longrun(&["schedule", "cron", "--every", "10m"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one crontab line: {run:?}");
    let line = lines[0];
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[..5], ["*/10", "*", "*", "*", "*"], "{line}");
    for field in &fields[..5] {
        assert!(
            field
                .chars()
                .all(|c| c.is_ascii_digit() || "*/,-".contains(c)),
            "{field} is not a cron time field"
        );
    }
    let root = env.root.display().to_string();
    let exe = crate::binary().canonicalize().unwrap();
    assert_eq!(
        &line[fields[..5].join(" ").len()..],
        format!(
            " cd '{root}' && '{}' cycle >> '{root}/.longrun/cron.log' 2>&1",
            exe.display()
        ),
        "{line}"
    );
    assert!(env.path(".longrun").is_dir(), "the log's folder exists");
    assert!(run.stderr.contains("crontab -"), "{run:?}");
}

#[test]
fn cron_refuses_an_interval_it_cannot_express() {
    let env = TestEnv::initialized();
    let run = env.longrun(&["schedule", "cron", "--every", "90m"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("cannot run something every 1h30m"),
        "{run:?}"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn the_default_interval_comes_from_longrun_yaml() {
    let env = TestEnv::initialized();
    env.write("longrun.yaml", "version: 1\nloop:\n  interval: 15m\n");
    let run = env.longrun(&["schedule", "cron"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("*/15 * * * * "), "{run:?}");
}

#[test]
fn systemd_prints_a_service_and_a_timer_with_absolute_paths() {
    let env = TestEnv::initialized();
    let run = env.longrun(&["schedule", "systemd", "--every", "10m"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = &run.stdout;
    let exe = crate::binary().canonicalize().unwrap();
    assert!(text.contains("[Service]\n"), "{text}");
    assert!(text.contains("[Timer]\n"), "{text}");
    assert!(
        text.contains("[Install]\nWantedBy=timers.target\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("WorkingDirectory={}\n", env.root.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("ExecStart={} cycle\n", exe.display())),
        "{text}"
    );
    assert!(text.contains("OnUnitActiveSec=10min\n"), "{text}");
    assert!(text.contains("Unit=longrun-repo.service\n"), "{text}");
    assert!(
        text.contains("systemctl --user enable --now longrun-repo.timer"),
        "{text}"
    );

    // With systemd's own checker at hand, the two units must pass it.
    if let Some(verify) = systemd_verify(&env, text) {
        assert!(verify.0, "systemd-analyze verify:\n{}", verify.1);
    }
}

#[test]
fn loop_prompt_runs_the_cycle_by_absolute_path() {
    let env = TestEnv::initialized();
    let run = env.longrun(&["schedule", "loop", "--every", "2h"]);
    assert_eq!(run.code, 0, "{run:?}");
    let exe = crate::binary().canonicalize().unwrap();
    assert_eq!(
        run.stdout.lines().next().unwrap_or_default().split(" Never").next(),
        Some(
            format!(
                "/loop 2h Run `cd '{}' && '{}' cycle` and report its SUMMARY line and any error lines.",
                env.root.display(),
                exe.display()
            )
            .as_str()
        ),
        "{run:?}"
    );
}

/// Splits the printed text into the two unit files and runs `systemd-analyze verify` on
/// them; `None` when systemd-analyze is not installed.
fn systemd_verify(env: &TestEnv, text: &str) -> Option<(bool, String)> {
    let dir = env.root.parent()?.join("units");
    std::fs::create_dir_all(&dir).ok()?;
    let (service, timer) = text.split_once("\n# longrun-repo.timer")?;
    std::fs::write(dir.join("longrun-repo.service"), service).ok()?;
    std::fs::write(
        dir.join("longrun-repo.timer"),
        format!("# longrun-repo.timer{timer}"),
    )
    .ok()?;
    let output = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.join("longrun-repo.service"))
        .arg(dir.join("longrun-repo.timer"))
        .output()
        .ok()?;
    // verify exits 0 even when it ignores a bad setting; it says so on stderr, naming the
    // file. (Lines about other units or a missing bus are the machine's, not ours.)
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let ours = stderr.lines().any(|line| line.contains("longrun-repo."));
    Some((output.status.success() && !ours, stderr))
}

#[test]
fn cron_line_passes_a_crontab_dry_run_when_debian_cron_is_installed() {
    // Debian's `crontab -n FILE` checks the syntax and installs nothing. Other crontabs use
    // `-n` for something else, so only one whose help says "dry run" is asked; without
    // cron installed there is nothing to ask (`apt-get install cron` enables this check).
    let Ok(help) = std::process::Command::new("crontab").arg("-h").output() else {
        return;
    };
    let help = format!(
        "{}{}",
        String::from_utf8_lossy(&help.stdout),
        String::from_utf8_lossy(&help.stderr)
    );
    if !help.contains("dry run") {
        return;
    }
    let env = TestEnv::initialized();
    let run = env.longrun(&["schedule", "cron", "--every", "10m"]);
    assert_eq!(run.code, 0, "{run:?}");
    let file = env.root.parent().unwrap().join("crontab.txt");
    std::fs::write(&file, &run.stdout).unwrap();
    let check = std::process::Command::new("crontab")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "crontab -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}
