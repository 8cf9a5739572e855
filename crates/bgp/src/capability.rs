//! Capabilities advertised in OPEN (RFC 5492): multiprotocol (RFC 4760), route refresh
//! (RFC 2918), enhanced route refresh (RFC 7313), 4-octet AS (RFC 6793), graceful restart
//! (RFC 4724), ADD-PATH (RFC 7911) and extended message (RFC 8654). Any other capability is kept
//! as it came.

use crate::EncodeError;
use crate::error::Reason;
use crate::family::{Afi, Family, Safi};
use crate::wire::{Reader, put_u16, put_u32};

/// Capability codes (IANA "Capability Codes").
pub mod code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// RFC 4760 §8 (the reserved octet is sent as 0 and ignored).
    Multiprotocol {
        afi: Afi,
        safi: Safi,
    },
    RouteRefresh,
    EnhancedRouteRefresh,
    ExtendedMessage,
    /// The speaker's 4-octet AS number (RFC 6793 §3).
    FourOctetAs(u32),
    GracefulRestart(GracefulRestart),
    AddPath(Vec<AddPathFamily>),
    /// Any other capability, value byte for byte.
    Unknown {
        code: u8,
        value: Vec<u8>,
    },
}

/// RFC 4724 §3 (and the N bit of RFC 8538).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// The four Restart Flags bits, in place in the top of the octet: 0x80 Restart State (R),
    /// 0x40 Graceful Notification (N, RFC 8538). The low four bits must be zero.
    pub flags: u8,
    /// Restart Time in seconds, 0-4095.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

impl GracefulRestart {
    pub const RESTART_STATE: u8 = 0x80;
    pub const NOTIFICATION: u8 = 0x40;

    pub fn restart_state(&self) -> bool {
        self.flags & Self::RESTART_STATE != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    pub afi: Afi,
    pub safi: Safi,
    /// Flags for Address Family; 0x80 = Forwarding State preserved.
    pub flags: u8,
}

impl GracefulRestartFamily {
    pub const FORWARDING_STATE: u8 = 0x80;

    pub fn forwarding_preserved(&self) -> bool {
        self.flags & Self::FORWARDING_STATE != 0
    }
}

/// One AFI/SAFI of the ADD-PATH capability (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    pub afi: Afi,
    pub safi: Safi,
    /// 1 = receive, 2 = send, 3 = both; other values are kept but mean nothing.
    pub send_receive: u8,
}

impl AddPathFamily {
    pub const RECEIVE: u8 = 1;
    pub const SEND: u8 = 2;

    pub fn new(family: Family, receive: bool, send: bool) -> AddPathFamily {
        AddPathFamily {
            afi: family.afi(),
            safi: family.safi(),
            send_receive: if receive { Self::RECEIVE } else { 0 } | if send { Self::SEND } else { 0 },
        }
    }

    pub fn can_receive(&self) -> bool {
        matches!(self.send_receive, 1 | 3)
    }

    pub fn can_send(&self) -> bool {
        matches!(self.send_receive, 2 | 3)
    }
}

impl Capability {
    pub fn multiprotocol(family: Family) -> Capability {
        Capability::Multiprotocol {
            afi: family.afi(),
            safi: family.safi(),
        }
    }

    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol { .. } => code::MULTIPROTOCOL,
            Capability::RouteRefresh => code::ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => code::ENHANCED_ROUTE_REFRESH,
            Capability::ExtendedMessage => code::EXTENDED_MESSAGE,
            Capability::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Capability::GracefulRestart(_) => code::GRACEFUL_RESTART,
            Capability::AddPath(_) => code::ADD_PATH,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Decodes one capability value.
    pub fn decode(code: u8, value: &[u8]) -> Result<Capability, Reason> {
        let malformed = |detail| Reason::MalformedCapability { code, detail };
        let mut r = Reader::new(value);
        let cap = match code {
            code::MULTIPROTOCOL => {
                let [a0, a1, _reserved, safi] = r.array().ok_or_else(|| malformed("not 4 octets"))?;
                Capability::Multiprotocol {
                    afi: Afi(u16::from_be_bytes([a0, a1])),
                    safi: Safi(safi),
                }
            }
            code::ROUTE_REFRESH => Capability::RouteRefresh,
            code::ENHANCED_ROUTE_REFRESH => Capability::EnhancedRouteRefresh,
            code::EXTENDED_MESSAGE => Capability::ExtendedMessage,
            code::FOUR_OCTET_AS => Capability::FourOctetAs(r.u32().ok_or_else(|| malformed("not 4 octets"))?),
            code::GRACEFUL_RESTART => {
                let head = r.u16().ok_or_else(|| malformed("shorter than 2 octets"))?;
                if !r.remaining().is_multiple_of(4) {
                    return Err(malformed("AFI/SAFI entries are not 4 octets each"));
                }
                let mut families = Vec::with_capacity(r.remaining() / 4);
                while let Some([a0, a1, safi, flags]) = r.array() {
                    families.push(GracefulRestartFamily {
                        afi: Afi(u16::from_be_bytes([a0, a1])),
                        safi: Safi(safi),
                        flags,
                    });
                }
                Capability::GracefulRestart(GracefulRestart {
                    flags: (head >> 8) as u8 & 0xf0,
                    restart_time: head & 0x0fff,
                    families,
                })
            }
            code::ADD_PATH => {
                if !r.remaining().is_multiple_of(4) {
                    return Err(malformed("AFI/SAFI entries are not 4 octets each"));
                }
                let mut entries = Vec::with_capacity(r.remaining() / 4);
                while let Some([a0, a1, safi, send_receive]) = r.array() {
                    entries.push(AddPathFamily {
                        afi: Afi(u16::from_be_bytes([a0, a1])),
                        safi: Safi(safi),
                        send_receive,
                    });
                }
                Capability::AddPath(entries)
            }
            _ => {
                return Ok(Capability::Unknown {
                    code,
                    value: value.to_vec(),
                });
            }
        };
        if !r.is_empty() {
            return Err(malformed("longer than its definition"));
        }
        Ok(cap)
    }

