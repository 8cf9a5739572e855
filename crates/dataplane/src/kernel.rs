//! The netlink side: read the objects Weft owns in a network namespace, apply a [`Diff`], and
//! manage the VXLAN device. Everything written carries Weft's marks; everything read is filtered
//! by them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::link::{InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteIpTunnel, RouteLwEnCapType, RouteLwTunnelEncap,
    RouteMessage, RouteNextHop, RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{Handle, IpVersion, LinkUnspec, LinkVxlan};

use crate::marks::{self, ROUTE_PROTOCOL, VXLAN_DEVICE};
use crate::netns::NetNs;
use crate::plan::{Diff, Hop, NeighbourKey, Plan, RouteKey, Rule, Target};
use crate::sysctl;

/// Why a kernel operation failed, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("netlink: {0}")]
    Netlink(#[from] rtnetlink::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("network namespace {path}: {reason}")]
    Netns { path: String, reason: String },
    #[error("sysctl {path}: {reason}")]
    Sysctl { path: String, reason: String },
    #[error("cannot find the underlay towards {toward}: {reason}")]
    Underlay { toward: Ipv4Addr, reason: String },
    #[error("interface {0} does not exist")]
    NoInterface(String),
    #[error("{what}: {reason}")]
    Object { what: String, reason: String },
}

/// The VXLAN device as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vxlan {
    pub index: u32,
    pub mac: [u8; 6],
    pub mtu: u32,
}

/// A netlink connection to one network namespace.
#[derive(Clone)]
pub struct Kernel {
    pub handle: Handle,
    /// The namespace, when it is not the calling thread's: sysctls are written from inside it.
    netns: Option<std::sync::Arc<NetNs>>,
}

