//! NetworkPolicy on the node, in the same nftables table as the Services (`inet weft`), made by
//! the same machinery: [`crate::services::ruleset`]'s Sans-IO table and incremental script,
//! [`crate::services::observe`]'s read-back for drift, [`crate::services::Nft`] to apply it in
//! one transaction. See docs/dataplane.md, "NetworkPolicy".
//!
//! - [`ruleset`] adds the policy's base chain, the per-pod chains and the peer sets.
//! - [`table`] is the node's whole table: Services and NetworkPolicy, so that one transaction
//!   changes both and one read-back repairs both.

pub mod ruleset;

use weft_api::sync::NodeState;

use crate::services::{self, Ruleset};

/// The node's table `inet weft`: Services and NetworkPolicy. Both skeletons are always there
/// once the table is, so a first Service or a first policy changes elements and chains, never the
/// table's structure. The table is there as soon as the node has a network, even without either:
/// its hooks turn conntrack on, so that every pod flow is tracked from its first packet. A table
/// that came with the first Service would pick up the flows already open halfway through and
/// translate them (a connection opened a moment before that Service was programmed would
/// break). `None` for a node without networks (then Weft has no table).
pub fn table(state: &NodeState) -> Option<Ruleset> {
    if state.networks.is_empty() && state.services.is_empty() && state.policies.is_empty() {
        return None;
    }
    let mut r = services::ruleset(state).unwrap_or_else(services::ruleset::skeleton);
    ruleset::add_skeleton(&mut r);
    ruleset::add_policies(&mut r, state);
    Some(r)
}
