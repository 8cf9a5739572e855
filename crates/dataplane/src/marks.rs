//! How Weft recognises its own kernel objects: a route protocol number, a range of tables, two
//! rule priorities, interface name prefixes. Everything without these marks belongs to someone
//! else and is left alone, so Weft can share a node with other software (and with itself after a
//! restart, adopting what it finds).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Route protocol of every route Weft adds (`ip route ... proto 87`). Unused by the usual
/// daemons (FRR uses 186-199, BIRD 12, Calico 80).
pub const ROUTE_PROTOCOL: u8 = 87;

/// A network's route table is this plus its VNI, so tables are stable and never collide.
pub const TABLE_BASE: u32 = 0x0010_0000;

/// `ip rule iif <pod interface> lookup <network table>`: traffic from a pod goes to its network.
pub const RULE_PRIORITY_POD: u32 = 10_000;
/// `ip rule iif <vxlan> tun_id <vni> lookup <network table>`: decapsulated traffic too.
pub const RULE_PRIORITY_DECAP: u32 = 10_001;

/// `ip rule fwmark <table> lookup <table>`: what the node sends back on behalf of a network (the
/// TCP resets and ICMP errors refusing a Service without endpoints, marked with the network's
/// table and reflected onto the reply by `fwmark_reflect`) is routed in that network's table,
/// since pods' addresses exist only there.
pub const RULE_PRIORITY_REFLECT: u32 = 10_002;

/// The nftables table Weft owns in each node (`table inet weft`): Service load balancing
/// (DNAT), hairpin SNAT, refusal of Services without endpoints. Nothing else in nftables is
/// touched.
pub const NFT_TABLE: &str = "weft";

/// The node's VXLAN device, in external (collect_md) mode: one for all networks.
pub const VXLAN_DEVICE: &str = "weft-vx";
/// The IANA VXLAN port (RFC 7348 §5).
pub const VXLAN_PORT: u16 = 4789;
/// VXLAN over IPv4 adds 50 bytes: outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14.
pub const VXLAN_OVERHEAD: u32 = 50;

/// Host-side pod interfaces are `wft` and 11 hex digits.
pub const POD_INTERFACE_PREFIX: &str = "wft";

/// The pod's gateway: a link-local address answered by a permanent neighbour entry in the pod,
/// so there is no bridge and no ARP towards the node.
pub const POD_GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
pub const POD_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

pub fn table(vni: u32) -> u32 {
    TABLE_BASE + vni
}

pub fn is_weft_table(table: u32) -> bool {
    (TABLE_BASE..=TABLE_BASE + 0x00ff_ffff).contains(&table)
}

fn fnv(container_id: &str, ifname: &str) -> u64 {
    // FNV-1a, 64 bits: stable across versions and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in container_id.bytes().chain([0]).chain(ifname.bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The MAC of a pod's interface, chosen rather than left to the kernel so that the endpoint can
/// be recorded with it before the interface exists: locally administered, unicast (02:…).
pub fn pod_mac(container_id: &str, ifname: &str) -> [u8; 6] {
    let h = fnv(container_id, &format!("{ifname}/mac")).to_be_bytes();
    [0x02, h[1], h[2], h[3], h[4], h[5]]
}

/// The host-side interface of a pod attachment: stable for the same container and interface,
/// so that a retried ADD or a restarted agent finds it again.
pub fn pod_interface(container_id: &str, ifname: &str) -> String {
    format!(
        "{POD_INTERFACE_PREFIX}{:011x}",
        fnv(container_id, ifname) & 0x0fff_ffff_ffff
    )
}

/// An IPv6 route cannot take an IPv4 gateway here (no RTA_VIA for IPv6), so each remote VTEP
/// gets a link-local gateway on the VXLAN device derived from its address, with a permanent
/// neighbour entry to its router MAC: 192.0.2.2 -> fe80::c000:202.
pub fn vtep_gateway_v6(vtep: Ipv4Addr) -> Ipv6Addr {
    let o = vtep.octets();
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        0,
        0,
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_short() {
        let a = pod_interface("4f8e1c2d", "eth0");
        assert_eq!(a, pod_interface("4f8e1c2d", "eth0"));
        assert_ne!(a, pod_interface("4f8e1c2d", "eth1"));
        assert_eq!(a.len(), 14);
        assert!(a.len() <= 15 && a.starts_with("wft"));
        assert_eq!(
            vtep_gateway_v6(Ipv4Addr::new(192, 0, 2, 2)).to_string(),
            "fe80::c000:202"
        );
        assert!(is_weft_table(table(16_777_215)));
        assert!(!is_weft_table(254));
    }
}
