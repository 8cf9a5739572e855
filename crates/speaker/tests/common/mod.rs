//! What the speaker's interop test files share: Weft on node 0 of a [`PeerNet`] (its sockets in
//! that namespace, the speaker on a runtime of the test), the daemon on node 1, and polling
//! helpers that wait with short intervals.

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use weft_bgp::family::Family as BgpFamily;
use weft_bgp::fsm::{PeerConfig, State};
use weft_bgp::rib::RouteKey;
use weft_net::Asn;
use weft_peers::{AdminValue, Family, Neighbor, Node, PeerSpec};
use weft_speaker::{PeerSettings, PeerStatus, RouteEntry, Speaker, SpeakerConfig, SpeakerHandle};

pub const WEFT_AS: u32 = 64511;
pub const PEER_AS: u32 = 64512;
pub const ESTABLISH: Duration = Duration::from_secs(20);
pub const CONVERGE: Duration = Duration::from_secs(10);
pub const POLL: Duration = Duration::from_millis(100);

pub fn net(s: &str) -> IpNet {
    s.parse().expect("a prefix")
}

pub fn rd(s: &str) -> AdminValue {
    s.parse().expect("an RD")
}

pub struct Weft {
    pub rt: tokio::runtime::Runtime,
    pub handle: SpeakerHandle,
}

impl Weft {
    pub fn start(node: &Node) -> Weft {
        Weft::start_with(node, SpeakerConfig::new(WEFT_AS, node.ipv4))
    }

    pub fn start_with(node: &Node, config: SpeakerConfig) -> Weft {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let path = format!("/var/run/netns/{}", node.netns);
        let handle = rt
            .block_on(Speaker::start_in_netns(&path, config))
            .expect("the speaker starts");
        Weft { rt, handle }
    }

    /// Stops the speaker abruptly: its runtime is dropped with every task and socket, so the
    /// peers see their connections close without a NOTIFICATION (a crash).
    pub fn crash(mut self) {
        let spare = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        std::mem::replace(&mut self.rt, spare).shutdown_background();
        // Drop now finds the speaker gone: its shutdown fails at once.
    }

    pub fn add_peer(&self, settings: PeerSettings) {
        self.rt.block_on(self.handle.add_peer(settings)).expect("add_peer");
    }

    pub fn peer(&self, peer: IpAddr) -> PeerStatus {
        self.rt.block_on(self.handle.peer(peer)).expect("peer status")
    }

    pub fn state(&self, peer: IpAddr) -> State {
        self.peer(peer).session.state
    }

    pub fn wait_established(&self, peer: IpAddr, timeout: Duration) {
        let until = Instant::now() + timeout;
        while self.state(peer) != State::Established {
            assert!(Instant::now() < until, "Weft's session with {peer} is not Established");
            std::thread::sleep(POLL);
        }
    }

    pub fn routes(&self, family: BgpFamily) -> Vec<RouteEntry> {
        self.rt.block_on(self.handle.routes(Some(family))).expect("routes")
    }

    pub fn wait_route(&self, family: BgpFamily, key: &RouteKey, present: bool) -> Option<RouteEntry> {
        self.wait_route_for(family, key, present, CONVERGE)
    }

    pub fn wait_route_for(
        &self,
        family: BgpFamily,
        key: &RouteKey,
        present: bool,
        timeout: Duration,
    ) -> Option<RouteEntry> {
        let until = Instant::now() + timeout;
        loop {
            let found = self.routes(family).into_iter().find(|r| &r.key == key);
            if found.is_some() == present {
                return found;
            }
            assert!(
                Instant::now() < until,
                "{key} present={present} not reached in Weft's RIB"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Polls the peer's status until `done` accepts it.
    pub fn wait_status(&self, peer: IpAddr, what: &str, done: impl Fn(&PeerStatus) -> bool) -> PeerStatus {
        let until = Instant::now() + CONVERGE;
        loop {
            let s = self.peer(peer);
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < until, "{what}: {s:?}");
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Weft {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.handle.shutdown());
    }
}

/// Our settings for the daemon at `peer` (IPv4 or IPv6), eBGP unless `peer_as` is ours.
pub fn settings_as(me: &Node, peer: IpAddr, peer_as: u32, families: &[BgpFamily]) -> PeerSettings {
    let mut c = PeerConfig::new(peer, Asn::new_unchecked(WEFT_AS), Asn::new_unchecked(peer_as), me.ipv4);
    c.families = families.to_vec();
    c.connect_retry = Duration::from_secs(3);
    c.hold_time = 9;
    let local = if peer.is_ipv6() { me.v6() } else { me.v4() };
    PeerSettings::new(c).local_address(local)
}

pub fn settings(me: &Node, peer: IpAddr, families: &[BgpFamily]) -> PeerSettings {
    settings_as(me, peer, PEER_AS, families)
}

/// The daemon's spec: AS `asn`, one neighbor (Weft at `weft`) with these families.
pub fn peer_spec_as(node: &Node, asn: u32, weft: IpAddr, families: &[Family]) -> PeerSpec {
    let mut n = Neighbor::new(weft, WEFT_AS, families);
    if weft.is_ipv6() {
        n = n.local_address(node.v6());
    }
    PeerSpec::new(asn, node.ipv4).neighbor(n)
}

pub fn peer_spec(node: &Node, weft: IpAddr, families: &[Family]) -> PeerSpec {
    peer_spec_as(node, PEER_AS, weft, families)
}

/// Polls `f` every 100 ms until it returns `Some`, failing with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(POLL);
    }
}
