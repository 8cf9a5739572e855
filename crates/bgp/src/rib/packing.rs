//! UPDATE packing (RFC 4271 §9.2): the routes of one batch for one peer as few messages as the
//! session's maximum message size allows (4096 octets, or 65535 with RFC 8654). Withdrawals are
//! packed per family, announcements per family, attributes and next hop (in the order first
//! seen). Each NLRI is placed as it comes, from its wire size, so that a large batch is neither
//! kept twice nor encoded again and again to see whether it fits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::attribute::{MpReach, MpUnreach, NextHop, PathAttributes};
use crate::codec::SessionCaps;
use crate::error::EncodeError;
use crate::family::Family;
use crate::message::{Message, Update};
use crate::nlri::{Nlri, Prefix};

/// The UPDATEs of one batch, built as routes are added.
pub(crate) struct Packer<'a> {
    caps: &'a SessionCaps,
    withdrawals: Vec<(Family, Pieces)>,
    groups: Vec<Group>,
    /// Groups by family, attributes allocation (shared by the routes of one received UPDATE)
    /// and next hop; then by value.
    by_source: HashMap<(Family, usize, NextHop), usize>,
    last: Option<((Family, usize, NextHop), usize)>,
}

struct Group {
    family: Family,
    attributes: Arc<PathAttributes>,
    next_hop: NextHop,
    pieces: Pieces,
}

impl<'a> Packer<'a> {
    pub fn new(caps: &'a SessionCaps) -> Packer<'a> {
        Packer {
            caps,
            withdrawals: Vec::new(),
            groups: Vec::new(),
            by_source: HashMap::new(),
            last: None,
        }
    }

    pub fn withdraw(&mut self, family: Family, nlri: Nlri) -> Result<(), EncodeError> {
        let i = match self.withdrawals.iter().position(|(f, _)| *f == family) {
            Some(i) => i,
            None => {
                let pieces = Pieces::new(&withdrawal(family, Vec::new()), self.caps)?;
                self.withdrawals.push((family, pieces));
                self.withdrawals.len() - 1
            }
        };
        if let Some((_, p)) = self.withdrawals.get_mut(i) {
            p.push(nlri);
        }
        Ok(())
    }

    pub fn announce(
        &mut self,
        family: Family,
        attributes: &Arc<PathAttributes>,
        next_hop: NextHop,
        nlri: Nlri,
    ) -> Result<(), EncodeError> {
        let id = (family, Arc::as_ptr(attributes) as usize, next_hop);
        // Routes of one received UPDATE come one after another: the last group, no hashing.
        let i = match self.last {
            Some((last, i)) if last == id => i,
            _ => {
                let i = match self.by_source.get(&id) {
                    Some(&i) => i,
                    None => {
                        let same = self.groups.iter().position(|g| {
                            g.family == family && g.next_hop == next_hop && *g.attributes == **attributes
                        });
                        let i = match same {
                            Some(i) => i,
                            None => {
                                let empty = announcement(family, attributes, next_hop, Vec::new());
                                self.groups.push(Group {
                                    family,
                                    attributes: attributes.clone(),
                                    next_hop,
                                    pieces: Pieces::new(&empty, self.caps)?,
                                });
                                self.groups.len() - 1
                            }
                        };
                        self.by_source.insert(id, i);
                        i
                    }
                };
                self.last = Some((id, i));
                i
            }
        };
        if let Some(g) = self.groups.get_mut(i) {
            g.pieces.push(nlri);
        }
        Ok(())
    }

    /// The UPDATEs: withdrawals first (by family), then announcements.
    pub fn finish(mut self) -> Result<Vec<Update>, EncodeError> {
        let caps = self.caps;
        let mut updates = Vec::new();
        self.withdrawals.sort_by_key(|(f, _)| *f);
        for (family, pieces) in self.withdrawals {
            for (nlri, sized) in pieces.finish() {
                push_sized(withdrawal(family, nlri), sized, caps, &mut updates)?;
            }
        }
        for g in self.groups {
            for (nlri, sized) in g.pieces.finish() {
                let u = announcement(g.family, &g.attributes, g.next_hop, nlri);
                push_sized(u, sized, caps, &mut updates)?;
            }
        }
        Ok(updates)
    }
}

/// NLRI cut into the pieces that fit one message each beside what the UPDATE without them
/// takes. NLRI of unknown wire size (EVPN, RT constraint) make the whole lot one piece, which
/// [`push_fitting`] halves until the parts fit.
struct Pieces {
    /// Octets for NLRI in one message.
    room: usize,
    used: usize,
    done: Vec<Vec<Nlri>>,
    current: Vec<Nlri>,
    size_unknown: bool,
}

impl Pieces {
    fn new(empty: &Update, caps: &SessionCaps) -> Result<Pieces, EncodeError> {
        let base = Message::Update(empty.clone()).encode(caps)?.len();
        Ok(Pieces {
            // Less 2 octets in case an attribute length grows to two octets.
            room: caps.max_message_len().saturating_sub(base + 2),
            used: 0,
            done: Vec::new(),
            current: Vec::new(),
            size_unknown: false,
        })
    }

