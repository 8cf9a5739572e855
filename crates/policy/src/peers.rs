//! Peers of a rule (networking.k8s.io/v1 NetworkPolicyPeer). Per the API reference:
//! - `podSelector` alone selects pods in the policy's own namespace;
//! - `namespaceSelector` alone selects every pod in the selected namespaces (`{}`: all
//!   namespaces);
//! - both in one peer select the pods matching the pod selector *in* the selected namespaces
//!   (AND), while two peers are alternatives (OR);
//! - `ipBlock` selects addresses, whoever has them (pods too: it is matched on the address, as
//!   the upstream conformance model does), minus the `except` sub-CIDRs. It may not be combined
//!   with selectors in one peer.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use weft_api::k8s_openapi::api::networking::v1::NetworkPolicyPeer;

use crate::error::Problems;
use crate::selector::{Labels, Selector};

/// One peer of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSpec {
    /// Pods chosen by labels.
    Pods { namespaces: Namespaces, pods: Selector },
    /// Addresses chosen by prefix.
    Block(IpBlock),
}

/// Which namespaces a pod peer looks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    /// No namespaceSelector: the policy's own namespace.
    Own(String),
    /// A namespaceSelector, matched against namespace labels.
    Selected(Selector),
}

/// `ipBlock`: `cidr` minus every `except`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpBlock {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

impl IpBlock {
    pub fn contains(&self, address: IpAddr) -> bool {
        self.cidr.contains(&address) && !self.except.iter().any(|e| e.contains(&address))
    }

    /// The block as disjoint prefixes that cover exactly `cidr` minus the excepts, for a
    /// dataplane that matches prefixes only (an nftables interval set has no "except").
    pub fn prefixes(&self) -> Vec<IpNet> {
        let mut out = vec![self.cidr];
        for except in &self.except {
            out = out.into_iter().flat_map(|net| subtract(net, *except)).collect();
        }
        out.sort();
        out
    }
}

/// `net` minus `hole`, as prefixes: unchanged when they do not overlap, nothing when `hole`
/// covers `net`, else the siblings along the path from `net` down to `hole`.
fn subtract(net: IpNet, hole: IpNet) -> Vec<IpNet> {
    if hole.contains(&net) {
        return vec![];
    }
    if !net.contains(&hole) {
        return vec![net];
    }
    let mut out = Vec::new();
    let mut current = net;
    while current.prefix_len() < hole.prefix_len() {
        let Ok(mut halves) = current.subnets(current.prefix_len() + 1) else {
            break;
        };
        let (Some(low), Some(high)) = (halves.next(), halves.next()) else {
            break;
        };
        if low.contains(&hole) {
            out.push(high);
            current = low;
        } else {
            out.push(low);
            current = high;
        }
    }
    out
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cidr)?;
        if !self.except.is_empty() {
            let except: Vec<String> = self.except.iter().map(ToString::to_string).collect();
            write!(f, " except {}", except.join(", "))?;
        }
        Ok(())
    }
}

impl PeerSpec {
    /// Reads one peer of a policy in namespace `own` at `path`.
    pub(crate) fn parse(peer: &NetworkPolicyPeer, own: &str, path: &str, problems: &mut Problems) -> Option<PeerSpec> {
        let pods = peer
            .pod_selector
            .as_ref()
            .map(|s| Selector::parse(s, &format!("{path}.podSelector"), problems));
        let namespaces = peer
            .namespace_selector
            .as_ref()
            .map(|s| Selector::parse(s, &format!("{path}.namespaceSelector"), problems));
        match (&peer.ip_block, pods, namespaces) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                problems.push(
                    format!("{path}.ipBlock"),
                    "may not be combined with podSelector or namespaceSelector in one peer; list it as a peer of its own",
                );
                None
            }
            (Some(block), None, None) => parse_block(&block.cidr, block.except.as_deref(), path, problems),
            (None, None, None) => {
                problems.push(
                    path.to_string(),
                    "a peer needs podSelector, namespaceSelector or ipBlock (to allow everything, omit from/to)",
                );
                None
            }
            (None, pods, None) => Some(PeerSpec::Pods {
                namespaces: Namespaces::Own(own.to_string()),
                pods: pods.unwrap_or_default(),
            }),
            (None, pods, Some(namespaces)) => Some(PeerSpec::Pods {
                namespaces: Namespaces::Selected(namespaces),
                pods: pods.unwrap_or_default(),
            }),
        }
    }

    /// Does this peer select a pod in `namespace` (with `namespace_labels`) with `labels`?
    pub fn selects_pod(&self, namespace: &str, namespace_labels: &Labels, labels: &Labels) -> bool {
        match self {
            PeerSpec::Pods { namespaces, pods } => {
                let in_scope = match namespaces {
                    Namespaces::Own(own) => own == namespace,
                    Namespaces::Selected(selector) => selector.matches(namespace_labels),
                };
                in_scope && pods.matches(labels)
            }
            PeerSpec::Block(_) => false,
        }
    }
}

