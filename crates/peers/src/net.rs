//! The network real peers run in: namespaces owned by one test, wired only among themselves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use weft_testnet::{Namespaces, NetNs, ip};

/// One namespace of a [`PeerNet`] and its addresses on the shared segment.
#[derive(Debug, Clone)]
pub struct Node {
    pub netns: String,
    /// The interface on the shared segment inside `netns`.
    pub ifname: String,
    /// 192.0.2.N/24 (RFC 5737), N = index + 1.
    pub ipv4: Ipv4Addr,
    /// 2001:db8::N/64 (RFC 3849), N = index + 1.
    pub ipv6: Ipv6Addr,
}

impl Node {
    pub fn v4(&self) -> IpAddr {
        IpAddr::V4(self.ipv4)
    }

    pub fn v6(&self) -> IpAddr {
        IpAddr::V6(self.ipv6)
    }
}

/// Namespaces with unique names, one segment between them: two are joined by a veth, more by
/// a bridge in an extra namespace. Node i has 192.0.2.(i+1)/24 and 2001:db8::(i+1)/64 (no
/// DAD, usable at once). Addresses 192.0.2.100 and above are free for third-party next hops.
/// Everything is deleted on drop, also after a panic; drop the peers first (declare the
/// `PeerNet` before them), since a namespace lives on while a process is in it.
pub struct PeerNet {
    nodes: Vec<Node>,
    // Dropped last: removes the namespaces (and with them the veths and the bridge).
    _namespaces: Namespaces,
}

const IFNAME: &str = "eth0";

impl PeerNet {
    /// Two namespaces joined by a veth.
    pub fn pair(test: &str) -> PeerNet {
        PeerNet::new(test, 2)
    }

    /// `count` (2 to 99) namespaces on one segment.
    pub fn new(test: &str, count: usize) -> PeerNet {
        assert!((2..100).contains(&count), "a PeerNet has 2 to 99 nodes");
        let mut namespaces = Namespaces::new(test);
        let nodes: Vec<Node> = (0..count)
            .map(|i| Node {
                netns: namespaces.add(&format!("n{}", i + 1)),
                ifname: IFNAME.to_string(),
                ipv4: Ipv4Addr::new(192, 0, 2, i as u8 + 1),
                ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1),
            })
            .collect();
        if count == 2 {
            let (a, b) = (&nodes[0], &nodes[1]);
            ip(&[
                "-n", &a.netns, "link", "add", IFNAME, "type", "veth", "peer", "name", IFNAME, "netns", &b.netns,
            ]);
        } else {
            let sw = namespaces.add("sw");
            ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
            ip(&["-n", &sw, "link", "set", "br0", "up"]);
            for (i, node) in nodes.iter().enumerate() {
                let port = format!("p{}", i + 1);
                ip(&[
                    "-n",
                    &sw,
                    "link",
                    "add",
                    &port,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    IFNAME,
                    "netns",
                    &node.netns,
                ]);
                ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            }
        }
        for node in &nodes {
            let ns = node.netns.as_str();
            // No duplicate address detection: the link-local address is usable the moment the link is
            // up. (bgpd started while it is still tentative never learns it and cannot form IPv6
            // sessions: "eth0 does not have a v6 LL address".)
            let dad = format!("/proc/sys/net/ipv6/conf/{IFNAME}/accept_dad");
            NetNs::open(&Namespaces::path(ns))
                .and_then(|n| n.run(|| std::fs::write(&dad, "0")).and_then(|r| r))
                .unwrap_or_else(|e| panic!("disabling DAD in {ns}: {e}"));
            ip(&["-n", ns, "addr", "add", &format!("{}/24", node.ipv4), "dev", IFNAME]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/64", node.ipv6),
                "dev",
                IFNAME,
                "nodad",
            ]);
            ip(&["-n", ns, "link", "set", IFNAME, "up"]);
        }
        PeerNet {
            nodes,
            _namespaces: namespaces,
        }
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The namespace of node `i`.
    pub fn netns(&self, i: usize) -> &str {
        &self.nodes[i].netns
    }
}
