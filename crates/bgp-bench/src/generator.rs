//! The generator: N eBGP peers, each announcing its own P prefixes. Every UPDATE is encoded
//! before the clock starts (as many prefixes per UPDATE as 4096 octets hold), so a peer only
//! writes one buffer when told to go.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};

use ipnet::{IpNet, Ipv4Net};
use weft_bgp::EncodeError;
use weft_bgp::attribute::{
    AsPath, AsSegment, ExtendedCommunity, MpReach, MpUnreach, NextHop, Origin, PathAttributes, SegmentType,
};
use weft_bgp::family::Family;
use weft_bgp::message::{Message, Update};
use weft_bgp::nlri::{Label, Nlri, Prefix, VpnPrefix};
use weft_net::{RouteDistinguisher, RouteTarget};

use crate::session::{self, Framer};
use crate::{Error, Result, net};

/// Generator peer `i`'s AS.
pub fn peer_as(i: usize) -> u32 {
    65001 + i as u32
}

/// The `k`-th prefix of the whole run: /24s counting up from 1.0.0.0, unique across peers.
pub fn prefix(k: usize) -> Ipv4Net {
    let addr = 0x0100_0000u32.wrapping_add((k as u32) << 8);
    Ipv4Net::new(Ipv4Addr::from(addr), 24).unwrap_or_default()
}

/// VPNv4: the route distinguisher and route target of the `u`-th UPDATE of peer `i` (a new pair
/// for every UPDATE), and the label of prefix `k`.
fn rd_rt(i: usize, u: usize) -> Result<(RouteDistinguisher, RouteTarget)> {
    let text = format!("{}:{}", 65000 + i, u + 1);
    let rd = text.parse().map_err(|e| Error::Setup(format!("RD {text}: {e}")))?;
    let rt = text.parse().map_err(|e| Error::Setup(format!("RT {text}: {e}")))?;
    Ok((rd, rt))
}

fn label(k: usize) -> Label {
    Label::mpls(16 + (k as u32 % 0xf_0000), true).unwrap_or(Label::WITHDRAW)
}

fn attributes(i: usize, family: Family) -> PathAttributes {
    let hop = net::generator(i);
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath {
            segments: vec![AsSegment {
                kind: SegmentType::Sequence,
                asns: vec![peer_as(i)],
            }],
        }),
        next_hop: (family == Family::Ipv4Unicast).then_some(hop),
        ..PathAttributes::default()
    }
}

/// Encodes UPDATEs of `make(first, count)`, as many prefixes in each as fit, into one buffer.
/// Returns the octets and how many prefixes each UPDATE carries.
fn pack(total: usize, mut make: impl FnMut(usize, usize, usize) -> Result<Update>) -> Result<(Vec<u8>, Vec<usize>)> {
    let caps = session::caps();
    let mut out = Vec::new();
    let mut done = 0;
    let mut counts = Vec::new();
    // Start from the size of a one-prefix UPDATE, then shrink until it fits.
    let one = Message::Update(make(0, 1, 0)?)
        .encode(&caps)
        .map_err(|e| Error::Bgp(e.to_string()))?
        .len();
    while done < total {
        let mut count = ((caps.max_message_len() - one) / 4 + 1).min(total - done);
        loop {
            match Message::Update(make(done, count, counts.len())?).encode(&caps) {
                Ok(bytes) => {
                    out.extend_from_slice(&bytes);
                    break;
                }
                Err(EncodeError::TooLong { len, max, .. }) if count > 1 => {
                    // Shrink by the overshoot's share, at least one prefix.
                    let over = (len - max).div_ceil(len / count).max(1);
                    count = count.saturating_sub(over).max(1);
                }
                Err(e) => return Err(Error::Bgp(e.to_string())),
            }
        }
        done += count;
        counts.push(count);
    }
    Ok((out, counts))
}

