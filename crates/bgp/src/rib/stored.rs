//! A path as the Loc-RIB stores it: a few words per route, everything the prefixes of one UPDATE
//! have in common (peer, attributes, next hop, arrival time) shared in one [`Source`], and the
//! NLRI kept only where it says more than the key. A full table is a million of these, so their
//! size is most of the speaker's memory; [`Path`] is the readable form, made when asked for.

use std::sync::Arc;

use super::key::RouteKey;
use super::path::{Path, PeerId, PeerInfo};
use crate::attribute::{NextHop, PathAttributes};
use crate::fsm::Time;
use crate::nlri::{Label, Nlri, Prefix, VpnPrefix};

/// What every path of one UPDATE (or one local announcement) shares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Source {
    pub peer: PeerId,
    pub peer_info: PeerInfo,
    pub attributes: Arc<PathAttributes>,
    pub next_hop: Option<NextHop>,
    pub received_at: Time,
}

impl Source {
    pub fn of(path: &Path) -> Source {
        Source {
            peer: path.peer,
            peer_info: path.peer_info,
            attributes: path.attributes.clone(),
            next_hop: path.next_hop,
            received_at: path.received_at,
        }
    }
}

/// The NLRI less what the key and the path identifier already say: nothing for unicast (the
/// key is the whole NLRI), boxed for the rest so that unicast paths do not pay for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tail {
    /// VPN with one label (RFC 4364 §4.3.4: the usual case).
    Label(Label),
    /// Anything else (label stacks, EVPN and RT constraint routes), as received.
    Nlri(Nlri),
}

/// One stored path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub source: Arc<Source>,
    tail: Option<Box<Tail>>,
    path_id: u32,
    flags: Flags,
}

/// Whether the path has a path identifier, and whether it is stale: an enum rather than a
/// byte of bits so that its unused values let [`super::loc`]'s one-or-many paths go without
/// a tag word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Flags {
    Plain = 0,
    PathId = HAS_PATH_ID,
    Stale = STALE,
    PathIdStale = HAS_PATH_ID | STALE,
}

const HAS_PATH_ID: u8 = 1;
const STALE: u8 = 2;

impl Flags {
    fn bits(self) -> u8 {
        self as u8
    }

    fn from_bits(bits: u8) -> Flags {
        match bits & (HAS_PATH_ID | STALE) {
            HAS_PATH_ID => Flags::PathId,
            STALE => Flags::Stale,
            3 => Flags::PathIdStale,
            _ => Flags::Plain,
        }
    }
}

impl Stored {
    /// The path to `nlri` from `source`.
    pub fn new(source: Arc<Source>, nlri: Nlri) -> Stored {
        let path_id = nlri.path_id();
        let tail = match nlri {
            Nlri::Prefix(_) => None,
            Nlri::Vpn(VpnPrefix { labels, .. }) if labels.len() == 1 => {
                labels.first().map(|l| Box::new(Tail::Label(*l)))
            }
            other => Some(Box::new(Tail::Nlri(other))),
        };
        Stored {
            source,
            tail,
            path_id: path_id.unwrap_or(0),
            flags: if path_id.is_some() { Flags::PathId } else { Flags::Plain },
        }
    }

    pub fn from_path(path: Path) -> Stored {
        let stale = path.stale;
        let source = Arc::new(Source::of(&path));
        let mut s = Stored::new(source, path.nlri);
        s.set_stale(stale);
        s
    }

    pub fn peer(&self) -> PeerId {
        self.source.peer
    }

    pub fn path_id(&self) -> Option<u32> {
        (self.flags.bits() & HAS_PATH_ID != 0).then_some(self.path_id)
    }

    pub fn stale(&self) -> bool {
        self.flags.bits() & STALE != 0
    }

    pub fn set_stale(&mut self, stale: bool) {
        let bits = self.flags.bits();
        self.flags = Flags::from_bits(if stale { bits | STALE } else { bits & !STALE });
    }

    /// The same peer and path identifier: the path an announcement replaces (RFC 7911 §3).
    pub fn is(&self, peer: PeerId, path_id: Option<u32>) -> bool {
        self.peer() == peer && self.path_id() == path_id
    }

    /// The same route with the same attributes (what [`Path::same_route`] says of the readable
    /// paths), whatever the arrival time and staleness.
    pub fn same_route(&self, other: &Stored) -> bool {
        if self.peer() != other.peer() || self.path_id() != other.path_id() || self.tail != other.tail {
            return false;
        }
        let (a, b) = (&self.source, &other.source);
        Arc::ptr_eq(a, b)
            || (a.next_hop == b.next_hop && (Arc::ptr_eq(&a.attributes, &b.attributes) || a.attributes == b.attributes))
    }

    /// The same NLRI whatever the path identifiers: what the peer it is exported to sees (the
    /// Adj-RIB-Out sets its own identifiers).
    pub fn same_nlri(&self, other: &Stored) -> bool {
        match (self.tail.as_deref(), other.tail.as_deref()) {
            (Some(Tail::Nlri(a)), Some(Tail::Nlri(b))) if a != b => {
                a.clone().with_path_id(None) == b.clone().with_path_id(None)
            }
            (a, b) => a == b,
        }
    }

    /// The NLRI as received.
    pub fn nlri(&self, key: &RouteKey) -> Nlri {
        let path_id = self.path_id();
        match (self.tail.as_deref(), key) {
            (Some(Tail::Nlri(n)), _) => n.clone(),
            (Some(Tail::Label(l)), RouteKey::Vpn { rd, net }) => Nlri::Vpn(VpnPrefix {
                path_id,
                labels: vec![*l],
                rd: *rd,
                net: *net,
            }),
            (_, RouteKey::Prefix(net)) => Nlri::Prefix(Prefix { path_id, net: *net }),
            // A tail is only made for a key of its kind; a prefix is the safe answer.
            (_, other) => Nlri::Prefix(Prefix {
                path_id,
                net: match other {
                    RouteKey::Vpn { net, .. } => *net,
                    _ => ipnet::IpNet::V4(ipnet::Ipv4Net::default()),
                },
            }),
        }
    }

    /// The readable path.
    pub fn path(&self, key: &RouteKey) -> Path {
        let s = &self.source;
        Path {
            peer: s.peer,
            peer_info: s.peer_info,
            nlri: self.nlri(key),
            attributes: s.attributes.clone(),
            next_hop: s.next_hop,
            path_id: self.path_id(),
            received_at: s.received_at,
            stale: self.stale(),
        }
    }
}