fn family(v6: bool) -> AddressFamily {
    if v6 { AddressFamily::Inet6 } else { AddressFamily::Inet }
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

fn mac_of(bytes: &[u8]) -> Option<[u8; 6]> {
    bytes.try_into().ok()
}

impl Kernel {
    /// A connection to the calling thread's namespace.
    pub fn connect() -> Result<Kernel, KernelError> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Kernel { handle, netns: None })
    }

    /// A connection to another namespace, e.g. a pod's or, in tests, a node's.
    pub fn in_netns(netns: NetNs) -> Result<Kernel, KernelError> {
        let handle = crate::netns::netlink(&netns)?;
        Ok(Kernel {
            handle,
            netns: Some(std::sync::Arc::new(netns)),
        })
    }

    /// Runs `f` in this connection's namespace (for sysctls, which follow the calling thread).
    pub fn run_inside<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, KernelError> {
        match &self.netns {
            Some(ns) => ns.run(f).map_err(|e| KernelError::Netns {
                path: ns.path().to_string(),
                reason: e.to_string(),
            }),
            None => Ok(f()),
        }
    }

    /// Turns on forwarding in this namespace (a node routes between pods and tunnels).
    pub fn enable_forwarding(&self) -> Result<(), KernelError> {
        self.run_inside(sysctl::enable_forwarding)?
    }

    /// Sets the sysctls Services need (see [`sysctl::enable_services`]).
    pub fn enable_services(&self) -> Result<(), KernelError> {
        self.run_inside(sysctl::enable_services)?
    }

    /// Sets an interface's IPv6 DAD and reverse-path filter off (see [`sysctl::prepare_interface`]).
    pub fn prepare_interface(&self, name: &str) -> Result<(), KernelError> {
        let name = name.to_string();
        self.run_inside(move || sysctl::prepare_interface(&name))?
    }

    /// Interface index by name; `None` if it does not exist.
    pub async fn index(&self, name: &str) -> Result<Option<u32>, KernelError> {
        Ok(self.link(name).await?.map(|l| l.header.index))
    }

    pub async fn link(&self, name: &str) -> Result<Option<LinkMessage>, KernelError> {
        let mut links = self.handle.link().get().match_name(name.to_string()).execute();
        match links.try_next().await {
            Ok(link) => Ok(link),
            // ENODEV: no such interface.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -19 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every interface's name by index.
    pub async fn link_names(&self) -> Result<BTreeMap<u32, String>, KernelError> {
        let mut out = BTreeMap::new();
        let mut links = self.handle.link().get().execute();
        while let Some(link) = links.try_next().await? {
            if let Some(name) = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            }) {
                out.insert(link.header.index, name);
            }
        }
        Ok(out)
    }

    /// Creates the node's VXLAN device in external mode if it is missing (UDP 4789, no learning:
    /// remote MACs are permanent neighbour entries from the controller), sets its MTU, brings it
    /// up. Its MAC is the node's router MAC and survives agent restarts with the device.
    pub async fn ensure_vxlan(&self, mtu: u32) -> Result<Vxlan, KernelError> {
        if self.link(VXLAN_DEVICE).await?.is_none() {
            let message = rtnetlink::LinkMessageBuilder::<LinkVxlan>::new(VXLAN_DEVICE)
                .collect_metadata(true)
                .port(marks::VXLAN_PORT)
                .learning(false)
                .mtu(mtu)
                .build();
            self.handle
                .link()
                .add(message)
                .execute()
                .await
                .map_err(|e| KernelError::Object {
                    what: format!("creating {VXLAN_DEVICE}"),
                    reason: e.to_string(),
                })?;
        }
        let link = self
            .link(VXLAN_DEVICE)
            .await?
            .ok_or_else(|| KernelError::NoInterface(VXLAN_DEVICE.into()))?;
        let external = link.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| match i {
                LinkInfo::Data(InfoData::Vxlan(v)) => v.iter().any(|x| matches!(x, InfoVxlan::CollectMetadata(true))),
                _ => false,
            }),
            _ => false,
        });
        let is_vxlan = link.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Vxlan))),
            _ => false,
        });
        if !is_vxlan || !external {
            return Err(KernelError::Object {
                what: VXLAN_DEVICE.into(),
                reason: "exists but is not a VXLAN device in external mode; it is not Weft's, remove or rename it"
                    .into(),
            });
        }
        let index = link.header.index;
        self.prepare_interface(VXLAN_DEVICE)?;
        let set = LinkUnspec::new_with_index(index).mtu(mtu).up().build();
        self.handle.link().set(set).execute().await?;
        let mac = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Address(m) => mac_of(m),
                _ => None,
            })
            .unwrap_or_default();
        Ok(Vxlan { index, mac, mtu })
    }

    /// The node-level objects Weft owns here: its rules, routes and permanent neighbours.
    pub async fn observe(&self) -> Result<Plan, KernelError> {
        let names = self.link_names().await?;
        let mut plan = Plan::default();
        for version in [IpVersion::V4, IpVersion::V6] {
            let v6 = version == IpVersion::V6;
            let mut rules = self.handle.rule().get(version).execute();
            while let Some(rule) = rules.try_next().await? {
                if let Some(r) = parse_rule(&rule, v6) {
                    plan.rules.insert(r);
                }
            }
        }
        for v6 in [false, true] {
            let mut request = RouteMessage::default();
            request.header = RouteHeader {
                address_family: family(v6),
                ..Default::default()
            };
            let mut routes = self.handle.route().get(request).execute();
            while let Some(route) = routes.try_next().await? {
                if let Some((key, target)) = parse_route(&route, &names) {
                    plan.routes.insert(key, target);
                }
            }
        }
        let mut neighbours = self.handle.neighbours().get().execute();
        while let Some(n) = neighbours.try_next().await? {
            if let Some((key, mac)) = parse_neighbour(&n, &names) {
                plan.neighbours.insert(key, mac);
            }
        }
        Ok(plan)
    }

    /// Applies a diff: removals first, then neighbours before the routes that need them, rules
    /// last so that traffic only enters a table once it is complete. Each failure is collected
    /// and the rest goes on (one vanished pod must not block the others); the failures are
    /// returned.
    pub async fn apply(&self, diff: &Diff) -> Result<Vec<KernelError>, KernelError> {
        let names = self.link_names().await?;
        let index: BTreeMap<&str, u32> = names.iter().map(|(i, n)| (n.as_str(), *i)).collect();
        let mut failures = Vec::new();
        fn note(failures: &mut Vec<KernelError>, what: String, r: Result<(), rtnetlink::Error>) {
            if let Err(e) = r {
                failures.push(KernelError::Object {
                    what,
                    reason: e.to_string(),
                });
            }
        }
        for rule in &diff.delete_rules {
            note(
                &mut failures,
                format!("deleting rule {rule:?}"),
                self.handle.rule().del(rule_message(rule)).execute().await,
            );
        }
        for key in &diff.delete_routes {
            note(
                &mut failures,
                format!("deleting route {key:?}"),
                self.handle
                    .route()
                    .del(route_header(*key, RouteType::Unspec, RouteScope::NoWhere))
                    .execute()
                    .await,
            );
        }
        for (dev, ip) in &diff.delete_neighbours {
            if let Some(&i) = index.get(dev.as_str()) {
                let mut m = NeighbourMessage::default();
                m.header.family = family(ip.is_ipv6());
                m.header.ifindex = i;
                m.attributes
                    .push(NeighbourAttribute::Destination(neighbour_address(*ip)));
                note(
                    &mut failures,
                    format!("deleting neighbour {ip} on {dev}"),
                    self.handle.neighbours().del(m).execute().await,
                );
            }
        }
        for ((dev, ip), mac) in &diff.set_neighbours {
            let Some(&i) = index.get(dev.as_str()) else {
                failures.push(KernelError::NoInterface(dev.clone()));
                continue;
            };
            let mut request = self
                .handle
                .neighbours()
                .add(i, *ip)
                .link_layer_address(mac)
                .state(NeighbourState::Permanent)
                .replace();
            request
                .message_mut()
                .attributes
                .push(NeighbourAttribute::Protocol(RouteProtocol::from(ROUTE_PROTOCOL)));
            note(
                &mut failures,
                format!("setting neighbour {ip} on {dev}"),
                request.execute().await,
            );
        }
        for (key, target) in &diff.set_routes {
            match route_message(*key, target, &index) {
                Ok(m) => note(
                    &mut failures,
                    format!("setting route {key:?}"),
                    self.handle.route().add(m).replace().execute().await,
                ),
                Err(e) => failures.push(e),
            }
        }
        for rule in &diff.add_rules {
            let mut request = self.handle.rule().add();
            *request.message_mut() = rule_message(rule);
            note(&mut failures, format!("adding rule {rule:?}"), request.execute().await);
        }
        Ok(failures)
    }
}

