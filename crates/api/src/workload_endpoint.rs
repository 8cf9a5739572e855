//! The WorkloadEndpoint custom resource: one pod interface on one node, created by the node's
//! agent when the CNI plugin attaches a pod. The controller fills in its network and addresses
//! at admission, so that the address is reserved before the interface exists; deleting the
//! endpoint releases them. Other nodes route to the pod from it.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "weft.io",
    version = "v1alpha1",
    kind = "WorkloadEndpoint",
    namespaced,
    derive = "PartialEq",
    shortname = "wep",
    printcolumn = r#"{"name":"Node","type":"string","jsonPath":".spec.node"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadEndpointSpec {
    /// The node whose agent created it.
    pub node: String,
    /// The pod's name (the endpoint's own name is the pod's too; kept for clarity in listings).
    pub pod: String,
    /// The runtime's container id (CNI_CONTAINERID) and interface name (CNI_IFNAME).
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub interface: String,
    /// The host-side interface on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_interface: Option<String>,
    /// The pod interface's MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The VirtualNetwork the pod is on; set by the controller from the namespace's placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The pod's addresses; allocated by the controller when empty. Immutable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
}
