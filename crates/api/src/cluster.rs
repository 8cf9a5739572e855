//! The Cluster custom resource: the settings of the one cluster a controller serves.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A cluster's identity and address plan. The object's name is the cluster's name, used in route
/// distinguishers' defaults and in federation.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "weft.io",
    version = "v1alpha1",
    kind = "Cluster",
    derive = "PartialEq",
    printcolumn = r#"{"name":"AS","type":"integer","jsonPath":".spec.asn"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// The cluster's BGP AS number (1-4294967295).
    pub asn: u32,
    /// BGP router id, an IPv4 address unique among the peers. Default: chosen by the controller
    /// from its own address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// Pod address prefixes (IPv4 and/or IPv6) of the default pod network.
    #[serde(rename = "podCIDRs")]
    pub pod_cidrs: Vec<String>,
    /// Prefixes that Services' ClusterIPs are allocated from.
    #[serde(rename = "serviceCIDRs")]
    pub service_cidrs: Vec<String>,
    /// VNI of the default pod network (1-16777215). Default: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_vni: Option<u32>,
}

impl ClusterSpec {
    /// Used when `spec.defaultVni` is absent.
    pub const DEFAULT_VNI: u32 = 1;

    pub fn default_vni(&self) -> u32 {
        self.default_vni.unwrap_or(Self::DEFAULT_VNI)
    }
}
