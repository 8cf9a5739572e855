//! The compiler: from the input to per-endpoint rule sets, the form the node's enforcement
//! consumes. For each pod and direction: `None` when no policy isolates the pod in that
//! direction (everything allowed), else the rules, any of which allows a connection (the union
//! of every selecting policy's rules, as the API says: "combined additively"). Each rule is a
//! set of peers (addresses of selected pods, and ipBlocks) and a set of port ranges, so that the
//! dataplane can look a packet up in a set (nftables sets and verdict maps) instead of walking
//! policies: the per-packet cost depends on the endpoint's distinct rules, not on how many
//! policies or pods there are. Replies of allowed connections are not in the rules: they are
//! allowed by connection tracking (`ct state established,related accept`), as the API expects.
//!
//! Named ports: in ingress they are resolved on the endpoint itself (it is the destination);
//! in egress on each destination pod, so one rule can become several, one per distinct set of
//! resolved numbers, each with the addresses of the pods that resolve to it. Addresses that are
//! not pods (an ipBlock's outside world) have no named ports: a named port never matches them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::evaluate::{Connection, Traffic};
use crate::flat::FlatRules;
use crate::model::{Input, PodInfo};
use crate::peers::{IpBlock, PeerSpec};
use crate::policy::{Direction, Key, RuleSpec};
use crate::ports::{PortRange, PortSpec};

/// Every endpoint's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compiled {
    pub endpoints: BTreeMap<Key, EndpointRules>,
}

/// One pod's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRules {
    /// The pod's addresses (what the dataplane matches the endpoint by; none until networked).
    pub addresses: Vec<IpAddr>,
    /// Every policy whose podSelector selects the pod, whatever its directions.
    pub selected_by: Vec<Key>,
    /// `None`: not isolated for ingress, everything allowed in. `Some(rules)`: only what one of
    /// the rules allows (`Some([])`: nothing).
    pub ingress: Option<Vec<Rule>>,
    /// Likewise for egress.
    pub egress: Option<Vec<Rule>>,
}

/// One compiled rule: a connection whose peer is in `peers` and whose port is in `ports`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub peers: Peers,
    /// Empty: every port and every protocol (ICMP included); else only these.
    pub ports: Vec<PortRange>,
    /// The policy rules this came from, for `weft explain`.
    pub origins: Vec<Origin>,
}

/// The peers of a compiled rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peers {
    /// Every address (`from`/`to` absent or empty).
    Any,
    /// These pod addresses, and the addresses in these blocks. The address set is shared by
    /// every endpoint the same policy rule applies to (one copy, however many pods it selects).
    Set {
        addresses: Arc<BTreeSet<IpAddr>>,
        blocks: Vec<IpBlock>,
    },
}

/// Which rule of which policy a compiled rule came from: `spec.<direction>[<rule>]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub policy: Key,
    pub direction: Direction,
    pub rule: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkPolicy {} {}[{}]", self.policy, self.direction, self.rule)
    }
}

impl Peers {
    pub fn contains(&self, address: IpAddr) -> bool {
        match self {
            Peers::Any => true,
            Peers::Set { addresses, blocks } => {
                addresses.contains(&address) || blocks.iter().any(|b| b.contains(address))
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Peers::Set { addresses, blocks } if addresses.is_empty() && blocks.is_empty())
    }
}

impl Rule {
    /// Does this rule allow traffic with `peer` (the source for ingress, the destination for
    /// egress)?
    pub fn allows(&self, peer: IpAddr, traffic: Traffic) -> bool {
        self.peers.contains(peer) && ports_allow(&self.ports, traffic)
    }
}

/// Empty `ports` allow everything; else the traffic must be TCP, UDP or SCTP to a port in them.
pub(crate) fn ports_allow(ports: &[PortRange], traffic: Traffic) -> bool {
    match traffic {
        _ if ports.is_empty() => true,
        Traffic::Port { protocol, port } => ports.iter().any(|r| r.contains(protocol, port)),
        Traffic::Other { .. } => false,
    }
}

impl EndpointRules {
    /// The rules of one direction (`None`: not isolated).
    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    /// One direction as two disjoint sets for the dataplane (`None`: not isolated).
    pub fn flat(&self, direction: Direction) -> Option<FlatRules> {
        self.rules(direction).map(FlatRules::new)
    }

