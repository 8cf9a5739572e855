//! Loc-RIB (RFC 4271 §3.2, §9.1): every path to every destination and the best of them, fed by
//! UPDATEs as the session decodes them, peers going down and graceful restart (RFC 4724).
//!
//! Every mutation returns the [`BestChange`]s it caused, one per key whose best path changed,
//! so that whoever exports routes (to VRFs, peers, the data plane) reacts to changes only.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::adj_in::{AdjRibIn, PathRef};
pub use super::change::BestChange;
use super::decision::{self, DecisionConfig};
use super::key::RouteKey;
use super::path::{Path, PeerId, PeerInfo};
use super::policy::Policy;
use super::pre_policy::PrePolicy;
use super::stored::{Source, Stored};
use super::table::{FastMap, Table};
use crate::attribute::{AsPath, NextHop, PathAttributes};
use crate::family::Family;
use crate::fsm::{Action, Time};
use crate::message::{DecodedUpdate, RefreshSubtype};
use crate::nlri::Nlri;

/// The RIB's view of this speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RibConfig {
    pub decision: DecisionConfig,
    pub router_id: Ipv4Addr,
    /// The cluster id when this speaker is a route reflector (RFC 4456 §7); the router id is the
    /// usual choice.
    pub cluster_id: Option<Ipv4Addr>,
}

impl RibConfig {
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> RibConfig {
        RibConfig {
            decision: DecisionConfig::new(local_as),
            router_id,
            cluster_id: None,
        }
    }
}

/// The paths to one destination: most have one, kept inline; several are a boxed slice (two
/// words) so that the variants fit in the unused values of the path's flags (no tag word).
#[derive(Debug, Clone, Default)]
enum Paths {
    #[default]
    Empty,
    One(Stored),
    Many(Box<[Stored]>),
}

impl Paths {
    fn as_slice(&self) -> &[Stored] {
        match self {
            Paths::Empty => &[],
            Paths::One(p) => std::slice::from_ref(p),
            Paths::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Stored] {
        match self {
            Paths::Empty => &mut [],
            Paths::One(p) => std::slice::from_mut(p),
            Paths::Many(v) => v,
        }
    }

    fn push(&mut self, path: Stored) {
        *self = match std::mem::take(self) {
            Paths::Empty => Paths::One(path),
            Paths::One(first) => Paths::Many(Box::new([first, path])),
            Paths::Many(v) => {
                let mut v = v.into_vec();
                v.push(path);
                Paths::Many(v.into_boxed_slice())
            }
        };
    }

    /// Removes the path of `peer` with `path_id`; whether there was one.
    fn remove(&mut self, peer: PeerId, path_id: Option<u32>) -> bool {
        match self {
            Paths::Empty => false,
            Paths::One(p) => {
                let found = p.is(peer, path_id);
                if found {
                    *self = Paths::Empty;
                }
                found
            }
            Paths::Many(v) => {
                let mut v = std::mem::take(v).into_vec();
                let before = v.len();
                v.retain(|p| !p.is(peer, path_id));
                let found = v.len() < before;
                *self = match v.len() {
                    0 => Paths::Empty,
                    1 => v.pop().map_or(Paths::Empty, Paths::One),
                    _ => Paths::Many(v.into_boxed_slice()),
                };
                found
            }
        }
    }
}

/// One destination. A full table holds a million: `best` and `touched` share two octets.
#[derive(Debug, Clone, Default)]
struct Entry {
    paths: Paths,
    /// The best path's index in `paths` plus one (0: none), and [`TOUCHED`].
    state: u16,
}

/// In the [`Touched`] list of the mutation under way (never set between mutations).
const TOUCHED: u16 = 0x8000;

impl Entry {
    fn best_index(&self) -> Option<usize> {
        match self.state & !TOUCHED {
            0 => None,
            i => Some(usize::from(i - 1)),
        }
    }

    fn best(&self) -> Option<&Stored> {
        self.best_index().and_then(|i| self.paths.as_slice().get(i))
    }

    fn set_best(&mut self, best: Option<u16>) {
        self.state = (self.state & TOUCHED) | best.map_or(0, |i| (i + 1) & !TOUCHED);
    }

    fn touched(&self) -> bool {
        self.state & TOUCHED != 0
    }

