//! The compiled rules of one endpoint and direction flattened for the dataplane: what one set
//! lookup per packet decides, however many rules, policies and pods there are. Two sets:
//! - `any`: peer prefixes allowed on every port and protocol (`ip saddr @in_any`);
//! - `ports`: (peer prefix, protocol, port range) elements, for an nftables interval set with a
//!   concatenated key (`ip saddr . meta l4proto . th dport @in_ports`).
//!
//! nftables refuses overlapping intervals in a set, so the elements are made disjoint here: no
//! prefix of `any` inside another, no element of `ports` overlapping another of the same
//! protocol in both prefix and ports, none inside an `any` prefix. ipBlock excepts become the
//! prefixes that remain ([`crate::IpBlock::prefixes`]).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::compile::{Peers, Rule, ports_allow};
use crate::evaluate::Traffic;
use crate::ports::{PortRange, Protocol};

/// One endpoint's rules of one direction as two disjoint sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatRules {
    /// Peers allowed whatever the protocol and port.
    pub any: Vec<IpNet>,
    /// Peers allowed on some ports.
    pub ports: Vec<(IpNet, PortRange)>,
}

impl FlatRules {
    /// Flattens a direction's rules (a union: any rule allows).
    pub fn new(rules: &[Rule]) -> FlatRules {
        let any = minimal(
            rules
                .iter()
                .filter(|r| r.ports.is_empty())
                .flat_map(|r| prefixes(&r.peers))
                .collect(),
        );
        let covered = |net: &IpNet| any.iter().any(|a| a.contains(net));
        let mut ports = Vec::new();
        for protocol in Protocol::ALL {
            let entries: Vec<(IpNet, u32, u32)> = rules
                .iter()
                .filter(|r| !r.ports.is_empty())
                .flat_map(|r| {
                    let nets = prefixes(&r.peers);
                    r.ports
                        .iter()
                        .filter(|p| p.protocol == protocol)
                        .flat_map(move |p| {
                            nets.clone()
                                .into_iter()
                                .map(move |n| (n, p.first.into(), p.last.into()))
                        })
                        .collect::<Vec<_>>()
                })
                .filter(|(net, _, _)| !covered(net))
                .collect();
            ports.extend(disjoint(protocol, entries));
        }
        FlatRules { any, ports }
    }

    /// The decision these sets give for a peer and traffic.
    pub fn allows(&self, peer: IpAddr, traffic: Traffic) -> bool {
        self.any.iter().any(|n| n.contains(&peer))
            || self
                .ports
                .iter()
                .any(|(n, r)| n.contains(&peer) && ports_allow(std::slice::from_ref(r), traffic))
    }
}

/// The peers as prefixes: every address for `Any`, /32 or /128 per pod address, the blocks
/// minus their excepts.
fn prefixes(peers: &Peers) -> Vec<IpNet> {
    match peers {
        Peers::Any => vec![IpNet::V4(Default::default()), IpNet::V6(Default::default())],
        Peers::Set { addresses, blocks } => addresses
            .iter()
            .map(|a| IpNet::from(*a))
            .chain(blocks.iter().flat_map(|b| b.prefixes()))
            .collect(),
    }
}

/// Sorted, without the prefixes inside another. Prefixes are nested or disjoint, and sorting
/// puts a prefix right before those it contains.
fn minimal(mut nets: Vec<IpNet>) -> Vec<IpNet> {
    nets.iter_mut().for_each(|n| *n = n.trunc());
    nets.sort();
    let mut out: Vec<IpNet> = Vec::with_capacity(nets.len());
    for n in nets {
        if !out.last().is_some_and(|last| last.contains(&n)) {
            out.push(n);
        }
    }
    out
}

