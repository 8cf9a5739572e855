//! The VirtualNetwork custom resource: a routing domain (a table, a VNI, route targets) that pods
//! are placed in. In Tungsten Fabric terms, a virtual network; in EVPN terms, an IP-VRF.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a virtual network.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "weft.io",
    version = "v1alpha1",
    kind = "VirtualNetwork",
    derive = "PartialEq",
    shortname = "vn",
    status = "VirtualNetworkStatus",
    printcolumn = r#"{"name":"VNI","type":"integer","jsonPath":".spec.vni"}"#,
    printcolumn = r#"{"name":"Subnets","type":"string","jsonPath":".spec.subnets"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetworkSpec {
    /// IPv4 and IPv6 prefixes pods on this network get addresses from. Empty: the cluster's pod
    /// CIDRs, so addresses stay unique cluster-wide. Subnets of different networks may overlap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// VXLAN network identifier (1-16777215), carried in EVPN type-5 routes (RFC 9136).
    pub vni: u32,
    /// Route distinguisher (RFC 4364 §4.2), e.g. `64512:100` or `192.0.2.1:100`. Default:
    /// the cluster's router id and the VNI, which is unique per cluster and network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_distinguisher: Option<String>,
    /// Routes carrying any of these route targets are imported. Default: `<cluster AS>:<vni>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_route_targets: Vec<String>,
    /// Route targets attached to this network's exported routes. Default: `<cluster AS>:<vni>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_route_targets: Vec<String>,
}

/// What the controller observed for a virtual network.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetworkStatus {
    /// Namespaces whose pods are placed on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Routes imported over BGP (by the import route targets) and installed on the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_routes: Option<u32>,
    /// Imported routes not installed, each with the reason (an overlap with a local prefix, a
    /// route the nodes cannot forward); at most 20, the rest counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_routes: Vec<String>,
}
