//! The per-session context the wire form depends on.

use std::collections::BTreeSet;

use crate::capability::Capability;
use crate::family::Family;

/// Largest message without the extended message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message once both speakers advertised the extended message capability (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// What the two speakers negotiated that changes the encoding, for one direction of a session.
///
/// `SessionCaps::default()` is a plain RFC 4271 session: 2-octet AS numbers, 4096-octet messages,
/// no path identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionCaps {
    /// Both sent the 4-octet AS capability (RFC 6793): AS_PATH and AGGREGATOR carry 4-octet ASes.
    pub four_octet_as: bool,
    /// Both sent the extended message capability (RFC 8654): UPDATE, NOTIFICATION and
    /// ROUTE-REFRESH may be up to 65535 octets.
    pub extended_message: bool,
    /// NLRI of these families carry a path identifier in this direction (RFC 7911).
    pub add_path: BTreeSet<Family>,
}

/// The contexts for both directions of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// For decoding what the peer sends.
    pub receive: SessionCaps,
    /// For encoding what we send.
    pub send: SessionCaps,
}

impl SessionCaps {
    /// Everything on: 4-octet AS, extended messages, and no path identifiers.
    pub fn modern() -> SessionCaps {
        SessionCaps {
            four_octet_as: true,
            extended_message: true,
            add_path: BTreeSet::new(),
        }
    }

    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    pub fn add_path(&self, family: Family) -> bool {
        self.add_path.contains(&family)
    }

    /// Works out both directions from the capabilities of our OPEN and of the peer's
    /// (RFC 6793 §3, RFC 8654 §3, RFC 7911 §4: we receive path identifiers for a family when we
    /// said we can receive and the peer said it can send, and the other way round).
    pub fn negotiate(local: &[Capability], remote: &[Capability]) -> Negotiated {
        let has = |caps: &[Capability], f: fn(&Capability) -> bool| caps.iter().any(f);
        let four_octet_as = has(local, |c| matches!(c, Capability::FourOctetAs(_)))
            && has(remote, |c| matches!(c, Capability::FourOctetAs(_)));
        let extended_message = has(local, |c| matches!(c, Capability::ExtendedMessage))
            && has(remote, |c| matches!(c, Capability::ExtendedMessage));
        let add_path = |caps: &[Capability], family: Family, send: bool| {
            caps.iter().any(|c| match c {
                Capability::AddPath(entries) => entries.iter().any(|e| {
                    e.afi == family.afi()
                        && e.safi == family.safi()
                        && if send { e.can_send() } else { e.can_receive() }
                }),
                _ => false,
            })
        };
        let mut negotiated = Negotiated {
            receive: SessionCaps {
                four_octet_as,
                extended_message,
                add_path: BTreeSet::new(),
            },
            send: SessionCaps {
                four_octet_as,
                extended_message,
                add_path: BTreeSet::new(),
            },
        };
        for family in Family::ALL {
            if add_path(local, family, false) && add_path(remote, family, true) {
                negotiated.receive.add_path.insert(family);
            }
            if add_path(local, family, true) && add_path(remote, family, false) {
                negotiated.send.add_path.insert(family);
            }
        }
        negotiated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::AddPathFamily;

    #[test]
    fn negotiation_needs_both_sides() {
        let local = [
            Capability::FourOctetAs(64512),
            Capability::ExtendedMessage,
            Capability::AddPath(vec![AddPathFamily::new(Family::Ipv4Unicast, true, true)]),
        ];
        let remote = [
            Capability::FourOctetAs(64513),
            Capability::AddPath(vec![AddPathFamily::new(Family::Ipv4Unicast, false, true)]),
        ];
        let n = SessionCaps::negotiate(&local, &remote);
        assert!(n.receive.four_octet_as && n.send.four_octet_as);
        assert!(!n.receive.extended_message);
        assert_eq!(n.receive.max_message_len(), 4096);
        // The peer only sends path ids: we receive them, we do not send them.
        assert!(n.receive.add_path(Family::Ipv4Unicast));
        assert!(!n.send.add_path(Family::Ipv4Unicast));
        assert_eq!(SessionCaps::negotiate(&remote, &[]), Negotiated::default());
    }
}
