//! Model-based property test: random operation sequences on small pools,
//! checked after every step against a plain owner -> addresses map.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use proptest::prelude::*;
use weft_ipam::{Family, IpamError, Pool};

#[derive(Debug, Clone)]
enum Op {
    Allocate { owner: u8, family: Family },
    AllocateSpecific { owner: u8, cidr: usize, offset: u128 },
    Release { owner: u8 },
    ReleaseIp { cidr: usize, offset: u128 },
    Restart,
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..20, family()).prop_map(|(owner, family)| Op::Allocate { owner, family }),
        2 => (0u8..20, 0usize..8, 0u128..20)
            .prop_map(|(owner, cidr, offset)| Op::AllocateSpecific { owner, cidr, offset }),
        2 => (0u8..20).prop_map(|owner| Op::Release { owner }),
        2 => (0usize..8, 0u128..20).prop_map(|(cidr, offset)| Op::ReleaseIp { cidr, offset }),
        1 => Just(Op::Restart),
    ]
}

fn nets(cidrs: &[&str]) -> Vec<IpNet> {
    cidrs.iter().map(|c| c.parse().unwrap()).collect()
}

/// Address `offset` past a cidr's network address; may be reserved or
/// beyond the cidr, on purpose.
fn address(cidrs: &[IpNet], cidr: usize, offset: u128) -> IpAddr {
    match cidrs[cidr % cidrs.len()] {
        IpNet::V4(n) => IpAddr::V4((u32::from(n.network()) + offset as u32).into()),
        IpNet::V6(n) => IpAddr::V6((u128::from(n.network()) + offset).into()),
    }
}

/// Usable addresses written out by enumeration, independently of the pool.
fn usable(cidrs: &[IpNet]) -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    for net in cidrs {
        let all: Vec<IpAddr> = match net {
            IpNet::V4(n) => n.subnets(32).unwrap().map(|h| IpAddr::V4(h.addr())).collect(),
            IpNet::V6(n) => n.subnets(128).unwrap().map(|h| IpAddr::V6(h.addr())).collect(),
        };
        let (skip_first, skip_last) = match net {
            IpNet::V4(n) => (n.prefix_len() < 31, n.prefix_len() < 31),
            IpNet::V6(n) => (n.prefix_len() < 127, false),
        };
        let end = all.len() - usize::from(skip_last);
        out.extend(&all[usize::from(skip_first)..end]);
    }
    out
}

#[derive(Default, Clone)]
struct Model {
    owners: BTreeMap<String, BTreeSet<IpAddr>>,
}

impl Model {
    fn by_ip(&self) -> BTreeMap<IpAddr, String> {
        let mut m = BTreeMap::new();
        for (o, ips) in &self.owners {
            for ip in ips {
                assert!(m.insert(*ip, o.clone()).is_none(), "{ip} held twice in model");
            }
        }
        m
    }
    fn add(&mut self, ip: IpAddr, owner: &str) {
        self.owners.entry(owner.to_owned()).or_default().insert(ip);
    }
    fn remove_ip(&mut self, ip: IpAddr) -> Option<String> {
        let owner = self.owners.iter().find(|(_, s)| s.contains(&ip))?.0.clone();
        let set = self.owners.get_mut(&owner)?;
        set.remove(&ip);
        if set.is_empty() {
            self.owners.remove(&owner);
        }
        Some(owner)
    }
    fn count(&self, family: Family) -> usize {
        self.by_ip().keys().filter(|ip| Family::of(ip) == family).count()
    }
}

