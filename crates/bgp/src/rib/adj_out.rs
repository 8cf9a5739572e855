//! Adj-RIB-Out (RFC 4271 §3.2, §9.2): the UPDATEs that bring one peer in line with the
//! Loc-RIB's best paths.
//!
//! What the peer holds is not stored per route: it is the export of each best path (the rules
//! below are a function of the path and this peer's settings), except for the changes still
//! queued, which remember what the peer had before them. RFC 4271 §3.2 allows this ("need not be
//! implemented as ... separate copies"), and it is what keeps a full table from costing one more
//! copy of every route per peer (BIRD keeps no export table by default either). Settings that
//! change the export (policy, RT constraint) work out the old and new export of every route.
//!
//! Export rules (RFC 4271 §5.1, §9.2; RFC 4456 §6, §8):
//! - never back to the peer the path came from;
//! - iBGP-learned paths go to iBGP peers only when this speaker is a route reflector: from a
//!   client to every peer, from a non-client to clients only; reflected paths get ORIGINATOR_ID
//!   (when they have none) and the cluster id prepended to CLUSTER_LIST;
//! - to an eBGP peer: own AS prepended, NEXT_HOP self, no LOCAL_PREF, no MED learned from
//!   another AS (one this speaker set goes out), no ORIGINATOR_ID or CLUSTER_LIST;
//! - to an iBGP peer: LOCAL_PREF always (the default when the path has none), NEXT_HOP kept
//!   except for locally originated paths without one (self);
//! - with RT constraint negotiated, VPN and EVPN paths only when the peer asked for one of
//!   their route targets ([`RtFilter`]).
//! - last, the peer's export policy ([`Policy`]) on the route as it would be sent: rejected
//!   routes are not sent (withdrawn if they were), accepted ones get its communities.
//!
//! Changes are queued per key and go out when the MinRouteAdvertisementInterval (§9.2.1.1, here a
//! per-peer minimum interval between batches) allows: [`AdjRibOut::due`] with the time passed in.
//! Queued announcements sharing attributes and next hop are packed into as few UPDATEs as the
//! session's maximum message size allows. The best path is advertised; with ADD-PATH send
//! negotiated it carries path identifier 1, and [`AdjRibOut::with_add_path_send`] adds the next
//! paths in decision order with identifiers 2, 3, ... (RFC 7911).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use super::decision::compare;
use super::key::RouteKey;
use super::loc::{BestChange, Rib};
use super::out_queue::{Change, Export, OutQueue};
use super::packing::Packer;
use super::path::{Path, PeerId, PeerInfo, PeerKind};
use super::policy::Policy;
use super::rtc::RtFilter;
use super::stored::Stored;
use super::table::{FastMap, hash_key};
use super::view::PathView;
use crate::attribute::{AsPath, AsSegment, NextHop, PathAttributes, SegmentType};
use crate::codec::SessionCaps;
use crate::error::EncodeError;
use crate::family::Family;
use crate::fsm::Time;
use crate::message::Update;
use crate::nlri::Nlri;

/// One peer as the Adj-RIB-Out sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutPeerConfig {
    pub peer: PeerId,
    pub info: PeerInfo,
    /// This speaker's AS and router id.
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// Set when this speaker is a route reflector (RFC 4456 §7).
    pub cluster_id: Option<Ipv4Addr>,
    /// This speaker's address on the session: NEXT_HOP self.
    pub local_address: IpAddr,
    /// The send direction of the negotiated capabilities.
    pub caps: SessionCaps,
    /// The families negotiated with the peer.
    pub families: BTreeSet<Family>,
    /// MinRouteAdvertisementInterval (RFC 4271 §10: 30 s eBGP, 5 s iBGP are the suggestions).
    pub mrai: Duration,
    pub default_local_pref: u32,
}

/// A route as sent to the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub nlri: Nlri,
    /// Without NEXT_HOP, MP_REACH_NLRI or MP_UNREACH_NLRI.
    pub attributes: Arc<PathAttributes>,
    pub next_hop: NextHop,
}

