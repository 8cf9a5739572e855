//! Two sessions wired back to back over a simulated network and clock (tests/fsm_sim): the OPEN
//! exchange, keepalives, hold timer expiry, reconnection with backoff, collisions, stop with a
//! shutdown communication, UPDATE error handling and graceful restart, all deterministic.

mod fsm_sim;

use std::collections::BTreeSet;
use std::time::Duration;

use fsm_sim::{Pair, Side, config, configs, secs};
use weft_bgp::attribute::PathAttributes;
use weft_bgp::fsm::{
    Action, ConnId, DownReason, GrFamily, GracefulRestartConfig, Input, Session, StaleCause, State, Time,
};
use weft_bgp::message::notification::{cease, code};
use weft_bgp::{Family, Message, Prefix, RouteRefresh, Update};

fn established_action(p: &Pair, side: Side, from: usize) -> weft_bgp::fsm::Negotiation {
    p.actions(side, from)
        .into_iter()
        .find_map(|(_, a)| match a {
            Action::Established { negotiated, .. } => Some(negotiated),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{side:?} never reached Established"))
}

fn downs(p: &Pair, side: Side, from: usize) -> Vec<(Time, DownReason, Vec<Family>)> {
    p.actions(side, from)
        .into_iter()
        .filter_map(|(t, a)| match a {
            Action::Down { reason, retain } => Some((t, reason, retain)),
            _ => None,
        })
        .collect()
}

fn connects(p: &Pair, side: Side, from: usize) -> Vec<Time> {
    p.actions(side, from)
        .into_iter()
        .filter_map(|(t, a)| matches!(a, Action::Connect { .. }).then_some(t))
        .collect()
}

fn flushes(p: &Pair, side: Side, from: usize) -> Vec<(Vec<Family>, StaleCause)> {
    p.actions(side, from)
        .into_iter()
        .filter_map(|(_, a)| match a {
            Action::FlushStale { families, cause } => Some((families, cause)),
            _ => None,
        })
        .collect()
}

fn keepalive_times(p: &Pair, side: Side, from: usize) -> Vec<Time> {
    p.sent(side, from)
        .into_iter()
        .filter_map(|(t, _, m)| matches!(m, Message::Keepalive).then_some(t))
        .collect()
}

fn established_pair(a: weft_bgp::PeerConfig, b: weft_bgp::PeerConfig) -> Pair {
    let mut p = Pair::new(a, b);
    p.start_both();
    assert!(p.both_established(), "{:?}", p.states());
    p
}

fn t(s: u64) -> Time {
    Time::from_millis(s * 1000)
}

#[test]
fn open_exchange_reaches_established_both_ways() {
    let (a, mut b) = configs();
    b.passive = true;
    let p = established_pair(a, b);
    let na = established_action(&p, Side::A, 0);
    let nb = established_action(&p, Side::B, 0);
    for (n, peer_id, peer_as) in [(&na, "192.0.2.2", 64513), (&nb, "192.0.2.1", 64512)] {
        assert_eq!(n.hold_time, 90);
        assert_eq!(n.peer_hold_time, 90);
        assert_eq!(n.peer_id.to_string(), peer_id);
        assert_eq!(n.peer_as, peer_as);
        assert_eq!(n.families, BTreeSet::from([Family::Ipv4Unicast]));
        assert!(n.four_octet_as && n.route_refresh && n.enhanced_route_refresh && !n.internal);
        assert!(n.graceful_restart.is_none());
    }
    for side in [Side::A, Side::B] {
        let s = p.session(side);
        assert_eq!(s.connections().len(), 1);
        let status = s.status();
        assert_eq!(status.state, State::Established);
        assert_eq!(status.messages_in.open, 1);
        assert_eq!(status.messages_in.keepalive, 1);
        assert_eq!(status.messages_out.open, 1);
        assert_eq!(status.established_since, Some(Time::ZERO));
        assert_eq!(status.peer_hold_time, Some(90));
        assert_eq!(status.families, [Family::Ipv4Unicast]);
        assert_eq!(status.last_error, None);
    }
    assert_eq!(p.a.connections()[0].0, ConnId::Outgoing(1));
    // Every state on the way, in order, on the active side.
    let states: Vec<State> = p
        .actions(Side::A, 0)
        .into_iter()
        .filter_map(|(_, a)| match a {
            Action::StateChanged { to, .. } => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [State::Connect, State::OpenSent, State::OpenConfirm, State::Established]
    );
}

#[test]
fn keepalives_flow_every_third_of_the_hold_time() {
    let (mut a, mut b) = configs();
    a.hold_time = 30;
    b.passive = true;
    let mut p = established_pair(a, b);
    assert_eq!(established_action(&p, Side::B, 0).hold_time, 30);
    let m = p.mark();
    p.advance(secs(100));
    for side in [Side::A, Side::B] {
        let times = keepalive_times(&p, side, m);
        let expected: Vec<Time> = (1..=10).map(|i| t(i * 10)).collect();
        assert_eq!(times, expected, "{side:?}");
    }
    assert!(p.both_established());
    // The hold timer of each side was restarted by the other's keepalives.
    let hold = p.a.timers().connections[0].hold;
    assert_eq!(hold, Some(t(130)));
}

#[test]
fn a_cut_link_expires_the_hold_timer_then_the_session_comes_back() {
    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.start_both();
    assert!(p.both_established());
    p.advance(secs(45));
    // The last keepalives crossed at 30 s.
    p.cut = true;
    let m = p.mark();
    p.advance_to(Time::from_millis(119_999));
    assert!(p.both_established());
    p.advance_to(t(120));
    for side in [Side::A, Side::B] {
        let d = downs(&p, side, m);
        assert_eq!(d.len(), 1, "{side:?}");
        assert_eq!(d[0].0, t(120));
        assert_eq!(d[0].1, DownReason::HoldTimerExpired { hold_time: 90 });
        assert!(d[0].2.is_empty());
        let sent = p.notifications_sent(side, m);
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].1.code, sent[0].1.subcode), (code::HOLD_TIMER_EXPIRED, 0));
        assert_eq!(p.session(side).state(), State::Idle);
        assert!(p.session(side).connections().is_empty());
    }
    assert!(
        p.logs(Side::A)
            .contains(&"peer 192.0.2.2: hold timer expired (90 s), sending NOTIFICATION 4/0".to_string())
    );
    assert_eq!(
        p.a.status().last_error.as_deref(),
        Some("hold timer expired (90 s), sent NOTIFICATION 4/0")
    );
    // After the idle hold (1 s) both try to connect, fail while the link is cut, and retry every
    // ConnectRetry (30 s).
    p.advance_to(t(140));
    assert_eq!(connects(&p, Side::A, m), [t(121)]);
    assert_eq!(p.a.state(), State::Active);
    p.cut = false;
    p.advance_to(t(151));
    assert!(p.both_established());
    assert_eq!(connects(&p, Side::A, m), [t(121), t(151)]);
    assert_eq!(p.a.status().established_transitions, 2);
    assert_eq!(p.a.status().established_since, Some(t(151)));
    assert_eq!(p.a.status().last_error.as_deref(), Some("TCP connection failed"));
}

