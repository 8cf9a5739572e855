//! What the operator configures for one peer, and the capabilities and OPEN that follow from it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use weft_net::Asn;

use crate::AS_TRANS;
use crate::capability::{AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily};
use crate::family::Family;
use crate::message::Open;

/// One BGP peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Where the peer is; the session only uses it in log messages (the I/O layer connects to it).
    pub remote_addr: IpAddr,
    pub local_as: Asn,
    /// The AS the peer must announce in its OPEN (RFC 4271 §6.2 Bad Peer AS otherwise).
    pub remote_as: Asn,
    /// Our BGP Identifier (RFC 6286: any non-zero value, unique within the AS).
    pub router_id: Ipv4Addr,
    /// Hold Time we propose, in seconds: 0 (no keepalives, no hold timer) or at least 3.
    pub hold_time: u16,
    /// ConnectRetryTime (RFC 4271 §10, 120 s suggested; 30 s is the common default).
    pub connect_retry: Duration,
    /// The "large value" the hold timer runs with while we wait for the peer's OPEN
    /// (RFC 4271 §8.2.2 suggests 4 minutes).
    pub open_hold_time: Duration,
    /// Never connect; only accept the peer's connections (PassiveTcpEstablishment, RFC 4271 §8.1.1).
    pub passive: bool,
    /// Address families to advertise (Multiprotocol capability, RFC 4760). Empty means none is
    /// advertised, which RFC 4760 reads as IPv4 unicast only.
    pub families: Vec<Family>,
    /// Advertise the 4-octet AS capability (RFC 6793). Required when `local_as` needs 4 octets.
    pub four_octet_as: bool,
    /// Route refresh (RFC 2918).
    pub route_refresh: bool,
    /// Enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Extended messages (RFC 8654).
    pub extended_message: bool,
    /// ADD-PATH (RFC 7911) per family.
    pub add_path: Vec<AddPathFamily>,
    /// Graceful restart (RFC 4724, RFC 8538); `None` neither advertises it nor keeps a restarting
    /// peer's routes.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Damping of restarts after errors (IdleHoldTimer, RFC 4271 §8.1.1 DampPeerOscillations).
    pub idle_hold: IdleHoldConfig,
    /// Refuse a peer with no address family in common (OPEN Message Error / Unsupported
    /// Capability, RFC 5492 §5) instead of keeping a session that can carry nothing.
    pub require_common_family: bool,
}

/// Graceful restart (RFC 4724) as we advertise and apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Restart Time we advertise: how long the peer should keep our routes, seconds (0-4095).
    pub restart_time: u16,
    /// Families we can preserve forwarding state for, with the Forwarding State (F) bit.
    pub families: Vec<GrFamily>,
    /// Advertise the N bit (RFC 8538): graceful restart also after a NOTIFICATION or a hold timer
    /// expiry, except a Hard Reset.
    pub notification: bool,
    /// We have just restarted: the Restart State (R) bit goes in our OPENs until the first session
    /// reaches Established (RFC 4724 §4.1).
    pub restarting: bool,
    /// How long routes of a restarted peer stay stale after the session is back, waiting for its
    /// End-of-RIB (RFC 4724 §4.2 allows this upper bound; FRR's stalepath-time is 360 s).
    pub stale_time: Duration,
}

/// One family of a graceful restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrFamily {
    pub family: Family,
    /// Forwarding state preserved across the restart (the F bit).
    pub forwarding: bool,
}

/// Exponential backoff of automatic restarts: after each failure the session stays Idle for the
/// current delay, which then doubles up to `max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleHoldConfig {
    /// Delay after the first failure; zero restarts at once (no damping).
    pub initial: Duration,
    pub max: Duration,
    /// A session that stayed Established this long starts over from `initial` when it fails.
    pub stable: Duration,
}

impl Default for IdleHoldConfig {
    fn default() -> Self {
        IdleHoldConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable: Duration::from_secs(60),
        }
    }
}

impl GracefulRestartConfig {
    /// Restart time 120 s, the N bit, not restarting, stale time 360 s, these families with
    /// forwarding state preserved.
    pub fn new(families: &[Family]) -> GracefulRestartConfig {
        GracefulRestartConfig {
            restart_time: 120,
            families: families
                .iter()
                .map(|&family| GrFamily {
                    family,
                    forwarding: true,
                })
                .collect(),
            notification: true,
            restarting: false,
            stale_time: Duration::from_secs(360),
        }
    }
}

/// Why a [`PeerConfig`] cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("hold time {0} s is neither 0 nor at least 3 s (RFC 4271 §4.2)")]
    HoldTime(u16),
    #[error("router id 0.0.0.0 is not a valid BGP Identifier (RFC 6286)")]
    RouterId,
    #[error("AS 0 is reserved (RFC 7607)")]
    ZeroAs,
    #[error("local AS {0} needs 4 octets, which needs the 4-octet AS capability (RFC 6793)")]
    FourOctetAsNeeded(Asn),
    #[error("{what} must be longer than zero")]
    ZeroTimer { what: &'static str },
    #[error("graceful restart time {0} s exceeds 4095 s (RFC 4724 §3)")]
    RestartTime(u16),
    #[error("idle hold: the initial delay is longer than the maximum")]
    IdleHold,
}

