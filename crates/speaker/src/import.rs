//! VRF import for the speaker's user: the VRFs registered with the speaker follow the Loc-RIB
//! (RFC 4364 §4.3.5, RFC 9136), and every change of their tables is reported to subscribers, so a
//! controller installs what peers send without polling.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use weft_bgp::family::Family;
use weft_bgp::rib::{BestChange, DecisionConfig, PeerId, Rib, Vrf, VrfChange};

/// Changes of one VRF's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfEvent {
    pub vrf: String,
    pub changes: Vec<VrfChange>,
}

/// The registered VRFs and who listens to them.
#[derive(Default)]
pub(crate) struct Imports {
    vrfs: BTreeMap<String, Vrf>,
    subscribers: Vec<mpsc::UnboundedSender<VrfEvent>>,
}

/// A locally originated best path is this speaker's own export: it is already in the VRF it came
/// from, and importing it would route a VRF's own prefixes back to itself.
fn remote_only(changes: &[BestChange]) -> Vec<BestChange> {
    changes
        .iter()
        // Only VPN and EVPN routes are imported into VRFs (RFC 4364 §4.3.5, RFC 9136 §3): a
        // full unicast table passes by without a copy.
        .filter(|c| matches!(c.key.family(), Family::Vpnv4 | Family::Vpnv6 | Family::L2vpnEvpn))
        .filter_map(|c| c.without_peer(PeerId::LOCAL))
        .collect()
}

impl Imports {
    pub(crate) fn subscribe(&mut self) -> mpsc::UnboundedReceiver<VrfEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        // A new subscriber starts with every VRF's whole table.
        for vrf in self.vrfs.values() {
            let changes: Vec<VrfChange> = vrf
                .routes()
                .map(|r| VrfChange {
                    prefix: r.prefix,
                    old: None,
                    new: Some(r.clone()),
                })
                .collect();
            if !changes.is_empty() {
                let _ = tx.send(VrfEvent {
                    vrf: vrf.name.clone(),
                    changes,
                });
            }
        }
        self.subscribers.push(tx);
        rx
    }

    /// Adds or replaces a VRF (made with [`Vrf::new`], empty) and reports how its table changed.
    pub(crate) fn set(&mut self, vrf: Vrf, rib: &Rib) {
        let name = vrf.name.clone();
        let mut fresh = vrf;
        let all: Vec<BestChange> = rib
            .best_as_changes()
            .filter_map(|c| c.without_peer(PeerId::LOCAL))
            .collect();
        fresh.apply(&all, &rib.config().decision);
        let old = self.vrfs.remove(&name);
        let before = |prefix| old.as_ref().and_then(|o| o.route(prefix));
        let mut changes: Vec<VrfChange> = fresh
            .routes()
            .filter(|r| before(&r.prefix) != Some(*r))
            .map(|r| VrfChange {
                prefix: r.prefix,
                old: before(&r.prefix).cloned(),
                new: Some(r.clone()),
            })
            .collect();
        if let Some(o) = &old {
            changes.extend(
                o.routes()
                    .filter(|r| fresh.route(&r.prefix).is_none())
                    .map(|r| VrfChange {
                        prefix: r.prefix,
                        old: Some(r.clone()),
                        new: None,
                    }),
            );
        }
        self.vrfs.insert(name.clone(), fresh);
        self.send(&name, changes);
    }

    /// Forgets a VRF; its routes are reported withdrawn.
    pub(crate) fn remove(&mut self, name: &str) {
        if let Some(vrf) = self.vrfs.remove(name) {
            let changes = vrf
                .routes()
                .map(|r| VrfChange {
                    prefix: r.prefix,
                    old: Some(r.clone()),
                    new: None,
                })
                .collect();
            self.send(name, changes);
        }
    }

    /// Follows best-path changes of the Loc-RIB.
    pub(crate) fn apply(&mut self, changes: &[BestChange], ctx: &DecisionConfig) {
        if self.vrfs.is_empty() {
            return;
        }
        let changes = remote_only(changes);
        if changes.is_empty() {
            return;
        }
        let mut events = Vec::new();
        for vrf in self.vrfs.values_mut() {
            let out = vrf.apply(&changes, ctx);
            if !out.is_empty() {
                events.push((vrf.name.clone(), out));
            }
        }
        for (name, out) in events {
            self.send(&name, out);
        }
    }

    fn send(&mut self, vrf: &str, changes: Vec<VrfChange>) {
        if changes.is_empty() {
            return;
        }
        self.subscribers.retain(|s| {
            s.send(VrfEvent {
                vrf: vrf.to_string(),
                changes: changes.clone(),
            })
            .is_ok()
        });
    }
}
