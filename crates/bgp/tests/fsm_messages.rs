//! One session fed raw octets: the checks of the peer's OPEN and the NOTIFICATION each failure
//! sends (RFC 4271 §6.2, RFC 6286, RFC 5492), messages in the wrong state (RFC 6608), framing,
//! UPDATE errors (RFC 7606), ROUTE-REFRESH (RFC 2918, RFC 7313), and what Stop and the OpenSent
//! hold timer send.

use std::net::Ipv4Addr;
use std::time::Duration;

use weft_bgp::fsm::{Action, ConnId, DownReason, Input, PeerConfig, Session, State, Time};
use weft_bgp::message::keepalive::KEEPALIVE;
use weft_bgp::{
    Capability, Family, Message, Notification, Open, RefreshSubtype, RouteRefresh, SessionCaps, Update, decode_message,
};
use weft_net::Asn;

const PEER: ConnId = ConnId::Incoming(7);

fn config() -> PeerConfig {
    let mut c = PeerConfig::new(
        "192.0.2.2".parse().unwrap(),
        Asn::new_unchecked(64512),
        Asn::new_unchecked(64513),
        Ipv4Addr::new(192, 0, 2, 1),
    );
    c.passive = true;
    c.families = vec![Family::Ipv4Unicast, Family::L2vpnEvpn];
    c
}

fn peer_open() -> Open {
    Open::new(
        Asn::new_unchecked(64513),
        90,
        Ipv4Addr::new(192, 0, 2, 2),
        vec![Capability::multiprotocol(Family::Ipv4Unicast), Capability::RouteRefresh],
    )
}

fn encode(m: &Message) -> Vec<u8> {
    m.encode(&SessionCaps::modern()).unwrap()
}

/// A session with one incoming connection in OpenSent.
fn open_sent(config: PeerConfig) -> Session {
    let mut s = Session::new(config).unwrap();
    s.handle(Time::ZERO, Input::Start { passive: true });
    let out = s.handle(Time::ZERO, Input::TcpConnected { connection: PEER });
    assert!(matches!(&sent(&out)[..], [Message::Open(_)]));
    assert_eq!(s.state(), State::OpenSent);
    s
}

fn feed(s: &mut Session, bytes: Vec<u8>) -> Vec<Action> {
    s.handle(
        Time::ZERO,
        Input::Bytes {
            connection: PEER,
            data: bytes,
        },
    )
}

fn established() -> Session {
    let mut s = open_sent(config());
    feed(&mut s, encode(&Message::Open(peer_open())));
    assert_eq!(s.state(), State::OpenConfirm);
    feed(&mut s, KEEPALIVE.to_vec());
    assert_eq!(s.state(), State::Established);
    s
}

fn sent(actions: &[Action]) -> Vec<Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { bytes, .. } => Some(decode_message(bytes, &SessionCaps::modern()).unwrap().message),
            _ => None,
        })
        .collect()
}

/// The NOTIFICATION sent, checking the connection was closed after it and the session is Idle.
fn notification(s: &Session, actions: &[Action]) -> Notification {
    let n = match &sent(actions)[..] {
        [Message::Notification(n)] => n.clone(),
        other => panic!("expected one NOTIFICATION, sent {other:?}"),
    };
    let send_at = actions.iter().position(|a| matches!(a, Action::Send { .. })).unwrap();
    let close_at = actions
        .iter()
        .position(|a| *a == Action::Close { connection: PEER })
        .expect("closed");
    assert!(send_at < close_at);
    assert_eq!(s.state(), State::Idle);
    assert!(s.connections().is_empty());
    n
}

fn open_with(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = encode(&Message::Open(peer_open()));
    f(&mut bytes);
    bytes
}

#[test]
fn unsupported_version_gets_2_1_with_our_version() {
    let mut s = open_sent(config());
    let out = feed(&mut s, open_with(|b| b[19] = 5));
    let n = notification(&s, &out);
    assert_eq!((n.code, n.subcode, n.data), (2, 1, vec![0, 4]));
}

