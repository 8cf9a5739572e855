//! The Loc-RIB's table: one slot per destination in dense chunks, found through a hash index
//! of slot numbers. A B-tree keyed by [`RouteKey`] costs about three times the memory per route
//! (the 40-octet key in half-full nodes); here a key takes one word in its slot (IPv4 prefixes
//! inline, other keys in a side vector) and the index 5 octets per bucket. Slots of removed keys are reused. Iteration is in slot
//! order, not key order: callers that show routes sort them.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use hashbrown::HashTable;
use ipnet::{IpNet, Ipv4Net};

use super::key::RouteKey;

/// A key as a slot holds it, in one word: an IPv4 unicast prefix inline (address and length),
/// any other key as its index in the table's `others` (top bit set), or [`SlotKey::FREE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SlotKey(u64);

const OTHER: u64 = 1 << 63;

impl SlotKey {
    const FREE: SlotKey = SlotKey(u64::MAX);

    fn v4(addr: u32, len: u8) -> SlotKey {
        SlotKey(u64::from(addr) << 8 | u64::from(len))
    }

    /// The address and length of an inline IPv4 key.
    fn as_v4(self) -> Option<(u32, u8)> {
        (self.0 & OTHER == 0).then_some(((self.0 >> 8) as u32, self.0 as u8))
    }

    /// The index in `others` of any other key.
    fn other(self) -> Option<usize> {
        (self != SlotKey::FREE && self.0 & OTHER != 0).then_some((self.0 & !OTHER) as usize)
    }
}

fn v4_of(key: &RouteKey) -> Option<(u32, u8)> {
    match key {
        RouteKey::Prefix(IpNet::V4(n)) => Some((u32::from(n.addr()), n.prefix_len())),
        _ => None,
    }
}

/// The finalizer of MurmurHash3 (fmix64): every input bit reaches every output bit, so that
/// prefixes that differ only in their high bits (all /24s) spread over the buckets.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The bits the hash index keeps as each bucket's tag (hashbrown's `h2`: the top seven).
const TAG_BITS: u64 = 0xfe00_0000_0000_0000;

/// IPv4 prefixes hash with locality: the prefixes up to /24 inside one /18 (at most 64 /24s and
/// their aggregates) take neighbouring buckets of a window placed at random, so that a peer
/// announcing or withdrawing consecutive prefixes (as full tables and the benchmark's
/// generators do) walks the index in order instead of missing the cache on every prefix. The
/// tag bits and longer prefixes (host routes can be dense) are mixed as usual.
fn hash_v4(addr: u32, len: u8) -> u64 {
    let mixed = mix(u64::from(addr) << 8 | u64::from(len));
    let position = if len <= 24 {
        let n = u64::from(addr >> 8);
        mix(n >> 6 | 1 << 40) << 6 | (n & 63)
    } else {
        mixed
    };
    (mixed & TAG_BITS) | (position & !TAG_BITS)
}

/// Word-at-a-time multiply-rotate hashing (as rustc's FxHasher) with [`mix`] at the end: for
/// keys no peer chooses freely or that are mixed anyway (no SipHash per route).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

/// A `HashMap` with [`KeyHasher`], for the counters a RIB updates per route.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            if let Some(w) = word.get_mut(..chunk.len()) {
                w.copy_from_slice(chunk);
            }
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        mix(self.0)
    }
}

/// The hash both the table and the out queues index keys by.
pub(crate) fn hash_key(key: &RouteKey) -> u64 {
    if let RouteKey::Prefix(IpNet::V4(n)) = key {
        return hash_v4(u32::from(n.addr()), n.prefix_len());
    }
    let mut h = KeyHasher::default();
    key.hash(&mut h);
    h.finish()
}

#[derive(Clone)]
struct Slot<V> {
    key: SlotKey,
    value: V,
}

/// Slots per chunk.
const CHUNK: usize = 4096;

/// The hash of a slot's key ([`hash_key`] of the key it stands for).
fn slot_hash(others: &[Option<RouteKey>], k: SlotKey) -> u64 {
    match k.as_v4() {
        Some((addr, len)) => hash_v4(addr, len),
        None => k
            .other()
            .and_then(|i| others.get(i))
            .and_then(Option::as_ref)
            .map_or(0, hash_key),
    }
}

