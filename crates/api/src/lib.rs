//! Weft's resource model: the Kubernetes kinds Weft reads (Namespace, Pod, Service, NetworkPolicy,
//! as k8s-openapi types) and Weft's own custom resources (VirtualNetwork, Cluster), all in the
//! Kubernetes shape so that the same manifests apply to a real cluster.
//!
//! This crate is pure data: parsing manifests, validating them with errors that name the field, and
//! deciding which virtual network a namespace is on. Storage and I/O live elsewhere.

pub mod bgp_peer;
pub mod cluster;
pub mod crd;
mod error;
mod kind;
pub mod manifest;
pub mod node;
mod resource;
pub mod sync;
pub mod tenancy;
pub mod validate;
pub mod virtual_network;
pub mod wire;
pub mod workload_endpoint;

pub use bgp_peer::{BGPPeer, BGPPeerPrefixes, BGPPeerSpec, BGPPeerStatus};
pub use cluster::{Cluster, ClusterSpec};
pub use error::{FieldError, ManifestError};
pub use kind::{Kind, UnknownKind};
pub use node::{Node, NodeSpec, NodeStatus};
pub use resource::{BadKey, Resource, ResourceKey};
pub use virtual_network::{VirtualNetwork, VirtualNetworkSpec, VirtualNetworkStatus};
pub use workload_endpoint::{WorkloadEndpoint, WorkloadEndpointSpec};

/// Re-exported so that users of the model name the same Kubernetes types.
pub use k8s_openapi;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The API group of Weft's own kinds.
pub const GROUP: &str = "weft.io";
/// The API version of Weft's own kinds.
pub const WEFT_API_VERSION: &str = "weft.io/v1alpha1";
