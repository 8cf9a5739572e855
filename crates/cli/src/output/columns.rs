//! The table columns of each kind: the few fields a person looks for first, more with `-o wide`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use weft_api::k8s_openapi;
use weft_api::tenancy;
use weft_api::{Kind, Resource};

use super::{Table, age};

fn none_if_empty(s: String) -> String {
    if s.is_empty() { "<none>".into() } else { s }
}

fn headers(kind: Kind, wide: bool) -> Vec<&'static str> {
    let mut h: Vec<&str> = match kind {
        Kind::Namespace => vec!["NAME", "NETWORK", "AGE"],
        Kind::Pod => vec!["NAME", "NODE", "IP", "AGE"],
        Kind::Service => vec!["NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "AGE"],
        Kind::NetworkPolicy => vec!["NAME", "POD-SELECTOR", "AGE"],
        Kind::VirtualNetwork => vec!["NAME", "VNI", "SUBNETS", "IMPORT-RTS", "EXPORT-RTS", "IMPORTED", "AGE"],
        Kind::Cluster => vec!["NAME", "AS", "POD-CIDRS", "SERVICE-CIDRS", "AGE"],
        Kind::Node => vec!["NAME", "VTEP", "ROUTER-MAC", "MTU", "AGE"],
        Kind::WorkloadEndpoint => vec!["NAME", "NODE", "NETWORK", "ADDRESSES", "AGE"],
        Kind::BGPPeer => vec!["NAME", "ADDRESS", "AS", "FAMILIES", "STATE", "AGE"],
    };
    if wide {
        h.extend(match kind {
            Kind::Namespace => vec!["LABELS"],
            Kind::Pod => vec!["IPS", "LABELS"],
            Kind::Service => vec!["SELECTOR", "AFFINITY"],
            Kind::NetworkPolicy => vec!["POLICY-TYPES"],
            Kind::VirtualNetwork => vec!["RD"],
            Kind::Cluster => vec!["ROUTER-ID", "DEFAULT-VNI"],
            Kind::Node => vec!["UNDERLAY", "AGENT"],
            Kind::WorkloadEndpoint => vec!["CONTAINER", "INTERFACE", "HOST-INTERFACE", "MAC"],
            Kind::BGPPeer => vec!["LOCAL-ADDRESS", "MD5", "GTSM", "RR-CLIENT", "LAST-ERROR"],
        });
    }
    h
}

