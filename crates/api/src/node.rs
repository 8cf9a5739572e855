//! The Node custom resource: a machine that runs a Weft agent, as the overlay sees it.
//! Registered by the agent itself from what it detects (underlay address, router MAC, MTU).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "weft.io",
    version = "v1alpha1",
    kind = "Node",
    derive = "PartialEq",
    status = "NodeStatus",
    printcolumn = r#"{"name":"VTEP","type":"string","jsonPath":".spec.vtep"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// The node's underlay IPv4 address: the VXLAN tunnel endpoint other nodes send to.
    pub vtep: String,
    /// The MAC of the node's VXLAN device. Inner frames sent to this node carry it as their
    /// destination: the VXLAN receive path drops frames addressed to another MAC. It is what EVPN
    /// type-5 routes carry as the router's MAC (RFC 9135).
    pub router_mac: String,
    /// The pods' MTU on this node: the underlay's minus the 50 bytes of VXLAN over IPv4.
    pub mtu: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// The underlay interface the agent found the VTEP on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay_interface: Option<String>,
    /// The agent's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
}
