//! `weft explain`: the policies that select a pod and what they allow, and why one connection
//! is allowed or denied, in words. Built on [`evaluate`], so it says what the API semantics
//! say, rule by rule.

use std::fmt::Write;

use crate::evaluate::{Connection, Decision, evaluate};
use crate::model::{Input, PodInfo};
use crate::policy::{Direction, Key, RuleSpec};

/// What isolates `pod` in each direction and what each rule allows.
pub fn explain_pod(input: &Input, pod: &Key) -> String {
    let Some(info) = input.pod(pod) else {
        return format!("Pod {pod}: not known (or host-network, or finished): no policy applies to it\n");
    };
    let mut out = String::new();
    let addresses: Vec<String> = info.addresses.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "Pod {pod} ({})",
        if addresses.is_empty() {
            "no address yet: nobody's peer by address".to_string()
        } else {
            addresses.join(", ")
        }
    );
    let selecting: Vec<_> = input.selecting(info).collect();
    if selecting.is_empty() {
        let _ = writeln!(out, "Selected by no NetworkPolicy: everything allowed both ways");
        return out;
    }
    for policy in &selecting {
        let dirs: Vec<&str> = [
            ("ingress", policy.ingress.is_some()),
            ("egress", policy.egress.is_some()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(d, _)| *d)
        .collect();
        let _ = writeln!(
            out,
            "Selected by NetworkPolicy {} (podSelector {}; policy types: {})",
            policy.key,
            policy.pod_selector,
            dirs.join(", ")
        );
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        let isolating: Vec<_> = selecting.iter().filter(|p| p.rules(direction).is_some()).collect();
        if isolating.is_empty() {
            let _ = writeln!(
                out,
                "{}: not isolated (no selecting policy has {direction} in its policy types): everything allowed",
                title(direction)
            );
            continue;
        }
        let names: Vec<String> = isolating.iter().map(|p| p.key.to_string()).collect();
        let _ = writeln!(
            out,
            "{}: isolated by {}; allowed only what one of these rules allows (replies always pass):",
            title(direction),
            names.join(", ")
        );
        let mut any = false;
        for policy in isolating {
            for (i, rule) in policy.rules(direction).unwrap_or_default().iter().enumerate() {
                any = true;
                let _ = writeln!(
                    out,
                    "  - NetworkPolicy {} {direction}[{i}]: {}",
                    policy.key,
                    describe(rule, direction, Some(info))
                );
            }
        }
        if !any {
            let _ = writeln!(out, "  (no rules: nothing allowed)");
        }
    }
    out
}

/// Why `connection` is allowed or denied.
pub fn explain_connection(input: &Input, connection: &Connection) -> String {
    let verdict = evaluate(input, connection);
    let mut out = format!(
        "{} -> {} {}: {}\n",
        connection.src,
        connection.dst,
        connection.traffic,
        if verdict.allowed { "allowed" } else { "denied" }
    );
    let sides = [
        (Direction::Egress, &connection.src, &verdict.egress),
        (Direction::Ingress, &connection.dst, &verdict.ingress),
    ];
    for (direction, end, decision) in sides {
        let whose = match &end.pod {
            Some(k) => format!("{direction} of {k}"),
            None => format!("{direction} of {}", end.address),
        };
        match decision {
            Decision::Outside => {
                let _ = writeln!(out, "  {whose}: not a pod of this cluster, no policy applies");
            }
            Decision::Loopback => {
                let _ = writeln!(out, "  {whose}: a pod to itself never leaves it, no policy applies");
            }
            Decision::NotIsolated => {
                let _ = writeln!(
                    out,
                    "  {whose}: not isolated (no selecting policy has {direction}): allowed"
                );
            }
            Decision::Isolated { policies, rules } => {
                let names: Vec<String> = policies.iter().map(ToString::to_string).collect();
                let allowed = decision.allowed_by();
                if allowed.is_empty() {
                    let _ = writeln!(
                        out,
                        "  {whose}: isolated by {}; no rule allows it: denied",
                        names.join(", ")
                    );
                } else {
                    let by: Vec<String> = allowed.iter().map(ToString::to_string).collect();
                    let _ = writeln!(out, "  {whose}: allowed by {}", by.join(", "));
                    continue;
                }
                if rules.is_empty() {
                    let _ = writeln!(out, "    (the policies have no {direction} rules: they allow nothing)");
                }
                let peer = if direction == Direction::Ingress {
                    "source"
                } else {
                    "destination"
                };
                for check in rules {
                    let why = match (check.peer, check.port) {
                        (false, false) => format!("{peer} not selected, and {} not in its ports", connection.traffic),
                        (false, true) => format!("{peer} not selected"),
                        (true, false) => format!("{} not in its ports", connection.traffic),
                        (true, true) => "matches".to_string(),
                    };
                    let rule = input
                        .policies()
                        .iter()
                        .find(|p| p.key == check.origin.policy)
                        .and_then(|p| p.rules(direction)?.get(check.origin.rule));
                    let destination = connection.dst.pod.as_ref().and_then(|k| input.pod(k));
                    match rule {
                        Some(rule) => {
                            let what = describe(rule, direction, destination);
                            let _ = writeln!(out, "    - {}: {why} (it allows {what})", check.origin);
                        }
                        None => {
                            let _ = writeln!(out, "    - {}: {why}", check.origin);
                        }
                    }
                }
            }
        }
    }
    out
}

fn title(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "Ingress",
        Direction::Egress => "Egress",
    }
}

/// One rule in words: peers, then ports (named ports resolved on `destination` when it is the
/// selected pod, that is for ingress).
fn describe(rule: &RuleSpec, direction: Direction, destination: Option<&PodInfo>) -> String {
    let (from, anyone) = match direction {
        Direction::Ingress => ("from", "from anywhere"),
        Direction::Egress => ("to", "to anywhere"),
    };
    let peers = match &rule.peers {
        None => anyone.to_string(),
        Some(list) => {
            let each: Vec<String> = list.iter().map(ToString::to_string).collect();
            format!("{from} {}", each.join(" or "))
        }
    };
    let ports = if rule.ports.is_empty() {
        "on every port and protocol".to_string()
    } else {
        let each: Vec<String> = rule
            .ports
            .iter()
            .map(|p| {
                if let (true, Direction::Ingress, Some(pod)) = (p.is_named(), direction, destination) {
                    let numbers: Vec<String> = p.resolve(&pod.ports).iter().map(ToString::to_string).collect();
                    if numbers.is_empty() {
                        format!("{p}: this pod has no such port, so never")
                    } else {
                        format!("{p} = {}", numbers.join(", "))
                    }
                } else if p.is_named() {
                    format!("{p}, as each destination pod numbers it")
                } else {
                    p.to_string()
                }
            })
            .collect();
        format!("on {}", each.join(", "))
    };
    format!("{peers}, {ports}")
}
