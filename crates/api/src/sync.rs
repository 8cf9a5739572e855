//! The controller-to-agent protocol: each agent gets the slice of the desired state that its
//! node needs, as a snapshot, an in-sync marker, then deltas, each with the store revision it
//! reflects. Sent as newline-delimited JSON over a long-lived HTTP response.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

/// Everything one node's agent programs: the networks its pods are on, its own pods, and routes
/// to the pods of those networks on other nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub node: String,
    /// By network name.
    pub networks: BTreeMap<String, NetworkState>,
    /// By `namespace/pod`.
    pub endpoints: BTreeMap<String, LocalEndpoint>,
    /// By `network/prefix`.
    pub routes: BTreeMap<String, RemoteRoute>,
    /// The Services of the networks this node has, by `namespace/name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceState>,
    /// NetworkPolicy of this node's pods that some policy selects, by `namespace/pod`; a pod
    /// that no policy selects is absent (everything allowed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, EndpointPolicy>,
}

/// One pod's NetworkPolicy, compiled and flattened for the dataplane: per direction, two sets
/// that one lookup each decides (however many policies, rules and pods are behind them).
/// Replies of allowed connections are always allowed (conntrack); so is the node itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPolicy {
    /// `namespace/pod`, as [`LocalEndpoint::key`].
    pub pod: String,
    /// `None`: not isolated for ingress (everything may connect to it). `Some`: only what the
    /// sets allow (empty sets: nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<PolicySets>,
    /// Likewise for the connections it opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<PolicySets>,
}

impl EndpointPolicy {
    pub fn key(&self) -> String {
        self.pod.clone()
    }
}

/// What one direction allows: disjoint elements, ready for nftables interval sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySets {
    /// Peer prefixes allowed on every protocol and port (ICMP too).
    #[serde(default)]
    pub any: Vec<String>,
    /// Peer prefixes allowed on some ports of a protocol.
    #[serde(default)]
    pub ports: Vec<PolicyPort>,
}

/// A peer prefix, a protocol (`TCP`, `UDP`, `SCTP`) and an inclusive port range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPort {
    pub peer: String,
    pub protocol: String,
    pub first: u16,
    pub last: u16,
}

/// A Service as a node programs it: its virtual IPs in its network's table, and where
/// connections to each port go.
///
/// - Connections from this node's pods are spread over `endpoints` (the cluster's ready ones, or
///   only this node's with `internal_local`), translated on this node (DNAT), one lookup per
///   packet whatever the number of Services.
/// - Connections that arrive over VXLAN for a virtual IP (routed here by `vip_nodes`, from
///   other nodes or other clusters) go to this node's own endpoints.
/// - Without endpoints, connections are refused at once (TCP RST, ICMP unreachable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    pub namespace: String,
    pub name: String,
    /// The network (VN) of the Service's namespace: the table its virtual IPs live in.
    pub network: String,
    /// The ClusterIPs, IPv4 and/or IPv6.
    pub cluster_ips: Vec<IpAddr>,
    pub ports: Vec<ServicePort>,
    /// `sessionAffinity: ClientIP`: a client's connections go to one endpoint.
    #[serde(default)]
    pub client_ip_affinity: bool,
    /// `internalTrafficPolicy: Local`: pods here use only this node's endpoints.
    #[serde(default)]
    pub internal_local: bool,
    /// Ready endpoints, in a stable order.
    #[serde(default)]
    pub endpoints: Vec<ServiceEndpoint>,
    /// The other nodes hosting endpoints: the ECMP next hops of the virtual IPs' routes.
    #[serde(default)]
    pub vip_nodes: Vec<VipNextHop>,
}

impl ServiceState {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// The port's name (required when a Service has several).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    pub port: u16,
}