#[test]
fn hold_time_zero_means_no_keepalives_and_no_expiry() {
    let (mut a, b) = configs();
    a.hold_time = 0;
    let mut p = established_pair(a, b);
    assert_eq!(established_action(&p, Side::A, 0).hold_time, 0);
    assert_eq!(established_action(&p, Side::B, 0).hold_time, 0);
    assert_eq!(p.a.next_deadline(), None);
    assert_eq!(p.b.next_deadline(), None);
    let m = p.mark();
    p.advance(secs(3600));
    assert!(keepalive_times(&p, Side::A, m).is_empty());
    assert!(keepalive_times(&p, Side::B, m).is_empty());
    p.cut = true;
    p.advance(secs(10 * 3600));
    assert!(p.both_established());
    assert!(downs(&p, Side::A, 0).is_empty());
}

/// Both connect at once (RFC 4271 §6.8): one connection survives on both sides, the one the
/// speaker with the higher BGP Identifier initiated; the other is closed with Cease/7.
#[test]
fn collision_keeps_the_connection_of_the_higher_router_id() {
    for (a_n, b_n) in [(1u8, 2u8), (2, 1)] {
        let a = config(a_n, 64512, b_n, 64513);
        let b = config(b_n, 64513, a_n, 64512);
        let p = established_pair(a, b);
        let (ca, sa) = p.a.connections()[0];
        let (cb, sb) = p.b.connections()[0];
        assert_eq!((p.a.connections().len(), p.b.connections().len()), (1, 1));
        assert_eq!((sa, sb), (State::Established, State::Established));
        let a_higher = a_n > b_n;
        assert_eq!(
            ca.is_outgoing(),
            a_higher,
            "A keeps its own connection iff its id is higher"
        );
        assert_eq!(cb.is_outgoing(), !a_higher);
        // The losing connection got Cease / Connection Collision Resolution, and only it.
        let ceases: Vec<(Side, ConnId)> = [Side::A, Side::B]
            .into_iter()
            .flat_map(|side| {
                p.notifications_sent(side, 0)
                    .into_iter()
                    .map(move |(c, n)| (side, c, n))
            })
            .map(|(side, c, n)| {
                assert_eq!(
                    (n.code, n.subcode),
                    (code::CEASE, cease::CONNECTION_COLLISION_RESOLUTION)
                );
                (side, c)
            })
            .collect();
        assert!(!ceases.is_empty());
        assert!(ceases.iter().all(|&(side, c)| c != p.session(side).connections()[0].0));
        // A collision is not a failure.
        for side in [Side::A, Side::B] {
            assert!(downs(&p, side, 0).is_empty());
            assert_eq!(p.session(side).status().connect_retry_counter, 0);
            assert_eq!(p.session(side).status().established_transitions, 1);
        }
    }
}

