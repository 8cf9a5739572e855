//! A pod's interface, made when the CNI plugin asks: a veth pair whose host end stays in the
//! node's namespace and whose other end becomes the pod's interface, with the pod's addresses,
//! a link-local gateway answered by a permanent neighbour entry, and default routes through it.
//! No bridge, no ARP or neighbour discovery towards the node.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute};
use netlink_packet_route::neighbour::NeighbourState;
use netlink_packet_route::route::{RouteAttribute, RouteScope};
use rtnetlink::{LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::kernel::{Kernel, KernelError};
use crate::marks::{self, POD_GATEWAY_V4, POD_GATEWAY_V6};

/// What to attach.
#[derive(Debug, Clone)]
pub struct PodSpec {
    pub container_id: String,
    /// The interface inside the pod, e.g. eth0.
    pub ifname: String,
    /// The pod's network namespace path.
    pub netns: String,
    pub addresses: Vec<IpAddr>,
    pub mtu: u32,
    /// The pod interface's MAC (see [`marks::pod_mac`]); the kernel picks one when absent.
    pub mac: Option<[u8; 6]>,
}

/// What was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInterfaces {
    pub host_interface: String,
    pub host_mac: [u8; 6],
    pub container_mac: [u8; 6],
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

async fn mac_of(kernel: &Kernel, name: &str) -> Result<(u32, [u8; 6]), KernelError> {
    let link = kernel
        .link(name)
        .await?
        .ok_or_else(|| KernelError::NoInterface(name.to_string()))?;
    let mac = link
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(m) => <[u8; 6]>::try_from(m.as_slice()).ok(),
            _ => None,
        })
        .unwrap_or_default();
    Ok((link.header.index, mac))
}

