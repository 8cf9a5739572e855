//! Random inputs never panic the session and never break its invariants; two random-driven
//! sessions always come back to Established once the network is healthy.

mod fsm_sim;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use fsm_sim::{Pair, Side, configs};
use proptest::collection::vec;
use proptest::prelude::*;
use weft_bgp::fsm::{Action, ConnId, GracefulRestartConfig, Input, PeerConfig, Session, State, Time};
use weft_bgp::message::keepalive::KEEPALIVE;
use weft_bgp::{
    Capability, Family, GracefulRestart, GracefulRestartFamily, Message, Notification, Open, Prefix, RefreshSubtype,
    RouteRefresh, SessionCaps, Update, frame_length,
};
use weft_net::Asn;

fn config() -> PeerConfig {
    let mut c = PeerConfig::new(
        "192.0.2.2".parse().unwrap(),
        Asn::new_unchecked(64512),
        Asn::new_unchecked(64513),
        Ipv4Addr::new(192, 0, 2, 1),
    );
    c.hold_time = 9;
    c.connect_retry = Duration::from_secs(5);
    c.families = vec![Family::Ipv4Unicast, Family::L2vpnEvpn];
    c.graceful_restart = Some(GracefulRestartConfig::new(&[Family::Ipv4Unicast]));
    c
}

fn encode(m: &Message) -> Vec<u8> {
    m.encode(&SessionCaps::default()).unwrap()
}

/// Messages a peer might send: mostly sensible, some wrong.
fn message(kind: u8, hold: u16) -> Vec<u8> {
    let open = |asn: u32, hold: u16, id: [u8; 4], caps: Vec<Capability>| {
        encode(&Message::Open(Open::new(
            Asn::new_unchecked(asn),
            hold,
            Ipv4Addr::from(id),
            caps,
        )))
    };
    let gr = Capability::GracefulRestart(GracefulRestart {
        flags: GracefulRestart::NOTIFICATION,
        restart_time: hold % 5,
        families: vec![GracefulRestartFamily {
            afi: Family::Ipv4Unicast.afi(),
            safi: Family::Ipv4Unicast.safi(),
            flags: GracefulRestartFamily::FORWARDING_STATE,
        }],
    });
    let mut update = Update::default();
    update.attributes.origin = Some(weft_bgp::Origin::Igp);
    update.attributes.as_path = Some(Default::default());
    update.attributes.next_hop = Some(Ipv4Addr::new(192, 0, 2, 2));
    update.nlri = vec![Prefix::new("198.51.100.0/24".parse().unwrap())];
    match kind % 14 {
        0..=2 => open(
            64513,
            hold,
            [192, 0, 2, 2],
            vec![Capability::multiprotocol(Family::Ipv4Unicast), gr],
        ),
        3 => open(
            64513,
            hold,
            [10, 0, 0, 1],
            vec![Capability::RouteRefresh, Capability::EnhancedRouteRefresh],
        ),
        4 => open(64999, hold, [192, 0, 2, 2], vec![]),
        5 => open(
            64513,
            hold,
            [192, 0, 2, 2],
            vec![Capability::multiprotocol(Family::Vpnv6)],
        ),
        6..=8 => KEEPALIVE.to_vec(),
        9 => encode(&Message::Update(update)),
        10 => encode(&Message::Update(Update::end_of_rib(Family::Ipv4Unicast))),
        11 => encode(&Message::Notification(Notification::new(6, (hold % 10) as u8, []))),
        12 => encode(&Message::RouteRefresh(RouteRefresh {
            afi: Family::Ipv4Unicast.afi(),
            safi: Family::Ipv4Unicast.safi(),
            subtype: RefreshSubtype::from_u8((hold % 4) as u8),
        })),
        _ => {
            let mut m = KEEPALIVE.to_vec();
            m[18] = (hold % 7) as u8;
            m
        }
    }
}