fn neighbour_address(ip: IpAddr) -> NeighbourAddress {
    match ip {
        IpAddr::V4(a) => NeighbourAddress::Inet(a),
        IpAddr::V6(a) => NeighbourAddress::Inet6(a),
    }
}

fn rule_message(rule: &Rule) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = family(rule.v6);
    m.header.action = RuleAction::ToTable;
    m.attributes.push(RuleAttribute::Priority(rule.priority));
    if !rule.iif.is_empty() {
        m.attributes.push(RuleAttribute::Iifname(rule.iif.clone()));
    }
    if let Some(mark) = rule.fwmark {
        m.attributes.push(RuleAttribute::FwMark(mark));
        m.attributes.push(RuleAttribute::FwMask(u32::MAX));
    }
    m.attributes.push(RuleAttribute::Table(rule.table));
    m.attributes
        .push(RuleAttribute::Protocol(RouteProtocol::from(ROUTE_PROTOCOL)));
    if let Some(id) = rule.tun_id {
        m.attributes.push(RuleAttribute::TunId(u64::from(id)));
    }
    m
}

fn parse_rule(m: &RuleMessage, v6: bool) -> Option<Rule> {
    let (mut priority, mut iif, mut table, mut tun_id, mut fwmark) = (None, None, None, None, None);
    for a in &m.attributes {
        match a {
            RuleAttribute::Priority(p) => priority = Some(*p),
            RuleAttribute::Iifname(n) => iif = Some(n.clone()),
            RuleAttribute::Table(t) => table = Some(*t),
            RuleAttribute::TunId(id) => tun_id = u32::try_from(*id).ok(),
            RuleAttribute::FwMark(mark) => fwmark = Some(*mark),
            _ => {}
        }
    }
    let priority = priority?;
    let table = table?;
    if !matches!(
        priority,
        marks::RULE_PRIORITY_POD | marks::RULE_PRIORITY_DECAP | marks::RULE_PRIORITY_REFLECT
    ) || !marks::is_weft_table(table)
    {
        return None;
    }
    Some(Rule {
        v6,
        priority,
        iif: iif.unwrap_or_default(),
        tun_id,
        fwmark,
        table,
    })
}

