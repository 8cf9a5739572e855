//! The nftables table of a node's Services, computed from its state, and the script that makes
//! the kernel's table match it. Sans-IO: values in, text out.
//!
//! The table (`table inet weft`):
//!
//! ```text
//! nat_prerouting (nat, dstnat)   iifname vmap @pod_networks                 -> goto pods/<vni>
//!                                iifname "weft-vx" daddr.proto.dport vmap @arrivals_v4|v6
//! pods/<vni>                     daddr . l4proto . dport vmap @services_<vni>_v4|v6
//! lb[-local]/<v4|v6>/<proto>/<random|affinity>/<N>
//!                                dnat to daddr . l4proto . dport . (numgen random | jhash saddr) mod N
//!                                        map @[local_]endpoints_v4|v6    (-> endpoint . target port)
//! nat_postrouting (nat, srcnat)  ct status dnat saddr . daddr @hairpin_v4|v6  snat to the pod gateway
//! filter_forward (filter)        a new connection from pods or VXLAN, daddr still a virtual IP
//!                                (nothing translated it): mark with the network's table, goto
//!                                refuse
//! refuse                         TCP reset, else ICMP port unreachable
//! ```
//!
//! One verdict-map lookup per new connection whatever the number of Services, then one map lookup
//! for the endpoint; the maps are keyed per network for pods (a pod only reaches its own
//! network's Services), while traffic arriving over VXLAN was routed to the virtual IP in its
//! network already. Services share the load-balancing chains (one per protocol, family and
//! number of endpoints): a Service is only map elements, so a change of endpoints changes
//! elements, and the table holds a handful of chains and no anonymous sets whatever the number
//! of Services (10,000 anonymous sets make a transaction take seconds in the kernel). Every rule
//! carries a comment with a hash of its text: that is how a rule read back is compared.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use weft_api::sync::{NodeState, ServiceState};

use crate::marks::{self, NFT_TABLE, POD_GATEWAY_V4, POD_GATEWAY_V6, POD_INTERFACE_PREFIX, VXLAN_DEVICE};

/// Seed of `jhash` for client IP affinity: fixed, so every node and every restart picks the same
/// endpoint for a client (as long as the endpoints are the same).
const AFFINITY_SEED: u32 = 0x7765_6674;

/// A set or a map: its key types, its data type (maps), its elements (key to data, both in nft
/// syntax, data empty for sets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    pub key: Vec<String>,
    pub data: Option<String>,
    pub elements: BTreeMap<String, String>,
    /// Declared with `typeof` (when a key part has no type name, like numgen's integer).
    pub typeof_decl: Option<String>,
    /// `flags interval`: elements are prefixes and ranges (NetworkPolicy's peer sets).
    pub interval: bool,
}

impl Set {
    pub(crate) fn new(key: &[&str], data: Option<&str>) -> Set {
        Set {
            key: key.iter().map(|k| k.to_string()).collect(),
            data: data.map(str::to_string),
            elements: BTreeMap::new(),
            typeof_decl: None,
            interval: false,
        }
    }

    /// An interval set of `key` (prefixes, port ranges; concatenations too).
    pub(crate) fn interval(key: &[&str]) -> Set {
        Set {
            interval: true,
            ..Set::new(key, None)
        }
    }

    fn declaration(&self) -> String {
        let flags = if self.interval { " flags interval;" } else { "" };
        if let Some(t) = &self.typeof_decl {
            return format!("{{ typeof {t};{flags} }}");
        }
        match &self.data {
            Some(data) => format!("{{ type {} : {data};{flags} }}", self.key.join(" . ")),
            None => format!("{{ type {};{flags} }}", self.key.join(" . ")),
        }
    }
}

/// A base chain's hook (its policy is always accept: Weft's chains only translate or refuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `nat` or `filter`.
    pub kind: String,
    pub hook: String,
    pub priority: i32,
}

/// A rule: its id (the comment, a hash of the text) and its text (empty when read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub text: String,
}

