//! Route target constraint (RFC 4684): a peer gets the VPN and EVPN routes it asked for.

mod rib_support;

use std::collections::BTreeSet;
use std::time::Duration;

use rib_support::*;
use weft_bgp::fsm::Time;
use weft_bgp::rib::{AdjRibOut, OutPeerConfig, PeerId, Rib, RibConfig, RtFilter};
use weft_bgp::{Family, SessionCaps};

const T: Time = Time::ZERO;

fn setup() -> (Rib, AdjRibOut) {
    let mut rib = Rib::new(RibConfig::new(LOCAL_AS, ip("192.0.2.100")));
    rib.peer_up(PeerId(1), ebgp(1, 65001));
    rib.peer_up(PeerId(2), ebgp(2, 65002));
    for (p, rts) in [
        ("10.1.0.0/16", "64512:1"),
        ("10.2.0.0/16", "64512:2"),
        ("10.3.0.0/16", "64512:3"),
    ] {
        rib.apply_update(PeerId(1), &announce_vpn("65001:1", p, &[rts], "10.0.0.1", &[65001]), T);
    }
    rib.apply_update(PeerId(1), &announce(&["172.16.0.0/16"], attrs(&[65001]), "10.0.0.1"), T);
    let out = AdjRibOut::new(OutPeerConfig {
        peer: PeerId(2),
        info: *rib.peer_info(PeerId(2)).unwrap(),
        local_as: LOCAL_AS,
        router_id: ip("192.0.2.100"),
        cluster_id: None,
        local_address: "10.0.0.100".parse().unwrap(),
        caps: SessionCaps::modern(),
        families: BTreeSet::from([Family::Ipv4Unicast, Family::Vpnv4, Family::RtConstraint]),
        mrai: Duration::ZERO,
        default_local_pref: 100,
    });
    (rib, out)
}

fn vpn_sent(out: &mut AdjRibOut) -> Vec<String> {
    let mut v: Vec<String> = out
        .take_updates(T)
        .unwrap()
        .iter()
        .filter_map(|u| u.attributes.mp_reach.as_ref())
        .filter(|m| m.family == Family::Vpnv4)
        .flat_map(|m| {
            m.nlri.iter().map(|n| match n {
                weft_bgp::Nlri::Vpn(p) => p.net.to_string(),
                other => other.to_string(),
            })
        })
        .collect();
    v.sort();
    v
}

#[test]
fn peer_gets_only_the_route_targets_it_asked_for() {
    let (mut rib, mut out) = setup();
    rib.apply_update(PeerId(2), &announce_rtc(&[Some("64512:1")], "10.0.0.2", 65002), T);
    out.set_rt_filter(Some(RtFilter::of_peer(&rib, PeerId(2))), &rib);
    out.initial_dump(&rib);
    assert_eq!(vpn_sent(&mut out), ["10.1.0.0/16"]);
    // Asking for 64512:3 later sends that one too; unicast was never filtered.
    rib.apply_update(PeerId(2), &announce_rtc(&[Some("64512:3")], "10.0.0.2", 65002), T);
    out.set_rt_filter(Some(RtFilter::of_peer(&rib, PeerId(2))), &rib);
    assert_eq!(vpn_sent(&mut out), ["10.3.0.0/16"]);
    assert_eq!(out.advertised_count(), 3);
}

#[test]
fn default_rtc_route_gets_everything() {
    let (mut rib, mut out) = setup();
    rib.apply_update(PeerId(2), &announce_rtc(&[None], "10.0.0.2", 65002), T);
    out.set_rt_filter(Some(RtFilter::of_peer(&rib, PeerId(2))), &rib);
    out.initial_dump(&rib);
    assert_eq!(vpn_sent(&mut out), ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]);
}

#[test]
fn no_rtc_routes_means_no_vpn_routes() {
    let (rib, mut out) = setup();
    out.set_rt_filter(Some(RtFilter::of_peer(&rib, PeerId(2))), &rib);
    out.initial_dump(&rib);
    assert!(vpn_sent(&mut out).is_empty());
    assert_eq!(out.advertised_count(), 1, "the unicast route still goes");
}

#[test]
fn withdrawn_membership_withdraws_the_routes() {
    let (mut rib, mut out) = setup();
    rib.apply_update(PeerId(2), &announce_rtc(&[Some("64512:2")], "10.0.0.2", 65002), T);
    out.set_rt_filter(Some(RtFilter::of_peer(&rib, PeerId(2))), &rib);
    out.initial_dump(&rib);
    assert_eq!(vpn_sent(&mut out), ["10.2.0.0/16"]);
    rib.peer_down(PeerId(2), &[]);
    out.set_rt_filter(Some(RtFilter::of_peer(&rib, PeerId(2))), &rib);
    let u = out.take_updates(T).unwrap();
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].attributes.mp_unreach.as_ref().unwrap().withdrawn.len(), 1);
}

#[test]
fn without_rtc_negotiated_nothing_is_filtered() {
    let (rib, mut out) = setup();
    out.initial_dump(&rib);
    assert_eq!(vpn_sent(&mut out).len(), 3);
}

#[test]
fn own_membership_routes_go_to_rtc_peers() {
    use std::net::IpAddr;
    use weft_bgp::rib::membership_paths;
    use weft_bgp::{Nlri, Rtc};
    let (mut rib, mut out) = setup();
    let mut changes = Vec::new();
    for p in membership_paths(
        [rt("64512:7"), rt("64512:8"), rt("64512:7")],
        LOCAL_AS,
        ip("192.0.2.100"),
        IpAddr::V4(ip("10.0.0.100")),
        T,
    ) {
        changes.extend(rib.insert(p));
    }
    assert_eq!(changes.len(), 2);
    out.best_changed(&changes);
    let updates = out.take_updates(T).unwrap();
    assert_eq!(updates.len(), 1, "both share attributes");
    let m = updates[0].attributes.mp_reach.as_ref().unwrap();
    assert_eq!(m.family, Family::RtConstraint);
    assert_eq!(
        m.nlri,
        vec![
            Nlri::Rtc(Rtc::exact(LOCAL_AS, rt("64512:7"))),
            Nlri::Rtc(Rtc::exact(LOCAL_AS, rt("64512:8")))
        ]
    );
    assert_eq!(
        updates[0].attributes.as_path,
        Some(weft_bgp::AsPath::sequence(vec![LOCAL_AS]))
    );
}
