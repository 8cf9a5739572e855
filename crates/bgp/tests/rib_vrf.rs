//! VRF import and export by route target (RFC 4364 §4.3.5, RFC 9136).

mod rib_support;

use std::net::IpAddr;

use rib_support::*;
use weft_bgp::Label;
use weft_bgp::attribute::tunnel_type;
use weft_bgp::fsm::Time;
use weft_bgp::rib::{ExportEncoding, PeerId, Rib, RibConfig, Vrf};

const T: Time = Time::ZERO;

fn rib() -> Rib {
    let mut rib = Rib::new(RibConfig::new(LOCAL_AS, ip("192.0.2.100")));
    rib.peer_up(PeerId(3), ibgp(3));
    rib.peer_up(PeerId(4), ibgp(4));
    rib
}

fn vpn(label: u32) -> ExportEncoding {
    ExportEncoding::Vpn {
        label: Label::mpls(label, true).unwrap(),
    }
}

#[test]
fn two_vrfs_see_only_their_routes() {
    let mut rib = rib();
    let mut red = Vrf::new("red", rd("64512:1"), [rt("64512:1")], [rt("64512:1")], vpn(16));
    let mut blue = Vrf::new("blue", rd("64512:2"), [rt("64512:2")], [rt("64512:2")], vpn(17));
    let ctx = rib.config().decision;
    let mut red_changes = Vec::new();
    let mut blue_changes = Vec::new();
    for u in [
        announce_vpn("64512:11", "10.1.0.0/16", &["64512:1"], "10.0.0.3", &[]),
        announce_vpn("64512:12", "10.2.0.0/16", &["64512:2"], "10.0.0.3", &[]),
        // The same prefix in both VRFs, one route each.
        announce_vpn("64512:11", "10.9.0.0/16", &["64512:1"], "10.0.0.3", &[]),
        announce_vpn("64512:12", "10.9.0.0/16", &["64512:2"], "10.0.0.4", &[]),
        // Both route targets: both VRFs.
        announce_vpn("64512:13", "10.3.0.0/16", &["64512:1", "64512:2"], "10.0.0.4", &[]),
        // Neither.
        announce_vpn("64512:14", "10.4.0.0/16", &["64512:99"], "10.0.0.4", &[]),
    ] {
        let from = if u
            .update
            .attributes
            .mp_reach
            .as_ref()
            .unwrap()
            .next_hop
            .address
            .to_string()
            == "10.0.0.3"
        {
            3
        } else {
            4
        };
        let c = rib.apply_update(PeerId(from), &u, T);
        red_changes.extend(red.apply(&c, &ctx));
        blue_changes.extend(blue.apply(&c, &ctx));
    }
    let prefixes = |v: &Vrf| v.routes().map(|r| r.prefix.to_string()).collect::<Vec<_>>();
    assert_eq!(prefixes(&red), ["10.1.0.0/16", "10.3.0.0/16", "10.9.0.0/16"]);
    assert_eq!(prefixes(&blue), ["10.2.0.0/16", "10.3.0.0/16", "10.9.0.0/16"]);
    assert_eq!(red_changes.len(), 3);
    let r = red.route(&"10.9.0.0/16".parse().unwrap()).unwrap();
    assert_eq!(r.next_hop.unwrap().address.to_string(), "10.0.0.3");
    assert_eq!(r.label, Label::mpls(100, true));
    let b = blue.route(&"10.9.0.0/16".parse().unwrap()).unwrap();
    assert_eq!(b.next_hop.unwrap().address.to_string(), "10.0.0.4");

    // Withdrawing the RIB route removes it from the VRF.
    let c = rib.peer_down(PeerId(3), &[]);
    let changes = red.apply(&c, &ctx);
    assert_eq!(prefixes(&red), ["10.3.0.0/16"]);
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| c.new.is_none()));

    // Changing the import RTs and re-syncing.
    red.import_rts.insert(rt("64512:99"));
    red.sync(&rib);
    assert_eq!(prefixes(&red), ["10.3.0.0/16", "10.4.0.0/16"]);
}