    fn set_touched(&mut self, touched: bool) {
        if touched {
            self.state |= TOUCHED;
        } else {
            self.state &= !TOUCHED;
        }
    }
}

/// Adj-RIB-In and Loc-RIB of one speaker.
#[derive(Debug, Clone)]
pub struct Rib {
    config: RibConfig,
    entries: Table<Entry>,
    adj_in: AdjRibIn,
    peers: BTreeMap<PeerId, PeerInfo>,
    /// Peers with an import policy: the policy and what the peer sent before it.
    import: BTreeMap<PeerId, Import>,
    /// Keys whose paths changed (any path, not only the best), once asked for
    /// ([`Rib::track_path_changes`]): what ADD-PATH senders need (RFC 7911).
    path_changes: Option<BTreeSet<RouteKey>>,
    /// Best paths per peer and family, kept as they change (for status, without a scan).
    best_counts: FastMap<(PeerId, Family), usize>,
    /// Peers some of whose paths were marked stale (graceful restart, enhanced route refresh).
    stale_marked: BTreeSet<PeerId>,
}

#[derive(Debug, Clone)]
struct Import {
    policy: Policy,
    received: PrePolicy,
}

/// Old best paths of the keys a mutation touched (by slot), to compare with the new ones at the
/// end; each key once (its entry's `touched` flag says whether it is listed already, so no
/// second table).
#[derive(Default)]
struct Touched(Vec<(u32, Option<Stored>)>);

impl Rib {
    pub fn new(config: RibConfig) -> Rib {
        let mut peers = BTreeMap::new();
        peers.insert(
            PeerId::LOCAL,
            PeerInfo::local(config.decision.local_as, config.router_id),
        );
        Rib {
            config,
            entries: Table::default(),
            adj_in: AdjRibIn::default(),
            peers,
            import: BTreeMap::new(),
            path_changes: None,
            best_counts: FastMap::default(),
            stale_marked: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Registers a peer (on Established); its paths carry `info`.
    pub fn peer_up(&mut self, peer: PeerId, info: PeerInfo) {
        self.peers.insert(peer, info);
    }

    pub fn peer_info(&self, peer: PeerId) -> Option<&PeerInfo> {
        self.peers.get(&peer)
    }

    /// Applies one UPDATE from `peer` (RFC 4271 §9): withdrawals, then announcements, each an
    /// implicit withdrawal of the peer's previous path to the same key and path identifier.
    /// Under RFC 7606 treat-as-withdraw the announced routes are withdrawn; an AFI/SAFI disable
    /// removes the peer's routes of that family; an End-of-RIB marker flushes the peer's stale
    /// routes of its family (RFC 4724 §4.2). Routes that loop (own AS in the AS_PATH from an
    /// external peer, own router id as ORIGINATOR_ID, own cluster id in CLUSTER_LIST: RFC 4271
    /// §9.1.2, RFC 4456 §8) are withdrawn as well. An unregistered peer's UPDATE is ignored.
    pub fn apply_update(&mut self, peer: PeerId, decoded: &DecodedUpdate, now: Time) -> Vec<BestChange> {
        let Some(info) = self.peers.get(&peer).copied() else {
            return Vec::new();
        };
        if let Some(family) = decoded.update.end_of_rib_family() {
            return self.end_of_rib(peer, family);
        }
        let u = &decoded.update;
        let routes = u.withdrawn.len()
            + u.nlri.len()
            + u.attributes.mp_reach.as_ref().map_or(0, |m| m.nlri.len())
            + u.attributes.mp_unreach.as_ref().map_or(0, |m| m.withdrawn.len());
        let mut touched = Touched(Vec::with_capacity(routes));
        for (afi, safi) in decoded.disabled_families() {
            if let Some(family) = Family::from_afi_safi(afi, safi) {
                for (key, path_id) in self.peer_paths(peer, Some(&[family])) {
                    self.remove_path(&mut touched, peer, &key, path_id);
                }
                if let Some(i) = self.import.get_mut(&peer) {
                    i.received.remove_family(family);
                }
            }
        }
        for nlri in decoded.withdrawals() {
            self.remove_path(&mut touched, peer, &RouteKey::of(&nlri), nlri.path_id());
        }
        let update = &decoded.update;
        let looped = self.loops(
            &info,
            update.attributes.effective_as_path().as_ref(),
            &update.attributes,
        );
        if !decoded.treat_as_withdraw() {
            // The real AS path and aggregator (RFC 6793 §4.2.3), so that a 2-octet peer's paths
            // compare and loop-check like any other.
            let attributes = Arc::new(PathAttributes {
                next_hop: None,
                mp_reach: None,
                mp_unreach: None,
                as_path: update.attributes.effective_as_path(),
                aggregator: update.attributes.effective_aggregator(),
                as4_path: None,
                as4_aggregator: None,
                ..update.attributes.clone()
            });
            // The import policy's verdict, once for every prefix of the UPDATE.
            let imported = self.import.get(&peer).map(|i| i.policy.apply(&attributes));
            let accepted_attributes = match &imported {
                None => Some(attributes.clone()),
                Some(verdict) => verdict.clone(),
            };
            let v4_hop = update.attributes.next_hop.map(|a| NextHop::new(a.into()));
            let mp = update.attributes.mp_reach.as_ref();
            // What the accepted paths of each next hop share (one for the NLRI field, one for
            // MP_REACH_NLRI).
            let source = |next_hop: Option<NextHop>| {
                accepted_attributes.as_ref().map(|a| {
                    Arc::new(Source {
                        peer,
                        peer_info: info,
                        attributes: a.clone(),
                        next_hop,
                        received_at: now,
                    })
                })
            };
            let v4_source = if update.nlri.is_empty() { None } else { source(v4_hop) };
            let mp_source = mp.and_then(|m| source(Some(m.next_hop)));
            let announced = update
                .nlri
                .iter()
                .map(|p| (Nlri::Prefix(*p), v4_hop, &v4_source))
                .chain(
                    mp.into_iter()
                        .flat_map(|m| m.nlri.iter().map(|n| (n.clone(), Some(m.next_hop), &mp_source))),
                );
            for (nlri, next_hop, accepted) in announced {
                let key = RouteKey::of(&nlri);
                let path_id = nlri.path_id();
                if looped {
                    self.remove_path(&mut touched, peer, &key, path_id);
                    continue;
                }
                if imported.is_some()
                    && let Some(i) = self.import.get_mut(&peer)
                {
                    i.received.insert(Path {
                        peer,
                        peer_info: info,
                        nlri: nlri.clone(),
                        attributes: attributes.clone(),
                        next_hop,
                        path_id,
                        received_at: now,
                        stale: false,
                    });
                }
                match accepted {
                    Some(source) => self.insert_stored(&mut touched, &key, Stored::new(source.clone(), nlri)),
                    None => self.remove_accepted(&mut touched, peer, &key, path_id),
                }
            }
        }
        self.finish(touched)
    }

    /// Adds or replaces a path (a locally originated one, usually: `peer` [`PeerId::LOCAL`]).
    pub fn insert(&mut self, path: Path) -> Vec<BestChange> {
        let mut touched = Touched::default();
        self.insert_path(&mut touched, path);
        self.finish(touched)
    }

    /// Removes the path of `peer` to `key` with `path_id`.
    pub fn remove(&mut self, peer: PeerId, key: &RouteKey, path_id: Option<u32>) -> Vec<BestChange> {
        let mut touched = Touched::default();
        self.remove_path(&mut touched, peer, key, path_id);
        self.finish(touched)
    }

    /// What a session action means for the RIB: [`Action::Update`], [`Action::Down`] (withdraw
    /// or keep as stale), [`Action::FlushStale`], and the enhanced route refresh markers of
    /// RFC 7313 §4 (BoRR marks the peer's paths of the family stale, EoRR flushes those not
    /// refreshed). Other actions change nothing.
    pub fn on_session_action(&mut self, peer: PeerId, action: &Action, now: Time) -> Vec<BestChange> {
        match action {
            Action::Update { decoded } => self.apply_update(peer, decoded, now),
            Action::Down { retain, .. } => self.peer_down(peer, retain),
            Action::FlushStale { families, .. } => self.flush_stale(peer, families),
            Action::RouteRefresh {
                family,
                subtype: RefreshSubtype::BeginningOfRefresh,
            } => {
                self.mark_stale(peer, &[*family]);
                Vec::new()
            }
            Action::RouteRefresh {
                family,
                subtype: RefreshSubtype::EndOfRefresh,
            } => self.flush_stale(peer, &[*family]),
            _ => Vec::new(),
        }
    }

    /// The session with `peer` went down: its paths of the `retain` families become stale
    /// (graceful restart, RFC 4724 §4.2), the others are withdrawn.
    pub fn peer_down(&mut self, peer: PeerId, retain: &[Family]) -> Vec<BestChange> {
        self.mark_stale(peer, retain);
        if let Some(i) = self.import.get_mut(&peer) {
            i.received.retain_families(retain);
        }
        let mut touched = Touched::default();
        for (key, path_id) in self.peer_paths(peer, None) {
            if !retain.contains(&key.family()) {
                self.remove_path(&mut touched, peer, &key, path_id);
            }
        }
        self.finish(touched)
    }

    /// Marks the paths of `peer` in `families` stale; a later announcement refreshes each, and
    /// [`Rib::flush_stale`] removes the rest. Best paths do not change.
    pub fn mark_stale(&mut self, peer: PeerId, families: &[Family]) {
        if let Some(i) = self.import.get_mut(&peer) {
            i.received.mark_stale(families);
        }
        if self.adj_in.count(peer) == 0 || families.is_empty() {
            return;
        }
        let slots: Vec<u32> = self
            .entries
            .iter_slots()
            .filter(|&i| self.entries.family(i).is_some_and(|f| families.contains(&f)))
            .collect();
        let mut marked = false;
        for i in slots {
            if let Some(e) = self.entries.get_mut(i) {
                for p in e.paths.as_mut_slice().iter_mut().filter(|p| p.peer() == peer) {
                    p.set_stale(true);
                    marked = true;
                }
            }
        }
        if marked {
            self.stale_marked.insert(peer);
        }
    }

    /// Removes the stale paths of `peer` in `families` (End-of-RIB, or the restart or stale
    /// timer ran out: the FSM's `FlushStale`).
    pub fn flush_stale(&mut self, peer: PeerId, families: &[Family]) -> Vec<BestChange> {
        if let Some(i) = self.import.get_mut(&peer) {
            i.received.remove_stale(families);
        }
        let mut touched = Touched::default();
        if !self.stale_marked.contains(&peer) {
            // Nothing of the peer was ever marked stale: no walk through the table (this runs on
            // every End-of-RIB).
            return self.finish(touched);
        }
        for (key, path_id) in self.peer_paths(peer, Some(families)) {
            let stale = self
                .stored(&key)
                .and_then(|e| e.paths.as_slice().iter().find(|p| p.is(peer, path_id)))
                .is_some_and(Stored::stale);
            if stale {
                self.remove_path(&mut touched, peer, &key, path_id);
            }
        }
        self.finish(touched)
    }

    /// `peer` sent End-of-RIB for `family` (RFC 4724 §4.2): what was not refreshed goes.
    pub fn end_of_rib(&mut self, peer: PeerId, family: Family) -> Vec<BestChange> {
        self.flush_stale(peer, &[family])
    }

    fn stored(&self, key: &RouteKey) -> Option<&Entry> {
        self.entries.find(key).and_then(|i| self.entries.get(i))
    }

    /// The best path to `key`.
    pub fn best(&self, key: &RouteKey) -> Option<Path> {
        self.stored(key).and_then(Entry::best).map(|p| p.path(key))
    }

    /// The best path to `key` as stored.
    pub(crate) fn best_stored(&self, key: &RouteKey) -> Option<&Stored> {
        self.stored(key).and_then(Entry::best)
    }

    /// From now on, remember every key whose paths change (not only its best path), for
    /// [`Rib::take_path_changes`]. Costs nothing until called.
    pub fn track_path_changes(&mut self) {
        self.path_changes.get_or_insert_with(BTreeSet::new);
    }

    /// The keys whose paths changed since the last call (with tracking on).
    pub fn take_path_changes(&mut self) -> Vec<RouteKey> {
        self.path_changes
            .as_mut()
            .map(|c| std::mem::take(c).into_iter().collect())
            .unwrap_or_default()
    }

    /// Every path to `key`, in no particular order.
    pub fn paths(&self, key: &RouteKey) -> Vec<Path> {
        self.stored(key)
            .map(|e| e.paths.as_slice().iter().map(|p| p.path(key)).collect())
            .unwrap_or_default()
    }

    /// How many paths `key` has.
    pub fn path_count_of(&self, key: &RouteKey) -> usize {
        self.stored(key).map_or(0, |e| e.paths.as_slice().len())
    }

    /// Destinations and paths per family, without making any path readable.
    pub fn family_counts(&self) -> BTreeMap<Family, (usize, usize)> {
        let mut counts: BTreeMap<Family, (usize, usize)> = BTreeMap::new();
        for (i, e) in self.entries.values() {
            if let Some(family) = self.entries.family(i)
                && e.best_index().is_some()
            {
                let c = counts.entry(family).or_default();
                c.0 += 1;
                c.1 += e.paths.as_slice().len();
            }
        }
        counts
    }

    /// How many destinations have a best path.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// Every key with its best path and how many paths it has, in no particular order (sort
    /// to show them).
    pub fn best_paths(&self) -> impl Iterator<Item = (RouteKey, Path)> + '_ {
        self.entries
            .iter()
            .filter_map(|(_, k, e)| e.best().map(|b| (k.clone(), b.path(&k))))
    }

    /// Every best path as a change from nothing: replays the table into a new consumer (a VRF
    /// added) without making readable paths.
    pub fn best_as_changes(&self) -> impl Iterator<Item = BestChange> + '_ {
        self.best_stored_paths().map(|(key, p)| BestChange {
            key,
            old: None,
            new: Some(p.clone()),
        })
    }