#[test]
fn peer_as_mismatch_is_refused_with_bad_peer_as() {
    let (mut a, mut b) = configs();
    a.remote_as = weft_net::Asn::new_unchecked(64999);
    b.passive = true;
    let mut p = Pair::new(a, b);
    p.start_both();
    let sent = p.notifications_sent(Side::A, 0);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].1.code, sent[0].1.subcode), (code::OPEN_MESSAGE_ERROR, 2));
    assert_eq!(p.a.state(), State::Idle);
    assert_eq!(
        p.b.status().last_notification_received.map(|n| (n.code, n.subcode)),
        Some((2, 2))
    );
    assert!(
        p.a.status()
            .last_error
            .unwrap()
            .contains("peer announced AS 64513, configured AS is 64999")
    );
}

#[test]
fn ibgp_peer_with_our_identifier_is_refused() {
    let a = config(1, 64512, 2, 64512);
    let mut b = config(1, 64512, 1, 64512);
    b.passive = true;
    let mut p = Pair::new(a, b);
    p.start_both();
    let sent = p.notifications_sent(Side::A, 0);
    assert_eq!((sent[0].1.code, sent[0].1.subcode), (code::OPEN_MESSAGE_ERROR, 3));
}

/// After repeated failures the session waits 1, 2, 4, … 60 s before reconnecting.
#[test]
fn idle_hold_backs_off_exponentially_and_is_bounded() {
    let (mut a, mut b) = configs();
    a.remote_as = weft_net::Asn::new_unchecked(64999);
    b.passive = true;
    b.idle_hold.initial = Duration::ZERO;
    let mut p = Pair::new(a, b);
    p.start_both();
    p.advance(secs(400));
    let times = connects(&p, Side::A, 0);
    let gaps: Vec<u64> = times
        .windows(2)
        .map(|w| (w[1].as_millis() - w[0].as_millis()) / 1000)
        .collect();
    assert_eq!(gaps, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
    assert_eq!(p.a.status().connect_retry_counter, 12);
    // A manual start resets the backoff.
    let m = p.mark();
    let now = p.now;
    p.input(Side::A, Input::Stop { notification: None });
    p.input(Side::A, Input::Start { passive: false });
    p.advance(secs(2));
    assert_eq!(connects(&p, Side::A, m), [now, now + secs(1)]);
}

#[test]
fn stop_sends_cease_with_the_shutdown_communication() {
    let (a, mut b) = configs();
    b.passive = true;
    let mut p = established_pair(a, b);
    let m = p.mark();
    p.input(Side::A, Input::shutdown("maintenance until 14:00"));
    let sent = p.notifications_sent(Side::A, m);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].1.code, sent[0].1.subcode),
        (code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN)
    );
    assert_eq!(sent[0].1.shutdown_communication(), Some("maintenance until 14:00"));
    match &downs(&p, Side::A, m)[..] {
        [(_, DownReason::Stopped { sent }, retain)] => {
            assert_eq!(sent.subcode, cease::ADMINISTRATIVE_SHUTDOWN);
            assert!(retain.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match &downs(&p, Side::B, m)[..] {
        [(_, DownReason::Notification { received }, _)] => {
            assert_eq!(received.shutdown_communication(), Some("maintenance until 14:00"))
        }
        other => panic!("{other:?}"),
    }
    assert!(
        p.logs(Side::B)
            .iter()
            .any(|l| l.contains("\"maintenance until 14:00\""))
    );
    // A stays down; B keeps listening.
    let m = p.mark();
    p.advance(secs(600));
    assert_eq!(p.a.state(), State::Idle);
    assert!(connects(&p, Side::A, m).is_empty());
    assert_eq!(p.a.next_deadline(), None);
    assert_eq!(p.b.state(), State::Active);
}

/// A passive peer keeps getting refused while the other is stopped, without a busy loop.
#[test]
fn a_stopped_session_refuses_connections() {
    let (mut a, b) = configs();
    a.passive = true;
    let mut p = Pair::new(a, b);
    p.input(Side::B, Input::Start { passive: false });
    p.advance(secs(95));
    assert_eq!(p.a.state(), State::Idle);
    // B tried at 0, 30, 60, 90 and was closed in OpenSent each time.
    assert_eq!(connects(&p, Side::B, 0), [t(0), t(30), t(60), t(90)]);
    assert_eq!(p.b.state(), State::Active);
}

#[test]
fn route_refresh_and_updates_cross() {
    let (a, mut b) = configs();
    b.passive = true;
    let mut p = established_pair(a, b);
    let m = p.mark();
    p.input(
        Side::A,
        Input::SendRouteRefresh(RouteRefresh::request(Family::Ipv4Unicast)),
    );
    p.input(
        Side::A,
        Input::SendRouteRefresh(RouteRefresh::request(Family::Ipv6Unicast)),
    );
    let refreshes: Vec<Action> = p
        .actions(Side::B, m)
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| matches!(a, Action::RouteRefresh { .. }))
        .collect();
    assert_eq!(
        refreshes,
        [Action::RouteRefresh {
            family: Family::Ipv4Unicast,
            subtype: weft_bgp::RefreshSubtype::Request
        }]
    );
    assert!(p.logs(Side::A).iter().any(|l| l.contains("not sent")));
    // An UPDATE sent restarts the keepalive timer.
    p.advance(secs(20));
    let update = Update {
        attributes: PathAttributes {
            origin: Some(weft_bgp::Origin::Igp),
            as_path: Some(Default::default()),
            next_hop: Some("192.0.2.1".parse().unwrap()),
            ..PathAttributes::default()
        },
        nlri: vec![Prefix::new("198.51.100.0/24".parse().unwrap())],
        ..Update::default()
    };
    let m = p.mark();
    p.input(Side::A, Input::SendUpdate(Box::new(update.clone())));
    assert_eq!(p.a.timers().connections[0].keepalive, Some(t(50)));
    let got: Vec<Update> = p
        .actions(Side::B, m)
        .into_iter()
        .filter_map(|(_, a)| match a {
            Action::Update { decoded } => Some(decoded.update),
            _ => None,
        })
        .collect();
    assert_eq!(got, [update]);
    assert_eq!(p.b.status().messages_in.update, 1);
}

/// An UPDATE with an error RFC 7606 lets the session survive is passed up with its outcome.
#[test]
fn treat_as_withdraw_is_passed_up_and_the_session_stays() {
    let (a, mut b) = configs();
    b.passive = true;
    let mut p = established_pair(a, b);
    // Announces a prefix without ORIGIN: treat-as-withdraw (RFC 7606 §3 (d)).
    let mut update = Update::default();
    update.attributes.as_path = Some(Default::default());
    update.attributes.next_hop = Some("192.0.2.1".parse().unwrap());
    update.nlri = vec![Prefix::new("198.51.100.0/24".parse().unwrap())];
    let m = p.mark();
    p.input(Side::A, Input::SendUpdate(Box::new(update)));
    let decoded = p
        .actions(Side::B, m)
        .into_iter()
        .find_map(|(_, a)| match a {
            Action::Update { decoded } => Some(decoded),
            _ => None,
        })
        .unwrap();
    assert!(decoded.treat_as_withdraw());
    assert!(decoded.announcements().is_empty());
    assert_eq!(decoded.withdrawals().len(), 1);
    assert!(p.both_established());
    assert!(p.notifications_sent(Side::B, m).is_empty());
}

/// A malformed UPDATE the codec answers with a session reset: its NOTIFICATION goes out, the
/// session goes down.
#[test]
fn malformed_update_resets_the_session() {
    let (a, mut b) = configs();
    b.passive = true;
    let mut p = established_pair(a, b);
    let conn = p.b.established_connection().unwrap();
    // Withdrawn Routes Length runs past the message: Malformed Attribute List (3/1).
    let mut bytes = vec![0xff; 16];
    bytes.extend_from_slice(&[0, 23, 2, 0, 5, 0, 0]);
    let m = p.mark();
    p.input(
        Side::B,
        Input::Bytes {
            connection: conn,
            data: bytes,
        },
    );
    let sent = p.notifications_sent(Side::B, m);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].1.code, sent[0].1.subcode), (code::UPDATE_MESSAGE_ERROR, 1));
    match &downs(&p, Side::B, m)[..] {
        [(_, DownReason::Error { sent, .. }, _)] => assert_eq!((sent.code, sent.subcode), (3, 1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.b.state(), State::Idle, "for the idle hold time");
    assert_eq!(p.b.status().connect_retry_counter, 1);
    assert!(matches!(
        &downs(&p, Side::A, m)[..],
        [(_, DownReason::Notification { .. }, _)]
    ));
    // A reconnects after its idle hold.
    p.advance(secs(2));
    assert!(p.both_established());
}

/// The same inputs at the same times give the same outputs.
#[test]
fn runs_are_replayable() {
    let run = || {
        let (a, b) = configs();
        let mut p = Pair::new(a, b);
        p.start_both();
        p.advance(secs(50));
        p.cut = true;
        p.advance(secs(200));
        p.cut = false;
        p.advance(secs(100));
        p.input(Side::B, Input::shutdown("bye"));
        p.advance(secs(100));
        p.history
    };
    let first = run();
    assert!(first.len() > 50);
    assert_eq!(first, run());
}

// ----- graceful restart (RFC 4724, RFC 8538) -----

fn gr_configs(notification: bool) -> (weft_bgp::PeerConfig, weft_bgp::PeerConfig) {
    let (mut a, mut b) = configs();
    b.passive = true;
    for c in [&mut a, &mut b] {
        c.families = vec![Family::Ipv4Unicast, Family::L2vpnEvpn];
        let mut gr = GracefulRestartConfig::new(&c.families);
        gr.notification = notification;
        c.graceful_restart = Some(gr);
    }
    (a, b)
}

/// B's process dies: its connections go away (A sees them close when `tell_a`), and a fresh,
/// active session with the R bit takes its place (not started yet).
fn restart_b(p: &mut Pair, b: &weft_bgp::PeerConfig, tell_a: bool) {
    let conn = p.a.established_connection().unwrap();
    if tell_a {
        p.input(Side::A, Input::TcpClosed { connection: conn });
    }
    let mut b = b.clone();
    b.passive = false;
    if let Some(gr) = &mut b.graceful_restart {
        gr.restarting = true;
    }
    p.b = Session::new(b).unwrap();
}

#[test]
fn graceful_restart_keeps_routes_until_end_of_rib() {
    let (a, b) = gr_configs(true);
    let mut p = established_pair(a, b.clone());
    let n = established_action(&p, Side::A, 0);
    let gr = n.graceful_restart.unwrap();
    assert_eq!(gr.restart_time, 120);
    assert!(!gr.restarted);
    assert!(n.graceful_notification);
    p.advance(secs(10));
    let m = p.mark();
    restart_b(&mut p, &b, true);
    let d = downs(&p, Side::A, m);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, DownReason::ConnectionLost);
    assert_eq!(d[0].2, [Family::Ipv4Unicast, Family::L2vpnEvpn]);
    assert_eq!(p.a.timers().graceful_restart, Some(t(130)));
    assert_eq!(p.a.status().stale_families, [Family::Ipv4Unicast, Family::L2vpnEvpn]);
    // B is back 5 s later and connects.
    p.advance(secs(5));
    p.input(Side::B, Input::Start { passive: false });
    p.advance(secs(2));
    assert!(p.both_established());
    let n = established_action(&p, Side::A, m);
    assert!(n.graceful_restart.as_ref().unwrap().restarted, "R bit");
    assert!(flushes(&p, Side::A, m).is_empty());
    assert_eq!(p.a.timers().graceful_restart, None);
    let back = p.a.status().established_since.unwrap();
    assert_eq!(p.a.timers().stale, Some(back + secs(360)));
    // End-of-RIB, family by family.
    p.input(
        Side::B,
        Input::SendUpdate(Box::new(Update::end_of_rib(Family::L2vpnEvpn))),
    );
    assert_eq!(
        flushes(&p, Side::A, m),
        [(vec![Family::L2vpnEvpn], StaleCause::EndOfRib)]
    );
    p.input(
        Side::B,
        Input::SendUpdate(Box::new(Update::end_of_rib(Family::Ipv4Unicast))),
    );
    assert_eq!(flushes(&p, Side::A, m).len(), 2);
    assert_eq!(p.a.timers().stale, None);
    assert!(p.a.status().stale_families.is_empty());
}