#[derive(Debug, Clone)]
pub struct AdjRibOut {
    config: OutPeerConfig,
    /// Queued changes: what the peer had before them and what it gets.
    pending: OutQueue,
    /// The peer follows the best paths: [`AdjRibOut::initial_dump`] or
    /// [`AdjRibOut::best_changed`] ran. Settings changed before that queue nothing.
    dumped: bool,
    end_of_rib: Vec<Family>,
    last_sent: Option<Time>,
    rt_filter: Option<RtFilter>,
    /// The peer's export policy, applied to the route as it would be sent.
    policy: Option<Policy>,
    /// ADD-PATH send (RFC 7911): how many paths per destination to advertise where the session
    /// negotiated it (1: the best only).
    send_paths: usize,
    /// The paths after the best (path identifiers 2 and up; the best is 1), as advertised and
    /// queued, by destination and path identifier.
    extra_advertised: BTreeMap<(RouteKey, u32), Outgoing>,
    extra_pending: BTreeMap<(RouteKey, u32), Option<Outgoing>>,
    /// NEXT_HOP self for IPv6 and VPNv6 routes on an IPv4 session; `None`: the IPv4-mapped
    /// session address.
    ipv6_next_hop: Option<Ipv6Addr>,
    /// Routes advertised (best paths) per family, kept as they change.
    sent: FastMap<Family, usize>,
    /// The attributes as sent, by the received attributes they come from (the allocation every
    /// path of one UPDATE shares) and what else they depend on: every route of one received
    /// UPDATE goes out with one shared allocation, computed once.
    exported: HashMap<ExportSource, (Arc<PathAttributes>, Option<Arc<PathAttributes>>)>,
    /// The last entry of `exported` used (its source allocation is alive: `exported` holds it).
    last_exported: Option<(ExportSource, Option<Arc<PathAttributes>>)>,
}

/// What the attributes sent for a path depend on besides this peer: the received attributes'
/// allocation, the kind of peer the path came from and its router id.
type ExportSource = (usize, PeerKind, Ipv4Addr);

/// One path of each source (attributes allocation and peer) of the paths in `changes`, for
/// [`AdjRibOut::best_changed_from`]; `None` past [`MAX_SOURCES`] (the routes of one UPDATE share
/// a source, so the list is short; paths learned one UPDATE each are not worth listing).
pub fn sources(changes: &[BestChange]) -> Option<Sources<'_>> {
    let mut out: Vec<&Stored> = Vec::new();
    let mut last = (0, 0);
    for p in changes.iter().flat_map(|c| [c.old.as_ref(), c.new.as_ref()]).flatten() {
        let s = source_of(Some(p));
        if s != last && !out.iter().any(|q| source_of(Some(*q)) == s) {
            if out.len() == MAX_SOURCES {
                return None;
            }
            out.push(p);
        }
        last = s;
    }
    Some(Sources(out))
}

/// One path of each source of a batch of changes ([`sources`]).
#[derive(Debug)]
pub struct Sources<'a>(Vec<&'a Stored>);

impl Sources<'_> {
    /// How many sources the batch has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The most sources [`sources`] lists.
const MAX_SOURCES: usize = 16;

/// A path's attributes allocation and peer (0s for no path): what [`AdjRibOut::refuses`]
/// depends on.
fn source_of<P: PathView>(path: Option<&P>) -> (usize, u32) {
    path.map_or((0, 0), |p| (Arc::as_ptr(p.attributes()) as usize, p.peer().0))
}

fn export_source<P: PathView>(path: &P) -> ExportSource {
    let info = path.peer_info();
    (Arc::as_ptr(path.attributes()) as usize, info.kind, info.router_id)
}

/// Past this many cached attribute sets, those no path uses any more are forgotten.
const EXPORT_CACHE_PRUNE: usize = 4096;

