//! Federation: the cluster's virtual networks over BGP. Every workload endpoint is exported as
//! an EVPN type 5 route of its network with its node as next hop ([`export`]); routes from other
//! clusters whose route targets a network imports become routes on the nodes of that network
//! ([`import`]), merged into their sync streams.
//!
//! One task owns it all: it follows the store (nodes, networks, endpoints, the cluster) and the
//! speaker's VRF tables, and keeps the speaker's originated routes equal to what the store says.
//! A restarted speaker starts from nothing: everything is originated and registered again.

mod export;
mod import;
pub mod routing;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use weft_api::{Kind, Resource};
use weft_bgp::rib::{Path, RouteKey, VrfRoute};
use weft_speaker::{SpeakerHandle, VrfEvent};

use crate::bgp::{BgpView, list};
use crate::state::{Command, Handle, Imported};
pub use routing::{VnRouting, vn_routing};

/// How long a burst of store changes may gather before one reconciliation takes them all.
const COALESCE: Duration = Duration::from_millis(10);
/// Changes queued after that which mean a stream of writes: reconcile less often.
const BUSY: usize = 8;

/// How often the task looks for a (re)started speaker, and retries after a failure.
const POLL: Duration = Duration::from_millis(500);

/// What the task knows; all of it belongs to the current speaker.
#[derive(Default)]
struct Federation {
    speaker: Option<SpeakerHandle>,
    imports: Option<mpsc::UnboundedReceiver<VrfEvent>>,
    /// The networks as last read from the store.
    networks: BTreeMap<String, VnRouting>,
    /// The VRFs registered with the speaker (their import side).
    registered: BTreeMap<String, VnRouting>,
    /// What the speaker originates for us.
    announced: BTreeMap<RouteKey, Path>,
    /// The speaker's VRF tables as reported.
    tables: BTreeMap<String, BTreeMap<IpNet, VrfRoute>>,
    /// Problems already logged, so that each is said once.
    said: BTreeSet<String>,
    /// Per network: routes installed and the ones refused, as last computed and as last written
    /// into the VirtualNetwork's status.
    import_status: BTreeMap<String, (u32, Vec<String>)>,
    written_status: BTreeMap<String, (u32, Vec<String>)>,
}

/// The most refused routes a VirtualNetwork's status lists.
const REFUSED_LISTED: usize = 20;

fn relevant(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Node
            | Kind::VirtualNetwork
            | Kind::WorkloadEndpoint
            | Kind::Cluster
            | Kind::Service
            | Kind::Pod
            | Kind::Namespace
            | Kind::BGPPeer
    )
}