    /// Does the endpoint allow this traffic in `direction` with `peer`?
    pub fn allows(&self, direction: Direction, peer: IpAddr, traffic: Traffic) -> bool {
        self.rules(direction)
            .is_none_or(|rules| rules.iter().any(|r| r.allows(peer, traffic)))
    }
}

impl Compiled {
    /// The endpoints isolated in `direction`, grouped by identical rules: pods selected by the
    /// same policies (and resolving named ports alike) share their rules, so the dataplane can
    /// build one pair of sets per group and point every member at it.
    pub fn groups(&self, direction: Direction) -> Vec<(&[Rule], Vec<&Key>)> {
        let mut groups: BTreeMap<&[Rule], Vec<&Key>> = BTreeMap::new();
        for (key, endpoint) in &self.endpoints {
            if let Some(rules) = endpoint.rules(direction) {
                groups.entry(rules).or_default().push(key);
            }
        }
        groups.into_iter().collect()
    }

    /// The decision the dataplane would take from the compiled rules alone: the source's
    /// egress rules and the destination's ingress rules must both allow it; a pod's traffic to
    /// itself never leaves it. A reference for enforcement, and what the tests hold against
    /// [`crate::evaluate`].
    pub fn allows(&self, connection: &Connection) -> bool {
        let (src, dst) = (&connection.src, &connection.dst);
        if src.pod.is_some() && src.pod == dst.pod {
            return true;
        }
        let side = |pod: &Option<Key>, direction, peer| {
            pod.as_ref()
                .and_then(|k| self.endpoints.get(k))
                .is_none_or(|e| e.allows(direction, peer, connection.traffic))
        };
        side(&src.pod, Direction::Egress, dst.address) && side(&dst.pod, Direction::Ingress, src.address)
    }
}

/// What one policy rule selects, independent of the endpoint it is compiled for.
struct Target {
    /// The rule's peers as addresses.
    peers: Peers,
    /// Egress with named ports: (numbers, destination addresses), one per distinct resolution.
    named: Vec<(Vec<PortRange>, Arc<BTreeSet<IpAddr>>)>,
}

/// Compiles every pod's rules. Pods without addresses get rules too (they apply as soon as the
/// pod is networked) but are nobody's peer, since peers are matched by address.
pub fn compile(input: &Input) -> Compiled {
    compile_for(input, |_| true)
}

/// Compiles the rules of the pods `keep` accepts only (a node's own pods, for its agent); their
/// peers are still every pod of the input.
pub fn compile_for(input: &Input, keep: impl Fn(&PodInfo) -> bool) -> Compiled {
    // What each policy rule selects, worked out once, when a kept pod first needs it.
    let mut targets: BTreeMap<(usize, Direction, usize), Target> = BTreeMap::new();
    let mut compiled = Compiled::default();
    for pod in input.pods().iter().filter(|p| keep(p)) {
        let mut rules = Rules::default();
        let mut selected_by = Vec::new();
        for (p, policy) in input.policies().iter().enumerate() {
            if policy.key.namespace != pod.key.namespace || !policy.pod_selector.matches(&pod.labels) {
                continue;
            }
            selected_by.push(policy.key.clone());
            for direction in [Direction::Ingress, Direction::Egress] {
                let Some(specs) = policy.rules(direction) else {
                    continue;
                };
                rules.isolate(direction);
                for (i, spec) in specs.iter().enumerate() {
                    let origin = Origin {
                        policy: policy.key.clone(),
                        direction,
                        rule: i,
                    };
                    let target = targets
                        .entry((p, direction, i))
                        .or_insert_with(|| target(input, direction, spec));
                    rules.add(direction, spec, target, pod, origin);
                }
            }
        }
        compiled.endpoints.insert(
            pod.key.clone(),
            EndpointRules {
                addresses: pod.addresses.clone(),
                selected_by,
                ingress: rules.ingress.map(finish),
                egress: rules.egress.map(finish),
            },
        );
    }
    compiled
}

fn target(input: &Input, direction: Direction, rule: &RuleSpec) -> Target {
    let selects = |pod: &PodInfo| {
        let ns = input.namespace_labels(&pod.key.namespace);
        rule.peers
            .iter()
            .flatten()
            .any(|peer| peer.selects_pod(&pod.key.namespace, &ns, &pod.labels))
    };
    let peers = match &rule.peers {
        None => Peers::Any,
        Some(list) => Peers::Set {
            addresses: Arc::new(
                input
                    .pods()
                    .iter()
                    .filter(|pod| selects(pod))
                    .flat_map(|pod| pod.addresses.iter().copied())
                    .collect(),
            ),
            blocks: list
                .iter()
                .filter_map(|peer| match peer {
                    PeerSpec::Block(b) => Some(b.clone()),
                    PeerSpec::Pods { .. } => None,
                })
                .collect(),
        },
    };
    let named: Vec<&PortSpec> = rule.ports.iter().filter(|p| p.is_named()).collect();
    let mut groups: BTreeMap<Vec<PortRange>, BTreeSet<IpAddr>> = BTreeMap::new();
    if direction == Direction::Egress && !named.is_empty() {
        for pod in input.pods() {
            // A destination pod's addresses that the peers select: all of them when a pod peer
            // selects it, else those inside an ipBlock.
            let addresses: Vec<IpAddr> = if rule.peers.is_none() || selects(pod) {
                pod.addresses.clone()
            } else {
                pod.addresses.iter().copied().filter(|a| peers.contains(*a)).collect()
            };
            if addresses.is_empty() {
                continue;
            }
            let numbers = canonical_ports(named.iter().flat_map(|p| p.resolve(&pod.ports)).collect());
            if !numbers.is_empty() {
                groups.entry(numbers).or_default().extend(addresses);
            }
        }
    }
    Target {
        peers,
        named: groups.into_iter().map(|(ports, a)| (ports, Arc::new(a))).collect(),
    }
}

/// The rules of one endpoint while they are gathered.
#[derive(Default)]
struct Rules {
    ingress: Option<Vec<(Peers, Vec<PortRange>, Origin)>>,
    egress: Option<Vec<(Peers, Vec<PortRange>, Origin)>>,
}

impl Rules {
    fn isolate(&mut self, direction: Direction) {
        self.side(direction).get_or_insert_with(Vec::new);
    }

