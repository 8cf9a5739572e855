//! Interop: the OPENs GoBGP 3.10 sent (tests/golden, see its README) fed to a session in
//! OpenSent, as the listener of each capture scenario would have been configured. Each is
//! accepted, and the session negotiates what the two OPENs have in common.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use common::golden;
use weft_bgp::fsm::{
    Action, ConnId, DownReason, GracefulRestartConfig, Input, Negotiation, PeerConfig, Session, State, Time,
};
use weft_bgp::message::notification::{cease, code};
use weft_bgp::{AddPathFamily, Family, Message, Open, SessionCaps, decode_message};
use weft_net::Asn;

const GOBGP: ConnId = ConnId::Incoming(1);

/// The capture listener: 192.0.2.1, AS 64511 unless said otherwise, peer gobgpd at 192.0.2.2.
fn listener(local_as: u32, remote_as: u32, families: &[Family]) -> PeerConfig {
    let mut c = PeerConfig::new(
        "192.0.2.2".parse().unwrap(),
        Asn::new_unchecked(local_as),
        Asn::new_unchecked(remote_as),
        Ipv4Addr::new(192, 0, 2, 1),
    );
    c.passive = true;
    c.families = families.to_vec();
    c
}

/// Feeds GoBGP's OPEN and KEEPALIVE; returns what was negotiated and the OPEN as the session saw
/// it, and the session.
fn establish(config: PeerConfig, open_file: &str) -> (Negotiation, Open, Session) {
    let mut s = Session::new(config).unwrap();
    s.handle(Time::ZERO, Input::Start { passive: true });
    s.handle(Time::ZERO, Input::TcpConnected { connection: GOBGP });
    let out = s.handle(
        Time::ZERO,
        Input::Bytes {
            connection: GOBGP,
            data: golden(open_file),
        },
    );
    assert_eq!(s.state(), State::OpenConfirm, "{open_file}: {out:?}");
    let keepalive = out.iter().any(|a| match a {
        Action::Send { bytes, .. } => {
            decode_message(bytes, &SessionCaps::default()).map(|d| d.message) == Ok(Message::Keepalive)
        }
        _ => false,
    });
    assert!(keepalive, "{open_file}: answered with KEEPALIVE");
    let out = s.handle(
        Time::ZERO,
        Input::Bytes {
            connection: GOBGP,
            data: golden("gobgp_keepalive"),
        },
    );
    let (negotiated, remote) = out
        .into_iter()
        .find_map(|a| match a {
            Action::Established { negotiated, remote } => Some((negotiated, remote)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{open_file}: not Established"));
    assert_eq!(s.state(), State::Established);
    (negotiated, remote, s)
}

fn common_checks(n: &Negotiation, peer_as: u32) {
    assert_eq!(n.peer_as, peer_as);
    assert_eq!(n.peer_id, Ipv4Addr::new(192, 0, 2, 2));
    assert_eq!(n.peer_hold_time, 90);
    assert_eq!(n.hold_time, 90);
    // GoBGP sends route refresh (2) but not enhanced route refresh.
    assert!(n.route_refresh);
    assert!(!n.enhanced_route_refresh);
}

#[test]
fn unicast() {
    let (n, remote, _) = establish(
        listener(64511, 64512, &[Family::Ipv4Unicast, Family::Ipv6Unicast]),
        "gobgp_open_unicast",
    );
    common_checks(&n, 64512);
    assert_eq!(n.families, BTreeSet::from([Family::Ipv4Unicast, Family::Ipv6Unicast]));
    assert!(n.four_octet_as && !n.internal);
    assert_eq!(
        n.codec.receive,
        SessionCaps {
            four_octet_as: true,
            ..SessionCaps::default()
        }
    );
    assert_eq!(remote.my_as, 64512);
    // Only what we both have: a listener with IPv4 unicast alone gets IPv4 unicast.
    let (n, _, _) = establish(listener(64511, 64512, &[Family::Ipv4Unicast]), "gobgp_open_unicast");
    assert_eq!(n.families, BTreeSet::from([Family::Ipv4Unicast]));
}

#[test]
fn vpn_families() {
    let families = [Family::Vpnv4, Family::Vpnv6, Family::L2vpnEvpn, Family::RtConstraint];
    let (n, _, _) = establish(listener(64511, 64512, &families), "gobgp_open_vpn");
    common_checks(&n, 64512);
    assert_eq!(n.families, BTreeSet::from(families));
}

#[test]
fn four_octet_as_with_graceful_restart() {
    let mut c = listener(64511, 4_200_000_002, &[Family::Ipv4Unicast]);
    c.graceful_restart = Some(GracefulRestartConfig::new(&[Family::Ipv4Unicast]));
    let (n, remote, mut s) = establish(c, "gobgp_open_as4_graceful_restart");
    common_checks(&n, 4_200_000_002);
    assert_eq!(remote.my_as, weft_bgp::AS_TRANS);
    assert!(n.four_octet_as);
    let gr = n.graceful_restart.clone().unwrap();
    assert_eq!(gr.restart_time, 120);
    assert!(!gr.restarted);
    assert_eq!(gr.families.len(), 1);
    assert_eq!(gr.families[0].family, Family::Ipv4Unicast);
    assert!(!gr.families[0].forwarding);
    // GoBGP 3.10 does not set the N bit: a NOTIFICATION ends graceful restart.
    assert!(!n.graceful_notification);
    // The TCP connection breaks without a NOTIFICATION: the routes stay, for 120 s.
    let out = s.handle(Time::from_millis(1000), Input::TcpClosed { connection: GOBGP });
    let retain = out
        .iter()
        .find_map(|a| match a {
            Action::Down { retain, .. } => Some(retain.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(retain, [Family::Ipv4Unicast]);
    assert_eq!(s.timers().graceful_restart, Some(Time::from_millis(121_000)));
    // The capture's listener did not advertise the 4-octet AS capability: the peer is still
    // known by the AS in its capability, and its UPDATEs come with 2-octet AS_PATHs and AS4_PATH.
    let mut old = listener(64511, 4_200_000_002, &[Family::Ipv4Unicast]);
    old.four_octet_as = false;
    let (n, _, mut s) = establish(old, "gobgp_open_as4_graceful_restart");
    assert_eq!(n.peer_as, 4_200_000_002);
    assert!(!n.four_octet_as);
    assert_eq!(n.codec.receive, SessionCaps::default());
    let out = s.handle(
        Time::ZERO,
        Input::Bytes {
            connection: GOBGP,
            data: golden("gobgp_update_as4_path"),
        },
    );
    let decoded = out
        .iter()
        .find_map(|a| match a {
            Action::Update { decoded } => Some(decoded),
            _ => None,
        })
        .unwrap();
    assert!(decoded.errors.is_empty());
    assert!(decoded.update.attributes.as4_path.is_some());
}

#[test]
fn add_path_ibgp() {
    let mut c = listener(64512, 64512, &[Family::Ipv4Unicast]);
    c.add_path = vec![AddPathFamily::new(Family::Ipv4Unicast, true, true)];
    let (n, _, _) = establish(c, "gobgp_open_add_path");
    common_checks(&n, 64512);
    assert!(n.internal);
    assert!(n.codec.receive.add_path(Family::Ipv4Unicast));
    assert!(n.codec.send.add_path(Family::Ipv4Unicast));
    // Without ADD-PATH on our side, neither direction carries path identifiers.
    let (n, _, _) = establish(listener(64512, 64512, &[Family::Ipv4Unicast]), "gobgp_open_add_path");
    assert!(n.codec.receive.add_path.is_empty() && n.codec.send.add_path.is_empty());
}

/// GoBGP's captured UPDATEs decode on the session that negotiated their capabilities, and its
/// shutdown NOTIFICATION ends it with the shutdown communication.
#[test]
fn gobgp_updates_and_shutdown() {
    let (_, _, mut s) = establish(
        listener(64511, 64512, &[Family::Ipv4Unicast, Family::Ipv6Unicast]),
        "gobgp_open_unicast",
    );
    for file in [
        "gobgp_update_ipv4_communities",
        "gobgp_update_ipv4_as_path",
        "gobgp_update_ipv6",
        "gobgp_withdraw_ipv4",
        "gobgp_withdraw_ipv6",
    ] {
        let out = s.handle(
            Time::ZERO,
            Input::Bytes {
                connection: GOBGP,
                data: golden(file),
            },
        );
        let updates: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                Action::Update { decoded } => Some(decoded),
                _ => None,
            })
            .collect();
        assert_eq!(updates.len(), 1, "{file}");
        assert!(updates[0].errors.is_empty(), "{file}");
    }
    assert_eq!(s.status().messages_in.update, 5);
    let out = s.handle(
        Time::ZERO,
        Input::Bytes {
            connection: GOBGP,
            data: golden("gobgp_notification_shutdown"),
        },
    );
    let reason = out
        .iter()
        .find_map(|a| match a {
            Action::Down { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    let DownReason::Notification { received } = reason else {
        panic!("{reason:?}")
    };
    assert_eq!(
        (received.code, received.subcode),
        (code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN)
    );
    assert_eq!(received.shutdown_communication(), Some("weft golden capture"));
    assert_eq!(s.state(), State::Idle);
}
