//! Weft's NetworkPolicy compiler, Sans-IO: NetworkPolicies, pods and namespaces in, per-endpoint
//! ingress and egress rule sets out ([`compile`]), with the reference decision for one
//! connection ([`evaluate`]) and its explanation in words ([`explain_pod`],
//! [`explain_connection`]). No I/O, no async, no clock: the controller feeds it objects and ships
//! the result to the nodes, whose agents turn it into nftables sets ([`FlatRules`]).
//!
//! The semantics are networking.k8s.io/v1's, as the API reference and the upstream conformance
//! model (the e2e netpol tests, cyclonus) define them; the decisions are listed in the crate's
//! README.md.

mod compile;
mod error;
mod evaluate;
mod explain;
mod flat;
mod model;
mod peers;
mod policy;
mod ports;
mod selector;

pub use compile::{Compiled, EndpointRules, Origin, Peers, Rule, compile, compile_for};
pub use error::{InvalidObject, Problem};
pub use evaluate::{Connection, Decision, Endpoint, RuleCheck, Traffic, Verdict, evaluate};
pub use explain::{explain_connection, explain_pod};
pub use flat::FlatRules;
pub use model::{Input, NAMESPACE_NAME_LABEL, NamespaceInfo, PodInfo};
pub use peers::{IpBlock, Namespaces, PeerSpec};
pub use policy::{Direction, Key, Policy, RuleSpec};
pub use ports::{ContainerPort, PortRange, PortSpec, Protocol};
pub use selector::{Labels, Operator, Requirement, Selector};

/// Re-exported so callers name the same prefix type.
pub use ipnet::IpNet;
