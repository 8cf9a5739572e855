//! Route target constraint (RFC 4684) with GoBGP: GoBGP advertises RT membership NLRI for the
//! import route targets of its VRFs; Weft sends it only the VPNv4 and EVPN type 5 routes
//! carrying one of them (§3.2), and a membership change (a VRF added or removed) changes what
//! Weft sends. GoBGP's view is `gobgp global rib -a vpnv4|evpn -j`.
//!
//! FRR 8.4 and BIRD 2.0 have no RT constraint (no SAFI 132), so only GoBGP is tested.

mod common;

use common::*;
use weft_bgp::family::Family as BgpFamily;
use weft_bgp::rib::{ExportEncoding, RouteKey, Vrf};
use weft_peers::{Family, Gobgp, Peer, PeerNet, Route, find_route};

fn vrf(name: &str, rd: &str, rt: &str, label: u32) -> Vrf {
    Vrf::new(
        name,
        rd.parse().expect("an RD"),
        [rt.parse().expect("an RT")],
        [rt.parse().expect("an RT")],
        ExportEncoding::Vpn {
            label: weft_bgp::Label::mpls(label, true).expect("a label"),
        },
    )
}

/// The RT membership routes Weft holds from GoBGP, as (origin AS, route target bytes).
fn memberships(weft: &Weft) -> Vec<(u32, [u8; 8])> {
    weft.routes(BgpFamily::RtConstraint)
        .into_iter()
        .filter_map(|r| match r.key {
            RouteKey::Rtc(Some(m)) => Some((m.origin_as, m.target)),
            _ => None,
        })
        .collect()
}

fn rt_bytes(asn: u16, value: u32) -> [u8; 8] {
    let mut b = [0, 2, 0, 0, 0, 0, 0, 0];
    b[2..4].copy_from_slice(&asn.to_be_bytes());
    b[4..].copy_from_slice(&value.to_be_bytes());
    b
}

