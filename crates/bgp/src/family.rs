//! Address families: AFI (IANA "Address Family Numbers"), SAFI (IANA "SAFI Values") and the
//! families Weft speaks.

use std::fmt;

/// Address Family Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Afi(pub u16);

impl Afi {
    pub const IPV4: Afi = Afi(1);
    pub const IPV6: Afi = Afi(2);
    pub const L2VPN: Afi = Afi(25);
}

impl fmt::Display for Afi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Afi::IPV4 => f.write_str("ipv4"),
            Afi::IPV6 => f.write_str("ipv6"),
            Afi::L2VPN => f.write_str("l2vpn"),
            Afi(n) => write!(f, "afi-{n}"),
        }
    }
}

/// Subsequent Address Family Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Safi(pub u8);

impl Safi {
    pub const UNICAST: Safi = Safi(1);
    pub const MULTICAST: Safi = Safi(2);
    /// RFC 7432.
    pub const EVPN: Safi = Safi(70);
    /// MPLS-labeled VPN address (RFC 4364, RFC 4659).
    pub const MPLS_VPN: Safi = Safi(128);
    /// Route target constraint (RFC 4684).
    pub const RT_CONSTRAINT: Safi = Safi(132);
}

impl fmt::Display for Safi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Safi::UNICAST => f.write_str("unicast"),
            Safi::MULTICAST => f.write_str("multicast"),
            Safi::EVPN => f.write_str("evpn"),
            Safi::MPLS_VPN => f.write_str("vpn"),
            Safi::RT_CONSTRAINT => f.write_str("rtc"),
            Safi(n) => write!(f, "safi-{n}"),
        }
    }
}

/// The AFI/SAFI pairs whose NLRI this codec understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
    /// AFI 1 SAFI 128 (RFC 4364).
    Vpnv4,
    /// AFI 2 SAFI 128 (RFC 4659).
    Vpnv6,
    /// AFI 25 SAFI 70 (RFC 7432).
    L2vpnEvpn,
    /// AFI 1 SAFI 132 (RFC 4684).
    RtConstraint,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::Ipv4Unicast,
        Family::Ipv6Unicast,
        Family::Vpnv4,
        Family::Vpnv6,
        Family::L2vpnEvpn,
        Family::RtConstraint,
    ];

    pub const fn afi(self) -> Afi {
        match self {
            Family::Ipv4Unicast | Family::Vpnv4 | Family::RtConstraint => Afi::IPV4,
            Family::Ipv6Unicast | Family::Vpnv6 => Afi::IPV6,
            Family::L2vpnEvpn => Afi::L2VPN,
        }
    }

    pub const fn safi(self) -> Safi {
        match self {
            Family::Ipv4Unicast | Family::Ipv6Unicast => Safi::UNICAST,
            Family::Vpnv4 | Family::Vpnv6 => Safi::MPLS_VPN,
            Family::L2vpnEvpn => Safi::EVPN,
            Family::RtConstraint => Safi::RT_CONSTRAINT,
        }
    }

    pub fn from_afi_safi(afi: Afi, safi: Safi) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.afi() == afi && f.safi() == safi)
    }
}

/// FRR's spelling: "ipv4 unicast", "ipv6 vpn", "l2vpn evpn"; RT constraint is "ipv4 rtc".
impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.afi(), self.safi())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn afi_safi_pairs() {
        for family in Family::ALL {
            assert_eq!(Family::from_afi_safi(family.afi(), family.safi()), Some(family));
        }
        assert_eq!(Family::Vpnv4.afi(), Afi(1));
        assert_eq!(Family::Vpnv4.safi(), Safi(128));
        assert_eq!(Family::L2vpnEvpn.afi(), Afi(25));
        assert_eq!(Family::L2vpnEvpn.safi(), Safi(70));
        assert_eq!(Family::RtConstraint.safi(), Safi(132));
        assert_eq!(Family::from_afi_safi(Afi(2), Safi(132)), None);
    }

    #[test]
    fn display_like_frr() {
        assert_eq!(Family::Ipv4Unicast.to_string(), "ipv4 unicast");
        assert_eq!(Family::Ipv6Unicast.to_string(), "ipv6 unicast");
        assert_eq!(Family::Vpnv4.to_string(), "ipv4 vpn");
        assert_eq!(Family::Vpnv6.to_string(), "ipv6 vpn");
        assert_eq!(Family::L2vpnEvpn.to_string(), "l2vpn evpn");
        assert_eq!(Family::RtConstraint.to_string(), "ipv4 rtc");
        assert_eq!(Afi(16388).to_string(), "afi-16388");
    }
}