impl AdjRibOut {
    pub fn new(config: OutPeerConfig) -> AdjRibOut {
        AdjRibOut {
            config,
            pending: OutQueue::default(),
            dumped: false,
            end_of_rib: Vec::new(),
            last_sent: None,
            rt_filter: None,
            policy: None,
            send_paths: 1,
            extra_advertised: BTreeMap::new(),
            extra_pending: BTreeMap::new(),
            ipv6_next_hop: None,
            sent: FastMap::default(),
            exported: HashMap::new(),
            last_exported: None,
        }
    }

    /// The same Adj-RIB-Out with this speaker's IPv6 address as NEXT_HOP self of IPv6 and VPNv6
    /// routes on an IPv4 session (RFC 2545 §3, RFC 4659 §3.2.1.1), instead of the IPv4-mapped
    /// session address, which some peers refuse (BIRD 2: "mismatched address family").
    pub fn with_ipv6_next_hop(mut self, address: Option<Ipv6Addr>) -> AdjRibOut {
        self.ipv6_next_hop = address;
        self
    }

    /// The same Adj-RIB-Out advertising up to `paths` paths per destination (RFC 7911) in the
    /// families whose ADD-PATH send direction the session negotiated, before anything is queued:
    /// the best with path identifier 1, the next ones in decision order with 2, 3, ... Feed it
    /// [`AdjRibOut::paths_changed`] besides [`AdjRibOut::best_changed`].
    pub fn with_add_path_send(mut self, paths: usize) -> AdjRibOut {
        self.send_paths = paths.max(1);
        self
    }

    /// Whether it advertises more than the best path ([`AdjRibOut::with_add_path_send`]).
    pub fn sends_several_paths(&self) -> bool {
        self.send_paths > 1
    }

    /// Queues what changes of the paths of `keys` (any path, not only the best: the RIB's
    /// [`Rib::take_path_changes`]) mean for the paths after the best.
    pub fn paths_changed(&mut self, keys: &[RouteKey], rib: &Rib) {
        for key in keys {
            self.consider_extra(key, rib);
        }
    }

    /// RFC 7911: the paths after the best one, in decision order, that this peer may get, up to
    /// the configured count, as path identifiers 2, 3, ...; the identifiers no longer used are
    /// withdrawn.
    fn consider_extra(&mut self, key: &RouteKey, rib: &Rib) {
        if self.send_paths <= 1 || !self.config.caps.add_path(key.family()) {
            return;
        }
        let best = rib.best(key);
        let ctx = rib.config().decision;
        let all = rib.paths(key);
        let mut others: Vec<&Path> = all
            .iter()
            .filter(|p| {
                !best
                    .as_ref()
                    .is_some_and(|b| b.peer == p.peer && b.path_id == p.path_id)
            })
            .collect();
        others.sort_by(|a, b| compare(a, b, &ctx));
        let desired: Vec<Outgoing> = others
            .into_iter()
            .filter_map(|p| self.export(key, p))
            .take(self.send_paths - 1)
            .collect();
        let used = desired.len() as u32 + 2;
        for (id, mut out) in (2u32..).zip(desired) {
            out.nlri = out.nlri.with_path_id(Some(id));
            let slot = (key.clone(), id);
            if self.extra_advertised.get(&slot) == Some(&out) {
                self.extra_pending.remove(&slot);
            } else {
                self.extra_pending.insert(slot, Some(out));
            }
        }
        let from = (key.clone(), used);
        let unused: BTreeSet<(RouteKey, u32)> = self
            .extra_advertised
            .range(from.clone()..)
            .map(|(s, _)| s)
            .chain(self.extra_pending.range(from..).map(|(s, _)| s))
            .take_while(|(k, _)| k == key)
            .cloned()
            .collect();
        for slot in unused {
            if self.extra_advertised.contains_key(&slot) {
                self.extra_pending.insert(slot, None);
            } else {
                self.extra_pending.remove(&slot);
            }
        }
    }

    /// The same Adj-RIB-Out with an export policy, before anything is queued.
    pub fn with_export_policy(mut self, policy: Option<Policy>) -> AdjRibOut {
        self.policy = policy;
        self.exported.clear();
        self.last_exported = None;
        self
    }