#[test]
fn graceful_restart_gives_up_after_the_restart_time() {
    let (a, b) = gr_configs(true);
    let mut p = established_pair(a, b.clone());
    let m = p.mark();
    restart_b(&mut p, &b, true);
    p.advance(secs(119));
    assert!(flushes(&p, Side::A, m).is_empty());
    p.advance(secs(1));
    assert_eq!(
        flushes(&p, Side::A, m),
        [(
            vec![Family::Ipv4Unicast, Family::L2vpnEvpn],
            StaleCause::RestartTimerExpired
        )]
    );
}

#[test]
fn graceful_restart_without_forwarding_state_flushes_at_once() {
    let (a, b) = gr_configs(true);
    let mut p = established_pair(a, b.clone());
    let m = p.mark();
    let mut b2 = b.clone();
    if let Some(gr) = &mut b2.graceful_restart {
        gr.families = vec![GrFamily {
            family: Family::Ipv4Unicast,
            forwarding: false,
        }];
    }
    restart_b(&mut p, &b2, true);
    p.input(Side::B, Input::Start { passive: false });
    p.advance(secs(2));
    assert!(p.both_established());
    assert_eq!(
        flushes(&p, Side::A, m),
        [(vec![Family::Ipv4Unicast, Family::L2vpnEvpn], StaleCause::NotPreserved)]
    );
}