/// A ready pod behind a Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEndpoint {
    /// `namespace/pod`.
    pub pod: String,
    pub node: String,
    pub addresses: Vec<IpAddr>,
    /// Target port per Service port (by the Service port's `port`): a named targetPort is
    /// resolved from this pod's container ports; a Service port the pod cannot serve is absent.
    /// On the wire a list of `[port, target]` pairs (JSON object keys are strings, which the
    /// tagged [`Change`] cannot read back as numbers).
    #[serde(with = "port_pairs")]
    pub target_ports: BTreeMap<u16, u16>,
}

mod port_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(map: &BTreeMap<u16, u16>, s: S) -> Result<S::Ok, S::Error> {
        map.iter()
            .map(|(k, v)| (*k, *v))
            .collect::<Vec<(u16, u16)>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u16, u16>, D::Error> {
        Ok(Vec::<(u16, u16)>::deserialize(d)?.into_iter().collect())
    }
}

/// A node that hosts endpoints of a Service, as a next hop of its virtual IPs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VipNextHop {
    pub node: String,
    pub vtep: Ipv4Addr,
    pub router_mac: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    pub name: String,
    pub vni: u32,
}

/// A pod on this node, as the controller knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalEndpoint {
    pub namespace: String,
    pub pod: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub interface: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    pub network: String,
    pub addresses: Vec<IpAddr>,
}

impl LocalEndpoint {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.pod)
    }
}

/// A prefix of a network that lives on another node: sent over VXLAN with the network's VNI to
/// that node's VTEP, with its router MAC as the inner destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRoute {
    pub network: String,
    pub vni: u32,
    /// A host prefix (/32 or /128) for a pod.
    pub prefix: String,
    pub node: String,
    pub vtep: Ipv4Addr,
    pub router_mac: String,
}

impl RemoteRoute {
    pub fn key(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }
}

/// One line of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SyncMessage {
    /// The whole state; replaces whatever the agent had.
    Snapshot { revision: u64, state: NodeState },
    /// Everything up to `revision` has been sent: the agent may now remove what it has that the
    /// state does not (not before, or a restart would flap pods).
    InSync { revision: u64 },
    /// Changes since the previous message.
    Delta { revision: u64, changes: Vec<Change> },
    /// Nothing changed; sent periodically so that a dead connection is noticed.
    Heartbeat { revision: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Change {
    UpsertNetwork(NetworkState),
    RemoveNetwork { name: String },
    UpsertEndpoint(LocalEndpoint),
    RemoveEndpoint { key: String },
    UpsertRoute(RemoteRoute),
    RemoveRoute { key: String },
    UpsertService(ServiceState),
    RemoveService { key: String },
    UpsertPolicy(EndpointPolicy),
    RemovePolicy { key: String },
}

impl NodeState {
    /// The changes that turn `self` into `new`: removals first, then upserts.
    pub fn diff(&self, new: &NodeState) -> Vec<Change> {
        let mut out = Vec::new();
        removed(&self.policies, &new.policies, &mut out, |key| Change::RemovePolicy {
            key,
        });
        removed(&self.services, &new.services, &mut out, |key| Change::RemoveService {
            key,
        });
        removed(&self.routes, &new.routes, &mut out, |key| Change::RemoveRoute { key });
        removed(&self.endpoints, &new.endpoints, &mut out, |key| {
            Change::RemoveEndpoint { key }
        });
        removed(&self.networks, &new.networks, &mut out, |name| Change::RemoveNetwork {
            name,
        });
        upserted(&self.networks, &new.networks, &mut out, Change::UpsertNetwork);
        upserted(&self.endpoints, &new.endpoints, &mut out, Change::UpsertEndpoint);
        upserted(&self.routes, &new.routes, &mut out, Change::UpsertRoute);
        upserted(&self.services, &new.services, &mut out, Change::UpsertService);
        upserted(&self.policies, &new.policies, &mut out, Change::UpsertPolicy);
        out
    }

    pub fn apply(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::UpsertNetwork(n) => {
                    self.networks.insert(n.name.clone(), n.clone());
                }
                Change::RemoveNetwork { name } => {
                    self.networks.remove(name);
                }
                Change::UpsertEndpoint(e) => {
                    self.endpoints.insert(e.key(), e.clone());
                }
                Change::RemoveEndpoint { key } => {
                    self.endpoints.remove(key);
                }
                Change::UpsertRoute(r) => {
                    self.routes.insert(r.key(), r.clone());
                }
                Change::RemoveRoute { key } => {
                    self.routes.remove(key);
                }
                Change::UpsertService(sv) => {
                    self.services.insert(sv.key(), sv.clone());
                }
                Change::RemoveService { key } => {
                    self.services.remove(key);
                }
                Change::UpsertPolicy(p) => {
                    self.policies.insert(p.key(), p.clone());
                }
                Change::RemovePolicy { key } => {
                    self.policies.remove(key);
                }
            }
        }
    }
}

