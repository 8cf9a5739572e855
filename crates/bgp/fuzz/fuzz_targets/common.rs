//! The checks behind every fuzz target, shared with `tests/fuzz_corpus.rs`, which replays the
//! committed corpus through the same functions on the stable toolchain (so CI guards against
//! regressions without cargo-fuzz). Each `check_*` panics when an invariant breaks.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use weft_bgp::attribute::NextHop;
use weft_bgp::fsm::{Action, ConnId, GracefulRestartConfig, Input, PeerConfig, Session, State, Time};
use weft_bgp::nlri::{Nlri, Prefix};
use weft_bgp::rib::{AdjRibOut, OutPeerConfig, Outgoing, PeerId, PeerInfo, PeerKind, Policy, Rib, RibConfig, RouteKey};
use weft_bgp::{
    Action as UpdateAction, AddPathFamily, Capability, Family, GracefulRestart, GracefulRestartFamily, Message, Open,
    SessionCaps, Update, decode_message, frame_length,
};
use weft_net::Asn;

/// The first input octet picks the session context: bit 0 4-octet AS, bit 1 extended messages,
/// bits 2-7 ADD-PATH for the families in `Family::ALL` order.
pub fn caps_from(data: &[u8]) -> (SessionCaps, &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return (SessionCaps::default(), data);
    };
    let caps = SessionCaps {
        four_octet_as: b & 1 != 0,
        extended_message: b & 2 != 0,
        add_path: Family::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| b & (4 << i) != 0)
            .map(|(_, f)| f)
            .collect(),
    };
    (caps, rest)
}

/// A whole message: decoding never panics, a failure carries an RFC NOTIFICATION (RFC 4271 §6,
/// RFC 7313 §5), an UPDATE's survivable errors are never a session reset (RFC 7606 §2), and a
/// message that decodes re-encodes to octets that decode to the same message.
pub fn check_message(frame: &[u8], caps: &SessionCaps) {
    let framed = frame_length(frame, caps);
    match decode_message(frame, caps) {
        Err(e) => assert!(e.is_rfc_notification(), "{e:?}"),
        Ok(d) => {
            // What decodes was framed as exactly this long.
            assert_eq!(framed, Ok(Some(frame.len())));
            assert!(
                d.errors
                    .iter()
                    .all(|e| !matches!(e.action, UpdateAction::SessionReset(_)))
            );
            let again = d.message.encode(caps).expect("a decoded message encodes");
            let d2 = decode_message(&again, caps).expect("a re-encoded message decodes");
            assert_eq!(d2.message, d.message);
        }
    }
}

/// `decode_message` target: caps octet, then a frame.
pub fn decode_message_target(data: &[u8]) {
    let (caps, frame) = caps_from(data);
    check_message(frame, &caps);
}

/// `decode_update` target: caps octet, then an UPDATE body (RFC 7606 outcomes only).
pub fn decode_update_target(data: &[u8]) {
    let (caps, body) = caps_from(data);
    match Update::decode(body, &caps) {
        Err(e) => assert!(e.is_rfc_notification(), "{e:?}"),
        Ok(d) => {
            assert!(
                d.errors
                    .iter()
                    .all(|e| !matches!(e.action, UpdateAction::SessionReset(_)))
            );
            // Treat-as-withdraw turns every announcement into a withdrawal (RFC 7606 §2).
            if d.treat_as_withdraw() {
                assert!(d.announcements().is_empty());
            }
            let _ = d.withdrawals();
        }
    }
}

/// `body` behind a valid header of `message_type` (cut to what the length field holds).
fn framed(message_type: u8, body: &[u8]) -> Vec<u8> {
    let body = body.get(..usize::from(u16::MAX) - 19).unwrap_or(body);
    let mut frame = vec![0xff; 16];
    frame.extend_from_slice(&u16::try_from(19 + body.len()).unwrap_or(u16::MAX).to_be_bytes());
    frame.push(message_type);
    frame.extend_from_slice(body);
    frame
}

/// `decode_open` target: any OPEN body. Errors are OPEN Message Errors (RFC 4271 §6.2) or, for
/// a body too short or too long for an OPEN, Bad Message Length (§6.1); a decoded OPEN has a
/// non-zero AS and BGP Identifier and a hold time of 0 or at least 3.
pub fn decode_open_target(body: &[u8]) {
    let caps = SessionCaps::modern();
    let frame = framed(1, body);
    check_message(&frame, &caps);
    match decode_message(&frame, &caps) {
        Ok(d) => {
            let Message::Open(open) = d.message else {
                panic!("an OPEN frame decoded as {:?}", d.message)
            };
            assert!(open.my_as != 0 && open.asn() != 0);
            assert!(!matches!(open.hold_time, 1 | 2));
            assert!(!open.bgp_id.is_unspecified());
        }
        Err(e) => assert!(
            e.notification.code == 2 || (e.notification.code, e.notification.subcode) == (1, 2),
            "{e:?}"
        ),
    }
}

