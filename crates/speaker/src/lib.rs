//! Weft's BGP speaker: the I/O around the Sans-IO session ([`weft_bgp::fsm::Session`]) and RIB
//! ([`weft_bgp::rib`]) of `weft-bgp`.
//!
//! One owner task holds all state (the [`Rib`](weft_bgp::rib::Rib), every peer's session and
//! Adj-RIB-Out, the locally originated routes) and drives time: it waits for commands from
//! [`SpeakerHandle`]s, for I/O events from the listener and connection tasks, and for the earliest
//! session timer or MRAI deadline; it feeds each to the session and carries out the actions. The
//! listener and each connection's reader and writer are small tasks that only move octets.
//!
//! Sockets are made by a [`SocketFactory`], in the process's network namespace or in another one
//! ([`Speaker::start_in_netns`]); TCP MD5 (RFC 2385) and GTSM (RFC 5082) are set per peer.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path as FsPath;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};
use weft_bgp::attribute::PathAttributes;
use weft_bgp::family::Family;
use weft_bgp::fsm::{ConfigError, PeerConfig, SessionStatus, Time};
use weft_bgp::nlri::{Nlri, Prefix};
use weft_bgp::rib::{Path, PeerId, PeerInfo, Policy, RouteKey, Vrf};

mod deferral;
mod import;
mod netns;
mod owner;
pub mod sockopt;

pub use import::VrfEvent;
pub use netns::SocketFactory;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid peer configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("peer {0} is already configured")]
    DuplicatePeer(IpAddr),
    #[error("peer {0} is not configured")]
    UnknownPeer(IpAddr),
    #[error("the speaker has stopped")]
    Stopped,
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The speaker as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// Where to accept BGP connections (port 179 normally); empty: never accept.
    pub listen: Vec<SocketAddr>,
    /// Set to act as a route reflector (RFC 4456) with this cluster id.
    pub cluster_id: Option<Ipv4Addr>,
    /// This speaker has just restarted and its peers may hold its routes (graceful restart,
    /// RFC 4724 §4.1): peers added with graceful restart get the Restart State bit in our OPENs
    /// (and each family's Forwarding State bit as configured), and nothing is advertised to any
    /// peer until every such peer sent End-of-RIB for each family, or `selection_deferral` ran
    /// out; then each peer gets all routes and End-of-RIB.
    pub restarting: bool,
    /// The Selection_Deferral_Timer of a restarting speaker (RFC 4724 §4.1).
    pub selection_deferral: Duration,
}

impl SpeakerConfig {
    /// Listens on 0.0.0.0:179.
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> SpeakerConfig {
        SpeakerConfig {
            local_as,
            router_id,
            listen: vec![SocketAddr::from((Ipv4Addr::UNSPECIFIED, 179))],
            cluster_id: None,
            restarting: false,
            selection_deferral: Duration::from_secs(360),
        }
    }
}

/// One peer: the session's configuration ([`PeerConfig`], families included) and what the
/// transport and the RIB need besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    pub config: PeerConfig,
    /// TCP MD5 signature key (RFC 2385), at most 80 octets.
    pub password: Option<String>,
    /// GTSM (RFC 5082): send with TTL 255, accept only TTL >= 254.
    pub gtsm: bool,
    /// A route reflector client (with [`SpeakerConfig::cluster_id`]).
    pub rr_client: bool,
    /// The source address of our connections to the peer; default: chosen by routing.
    pub local_address: Option<IpAddr>,
    /// Minimum interval between UPDATE batches (MRAI, RFC 4271 §9.2.1.1). Zero by default:
    /// changes go out at once.
    pub mrai: Duration,
    /// Per family, the most prefixes accepted from the peer: one more closes the session with
    /// Cease / Maximum Number of Prefixes Reached (RFC 4486) and withdraws the peer's routes; the
    /// session comes back after the idle-hold backoff.
    pub max_prefixes: BTreeMap<Family, u32>,
    /// Which received routes enter the RIB, and what is added to them; the rejected ones are
    /// kept so that a new policy ([`SpeakerHandle::set_policies`]) applies without a reset.
    pub import_policy: Option<Policy>,
    /// Which routes are sent to the peer, and what is added to them.
    pub export_policy: Option<Policy>,
    /// ADD-PATH send (RFC 7911): advertise up to this many paths per destination (the best
    /// first) in the families where the session negotiated it; 1: the best only. Set with
    /// [`PeerSettings::add_path_send`], which also advertises the capability.
    pub add_path_send: usize,
    /// NEXT_HOP self of IPv6 and VPNv6 routes when the session runs over IPv4 (RFC 2545 §3);
    /// `None`: the IPv4-mapped session address (RFC 4659 §3.2.1.1), which FRR and GoBGP accept
    /// and BIRD 2 refuses.
    pub ipv6_next_hop: Option<Ipv6Addr>,
}

