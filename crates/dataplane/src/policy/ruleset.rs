//! NetworkPolicy's part of the table `inet weft`, computed from a node's state. Sans-IO.
//!
//! ```text
//! policy_forward (filter, forward, 10)
//!     ct state established,related accept          replies of allowed connections
//!     iifname vmap @policy_egress                  pod interface -> jump egress/<if>
//!     oifname vmap @policy_ingress                 pod interface -> goto ingress/<if>
//! egress/<if>     ct state invalid drop
//!                 ip daddr @out_any_v4_<if> return
//!                 ip daddr . meta l4proto . th dport @out_ports_v4_<if> return   (and ip6)
//!                 counter drop
//! ingress/<if>    ct state invalid drop
//!                 ip saddr @in_any_v4_<if> accept
//!                 ip saddr . meta l4proto . th dport @in_ports_v4_<if> accept    (and ip6)
//!                 counter drop
//! ```
//!
//! A new connection costs two verdict-map lookups and at most four set lookups per direction,
//! whatever the number of policies and pods: the controller has already folded every policy
//! selecting a pod into its sets. Only isolated pods have chains and sets; a pod that a policy
//! starts or stops selecting adds or removes its chain, and every other change (a pod or a
//! namespace label, a new pod in a selected namespace, a policy's rules) changes elements only.
//! Egress is checked first and returns when allowed, so that a connection between two isolated
//! pods of this node passes both checks. Packets conntrack finds invalid are dropped for
//! isolated pods only: other traffic (Services, other clusters) is left as it was. Service DNAT happens in prerouting, before this hook:
//! the checks see the pod's real address and port, as NetworkPolicy wants.

use weft_api::sync::{NodeState, PolicySets};

use crate::marks;
use crate::services::ruleset::{Chain, Hook, Rule, Ruleset, Set};

/// The base chain: after the Services' refusal of virtual IPs without endpoints (priority 0).
pub const FORWARD_CHAIN: &str = "policy_forward";
pub const FORWARD_PRIORITY: i32 = 10;
/// `ifname : verdict` maps from an isolated pod's host interface to its chain.
pub const INGRESS_MAP: &str = "policy_ingress";
pub const EGRESS_MAP: &str = "policy_egress";

/// One direction's names for one pod interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Ingress,
    Egress,
}

impl Way {
    fn chain(self, dev: &str) -> String {
        match self {
            Way::Ingress => format!("ingress/{dev}"),
            Way::Egress => format!("egress/{dev}"),
        }
    }
    /// `in_any_v4_<if>`, `out_ports_v6_<if>`...
    pub fn set(self, kind: &str, family: &str, dev: &str) -> String {
        let way = match self {
            Way::Ingress => "in",
            Way::Egress => "out",
        };
        format!("{way}_{kind}_{family}_{dev}")
    }
    /// The peer's side of the packet, and what an allowed packet does next.
    fn peer_and_verdict(self) -> (&'static str, &'static str) {
        match self {
            Way::Ingress => ("saddr", "accept"),
            Way::Egress => ("daddr", "return"),
        }
    }
}

const FAMILIES: [(&str, &str, &str, u8); 2] = [("v4", "ip", "ipv4_addr", 32), ("v6", "ip6", "ipv6_addr", 128)];

/// The skeleton every table has (so that the first policy changes elements, not structure).
pub fn add_skeleton(r: &mut Ruleset) {
    r.sets
        .insert(INGRESS_MAP.into(), Set::new(&["ifname"], Some("verdict")));
    r.sets.insert(EGRESS_MAP.into(), Set::new(&["ifname"], Some("verdict")));
    let mut chain = Chain {
        hook: Some(Hook {
            kind: "filter".into(),
            hook: "forward".into(),
            priority: FORWARD_PRIORITY,
        }),
        rules: Vec::new(),
    };
    for text in [
        "ct state established,related accept".to_string(),
        format!("iifname vmap @{EGRESS_MAP}"),
        format!("oifname vmap @{INGRESS_MAP}"),
    ] {
        chain.rules.push(Rule::new(text));
    }
    r.chains.insert(FORWARD_CHAIN.into(), chain);
}

/// Adds the chains, sets and map elements of the state's isolated local pods to `r` (which has
/// the skeleton). A policy whose pod is not (or not yet) on this node is skipped: its interface
/// is unknown, and no packet can reach it here anyway.
pub fn add_policies(r: &mut Ruleset, state: &NodeState) {
    for policy in state.policies.values() {
        let Some(endpoint) = state.endpoints.get(&policy.pod) else {
            continue;
        };
        let dev = endpoint
            .host_interface
            .clone()
            .unwrap_or_else(|| marks::pod_interface(&endpoint.container_id, &endpoint.interface));
        for (way, sets) in [(Way::Ingress, &policy.ingress), (Way::Egress, &policy.egress)] {
            if let Some(sets) = sets {
                add_direction(r, way, &dev, sets);
            }
        }
    }
}

