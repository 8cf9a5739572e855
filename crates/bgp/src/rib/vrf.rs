//! VRFs (RFC 4364 §4.3.5; EVPN IP prefix routes, RFC 9136): import of VPN and EVPN type 5 paths
//! from the Loc-RIB by route target into per-VRF tables, and export of local prefixes as VPN or
//! EVPN routes with the VRF's RD and export route targets.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use weft_net::{RouteDistinguisher, RouteTarget};

use super::decision::{self, DecisionConfig};
use super::key::RouteKey;
use super::loc::{BestChange, Rib};
use super::path::{Path, PeerId, PeerInfo};
use crate::attribute::{AsPath, ExtendedCommunity, NextHop, Origin, PathAttributes, tunnel_type};
use crate::fsm::Time;
use crate::nlri::{Esi, Evpn, EvpnRoute, IpPrefixRoute, Label, Nlri, VpnPrefix};

/// How a VRF's local prefixes leave as BGP routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportEncoding {
    /// VPNv4/VPNv6 with one MPLS label (RFC 4364 §4.3.2).
    Vpn { label: Label },
    /// EVPN IP prefix route (RFC 9136) with the L3 VNI, the router's MAC (RFC 9135 §8.1) and
    /// the encapsulation extended community (RFC 9012 §4.1), VXLAN usually.
    Evpn {
        vni: u32,
        router_mac: [u8; 6],
        encapsulation: u16,
    },
}

/// One route in a VRF table: the best imported path to a prefix and what forwarding needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfRoute {
    pub prefix: IpNet,
    /// The Loc-RIB key the path came from (its RD tells the source VRF).
    pub source: RouteKey,
    pub path: Path,
    pub next_hop: Option<NextHop>,
    /// The VPN label, or the EVPN label field.
    pub label: Option<Label>,
    /// The VNI of an EVPN route with a VXLAN-like encapsulation (RFC 8365 §5.1.3).
    pub vni: Option<u32>,
    pub router_mac: Option<[u8; 6]>,
    pub encapsulation: Option<u16>,
    /// The EVPN gateway address, when not zero.
    pub gateway: Option<IpAddr>,
}

impl VrfRoute {
    fn of(key: &RouteKey, path: &Path) -> Option<VrfRoute> {
        let (prefix, label, gateway) = match &path.nlri {
            Nlri::Vpn(p) => (p.net, p.labels.first().copied(), None),
            Nlri::Evpn(Evpn {
                route: EvpnRoute::IpPrefix(r),
                ..
            }) => (r.prefix, Some(r.label), Some(r.gateway).filter(|g| !g.is_unspecified())),
            _ => return None,
        };
        let ecs = &path.attributes.extended_communities;
        let router_mac = ecs.iter().find_map(|c| match c {
            ExtendedCommunity::RouterMac(m) => Some(*m),
            _ => None,
        });
        let encapsulation = ecs.iter().find_map(|c| match c {
            ExtendedCommunity::Encapsulation(t) => Some(*t),
            _ => None,
        });
        let vxlan_like = matches!(
            encapsulation,
            Some(tunnel_type::VXLAN | tunnel_type::VXLAN_GPE | tunnel_type::NVGRE | tunnel_type::GENEVE)
        );
        let vni = label
            .filter(|_| matches!(path.nlri, Nlri::Evpn(_)) && vxlan_like)
            .map(Label::raw);
        Some(VrfRoute {
            prefix,
            source: key.clone(),
            path: path.clone(),
            next_hop: path.next_hop,
            label,
            vni,
            router_mac,
            encapsulation,
            gateway,
        })
    }
}

/// A change of a VRF table's best route to `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfChange {
    pub prefix: IpNet,
    pub old: Option<VrfRoute>,
    pub new: Option<VrfRoute>,
}

#[derive(Debug, Clone)]
pub struct Vrf {
    pub name: String,
    pub rd: RouteDistinguisher,
    pub import_rts: BTreeSet<RouteTarget>,
    pub export_rts: BTreeSet<RouteTarget>,
    pub encoding: ExportEncoding,
    /// Imported candidates per prefix, by Loc-RIB key.
    candidates: BTreeMap<IpNet, BTreeMap<RouteKey, Path>>,
    table: BTreeMap<IpNet, VrfRoute>,
}

impl Vrf {
    pub fn new(
        name: impl Into<String>,
        rd: RouteDistinguisher,
        import_rts: impl IntoIterator<Item = RouteTarget>,
        export_rts: impl IntoIterator<Item = RouteTarget>,
        encoding: ExportEncoding,
    ) -> Vrf {
        Vrf {
            name: name.into(),
            rd,
            import_rts: import_rts.into_iter().collect(),
            export_rts: export_rts.into_iter().collect(),
            encoding,
            candidates: BTreeMap::new(),
            table: BTreeMap::new(),
        }
    }

    /// Whether a path carries one of the import route targets (RFC 4364 §4.3.5).
    pub fn imports(&self, path: &Path) -> bool {
        path.route_targets().any(|rt| self.import_rts.contains(&rt))
    }

    /// The best route to `prefix` in this VRF.
    pub fn route(&self, prefix: &IpNet) -> Option<&VrfRoute> {
        self.table.get(prefix)
    }