impl Rule {
    pub(crate) fn new(text: String) -> Rule {
        Rule {
            id: format!("{:016x}", fnv(&text)),
            text,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    pub hook: Option<Hook>,
    pub rules: Vec<Rule>,
}

impl Chain {
    /// Same hook and same rules in the same order (by id: the text is not read back).
    fn same(&self, other: &Chain) -> bool {
        self.hook == other.hook
            && self.rules.len() == other.rules.len()
            && self.rules.iter().zip(&other.rules).all(|(a, b)| a.id == b.id)
    }
}

/// The whole table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub sets: BTreeMap<String, Set>,
    pub chains: BTreeMap<String, Chain>,
}

impl Ruleset {
    /// How many elements all sets hold.
    pub fn elements(&self) -> usize {
        self.sets.values().map(|s| s.elements.len()).sum()
    }
}

fn fnv(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    const BOTH: [Family; 2] = [Family::V4, Family::V6];

    fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }
    fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }
    /// The nft family keyword and address type.
    fn nft(self) -> (&'static str, &'static str) {
        match self {
            Family::V4 => ("ip", "ipv4_addr"),
            Family::V6 => ("ip6", "ipv6_addr"),
        }
    }
}

/// `TCP` -> `tcp`; `None` for a protocol nftables is not asked to handle.
fn protocol(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "TCP" => Some("tcp"),
        "UDP" => Some("udp"),
        "SCTP" => Some("sctp"),
        _ => None,
    }
}

/// A load-balancing chain, shared by every Service port with the same protocol, family, choice
/// and number of endpoints: DNAT to the endpoint that `map` holds for the connection's
/// `virtual IP . protocol . port . index`, the index chosen at random per connection or by a
/// hash of the client's address (ClientIP affinity). Returns the chain's name.
fn lb_chain(r: &mut Ruleset, local: bool, proto: &str, family: Family, count: usize, affinity: bool) -> String {
    let (fam, _) = family.nft();
    let how = if affinity { "affinity" } else { "random" };
    let name = format!(
        "{}/{}/{proto}/{how}/{count}",
        if local { "lb-local" } else { "lb" },
        family.suffix()
    );
    if !r.chains.contains_key(&name) {
        let chooser = if affinity {
            format!("jhash {fam} saddr mod {count} seed 0x{AFFINITY_SEED:08x}")
        } else {
            format!("numgen random mod {count}")
        };
        let map = endpoints_map(local, family);
        let rule =
            format!("meta l4proto {proto} dnat {fam} to {fam} daddr . meta l4proto . th dport . {chooser} map @{map}");
        add_rule(&mut r.chains, &name, rule);
    }
    name
}

fn endpoints_map(local: bool, family: Family) -> String {
    format!("{}endpoints_{}", if local { "local_" } else { "" }, family.suffix())
}

/// The endpoints of one Service port, by index, in the map its load-balancing chain reads.
fn add_endpoints(r: &mut Ruleset, map: &str, vip: &IpAddr, proto: &str, port: u16, targets: &[(IpAddr, u16)]) {
    for (i, (ip, target)) in targets.iter().enumerate() {
        insert(
            r,
            map,
            format!("{vip} . {proto} . {port} . {i}"),
            format!("{ip} . {target}"),
        );
    }
}

/// Endpoints able to serve `port` in `family`: (address, target port).
fn targets<'a>(service: &'a ServiceState, port: u16, family: Family, only_node: Option<&'a str>) -> Vec<(IpAddr, u16)> {
    service
        .endpoints
        .iter()
        .filter(|e| only_node.is_none_or(|n| e.node == n))
        .filter_map(|e| {
            let ip = e.addresses.iter().find(|a| Family::of(a) == family)?;
            Some((*ip, *e.target_ports.get(&port)?))
        })
        .collect()
}

