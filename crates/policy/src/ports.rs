//! Ports of a policy rule (networking.k8s.io/v1 NetworkPolicyPort): a protocol (TCP when
//! absent), and a port that is absent (every port of that protocol), a number, a range with
//! `endPort` (numeric ports only), or the name of a container port. A name means the number
//! that the *destination* pod gives that name for that protocol, so it is resolved per pod
//! (see [`PortSpec::resolve`]); a pod without such a port is not reachable through it.

use std::fmt;

use weft_api::k8s_openapi::api::networking::v1::NetworkPolicyPort;
use weft_api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::error::Problems;

/// The protocols a NetworkPolicy port names (Protocol in core/v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The API's spelling; absent means TCP, as in the API reference ("If not specified, this
    /// field defaults to TCP").
    pub fn parse(value: Option<&str>) -> Option<Protocol> {
        match value {
            None | Some("TCP") => Some(Protocol::Tcp),
            Some("UDP") => Some(Protocol::Udp),
            Some("SCTP") => Some(Protocol::Sctp),
            Some(_) => None,
        }
    }

    /// The IP protocol number, for the dataplane.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

/// A port as a policy rule states it, before named ports are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// `protocol` with no `port`: every port of the protocol.
    Every(Protocol),
    /// `port` as a number, with `endPort` when a range (`first..=last`).
    Numbers { protocol: Protocol, first: u16, last: u16 },
    /// `port` as a name: the destination pod's container port of that name and protocol.
    Named { protocol: Protocol, name: String },
}

/// A compiled port range, what the dataplane matches (`meta l4proto . th dport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub protocol: Protocol,
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// Every port of a protocol. Port 0 is included: a rule without `port` puts no condition
    /// on the port at all.
    pub fn every(protocol: Protocol) -> PortRange {
        PortRange {
            protocol,
            first: 0,
            last: u16::MAX,
        }
    }

    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.protocol == protocol && (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.first, self.last) {
            (0, u16::MAX) => write!(f, "{} (every port)", self.protocol),
            (a, b) if a == b => write!(f, "{}/{a}", self.protocol),
            (a, b) => write!(f, "{}/{a}-{b}", self.protocol),
        }
    }
}

/// A port a pod's container declares (core/v1 ContainerPort), what named ports resolve to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub protocol: Protocol,
    pub port: u16,
}

impl ContainerPort {
    pub fn named(name: &str, protocol: Protocol, port: u16) -> ContainerPort {
        ContainerPort {
            name: Some(name.to_string()),
            protocol,
            port,
        }
    }
}

impl PortSpec {
    /// Reads one NetworkPolicyPort at `path`, refusing what the API server refuses.
    pub(crate) fn parse(port: &NetworkPolicyPort, path: &str, problems: &mut Problems) -> Option<PortSpec> {
        let Some(protocol) = Protocol::parse(port.protocol.as_deref()) else {
            problems.push(
                format!("{path}.protocol"),
                format!(
                    "{:?} is not a protocol a NetworkPolicy can name; use TCP, UDP or SCTP",
                    port.protocol.as_deref().unwrap_or_default()
                ),
            );
            return None;
        };
        let number = |value: i32, field: &str, problems: &mut Problems| match u16::try_from(value) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                problems.push(
                    format!("{path}.{field}"),
                    format!("{value} is not a port number; use 1-65535"),
                );
                None
            }
        };
        match (&port.port, port.end_port) {
            (None, None) => Some(PortSpec::Every(protocol)),
            (None, Some(_)) => {
                problems.push(
                    format!("{path}.endPort"),
                    "needs a numeric port; set port to the first port of the range",
                );
                None
            }
            (Some(IntOrString::Int(first)), end) => {
                let first = number(*first, "port", problems)?;
                let last = match end {
                    None => first,
                    Some(end) => number(end, "endPort", problems)?,
                };
                if last < first {
                    problems.push(
                        format!("{path}.endPort"),
                        format!("{last} is below port {first}; endPort must be at least port"),
                    );
                    return None;
                }
                Some(PortSpec::Numbers { protocol, first, last })
            }
            (Some(IntOrString::String(name)), end) => {
                if end.is_some() {
                    problems.push(
                        format!("{path}.endPort"),
                        format!("needs a numeric port, not the named port {name:?}; remove endPort or use numbers"),
                    );
                    return None;
                }
                if let Err(why) = check_port_name(name) {
                    problems.push(format!("{path}.port"), why);
                    return None;
                }
                Some(PortSpec::Named {
                    protocol,
                    name: name.clone(),
                })
            }
        }
    }

    /// What this port allows on a destination pod with `ports`: numbers stand as they are, a
    /// name becomes that pod's number(s) for it (several containers may not share a name, but
    /// nothing is lost by taking them all), or nothing when the pod has no such port.
    pub fn resolve(&self, ports: &[ContainerPort]) -> Vec<PortRange> {
        match self {
            PortSpec::Every(protocol) => vec![PortRange::every(*protocol)],
            PortSpec::Numbers { protocol, first, last } => vec![PortRange {
                protocol: *protocol,
                first: *first,
                last: *last,
            }],
            PortSpec::Named { protocol, name } => ports
                .iter()
                .filter(|p| p.protocol == *protocol && p.name.as_deref() == Some(name))
                .map(|p| PortRange {
                    protocol: *protocol,
                    first: p.port,
                    last: p.port,
                })
                .collect(),
        }
    }

    pub fn is_named(&self) -> bool {
        matches!(self, PortSpec::Named { .. })
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Every(protocol) => write!(f, "{protocol} (every port)"),
            PortSpec::Numbers { protocol, first, last } if first == last => write!(f, "{protocol}/{first}"),
            PortSpec::Numbers { protocol, first, last } => write!(f, "{protocol}/{first}-{last}"),
            PortSpec::Named { protocol, name } => write!(f, "{protocol}/{name} (named)"),
        }
    }
}