    fn push(&mut self, nlri: Nlri) {
        match nlri_len(&nlri) {
            Some(len) if !self.size_unknown => {
                if self.used + len > self.room && !self.current.is_empty() {
                    self.done.push(std::mem::take(&mut self.current));
                    self.used = 0;
                }
                self.used += len;
            }
            _ => self.size_unknown = true,
        }
        self.current.push(nlri);
    }

    /// The pieces, each with whether it is known to fit.
    fn finish(mut self) -> Vec<(Vec<Nlri>, bool)> {
        if self.size_unknown {
            let mut all: Vec<Nlri> = self.done.into_iter().flatten().collect();
            all.append(&mut self.current);
            return vec![(all, false)];
        }
        // A single NLRI larger than the room is left to push_fitting's error.
        let last_fits = self.used <= self.room;
        let mut out: Vec<(Vec<Nlri>, bool)> = self.done.into_iter().map(|p| (p, true)).collect();
        if !self.current.is_empty() {
            out.push((self.current, last_fits));
        }
        out
    }
}

/// The octets one NLRI takes on the wire, where that is simple to know (prefixes and VPN
/// prefixes); `None` for the rest.
fn nlri_len(n: &Nlri) -> Option<usize> {
    let id = |p: Option<u32>| if p.is_some() { 4 } else { 0 };
    let bits = |net: &ipnet::IpNet| usize::from(net.prefix_len()).div_ceil(8);
    match n {
        Nlri::Prefix(p) => Some(id(p.path_id) + 1 + bits(&p.net)),
        Nlri::Vpn(v) => Some(id(v.path_id) + 1 + 3 * v.labels.len() + 8 + bits(&v.net)),
        _ => None,
    }
}

/// Queues an UPDATE whose size [`Pieces`] already worked out (`sized`): it fits, no trial
/// encoding; otherwise as [`push_fitting`] does.
fn push_sized(u: Update, sized: bool, caps: &SessionCaps, out: &mut Vec<Update>) -> Result<(), EncodeError> {
    if sized {
        out.push(u);
        Ok(())
    } else {
        push_fitting(u, caps, out)
    }
}

fn withdrawal(family: Family, nlri: Vec<Nlri>) -> Update {
    if family == Family::Ipv4Unicast {
        Update {
            withdrawn: prefixes(nlri),
            ..Update::default()
        }
    } else {
        let mut u = Update::default();
        u.attributes.mp_unreach = Some(MpUnreach {
            family,
            withdrawn: nlri,
        });
        u
    }
}

fn announcement(family: Family, attributes: &PathAttributes, next_hop: NextHop, nlri: Vec<Nlri>) -> Update {
    let mut attributes = attributes.clone();
    match (family, next_hop.address) {
        (Family::Ipv4Unicast, IpAddr::V4(v4)) => {
            attributes.next_hop = Some(v4);
            Update {
                withdrawn: Vec::new(),
                attributes,
                nlri: prefixes(nlri),
            }
        }
        _ => {
            attributes.mp_reach = Some(MpReach { family, next_hop, nlri });
            Update {
                withdrawn: Vec::new(),
                attributes,
                nlri: Vec::new(),
            }
        }
    }
}

fn prefixes(nlri: Vec<Nlri>) -> Vec<Prefix> {
    nlri.into_iter()
        .filter_map(|n| match n {
            Nlri::Prefix(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// How many NLRI an UPDATE carries, wherever they are.
fn nlri_count(u: &Update) -> usize {
    u.withdrawn.len()
        + u.nlri.len()
        + u.attributes.mp_reach.as_ref().map_or(0, |m| m.nlri.len())
        + u.attributes.mp_unreach.as_ref().map_or(0, |m| m.withdrawn.len())
}

/// Splits an UPDATE's NLRI in halves until each part fits the session's maximum message size.
fn push_fitting(u: Update, caps: &SessionCaps, out: &mut Vec<Update>) -> Result<(), EncodeError> {
    match Message::Update(u.clone()).encode(caps) {
        Ok(_) => {
            out.push(u);
            Ok(())
        }
        Err(EncodeError::TooLong { .. }) if nlri_count(&u) > 1 => {
            let (a, b) = split(u);
            push_fitting(a, caps, out)?;
            push_fitting(b, caps, out)
        }
        Err(e) => Err(e),
    }
}

fn half<T>(v: &mut Vec<T>, o: &mut Vec<T>) {
    let mid = v.len() / 2;
    *o = v.split_off(mid);
}

fn split(mut u: Update) -> (Update, Update) {
    let mut other = u.clone();
    half(&mut u.withdrawn, &mut other.withdrawn);
    half(&mut u.nlri, &mut other.nlri);
    if let (Some(m), Some(o)) = (u.attributes.mp_reach.as_mut(), other.attributes.mp_reach.as_mut()) {
        half(&mut m.nlri, &mut o.nlri);
    }
    if let (Some(m), Some(o)) = (u.attributes.mp_unreach.as_mut(), other.attributes.mp_unreach.as_mut()) {
        half(&mut m.withdrawn, &mut o.withdrawn);
    }
    (u, other)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::nlri::{Evpn, EvpnRoute};

    fn prefix(i: u32) -> Nlri {
        let net = ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap_or_default();
        Nlri::Prefix(Prefix {
            path_id: None,
            net: net.into(),
        })
    }

    fn v6(i: u32) -> Nlri {
        let addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 0);
        let net = ipnet::Ipv6Net::new(addr, 64).unwrap_or_default();
        Nlri::Prefix(Prefix {
            path_id: None,
            net: net.into(),
        })
    }

    /// Every message fits and no NLRI is lost (the tests count messages for fullness).
    fn check(updates: &[Update], caps: &SessionCaps, expect: usize) {
        let mut total = 0;
        for u in updates {
            let len = Message::Update(u.clone())
                .encode(caps)
                .map(|b| b.len())
                .unwrap_or(usize::MAX);
            assert!(len <= caps.max_message_len(), "{len} octets");
            total += nlri_count(u);
        }
        assert_eq!(total, expect);
    }

    #[test]
    fn withdrawals_are_packed_per_family_into_full_messages() {
        let caps = SessionCaps::default();
        let mut p = Packer::new(&caps);
        for i in 0..5000 {
            p.withdraw(Family::Ipv6Unicast, v6(i)).unwrap();
            p.withdraw(Family::Ipv4Unicast, prefix(i)).unwrap();
        }
        let updates = p.finish().unwrap();
        check(&updates, &caps, 10_000);
        // IPv4 first (family order): 5000 x 4 octets is 5 messages; IPv6 5000 x 9 is 12.
        assert!(!updates.first().is_some_and(|u| u.withdrawn.is_empty()));
        assert_eq!(updates.iter().filter(|u| !u.withdrawn.is_empty()).count(), 5);
        assert_eq!(updates.len(), 5 + 12);
    }

    #[test]
    fn extended_messages_take_sixteen_times_as_many() {
        let caps = SessionCaps {
            extended_message: true,
            ..SessionCaps::default()
        };
        let mut p = Packer::new(&caps);
        for i in 0..20_000 {
            p.withdraw(Family::Ipv4Unicast, prefix(i)).unwrap();
        }
        let updates = p.finish().unwrap();
        check(&updates, &caps, 20_000);
        assert_eq!(updates.len(), 2);
    }

    #[test]
    fn announcements_group_by_attributes_and_next_hop() {
        let caps = SessionCaps::default();
        let mut p = Packer::new(&caps);
        let a = Arc::new(PathAttributes::default());
        let b = Arc::new(PathAttributes {
            med: Some(5),
            ..PathAttributes::default()
        });
        // An equal set in another allocation joins the first group.
        let a2 = Arc::new(PathAttributes::default());
        let hop = NextHop::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        for i in 0..30 {
            let attrs = [&a, &b, &a2][i as usize % 3];
            p.announce(Family::Ipv4Unicast, attrs, hop, prefix(i)).unwrap();
        }
        let updates = p.finish().unwrap();
        check(&updates, &caps, 30);
        assert_eq!(updates.len(), 2);
        assert_eq!(updates.first().map(|u| u.nlri.len()), Some(20));
    }

    #[test]
    fn nlri_of_unknown_size_are_halved_until_they_fit() {
        let caps = SessionCaps::default();
        let mut p = Packer::new(&caps);
        let a = Arc::new(PathAttributes::default());
        let hop = NextHop::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        for i in 0..400u32 {
            let route = EvpnRoute::Other {
                route_type: 9,
                value: i.to_be_bytes().repeat(10),
            };
            p.announce(Family::L2vpnEvpn, &a, hop, Nlri::Evpn(Evpn { path_id: None, route }))
                .unwrap();
        }
        let updates = p.finish().unwrap();
        check(&updates, &caps, 400);
        // 400 x 42 octets is more than four messages' room.
        assert!(updates.len() >= 5, "{}", updates.len());
    }
}