/// Peer `i`'s announcements of its `prefixes` prefixes: the octets, and the prefixes per UPDATE.
pub fn announcements(i: usize, prefixes: usize, family: Family) -> Result<(Vec<u8>, Vec<usize>)> {
    let base = i * prefixes;
    let attrs = attributes(i, family);
    pack(prefixes, |first, count, u| {
        let ks = base + first..base + first + count;
        let mut a = attrs.clone();
        Ok(match family {
            Family::Vpnv4 => {
                let (rd, rt) = rd_rt(i, u)?;
                a.extended_communities = vec![ExtendedCommunity::RouteTarget(rt)];
                let nlri = ks
                    .map(|k| Nlri::Vpn(VpnPrefix::new(label(k), rd, IpNet::V4(prefix(k)))))
                    .collect();
                a.mp_reach = Some(MpReach {
                    family,
                    next_hop: NextHop::new(IpAddr::V4(net::generator(i))),
                    nlri,
                });
                Update {
                    attributes: a,
                    ..Update::default()
                }
            }
            _ => Update {
                withdrawn: Vec::new(),
                attributes: a,
                nlri: ks.map(|k| Prefix::new(IpNet::V4(prefix(k)))).collect(),
            },
        })
    })
}

/// Peer `i`'s withdrawals of everything it announced (VPNv4: with the same RDs).
pub fn withdrawals(i: usize, prefixes: usize, family: Family) -> Result<Vec<u8>> {
    let base = i * prefixes;
    match family {
        Family::Vpnv4 => {
            // The RD of prefix j is that of the UPDATE that announced it.
            let (_, counts) = announcements(i, prefixes, family)?;
            let mut rds = Vec::with_capacity(prefixes);
            for (u, count) in counts.iter().enumerate() {
                let (rd, _) = rd_rt(i, u)?;
                rds.extend(std::iter::repeat_n(rd, *count));
            }
            pack(prefixes, |first, count, _| {
                let nlri = (first..first + count)
                    .map(|j| {
                        let rd = rds.get(j).copied().ok_or_else(|| Error::Setup("RD replay".into()))?;
                        let mut v = VpnPrefix::new(Label::WITHDRAW, rd, IpNet::V4(prefix(base + j)));
                        v.labels = vec![Label::WITHDRAW];
                        Ok(Nlri::Vpn(v))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let mut u = Update::default();
                u.attributes.mp_unreach = Some(MpUnreach {
                    family,
                    withdrawn: nlri,
                });
                Ok(u)
            })
            .map(|(b, _)| b)
        }
        _ => pack(prefixes, |first, count, _| {
            Ok(Update {
                withdrawn: (base + first..base + first + count)
                    .map(|k| Prefix::new(IpNet::V4(prefix(k))))
                    .collect(),
                ..Update::default()
            })
        })
        .map(|(b, _)| b),
    }
}

enum Cmd {
    Send(Arc<Vec<u8>>),
}

/// The generator's sessions, one per peer, as the target connects to them.
pub struct Generators {
    family: Family,
    peers: usize,
    senders: Arc<Mutex<BTreeMap<usize, Sender<Cmd>>>>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    errors: Arc<Mutex<Vec<String>>>,
    /// Octets received from the target (routes it sent the generators).
    pub received: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Generators {
    /// Listens in `netns`; each connection to generator address i becomes peer i's session.
    pub fn start(netns: &str, peers: usize, family: Family) -> Result<Generators> {
        let listener = session::listen(netns)?;
        let g = Generators {
            family,
            peers,
            senders: Arc::default(),
            streams: Arc::default(),
            errors: Arc::default(),
            received: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (senders, streams, errors, received) = (
            g.senders.clone(),
            g.streams.clone(),
            g.errors.clone(),
            g.received.clone(),
        );
        session::accept_loop(listener, g.stop.clone(), move |stream| {
            let i = match stream.local_addr().map(|a| a.ip()) {
                Ok(IpAddr::V4(a)) if a.octets()[3] >= 11 => usize::from(a.octets()[3] - 11),
                _ => return,
            };
            if i >= peers || senders.lock().map(|s| s.contains_key(&i)).unwrap_or(true) {
                return; // not ours, or a second connection of a live session: closed
            }
            if let Ok(c) = stream.try_clone()
                && let Ok(mut s) = streams.lock()
            {
                s.push(c);
            }
            let (senders, errors, received) = (senders.clone(), errors.clone(), received.clone());
            std::thread::spawn(move || {
                if let Err(e) = peer_session(stream, i, family, &senders, &received)
                    && let Ok(mut errs) = errors.lock()
                {
                    errs.push(format!("generator peer {}: {e}", net::generator(i)));
                }
                if let Ok(mut s) = senders.lock() {
                    s.remove(&i);
                }
            });
        });
        Ok(g)
    }

    pub fn established(&self) -> usize {
        self.senders.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Hands every peer its buffer (`blobs[i]` to peer i) at once.
    pub fn send(&self, blobs: &[Arc<Vec<u8>>]) -> Result<()> {
        let senders = self.senders.lock().map_err(|_| Error::Setup("poisoned".into()))?;
        if senders.len() != self.peers {
            return Err(Error::Bgp(format!(
                "{} of {} generator sessions up",
                senders.len(),
                self.peers
            )));
        }
        for (i, tx) in senders.iter() {
            let blob = blobs.get(*i).cloned().unwrap_or_default();
            tx.send(Cmd::Send(blob))
                .map_err(|_| Error::Bgp(format!("generator peer {i} is gone")))?;
        }
        Ok(())
    }

    pub fn family(&self) -> Family {
        self.family
    }
}

impl Drop for Generators {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(s) = self.streams.lock() {
            for stream in s.iter() {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// One peer: handshake, then a reader that discards what the target sends (noting a
/// NOTIFICATION), and this thread writing buffers on command and keepalives when idle.
fn peer_session(
    mut stream: TcpStream,
    i: usize,
    family: Family,
    senders: &Mutex<BTreeMap<usize, Sender<Cmd>>>,
    received: &std::sync::atomic::AtomicU64,
) -> Result<()> {
    let mut framer = Framer::default();
    session::handshake(&mut stream, &mut framer, peer_as(i), net::generator(i), family)?;
    let mut reader = stream.try_clone().map_err(|e| Error::io("clone", e))?;
    let (err_tx, err_rx) = mpsc::channel::<String>();
    let received_bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let rb = received_bytes.clone();
    std::thread::spawn(move || {
        let caps = session::caps();
        loop {
            match framer.next(&mut reader, &caps) {
                Ok(Some(frame)) => {
                    rb.fetch_add(frame.len() as u64, Ordering::Relaxed);
                    if frame.get(18) == Some(&3) {
                        let _ = err_tx.send(format!("NOTIFICATION from the target: {:?}", session::decode(frame)));
                        return;
                    }
                }
                Ok(None) => {
                    let _ = err_tx.send("the target closed the session".into());
                    return;
                }
                Err(e) => {
                    let _ = err_tx.send(e.to_string());
                    return;
                }
            }
        }
    });
    let (tx, rx) = mpsc::channel();
    senders
        .lock()
        .map_err(|_| Error::Setup("poisoned".into()))?
        .insert(i, tx);
    let ka = session::keepalive();
    let mut last_bytes = 0;
    let mut last_ka = std::time::Instant::now();
    loop {
        if let Ok(e) = err_rx.try_recv() {
            return Err(Error::Bgp(e));
        }
        let now = received_bytes.load(Ordering::Relaxed);
        received.fetch_add(now - last_bytes, Ordering::Relaxed);
        last_bytes = now;
        match rx.recv_timeout(std::time::Duration::from_millis(500)) {
            Ok(Cmd::Send(blob)) => stream.write_all(&blob).map_err(|e| Error::io("sending UPDATEs", e))?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if last_ka.elapsed() >= session::KEEPALIVE_EVERY {
            stream.write_all(&ka).map_err(|e| Error::io("sending KEEPALIVE", e))?;
            last_ka = std::time::Instant::now();
        }
    }
}