/// IANA_SVC_NAME, as the API server checks named ports: at most 15 characters, lowercase
/// letters, digits and single inner hyphens, at least one letter.
pub(crate) fn check_port_name(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{name:?} is a number written as a string; write port: {name} without quotes"
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a port name: use at most 15 lowercase letters, digits and inner hyphens, with a letter, e.g. http"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(port: Option<IntOrString>, end: Option<i32>, protocol: Option<&str>) -> Result<PortSpec, Vec<String>> {
        let mut problems = Problems::default();
        let p = NetworkPolicyPort {
            port,
            end_port: end,
            protocol: protocol.map(str::to_string),
        };
        let spec = PortSpec::parse(&p, "spec.ingress[0].ports[1]", &mut problems);
        match spec {
            Some(s) if problems.0.is_empty() => Ok(s),
            _ => Err(problems.0.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn protocol_defaults_to_tcp() {
        assert_eq!(parse(None, None, None), Ok(PortSpec::Every(Protocol::Tcp)));
        assert_eq!(
            parse(Some(IntOrString::Int(53)), None, Some("UDP")),
            Ok(PortSpec::Numbers {
                protocol: Protocol::Udp,
                first: 53,
                last: 53
            })
        );
        assert_eq!(
            parse(Some(IntOrString::Int(9)), None, Some("SCTP")),
            Ok(PortSpec::Numbers {
                protocol: Protocol::Sctp,
                first: 9,
                last: 9
            })
        );
    }

    #[test]
    fn end_port_needs_a_numeric_port() {
        assert_eq!(
            parse(Some(IntOrString::String("http".into())), Some(90), None),
            Err(vec![
                "spec.ingress[0].ports[1].endPort: needs a numeric port, not the named port \"http\"; remove endPort or use numbers".to_string()
            ])
        );
        assert_eq!(
            parse(None, Some(90), None),
            Err(vec![
                "spec.ingress[0].ports[1].endPort: needs a numeric port; set port to the first port of the range"
                    .to_string()
            ])
        );
        assert!(parse(Some(IntOrString::Int(90)), Some(80), None).is_err());
        assert_eq!(
            parse(Some(IntOrString::Int(80)), Some(90), None),
            Ok(PortSpec::Numbers {
                protocol: Protocol::Tcp,
                first: 80,
                last: 90
            })
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(Some(IntOrString::Int(0)), None, None).is_err());
        assert!(parse(Some(IntOrString::Int(65536)), None, None).is_err());
        assert!(parse(Some(IntOrString::Int(80)), None, Some("ICMP")).is_err());
        assert!(parse(Some(IntOrString::Int(80)), None, Some("tcp")).is_err());
        assert!(parse(Some(IntOrString::String("80".into())), None, None).is_err());
        assert!(parse(Some(IntOrString::String("Http".into())), None, None).is_err());
    }

    #[test]
    fn named_ports_resolve_by_name_and_protocol() {
        let ports = [
            ContainerPort::named("serve-80-tcp", Protocol::Tcp, 80),
            ContainerPort::named("dns", Protocol::Udp, 53),
            ContainerPort::named("dns", Protocol::Tcp, 5353),
        ];
        let named = |name: &str, protocol| PortSpec::Named {
            protocol,
            name: name.into(),
        };
        let one = |protocol, port| PortRange {
            protocol,
            first: port,
            last: port,
        };
        assert_eq!(
            named("serve-80-tcp", Protocol::Tcp).resolve(&ports),
            [one(Protocol::Tcp, 80)]
        );
        assert_eq!(named("serve-80-tcp", Protocol::Udp).resolve(&ports), []);
        assert_eq!(named("dns", Protocol::Udp).resolve(&ports), [one(Protocol::Udp, 53)]);
        assert_eq!(named("dns", Protocol::Tcp).resolve(&ports), [one(Protocol::Tcp, 5353)]);
        assert_eq!(named("missing", Protocol::Tcp).resolve(&ports), []);
    }
}
