//! The checks of the peer's OPEN the codec cannot do (they need the configuration), and what the
//! two OPENs agree on.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::capability::{Capability, GracefulRestart};
use crate::codec::{self, SessionCaps};
use crate::family::Family;
use crate::fsm::config::{GrFamily, PeerConfig};
use crate::message::notification::{code, open_error};
use crate::message::{Notification, Open};

/// Cisco's pre-standard route refresh capability, which some peers still send beside code 2.
const ROUTE_REFRESH_OLD: u8 = 128;

/// What a session runs with once both OPENs are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// The encoding in each direction (4-octet AS, extended messages, ADD-PATH).
    pub codec: codec::Negotiated,
    pub peer_as: u32,
    pub peer_id: Ipv4Addr,
    /// The Hold Time in the peer's OPEN.
    pub peer_hold_time: u16,
    /// min(ours, theirs) (RFC 4271 §4.2); 0: no KEEPALIVEs and no hold timer.
    pub hold_time: u16,
    /// Families both advertised (RFC 4760; no Multiprotocol capability means IPv4 unicast).
    pub families: BTreeSet<Family>,
    pub four_octet_as: bool,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    /// The peer's graceful restart capability, when both advertised one (RFC 4724).
    pub graceful_restart: Option<PeerGracefulRestart>,
    /// Both set the N bit (RFC 8538): graceful restart applies after NOTIFICATIONs too, except
    /// Hard Reset.
    pub graceful_notification: bool,
    /// iBGP.
    pub internal: bool,
}

/// The peer's graceful restart capability, restricted to the negotiated families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerGracefulRestart {
    /// How long to keep its routes after the session goes down, seconds.
    pub restart_time: u16,
    /// The R bit: it has just restarted; do not wait for its End-of-RIB before sending ours.
    pub restarted: bool,
    pub families: Vec<GrFamily>,
}

impl Negotiation {
    /// One third of the hold time (RFC 4271 §10); `None` when the hold time is 0.
    pub fn keepalive_interval(&self) -> Option<Duration> {
        (self.hold_time > 0).then(|| Duration::from_millis(u64::from(self.hold_time) * 1000 / 3))
    }

    pub fn hold_interval(&self) -> Option<Duration> {
        (self.hold_time > 0).then(|| Duration::from_secs(u64::from(self.hold_time)))
    }

    pub fn receive_caps(&self) -> &SessionCaps {
        &self.codec.receive
    }

    pub fn send_caps(&self) -> &SessionCaps {
        &self.codec.send
    }
}

/// An OPEN we refuse: the NOTIFICATION to send and why, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRejected {
    pub notification: Notification,
    pub detail: String,
}

fn families_of(caps: &[Capability]) -> Option<BTreeSet<Family>> {
    let mut any = false;
    let mut out = BTreeSet::new();
    for c in caps {
        if let Capability::Multiprotocol { afi, safi } = c {
            any = true;
            if let Some(f) = Family::from_afi_safi(*afi, *safi) {
                out.insert(f);
            }
        }
    }
    any.then_some(out)
}