#[derive(Debug, Clone)]
enum Payload {
    Message(u8, u16),
    Head(u8, u16, u8),
    Tail(u8, u16, u8),
    Random(Vec<u8>),
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Message(k, h) => message(*k, *h),
            Payload::Head(k, h, n) => {
                let m = message(*k, *h);
                m[..usize::from(*n) % m.len()].to_vec()
            }
            Payload::Tail(k, h, n) => {
                let m = message(*k, *h);
                m[usize::from(*n) % m.len()..].to_vec()
            }
            Payload::Random(b) => b.clone(),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Start(bool),
    Stop,
    ConnectedOut(u8),
    ConnectedIn,
    Failed(u8),
    Closed(u8),
    /// Octets for any id the test knows.
    Bytes(u8, Payload),
    /// Octets for one of the session's connections.
    LiveBytes(u8, Payload),
    /// A whole OPEN (with this hold time) and KEEPALIVE on one of the session's connections.
    Handshake(u8, u16),
    Tick(u32),
    SendUpdate,
    SendRefresh(bool),
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        6 => (any::<u8>(), 0u16..20).prop_map(|(k, h)| Payload::Message(k, h)),
        1 => (any::<u8>(), 0u16..20, any::<u8>()).prop_map(|(k, h, n)| Payload::Head(k, h, n)),
        1 => (any::<u8>(), 0u16..20, any::<u8>()).prop_map(|(k, h, n)| Payload::Tail(k, h, n)),
        1 => vec(any::<u8>(), 0..48).prop_map(Payload::Random),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => any::<bool>().prop_map(Op::Start),
        1 => Just(Op::Stop),
        2 => any::<u8>().prop_map(Op::ConnectedOut),
        2 => Just(Op::ConnectedIn),
        1 => any::<u8>().prop_map(Op::Failed),
        1 => any::<u8>().prop_map(Op::Closed),
        2 => (any::<u8>(), payload()).prop_map(|(c, p)| Op::Bytes(c, p)),
        8 => (any::<u8>(), payload()).prop_map(|(c, p)| Op::LiveBytes(c, p)),
        3 => (any::<u8>(), prop_oneof![Just(0u16), 3u16..20]).prop_map(|(c, h)| Op::Handshake(c, h)),
        4 => prop_oneof![0u32..2_000, 0u32..200_000].prop_map(Op::Tick),
        1 => Just(Op::SendUpdate),
        1 => any::<bool>().prop_map(Op::SendRefresh),
    ]
}

/// What the test knows of the session from the outside.
#[derive(Default)]
struct Model {
    /// Every id the session or the test produced.
    known: Vec<ConnId>,
    outgoing: Vec<ConnId>,
    /// Closed by the session or reported closed to it.
    dead: HashSet<ConnId>,
    next_incoming: u64,
    /// `Some(passive)` while started.
    started: Option<bool>,
}

fn pick(ids: &[ConnId], i: u8) -> ConnId {
    if ids.is_empty() {
        ConnId::Incoming(1_000_000)
    } else {
        ids[usize::from(i) % ids.len()]
    }
}

fn live(s: &Session) -> Vec<ConnId> {
    s.connections().into_iter().map(|c| c.0).collect()
}

