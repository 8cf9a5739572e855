//! What a lab is made of, from a YAML file or the default.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::LabError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Topology {
    pub clusters: Vec<ClusterTopology>,
    /// A WAN router between the clusters' underlays (the site-to-site VPN or direct connect of
    /// two clouds), and BGP between the clusters' controllers across it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wan: Option<Wan>,
}

/// How the clusters are joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wan {
    #[serde(default)]
    pub peering: Peering,
    /// The AS of the WAN's own router (FRR) when it carries the routes.
    #[serde(default = "default_wan_asn")]
    pub asn: u32,
    /// Hold time of the lab's BGP sessions, seconds: short, so that a cut link shows soon.
    #[serde(default = "default_hold_time")]
    pub hold_time: u32,
}

/// Who the controllers exchange routes with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peering {
    /// eBGP between every pair of controllers, across the WAN router.
    #[default]
    Direct,
    /// eBGP from each controller to FRR on the WAN router, which passes routes on with their
    /// next hops unchanged (the cloud's or data centre's router, as a route server).
    RouteServer,
}

fn default_wan_asn() -> u32 {
    65000
}

fn default_hold_time() -> u32 {
    9
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterTopology {
    pub name: String,
    #[serde(default = "default_asn")]
    pub asn: u32,
    /// The cluster's underlay subnet: the controller gets .10, nodes .11 upwards.
    pub underlay: Ipv4Net,
    /// The underlay's MTU (pods get 50 less).
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    #[serde(rename = "podCIDRs")]
    pub pod_cidrs: Vec<String>,
    #[serde(rename = "serviceCIDRs")]
    pub service_cidrs: Vec<String>,
    pub nodes: Vec<String>,
}

fn default_asn() -> u32 {
    64512
}

fn default_mtu() -> u32 {
    1500
}

impl Topology {
    /// One cluster of two nodes, on documentation addresses.
    pub fn single() -> Topology {
        Topology {
            clusters: vec![ClusterTopology {
                name: "cloud-a".into(),
                asn: 64512,
                underlay: "192.0.2.0/24".parse().unwrap_or_default(),
                mtu: 1500,
                pod_cidrs: vec!["10.244.0.0/16".into(), "fd00:244::/56".into()],
                service_cidrs: vec!["10.96.0.0/16".into(), "fd00:96::/112".into()],
                nodes: vec!["node-1".into(), "node-2".into()],
            }],
            wan: None,
        }
    }

    /// The demo: clouds `cloud-a` and `cloud-b`, two nodes each, their own underlay subnets,
    /// pod and service CIDRs and AS numbers, joined by a WAN router.
    pub fn two_clouds(peering: Peering) -> Topology {
        let cloud = |name: &str, asn: u32, underlay: &str, n: u32| ClusterTopology {
            name: name.into(),
            asn,
            underlay: underlay.parse().unwrap_or_default(),
            mtu: 1500,
            pod_cidrs: vec![format!("10.{n}.0.0/16"), format!("fd00:{n}::/56")],
            service_cidrs: vec![format!("10.{}.0.0/16", n - 148), format!("fd00:{}::/112", n - 148)],
            nodes: vec!["node-1".into(), "node-2".into()],
        };
        Topology {
            clusters: vec![
                cloud("cloud-a", 64501, "192.0.2.0/24", 244),
                cloud("cloud-b", 64502, "198.51.100.0/24", 245),
            ],
            wan: Some(Wan {
                peering,
                asn: default_wan_asn(),
                hold_time: default_hold_time(),
            }),
        }
    }

    pub fn from_yaml(text: &str, source: &str) -> Result<Topology, LabError> {
        let topology: Topology =
            serde_yaml_ng::from_str(text).map_err(|e| LabError::Usage(format!("{source}: {e}")))?;
        topology.check(source)?;
        Ok(topology)
    }

    fn check(&self, source: &str) -> Result<(), LabError> {
        let bad = |path: String, message: String| Err(LabError::Usage(format!("{source}: {path}: {message}")));
        if self.clusters.is_empty() {
            return bad("clusters".into(), "at least one cluster is required".into());
        }
        if let Some(wan) = &self.wan {
            if !(3..=65535).contains(&wan.hold_time) {
                return bad(
                    "wan.holdTime".into(),
                    format!("{} is out of range 3-65535", wan.hold_time),
                );
            }
            for (i, c) in self.clusters.iter().enumerate() {
                for (j, d) in self.clusters.iter().enumerate().skip(i + 1) {
                    if c.name == d.name {
                        return bad(format!("clusters[{j}].name"), format!("{:?} is used twice", d.name));
                    }
                    if c.underlay.contains(&d.underlay.network()) || d.underlay.contains(&c.underlay.network()) {
                        return bad(
                            format!("clusters[{j}].underlay"),
                            format!(
                                "{} overlaps {}: the WAN router routes between them",
                                d.underlay, c.underlay
                            ),
                        );
                    }
                    if c.asn == d.asn {
                        return bad(
                            format!("clusters[{j}].asn"),
                            format!(
                                "{} is also {}'s: the clusters peer over eBGP; give each its own AS",
                                d.asn, c.name
                            ),
                        );
                    }
                }
                if wan.peering == Peering::RouteServer && c.asn == wan.asn {
                    return bad(
                        format!("clusters[{i}].asn"),
                        format!("{} is the WAN router's AS (wan.asn); choose another", c.asn),
                    );
                }
            }
        }
        for (i, c) in self.clusters.iter().enumerate() {
            if c.nodes.is_empty() {
                return bad(format!("clusters[{i}].nodes"), "at least one node is required".into());
            }
            if c.underlay.prefix_len() > 26 || (c.nodes.len() + 11) as u32 >= c.underlay.hosts().count() as u32 {
                return bad(
                    format!("clusters[{i}].underlay"),
                    format!("{} is too small for {} nodes; use a /24", c.underlay, c.nodes.len()),
                );
            }
            if !(1280..=9000).contains(&c.mtu) {
                return bad(
                    format!("clusters[{i}].mtu"),
                    format!("{} is out of range 1280-9000", c.mtu),
                );
            }
            for (j, n) in c.nodes.iter().enumerate() {
                if weft_api::validate::names::dns1123_label(n).is_err() || n.len() > 20 {
                    return bad(
                        format!("clusters[{i}].nodes[{j}]"),
                        format!("{n:?} must be a DNS label of at most 20 characters"),
                    );
                }
            }
            if weft_api::validate::names::dns1123_label(&c.name).is_err() || c.name.len() > 20 {
                return bad(
                    format!("clusters[{i}].name"),
                    format!("{:?} must be a DNS label of at most 20 characters", c.name),
                );
            }
        }
        Ok(())
    }
}

impl ClusterTopology {
    pub fn controller_address(&self) -> std::net::Ipv4Addr {
        host(self.underlay, 10)
    }

    /// The WAN router's address on this underlay, the default gateway of its hosts.
    pub fn gateway_address(&self) -> std::net::Ipv4Addr {
        host(self.underlay, 1)
    }

    pub fn node_address(&self, index: usize) -> std::net::Ipv4Addr {
        host(self.underlay, 11 + index as u32)
    }
}

fn host(net: Ipv4Net, n: u32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::from(net.network()) + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_topology_reads() {
        let text = include_str!("../../../examples/lab/three-nodes.yaml");
        let t = Topology::from_yaml(text, "three-nodes.yaml").unwrap();
        assert_eq!(t.clusters[0].nodes.len(), 3);
        assert_eq!(t.clusters[0].mtu, 9000);
        assert_eq!(t.clusters[0].node_address(2).to_string(), "192.0.2.13");
    }

    #[test]
    fn the_one_cluster_example_and_the_demo_read() {
        let text = include_str!("../../../examples/lab/one-cluster.yaml");
        let t = Topology::from_yaml(text, "one-cluster.yaml").unwrap();
        assert_eq!((t.clusters.len(), t.wan.is_none()), (1, true));
        let demo = Topology::two_clouds(Peering::RouteServer);
        demo.check("demo").unwrap();
        let file = include_str!("../../../examples/lab/two-clouds.yaml");
        assert_eq!(
            Topology::from_yaml(file, "two-clouds.yaml").unwrap(),
            demo,
            "the example is the demo's topology"
        );
        let (a, b) = (&demo.clusters[0], &demo.clusters[1]);
        assert_ne!(a.asn, b.asn);
        assert_eq!(
            (a.gateway_address().to_string(), b.controller_address().to_string()),
            ("192.0.2.1".into(), "198.51.100.10".into())
        );
        assert_eq!(a.pod_cidrs[0], "10.244.0.0/16");
        assert_eq!(b.pod_cidrs[0], "10.245.0.0/16");
        assert_eq!(b.service_cidrs[0], "10.97.0.0/16");
        // It survives the round trip through the lab's state file.
        let yaml = serde_yaml_ng::to_string(&demo).unwrap();
        assert_eq!(Topology::from_yaml(&yaml, "state").unwrap(), demo);
    }

    #[test]
    fn clusters_joined_by_a_wan_must_differ() {
        let mut t = Topology::two_clouds(Peering::Direct);
        t.clusters[1].asn = t.clusters[0].asn;
        let e = t.check("t.yaml").unwrap_err().to_string();
        assert!(e.contains("clusters[1].asn") && e.contains("own AS"), "{e}");
        let mut t = Topology::two_clouds(Peering::Direct);
        t.clusters[1].underlay = "192.0.2.0/25".parse().unwrap();
        let e = t.check("t.yaml").unwrap_err().to_string();
        assert!(e.contains("clusters[1].underlay") && e.contains("overlaps"), "{e}");
        let mut t = Topology::two_clouds(Peering::RouteServer);
        t.clusters[0].asn = 65000;
        let e = t.check("t.yaml").unwrap_err().to_string();
        assert!(e.contains("wan.asn"), "{e}");
    }

    #[test]
    fn mistakes_are_named() {
        let e = Topology::from_yaml(
            "clusters:\n- name: a\n  underlay: 192.0.2.0/24\n  podCIDRs: []\n  serviceCIDRs: []\n  nodes: []\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("clusters[0].nodes: at least one node is required"), "{e}");
        let e = Topology::from_yaml("clusters:\n- name: a\n  underlay: 192.0.2.0/24\n  podCIDRs: []\n  serviceCIDRs: []\n  nodes: [n]\n  mtu: 100\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("clusters[0].mtu: 100 is out of range"), "{e}");
        let e = Topology::from_yaml("clusters:\n- name: a\n  nodez: [n]\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nodez"), "{e}");
    }
}