fn add_rule(chains: &mut BTreeMap<String, Chain>, chain: &str, text: String) {
    chains.entry(chain.to_string()).or_default().rules.push(Rule::new(text));
}

/// The table for `state`; `None` when the node has no Service (then Weft has no table at all).
pub fn ruleset(state: &NodeState) -> Option<Ruleset> {
    if state.services.is_empty() {
        return None;
    }
    let mut r = skeleton();
    for network in state.networks.values() {
        let pods = format!("pods/{}", network.vni);
        r.chains.insert(pods.clone(), Chain::default());
        for family in Family::BOTH {
            let (fam, _) = family.nft();
            let map = services_map(network.vni, family);
            r.sets.insert(map.clone(), service_map(family));
            add_rule(
                &mut r.chains,
                &pods,
                format!("{fam} daddr . meta l4proto . th dport vmap @{map}"),
            );
        }
    }
    for endpoint in state.endpoints.values() {
        let Some(network) = state.networks.get(&endpoint.network) else {
            continue;
        };
        let dev = endpoint
            .host_interface
            .clone()
            .unwrap_or_else(|| marks::pod_interface(&endpoint.container_id, &endpoint.interface));
        let key = format!("\"{dev}\"");
        insert(
            &mut r,
            "pod_networks",
            key.clone(),
            format!("goto pods/{}", network.vni),
        );
        insert(&mut r, "pod_tables", key, marks::table(network.vni).to_string());
        for ip in &endpoint.addresses {
            let family = Family::of(ip);
            insert(
                &mut r,
                &format!("hairpin_{}", family.suffix()),
                format!("{ip} . {ip}"),
                String::new(),
            );
        }
    }
    for service in state.services.values() {
        let Some(network) = state.networks.get(&service.network) else {
            continue;
        };
        let table = marks::table(network.vni);
        for family in Family::BOTH {
            let vips: Vec<IpAddr> = service
                .cluster_ips
                .iter()
                .filter(|ip| Family::of(ip) == family)
                .copied()
                .collect();
            if vips.is_empty() {
                continue;
            }
            for vip in &vips {
                insert(
                    &mut r,
                    &format!("vip_tables_{}", family.suffix()),
                    vip.to_string(),
                    table.to_string(),
                );
            }
            let mut seen = BTreeSet::new();
            for port in &service.ports {
                let Some(proto) = protocol(&port.protocol) else {
                    continue;
                };
                if !seen.insert((proto, port.port)) {
                    continue;
                }
                let affinity = service.client_ip_affinity;
                let local = targets(service, port.port, family, Some(&state.node));
                let from_pods = if service.internal_local {
                    local.clone()
                } else {
                    targets(service, port.port, family, None)
                };
                if !from_pods.is_empty() {
                    let chain = lb_chain(&mut r, false, proto, family, from_pods.len(), affinity);
                    for vip in &vips {
                        add_endpoints(&mut r, &endpoints_map(false, family), vip, proto, port.port, &from_pods);
                        insert(
                            &mut r,
                            &services_map(network.vni, family),
                            format!("{vip} . {proto} . {}", port.port),
                            format!("goto {chain}"),
                        );
                    }
                }
                if !local.is_empty() {
                    let shared = local == from_pods;
                    let chain = lb_chain(&mut r, !shared, proto, family, local.len(), affinity);
                    for vip in &vips {
                        if !shared {
                            add_endpoints(&mut r, &endpoints_map(true, family), vip, proto, port.port, &local);
                        }
                        insert(
                            &mut r,
                            &format!("arrivals_{}", family.suffix()),
                            format!("{vip} . {proto} . {}", port.port),
                            format!("goto {chain}"),
                        );
                    }
                }
            }
        }
    }
    Some(r)
}

fn services_map(vni: u32, family: Family) -> String {
    format!("services_{vni}_{}", family.suffix())
}

fn service_map(family: Family) -> Set {
    Set::new(&[family.nft().1, "inet_proto", "inet_service"], Some("verdict"))
}

