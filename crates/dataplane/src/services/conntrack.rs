//! Forgets the conntrack entries of UDP and SCTP flows to endpoints that left a Service, over
//! ctnetlink. A TCP connection to a gone endpoint fails on its own; a UDP flow (DNS, say) that
//! keeps sending keeps its entry, and with it its DNAT to the gone endpoint, forever. With the
//! entry gone, the flow's next packet is a new connection and goes to a live endpoint.
//!
//! [`departed`] is Sans-IO (which flows, from two states); [`forget`] dumps the table and deletes
//! the matching entries by their original tuple, as the kernel reported it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtnetlink::sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use weft_api::sync::NodeState;

use crate::Kernel;

/// Flows to forget: to any of `vips`, answered by any of `gone`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departed {
    pub vips: BTreeSet<IpAddr>,
    pub gone: BTreeSet<IpAddr>,
}

impl Departed {
    pub fn is_empty(&self) -> bool {
        self.vips.is_empty() || self.gone.is_empty()
    }
}

/// The endpoints' addresses that left their Service between `before` and `after` (removed
/// endpoints, removed Services), with the Services' virtual IPs.
pub fn departed(before: &NodeState, after: &NodeState) -> Departed {
    let mut out = Departed::default();
    for (key, old) in &before.services {
        let still: BTreeSet<IpAddr> = after
            .services
            .get(key)
            .map(|s| s.endpoints.iter().flat_map(|e| e.addresses.iter().copied()).collect())
            .unwrap_or_default();
        let gone: Vec<IpAddr> = old
            .endpoints
            .iter()
            .flat_map(|e| e.addresses.iter().copied())
            .filter(|a| !still.contains(a))
            .collect();
        if !gone.is_empty() {
            out.gone.extend(gone);
            out.vips.extend(old.cluster_ips.iter().copied());
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum ConntrackError {
    #[error("ctnetlink: {0} (is nf_conntrack_netlink available?)")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Netns(String),
}

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
/// NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_*.
const CT_NEW: u16 = 0x100;
const CT_GET: u16 = 0x101;
const CT_DELETE: u16 = 0x102;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const UDP: u8 = 17;
const SCTP: u8 = 132;

fn message(kind: u16, flags: u16, seq: u32, family: u8, payload: &[u8]) -> Vec<u8> {
    let len = 16 + 4 + payload.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version 0, resource id 0.
    m.extend_from_slice(&[family, 0, 0, 0]);
    m.extend_from_slice(payload);
    m
}

/// Netlink attributes: (type without flags, value, the whole attribute).
fn attributes(mut buf: &[u8]) -> Vec<(u16, &[u8], &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[4..len], &buf[..len]));
        let aligned = (len + 3) & !3;
        buf = &buf[aligned.min(buf.len())..];
    }
    out
}

fn find(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attributes(buf)
        .into_iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, v, _)| v)
}

/// (source, destination, protocol) of a tuple attribute's value.
fn tuple(value: &[u8]) -> Option<(IpAddr, IpAddr, u8)> {
    let ip = find(value, CTA_TUPLE_IP)?;
    let mut src = None;
    let mut dst = None;
    for (kind, v, _) in attributes(ip) {
        let addr = match v.len() {
            4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?)),
            16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?)),
            _ => continue,
        };
        match kind {
            1 | 3 => src = Some(addr),
            2 | 4 => dst = Some(addr),
            _ => {}
        }
    }
    let proto = *find(find(value, CTA_TUPLE_PROTO)?, CTA_PROTO_NUM)?.first()?;
    Some((src?, dst?, proto))
}

