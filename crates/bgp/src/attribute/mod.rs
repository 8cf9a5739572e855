//! Path attributes (RFC 4271 §4.3, §5): the typed set of one UPDATE, its encoding in type code
//! order, and the decoder that applies the revised error handling of RFC 7606.

pub mod aggregator;
pub mod as_path;
pub mod atomic_aggregate;
pub mod community;
pub mod extended_community;
pub mod large_community;
pub mod med_local_pref;
pub mod mp_reach;
pub mod mp_unreach;
pub mod next_hop;
pub mod origin;
pub mod originator_cluster;
pub mod unknown;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::codec::SessionCaps;
use crate::error::Reason;
use crate::family::{Afi, Safi};
use crate::message::notification::{Notification, code as error_code, update_error};
use crate::wire::{Reader, put_u16};
use crate::{AS_TRANS, DecodeError, EncodeError};
pub use aggregator::Aggregator;
pub use as_path::{AsPath, AsSegment, SegmentType};
pub use community::Community;
pub use extended_community::{ExtendedCommunity, tunnel_type};
pub use large_community::LargeCommunity;
use mp_reach::MpDecoded;
pub use mp_reach::{MpReach, NextHop};
pub use mp_unreach::MpUnreach;
pub use origin::Origin;
pub use unknown::UnknownAttribute;

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod type_code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITY: u8 = 32;
}

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

const WELL_KNOWN: u8 = flags::TRANSITIVE;
const OPTIONAL_TRANSITIVE: u8 = flags::OPTIONAL | flags::TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE: u8 = flags::OPTIONAL;

/// The Optional and Transitive bits a known attribute must have.
fn expected_flags(code: u8) -> Option<u8> {
    use type_code::*;
    match code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => Some(WELL_KNOWN),
        MULTI_EXIT_DISC | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => {
            Some(OPTIONAL_NON_TRANSITIVE)
        }
        AGGREGATOR | COMMUNITIES | EXTENDED_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR | LARGE_COMMUNITY => {
            Some(OPTIONAL_TRANSITIVE)
        }
        _ => None,
    }
}

/// What RFC 7606 does with a malformed attribute of each known type.
enum OnMalformed {
    TreatAsWithdraw,
    AttributeDiscard,
    SessionReset,
}

fn on_malformed(code: u8) -> OnMalformed {
    use type_code::*;
    match code {
        // RFC 7606 §7.6, §7.7; RFC 6793 §6 for AS4_PATH and AS4_AGGREGATOR.
        ATOMIC_AGGREGATE | AGGREGATOR | AS4_PATH | AS4_AGGREGATOR => OnMalformed::AttributeDiscard,
        // RFC 7606 §7.11 / RFC 4760 §7 (session reset is this codec's choice over AFI/SAFI disable
        // when the family itself is known and the attribute is broken).
        MP_REACH_NLRI | MP_UNREACH_NLRI => OnMalformed::SessionReset,
        _ => OnMalformed::TreatAsWithdraw,
    }
}

/// The typed path attributes of one UPDATE. Absent attributes are `None`, `false` or empty
/// lists (none of the list attributes may be empty on the wire). Encoding writes them in type
/// code order (RFC 4271 §5: SHOULD), unknown ones among them by their type code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    /// NEXT_HOP (type 3): the next hop of the IPv4 NLRI in the UPDATE's own NLRI field.
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub extended_communities: Vec<ExtendedCommunity>,
    /// Only between a NEW and an OLD speaker (RFC 6793); never encoded when 4-octet AS is on.
    pub as4_path: Option<AsPath>,
    /// Only between a NEW and an OLD speaker (RFC 6793); never encoded when 4-octet AS is on.
    pub as4_aggregator: Option<Aggregator>,
    pub large_communities: Vec<LargeCommunity>,
    /// Unknown optional transitive attributes, each as received, in type code order.
    pub unknown: Vec<UnknownAttribute>,
}

/// A non-fatal RFC 7606 outcome found while decoding the attributes; the UPDATE decoder turns
/// it into an [`crate::Action`] once it knows the NLRI.
#[derive(Debug)]
pub(crate) enum Pending {
    TreatAsWithdraw,
    Discard(u8),
    Disable(Afi, Safi, Notification),
}

pub(crate) struct DecodedAttributes {
    pub attrs: PathAttributes,
    pub problems: Vec<(Pending, Reason)>,
    /// Type codes present in the message, malformed or not.
    pub seen: BTreeSet<u8>,
}

