//! The two-cloud lab (issue #6): `weft lab up` without a topology builds clouds cloud-a and
//! cloud-b joined over eBGP (EVPN type 5), with the demo's namespaces and pods. These tests
//! check the segmentation matrix over ICMP, TCP and UDP, how fast a pod added or deleted in one
//! cloud is seen by the other, the FRR route server, a cut WAN link and a controller restart.
//! Needs root (network namespaces) and FRR. Times are printed (`-- --nocapture`).

mod lab_harness;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use lab_harness::{Lab, in_netns, ipv4_of, text};
use serde_json::Value;

/// The pods the demo makes, and which of them share a network (frontend@A, backend@B).
const JOINED: [&str; 3] = ["cloud-a/frontend/web", "cloud-b/backend/api-1", "cloud-b/backend/api-2"];

fn probe(lab: &Lab) -> Vec<Value> {
    let out = lab.ok(&["lab", "probe", "-o", "json"]);
    serde_json::from_str::<Value>(&out)
        .expect("probe JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether every probe of `protocol` from one pod to another got through; None if none ran.
fn reached(results: &[Value], from: &str, to: &str, protocol: &str) -> Option<bool> {
    let cells: Vec<&Value> = results
        .iter()
        .filter(|r| {
            r["from"] == from && r["to"] == to && r["protocol"].as_str().is_some_and(|p| p.starts_with(protocol))
        })
        .collect();
    (!cells.is_empty()).then(|| cells.iter().all(|r| r["reached"] == true))
}

fn pods(lab: &Lab) -> Vec<String> {
    lab.status()["pods"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    format!(
                        "{}/{}/{}",
                        p["cluster"].as_str().unwrap_or_default(),
                        p["namespace"].as_str().unwrap_or_default(),
                        p["name"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The segmentation the demo promises: the joined pods reach each other over every protocol,
/// every other pair reaches nothing (other@A, other@B and admin@B on networks nobody imports);
/// the Service `api` answers the joined pods by its ClusterIP, `console` only its own pod.
fn check_matrix(lab: &Lab) {
    let results = probe(lab);
    let all = pods(lab);
    assert_eq!(all.len(), 6, "{all:?}");
    let mut wrong = Vec::new();
    for from in &all {
        for to in all.iter().filter(|t| *t != from) {
            let expected = JOINED.contains(&from.as_str()) && JOINED.contains(&to.as_str());
            for protocol in ["icmp", "tcp", "udp"] {
                let got = reached(&results, from, to, protocol);
                if got != Some(expected) {
                    wrong.push(format!(
                        "{from} -> {to} over {protocol}: expected {expected}, got {got:?}"
                    ));
                }
            }
        }
    }
    // Services by ClusterIP: backend's `api` from the joined pods, across the clouds too;
    // admin's `console` (a network cloud-a does not import) only from its own pod.
    for from in &all {
        for (service, protocols, reachers) in [
            ("cloud-b/backend/svc/api", &["tcp", "udp"][..], &JOINED[..]),
            (
                "cloud-b/admin/svc/console",
                &["tcp"][..],
                &["cloud-b/admin/console"][..],
            ),
        ] {
            let expected = reachers.contains(&from.as_str());
            for protocol in protocols {
                let got = reached(&results, from, service, protocol);
                if got != Some(expected) {
                    wrong.push(format!(
                        "{from} -> {service} over {protocol}: expected {expected}, got {got:?}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "segmentation matrix wrong:\n{}", wrong.join("\n"));
}

/// An HTTP GET from a pod's namespace to `address:80` that gets the lab server's answer.
fn http_from(netns: &str, address: IpAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(ns) = weft_netns::NetNs::open(&format!("/var/run/netns/{netns}")) else {
        return false;
    };
    ns.run(|| {
        let timeout = Duration::from_secs(1);
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&std::net::SocketAddr::new(address, 80), timeout) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(timeout));
        let mut reply = String::new();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_ok()
            && s.read_to_string(&mut reply).is_ok()
            && reply.contains("hello from")
    })
    .unwrap_or(false)
}

fn wait(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// Whether a node's kernel has a route to `address` in any table.
fn node_has_route(lab: &Lab, cluster: &str, node: &str, address: IpAddr) -> bool {
    let out = in_netns(&lab.node_netns(cluster, node), &["ip", "route", "show", "table", "all"]);
    text(&out.stdout).lines().any(|l| l.starts_with(&format!("{address} ")))
}

fn bgp_established(lab: &Lab, context: &str) -> bool {
    let out = lab.weft(&["--context", context, "bgp", "peers", "-o", "json"]);
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|ps| !ps.is_empty() && ps.iter().all(|p| p["state"] == "Established"))
}

#[test]
fn two_clouds_share_only_the_joined_network_and_follow_pods_within_a_second() {
    let lab = Lab::demo(&[]);
    check_matrix(&lab);

    // A pod added in B: reachable from A's frontend (HTTP over TCP) soon after its ADD returns.
    let web = lab.pod_record("cloud-a/frontend/web")["netns"]
        .as_str()
        .unwrap()
        .to_string();
    let adding = Instant::now();
    lab.ok(&["lab", "pod", "add", "cloud-b/backend/api-3", "--node", "node-2"]);
    let add_took = adding.elapsed();
    let api3 = ipv4_of(&lab.pod_record("cloud-b/backend/api-3"));
    let reach = wait("A reaches a pod added in B", Duration::from_secs(5), || {
        http_from(&web, api3)
    });
    // Deleted in B: its route leaves A's node.
    assert!(node_has_route(&lab, "cloud-a", "node-1", api3));
    lab.ok(&["lab", "pod", "del", "cloud-b/backend/api-3"]);
    let gone = wait(
        "a pod deleted in B withdrawn at A's node",
        Duration::from_secs(5),
        || !node_has_route(&lab, "cloud-a", "node-1", api3),
    );
    eprintln!(
        "pod added in B (lab pod add took {add_took:?}) -> first HTTP answer from A {reach:?} after it returned; deleted -> route gone at A's node after {gone:?}"
    );
}

#[test]
fn the_frr_route_server_carries_evpn_routes_unchanged() {
    let lab = Lab::demo(&["--route-server"]);
    let out = lab.ok(&["lab", "vtysh", "show bgp l2vpn evpn json"]);
    let api1 = ipv4_of(&lab.pod_record("cloud-b/backend/api-1"));
    // FRR's EVPN table holds api-1's type 5 route with B's RD, the shared route target, VNI 200,
    // the router MAC of B's node-1 and VXLAN encapsulation, next hop B's node-1.
    let json: Value = serde_json::from_str(&out).expect("vtysh JSON");
    let rd = json
        .get("198.51.100.10:200")
        .unwrap_or_else(|| panic!("no RD 198.51.100.10:200 in FRR's table: {out}"));
    let prefix = format!("[5]:[0]:[32]:[{api1}]");
    let paths = rd[&prefix]["paths"]
        .as_array()
        .unwrap_or_else(|| panic!("no {prefix} under 198.51.100.10:200: {rd}"));
    let path = paths
        .first()
        .and_then(|p| p.as_array().and_then(|a| a.first()).or(Some(p)))
        .cloned()
        .unwrap();
    let ext = path["extendedCommunity"]["string"].as_str().unwrap_or_default();
    assert!(
        ext.contains("RT:65000:100") && ext.contains("ET:8") && ext.contains("Rmac:"),
        "{path}"
    );
    assert_eq!(path["nexthops"][0]["ip"], "198.51.100.11", "{path}");
    let details = lab.ok(&[
        "lab",
        "vtysh",
        "show bgp l2vpn evpn route rd 198.51.100.10:200 type prefix",
    ]);
    assert!(
        details.contains("VNI 200") || details.contains("Label") || details.contains("200"),
        "{details}"
    );
    check_matrix(&lab);
}

#[test]
fn a_cut_wan_link_takes_the_routes_away_and_its_return_brings_them_back() {
    let lab = Lab::demo(&[]);
    let api1 = ipv4_of(&lab.pod_record("cloud-b/backend/api-1"));
    let web = lab.pod_record("cloud-a/frontend/web")["netns"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(http_from(&web, api1));
    lab.ok(&["lab", "wan", "cut", "cloud-b"]);
    // The lab's hold time is 9 s: the session goes down after it, and B's routes leave A's nodes.
    let down = wait("A's session down after the hold time", Duration::from_secs(20), || {
        !bgp_established(&lab, "lab-cloud-a")
    });
    let withdrawn = wait("B's routes gone from A's node", Duration::from_secs(5), || {
        !node_has_route(&lab, "cloud-a", "node-1", api1)
    });
    lab.ok(&["lab", "wan", "restore", "cloud-b"]);
    let back = wait(
        "traffic flows again after the link returns",
        Duration::from_secs(30),
        || http_from(&web, api1),
    );
    eprintln!(
        "link cut: session down after {down:?}, routes gone {withdrawn:?} later; restored: traffic after {back:?}"
    );
    check_matrix(&lab);
}

#[test]
fn cross_cloud_connections_survive_controller_restarts() {
    let lab = Lab::demo(&[]);
    let web = lab.pod_record("cloud-a/frontend/web")["netns"]
        .as_str()
        .unwrap()
        .to_string();
    let api = lab.pod_record("cloud-b/backend/api-1");
    let api_ns = api["netns"].as_str().unwrap().to_string();
    let (mut client, mut server) =
        weft_testnet::tcp_connection(&web, &api_ns, ipv4_of(&api), 5001).expect("a cross-cloud TCP connection");
    assert!(weft_testnet::exchange(&mut client, &mut server, b"before"));
    for component in ["cloud-a/controller", "cloud-b/controller"] {
        let started = Instant::now();
        lab.ok(&["lab", "restart", component]);
        // Traffic keeps flowing while the controller and its BGP session come back.
        while started.elapsed() < Duration::from_secs(6) {
            assert!(
                weft_testnet::exchange(&mut client, &mut server, b"during"),
                "the connection broke {:?} after restarting {component}",
                started.elapsed()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        wait("sessions back after the restart", Duration::from_secs(30), || {
            bgp_established(&lab, "lab-cloud-a") && bgp_established(&lab, "lab-cloud-b")
        });
    }
    assert!(weft_testnet::exchange(&mut client, &mut server, b"after"));
    check_matrix(&lab);
}