    pub fn export_policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// Replaces the export policy and queues the difference it makes: routes it now rejects are
    /// withdrawn, routes it now accepts or changes are announced.
    pub fn set_export_policy(&mut self, policy: Option<Policy>, rib: &Rib) {
        let keys: Vec<RouteKey> = rib.best_paths().map(|(k, _)| k).collect();
        self.reconfigure(&keys, rib, |out| {
            out.policy = policy;
            out.exported.clear();
            out.last_exported = None;
        });
    }

    /// Applies `change` to the settings and queues, for every key of `keys`, the difference
    /// between the best path's export before and after it.
    fn reconfigure(&mut self, keys: &[RouteKey], rib: &Rib, change: impl FnOnce(&mut AdjRibOut)) {
        if !self.dumped {
            // The peer has nothing yet; the initial dump will use the new settings.
            change(self);
            return;
        }
        let mut queued = std::mem::take(&mut self.pending);
        for c in queued.values_mut() {
            c.sent = self.pin(c.sent.take());
            c.desired = self.pin(c.desired.take());
        }
        self.pending = queued;
        let mut before: Vec<Option<Export>> = Vec::with_capacity(keys.len());
        for k in keys {
            let sent = match self.pending.get(k) {
                Some(c) => c.sent.clone(),
                None => {
                    let e = rib.best_stored(k).and_then(|p| self.export_stored(k, p));
                    self.pin(e)
                }
            };
            before.push(sent);
        }
        change(self);
        for (key, sent) in keys.iter().zip(before) {
            let desired = rib.best_stored(key).and_then(|p| self.export_stored(key, p));
            self.queue(key, sent, desired);
            self.consider_extra(key, rib);
        }
    }

    pub fn config(&self) -> &OutPeerConfig {
        &self.config
    }

    /// Queues every best path of the RIB and End-of-RIB for every negotiated family (RFC 4724
    /// §2), sent once the dump is out.
    pub fn initial_dump(&mut self, rib: &Rib) {
        self.dumped = true;
        for (key, path) in rib.best_stored_paths() {
            let desired = self.export_stored(&key, path);
            self.queue(&key, None, desired);
            self.consider_extra(&key, rib);
        }
        self.end_of_rib = self.config.families.iter().copied().collect();
    }

    /// Queues what the best path changes mean for this peer.
    pub fn best_changed(&mut self, changes: &[BestChange]) {
        self.dumped = true;
        // The sources (attributes allocation and peer) of the last change refused: the routes of
        // one UPDATE come in a run, and the Paths of `changes` keep every allocation alive, so an
        // address seen again is the same source.
        let mut refused: Option<[(usize, u32); 2]> = None;
        for c in changes {
            // Nothing queued, and neither path is for this peer: nothing to do.
            if self.pending.is_empty() {
                let sources = [source_of(c.old.as_ref()), source_of(c.new.as_ref())];
                if refused == Some(sources) {
                    continue;
                }
                if c.old.as_ref().is_none_or(|p| self.refuses(p)) && c.new.as_ref().is_none_or(|p| self.refuses(p)) {
                    refused = Some(sources);
                    continue;
                }
            }
            self.consider(&c.key, c.old.as_ref(), c.new.as_ref());
        }
    }

    /// [`AdjRibOut::best_changed`] for a batch whose paths come from `sources` (see
    /// [`sources`]): a peer that refuses every one of them and has nothing queued passes over
    /// the whole batch at once (a full table withdrawn by one peer costs the others nothing per
    /// route).
    pub fn best_changed_from(&mut self, changes: &[BestChange], sources: Option<&Sources>) {
        if self.pending.is_empty() && sources.is_some_and(|s| s.0.iter().all(|p| self.refuses(*p))) {
            self.dumped = true;
            return;
        }
        self.best_changed(changes);
    }

