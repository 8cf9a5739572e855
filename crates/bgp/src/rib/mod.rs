//! Routing information bases (RFC 4271 §3.2): Adj-RIB-In, Loc-RIB with the decision process
//! (§9.1), Adj-RIB-Out with update packing, route reflection (RFC 4456), VRF import/export
//! (RFC 4364 §4.3.5, RFC 9136), route target constraint (RFC 4684), and per-peer import and
//! export policies by route target and community ([`policy`]), rejected routes kept for
//! re-evaluation ([`pre_policy`]).
//!
//! Sans-IO like the rest of the crate: the caller feeds decoded UPDATEs and the FSM's session
//! events in, passes the time, and gets back best-path changes and UPDATEs to send.

pub mod adj_in;
pub mod adj_out;
mod change;
pub mod decision;
pub mod key;
pub mod loc;
mod out_queue;
mod packing;
pub mod path;
pub mod policy;
pub mod pre_policy;
pub mod rtc;
mod stored;
mod table;
mod view;
pub mod vrf;

pub use adj_out::{AdjRibOut, OutPeerConfig, Outgoing, Sources, sources};
pub use decision::{DEFAULT_LOCAL_PREF, DecisionConfig, best, compare};
pub use key::RouteKey;
pub use loc::{BestChange, Rib, RibConfig};
pub use path::{Path, PeerId, PeerInfo, PeerKind};
pub use policy::{AnyCommunity, Policy, PolicyError};
pub use rtc::{RtFilter, membership_paths};
pub use vrf::{ExportEncoding, Vrf, VrfChange, VrfRoute};