    /// [`Rib::best_paths`] as stored.
    pub(crate) fn best_stored_paths(&self) -> impl Iterator<Item = (RouteKey, &Stored)> + '_ {
        self.entries.iter().filter_map(|(_, k, e)| e.best().map(|b| (k, b)))
    }

    /// The paths `peer` sent of `family` (its Adj-RIB-In of that family).
    pub fn paths_of_peer(&self, peer: PeerId, family: Family) -> Vec<Path> {
        self.peer_paths(peer, Some(&[family]))
            .into_iter()
            .filter_map(|(key, path_id)| {
                self.stored(&key)
                    .and_then(|e| e.paths.as_slice().iter().find(|p| p.is(peer, path_id)))
                    .map(|p| p.path(&key))
            })
            .collect()
    }

    /// The paths of `peer` (in `families` when given), in key then path identifier order: a walk
    /// through the whole table, for what happens once per session (down, graceful restart).
    fn peer_paths(&self, peer: PeerId, families: Option<&[Family]>) -> Vec<PathRef> {
        let mut out = Vec::new();
        if self.adj_in.count(peer) == 0 {
            return out;
        }
        let mut slots: Vec<(u32, Option<u32>)> = Vec::new();
        for (i, e) in self.entries.values() {
            if families.is_some_and(|f| !self.entries.family(i).is_some_and(|x| f.contains(&x))) {
                continue;
            }
            slots.extend(
                e.paths
                    .as_slice()
                    .iter()
                    .filter(|p| p.peer() == peer)
                    .map(|p| (i, p.path_id())),
            );
        }
        slots.sort_by(|a, b| self.entries.cmp_keys(a.0, b.0).then(a.1.cmp(&b.1)));
        out.extend(
            slots
                .into_iter()
                .filter_map(|(i, id)| self.entries.key(i).map(|k| (k, id))),
        );
        out
    }