fn insert(r: &mut Ruleset, set: &str, key: String, data: String) {
    if let Some(s) = r.sets.get_mut(set) {
        s.elements.insert(key, data);
    }
}

/// The part of the table that does not depend on the Services: base chains, global maps. Also
/// the start of a table that has only NetworkPolicy ([`crate::policy::table`]), so that the
/// first Service changes elements rather than the table's structure.
pub(crate) fn skeleton() -> Ruleset {
    let mut r = Ruleset::default();
    r.sets
        .insert("pod_networks".into(), Set::new(&["ifname"], Some("verdict")));
    r.sets.insert("pod_tables".into(), Set::new(&["ifname"], Some("mark")));
    for family in Family::BOTH {
        let (fam, addr) = family.nft();
        let s = family.suffix();
        r.sets.insert(format!("arrivals_{s}"), service_map(family));
        r.sets
            .insert(format!("vip_tables_{s}"), Set::new(&[addr], Some("mark")));
        r.sets.insert(format!("hairpin_{s}"), Set::new(&[addr, addr], None));
        for local in [false, true] {
            let mut endpoints = Set::new(
                &[addr, "inet_proto", "inet_service", "integer"],
                Some(&format!("{addr} . inet_service")),
            );
            endpoints.typeof_decl = Some(format!(
                "{fam} daddr . meta l4proto . th dport . numgen random mod 2 : {fam} daddr . th dport"
            ));
            r.sets.insert(endpoints_map(local, family), endpoints);
        }
    }
    let hook = |kind: &str, hook: &str, priority: i32| Chain {
        hook: Some(Hook {
            kind: kind.into(),
            hook: hook.into(),
            priority,
        }),
        rules: Vec::new(),
    };
    r.chains
        .insert("nat_prerouting".into(), hook("nat", "prerouting", -100));
    r.chains
        .insert("nat_postrouting".into(), hook("nat", "postrouting", 100));
    r.chains.insert("filter_forward".into(), hook("filter", "forward", 0));
    r.chains
        .insert("mark_arrivals".into(), hook("filter", "prerouting", -90));
    r.chains.insert("refuse".into(), Chain::default());
    let c = &mut r.chains;
    // Connections from pods: through their network's chain (by the pod's interface).
    add_rule(c, "nat_prerouting", "iifname vmap @pod_networks".into());
    for family in Family::BOTH {
        let (fam, _) = family.nft();
        let s = family.suffix();
        // Connections routed here over VXLAN to a virtual IP: this node's endpoints.
        add_rule(
            c,
            "nat_prerouting",
            format!("iifname \"{VXLAN_DEVICE}\" {fam} daddr . meta l4proto . th dport vmap @arrivals_{s}"),
        );
    }
    for family in Family::BOTH {
        let (fam, _) = family.nft();
        let s = family.suffix();
        // DNAT drops the packet's route, and with it the VXLAN metadata that the decap rule
        // (`iif weft-vx tun_id VNI`) matches on: every packet of a connection translated on
        // arrival is marked with its virtual IP's table instead, and the reflect rule
        // (`fwmark TABLE lookup TABLE`) routes it there.
        add_rule(
            c,
            "mark_arrivals",
            format!(
                "iifname \"{VXLAN_DEVICE}\" ct direction original ct status dnat meta mark set ct original {fam} daddr map @vip_tables_{s}"
            ),
        );
    }
    // A pod reaching itself through its Service: without a new source the pod would see its own
    // address as the source and drop the packet; the gateway's address brings the reply back
    // through the node, where conntrack undoes both translations.
    add_rule(
        c,
        "nat_postrouting",
        format!("ct status dnat ip saddr . ip daddr @hairpin_v4 snat ip to {POD_GATEWAY_V4}"),
    );
    add_rule(
        c,
        "nat_postrouting",
        format!("ct status dnat ip6 saddr . ip6 daddr @hairpin_v6 snat ip6 to {POD_GATEWAY_V6}"),
    );
    for family in Family::BOTH {
        let (fam, _) = family.nft();
        let s = family.suffix();
        // A new connection still addressed to a virtual IP after dstnat: no endpoint for it (or
        // not for this port). Refused, the refusal marked with the network's table to be routed
        // back. New ones only: a connection opened while this node had the Service's route and
        // not yet its translation (the agent programs routes first) went untranslated to a
        // hosting node, which translated it on arrival; it goes on that way.
        add_rule(
            c,
            "filter_forward",
            format!(
                "iifname \"{POD_INTERFACE_PREFIX}*\" ct state new meta mark set {fam} daddr map @vip_tables_{s} meta mark set iifname map @pod_tables goto refuse"
            ),
        );
        add_rule(
            c,
            "filter_forward",
            format!(
                "iifname \"{VXLAN_DEVICE}\" ct state new meta mark set {fam} daddr map @vip_tables_{s} goto refuse"
            ),
        );
    }
    add_rule(c, "refuse", "meta l4proto tcp reject with tcp reset".into());
    add_rule(c, "refuse", "reject with icmpx type port-unreachable".into());
    r
}