/// The header and identity attributes of a route. A delete leaves the type unspecified and the
/// scope "nowhere", which match any (IPv4 deletes compare both, as `ip route del` knows).
fn route_header((table, dst): RouteKey, kind: RouteType, scope: RouteScope) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family(dst.addr().is_ipv6());
    m.header.destination_prefix_length = dst.prefix_len();
    m.header.table = 252; // RT_TABLE_COMPAT: the real id is in the attribute
    m.header.protocol = RouteProtocol::from(ROUTE_PROTOCOL);
    m.header.kind = kind;
    m.header.scope = scope;
    m.attributes.push(RouteAttribute::Table(table));
    if dst.prefix_len() > 0 {
        m.attributes
            .push(RouteAttribute::Destination(route_address(dst.addr())));
    }
    m
}

fn route_message(key: RouteKey, target: &Target, index: &BTreeMap<&str, u32>) -> Result<RouteMessage, KernelError> {
    let device = |name: &str| {
        index
            .get(name)
            .copied()
            .ok_or_else(|| KernelError::NoInterface(name.to_string()))
    };
    let m = match target {
        Target::Unreachable => route_header(key, RouteType::Unreachable, RouteScope::Universe),
        Target::Device { dev } => {
            let mut m = route_header(key, RouteType::Unicast, RouteScope::Link);
            m.attributes.push(RouteAttribute::Oif(device(dev)?));
            m
        }
        Target::Tunnel { gateway, vni, vtep } => {
            let mut m = route_header(key, RouteType::Unicast, RouteScope::Universe);
            m.attributes.push(RouteAttribute::Oif(device(VXLAN_DEVICE)?));
            m.attributes.push(RouteAttribute::Gateway(route_address(*gateway)));
            if gateway.is_ipv4() {
                // The VTEP is not on a subnet of the VXLAN device: on-link by fiat.
                m.header.flags = RouteFlags::Onlink;
            }
            m.attributes.push(RouteAttribute::EncapType(RouteLwEnCapType::Ip));
            m.attributes.push(RouteAttribute::Encap(tunnel_encap(*vni, *vtep)));
            m
        }
        Target::Multipath(hops) => {
            let mut m = route_header(key, RouteType::Unicast, RouteScope::Universe);
            let oif = device(VXLAN_DEVICE)?;
            let next_hops = hops
                .iter()
                .map(|hop| {
                    let mut next = RouteNextHop::default();
                    if hop.gateway.is_ipv4() {
                        next.flags = RouteNextHopFlags::Onlink;
                    }
                    next.interface_index = oif;
                    next.attributes = vec![
                        RouteAttribute::Gateway(route_address(hop.gateway)),
                        RouteAttribute::EncapType(RouteLwEnCapType::Ip),
                        RouteAttribute::Encap(tunnel_encap(hop.vni, hop.vtep)),
                    ];
                    next
                })
                .collect();
            m.attributes.push(RouteAttribute::MultiPath(next_hops));
            m
        }
    };
    Ok(m)
}

fn tunnel_encap(vni: u32, vtep: Ipv4Addr) -> Vec<RouteLwTunnelEncap> {
    vec![
        RouteLwTunnelEncap::Ip(RouteIpTunnel::Id(u64::from(vni))),
        RouteLwTunnelEncap::Ip(RouteIpTunnel::Destination(vtep)),
    ]
}

