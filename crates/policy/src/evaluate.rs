//! The reference decision, taken straight from the API semantics for one connection, without
//! the compiled form: which policies select each end, and which of their rules match. The
//! compiler is tested against it, and `weft explain` words it.
//!
//! A connection is allowed when the source's egress allows it *and* the destination's ingress
//! allows it (API reference: both sides must allow). A side that is not a pod of the input (an
//! outside address) puts no condition. A pod's traffic to itself never leaves its network
//! namespace, so no policy applies to it (the upstream tests expect this "loopback" to work).

use std::fmt;
use std::net::IpAddr;

use crate::compile::Origin;
use crate::model::{Input, PodInfo};
use crate::peers::PeerSpec;
use crate::policy::{Direction, Key, RuleSpec};
use crate::ports::{PortRange, Protocol};

/// One end of a connection: an address, and the pod that has it if it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub address: IpAddr,
    pub pod: Option<Key>,
}

impl Endpoint {
    /// An address outside the cluster's pods.
    pub fn outside(address: IpAddr) -> Endpoint {
        Endpoint { address, pod: None }
    }

    /// A pod at one of its addresses.
    pub fn pod(key: Key, address: IpAddr) -> Endpoint {
        Endpoint {
            address,
            pod: Some(key),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pod {
            Some(key) => write!(f, "{key} ({})", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

/// What a packet carries, as far as policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Traffic {
    /// TCP, UDP or SCTP to a destination port.
    Port { protocol: Protocol, port: u16 },
    /// Any other IP protocol (ICMP is 1): only rules without ports allow it.
    Other { ip_protocol: u8 },
}

impl Traffic {
    pub fn tcp(port: u16) -> Traffic {
        Traffic::Port {
            protocol: Protocol::Tcp,
            port,
        }
    }

    pub fn udp(port: u16) -> Traffic {
        Traffic::Port {
            protocol: Protocol::Udp,
            port,
        }
    }
}

impl fmt::Display for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Traffic::Port { protocol, port } => write!(f, "{protocol}/{port}"),
            Traffic::Other { ip_protocol: 1 } => f.write_str("ICMP"),
            Traffic::Other { ip_protocol: 58 } => f.write_str("ICMPv6"),
            Traffic::Other { ip_protocol } => write!(f, "IP protocol {ip_protocol}"),
        }
    }
}

/// A new connection (its replies are allowed with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub traffic: Traffic,
}

/// The decision for a connection, with each side's reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The source's egress side.
    pub egress: Decision,
    /// The destination's ingress side.
    pub ingress: Decision,
}

/// One side of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// That end is not a pod: no policy applies to it.
    Outside,
    /// A pod to itself: never enforced.
    Loopback,
    /// No policy isolates the pod in this direction: allowed.
    NotIsolated,
    /// Isolated by these policies; allowed when one of the rules matched on both peer and port.
    Isolated { policies: Vec<Key>, rules: Vec<RuleCheck> },
}

/// How one rule of an isolating policy fared against the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCheck {
    pub origin: Origin,
    /// The peer (source for ingress, destination for egress) is selected by the rule.
    pub peer: bool,
    /// The protocol and port are in the rule's ports (named ports resolved on the destination).
    pub port: bool,
}

impl Decision {
    pub fn allows(&self) -> bool {
        match self {
            Decision::Outside | Decision::Loopback | Decision::NotIsolated => true,
            Decision::Isolated { rules, .. } => rules.iter().any(|r| r.peer && r.port),
        }
    }

    /// The rules that allow it, when isolated.
    pub fn allowed_by(&self) -> Vec<&Origin> {
        match self {
            Decision::Isolated { rules, .. } => rules.iter().filter(|r| r.peer && r.port).map(|r| &r.origin).collect(),
            _ => vec![],
        }
    }
}

/// Decides a connection from the API semantics. An endpoint naming a pod that is not in the
/// input counts as an outside address.
pub fn evaluate(input: &Input, connection: &Connection) -> Verdict {
    let src = connection.src.pod.as_ref().and_then(|k| input.pod(k));
    let dst = connection.dst.pod.as_ref().and_then(|k| input.pod(k));
    if let (Some(s), Some(d)) = (src, dst)
        && s.key == d.key
    {
        return Verdict {
            allowed: true,
            egress: Decision::Loopback,
            ingress: Decision::Loopback,
        };
    }
    let egress = match src {
        None => Decision::Outside,
        Some(pod) => side(
            input,
            pod,
            Direction::Egress,
            (&connection.dst, dst),
            dst,
            connection.traffic,
        ),
    };
    let ingress = match dst {
        None => Decision::Outside,
        Some(pod) => side(
            input,
            pod,
            Direction::Ingress,
            (&connection.src, src),
            dst,
            connection.traffic,
        ),
    };
    Verdict {
        allowed: egress.allows() && ingress.allows(),
        egress,
        ingress,
    }
}

/// One side: `pod` is the selected pod, `peer` the other end, `destination` the pod whose
/// container ports named ports refer to (for ingress the pod itself, for egress the other end).
fn side(
    input: &Input,
    pod: &PodInfo,
    direction: Direction,
    peer: (&Endpoint, Option<&PodInfo>),
    destination: Option<&PodInfo>,
    traffic: Traffic,
) -> Decision {
    let mut policies = Vec::new();
    let mut rules = Vec::new();
    for policy in input.selecting(pod) {
        let Some(specs) = policy.rules(direction) else {
            continue;
        };
        policies.push(policy.key.clone());
        for (i, spec) in specs.iter().enumerate() {
            rules.push(RuleCheck {
                origin: Origin {
                    policy: policy.key.clone(),
                    direction,
                    rule: i,
                },
                peer: peer_matches(input, spec, peer),
                port: port_matches(spec, destination, traffic),
            });
        }
    }
    if policies.is_empty() {
        Decision::NotIsolated
    } else {
        Decision::Isolated { policies, rules }
    }
}

/// `from`/`to` absent or empty: anyone. Else any peer: a pod peer by the pod's namespace and
/// labels, an ipBlock by the address alone.
fn peer_matches(input: &Input, rule: &RuleSpec, (endpoint, pod): (&Endpoint, Option<&PodInfo>)) -> bool {
    let Some(peers) = &rule.peers else {
        return true;
    };
    peers.iter().any(|peer| match peer {
        PeerSpec::Block(block) => block.contains(endpoint.address),
        PeerSpec::Pods { .. } => pod
            .is_some_and(|p| peer.selects_pod(&p.key.namespace, &input.namespace_labels(&p.key.namespace), &p.labels)),
    })
}

/// `ports` absent or empty: any traffic. Else TCP/UDP/SCTP to one of them, a named port being
/// the destination pod's port of that name and protocol (an outside destination has none).
fn port_matches(rule: &RuleSpec, destination: Option<&PodInfo>, traffic: Traffic) -> bool {
    if rule.ports.is_empty() {
        return true;
    }
    let Traffic::Port { protocol, port } = traffic else {
        return false;
    };
    let container_ports = destination.map(|d| d.ports.as_slice()).unwrap_or_default();
    rule.ports.iter().any(|spec| {
        spec.resolve(container_ports)
            .iter()
            .any(|r: &PortRange| r.contains(protocol, port))
    })
}
