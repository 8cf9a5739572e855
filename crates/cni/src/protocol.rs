//! What the CNI plugin and the node agent say to each other over the agent's unix socket: one
//! JSON request line, one JSON response line, then the connection closes.
//!
//! The plugin stays thin: it turns the runtime's environment and stdin into an [`AgentRequest`]
//! and the agent's [`AgentResponse`] into a CNI result or error. All the work (addresses from the
//! controller, kernel state) is the agent's.

use serde::{Deserialize, Serialize};

/// Default path of the agent's socket; a network config may name another (`agentSocket`).
pub const DEFAULT_AGENT_SOCKET: &str = "/run/weft/agent.sock";

/// One attachment of a container to the network: the CNI triple (container id, network name,
/// interface name) plus what the runtime tells about the pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_NETNS: a path such as /var/run/netns/x or /proc/PID/ns/net. May be absent on DEL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// CNI_IFNAME, the interface to create inside the container (usually eth0).
    pub ifname: String,
    /// The network config's `name`.
    pub network: String,
    /// K8S_POD_NAMESPACE from CNI_ARGS; absent when the runtime is not Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_namespace: Option<String>,
    /// K8S_POD_NAME from CNI_ARGS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// K8S_POD_UID from CNI_ARGS, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The network config's `mtu`, overriding the agent's (underlay MTU - 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// The attachments the runtime still uses, for GC (CNI 1.1 `cni.dev/valid-attachments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentKey {
    pub container_id: String,
    pub ifname: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "UPPERCASE")]
pub enum AgentRequest {
    /// Create the interface, allocate addresses, program the node; idempotent for the same
    /// attachment.
    Add(Attachment),
    /// Undo an ADD; succeeds when there is nothing to undo.
    Del(Attachment),
    /// Verify that what ADD made is still in place.
    Check(Attachment),
    /// Whether the agent is ready for ADDs (CNI 1.1 STATUS).
    Status { network: String },
    /// Remove every attachment of this network not in `valid` (CNI 1.1 GC).
    Gc { network: String, valid: Vec<AttachmentKey> },
}

/// The agent's answer: a result for ADD and CHECK (CHECK's is empty), nothing for the others,
/// or an error with a CNI error code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum AgentResponse {
    Ok {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<AttachResult>,
    },
    Error(AgentError),
}

/// A failure, with the CNI error code that the plugin passes on (spec: "Error codes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentError {
    pub code: u32,
    pub msg: String,
    #[serde(default)]
    pub details: String,
}

/// CNI error codes (CNI spec 1.1, "Error" section).
pub mod codes {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO_FAILURE: u32 = 5;
    pub const DECODE_FAILURE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// STATUS: the plugin is not available (e.g. no addresses left).
    pub const PLUGIN_NOT_AVAILABLE: u32 = 50;
    /// STATUS: the plugin's dependencies are not available (the agent or the controller).
    pub const LIMITED_CONNECTIVITY: u32 = 51;
    /// Weft's own (>= 100 are plugin-specific): the agent cannot be reached.
    pub const AGENT_UNREACHABLE: u32 = 100;
    /// Weft's own: the controller refused (no addresses left, unknown network...).
    pub const CONTROLLER_REFUSED: u32 = 101;
    /// Weft's own, set by the plugin: the agent's answer could not be used (not JSON, or not
    /// what the command expects, such as an ADD success without a result).
    pub const BAD_AGENT_RESPONSE: u32 = 102;
    /// Weft's own, set by the plugin: CHECK found the attachment differs from `prevResult`.
    pub const CHECK_MISMATCH: u32 = 103;
}

/// What ADD made: the pod-side interface and its addresses, routes and MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachResult {
    /// The host-side interface name (the veth peer in the node's namespace).
    pub host_interface: String,
    pub host_mac: String,
    /// The container's interface (CNI_IFNAME) and its MAC.
    pub container_interface: String,
    pub container_mac: String,
    /// The container's netns path, as given.
    pub sandbox: String,
    /// Addresses with prefix length (`10.244.0.5/32`, `fd00::5/128`).
    pub addresses: Vec<String>,
    /// The link-local gateways the container's default routes use (169.254.1.1, fe80::1).
    pub gateways: Vec<String>,
    /// Routes set in the container: destination and gateway.
    pub routes: Vec<RouteEntry>,
    pub mtu: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEntry {
    pub dst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
}
