//! NLRI: what an UPDATE announces or withdraws, one module per encoding.

pub mod evpn;
pub mod prefix;
pub mod rtc;
pub mod vpn;

use std::fmt;

use ipnet::IpNet;

use crate::EncodeError;
use crate::codec::SessionCaps;
use crate::family::Family;
use crate::wire::Reader;
pub use evpn::{Esi, Evpn, EvpnRoute, IpPrefixRoute};
pub use prefix::Prefix;
pub use rtc::{RtMembership, Rtc};
pub use vpn::{Label, VpnPrefix};

/// One route key of any family this codec speaks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Nlri {
    /// IPv4 or IPv6 unicast, by the address family of the prefix.
    Prefix(Prefix),
    /// VPNv4 or VPNv6, by the address family of the prefix.
    Vpn(VpnPrefix),
    Evpn(Evpn),
    Rtc(Rtc),
}

impl Nlri {
    pub fn family(&self) -> Family {
        match self {
            Nlri::Prefix(p) => match p.net {
                IpNet::V4(_) => Family::Ipv4Unicast,
                IpNet::V6(_) => Family::Ipv6Unicast,
            },
            Nlri::Vpn(p) => match p.net {
                IpNet::V4(_) => Family::Vpnv4,
                IpNet::V6(_) => Family::Vpnv6,
            },
            Nlri::Evpn(_) => Family::L2vpnEvpn,
            Nlri::Rtc(_) => Family::RtConstraint,
        }
    }

    /// The same NLRI with `path_id` as its ADD-PATH identifier (RFC 7911 §3; `None`: without).
    pub fn with_path_id(self, path_id: Option<u32>) -> Nlri {
        match self {
            Nlri::Prefix(p) => Nlri::Prefix(Prefix { path_id, ..p }),
            Nlri::Vpn(p) => Nlri::Vpn(VpnPrefix { path_id, ..p }),
            Nlri::Evpn(e) => Nlri::Evpn(Evpn {
                path_id,
                route: e.route,
            }),
            Nlri::Rtc(r) => Nlri::Rtc(Rtc { path_id, ..r }),
        }
    }

    pub fn path_id(&self) -> Option<u32> {
        match self {
            Nlri::Prefix(p) => p.path_id,
            Nlri::Vpn(p) => p.path_id,
            Nlri::Evpn(e) => e.path_id,
            Nlri::Rtc(r) => r.path_id,
        }
    }

    /// Decodes every NLRI of `family` in `buf`; `withdrawn` for withdrawn routes (MP_UNREACH_NLRI,
    /// Withdrawn Routes), whose VPN label fields follow RFC 8277 §2.4.
    pub(crate) fn decode_all(
        family: Family,
        buf: &[u8],
        caps: &SessionCaps,
        withdrawn: bool,
    ) -> Result<Vec<Nlri>, &'static str> {
        let add_path = caps.add_path(family);
        let mut r = Reader::new(buf);
        let mut out = Vec::new();
        while !r.is_empty() {
            let path_id = if add_path {
                Some(r.u32().ok_or("truncated path identifier")?)
            } else {
                None
            };
            let nlri = match family {
                Family::Ipv4Unicast => Nlri::Prefix(Prefix::decode(&mut r, false, path_id)?),
                Family::Ipv6Unicast => Nlri::Prefix(Prefix::decode(&mut r, true, path_id)?),
                Family::Vpnv4 => Nlri::Vpn(VpnPrefix::decode(&mut r, false, path_id, withdrawn)?),
                Family::Vpnv6 => Nlri::Vpn(VpnPrefix::decode(&mut r, true, path_id, withdrawn)?),
                Family::L2vpnEvpn => Nlri::Evpn(Evpn {
                    path_id,
                    route: EvpnRoute::decode(&mut r)?,
                }),
                Family::RtConstraint => Nlri::Rtc(Rtc::decode(&mut r, path_id)?),
            };
            out.push(nlri);
        }
        Ok(out)
    }

    /// Encodes one NLRI that must be of `family`.
    pub(crate) fn encode(&self, family: Family, caps: &SessionCaps, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.family() != family {
            return Err(EncodeError::FamilyMismatch {
                family,
                nlri: self.family(),
            });
        }
        match (caps.add_path(family), self.path_id()) {
            (true, Some(id)) => out.extend_from_slice(&id.to_be_bytes()),
            (true, None) => return Err(EncodeError::MissingPathId { family }),
            (false, Some(_)) => return Err(EncodeError::UnexpectedPathId { family }),
            (false, None) => {}
        }
        match self {
            Nlri::Prefix(p) => {
                p.encode(out);
                Ok(())
            }
            Nlri::Vpn(p) => p.encode(out),
            Nlri::Evpn(e) => e.route.encode(out),
            Nlri::Rtc(r) => r.encode(out),
        }
    }
}

