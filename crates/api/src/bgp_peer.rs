//! The BGPPeer custom resource: one BGP neighbour of the cluster's controller (another cluster's
//! controller, a route reflector, a data-centre or cloud router), in the terms FRR and BIRD use.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "weft.io",
    version = "v1alpha1",
    kind = "BGPPeer",
    plural = "bgppeers",
    derive = "PartialEq",
    status = "BGPPeerStatus",
    printcolumn = r#"{"name":"Address","type":"string","jsonPath":".spec.address"}"#,
    printcolumn = r#"{"name":"AS","type":"integer","jsonPath":".spec.asn"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BGPPeerSpec {
    /// The neighbour's address (IPv4 or IPv6).
    pub address: String,
    /// The neighbour's AS (1-4294967295); equal to the cluster's AS makes the session iBGP.
    pub asn: u32,
    /// Address families to negotiate: `ipv4-unicast`, `ipv6-unicast`, `ipv4-vpn`, `ipv6-vpn`,
    /// `l2vpn-evpn`, `ipv4-rtc`. Default: `l2vpn-evpn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<String>,
    /// The local address to connect from; default: the kernel's choice towards the neighbour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
    /// Only accept connections, never connect.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passive: bool,
    /// TCP MD5 signature (RFC 2385) password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// GTSM (RFC 5082): accept only packets from at most this many hops away (1 = directly
    /// connected). Absent: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_security_hops: Option<u8>,
    /// Hold time in seconds: 0, or 3-65535. Default 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u32>,
    /// Treat the neighbour as a route reflector client (RFC 4456); iBGP only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub route_reflector_client: bool,
    /// Per family, the most prefixes accepted before the session is closed with a clear log
    /// (Cease/1, RFC 4486).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_prefixes: Vec<MaxPrefix>,
    /// Which received routes are accepted, and which are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_policy: Option<RoutePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_policy: Option<RoutePolicy>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaxPrefix {
    pub family: String,
    pub limit: u32,
}

/// Accept a route when it carries one of `routeTargets` (empty: any) and none of
/// `denyCommunities`, and add `addCommunities` on the way.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutePolicy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_targets: Vec<String>,
    /// Standard communities as `ASN:VALUE` (RFC 1997) or large ones as `ASN:A:B` (RFC 8092).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_communities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_communities: Vec<String>,
}

/// What the speaker reports for a peer, written back by the controller: at once when the
/// session's state or last error changes, the prefix counts at most every few seconds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPPeerStatus {
    /// The session's state (RFC 4271 §8.2.2): Idle, Connect, Active, OpenSent, OpenConfirm,
    /// Established.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// When the session reached Established (RFC 3339); absent when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established_since: Option<String>,
    /// The last thing that went wrong with the session, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Per configured family: prefixes received, accepted by the import policy, and sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<BGPPeerPrefixes>,
}

/// Prefix counts of one family of one peer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPPeerPrefixes {
    /// The BGPPeer spelling: `ipv4-unicast`, `l2vpn-evpn`, ...
    pub family: String,
    /// Sent by the peer, before the import policy.
    pub received: u64,
    /// Of those, the ones the import policy accepted.
    pub accepted: u64,
    /// Advertised to the peer, after the export policy.
    pub sent: u64,
}

/// The family names a BGPPeer accepts, in FRR's words.
pub const FAMILIES: [&str; 6] = [
    "ipv4-unicast",
    "ipv6-unicast",
    "ipv4-vpn",
    "ipv6-vpn",
    "l2vpn-evpn",
    "ipv4-rtc",
];
