//! Test support: real BGP peers — FRR, BIRD 2, GoBGP and ExaBGP — run as foreground children
//! inside a test's network namespaces ([`PeerNet`]), each with its configuration, sockets and
//! logs in a temporary directory of its own. A test configures them from a [`PeerSpec`],
//! waits for sessions, announces and withdraws [`Route`]s and reads back what each daemon
//! received, in one common form, whatever the daemon.
//!
//! Everything started here is stopped by its own PID (SIGTERM, then SIGKILL) and its directory
//! removed when the peer is stopped or dropped, also after a panic. Needs root and the Debian
//! packages `frr bird2 gobgpd exabgp iproute2`; no systemd, nothing in /etc is used or touched.
//! One peer per namespace (each listens on port 179 of all the namespace's addresses, GoBGP's
//! API on 127.0.0.1:50051 there). Drop the peers before their [`PeerNet`]: declare it first.
//! Each peer kind's module says which route attributes it can originate and what its daemon
//! needs (see [`frr`], [`bird`], [`gobgp`], [`exabgp`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use weft_peers::{Family, Neighbor, Peer, PeerKind, PeerNet, PeerSpec, Route};
//!
//! let net = PeerNet::pair("doc");
//! let (a, b) = (net.node(0), net.node(1));
//! let frr = PeerKind::Frr
//!     .start(&a.netns, &PeerSpec::new(64511, a.ipv4).neighbor(Neighbor::new(b.v4(), 64512, &[Family::Vpnv4])))
//!     .unwrap();
//! let gobgp = PeerKind::Gobgp
//!     .start(&b.netns, &PeerSpec::new(64512, b.ipv4).neighbor(Neighbor::new(a.v4(), 64511, &[Family::Vpnv4])))
//!     .unwrap();
//! frr.wait_established(b.v4(), Duration::from_secs(20)).unwrap();
//! let route = Route::vpnv4("64512:1".parse().unwrap(), "198.51.100.0/24".parse().unwrap(), 100);
//! gobgp.announce(&route).unwrap();
//! let got = frr.wait_for_routes(Family::Vpnv4, Duration::from_secs(10), &|r| !r.is_empty()).unwrap();
//! assert_eq!(got[0].label, Some(100));
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

pub mod bird;
pub mod exabgp;
pub mod frr;
pub mod gobgp;
mod net;
pub mod process;
mod route;

