//! `weft get routes` (and `weft bgp routes`) against a controller process whose BGP speaker
//! peers with two GoBGP daemons in network namespaces (needs root and gobgpd): every path with
//! the best one marked, FRR-like detail for a prefix, `--family`, `--vn`, `-o json`; and the
//! BGPPeer status written back, in `weft get bgppeers -o yaml`.

mod harness;

use std::time::{Duration, Instant};

use harness::Controller;
use weft_peers::{Community, Family, Gobgp, Neighbor, Peer, PeerNet, PeerSpec, Rd, Route};

const WEFT_AS: u32 = 64511;
const ESTABLISH: Duration = Duration::from_secs(60);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + ESTABLISH;
    while !done() {
        assert!(Instant::now() < until, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn get_routes_shows_every_path_filtered_by_family_prefix_and_network() {
    let pnet = PeerNet::new("cli-rt", 3);
    let (w, a, b) = (pnet.node(0), pnet.node(1), pnet.node(2));
    let families = [Family::Ipv4Unicast, Family::Vpnv4];
    let gobgp_a = Gobgp::start(
        &a.netns,
        &PeerSpec::new(64512, a.ipv4).neighbor(Neighbor::new(w.v4(), WEFT_AS, &families)),
    )
    .unwrap();
    let gobgp_b = Gobgp::start(
        &b.netns,
        &PeerSpec::new(64513, b.ipv4).neighbor(Neighbor::new(w.v4(), WEFT_AS, &families)),
    )
    .unwrap();
    let netns = format!("/var/run/netns/{}", w.netns);
    let c = Controller::start_with(&["--bgp", "--bgp-netns", &netns]);
    c.apply_text(&format!(
        "apiVersion: weft.io/v1alpha1
kind: Cluster
metadata: {{name: lab}}
spec: {{asn: {WEFT_AS}, routerId: {w_ip}, podCIDRs: [10.244.0.0/16], serviceCIDRs: [10.96.0.0/16]}}
---
apiVersion: weft.io/v1alpha1
kind: VirtualNetwork
metadata: {{name: blue}}
spec: {{vni: 100, importRouteTargets: [\"64512:100\"]}}
---
apiVersion: weft.io/v1alpha1
kind: BGPPeer
metadata: {{name: a}}
spec: {{address: {a_ip}, asn: 64512, families: [ipv4-unicast, ipv4-vpn]}}
---
apiVersion: weft.io/v1alpha1
kind: BGPPeer
metadata: {{name: b}}
spec: {{address: {b_ip}, asn: 64513, families: [ipv4-unicast, ipv4-vpn]}}
",
        w_ip = w.ipv4,
        a_ip = a.ipv4,
        b_ip = b.ipv4,
    ));
    gobgp_a.wait_established(w.v4(), ESTABLISH).unwrap();
    gobgp_b.wait_established(w.v4(), ESTABLISH).unwrap();
    let shared = Route::unicast("198.51.100.0/24".parse().unwrap()).with_community(Community(64512, 1));
    gobgp_a.announce(&shared).unwrap();
    gobgp_b.announce(&shared).unwrap();
    let rd: Rd = "64512:7".parse().unwrap();
    let blue = Route::vpnv4(rd, "203.0.113.0/24".parse().unwrap(), 100).with_route_target("64512:100".parse().unwrap());
    let other =
        Route::vpnv4(rd, "192.0.2.128/25".parse().unwrap(), 100).with_route_target("64512:200".parse().unwrap());
    gobgp_a.announce(&blue).unwrap();
    gobgp_a.announce(&other).unwrap();
    wait_until("four paths", || {
        c.json(&["get", "routes"]).as_array().is_some_and(|v| v.len() == 4)
    });

    // JSON: every path, one best per destination.
    let all = c.json(&["get", "routes"]);
    let all = all.as_array().unwrap();
    let shared_paths: Vec<_> = all.iter().filter(|r| r["prefix"] == "198.51.100.0/24").collect();
    assert_eq!(shared_paths.len(), 2, "{all:#?}");
    assert_eq!(shared_paths.iter().filter(|r| r["best"] == true).count(), 1);
    assert!(shared_paths.iter().all(|r| r["communities"][0] == "64512:1"));
    let vpn = all
        .iter()
        .find(|r| r["rd"] == "64512:7" && r["prefix"].as_str().unwrap().contains("203.0.113.0/24"));
    assert!(vpn.is_some(), "{all:#?}");

    // The table marks the best path of each destination.
    let table = c.ok(&["get", "routes", "--family", "ipv4-unicast"]);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert_eq!(rows.iter().filter(|r| r.starts_with("*>")).count(), 1, "{table}");
    assert!(table.lines().next().unwrap().starts_with("S "), "{table}");

    // A prefix: FRR-like detail, each path on several lines.
    let detail = c.ok(&["get", "routes", "198.51.100.0/24"]);
    assert!(
        detail.starts_with("ipv4 unicast 198.51.100.0/24\n  Paths: 2 available, best #"),
        "{detail}"
    );
    assert!(detail.contains(&format!("from {}", a.ipv4)), "{detail}");
    assert!(detail.contains(&format!("from {}", b.ipv4)), "{detail}");
    assert!(detail.contains("    AS path: 64512 (origin incomplete)"), "{detail}");
    assert!(detail.contains("    Communities: 64512:1"), "{detail}");

    // --vn: the network's route targets.
    let blue_routes = c.json(&["get", "routes", "--vn", "blue"]);
    let blue_routes = blue_routes.as_array().unwrap();
    assert_eq!(blue_routes.len(), 1, "{blue_routes:#?}");
    assert_eq!(blue_routes[0]["routeTargets"][0], "64512:100");
    let detail = c.ok(&["get", "routes", "--vn", "blue", "--family", "ipv4-vpn", "-o", "wide"]);
    assert!(detail.contains("Route distinguisher: 64512:7"), "{detail}");
    assert!(detail.contains("Extended communities: RT:64512:100"), "{detail}");
    assert!(!detail.contains("192.0.2.128"), "{detail}");

    // Nothing matches: exit 3; options of routes only, on another kind: usage.
    let err = c.fails(3, &["get", "routes", "10.9.9.0/24"]);
    assert!(err.contains("no route matches"), "{err}");
    let err = c.fails(3, &["get", "routes", "--vn", "nope"]);
    assert!(err.contains("nope"), "{err}");
    c.fails(2, &["get", "vn", "--family", "ipv4-unicast"]);

    // weft bgp routes still shows the best routes.
    let best = c.json(&["bgp", "routes", "--family", "ipv4-unicast"]);
    assert_eq!(best.as_array().map(Vec::len), Some(1), "{best:#}");

    // The BGPPeer status, written back by the controller.
    wait_until("a's status counts its three prefixes", || {
        let p = c.json(&["get", "bgppeers", "a"]);
        p["status"]["state"] == "Established"
            && p["status"]["prefixes"]
                .as_array()
                .is_some_and(|v| v.iter().map(|f| f["received"].as_u64().unwrap_or(0)).sum::<u64>() == 3)
    });
    let yaml = c.ok(&["get", "bgppeers", "a", "-o", "yaml"]);
    assert!(yaml.contains("establishedSince:"), "{yaml}");
    assert!(yaml.contains("family: ipv4-vpn"), "{yaml}");
}