#[test]
fn bad_peer_as_gets_2_2() {
    let mut s = open_sent(config());
    let mut o = peer_open();
    o.my_as = 64999;
    o.capabilities.retain(|c| !matches!(c, Capability::FourOctetAs(_)));
    let out = feed(&mut s, encode(&Message::Open(o)));
    assert_eq!(notification(&s, &out).subcode, 2);
    // A 4-octet AS peer is known by its capability (RFC 6793), not by AS_TRANS.
    let mut c = config();
    c.remote_as = Asn::new_unchecked(4_200_000_002);
    let mut s = open_sent(c.clone());
    let o = Open::new(
        Asn::new_unchecked(4_200_000_002),
        90,
        Ipv4Addr::new(192, 0, 2, 2),
        vec![],
    );
    assert_eq!(o.my_as, weft_bgp::AS_TRANS);
    feed(&mut s, encode(&Message::Open(o.clone())));
    assert_eq!(s.state(), State::OpenConfirm);
    // Without the capability the peer is AS_TRANS, which is not what was configured.
    let mut s = open_sent(c);
    let mut old = o;
    old.capabilities.clear();
    let out = feed(&mut s, encode(&Message::Open(old)));
    assert_eq!(notification(&s, &out).subcode, 2);
}

#[test]
fn bad_identifier_gets_2_3() {
    let mut s = open_sent(config());
    let out = feed(&mut s, open_with(|b| b[24..28].copy_from_slice(&[0; 4])));
    assert_eq!(notification(&s, &out).subcode, 3);
    // iBGP with our own identifier (RFC 6286 §2.2).
    let mut c = config();
    c.remote_as = c.local_as;
    let mut s = open_sent(c);
    let mut o = peer_open();
    o.my_as = 64512;
    o.capabilities = vec![Capability::FourOctetAs(64512)];
    o.bgp_id = Ipv4Addr::new(192, 0, 2, 1);
    let out = feed(&mut s, encode(&Message::Open(o)));
    assert_eq!(notification(&s, &out).subcode, 3);
}

#[test]
fn hold_time_1_or_2_gets_2_6() {
    for hold in [1u8, 2] {
        let mut s = open_sent(config());
        let out = feed(&mut s, open_with(|b| b[22..24].copy_from_slice(&[0, hold])));
        assert_eq!(notification(&s, &out).subcode, 6, "hold {hold}");
    }
}

#[test]
fn no_family_in_common_gets_2_7_listing_ours() {
    let mut s = open_sent(config());
    let mut o = peer_open();
    o.capabilities = vec![Capability::multiprotocol(Family::Vpnv6), Capability::FourOctetAs(64513)];
    let out = feed(&mut s, encode(&Message::Open(o)));
    let n = notification(&s, &out);
    assert_eq!((n.code, n.subcode), (2, 7));
    assert_eq!(n.data, [1, 4, 0, 1, 0, 1, 1, 4, 0, 25, 0, 70]);
    // Unless configured to keep such a session.
    let mut c = config();
    c.require_common_family = false;
    let mut s = open_sent(c);
    let mut o = peer_open();
    o.capabilities = vec![Capability::multiprotocol(Family::Vpnv6)];
    feed(&mut s, encode(&Message::Open(o)));
    assert_eq!(s.state(), State::OpenConfirm);
}

#[test]
fn unexpected_messages_are_fsm_errors() {
    // KEEPALIVE in OpenSent: 5/1.
    let mut s = open_sent(config());
    let out = feed(&mut s, KEEPALIVE.to_vec());
    assert_eq!(notification(&s, &out), Notification::new(5, 1, []));
    // UPDATE in OpenConfirm: 5/2, whatever it holds.
    let mut s = open_sent(config());
    feed(&mut s, encode(&Message::Open(peer_open())));
    let out = feed(
        &mut s,
        encode(&Message::Update(Update::end_of_rib(Family::Ipv4Unicast))),
    );
    assert_eq!(notification(&s, &out), Notification::new(5, 2, []));
    // ROUTE-REFRESH in OpenConfirm: 5/2.
    let mut s = open_sent(config());
    feed(&mut s, encode(&Message::Open(peer_open())));
    let out = feed(
        &mut s,
        encode(&Message::RouteRefresh(RouteRefresh::request(Family::Ipv4Unicast))),
    );
    assert_eq!(notification(&s, &out).subcode, 2);
    // OPEN in Established: 5/3, and the session goes down.
    let mut s = established();
    let out = feed(&mut s, encode(&Message::Open(peer_open())));
    assert_eq!(notification(&s, &out), Notification::new(5, 3, []));
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Down {
            reason: DownReason::Error { .. },
            ..
        }
    )));
}

