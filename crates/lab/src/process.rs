//! The lab's long-running processes (controllers, agents): started detached in their own
//! session with their output in a log file, stopped by their own PID, never by name.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::LabError;

/// Starts `program args` (inside `netns` when given, via `ip netns exec`), detached.
pub fn spawn(program: &Path, args: &[String], netns: Option<&str>, log: &Path) -> Result<u32, LabError> {
    let out = File::create(log).map_err(LabError::io(format!("creating {}", log.display())))?;
    start(program, args, netns, out)
}

/// Like `spawn`, but keeps what the log already holds.
pub fn spawn_appending(program: &Path, args: &[String], netns: Option<&str>, log: &Path) -> Result<u32, LabError> {
    let out = File::options()
        .append(true)
        .create(true)
        .open(log)
        .map_err(LabError::io(format!("opening {}", log.display())))?;
    start(program, args, netns, out)
}

fn start(program: &Path, args: &[String], netns: Option<&str>, out: File) -> Result<u32, LabError> {
    let err = out.try_clone().map_err(LabError::io("duplicating the log file"))?;
    let mut command = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => Command::new(program),
    };
    command.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // Its own session: the lab's processes outlive `weft lab up` and do not get its signals.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    let child = command
        .spawn()
        .map_err(LabError::io(format!("starting {}", program.display())))?;
    Ok(child.id())
}

/// Whether `pid` is alive and is a weft process (so that a recycled PID is never killed).
pub fn is_ours(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("weft"))
        .unwrap_or(false)
}

/// SIGTERM, then SIGKILL after `grace`; waits until it is gone.
pub fn stop(pid: u32, grace: Duration) {
    if pid == 0 || !is_ours(pid) {
        return;
    }
    let target = Pid::from_raw(pid as i32);
    let _ = kill(target, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid) {
            reap(pid);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill(target, Signal::SIGKILL);
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reap(pid);
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Collects the exit status if the process is our child (when `up` and `down` run in one process).
fn reap(pid: u32) {
    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid as i32), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
}

/// Waits for a path to exist (a socket), or for the process to die.
pub fn wait_for_path(path: &Path, pid: u32, timeout: Duration, log: &Path) -> Result<(), LabError> {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        if !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid) {
            return Err(LabError::NotReady(format!(
                "process {pid} exited before it made {}; see {}",
                path.display(),
                log.display()
            )));
        }
        if Instant::now() > deadline {
            return Err(LabError::NotReady(format!(
                "process {pid} did not make {} within {timeout:?}; see {}",
                path.display(),
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Waits for a file to appear (a ready file), or for the process to die.
pub fn wait_for_file(path: &Path, pid: u32, timeout: Duration, log: &Path) -> Result<String, LabError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.trim().is_empty()
        {
            return Ok(text.trim().to_string());
        }
        if !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid) {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(10).collect();
            return Err(LabError::NotReady(format!(
                "process {pid} exited before it was ready; the end of {}:\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )));
        }
        if Instant::now() > deadline {
            return Err(LabError::NotReady(format!(
                "process {pid} was not ready after {timeout:?}; see {}",
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
