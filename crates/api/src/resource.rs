use std::fmt;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::{Serialize, Serializer};

use crate::{BGPPeer, Cluster, Kind, Node, ObjectMeta, VirtualNetwork, WorkloadEndpoint};

/// Any object the controller stores, typed. Serializes to exactly the Kubernetes JSON/YAML form
/// (with `apiVersion` and `kind`); parse one with [`crate::manifest`].
#[derive(Debug, Clone, PartialEq)]
// Objects are built once and passed by reference or moved whole into the store; boxing the
// large variants would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
pub enum Resource {
    Namespace(Namespace),
    Pod(Pod),
    Service(Service),
    NetworkPolicy(NetworkPolicy),
    VirtualNetwork(VirtualNetwork),
    Cluster(Cluster),
    Node(Node),
    WorkloadEndpoint(WorkloadEndpoint),
    BGPPeer(BGPPeer),
}

/// Where an object lives: kind, namespace (for namespaced kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct ResourceKey {
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ResourceKey {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> ResourceKey {
        ResourceKey {
            kind,
            namespace: if kind.namespaced() {
                Some(namespace.unwrap_or("default").to_string())
            } else {
                None
            },
            name: name.to_string(),
        }
    }
}

/// A text that is not `Kind/name` or `Kind/namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an object key; write Kind/name or Kind/namespace/name, e.g. Pod/default/web")]
pub struct BadKey(pub String);

impl std::str::FromStr for ResourceKey {
    type Err = BadKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadKey(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        let kind: Kind = parts.first().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        match (parts.as_slice(), kind.namespaced()) {
            ([_, ns, name], true) if !ns.is_empty() && !name.is_empty() => Ok(ResourceKey::new(kind, Some(ns), name)),
            ([_, name], false) if !name.is_empty() => Ok(ResourceKey::new(kind, None, name)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for ResourceKey {
    /// `Kind/name`, or `Kind/namespace/name` for namespaced kinds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

macro_rules! each_kind {
    ($value:expr, $inner:ident => $body:expr) => {
        match $value {
            Resource::Namespace($inner) => $body,
            Resource::Pod($inner) => $body,
            Resource::Service($inner) => $body,
            Resource::NetworkPolicy($inner) => $body,
            Resource::VirtualNetwork($inner) => $body,
            Resource::Cluster($inner) => $body,
            Resource::Node($inner) => $body,
            Resource::WorkloadEndpoint($inner) => $body,
            Resource::BGPPeer($inner) => $body,
        }
    };
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Namespace(_) => Kind::Namespace,
            Resource::Pod(_) => Kind::Pod,
            Resource::Service(_) => Kind::Service,
            Resource::NetworkPolicy(_) => Kind::NetworkPolicy,
            Resource::VirtualNetwork(_) => Kind::VirtualNetwork,
            Resource::Cluster(_) => Kind::Cluster,
            Resource::Node(_) => Kind::Node,
            Resource::WorkloadEndpoint(_) => Kind::WorkloadEndpoint,
            Resource::BGPPeer(_) => Kind::BGPPeer,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        each_kind!(self, r => &r.metadata)
    }

    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each_kind!(self, r => &mut r.metadata)
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// The key, with the namespace defaulted to `default` for namespaced kinds.
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(self.kind(), self.meta().namespace.as_deref(), self.name())
    }

    pub fn resource_version(&self) -> Option<&str> {
        self.meta().resource_version.as_deref()
    }

    /// The Kubernetes JSON form.
    pub fn to_value(&self) -> serde_json::Value {
        // Serializing these types cannot fail: they hold no maps with non-string keys.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        each_kind!(self, r => r.serialize(s))
    }
}