fn graceful_restart_of(caps: &[Capability]) -> Option<&GracefulRestart> {
    caps.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

/// RFC 4271 §6.2 checks that need the configuration: the peer's AS (RFC 6793: from the 4-octet AS
/// capability when present), its BGP Identifier against ours on iBGP (RFC 6286 §2.2), and
/// (optionally) a family in common (RFC 5492 §5). Version, hold time 1-2, AS 0 and identifier 0
/// were checked by the codec.
pub fn check_open(config: &PeerConfig, local_caps: &[Capability], open: &Open) -> Result<(), OpenRejected> {
    let peer_as = open.asn();
    if peer_as != config.remote_as.get() {
        return Err(OpenRejected {
            notification: Notification::new(code::OPEN_MESSAGE_ERROR, open_error::BAD_PEER_AS, []),
            detail: format!("peer announced AS {peer_as}, configured AS is {}", config.remote_as),
        });
    }
    if config.is_internal() && open.bgp_id == config.router_id {
        return Err(OpenRejected {
            notification: Notification::new(code::OPEN_MESSAGE_ERROR, open_error::BAD_BGP_IDENTIFIER, []),
            detail: format!("iBGP peer uses our own BGP identifier {}", open.bgp_id),
        });
    }
    if config.require_common_family && families(local_caps, open).is_empty() {
        // RFC 5492 §5: the data lists the capabilities we need, as they are on the wire.
        let mut data = Vec::new();
        for cap in local_caps
            .iter()
            .filter(|c| matches!(c, Capability::Multiprotocol { .. }))
        {
            if cap.encode(&mut data).is_err() {
                data.clear();
                break;
            }
        }
        return Err(OpenRejected {
            notification: Notification::new(code::OPEN_MESSAGE_ERROR, open_error::UNSUPPORTED_CAPABILITY, data),
            detail: "no address family in common".to_string(),
        });
    }
    Ok(())
}

fn families(local_caps: &[Capability], open: &Open) -> BTreeSet<Family> {
    let ipv4 = || BTreeSet::from([Family::Ipv4Unicast]);
    let local = families_of(local_caps).unwrap_or_else(ipv4);
    let remote = families_of(&open.capabilities).unwrap_or_else(ipv4);
    local.intersection(&remote).copied().collect()
}

/// What the two OPENs agree on (call after [`check_open`]).
pub fn negotiate(config: &PeerConfig, local_caps: &[Capability], open: &Open) -> Negotiation {
    let families = families(local_caps, open);
    let has = |caps: &[Capability], f: fn(&Capability) -> bool| caps.iter().any(f);
    let route_refresh = |c: &Capability| {
        matches!(c, Capability::RouteRefresh)
            || matches!(c, Capability::Unknown { code, .. } if *code == ROUTE_REFRESH_OLD)
    };
    let codec = SessionCaps::negotiate(local_caps, &open.capabilities);
    let local_gr = graceful_restart_of(local_caps);
    let remote_gr = graceful_restart_of(&open.capabilities);
    let graceful_restart = match (local_gr, remote_gr) {
        (Some(_), Some(gr)) => Some(PeerGracefulRestart {
            restart_time: gr.restart_time,
            restarted: gr.restart_state(),
            families: gr
                .families
                .iter()
                .filter_map(|f| {
                    let family = Family::from_afi_safi(f.afi, f.safi)?;
                    families.contains(&family).then_some(GrFamily {
                        family,
                        forwarding: f.forwarding_preserved(),
                    })
                })
                .collect(),
        }),
        _ => None,
    };
    let graceful_notification = matches!(
        (local_gr, remote_gr),
        (Some(l), Some(r)) if l.flags & r.flags & GracefulRestart::NOTIFICATION != 0
    );
    Negotiation {
        four_octet_as: codec.receive.four_octet_as,
        codec,
        peer_as: open.asn(),
        peer_id: open.bgp_id,
        peer_hold_time: open.hold_time,
        hold_time: config.hold_time.min(open.hold_time),
        families,
        route_refresh: has(local_caps, route_refresh) && has(&open.capabilities, route_refresh),
        enhanced_route_refresh: has(local_caps, |c| matches!(c, Capability::EnhancedRouteRefresh))
            && has(&open.capabilities, |c| matches!(c, Capability::EnhancedRouteRefresh)),
        graceful_restart,
        graceful_notification,
        internal: config.is_internal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_net::Asn;

    fn config() -> PeerConfig {
        let mut c = PeerConfig::new(
            "192.0.2.2".parse().unwrap(),
            Asn::new_unchecked(64511),
            Asn::new_unchecked(64512),
            Ipv4Addr::new(192, 0, 2, 1),
        );
        c.families = vec![Family::Ipv4Unicast, Family::L2vpnEvpn];
        c
    }

    fn open(asn: u32, caps: Vec<Capability>) -> Open {
        Open::new(Asn::new_unchecked(asn), 30, Ipv4Addr::new(192, 0, 2, 2), caps)
    }

    #[test]
    fn hold_time_and_families() {
        let c = config();
        let caps = c.capabilities(false);
        let o = open(
            64512,
            vec![
                Capability::multiprotocol(Family::L2vpnEvpn),
                Capability::multiprotocol(Family::Vpnv4),
                Capability::RouteRefresh,
            ],
        );
        assert_eq!(check_open(&c, &caps, &o), Ok(()));
        let n = negotiate(&c, &caps, &o);
        assert_eq!(n.hold_time, 30);
        assert_eq!(n.keepalive_interval(), Some(Duration::from_secs(10)));
        assert_eq!(n.families, BTreeSet::from([Family::L2vpnEvpn]));
        assert!(n.route_refresh && !n.enhanced_route_refresh);
        assert!(n.four_octet_as);
        // No Multiprotocol capability: IPv4 unicast.
        let n = negotiate(&c, &caps, &open(64512, vec![]));
        assert_eq!(n.families, BTreeSet::from([Family::Ipv4Unicast]));
    }

    #[test]
    fn open_errors() {
        let c = config();
        let caps = c.capabilities(false);
        let e = check_open(&c, &caps, &open(64999, vec![])).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (2, 2));
        let e = check_open(&c, &caps, &open(64512, vec![Capability::multiprotocol(Family::Vpnv6)])).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (2, 7));
        assert_eq!(e.notification.data, [1, 4, 0, 1, 0, 1, 1, 4, 0, 25, 0, 70]);
        let mut ibgp = config();
        ibgp.remote_as = ibgp.local_as;
        let mut o = open(64511, vec![]);
        o.bgp_id = ibgp.router_id;
        let e = check_open(&ibgp, &caps, &o).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (2, 3));
        // The same identifier is fine on eBGP (RFC 6286 §2.2).
        let mut o = open(64512, vec![]);
        o.bgp_id = c.router_id;
        assert_eq!(check_open(&c, &caps, &o), Ok(()));
    }
}