fn run(cidrs: &[&str], ops: Vec<Op>) -> Result<(), TestCaseError> {
    let cidrs = nets(cidrs);
    let usable = usable(&cidrs);
    let cap = |f: Family| usable.iter().filter(|ip| Family::of(ip) == f).count();
    let mut pool = Pool::new("props", cidrs.clone()).unwrap();
    let mut model = Model::default();
    prop_assert_eq!(pool.capacity(Family::V4), cap(Family::V4) as u128);
    prop_assert_eq!(pool.capacity(Family::V6), cap(Family::V6) as u128);

    for op in ops {
        match op {
            Op::Allocate { owner, family } => {
                let owner = owner.to_string();
                let held: Vec<IpAddr> = model
                    .owners
                    .get(&owner)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|ip| Family::of(ip) == family)
                    .collect();
                let full = model.count(family) == cap(family);
                match pool.allocate(family, &owner) {
                    Ok(ip) if !held.is_empty() => prop_assert!(held.contains(&ip)),
                    Ok(ip) => {
                        prop_assert!(!full, "allocated {} from a full family", ip);
                        prop_assert_eq!(Family::of(&ip), family);
                        prop_assert!(usable.contains(&ip), "{} not usable", ip);
                        prop_assert!(!model.by_ip().contains_key(&ip), "{} handed out twice", ip);
                        model.add(ip, &owner);
                    }
                    Err(IpamError::Exhausted {
                        family: f, capacity, ..
                    }) => {
                        prop_assert!(held.is_empty() && full, "Exhausted but model has room");
                        prop_assert_eq!(f, family);
                        prop_assert_eq!(capacity, cap(family) as u128);
                        // Freeing any address of the family makes room again.
                        let victim = *model.by_ip().keys().find(|ip| Family::of(ip) == family).unwrap();
                        let mut after = pool.clone();
                        prop_assert!(after.release(victim).is_some());
                        prop_assert_eq!(after.allocate(family, &owner), Ok(victim));
                    }
                    Err(IpamError::NoCidrForFamily { .. }) => prop_assert_eq!(cap(family), 0),
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                }
            }
            Op::AllocateSpecific { owner, cidr, offset } => {
                let owner = owner.to_string();
                let ip = address(&cidrs, cidr, offset);
                let expected = if !usable.contains(&ip) {
                    Err(IpamError::NotInPool {
                        pool: "props".into(),
                        ip,
                    })
                } else {
                    match model.by_ip().get(&ip) {
                        Some(o) if *o == owner => Ok(()),
                        Some(o) => Err(IpamError::InUse { ip, owner: o.clone() }),
                        None => {
                            model.add(ip, &owner);
                            Ok(())
                        }
                    }
                };
                prop_assert_eq!(pool.allocate_specific(ip, &owner), expected);
            }
            Op::Release { owner } => {
                let owner = owner.to_string();
                let expected: Vec<IpAddr> = model.owners.remove(&owner).unwrap_or_default().into_iter().collect();
                prop_assert_eq!(pool.release_owner(&owner), expected);
            }
            Op::ReleaseIp { cidr, offset } => {
                let ip = address(&cidrs, cidr, offset);
                prop_assert_eq!(pool.release(ip), model.remove_ip(ip));
            }
            Op::Restart => {
                let saved: Vec<(IpAddr, String)> = pool.allocations().map(|(ip, o)| (ip, o.to_owned())).collect();
                pool = Pool::restore("props", cidrs.clone(), saved).unwrap();
            }
        }

        // Invariants after every step.
        let expected = model.by_ip();
        let actual: BTreeMap<IpAddr, String> = pool.allocations().map(|(ip, o)| (ip, o.to_owned())).collect();
        prop_assert_eq!(&actual, &expected);
        for (ip, owner) in &actual {
            prop_assert!(usable.contains(ip) && pool.contains(*ip), "{} not usable", ip);
            prop_assert_eq!(pool.owner_of(*ip), Some(owner.as_str()));
        }
        for (owner, ips) in &model.owners {
            prop_assert_eq!(pool.addresses_of(owner), ips.iter().copied().collect::<Vec<_>>());
        }
        for f in [Family::V4, Family::V6] {
            prop_assert_eq!(pool.used(f), model.count(f));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dual_stack_pool_matches_model(ops in prop::collection::vec(op(), 1..200)) {
        run(&["10.0.0.0/28", "fd00::/124"], ops)?;
    }

    #[test]
    fn multi_cidr_pool_matches_model(ops in prop::collection::vec(op(), 1..200)) {
        run(&["10.0.0.0/29", "192.168.1.4/30", "10.0.0.8/31", "fd00::/127", "fd00::10/126"], ops)?;
    }

    #[test]
    fn v4_only_pool_matches_model(ops in prop::collection::vec(op(), 1..200)) {
        run(&["10.1.0.0/30", "10.2.0.0/32"], ops)?;
    }

    /// Arbitrary cidr lists never panic: either a pool or InvalidCidr.
    #[test]
    fn new_never_panics(raw in prop::collection::vec(
        (any::<u32>(), 0u8..=32, any::<u128>(), 0u8..=128, any::<bool>(), any::<bool>()), 0..5)
    ) {
        let cidrs: Vec<IpNet> = raw
            .into_iter()
            .map(|(a4, p4, a6, p6, v4, trunc)| {
                let net = if v4 {
                    IpNet::V4(ipnet::Ipv4Net::new(a4.into(), p4).unwrap())
                } else {
                    IpNet::V6(ipnet::Ipv6Net::new(a6.into(), p6).unwrap())
                };
                if trunc { net.trunc() } else { net }
            })
            .collect();
        match Pool::new("p", cidrs) {
            Ok(mut p) => {
                for f in [Family::V4, Family::V6] {
                    for o in ["x", "y", "z"] {
                        if let Ok(ip) = p.allocate(f, o) {
                            prop_assert!(p.contains(ip));
                        }
                    }
                }
                prop_assert_eq!(p.allocations().count(), p.used(Family::V4) + p.used(Family::V6));
            }
            Err(IpamError::InvalidCidr { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }
}
