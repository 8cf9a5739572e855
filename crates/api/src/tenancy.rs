//! Which virtual network a namespace's pods are placed on.
//!
//! The default is Kubernetes semantics: every namespace on the cluster's one pod network, every pod
//! reaching every pod until a NetworkPolicy says otherwise. Isolation is opt-in, per namespace, by
//! annotation: its own network, or a named existing VirtualNetwork (which may be shared with other
//! namespaces and, through route targets, with other clusters).

use k8s_openapi::api::core::v1::Namespace;

/// `"true"`: the namespace gets a network of its own, named [`isolated_network_name`].
pub const ISOLATED_ANNOTATION: &str = "weft.io/isolated";
/// The name of an existing VirtualNetwork to place the namespace on.
pub const NETWORK_ANNOTATION: &str = "weft.io/virtual-network";
/// The name of the cluster's default pod network.
pub const DEFAULT_NETWORK: &str = "default";

/// Where a namespace's pods go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The cluster-wide pod network.
    Default,
    /// A network of the namespace's own, created for it.
    Isolated { network: String },
    /// A VirtualNetwork named by the user.
    Named { network: String },
}

impl Placement {
    /// The VirtualNetwork's name.
    pub fn network(&self) -> &str {
        match self {
            Placement::Default => DEFAULT_NETWORK,
            Placement::Isolated { network } | Placement::Named { network } => network,
        }
    }
}

/// The name of the network an isolated namespace gets.
pub fn isolated_network_name(namespace: &str) -> String {
    format!("ns-{namespace}")
}

/// Reads a namespace's placement from its annotations. A namespace that does not exist (yet) is
/// on the default network, as in Kubernetes, where pods may name a namespace before it is listed.
pub fn placement(namespace_name: &str, namespace: Option<&Namespace>) -> Placement {
    let annotations = namespace.and_then(|n| n.metadata.annotations.as_ref());
    let get = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    if let Some(network) = get(NETWORK_ANNOTATION) {
        return Placement::Named {
            network: network.to_string(),
        };
    }
    if get(ISOLATED_ANNOTATION) == Some("true") {
        return Placement::Isolated {
            network: isolated_network_name(namespace_name),
        };
    }
    Placement::Default
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectMeta;

    fn ns(annotations: &[(&str, &str)]) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some("team".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn placement_follows_annotations() {
        assert_eq!(placement("team", None), Placement::Default);
        assert_eq!(placement("team", Some(&ns(&[]))), Placement::Default);
        assert_eq!(
            placement("team", Some(&ns(&[(ISOLATED_ANNOTATION, "false")]))),
            Placement::Default
        );
        assert_eq!(
            placement("team", Some(&ns(&[(ISOLATED_ANNOTATION, "true")]))).network(),
            "ns-team"
        );
        assert_eq!(
            placement("team", Some(&ns(&[(NETWORK_ANNOTATION, "blue")]))),
            Placement::Named { network: "blue".into() }
        );
    }
}
