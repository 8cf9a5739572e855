//! Finding the underlay: the interface and address a node reaches the others by, read from the
//! node's own route towards them. Never configured by hand (a wrong hand-set gateway is how
//! Tungsten Fabric cut nodes off), never changed.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::RouteMessageBuilder;

use crate::KernelError;

/// The node's side of the underlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Underlay {
    pub interface: String,
    pub index: u32,
    /// The source address the kernel picks towards the other nodes: the VTEP.
    pub address: Ipv4Addr,
    pub mtu: u32,
}

/// Asks the kernel how it would reach `toward` (another node, the controller).
pub async fn detect(handle: &rtnetlink::Handle, toward: Ipv4Addr) -> Result<Underlay, KernelError> {
    let no_route = |reason: String| KernelError::Underlay { toward, reason };
    let message = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(toward, 32)
        .build();
    let mut routes = handle.route().get(message).execute();
    let route = routes
        .try_next()
        .await
        .map_err(|e| no_route(e.to_string()))?
        .ok_or_else(|| no_route("no route".into()))?;
    let mut index = None;
    let mut address = None;
    for attr in &route.attributes {
        match attr {
            RouteAttribute::Oif(i) => index = Some(*i),
            RouteAttribute::PrefSource(RouteAddress::Inet(a)) => address = Some(*a),
            _ => {}
        }
    }
    let index = index.ok_or_else(|| no_route("the route has no output interface".into()))?;
    let address = address.ok_or_else(|| {
        no_route("the route has no source address; give the underlay interface an IPv4 address".into())
    })?;
    let mut links = handle.link().get().match_index(index).execute();
    let link = links
        .try_next()
        .await?
        .ok_or_else(|| no_route(format!("interface {index} vanished")))?;
    let mut interface = String::new();
    let mut mtu = 1500;
    for attr in link.attributes {
        match attr {
            LinkAttribute::IfName(n) => interface = n,
            LinkAttribute::Mtu(m) => mtu = m,
            _ => {}
        }
    }
    Ok(Underlay {
        interface,
        index,
        address,
        mtu,
    })
}

/// The first IPv4 address in a text such as a URL's host, for `detect`.
pub fn host_address(host: &str) -> Option<Ipv4Addr> {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Some(a),
        _ => None,
    }
}