/// `decode_notification` target: any NOTIFICATION body decodes unless it is shorter than code
/// and subcode (RFC 4271 §4.5), and its data comes back byte for byte.
pub fn decode_notification_target(body: &[u8]) {
    let caps = SessionCaps::modern();
    let frame = framed(3, body);
    check_message(&frame, &caps);
    match decode_message(&frame, &caps) {
        Ok(d) => {
            let Message::Notification(n) = d.message else {
                panic!("a NOTIFICATION frame decoded as {:?}", d.message)
            };
            assert_eq!([&[n.code, n.subcode][..], &n.data].concat(), body);
            let _ = n.to_string();
            let _ = n.shutdown_communication();
        }
        Err(e) => assert!(body.len() < 2, "{e:?}"),
    }
}

/// `decode_route_refresh` target: a 4-octet body decodes (any AFI, SAFI, subtype: RFC 7313 §5
/// leaves unknown ones to the receiver), any other length is ROUTE-REFRESH Message Error /
/// Invalid Message Length with the whole message as data (RFC 7313 §5).
pub fn decode_route_refresh_target(body: &[u8]) {
    let caps = SessionCaps::modern();
    let frame = framed(5, body);
    check_message(&frame, &caps);
    match decode_message(&frame, &caps) {
        Ok(d) => {
            assert_eq!(body.len(), 4);
            assert!(matches!(d.message, Message::RouteRefresh(_)));
        }
        Err(e) => {
            assert_ne!(body.len(), 4);
            assert_eq!((e.notification.code, e.notification.subcode), (7, 1));
            assert_eq!(e.notification.data, frame);
        }
    }
}

/// `decode_header` target: a caps octet, then anything as a stream head. `frame_length` and
/// `decode_message` agree: a frame that `frame_length` sizes and that is all there decodes
/// unless its body is wrong, and a header error from one is the same error from the other.
/// Covers KEEPALIVE, whose whole message is the header (RFC 4271 §4.4).
pub fn decode_header_target(data: &[u8]) {
    let (caps, stream) = caps_from(data);
    match frame_length(stream, &caps) {
        Ok(None) => assert!(stream.len() < 19),
        Ok(Some(n)) => {
            assert!((19..=caps.max_message_len()).contains(&n));
            if let Some(frame) = stream.get(..n) {
                check_message(frame, &caps);
                if frame.get(18) == Some(&4) {
                    assert_eq!(decode_message(frame, &caps).map(|d| d.message), Ok(Message::Keepalive));
                }
            }
        }
        Err(e) => {
            assert_eq!(e.notification.code, 1, "{e:?}");
            let head = stream.get(..19).unwrap_or(stream);
            assert_eq!(decode_message(head, &caps).map(|d| d.message), Err(e));
        }
    }
}

/// Reads the fuzz input of `session_stream` as a little program.
struct Ops<'a> {
    data: &'a [u8],
}

impl<'a> Ops<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

const LOCAL_AS: u32 = 64512;
const PEER_AS: u32 = 64513;
const PEER: PeerId = PeerId(1);

/// Our side's configuration, its options from the first octet: bit 0 graceful restart, bit 1
/// extended messages, bit 2 ADD-PATH both ways for every family, bit 3 iBGP, bit 4 hold time 0.
fn local_config(flags: u8) -> PeerConfig {
    let peer_as = if flags & 8 != 0 { LOCAL_AS } else { PEER_AS };
    let mut c = PeerConfig::new(
        Ipv4Addr::new(192, 0, 2, 2).into(),
        Asn::new_unchecked(LOCAL_AS),
        Asn::new_unchecked(peer_as),
        Ipv4Addr::new(192, 0, 2, 1),
    );
    c.families = Family::ALL.to_vec();
    c.extended_message = flags & 2 != 0;
    if flags & 1 != 0 {
        c.graceful_restart = Some(GracefulRestartConfig::new(&Family::ALL));
    }
    if flags & 4 != 0 {
        c.add_path = Family::ALL
            .into_iter()
            .map(|f| AddPathFamily::new(f, true, true))
            .collect();
    }
    if flags & 16 != 0 {
        c.hold_time = 0;
    }
    c.idle_hold.initial = Duration::ZERO;
    c
}

