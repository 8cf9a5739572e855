//! ROUTE-REFRESH (RFC 2918 §3), with the message subtypes of enhanced route refresh (RFC 7313
//! §3.2): AFI, subtype, SAFI.

use crate::error::DecodeError;
use crate::family::{Afi, Family, Safi};
use crate::message::header::HEADER_LEN;
use crate::wire::Reader;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshSubtype {
    /// 0: a plain route refresh request (RFC 2918).
    Request,
    /// 1: Beginning of Route Refresh (BoRR).
    BeginningOfRefresh,
    /// 2: End of Route Refresh (EoRR).
    EndOfRefresh,
    /// 3-255; RFC 7313 §5: the receiver ignores the message.
    Other(u8),
}

impl RefreshSubtype {
    pub fn from_u8(v: u8) -> RefreshSubtype {
        match v {
            0 => RefreshSubtype::Request,
            1 => RefreshSubtype::BeginningOfRefresh,
            2 => RefreshSubtype::EndOfRefresh,
            v => RefreshSubtype::Other(v),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            RefreshSubtype::Request => 0,
            RefreshSubtype::BeginningOfRefresh => 1,
            RefreshSubtype::EndOfRefresh => 2,
            RefreshSubtype::Other(v) => v,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    pub afi: Afi,
    pub safi: Safi,
    pub subtype: RefreshSubtype,
}

impl RouteRefresh {
    pub fn request(family: Family) -> RouteRefresh {
        RouteRefresh {
            afi: family.afi(),
            safi: family.safi(),
            subtype: RefreshSubtype::Request,
        }
    }

    pub fn family(&self) -> Option<Family> {
        Family::from_afi_safi(self.afi, self.safi)
    }

    /// RFC 7313 §5: a length other than 23 is a ROUTE-REFRESH Message Error / Invalid Message
    /// Length carrying the whole message (`message`).
    pub(crate) fn decode_body(body: &[u8], message: &[u8]) -> Result<RouteRefresh, DecodeError> {
        let mut r = Reader::new(body);
        match (r.u16(), r.u8(), r.u8(), r.is_empty()) {
            (Some(afi), Some(subtype), Some(safi), true) => Ok(RouteRefresh {
                afi: Afi(afi),
                safi: Safi(safi),
                subtype: RefreshSubtype::from_u8(subtype),
            }),
            _ => Err(DecodeError::route_refresh(HEADER_LEN + body.len(), message)),
        }
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.afi.0.to_be_bytes());
        out.push(self.subtype.to_u8());
        out.push(self.safi.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2918_and_rfc7313_layout() {
        let rr = RouteRefresh::decode_body(&[0, 25, 1, 70], &[]).unwrap();
        assert_eq!(rr.family(), Some(Family::L2vpnEvpn));
        assert_eq!(rr.subtype, RefreshSubtype::BeginningOfRefresh);
        let mut out = Vec::new();
        rr.encode_body(&mut out);
        assert_eq!(out, [0, 25, 1, 70]);
        let e = RouteRefresh::decode_body(&[0, 1, 0], &[9, 9]).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (7, 1));
        assert_eq!(e.notification.data, [9, 9]);
        assert_eq!(RefreshSubtype::from_u8(9), RefreshSubtype::Other(9));
    }
}