impl PathAttributes {
    /// The real AS path (RFC 6793 §4.2.3): AS_PATH merged with AS4_PATH when the session is
    /// 2-octet and the peer sent AS4_PATH, unless AGGREGATOR names a real (non-AS_TRANS) AS while
    /// AS4_AGGREGATOR is present, in which case AS4_PATH is ignored.
    pub fn effective_as_path(&self) -> Option<AsPath> {
        let as_path = self.as_path.as_ref()?;
        let ignore_as4 = matches!(
            (&self.aggregator, &self.as4_aggregator),
            (Some(a), Some(_)) if a.asn != u32::from(AS_TRANS)
        );
        match &self.as4_path {
            Some(as4) if !ignore_as4 => Some(as_path.merge_as4_path(as4)),
            _ => Some(as_path.clone()),
        }
    }

    /// The real aggregator (RFC 6793 §4.2.3): AS4_AGGREGATOR when AGGREGATOR carries AS_TRANS.
    pub fn effective_aggregator(&self) -> Option<Aggregator> {
        match (self.aggregator, self.as4_aggregator) {
            (Some(a), Some(a4)) if a.asn == u32::from(AS_TRANS) => Some(a4),
            (a, _) => a,
        }
    }

    /// Fills AS4_PATH and AS4_AGGREGATOR for a peer without the 4-octet AS capability when the
    /// path or aggregator has an AS above 65535 (RFC 6793 §4.2.2), and clears them otherwise.
    pub fn prepare_for_two_octet_peer(&mut self) {
        self.as4_path = self.as_path.as_ref().filter(|p| p.has_four_octet_as()).map(|p| AsPath {
            segments: p.segments.iter().filter(|s| !s.kind.is_confed()).cloned().collect(),
        });
        self.as4_aggregator = self.aggregator.filter(|a| a.asn > u32::from(u16::MAX));
    }

    /// The attributes as this speaker passes them on: unknown optional transitive attributes get
    /// the Partial bit (RFC 4271 §9).
    pub fn for_propagation(&self) -> PathAttributes {
        PathAttributes {
            unknown: self.unknown.iter().map(UnknownAttribute::passed_on).collect(),
            ..self.clone()
        }
    }