fn keyword(set: &Set) -> &'static str {
    if set.data.is_some() { "map" } else { "set" }
}

fn element(key: &str, data: &str) -> String {
    if data.is_empty() {
        key.to_string()
    } else {
        format!("{key} : {data}")
    }
}

/// Elements per command: keeps each line of the script reasonable with 10,000 Services.
const ELEMENTS_PER_COMMAND: usize = 1000;

fn elements_command(out: &mut String, verb: &str, set: &str, items: &[String]) {
    for chunk in items.chunks(ELEMENTS_PER_COMMAND) {
        let _ = writeln!(out, "{verb} element inet {NFT_TABLE} {set} {{ {} }}", chunk.join(", "));
    }
}

/// The `nft -f` script (one transaction) that turns `observed` into `desired`; `None` when there
/// is nothing to do. Without `removals` (before the controller's state is complete), nothing the
/// desired state lacks is deleted; what differs is still replaced.
pub fn script(desired: Option<&Ruleset>, observed: Option<&Ruleset>, removals: bool) -> Option<String> {
    let t = NFT_TABLE;
    match (desired, observed) {
        (None, None) => None,
        (None, Some(_)) => removals.then(|| format!("delete table inet {t}\n")),
        (Some(d), None) => Some(format!("add table inet {t}\n{}", changes(d, &Ruleset::default(), true))),
        (Some(d), Some(o)) => {
            let skeleton_differs = d
                .chains
                .iter()
                .any(|(name, c)| c.hook.is_some() && o.chains.get(name).is_none_or(|oc| oc.hook != c.hook))
                || o.chains
                    .iter()
                    .any(|(name, c)| c.hook.is_some() && !d.chains.contains_key(name))
                || d.sets.iter().any(|(name, s)| {
                    o.sets
                        .get(name)
                        .is_some_and(|os| os.key != s.key || os.data != s.data || os.interval != s.interval)
                });
            if skeleton_differs {
                // Someone changed the table's structure: rebuild it, still in one transaction.
                return Some(format!(
                    "add table inet {t}\ndelete table inet {t}\nadd table inet {t}\n{}",
                    changes(d, &Ruleset::default(), true)
                ));
            }
            let text = changes(d, o, removals);
            (!text.is_empty()).then_some(text)
        }
    }
}

