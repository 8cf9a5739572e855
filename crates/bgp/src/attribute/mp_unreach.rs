//! MP_UNREACH_NLRI (RFC 4760 §4), type 15, optional non-transitive: AFI, SAFI and withdrawn
//! NLRI. With no NLRI at all it is the End-of-RIB marker of the family (RFC 4724 §2).

use super::mp_reach::MpDecoded;
use crate::EncodeError;
use crate::codec::SessionCaps;
use crate::error::Reason;
use crate::family::{Afi, Family, Safi};
use crate::nlri::Nlri;
use crate::wire::Reader;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: Vec<Nlri>,
}

impl MpUnreach {
    pub(crate) fn decode(value: &[u8], caps: &SessionCaps) -> Result<MpDecoded<MpUnreach>, Reason> {
        let mut r = Reader::new(value);
        let too_short = Reason::AttributeLength {
            type_code: super::type_code::MP_UNREACH_NLRI,
            length: value.len(),
        };
        let afi = Afi(r.u16().ok_or(too_short.clone())?);
        let safi = Safi(r.u8().ok_or(too_short)?);
        let Some(family) = Family::from_afi_safi(afi, safi) else {
            return Ok(MpDecoded::Unsupported(afi, safi));
        };
        let withdrawn = Nlri::decode_all(family, r.rest(), caps, true)
            .map_err(|detail| Reason::MalformedNlri { family, detail })?;
        Ok(MpDecoded::Known(MpUnreach { family, withdrawn }))
    }

    pub(crate) fn encode(&self, caps: &SessionCaps, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&self.family.afi().0.to_be_bytes());
        out.push(self.family.safi().0);
        for n in &self.withdrawn {
            n.encode(self.family, caps, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_rib_and_withdrawals() {
        let Ok(MpDecoded::Known(eor)) = MpUnreach::decode(&[0, 25, 70], &SessionCaps::default()) else {
            panic!()
        };
        assert_eq!(eor.family, Family::L2vpnEvpn);
        assert!(eor.withdrawn.is_empty());
        let Ok(MpDecoded::Known(w)) =
            MpUnreach::decode(&[0, 2, 1, 48, 0x20, 1, 0xd, 0xb8, 1, 0], &SessionCaps::default())
        else {
            panic!()
        };
        assert_eq!(w.withdrawn[0].to_string(), "2001:db8:100::/48");
        assert!(MpUnreach::decode(&[0, 2], &SessionCaps::default()).is_err());
        assert!(MpUnreach::decode(&[0, 2, 1, 48, 0x20], &SessionCaps::default()).is_err());
    }
}