    /// Appends every attribute, in type code order.
    pub(crate) fn encode(&self, caps: &SessionCaps, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let four = caps.four_octet_as;
        let mut list: Vec<(u8, u8, Vec<u8>)> = Vec::new();
        let mut push = |code: u8, flags: u8, value: Vec<u8>| list.push((code, flags, value));
        let value = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut v = Vec::new();
            f(&mut v);
            v
        };
        if let Some(o) = self.origin {
            push(type_code::ORIGIN, WELL_KNOWN, value(&|v| o.encode(v)));
        }
        if let Some(p) = &self.as_path {
            let mut v = Vec::new();
            p.encode(four, &mut v)?;
            push(type_code::AS_PATH, WELL_KNOWN, v);
        }
        if let Some(nh) = self.next_hop {
            push(type_code::NEXT_HOP, WELL_KNOWN, value(&|v| next_hop::encode(nh, v)));
        }
        if let Some(med) = self.med {
            push(
                type_code::MULTI_EXIT_DISC,
                OPTIONAL_NON_TRANSITIVE,
                value(&|v| med_local_pref::encode(med, v)),
            );
        }
        if let Some(lp) = self.local_pref {
            push(
                type_code::LOCAL_PREF,
                WELL_KNOWN,
                value(&|v| med_local_pref::encode(lp, v)),
            );
        }
        if self.atomic_aggregate {
            push(type_code::ATOMIC_AGGREGATE, WELL_KNOWN, Vec::new());
        }
        if let Some(a) = self.aggregator {
            push(
                type_code::AGGREGATOR,
                OPTIONAL_TRANSITIVE,
                value(&|v| a.encode(four, v)),
            );
        }
        if !self.communities.is_empty() {
            push(
                type_code::COMMUNITIES,
                OPTIONAL_TRANSITIVE,
                value(&|v| community::encode(&self.communities, v)),
            );
        }
        if let Some(id) = self.originator_id {
            push(
                type_code::ORIGINATOR_ID,
                OPTIONAL_NON_TRANSITIVE,
                value(&|v| originator_cluster::encode_addresses(&[id], v)),
            );
        }
        if !self.cluster_list.is_empty() {
            push(
                type_code::CLUSTER_LIST,
                OPTIONAL_NON_TRANSITIVE,
                value(&|v| originator_cluster::encode_addresses(&self.cluster_list, v)),
            );
        }
        if let Some(m) = &self.mp_reach {
            let mut v = Vec::new();
            m.encode(caps, &mut v)?;
            push(type_code::MP_REACH_NLRI, OPTIONAL_NON_TRANSITIVE, v);
        }
        if let Some(m) = &self.mp_unreach {
            let mut v = Vec::new();
            m.encode(caps, &mut v)?;
            push(type_code::MP_UNREACH_NLRI, OPTIONAL_NON_TRANSITIVE, v);
        }
        if !self.extended_communities.is_empty() {
            push(
                type_code::EXTENDED_COMMUNITIES,
                OPTIONAL_TRANSITIVE,
                value(&|v| extended_community::encode(&self.extended_communities, v)),
            );
        }
        if !four {
            if let Some(p) = &self.as4_path {
                let mut v = Vec::new();
                p.encode(true, &mut v)?;
                push(type_code::AS4_PATH, OPTIONAL_TRANSITIVE, v);
            }
            if let Some(a) = self.as4_aggregator {
                push(
                    type_code::AS4_AGGREGATOR,
                    OPTIONAL_TRANSITIVE,
                    value(&|v| a.encode(true, v)),
                );
            }
        }
        if !self.large_communities.is_empty() {
            push(
                type_code::LARGE_COMMUNITY,
                OPTIONAL_TRANSITIVE,
                value(&|v| large_community::encode(&self.large_communities, v)),
            );
        }
        for u in &self.unknown {
            if expected_flags(u.type_code).is_some() || u.flags & flags::OPTIONAL == 0 {
                return Err(EncodeError::Invalid(
                    "unknown attribute",
                    "its type code is a known one or its flags say well-known",
                ));
            }
            push(u.type_code, u.flags, u.value.clone());
        }
        list.sort_by_key(|(code, ..)| *code);
        if list.windows(2).any(|w| matches!(w, [a, b] if a.0 == b.0)) {
            return Err(EncodeError::Invalid("path attributes", "two attributes of one type"));
        }
        for (code, flags, value) in list {
            write_attribute(out, flags, code, &value)?;
        }
        Ok(())
    }

    /// Decodes the Path Attributes field of an UPDATE, applying RFC 7606: fatal errors come back
    /// as `Err`, the rest as `problems`, malformed attributes being left out of `attrs`.
    pub(crate) fn decode(buf: &[u8], caps: &SessionCaps) -> Result<DecodedAttributes, DecodeError> {
        let mut out = DecodedAttributes {
            attrs: PathAttributes::default(),
            problems: Vec::new(),
            seen: BTreeSet::new(),
        };
        let four = caps.four_octet_as;
        let mut r = Reader::new(buf);
        while !r.is_empty() {
            let start = r.peek_rest();
            let header = (|| {
                let f = r.u8()?;
                let code = r.u8()?;
                let len = if f & flags::EXTENDED_LENGTH != 0 {
                    usize::from(r.u16()?)
                } else {
                    usize::from(r.u8()?)
                };
                let value = r.take(len)?;
                Some((f, code, value))
            })();
            // RFC 7606 §4: an attribute running past Total Path Attribute Length, or too few octets
            // left for an attribute header: treat-as-withdraw, and the NLRI start where the Total
            // Path Attribute Length says.
            let Some((attr_flags, code, value)) = header else {
                out.problems.push((
                    Pending::TreatAsWithdraw,
                    Reason::MalformedAttributeList("an attribute runs past the path attributes"),
                ));
                break;
            };
            let raw = start.get(..start.len().saturating_sub(r.remaining())).unwrap_or(start);

            // RFC 7606 §3 (g): a second MP_REACH_NLRI or MP_UNREACH_NLRI resets the session; a
            // second anything else is discarded.
            if !out.seen.insert(code) {
                if matches!(code, type_code::MP_REACH_NLRI | type_code::MP_UNREACH_NLRI) {
                    return Err(DecodeError::update(
                        Reason::DuplicateAttribute(code),
                        update_error::MALFORMED_ATTRIBUTE_LIST,
                        &[],
                    ));
                }
                out.problems
                    .push((Pending::Discard(code), Reason::DuplicateAttribute(code)));
                continue;
            }

            let Some(expected) = expected_flags(code) else {
                // RFC 4271 §6.3: an unrecognized well-known attribute resets the session.
                if attr_flags & flags::OPTIONAL == 0 {
                    return Err(DecodeError::update(
                        Reason::UnrecognizedWellKnown(code),
                        update_error::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                        raw,
                    ));
                }
                // RFC 4271 §9: unknown optional transitive ones are kept; non-transitive dropped.
                if attr_flags & flags::TRANSITIVE != 0 {
                    out.attrs.unknown.push(UnknownAttribute {
                        flags: attr_flags,
                        type_code: code,
                        value: value.to_vec(),
                    });
                }
                continue;
            };

            // RFC 6793 §3: AS4_PATH / AS4_AGGREGATOR from a NEW speaker are discarded.
            if four && matches!(code, type_code::AS4_PATH | type_code::AS4_AGGREGATOR) {
                out.problems
                    .push((Pending::Discard(code), Reason::As4FromNewSpeaker(code)));
                continue;
            }

            // RFC 7606 §3 (c): Optional/Transitive bits in conflict make the attribute malformed.
            let result = if attr_flags & (flags::OPTIONAL | flags::TRANSITIVE) != expected {
                Err(Reason::AttributeFlags {
                    type_code: code,
                    flags: attr_flags,
                })
            } else {
                out.decode_value(code, value, caps)
            };
            if let Err(reason) = result {
                out.malformed(code, reason, raw)?;
            }
        }
        // Encoding writes type code order; keep the unknown ones in that order too so that a
        // decoded value is canonical (their type codes are unique: duplicates were discarded).
        out.attrs.unknown.sort_by_key(|u| u.type_code);
        Ok(out)
    }
}