fn check_state(s: &Session, model: &Model, now: Time) {
    let conns = s.connections();
    let timers = s.timers();
    let state = s.state();
    assert!(conns.len() <= 2, "{conns:?}");
    let established = conns.iter().filter(|c| c.1 == State::Established).count();
    assert!(established <= 1);
    assert_eq!(state == State::Established, established == 1);
    assert_eq!(state, conns.iter().map(|c| c.1).max().unwrap_or(state));
    match state {
        State::Idle => {
            assert!(conns.is_empty() && s.pending_connection().is_none());
            assert_eq!(timers.connect_retry, None);
        }
        State::Connect => assert!(conns.is_empty() && s.pending_connection().is_some()),
        State::Active => {
            assert!(conns.is_empty() && s.pending_connection().is_none());
            assert_eq!(timers.idle_hold, None);
            if model.started == Some(false) {
                assert!(timers.connect_retry.is_some(), "an active session retries");
            }
        }
        _ => assert_eq!(timers.connect_retry, None, "no retries while a connection is up"),
    }
    if timers.idle_hold.is_some() {
        assert_eq!(state, State::Idle);
    }
    if model.started.is_none() {
        assert_eq!(state, State::Idle);
        assert_eq!(timers.idle_hold, None);
    }
    for c in &timers.connections {
        match c.state {
            State::OpenSent => assert!(c.hold.is_some() && c.keepalive.is_none()),
            _ => assert_eq!(c.hold.is_some(), c.keepalive.is_some(), "{c:?}"),
        }
        assert!(!model.dead.contains(&c.connection));
    }
    if let Some(d) = s.next_deadline() {
        assert!(d >= now, "a timer was left behind: {d} < {now}");
    }
    if state == State::Established {
        assert!(s.negotiation().is_some());
    }
}

fn check_actions(before: &Session, input: &Input, actions: &[Action], after: &Session, model: &mut Model) {
    let mut live: HashSet<ConnId> = before.connections().into_iter().map(|c| c.0).collect();
    let mut pending: HashSet<ConnId> = before.pending_connection().into_iter().collect();
    if let Input::TcpConnected { connection } = input {
        live.insert(*connection);
        pending.insert(*connection);
    }
    let had_established = before.state() == State::Established;
    let mut state_changes = 0;
    for a in actions {
        match a {
            Action::Connect { connection } => {
                assert!(!model.known.contains(connection), "fresh id");
                model.known.push(*connection);
                model.outgoing.push(*connection);
                pending.insert(*connection);
            }
            Action::Send { connection, bytes } => {
                assert!(live.contains(connection), "send on {connection} which is not open");
                assert!(!model.dead.contains(connection));
                let caps = SessionCaps::modern();
                assert_eq!(frame_length(bytes, &caps), Ok(Some(bytes.len())), "one whole message");
            }
            Action::Close { connection } => {
                assert!(
                    live.contains(connection) || pending.contains(connection) || connection.is_outgoing(),
                    "close of {connection}, never open"
                );
                live.remove(connection);
                model.dead.insert(*connection);
            }
            Action::Down { .. } => assert!(had_established, "Down without Established"),
            Action::Established { .. } => assert_eq!(after.state(), State::Established),
            Action::StateChanged { from, to } => {
                state_changes += 1;
                assert_eq!((*from, *to), (before.state(), after.state()));
            }
            _ => {}
        }
    }
    assert!(state_changes <= 1);
    if before.state() != after.state() {
        assert_eq!(state_changes, 1);
    }
}

fn run_ops(ops: Vec<Op>) {
    let mut s = Session::new(config()).unwrap();
    let mut now = Time::ZERO;
    let mut model = Model::default();
    for op in ops {
        let input = match op {
            Op::Start(p) => Input::Start { passive: p },
            Op::Stop => Input::Stop { notification: None },
            Op::ConnectedOut(i) if !model.outgoing.is_empty() => Input::TcpConnected {
                connection: pick(&model.outgoing, i),
            },
            Op::ConnectedOut(_) | Op::ConnectedIn => {
                model.next_incoming += 1;
                let id = ConnId::Incoming(model.next_incoming);
                model.known.push(id);
                Input::TcpConnected { connection: id }
            }
            Op::Failed(i) => Input::TcpFailed {
                connection: pick(&model.known, i),
            },
            Op::Closed(i) => Input::TcpClosed {
                connection: pick(&model.known, i),
            },
            Op::Bytes(i, p) => Input::Bytes {
                connection: pick(&model.known, i),
                data: p.bytes(),
            },
            Op::LiveBytes(i, p) => Input::Bytes {
                connection: pick(&live(&s), i),
                data: p.bytes(),
            },
            Op::Handshake(i, hold) => Input::Bytes {
                connection: pick(&live(&s), i),
                data: [message(0, hold), KEEPALIVE.to_vec()].concat(),
            },
            Op::Tick(ms) => {
                now = now + Duration::from_millis(u64::from(ms));
                Input::Tick
            }
            Op::SendUpdate => Input::SendUpdate(Box::new(Update::end_of_rib(Family::Ipv4Unicast))),
            Op::SendRefresh(evpn) => Input::SendRouteRefresh(RouteRefresh::request(if evpn {
                Family::L2vpnEvpn
            } else {
                Family::Ipv4Unicast
            })),
        };
        // Reuse of a dead connection by the I/O layer is outside the contract, except for
        // what the session itself must ignore: late reports and octets after a close.
        match &input {
            Input::Start { passive } if s.state() == State::Idle => {
                model.started = Some(config().passive || *passive);
            }
            Input::Stop { .. } => model.started = None,
            _ => {}
        }
        let before = s.clone();
        let actions = s.handle(now, input.clone());
        if let Input::TcpClosed { connection } | Input::TcpFailed { connection } = &input {
            model.dead.insert(*connection);
        }
        check_actions(&before, &input, &actions, &s, &mut model);
        check_state(&s, &model, now);
    }
}

