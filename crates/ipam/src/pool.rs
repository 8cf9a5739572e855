//! The address pool itself.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::{Family, IpamError};

/// Usable range of one cidr as numbers, so both families share one
/// (u128) arithmetic.
#[derive(Debug, Clone)]
struct Span {
    family: Family,
    /// First and last usable address (inclusive), reserved ones excluded.
    lo: u128,
    hi: u128,
    /// Where the next search starts; moves past each allocation so a
    /// just-released address is not handed out again at once.
    cursor: u128,
    /// Allocated addresses inside this span, so a full span is skipped
    /// without walking its allocations.
    used: u128,
}

impl Span {
    fn new(net: &IpNet) -> Span {
        let first = to_u128(net.network());
        let last = to_u128(net.broadcast());
        // Network address is reserved; IPv4 also reserves broadcast. Point
        // to point prefixes (/31, /32, /127, /128) reserve nothing.
        let (family, lo, hi) = match net {
            IpNet::V4(n) if n.prefix_len() < 31 => (Family::V4, first + 1, last - 1),
            IpNet::V4(_) => (Family::V4, first, last),
            IpNet::V6(n) if n.prefix_len() < 127 => (Family::V6, first + 1, last),
            IpNet::V6(_) => (Family::V6, first, last),
        };
        Span {
            family,
            lo,
            hi,
            cursor: lo,
            used: 0,
        }
    }

    fn size(&self) -> u128 {
        (self.hi - self.lo).saturating_add(1)
    }

    fn holds(&self, family: Family, n: u128) -> bool {
        self.family == family && self.lo <= n && n <= self.hi
    }