impl PeerSettings {
    pub fn new(config: PeerConfig) -> PeerSettings {
        PeerSettings {
            config,
            password: None,
            gtsm: false,
            rr_client: false,
            local_address: None,
            mrai: Duration::ZERO,
            max_prefixes: BTreeMap::new(),
            import_policy: None,
            export_policy: None,
            add_path_send: 1,
            ipv6_next_hop: None,
        }
    }

    /// This speaker's IPv6 address as NEXT_HOP self of IPv6 and VPNv6 routes on an IPv4 session.
    pub fn ipv6_next_hop(mut self, address: Ipv6Addr) -> PeerSettings {
        self.ipv6_next_hop = Some(address);
        self
    }

    /// ADD-PATH (RFC 7911 §4): offer to send up to `paths` paths per destination in every
    /// configured family (the capability's send bit, keeping any receive bit).
    pub fn add_path_send(mut self, paths: usize) -> PeerSettings {
        self.add_path_send = paths.max(1);
        for family in self.config.local_families() {
            let (afi, safi) = (family.afi(), family.safi());
            match self.config.add_path.iter_mut().find(|a| a.afi == afi && a.safi == safi) {
                Some(a) => a.send_receive |= weft_bgp::AddPathFamily::SEND,
                None => self
                    .config
                    .add_path
                    .push(weft_bgp::AddPathFamily::new(family, false, true)),
            }
        }
        self
    }

    pub fn password(mut self, password: &str) -> PeerSettings {
        self.password = Some(password.to_string());
        self
    }

    pub fn gtsm(mut self) -> PeerSettings {
        self.gtsm = true;
        self
    }

    pub fn rr_client(mut self) -> PeerSettings {
        self.rr_client = true;
        self
    }

    pub fn local_address(mut self, address: IpAddr) -> PeerSettings {
        self.local_address = Some(address);
        self
    }

    pub fn mrai(mut self, mrai: Duration) -> PeerSettings {
        self.mrai = mrai;
        self
    }

    /// Accept at most `limit` prefixes of `family` (replaces an earlier limit of that family).
    pub fn max_prefixes(mut self, family: Family, limit: u32) -> PeerSettings {
        self.max_prefixes.insert(family, limit);
        self
    }
}

/// Route counts of one family of one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixCounts {
    /// Paths the peer sent (Adj-RIB-In before the import policy).
    pub received: usize,
    /// Of those, the ones the import policy accepted (in the Loc-RIB).
    pub accepted: usize,
    /// Of those, the ones that are the best path.
    pub best: usize,
    /// Routes advertised to the peer.
    pub sent: usize,
}

/// The Loc-RIB of one family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RibCounts {
    /// Destinations with a best path.
    pub routes: usize,
    /// Paths to them, from every peer and this speaker.
    pub paths: usize,
}

/// A peer as `show bgp neighbors` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub address: IpAddr,
    pub remote_as: u32,
    pub session: SessionStatus,
    pub prefixes: BTreeMap<Family, PrefixCounts>,
}

/// The best path to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub key: RouteKey,
    /// The peer's address; `None` for a route this speaker originates.
    pub from: Option<IpAddr>,
    pub path: Path,
    /// The best path of its destination (always, from [`SpeakerHandle::routes`]).
    pub best: bool,
}

impl RouteEntry {
    pub fn next_hop(&self) -> Option<IpAddr> {
        self.path.next_hop.map(|h| h.address)
    }

    /// The AS numbers of the AS_PATH, in order (sets flattened).
    pub fn as_path(&self) -> Vec<u32> {
        self.path
            .attributes
            .as_path
            .as_ref()
            .map(|p| p.segments.iter().flat_map(|s| s.asns.iter().copied()).collect())
            .unwrap_or_default()
    }
}