    /// How many changes are queued.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Sets the peer's RT constraint (`None`: RTC not negotiated, no filtering) and requeues
    /// every VPN and EVPN route accordingly.
    pub fn set_rt_filter(&mut self, filter: Option<RtFilter>, rib: &Rib) {
        let keys: Vec<RouteKey> = rib
            .best_paths()
            .map(|(k, _)| k)
            .filter(RouteKey::rt_constrained)
            .collect();
        self.reconfigure(&keys, rib, |out| out.rt_filter = filter);
    }

    /// What the peer has for `key`, queued changes included: the export of the best path.
    pub fn advertised(&self, key: &RouteKey, rib: &Rib) -> Option<Outgoing> {
        match self.pending.get(key) {
            Some(c) => c.desired.as_ref().and_then(|e| self.outgoing_of(key, e)),
            None => rib.best(key).and_then(|p| self.export(key, &p)),
        }
    }

    /// How many routes the peer was sent (best paths, without ADD-PATH extras).
    pub fn advertised_count(&self) -> usize {
        self.sent.values().sum()
    }

    /// How many routes of `family` the peer was sent (best paths, without ADD-PATH extras).
    pub fn sent_count(&self, family: Family) -> usize {
        self.sent.get(&family).copied().unwrap_or(0)
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.end_of_rib.is_empty() || !self.extra_pending.is_empty()
    }

    /// When the queued changes may go: `None` with nothing queued.
    pub fn next_due(&self) -> Option<Time> {
        if !self.has_pending() {
            return None;
        }
        Some(self.last_sent.map_or(Time::ZERO, |t| t + self.config.mrai))
    }

    pub fn due(&self, now: Time) -> bool {
        self.next_due().is_some_and(|t| now >= t)
    }

    /// The UPDATEs to send now: nothing before [`AdjRibOut::due`]. Withdrawals first, then the
    /// announcements grouped by attributes and next hop, then any End-of-RIB markers.
    pub fn take_updates(&mut self, now: Time) -> Result<Vec<Update>, EncodeError> {
        if !self.due(now) {
            return Ok(Vec::new());
        }
        let pending = self.pending.take();
        let caps = self.config.caps.clone();
        let mut packer = Packer::new(&caps);
        for (key, change) in pending {
            let family = key.family();
            if self.same_export(&key, change.sent.as_ref(), change.desired.as_ref()) {
                continue;
            }
            match (change.sent, change.desired) {
                (Some(old), None) => {
                    packer.withdraw(family, self.sent_nlri(&key, &old.path))?;
                    if let Some(n) = self.sent.get_mut(&family) {
                        *n = n.saturating_sub(1);
                    }
                }
                (None, None) => {}
                (sent, Some(out)) => {
                    let Some(attributes) = self.attributes_of(&out) else {
                        // Accepted when queued under these settings: cannot be refused now.
                        continue;
                    };
                    let next_hop = self.sent_next_hop(&key, &out.path);
                    packer.announce(family, &attributes, next_hop, self.sent_nlri(&key, &out.path))?;
                    if sent.is_none() {
                        *self.sent.entry(family).or_default() += 1;
                    }
                }
            }
        }
        for ((key, id), change) in std::mem::take(&mut self.extra_pending) {
            let family = key.family();
            match change {
                None => {
                    if let Some(old) = self.extra_advertised.remove(&(key, id)) {
                        packer.withdraw(family, old.nlri)?;
                    }
                }
                Some(out) => {
                    packer.announce(family, &out.attributes, out.next_hop, out.nlri.clone())?;
                    self.extra_advertised.insert((key, id), out);
                }
            }
        }
        let mut updates = packer.finish()?;
        updates.extend(std::mem::take(&mut self.end_of_rib).into_iter().map(Update::end_of_rib));
        if !updates.is_empty() {
            // Queued changes that undid each other send nothing and start no interval.
            self.last_sent = Some(now);
        }
        Ok(updates)
    }