/// Runs until the controller closes.
pub async fn federation_loop(handle: Handle, view: BgpView) {
    let mut events = match handle.call(|reply| Command::Subscribe { reply }).await {
        Ok(rx) => rx,
        Err(e) => {
            tracing::error!(error = %e, "federation: cannot subscribe to changes");
            return;
        }
    };
    let mut fed = Federation::default();
    let mut dirty = true;
    let started = std::time::Instant::now();
    let mut settled = false;
    let mut last_import = started;
    let mut last_cost = Duration::ZERO;
    let mut last_done = started;
    loop {
        if !settled && fed.settled(started, last_import).await {
            settled = true;
            tracing::info!(after = ?started.elapsed(), "federation: imported routes settled; nodes may sync");
            handle.set_imports_settled();
        }
        let running = view.speaker();
        let same = match (&running, &fed.speaker) {
            (Some(a), Some(b)) => a.same_speaker(b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            fed.restart(running).await;
            fed.publish(&handle);
            dirty = true;
        }
        if dirty && fed.speaker.is_some() {
            let computing = std::time::Instant::now();
            dirty = !fed.reconcile(&handle).await;
            fed.publish(&handle);
            last_cost = computing.elapsed();
            last_done = std::time::Instant::now();
        }
        fed.write_statuses(&handle).await;
        enum Woken {
            Closing,
            Tick,
            Store(bool),
            Import(Option<VrfEvent>),
        }
        let woken = {
            let imports = fed.imports.as_mut();
            tokio::select! {
                _ = handle.closing() => Woken::Closing,
                _ = tokio::time::sleep(POLL) => Woken::Tick,
                e = events.recv() => Woken::Store(match e {
                    Ok(e) => relevant(e.object.kind()),
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                }),
                e = async {
                    match imports {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => Woken::Import(e),
            }
        };
        match woken {
            Woken::Closing => return,
            Woken::Tick => {}
            Woken::Store(changed) => {
                dirty |= changed;
                // Take a burst of changes in one pass: a moment for the rest of it to arrive, and
                // under a stream of writes (many changes queued) at most one pass per twice the
                // last one's cost (each reads the store on its owner thread).
                if dirty {
                    tokio::time::sleep(COALESCE).await;
                }
                let mut queued = 0usize;
                while let Ok(e) = events.try_recv() {
                    dirty |= relevant(e.object.kind());
                    queued += 1;
                }
                if dirty && queued >= BUSY {
                    tokio::time::sleep((last_cost * 2).saturating_sub(last_done.elapsed())).await;
                    while let Ok(e) = events.try_recv() {
                        dirty |= relevant(e.object.kind());
                    }
                }
            }
            Woken::Import(None) => fed.imports = None,
            Woken::Import(Some(event)) => {
                last_import = std::time::Instant::now();
                fed.take(event);
                while let Some(event) = fed.imports.as_mut().and_then(|rx| rx.try_recv().ok()) {
                    fed.take(event);
                }
                fed.publish(&handle);
            }
        }
    }
}

/// Longest wait for the imports to settle after a start, whatever the sessions do.
const SETTLE_LIMIT: Duration = Duration::from_secs(15);
/// Quiet time after the last imported change (with every session up) that counts as settled.
const SETTLE_QUIET: Duration = Duration::from_millis(500);

impl Federation {
    /// Whether the imported routes are complete: every session is up and nothing was imported
    /// for a moment (a peer's End-of-RIB would be the exact signal), or no peer is configured
    /// at all, or the limit passed.
    async fn settled(&self, started: std::time::Instant, last_import: std::time::Instant) -> bool {
        if started.elapsed() >= SETTLE_LIMIT {
            return true;
        }
        if started.elapsed() < Duration::from_secs(1) {
            return false;
        }
        let Some(speaker) = &self.speaker else {
            return true; // no speaker yet (no Cluster): nothing to wait for
        };
        let Ok(peers) = speaker.peer_status().await else {
            return false;
        };
        peers
            .iter()
            .all(|p| p.session.state == weft_bgp::fsm::State::Established)
            && last_import.elapsed() >= SETTLE_QUIET
    }

    /// Starts over with another speaker (or none).
    async fn restart(&mut self, speaker: Option<SpeakerHandle>) {
        self.announced.clear();
        self.registered.clear();
        self.tables.clear();
        self.imports = None;
        if let Some(s) = &speaker {
            match s.subscribe_imports().await {
                Ok(rx) => self.imports = Some(rx),
                Err(e) => tracing::warn!(error = %e, "federation: cannot follow the speaker's VRFs"),
            }
        }
        self.speaker = speaker;
    }

    fn say(&mut self, problem: String) {
        if self.said.insert(problem.clone()) {
            tracing::warn!("federation: {problem}");
        }
    }

    /// Brings the speaker's VRFs and originated routes in line with the store; false to retry.
    async fn reconcile(&mut self, handle: &Handle) -> bool {
        let Some(speaker) = self.speaker.clone() else {
            return true;
        };
        let (Some(clusters), Some(vns), Some(nodes), Some(weps), Some(services), Some(peers)) = (
            list(handle, Kind::Cluster).await,
            list(handle, Kind::VirtualNetwork).await,
            list(handle, Kind::Node).await,
            list(handle, Kind::WorkloadEndpoint).await,
            list(handle, Kind::Service).await,
            list(handle, Kind::BGPPeer).await,
        ) else {
            return false;
        };
        // Peers that speak L3VPN but not EVPN get VPNv4/VPNv6 twins of the routes; others do not
        // need them (and a Weft peer would see every route twice).
        let l3vpn_only = peers.iter().any(|r| match r {
            Resource::BGPPeer(p) => {
                let f = &p.spec.families;
                f.iter().any(|f| f == "ipv4-vpn" || f == "ipv6-vpn") && !f.iter().any(|f| f == "l2vpn-evpn")
            }
            _ => false,
        });
        let (pods, namespaces) = if services.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            match (list(handle, Kind::Pod).await, list(handle, Kind::Namespace).await) {
                (Some(p), Some(n)) => (p, n),
                _ => return false,
            }
        };
        let (pod_cidrs, service_cidrs) = clusters
            .iter()
            .find_map(|r| match r {
                Resource::Cluster(c) => Some((c.spec.pod_cidrs.clone(), c.spec.service_cidrs.clone())),
                _ => None,
            })
            .unwrap_or_default();
        let (asn, router_id) = (speaker.local_as(), speaker.router_id());
        let mut networks = BTreeMap::new();
        for r in &vns {
            let Resource::VirtualNetwork(vn) = r else { continue };
            match vn_routing(vn, asn, router_id, &pod_cidrs) {
                Ok(mut routing) => {
                    // ClusterIPs are addresses of every network here too.
                    routing
                        .local_subnets
                        .extend(service_cidrs.iter().filter_map(|c| c.parse::<IpNet>().ok()));
                    networks.insert(routing.name.clone(), routing);
                }
                Err(e) => self.say(format!(
                    "VirtualNetwork/{}: {e}",
                    vn.metadata.name.as_deref().unwrap_or_default()
                )),
            }
        }
        self.networks = networks;
        // Import side: one VRF per network; re-registered only when its import changed.
        let gone: Vec<String> = self
            .registered
            .keys()
            .filter(|n| !self.networks.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if speaker.remove_vrf(&name).await.is_err() {
                return false;
            }
            self.registered.remove(&name);
        }
        for (name, routing) in &self.networks {
            if self.registered.get(name) == Some(routing) {
                continue;
            }
            // The router's MAC matters for export only, which goes per node (see `export`).
            if speaker.set_vrf(routing.vrf([0; 6])).await.is_err() {
                return false;
            }
            self.registered.insert(name.clone(), routing.clone());
        }
        // Export side.
        let nodes: Vec<_> = nodes
            .into_iter()
            .filter_map(|r| match r {
                Resource::Node(n) => Some(n),
                _ => None,
            })
            .collect();
        let weps: Vec<_> = weps
            .into_iter()
            .filter_map(|r| match r {
                Resource::WorkloadEndpoint(w) => Some(w),
                _ => None,
            })
            .collect();
        let mut desired = export::desired(asn, router_id, &self.networks, &nodes, &weps);
        if !services.is_empty() {
            let mut objects = crate::state::service_view::Objects {
                endpoints: weps.iter().collect(),
                nodes: nodes.iter().collect(),
                ..Default::default()
            };
            objects.take(services.iter().chain(&pods).chain(&namespaces));
            let all = crate::state::service_view::services(&objects);
            desired.extend(export::service_routes(asn, router_id, &self.networks, &nodes, &all));
        }
        if l3vpn_only {
            let twins: Vec<(RouteKey, Path)> = desired.values().filter_map(export::vpn_twin).collect();
            desired.extend(twins);
        }
        let announce: Vec<Path> = desired
            .iter()
            .filter(|(k, p)| self.announced.get(*k) != Some(*p))
            .map(|(_, p)| p.clone())
            .collect();
        let withdraw: Vec<RouteKey> = self
            .announced
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned()
            .collect();
        if announce.is_empty() && withdraw.is_empty() {
            return true;
        }
        tracing::debug!(
            announce = announce.len(),
            withdraw = withdraw.len(),
            "federation: originating"
        );
        if speaker.originate(announce, withdraw).await.is_err() {
            return false;
        }
        self.announced = desired;
        true
    }

    fn take(&mut self, event: VrfEvent) {
        let table = self.tables.entry(event.vrf).or_default();
        for c in event.changes {
            match c.new {
                Some(route) => {
                    table.insert(c.prefix, route);
                }
                None => {
                    table.remove(&c.prefix);
                }
            }
        }
    }

    /// Hands the imported routes to the nodes' sync streams.
    fn publish(&mut self, handle: &Handle) {
        let mut imported = Imported::new();
        let mut problems = Vec::new();
        let mut status: BTreeMap<String, (u32, Vec<String>)> =
            self.networks.keys().map(|n| (n.clone(), (0, Vec::new()))).collect();
        for (name, table) in &self.tables {
            let Some(routing) = self.networks.get(name) else {
                continue;
            };
            for route in table.values() {
                let entry = status.entry(name.clone()).or_default();
                match import::remote_route(routing, route) {
                    Ok(r) => {
                        entry.0 += 1;
                        imported.entry(name.clone()).or_default().insert(r.key(), r);
                    }
                    Err(reason) => {
                        entry.1.push(reason.clone());
                        problems.push(format!("network {name}: not installed: {reason}"));
                    }
                }
            }
        }
        for p in problems {
            self.say(p);
        }
        self.import_status = status;
        handle.set_imported(imported);
    }

    /// Writes what each network imported into its status, where that changed.
    async fn write_statuses(&mut self, handle: &Handle) {
        let changed: Vec<(String, (u32, Vec<String>))> = self
            .import_status
            .iter()
            .filter(|(n, s)| self.written_status.get(*n) != Some(*s))
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        for (name, (count, refused)) in changed {
            let mut listed: Vec<String> = refused.iter().take(REFUSED_LISTED).cloned().collect();
            if refused.len() > REFUSED_LISTED {
                listed.push(format!("... and {} more", refused.len() - REFUSED_LISTED));
            }
            let vn = weft_api::VirtualNetwork {
                metadata: weft_api::ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: Default::default(),
                status: Some(weft_api::VirtualNetworkStatus {
                    imported_routes: Some(count),
                    refused_routes: listed,
                    ..Default::default()
                }),
            };
            let resource = Box::new(Resource::VirtualNetwork(vn));
            match handle.call(|reply| Command::WriteStatus { resource, reply }).await {
                Ok(_) => {
                    self.written_status.insert(name, (count, refused));
                }
                Err(e) => tracing::debug!(network = %name, error = %e, "federation: cannot write the status"),
            }
        }
    }
}