#[test]
fn header_errors() {
    let mut s = established();
    let mut bad = KEEPALIVE.to_vec();
    bad[0] = 0;
    let out = feed(&mut s, bad);
    assert_eq!(notification(&s, &out), Notification::new(1, 1, []));
    let mut s = established();
    let out = feed(&mut s, [vec![0xff; 16], vec![0, 19, 9]].concat());
    assert_eq!(notification(&s, &out), Notification::new(1, 3, [9]));
}

#[test]
fn messages_split_anywhere_are_reassembled() {
    let mut s = open_sent(config());
    let mut bytes = encode(&Message::Open(peer_open()));
    bytes.extend_from_slice(&KEEPALIVE);
    bytes.extend_from_slice(&KEEPALIVE);
    for b in bytes {
        feed(&mut s, vec![b]);
    }
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.status().messages_in.keepalive, 2);
}

#[test]
fn malformed_update_resets_and_treat_as_withdraw_does_not() {
    let mut s = established();
    // ORIGIN 7 is undefined: treat-as-withdraw (RFC 7606 §7.1).
    let body = [
        0, 0, 0, 14, 0x40, 1, 1, 7, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 2, 24, 198, 51, 100,
    ];
    let mut msg = vec![0xff; 16];
    msg.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    msg.push(2);
    msg.extend_from_slice(&body);
    let out = feed(&mut s, msg);
    assert_eq!(s.state(), State::Established);
    let decoded = out
        .iter()
        .find_map(|a| match a {
            Action::Update { decoded } => Some(decoded),
            _ => None,
        })
        .unwrap();
    assert!(decoded.treat_as_withdraw());
    assert!(sent(&out).is_empty());
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Log { message, .. } if message.contains("treat-as-withdraw")))
    );
    // Total Path Attribute Length past the end: session reset with 3/1.
    let out = feed(&mut s, [vec![0xff; 16], vec![0, 24, 2, 0, 0, 0, 9, 0x40]].concat());
    assert_eq!(notification(&s, &out), Notification::new(3, 1, []));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Down { reason: DownReason::Error { sent, .. }, .. } if sent.code == 3))
    );
}

#[test]
fn route_refresh_is_passed_up_only_when_negotiated() {
    let mut s = established();
    let rr = |family: Family, subtype| {
        encode(&Message::RouteRefresh(RouteRefresh {
            afi: family.afi(),
            safi: family.safi(),
            subtype,
        }))
    };
    let refreshes = |out: &[Action]| out.iter().filter(|a| matches!(a, Action::RouteRefresh { .. })).count();
    let out = feed(&mut s, rr(Family::Ipv4Unicast, RefreshSubtype::Request));
    assert_eq!(
        out.iter().find(|a| matches!(a, Action::RouteRefresh { .. })),
        Some(&Action::RouteRefresh {
            family: Family::Ipv4Unicast,
            subtype: RefreshSubtype::Request
        })
    );
    // EVPN was not negotiated (the peer has only IPv4 unicast): ignored (RFC 2918 §4).
    assert_eq!(
        refreshes(&feed(&mut s, rr(Family::L2vpnEvpn, RefreshSubtype::Request))),
        0
    );
    // The peer did not advertise enhanced route refresh: BoRR is ignored.
    assert_eq!(
        refreshes(&feed(
            &mut s,
            rr(Family::Ipv4Unicast, RefreshSubtype::BeginningOfRefresh)
        )),
        0
    );
    assert_eq!(
        refreshes(&feed(&mut s, rr(Family::Ipv4Unicast, RefreshSubtype::Other(9)))),
        0
    );
    assert_eq!(s.state(), State::Established);
    // A ROUTE-REFRESH of the wrong length: 7/1 with the message.
    let out = feed(&mut s, [vec![0xff; 16], vec![0, 22, 5, 0, 1, 0]].concat());
    let n = notification(&s, &out);
    assert_eq!((n.code, n.subcode), (7, 1));
}