impl DecodedAttributes {
    fn decode_value(&mut self, code: u8, value: &[u8], caps: &SessionCaps) -> Result<(), Reason> {
        let four = caps.four_octet_as;
        let a = &mut self.attrs;
        match code {
            type_code::ORIGIN => a.origin = Some(Origin::decode(value)?),
            type_code::AS_PATH => a.as_path = Some(AsPath::decode(code, value, four)?),
            type_code::NEXT_HOP => a.next_hop = Some(next_hop::decode(value)?),
            type_code::MULTI_EXIT_DISC => a.med = Some(med_local_pref::decode(code, value)?),
            type_code::LOCAL_PREF => a.local_pref = Some(med_local_pref::decode(code, value)?),
            type_code::ATOMIC_AGGREGATE => {
                atomic_aggregate::decode(value)?;
                a.atomic_aggregate = true;
            }
            type_code::AGGREGATOR => a.aggregator = Some(Aggregator::decode(code, value, four)?),
            type_code::COMMUNITIES => a.communities = community::decode(value)?,
            type_code::ORIGINATOR_ID => a.originator_id = Some(originator_cluster::decode_originator_id(value)?),
            type_code::CLUSTER_LIST => a.cluster_list = originator_cluster::decode_cluster_list(value)?,
            type_code::EXTENDED_COMMUNITIES => a.extended_communities = extended_community::decode(value)?,
            type_code::AS4_PATH => a.as4_path = Some(AsPath::decode(code, value, true)?),
            type_code::AS4_AGGREGATOR => a.as4_aggregator = Some(Aggregator::decode(code, value, true)?),
            type_code::LARGE_COMMUNITY => a.large_communities = large_community::decode(value)?,
            type_code::MP_REACH_NLRI => match MpReach::decode(value, caps)? {
                MpDecoded::Known(m) => a.mp_reach = Some(m),
                MpDecoded::Unsupported(afi, safi) => self.unsupported(afi, safi, code, value),
            },
            type_code::MP_UNREACH_NLRI => match MpUnreach::decode(value, caps)? {
                MpDecoded::Known(m) => a.mp_unreach = Some(m),
                MpDecoded::Unsupported(afi, safi) => self.unsupported(afi, safi, code, value),
            },
            _ => {}
        }
        Ok(())
    }

    /// RFC 4760 §7: routes of an AFI/SAFI the session cannot handle are ignored (AFI/SAFI
    /// disable), or the session resets with UPDATE Message Error / Optional Attribute Error.
    fn unsupported(&mut self, afi: Afi, safi: Safi, code: u8, value: &[u8]) {
        let mut raw = Vec::new();
        // Cannot fail: the value came from a 2-octet length.
        let _ = write_attribute(&mut raw, OPTIONAL_NON_TRANSITIVE, code, value);
        let notification = Notification::new(
            error_code::UPDATE_MESSAGE_ERROR,
            update_error::OPTIONAL_ATTRIBUTE_ERROR,
            raw,
        );
        self.problems.push((
            Pending::Disable(afi, safi, notification),
            Reason::UnsupportedFamily { afi, safi },
        ));
    }