    /// How many paths `peer` has in the RIB.
    pub fn path_count(&self, peer: PeerId) -> usize {
        self.adj_in.count(peer)
    }

    /// How many paths of `family` from `peer` are in the Loc-RIB (after its import policy).
    pub fn accepted_count(&self, peer: PeerId, family: Family) -> usize {
        self.adj_in.count_of(peer, family)
    }

    /// How many destinations of `family` have their best path from `peer`.
    pub fn best_count(&self, peer: PeerId, family: Family) -> usize {
        self.best_counts.get(&(peer, family)).copied().unwrap_or(0)
    }

    /// Sets (or with `None` removes) the import policy of `peer` and applies it at once to
    /// every path the peer sent, rejected ones included: routes it now accepts enter the
    /// Loc-RIB, routes it now rejects leave it, without the peer resending anything.
    pub fn set_import_policy(&mut self, peer: PeerId, policy: Option<Policy>) -> Vec<BestChange> {
        let received: Vec<Path> = match self.import.remove(&peer) {
            Some(old) => old.received.into_paths().collect(),
            // No policy so far: the Loc-RIB holds the paths as received.
            None => self
                .peer_paths(peer, None)
                .into_iter()
                .filter_map(|(key, path_id)| {
                    self.stored(&key)
                        .and_then(|e| e.paths.as_slice().iter().find(|p| p.is(peer, path_id)))
                        .map(|p| p.path(&key))
                })
                .collect(),
        };
        let mut touched = Touched::default();
        let Some(policy) = policy else {
            for path in received {
                self.insert_path(&mut touched, path);
            }
            return self.finish(touched);
        };
        let mut pre = PrePolicy::default();
        // Paths of one UPDATE share their attributes: one verdict per allocation, keyed by its
        // address (the key's `Arc` is kept in the value, so that no address is reused meanwhile).
        type Verdict = (Arc<PathAttributes>, Option<Arc<PathAttributes>>);
        let mut verdicts: std::collections::HashMap<usize, Verdict> = std::collections::HashMap::new();
        for path in received {
            let verdict = verdicts
                .entry(Arc::as_ptr(&path.attributes) as usize)
                .or_insert_with(|| (path.attributes.clone(), policy.apply(&path.attributes)))
                .1
                .clone();
            pre.insert(path.clone());
            match verdict {
                Some(attributes) => self.insert_path(&mut touched, Path { attributes, ..path }),
                None => {
                    let key = RouteKey::of(&path.nlri);
                    self.remove_accepted(&mut touched, peer, &key, path.path_id);
                }
            }
        }
        self.import.insert(peer, Import { policy, received: pre });
        self.finish(touched)
    }

