//! OPEN (RFC 4271 §4.2): version, My Autonomous System, Hold Time, BGP Identifier and optional
//! parameters, of which only Capabilities (RFC 5492) are defined; the extended optional
//! parameters length of RFC 9072 is read and, when needed, written.

use std::net::Ipv4Addr;

use weft_net::Asn;

use crate::capability::Capability;
use crate::error::Reason;
use crate::wire::{Reader, put_u16};
use crate::{AS_TRANS, DecodeError, EncodeError};

/// Optional parameter type of Capabilities (RFC 5492 §4).
pub const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: a Non-Ext OP Len and Non-Ext OP Type of 255 announce the extended format.
pub const PARAM_EXTENDED_LENGTH: u8 = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// My Autonomous System: the AS, or AS_TRANS when it needs 4 octets (RFC 6793 §4.1).
    pub my_as: u16,
    /// Seconds; 0 or at least 3.
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// Every capability of every Capabilities parameter, in order.
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// An OPEN for `asn`: AS_TRANS in My AS when it needs 4 octets, and the 4-octet AS capability
    /// added unless `capabilities` has it.
    pub fn new(asn: Asn, hold_time: u16, bgp_id: Ipv4Addr, mut capabilities: Vec<Capability>) -> Open {
        if !capabilities.iter().any(|c| matches!(c, Capability::FourOctetAs(_))) {
            capabilities.push(Capability::FourOctetAs(asn.get()));
        }
        Open {
            my_as: u16::try_from(asn.get()).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// The speaker's AS: from the 4-octet AS capability when present, else My AS.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    /// RFC 4271 §6.2 checks: version 4, hold time 0 or 3+, a non-zero BGP identifier (RFC 6286)
    /// and peer AS (RFC 7607), only the Capabilities optional parameter, parameters that fill the
    /// message exactly. Matching the configured peer AS is the session's job.
    pub(crate) fn decode_body(body: &[u8]) -> Result<Open, DecodeError> {
        let mut r = Reader::new(body);
        let malformed = |detail| DecodeError::open(Reason::MalformedOptionalParameters(detail));
        let (Some(version), Some(my_as), Some(hold_time), Some(bgp_id), Some(opt_len)) =
            (r.u8(), r.u16(), r.u16(), r.array::<4>(), r.u8())
        else {
            return Err(malformed("OPEN shorter than 10 octets"));
        };
        if version != 4 {
            return Err(DecodeError::open(Reason::UnsupportedVersion(version)));
        }
        let mut open = Open {
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(bgp_id),
            capabilities: Vec::new(),
        };
        let rest = r.rest();
        let extended = opt_len == PARAM_EXTENDED_LENGTH && rest.first() == Some(&PARAM_EXTENDED_LENGTH);
        let mut params = Reader::new(rest);
        if extended {
            params.u8();
            let len = params
                .u16()
                .ok_or_else(|| malformed("truncated extended parameters length"))?;
            if usize::from(len) != params.remaining() {
                return Err(malformed("extended parameters length does not match the message"));
            }
        } else if usize::from(opt_len) != rest.len() {
            return Err(malformed("optional parameters length does not match the message"));
        }
        while !params.is_empty() {
            let param_type = params.u8().ok_or_else(|| malformed("truncated parameter"))?;
            let len = if extended {
                params.u16().map(usize::from)
            } else {
                params.u8().map(usize::from)
            }
            .ok_or_else(|| malformed("truncated parameter length"))?;
            let value = params
                .take(len)
                .ok_or_else(|| malformed("parameter runs past the message"))?;
            if param_type != PARAM_CAPABILITIES {
                return Err(DecodeError::open(Reason::UnsupportedOptionalParameter(param_type)));
            }
            open.capabilities
                .extend(Capability::decode_list(value).map_err(DecodeError::open)?);
        }
        if open.my_as == 0 || open.asn() == 0 {
            return Err(DecodeError::open(Reason::BadPeerAs));
        }
        if matches!(open.hold_time, 1 | 2) {
            return Err(DecodeError::open(Reason::UnacceptableHoldTime(open.hold_time)));
        }
        if open.bgp_id.is_unspecified() {
            return Err(DecodeError::open(Reason::BadBgpIdentifier));
        }
        Ok(open)
    }

    /// All capabilities go in one Capabilities parameter; past 255 octets of parameters the
    /// RFC 9072 extended format is used.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(4);
        put_u16(out, self.my_as);
        put_u16(out, self.hold_time);
        out.extend_from_slice(&self.bgp_id.octets());
        let mut caps = Vec::new();
        for c in &self.capabilities {
            c.encode(&mut caps)?;
        }
        if caps.is_empty() {
            out.push(0);
        } else if caps.len() + 2 <= 255 {
            out.push((caps.len() + 2) as u8);
            out.push(PARAM_CAPABILITIES);
            out.push(caps.len() as u8);
            out.extend_from_slice(&caps);
        } else {
            let too_long = |len| EncodeError::TooLong {
                what: "OPEN optional parameters",
                len,
                max: 65535,
            };
            let caps_len = u16::try_from(caps.len()).map_err(|_| too_long(caps.len()))?;
            let params_len = u16::try_from(caps.len() + 3).map_err(|_| too_long(caps.len() + 3))?;
            out.push(PARAM_EXTENDED_LENGTH);
            out.push(PARAM_EXTENDED_LENGTH);
            put_u16(out, params_len);
            out.push(PARAM_CAPABILITIES);
            put_u16(out, caps_len);
            out.extend_from_slice(&caps);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;

    fn body(opt: &[u8]) -> Vec<u8> {
        let mut b = vec![4, 0xfc, 0x00, 0, 90, 192, 0, 2, 1, opt.len() as u8];
        b.extend_from_slice(opt);
        b
    }

    #[test]
    fn rfc4271_layout() {
        let b = body(&[2, 6, 1, 4, 0, 1, 0, 1]);
        let open = Open::decode_body(&b).unwrap();
        assert_eq!(open.my_as, 64512);
        assert_eq!(open.hold_time, 90);
        assert_eq!(open.bgp_id, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(open.capabilities, [Capability::multiprotocol(Family::Ipv4Unicast)]);
        let mut out = Vec::new();
        open.encode_body(&mut out).unwrap();
        assert_eq!(out, b);
        // Several Capabilities parameters are read into one list.
        let two = Open::decode_body(&body(&[2, 2, 2, 0, 2, 2, 70, 0])).unwrap();
        assert_eq!(
            two.capabilities,
            [Capability::RouteRefresh, Capability::EnhancedRouteRefresh]
        );
    }

    #[test]
    fn four_octet_as_uses_as_trans() {
        let open = Open::new(
            Asn::new_unchecked(4_200_000_002),
            90,
            Ipv4Addr::new(192, 0, 2, 2),
            vec![],
        );
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_002);
    }

    #[test]
    fn rfc9072_extended_parameters() {
        let caps: Vec<Capability> = (0..90u8)
            .map(|i| Capability::Unknown {
                code: 200,
                value: vec![i],
            })
            .collect();
        let open = Open {
            my_as: 64512,
            hold_time: 0,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: caps,
        };
        let mut out = Vec::new();
        open.encode_body(&mut out).unwrap();
        assert_eq!(out[9..12], [255, 255, 1]);
        assert_eq!(Open::decode_body(&out).unwrap(), open);
    }

    #[test]
    fn rfc4271_errors() {
        let sub = |b: &[u8]| {
            let e = Open::decode_body(b).unwrap_err();
            (e.notification.code, e.notification.subcode, e.notification.data)
        };
        let mut v3 = body(&[]);
        v3[0] = 3;
        assert_eq!(sub(&v3), (2, 1, vec![0, 4]));
        let mut as0 = body(&[]);
        as0[1..3].copy_from_slice(&[0, 0]);
        assert_eq!(sub(&as0).1, 2);
        // A 4-octet AS capability with AS 0 is a bad peer AS too (RFC 7607).
        assert_eq!(sub(&body(&[2, 6, 65, 4, 0, 0, 0, 0])).1, 2);
        let mut id0 = body(&[]);
        id0[5..9].copy_from_slice(&[0; 4]);
        assert_eq!(sub(&id0).1, 3);
        let mut hold2 = body(&[]);
        hold2[3..5].copy_from_slice(&[0, 2]);
        assert_eq!(sub(&hold2).1, 6);
        // Parameter type 1 (authentication, deprecated) is unsupported.
        assert_eq!(sub(&body(&[1, 0])).1, 4);
        // Lengths that do not add up.
        let mut short = body(&[2, 6, 1, 4, 0, 1, 0, 1]);
        short.pop();
        assert_eq!(sub(&short).1, 0);
        assert_eq!(sub(&body(&[2, 3, 1, 4, 0])).1, 0);
        assert_eq!(sub(&[4, 0]).1, 0);
    }
}
