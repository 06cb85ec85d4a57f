//! Short probes of a program, like `<program> --version` for `longrun doctor`: argv only,
//! a given environment, stdin from `/dev/null`, its own process group, killed with that
//! group when it runs past its time limit. Not for agents at work (that is the supervisor).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// The most output a probe keeps.
const MAX_PROBE_OUTPUT: u64 = 64 * 1024;

/// Runs `program args` in `cwd` with exactly `env` and returns its first non-empty output
/// line (stdout, else stderr). An error says why there is none: it could not start, it ran
/// past `limit`, it exited non-zero.
pub fn probe_output(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(String, String)],
    limit: Duration,
) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|error| format!("cannot start `{}`: {error}", program.display()))?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.take(MAX_PROBE_OUTPUT).read_to_string(&mut text);
            text
        })
    })
    .collect();
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        if let Some(pid) = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0)) {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("no answer within {} s", limit.as_secs()));
    };
    let outputs: Vec<String> = readers
        .into_iter()
        .map(|reader| reader.join().unwrap_or_default())
        .collect();
    let line = outputs
        .iter()
        .flat_map(|text| text.lines())
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_string);
    match (status.success(), line) {
        (true, Some(line)) => Ok(line),
        (true, None) => Err("printed nothing".to_string()),
        (false, line) => Err(format!(
            "exited with {status}{}",
            line.map(|line| format!(": {line}")).unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_answer_fail_and_time_out() {
        let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        let cwd = Path::new("/");
        let limit = Duration::from_secs(5);
        assert_eq!(
            probe_output(Path::new("/bin/echo"), &["v1.2 $(x)"], cwd, &env, limit),
            Ok("v1.2 $(x)".to_string())
        );
        assert!(probe_output(Path::new("/bin/false"), &[], cwd, &env, limit).is_err());
        assert!(
            probe_output(Path::new("/nonexistent/x"), &[], cwd, &env, limit)
                .unwrap_err()
                .contains("cannot start")
        );
        let started = Instant::now();
        let slow = probe_output(
            Path::new("/bin/sleep"),
            &["30"],
            cwd,
            &env,
            Duration::from_millis(300),
        );
        assert!(slow.unwrap_err().contains("no answer"));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
