//! Helpers shared by the RIB tests.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use weft_bgp::fsm::Time;
use weft_bgp::rib::{Path, PeerId, PeerInfo, PeerKind};
use weft_bgp::{
    AsPath, DecodedUpdate, Message, NextHop, Nlri, Origin, PathAttributes, Prefix, SessionCaps, Update, decode_message,
};

pub const LOCAL_AS: u32 = 64512;

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

pub fn net(s: &str) -> Prefix {
    Prefix::new(s.parse().unwrap())
}

pub fn peer(id: u32, kind: PeerKind, asn: u32) -> PeerInfo {
    let a = Ipv4Addr::new(10, 0, 0, u8::try_from(id).unwrap());
    PeerInfo {
        address: IpAddr::V4(a),
        asn,
        router_id: Ipv4Addr::new(192, 0, 2, u8::try_from(id).unwrap()),
        kind,
        rr_client: false,
    }
}

pub fn ibgp(id: u32) -> PeerInfo {
    peer(id, PeerKind::Ibgp, LOCAL_AS)
}

pub fn ebgp(id: u32, asn: u32) -> PeerInfo {
    peer(id, PeerKind::Ebgp, asn)
}

pub fn attrs(as_path: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(as_path.to_vec())),
        ..PathAttributes::default()
    }
}

/// A path to 198.51.100.0/24 from peer `id`.
pub fn path(id: u32, info: PeerInfo, a: PathAttributes) -> Path {
    Path {
        peer: PeerId(id),
        peer_info: info,
        nlri: Nlri::Prefix(net("198.51.100.0/24")),
        attributes: Arc::new(a),
        next_hop: Some(NextHop::new(info.address)),
        path_id: None,
        received_at: Time::ZERO,
        stale: false,
    }
}

/// An UPDATE as the session would hand it over: encoded and decoded by the codec.
pub fn decoded(update: Update) -> DecodedUpdate {
    let caps = SessionCaps::modern();
    let bytes = Message::Update(update).encode(&caps).unwrap();
    let d = decode_message(&bytes, &caps).unwrap();
    match d.message {
        Message::Update(update) => DecodedUpdate {
            update,
            errors: d.errors,
        },
        other => panic!("not an UPDATE: {other:?}"),
    }
}

/// IPv4 unicast announcement with NEXT_HOP `nh`.
pub fn announce(prefixes: &[&str], a: PathAttributes, nh: &str) -> DecodedUpdate {
    decoded(Update {
        withdrawn: Vec::new(),
        attributes: PathAttributes {
            next_hop: Some(ip(nh)),
            ..a
        },
        nlri: prefixes.iter().map(|p| net(p)).collect(),
    })
}

pub fn withdraw(prefixes: &[&str]) -> DecodedUpdate {
    decoded(Update {
        withdrawn: prefixes.iter().map(|p| net(p)).collect(),
        ..Update::default()
    })
}

pub fn rt(s: &str) -> weft_net::RouteTarget {
    s.parse().unwrap()
}

pub fn rd(s: &str) -> weft_net::RouteDistinguisher {
    s.parse().unwrap()
}

/// A VPNv4 announcement of `prefix` under `rd_s` with route targets `rts`.
pub fn announce_vpn(rd_s: &str, prefix: &str, rts: &[&str], nh: &str, as_path: &[u32]) -> DecodedUpdate {
    use weft_bgp::{ExtendedCommunity, Label, MpReach, VpnPrefix};
    let label = Label::mpls(100, true).unwrap();
    decoded(Update {
        attributes: PathAttributes {
            mp_reach: Some(MpReach {
                family: weft_bgp::Family::Vpnv4,
                next_hop: NextHop::new(IpAddr::V4(ip(nh))),
                nlri: vec![Nlri::Vpn(VpnPrefix::new(label, rd(rd_s), prefix.parse().unwrap()))],
            }),
            extended_communities: rts.iter().map(|r| ExtendedCommunity::RouteTarget(rt(r))).collect(),
            ..attrs(as_path)
        },
        ..Update::default()
    })
}

/// An RT constraint announcement: `None` is the default route.
pub fn announce_rtc(targets: &[Option<&str>], nh: &str, origin_as: u32) -> DecodedUpdate {
    use weft_bgp::{MpReach, Rtc};
    decoded(Update {
        attributes: PathAttributes {
            mp_reach: Some(MpReach {
                family: weft_bgp::Family::RtConstraint,
                next_hop: NextHop::new(IpAddr::V4(ip(nh))),
                nlri: targets
                    .iter()
                    .map(|t| Nlri::Rtc(t.map_or(Rtc::default_route(), |t| Rtc::exact(origin_as, rt(t)))))
                    .collect(),
            }),
            ..attrs(&[])
        },
        ..Update::default()
    })
}
