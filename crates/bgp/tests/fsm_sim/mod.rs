//! Two sessions back to back over a simulated network and clock, in the spirit of quinn-proto's
//! test pair: what one side sends arrives at the other, time only moves when the test says so,
//! and every run is the same.
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

use weft_bgp::fsm::{Action, ConnId, Input, PeerConfig, Session, State, Time};
use weft_bgp::{Message, Notification, SessionCaps, decode_message};
use weft_net::Asn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// One action and when and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Time,
    pub side: Side,
    pub action: Action,
}

#[derive(Debug, Clone)]
struct Link {
    a: ConnId,
    b: ConnId,
}

impl Link {
    fn end(&self, side: Side) -> ConnId {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }
}

pub struct Pair {
    pub now: Time,
    pub a: Session,
    pub b: Session,
    links: Vec<Link>,
    queue: VecDeque<(Side, Input)>,
    pub history: Vec<Event>,
    /// The link is down: connection attempts fail, octets and FINs are lost.
    pub cut: bool,
    /// Connections each side closed or was told are closed.
    dead: HashSet<(Side, ConnId)>,
    next_incoming: u64,
}

/// A peer at 192.0.2.`n` in `asn`, peering with the one at 192.0.2.`peer_n` in `peer_as`.
pub fn config(n: u8, asn: u32, peer_n: u8, peer_as: u32) -> PeerConfig {
    PeerConfig::new(
        Ipv4Addr::new(192, 0, 2, peer_n).into(),
        Asn::new_unchecked(asn),
        Asn::new_unchecked(peer_as),
        Ipv4Addr::new(192, 0, 2, n),
    )
}

/// A (192.0.2.1, AS 64512) and B (192.0.2.2, AS 64513), defaults otherwise.
pub fn configs() -> (PeerConfig, PeerConfig) {
    (config(1, 64512, 2, 64513), config(2, 64513, 1, 64512))
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Decodes a message we sent, leniently (4-octet AS, extended messages, no ADD-PATH).
pub fn decode(bytes: &[u8]) -> Message {
    let caps = SessionCaps {
        four_octet_as: true,
        extended_message: true,
        add_path: Default::default(),
    };
    match decode_message(bytes, &caps) {
        Ok(d) => d.message,
        Err(e) => panic!("a session sent a message that does not decode: {e}"),
    }
}

impl Pair {
    pub fn new(a: PeerConfig, b: PeerConfig) -> Pair {
        Pair {
            now: Time::ZERO,
            a: Session::new(a).expect("config A"),
            b: Session::new(b).expect("config B"),
            links: Vec::new(),
            queue: VecDeque::new(),
            history: Vec::new(),
            cut: false,
            dead: HashSet::new(),
            next_incoming: 0,
        }
    }

    pub fn session(&self, side: Side) -> &Session {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    pub fn session_mut(&mut self, side: Side) -> &mut Session {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Hands one input to a side now and carries out what it asks; runs the network until quiet.
    pub fn input(&mut self, side: Side, input: Input) {
        self.deliver(side, input);
        self.run();
    }

    pub fn start_both(&mut self) {
        self.deliver(Side::A, Input::Start { passive: false });
        self.deliver(Side::B, Input::Start { passive: false });
        self.run();
    }

    fn deliver(&mut self, side: Side, input: Input) {
        if let Input::TcpClosed { connection } | Input::TcpFailed { connection } = &input {
            self.dead.insert((side, *connection));
        }
        let now = self.now;
        let actions = self.session_mut(side).handle(now, input);
        for action in actions {
            self.carry_out(side, &action);
            self.history.push(Event { at: now, side, action });
        }
    }

    fn carry_out(&mut self, side: Side, action: &Action) {
        match action {
            Action::Connect { connection } => {
                if self.cut {
                    self.queue.push_back((
                        side,
                        Input::TcpFailed {
                            connection: *connection,
                        },
                    ));
                    return;
                }
                self.next_incoming += 1;
                let incoming = ConnId::Incoming(self.next_incoming);
                let link = match side {
                    Side::A => Link {
                        a: *connection,
                        b: incoming,
                    },
                    Side::B => Link {
                        a: incoming,
                        b: *connection,
                    },
                };
                self.links.push(link);
                self.queue.push_back((
                    side,
                    Input::TcpConnected {
                        connection: *connection,
                    },
                ));
                self.queue
                    .push_back((side.other(), Input::TcpConnected { connection: incoming }));
            }
            Action::Send { connection, bytes } => {
                assert!(
                    !self.dead.contains(&(side, *connection)),
                    "{side:?} sent on {connection}, which is closed"
                );
                let Some(link) = self.links.iter().find(|l| l.end(side) == *connection) else {
                    return;
                };
                if !self.cut {
                    let to = link.end(side.other());
                    self.queue.push_back((
                        side.other(),
                        Input::Bytes {
                            connection: to,
                            data: bytes.clone(),
                        },
                    ));
                }
            }
            Action::Close { connection } => {
                self.dead.insert((side, *connection));
                if let Some(i) = self.links.iter().position(|l| l.end(side) == *connection) {
                    let link = self.links.remove(i);
                    if !self.cut {
                        self.queue.push_back((
                            side.other(),
                            Input::TcpClosed {
                                connection: link.end(side.other()),
                            },
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    /// Delivers everything in flight.
    pub fn run(&mut self) {
        let mut steps = 0;
        while let Some((side, input)) = self.queue.pop_front() {
            self.deliver(side, input);
            steps += 1;
            assert!(steps < 100_000, "the network never quiets down");
        }
    }

    /// Moves the clock to `target`, firing every timer on the way at its time.
    pub fn advance_to(&mut self, target: Time) {
        let mut steps = 0;
        loop {
            self.run();
            let next = [self.a.next_deadline(), self.b.next_deadline()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    for side in [Side::A, Side::B] {
                        if self.session(side).next_deadline().is_some_and(|d| d <= self.now) {
                            self.deliver(side, Input::Tick);
                        }
                    }
                }
                _ => break,
            }
            steps += 1;
            assert!(steps < 100_000, "timers never quiet down");
        }
        self.now = self.now.max(target);
        self.run();
    }

    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    pub fn states(&self) -> (State, State) {
        (self.a.state(), self.b.state())
    }

    pub fn both_established(&self) -> bool {
        self.states() == (State::Established, State::Established)
    }

    /// Actions of one side from history index `from` on.
    pub fn actions(&self, side: Side, from: usize) -> Vec<(Time, Action)> {
        self.history
            .iter()
            .skip(from)
            .filter(|e| e.side == side)
            .map(|e| (e.at, e.action.clone()))
            .collect()
    }

    /// Messages one side sent from history index `from` on.
    pub fn sent(&self, side: Side, from: usize) -> Vec<(Time, ConnId, Message)> {
        self.actions(side, from)
            .into_iter()
            .filter_map(|(t, a)| match a {
                Action::Send { connection, bytes } => Some((t, connection, decode(&bytes))),
                _ => None,
            })
            .collect()
    }

    pub fn notifications_sent(&self, side: Side, from: usize) -> Vec<(ConnId, Notification)> {
        self.sent(side, from)
            .into_iter()
            .filter_map(|(_, c, m)| match m {
                Message::Notification(n) => Some((c, n)),
                _ => None,
            })
            .collect()
    }

    pub fn logs(&self, side: Side) -> Vec<String> {
        self.actions(side, 0)
            .into_iter()
            .filter_map(|(_, a)| match a {
                Action::Log { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }

    pub fn mark(&self) -> usize {
        self.history.len()
    }
}
