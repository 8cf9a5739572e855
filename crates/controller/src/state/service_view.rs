//! Services as the nodes program them: each Service's ClusterIPs, ports, and ready endpoints
//! (pods its selector matches, with their addresses and per-pod target ports), computed from the
//! store. Pure: objects in, states out. The Kubernetes rules it follows: a Service without a
//! selector has no endpoints here; a pod is an endpoint once its network is set up (it has a
//! WorkloadEndpoint with addresses) and while it is not marked not-ready; a named targetPort is
//! resolved per pod from its containers' ports (protocol included), and a pod without that port
//! is not an endpoint of that port.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use weft_api::k8s_openapi;
use weft_api::sync::{ServiceEndpoint, ServicePort, ServiceState, VipNextHop};
use weft_api::{Node, Resource, WorkloadEndpoint, tenancy};

/// Everything the view reads.
#[derive(Default)]
pub struct Objects<'a> {
    pub services: Vec<&'a Service>,
    pub pods: Vec<&'a Pod>,
    pub namespaces: Vec<&'a Namespace>,
    pub endpoints: Vec<&'a WorkloadEndpoint>,
    pub nodes: Vec<&'a Node>,
}

impl<'a> Objects<'a> {
    /// Takes the Services, Pods and Namespaces among `resources` (others are ignored).
    pub fn take(&mut self, resources: impl IntoIterator<Item = &'a Resource>) {
        for r in resources {
            match r {
                Resource::Service(s) => self.services.push(s),
                Resource::Pod(p) => self.pods.push(p),
                Resource::Namespace(n) => self.namespaces.push(n),
                _ => {}
            }
        }
    }
}

fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Not ready only when the pod says so (Ready condition False); a pod without status, as the
/// lab makes them, counts as ready once its network exists.
fn ready(pod: &Pod) -> bool {
    !pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "False"))
        && pod.metadata.deletion_timestamp.is_none()
}

/// The port a Service port reaches on `pod`, or `None` when the pod has no such named port.
fn target_port(port: &k8s_openapi::api::core::v1::ServicePort, pod: &Pod) -> Option<u16> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match &port.target_port {
        None => u16::try_from(port.port).ok(),
        Some(IntOrString::Int(n)) => u16::try_from(*n).ok(),
        Some(IntOrString::String(name)) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
            .and_then(|p| u16::try_from(p.container_port).ok()),
    }
}

/// Every Service with a ClusterIP, cluster-wide (no node-specific part yet), by `ns/name`.
pub fn services(objects: &Objects) -> BTreeMap<String, ServiceState> {
    let namespaces: BTreeMap<&str, &Namespace> = objects
        .namespaces
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, *n)))
        .collect();
    let weps: BTreeMap<(&str, &str), &WorkloadEndpoint> = objects
        .endpoints
        .iter()
        .filter_map(|w| Some(((w.metadata.namespace.as_deref()?, w.spec.pod.as_str()), *w)))
        .collect();
    let mut out = BTreeMap::new();
    for svc in &objects.services {
        let (Some(ns), Some(name), Some(spec)) = (
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
            svc.spec.as_ref(),
        ) else {
            continue;
        };
        let cluster_ips: Vec<IpAddr> = spec
            .cluster_ips
            .iter()
            .flatten()
            .chain(spec.cluster_ip.iter())
            .filter_map(|ip| ip.parse().ok())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if cluster_ips.is_empty() {
            continue; // headless: nothing to program
        }
        let ports: Vec<ServicePort> = spec
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some(ServicePort {
                    name: p.name.clone().unwrap_or_default(),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    port: u16::try_from(p.port).ok()?,
                })
            })
            .collect();
        let mut endpoints = Vec::new();
        if let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) {
            let mut pods: Vec<&&Pod> = objects
                .pods
                .iter()
                .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && selects(selector, p) && ready(p))
                .collect();
            pods.sort_by_key(|p| p.metadata.name.clone());
            for pod in pods {
                let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
                let Some(wep) = weps.get(&(ns, pod_name)) else { continue };
                let addresses: Vec<IpAddr> = wep.spec.addresses.iter().filter_map(|a| a.parse().ok()).collect();
                if addresses.is_empty() {
                    continue;
                }
                let target_ports: BTreeMap<u16, u16> = spec
                    .ports
                    .iter()
                    .flatten()
                    .filter_map(|p| Some((u16::try_from(p.port).ok()?, target_port(p, pod)?)))
                    .collect();
                if target_ports.is_empty() {
                    continue;
                }
                endpoints.push(ServiceEndpoint {
                    pod: format!("{ns}/{pod_name}"),
                    node: wep.spec.node.clone(),
                    addresses,
                    target_ports,
                });
            }
        }
        let state = ServiceState {
            namespace: ns.to_string(),
            name: name.to_string(),
            network: tenancy::placement(ns, namespaces.get(ns).copied())
                .network()
                .to_string(),
            cluster_ips,
            ports,
            client_ip_affinity: spec.session_affinity.as_deref() == Some("ClientIP"),
            internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
            endpoints,
            vip_nodes: Vec::new(),
        };
        out.insert(state.key(), state);
    }
    out
}