pub(crate) enum Command {
    AddPeer(Box<PeerSettings>, oneshot::Sender<Result<()>>),
    RemovePeer(IpAddr, oneshot::Sender<Result<()>>),
    Announce(Box<Path>, oneshot::Sender<()>),
    Withdraw(RouteKey, oneshot::Sender<bool>),
    PeerStatus(oneshot::Sender<Vec<PeerStatus>>),
    SetPolicies {
        address: IpAddr,
        import: Option<Policy>,
        export: Option<Policy>,
        reply: oneshot::Sender<Result<()>>,
    },
    RibCounts(oneshot::Sender<BTreeMap<Family, RibCounts>>),
    Routes(Option<Family>, oneshot::Sender<Vec<RouteEntry>>),
    AllPaths(Option<Family>, oneshot::Sender<Vec<RouteEntry>>),
    Shutdown(oneshot::Sender<()>),
    Abandon(oneshot::Sender<()>),
    /// Originated routes to add (replacing the same destinations) and to withdraw, at once.
    Originate {
        announce: Vec<Path>,
        withdraw: Vec<RouteKey>,
        reply: oneshot::Sender<()>,
    },
    SetVrf(Box<Vrf>, oneshot::Sender<()>),
    RemoveVrf(String, oneshot::Sender<()>),
    SubscribeImports(oneshot::Sender<mpsc::UnboundedReceiver<VrfEvent>>),
}

/// Starts speakers.
pub struct Speaker;

impl Speaker {
    /// A speaker whose sockets live in the process's network namespace.
    pub async fn start(config: SpeakerConfig) -> Result<SpeakerHandle> {
        Speaker::start_with(SocketFactory::current(), config).await
    }

    /// A speaker whose sockets (listener and connections) live in the network namespace at
    /// `path` (`/var/run/netns/NAME`); the process itself stays where it is.
    pub async fn start_in_netns(path: impl AsRef<FsPath>, config: SpeakerConfig) -> Result<SpeakerHandle> {
        let path = path.as_ref();
        let factory = SocketFactory::in_netns(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        Speaker::start_with(factory, config).await
    }

    /// A speaker with sockets from `factory`. Needs a tokio runtime with I/O and time enabled.
    pub async fn start_with(factory: SocketFactory, config: SpeakerConfig) -> Result<SpeakerHandle> {
        if config.router_id.is_unspecified() || config.local_as == 0 {
            return Err(Error::Invalid("router id 0.0.0.0 or AS 0".into()));
        }
        let tx = owner::spawn(factory, config.clone()).await?;
        Ok(SpeakerHandle {
            tx,
            local_as: config.local_as,
            router_id: config.router_id,
        })
    }
}

/// Talks to a running speaker; cheap to clone. The speaker stops on [`SpeakerHandle::shutdown`]
/// or when every handle is gone.
#[derive(Debug, Clone)]
pub struct SpeakerHandle {
    tx: mpsc::UnboundedSender<Command>,
    local_as: u32,
    router_id: Ipv4Addr,
}

impl SpeakerHandle {
    pub fn local_as(&self) -> u32 {
        self.local_as
    }

    pub fn router_id(&self) -> Ipv4Addr {
        self.router_id
    }