/// A next hop's gateway, VNI and VTEP; `None` if it is not a tunnel.
fn parse_hop(attributes: &[RouteAttribute]) -> Option<Hop> {
    let (mut gateway, mut vni, mut vtep) = (None, None, None);
    for a in attributes {
        match a {
            RouteAttribute::Gateway(RouteAddress::Inet(a)) => gateway = Some(IpAddr::V4(*a)),
            RouteAttribute::Gateway(RouteAddress::Inet6(a)) => gateway = Some(IpAddr::V6(*a)),
            RouteAttribute::Encap(encaps) => {
                for e in encaps {
                    match e {
                        RouteLwTunnelEncap::Ip(RouteIpTunnel::Id(id)) => vni = u32::try_from(*id).ok(),
                        RouteLwTunnelEncap::Ip(RouteIpTunnel::Destination(d)) => vtep = Some(*d),
                        // netlink-packet-route 0.34 parses a next hop's encap with the route's
                        // encap type (none), leaving the attributes raw: LWTUNNEL_IP_ID is a
                        // big-endian u64, LWTUNNEL_IP_DST an IPv4 address.
                        RouteLwTunnelEncap::Other(nla) => {
                            use rtnetlink::packet_core::Nla;
                            let mut value = vec![0u8; nla.value_len()];
                            nla.emit_value(&mut value);
                            match (nla.kind(), value.as_slice()) {
                                (1, v) => {
                                    vni = <[u8; 8]>::try_from(v)
                                        .ok()
                                        .and_then(|b| u32::try_from(u64::from_be_bytes(b)).ok())
                                }
                                (2, v) => vtep = <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from),
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(Hop {
        gateway: gateway?,
        vni: vni?,
        vtep: vtep?,
    })
}

fn parse_route(m: &RouteMessage, names: &BTreeMap<u32, String>) -> Option<(RouteKey, Target)> {
    if m.header.protocol != RouteProtocol::from(ROUTE_PROTOCOL) {
        return None;
    }
    let mut table = u32::from(m.header.table);
    let (mut dst, mut oif, mut gateway, mut vni, mut vtep, mut multipath) = (None, None, None, None, None, None);
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = Some(IpAddr::V4(*a)),
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => dst = Some(IpAddr::V6(*a)),
            RouteAttribute::Oif(i) => oif = names.get(i).cloned(),
            RouteAttribute::MultiPath(hops) => {
                // A hop of no shape we make reads as none, so that the diff replaces the route.
                multipath = Some(
                    hops.iter()
                        .map(|h| parse_hop(&h.attributes))
                        .collect::<Option<Vec<Hop>>>()
                        .unwrap_or_default(),
                );
            }
            RouteAttribute::Gateway(RouteAddress::Inet(a)) => gateway = Some(IpAddr::V4(*a)),
            RouteAttribute::Gateway(RouteAddress::Inet6(a)) => gateway = Some(IpAddr::V6(*a)),
            RouteAttribute::Encap(encaps) => {
                for e in encaps {
                    match e {
                        RouteLwTunnelEncap::Ip(RouteIpTunnel::Id(id)) => vni = u32::try_from(*id).ok(),
                        RouteLwTunnelEncap::Ip(RouteIpTunnel::Destination(d)) => vtep = Some(*d),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if !marks::is_weft_table(table) {
        return None;
    }
    let v6 = m.header.address_family == AddressFamily::Inet6;
    let unspecified = if v6 {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let dst = IpNet::new(dst.unwrap_or(unspecified), m.header.destination_prefix_length).ok()?;
    let target = match (m.header.kind, gateway, vni, vtep, oif) {
        (RouteType::Unreachable, ..) => Target::Unreachable,
        _ if multipath.is_some() => Target::Multipath(multipath.unwrap_or_default()),
        (_, Some(gateway), Some(vni), Some(vtep), _) => Target::Tunnel { gateway, vni, vtep },
        (_, None, None, None, Some(dev)) => Target::Device { dev },
        // Marked as ours but of no shape we make: report it as an unknown target so that the
        // diff replaces it.
        _ => Target::Device { dev: String::new() },
    };
    Some(((table, dst), target))
}

fn parse_neighbour(m: &NeighbourMessage, names: &BTreeMap<u32, String>) -> Option<(NeighbourKey, [u8; 6])> {
    if m.header.state != NeighbourState::Permanent {
        return None;
    }
    let dev = names.get(&m.header.ifindex)?;
    let ours_by_device = dev == VXLAN_DEVICE || dev.starts_with(marks::POD_INTERFACE_PREFIX);
    let marked = m
        .attributes
        .iter()
        .any(|a| matches!(a, NeighbourAttribute::Protocol(p) if *p == RouteProtocol::from(ROUTE_PROTOCOL)));
    if !ours_by_device || !marked {
        return None;
    }
    let mut ip = None;
    let mut mac = None;
    for a in &m.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => ip = Some(IpAddr::V4(*a)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => ip = Some(IpAddr::V6(*a)),
            NeighbourAttribute::LinkLayerAddress(l) => mac = mac_of(l),
            _ => {}
        }
    }
    Some(((dev.clone(), ip?), mac?))
}