impl From<Prefix> for Nlri {
    fn from(p: Prefix) -> Nlri {
        Nlri::Prefix(p)
    }
}

impl fmt::Display for Nlri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Nlri::Prefix(p) => p.fmt(f),
            Nlri::Vpn(p) => p.fmt(f),
            Nlri::Evpn(e) => {
                e.route.fmt(f)?;
                if let Some(id) = e.path_id {
                    write!(f, " path-id {id}")?;
                }
                Ok(())
            }
            Nlri::Rtc(r) => {
                r.fmt(f)?;
                if let Some(id) = r.path_id {
                    write!(f, " path-id {id}")?;
                }
                Ok(())
            }
        }
    }
}

/// Decodes the classic IPv4 unicast fields (Withdrawn Routes, NLRI) of an UPDATE.
pub(crate) fn decode_ipv4_field(buf: &[u8], caps: &SessionCaps) -> Result<Vec<Prefix>, &'static str> {
    Nlri::decode_all(Family::Ipv4Unicast, buf, caps, false).map(|list| {
        list.into_iter()
            .filter_map(|n| match n {
                Nlri::Prefix(p) => Some(p),
                _ => None,
            })
            .collect()
    })
}

pub(crate) fn encode_ipv4_field(list: &[Prefix], caps: &SessionCaps, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for p in list {
        Nlri::Prefix(*p).encode(Family::Ipv4Unicast, caps, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_path_rfc7911() {
        // Path id 1, 198.51.100.0/24; path id 2, 0.0.0.0/0.
        let bytes = [0, 0, 0, 1, 24, 198, 51, 100, 0, 0, 0, 2, 0];
        let mut caps = SessionCaps::default();
        caps.add_path.insert(Family::Ipv4Unicast);
        let list = Nlri::decode_all(Family::Ipv4Unicast, &bytes, &caps, false).unwrap();
        assert_eq!(list[0].path_id(), Some(1));
        assert_eq!(list[1].to_string(), "0.0.0.0/0 path-id 2");
        let mut out = Vec::new();
        for n in &list {
            n.encode(Family::Ipv4Unicast, &caps, &mut out).unwrap();
        }
        assert_eq!(out, bytes);
        // Without ADD-PATH the same octets do not parse as prefixes.
        assert!(Nlri::decode_all(Family::Ipv4Unicast, &bytes, &SessionCaps::default(), false).is_err());
        // Encoding checks the path id against the session.
        assert_eq!(
            list[0].encode(Family::Ipv4Unicast, &SessionCaps::default(), &mut out),
            Err(EncodeError::UnexpectedPathId {
                family: Family::Ipv4Unicast
            })
        );
        let no_id = Nlri::Prefix(Prefix::new("10.0.0.0/8".parse().unwrap()));
        assert!(no_id.encode(Family::Ipv4Unicast, &caps, &mut out).is_err());
        assert!(
            no_id
                .encode(Family::Ipv6Unicast, &SessionCaps::default(), &mut out)
                .is_err()
        );
    }
}