    /// Decodes the capabilities of one Capabilities optional parameter (RFC 5492 §4).
    pub fn decode_list(buf: &[u8]) -> Result<Vec<Capability>, Reason> {
        let mut r = Reader::new(buf);
        let mut out = Vec::new();
        while !r.is_empty() {
            let (Some(code), Some(len)) = (r.u8(), r.u8()) else {
                return Err(Reason::MalformedOptionalParameters("truncated capability header"));
            };
            let value = r.take(usize::from(len)).ok_or(Reason::MalformedOptionalParameters(
                "capability runs past its parameter",
            ))?;
            out.push(Capability::decode(code, value)?);
        }
        Ok(out)
    }

    /// Appends code, length and value.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.code());
        let len_at = out.len();
        out.push(0);
        match self {
            Capability::Multiprotocol { afi, safi } => {
                put_u16(out, afi.0);
                out.push(0);
                out.push(safi.0);
            }
            Capability::RouteRefresh | Capability::EnhancedRouteRefresh | Capability::ExtendedMessage => {}
            Capability::FourOctetAs(asn) => put_u32(out, *asn),
            Capability::GracefulRestart(gr) => {
                if gr.flags & 0x0f != 0 || gr.restart_time > 0x0fff {
                    return Err(EncodeError::Invalid(
                        "graceful restart capability",
                        "flags use the low 4 bits or restart time exceeds 4095",
                    ));
                }
                put_u16(out, u16::from(gr.flags) << 8 | gr.restart_time);
                for f in &gr.families {
                    put_u16(out, f.afi.0);
                    out.push(f.safi.0);
                    out.push(f.flags);
                }
            }
            Capability::AddPath(entries) => {
                for e in entries {
                    put_u16(out, e.afi.0);
                    out.push(e.safi.0);
                    out.push(e.send_receive);
                }
            }
            Capability::Unknown { value, .. } => out.extend_from_slice(value),
        }
        let len = out.len().saturating_sub(len_at + 1);
        let len = u8::try_from(len).map_err(|_| EncodeError::TooLong {
            what: "capability",
            len,
            max: 255,
        })?;
        if let Some(slot) = out.get_mut(len_at) {
            *slot = len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> Vec<Capability> {
        let caps = Capability::decode_list(bytes).unwrap();
        let mut out = Vec::new();
        for c in &caps {
            c.encode(&mut out).unwrap();
        }
        assert_eq!(out, bytes);
        caps
    }

    #[test]
    fn rfc_layouts() {
        // RFC 4760 §8: AFI 2, reserved, SAFI 128.
        assert_eq!(
            round_trip(&[1, 4, 0, 2, 0, 128]),
            [Capability::Multiprotocol {
                afi: Afi::IPV6,
                safi: Safi::MPLS_VPN
            }]
        );
        // RFC 2918 / RFC 7313 / RFC 8654: empty values.
        assert_eq!(
            round_trip(&[2, 0, 70, 0, 6, 0]),
            [
                Capability::RouteRefresh,
                Capability::EnhancedRouteRefresh,
                Capability::ExtendedMessage
            ]
        );
        // RFC 6793: AS 4200000001.
        assert_eq!(
            round_trip(&[65, 4, 0xfa, 0x56, 0xea, 0x01]),
            [Capability::FourOctetAs(4_200_000_001)]
        );
        // RFC 4724: R bit, 120 s, IPv4 unicast with forwarding preserved, EVPN without.
        let gr = round_trip(&[64, 10, 0x80, 120, 0, 1, 1, 0x80, 0, 25, 70, 0]);
        let Capability::GracefulRestart(gr) = &gr[0] else {
            panic!()
        };
        assert!(gr.restart_state());
        assert_eq!(gr.restart_time, 120);
        assert!(gr.families[0].forwarding_preserved());
        assert!(!gr.families[1].forwarding_preserved());
        // RFC 7911: IPv4 unicast send+receive, VPNv4 receive.
        let ap = round_trip(&[69, 8, 0, 1, 1, 3, 0, 1, 128, 1]);
        assert_eq!(
            ap,
            [Capability::AddPath(vec![
                AddPathFamily::new(Family::Ipv4Unicast, true, true),
                AddPathFamily::new(Family::Vpnv4, true, false)
            ])]
        );
        // Unknown (extended next hop, RFC 8950) kept as is.
        assert_eq!(
            round_trip(&[5, 6, 0, 1, 0, 128, 0, 2]),
            [Capability::Unknown {
                code: 5,
                value: vec![0, 1, 0, 128, 0, 2]
            }]
        );
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            Capability::decode_list(&[1, 3, 0, 1, 0]),
            Err(Reason::MalformedCapability { code: 1, .. })
        ));
        assert!(Capability::decode_list(&[65, 5, 0, 0, 0, 1, 0]).is_err());
        assert!(Capability::decode_list(&[2, 1, 0]).is_err());
        assert!(Capability::decode_list(&[64, 3, 0, 0, 0]).is_err());
        assert!(Capability::decode_list(&[69, 4, 0, 1, 1]).is_err());
        assert!(Capability::decode_list(&[70]).is_err());
    }
}