fn slot_in<V>(chunks: &[Box<[Slot<V>]>], i: u32) -> Option<&Slot<V>> {
    let i = i as usize;
    chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
}

/// Destinations and a value for each.
#[derive(Clone)]
pub(crate) struct Table<V> {
    /// The slots in chunks of [`CHUNK`]: growing never copies the table (a vector's doubling
    /// would copy, and hold both copies at once).
    slots: Vec<Box<[Slot<V>]>>,
    /// Slots handed out so far (free ones included).
    used: usize,
    index: HashTable<u32>,
    free: Vec<u32>,
    /// Keys other than IPv4 prefixes, by the number their slot holds.
    others: Vec<Option<RouteKey>>,
    others_free: Vec<u32>,
}

impl<V> std::fmt::Debug for Table<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("len", &self.index.len()).finish()
    }
}

impl<V: Default> Default for Table<V> {
    fn default() -> Table<V> {
        Table {
            slots: Vec::new(),
            used: 0,
            index: HashTable::new(),
            free: Vec::new(),
            others: Vec::new(),
            others_free: Vec::new(),
        }
    }
}

impl<V: Default> Table<V> {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    fn slot(&self, i: u32) -> Option<&Slot<V>> {
        slot_in(&self.slots, i)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Slot<V>> {
        let i = i as usize;
        self.slots.get_mut(i / CHUNK).and_then(|c| c.get_mut(i % CHUNK))
    }

    /// Every handed-out slot with its number, free ones included.
    fn all(&self) -> impl Iterator<Item = (u32, &Slot<V>)> {
        self.slots
            .iter()
            .flat_map(|c| c.iter())
            .take(self.used)
            .enumerate()
            .map(|(i, s)| (i as u32, s))
    }

    fn key_of(&self, k: SlotKey) -> Option<RouteKey> {
        if let Some((addr, len)) = k.as_v4() {
            return Ipv4Net::new(addr.into(), len)
                .ok()
                .map(|n| RouteKey::Prefix(IpNet::V4(n)));
        }
        k.other().and_then(|i| self.others.get(i)).and_then(Clone::clone)
    }

    fn matches(&self, k: SlotKey, key: &RouteKey) -> bool {
        match (k.as_v4(), v4_of(key)) {
            (Some(a), Some(b)) => a == b,
            (None, None) => k
                .other()
                .and_then(|i| self.others.get(i))
                .is_some_and(|o| o.as_ref() == Some(key)),
            _ => false,
        }
    }

    fn hash_of(&self, k: SlotKey) -> u64 {
        slot_hash(&self.others, k)
    }

    fn slot_key(&mut self, key: &RouteKey) -> SlotKey {
        if let Some((addr, len)) = v4_of(key) {
            return SlotKey::v4(addr, len);
        }
        let i = match self.others_free.pop() {
            Some(i) => {
                if let Some(o) = self.others.get_mut(i as usize) {
                    *o = Some(key.clone());
                }
                i as usize
            }
            None => {
                self.others.push(Some(key.clone()));
                self.others.len() - 1
            }
        };
        SlotKey(OTHER | i as u64)
    }

    /// The slot of `key`, if it has one.
    pub fn find(&self, key: &RouteKey) -> Option<u32> {
        self.find_hashed(key, hash_key(key))
    }

    fn find_hashed(&self, key: &RouteKey, hash: u64) -> Option<u32> {
        self.index
            .find(hash, |&i| self.slot(i).is_some_and(|s| self.matches(s.key, key)))
            .copied()
    }