fn add_direction(r: &mut Ruleset, way: Way, dev: &str, sets: &PolicySets) {
    let chain = way.chain(dev);
    let (side, verdict) = way.peer_and_verdict();
    let mut rules = vec![Rule::new("ct state invalid drop".into())];
    for (suffix, fam, addr, bits) in FAMILIES {
        let any_name = way.set("any", suffix, dev);
        let ports_name = way.set("ports", suffix, dev);
        let mut any = Set::interval(&[addr]);
        let mut ports = Set::interval(&[addr, "inet_proto", "inet_service"]);
        for peer in &sets.any {
            if let Some(p) = prefix(peer, bits) {
                any.elements.insert(p, String::new());
            }
        }
        for port in &sets.ports {
            let (Some(p), Some(proto)) = (prefix(&port.peer, bits), protocol(&port.protocol)) else {
                continue;
            };
            let range = if port.first == port.last {
                port.first.to_string()
            } else {
                format!("{}-{}", port.first, port.last)
            };
            ports.elements.insert(format!("{p} . {proto} . {range}"), String::new());
        }
        r.sets.insert(any_name.clone(), any);
        r.sets.insert(ports_name.clone(), ports);
        rules.push(Rule::new(format!("{fam} {side} @{any_name} {verdict}")));
        rules.push(Rule::new(format!(
            "{fam} {side} . meta l4proto . th dport @{ports_name} {verdict}"
        )));
    }
    rules.push(Rule::new("counter drop".into()));
    r.chains.insert(chain.clone(), Chain { hook: None, rules });
    let (map, jump) = match way {
        Way::Ingress => (INGRESS_MAP, "goto"),
        Way::Egress => (EGRESS_MAP, "jump"),
    };
    if let Some(m) = r.sets.get_mut(map) {
        m.elements.insert(format!("\"{dev}\""), format!("{jump} {chain}"));
    }
}

/// A peer prefix of the family with `bits`, written as nft prints it back (the network address;
/// a host without its length); `None` for the other family or what does not parse.
fn prefix(text: &str, bits: u8) -> Option<String> {
    let net: ipnet::IpNet = match text.parse() {
        Ok(n) => n,
        Err(_) => text.parse::<std::net::IpAddr>().ok()?.into(),
    };
    let len = net.prefix_len();
    let max = net.max_prefix_len();
    if max != bits {
        return None;
    }
    let addr = net.network();
    Some(if len == max {
        addr.to_string()
    } else {
        format!("{addr}/{len}")
    })
}

fn protocol(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "TCP" => Some("tcp"),
        "UDP" => Some("udp"),
        "SCTP" => Some("sctp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::sync::{EndpointPolicy, LocalEndpoint, PolicyPort};

    fn state() -> NodeState {
        let mut s = NodeState {
            node: "n1".into(),
            ..Default::default()
        };
        for (pod, dev, ip) in [
            ("a", "wft0000000000a", "10.244.0.1"),
            ("b", "wft0000000000b", "10.244.0.2"),
        ] {
            let e = LocalEndpoint {
                namespace: "x".into(),
                pod: pod.into(),
                container_id: format!("c-{pod}"),
                interface: "eth0".into(),
                host_interface: Some(dev.into()),
                mac: None,
                network: "default".into(),
                addresses: vec![ip.parse().unwrap()],
            };
            s.endpoints.insert(e.key(), e);
        }
        s.policies.insert(
            "x/a".into(),
            EndpointPolicy {
                pod: "x/a".into(),
                ingress: Some(PolicySets {
                    any: vec!["10.244.0.2/32".into(), "192.168.0.0/16".into(), "fd00::/64".into()],
                    ports: vec![
                        PolicyPort {
                            peer: "10.0.0.0/8".into(),
                            protocol: "TCP".into(),
                            first: 80,
                            last: 81,
                        },
                        PolicyPort {
                            peer: "0.0.0.0/0".into(),
                            protocol: "SCTP".into(),
                            first: 9000,
                            last: 9000,
                        },
                    ],
                }),
                egress: Some(PolicySets::default()),
            },
        );
        s
    }

    fn table(s: &NodeState) -> Ruleset {
        let mut r = Ruleset::default();
        add_skeleton(&mut r);
        add_policies(&mut r, s);
        r
    }

    #[test]
    fn an_isolated_pod_gets_chains_and_sets_others_nothing() {
        let r = table(&state());
        let any = &r.sets["in_any_v4_wft0000000000a"];
        assert!(any.interval);
        assert_eq!(
            any.elements.keys().collect::<Vec<_>>(),
            ["10.244.0.2", "192.168.0.0/16"]
        );
        assert!(r.sets["in_any_v6_wft0000000000a"].elements.contains_key("fd00::/64"));
        let ports = &r.sets["in_ports_v4_wft0000000000a"].elements;
        assert!(ports.contains_key("10.0.0.0/8 . tcp . 80-81"), "{ports:?}");
        assert!(ports.contains_key("0.0.0.0/0 . sctp . 9000"), "{ports:?}");
        assert_eq!(
            r.sets[INGRESS_MAP].elements["\"wft0000000000a\""],
            "goto ingress/wft0000000000a"
        );
        assert_eq!(
            r.sets[EGRESS_MAP].elements["\"wft0000000000a\""],
            "jump egress/wft0000000000a"
        );
        // Deny all egress: empty sets, the chain ends in drop.
        assert!(r.sets["out_any_v4_wft0000000000a"].elements.is_empty());
        let egress = &r.chains["egress/wft0000000000a"].rules;
        assert_eq!(egress[0].text, "ct state invalid drop");
        assert_eq!(egress[1].text, "ip daddr @out_any_v4_wft0000000000a return");
        assert_eq!(egress.last().unwrap().text, "counter drop");
        // Pod b: no policy, no chain, no element.
        assert!(!r.chains.keys().any(|c| c.contains("wft0000000000b")));
        assert_eq!(r.sets[INGRESS_MAP].elements.len(), 1);
    }

    #[test]
    fn a_new_peer_changes_elements_only() {
        let before = table(&state());
        let mut s = state();
        s.policies
            .get_mut("x/a")
            .unwrap()
            .ingress
            .as_mut()
            .unwrap()
            .any
            .push("10.244.1.7/32".into());
        let after = table(&s);
        let script = crate::services::script(Some(&after), Some(&before), true).unwrap();
        assert_eq!(
            script,
            "add element inet weft in_any_v4_wft0000000000a { 10.244.1.7 }\n"
        );
    }
}
