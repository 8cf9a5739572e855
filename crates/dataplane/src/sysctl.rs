//! The few sysctls Weft sets, all per network namespace (the one of the calling thread).

use std::path::Path;

use crate::KernelError;

fn write(path: &str, value: &str) -> Result<(), KernelError> {
    let full = Path::new("/proc/sys").join(path);
    std::fs::write(&full, value).map_err(|e| KernelError::Sysctl {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// How long [`prepare_interface`] waits for a new interface's sysctls to appear.
const SYSCTL_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A node forwards between pods, the VXLAN device and the underlay.
pub fn enable_forwarding() -> Result<(), KernelError> {
    write("net/ipv4/ip_forward", "1")?;
    write("net/ipv6/conf/all/forwarding", "1")
}

/// Interfaces Weft creates: no duplicate address detection (a new IPv6 address would be
/// tentative for about a second, dropping traffic), no reverse-path filter (policy routing puts
/// pods' routes in their network's table, where a strict check in the main table fails).
///
/// The kernel registers a new interface's sysctl directories a moment after the link shows in
/// netlink (a veth end moved into a pod's namespace is unregistered and registered again), so
/// this waits up to [`SYSCTL_WAIT`] for the IPv4 one.
pub fn prepare_interface(name: &str) -> Result<(), KernelError> {
    let ipv4 = format!("/proc/sys/net/ipv4/conf/{name}");
    let ipv6 = format!("/proc/sys/net/ipv6/conf/{name}");
    // IPv6 may be off in the namespace: then only the IPv4 directory comes.
    let ipv6_on = Path::new("/proc/sys/net/ipv6/conf/all").exists();
    let deadline = std::time::Instant::now() + SYSCTL_WAIT;
    while !(Path::new(&ipv4).exists() && (!ipv6_on || Path::new(&ipv6).exists()))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    if Path::new(&ipv6).exists() {
        std::fs::write(format!("{ipv6}/accept_dad"), "0").map_err(|e| KernelError::Sysctl {
            path: format!("net.ipv6.conf.{name}.accept_dad"),
            reason: e.to_string(),
        })?;
    }
    std::fs::write(format!("/proc/sys/net/ipv4/conf/{name}/rp_filter"), "0").map_err(|e| KernelError::Sysctl {
        path: format!("net.ipv4.conf.{name}.rp_filter"),
        reason: e.to_string(),
    })
}

/// What Services need in the node: refusals carry the refused packet's mark (the network's
/// table, see [`crate::marks::RULE_PRIORITY_REFLECT`]) so that they route back to the pod, and
/// ECMP over the nodes hosting a Service hashes on ports too (L4), so one client's connections
/// spread.
pub fn enable_services() -> Result<(), KernelError> {
    write("net/ipv4/fwmark_reflect", "1")?;
    write("net/ipv6/fwmark_reflect", "1")?;
    write("net/ipv4/fib_multipath_hash_policy", "1")?;
    write("net/ipv6/fib_multipath_hash_policy", "1")
}
