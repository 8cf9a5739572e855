//! The owner task: every session, the RIB and the Adj-RIBs-Out, driven by commands, I/O events
//! and timers; plus the listener and connection tasks, which only move octets.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use weft_bgp::family::Family;
use weft_bgp::fsm::{Action, ConnId, Input, Level, Session, Time};
use weft_bgp::message::notification::{cease, code};
use weft_bgp::message::{Notification, RefreshSubtype};
use weft_bgp::nlri::Nlri;
use weft_bgp::rib::{
    AdjRibOut, BestChange, OutPeerConfig, Path, PeerId, PeerInfo, PeerKind, Policy, Rib, RibConfig, RouteKey, RtFilter,
};

use crate::deferral::Deferral;
use crate::import::Imports;
use crate::netns::SocketFactory;
use crate::sockopt;
use crate::{Command, Error, PeerSettings, PeerStatus, PrefixCounts, Result, RibCounts, RouteEntry, SpeakerConfig};

/// What the listener and connection tasks report.
enum Event {
    Accepted(TcpStream, SocketAddr),
    Connected {
        peer: PeerId,
        conn: ConnId,
        stream: TcpStream,
    },
    ConnectFailed {
        peer: PeerId,
        conn: ConnId,
        error: String,
    },
    Bytes {
        peer: PeerId,
        conn: ConnId,
        data: Vec<u8>,
    },
    Closed {
        peer: PeerId,
        conn: ConnId,
        error: Option<String>,
    },
}

struct Conn {
    /// Octets to write; dropping it makes the writer flush and close.
    tx: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
    local: SocketAddr,
}

struct PeerState {
    id: PeerId,
    settings: PeerSettings,
    session: Session,
    adj_out: Option<AdjRibOut>,
    conns: HashMap<ConnId, Conn>,
    pending: HashMap<ConnId, JoinHandle<()>>,
    next_incoming: u64,
    /// The peer asked for our routes again (RFC 2918); done once nothing else is queued.
    refresh_requested: bool,
}

struct Owner {
    config: SpeakerConfig,
    /// VRFs whose imported tables the speaker's user follows.
    imports: Imports,
    factory: SocketFactory,
    start: Instant,
    rib: Rib,
    peers: BTreeMap<PeerId, PeerState>,
    by_addr: HashMap<IpAddr, PeerId>,
    next_id: u32,
    listeners: Vec<Arc<TcpListener>>,
    accept_tasks: Vec<JoinHandle<()>>,
    events: mpsc::UnboundedSender<Event>,
    /// While this speaker restarts (RFC 4724 §4.1): the Adj-RIBs-Out held back.
    deferral: Option<Deferral<OutPeerConfig>>,
}