impl PeerConfig {
    /// A peer with the defaults: hold time 90 s, connect retry 30 s, IPv4 unicast, 4-octet AS,
    /// route refresh and enhanced route refresh, no graceful restart, idle hold 1 s to 60 s.
    pub fn new(remote_addr: IpAddr, local_as: Asn, remote_as: Asn, router_id: Ipv4Addr) -> PeerConfig {
        PeerConfig {
            remote_addr,
            local_as,
            remote_as,
            router_id,
            hold_time: 90,
            connect_retry: Duration::from_secs(30),
            open_hold_time: Duration::from_secs(240),
            passive: false,
            families: vec![Family::Ipv4Unicast],
            four_octet_as: true,
            route_refresh: true,
            enhanced_route_refresh: true,
            extended_message: false,
            add_path: Vec::new(),
            graceful_restart: None,
            idle_hold: IdleHoldConfig::default(),
            require_common_family: true,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if matches!(self.hold_time, 1 | 2) {
            return Err(ConfigError::HoldTime(self.hold_time));
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::RouterId);
        }
        if self.local_as.get() == 0 || self.remote_as.get() == 0 {
            return Err(ConfigError::ZeroAs);
        }
        if self.local_as.is_four_octet() && !self.four_octet_as {
            return Err(ConfigError::FourOctetAsNeeded(self.local_as));
        }
        if self.connect_retry.is_zero() {
            return Err(ConfigError::ZeroTimer { what: "connect retry" });
        }
        if self.open_hold_time.is_zero() {
            return Err(ConfigError::ZeroTimer { what: "open hold time" });
        }
        if self.idle_hold.initial > self.idle_hold.max {
            return Err(ConfigError::IdleHold);
        }
        if let Some(gr) = &self.graceful_restart
            && gr.restart_time > 0x0fff
        {
            return Err(ConfigError::RestartTime(gr.restart_time));
        }
        Ok(())
    }

    /// iBGP: both ends in the same AS.
    pub fn is_internal(&self) -> bool {
        self.local_as == self.remote_as
    }

    /// The families we can carry: those configured, or IPv4 unicast when none is (RFC 4760 §1).
    pub fn local_families(&self) -> Vec<Family> {
        if self.families.is_empty() {
            vec![Family::Ipv4Unicast]
        } else {
            self.families.clone()
        }
    }

    /// The capabilities of our OPEN; `restarting` sets the graceful restart R bit.
    pub fn capabilities(&self, restarting: bool) -> Vec<Capability> {
        let mut caps: Vec<Capability> = self.families.iter().map(|&f| Capability::multiprotocol(f)).collect();
        if self.route_refresh {
            caps.push(Capability::RouteRefresh);
        }
        if self.enhanced_route_refresh {
            caps.push(Capability::EnhancedRouteRefresh);
        }
        if self.extended_message {
            caps.push(Capability::ExtendedMessage);
        }
        if self.four_octet_as {
            caps.push(Capability::FourOctetAs(self.local_as.get()));
        }
        if let Some(gr) = &self.graceful_restart {
            let mut flags = 0;
            if restarting {
                flags |= GracefulRestart::RESTART_STATE;
            }
            if gr.notification {
                flags |= GracefulRestart::NOTIFICATION;
            }
            caps.push(Capability::GracefulRestart(GracefulRestart {
                flags,
                restart_time: gr.restart_time.min(0x0fff),
                families: gr
                    .families
                    .iter()
                    .map(|f| GracefulRestartFamily {
                        afi: f.family.afi(),
                        safi: f.family.safi(),
                        flags: if f.forwarding {
                            GracefulRestartFamily::FORWARDING_STATE
                        } else {
                            0
                        },
                    })
                    .collect(),
            }));
        }
        if !self.add_path.is_empty() {
            caps.push(Capability::AddPath(self.add_path.clone()));
        }
        caps
    }

    /// Our OPEN (RFC 4271 §4.2, AS_TRANS in My AS when the AS needs 4 octets, RFC 6793 §4.1).
    pub fn open(&self, restarting: bool) -> Open {
        Open {
            my_as: u16::try_from(self.local_as.get()).unwrap_or(AS_TRANS),
            hold_time: self.hold_time,
            bgp_id: self.router_id,
            capabilities: self.capabilities(restarting),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PeerConfig {
        PeerConfig::new(
            "192.0.2.2".parse().unwrap(),
            Asn::new_unchecked(4_200_000_001),
            Asn::new_unchecked(64512),
            Ipv4Addr::new(192, 0, 2, 1),
        )
    }

    #[test]
    fn validation() {
        assert_eq!(config().validate(), Ok(()));
        let mut c = config();
        c.hold_time = 2;
        assert_eq!(c.validate(), Err(ConfigError::HoldTime(2)));
        let mut c = config();
        c.four_octet_as = false;
        assert!(matches!(c.validate(), Err(ConfigError::FourOctetAsNeeded(_))));
        let mut c = config();
        c.router_id = Ipv4Addr::UNSPECIFIED;
        assert_eq!(c.validate(), Err(ConfigError::RouterId));
        let mut c = config();
        c.connect_retry = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::ZeroTimer { .. })));
    }

    #[test]
    fn open_uses_as_trans_and_sets_gr_bits() {
        let mut c = config();
        c.graceful_restart = Some(GracefulRestartConfig::new(&[Family::Ipv4Unicast]));
        let open = c.open(true);
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_001);
        let gr = open
            .capabilities
            .iter()
            .find_map(|c| match c {
                Capability::GracefulRestart(gr) => Some(gr.clone()),
                _ => None,
            })
            .unwrap();
        assert!(gr.restart_state());
        assert_eq!(gr.flags & GracefulRestart::NOTIFICATION, GracefulRestart::NOTIFICATION);
        assert!(gr.families[0].forwarding_preserved());
        assert!(!c.open(false).capabilities.iter().any(|c| match c {
            Capability::GracefulRestart(gr) => gr.restart_state(),
            _ => false,
        }));
    }
}
