//! The agent on a live node: a restart disturbs no pod (an established TCP connection carries on)
//! and changes no kernel object (nothing duplicated, nothing lost); with the controller gone, pods
//! keep forwarding, and an agent restarted meanwhile keeps the last state.

mod lab_harness;

use std::net::IpAddr;

use lab_harness::{Lab, in_netns};
use weft_testnet::{exchange, tcp_connection, tcp_works};

/// Weft's kernel objects on a node, as `ip` lists them, sorted.
fn weft_state(netns: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for args in [
        &["ip", "-4", "rule"][..],
        &["ip", "-6", "rule"],
        &["ip", "-4", "route", "show", "table", "all", "proto", "87"],
        &["ip", "-6", "route", "show", "table", "all", "proto", "87"],
        &["ip", "neigh", "show", "nud", "permanent"],
        &["ip", "-o", "link", "show", "type", "veth"],
        &["ip", "-o", "link", "show", "type", "vxlan"],
    ] {
        let out = in_netns(netns, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                // A link's operational state may flap while it is reconfigured; everything else
                // (index, name, MTU, MAC, peer) must stay.
                .map(|l| {
                    let mut words: Vec<&str> = l.split_whitespace().collect();
                    if let Some(i) = words.iter().position(|w| *w == "state") {
                        words.drain(i..(i + 2).min(words.len()));
                    }
                    words.join(" ")
                }),
        );
    }
    lines.sort();
    lines
}

#[test]
fn an_agent_restart_keeps_connections_and_kernel_state() {
    let lab = Lab::up(None);
    let _a = lab.pod("cloud-a/default/a", "node-1");
    let b = lab.pod("cloud-a/default/b", "node-2");
    let (na, nb) = (lab.pod_netns("cloud-a/default/a"), lab.pod_netns("cloud-a/default/b"));
    let target: IpAddr = b[0].parse().unwrap();
    let (mut client, mut server) = tcp_connection(&na, &nb, target, 7100).expect("a connection from a to b");
    assert!(exchange(&mut client, &mut server, b"before"));
    let node1 = lab.node_netns("cloud-a", "node-1");
    let before = weft_state(&node1);
    assert!(
        before.iter().any(|l| l.contains("lookup 1048577")),
        "no Weft rules: {before:#?}"
    );
    for round in 0..2 {
        lab.ok(&["lab", "restart", "cloud-a/node-1"]);
        assert!(
            exchange(&mut client, &mut server, format!("after restart {round}").as_bytes()),
            "the connection broke"
        );
        // Give the restarted agent time to resync and reconcile, then compare.
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert_eq!(
            weft_state(&node1),
            before,
            "the restart changed the node's kernel state"
        );
    }
    assert!(tcp_works(&na, &nb, target, 7101), "new connections after the restarts");
}

#[test]
fn pods_keep_forwarding_without_the_controller() {
    let lab = Lab::up(None);
    let _a = lab.pod("cloud-a/default/a", "node-1");
    let b = lab.pod("cloud-a/default/b", "node-2");
    let (na, nb) = (lab.pod_netns("cloud-a/default/a"), lab.pod_netns("cloud-a/default/b"));
    let target: IpAddr = b[0].parse().unwrap();
    let (mut client, mut server) = tcp_connection(&na, &nb, target, 7200).expect("a connection from a to b");
    let node1 = lab.node_netns("cloud-a", "node-1");
    let before = weft_state(&node1);
    lab.ok(&["lab", "stop", "cloud-a/controller"]);
    assert!(
        exchange(&mut client, &mut server, b"headless"),
        "the connection broke with the controller gone"
    );
    assert!(
        tcp_works(&na, &nb, target, 7201),
        "new connections with the controller gone"
    );
    // An agent restarted while the controller is away adopts what is there and removes nothing.
    lab.ok(&["lab", "restart", "cloud-a/node-1"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        weft_state(&node1),
        before,
        "a headless agent restart changed the kernel"
    );
    assert!(exchange(&mut client, &mut server, b"still"), "the connection broke");
    // The controller comes back; the CLI follows it to its new port; nothing changes.
    lab.ok(&["lab", "start", "cloud-a/controller"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(weft_state(&node1), before);
    let weps = lab.ok(&["get", "wep", "-A"]);
    assert!(weps.contains("node-1") && weps.contains("node-2"), "{weps}");
}

#[test]
fn the_agent_repairs_drift() {
    let lab = Lab::up(None);
    let a = lab.pod("cloud-a/default/a", "node-1");
    let _b = lab.pod("cloud-a/default/b", "node-2");
    let node2 = lab.node_netns("cloud-a", "node-2");
    let before = weft_state(&node2);
    // Someone removes Weft's route to pod a on node-2, and one of its rules.
    let route = format!("{}/32", a[0]);
    assert!(
        in_netns(&node2, &["ip", "route", "del", &route, "table", "1048577"])
            .status
            .success()
    );
    assert!(
        in_netns(&node2, &["ip", "rule", "del", "pref", "10001", "table", "1048577"])
            .status
            .success()
    );
    assert_ne!(weft_state(&node2), before);
    // The agent compares the kernel with its plan every 20 s and puts them back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while weft_state(&node2) != before {
        assert!(std::time::Instant::now() < deadline, "drift not repaired within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}
