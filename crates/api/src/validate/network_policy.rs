use std::collections::BTreeSet;

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::names::iana_svc_name;
use super::{Errors, check_port, check_protocol, selector};

/// The whole networking.k8s.io/v1 NetworkPolicy, with the API server's rules.
pub(super) fn validate(np: &NetworkPolicy, errors: &mut Errors) {
    let Some(spec) = &np.spec else {
        errors.push(
            "spec",
            "required; a NetworkPolicy needs at least spec.podSelector ({} selects every pod)",
        );
        return;
    };
    if let Some(s) = &spec.pod_selector {
        selector::validate(s, "spec.podSelector", errors);
    }
    let mut types = BTreeSet::new();
    for (i, t) in spec.policy_types.iter().flatten().enumerate() {
        if !matches!(t.as_str(), "Ingress" | "Egress") {
            errors.push(
                format!("spec.policyTypes[{i}]"),
                format!("{t:?} is not a policy type; use Ingress or Egress"),
            );
        } else if !types.insert(t.as_str()) {
            errors.push(format!("spec.policyTypes[{i}]"), format!("{t} is listed twice"));
        }
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let at = format!("spec.ingress[{i}]");
        ports(rule.ports.as_deref(), &at, errors);
        peers(rule.from.as_deref(), &format!("{at}.from"), errors);
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let at = format!("spec.egress[{i}]");
        ports(rule.ports.as_deref(), &at, errors);
        peers(rule.to.as_deref(), &format!("{at}.to"), errors);
    }
}

fn ports(ports: Option<&[NetworkPolicyPort]>, rule: &str, errors: &mut Errors) {
    for (j, p) in ports.unwrap_or_default().iter().enumerate() {
        let at = format!("{rule}.ports[{j}]");
        check_protocol(errors, &format!("{at}.protocol"), p.protocol.as_deref());
        match (&p.port, p.end_port) {
            (Some(IntOrString::Int(port)), end) => {
                check_port(errors, &format!("{at}.port"), *port);
                if let Some(end) = end {
                    check_port(errors, &format!("{at}.endPort"), end);
                    if end < *port {
                        errors.push(
                            format!("{at}.endPort"),
                            format!("{end} is below port {port}; endPort must be at least port"),
                        );
                    }
                }
            }
            (Some(IntOrString::String(name)), end) => {
                if let Err(e) = iana_svc_name(name) {
                    errors.push(format!("{at}.port"), e);
                }
                if end.is_some() {
                    errors.push(
                        format!("{at}.endPort"),
                        "may only be set with a numeric port, not a named one",
                    );
                }
            }
            (None, Some(_)) => errors.push(format!("{at}.endPort"), "may only be set together with a numeric port"),
            (None, None) => {}
        }
    }
}

fn peers(peers: Option<&[NetworkPolicyPeer]>, path: &str, errors: &mut Errors) {
    for (k, peer) in peers.unwrap_or_default().iter().enumerate() {
        let at = format!("{path}[{k}]");
        let selectors = peer.pod_selector.is_some() || peer.namespace_selector.is_some();
        if let Some(s) = &peer.pod_selector {
            selector::validate(s, &format!("{at}.podSelector"), errors);
        }
        if let Some(s) = &peer.namespace_selector {
            selector::validate(s, &format!("{at}.namespaceSelector"), errors);
        }
        match &peer.ip_block {
            Some(_) if selectors => errors.push(
                format!("{at}.ipBlock"),
                "may not be combined with podSelector or namespaceSelector in one peer; list it as a peer of its own",
            ),
            Some(block) => ip_block(&block.cidr, block.except.as_deref(), &format!("{at}.ipBlock"), errors),
            None if !selectors => errors.push(at, "a peer needs podSelector, namespaceSelector or ipBlock"),
            None => {}
        }
    }
}

/// ipBlock: the cidr, and excepts strictly inside it. Like the API server, host bits in the
/// cidr are accepted (the network is what counts).
fn ip_block(cidr: &str, except: Option<&[String]>, at: &str, errors: &mut Errors) {
    let Ok(block) = cidr.parse::<IpNet>() else {
        errors.push(
            format!("{at}.cidr"),
            format!("{cidr:?} is not a valid CIDR, e.g. 10.0.0.0/8 or fd00::/64"),
        );
        return;
    };
    let block = block.trunc();
    for (i, e) in except.unwrap_or_default().iter().enumerate() {
        let path = format!("{at}.except[{i}]");
        match e.parse::<IpNet>() {
            Err(_) => errors.push(path, format!("{e:?} is not a valid CIDR")),
            Ok(net) if !(block.contains(&net) && net.prefix_len() > block.prefix_len()) => {
                errors.push(path, format!("{e} must be strictly inside cidr {cidr}"))
            }
            Ok(_) => {}
        }
    }
}