/// Deletes the UDP and SCTP conntrack entries to `d.vips` answered by `d.gone`, in the
/// namespace of `kernel`; returns how many.
pub fn forget(kernel: &Kernel, d: &Departed) -> Result<usize, ConntrackError> {
    if d.is_empty() {
        return Ok(0);
    }
    let socket = kernel
        .run_inside(|| -> std::io::Result<Socket> {
            let mut s = Socket::new(NETLINK_NETFILTER)?;
            s.bind_auto()?;
            s.connect(&SocketAddr::new(0, 0))?;
            Ok(s)
        })
        .map_err(|e| ConntrackError::Netns(e.to_string()))??;
    // The dump first, whole; deleting while dumping would disturb it.
    socket.send(&message(CT_GET, NLM_F_REQUEST | NLM_F_DUMP, 1, 0, &[]), 0)?;
    let mut doomed: Vec<(u8, Vec<u8>)> = Vec::new();
    'dump: loop {
        let (buf, _) = socket.recv_from_full()?;
        let mut rest = buf.as_slice();
        while rest.len() >= 20 {
            let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let kind = u16::from_ne_bytes([rest[4], rest[5]]);
            if len < 16 || len > rest.len() {
                break 'dump;
            }
            match kind {
                NLMSG_DONE | NLMSG_ERROR => break 'dump,
                CT_NEW => {
                    let family = rest[16];
                    let attrs = &rest[20..len];
                    let orig = attributes(attrs).into_iter().find(|(k, _, _)| *k == CTA_TUPLE_ORIG);
                    let reply = find(attrs, CTA_TUPLE_REPLY).and_then(tuple);
                    if let (Some((_, orig_value, orig_whole)), Some((reply_src, _, _))) = (orig, reply)
                        && let Some((_, orig_dst, proto)) = tuple(orig_value)
                        && matches!(proto, UDP | SCTP)
                        && d.vips.contains(&orig_dst)
                        && d.gone.contains(&reply_src)
                    {
                        doomed.push((family, orig_whole.to_vec()));
                    }
                }
                _ => {}
            }
            rest = &rest[((len + 3) & !3).min(rest.len())..];
        }
    }
    let mut deleted = 0;
    for (i, (family, orig)) in doomed.iter().enumerate() {
        socket.send(
            &message(CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, i as u32 + 2, *family, orig),
            0,
        )?;
        let (ack, _) = socket.recv_from_full()?;
        // An error message with code 0 is the acknowledgement; ENOENT: it went meanwhile.
        if ack.len() >= 20 && i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]) == 0 {
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::sync::{ServiceEndpoint, ServiceState};

    #[test]
    fn departed_endpoints_and_services() {
        let ep = |a: &str| ServiceEndpoint {
            pod: a.into(),
            node: "n1".into(),
            addresses: vec![a.parse().unwrap()],
            target_ports: Default::default(),
        };
        let mut before = NodeState::default();
        let s = ServiceState {
            namespace: "d".into(),
            name: "dns".into(),
            cluster_ips: vec!["10.96.0.10".parse().unwrap()],
            endpoints: vec![ep("10.244.0.1"), ep("10.244.0.2")],
            ..Default::default()
        };
        before.services.insert(s.key(), s.clone());
        let mut after = before.clone();
        assert!(departed(&before, &after).is_empty());
        after.services.get_mut("d/dns").unwrap().endpoints.pop();
        let d = departed(&before, &after);
        assert_eq!(d.gone, ["10.244.0.2".parse().unwrap()].into());
        assert_eq!(d.vips, ["10.96.0.10".parse().unwrap()].into());
        after.services.clear();
        assert_eq!(departed(&before, &after).gone.len(), 2);
    }

    #[test]
    fn parses_tuples() {
        // CTA_TUPLE_IP { V4_SRC, V4_DST }, CTA_TUPLE_PROTO { PROTO_NUM udp }.
        let mut ip = Vec::new();
        for (kind, addr) in [(1u16, [10, 0, 0, 1]), (2, [10, 96, 0, 10])] {
            ip.extend_from_slice(&8u16.to_ne_bytes());
            ip.extend_from_slice(&kind.to_ne_bytes());
            ip.extend_from_slice(&addr);
        }
        let mut value = Vec::new();
        value.extend_from_slice(&((ip.len() + 4) as u16).to_ne_bytes());
        value.extend_from_slice(&(CTA_TUPLE_IP | 0x8000).to_ne_bytes());
        value.extend_from_slice(&ip);
        value.extend_from_slice(&12u16.to_ne_bytes());
        value.extend_from_slice(&(CTA_TUPLE_PROTO | 0x8000).to_ne_bytes());
        value.extend_from_slice(&5u16.to_ne_bytes());
        value.extend_from_slice(&CTA_PROTO_NUM.to_ne_bytes());
        value.extend_from_slice(&[17, 0, 0, 0]);
        assert_eq!(
            tuple(&value),
            Some(("10.0.0.1".parse().unwrap(), "10.96.0.10".parse().unwrap(), 17))
        );
    }
}
