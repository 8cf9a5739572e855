//! The bodies of the controller's HTTP API, shared by the server and its clients.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// An error response, in the shape of the Kubernetes `Status` object so that tools that know one
/// know the other: a machine-readable reason, the HTTP code, a message for people, and the
/// fields at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub api_version: String,
    pub kind: String,
    pub status: String,
    pub reason: Reason,
    pub code: u16,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<FieldError>,
}

/// Why a request failed (the `reason` of a Kubernetes Status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    BadRequest,
    Invalid,
    NotFound,
    AlreadyExists,
    Conflict,
    /// A watch asked for a revision older than the controller remembers: list again.
    Expired,
    InternalError,
    ServiceUnavailable,
}

impl Reason {
    pub fn http_code(self) -> u16 {
        match self {
            Reason::BadRequest => 400,
            Reason::Invalid => 422,
            Reason::NotFound => 404,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Expired => 410,
            Reason::InternalError => 500,
            Reason::ServiceUnavailable => 503,
        }
    }
}

impl Status {
    pub fn failure(reason: Reason, message: impl Into<String>) -> Status {
        Status {
            api_version: "v1".into(),
            kind: "Status".into(),
            status: "Failure".into(),
            reason,
            code: reason.http_code(),
            message: message.into(),
            causes: Vec::new(),
        }
    }

    pub fn with_causes(mut self, causes: Vec<FieldError>) -> Status {
        self.causes = causes;
        self
    }
}

/// The answer to an apply: what happened and the object as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplyResult {
    pub outcome: Outcome,
    pub object: serde_json::Value,
}

/// What a write did, in kubectl's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    Deleted,
}

/// A list response, like a Kubernetes `List`, with the store revision it was read at (a watch
/// started from it misses nothing).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List {
    pub api_version: String,
    pub kind: String,
    pub metadata: ListMeta,
    pub items: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    pub resource_version: String,
}

/// One line of a watch stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub object: serde_json::Value,
}

/// An address pool and how full it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolInfo {
    pub name: String,
    /// What the pool serves, e.g. `pods of VirtualNetwork default` or `Service ClusterIPs`.
    pub purpose: String,
    pub cidrs: Vec<String>,
    /// Per family (`IPv4`, `IPv6`): addresses in use and usable addresses (as text: a /64 does
    /// not fit in JSON numbers).
    pub used: BTreeMap<String, u64>,
    pub capacity: BTreeMap<String, String>,
}

/// One allocated address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationInfo {
    pub pool: String,
    pub address: IpAddr,
    pub owner: String,
    pub allocated_at: String,
}

/// The addresses given to a pod, and the network they are on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAddresses {
    pub namespace: String,
    pub name: String,
    pub network: String,
    pub pool: String,
    pub addresses: Vec<IpAddr>,
}

/// Ask to release every address an owner holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    pub owner: String,
}

/// Addresses released by a release or a garbage collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    pub released: Vec<AllocationInfo>,
}

/// `weft version` of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub version: String,
    pub revision: u64,
}

/// One BGP peer as the controller's speaker sees it (`GET /api/v1/bgp/peers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpPeerInfo {
    /// The BGPPeer object's name.
    pub name: String,
    pub address: IpAddr,
    pub asn: u32,
    /// The session's state: Idle, Connect, Active, OpenSent, OpenConfirm, Established.
    pub state: String,
    /// Seconds since the session reached Established; absent when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Per negotiated or configured family (FRR's spelling, e.g. `l2vpn evpn`).
    #[serde(default)]
    pub families: BTreeMap<String, BgpPrefixCounts>,
}

/// Route counts of one family of one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpPrefixCounts {
    pub received: usize,
    pub accepted: usize,
    pub sent: usize,
}

/// A path of the speaker's RIB (`GET /api/v1/bgp/routes`), readable like FRR's `show bgp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpRouteInfo {
    /// FRR's spelling: `ipv4 unicast`, `l2vpn evpn`, ...
    pub family: String,
    /// The destination as the speaker prints it (prefix, `RD:prefix`, EVPN route).
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    /// AS numbers in order; empty for an iBGP or local route.
    #[serde(default)]
    pub as_path: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    /// Standard and large communities (`ASN:VALUE`, `ASN:A:B`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    /// Extended communities as the speaker prints them (`RT:65000:1`, `ET:8`, `Rmac:...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_communities: Vec<String>,
    /// The route targets among them (`ASN:N` / `IP:N`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_targets: Vec<String>,
    /// The peer it was learnt from; absent for a route this controller originates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<IpAddr>,
    /// The route distinguisher of a VPN or EVPN IP prefix route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rd: Option<String>,
    /// Whether this is the best path to its destination (`?paths=all` lists the others too).
    #[serde(default)]
    pub best: bool,
}

/// `GET /api/v1/explain/{namespace}/{pod}`: which NetworkPolicies select a pod and what they
/// allow, and with `?to=` why one connection from it is allowed or denied (`weft explain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyExplanation {
    /// `namespace/pod`.
    pub pod: String,
    pub addresses: Vec<IpAddr>,
    /// The NetworkPolicies selecting the pod, as `namespace/name`.
    pub policies: Vec<String>,
    /// Isolated for ingress, for egress (a selecting policy has that policy type).
    pub ingress_isolated: bool,
    pub egress_isolated: bool,
    /// In words, rule by rule.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionExplanation>,
}

/// One connection from the explained pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionExplanation {
    pub from: String,
    pub to: String,
    /// `TCP/80`, `UDP/53`, or `ICMP` when no port was given.
    pub traffic: String,
    pub allowed: bool,
    /// The source's egress side, the destination's ingress side.
    pub egress_allowed: bool,
    pub ingress_allowed: bool,
    /// The rules that allow it, as `NetworkPolicy namespace/name ingress[0]`.
    #[serde(default)]
    pub allowed_by: Vec<String>,
    pub text: String,
}
