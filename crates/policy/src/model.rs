//! The compiler's input: namespaces and pods reduced to what policy needs (labels, addresses,
//! container ports), and the policies. Built from the Kubernetes objects with
//! [`Input::from_objects`], or directly with [`NamespaceInfo`] and [`PodInfo`] in tests.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use weft_api::k8s_openapi::api::core::v1::{Container, Namespace, Pod};
use weft_api::k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::error::{InvalidObject, Problems};
use crate::policy::{Key, Policy};
use crate::ports::{ContainerPort, Protocol};
use crate::selector::Labels;

/// The label every namespace carries, set by the API server to the namespace's name since
/// Kubernetes 1.22 (NamespaceDefaultLabelName), so policies can select a namespace by name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A namespace: its name and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceInfo {
    pub name: String,
    pub labels: Labels,
}

impl NamespaceInfo {
    pub fn new<'a>(name: &str, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> NamespaceInfo {
        NamespaceInfo {
            name: name.to_string(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn from_namespace(ns: &Namespace) -> Result<NamespaceInfo, InvalidObject> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let mut problems = Problems::default();
        if name.is_empty() {
            problems.push("metadata.name", "required; give the namespace a name");
        }
        let labels = ns.metadata.labels.clone().unwrap_or_default();
        let object = format!("Namespace/{name}");
        problems.finish(|| object, NamespaceInfo { name, labels })
    }
}

/// A pod: where it is, its labels, its addresses (none until it is networked), and its
/// container ports (what named ports resolve to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub key: Key,
    pub labels: Labels,
    pub addresses: Vec<IpAddr>,
    pub ports: Vec<ContainerPort>,
}

impl PodInfo {
    pub fn new<'a>(namespace: &str, name: &str, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> PodInfo {
        PodInfo {
            key: Key::new(namespace, name),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            addresses: vec![],
            ports: vec![],
        }
    }

    pub fn with_addresses(mut self, addresses: impl IntoIterator<Item = IpAddr>) -> PodInfo {
        self.addresses.extend(addresses);
        self
    }

    pub fn with_ports(mut self, ports: impl IntoIterator<Item = ContainerPort>) -> PodInfo {
        self.ports.extend(ports);
        self
    }

    /// Reads a Pod. `Ok(None)` for pods policy does not apply to: host-network pods (their
    /// address is the node's; NetworkPolicy leaves them undefined and Weft does not attach
    /// them) and finished pods (Succeeded or Failed: their address may already be another
    /// pod's). Addresses come from `status.podIPs` (or `status.podIP`); named ports from the
    /// containers and from restartable init containers (sidecars), which also serve.
    pub fn from_pod(pod: &Pod) -> Result<Option<PodInfo>, InvalidObject> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_string());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let mut problems = Problems::default();
        if name.is_empty() {
            problems.push("metadata.name", "required; give the pod a name");
        }
        let spec = pod.spec.as_ref();
        if spec.and_then(|s| s.host_network).unwrap_or(false) {
            return Ok(None);
        }
        let status = pod.status.as_ref();
        if matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded") | Some("Failed")
        ) {
            return Ok(None);
        }
        let mut addresses = Vec::new();
        let listed: Vec<(String, &str)> = match status.and_then(|s| s.pod_ips.as_ref()).filter(|l| !l.is_empty()) {
            Some(ips) => ips
                .iter()
                .enumerate()
                .map(|(i, ip)| (format!("status.podIPs[{i}].ip"), ip.ip.as_str()))
                .collect(),
            None => status
                .and_then(|s| s.pod_ip.as_deref())
                .map(|ip| vec![("status.podIP".to_string(), ip)])
                .unwrap_or_default(),
        };
        for (path, ip) in listed {
            match ip.parse::<IpAddr>() {
                Ok(a) if !addresses.contains(&a) => addresses.push(a),
                Ok(_) => {}
                Err(_) => problems.push(
                    path,
                    format!("{ip:?} is not an IP address; write e.g. 10.0.0.5 or fd00::5"),
                ),
            }
        }
        let mut ports = Vec::new();
        if let Some(spec) = spec {
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .enumerate()
                .filter(|(_, c)| c.restart_policy.as_deref() == Some("Always"));
            let containers = spec.containers.iter().enumerate().map(|(i, c)| ("containers", i, c));
            let sidecars = sidecars.map(|(i, c)| ("initContainers", i, c));
            for (field, i, container) in containers.chain(sidecars) {
                container_ports(container, &format!("spec.{field}[{i}]"), &mut ports, &mut problems);
            }
        }
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let info = PodInfo {
            key: Key::new(namespace.clone(), name.clone()),
            labels,
            addresses,
            ports,
        };
        problems.finish(|| format!("Pod/{namespace}/{name}"), Some(info))
    }
}