    /// Whether both handles reach the same speaker (a restarted speaker is another one).
    pub fn same_speaker(&self, other: &SpeakerHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Adds a peer and starts its session.
    pub async fn add_peer(&self, settings: PeerSettings) -> Result<()> {
        self.ask(|tx| Command::AddPeer(Box::new(settings), tx)).await?
    }

    /// Stops the session (Cease / Administrative Shutdown) and forgets the peer and its routes.
    pub async fn remove_peer(&self, address: IpAddr) -> Result<()> {
        self.ask(|tx| Command::RemovePeer(address, tx)).await?
    }

    /// Originates a route: any NLRI (IPv4/IPv6 unicast, VPN, EVPN) with these attributes
    /// (without NEXT_HOP / MP_REACH_NLRI). `next_hop` `None`: this speaker's address on each
    /// session. Replaces an earlier announcement of the same destination.
    pub async fn announce(&self, nlri: Nlri, attributes: PathAttributes, next_hop: Option<IpAddr>) -> Result<()> {
        let path = Path {
            peer: PeerId::LOCAL,
            peer_info: PeerInfo::local(self.local_as, self.router_id),
            nlri,
            attributes: std::sync::Arc::new(attributes),
            next_hop: next_hop.map(weft_bgp::NextHop::new),
            path_id: None,
            received_at: Time::ZERO,
            stale: false,
        };
        self.ask(|tx| Command::Announce(Box::new(path), tx)).await
    }

    /// Originates a unicast prefix with ORIGIN IGP and an empty AS_PATH, next hop self.
    pub async fn announce_prefix(&self, prefix: IpNet) -> Result<()> {
        let attributes = PathAttributes {
            origin: Some(weft_bgp::Origin::Igp),
            as_path: Some(weft_bgp::AsPath::default()),
            ..PathAttributes::default()
        };
        self.announce(Nlri::Prefix(Prefix::new(prefix)), attributes, None).await
    }

    /// Exports a prefix of a VRF as a VPN or EVPN type 5 route (the VRF's RD, export route
    /// targets and encoding, [`Vrf::export_path`]).
    pub async fn announce_vrf(&self, vrf: &Vrf, prefix: IpNet, next_hop: IpAddr) -> Result<()> {
        let path = vrf.export_path(prefix, next_hop, self.local_as, self.router_id, Time::ZERO);
        self.ask(|tx| Command::Announce(Box::new(path), tx)).await
    }

    /// Originates and withdraws many routes in one step (one decision pass, one round of
    /// UPDATEs): how a controller keeps thousands of exported prefixes current.
    pub async fn originate(&self, announce: Vec<Path>, withdraw: Vec<RouteKey>) -> Result<()> {
        self.ask(|reply| Command::Originate {
            announce,
            withdraw,
            reply,
        })
        .await
    }

    /// Registers (or replaces) a VRF whose imported table is reported to [`subscribe_imports`]
    /// subscribers (RFC 4364 §4.3.5): VPN and EVPN IP prefix routes from peers whose route
    /// targets it imports. This speaker's own exports are never imported.
    ///
    /// [`subscribe_imports`]: SpeakerHandle::subscribe_imports
    pub async fn set_vrf(&self, vrf: Vrf) -> Result<()> {
        self.ask(|tx| Command::SetVrf(Box::new(vrf), tx)).await
    }

    /// Forgets a VRF; subscribers see its routes withdrawn.
    pub async fn remove_vrf(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.ask(|tx| Command::RemoveVrf(name, tx)).await
    }

    /// Every change of every registered VRF's table, starting with their current contents.
    pub async fn subscribe_imports(&self) -> Result<mpsc::UnboundedReceiver<VrfEvent>> {
        self.ask(Command::SubscribeImports).await
    }

    /// Withdraws a route this speaker originated; false when there was none.
    pub async fn withdraw(&self, key: RouteKey) -> Result<bool> {
        self.ask(|tx| Command::Withdraw(key, tx)).await
    }

    pub async fn withdraw_prefix(&self, prefix: IpNet) -> Result<bool> {
        self.withdraw(RouteKey::Prefix(prefix)).await
    }

    pub async fn withdraw_vrf(&self, vrf: &Vrf, prefix: IpNet) -> Result<bool> {
        self.withdraw(vrf.export_key(prefix)).await
    }

    /// Replaces a peer's import and export policies in place, the session kept: the import
    /// policy is applied again to everything the peer sent (rejected routes included), and the
    /// peer is sent what the export policy changes.
    pub async fn set_policies(&self, address: IpAddr, import: Option<Policy>, export: Option<Policy>) -> Result<()> {
        self.ask(|reply| Command::SetPolicies {
            address,
            import,
            export,
            reply,
        })
        .await?
    }

    /// Routes and paths per family in the Loc-RIB.
    pub async fn rib_counts(&self) -> Result<BTreeMap<Family, RibCounts>> {
        self.ask(Command::RibCounts).await
    }

    pub async fn peer_status(&self) -> Result<Vec<PeerStatus>> {
        self.ask(Command::PeerStatus).await
    }

    /// The status of one peer.
    pub async fn peer(&self, address: IpAddr) -> Result<PeerStatus> {
        self.peer_status()
            .await?
            .into_iter()
            .find(|p| p.address == address)
            .ok_or(Error::UnknownPeer(address))
    }

    /// The best path of every destination of `family` (all families with `None`).
    pub async fn routes(&self, family: Option<Family>) -> Result<Vec<RouteEntry>> {
        self.ask(|tx| Command::Routes(family, tx)).await
    }

    /// Every path of every destination of `family` (all families with `None`), the best one of
    /// each destination first: what `show bgp PREFIX` shows.
    pub async fn all_paths(&self, family: Option<Family>) -> Result<Vec<RouteEntry>> {
        self.ask(|tx| Command::AllPaths(family, tx)).await
    }

    /// Ends the task for a restart: connections close without a NOTIFICATION, so graceful
    /// restart peers keep this speaker's routes (and their forwarding) until it is back and sends
    /// End-of-RIB (RFC 4724 §4.2); others drop them as on any session loss.
    pub async fn abandon(&self) -> Result<()> {
        self.ask(Command::Abandon).await
    }

    /// Stops every session (Cease / Administrative Shutdown), closes the listener, ends the task.
    pub async fn shutdown(&self) -> Result<()> {
        self.ask(Command::Shutdown).await
    }
}