fn fail(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> KernelError {
    let what = what.into();
    move |e| KernelError::Object {
        what,
        reason: e.to_string(),
    }
}

/// Creates the pod's interface. Idempotent: an interface left by an earlier attempt for the same
/// container and interface name is replaced.
pub async fn attach(node: &Kernel, spec: &PodSpec) -> Result<PodInterfaces, KernelError> {
    let host = marks::pod_interface(&spec.container_id, &spec.ifname);
    detach(node, &spec.container_id, &spec.ifname).await?;
    let netns = crate::netns::open(&spec.netns)?;
    let mut peer = LinkUnspec::new_with_name(&spec.ifname)
        .mtu(spec.mtu)
        .setns_by_fd(netns.raw_fd());
    if let Some(mac) = spec.mac {
        peer = peer.address(mac.to_vec());
    }
    let peer = peer.build();
    let veth = LinkVeth::new(&host, &spec.ifname)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .mtu(spec.mtu)
        .build();
    node.handle
        .link()
        .add(veth)
        .execute()
        .await
        .map_err(fail(format!("creating veth {host} <-> {}:{}", spec.netns, spec.ifname)))?;
    let result = wire(node, netns, &host, spec).await;
    if result.is_err() {
        // Leave nothing half-made: the host end takes the pod end with it.
        let _ = detach(node, &spec.container_id, &spec.ifname).await;
    }
    result
}

async fn wire(
    node: &Kernel,
    netns: crate::netns::NetNs,
    host: &str,
    spec: &PodSpec,
) -> Result<PodInterfaces, KernelError> {
    node.prepare_interface(host)?;
    let (host_index, host_mac) = mac_of(node, host).await?;
    let pod = Kernel::in_netns(netns)?;
    let (index, container_mac) = mac_of(&pod, &spec.ifname).await?;
    pod.prepare_interface(&spec.ifname)?;
    for address in &spec.addresses {
        let len = if address.is_ipv4() { 32 } else { 128 };
        let mut request = pod.handle.address().add(index, *address, len);
        request
            .message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        request
            .execute()
            .await
            .map_err(fail(format!("adding {address}/{len} to the pod")))?;
    }
    pod.handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await?;
    if let Some(lo) = pod.index("lo").await? {
        pod.handle
            .link()
            .set(LinkUnspec::new_with_index(lo).up().build())
            .execute()
            .await?;
    }
    if spec.addresses.iter().any(IpAddr::is_ipv4) {
        gateway(&pod, index, IpAddr::V4(POD_GATEWAY_V4), &host_mac).await?;
    }
    if spec.addresses.iter().any(IpAddr::is_ipv6) {
        gateway(&pod, index, IpAddr::V6(POD_GATEWAY_V6), &host_mac).await?;
    }
    node.handle
        .link()
        .set(LinkUnspec::new_with_index(host_index).up().build())
        .execute()
        .await?;
    Ok(PodInterfaces {
        host_interface: host.to_string(),
        host_mac,
        container_mac,
    })
}

/// The pod's way out for one family: the link-local gateway, answered by a permanent neighbour
/// entry with the host end's MAC, and the default route through it.
async fn gateway(pod: &Kernel, index: u32, gateway: IpAddr, host_mac: &[u8; 6]) -> Result<(), KernelError> {
    pod.handle
        .neighbours()
        .add(index, gateway)
        .link_layer_address(host_mac)
        .state(NeighbourState::Permanent)
        .replace()
        .execute()
        .await
        .map_err(fail(format!("adding the gateway neighbour {gateway} in the pod")))?;
    let routes = match gateway {
        IpAddr::V4(gw) => vec![
            // The gateway is on the link: the default route needs a route to it first.
            RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(gw, 32)
                .output_interface(index)
                .scope(RouteScope::Link)
                .build(),
            RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build(),
        ],
        IpAddr::V6(gw) => vec![
            RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build(),
        ],
    };
    for route in routes {
        pod.handle
            .route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(fail(format!("adding a route via {gateway} in the pod")))?;
    }
    Ok(())
}

/// Removes the pod's interface (the pair goes with its host end). Returns whether there was one.
pub async fn detach(node: &Kernel, container_id: &str, ifname: &str) -> Result<bool, KernelError> {
    let host = marks::pod_interface(container_id, ifname);
    match node.index(&host).await? {
        Some(index) => {
            node.handle
                .link()
                .del(index)
                .execute()
                .await
                .map_err(fail(format!("deleting {host}")))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Verifies that what `attach` made is still there: the host end, the pod's interface with its
/// addresses, and its default routes. The error says what is missing.
pub async fn check(node: &Kernel, spec: &PodSpec) -> Result<(), KernelError> {
    let host = marks::pod_interface(&spec.container_id, &spec.ifname);
    node.index(&host)
        .await?
        .ok_or_else(|| KernelError::NoInterface(host.clone()))?;
    let pod = Kernel::in_netns(crate::netns::open(&spec.netns)?)?;
    let index = pod
        .index(&spec.ifname)
        .await?
        .ok_or_else(|| KernelError::NoInterface(spec.ifname.clone()))?;
    let mut have = Vec::new();
    let mut addresses = pod.handle.address().get().set_link_index_filter(index).execute();
    while let Some(a) = addresses.try_next().await? {
        for attr in a.attributes {
            if let AddressAttribute::Address(ip) = attr {
                have.push(ip);
            }
        }
    }
    for address in &spec.addresses {
        if !have.contains(address) {
            return Err(KernelError::Object {
                what: format!("{}:{}", spec.netns, spec.ifname),
                reason: format!("address {address} is missing"),
            });
        }
    }
    for v6 in [false, true] {
        if !spec.addresses.iter().any(|a| a.is_ipv6() == v6) {
            continue;
        }
        let family = if v6 {
            rtnetlink::IpVersion::V6
        } else {
            rtnetlink::IpVersion::V4
        };
        let message = match family {
            rtnetlink::IpVersion::V4 => RouteMessageBuilder::<Ipv4Addr>::new().build(),
            rtnetlink::IpVersion::V6 => RouteMessageBuilder::<Ipv6Addr>::new().build(),
        };
        let mut routes = pod.handle.route().get(message).execute();
        let mut default = false;
        while let Some(r) = routes.try_next().await? {
            let via_gateway = r.attributes.iter().any(|a| matches!(a, RouteAttribute::Gateway(_)));
            if r.header.destination_prefix_length == 0 && via_gateway {
                default = true;
            }
        }
        if !default {
            return Err(KernelError::Object {
                what: format!("{}:{}", spec.netns, spec.ifname),
                reason: format!("the {} default route is missing", if v6 { "IPv6" } else { "IPv4" }),
            });
        }
    }
    Ok(())
}
