//! Two clusters' controllers joined over eBGP (EVPN), each speaker's sockets in its own network
//! namespace: a network shared by route target carries endpoints both ways, with each endpoint's
//! own node as next hop; a network the other side does not import stays out; an endpoint added
//! or removed on one side shows up on the other side's nodes within a second.
//! Needs root (network namespaces).

mod support;

use std::time::Duration;

use weft_api::sync::NodeState;
use weft_api::{Kind, Resource};
use weft_peers::PeerNet;

use support::{Controller, wait_for};

/// The hard limit; the measured times are printed (`-- --nocapture`).
const CONVERGE: Duration = Duration::from_secs(5);

/// A cluster: its AS and router id, pod and service CIDRs (distinct from the other's: imported
/// routes inside local ones are refused), the shared network, one node.
fn setup(
    ctl: &Controller,
    name: &str,
    asn: u32,
    router_id: &str,
    cidrs: (&str, &str),
    vni: u32,
    node: (&str, &str, &str),
) {
    let (pods, services) = cidrs;
    ctl.apply_yaml(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec:\n  asn: {asn}\n  routerId: {router_id}\n  podCIDRs: [{pods}]\n  serviceCIDRs: [{services}]\n"
    ));
    // Joined with the other cluster by route target; its own VNI.
    ctl.apply_yaml(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {{name: shared}}\nspec:\n  vni: {vni}\n  importRouteTargets: ['65000:100']\n  exportRouteTargets: ['65000:100']\n"
    ));
    let (node, vtep, mac) = node;
    ctl.apply_yaml(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: Node\nmetadata: {{name: {node}}}\nspec: {{vtep: {vtep}, routerMac: '{mac}', mtu: 1450}}\n"
    ));
}

fn namespace(ctl: &Controller, name: &str, network: &str) {
    ctl.apply_yaml(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  annotations: {{weft.io/virtual-network: {network}}}\n"
    ));
}

/// Creates an endpoint; returns its IPv4 address as a host prefix.
fn endpoint(ctl: &Controller, namespace: &str, pod: &str, node: &str) -> String {
    let r = ctl.apply_yaml(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {{name: {pod}, namespace: {namespace}}}\nspec: {{node: {node}, pod: {pod}, containerID: c-{pod}, interface: eth0}}\n"
    ));
    let Resource::WorkloadEndpoint(w) = r else {
        panic!("not an endpoint: {r:?}")
    };
    let v4 = w
        .spec
        .addresses
        .iter()
        .find(|a| !a.contains(':'))
        .unwrap_or_else(|| panic!("no IPv4 address: {:?}", w.spec.addresses));
    format!("{v4}/32")
}

fn bgp_peer(ctl: &Controller, address: std::net::IpAddr, asn: u32) {
    ctl.apply_yaml(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: BGPPeer\nmetadata: {{name: other-cluster}}\nspec:\n  address: {address}\n  asn: {asn}\n  families: [l2vpn-evpn]\n  holdTime: 9\n"
    ));
}

fn route<'a>(s: &'a NodeState, prefix: &str) -> Option<&'a weft_api::sync::RemoteRoute> {
    s.routes.values().find(|r| r.prefix == prefix)
}

