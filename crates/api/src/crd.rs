//! The CustomResourceDefinitions of Weft's own kinds, so that the same manifests apply to a real
//! Kubernetes cluster once these are installed (`weft crds | kubectl apply -f -`).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{BGPPeer, Cluster, Node, VirtualNetwork, WorkloadEndpoint};

pub fn definitions() -> Vec<CustomResourceDefinition> {
    vec![
        Cluster::crd(),
        VirtualNetwork::crd(),
        Node::crd(),
        WorkloadEndpoint::crd(),
        BGPPeer::crd(),
    ]
}

/// All definitions as one multi-document YAML text.
pub fn to_yaml() -> String {
    definitions()
        .iter()
        .map(|crd| serde_yaml_ng::to_string(crd).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_describe_the_kinds_with_schemas() {
        let crds = definitions();
        let names: Vec<&str> = crds
            .iter()
            .map(|c| c.metadata.name.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "clusters.weft.io",
                "virtualnetworks.weft.io",
                "nodes.weft.io",
                "workloadendpoints.weft.io",
                "bgppeers.weft.io"
            ]
        );
        let vn = &crds[1];
        assert_eq!(vn.spec.scope, "Cluster");
        assert_eq!(vn.spec.names.short_names.as_deref(), Some(&["vn".to_string()][..]));
        let schema = vn.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap();
        let spec = &schema.properties.as_ref().unwrap()["spec"];
        let required = spec.required.clone().unwrap_or_default();
        assert_eq!(required, ["vni"]);
        assert!(spec.properties.as_ref().unwrap().contains_key("importRouteTargets"));
    }

    #[test]
    fn the_committed_definitions_are_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/crds.yaml");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == to_yaml(),
            "deploy/crds.yaml is stale: regenerate it with `weft crds > deploy/crds.yaml`"
        );
    }
}