/// RFC 4724 §4.2: A never saw the old connection die; the peer's new OPEN ends it.
#[test]
fn graceful_restart_new_open_replaces_a_half_open_session() {
    let (a, b) = gr_configs(true);
    let mut p = established_pair(a, b.clone());
    let old = p.a.established_connection().unwrap();
    let m = p.mark();
    restart_b(&mut p, &b, false);
    // The new B connects to A (A is not passive; make B the active one this time).
    p.input(Side::B, Input::Start { passive: false });
    p.run();
    let new_b = p.b.connections();
    assert_eq!(new_b.len(), 1);
    assert!(p.both_established(), "{:?}", p.states());
    let d = downs(&p, Side::A, m);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, DownReason::PeerRestarted);
    assert_eq!(d[0].2, [Family::Ipv4Unicast, Family::L2vpnEvpn]);
    assert_ne!(p.a.established_connection(), Some(old));
    assert!(
        p.actions(Side::A, m)
            .iter()
            .any(|(_, a)| *a == Action::Close { connection: old })
    );
}

/// Without the N bit a hold timer expiry is not a graceful restart; with it, it is (RFC 8538).
#[test]
fn hold_timer_expiry_is_graceful_only_with_the_n_bit() {
    for n_bit in [false, true] {
        let (a, b) = gr_configs(n_bit);
        let mut p = established_pair(a, b);
        p.cut = true;
        let m = p.mark();
        p.advance(secs(91));
        let d = downs(&p, Side::A, m);
        assert_eq!(d[0].1, DownReason::HoldTimerExpired { hold_time: 90 });
        if n_bit {
            assert_eq!(d[0].2, [Family::Ipv4Unicast, Family::L2vpnEvpn]);
        } else {
            assert!(d[0].2.is_empty());
        }
    }
}