/// Commands, in an order nft accepts in one transaction: sets and chains exist before rules and
/// elements refer to them; elements leave before the chains they jump to; chains before sets.
fn changes(d: &Ruleset, o: &Ruleset, removals: bool) -> String {
    let t = NFT_TABLE;
    let mut out = String::new();
    for (name, set) in &d.sets {
        if !o.sets.contains_key(name) {
            let _ = writeln!(out, "add {} inet {t} {name} {}", keyword(set), set.declaration());
        }
    }
    for (name, chain) in &d.chains {
        if !o.chains.contains_key(name) {
            match &chain.hook {
                Some(h) => {
                    let _ = writeln!(
                        out,
                        "add chain inet {t} {name} {{ type {} hook {} priority {}; policy accept; }}",
                        h.kind, h.hook, h.priority
                    );
                }
                None => {
                    let _ = writeln!(out, "add chain inet {t} {name}");
                }
            }
        }
    }
    for (name, chain) in &d.chains {
        let existing = o.chains.get(name);
        if existing.is_some_and(|e| e.same(chain)) {
            continue;
        }
        if existing.is_some() {
            let _ = writeln!(out, "flush chain inet {t} {name}");
        }
        for rule in &chain.rules {
            let _ = writeln!(out, "add rule inet {t} {name} {} comment \"{}\"", rule.text, rule.id);
        }
    }
    for (name, set) in &d.sets {
        let empty = Set::default();
        let observed = o.sets.get(name).unwrap_or(&empty);
        let gone: Vec<String> = observed
            .elements
            .iter()
            .filter(|(k, v)| match set.elements.get(*k) {
                Some(want) => want != *v,
                None => removals,
            })
            .map(|(k, _)| k.clone())
            .collect();
        elements_command(&mut out, "delete", name, &gone);
        let new: Vec<String> = set
            .elements
            .iter()
            .filter(|(k, v)| observed.elements.get(*k) != Some(*v))
            .map(|(k, v)| element(k, v))
            .collect();
        elements_command(&mut out, "add", name, &new);
    }
    if removals {
        for name in o.chains.keys().filter(|n| !d.chains.contains_key(*n)) {
            let _ = writeln!(out, "flush chain inet {t} {name}\ndelete chain inet {t} {name}");
        }
        for (name, set) in o.sets.iter().filter(|(n, _)| !d.sets.contains_key(*n)) {
            let _ = writeln!(out, "delete {} inet {t} {name}", keyword(set));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::sync::{LocalEndpoint, NetworkState, ServiceEndpoint, ServicePort, VipNextHop};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn endpoint(pod: &str, node: &str, addrs: &[&str], ports: &[(u16, u16)]) -> ServiceEndpoint {
        ServiceEndpoint {
            pod: format!("default/{pod}"),
            node: node.into(),
            addresses: addrs.iter().map(|a| ip(a)).collect(),
            target_ports: ports.iter().copied().collect(),
        }
    }

    fn state() -> NodeState {
        let mut s = NodeState {
            node: "n1".into(),
            ..Default::default()
        };
        s.networks.insert(
            "default".into(),
            NetworkState {
                name: "default".into(),
                vni: 1,
            },
        );
        let e = LocalEndpoint {
            namespace: "default".into(),
            pod: "a".into(),
            container_id: "c1".into(),
            interface: "eth0".into(),
            host_interface: Some("wft00000000001".into()),
            mac: None,
            network: "default".into(),
            addresses: vec![ip("10.244.0.1"), ip("fd00::1")],
        };
        s.endpoints.insert(e.key(), e);
        let web = ServiceState {
            namespace: "default".into(),
            name: "web".into(),
            network: "default".into(),
            cluster_ips: vec![ip("10.96.0.10"), ip("fd96::10")],
            ports: vec![
                ServicePort {
                    name: "http".into(),
                    protocol: "TCP".into(),
                    port: 80,
                },
                ServicePort {
                    name: "dns".into(),
                    protocol: "UDP".into(),
                    port: 53,
                },
            ],
            endpoints: vec![
                endpoint("a", "n1", &["10.244.0.1", "fd00::1"], &[(80, 8080), (53, 5353)]),
                // Named target port resolved differently on this pod; no UDP.
                endpoint("b", "n2", &["10.244.0.2", "fd00::2"], &[(80, 9090)]),
            ],
            vip_nodes: vec![VipNextHop {
                node: "n2".into(),
                vtep: "192.0.2.2".parse().unwrap(),
                router_mac: "02:00:00:00:00:02".into(),
            }],
            ..Default::default()
        };
        s.services.insert(web.key(), web);
        s
    }

    #[test]
    fn no_services_no_table() {
        let mut s = state();
        s.services.clear();
        assert_eq!(ruleset(&s), None);
        assert_eq!(script(None, None, true), None);
        assert_eq!(script(None, Some(&Ruleset::default()), false), None);
        assert_eq!(
            script(None, Some(&Ruleset::default()), true).unwrap(),
            "delete table inet weft\n"
        );
    }

    #[test]
    fn a_service_with_endpoints_on_two_nodes() {
        let r = ruleset(&state()).unwrap();
        // From pods: both endpoints, each with its own target port, behind a shared chain.
        let services = &r.sets["services_1_v4"].elements;
        assert_eq!(services["10.96.0.10 . tcp . 80"], "goto lb/v4/tcp/random/2");
        assert_eq!(
            r.chains["lb/v4/tcp/random/2"].rules[0].text,
            "meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @endpoints_v4"
        );
        let endpoints = &r.sets["endpoints_v4"].elements;
        assert_eq!(endpoints["10.96.0.10 . tcp . 80 . 0"], "10.244.0.1 . 8080");
        assert_eq!(endpoints["10.96.0.10 . tcp . 80 . 1"], "10.244.0.2 . 9090");
        assert_eq!(
            r.sets["endpoints_v6"].elements["fd96::10 . tcp . 80 . 1"],
            "fd00::2 . 9090"
        );
        // Over VXLAN: only this node's endpoint, from the local map.
        assert_eq!(
            r.sets["arrivals_v4"].elements["10.96.0.10 . tcp . 80"],
            "goto lb-local/v4/tcp/random/1"
        );
        assert_eq!(
            r.sets["local_endpoints_v4"].elements["10.96.0.10 . tcp . 80 . 0"],
            "10.244.0.1 . 8080"
        );
        // UDP: only pod a serves it, so pods and VXLAN share the chain and the map.
        assert_eq!(services["10.96.0.10 . udp . 53"], "goto lb/v4/udp/random/1");
        assert_eq!(
            r.sets["arrivals_v4"].elements["10.96.0.10 . udp . 53"],
            "goto lb/v4/udp/random/1"
        );
        assert!(
            !r.sets["local_endpoints_v4"]
                .elements
                .contains_key("10.96.0.10 . udp . 53 . 0")
        );
        assert_eq!(r.sets["services_1_v6"].elements.len(), 2);
        assert_eq!(r.sets["vip_tables_v4"].elements["10.96.0.10"], "1048577");
        assert_eq!(r.sets["pod_networks"].elements["\"wft00000000001\""], "goto pods/1");
        assert_eq!(r.sets["hairpin_v6"].elements["fd00::1 . fd00::1"], "");
    }

    #[test]
    fn affinity_internal_local_and_no_endpoints() {
        let mut s = state();
        let web = s.services.get_mut("default/web").unwrap();
        web.client_ip_affinity = true;
        let r = ruleset(&s).unwrap();
        assert!(
            r.chains["lb/v4/tcp/affinity/2"].rules[0]
                .text
                .contains("jhash ip saddr mod 2 seed 0x77656674 map @endpoints_v4"),
        );
        let web = s.services.get_mut("default/web").unwrap();
        web.internal_local = true;
        web.endpoints.retain(|e| e.node == "n2");
        let r = ruleset(&s).unwrap();
        // No local endpoint: nothing translates, the forward chain refuses.
        assert!(r.sets["services_1_v4"].elements.is_empty());
        assert!(r.sets["arrivals_v4"].elements.is_empty());
        assert!(!r.chains.keys().any(|c| c.starts_with("lb")));
        assert_eq!(r.sets["vip_tables_v4"].elements.len(), 1);
    }

    #[test]
    fn scripts_touch_only_what_changed() {
        let desired = ruleset(&state()).unwrap();
        let full = script(Some(&desired), None, true).unwrap();
        assert!(full.starts_with("add table inet weft\nadd map inet weft arrivals_v4 { type ipv4_addr . inet_proto . inet_service : verdict; }"));
        assert!(full.contains("add map inet weft endpoints_v4 { typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . th dport; }"), "{full}");
        // Chains are made before the elements that jump to them.
        let chain_at = full.find("add chain inet weft lb/v4/tcp/random/2\n").unwrap();
        let element_at = full.find("add element inet weft services_1_v4").unwrap();
        assert!(chain_at < element_at);
        assert_eq!(script(Some(&desired), Some(&desired), true), None);

        // A target port changes: one element, nothing else.
        let mut s = state();
        s.services.get_mut("default/web").unwrap().endpoints[1]
            .target_ports
            .insert(80, 9191);
        let change = script(ruleset(&s).as_ref(), Some(&desired), true).unwrap();
        assert_eq!(
            change,
            "delete element inet weft endpoints_v4 { 10.96.0.10 . tcp . 80 . 1 }\n\
             add element inet weft endpoints_v4 { 10.96.0.10 . tcp . 80 . 1 : 10.244.0.2 . 9191 }\n\
             delete element inet weft endpoints_v6 { fd96::10 . tcp . 80 . 1 }\n\
             add element inet weft endpoints_v6 { fd96::10 . tcp . 80 . 1 : fd00::2 . 9191 }\n"
        );

        // An endpoint leaves: elements change, chains no Service uses any more go.
        let mut s = state();
        s.services
            .get_mut("default/web")
            .unwrap()
            .endpoints
            .retain(|e| e.node == "n1");
        let after = ruleset(&s).unwrap();
        let change = script(Some(&after), Some(&desired), true).unwrap();
        assert!(
            change.contains("add element inet weft services_1_v4 { 10.96.0.10 . tcp . 80 : goto lb/v4/tcp/random/1 }"),
            "{change}"
        );
        assert!(
            change.contains("delete element inet weft endpoints_v4 { 10.96.0.10 . tcp . 80 . 1 }"),
            "{change}"
        );
        assert!(
            change.contains("delete element inet weft local_endpoints_v4 { 10.96.0.10 . tcp . 80 . 0 }"),
            "{change}"
        );
        assert!(change.contains("delete chain inet weft lb/v4/tcp/random/2"), "{change}");
        assert!(
            !change.contains("delete table") && !change.contains("nat_prerouting"),
            "{change}"
        );
        // Deletions of elements come before the deletion of the chains they jump to.
        assert!(change.find("delete element inet weft services_1_v4").unwrap() < change.find("delete chain").unwrap());
        // Before the controller's state is complete, nothing is removed.
        let cautious = script(Some(&after), Some(&desired), false).unwrap();
        assert!(!cautious.contains("delete chain"), "{cautious}");

        // A broken skeleton is rebuilt whole, in one transaction.
        let mut broken = desired.clone();
        broken.chains.remove("nat_prerouting");
        let rebuild = script(Some(&desired), Some(&broken), true).unwrap();
        assert!(rebuild.starts_with("add table inet weft\ndelete table inet weft\nadd table inet weft\n"));
    }

    #[test]
    fn unknown_protocols_and_networks_are_skipped() {
        let mut s = state();
        let web = s.services.get_mut("default/web").unwrap();
        web.ports.push(ServicePort {
            name: "x".into(),
            protocol: "ICMP".into(),
            port: 1,
        });
        let r = ruleset(&s).unwrap();
        assert!(!r.chains.keys().any(|c| c.contains("icmp")));
        s.services.get_mut("default/web").unwrap().network = "nowhere".into();
        let r = ruleset(&s).unwrap();
        assert!(r.sets["vip_tables_v4"].elements.is_empty());
    }
}