pub use bird::Bird;
pub use exabgp::Exabgp;
pub use frr::Frr;
pub use gobgp::Gobgp;
pub use net::{Node, PeerNet};
pub use route::{
    AdminValue, Community, ENCAP_VXLAN, ExtCommunity, Family, LargeCommunity, Mac, RawAttribute, Rd, Route, Rt,
    find_route,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}):\n{output}")]
    Command {
        command: String,
        status: String,
        output: String,
    },
    #[error("timed out after {after:?} waiting for {what}\n{detail}")]
    Timeout {
        what: String,
        after: Duration,
        detail: String,
    },
    #[error("{daemon} exited ({status}); its log ends with:\n{log}")]
    Exited {
        daemon: String,
        status: String,
        log: String,
    },
    #[error("cannot parse {what}: {detail}")]
    Parse { what: String, detail: String },
    #[error("{peer} cannot {what}")]
    Unsupported { peer: &'static str, what: String },
    #[error("invalid peer configuration: {0}")]
    Config(String),
    #[error("{peer} rejected {what}: {output}")]
    Rejected {
        peer: &'static str,
        what: String,
        output: String,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn parse(what: impl Into<String>, detail: impl std::fmt::Display) -> Error {
        Error::Parse {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One configured neighbor of a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    pub families: Vec<Family>,
    /// TCP MD5 signature key (RFC 2385); printable ASCII without spaces or quotes.
    pub password: Option<String>,
    /// Only accept the connection, never open it.
    pub passive: bool,
    /// GTSM (RFC 5082): send with TTL 255 and accept only TTL 255 (a directly connected peer).
    pub ttl_security: bool,
    pub route_reflector_client: bool,
    /// Graceful restart (RFC 4724) with this Restart Time, seconds: the daemon keeps the
    /// neighbor's routes across its restarts and advertises the capability (forwarding state
    /// preserved where the daemon can say so).
    pub graceful_restart: Option<u16>,
    /// ADD-PATH (RFC 7911) on every family of the session: receive several paths per prefix,
    /// and send up to `send` paths (0: send only the best).
    pub add_path: Option<AddPath>,
    /// Our address for this session; default: the [`PeerSpec::local_address`] when it is of the
    /// neighbor's IP version.
    pub local_address: Option<IpAddr>,
}

impl Neighbor {
    pub fn new(address: IpAddr, remote_as: u32, families: &[Family]) -> Neighbor {
        Neighbor {
            address,
            remote_as,
            families: families.to_vec(),
            password: None,
            passive: false,
            ttl_security: false,
            route_reflector_client: false,
            graceful_restart: None,
            add_path: None,
            local_address: None,
        }
    }

    pub fn password(mut self, password: &str) -> Neighbor {
        self.password = Some(password.to_string());
        self
    }

    pub fn passive(mut self) -> Neighbor {
        self.passive = true;
        self
    }

    pub fn ttl_security(mut self) -> Neighbor {
        self.ttl_security = true;
        self
    }

    pub fn route_reflector_client(mut self) -> Neighbor {
        self.route_reflector_client = true;
        self
    }

    pub fn graceful_restart(mut self, restart_time: u16) -> Neighbor {
        self.graceful_restart = Some(restart_time);
        self
    }

    pub fn add_path(mut self, add_path: AddPath) -> Neighbor {
        self.add_path = Some(add_path);
        self
    }

    pub fn local_address(mut self, address: IpAddr) -> Neighbor {
        self.local_address = Some(address);
        self
    }
}

/// ADD-PATH (RFC 7911) directions of a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddPath {
    pub receive: bool,
    /// How many paths per prefix to send; 0 sends only the best (no send capability).
    pub send: u8,
}

/// What a peer is: its AS, router ID, address and neighbors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub local_address: IpAddr,
    pub neighbors: Vec<Neighbor>,
    /// Start as a speaker that has just restarted with graceful restart (RFC 4724 §4.1: the
    /// Restart State bit; FRR `bgpd -K`, GoBGP `gobgpd -r`, BIRD `bird -R`).
    pub restarting: bool,
}

impl PeerSpec {
    /// Router ID and local address `address`, no neighbors yet.
    pub fn new(local_as: u32, address: Ipv4Addr) -> PeerSpec {
        PeerSpec {
            local_as,
            router_id: address,
            local_address: IpAddr::V4(address),
            neighbors: Vec::new(),
            restarting: false,
        }
    }

    pub fn restarting(mut self) -> PeerSpec {
        self.restarting = true;
        self
    }

    pub fn neighbor(mut self, n: Neighbor) -> PeerSpec {
        self.neighbors.push(n);
        self
    }

    /// Our address toward `n`.
    pub fn local_address_for(&self, n: &Neighbor) -> Option<IpAddr> {
        n.local_address
            .or_else(|| (self.local_address.is_ipv4() == n.address.is_ipv4()).then_some(self.local_address))
    }

    /// All families of all neighbors.
    pub fn families(&self) -> Vec<Family> {
        let mut f: Vec<Family> = self.neighbors.iter().flat_map(|n| n.families.iter().copied()).collect();
        f.sort();
        f.dedup();
        f
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.neighbors.is_empty() {
            return Err(Error::Config("no neighbors".into()));
        }
        for n in &self.neighbors {
            if n.families.is_empty() {
                return Err(Error::Config(format!("neighbor {} has no families", n.address)));
            }
            if let Some(pw) = &n.password
                && (pw.is_empty()
                    || pw.len() > 80
                    || !pw
                        .chars()
                        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\' | '#' | '!')))
            {
                return Err(Error::Config(format!(
                    "password for {}: 1 to 80 printable ASCII characters without spaces, quotes, \\ # !",
                    n.address
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn neighbor_for(&self, address: IpAddr) -> Result<&Neighbor> {
        self.neighbors
            .iter()
            .find(|n| n.address == address)
            .ok_or_else(|| Error::Config(format!("{address} is not a configured neighbor")))
    }
}

/// The BGP finite state machine's states (RFC 4271 8.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
    /// A daemon-specific state outside the FSM (e.g. BIRD's "Down", FRR's "Clearing").
    Other(String),
}

impl SessionState {
    pub(crate) fn from_name(s: &str) -> SessionState {
        match s.to_ascii_lowercase().as_str() {
            "idle" => SessionState::Idle,
            "connect" => SessionState::Connect,
            "active" => SessionState::Active,
            "opensent" => SessionState::OpenSent,
            "openconfirm" => SessionState::OpenConfirm,
            "established" => SessionState::Established,
            _ => SessionState::Other(s.to_string()),
        }
    }
}

/// A neighbor's session as a peer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborState {
    pub state: SessionState,
    /// How many times the session reached Established since the peer started, where the
    /// daemon tells (FRR, ExaBGP); a flap shows as a count above 1.
    pub established_count: Option<u32>,
}

/// Which daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKind {
    Frr,
    Bird,
    Gobgp,
    Exabgp,
}

impl PeerKind {
    pub const ALL: [PeerKind; 4] = [PeerKind::Frr, PeerKind::Bird, PeerKind::Gobgp, PeerKind::Exabgp];

    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Frr => "FRR",
            PeerKind::Bird => "BIRD",
            PeerKind::Gobgp => "GoBGP",
            PeerKind::Exabgp => "ExaBGP",
        }
    }

    /// Writes the configuration and starts the daemon(s) in `netns`.
    pub fn start(self, netns: &str, spec: &PeerSpec) -> Result<RunningPeer> {
        Ok(match self {
            PeerKind::Frr => RunningPeer::Frr(Frr::start(netns, spec)?),
            PeerKind::Bird => RunningPeer::Bird(Bird::start(netns, spec)?),
            PeerKind::Gobgp => RunningPeer::Gobgp(Gobgp::start(netns, spec)?),
            PeerKind::Exabgp => RunningPeer::Exabgp(Exabgp::start(netns, spec)?),
        })
    }
}

/// What every running peer can do.
pub trait Peer {
    fn kind(&self) -> PeerKind;
    fn netns(&self) -> &str;
    /// Its temporary directory (configuration, sockets, logs).
    fn dir(&self) -> &Path;
    /// PIDs of the daemons it runs (empty once stopped).
    fn pids(&self) -> Vec<u32>;
    fn spec(&self) -> &PeerSpec;
    fn neighbor_state(&self, neighbor: IpAddr) -> Result<NeighborState>;
    /// The routes of `family` this peer learned from its neighbors (not the ones it
    /// originated), as it holds them now.
    fn received_routes(&self, family: Family) -> Result<Vec<Route>>;
    /// Originates a route (see each peer for what it can express).
    fn announce(&self, route: &Route) -> Result<()>;
    /// Withdraws a route announced before (matched by family, RD, prefix, and label where the
    /// daemon needs it).
    fn withdraw(&self, route: &Route) -> Result<()>;
    /// The last lines of its logs, for failure messages.
    fn logs(&self, lines: usize) -> String;
    /// Stops its daemons by PID and waits for them; the directory goes on drop. Idempotent.
    fn stop(&mut self) -> Result<()>;

    /// Waits until the session with `neighbor` is Established.
    fn wait_established(&self, neighbor: IpAddr, timeout: Duration) -> Result<()> {
        let mut last = None;
        let ok = process::poll(timeout, Duration::from_millis(250), || {
            let s = self.neighbor_state(neighbor);
            let up = matches!(&s, Ok(n) if n.state == SessionState::Established);
            last = Some(s);
            up.then_some(())
        });
        ok.ok_or_else(|| Error::Timeout {
            what: format!("{} session with {neighbor} to be Established", self.kind().name()),
            after: timeout,
            detail: format!("last state: {last:?}\n{}", self.logs(30)),
        })
    }

    /// Polls [`Peer::received_routes`] until `done` accepts them; returns them.
    fn wait_for_routes(
        &self,
        family: Family,
        timeout: Duration,
        done: &dyn Fn(&[Route]) -> bool,
    ) -> Result<Vec<Route>> {
        let mut last = None;
        let got = process::poll(timeout, Duration::from_millis(250), || {
            let r = self.received_routes(family);
            let ok = matches!(&r, Ok(routes) if done(routes));
            let out = if ok { r.as_ref().ok().cloned() } else { None };
            last = Some(r);
            out
        });
        got.ok_or_else(|| Error::Timeout {
            what: format!("{} routes of {family} as expected", self.kind().name()),
            after: timeout,
            detail: format!("last seen: {last:#?}\n{}", self.logs(20)),
        })
    }
}

/// A started peer of any kind.
pub enum RunningPeer {
    Frr(Frr),
    Bird(Bird),
    Gobgp(Gobgp),
    Exabgp(Exabgp),
}

macro_rules! each {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            RunningPeer::Frr($p) => $e,
            RunningPeer::Bird($p) => $e,
            RunningPeer::Gobgp($p) => $e,
            RunningPeer::Exabgp($p) => $e,
        }
    };
}

impl Peer for RunningPeer {
    fn kind(&self) -> PeerKind {
        each!(self, p => p.kind())
    }
    fn netns(&self) -> &str {
        each!(self, p => p.netns())
    }
    fn dir(&self) -> &Path {
        each!(self, p => p.dir())
    }
    fn pids(&self) -> Vec<u32> {
        each!(self, p => p.pids())
    }
    fn spec(&self) -> &PeerSpec {
        each!(self, p => p.spec())
    }
    fn neighbor_state(&self, neighbor: IpAddr) -> Result<NeighborState> {
        each!(self, p => p.neighbor_state(neighbor))
    }
    fn received_routes(&self, family: Family) -> Result<Vec<Route>> {
        each!(self, p => p.received_routes(family))
    }
    fn announce(&self, route: &Route) -> Result<()> {
        each!(self, p => p.announce(route))
    }
    fn withdraw(&self, route: &Route) -> Result<()> {
        each!(self, p => p.withdraw(route))
    }
    fn logs(&self, lines: usize) -> String {
        each!(self, p => p.logs(lines))
    }
    fn stop(&mut self) -> Result<()> {
        each!(self, p => p.stop())
    }
}

impl RunningPeer {
    pub fn as_frr(&self) -> Option<&Frr> {
        match self {
            RunningPeer::Frr(p) => Some(p),
            _ => None,
        }
    }
    pub fn as_bird(&self) -> Option<&Bird> {
        match self {
            RunningPeer::Bird(p) => Some(p),
            _ => None,
        }
    }
    pub fn as_gobgp(&self) -> Option<&Gobgp> {
        match self {
            RunningPeer::Gobgp(p) => Some(p),
            _ => None,
        }
    }
    pub fn as_exabgp(&self) -> Option<&Exabgp> {
        match self {
            RunningPeer::Exabgp(p) => Some(p),
            _ => None,
        }
    }
}

/// A new temporary directory for one peer's files.
pub(crate) fn temp_dir(kind: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("weft-{kind}-"))
        .tempdir()
        .map_err(|e| Error::io("creating a temporary directory", e))
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Fails unless `netns` exists (a typo would otherwise start the daemon in the host's).
pub(crate) fn check_netns(netns: &str) -> Result<()> {
    if netns.is_empty() || netns.contains('/') || !Path::new(&format!("/var/run/netns/{netns}")).exists() {
        return Err(Error::Config(format!("network namespace {netns:?} does not exist")));
    }
    Ok(())
}
