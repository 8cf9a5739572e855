//! UPDATE (RFC 4271 §4.3): withdrawn IPv4 routes, path attributes, IPv4 NLRI; other families
//! travel in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760). Decoding applies RFC 7606.

use crate::attribute::Pending;
use crate::attribute::{MpUnreach, PathAttributes, type_code};
use crate::codec::SessionCaps;
use crate::error::{Action, Reason, UpdateError};
use crate::family::{Afi, Family, Safi};
use crate::message::notification::update_error;
use crate::nlri::{Nlri, Prefix, decode_ipv4_field, encode_ipv4_field};
use crate::wire::{Reader, patch_len16, put_u16};
use crate::{DecodeError, EncodeError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Withdrawn Routes: IPv4 unicast only.
    pub withdrawn: Vec<Prefix>,
    pub attributes: PathAttributes,
    /// NLRI: IPv4 unicast only, next hop in `attributes.next_hop`.
    pub nlri: Vec<Prefix>,
}

/// An UPDATE as decoded, with what RFC 7606 says to do about the errors it had (none for a
/// well-formed one). Malformed attributes are absent from `update.attributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedUpdate {
    pub update: Update,
    pub errors: Vec<UpdateError>,
}

impl Update {
    /// The End-of-RIB marker of a family (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an
    /// empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: Family) -> Update {
        let mut u = Update::default();
        if family != Family::Ipv4Unicast {
            u.attributes.mp_unreach = Some(MpUnreach {
                family,
                withdrawn: Vec::new(),
            });
        }
        u
    }

    /// The family this UPDATE is the End-of-RIB marker of, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        if self.attributes == PathAttributes::default() {
            return Some(Family::Ipv4Unicast);
        }
        match &self.attributes.mp_unreach {
            Some(m)
                if m.withdrawn.is_empty()
                    && self.attributes
                        == (PathAttributes {
                            mp_unreach: Some(m.clone()),
                            ..PathAttributes::default()
                        }) =>
            {
                Some(m.family)
            }
            _ => None,
        }
    }

    /// Every NLRI announced: the NLRI field and MP_REACH_NLRI.
    pub fn announced(&self) -> Vec<Nlri> {
        let mut out: Vec<Nlri> = self.nlri.iter().copied().map(Nlri::Prefix).collect();
        if let Some(m) = &self.attributes.mp_reach {
            out.extend(m.nlri.iter().cloned());
        }
        out
    }

    /// Every NLRI withdrawn: Withdrawn Routes and MP_UNREACH_NLRI.
    pub fn withdrawn_nlri(&self) -> Vec<Nlri> {
        let mut out: Vec<Nlri> = self.withdrawn.iter().copied().map(Nlri::Prefix).collect();
        if let Some(m) = &self.attributes.mp_unreach {
            out.extend(m.withdrawn.iter().cloned());
        }
        out
    }

    /// Decodes an UPDATE body (the message without its header).
    ///
    /// Session reset (`Err`): Withdrawn Routes Length or Total Path Attribute Length running past
    /// the message (Malformed Attribute List), Withdrawn Routes or NLRI that do not parse
    /// (Invalid Network Field), a duplicate or malformed MP_REACH_NLRI / MP_UNREACH_NLRI, an
    /// unrecognized well-known attribute. Everything else RFC 7606 lets the session survive is in
    /// [`DecodedUpdate::errors`].
    pub fn decode(body: &[u8], caps: &SessionCaps) -> Result<DecodedUpdate, DecodeError> {
        let mut r = Reader::new(body);
        let withdrawn_len = r
            .u16()
            .ok_or_else(|| DecodeError::malformed_attribute_list("no Withdrawn Routes Length"))?;
        let withdrawn = r
            .take(usize::from(withdrawn_len))
            .ok_or_else(|| DecodeError::malformed_attribute_list("Withdrawn Routes Length exceeds the message"))?;
        let attr_len = r
            .u16()
            .ok_or_else(|| DecodeError::malformed_attribute_list("no Total Path Attribute Length"))?;
        let attrs = r
            .take(usize::from(attr_len))
            .ok_or_else(|| DecodeError::malformed_attribute_list("Total Path Attribute Length exceeds the message"))?;
        let nlri = r.rest();

        let invalid_network = |field: &'static str| {
            move |detail| {
                DecodeError::update(
                    Reason::MalformedNlriField { field, detail },
                    update_error::INVALID_NETWORK_FIELD,
                    &[],
                )
            }
        };
        let withdrawn = decode_ipv4_field(withdrawn, caps).map_err(invalid_network("Withdrawn Routes"))?;
        let decoded = PathAttributes::decode(attrs, caps)?;
        let nlri = decode_ipv4_field(nlri, caps).map_err(invalid_network("NLRI"))?;
        let update = Update {
            withdrawn,
            attributes: decoded.attrs,
            nlri,
        };

        let mut problems = decoded.problems;
        // RFC 7606 §3 (d) with RFC 4760 §3: a route needs ORIGIN and AS_PATH, and the NLRI field
        // NEXT_HOP; without them, treat-as-withdraw. An attribute that was present but malformed
        // already has its own error.
        let reach_mp = update.attributes.mp_reach.as_ref().is_some_and(|m| !m.nlri.is_empty());
        if !update.nlri.is_empty() || reach_mp {
            let mut mandatory = vec![type_code::ORIGIN, type_code::AS_PATH];
            if !update.nlri.is_empty() {
                mandatory.push(type_code::NEXT_HOP);
            }
            for code in mandatory {
                if !decoded.seen.contains(&code) {
                    problems.push((Pending::TreatAsWithdraw, Reason::MissingWellKnown(code)));
                }
            }
        }

        let announced = update.announced();
        let errors = problems
            .into_iter()
            .map(|(pending, reason)| UpdateError {
                action: match pending {
                    Pending::TreatAsWithdraw => Action::TreatAsWithdraw {
                        nlri: announced.clone(),
                    },
                    Pending::Discard(type_code) => Action::AttributeDiscard { type_code },
                    Pending::Disable(afi, safi, notification) => Action::AfiSafiDisable {
                        afi,
                        safi,
                        notification,
                    },
                },
                reason,
            })
            .collect();
        Ok(DecodedUpdate { update, errors })
    }

    pub(crate) fn encode_body(&self, caps: &SessionCaps, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let at = out.len();
        put_u16(out, 0);
        encode_ipv4_field(&self.withdrawn, caps, out)?;
        patch_len16(out, at, "Withdrawn Routes")?;
        let at = out.len();
        put_u16(out, 0);
        self.attributes.encode(caps, out)?;
        patch_len16(out, at, "Path Attributes")?;
        encode_ipv4_field(&self.nlri, caps, out)
    }
}

