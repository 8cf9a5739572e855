use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every kind of resource the controller stores. The table below is the one place that knows
/// each kind's API version, plural and short names, like the API server's discovery document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Namespace,
    Pod,
    Service,
    NetworkPolicy,
    VirtualNetwork,
    Cluster,
    Node,
    WorkloadEndpoint,
    BGPPeer,
}

struct KindInfo {
    api_version: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
}

/// A kind name the model does not know, with the list of those it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server doesn't have a resource type {given:?}; known types: {known}")]
pub struct UnknownKind {
    pub given: String,
    pub known: String,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Namespace,
        Kind::Pod,
        Kind::Service,
        Kind::NetworkPolicy,
        Kind::VirtualNetwork,
        Kind::Cluster,
        Kind::Node,
        Kind::WorkloadEndpoint,
        Kind::BGPPeer,
    ];

    fn info(self) -> KindInfo {
        let (api_version, plural, short_names, namespaced): (_, _, &'static [&'static str], _) = match self {
            Kind::Namespace => ("v1", "namespaces", &["ns"], false),
            Kind::Pod => ("v1", "pods", &["po"], true),
            Kind::Service => ("v1", "services", &["svc"], true),
            Kind::NetworkPolicy => ("networking.k8s.io/v1", "networkpolicies", &["netpol"], true),
            Kind::VirtualNetwork => (crate::WEFT_API_VERSION, "virtualnetworks", &["vn"], false),
            Kind::Cluster => (crate::WEFT_API_VERSION, "clusters", &[], false),
            Kind::Node => (crate::WEFT_API_VERSION, "nodes", &["no"], false),
            Kind::WorkloadEndpoint => (crate::WEFT_API_VERSION, "workloadendpoints", &["wep"], true),
            Kind::BGPPeer => (crate::WEFT_API_VERSION, "bgppeers", &["bgppeer"], false),
        };
        KindInfo {
            api_version,
            plural,
            short_names,
            namespaced,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Pod => "Pod",
            Kind::Service => "Service",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::VirtualNetwork => "VirtualNetwork",
            Kind::Cluster => "Cluster",
            Kind::Node => "Node",
            Kind::WorkloadEndpoint => "WorkloadEndpoint",
            Kind::BGPPeer => "BGPPeer",
        }
    }

    pub fn api_version(self) -> &'static str {
        self.info().api_version
    }

    pub fn plural(self) -> &'static str {
        self.info().plural
    }

    pub fn short_names(self) -> &'static [&'static str] {
        self.info().short_names
    }

    /// Namespaced kinds live in a namespace (`default` when the manifest names none).
    pub fn namespaced(self) -> bool {
        self.info().namespaced
    }

    /// The kind of an `apiVersion`/`kind` pair of a manifest.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == kind && k.api_version() == api_version)
    }
}

impl FromStr for Kind {
    type Err = UnknownKind;

    /// Accepts what kubectl accepts: the kind, its plural, its singular and its short names, in
    /// any case, optionally qualified by the group (`virtualnetworks.weft.io`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let bare = lower.split('.').next().unwrap_or_default();
        Kind::ALL
            .into_iter()
            .find(|k| bare == k.name().to_ascii_lowercase() || bare == k.plural() || k.short_names().contains(&bare))
            .ok_or_else(|| UnknownKind {
                given: s.to_string(),
                known: Kind::ALL.map(|k| k.plural()).join(", "),
            })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_kubectl() {
        for (text, kind) in [
            ("po", Kind::Pod),
            ("pods", Kind::Pod),
            ("Pod", Kind::Pod),
            ("svc", Kind::Service),
            ("netpol", Kind::NetworkPolicy),
            ("networkpolicies.networking.k8s.io", Kind::NetworkPolicy),
            ("vn", Kind::VirtualNetwork),
            ("virtualnetworks.weft.io", Kind::VirtualNetwork),
            ("ns", Kind::Namespace),
            ("clusters", Kind::Cluster),
        ] {
            assert_eq!(text.parse::<Kind>().unwrap(), kind, "{text}");
        }
        let e = "pdos".parse::<Kind>().unwrap_err();
        assert!(e.to_string().contains("known types: namespaces, pods"), "{e}");
    }

    #[test]
    fn type_lookup_needs_the_right_group() {
        assert_eq!(Kind::from_type("v1", "Pod"), Some(Kind::Pod));
        assert_eq!(Kind::from_type("apps/v1", "Pod"), None);
        assert_eq!(
            Kind::from_type("weft.io/v1alpha1", "VirtualNetwork"),
            Some(Kind::VirtualNetwork)
        );
    }
}