/// Binds the listeners and starts the owner task.
pub(crate) async fn spawn(factory: SocketFactory, config: SpeakerConfig) -> Result<mpsc::UnboundedSender<Command>> {
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let mut listeners = Vec::new();
    let mut accept_tasks = Vec::new();
    for addr in &config.listen {
        let listener = Arc::new(listen(&factory, *addr).await?);
        let l = listener.clone();
        let tx = ev_tx.clone();
        accept_tasks.push(tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((stream, remote)) => {
                        if tx.send(Event::Accepted(stream, remote)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
        listeners.push(listener);
    }
    let mut rib_config = RibConfig::new(config.local_as, config.router_id);
    rib_config.cluster_id = config.cluster_id;
    let deferral = config
        .restarting
        .then(|| Deferral::new(Time::ZERO + config.selection_deferral));
    let owner = Owner {
        imports: Imports::default(),
        rib: Rib::new(rib_config),
        config,
        factory,
        start: Instant::now(),
        peers: BTreeMap::new(),
        by_addr: HashMap::new(),
        next_id: 1,
        listeners,
        accept_tasks,
        events: ev_tx,
        deferral,
    };
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    tokio::spawn(owner.run(cmd_rx, ev_rx));
    Ok(cmd_tx)
}

async fn listen(factory: &SocketFactory, addr: SocketAddr) -> Result<TcpListener> {
    let what = || format!("listening on {addr}");
    let f = factory.clone();
    let socket = tokio::task::spawn_blocking(move || f.tcp_socket(addr.is_ipv6()))
        .await
        .map_err(|e| Error::io(what(), std::io::Error::other(e)))?
        .map_err(|e| Error::io(what(), e))?;
    socket.set_reuseaddr(true).map_err(|e| Error::io(what(), e))?;
    if addr.is_ipv6() {
        sockopt::set_v6only(&socket).map_err(|e| Error::io(what(), e))?;
    }
    socket.bind(addr).map_err(|e| Error::io(what(), e))?;
    socket.listen(128).map_err(|e| Error::io(what(), e))
}

/// Starts the reader and writer tasks of a connected stream.
fn start_conn(events: &mpsc::UnboundedSender<Event>, peer: PeerId, conn: ConnId, stream: TcpStream) -> Conn {
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let ev = events.clone();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) => {
                    let _ = ev.send(Event::Closed {
                        peer,
                        conn,
                        error: None,
                    });
                    break;
                }
                Ok(n) => {
                    let data = buf.get(..n).unwrap_or_default().to_vec();
                    if ev.send(Event::Bytes { peer, conn, data }).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = ev.send(Event::Closed {
                        peer,
                        conn,
                        error: Some(e.to_string()),
                    });
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    Conn { tx, reader, local }
}

/// Opens an outgoing connection: socket in the factory's namespace, MD5 and GTSM set, bound to the
/// source address, then connected.
async fn connect(factory: SocketFactory, settings: PeerSettings) -> std::io::Result<TcpStream> {
    let remote = settings.config.remote_addr;
    let ipv6 = remote.is_ipv6();
    let socket = tokio::task::spawn_blocking(move || factory.tcp_socket(ipv6))
        .await
        .map_err(std::io::Error::other)??;
    if let Some(pw) = &settings.password {
        sockopt::set_md5(&socket, remote, Some(pw))?;
    }
    if settings.gtsm {
        sockopt::set_gtsm(&socket, ipv6, 254)?;
    }
    if let Some(local) = settings.local_address {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let timeout = settings.config.connect_retry;
    match tokio::time::timeout(timeout, socket.connect(SocketAddr::new(remote, 179))).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")),
    }
}

/// Cease / Maximum Number of Prefixes Reached with the data of RFC 4486 §4: AFI (2 octets), SAFI
/// (1 octet), the upper bound (4 octets).
/// Queued changes per peer past which they go out before the rest of a read is applied.
const FLUSH_QUEUE_AT: usize = 2048;

fn max_prefix_notification(family: Family, limit: u32) -> Notification {
    let mut data = Vec::with_capacity(7);
    data.extend_from_slice(&family.afi().0.to_be_bytes());
    data.push(family.safi().0);
    data.extend_from_slice(&limit.to_be_bytes());
    Notification::new(code::CEASE, cease::MAXIMUM_NUMBER_OF_PREFIXES_REACHED, data)
}

fn log(level: Level, message: &str) {
    match level {
        Level::Debug => tracing::debug!("{message}"),
        Level::Info => tracing::info!("{message}"),
        Level::Warn => tracing::warn!("{message}"),
        Level::Error => tracing::error!("{message}"),
    }
}

impl Owner {
    fn now(&self) -> Time {
        Time::since(self.start.into_std(), Instant::now().into_std())
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>, mut events: mpsc::UnboundedReceiver<Event>) {
        loop {
            let deadline = self.next_deadline();
            let start = self.start;
            let sleep = async move {
                match deadline {
                    Some(t) => tokio::time::sleep_until(start + Duration::from_millis(t.as_millis())).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.shutdown();
                        let _ = done.send(());
                        return;
                    }
                    Some(Command::Abandon(done)) => {
                        self.abandon();
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.command(cmd),
                    None => {
                        self.shutdown();
                        return;
                    }
                },
                Some(ev) = events.recv() => self.event(ev),
                () = sleep => {
                    let ids: Vec<PeerId> = self.peers.keys().copied().collect();
                    for id in ids {
                        self.drive(id, Input::Tick);
                    }
                }
            }
            self.end_deferral_when_due();
            self.advertise_more_paths();
            if self.send_updates() {
                // Let the connections' writers run now: woken from this task, they would
                // otherwise wait until the incoming UPDATEs stop, and a peer would get its
                // routes in one burst at the end instead of as they are learned.
                tokio::task::yield_now().await;
            }
        }
    }

    fn next_deadline(&self) -> Option<Time> {
        self.peers
            .values()
            .flat_map(|p| {
                [
                    p.session.next_deadline(),
                    p.adj_out.as_ref().and_then(AdjRibOut::next_due),
                ]
            })
            .chain(std::iter::once(self.deferral.as_ref().map(Deferral::deadline)))
            .flatten()
            .min()
    }

    /// RFC 4724 §4.1: once every graceful peer sent its End-of-RIBs (or the deferral timer ran
    /// out), every established peer gets its routes and End-of-RIB.
    fn end_deferral_when_due(&mut self) {
        let now = self.now();
        if !self.deferral.as_ref().is_some_and(|d| d.is_over(now)) {
            return;
        }
        let Some(deferral) = self.deferral.take() else { return };
        tracing::info!("restart: selection deferral over, advertising to every established peer");
        for (id, out) in deferral.finish() {
            self.open_adj_out(id, out);
        }
    }

    /// RFC 7911: hands the keys whose paths changed to the peers that get several paths.
    fn advertise_more_paths(&mut self) {
        let keys = self.rib.take_path_changes();
        if keys.is_empty() {
            return;
        }
        for p in self.peers.values_mut() {
            if let Some(adj) = p.adj_out.as_mut().filter(|a| a.sends_several_paths()) {
                adj.paths_changed(&keys, &self.rib);
            }
        }
    }

    /// Starts a peer's Adj-RIB-Out: export policy, RT constraint, every route and End-of-RIB.
    fn open_adj_out(&mut self, id: PeerId, out: OutPeerConfig) {
        let Some(p) = self.peers.get_mut(&id) else { return };
        let rtc = out.families.contains(&Family::RtConstraint);
        let mut adj = AdjRibOut::new(out)
            .with_export_policy(p.settings.export_policy.clone())
            .with_add_path_send(p.settings.add_path_send)
            .with_ipv6_next_hop(p.settings.ipv6_next_hop);
        if adj.sends_several_paths() {
            // RFC 7911: changes of paths other than the best matter to this peer.
            self.rib.track_path_changes();
        }
        if rtc {
            // RFC 4684: VPN and EVPN routes only for the route targets the peer asks for.
            adj.set_rt_filter(Some(RtFilter::of_peer(&self.rib, id)), &self.rib);
        }
        adj.initial_dump(&self.rib);
        p.adj_out = Some(adj);
    }

    fn shutdown(&mut self) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.drive(id, Input::Stop { notification: None });
            if let Some(p) = self.peers.remove(&id) {
                for (_, t) in p.pending {
                    t.abort();
                }
                for (_, c) in p.conns {
                    c.reader.abort();
                }
            }
        }
        for t in &self.accept_tasks {
            t.abort();
        }
        self.listeners.clear();
    }

    /// Closes every connection without a NOTIFICATION, as a process that restarts: graceful
    /// restart peers keep our routes as stale until we are back (RFC 4724 §4.2).
    fn abandon(&mut self) {
        for (_, p) in std::mem::take(&mut self.peers) {
            for (_, t) in p.pending {
                t.abort();
            }
            for (_, c) in p.conns {
                // Dropping the sender lets the writer flush and close (FIN); no NOTIFICATION.
                c.reader.abort();
            }
        }
        for t in &self.accept_tasks {
            t.abort();
        }
        self.listeners.clear();
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::AddPeer(settings, reply) => {
                let _ = reply.send(self.add_peer(*settings));
            }
            Command::RemovePeer(addr, reply) => {
                let _ = reply.send(self.remove_peer(addr));
            }
            Command::Announce(path, reply) => {
                let mut path = *path;
                path.received_at = self.now();
                let changes = self.rib.insert(path);
                self.propagate(&changes);
                let _ = reply.send(());
            }
            Command::Withdraw(key, reply) => {
                let had = self.rib.paths(&key).iter().any(|p| p.peer == PeerId::LOCAL);
                let changes = self.rib.remove(PeerId::LOCAL, &key, None);
                self.propagate(&changes);
                let _ = reply.send(had);
            }
            Command::SetPolicies {
                address,
                import,
                export,
                reply,
            } => {
                let _ = reply.send(self.set_policies(address, import, export));
            }
            Command::RibCounts(reply) => {
                let counts: BTreeMap<Family, RibCounts> = self
                    .rib
                    .family_counts()
                    .into_iter()
                    .map(|(f, (routes, paths))| (f, RibCounts { routes, paths }))
                    .collect();
                let _ = reply.send(counts);
            }
            Command::PeerStatus(reply) => {
                let _ = reply.send(self.peer_status());
            }
            Command::Routes(family, reply) => {
                let mut routes: Vec<RouteEntry> = self
                    .rib
                    .best_paths()
                    .filter(|(k, _)| family.is_none_or(|f| k.family() == f))
                    .map(|(key, path)| RouteEntry {
                        key,
                        from: (path.peer != PeerId::LOCAL).then_some(path.peer_info.address),
                        path,
                        best: true,
                    })
                    .collect();
                // The table keeps no order; people and tests read routes in key order.
                routes.sort_by(|a, b| a.key.cmp(&b.key));
                let _ = reply.send(routes);
            }
            Command::AllPaths(family, reply) => {
                let mut keys: Vec<(RouteKey, Path)> = self
                    .rib
                    .best_paths()
                    .filter(|(k, _)| family.is_none_or(|f| k.family() == f))
                    .collect();
                keys.sort_by(|a, b| a.0.cmp(&b.0));
                let mut out = Vec::new();
                for (key, best) in keys {
                    let entry = |p: Path, best: bool| RouteEntry {
                        key: key.clone(),
                        from: (p.peer != PeerId::LOCAL).then_some(p.peer_info.address),
                        path: p,
                        best,
                    };
                    let others: Vec<Path> = self
                        .rib
                        .paths(&key)
                        .into_iter()
                        .filter(|p| (p.peer, p.path_id) != (best.peer, best.path_id))
                        .collect();
                    out.push(entry(best, true));
                    out.extend(others.into_iter().map(|p| entry(p, false)));
                }
                let _ = reply.send(out);
            }
            Command::Originate {
                announce,
                withdraw,
                reply,
            } => {
                let now = self.now();
                let mut changes = Vec::new();
                for key in withdraw {
                    changes.extend(self.rib.remove(PeerId::LOCAL, &key, None));
                }
                for mut path in announce {
                    path.received_at = now;
                    changes.extend(self.rib.insert(path));
                }
                self.propagate(&changes);
                let _ = reply.send(());
            }
            Command::SetVrf(vrf, reply) => {
                self.imports.set(*vrf, &self.rib);
                let _ = reply.send(());
            }
            Command::RemoveVrf(name, reply) => {
                self.imports.remove(&name);
                let _ = reply.send(());
            }
            Command::SubscribeImports(reply) => {
                let _ = reply.send(self.imports.subscribe());
            }
            Command::Shutdown(_) | Command::Abandon(_) => {}
        }
    }

    fn add_peer(&mut self, settings: PeerSettings) -> Result<()> {
        let addr = settings.config.remote_addr.to_canonical();
        if self.by_addr.contains_key(&addr) {
            return Err(Error::DuplicatePeer(addr));
        }
        if let Some(pw) = &settings.password
            && (pw.is_empty() || pw.len() > sockopt::MD5_MAX_KEY_LEN)
        {
            return Err(Error::Invalid(format!("TCP MD5 password for {addr}: 1 to 80 octets")));
        }
        let mut settings = settings;
        let graceful = settings.config.graceful_restart.is_some();
        if self.deferral.is_some()
            && let Some(gr) = settings.config.graceful_restart.as_mut()
        {
            // RFC 4724 §4.1: the Restart State bit until the session is established.
            gr.restarting = true;
        }
        let session = Session::new(settings.config.clone())?;
        for l in &self.listeners {
            let family_matches = l.local_addr().is_ok_and(|a| a.is_ipv6() == addr.is_ipv6());
            if family_matches && let Some(pw) = &settings.password {
                sockopt::set_md5(l.as_ref(), addr, Some(pw))
                    .map_err(|e| Error::io(format!("setting the TCP MD5 key for {addr}"), e))?;
            }
        }
        let id = PeerId(self.next_id);
        self.next_id += 1;
        let passive = settings.config.passive;
        // Nothing received yet: no best path changes.
        self.rib.set_import_policy(id, settings.import_policy.clone());
        self.peers.insert(
            id,
            PeerState {
                id,
                settings,
                session,
                adj_out: None,
                conns: HashMap::new(),
                pending: HashMap::new(),
                next_incoming: 1,
                refresh_requested: false,
            },
        );
        self.by_addr.insert(addr, id);
        if let Some(d) = self.deferral.as_mut() {
            d.peer_added(id, graceful);
        }
        self.drive(id, Input::Start { passive });
        Ok(())
    }

    fn remove_peer(&mut self, addr: IpAddr) -> Result<()> {
        let addr = addr.to_canonical();
        let id = self.by_addr.remove(&addr).ok_or(Error::UnknownPeer(addr))?;
        self.drive(id, Input::Stop { notification: None });
        if let Some(d) = self.deferral.as_mut() {
            d.remove(id);
        }
        if let Some(p) = self.peers.remove(&id) {
            for (_, t) in p.pending {
                t.abort();
            }
            for (_, c) in p.conns {
                c.reader.abort();
            }
            if p.settings.password.is_some() {
                for l in &self.listeners {
                    let _ = sockopt::set_md5(l.as_ref(), addr, None);
                }
            }
        }
        // Whatever the peer left behind (Down normally removed it all).
        let changes = self.rib.peer_down(id, &[]);
        self.propagate(&changes);
        self.rib.set_import_policy(id, None);
        Ok(())
    }

    /// New policies for a peer, its session untouched.
    fn set_policies(&mut self, addr: IpAddr, import: Option<Policy>, export: Option<Policy>) -> Result<()> {
        let addr = addr.to_canonical();
        let id = *self.by_addr.get(&addr).ok_or(Error::UnknownPeer(addr))?;
        let Some(p) = self.peers.get_mut(&id) else {
            return Err(Error::UnknownPeer(addr));
        };
        p.settings.export_policy.clone_from(&export);
        let export_changed = p.adj_out.as_ref().is_some_and(|a| a.export_policy() != export.as_ref());
        if export_changed && let Some(adj) = p.adj_out.as_mut() {
            adj.set_export_policy(export, &self.rib);
        }
        if p.settings.import_policy != import {
            p.settings.import_policy.clone_from(&import);
            let changes = self.rib.set_import_policy(id, import);
            self.propagate(&changes);
        }
        Ok(())
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Accepted(stream, remote) => self.accepted(stream, remote),
            Event::Connected { peer, conn, stream } => {
                let Some(p) = self.peers.get_mut(&peer) else { return };
                if p.pending.remove(&conn).is_none() {
                    return; // abandoned meanwhile
                }
                let c = start_conn(&self.events, peer, conn, stream);
                p.conns.insert(conn, c);
                self.drive(peer, Input::TcpConnected { connection: conn });
            }
            Event::ConnectFailed { peer, conn, error } => {
                let Some(p) = self.peers.get_mut(&peer) else { return };
                if p.pending.remove(&conn).is_none() {
                    return;
                }
                tracing::debug!("peer {}: {conn} failed: {error}", p.settings.config.remote_addr);
                self.drive(peer, Input::TcpFailed { connection: conn });
            }
            Event::Bytes { peer, conn, data } => {
                if self.peers.get(&peer).is_some_and(|p| p.conns.contains_key(&conn)) {
                    self.drive(peer, Input::Bytes { connection: conn, data });
                }
            }
            Event::Closed { peer, conn, error } => {
                let Some(p) = self.peers.get_mut(&peer) else { return };
                if p.conns.remove(&conn).is_none() {
                    return;
                }
                let input = match error {
                    Some(e) => {
                        tracing::debug!("peer {}: {conn} broke: {e}", p.settings.config.remote_addr);
                        Input::TcpFailed { connection: conn }
                    }
                    None => Input::TcpClosed { connection: conn },
                };
                self.drive(peer, input);
            }
        }
    }

    fn accepted(&mut self, stream: TcpStream, remote: SocketAddr) {
        let addr = remote.ip().to_canonical();
        let Some(&id) = self.by_addr.get(&addr) else {
            tracing::info!("closing a connection from {remote}: not a configured peer");
            return;
        };
        let Some(p) = self.peers.get_mut(&id) else { return };
        if p.settings.gtsm
            && let Err(e) = sockopt::set_gtsm(&stream, remote.is_ipv6(), 254)
        {
            tracing::warn!("peer {addr}: GTSM on the accepted connection: {e}");
            return;
        }
        let conn = ConnId::Incoming(p.next_incoming);
        p.next_incoming += 1;
        let c = start_conn(&self.events, id, conn, stream);
        p.conns.insert(conn, c);
        self.drive(id, Input::TcpConnected { connection: conn });
    }

    /// Feeds one input to a peer's session and carries out what it asks.
    fn drive(&mut self, id: PeerId, input: Input) {
        let now = self.now();
        let Some(p) = self.peers.get_mut(&id) else { return };
        let actions = p.session.handle(now, input);
        let mut over_limit = None;
        for action in actions {
            let update = matches!(action, Action::Update { .. });
            if update && over_limit.is_some() {
                continue; // the session is about to close; its routes go anyway
            }
            self.execute(id, action, now);
            if update {
                over_limit = self.over_limit(id);
                self.flush_long_queues();
            }
        }
        if let Some(stop) = over_limit {
            self.drive(id, stop);
        }
    }

    /// The AutomaticStop for a peer holding more prefixes of a family than its limit allows.
    fn over_limit(&self, id: PeerId) -> Option<Input> {
        let p = self.peers.get(&id)?;
        p.settings.max_prefixes.iter().find_map(|(&family, &limit)| {
            let count = self.rib.accepted_count(id, family);
            if count <= limit as usize {
                return None;
            }
            let name = format!("{}-{}", family.afi(), family.safi());
            tracing::warn!(
                "peer {}: {count} {name} prefixes exceed the limit of {limit}; closing the session (Cease/1, RFC 4486)",
                p.settings.config.remote_addr
            );
            Some(Input::AutomaticStop {
                notification: max_prefix_notification(family, limit),
                detail: format!("{count} {name} prefixes exceed the limit of {limit}"),
            })
        })
    }

    fn execute(&mut self, id: PeerId, action: Action, now: Time) {
        let Some(p) = self.peers.get_mut(&id) else { return };
        match action {
            Action::Connect { connection } => {
                let factory = self.factory.clone();
                let settings = p.settings.clone();
                let events = self.events.clone();
                let task = tokio::spawn(async move {
                    let ev = match connect(factory, settings).await {
                        Ok(stream) => Event::Connected {
                            peer: id,
                            conn: connection,
                            stream,
                        },
                        Err(e) => Event::ConnectFailed {
                            peer: id,
                            conn: connection,
                            error: e.to_string(),
                        },
                    };
                    let _ = events.send(ev);
                });
                p.pending.insert(connection, task);
            }
            Action::Send { connection, bytes } => {
                if let Some(c) = p.conns.get(&connection) {
                    let _ = c.tx.send(bytes);
                }
            }
            Action::Close { connection } => {
                if let Some(c) = p.conns.remove(&connection) {
                    // The writer flushes what is queued and closes once `tx` is gone.
                    c.reader.abort();
                }
                if let Some(t) = p.pending.remove(&connection) {
                    t.abort();
                }
            }
            Action::StateChanged { from, to } => {
                tracing::info!("peer {}: {from} -> {to}", p.settings.config.remote_addr);
            }
            Action::Log { level, message } => log(level, &message),
            Action::Established { negotiated, .. } => {
                let local = p
                    .session
                    .established_connection()
                    .and_then(|c| p.conns.get(&c))
                    .map(|c| c.local.ip().to_canonical())
                    .or(p.settings.local_address)
                    .unwrap_or(std::net::IpAddr::V4(self.config.router_id));
                let info = PeerInfo {
                    address: p.settings.config.remote_addr.to_canonical(),
                    asn: negotiated.peer_as,
                    router_id: negotiated.peer_id,
                    kind: if negotiated.internal {
                        PeerKind::Ibgp
                    } else {
                        PeerKind::Ebgp
                    },
                    rr_client: p.settings.rr_client,
                };
                let out = OutPeerConfig {
                    peer: id,
                    info,
                    local_as: self.config.local_as,
                    router_id: self.config.router_id,
                    cluster_id: self.config.cluster_id,
                    local_address: local,
                    caps: negotiated.send_caps().clone(),
                    families: negotiated.families.clone(),
                    mrai: p.settings.mrai,
                    default_local_pref: self.rib.config().decision.default_local_pref,
                };
                self.rib.peer_up(id, info);
                p.refresh_requested = false;
                match self.deferral.as_mut() {
                    Some(d) => {
                        // RFC 4724 §4.1: wait for the End-of-RIB of a peer that keeps our routes
                        // and did not restart itself.
                        let end_of_rib = match &negotiated.graceful_restart {
                            Some(gr) if !gr.restarted => negotiated.families.clone(),
                            _ => Default::default(),
                        };
                        d.established(id, end_of_rib, out);
                    }
                    None => self.open_adj_out(id, out),
                }
            }
            Action::Down { ref reason, .. } => {
                tracing::info!("peer {}: down: {reason}", p.settings.config.remote_addr);
                p.adj_out = None;
                if let Some(d) = self.deferral.as_mut() {
                    d.down(id);
                }
                let changes = self.rib.on_session_action(id, &action, now);
                self.propagate(&changes);
            }
            Action::RouteRefresh {
                subtype: RefreshSubtype::Request,
                ..
            } => {
                p.refresh_requested = true;
            }
            Action::Update { ref decoded } => {
                let rtc = decoded
                    .update
                    .announced()
                    .iter()
                    .chain(decoded.update.withdrawn_nlri().iter())
                    .any(|n| matches!(n, Nlri::Rtc(_)));
                if let Some(d) = self.deferral.as_mut()
                    && let Some(family) = decoded.update.end_of_rib_family()
                {
                    d.end_of_rib(id, family);
                }
                let changes = self.rib.on_session_action(id, &action, now);
                self.propagate(&changes);
                if rtc
                    && let Some(adj) = self.peers.get_mut(&id).and_then(|p| p.adj_out.as_mut())
                    && adj.config().families.contains(&Family::RtConstraint)
                {
                    adj.set_rt_filter(Some(RtFilter::of_peer(&self.rib, id)), &self.rib);
                }
            }
            Action::FlushStale { .. } | Action::RouteRefresh { .. } => {
                let changes = self.rib.on_session_action(id, &action, now);
                self.propagate(&changes);
            }
        }
    }

    fn propagate(&mut self, changes: &[BestChange]) {
        if changes.is_empty() {
            return;
        }
        self.imports.apply(changes, &self.rib.config().decision);
        let sources = weft_bgp::rib::sources(changes);
        for p in self.peers.values_mut() {
            if let Some(adj) = &mut p.adj_out {
                adj.best_changed_from(changes, sources.as_ref());
            }
        }
    }

    /// Sends the queues that grew long while one read's UPDATEs are applied (64 KiB of
    /// withdrawals is 16,000 routes): the output streams, and the queues stay small enough to be
    /// reused memory instead of fresh pages.
    fn flush_long_queues(&mut self) {
        if self
            .peers
            .values()
            .any(|p| p.adj_out.as_ref().is_some_and(|a| a.pending_len() >= FLUSH_QUEUE_AT))
        {
            self.send_updates();
        }
    }

    /// Hands every due batch of UPDATEs to its session; true when there were any.
    fn send_updates(&mut self) -> bool {
        let now = self.now();
        let mut sent = false;
        for p in self.peers.values_mut() {
            let Some(adj) = p.adj_out.as_mut() else { continue };
            if p.refresh_requested && !adj.has_pending() {
                // RFC 2918: advertise the Adj-RIB-Out again: a fresh one dumps every route (and
                // End-of-RIB markers, which the peer ignores outside a restart).
                p.refresh_requested = false;
                let mut fresh = AdjRibOut::new(adj.config().clone())
                    .with_export_policy(adj.export_policy().cloned())
                    .with_add_path_send(p.settings.add_path_send)
                    .with_ipv6_next_hop(p.settings.ipv6_next_hop);
                if fresh.config().families.contains(&Family::RtConstraint) {
                    fresh.set_rt_filter(Some(RtFilter::of_peer(&self.rib, p.id)), &self.rib);
                }
                fresh.initial_dump(&self.rib);
                *adj = fresh;
            }
        }
        let due: Vec<PeerId> = self
            .peers
            .values()
            .filter(|p| p.adj_out.as_ref().is_some_and(|a| a.due(now)))
            .map(|p| p.id)
            .collect();
        for id in due {
            let Some(adj) = self.peers.get_mut(&id).and_then(|p| p.adj_out.as_mut()) else {
                continue;
            };
            match adj.take_updates(now) {
                Ok(updates) => {
                    sent |= !updates.is_empty();
                    for u in updates {
                        self.drive(id, Input::SendUpdate(Box::new(u)));
                    }
                }
                Err(e) => tracing::error!("peer {id:?}: cannot encode UPDATEs: {e}"),
            }
        }
        sent
    }

    fn peer_status(&self) -> Vec<PeerStatus> {
        self.peers
            .values()
            .map(|p| {
                let mut prefixes = BTreeMap::new();
                // Counters the RIB and Adj-RIB-Out keep: this is asked every second, and counting
                // the tables would cost as much as the routes they hold.
                for family in p.settings.config.local_families() {
                    prefixes.insert(
                        family,
                        PrefixCounts {
                            received: self.rib.received_count(p.id, family),
                            accepted: self.rib.accepted_count(p.id, family),
                            best: self.rib.best_count(p.id, family),
                            sent: p.adj_out.as_ref().map_or(0, |adj| adj.sent_count(family)),
                        },
                    );
                }
                PeerStatus {
                    address: p.settings.config.remote_addr,
                    remote_as: p.settings.config.remote_as.get(),
                    session: p.session.status(),
                    prefixes,
                }
            })
            .collect()
    }
}