    /// How many paths of `family` `peer` sent, before its import policy.
    pub fn received_count(&self, peer: PeerId, family: Family) -> usize {
        match self.import.get(&peer) {
            Some(i) => i.received.count(family),
            None => self.adj_in.count_of(peer, family),
        }
    }

    /// The paths of `family` `peer` sent, as received (before its import policy).
    pub fn received_paths(&self, peer: PeerId, family: Family) -> Vec<Path> {
        match self.import.get(&peer) {
            Some(i) => i.received.paths(family).cloned().collect(),
            None => self.paths_of_peer(peer, family),
        }
    }

    /// Whether the path would loop back (RFC 4271 §9.1.2; RFC 4456 §8).
    fn loops(&self, info: &PeerInfo, as_path: Option<&AsPath>, attrs: &PathAttributes) -> bool {
        let own_as = self.config.decision.local_as;
        let as_loop = info.is_ebgp() && as_path.is_some_and(|p| p.segments.iter().any(|s| s.asns.contains(&own_as)));
        let originator_loop = attrs.originator_id == Some(self.config.router_id);
        let cluster_loop = self.config.cluster_id.is_some_and(|c| attrs.cluster_list.contains(&c));
        as_loop || originator_loop || cluster_loop
    }

    fn insert_path(&mut self, touched: &mut Touched, path: Path) {
        let key = RouteKey::of(&path.nlri);
        self.insert_stored(touched, &key, Stored::from_path(path));
    }