#[test]
fn best_path_wins_among_rds_for_one_prefix() {
    let mut rib = rib();
    let mut red = Vrf::new("red", rd("64512:1"), [rt("64512:1")], [], vpn(16));
    let ctx = rib.config().decision;
    let c = rib.apply_update(
        PeerId(4),
        &announce_vpn("64512:21", "10.1.0.0/16", &["64512:1"], "10.0.0.4", &[65001, 65002]),
        T,
    );
    red.apply(&c, &ctx);
    let c = rib.apply_update(
        PeerId(3),
        &announce_vpn("64512:22", "10.1.0.0/16", &["64512:1"], "10.0.0.3", &[65001]),
        T,
    );
    let changes = red.apply(&c, &ctx);
    assert_eq!(changes.len(), 1);
    let r = red.route(&"10.1.0.0/16".parse().unwrap()).unwrap();
    assert_eq!(r.path.peer, PeerId(3));
}

#[test]
fn evpn_type5_export_and_import_carry_vni_router_mac_and_encapsulation() {
    let mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x07];
    let encoding = ExportEncoding::Evpn {
        vni: 5001,
        router_mac: mac,
        encapsulation: tunnel_type::VXLAN,
    };
    let exporter = Vrf::new(
        "red",
        rd("192.0.2.7:5"),
        [rt("64512:5001")],
        [rt("64512:5001")],
        encoding,
    );
    let path = exporter.export_path(
        "10.42.0.0/24".parse().unwrap(),
        IpAddr::V4(ip("192.0.2.7")),
        LOCAL_AS,
        ip("192.0.2.7"),
        T,
    );
    // Another speaker learns it over iBGP, through the codec.
    use weft_bgp::{MpReach, PathAttributes, Update};
    let u = decoded(Update {
        attributes: PathAttributes {
            mp_reach: Some(MpReach {
                family: weft_bgp::Family::L2vpnEvpn,
                next_hop: path.next_hop.unwrap(),
                nlri: vec![path.nlri.clone()],
            }),
            ..(*path.attributes).clone()
        },
        ..Update::default()
    });
    assert!(u.errors.is_empty());
    let mut rib = rib();
    let mut importer = Vrf::new("red", rd("192.0.2.100:5"), [rt("64512:5001")], [], encoding);
    let other = Vrf::new("blue", rd("192.0.2.100:6"), [rt("64512:6001")], [], encoding);
    let c = rib.apply_update(PeerId(3), &u, T);
    let ctx = rib.config().decision;
    importer.apply(&c, &ctx);
    let r = importer.route(&"10.42.0.0/24".parse().unwrap()).unwrap();
    assert_eq!(r.vni, Some(5001));
    assert_eq!(r.router_mac, Some(mac));
    assert_eq!(r.encapsulation, Some(tunnel_type::VXLAN));
    assert_eq!(r.gateway, None);
    assert_eq!(r.next_hop.unwrap().address.to_string(), "192.0.2.7");
    assert_eq!(r.source, exporter.export_key("10.42.0.0/24".parse().unwrap()));
    let mut other = other;
    other.apply(&c, &ctx);
    assert_eq!(other.routes().count(), 0);
}

#[test]
fn vpn_export_is_a_local_path_in_the_rib() {
    let mut rib = rib();
    let red = Vrf::new(
        "red",
        rd("64512:1"),
        [rt("64512:1")],
        [rt("64512:1"), rt("64512:100")],
        vpn(16),
    );
    let path = red.export_path(
        "10.7.0.0/16".parse().unwrap(),
        IpAddr::V4(ip("192.0.2.100")),
        LOCAL_AS,
        ip("192.0.2.100"),
        T,
    );
    let c = rib.insert(path);
    assert_eq!(c.len(), 1);
    let key = red.export_key("10.7.0.0/16".parse().unwrap());
    let best = rib.best(&key).unwrap();
    assert_eq!(best.peer, PeerId::LOCAL);
    assert_eq!(best.route_targets().count(), 2);
    let c = rib.remove(PeerId::LOCAL, &key, None);
    assert!(c[0].new_best().is_none());
}
