//! A NetworkPolicy read into the form the compiler and the evaluator share, with the API's
//! defaults applied once, here:
//! - `policyTypes` absent (or empty): `Ingress`, plus `Egress` when the policy has at least one
//!   egress rule (API reference, NetworkPolicySpec.policyTypes). Rules of a direction that is
//!   not in `policyTypes` are ignored.
//! - A direction in `policyTypes` with no rules (`ingress` absent or `[]`) isolates the selected
//!   pods and allows nothing: "serves solely to ensure that the pods it selects are isolated".
//! - `from`/`to` absent or `[]`: the rule matches every peer; `ports` absent or `[]`: every port
//!   and protocol. So `ingress: [{}]` allows everything, `ingress: []` nothing.
//! - `spec.podSelector` `{}` (or absent) selects every pod of the policy's namespace.

use std::fmt;

use weft_api::k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};

use crate::error::{InvalidObject, Problems};
use crate::peers::PeerSpec;
use crate::ports::PortSpec;
use crate::selector::Selector;

/// `namespace/name` of a namespaced object (a pod or a policy).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Key {
        Key {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Ingress or egress: the two directions are isolated independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

/// A NetworkPolicy, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub key: Key,
    pub pod_selector: Selector,
    /// `Some` when the policy applies to ingress (isolates the pods it selects), with its rules.
    pub ingress: Option<Vec<RuleSpec>>,
    /// `Some` when the policy applies to egress, with its rules.
    pub egress: Option<Vec<RuleSpec>>,
}

/// One ingress or egress rule as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleSpec {
    /// `None`: every peer (`from`/`to` absent or empty); else any of these.
    pub peers: Option<Vec<PeerSpec>>,
    /// Empty: every port and protocol; else any of these.
    pub ports: Vec<PortSpec>,
}

impl Policy {
    /// The rules of one direction, `None` when the policy does not apply to it.
    pub fn rules(&self, direction: Direction) -> Option<&[RuleSpec]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    /// Reads a NetworkPolicy; every problem in it is reported at once. The namespace defaults to
    /// `default`, as for any namespaced object given without one.
    pub fn parse(np: &NetworkPolicy) -> Result<Policy, InvalidObject> {
        let namespace = np.metadata.namespace.clone().unwrap_or_else(|| "default".to_string());
        let name = np.metadata.name.clone().unwrap_or_default();
        let object = || format!("NetworkPolicy/{namespace}/{name}");
        let mut problems = Problems::default();
        if name.is_empty() {
            problems.push("metadata.name", "required; give the policy a name");
        }
        let Some(spec) = &np.spec else {
            problems.push(
                "spec",
                "required; a NetworkPolicy needs at least spec.podSelector ({} selects every pod)",
            );
            return Err(InvalidObject {
                object: object(),
                problems: problems.0,
            });
        };
        let pod_selector = spec
            .pod_selector
            .as_ref()
            .map(|s| Selector::parse(s, "spec.podSelector", &mut problems))
            .unwrap_or_default();
        let (mut ingress_type, mut egress_type) = (false, false);
        for (i, t) in spec.policy_types.iter().flatten().enumerate() {
            match t.as_str() {
                "Ingress" => ingress_type = true,
                "Egress" => egress_type = true,
                other => problems.push(
                    format!("spec.policyTypes[{i}]"),
                    format!("{other:?} is not a policy type; use Ingress or Egress"),
                ),
            }
        }
        if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
            ingress_type = true;
            egress_type = spec.egress.as_ref().is_some_and(|e| !e.is_empty());
        }
        let ingress: Vec<RuleSpec> = spec
            .ingress
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("spec.ingress[{i}]");
                rule(
                    r.from.as_deref(),
                    r.ports.as_deref(),
                    &namespace,
                    &at,
                    "from",
                    &mut problems,
                )
            })
            .collect();
        let egress: Vec<RuleSpec> = spec
            .egress
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("spec.egress[{i}]");
                rule(
                    r.to.as_deref(),
                    r.ports.as_deref(),
                    &namespace,
                    &at,
                    "to",
                    &mut problems,
                )
            })
            .collect();
        let policy = Policy {
            key: Key::new(namespace.clone(), name.clone()),
            pod_selector,
            ingress: ingress_type.then_some(ingress),
            egress: egress_type.then_some(egress),
        };
        problems.finish(object, policy)
    }
}

fn rule(
    peers: Option<&[NetworkPolicyPeer]>,
    ports: Option<&[NetworkPolicyPort]>,
    namespace: &str,
    at: &str,
    field: &str,
    problems: &mut Problems,
) -> RuleSpec {
    let peers = peers.filter(|p| !p.is_empty()).map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(k, p)| PeerSpec::parse(p, namespace, &format!("{at}.{field}[{k}]"), problems))
            .collect()
    });
    let ports = ports
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(j, p)| PortSpec::parse(p, &format!("{at}.ports[{j}]"), problems))
        .collect();
    RuleSpec { peers, ports }
}