/// The peer's OPEN, mirroring `local` so that everything it offers is negotiated.
fn peer_open(local: &PeerConfig) -> Open {
    let mut caps: Vec<Capability> = Family::ALL.into_iter().map(Capability::multiprotocol).collect();
    caps.extend([
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::FourOctetAs(local.remote_as.get()),
    ]);
    if local.extended_message {
        caps.push(Capability::ExtendedMessage);
    }
    if local.graceful_restart.is_some() {
        caps.push(Capability::GracefulRestart(GracefulRestart {
            flags: GracefulRestart::NOTIFICATION,
            restart_time: 120,
            families: Family::ALL
                .into_iter()
                .map(|f| GracefulRestartFamily {
                    afi: f.afi(),
                    safi: f.safi(),
                    flags: GracefulRestartFamily::FORWARDING_STATE,
                })
                .collect(),
        }));
    }
    if !local.add_path.is_empty() {
        caps.push(Capability::AddPath(local.add_path.clone()));
    }
    Open {
        my_as: u16::try_from(local.remote_as.get()).unwrap_or(weft_bgp::AS_TRANS),
        hold_time: local.hold_time,
        bgp_id: Ipv4Addr::new(192, 0, 2, 2),
        capabilities: caps,
    }
}

/// A session, the RIB its actions go to, and the invariants checked after every call.
struct Harness {
    session: Session,
    rib: Rib,
    /// An eBGP peer the RIB's best paths go to, and what it was sent (from the UPDATEs).
    out: AdjRibOut,
    sent: BTreeMap<RouteKey, Outgoing>,
    now: Time,
    /// The connection octets go to: the last one the session opened or we handed it.
    conn: ConnId,
    next_incoming: u64,
    kind: PeerKind,
}

impl Harness {
    fn handle(&mut self, input: Input) {
        let before = self.session.state();
        let actions = self.session.handle(self.now, input);
        let mut state = before;
        let mut state_changes = 0;
        let mut established = before == State::Established;
        let mut connects = Vec::new();
        for action in &actions {
            match action {
                Action::StateChanged { from, to } => {
                    // At most one change per call, from the state before it (fsm/action.rs).
                    state_changes += 1;
                    assert_eq!(*from, before);
                    assert_ne!(from, to);
                    state = *to;
                }
                // Routes only come from an Established session.
                Action::Update { .. } => assert!(established, "{actions:?}"),
                Action::Down { .. } => established = false,
                // Everything the session writes is one whole message that decodes.
                Action::Send { bytes, .. } => {
                    let caps = SessionCaps::modern();
                    assert_eq!(frame_length(bytes, &caps), Ok(Some(bytes.len())));
                    let d = decode_message(bytes, &caps).expect("the session sent a message that does not decode");
                    assert!(d.errors.is_empty());
                }
                Action::Connect { connection } => connects.push(*connection),
                Action::Established { negotiated, remote } => {
                    established = true;
                    assert_eq!(negotiated.peer_as, remote.asn());
                    self.rib.peer_up(
                        PEER,
                        PeerInfo {
                            address: Ipv4Addr::new(192, 0, 2, 2).into(),
                            asn: negotiated.peer_as,
                            router_id: remote.bgp_id,
                            kind: self.kind,
                            rr_client: false,
                        },
                    );
                }
                _ => {}
            }
            self.rib_action(action);
        }
        assert!(state_changes <= 1, "{actions:?}");
        assert_eq!(state, self.session.state());
        // The simulated network connects at once.
        for connection in connects {
            self.conn = connection;
            self.handle(Input::TcpConnected { connection });
        }
    }

    /// Hands a session action to the RIB and checks what it reports against what it holds.
    fn rib_action(&mut self, action: &Action) {
        let changes = self.rib.on_session_action(PEER, action, self.now);
        self.out.best_changed(&changes);
        for c in &changes {
            assert_ne!(c.old_best(), c.new_best());
        }
        if let Some(last) = changes.last() {
            assert_eq!(self.rib.best(&last.key), last.new_best());
        }
        if let Action::Down { retain, .. } = action
            && retain.is_empty()
        {
            assert_eq!(self.rib.path_count(PEER), 0);
        }
        for family in Family::ALL {
            for p in self.rib.paths_of_peer(PEER, family) {
                assert_eq!(p.peer, PEER);
            }
        }
    }

