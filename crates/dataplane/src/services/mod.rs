//! Services (ClusterIP load balancing without kube-proxy), in the node's own nftables table
//! `inet weft` ([`crate::marks::NFT_TABLE`]). See docs/dataplane.md, "Services".
//!
//! - [`ruleset`] is Sans-IO: the table a node's state asks for, and the `nft -f` script (one
//!   transaction) that turns what the kernel holds into it, touching only what differs: when
//!   endpoints change, only their Service's chains are rewritten.
//! - [`observe`] reads the table back from `nft -j` into the same shape, so drift is a diff.
//! - [`apply`] runs `nft` inside the node's network namespace.
//! - [`conntrack`] forgets UDP and SCTP flows to endpoints that left (ctnetlink).
//!
//! The virtual IPs' routes and the rules that route refusals back to pods are ordinary kernel
//! objects of [`crate::plan`].

pub mod apply;
pub mod conntrack;
pub mod observe;
pub mod ruleset;

pub use apply::{Nft, NftError};
pub use ruleset::{Ruleset, ruleset, script};
