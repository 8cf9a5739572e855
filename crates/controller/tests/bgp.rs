//! The controller's BGP speaker wired to the store, against GoBGP (needs root and gobgpd).
//! The controller runs in this process, its API on the host's loopback and its speaker's sockets
//! in node 0 of a [`PeerNet`]; two GoBGP daemons on nodes 1 and 2 peer with it.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use weft_api::wire::BgpPeerInfo;
use weft_api::{Kind, Resource};
use weft_peers::{Family, Gobgp, Neighbor, Peer, PeerNet, PeerSpec, Route, SessionState};

use support::{Controller, parse};

const WEFT_AS: u32 = 64511;
const PEER_AS: u32 = 64512;
const ESTABLISH: Duration = Duration::from_secs(60);

fn cluster(router_id: &str) -> Resource {
    parse(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: Cluster\nmetadata: {{name: lab}}\nspec:\n  asn: {WEFT_AS}\n  routerId: {router_id}\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/16]\n"
    ))
}

fn bgp_peer(name: &str, address: IpAddr, hold_time: u32) -> Resource {
    parse(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: BGPPeer\nmetadata: {{name: {name}}}\nspec:\n  address: {address}\n  asn: {PEER_AS}\n  families: [ipv4-unicast]\n  holdTime: {hold_time}\n"
    ))
}

/// Polls until `done` holds for the peer at `address` (None: not configured); returns it.
fn wait_peer(
    ctl: &Controller,
    what: &str,
    address: IpAddr,
    done: impl Fn(Option<&BgpPeerInfo>) -> bool,
) -> Option<BgpPeerInfo> {
    ctl.wait(what, || {
        let p = ctl.peer(address);
        done(p.as_ref()).then_some(p)
    })
}

fn established(p: Option<&BgpPeerInfo>) -> bool {
    p.is_some_and(|p| p.state == "Established")
}

#[test]
fn bgp_peers_follow_the_store_without_disturbing_other_sessions() {
    let started = Instant::now();
    let pnet = PeerNet::new("ctl-bgp", 3);
    let (w, a, b) = (pnet.node(0), pnet.node(1), pnet.node(2));
    let spec = |n: &weft_peers::Node| {
        PeerSpec::new(PEER_AS, n.ipv4).neighbor(Neighbor::new(w.v4(), WEFT_AS, &[Family::Ipv4Unicast]))
    };
    let gobgp_a = Gobgp::start(&a.netns, &spec(a)).unwrap();
    let gobgp_b = Gobgp::start(&b.netns, &spec(b)).unwrap();
    let ctl = Controller::start(&w.netns);

    // No Cluster yet: no speaker, and the API says so.
    let err = ctl.rt.block_on(ctl.client.bgp_peers()).unwrap_err();
    assert!(err.to_string().contains("not running"), "{err}");

    ctl.apply(&cluster(&w.ipv4.to_string()));
    ctl.apply(&bgp_peer("a", a.v4(), 90));
    ctl.apply(&bgp_peer("b", b.v4(), 90));
    wait_peer(&ctl, "a Established", a.v4(), established);
    wait_peer(&ctl, "b Established", b.v4(), established);
    gobgp_a.wait_established(w.v4(), ESTABLISH).unwrap();

    // GoBGP's route shows in the controller's RIB, readable.
    let theirs = Route::unicast("203.0.113.0/24".parse().unwrap());
    gobgp_a.announce(&theirs).unwrap();
    let until = Instant::now() + ESTABLISH;
    let route = loop {
        let routes = ctl.rt.block_on(ctl.client.bgp_routes(Some("ipv4-unicast"))).unwrap();
        if let Some(r) = routes.into_iter().find(|r| r.prefix == "203.0.113.0/24") {
            break r;
        }
        assert!(Instant::now() < until, "GoBGP's route did not reach the controller");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(route.family, "ipv4 unicast");
    assert_eq!(route.next_hop, Some(a.v4()));
    assert_eq!(route.as_path, vec![PEER_AS]);
    assert_eq!(route.from, Some(a.v4()));
    let counts = wait_peer(&ctl, "a counts the route", a.v4(), |p| {
        p.is_some_and(|p| p.families.get("ipv4 unicast").is_some_and(|c| c.received == 1))
    });
    assert_eq!(counts.unwrap().name, "a");
    let unknown = ctl
        .rt
        .block_on(ctl.client.bgp_routes(Some("ipv5-unicast")))
        .unwrap_err();
    assert!(unknown.to_string().contains("unknown family"), "{unknown}");

    // Let the uptimes grow, so that a restart shows as an uptime that went back.
    std::thread::sleep(Duration::from_secs(2));
    let b_before = ctl.peer(b.v4()).unwrap().uptime_seconds.unwrap();
    let a_before = ctl.peer(a.v4()).unwrap().uptime_seconds.unwrap();
    assert!(a_before >= 1, "{a_before}");

    // A changed BGPPeer restarts its own session only.
    ctl.apply(&bgp_peer("a", a.v4(), 30));
    let watch_b = |since: u64| {
        let p = ctl.peer(b.v4());
        assert!(established(p.as_ref()), "b left Established: {p:?}");
        let up = p.unwrap().uptime_seconds.unwrap();
        assert!(up >= since, "b restarted: uptime {up} < {since}");
        up
    };
    let mut b_up = b_before;
    let until = Instant::now() + ESTABLISH;
    loop {
        b_up = watch_b(b_up);
        let p = ctl.peer(a.v4());
        if established(p.as_ref()) && p.as_ref().unwrap().uptime_seconds.unwrap() < a_before {
            break;
        }
        assert!(Instant::now() < until, "a did not re-establish: {p:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    gobgp_a.wait_established(w.v4(), ESTABLISH).unwrap();

    // A deleted BGPPeer's session goes down; b stays.
    ctl.rt
        .block_on(ctl.client.delete(Kind::BGPPeer, None, "a", None))
        .unwrap();
    let until = Instant::now() + ESTABLISH;
    loop {
        b_up = watch_b(b_up);
        let gone = ctl.peer(a.v4()).is_none();
        let down = gobgp_a
            .neighbor_state(w.v4())
            .is_ok_and(|n| n.state != SessionState::Established);
        if gone && down {
            break;
        }
        assert!(
            Instant::now() < until,
            "a's session did not go down (gone {gone}, down {down})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Its route went with it.
    let routes = ctl.rt.block_on(ctl.client.bgp_routes(None)).unwrap();
    assert!(routes.iter().all(|r| r.from != Some(a.v4())), "{routes:?}");
    watch_b(b_up);
    gobgp_b.wait_established(w.v4(), Duration::from_secs(1)).unwrap();

    // A new router id restarts the speaker: b comes back, with a fresh uptime.
    std::thread::sleep(Duration::from_secs(1));
    let b_before = ctl.peer(b.v4()).unwrap().uptime_seconds.unwrap();
    ctl.apply(&cluster("192.0.2.50"));
    wait_peer(&ctl, "b re-established after the router id changed", b.v4(), |p| {
        established(p) && p.unwrap().uptime_seconds.unwrap() < b_before
    });
    let gobgp_view = gobgp_b.cli(&["neighbor", &w.ipv4.to_string()]).unwrap();
    assert!(gobgp_view.contains("192.0.2.50"), "{gobgp_view}");
    drop(ctl);
    eprintln!("took {:?}", started.elapsed());
}