    fn insert_stored(&mut self, touched: &mut Touched, key: &RouteKey, path: Stored) {
        let family = key.family();
        let (slot, _) = self.entries.find_or_insert(key);
        let Some(entry) = self.entries.get_mut(slot) else {
            return;
        };
        if !entry.touched() {
            touched.0.push((slot, entry.best().cloned()));
            entry.set_touched(true);
        }
        let (peer, path_id) = (path.peer(), path.path_id());
        match entry.paths.as_mut_slice().iter_mut().find(|p| p.is(peer, path_id)) {
            Some(old) => *old = path,
            None => {
                self.adj_in.added(peer, family);
                entry.paths.push(path)
            }
        }
    }

    /// Removes a path the peer withdrew (or lost): from the Loc-RIB and from what it sent.
    fn remove_path(&mut self, touched: &mut Touched, peer: PeerId, key: &RouteKey, path_id: Option<u32>) {
        if let Some(i) = self.import.get_mut(&peer) {
            i.received.remove(key, path_id);
        }
        self.remove_accepted(touched, peer, key, path_id);
    }

    /// Removes a path from the Loc-RIB only (the import policy rejects it now).
    fn remove_accepted(&mut self, touched: &mut Touched, peer: PeerId, key: &RouteKey, path_id: Option<u32>) {
        // A key without an entry has nothing to remove, and its best path (none) cannot change.
        let Some(slot) = self.entries.find(key) else { return };
        let Some(e) = self.entries.get_mut(slot) else { return };
        let removed = if !e.touched() {
            e.set_touched(true);
            let only_best = e.best_index() == Some(0) && matches!(&e.paths, Paths::One(p) if p.is(peer, path_id));
            if only_best {
                // The one path, the best, goes (a withdrawal, usually): moved into the list as
                // the old best, not copied and dropped.
                if let Paths::One(p) = std::mem::take(&mut e.paths) {
                    touched.0.push((slot, Some(p)));
                }
                true
            } else {
                touched.0.push((slot, e.best().cloned()));
                e.paths.remove(peer, path_id)
            }
        } else {
            e.paths.remove(peer, path_id)
        };
        if removed {
            self.adj_in.removed(peer, key.family());
            if !self.stale_marked.is_empty() && self.adj_in.count(peer) == 0 {
                self.stale_marked.remove(&peer);
            }
        }
    }