/// (prefix, first, last) entries of one protocol as disjoint elements. Two elements can only
/// overlap when one prefix contains the other, so each prefix keeps its own ranges (joined)
/// minus what the prefixes containing it already allow. Prefixes are nested or disjoint: sorted,
/// a prefix comes right after those containing it, so a stack holds its ancestors.
fn disjoint(protocol: Protocol, mut entries: Vec<(IpNet, u32, u32)>) -> Vec<(IpNet, PortRange)> {
    entries.iter_mut().for_each(|e| e.0 = e.0.trunc());
    entries.sort();
    let mut out = Vec::new();
    // (prefix, the ranges it and its ancestors allow)
    let mut stack: Vec<(IpNet, Vec<(u32, u32)>)> = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let net = entries[i].0;
        let mut own = Vec::new();
        while i < entries.len() && entries[i].0 == net {
            own.push((entries[i].1, entries[i].2));
            i += 1;
        }
        while stack.last().is_some_and(|(top, _)| !top.contains(&net)) {
            stack.pop();
        }
        let inherited = stack.last().map(|(_, r)| r.clone()).unwrap_or_default();
        let own = union(own);
        let port = |p: u32| u16::try_from(p).unwrap_or(u16::MAX);
        for (first, last) in subtract(&own, &inherited) {
            let range = PortRange {
                protocol,
                first: port(first),
                last: port(last),
            };
            out.push((net, range));
        }
        stack.push((net, union(own.into_iter().chain(inherited).collect())));
    }
    out
}

/// Sorted, overlapping or touching intervals joined.
fn union(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match out.last_mut() {
            Some(prev) if first <= prev.1 + 1 => prev.1 = prev.1.max(last),
            _ => out.push((first, last)),
        }
    }
    out
}

/// `ranges` minus `holes`, both sorted and disjoint.
fn subtract(ranges: &[(u32, u32)], holes: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(first, last) in ranges {
        let mut start = first;
        for &(hole_first, hole_last) in holes {
            if hole_last < start || hole_first > last {
                continue;
            }
            if hole_first > start {
                out.push((start, hole_first - 1));
            }
            start = hole_last + 1;
            if start > last {
                break;
            }
        }
        if start <= last {
            out.push((start, last));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Origin;
    use crate::peers::IpBlock;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn rule(peers: Peers, ports: Vec<PortRange>) -> Rule {
        Rule {
            peers,
            ports,
            origins: Vec::<Origin>::new(),
        }
    }

    fn tcp(first: u16, last: u16) -> PortRange {
        PortRange {
            protocol: Protocol::Tcp,
            first,
            last,
        }
    }

    #[test]
    fn overlapping_rules_become_disjoint_elements() {
        let block = |cidr: &str| Peers::Set {
            addresses: Default::default(),
            blocks: vec![IpBlock {
                cidr: net(cidr),
                except: vec![],
            }],
        };
        let flat = FlatRules::new(&[
            rule(block("10.0.0.0/8"), vec![tcp(80, 90)]),
            rule(block("10.1.0.0/16"), vec![tcp(85, 100)]),
            rule(block("192.168.0.0/16"), vec![]),
            rule(block("192.168.1.0/24"), vec![tcp(1, 2)]),
        ]);
        assert_eq!(flat.any, [net("192.168.0.0/16")]);
        assert_eq!(
            flat.ports,
            [(net("10.0.0.0/8"), tcp(80, 90)), (net("10.1.0.0/16"), tcp(91, 100)),]
        );
    }

    #[test]
    fn subtract_intervals() {
        assert_eq!(subtract(&[(1, 10)], &[(0, 0), (3, 4), (8, 12)]), [(1, 2), (5, 7)]);
        assert_eq!(subtract(&[(1, 10), (20, 30)], &[(5, 25)]), [(1, 4), (26, 30)]);
        assert_eq!(subtract(&[(0, 65535)], &[(0, 65535)]), []);
        assert_eq!(subtract(&[(5, 6)], &[]), [(5, 6)]);
        assert_eq!(union(vec![(5, 6), (1, 2), (3, 3), (9, 9), (4, 4)]), [(1, 6), (9, 9)]);
        assert_eq!(union(vec![(5, 6), (1, 2), (9, 9)]), [(1, 2), (5, 6), (9, 9)]);
    }

    #[test]
    fn any_peer_is_both_families() {
        let flat = FlatRules::new(&[rule(Peers::Any, vec![])]);
        assert_eq!(flat.any, [net("0.0.0.0/0"), net("::/0")]);
        assert!(flat.allows("fd00::1".parse().unwrap(), Traffic::Other { ip_protocol: 58 }));
        assert_eq!(FlatRules::new(&[]), FlatRules::default());
    }
}