    /// Queues what the best path of `key` changing from `old` to `new` means for this peer.
    fn consider(&mut self, key: &RouteKey, old: Option<&Stored>, new: Option<&Stored>) {
        let desired = new.and_then(|p| self.export_stored(key, p));
        let hash = hash_key(key);
        match self.pending.get_mut_hashed(key, hash) {
            // Back to what the peer has, it may be: then nothing goes.
            Some(c) => c.desired = desired,
            None => {
                // The peer has the old best path's export (every earlier change was sent).
                let sent = old.and_then(|p| self.export_stored(key, p));
                if !self.same_export(key, sent.as_ref(), desired.as_ref()) {
                    self.pending.push_hashed(key.clone(), hash, Change { sent, desired });
                }
            }
        }
    }

    /// Queues a change from `sent` (what the peer has, when nothing is queued for `key`) to
    /// `desired`, or drops the queued one that the change undoes.
    fn queue(&mut self, key: &RouteKey, sent: Option<Export>, desired: Option<Export>) {
        let same = self.same_export(key, sent.as_ref(), desired.as_ref());
        match self.pending.get_mut(key) {
            // Back to what the peer has, it may be: then nothing goes.
            Some(c) => c.desired = desired,
            None if same => {}
            None => self.pending.push(key.clone(), Change { sent, desired }),
        }
    }

    /// The route as this peer gets it, or `None` when it must not get it.
    pub fn export(&self, key: &RouteKey, path: &Path) -> Option<Outgoing> {
        self.export_view(key, path)
    }

    fn export_view<P: PathView>(&self, key: &RouteKey, path: &P) -> Option<Outgoing> {
        if !self.may_send(key, path) {
            return None;
        }
        let attributes = Arc::new(self.export_attributes(path)?);
        Some(self.outgoing(key, path, attributes))
    }

    /// [`AdjRibOut::export`] of a stored path, kept as the path and the attributes it gets
    /// (shared by every route whose received attributes were one allocation).
    fn export_stored(&mut self, key: &RouteKey, path: &Stored) -> Option<Export> {
        if let Some((last, None)) = &self.last_exported
            && *last == export_source(path)
        {
            // The export policy rejects these attributes: nothing else to work out.
            return None;
        }
        if !self.may_send(key, path) || self.shared_attributes_ref(path).is_none() {
            return None;
        }
        Some(Export {
            path: path.clone(),
            attributes: None,
        })
    }

    /// The attributes `export` goes out with: pinned ones, or the current export of its path's.
    fn attributes_of(&mut self, export: &Export) -> Option<Arc<PathAttributes>> {
        match &export.attributes {
            Some(a) => Some(a.clone()),
            None => self.shared_attributes_ref(&export.path).cloned(),
        }
    }

    /// Before a settings change: every queued export gets the attributes it has under the
    /// settings it was queued with, so that the change is seen against them.
    fn pin(&mut self, export: Option<Export>) -> Option<Export> {
        let mut e = export?;
        if e.attributes.is_none() {
            // Queued exports were accepted under these settings; `None` would mean a bug.
            e.attributes = Some(self.shared_attributes_ref(&e.path)?.clone());
        }
        Some(e)
    }

    /// The route `export` stands for, as it goes on the wire.
    fn outgoing_of(&self, key: &RouteKey, export: &Export) -> Option<Outgoing> {
        let attributes = match &export.attributes {
            Some(a) => a.clone(),
            None => Arc::new(self.export_attributes(&export.path)?),
        };
        Some(self.outgoing(key, &export.path, attributes))
    }

    /// Whether two exports (or their absence) are the same route to the peer: the same
    /// attributes, NLRI and next hop as sent.
    fn same_export(&mut self, key: &RouteKey, a: Option<&Export>, b: Option<&Export>) -> bool {
        let (a, b) = match (a, b) {
            (None, None) => return true,
            (Some(a), Some(b)) => (a, b),
            _ => return false,
        };
        let same_source = Arc::ptr_eq(&a.path.source, &b.path.source);
        if !a.path.same_nlri(&b.path)
            || (!same_source && self.sent_next_hop(key, &a.path) != self.sent_next_hop(key, &b.path))
        {
            return false;
        }
        if same_source && a.attributes.is_none() && b.attributes.is_none() {
            // The same received attributes under the same settings.
            return true;
        }
        match (self.attributes_of(a), self.attributes_of(b)) {
            (Some(x), Some(y)) => Arc::ptr_eq(&x, &y) || x == y,
            (x, y) => x.is_none() && y.is_none(),
        }
    }