    pub fn routes(&self) -> impl Iterator<Item = &VrfRoute> {
        self.table.values()
    }

    /// Imports (or un-imports) the paths of Loc-RIB best changes; returns the table changes.
    pub fn apply(&mut self, changes: &[BestChange], ctx: &DecisionConfig) -> Vec<VrfChange> {
        let mut touched = BTreeSet::new();
        for c in changes {
            if let Some(prefix) = import_prefix(&c.key) {
                self.set_candidate(prefix, &c.key, c.new_best().as_ref());
                touched.insert(prefix);
            }
        }
        self.reselect(touched, ctx)
    }

    /// Re-imports everything from the RIB (after the import route targets changed).
    pub fn sync(&mut self, rib: &Rib) -> Vec<VrfChange> {
        let mut touched: BTreeSet<IpNet> = self.candidates.keys().copied().collect();
        self.candidates.clear();
        let best: Vec<(RouteKey, Path)> = rib.best_paths().collect();
        for (key, path) in best {
            if let Some(prefix) = import_prefix(&key) {
                self.set_candidate(prefix, &key, Some(&path));
                touched.insert(prefix);
            }
        }
        let ctx = rib.config().decision;
        self.reselect(touched, &ctx)
    }

    /// A local prefix as the path this VRF exports (RFC 4364 §4.3.1, RFC 9136 §3): RD, export
    /// route targets, and for EVPN the router's MAC and the encapsulation. Insert it into the
    /// [`Rib`] as a locally originated path.
    pub fn export_path(&self, prefix: IpNet, next_hop: IpAddr, local_as: u32, router_id: Ipv4Addr, now: Time) -> Path {
        let mut ecs: Vec<ExtendedCommunity> = self
            .export_rts
            .iter()
            .map(|rt| ExtendedCommunity::RouteTarget(*rt))
            .collect();
        let nlri = match self.encoding {
            ExportEncoding::Vpn { label } => Nlri::Vpn(VpnPrefix::new(label, self.rd, prefix)),
            ExportEncoding::Evpn {
                vni,
                router_mac,
                encapsulation,
            } => {
                ecs.push(ExtendedCommunity::RouterMac(router_mac));
                ecs.push(ExtendedCommunity::Encapsulation(encapsulation));
                Nlri::Evpn(Evpn {
                    path_id: None,
                    route: EvpnRoute::IpPrefix(IpPrefixRoute {
                        rd: self.rd,
                        esi: Esi::ZERO,
                        ethernet_tag: 0,
                        prefix,
                        gateway: match prefix {
                            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                        },
                        label: Label::vni(vni).unwrap_or(Label::WITHDRAW),
                    }),
                })
            }
        };
        ecs.sort();
        Path {
            peer: PeerId::LOCAL,
            peer_info: PeerInfo::local(local_as, router_id),
            nlri,
            attributes: Arc::new(PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                extended_communities: ecs,
                ..PathAttributes::default()
            }),
            next_hop: Some(NextHop::new(next_hop)),
            path_id: None,
            received_at: now,
            stale: false,
        }
    }

    /// The Loc-RIB key of an exported prefix, to withdraw it.
    pub fn export_key(&self, prefix: IpNet) -> RouteKey {
        match self.encoding {
            ExportEncoding::Vpn { .. } => RouteKey::Vpn {
                rd: self.rd,
                net: prefix,
            },
            ExportEncoding::Evpn { .. } => RouteKey::EvpnIpPrefix {
                rd: self.rd,
                ethernet_tag: 0,
                prefix,
            },
        }
    }

    fn set_candidate(&mut self, prefix: IpNet, key: &RouteKey, best: Option<&Path>) {
        let imported = best.filter(|p| self.imports(p)).cloned();
        let set = self.candidates.entry(prefix).or_default();
        match imported {
            Some(p) => {
                set.insert(key.clone(), p);
            }
            None => {
                set.remove(key);
            }
        }
        if set.is_empty() {
            self.candidates.remove(&prefix);
        }
    }

    fn reselect(&mut self, touched: BTreeSet<IpNet>, ctx: &DecisionConfig) -> Vec<VrfChange> {
        let mut out = Vec::new();
        for prefix in touched {
            let new = self.candidates.get(&prefix).and_then(|set| {
                let paths: Vec<Path> = set.values().cloned().collect();
                let best = decision::best(&paths, ctx)?;
                let key = set.iter().find(|(_, p)| p.same_route(best)).map(|(k, _)| k)?;
                VrfRoute::of(key, best)
            });
            let old = match &new {
                Some(r) => self.table.insert(prefix, r.clone()),
                None => self.table.remove(&prefix),
            };
            let same = match (&old, &new) {
                (Some(a), Some(b)) => a.path.same_route(&b.path),
                (None, None) => true,
                _ => false,
            };
            if !same {
                out.push(VrfChange { prefix, old, new });
            }
        }
        out
    }
}

/// The prefix a Loc-RIB key imports as, for VPN and EVPN IP prefix keys.
fn import_prefix(key: &RouteKey) -> Option<IpNet> {
    match key {
        RouteKey::Vpn { net, .. } => Some(*net),
        RouteKey::EvpnIpPrefix { prefix, .. } => Some(*prefix),
        _ => None,
    }
}