#[test]
fn gobgp_gets_only_the_vpn_routes_of_the_route_targets_it_imports() {
    let pnet = PeerNet::pair("wsprtc-gobgp");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let gobgp = Gobgp::start(
        &b.netns,
        &peer_spec(b, a.v4(), &[Family::Vpnv4, Family::Evpn, Family::Rtc]),
    )
    .expect("GoBGP starts");
    // GoBGP's VRF red imports 64511:100: its membership.
    gobgp
        .cli(&[
            "vrf",
            "add",
            "red",
            "rd",
            "64512:10",
            "rt",
            "import",
            "64511:100",
            "export",
            "64512:100",
        ])
        .expect("vrf red");
    let weft = Weft::start(a);
    weft.add_peer(settings(
        a,
        b.v4(),
        &[BgpFamily::Vpnv4, BgpFamily::L2vpnEvpn, BgpFamily::RtConstraint],
    ));
    weft.wait_established(b.v4(), ESTABLISH);
    gobgp
        .wait_established(a.v4(), ESTABLISH)
        .expect("GoBGP's session is up");
    wait_for("GoBGP's membership for 64511:100 at Weft", CONVERGE, || {
        memberships(&weft)
            .contains(&(PEER_AS, rt_bytes(64511, 100)))
            .then_some(())
    });

    let red = vrf("red", "64511:1", "64511:100", 100);
    let blue = vrf("blue", "64511:2", "64511:200", 200);
    let (p_red, p_blue) = (net("198.51.100.0/24"), net("203.0.113.0/24"));
    weft.rt
        .block_on(weft.handle.announce_vrf(&red, p_red, a.v4()))
        .expect("announce red");
    weft.rt
        .block_on(weft.handle.announce_vrf(&blue, p_blue, a.v4()))
        .expect("announce blue");
    // The same route targets on EVPN type 5 routes.
    let evpn = |name: &str, rd_: &str, rt: &str, vni: u32| {
        Vrf::new(
            name,
            rd_.parse().expect("an RD"),
            [rt.parse().expect("an RT")],
            [rt.parse().expect("an RT")],
            ExportEncoding::Evpn {
                vni,
                router_mac: [0x02, 0, 0, 0, 0, 0x01],
                encapsulation: weft_bgp::attribute::extended_community::tunnel_type::VXLAN,
            },
        )
    };
    let (red_e, blue_e) = (
        evpn("red-e", "64511:3", "64511:100", 10100),
        evpn("blue-e", "64511:4", "64511:200", 10200),
    );
    for (v, p) in [(&red_e, p_red), (&blue_e, p_blue)] {
        weft.rt
            .block_on(weft.handle.announce_vrf(v, p, a.v4()))
            .expect("announce EVPN");
    }
    let has = |routes: &[Route], p, r: &str| find_route(routes, p, Some(rd(r))).is_some();
    let got = gobgp
        .wait_for_routes(Family::Evpn, CONVERGE, &|r| has(r, p_red, "64511:3"))
        .expect("GoBGP gets red's EVPN route");
    assert!(
        !has(&got, p_blue, "64511:4"),
        "blue's EVPN route went out without membership: {got:?}"
    );
    let got = gobgp
        .wait_for_routes(Family::Vpnv4, CONVERGE, &|r| has(r, p_red, "64511:1"))
        .expect("GoBGP gets red's route");
    assert!(
        !has(&got, p_blue, "64511:2"),
        "blue's route went out without membership: {got:?}"
    );
    // Nothing more comes a moment later.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let got = gobgp.received_routes(Family::Vpnv4).expect("GoBGP's routes");
    assert!(
        !has(&got, p_blue, "64511:2"),
        "blue's route went out without membership: {got:?}"
    );
    let got = gobgp.received_routes(Family::Evpn).expect("GoBGP's routes");
    assert!(!has(&got, p_blue, "64511:4"), "{got:?}");
    let status = weft.peer(b.v4());
    assert_eq!(status.prefixes[&BgpFamily::Vpnv4].sent, 1, "{status:?}");
    assert_eq!(status.prefixes[&BgpFamily::L2vpnEvpn].sent, 1, "{status:?}");

    // GoBGP imports 64511:200 too: blue's route follows.
    gobgp
        .cli(&[
            "vrf",
            "add",
            "blue",
            "rd",
            "64512:11",
            "rt",
            "import",
            "64511:200",
            "export",
            "64512:200",
        ])
        .expect("vrf blue");
    gobgp
        .wait_for_routes(Family::Vpnv4, CONVERGE, &|r| {
            has(r, p_blue, "64511:2") && has(r, p_red, "64511:1")
        })
        .expect("GoBGP gets blue's route after joining 64511:200");
    gobgp
        .wait_for_routes(Family::Evpn, CONVERGE, &|r| has(r, p_blue, "64511:4"))
        .expect("GoBGP gets blue's EVPN route after joining 64511:200");

    // GoBGP leaves 64511:100: red's route is withdrawn, blue's stays.
    gobgp.cli(&["vrf", "del", "red"]).expect("vrf del red");
    wait_for("GoBGP's membership for 64511:100 withdrawn", CONVERGE, || {
        (!memberships(&weft).contains(&(PEER_AS, rt_bytes(64511, 100)))).then_some(())
    });
    gobgp
        .wait_for_routes(Family::Vpnv4, CONVERGE, &|r| {
            !has(r, p_red, "64511:1") && has(r, p_blue, "64511:2")
        })
        .expect("red's route withdrawn once GoBGP left 64511:100");
    gobgp
        .wait_for_routes(Family::Evpn, CONVERGE, &|r| {
            !has(r, p_red, "64511:3") && has(r, p_blue, "64511:4")
        })
        .expect("red's EVPN route withdrawn once GoBGP left 64511:100");
    assert_eq!(weft.peer(b.v4()).session.established_transitions, 1);
}