fn cells(resource: &Resource, wide: bool) -> Vec<String> {
    let name = resource.name().to_string();
    let age = age(resource);
    let mut row = match resource {
        Resource::Namespace(ns) => {
            vec![
                name,
                tenancy::placement(resource.name(), Some(ns)).network().to_string(),
                age,
            ]
        }
        Resource::Pod(pod) => {
            let node = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_else(|| "<none>".into());
            let ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_else(|| "<none>".into());
            vec![name, node, ip, age]
        }
        Resource::Service(svc) => {
            let spec = svc.spec.clone().unwrap_or_default();
            let ports = spec
                .ports
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    let target = match &p.target_port {
                        Some(IntOrString::Int(n)) if *n != p.port => format!(">{n}"),
                        Some(IntOrString::String(s)) => format!(">{s}"),
                        _ => String::new(),
                    };
                    format!("{}{target}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP"))
                })
                .collect::<Vec<_>>()
                .join(",");
            vec![
                name,
                spec.type_.unwrap_or_else(|| "ClusterIP".into()),
                none_if_empty(spec.cluster_ips.unwrap_or_default().join(",")),
                none_if_empty(ports),
                age,
            ]
        }
        Resource::NetworkPolicy(np) => {
            let selector = np
                .spec
                .as_ref()
                .and_then(|s| s.pod_selector.clone())
                .unwrap_or_default();
            vec![name, selector_text(&selector), age]
        }
        Resource::VirtualNetwork(vn) => vec![
            name,
            vn.spec.vni.to_string(),
            none_if_empty(vn.spec.subnets.join(",")),
            none_if_empty(vn.spec.import_route_targets.join(",")),
            none_if_empty(vn.spec.export_route_targets.join(",")),
            {
                let status = vn.status.clone().unwrap_or_default();
                match (status.imported_routes, status.refused_routes.len()) {
                    (None, _) => "-".to_string(),
                    (Some(n), 0) => n.to_string(),
                    (Some(n), r) => format!("{n} ({r} refused)"),
                }
            },
            age,
        ],
        Resource::Cluster(c) => vec![
            name,
            c.spec.asn.to_string(),
            c.spec.pod_cidrs.join(","),
            c.spec.service_cidrs.join(","),
            age,
        ],
        Resource::Node(n) => vec![
            name,
            n.spec.vtep.clone(),
            n.spec.router_mac.clone(),
            n.spec.mtu.to_string(),
            age,
        ],
        Resource::WorkloadEndpoint(w) => vec![
            name,
            w.spec.node.clone(),
            w.spec.network.clone().unwrap_or_else(|| "<none>".into()),
            none_if_empty(w.spec.addresses.join(",")),
            age,
        ],
        Resource::BGPPeer(p) => vec![
            name,
            p.spec.address.clone(),
            p.spec.asn.to_string(),
            if p.spec.families.is_empty() {
                "l2vpn-evpn".into()
            } else {
                p.spec.families.join(",")
            },
            p.status
                .as_ref()
                .and_then(|s| s.state.clone())
                .unwrap_or_else(|| "<unknown>".into()),
            age,
        ],
    };
    if wide {
        match resource {
            Resource::Namespace(_) => row.push(labels_text(resource)),
            Resource::Pod(pod) => {
                let ips = pod.status.as_ref().and_then(|s| s.pod_ips.clone()).unwrap_or_default();
                row.push(none_if_empty(
                    ips.into_iter().map(|p| p.ip).collect::<Vec<_>>().join(","),
                ));
                row.push(labels_text(resource));
            }
            Resource::Service(svc) => {
                let spec = svc.spec.clone().unwrap_or_default();
                let selector = spec
                    .selector
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                row.push(none_if_empty(selector));
                row.push(spec.session_affinity.unwrap_or_else(|| "None".into()));
            }
            Resource::NetworkPolicy(np) => {
                let types = np
                    .spec
                    .as_ref()
                    .and_then(|s| s.policy_types.clone())
                    .unwrap_or_default();
                row.push(none_if_empty(types.join(",")));
            }
            Resource::VirtualNetwork(vn) => row.push(
                vn.spec
                    .route_distinguisher
                    .clone()
                    .unwrap_or_else(|| "<default>".into()),
            ),
            Resource::Cluster(c) => {
                row.push(c.spec.router_id.clone().unwrap_or_else(|| "<auto>".into()));
                row.push(c.spec.default_vni().to_string());
            }
            Resource::Node(n) => {
                let status = n.status.clone().unwrap_or_default();
                row.push(status.underlay_interface.unwrap_or_else(|| "<unknown>".into()));
                row.push(status.agent_version.unwrap_or_else(|| "<unknown>".into()));
            }
            Resource::WorkloadEndpoint(w) => {
                row.push(w.spec.container_id.chars().take(12).collect());
                row.push(w.spec.interface.clone());
                row.push(w.spec.host_interface.clone().unwrap_or_default());
                row.push(w.spec.mac.clone().unwrap_or_default());
            }
            Resource::BGPPeer(p) => {
                row.push(p.spec.local_address.clone().unwrap_or_else(|| "<auto>".into()));
                row.push(if p.spec.password.is_some() { "yes" } else { "no" }.into());
                row.push(
                    p.spec
                        .ttl_security_hops
                        .map(|h| format!("{h} hops"))
                        .unwrap_or_else(|| "off".into()),
                );
                row.push(if p.spec.route_reflector_client { "yes" } else { "no" }.into());
                row.push(p.status.as_ref().and_then(|s| s.last_error.clone()).unwrap_or_default());
            }
        }
    }
    row
}

fn labels_text(resource: &Resource) -> String {
    let labels = resource.meta().labels.clone().unwrap_or_default();
    none_if_empty(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A selector as kubectl describes one: `app=web,tier notin (test)`; `<none>` selects all.
fn selector_text(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            op => format!("{} {} ({values})", e.key, op.to_ascii_lowercase()),
        });
    }
    none_if_empty(parts.join(","))
}

/// A table of objects of one kind; with `namespaces`, a NAMESPACE column first.
pub fn table(kind: Kind, items: &[Resource], wide: bool, namespaces: bool) -> Table {
    let mut h = headers(kind, wide);
    if namespaces && kind.namespaced() {
        h.insert(0, "NAMESPACE");
    }
    let mut t = Table::new(&h);
    for r in items {
        let mut row = cells(r, wide);
        if namespaces && kind.namespaced() {
            row.insert(0, r.meta().namespace.clone().unwrap_or_default());
        }
        t.row(row);
    }
    t
}