fn removed<V>(
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
    out: &mut Vec<Change>,
    make: impl Fn(String) -> Change,
) {
    out.extend(old.keys().filter(|k| !new.contains_key(*k)).map(|k| make(k.clone())));
}

fn upserted<V: Clone + PartialEq>(
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
    out: &mut Vec<Change>,
    make: impl Fn(V) -> Change,
) {
    out.extend(
        new.iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(_, v)| make(v.clone())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_cross_the_wire() {
        let service = ServiceState {
            namespace: "shop".into(),
            name: "api".into(),
            network: "default".into(),
            cluster_ips: vec!["10.96.0.10".parse().unwrap()],
            ports: vec![ServicePort {
                name: "http".into(),
                protocol: "TCP".into(),
                port: 80,
            }],
            endpoints: vec![ServiceEndpoint {
                pod: "shop/a".into(),
                node: "n1".into(),
                addresses: vec!["10.244.0.1".parse().unwrap()],
                target_ports: BTreeMap::from([(80, 8080)]),
            }],
            ..Default::default()
        };
        let mut state = NodeState::default();
        state.services.insert(service.key(), service.clone());
        for message in [
            SyncMessage::Snapshot { revision: 1, state },
            SyncMessage::Delta {
                revision: 2,
                changes: vec![Change::UpsertService(service)],
            },
        ] {
            let text = serde_json::to_string(&message).unwrap();
            assert_eq!(serde_json::from_str::<SyncMessage>(&text).unwrap(), message, "{text}");
        }
    }

    fn state(networks: &[(&str, u32)], routes: &[(&str, &str)]) -> NodeState {
        let mut s = NodeState {
            node: "n1".into(),
            ..Default::default()
        };
        for (name, vni) in networks {
            s.networks.insert(
                name.to_string(),
                NetworkState {
                    name: name.to_string(),
                    vni: *vni,
                },
            );
        }
        for (network, prefix) in routes {
            let r = RemoteRoute {
                network: network.to_string(),
                vni: 1,
                prefix: prefix.to_string(),
                node: "n2".into(),
                vtep: Ipv4Addr::new(192, 0, 2, 2),
                router_mac: "02:00:00:00:00:02".into(),
            };
            s.routes.insert(r.key(), r);
        }
        s
    }

    #[test]
    fn diff_then_apply_reaches_the_new_state() {
        let a = state(
            &[("default", 1), ("blue", 2)],
            &[("default", "10.0.0.1/32"), ("blue", "10.1.0.1/32")],
        );
        let b = state(
            &[("default", 1), ("red", 3)],
            &[("default", "10.0.0.1/32"), ("red", "10.2.0.1/32")],
        );
        let changes = a.diff(&b);
        assert_eq!(changes.len(), 4, "{changes:?}");
        let mut c = a.clone();
        c.apply(&changes);
        assert_eq!(c, b);
        assert!(b.diff(&b).is_empty());
        let line = serde_json::to_string(&SyncMessage::Delta { revision: 7, changes }).unwrap();
        assert!(
            line.starts_with(r#"{"type":"Delta","revision":7,"changes":[{"op":"removeRoute""#),
            "{line}"
        );
    }
}