    /// The slot of `key` and whether it is new (its value then the default).
    pub fn find_or_insert(&mut self, key: &RouteKey) -> (u32, bool) {
        let hash = hash_key(key);
        if let Some(i) = self.find_hashed(key, hash) {
            return (i, false);
        }
        let slot = Slot {
            key: self.slot_key(key),
            value: V::default(),
        };
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                if self.used == self.slots.len() * CHUNK {
                    let chunk: Vec<Slot<V>> = (0..CHUNK)
                        .map(|_| Slot {
                            key: SlotKey::FREE,
                            value: V::default(),
                        })
                        .collect();
                    self.slots.push(chunk.into_boxed_slice());
                }
                self.used += 1;
                (self.used - 1) as u32
            }
        };
        if let Some(s) = self.slot_mut(i) {
            *s = slot;
        }
        let (slots, others) = (&self.slots, &self.others);
        self.index
            .insert_unique(hash, i, |&j| slot_in(slots, j).map_or(0, |s| slot_hash(others, s.key)));
        (i, true)
    }

    /// Frees slot `i` (its value dropped); the slot number may be handed out again.
    pub fn remove(&mut self, i: u32) {
        let Some(k) = self.slot(i).map(|s| s.key) else {
            return;
        };
        if k == SlotKey::FREE {
            return;
        }
        let hash = self.hash_of(k);
        if let Ok(e) = self.index.find_entry(hash, |&j| j == i) {
            e.remove();
        }
        if let Some(o) = k.other() {
            if let Some(slot) = self.others.get_mut(o) {
                *slot = None;
            }
            self.others_free.push(o as u32);
        }
        if let Some(slot) = self.slot_mut(i) {
            slot.key = SlotKey::FREE;
            slot.value = V::default();
        }
        self.free.push(i);
    }

    pub fn get(&self, i: u32) -> Option<&V> {
        self.slot(i).map(|s| &s.value)
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut V> {
        self.slot_mut(i).map(|s| &mut s.value)
    }

    /// The key of slot `i`.
    pub fn key(&self, i: u32) -> Option<RouteKey> {
        self.slot(i).and_then(|s| self.key_of(s.key))
    }

    /// Orders two slots by their keys ([`RouteKey`]'s order), IPv4 prefixes without building
    /// keys.
    pub fn cmp_keys(&self, a: u32, b: u32) -> Ordering {
        let (Some(x), Some(y)) = (self.slot(a), self.slot(b)) else {
            return a.cmp(&b);
        };
        match (x.key.as_v4(), y.key.as_v4()) {
            (Some(p), Some(q)) => p.cmp(&q),
            _ => self.key_of(x.key).cmp(&self.key_of(y.key)),
        }
    }

    /// Every used slot: its number, key and value.
    pub fn iter(&self) -> impl Iterator<Item = (u32, RouteKey, &V)> {
        self.all()
            .filter_map(|(i, s)| self.key_of(s.key).map(|k| (i, k, &s.value)))
    }

    /// Every used slot's number and value.
    pub fn values(&self) -> impl Iterator<Item = (u32, &V)> {
        self.all()
            .filter(|(_, s)| s.key != SlotKey::FREE)
            .map(|(i, s)| (i, &s.value))
    }

    /// Every used slot's number.
    pub fn iter_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.values().map(|(i, _)| i)
    }

    /// Whether slot `i` holds a key of `family` without building the key.
    pub fn family(&self, i: u32) -> Option<crate::family::Family> {
        let k = self.slot(i)?.key;
        if k.as_v4().is_some() {
            return Some(crate::family::Family::Ipv4Unicast);
        }
        k.other()
            .and_then(|o| self.others.get(o))
            .and_then(Option::as_ref)
            .map(RouteKey::family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> RouteKey {
        RouteKey::Prefix(s.parse().unwrap())
    }

    #[test]
    fn a_key_takes_one_word() {
        assert_eq!(std::mem::size_of::<SlotKey>(), 8);
        for (addr, len) in [(0, 0), (u32::MAX, 32), (0x0a00_0100, 24)] {
            assert_eq!(SlotKey::v4(addr, len).as_v4(), Some((addr, len)));
            assert_ne!(SlotKey::v4(addr, len), SlotKey::FREE);
        }
        assert_eq!(SlotKey::FREE.other(), None);
        assert_eq!(SlotKey::FREE.as_v4(), None);
    }

    #[test]
    fn keys_are_found_removed_and_their_slots_reused() {
        let mut t: Table<u32> = Table::default();
        let keys = [
            key("10.0.0.0/24"),
            key("10.0.0.0/25"),
            key("2001:db8::/32"),
            key("10.0.1.0/24"),
        ];
        for (n, k) in keys.iter().enumerate() {
            let (i, new) = t.find_or_insert(k);
            assert!(new);
            *t.get_mut(i).unwrap() = n as u32;
        }
        assert_eq!(t.len(), 4);
        for (n, k) in keys.iter().enumerate() {
            let i = t.find(k).unwrap();
            assert_eq!(t.get(i), Some(&(n as u32)));
            assert_eq!(t.key(i).as_ref(), Some(k));
        }
        let i = t.find(&keys[1]).unwrap();
        t.remove(i);
        assert_eq!(t.find(&keys[1]), None);
        assert_eq!(t.len(), 3);
        let (j, new) = t.find_or_insert(&key("192.0.2.0/24"));
        assert!(new);
        assert_eq!(j, i, "the freed slot is reused");
        assert_eq!(t.get(j), Some(&0), "with a fresh value");
        assert_eq!(t.iter().count(), 4);
    }

    #[test]
    fn slots_order_by_key() {
        let mut t: Table<()> = Table::default();
        let (a, _) = t.find_or_insert(&key("10.0.1.0/24"));
        let (b, _) = t.find_or_insert(&key("10.0.0.0/24"));
        let (c, _) = t.find_or_insert(&key("2001:db8::/32"));
        assert_eq!(t.cmp_keys(a, b), Ordering::Greater);
        assert_eq!(t.cmp_keys(b, c), Ordering::Less);
        assert_eq!(t.cmp_keys(c, a), Ordering::Greater);
    }

    /// Prefixes that differ only in high bits (every /24) must not share buckets.
    #[test]
    fn consecutive_prefixes_hash_apart() {
        let hashes: std::collections::HashSet<u64> = (0u32..4096)
            .map(|i| hash_v4(0x0a00_0000 + (i << 8), 24) & 0xfff)
            .collect();
        assert!(hashes.len() > 2000, "{} distinct buckets of 4096", hashes.len());
    }
}

#[cfg(test)]
mod model {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(RouteKey, u32),
        Remove(RouteKey),
    }

    /// Keys from a small space, so that operations hit the same keys often: IPv4 prefixes of
    /// several lengths (the inline keys) and IPv6 and VPN ones (the side vector).
    fn key() -> impl Strategy<Value = RouteKey> {
        prop_oneof![
            (0u32..64, prop::sample::select(vec![8u8, 16, 24, 25, 32])).prop_map(|(i, len)| RouteKey::Prefix(
                IpNet::V4(Ipv4Net::new((i << 26 | i << 8).into(), len).unwrap().trunc())
            )),
            (0u16..16).prop_map(|i| RouteKey::Prefix(format!("2001:db8:{i:x}::/48").parse().unwrap())),
            (0u16..16).prop_map(|i| RouteKey::Vpn {
                rd: format!("65000:{i}").parse().unwrap(),
                net: "10.0.0.0/8".parse().unwrap(),
            }),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (key(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            key().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// The table answers as a map does after any sequence of insertions and removals.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec(op(), 0..400)) {
            let mut table: Table<u32> = Table::default();
            let mut model: BTreeMap<RouteKey, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let (i, new) = table.find_or_insert(&k);
                        prop_assert_eq!(new, !model.contains_key(&k));
                        *table.get_mut(i).unwrap() = v;
                        model.insert(k, v);
                    }
                    Op::Remove(k) => {
                        if let Some(i) = table.find(&k) {
                            table.remove(i);
                        }
                        model.remove(&k);
                    }
                }
                prop_assert_eq!(table.len(), model.len());
            }
            for (k, v) in &model {
                let i = table.find(k);
                prop_assert!(i.is_some(), "{k} lost");
                prop_assert_eq!(table.get(i.unwrap()), Some(v));
            }
            let mut listed: Vec<(RouteKey, u32)> = table.iter().map(|(_, k, v)| (k, *v)).collect();
            listed.sort();
            let expected: Vec<(RouteKey, u32)> = model.into_iter().collect();
            prop_assert_eq!(listed, expected);
        }
    }
}