    /// The path's attributes as this peer gets them, computed once for every path with the
    /// same received attributes (one UPDATE's routes): `None` when the export policy rejects
    /// them.
    fn shared_attributes_ref<P: PathView>(&mut self, path: &P) -> Option<&Arc<PathAttributes>> {
        let source = export_source(path);
        let hit = matches!(&self.last_exported, Some((last, _)) if *last == source);
        // The previous route came from the same UPDATE: no lookup.
        if !hit {
            let sent = match self.exported.get(&source) {
                Some((_, sent)) => sent.clone(),
                None => {
                    if self.exported.len() >= EXPORT_CACHE_PRUNE {
                        // The cache holds each source allocation: one only it holds is gone.
                        self.exported.retain(|_, (from, _)| Arc::strong_count(from) > 1);
                    }
                    let sent = self.export_attributes(path).map(Arc::new);
                    self.exported.insert(source, (path.attributes().clone(), sent.clone()));
                    sent
                }
            };
            self.last_exported = Some((source, sent));
        }
        self.last_exported.as_ref().and_then(|(_, sent)| sent.as_ref())
    }

    /// Whether this peer gets nothing of `path`, whatever its key: the path came from it, the
    /// reflection rules keep it, or the export policy rejects its attributes. A peer that gets
    /// nothing of a run of changes (the routes of one UPDATE) passes over them at the cost of
    /// a comparison each.
    fn refuses<P: PathView>(&mut self, path: &P) -> bool {
        !self.may_get(path) || self.shared_attributes_ref(path).is_none()
    }

    /// Split horizon (RFC 4271 §9.2) and the reflection rules (RFC 4456 §6).
    fn may_get<P: PathView>(&self, path: &P) -> bool {
        let c = &self.config;
        if path.peer() == c.peer {
            return false;
        }
        let to_ebgp = c.info.kind == PeerKind::Ebgp;
        let info = path.peer_info();
        let reflect = info.kind == PeerKind::Ibgp && !to_ebgp;
        // RFC 4456 §6: client to everyone, non-client to clients; without reflection, never.
        !(reflect && (c.cluster_id.is_none() || !(info.rr_client || c.info.rr_client)))
    }

    fn outgoing<P: PathView>(&self, key: &RouteKey, path: &P, attributes: Arc<PathAttributes>) -> Outgoing {
        Outgoing {
            nlri: self.sent_nlri(key, path),
            attributes,
            next_hop: self.sent_next_hop(key, path),
        }
    }

    /// The NLRI of the path as sent: with path identifier 1 where ADD-PATH send was negotiated
    /// (RFC 7911 §3), none otherwise.
    fn sent_nlri<P: PathView>(&self, key: &RouteKey, path: &P) -> Nlri {
        let path_id = self.config.caps.add_path(key.family()).then_some(1);
        path.nlri(key).with_path_id(path_id)
    }

    /// Whether this peer may get the path (RFC 4271 §9.2, RFC 4456 §6, RFC 4684).
    fn may_send<P: PathView>(&self, key: &RouteKey, path: &P) -> bool {
        if !self.may_get(path) || !self.config.families.contains(&key.family()) {
            return false;
        }
        match &self.rt_filter {
            Some(filter) if key.rt_constrained() => filter.allows_targets(path.route_targets()),
            _ => true,
        }
    }

