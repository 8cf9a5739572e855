//! Two nodes and five pods in network namespaces, wired by the dataplane exactly as the agent
//! does it: pods reach each other across nodes over VXLAN (TCP, UDP, ICMP, IPv4 and IPv6),
//! networks stay apart even with overlapping addresses, and reconciling converges: what the
//! kernel holds afterwards reads back as exactly the plan, with nothing duplicated.

use std::net::{IpAddr, Ipv4Addr};

use weft_api::sync::{LocalEndpoint, NetworkState, NodeState, RemoteRoute};
use weft_dataplane::netns::NetNs;
use weft_dataplane::plan::{self, node_plan};
use weft_dataplane::pod::{self, PodSpec, format_mac};
use weft_dataplane::{Kernel, marks};
use weft_testnet::{Namespaces, ping, tcp_works, udp_works};

struct Pod {
    name: &'static str,
    node: usize,
    network: &'static str,
    addresses: Vec<IpAddr>,
}

fn addrs(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

async fn reconcile(kernel: &Kernel, state: &NodeState) {
    let desired = node_plan(state);
    let observed = kernel.observe().await.unwrap();
    let failures = kernel.apply(&plan::diff(&desired, &observed)).await.unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    // Converged: the kernel reads back as exactly the plan.
    let after = kernel.observe().await.unwrap();
    assert_eq!(after, desired, "kernel state differs from the plan after applying it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_reach_each_other_across_nodes_and_networks_stay_apart() {
    let mut ns = Namespaces::new("dp");
    let nodes = [ns.add("n1"), ns.add("n2")];
    ns.link(
        (&nodes[0], "u0", "192.0.2.1/24"),
        (&nodes[1], "u0", "192.0.2.2/24"),
        1500,
    );
    let vteps = [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)];
    let pods = [
        Pod {
            name: "p1",
            node: 0,
            network: "default",
            addresses: addrs(&["10.244.0.1", "fd00:244::1"]),
        },
        Pod {
            name: "p2",
            node: 1,
            network: "default",
            addresses: addrs(&["10.244.0.2", "fd00:244::2"]),
        },
        // The blue network reuses the default network's addresses.
        Pod {
            name: "p3",
            node: 1,
            network: "blue",
            addresses: addrs(&["10.244.0.1", "fd00:244::1"]),
        },
        Pod {
            name: "p4",
            node: 0,
            network: "blue",
            addresses: addrs(&["10.244.0.2"]),
        },
        Pod {
            name: "p5",
            node: 1,
            network: "blue",
            addresses: addrs(&["10.99.0.5"]),
        },
    ];
    let vnis = [("default", 1u32), ("blue", 2u32)];
    let mut kernels = Vec::new();
    let mut macs = Vec::new();
    for node in &nodes {
        let kernel = Kernel::in_netns(NetNs::open(&Namespaces::path(node)).unwrap()).unwrap();
        kernel.enable_forwarding().unwrap();
        let vx = kernel.ensure_vxlan(1450).await.unwrap();
        // Ensuring again finds the same device.
        assert_eq!(kernel.ensure_vxlan(1450).await.unwrap(), vx);
        macs.push(vx.mac);
        kernels.push(kernel);
    }
    let mut endpoints = Vec::new();
    for p in &pods {
        let netns = ns.add(p.name);
        let spec = PodSpec {
            container_id: format!("container-{}", p.name),
            ifname: "eth0".into(),
            netns: Namespaces::path(&netns),
            addresses: p.addresses.clone(),
            mtu: 1450,
            mac: Some(marks::pod_mac(&format!("container-{}", p.name), "eth0")),
        };
        let made = pod::attach(&kernels[p.node], &spec).await.unwrap();
        assert_eq!(Some(made.container_mac), spec.mac, "the pod got the chosen MAC");
        pod::check(&kernels[p.node], &spec).await.unwrap();
        endpoints.push((p, netns, made));
    }
    let mut states: Vec<NodeState> = (0..2)
        .map(|i| NodeState {
            node: format!("n{i}"),
            ..Default::default()
        })
        .collect();
    for (p, _, made) in &endpoints {
        let vni = vnis.iter().find(|(n, _)| *n == p.network).unwrap().1;
        let local = LocalEndpoint {
            namespace: "default".into(),
            pod: p.name.into(),
            container_id: format!("container-{}", p.name),
            interface: "eth0".into(),
            host_interface: Some(made.host_interface.clone()),
            mac: Some(format_mac(&made.container_mac)),
            network: p.network.into(),
            addresses: p.addresses.clone(),
        };
        let state = &mut states[p.node];
        state.networks.insert(
            p.network.into(),
            NetworkState {
                name: p.network.into(),
                vni,
            },
        );
        state.endpoints.insert(local.key(), local);
    }
    for (p, _, _) in &endpoints {
        let other = 1 - p.node;
        let vni = vnis.iter().find(|(n, _)| *n == p.network).unwrap().1;
        // Routes only for networks the other node has pods on (as the controller computes).
        if !states[other].networks.contains_key(p.network) {
            continue;
        }
        for a in &p.addresses {
            let r = RemoteRoute {
                network: p.network.into(),
                vni,
                prefix: ipnet::IpNet::from(*a).to_string(),
                node: format!("n{}", p.node),
                vtep: vteps[p.node],
                router_mac: format_mac(&macs[p.node]),
            };
            states[other].routes.insert(r.key(), r);
        }
    }
    for (kernel, state) in kernels.iter().zip(&states) {
        reconcile(kernel, state).await;
    }
    let ns_of = |name: &str| endpoints.iter().find(|(p, _, _)| p.name == name).unwrap().1.clone();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // Across nodes on the default network: TCP, UDP, ICMP, both families.
    assert!(
        tcp_works(&ns_of("p1"), &ns_of("p2"), ip("10.244.0.2"), 8080),
        "p1 -> p2 TCP v4"
    );
    assert!(
        tcp_works(&ns_of("p2"), &ns_of("p1"), ip("fd00:244::1"), 8080),
        "p2 -> p1 TCP v6"
    );
    assert!(
        udp_works(&ns_of("p1"), &ns_of("p2"), ip("10.244.0.2"), 5353),
        "p1 -> p2 UDP v4"
    );
    assert!(
        udp_works(&ns_of("p1"), &ns_of("p2"), ip("fd00:244::2"), 5353),
        "p1 -> p2 UDP v6"
    );
    assert!(ping(&ns_of("p1"), ip("10.244.0.2")), "p1 -> p2 ICMP");
    assert!(ping(&ns_of("p2"), ip("fd00:244::1")), "p2 -> p1 ICMPv6");
    // The blue network, across nodes, with the same addresses: each reaches its own network's pod.
    assert!(
        tcp_works(&ns_of("p4"), &ns_of("p3"), ip("10.244.0.1"), 8081),
        "p4 -> p3 (blue)"
    );
    assert!(
        !tcp_works(&ns_of("p4"), &ns_of("p1"), ip("10.244.0.1"), 8082),
        "p4 (blue) reached p1 (default)"
    );
    assert!(
        !tcp_works(&ns_of("p1"), &ns_of("p4"), ip("10.244.0.2"), 8083),
        "p1 (default) reached p4 (blue)"
    );
    // Nothing in blue that default does not have is reachable from default, and the other way.
    assert!(
        !tcp_works(&ns_of("p1"), &ns_of("p5"), ip("10.99.0.5"), 8084),
        "default reached blue"
    );
    assert!(!ping(&ns_of("p1"), ip("10.99.0.5")), "default pinged blue");
    assert!(
        !udp_works(&ns_of("p5"), &ns_of("p2"), ip("10.244.0.2"), 5354),
        "blue reached default over UDP"
    );
    // A fresh connection (an agent restart) reads the same state and has nothing to change.
    for (i, node) in nodes.iter().enumerate() {
        let fresh = Kernel::in_netns(NetNs::open(&Namespaces::path(node)).unwrap()).unwrap();
        let observed = fresh.observe().await.unwrap();
        assert!(
            plan::diff(&node_plan(&states[i]), &observed).is_empty(),
            "restart would change the kernel"
        );
    }
    // A pod gone from node 2: its routes leave node 1, and only they.
    let before = kernels[0].observe().await.unwrap();
    states[0].routes.retain(|_, r| !r.prefix.starts_with("10.244.0.2/"));
    reconcile(&kernels[0], &states[0]).await;
    let after = kernels[0].observe().await.unwrap();
    assert_eq!(before.routes.len() - 1, after.routes.len());
    assert!(
        !tcp_works(&ns_of("p1"), &ns_of("p2"), ip("10.244.0.2"), 8085),
        "route removal did not take"
    );
    // The last pod of a network leaves node 1: the network's whole table goes, its unreachable
    // defaults included (an IPv4 delete must not insist on the route's type).
    states[0].endpoints.retain(|_, e| e.network != "blue");
    states[0].routes.retain(|_, r| r.network != "blue");
    states[0].networks.remove("blue");
    reconcile(&kernels[0], &states[0]).await;
    let left = kernels[0].observe().await.unwrap();
    assert!(
        left.routes.keys().all(|(table, _)| *table == marks::table(1)),
        "blue's table is not empty: {:?}",
        left.routes
    );
    // Detaching removes the host interface; a second detach finds nothing.
    let (p1, _, made) = &endpoints[0];
    assert!(
        pod::detach(&kernels[0], &format!("container-{}", p1.name), "eth0")
            .await
            .unwrap()
    );
    assert!(
        !pod::detach(&kernels[0], &format!("container-{}", p1.name), "eth0")
            .await
            .unwrap()
    );
    assert_eq!(kernels[0].index(&made.host_interface).await.unwrap(), None);
    assert_eq!(made.host_interface, marks::pod_interface("container-p1", "eth0"));
}