    /// Sends the Adj-RIB-Out's queue and checks that the peer then holds exactly the export of
    /// every best path: nothing missing, nothing stale, whatever changed while queued.
    fn flush(&mut self) {
        let updates = self
            .out
            .take_updates(self.now)
            .expect("the Adj-RIB-Out's UPDATEs encode");
        for u in &updates {
            apply_sent(&mut self.sent, u);
        }
        assert!(!self.out.has_pending());
        let keys: BTreeSet<RouteKey> = self
            .sent
            .keys()
            .cloned()
            .chain(self.rib.best_paths().map(|(k, _)| k))
            .collect();
        for k in keys {
            assert_eq!(self.sent.get(&k), self.out.advertised(&k, &self.rib).as_ref(), "{k}");
        }
    }

    fn advance(&mut self, millis: u64) {
        self.now = Time::from_millis(self.now.as_millis().saturating_add(millis));
    }
}

/// What a peer holds after `u`, by key.
fn apply_sent(sent: &mut BTreeMap<RouteKey, Outgoing>, u: &Update) {
    for p in &u.withdrawn {
        sent.remove(&RouteKey::of(&Nlri::Prefix(*p)));
    }
    if let Some(m) = &u.attributes.mp_unreach {
        for n in &m.withdrawn {
            sent.remove(&RouteKey::of(n));
        }
    }
    let mut attributes = u.attributes.clone();
    attributes.next_hop = None;
    attributes.mp_reach = None;
    attributes.mp_unreach = None;
    let attributes = Arc::new(attributes);
    if let Some(hop) = u.attributes.next_hop {
        for p in &u.nlri {
            let out = Outgoing {
                nlri: Nlri::Prefix(Prefix { ..*p }),
                attributes: attributes.clone(),
                next_hop: NextHop::new(hop.into()),
            };
            sent.insert(RouteKey::of(&out.nlri), out);
        }
    }
    if let Some(m) = &u.attributes.mp_reach {
        for n in &m.nlri {
            let out = Outgoing {
                nlri: n.clone(),
                attributes: attributes.clone(),
                next_hop: m.next_hop,
            };
            sent.insert(RouteKey::of(n), out);
        }
    }
}

/// The Adj-RIB-Out of the harness: an eBGP peer with every family.
fn out_peer() -> AdjRibOut {
    AdjRibOut::new(OutPeerConfig {
        peer: PeerId(2),
        info: PeerInfo {
            address: Ipv4Addr::new(192, 0, 2, 3).into(),
            asn: 65099,
            router_id: Ipv4Addr::new(192, 0, 2, 3),
            kind: PeerKind::Ebgp,
            rr_client: false,
        },
        local_as: LOCAL_AS,
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        cluster_id: None,
        local_address: Ipv4Addr::new(192, 0, 2, 1).into(),
        caps: SessionCaps::modern(),
        families: Family::ALL.into_iter().collect(),
        mrai: Duration::ZERO,
        default_local_pref: 100,
    })
}