/// With the N bit, an administrative shutdown goes out as a Hard Reset so the peer drops our
/// routes (RFC 8538 §5).
#[test]
fn stop_with_the_n_bit_is_a_hard_reset() {
    let (a, b) = gr_configs(true);
    let mut p = established_pair(a, b);
    let m = p.mark();
    p.input(Side::A, Input::shutdown("decommissioned"));
    let sent = p.notifications_sent(Side::A, m);
    assert_eq!((sent[0].1.code, sent[0].1.subcode), (code::CEASE, cease::HARD_RESET));
    assert_eq!(sent[0].1.data[..2], [code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN]);
    let d = downs(&p, Side::B, m);
    assert!(d[0].2.is_empty(), "no graceful restart after a Hard Reset");
}

#[test]
fn automatic_stop_sends_the_notification_and_restarts_with_backoff() {
    let (a, mut b) = configs();
    b.passive = true;
    let mut p = established_pair(a, b);
    let stop = |p: &mut Pair| {
        p.input(
            Side::A,
            Input::AutomaticStop {
                notification: weft_bgp::Notification::new(
                    code::CEASE,
                    cease::MAXIMUM_NUMBER_OF_PREFIXES_REACHED,
                    [0, 1, 1, 0, 0, 0, 3],
                ),
                detail: "4 ipv4-unicast prefixes exceed the limit of 3".into(),
            },
        )
    };
    let m = p.mark();
    let now = p.now;
    stop(&mut p);
    let sent = p.notifications_sent(Side::A, m);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].1.code, sent[0].1.subcode, &sent[0].1.data[..]),
        (
            code::CEASE,
            cease::MAXIMUM_NUMBER_OF_PREFIXES_REACHED,
            &[0, 1, 1, 0, 0, 0, 3][..]
        )
    );
    match &downs(&p, Side::A, m)[..] {
        [(_, DownReason::Error { detail, .. }, retain)] => {
            assert!(detail.contains("limit of 3"), "{detail}");
            assert!(retain.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let error = p.a.status().last_error.unwrap_or_default();
    assert!(error.contains("exceed the limit of 3"), "{error}");
    // Back after the IdleHoldTimer (1 s), then closed again: the next wait is 2 s.
    p.advance(secs(1));
    assert_eq!(connects(&p, Side::A, m), [now + secs(1)]);
    assert!(p.both_established(), "{:?}", p.states());
    let m = p.mark();
    let now = p.now;
    stop(&mut p);
    p.advance(secs(3));
    assert_eq!(connects(&p, Side::A, m), [now + secs(2)]);
    assert!(p.both_established(), "{:?}", p.states());
}