#[test]
fn open_sent_hold_timer_is_the_large_value() {
    let mut s = open_sent(config());
    assert_eq!(s.next_deadline(), Some(Time::from_millis(240_000)));
    let out = s.handle(Time::from_millis(239_999), Input::Tick);
    assert!(sent(&out).is_empty());
    let out = s.handle(Time::from_millis(240_000), Input::Tick);
    assert_eq!(notification(&s, &out), Notification::new(4, 0, []));
    assert!(out.iter().any(|a| matches!(a, Action::Log { message, .. }
        if message == "peer 192.0.2.2: hold timer expired (240 s), sending NOTIFICATION 4/0")));
}

#[test]
fn stop_in_open_sent_sends_cease() {
    let mut s = open_sent(config());
    let out = s.handle(Time::ZERO, Input::shutdown("bye"));
    let n = notification(&s, &out);
    assert_eq!((n.code, n.subcode), (6, 2));
    assert_eq!(n.shutdown_communication(), Some("bye"));
    assert!(
        !out.iter().any(|a| matches!(a, Action::Down { .. })),
        "never Established"
    );
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn idle_refuses_and_late_outgoing_connections_are_closed() {
    let mut s = Session::new(config()).unwrap();
    let out = s.handle(Time::ZERO, Input::TcpConnected { connection: PEER });
    assert_eq!(
        out.iter().filter(|a| **a == Action::Close { connection: PEER }).count(),
        1
    );
    assert_eq!(s.state(), State::Idle);
    // A connection attempt abandoned by ConnectRetry that completes later.
    let mut c = config();
    c.passive = false;
    c.connect_retry = Duration::from_secs(5);
    let mut s = Session::new(c).unwrap();
    let out = s.handle(Time::ZERO, Input::Start { passive: false });
    assert!(out.contains(&Action::Connect {
        connection: ConnId::Outgoing(1)
    }));
    let out = s.handle(Time::from_millis(5000), Input::Tick);
    assert!(out.contains(&Action::Close {
        connection: ConnId::Outgoing(1)
    }));
    assert!(out.contains(&Action::Connect {
        connection: ConnId::Outgoing(2)
    }));
    let out = s.handle(
        Time::from_millis(5001),
        Input::TcpConnected {
            connection: ConnId::Outgoing(1),
        },
    );
    assert_eq!(
        out.iter()
            .filter(|a| !matches!(a, Action::Log { .. }))
            .collect::<Vec<_>>(),
        [&Action::Close {
            connection: ConnId::Outgoing(1)
        }]
    );
    assert_eq!(s.state(), State::Connect);
    // Nothing to send before Established.
    let out = s.handle(
        Time::from_millis(5002),
        Input::SendUpdate(Box::new(Update::end_of_rib(Family::Ipv4Unicast))),
    );
    assert!(sent(&out).is_empty());
}

#[test]
fn a_long_notification_is_cut_to_fit() {
    // An UPDATE error whose data (the offending attribute) would not fit a 4096-octet
    // NOTIFICATION is still sent.
    let mut c = config();
    c.extended_message = true;
    let mut s = open_sent(c);
    let mut o = peer_open();
    o.capabilities.push(Capability::ExtendedMessage);
    feed(&mut s, encode(&Message::Open(o)));
    feed(&mut s, KEEPALIVE.to_vec());
    assert_eq!(s.state(), State::Established);
    let out = s.handle(
        Time::ZERO,
        Input::Stop {
            notification: Some(Notification::new(6, 2, vec![b'x'; 70_000])),
        },
    );
    let bytes = out
        .iter()
        .find_map(|a| match a {
            Action::Send { bytes, .. } => Some(bytes.len()),
            _ => None,
        })
        .unwrap();
    assert_eq!(bytes, 65535);
}