/// `session_stream` target: a `Session` brought to OpenConfirm or Established with a valid OPEN,
/// then fed arbitrary octets in arbitrary chunks, interleaved with time passing and a few other
/// inputs; every action also goes through `Rib::on_session_action`, and the best-path changes
/// to an Adj-RIB-Out for another peer whose export policy changes now and then. Nothing panics,
/// the invariants in `Harness` hold after every call, and whenever time passes the other peer,
/// sent its queued UPDATEs, holds exactly the export of every best path.
pub fn session_stream_target(data: &[u8]) {
    let mut ops = Ops { data };
    let flags = ops.u8().unwrap_or(0);
    let config = local_config(flags);
    let open = peer_open(&config);
    let kind = if config.is_internal() {
        PeerKind::Ibgp
    } else {
        PeerKind::Ebgp
    };
    let Ok(session) = Session::new(config) else {
        panic!("the fuzz configuration is valid")
    };
    let mut h = Harness {
        session,
        rib: Rib::new(RibConfig::new(LOCAL_AS, Ipv4Addr::new(192, 0, 2, 1))),
        out: out_peer(),
        sent: BTreeMap::new(),
        now: Time::ZERO,
        conn: ConnId::Outgoing(0),
        next_incoming: 0,
        kind,
    };
    h.out.initial_dump(&h.rib);
    h.handle(Input::Start { passive: false });
    assert_eq!(h.session.state(), State::OpenSent);
    let open_bytes = Message::Open(open)
        .encode(&SessionCaps::default())
        .expect("the peer's OPEN encodes");
    h.handle(Input::Bytes {
        connection: h.conn,
        data: open_bytes.clone(),
    });
    assert_eq!(h.session.state(), State::OpenConfirm);
    // Bit 5: stay in OpenConfirm; otherwise the peer's KEEPALIVE makes it Established.
    if flags & 32 == 0 {
        let keepalive = Message::Keepalive
            .encode(&SessionCaps::default())
            .expect("KEEPALIVE encodes");
        h.handle(Input::Bytes {
            connection: h.conn,
            data: keepalive,
        });
        assert_eq!(h.session.state(), State::Established);
    }
    while let Some(op) = ops.u8() {
        match op {
            // A message of the type in the next octet (1-5) around the octets that follow (as
            // many as the next two octets say, up to 4095): the body gets fuzzed behind a valid
            // header.
            190..=199 => {
                let message_type = ops.u8().unwrap_or(0) % 5 + 1;
                let n = usize::from(ops.u16().unwrap_or(0)) % 4096;
                let data = framed(message_type, ops.take(n));
                h.handle(Input::Bytes {
                    connection: h.conn,
                    data,
                });
            }
            // Most of the time: a chunk of 1 to 100 octets, or of 64 to 5760.
            0..=189 => {
                let n = usize::from(op % 100) + 1;
                let n = if op >= 100 { n * 64 } else { n };
                let chunk = ops.take(n).to_vec();
                h.handle(Input::Bytes {
                    connection: h.conn,
                    data: chunk,
                });
            }
            // Time passes, up to 65535 * 64 ms (about 70 minutes: every timer).
            200..=219 => {
                let ms = u64::from(ops.u16().unwrap_or(0)) * if op < 210 { 1 } else { 64 };
                h.advance(ms);
                h.handle(Input::Tick);
                h.flush();
            }
            // Straight to the next deadline.
            220..=229 => {
                if let Some(t) = h.session.next_deadline() {
                    h.now = h.now.max(t);
                }
                h.handle(Input::Tick);
            }
            // The peer's valid OPEN again (a restart, or a reconnect).
            230..=234 => h.handle(Input::Bytes {
                connection: h.conn,
                data: open_bytes.clone(),
            }),
            // A new connection from the peer (collision, RFC 4271 §6.8).
            235..=237 => {
                h.next_incoming += 1;
                h.conn = ConnId::Incoming(h.next_incoming);
                let connection = h.conn;
                h.handle(Input::TcpConnected { connection });
            }
            238..=240 => {
                let connection = h.conn;
                h.handle(Input::TcpClosed { connection });
            }
            241 => {
                let connection = h.conn;
                h.handle(Input::TcpFailed { connection });
            }
            242..=245 => {
                let family = Family::ALL[usize::from(op - 242) % Family::ALL.len()];
                h.handle(Input::SendRouteRefresh(weft_bgp::RouteRefresh::request(family)));
            }
            246 => h.handle(Input::Stop { notification: None }),
            247 => h.handle(Input::Start {
                passive: ops.u8().unwrap_or(0) & 1 != 0,
            }),
            248 => h.handle(Input::AutomaticStop {
                notification: weft_bgp::Notification::new(6, 1, Vec::new()),
                detail: "fuzz".to_string(),
            }),
            249 => h.handle(Input::SendUpdate(Box::new(Update::end_of_rib(
                Family::ALL[usize::from(ops.u8().unwrap_or(0)) % Family::ALL.len()],
            )))),
            // The peer's export policy changes while changes may be queued: none, one that
            // adds a community, one that takes only routes with a route target.
            250..=252 => {
                let policy = match op {
                    250 => None,
                    251 => Policy::parse::<&str>(&[], &[], &["64512:9"]).ok(),
                    _ => Policy::parse(&["64512:1"], &[], &[]).ok(),
                };
                h.out.set_export_policy(policy, &h.rib);
            }
            // Switch the connection octets go to among the ones the session may know.
            _ => {
                h.conn = match ops.u8().unwrap_or(0) % 3 {
                    0 => ConnId::Outgoing(h.conn_outgoing()),
                    1 => ConnId::Incoming(h.next_incoming),
                    _ => h.conn,
                }
            }
        }
    }
    h.flush();
}

impl Harness {
    fn conn_outgoing(&self) -> u64 {
        self.session
            .connections()
            .iter()
            .find_map(|(c, _)| match c {
                ConnId::Outgoing(n) => Some(*n),
                ConnId::Incoming(_) => None,
            })
            .unwrap_or(0)
    }
}
