//! The run's network: three namespaces with unique names, joined only among themselves.
//!
//! ```text
//!  generators (G)                  target (T)                    monitor (M)
//!  eth0 198.18.0.11.. /24 ── veth ── g0 198.18.0.1/24   m0 198.19.0.1/24 ── veth ── eth0 198.19.0.2/24
//! ```
//! Addresses are from the benchmarking range (RFC 2544) and exist only inside these namespaces.
//! Dropping [`BenchNet`] deletes the namespaces.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::{Error, Result};

pub const TARGET_GEN: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const TARGET_MON: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
pub const MONITOR: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
/// The most generator peers one /24 holds (.11 to .254).
pub const MAX_PEERS: usize = 244;

/// Generator peer `i`'s address.
pub fn generator(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 11 + i as u8)
}

pub struct BenchNet {
    pub target: String,
    pub generators: String,
    pub monitor: String,
    made: Vec<String>,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::io("running ip", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Setup(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl BenchNet {
    /// Namespaces `PREFIX-t`, `PREFIX-g`, `PREFIX-m` with `peers` generator addresses.
    pub fn new(prefix: &str, peers: usize) -> Result<BenchNet> {
        if peers == 0 || peers > MAX_PEERS {
            return Err(Error::Setup(format!("1 to {MAX_PEERS} generator peers")));
        }
        let mut net = BenchNet {
            target: format!("{prefix}-t"),
            generators: format!("{prefix}-g"),
            monitor: format!("{prefix}-m"),
            made: Vec::new(),
        };
        for ns in [net.target.clone(), net.generators.clone(), net.monitor.clone()] {
            ip(&["netns", "add", &ns])?;
            net.made.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        let (t, g, m) = (net.target.as_str(), net.generators.as_str(), net.monitor.as_str());
        ip(&[
            "-n", t, "link", "add", "g0", "type", "veth", "peer", "name", "eth0", "netns", g,
        ])?;
        ip(&[
            "-n", t, "link", "add", "m0", "type", "veth", "peer", "name", "eth0", "netns", m,
        ])?;
        ip(&["-n", t, "addr", "add", &format!("{TARGET_GEN}/24"), "dev", "g0"])?;
        ip(&["-n", t, "addr", "add", &format!("{TARGET_MON}/24"), "dev", "m0"])?;
        ip(&["-n", m, "addr", "add", &format!("{MONITOR}/24"), "dev", "eth0"])?;
        for i in 0..peers {
            ip(&["-n", g, "addr", "add", &format!("{}/24", generator(i)), "dev", "eth0"])?;
        }
        for (ns, dev) in [(t, "g0"), (t, "m0"), (g, "eth0"), (m, "eth0")] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(net)
    }

    pub fn path(name: &str) -> String {
        format!("/var/run/netns/{name}")
    }
}

impl Drop for BenchNet {
    fn drop(&mut self) {
        for ns in self.made.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}
