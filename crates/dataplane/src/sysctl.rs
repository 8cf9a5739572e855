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

/// A node forwards between pods, the VXLAN device and the underlay.
pub fn enable_forwarding() -> Result<(), KernelError> {
    write("net/ipv4/ip_forward", "1")?;
    write("net/ipv6/conf/all/forwarding", "1")
}

/// Interfaces Weft creates: no duplicate address detection (a new IPv6 address would be
/// tentative for about a second, dropping traffic), no reverse-path filter (policy routing puts
/// pods' routes in their network's table, where a strict check in the main table fails).
pub fn prepare_interface(name: &str) -> Result<(), KernelError> {
    let ipv6 = format!("/proc/sys/net/ipv6/conf/{name}");
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
