//! The single-cluster lab on the real kernel: pods on one node and on two nodes reach each other
//! over TCP, UDP and ICMP, IPv4 and IPv6; isolated networks do not reach each other in either
//! direction, also with overlapping subnets; the MTU is right end to end.

mod lab_harness;

use std::net::IpAddr;

use lab_harness::{Lab, in_netns};
use weft_testnet::{ping, tcp_works, udp_works};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn pods_reach_each_other_and_isolated_networks_stay_apart() {
    let lab = Lab::up(None);
    let a = lab.pod("cloud-a/default/a", "node-1");
    let b = lab.pod("cloud-a/default/b", "node-2");
    let c = lab.pod("cloud-a/default/c", "node-1");
    let (na, nb, nc) = (
        lab.pod_netns("cloud-a/default/a"),
        lab.pod_netns("cloud-a/default/b"),
        lab.pod_netns("cloud-a/default/c"),
    );
    // Same node and across nodes, every protocol, both families.
    for (from, to, addrs, what) in [
        (&na, &nc, &c, "same node"),
        (&na, &nb, &b, "across nodes"),
        (&nb, &na, &a, "across nodes, back"),
    ] {
        for addr in addrs {
            let target = ip(addr);
            assert!(tcp_works(from, to, target, 7001), "TCP {what} to {addr}");
            assert!(udp_works(from, to, target, 7002), "UDP {what} to {addr}");
            assert!(ping(from, target), "ICMP {what} to {addr}");
        }
    }
    // Two networks with the same subnet, and an isolated namespace.
    let manifests = "\
apiVersion: weft.io/v1alpha1
kind: VirtualNetwork
metadata: {name: red}
spec: {vni: 100, subnets: [10.50.0.0/24, fd00:50::/64]}
---
apiVersion: weft.io/v1alpha1
kind: VirtualNetwork
metadata: {name: green}
spec: {vni: 200, subnets: [10.50.0.0/24, fd00:50::/64]}
---
apiVersion: v1
kind: Namespace
metadata: {name: red, annotations: {weft.io/virtual-network: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: green, annotations: {weft.io/virtual-network: green}}
---
apiVersion: v1
kind: Namespace
metadata: {name: iso, annotations: {weft.io/isolated: \"true\"}}
";
    let mut apply = lab.command();
    apply
        .args(["apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = apply.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(manifests.as_bytes()).unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let r1 = lab.pod("cloud-a/red/r1", "node-1");
    let r2 = lab.pod("cloud-a/red/r2", "node-2");
    let g1 = lab.pod("cloud-a/green/g1", "node-2");
    let x = lab.pod("cloud-a/iso/x", "node-2");
    assert_eq!(r1[0], g1[0], "red and green overlap: the same first address");
    assert!(r1[0].starts_with("10.50.0."));
    let (nr1, nr2, ng1, nx) = (
        lab.pod_netns("cloud-a/red/r1"),
        lab.pod_netns("cloud-a/red/r2"),
        lab.pod_netns("cloud-a/green/g1"),
        lab.pod_netns("cloud-a/iso/x"),
    );
    // r2 (node-2, red) reaches r1's address in red (node-1), not g1 with the same address on
    // its own node.
    assert!(tcp_works(&nr2, &nr1, ip(&r1[0]), 7003), "red across nodes");
    assert!(
        !tcp_works(&nr2, &ng1, ip(&g1[0]), 7004),
        "red reached green's pod with the same address"
    );
    assert!(tcp_works(&nr2, &nr1, ip(&r1[1]), 7005), "red across nodes, IPv6");
    // Nothing crosses between networks, in either direction, on any protocol.
    for (from, to, target, what) in [
        (&na, &nx, ip(&x[0]), "default -> isolated"),
        (&nx, &na, ip(&a[0]), "isolated -> default"),
        (&na, &nx, ip(&x[1]), "default -> isolated v6"),
        (&ng1, &nr1, ip(&r2[0]), "green -> red"),
        (&na, &nr1, ip(&r1[0]), "default -> red"),
        (&nr1, &nb, ip(&b[0]), "red -> default"),
    ] {
        assert!(!tcp_works(from, to, target, 7006), "TCP {what}");
        assert!(!udp_works(from, to, target, 7007), "UDP {what}");
        assert!(!ping(from, target), "ICMP {what}");
    }
    let _ = (nc, r2);
}

/// Bytes of a counter in a namespace's /proc/net/snmp (`Ip: ... FragCreates ...`).
fn snmp(netns: &str, counter: &str) -> u64 {
    let out = in_netns(netns, &["cat", "/proc/net/snmp"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("Ip:")).collect();
    let names: Vec<&str> = lines[0].split_whitespace().collect();
    let values: Vec<&str> = lines[1].split_whitespace().collect();
    names
        .iter()
        .position(|n| *n == counter)
        .map(|i| values[i].parse().unwrap())
        .unwrap()
}

#[test]
fn the_mtu_is_right_end_to_end() {
    let lab = Lab::up(None);
    let _a = lab.pod("cloud-a/default/a", "node-1");
    let b = lab.pod("cloud-a/default/b", "node-2");
    let (na, nb) = (lab.pod_netns("cloud-a/default/a"), lab.pod_netns("cloud-a/default/b"));
    let link = String::from_utf8_lossy(&in_netns(&na, &["ip", "link", "show", "eth0"]).stdout).into_owned();
    assert!(
        link.contains("mtu 1450"),
        "pod MTU is the underlay's 1500 minus 50: {link}"
    );
    let nodes = [lab.node_netns("cloud-a", "node-1"), lab.node_netns("cloud-a", "node-2")];
    let before: Vec<(u64, u64)> = nodes
        .iter()
        .map(|n| (snmp(n, "FragCreates"), snmp(n, "ReasmReqds")))
        .collect();
    // 8 MB of full-size segments from a to b.
    let sent = weft_testnet::tcp_transfer(&na, &nb, ip(&b[0]), 7010, 8 << 20);
    assert_eq!(sent, 8 << 20, "the whole transfer arrived");
    let after: Vec<(u64, u64)> = nodes
        .iter()
        .map(|n| (snmp(n, "FragCreates"), snmp(n, "ReasmReqds")))
        .collect();
    assert_eq!(
        before, after,
        "the transfer fragmented on a node (FragCreates, ReasmReqds)"
    );
}