    fn finish(&mut self, touched: Touched) -> Vec<BestChange> {
        let mut touched = touched.0;
        // Key order, as the changes always came: a stable sort, linear on the usual
        // already-sorted UPDATE.
        let entries = &self.entries;
        touched.sort_by(|a, b| entries.cmp_keys(a.0, b.0));
        let ctx = self.config.decision;
        let mut out = Vec::with_capacity(touched.len());
        for (slot, old_best) in touched {
            let Some(key) = self.entries.key(slot) else { continue };
            if let Some(changed) = self.path_changes.as_mut() {
                changed.insert(key.clone());
            }
            let mut empty = false;
            let new_best = match self.entries.get_mut(slot) {
                Some(e) => {
                    e.set_touched(false);
                    e.set_best(best_index(e.paths.as_slice(), &key, &ctx));
                    empty = e.paths.as_slice().is_empty();
                    e.best().cloned()
                }
                None => None,
            };
            if empty {
                self.entries.remove(slot);
            }
            let family = key.family();
            if let Some(o) = &old_best
                && let Some(n) = self.best_counts.get_mut(&(o.peer(), family))
            {
                *n = n.saturating_sub(1);
            }
            if let Some(b) = &new_best {
                *self.best_counts.entry((b.peer(), family)).or_default() += 1;
            }
            let same = match (&old_best, &new_best) {
                (Some(a), Some(b)) => a.same_route(b),
                (None, None) => true,
                _ => false,
            };
            if !same {
                // The readable paths only for real changes.
                out.push(BestChange {
                    old: old_best,
                    new: new_best,
                    key,
                });
            }
        }
        out
    }
}

/// The index of the best of `paths` (RFC 4271 §9.1.2); the readable paths are made only when
/// there is a choice.
fn best_index(paths: &[Stored], key: &RouteKey, ctx: &DecisionConfig) -> Option<u16> {
    match paths.len() {
        0 => None,
        1 => Some(0),
        _ => {
            let readable: Vec<Path> = paths.iter().map(|p| p.path(key)).collect();
            decision::best(&readable, ctx)
                .and_then(|b| readable.iter().position(|p| std::ptr::eq(p, b)))
                .and_then(|i| u16::try_from(i).ok())
                .filter(|&i| i < TOUCHED - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full table is a million entries: their size is the speaker's memory (issue #4's
    /// benchmark compares it with BIRD's).
    #[test]
    fn an_entry_with_one_path_is_four_words() {
        assert!(std::mem::size_of::<Stored>() <= 24, "{}", std::mem::size_of::<Stored>());
        assert!(std::mem::size_of::<Entry>() <= 32, "{}", std::mem::size_of::<Entry>());
    }

    #[test]
    fn best_index_and_touched_share_the_state() {
        let mut e = Entry::default();
        assert_eq!(e.best_index(), None);
        e.set_touched(true);
        e.set_best(Some(3));
        assert!(e.touched());
        assert_eq!(e.best_index(), Some(3));
        e.set_touched(false);
        assert_eq!(e.best_index(), Some(3));
        e.set_best(None);
        assert_eq!(e.best_index(), None);
    }
}
