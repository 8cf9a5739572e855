//! NetworkPolicy as the nodes enforce it: the policies, pods and namespaces of the store compiled
//! by `weft-policy` into each local pod's flattened sets. Pure: objects in, per-pod sets out.
//! Pod addresses come from the pods' status, or from their WorkloadEndpoints when the status
//! has none yet (the endpoint is written first, at the pod's network setup).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Namespace, Pod, PodIP, PodStatus};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use weft_api::WorkloadEndpoint;
use weft_api::k8s_openapi;
use weft_api::sync::{EndpointPolicy, PolicyPort, PolicySets};
use weft_policy::{Direction, FlatRules, Input};

/// Everything the view reads.
#[derive(Default)]
pub struct Objects<'a> {
    pub policies: Vec<&'a NetworkPolicy>,
    pub pods: Vec<&'a Pod>,
    pub namespaces: Vec<&'a Namespace>,
    pub endpoints: Vec<&'a WorkloadEndpoint>,
}

fn sets(flat: FlatRules) -> PolicySets {
    PolicySets {
        any: flat.any.iter().map(|n| n.to_string()).collect(),
        ports: flat
            .ports
            .iter()
            .map(|(net, range)| PolicyPort {
                peer: net.to_string(),
                protocol: range.protocol.to_string(),
                first: range.first,
                last: range.last,
            })
            .collect(),
    }
}

/// The compiler's input from the store's objects (also what `weft explain` reads): pods get
/// their addresses from their WorkloadEndpoints when their status has none.
pub fn input(objects: &Objects) -> Result<Input, Vec<weft_policy::InvalidObject>> {
    let addresses: BTreeMap<(&str, &str), &Vec<String>> = objects
        .endpoints
        .iter()
        .filter_map(|w| {
            Some((
                (w.metadata.namespace.as_deref()?, w.spec.pod.as_str()),
                &w.spec.addresses,
            ))
        })
        .collect();
    // Pods with their addresses known, from the status or the endpoint.
    let pods: Vec<Pod> = objects
        .pods
        .iter()
        .map(|p| {
            let mut p = (*p).clone();
            let has_ips = p
                .status
                .as_ref()
                .and_then(|s| s.pod_ips.as_ref())
                .is_some_and(|i| !i.is_empty());
            let key = (
                p.metadata.namespace.as_deref().unwrap_or("default"),
                p.metadata.name.as_deref().unwrap_or_default(),
            );
            if !has_ips && let Some(ips) = addresses.get(&key).filter(|a| !a.is_empty()) {
                let status = p.status.get_or_insert_with(PodStatus::default);
                status.pod_ips = Some(ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect());
            }
            p
        })
        .collect();
    let namespaces: Vec<Namespace> = objects.namespaces.iter().map(|n| (*n).clone()).collect();
    let policies: Vec<NetworkPolicy> = objects.policies.iter().map(|p| (*p).clone()).collect();
    Input::from_objects(&namespaces, &pods, &policies)
}

/// The policy sets of the pods `local` names (`namespace/pod`) that some policy selects.
pub fn for_pods(objects: &Objects, local: &BTreeSet<String>) -> BTreeMap<String, EndpointPolicy> {
    if objects.policies.is_empty() {
        return BTreeMap::new();
    }
    let input = match input(objects) {
        Ok(input) => input,
        Err(errors) => {
            // Admission validates every object; whatever still fails is left out, loudly.
            for e in &errors {
                tracing::warn!(error = %e, "NetworkPolicy input refused");
            }
            return BTreeMap::new();
        }
    };
    let compiled = weft_policy::compile_for(&input, |p| {
        local.contains(&format!("{}/{}", p.key.namespace, p.key.name))
    });
    compiled
        .endpoints
        .iter()
        .filter(|(_, rules)| !rules.selected_by.is_empty())
        .map(|(key, rules)| {
            let pod = format!("{}/{}", key.namespace, key.name);
            let policy = EndpointPolicy {
                pod: pod.clone(),
                ingress: rules.flat(Direction::Ingress).map(sets),
                egress: rules.flat(Direction::Egress).map(sets),
            };
            (pod, policy)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::{Resource, manifest};

    fn parse(yaml: &str) -> Resource {
        manifest::parse(yaml, "-").unwrap().remove(0)
    }

    #[test]
    fn local_selected_pods_get_sets_with_peer_addresses_from_their_endpoints() {
        let Resource::NetworkPolicy(allow) = parse(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-b, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n    ports: [{port: 80}]\n",
        ) else {
            panic!()
        };
        let pods: Vec<Pod> = ["a", "b", "c"]
            .iter()
            .map(|n| match parse(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}, namespace: x, labels: {{pod: {n}}}}}\nspec: {{containers: [{{name: app}}]}}\n"
            )) {
                Resource::Pod(p) => p,
                _ => panic!(),
            })
            .collect();
        let weps: Vec<WorkloadEndpoint> = [("a", "10.0.0.1"), ("b", "10.0.0.2"), ("c", "10.0.0.3")]
            .iter()
            .map(|(n, ip)| match parse(&format!(
                "apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {{name: {n}, namespace: x}}\nspec: {{node: n1, pod: {n}, containerID: c, interface: eth0, addresses: ['{ip}']}}\n"
            )) {
                Resource::WorkloadEndpoint(w) => w,
                _ => panic!(),
            })
            .collect();
        let objects = Objects {
            policies: vec![&allow],
            pods: pods.iter().collect(),
            endpoints: weps.iter().collect(),
            ..Default::default()
        };
        let local = BTreeSet::from(["x/a".to_string(), "x/c".to_string()]);
        let out = for_pods(&objects, &local);
        // a is selected: only b, on TCP 80; c is local but unselected; b is not local.
        assert_eq!(out.keys().collect::<Vec<_>>(), ["x/a"]);
        let ingress = out["x/a"].ingress.as_ref().expect("isolated for ingress");
        assert!(ingress.any.is_empty());
        assert_eq!(
            ingress.ports,
            vec![PolicyPort {
                peer: "10.0.0.2/32".into(),
                protocol: "TCP".into(),
                first: 80,
                last: 80
            }]
        );
        assert!(
            out["x/a"].egress.is_none(),
            "egress is not isolated by an ingress-only policy"
        );
    }
}