    /// Move the cursor just past `n`, wrapping to the start.
    fn advance_past(&mut self, n: u128) {
        self.cursor = if n >= self.hi { self.lo } else { n + 1 };
    }
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(family: Family, n: u128) -> IpAddr {
    match family {
        // Only called with numbers from a V4 span, which fit in u32.
        Family::V4 => IpAddr::V4(Ipv4Addr::from(n as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// A named set of subnets and who owns which address in them.
///
/// Sans-IO: the caller persists [`Pool::allocations`] and rebuilds with
/// [`Pool::restore`].
#[derive(Debug, Clone)]
pub struct Pool {
    name: String,
    cidrs: Vec<IpNet>,
    /// Parallel to `cidrs`.
    spans: Vec<Span>,
    allocations: BTreeMap<IpAddr, String>,
    /// Index for idempotent allocation and releasing a whole owner.
    by_owner: BTreeMap<String, BTreeSet<IpAddr>>,
}

impl Pool {
    /// Cidrs may mix IPv4 and IPv6; they must be non-empty, must not
    /// overlap and must have no host bits set (`10.0.0.1/24` is refused
    /// rather than silently truncated, since it is probably a typo).
    pub fn new(name: impl Into<String>, cidrs: Vec<IpNet>) -> Result<Pool, IpamError> {
        let name = name.into();
        let invalid = |reason: String| IpamError::InvalidCidr {
            pool: name.clone(),
            reason,
        };
        if cidrs.is_empty() {
            return Err(invalid("no subnets given; list at least one".into()));
        }
        for net in &cidrs {
            if net.trunc() != *net {
                return Err(invalid(format!(
                    "{net} has host bits set; did you mean {}?",
                    net.trunc()
                )));
            }
        }
        for (i, a) in cidrs.iter().enumerate() {
            for b in &cidrs[i + 1..] {
                if a.contains(&b.network()) || b.contains(&a.network()) {
                    return Err(invalid(format!("{a} overlaps {b}; subnets must be disjoint")));
                }
            }
        }
        let spans = cidrs.iter().map(Span::new).collect();
        Ok(Pool {
            name,
            cidrs,
            spans,
            allocations: BTreeMap::new(),
            by_owner: BTreeMap::new(),
        })
    }

    /// Rebuild after a restart from persisted `(ip, owner)` pairs.
    ///
    /// Fails (never panics) on an address outside the pool or one listed
    /// twice, since either means the saved state does not match the spec.
    /// Each cursor resumes after the highest address restored in its cidr,
    /// approximating where allocation left off.
    pub fn restore(
        name: impl Into<String>,
        cidrs: Vec<IpNet>,
        allocations: impl IntoIterator<Item = (IpAddr, String)>,
    ) -> Result<Pool, IpamError> {
        let mut pool = Pool::new(name, cidrs)?;
        for (ip, owner) in allocations {
            let Some(i) = pool.span_index(ip) else {
                return Err(pool.not_in_pool(ip));
            };
            if pool.allocations.contains_key(&ip) {
                return Err(IpamError::Duplicate { ip });
            }
            pool.insert(i, ip, owner);
        }
        for span in &mut pool.spans {
            let range = from_u128(span.family, span.lo)..=from_u128(span.family, span.hi);
            if let Some((ip, _)) = pool.allocations.range(range).next_back() {
                span.advance_past(to_u128(*ip));
            }
        }
        Ok(pool)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn cidrs(&self) -> &[IpNet] {
        &self.cidrs
    }

    /// Idempotent per `(owner, family)`: an owner already holding an address
    /// of that family gets it back (the lowest, if it holds several), so a
    /// retried reconcile does not leak addresses.
    ///
    /// Otherwise returns the next free address after a moving cursor,
    /// wrapping around, trying the family's cidrs in order. Like Kubernetes'
    /// allocator this avoids handing a just-released address to a new owner
    /// while stale references to it may still exist.
    pub fn allocate(&mut self, family: Family, owner: &str) -> Result<IpAddr, IpamError> {
        if let Some(ip) = self
            .by_owner
            .get(owner)
            .and_then(|ips| ips.iter().find(|ip| Family::of(ip) == family))
        {
            return Ok(*ip);
        }
        if !self.spans.iter().any(|s| s.family == family) {
            return Err(IpamError::NoCidrForFamily {
                pool: self.name.clone(),
                family,
            });
        }
        for i in 0..self.spans.len() {
            let Span {
                family: f,
                lo,
                hi,
                cursor,
                used,
            } = self.spans[i];
            if f != family || used >= self.spans[i].size() {
                continue;
            }
            let found = self
                .first_free(family, cursor, hi)
                .or_else(|| (cursor > lo).then(|| self.first_free(family, lo, cursor - 1)).flatten());
            if let Some(n) = found {
                self.spans[i].advance_past(n);
                let ip = from_u128(family, n);
                self.insert(i, ip, owner.to_owned());
                return Ok(ip);
            }
        }
        Err(IpamError::Exhausted {
            pool: self.name.clone(),
            family,
            cidrs: self
                .cidrs
                .iter()
                .zip(&self.spans)
                .filter(|(_, s)| s.family == family)
                .map(|(c, _)| c.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            capacity: self.capacity(family),
        })
    }

    /// Take a given address (e.g. a ClusterIP set in a manifest). Ok if the
    /// same owner already holds it, so this is idempotent too. Does not move
    /// the cursor.
    pub fn allocate_specific(&mut self, ip: IpAddr, owner: &str) -> Result<(), IpamError> {
        let Some(i) = self.span_index(ip) else {
            return Err(self.not_in_pool(ip));
        };
        match self.allocations.get(&ip) {
            Some(held) if held == owner => Ok(()),
            Some(held) => Err(IpamError::InUse {
                ip,
                owner: held.clone(),
            }),
            None => {
                self.insert(i, ip, owner.to_owned());
                Ok(())
            }
        }
    }

    /// Free one address; returns the owner it had, `None` if it was free.
    pub fn release(&mut self, ip: IpAddr) -> Option<String> {
        let owner = self.allocations.remove(&ip)?;
        if let Some(ips) = self.by_owner.get_mut(&owner) {
            ips.remove(&ip);
            if ips.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
        self.uncount(ip);
        Some(owner)
    }

    /// Free every address of an owner (e.g. a deleted pod); returns them in
    /// ascending order.
    pub fn release_owner(&mut self, owner: &str) -> Vec<IpAddr> {
        let ips: Vec<IpAddr> = self
            .by_owner
            .remove(owner)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        for ip in &ips {
            self.allocations.remove(ip);
            self.uncount(*ip);
        }
        ips
    }

    pub fn owner_of(&self, ip: IpAddr) -> Option<&str> {
        self.allocations.get(&ip).map(String::as_str)
    }

    /// The owner's addresses in ascending order (IPv4 before IPv6).
    pub fn addresses_of(&self, owner: &str) -> Vec<IpAddr> {
        self.by_owner
            .get(owner)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Every `(ip, owner)` in ascending address order; what to persist.
    pub fn allocations(&self) -> impl Iterator<Item = (IpAddr, &str)> {
        self.allocations.iter().map(|(ip, o)| (*ip, o.as_str()))
    }

    /// Inside a cidr and not a reserved address, i.e. allocatable in principle.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.span_index(ip).is_some()
    }

    /// Usable addresses of a family (saturating), for `weft get` output.
    pub fn capacity(&self, family: Family) -> u128 {
        self.spans
            .iter()
            .filter(|s| s.family == family)
            .fold(0u128, |acc, s| acc.saturating_add(s.size()))
    }

    /// Allocated addresses of a family.
    pub fn used(&self, family: Family) -> usize {
        let used = self
            .spans
            .iter()
            .filter(|s| s.family == family)
            .fold(0u128, |acc, s| acc.saturating_add(s.used));
        usize::try_from(used).unwrap_or(usize::MAX)
    }

    fn span_index(&self, ip: IpAddr) -> Option<usize> {
        let (family, n) = (Family::of(&ip), to_u128(ip));
        self.spans.iter().position(|s| s.holds(family, n))
    }

    fn not_in_pool(&self, ip: IpAddr) -> IpamError {
        IpamError::NotInPool {
            pool: self.name.clone(),
            ip,
        }
    }

    /// Lowest free number in `[from, to]`. Walks only the run of allocated
    /// addresses starting at `from`: O(log n + run length), never the range.
    fn first_free(&self, family: Family, from: u128, to: u128) -> Option<u128> {
        let range = from_u128(family, from)..=from_u128(family, to);
        let mut candidate = from;
        for ip in self.allocations.range(range).map(|(ip, _)| to_u128(*ip)) {
            if ip != candidate {
                break; // gap: candidate is free
            }
            candidate = candidate.checked_add(1)?;
        }
        (candidate <= to).then_some(candidate)
    }

    fn insert(&mut self, span: usize, ip: IpAddr, owner: String) {
        if let Some(s) = self.spans.get_mut(span) {
            s.used += 1;
        }
        self.by_owner.entry(owner.clone()).or_default().insert(ip);
        self.allocations.insert(ip, owner);
    }

    fn uncount(&mut self, ip: IpAddr) {
        if let Some(i) = self.span_index(ip) {
            self.spans[i].used = self.spans[i].used.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pool(cidrs: &[&str]) -> Pool {
        Pool::new("p", cidrs.iter().map(|c| net(c)).collect()).unwrap()
    }

    #[test]
    fn v4_slash30_gives_two_then_exhausted() {
        let mut p = pool(&["10.0.0.0/30"]);
        assert_eq!(p.capacity(Family::V4), 2);
        assert_eq!(p.allocate(Family::V4, "a").unwrap(), ip("10.0.0.1"));
        assert_eq!(p.allocate(Family::V4, "b").unwrap(), ip("10.0.0.2"));
        let err = p.allocate(Family::V4, "c").unwrap_err();
        assert_eq!(
            err,
            IpamError::Exhausted {
                pool: "p".into(),
                family: Family::V4,
                cidrs: "10.0.0.0/30".into(),
                capacity: 2,
            }
        );
        assert_eq!(
            err.to_string(),
            "pool p: all 2 IPv4 addresses in 10.0.0.0/30 are allocated; \
             add a subnet or release addresses"
        );
        assert_eq!(p.used(Family::V4), 2);
    }

    #[test]
    fn v4_slash31_and_slash32_reserve_nothing() {
        let mut p = pool(&["10.0.0.0/31", "10.0.0.9/32"]);
        assert_eq!(p.capacity(Family::V4), 3);
        assert_eq!(p.allocate(Family::V4, "a").unwrap(), ip("10.0.0.0"));
        assert_eq!(p.allocate(Family::V4, "b").unwrap(), ip("10.0.0.1"));
        assert_eq!(p.allocate(Family::V4, "c").unwrap(), ip("10.0.0.9"));
        assert!(matches!(
            p.allocate(Family::V4, "d"),
            Err(IpamError::Exhausted { capacity: 3, .. })
        ));
    }

    #[test]
    fn v6_slash126_reserves_only_network() {
        let mut p = pool(&["fd00::/126"]);
        assert_eq!(p.capacity(Family::V6), 3);
        let got: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|o| p.allocate(Family::V6, o).unwrap())
            .collect();
        assert_eq!(got, [ip("fd00::1"), ip("fd00::2"), ip("fd00::3")]);
        assert!(matches!(p.allocate(Family::V6, "d"), Err(IpamError::Exhausted { .. })));
        let p = pool(&["fd00::/127", "fd00::8/128"]);
        assert_eq!(p.capacity(Family::V6), 3);
        assert!(p.contains(ip("fd00::")));
        assert!(p.contains(ip("fd00::8")));
    }

    #[test]
    fn reserved_addresses_never_returned() {
        let mut p = pool(&["10.0.0.0/29", "fd00::/125"]);
        assert!(!p.contains(ip("10.0.0.0")));
        assert!(!p.contains(ip("10.0.0.7")));
        assert!(!p.contains(ip("fd00::")));
        assert!(p.contains(ip("fd00::7")));
        for round in 0..3 {
            for i in 0..20 {
                for f in [Family::V4, Family::V6] {
                    if let Ok(a) = p.allocate(f, &format!("o{round}-{i}")) {
                        assert!(p.contains(a), "{a}");
                    }
                }
            }
            p.release_owner(&format!("o{round}-3"));
            p.release_owner(&format!("o{round}-5"));
        }
        for a in [ip("10.0.0.0"), ip("10.0.0.7"), ip("fd00::")] {
            assert_eq!(
                p.allocate_specific(a, "x"),
                Err(IpamError::NotInPool {
                    pool: "p".into(),
                    ip: a
                })
            );
        }
    }

    #[test]
    fn allocate_is_idempotent_per_owner_and_family() {
        let mut p = pool(&["10.0.0.0/24", "fd00::/64"]);
        let a4 = p.allocate(Family::V4, "pod").unwrap();
        let a6 = p.allocate(Family::V6, "pod").unwrap();
        assert_eq!(p.allocate(Family::V4, "pod").unwrap(), a4);
        assert_eq!(p.allocate(Family::V6, "pod").unwrap(), a6);
        assert_eq!(p.addresses_of("pod"), [a4, a6]);
        assert_eq!(p.used(Family::V4), 1);
        assert_eq!(p.owner_of(a6), Some("pod"));
    }

    #[test]
    fn no_cidr_for_family() {
        let mut p = pool(&["10.0.0.0/24"]);
        let err = p.allocate(Family::V6, "a").unwrap_err();
        assert_eq!(err.to_string(), "pool p has no IPv6 subnet; add one to spec.subnets");
        assert_eq!(p.capacity(Family::V6), 0);
    }

    #[test]
    fn allocate_specific_conflicts() {
        let mut p = pool(&["10.96.0.0/16"]);
        let svc = ip("10.96.0.10");
        p.allocate_specific(svc, "kube-dns").unwrap();
        p.allocate_specific(svc, "kube-dns").unwrap();
        assert_eq!(
            p.allocate_specific(svc, "other"),
            Err(IpamError::InUse {
                ip: svc,
                owner: "kube-dns".into()
            })
        );
        assert!(matches!(
            p.allocate_specific(ip("10.97.0.1"), "x"),
            Err(IpamError::NotInPool { .. })
        ));
        assert!(matches!(
            p.allocate_specific(ip("fd00::1"), "x"),
            Err(IpamError::NotInPool { .. })
        ));
        // The cursor skips the taken address.
        for i in 1..=10 {
            let a = p.allocate(Family::V4, &format!("s{i}")).unwrap();
            assert_ne!(a, svc);
        }
        assert_eq!(p.owner_of(ip("10.96.0.11")), Some("s10"));
    }

    #[test]
    fn released_address_reused_only_after_wrap() {
        let mut p = pool(&["10.0.0.0/29"]); // .1 ..= .6
        let first = p.allocate(Family::V4, "a").unwrap();
        assert_eq!(p.release(first), Some("a".into()));
        assert_eq!(p.release(first), None);
        let mut seen = vec![];
        for i in 0..5 {
            seen.push(p.allocate(Family::V4, &format!("b{i}")).unwrap());
        }
        assert!(!seen.contains(&first), "{seen:?}");
        // The cursor has reached the end; it wraps to the released address.
        assert_eq!(p.allocate(Family::V4, "c").unwrap(), first);
        assert!(matches!(p.allocate(Family::V4, "d"), Err(IpamError::Exhausted { .. })));
    }

    #[test]
    fn cidrs_of_a_family_tried_in_order() {
        let mut p = pool(&["10.0.0.0/30", "fd00::/120", "192.168.0.0/30"]);
        let got: Vec<_> = (0..4)
            .map(|i| p.allocate(Family::V4, &i.to_string()).unwrap())
            .collect();
        assert_eq!(
            got,
            [ip("10.0.0.1"), ip("10.0.0.2"), ip("192.168.0.1"), ip("192.168.0.2")]
        );
        let err = p.allocate(Family::V4, "x").unwrap_err();
        assert!(
            err.to_string()
                .contains("all 4 IPv4 addresses in 10.0.0.0/30, 192.168.0.0/30"),
            "{err}"
        );
    }

    #[test]
    fn release_owner_returns_everything() {
        let mut p = pool(&["10.0.0.0/24", "fd00::/64"]);
        let a = p.allocate(Family::V4, "o").unwrap();
        let b = p.allocate(Family::V6, "o").unwrap();
        p.allocate_specific(ip("10.0.0.200"), "o").unwrap();
        p.allocate(Family::V4, "other").unwrap();
        assert_eq!(p.release_owner("o"), [a, ip("10.0.0.200"), b]);
        assert!(p.release_owner("o").is_empty());
        assert_eq!(p.allocations().count(), 1);
        assert_eq!(p.used(Family::V4), 1);
        assert_eq!(p.used(Family::V6), 0);
    }

    #[test]
    fn slash64_allocates_ten_thousand() {
        let mut p = pool(&["fd00:10::/64"]);
        assert_eq!(p.capacity(Family::V6), (1u128 << 64) - 1);
        for i in 0..10_000 {
            p.allocate(Family::V6, &format!("pod-{i}")).unwrap();
        }
        assert_eq!(p.used(Family::V6), 10_000);
        assert_eq!(p.owner_of(ip("fd00:10::2710")), Some("pod-9999"));
    }

    #[test]
    fn huge_ranges_do_not_overflow() {
        let mut p = pool(&["0.0.0.0/0", "::/0"]);
        assert_eq!(p.capacity(Family::V4), (1u128 << 32) - 2);
        assert_eq!(p.capacity(Family::V6), u128::MAX);
        p.allocate_specific(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "top")
            .unwrap();
        p.allocate_specific(ip("255.255.255.254"), "top").unwrap();
        assert!(!p.contains(ip("255.255.255.255")));
        assert_eq!(p.allocate(Family::V4, "a").unwrap(), ip("0.0.0.1"));
        let mut p = pool(&["255.255.255.254/31", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"]);
        for o in ["a", "b"] {
            p.allocate(Family::V4, o).unwrap();
            p.allocate(Family::V6, o).unwrap();
        }
        assert!(p.allocate(Family::V4, "c").is_err());
        assert!(p.allocate(Family::V6, "c").is_err());
        p.release(ip("255.255.255.254"));
        assert_eq!(p.allocate(Family::V4, "c").unwrap(), ip("255.255.255.254"));
    }

    #[test]
    fn new_rejects_bad_cidrs() {
        let bad = |cidrs: &[&str]| {
            let err = Pool::new("p", cidrs.iter().map(|c| net(c)).collect()).unwrap_err();
            assert!(matches!(err, IpamError::InvalidCidr { .. }), "{err:?}");
            err.to_string()
        };
        assert!(bad(&[]).contains("no subnets"));
        assert!(bad(&["10.0.0.1/24"]).contains("did you mean 10.0.0.0/24"));
        assert!(bad(&["10.0.0.0/16", "10.0.5.0/24"]).contains("overlaps"));
        assert!(bad(&["fd00::/64", "10.0.0.0/8", "fd00::/64"]).contains("overlaps"));
        pool(&["10.0.0.0/24", "10.0.1.0/24", "fd00::/64"]);
    }

    #[test]
    fn restore_rebuilds_and_rejects_bad_state() {
        let cidrs = vec![net("10.0.0.0/29"), net("fd00::/124")];
        let mut p = Pool::new("p", cidrs.clone()).unwrap();
        p.allocate(Family::V4, "a").unwrap();
        p.allocate(Family::V4, "b").unwrap();
        p.allocate(Family::V6, "a").unwrap();
        p.release(ip("10.0.0.1"));
        let saved: Vec<(IpAddr, String)> = p.allocations().map(|(i, o)| (i, o.to_owned())).collect();
        let mut r = Pool::restore("p", cidrs.clone(), saved.clone()).unwrap();
        assert!(r.allocations().eq(p.allocations()));
        assert_eq!(r.addresses_of("a"), p.addresses_of("a"));
        assert_eq!(r.used(Family::V4), 1);
        // Cursor resumes after the highest restored address, not at the
        // just-released .1.
        assert_eq!(r.allocate(Family::V4, "c").unwrap(), ip("10.0.0.3"));

        let mut dup = saved.clone();
        dup.push((ip("10.0.0.2"), "z".into()));
        assert_eq!(
            Pool::restore("p", cidrs.clone(), dup).unwrap_err(),
            IpamError::Duplicate { ip: ip("10.0.0.2") }
        );
        for outside in ["10.0.0.7", "10.0.0.0", "10.0.1.1", "fd00::", "fd00::10"] {
            let mut bad = saved.clone();
            bad.push((ip(outside), "z".into()));
            assert_eq!(
                Pool::restore("p", cidrs.clone(), bad).unwrap_err(),
                IpamError::NotInPool {
                    pool: "p".into(),
                    ip: ip(outside)
                }
            );
        }
        assert!(matches!(
            Pool::restore("p", vec![], saved),
            Err(IpamError::InvalidCidr { .. })
        ));
    }
}