    fn side(&mut self, direction: Direction) -> &mut Option<Vec<(Peers, Vec<PortRange>, Origin)>> {
        match direction {
            Direction::Ingress => &mut self.ingress,
            Direction::Egress => &mut self.egress,
        }
    }

    fn add(&mut self, direction: Direction, spec: &RuleSpec, target: &Target, pod: &PodInfo, origin: Origin) {
        let out = self.side(direction).get_or_insert_with(Vec::new);
        if target.peers.is_empty() {
            return;
        }
        if spec.ports.is_empty() {
            out.push((target.peers.clone(), vec![], origin));
            return;
        }
        match direction {
            Direction::Ingress => {
                // Named ports are the endpoint's own: it is the destination.
                let ports = canonical_ports(spec.ports.iter().flat_map(|p| p.resolve(&pod.ports)).collect());
                if !ports.is_empty() {
                    out.push((target.peers.clone(), ports, origin));
                }
            }
            Direction::Egress => {
                let numbers: Vec<PortRange> = spec
                    .ports
                    .iter()
                    .filter(|p| !p.is_named())
                    .flat_map(|p| p.resolve(&[]))
                    .collect();
                if !numbers.is_empty() {
                    out.push((target.peers.clone(), canonical_ports(numbers), origin.clone()));
                }
                for (ports, addresses) in &target.named {
                    let peers = Peers::Set {
                        addresses: addresses.clone(),
                        blocks: vec![],
                    };
                    out.push((peers, ports.clone(), origin.clone()));
                }
            }
        }
    }
}

/// Sorted, without duplicates, touching ranges of a protocol joined.
fn canonical_ports(mut ports: Vec<PortRange>) -> Vec<PortRange> {
    ports.sort();
    let mut out: Vec<PortRange> = Vec::with_capacity(ports.len());
    for r in ports {
        match out.last_mut() {
            Some(last) if last.protocol == r.protocol && u32::from(r.first) <= u32::from(last.last) + 1 => {
                last.last = last.last.max(r.last);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Merges the rules that have the same peers (their ports joined; "every port" absorbs the
/// rest), so that the dataplane gets one set lookup per distinct peer set.
fn finish(rules: Vec<(Peers, Vec<PortRange>, Origin)>) -> Vec<Rule> {
    let mut by_peers: BTreeMap<Peers, (Option<Vec<PortRange>>, BTreeSet<Origin>)> = BTreeMap::new();
    for (peers, ports, origin) in rules {
        let entry = by_peers.entry(peers).or_insert_with(|| (Some(vec![]), BTreeSet::new()));
        entry.1.insert(origin);
        match (&mut entry.0, ports.is_empty()) {
            (_, true) => entry.0 = None,
            (Some(all), false) => all.extend(ports),
            (None, false) => {}
        }
    }
    by_peers
        .into_iter()
        .map(|(peers, (ports, origins))| Rule {
            peers,
            ports: ports.map(canonical_ports).unwrap_or_default(),
            origins: origins.into_iter().collect(),
        })
        .collect()
}