/// Like the API server, host bits in the cidr are accepted (the network is what counts); each
/// except must lie strictly inside it.
fn parse_block(cidr: &str, except: Option<&[String]>, path: &str, problems: &mut Problems) -> Option<PeerSpec> {
    let Ok(net) = cidr.parse::<IpNet>() else {
        problems.push(
            format!("{path}.ipBlock.cidr"),
            format!("{cidr:?} is not a CIDR; write e.g. 10.0.0.0/8 or fd00::/64"),
        );
        return None;
    };
    let net = net.trunc();
    let mut excepts = Vec::new();
    for (i, e) in except.unwrap_or_default().iter().enumerate() {
        let at = format!("{path}.ipBlock.except[{i}]");
        match e.parse::<IpNet>() {
            Err(_) => problems.push(at, format!("{e:?} is not a CIDR; write e.g. 10.1.0.0/16")),
            Ok(hole) if !(net.contains(&hole) && hole.prefix_len() > net.prefix_len()) => {
                problems.push(at, format!("{e} must lie strictly inside cidr {net}"))
            }
            Ok(hole) => excepts.push(hole.trunc()),
        }
    }
    Some(PeerSpec::Block(IpBlock {
        cidr: net,
        except: excepts,
    }))
}

impl fmt::Display for PeerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerSpec::Pods {
                namespaces: Namespaces::Own(ns),
                pods,
            } => write!(f, "pods {pods} in namespace {ns}"),
            PeerSpec::Pods {
                namespaces: Namespaces::Selected(ns),
                pods,
            } => write!(f, "pods {pods} in namespaces {ns}"),
            PeerSpec::Block(block) => write!(f, "addresses {block}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn except_removes_sub_cidrs_v4_and_v6() {
        let b = IpBlock {
            cidr: net("10.0.0.0/16"),
            except: vec![net("10.0.1.0/24"), net("10.0.2.128/25")],
        };
        assert!(b.contains(addr("10.0.0.1")));
        assert!(!b.contains(addr("10.0.1.7")));
        assert!(b.contains(addr("10.0.2.127")));
        assert!(!b.contains(addr("10.0.2.128")));
        assert!(!b.contains(addr("10.1.0.1")));
        assert!(!b.contains(addr("fd00::1")));
        let b6 = IpBlock {
            cidr: net("fd00::/64"),
            except: vec![net("fd00::/120")],
        };
        assert!(b6.contains(addr("fd00::1:0")));
        assert!(!b6.contains(addr("fd00::ff")));
        assert!(!b6.contains(addr("10.0.0.1")));
    }

    #[test]
    fn prefixes_cover_exactly_the_block() {
        let b = IpBlock {
            cidr: net("10.0.0.0/29"),
            except: vec![net("10.0.0.2/31"), net("10.0.0.6/32")],
        };
        let p = b.prefixes();
        assert_eq!(
            p,
            [net("10.0.0.0/31"), net("10.0.0.4/31"), net("10.0.0.7/32")],
            "10.0.0.0/29 minus .2-.3 and .6"
        );
        for last in 0..=15u8 {
            let a = IpAddr::from([10, 0, 0, last]);
            assert_eq!(b.contains(a), p.iter().any(|n| n.contains(&a)), "{a}");
        }
    }

    #[test]
    fn ip_block_errors_name_the_field() {
        let mut problems = Problems::default();
        let peer = NetworkPolicyPeer {
            ip_block: Some(weft_api::k8s_openapi::api::networking::v1::IPBlock {
                cidr: "10.0.0.0/8".into(),
                except: Some(vec!["11.0.0.0/16".into(), "10.0.0.0/8".into(), "x".into()]),
            }),
            ..Default::default()
        };
        PeerSpec::parse(&peer, "x", "spec.egress[0].to[2]", &mut problems);
        let got: Vec<String> = problems.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "spec.egress[0].to[2].ipBlock.except[0]: 11.0.0.0/16 must lie strictly inside cidr 10.0.0.0/8",
                "spec.egress[0].to[2].ipBlock.except[1]: 10.0.0.0/8 must lie strictly inside cidr 10.0.0.0/8",
                "spec.egress[0].to[2].ipBlock.except[2]: \"x\" is not a CIDR; write e.g. 10.1.0.0/16",
            ]
        );
    }
}
