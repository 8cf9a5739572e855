//! Running `ip` for the lab's wiring. (The agent itself speaks netlink; the lab is a harness
//! around it and uses the standard tool, so that what it builds is easy to inspect by hand.)

use std::process::Command;

use crate::LabError;

pub fn run(program: &str, args: &[&str]) -> Result<String, LabError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| LabError::Command {
            command: format!("{program} {}", args.join(" ")),
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LabError::Command {
            command: format!("{program} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

pub fn ip(args: &[&str]) -> Result<String, LabError> {
    run("ip", args)
}

/// Every network namespace whose name starts with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    ip(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

pub fn netns_path(name: &str) -> String {
    format!("/var/run/netns/{name}")
}