fn container_ports(container: &Container, at: &str, out: &mut Vec<ContainerPort>, problems: &mut Problems) {
    for (j, p) in container.ports.iter().flatten().enumerate() {
        let path = format!("{at}.ports[{j}]");
        let Some(protocol) = Protocol::parse(p.protocol.as_deref()) else {
            problems.push(
                format!("{path}.protocol"),
                format!(
                    "{:?} is not a protocol; use TCP, UDP or SCTP",
                    p.protocol.as_deref().unwrap_or_default()
                ),
            );
            continue;
        };
        match u16::try_from(p.container_port) {
            Ok(port) if port >= 1 => out.push(ContainerPort {
                name: p.name.clone(),
                protocol,
                port,
            }),
            _ => problems.push(
                format!("{path}.containerPort"),
                format!("{} is not a port number; use 1-65535", p.container_port),
            ),
        }
    }
}

/// Everything the compiler and the evaluator look at.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Namespace labels with [`NAMESPACE_NAME_LABEL`] set to the name, for every namespace
    /// given and every namespace a pod or policy is in (a namespace the caller did not list is
    /// taken to have no other label).
    namespaces: BTreeMap<String, Labels>,
    pods: Vec<PodInfo>,
    by_key: BTreeMap<Key, usize>,
    policies: Vec<Policy>,
}

impl Input {
    pub fn new(namespaces: Vec<NamespaceInfo>, pods: Vec<PodInfo>, policies: Vec<Policy>) -> Input {
        let mut labels: BTreeMap<String, Labels> = namespaces.into_iter().map(|n| (n.name, n.labels)).collect();
        for ns in pods
            .iter()
            .map(|p| &p.key.namespace)
            .chain(policies.iter().map(|p| &p.key.namespace))
        {
            labels.entry(ns.clone()).or_default();
        }
        for (name, l) in labels.iter_mut() {
            // The API server overwrites it with the name, whatever the object said.
            l.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
        }
        let by_key = pods.iter().enumerate().map(|(i, p)| (p.key.clone(), i)).collect();
        Input {
            namespaces: labels,
            pods,
            by_key,
            policies,
        }
    }

    /// From the Kubernetes objects; every invalid object is reported, nothing is guessed.
    pub fn from_objects(
        namespaces: &[Namespace],
        pods: &[Pod],
        policies: &[NetworkPolicy],
    ) -> Result<Input, Vec<InvalidObject>> {
        let mut errors = Vec::new();
        let namespaces: Vec<NamespaceInfo> = namespaces
            .iter()
            .filter_map(|n| NamespaceInfo::from_namespace(n).map_err(|e| errors.push(e)).ok())
            .collect();
        let pods: Vec<PodInfo> = pods
            .iter()
            .filter_map(|p| PodInfo::from_pod(p).map_err(|e| errors.push(e)).ok().flatten())
            .collect();
        let policies: Vec<Policy> = policies
            .iter()
            .filter_map(|p| Policy::parse(p).map_err(|e| errors.push(e)).ok())
            .collect();
        if errors.is_empty() {
            Ok(Input::new(namespaces, pods, policies))
        } else {
            Err(errors)
        }
    }

    pub fn pods(&self) -> &[PodInfo] {
        &self.pods
    }

    pub fn pod(&self, key: &Key) -> Option<&PodInfo> {
        self.by_key.get(key).map(|&i| &self.pods[i])
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// A namespace's labels as selectors see them (with [`NAMESPACE_NAME_LABEL`]).
    pub fn namespace_labels(&self, namespace: &str) -> Cow<'_, Labels> {
        match self.namespaces.get(namespace) {
            Some(labels) => Cow::Borrowed(labels),
            None => Cow::Owned(Labels::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                namespace.to_string(),
            )])),
        }
    }

    /// The policies whose `podSelector` selects `pod`: same namespace, labels matching.
    pub fn selecting(&self, pod: &PodInfo) -> impl Iterator<Item = &Policy> {
        self.policies
            .iter()
            .filter(move |p| p.key.namespace == pod.key.namespace && p.pod_selector.matches(&pod.labels))
    }

    /// The pod that has `address`, if any (the first one listed, should two claim it).
    pub fn pod_at(&self, address: IpAddr) -> Option<&PodInfo> {
        self.pods.iter().find(|p| p.addresses.contains(&address))
    }
}