    fn malformed(&mut self, code: u8, reason: Reason, raw: &[u8]) -> Result<(), DecodeError> {
        match on_malformed(code) {
            OnMalformed::TreatAsWithdraw => self.problems.push((Pending::TreatAsWithdraw, reason)),
            OnMalformed::AttributeDiscard => self.problems.push((Pending::Discard(code), reason)),
            OnMalformed::SessionReset => {
                let subcode = match reason {
                    Reason::AttributeFlags { .. } => update_error::ATTRIBUTE_FLAGS_ERROR,
                    _ => update_error::OPTIONAL_ATTRIBUTE_ERROR,
                };
                return Err(DecodeError::update(reason, subcode, raw));
            }
        }
        Ok(())
    }
}

/// Writes flags, type code, length (1 octet, or 2 with the Extended Length bit, which is set
/// when the value needs it and kept when the flags already have it) and value.
fn write_attribute(out: &mut Vec<u8>, attr_flags: u8, code: u8, value: &[u8]) -> Result<(), EncodeError> {
    let extended = value.len() > 255 || attr_flags & flags::EXTENDED_LENGTH != 0;
    let len = u16::try_from(value.len()).map_err(|_| EncodeError::TooLong {
        what: "path attribute",
        len: value.len(),
        max: 65535,
    })?;
    out.push(if extended {
        attr_flags | flags::EXTENDED_LENGTH
    } else {
        attr_flags
    });
    out.push(code);
    if extended {
        put_u16(out, len);
    } else {
        out.push(len as u8);
    }
    out.extend_from_slice(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_orders_by_type_code_and_uses_extended_length() {
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            large_communities: vec![LargeCommunity {
                global_admin: 1,
                local_data_1: 2,
                local_data_2: 3,
            }],
            communities: (0..70).map(Community).collect(),
            unknown: vec![UnknownAttribute {
                flags: 0xd0,
                type_code: 0x99,
                value: vec![7],
            }],
            ..PathAttributes::default()
        };
        let mut out = Vec::new();
        attrs.encode(&SessionCaps::modern(), &mut out).unwrap();
        assert_eq!(&out[..4], [0x40, 1, 1, 0]);
        assert_eq!(&out[4..7], [0x40, 2, 0]);
        assert_eq!(&out[7..10], [0x40, 3, 4]);
        // 280 octets of communities: Extended Length.
        assert_eq!(&out[14..18], [0xd0, 8, 0x01, 0x18]);
        let decoded = PathAttributes::decode(&out, &SessionCaps::modern()).unwrap();
        assert!(decoded.problems.is_empty());
        assert_eq!(decoded.attrs, attrs);
        // The unknown attribute kept its Extended Length bit with a 1-octet value.
        assert_eq!(out[out.len() - 5..], [0xd0, 0x99, 0, 1, 7]);
    }

    #[test]
    fn as4_attributes_only_towards_old_speakers() {
        let mut attrs = PathAttributes {
            as_path: Some(AsPath::sequence(vec![4_200_000_001, 64512])),
            aggregator: Some(Aggregator {
                asn: 4_200_000_001,
                address: Ipv4Addr::new(192, 0, 2, 1),
            }),
            ..PathAttributes::default()
        };
        attrs.prepare_for_two_octet_peer();
        assert_eq!(attrs.as4_path, attrs.as_path);
        let mut old = Vec::new();
        attrs.encode(&SessionCaps::default(), &mut old).unwrap();
        let decoded = PathAttributes::decode(&old, &SessionCaps::default()).unwrap().attrs;
        assert_eq!(decoded.as_path, Some(AsPath::sequence(vec![23456, 64512])));
        assert_eq!(decoded.effective_as_path(), attrs.as_path);
        assert_eq!(decoded.effective_aggregator(), attrs.aggregator);
        let mut new = Vec::new();
        attrs.encode(&SessionCaps::modern(), &mut new).unwrap();
        let decoded = PathAttributes::decode(&new, &SessionCaps::modern()).unwrap().attrs;
        assert_eq!(decoded.as4_path, None);
        assert_eq!(decoded.as_path, attrs.as_path);
    }
}
