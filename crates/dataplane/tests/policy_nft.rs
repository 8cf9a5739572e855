//! NetworkPolicy's nftables table on a real kernel (a network namespace of the test's own): the
//! generated script applies in one transaction, reads back as the ruleset (no drift), a new peer
//! is one element, and a table changed behind the agent's back is repaired.

use weft_api::sync::{EndpointPolicy, LocalEndpoint, NetworkState, NodeState, PolicyPort, PolicySets};
use weft_dataplane::netns::NetNs;
use weft_dataplane::services::{self, Nft};
use weft_dataplane::{Kernel, policy};
use weft_testnet::Namespaces;

fn state(peers: &[&str]) -> NodeState {
    let mut s = NodeState {
        node: "n1".into(),
        ..Default::default()
    };
    let e = LocalEndpoint {
        namespace: "x".into(),
        pod: "a".into(),
        container_id: "c-a".into(),
        interface: "eth0".into(),
        host_interface: Some("wft0000000000a".into()),
        mac: None,
        network: "default".into(),
        addresses: vec!["10.244.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
    };
    s.endpoints.insert(e.key(), e);
    let port = |peer: &str, protocol: &str, first, last| PolicyPort {
        peer: peer.into(),
        protocol: protocol.into(),
        first,
        last,
    };
    s.policies.insert(
        "x/a".into(),
        EndpointPolicy {
            pod: "x/a".into(),
            ingress: Some(PolicySets {
                any: peers.iter().map(|p| p.to_string()).collect(),
                ports: vec![
                    port("10.0.0.0/8", "TCP", 80, 81),
                    port("10.0.0.0/8", "UDP", 53, 53),
                    port("0.0.0.0/0", "SCTP", 9000, 9000),
                    port("::/0", "TCP", 1, 65535),
                    port("fd00::/64", "SCTP", 80, 80),
                ],
            }),
            egress: Some(PolicySets::default()),
        },
    );
    s
}

#[tokio::test]
async fn the_policy_table_applies_reads_back_and_repairs() {
    let mut ns = Namespaces::new("polnft");
    let node = ns.add("n1");
    let kernel = Kernel::in_netns(NetNs::open(&Namespaces::path(&node)).unwrap()).unwrap();
    let nft = Nft::new(kernel);
    let first = state(&["10.244.0.2/32", "192.168.0.0/16", "fd00:1::/64", "172.16.0.0/12"]);
    let desired = policy::table(&first);
    let applied = nft.sync(desired.as_ref(), None, true).unwrap();
    assert!(applied.commands > 0 && !applied.rebuilt, "{applied:?}");
    let observed = nft.observe().unwrap();
    assert_eq!(
        services::script(desired.as_ref(), observed.as_ref(), true),
        None,
        "the table does not read back as written"
    );

    // A new peer: one element, no rebuild.
    let second = state(&[
        "10.244.0.2/32",
        "10.244.0.3/32",
        "192.168.0.0/16",
        "fd00:1::/64",
        "172.16.0.0/12",
    ]);
    let wanted = policy::table(&second);
    let script = services::script(wanted.as_ref(), observed.as_ref(), true).unwrap();
    assert_eq!(
        script,
        "add element inet weft in_any_v4_wft0000000000a { 10.244.0.3 }\n"
    );
    nft.sync(wanted.as_ref(), None, true).unwrap();

    // Drift: a rule and an element removed behind the agent's back come back.
    std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &node,
            "nft",
            "flush",
            "chain",
            "inet",
            "weft",
            "ingress/wft0000000000a",
        ])
        .status()
        .unwrap();
    std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &node,
            "nft",
            "delete",
            "element",
            "inet",
            "weft",
            "in_any_v4_wft0000000000a",
            "{ 10.244.0.3 }",
        ])
        .status()
        .unwrap();
    let repaired = nft.sync(wanted.as_ref(), None, true).unwrap();
    assert!(repaired.commands > 0, "{repaired:?}");
    assert_eq!(
        services::script(wanted.as_ref(), nft.observe().unwrap().as_ref(), true),
        None
    );

    // The policy goes: its chain and sets go, the skeleton stays empty. The table stays while
    // the node has a network (conntrack follows every flow from its first packet); without
    // one, no table.
    let mut none = second.clone();
    none.policies.clear();
    none.services.clear();
    none.networks.insert(
        "default".into(),
        NetworkState {
            name: "default".into(),
            vni: 1,
        },
    );
    let skeleton = policy::table(&none);
    assert!(skeleton.is_some());
    nft.sync(skeleton.as_ref(), None, true).unwrap();
    assert_eq!(
        services::script(skeleton.as_ref(), nft.observe().unwrap().as_ref(), true),
        None
    );
    none.networks.clear();
    nft.sync(policy::table(&none).as_ref(), None, true).unwrap();
    assert_eq!(nft.observe().unwrap(), None);
}