#[test]
fn networks_joined_by_route_target_carry_endpoints_between_clusters() {
    let net = PeerNet::new("fed", 2);
    let (na, nb) = (net.node(0), net.node(1));
    let a = Controller::start(&na.netns);
    let b = Controller::start(&nb.netns);
    setup(
        &a,
        "cloud-a",
        64601,
        &na.v4().to_string(),
        ("10.244.0.0/16", "10.96.0.0/16"),
        100,
        ("a1", "192.0.2.111", "02:00:00:00:0a:01"),
    );
    setup(
        &b,
        "cloud-b",
        64602,
        &nb.v4().to_string(),
        ("10.245.0.0/16", "10.97.0.0/16"),
        200,
        ("b1", "198.51.100.111", "02:00:00:00:0b:01"),
    );
    namespace(&a, "frontend", "shared");
    namespace(&b, "backend", "shared");
    // A network of B's own, with default route targets (64602:300): A does not import it.
    b.apply_yaml("apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: private}\nspec: {vni: 300}\n");
    namespace(&b, "secret", "private");
    let front = endpoint(&a, "frontend", "web", "a1");
    let api = endpoint(&b, "backend", "api-1", "b1");
    let hidden = endpoint(&b, "secret", "vault", "b1");
    let a1 = a.follow("a1");
    let b1 = b.follow("b1");
    bgp_peer(&a, nb.v4(), 64602);
    bgp_peer(&b, na.v4(), 64601);

    let took = wait_for("B's endpoint at A's node", &a1, Duration::from_secs(60), |s| {
        route(s, &api).is_some()
    });
    eprintln!("sessions up and first routes in {took:?}");
    let r = route(&a1.borrow(), &api).cloned().expect("the route");
    // Straight to B's node: its VTEP, its router MAC, the VNI B advertises; in A's network.
    assert_eq!(r.vtep.to_string(), "198.51.100.111");
    assert_eq!(r.router_mac, "02:00:00:00:0b:01");
    assert_eq!((r.vni, r.network.as_str()), (200, "shared"));
    wait_for("A's endpoint at B's node", &b1, CONVERGE, |s| {
        route(s, &front).is_some_and(|r| r.vni == 100 && r.vtep.to_string() == "192.0.2.111")
    });
    // The private network's endpoint never reaches A, and A's own endpoint is local, not a route.
    std::thread::sleep(Duration::from_millis(500));
    assert!(route(&a1.borrow(), &hidden).is_none(), "{:#?}", a1.borrow().routes);
    assert!(route(&a1.borrow(), &front).is_none());

    // An endpoint added in B appears at A's node; deleted, it goes.
    let api2 = endpoint(&b, "backend", "api-2", "b1");
    let added = wait_for("a new endpoint of B at A", &a1, CONVERGE, |s| route(s, &api2).is_some());
    b.rt.block_on(b.client.delete(Kind::WorkloadEndpoint, Some("backend"), "api-2", None))
        .expect("delete");
    let removed = wait_for("a deleted endpoint of B gone at A", &a1, CONVERGE, |s| {
        route(s, &api2).is_none()
    });
    eprintln!("endpoint added in B -> at A's node: {added:?}; deleted -> gone: {removed:?}");
    assert!(route(&a1.borrow(), &api).is_some(), "the other endpoint stays");

    // What a network imported is in its status; a network whose own subnet covers B's pods
    // refuses them, and says why.
    a.apply_yaml(
        "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: overlap}\nspec:\n  vni: 150\n  subnets: [10.245.0.0/16]\n  importRouteTargets: ['65000:100']\n  exportRouteTargets: ['65000:999']\n",
    );
    let vn_status = |name: &str| {
        let r =
            a.rt.block_on(a.client.get(Kind::VirtualNetwork, None, name))
                .expect("the network");
        let Resource::VirtualNetwork(vn) = r else {
            panic!("not a network")
        };
        vn.status.unwrap_or_default()
    };
    let started = std::time::Instant::now();
    loop {
        let shared = vn_status("shared");
        let overlap = vn_status("overlap");
        if shared.imported_routes.unwrap_or(0) >= 1 && !overlap.refused_routes.is_empty() {
            assert!(
                overlap
                    .refused_routes
                    .iter()
                    .any(|r| r.contains("overlaps 10.245.0.0/16")),
                "{overlap:?}"
            );
            assert_eq!(overlap.imported_routes, Some(0), "{overlap:?}");
            break;
        }
        assert!(
            started.elapsed() < CONVERGE,
            "statuses: shared {shared:?}, overlap {overlap:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A Service in B: its ClusterIP is a route of the shared network from the node hosting its
    // endpoint, so A's node reaches it through that node.
    b.apply_yaml(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: backend, labels: {app: api}}\nspec:\n  containers: [{name: app}]\n",
    );
    let svc = b.apply_yaml(
        "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: backend}\nspec:\n  selector: {app: api}\n  ports: [{port: 80}]\n",
    );
    let Resource::Service(svc) = svc else {
        panic!("not a Service")
    };
    let vip = format!("{}/32", svc.spec.and_then(|s| s.cluster_ip).expect("a ClusterIP"));
    let took = wait_for("B's Service VIP at A's node", &a1, CONVERGE, |s| {
        route(s, &vip).is_some_and(|r| r.vtep.to_string() == "198.51.100.111" && r.vni == 200)
    });
    eprintln!("Service created in B -> its ClusterIP routed at A's node: {took:?}");

    // B stops exporting on the shared target: A's node loses B's routes.
    b.apply_yaml(
        "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: shared}\nspec:\n  vni: 200\n  importRouteTargets: ['65000:100']\n  exportRouteTargets: ['65000:999']\n",
    );
    wait_for("B's routes leave A after B changes its export", &a1, CONVERGE, |s| {
        route(s, &api).is_none()
    });
}

/// A router that speaks L3VPN but not EVPN (GoBGP with VPNv4 only) gets the cluster's pod routes
/// as VPNv4: the network's RD and route target, the node as next hop, the VNI in the label and
/// the VXLAN encapsulation; a pod deleted is withdrawn there.
#[test]
fn an_l3vpn_only_router_gets_vpnv4_routes() {
    use weft_peers::{Family, Gobgp, Neighbor, Peer, PeerSpec};
    let net = PeerNet::new("fedvpn", 2);
    let (na, nr) = (net.node(0), net.node(1));
    let a = Controller::start(&na.netns);
    setup(
        &a,
        "cloud-a",
        64601,
        &na.v4().to_string(),
        ("10.244.0.0/16", "10.96.0.0/16"),
        100,
        ("a1", "192.0.2.111", "02:00:00:00:0a:01"),
    );
    namespace(&a, "frontend", "shared");
    let web = endpoint(&a, "frontend", "web", "a1");
    let router = Gobgp::start(
        &nr.netns,
        &PeerSpec::new(65010, nr.ipv4).neighbor(Neighbor::new(na.v4(), 64601, &[Family::Vpnv4])),
    )
    .expect("gobgpd");
    a.apply_yaml(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: BGPPeer\nmetadata: {{name: router}}\nspec:\n  address: {}\n  asn: 65010\n  families: [ipv4-vpn]\n",
        nr.v4()
    ));
    let prefix: ipnet::IpNet = web.parse().expect("a prefix");
    let routes = router
        .wait_for_routes(Family::Vpnv4, Duration::from_secs(60), &|r| {
            r.iter().any(|r| r.prefix == prefix)
        })
        .expect("the router gets the pod's VPNv4 route");
    let r = routes.iter().find(|r| r.prefix == prefix).expect("the route");
    assert_eq!(
        r.next_hop.map(|h| h.to_string()).as_deref(),
        Some("192.0.2.111"),
        "{r:?}"
    );
    assert_eq!(
        r.rd.map(|d| d.to_string()).as_deref(),
        Some(format!("{}:100", na.v4()).as_str()),
        "{r:?}"
    );
    let ecs: Vec<String> = r.ext_communities.iter().map(|c| format!("{c:?}")).collect();
    assert!(
        ecs.iter().any(|c| c.contains("RouteTarget") && c.contains("65000")),
        "{ecs:?}"
    );
    assert!(ecs.iter().any(|c| c.contains("Encapsulation(8)")), "{ecs:?}");
    a.rt.block_on(a.client.delete(Kind::WorkloadEndpoint, Some("frontend"), "web", None))
        .expect("delete");
    router
        .wait_for_routes(Family::Vpnv4, CONVERGE, &|r| !r.iter().any(|r| r.prefix == prefix))
        .expect("the route is withdrawn at the router");
}
