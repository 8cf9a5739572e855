//! The monitor: one eBGP peer of the target that only listens, keeping the set of routes the
//! target advertised and when it changed.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use weft_bgp::family::Family;
use weft_bgp::message::{Message, Update};
use weft_bgp::nlri::Nlri;

use crate::session::{self, Framer};
use crate::{Error, Result, net};

pub const MONITOR_AS: u32 = 64999;

/// A multiplicative hash: the keys are already well spread, SipHash would cost more than the
/// rest of the monitor.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u128(&mut self, v: u128) {
        let x = (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
        self.0 = (x ^ (x >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Keys = HashSet<u128, BuildHasherDefault<KeyHasher>>;

fn net_key(net: &IpNet) -> u128 {
    match net {
        IpNet::V4(n) => (u128::from(n.prefix_len()) << 32) | u128::from(u32::from(n.network())),
        IpNet::V6(n) => (u128::from(n.prefix_len()) ^ u128::from(n.network())).rotate_left(7),
    }
}

/// A route's key: the prefix, and for VPN the route distinguisher.
pub fn key(nlri: &Nlri) -> Option<u128> {
    match nlri {
        Nlri::Prefix(p) => Some(net_key(&p.net)),
        Nlri::Vpn(v) => Some(net_key(&v.net) | (u128::from(u64::from_be_bytes(v.rd.to_bytes())) << 40)),
        _ => None,
    }
}

/// What the monitor saw.
#[derive(Debug, Default)]
pub struct Table {
    keys: Keys,
    pub updates: u64,
    pub first_announce: Option<Instant>,
    pub first_withdraw: Option<Instant>,
    pub last_change: Option<Instant>,
}

impl Table {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn apply(&mut self, u: &Update) {
        let now = Instant::now();
        let mut changed = false;
        let withdrawn = u.withdrawn.iter().map(|p| Nlri::Prefix(*p));
        let withdrawn_mp = u.attributes.mp_unreach.iter().flat_map(|m| m.withdrawn.iter().cloned());
        for n in withdrawn.chain(withdrawn_mp) {
            if let Some(k) = key(&n)
                && self.keys.remove(&k)
            {
                changed = true;
                self.first_withdraw.get_or_insert(now);
            }
        }
        let announced = u.nlri.iter().map(|p| Nlri::Prefix(*p));
        let announced_mp = u.attributes.mp_reach.iter().flat_map(|m| m.nlri.iter().cloned());
        for n in announced.chain(announced_mp) {
            if let Some(k) = key(&n) {
                self.first_announce.get_or_insert(now);
                changed |= self.keys.insert(k);
            }
        }
        self.updates += 1;
        if changed {
            self.last_change = Some(now);
        }
    }
}

pub struct Monitor {
    pub table: Arc<Mutex<Table>>,
    /// A session is being served (a second connection is refused meanwhile).
    busy: Arc<AtomicBool>,
    /// The session is established.
    up: Arc<AtomicBool>,
    errors: Arc<Mutex<Vec<String>>>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Monitor {
    pub fn start(netns: &str, family: Family) -> Result<Monitor> {
        let listener = session::listen(netns)?;
        let m = Monitor {
            table: Arc::default(),
            busy: Arc::default(),
            up: Arc::default(),
            errors: Arc::default(),
            streams: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (table, busy, up, errors, streams) = (
            m.table.clone(),
            m.busy.clone(),
            m.up.clone(),
            m.errors.clone(),
            m.streams.clone(),
        );
        session::accept_loop(listener, m.stop.clone(), move |stream| {
            if busy.swap(true, Ordering::SeqCst) {
                return; // one session at a time
            }
            if let Ok(c) = stream.try_clone()
                && let Ok(mut s) = streams.lock()
            {
                s.push(c);
            }
            let (table, busy, up, errors) = (table.clone(), busy.clone(), up.clone(), errors.clone());
            std::thread::spawn(move || {
                if let Err(e) = session_loop(stream, family, &table, &up)
                    && let Ok(mut errs) = errors.lock()
                {
                    errs.push(format!("monitor: {e}"));
                }
                up.store(false, Ordering::SeqCst);
                busy.store(false, Ordering::SeqCst);
            });
        });
        Ok(m)
    }

    /// Established (the handshake is done).
    pub fn established(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(s) = self.streams.lock() {
            for stream in s.iter() {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

fn session_loop(mut stream: TcpStream, family: Family, table: &Mutex<Table>, up: &AtomicBool) -> Result<()> {
    let mut framer = Framer::default();
    session::handshake(&mut stream, &mut framer, MONITOR_AS, net::MONITOR, family)?;
    up.store(true, Ordering::SeqCst);
    // Keepalives from a thread of their own; this one only reads.
    let mut ka_stream = stream.try_clone().map_err(|e| Error::io("clone", e))?;
    std::thread::spawn(move || {
        let ka = session::keepalive();
        loop {
            std::thread::sleep(Duration::from_secs(10));
            if ka_stream.write_all(&ka).is_err() {
                return;
            }
        }
    });
    let caps = session::caps();
    loop {
        let Some(frame) = framer.next(&mut stream, &caps)? else {
            return Err(Error::Bgp("the target closed the session".into()));
        };
        match session::decode(frame)?.message {
            Message::Update(u) => {
                let mut t = table.lock().map_err(|_| Error::Setup("poisoned".into()))?;
                t.apply(&u);
            }
            Message::Notification(n) => return Err(Error::Bgp(format!("NOTIFICATION from the target: {n:?}"))),
            _ => {}
        }
    }
}