impl DecodedUpdate {
    /// The strongest action asked for (RFC 7606 §3 (i)), if any.
    pub fn strongest_action(&self) -> Option<&Action> {
        self.errors.iter().map(|e| &e.action).max_by_key(|a| a.severity())
    }

    /// Whether the routes the UPDATE announced must be withdrawn instead.
    pub fn treat_as_withdraw(&self) -> bool {
        self.errors
            .iter()
            .any(|e| matches!(e.action, Action::TreatAsWithdraw { .. }))
    }

    /// The AFI/SAFIs RFC 4760 §7 says to stop accepting (AFI/SAFI disable).
    pub fn disabled_families(&self) -> Vec<(Afi, Safi)> {
        self.errors
            .iter()
            .filter_map(|e| match e.action {
                Action::AfiSafiDisable { afi, safi, .. } => Some((afi, safi)),
                _ => None,
            })
            .collect()
    }

    /// The routes to install: what the UPDATE announced, or nothing under treat-as-withdraw.
    pub fn announcements(&self) -> Vec<Nlri> {
        if self.treat_as_withdraw() {
            Vec::new()
        } else {
            self.update.announced()
        }
    }

    /// The routes to remove: what the UPDATE withdrew, plus what it announced under
    /// treat-as-withdraw.
    pub fn withdrawals(&self) -> Vec<Nlri> {
        let mut out = self.update.withdrawn_nlri();
        if self.treat_as_withdraw() {
            out.extend(self.update.announced());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::{AsPath, Origin};
    use std::net::Ipv4Addr;

    fn net(s: &str) -> Prefix {
        Prefix::new(s.parse().unwrap())
    }

    #[test]
    fn rfc4271_layout() {
        // Withdraw 10.0.0.0/8; ORIGIN IGP, empty AS_PATH, NEXT_HOP 192.0.2.1; NLRI 198.51.100.0/24.
        let body = [
            0, 2, 8, 10, // withdrawn
            0, 14, 0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1, // attributes
            24, 198, 51, 100,
        ];
        let d = Update::decode(&body, &SessionCaps::default()).unwrap();
        assert!(d.errors.is_empty());
        let u = &d.update;
        assert_eq!(u.withdrawn, [net("10.0.0.0/8")]);
        assert_eq!(u.nlri, [net("198.51.100.0/24")]);
        assert_eq!(u.attributes.origin, Some(Origin::Igp));
        assert_eq!(u.attributes.as_path, Some(AsPath::default()));
        assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 1)));
        let mut out = Vec::new();
        u.encode_body(&SessionCaps::default(), &mut out).unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn end_of_rib() {
        for family in Family::ALL {
            let u = Update::end_of_rib(family);
            assert_eq!(u.end_of_rib_family(), Some(family));
            let mut out = Vec::new();
            u.encode_body(&SessionCaps::default(), &mut out).unwrap();
            let d = Update::decode(&out, &SessionCaps::default()).unwrap();
            assert_eq!(d.update, u);
        }
        let mut not = Update::end_of_rib(Family::Vpnv4);
        not.attributes.origin = Some(Origin::Igp);
        assert_eq!(not.end_of_rib_family(), None);
    }

    #[test]
    fn length_fields_overrun() {
        let e = Update::decode(&[0, 5, 0, 0], &SessionCaps::default()).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (3, 1));
        let e = Update::decode(&[0, 0, 0, 9, 0x40], &SessionCaps::default()).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (3, 1));
        let e = Update::decode(&[0], &SessionCaps::default()).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (3, 1));
    }
}