#[derive(Debug, Clone)]
enum PairOp {
    Advance(u32),
    Cut(bool),
    Start(bool),
    Stop(bool),
    Update(bool),
    Garbage(bool, Vec<u8>),
}

fn pair_op() -> impl Strategy<Value = PairOp> {
    prop_oneof![
        4 => prop_oneof![0u32..1_000, 0u32..120_000].prop_map(PairOp::Advance),
        2 => any::<bool>().prop_map(PairOp::Cut),
        1 => any::<bool>().prop_map(PairOp::Start),
        1 => any::<bool>().prop_map(PairOp::Stop),
        1 => any::<bool>().prop_map(PairOp::Update),
        1 => (any::<bool>(), vec(any::<u8>(), 0..30)).prop_map(|(s, b)| PairOp::Garbage(s, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_inputs_keep_the_invariants(ops in vec(op(), 1..80)) {
        run_ops(ops);
    }

    /// Whatever happened before, two started sessions on a healthy link reach Established within
    /// the longest backoff plus a connect retry or two.
    #[test]
    fn two_sessions_always_converge(ops in vec(pair_op(), 1..30), b_passive in any::<bool>()) {
        let (a, mut b) = configs();
        b.passive = b_passive;
        let mut p = Pair::new(a, b);
        p.start_both();
        for op in ops {
            let side = |x: bool| if x { Side::A } else { Side::B };
            match op {
                PairOp::Advance(ms) => p.advance(Duration::from_millis(u64::from(ms))),
                PairOp::Cut(c) => p.cut = c,
                PairOp::Start(x) => p.input(side(x), Input::Start { passive: false }),
                PairOp::Stop(x) => p.input(side(x), Input::shutdown("test")),
                PairOp::Update(x) => {
                    p.input(side(x), Input::SendUpdate(Box::new(Update::end_of_rib(Family::Ipv4Unicast))))
                }
                PairOp::Garbage(x, bytes) => {
                    if let Some((c, _)) = p.session(side(x)).connections().first().copied() {
                        p.input(side(x), Input::Bytes { connection: c, data: bytes });
                    }
                }
            }
            for side in [Side::A, Side::B] {
                let s = p.session(side);
                prop_assert!(s.connections().len() <= 2);
                prop_assert!(s.connections().iter().filter(|c| c.1 == State::Established).count() <= 1);
            }
        }
        p.cut = false;
        p.input(Side::A, Input::Start { passive: false });
        p.input(Side::B, Input::Start { passive: false });
        p.advance(Duration::from_secs(200));
        prop_assert!(p.both_established(), "{:?}", p.states());
        prop_assert_eq!(p.a.connections().len(), 1);
        prop_assert_eq!(p.b.connections().len(), 1);
    }
}
