//! Process groups and signals: signalling a whole group, telling whether a group still has
//! live (non-zombie) members, identifying a process by its start time so a recycled pid is
//! never mistaken for ours, and the supervisor's stop signals.
//!
//! Uses `rustix` rather than `libc`: its `kill_process_group`, `waitid` and `getpgrp` are
//! safe functions, and the crate forbids unsafe code. Linux facts (`/proc`) are read where
//! they make answers exact; elsewhere the answers fall back to `kill(-pgid, 0)`. Nothing
//! here spawns a process.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustix::process::{Pid, Signal};

use super::ProcessError;

/// Set from a signal handler when the supervisor is asked to stop; holds the signal number.
/// Tests and callers that run a supervisor in-process use [`StopFlag::request`] instead.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicUsize>);

impl StopFlag {
    pub fn new() -> StopFlag {
        StopFlag::default()
    }

    /// Asks the supervisor to stop, as if `signal` had arrived.
    pub fn request(&self, signal: i32) {
        self.0.store(signal.max(1) as usize, Ordering::SeqCst);
    }

    /// The signal that asked for a stop, if any.
    pub fn requested(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal as i32),
        }
    }
}

/// Installs the supervisor's signal handlers: SIGTERM and SIGINT set the returned flag (the
/// supervisor then terminates the agent's group and still writes `result.json`); SIGHUP is
/// caught and ignored, so a closing terminal does not end a detached supervisor. Handlers do
/// not survive `exec`, so the agent starts with default dispositions.
pub fn install_stop_signals() -> Result<StopFlag, ProcessError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = StopFlag::new();
    let register_error = |source: io::Error| ProcessError::Signal {
        action: "install the supervisor's signal handlers".into(),
        source,
    };
    for signal in [SIGTERM, SIGINT] {
        signal_hook::flag::register_usize(signal, Arc::clone(&flag.0), signal as usize)
            .map_err(register_error)?;
    }
    signal_hook::flag::register(SIGHUP, Arc::new(AtomicBool::new(false)))
        .map_err(register_error)?;
    Ok(flag)
}

/// Installs the handlers of a long-running command (`longrun loop`, `longrun watch`): the
/// first SIGINT or SIGTERM sets the returned flag, so the command finishes its current
/// cycle and exits; a second one exits at once with status 130 (safe: a cycle can be killed
/// at any point and the next one converges). SIGHUP keeps its default (end the process),
/// as for any foreground command whose terminal goes away.
pub fn install_interrupt_signals() -> Result<StopFlag, ProcessError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = StopFlag::new();
    let seen = Arc::new(AtomicBool::new(false));
    let register_error = |source: io::Error| ProcessError::Signal {
        action: "install the interrupt handlers".into(),
        source,
    };
    for signal in [SIGTERM, SIGINT] {
        // Actions run in the order they were registered: the shutdown check sees `seen`
        // still false on the first signal, and true on the second.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&seen))
            .map_err(register_error)?;
        signal_hook::flag::register(signal, Arc::clone(&seen)).map_err(register_error)?;
        signal_hook::flag::register_usize(signal, Arc::clone(&flag.0), signal as usize)
            .map_err(register_error)?;
    }
    Ok(flag)
}

/// Sends `signal` to every process in group `pgid`. `Ok(false)` when the group is gone.
pub fn signal_group(pgid: u32, signal: Signal) -> io::Result<bool> {
    let Some(pid) = to_pid(pgid) else {
        return Ok(false);
    };
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

/// Sends `signal` to process `pid` alone. `Ok(false)` when it is gone.
pub fn signal_process(pid: u32, signal: Signal) -> io::Result<bool> {
    let Some(target) = to_pid(pid) else {
        return Ok(false);
    };
    match rustix::process::kill_process(target, signal) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

/// SIGTERM then SIGCONT: a stopped process (SIGTSTP, or SIGTTIN from reading a terminal)
/// only acts on the TERM once it runs again.
pub fn terminate_group(pgid: u32) -> io::Result<bool> {
    let delivered = signal_group(pgid, Signal::TERM)?;
    if delivered {
        let _ = signal_group(pgid, Signal::CONT);
    }
    Ok(delivered)
}

/// The non-zombie members of group `pgid`, or `None` where `/proc` cannot tell.
pub fn live_group_members(pgid: u32) -> Option<Vec<u32>> {
    Some(
        scan_proc()?
            .into_iter()
            .filter(|(_, stat)| stat.process_group == pgid && !stat.is_zombie())
            .map(|(pid, _)| pid)
            .collect(),
    )
}

/// Every process `/proc` lists, with its stat fields; `None` when there is no Linux `/proc`.
fn scan_proc() -> Option<Vec<(u32, ProcStat)>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    // Without our own stat entry this is not a Linux /proc: no answer rather than "empty".
    std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut processes = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process that exits between listing and reading is simply not listed.
        let Some(text) = read_stat(&entry.path().join("stat")) else {
            continue;
        };
        if let Some(stat) = parse_proc_stat(&text) {
            processes.push((pid, stat));
        }
    }
    Some(processes)
}