/// The Services `node` programs: those of the networks it has, with the other nodes hosting
/// endpoints as the virtual IPs' next hops.
pub fn for_node(
    node: &str,
    networks: &BTreeSet<String>,
    services: &BTreeMap<String, ServiceState>,
    nodes: &[&Node],
) -> BTreeMap<String, ServiceState> {
    let tunnels: BTreeMap<&str, &Node> = nodes
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, *n)))
        .collect();
    services
        .iter()
        .filter(|(_, s)| networks.contains(&s.network))
        .map(|(k, s)| {
            let mut s = s.clone();
            let hosting: BTreeSet<&str> = s.endpoints.iter().map(|e| e.node.as_str()).collect();
            s.vip_nodes = hosting
                .into_iter()
                .filter(|n| *n != node)
                .filter_map(|n| {
                    let t = tunnels.get(n)?;
                    Some(VipNextHop {
                        node: n.to_string(),
                        vtep: t.spec.vtep.parse().ok()?,
                        router_mac: t.spec.router_mac.clone(),
                    })
                })
                .collect();
            (k.clone(), s)
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

    fn pod(name: &str, labels: &str, ports: &str, ready: &str) -> Pod {
        let Resource::Pod(p) = parse(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{{labels}}}}}\nspec:\n  containers:\n  - name: app\n    ports: [{ports}]\nstatus:\n  conditions: [{{type: Ready, status: '{ready}'}}]\n"
        )) else {
            panic!()
        };
        p
    }

    fn wep(pod: &str, node: &str, address: &str) -> WorkloadEndpoint {
        let Resource::WorkloadEndpoint(w) = parse(&format!(
            "apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {{name: {pod}, namespace: shop}}\nspec: {{node: {node}, pod: {pod}, containerID: c, interface: eth0, addresses: ['{address}']}}\n"
        )) else {
            panic!()
        };
        w
    }

    fn node(name: &str, vtep: &str) -> Node {
        let Resource::Node(n) = parse(&format!(
            "apiVersion: weft.io/v1alpha1\nkind: Node\nmetadata: {{name: {name}}}\nspec: {{vtep: {vtep}, routerMac: '02:00:00:00:00:01', mtu: 1450}}\n"
        )) else {
            panic!()
        };
        n
    }

    fn service(extra: &str) -> Service {
        let Resource::Service(s) = parse(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: api, namespace: shop}}\nspec:\n  clusterIP: 10.96.0.10\n  clusterIPs: [10.96.0.10, 'fd00:96::a']\n  selector: {{app: api}}\n  ports:\n  - {{name: http, port: 80, targetPort: web}}\n  - {{name: dns, port: 53, protocol: UDP, targetPort: 5353}}\n{extra}"
        )) else {
            panic!()
        };
        s
    }

    #[test]
    fn endpoints_follow_selector_readiness_and_named_ports() {
        let pods = [
            pod("a", "app: api", "{name: web, containerPort: 8080}", "True"),
            pod("b", "app: api", "{name: web, containerPort: 9090}", "True"),
            pod("c", "app: api", "{name: web, containerPort: 8080}", "False"),
            pod("d", "app: db", "{name: web, containerPort: 8080}", "True"),
            pod("e", "app: api", "{name: other, containerPort: 1}", "True"),
        ];
        let weps = [
            wep("a", "n1", "10.244.0.1"),
            wep("b", "n2", "10.244.0.2"),
            wep("c", "n1", "10.244.0.3"),
            wep("d", "n1", "10.244.0.4"),
            wep("e", "n2", "10.244.0.5"),
        ];
        let svc = service("  sessionAffinity: ClientIP\n");
        let objects = Objects {
            services: vec![&svc],
            pods: pods.iter().collect(),
            endpoints: weps.iter().collect(),
            ..Default::default()
        };
        let all = services(&objects);
        let s = &all["shop/api"];
        assert_eq!(s.cluster_ips.len(), 2);
        assert_eq!(s.network, "default");
        assert!(s.client_ip_affinity && !s.internal_local);
        let eps: Vec<(&str, Vec<(u16, u16)>)> = s
            .endpoints
            .iter()
            .map(|e| (e.pod.as_str(), e.target_ports.iter().map(|(a, b)| (*a, *b)).collect()))
            .collect();
        // c is not ready, d is not selected; e has no "web" port but serves the numeric one.
        assert_eq!(
            eps,
            vec![
                ("shop/a", vec![(53, 5353), (80, 8080)]),
                ("shop/b", vec![(53, 5353), (80, 9090)]),
                ("shop/e", vec![(53, 5353)]),
            ]
        );
        // Node n1 routes the VIPs to n2 (the other hosting node); n2 to n1.
        let nodes = [node("n1", "192.0.2.1"), node("n2", "192.0.2.2")];
        let refs: Vec<&Node> = nodes.iter().collect();
        let nets = BTreeSet::from(["default".to_string()]);
        let n1 = for_node("n1", &nets, &all, &refs);
        assert_eq!(
            n1["shop/api"]
                .vip_nodes
                .iter()
                .map(|v| v.node.as_str())
                .collect::<Vec<_>>(),
            ["n2"]
        );
        let n2 = for_node("n2", &nets, &all, &refs);
        assert_eq!(
            n2["shop/api"]
                .vip_nodes
                .iter()
                .map(|v| v.node.as_str())
                .collect::<Vec<_>>(),
            ["n1"]
        );
        // A node without the network gets nothing.
        assert!(for_node("n3", &BTreeSet::new(), &all, &refs).is_empty());
    }

    #[test]
    fn headless_and_selectorless_services() {
        let mut headless = service("");
        if let Some(spec) = headless.spec.as_mut() {
            spec.cluster_ip = Some("None".into());
            spec.cluster_ips = Some(vec!["None".into()]);
        }
        let mut manual = service("  internalTrafficPolicy: Local\n");
        manual.metadata.name = Some("manual".into());
        if let Some(spec) = manual.spec.as_mut() {
            spec.selector = None;
        }
        let pods = [pod("a", "app: api", "{name: web, containerPort: 8080}", "True")];
        let weps = [wep("a", "n1", "10.244.0.1")];
        let objects = Objects {
            services: vec![&headless, &manual],
            pods: pods.iter().collect(),
            endpoints: weps.iter().collect(),
            ..Default::default()
        };
        let all = services(&objects);
        assert!(!all.contains_key("shop/api"), "headless Services are not programmed");
        let m = &all["shop/manual"];
        assert!(m.endpoints.is_empty() && m.internal_local);
    }
}
