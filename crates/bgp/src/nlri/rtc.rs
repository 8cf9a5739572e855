//! Route target membership NLRI (RFC 4684 §4): a length in bits (0 to 96), a 4-octet origin AS
//! and a route target, possibly cut short to a prefix of its bits. Length 0 is the default route
//! ("send me every VPN route").

use std::fmt;

use weft_net::RouteTarget;

use crate::EncodeError;
use crate::wire::{Reader, mask_bits, octets_for_bits, prefix_octets};

/// One RT constraint NLRI with its path identifier when ADD-PATH is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rtc {
    pub path_id: Option<u32>,
    /// `None` is the default route (length 0).
    pub membership: Option<RtMembership>,
}

/// Origin AS plus the first `target_bits` bits of a route target extended community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RtMembership {
    pub origin_as: u32,
    /// 0 to 64; 64 is a whole route target.
    pub target_bits: u8,
    /// The route target's 8 octets, bits past `target_bits` clear.
    pub target: [u8; 8],
}

impl Rtc {
    pub fn default_route() -> Rtc {
        Rtc {
            path_id: None,
            membership: None,
        }
    }

    /// Membership in exactly one route target.
    pub fn exact(origin_as: u32, rt: RouteTarget) -> Rtc {
        Rtc {
            path_id: None,
            membership: Some(RtMembership {
                origin_as,
                target_bits: 64,
                target: rt.to_extended_community(),
            }),
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>, path_id: Option<u32>) -> Result<Rtc, &'static str> {
        let bits = r.u8().ok_or("truncated length")?;
        if bits == 0 {
            return Ok(Rtc {
                path_id,
                membership: None,
            });
        }
        if !(32..=96).contains(&bits) {
            return Err("length is neither 0 nor 32 to 96 bits");
        }
        let origin_as = r.u32().ok_or("truncated origin AS")?;
        let target_bits = bits - 32;
        let used = r
            .take(octets_for_bits(usize::from(target_bits)))
            .ok_or("truncated route target")?;
        let mut target = [0u8; 8];
        for (dst, src) in target.iter_mut().zip(used) {
            *dst = *src;
        }
        mask_bits(&mut target, usize::from(target_bits));
        Ok(Rtc {
            path_id,
            membership: Some(RtMembership {
                origin_as,
                target_bits,
                target,
            }),
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match &self.membership {
            None => out.push(0),
            Some(m) => {
                if m.target_bits > 64 {
                    return Err(EncodeError::Invalid(
                        "RT constraint NLRI",
                        "more than 64 route target bits",
                    ));
                }
                out.push(32 + m.target_bits);
                out.extend_from_slice(&m.origin_as.to_be_bytes());
                let mut target = m.target;
                mask_bits(&mut target, usize::from(m.target_bits));
                out.extend_from_slice(prefix_octets(&target, usize::from(m.target_bits)));
            }
        }
        Ok(())
    }
}

impl RtMembership {
    /// The route target, when all 64 bits are there and it is one `weft-net` knows.
    pub fn route_target(&self) -> Option<RouteTarget> {
        (self.target_bits == 64)
            .then(|| RouteTarget::from_extended_community(self.target))
            .flatten()
    }
}

impl fmt::Display for Rtc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.membership {
            None => f.write_str("default"),
            Some(m) => match m.route_target() {
                Some(rt) => write!(f, "{}:{rt}", m.origin_as),
                None => {
                    write!(f, "{}:", m.origin_as)?;
                    for b in m.target {
                        write!(f, "{b:02x}")?;
                    }
                    write!(f, "/{}", m.target_bits)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> Rtc {
        let mut r = Reader::new(bytes);
        let rtc = Rtc::decode(&mut r, None).unwrap();
        assert!(r.is_empty());
        let mut out = Vec::new();
        rtc.encode(&mut out).unwrap();
        assert_eq!(out, bytes);
        rtc
    }

    #[test]
    fn rfc4684_layout() {
        assert_eq!(round_trip(&[0]), Rtc::default_route());
        // 96 bits: AS 64512, RT 64512:500 (type 0x00 subtype 0x02).
        let rtc = round_trip(&[96, 0, 0, 0xfc, 0, 0x00, 0x02, 0xfc, 0, 0, 0, 0x01, 0xf4]);
        assert_eq!(rtc, Rtc::exact(64512, "64512:500".parse().unwrap()));
        assert_eq!(rtc.to_string(), "64512:64512:500");
        // 32 bits: any route target from AS 64512; 48 bits: RTs of type 0x0002.
        let any = round_trip(&[32, 0, 0, 0xfc, 0]);
        assert_eq!(any.membership.unwrap().target_bits, 0);
        let some = round_trip(&[48, 0, 0, 0xfc, 0, 0x00, 0x02]);
        assert_eq!(some.membership.unwrap().route_target(), None);
    }

    #[test]
    fn malformed() {
        assert!(Rtc::decode(&mut Reader::new(&[16, 0, 0]), None).is_err());
        assert!(Rtc::decode(&mut Reader::new(&[97; 14]), None).is_err());
        assert!(Rtc::decode(&mut Reader::new(&[96, 0, 0, 0xfc, 0, 0]), None).is_err());
    }
}