/// A `/proc/<pid>/stat` file's text, in one read where it fits in a page (it does: a
/// name of at most 64 bytes and 52 numbers), so that a scan of every process costs three
/// system calls a process rather than the seven of a growing `read_to_string`.
fn read_stat(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buffer = [0u8; 4096];
    let read = file.read(&mut buffer).ok()?;
    if read < buffer.len() {
        return String::from_utf8(buffer[..read].to_vec()).ok();
    }
    let mut text = String::from_utf8(buffer.to_vec()).ok()?;
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Makes this process the reaper of its orphaned descendants (Linux
/// `PR_SET_CHILD_SUBREAPER`): a process the agent started that left its group with `setsid`
/// and lost its parent becomes the supervisor's child instead of init's, so the supervisor
/// can still find and kill it. `Ok(false)` where the OS has no such thing.
pub fn become_subreaper() -> Result<bool, ProcessError> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(|errno| {
            ProcessError::Signal {
                action: "become a child subreaper".into(),
                source: errno.into(),
            }
        })?;
        Ok(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(false)
    }
}

/// A child of some process, as `/proc` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildProcess {
    pub pid: u32,
    pub zombie: bool,
}

/// The children of `parent`, zombies included, or `None` where `/proc` cannot tell.
pub fn children_of(parent: u32) -> Option<Vec<ChildProcess>> {
    Some(
        scan_proc()?
            .into_iter()
            .filter(|(_, stat)| stat.parent == parent)
            .map(|(pid, stat)| ChildProcess {
                pid,
                zombie: stat.is_zombie(),
            })
            .collect(),
    )
}

/// True while group `pgid` has a process that is not a zombie. Zombies do not count: they
/// run nothing, and an init that does not reap would otherwise keep a group "alive" forever.
pub fn group_alive(pgid: u32) -> bool {
    match live_group_members(pgid) {
        Some(members) => !members.is_empty(),
        None => {
            to_pid(pgid).is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok())
        }
    }
}

/// When process `pid` started, in clock ticks since boot (Linux); with the pid it
/// identifies one process, since a recycled pid gets a later start time.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let text = read_stat(Path::new(&format!("/proc/{pid}/stat")))?;
    parse_proc_stat(&text).map(|stat| stat.start_ticks)
}

/// The closest ancestor of this process with `arg` among its arguments (read from
/// `/proc`; `None` elsewhere), e.g. the supervisor (`__supervise`) of the worker this
/// process was started by. An ancestor is found however many shells and tools lie between.
pub fn ancestor_with_arg(arg: &str) -> Option<u32> {
    let mut pid = std::process::id();
    // Deeper than any real process tree; a loop in a changing table ends here too.
    for _ in 0..128 {
        let stat = parse_proc_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
        pid = stat.parent;
        if pid <= 1 {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        if cmdline
            .split(|byte| *byte == 0)
            .any(|word| word == arg.as_bytes())
        {
            return Some(pid);
        }
    }
    None
}

/// This process's peak resident memory in KiB (Linux `VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The process group of the calling process.
pub fn own_process_group() -> u32 {
    rustix::process::getpgrp().as_raw_pid() as u32
}

/// The fields of `/proc/<pid>/stat` this module needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub parent: u32,
    pub process_group: u32,
    pub start_ticks: u64,
}

impl ProcStat {
    pub fn is_zombie(&self) -> bool {
        // `X` (dead) is a zombie on its way out.
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parses `/proc/<pid>/stat`. The command name is in parentheses and may itself hold spaces
/// and parentheses, so fields are counted after the last `)`.
pub fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 of proc(5) is index 0 here: state, ppid, pgrp, ..., starttime is field 22.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        parent: fields.get(1)?.parse().ok()?,
        process_group: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

fn to_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_awkward_names() {
        let text = "4242 (we ird) (name)) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_proc_stat(text).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                state: 'S',
                parent: 1,
                process_group: 4240,
                start_ticks: 987654
            }
        );
        assert!(!stat.is_zombie());
        assert!(parse_proc_stat("garbage").is_none());
        assert!(parse_proc_stat("1 (x) Z 1").is_none());
    }

    #[test]
    fn own_process_facts_are_visible() {
        let pid = std::process::id();
        assert!(process_start_ticks(pid).is_some());
        let members = live_group_members(own_process_group()).unwrap();
        assert!(members.contains(&pid), "{members:?}");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let children = children_of(pid).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            children.contains(&ChildProcess {
                pid: child.id(),
                zombie: false
            }),
            "{children:?}"
        );
        assert!(peak_rss_kib().unwrap() > 0);
    }

    #[test]
    fn stop_flag_records_the_signal() {
        let flag = StopFlag::new();
        assert_eq!(flag.requested(), None);
        flag.clone().request(15);
        assert_eq!(flag.requested(), Some(15));
    }
}