    /// The next hop the path goes out with to this peer (RFC 4271 §5.1.3), in the form its
    /// family carries.
    fn sent_next_hop<P: PathView>(&self, key: &RouteKey, path: &P) -> NextHop {
        let c = &self.config;
        let family = key.family();
        let to_ebgp = c.info.kind == PeerKind::Ebgp;
        let own_hop = match (self.ipv6_next_hop, c.local_address) {
            (Some(v6), IpAddr::V4(_)) if matches!(family, Family::Ipv6Unicast | Family::Vpnv6) => {
                NextHop::new(IpAddr::V6(v6))
            }
            _ => NextHop::new(c.local_address),
        };
        let hop = if to_ebgp {
            match path.next_hop() {
                // A third-party next hop (RFC 4271 §5.1.3): a controller originates VPN and EVPN
                // routes for the nodes that forward (RFC 9136 §3: the NVE's VTEP); it is not on
                // the data path, so it must not put itself there.
                Some(h) if path.peer_info().kind == PeerKind::Local && !h.address.is_unspecified() => h,
                _ => own_hop,
            }
        } else {
            match path.next_hop() {
                Some(h) if path.peer_info().kind != PeerKind::Local || !h.address.is_unspecified() => h,
                _ => own_hop,
            }
        };
        next_hop_for(family, hop)
    }

    /// The path's attributes as this peer gets them (the export policy applied), `None` when the
    /// policy rejects them. Depends on the path's attributes, peer kind and router id only.
    fn export_attributes<P: PathView>(&self, path: &P) -> Option<PathAttributes> {
        let c = &self.config;
        let to_ebgp = c.info.kind == PeerKind::Ebgp;
        let info = path.peer_info();
        let reflect = info.kind == PeerKind::Ibgp && !to_ebgp;
        let mut a = path.attributes().for_propagation();
        a.next_hop = None;
        a.mp_reach = None;
        a.mp_unreach = None;
        if to_ebgp {
            a.local_pref = None;
            if info.kind != PeerKind::Local {
                a.med = None;
            }
            a.originator_id = None;
            a.cluster_list.clear();
            a.as_path = Some(prepend(a.as_path.take().unwrap_or_default(), c.local_as));
        } else {
            a.local_pref = Some(a.local_pref.unwrap_or(c.default_local_pref));
            if reflect {
                a.originator_id = Some(a.originator_id.unwrap_or(info.router_id));
                if let Some(cluster) = c.cluster_id {
                    a.cluster_list.insert(0, cluster);
                }
            }
        }
        if a.as_path.is_none() {
            a.as_path = Some(AsPath::default());
        }
        if c.caps.four_octet_as {
            a.as4_path = None;
            a.as4_aggregator = None;
        } else {
            // RFC 6793 §4.2.2: an OLD peer also gets AS4_PATH / AS4_AGGREGATOR when needed.
            a.prepare_for_two_octet_peer();
        }
        if let Some(policy) = &self.policy
            && !policy.apply_mut(&mut a)
        {
            return None;
        }
        Some(a)
    }
}

/// An IPv4 next hop for an IPv6 family (IPv6 or VPNv6 routes over an IPv4 session) as the
/// IPv4-mapped IPv6 address (RFC 4659 §3.2.1.1, RFC 4798 §2): MP_REACH_NLRI of those families
/// carries 16 octets.
fn next_hop_for(family: Family, hop: NextHop) -> NextHop {
    match hop.address {
        IpAddr::V4(v4) if matches!(family, Family::Ipv6Unicast | Family::Vpnv6) => {
            NextHop::new(IpAddr::V6(v4.to_ipv6_mapped()))
        }
        _ => hop,
    }
}

/// Prepends `asn` to the leading AS_SEQUENCE (RFC 4271 §5.1.2), or starts one.
fn prepend(mut path: AsPath, asn: u32) -> AsPath {
    match path.segments.first_mut() {
        Some(s) if s.kind == SegmentType::Sequence && s.asns.len() < 255 => s.asns.insert(0, asn),
        _ => path.segments.insert(
            0,
            AsSegment {
                kind: SegmentType::Sequence,
                asns: vec![asn],
            },
        ),
    }
    path
}
