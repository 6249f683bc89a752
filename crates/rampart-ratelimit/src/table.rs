//! A bounded, sharded map from 64-bit key hashes to small fixed-size states.
//!
//! Keys are already hashes (see [`crate::KeyHasher`]), so the maps use them as they are.
//! Each of [`SHARDS`] shards holds at most `max_keys / SHARDS` entries behind its own
//! lock. When a shard is full, entries that carry no information any more (idle) are
//! dropped first; if none are, the entry closest to idle among a small sample is evicted,
//! so that a flood of new keys can never grow the table past its bound.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

pub const SHARDS: usize = 64;
/// Entries looked at when one must be evicted.
const SAMPLE: usize = 16;

/// The key is a hash already; this passes it through.
#[derive(Default)]
pub(crate) struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<Identity>>;

#[derive(Debug)]
struct Shard<V> {
    map: Map<V>,
    /// Inserts into a full shard since its last sweep: sweeps are spread out so that a
    /// full shard does not walk all its entries on every insert.
    pressure: usize,
}

/// What [`Table::update`] did besides the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pressure {
    /// An entry that still held state was evicted to make room.
    pub evicted: bool,
    /// The shard was full of entries that may not be evicted; nothing was stored.
    pub full: bool,
}

#[derive(Debug)]
pub struct Table<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    per_shard: usize,
}

impl<V: Copy + Ord> Table<V> {
    pub fn new(max_keys: usize) -> Table<V> {
        Table {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: Map::default(),
                        pressure: 0,
                    })
                })
                .collect(),
            per_shard: per_shard(max_keys),
        }
    }

    fn shard(&self, key: u64) -> &Mutex<Shard<V>> {
        // Bits the map itself does not use for its buckets or its control bytes.
        &self.shards[(key >> 40) as usize % SHARDS]
    }

    /// Reads the entry for `key`, lets `f` decide, and stores what it returns (`None`
    /// keeps the entry as it is). A new key in a full shard first makes room: entries for
    /// which `idle` holds go first, then (if `evict`) the smallest of a sample.
    pub fn update<R>(
        &self,
        key: u64,
        idle: impl Fn(&V) -> bool,
        evict: bool,
        f: impl FnOnce(Option<V>) -> (R, Option<V>),
    ) -> (R, Pressure) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        let current = shard.map.get(&key).copied();
        let (result, store) = f(current);
        let mut pressure = Pressure::default();
        let Some(value) = store else {
            return (result, pressure);
        };
        if current.is_none() && shard.map.len() >= self.per_shard {
            shard.pressure += 1;
            if shard.pressure >= (self.per_shard / SAMPLE).max(1) {
                shard.pressure = 0;
                shard.map.retain(|_, v| !idle(v));
            }
            if shard.map.len() >= self.per_shard {
                let victim = shard
                    .map
                    .iter()
                    .take(SAMPLE)
                    .filter(|(_, v)| evict || idle(v))
                    .min_by_key(|(_, v)| **v)
                    .map(|(k, v)| (*k, idle(v)));
                match victim {
                    Some((k, was_idle)) => {
                        shard.map.remove(&k);
                        pressure.evicted = !was_idle;
                    }
                    None => {
                        pressure.full = true;
                        return (result, pressure);
                    }
                }
            }
        }
        shard.map.insert(key, value);
        (result, pressure)
    }

    /// Changes or removes an existing entry; `f` returns `None` to remove it.
    pub fn modify(&self, key: u64, f: impl FnOnce(V) -> Option<V>) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(current) = shard.map.get(&key).copied() {
            match f(current) {
                Some(value) => {
                    shard.map.insert(key, value);
                }
                None => {
                    shard.map.remove(&key);
                }
            }
        }
    }

    pub fn get(&self, key: u64) -> Option<V> {
        let shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        shard.map.get(&key).copied()
    }

    /// Drops every idle entry; returns how many went. Each shard is locked on its own,
    /// briefly, so decisions go on meanwhile.
    pub fn sweep(&self, idle: impl Fn(&V) -> bool) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            let before = shard.map.len();
            shard.map.retain(|_, v| !idle(v));
            removed += before - shard.map.len();
            if shard.map.len() < shard.map.capacity() / 4 {
                shard.map.shrink_to_fit();
            }
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the table will hold (`max_keys` and an eighth).
    pub fn max_keys(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// Heap bytes the maps hold now: their buckets (key and value) plus one control byte
    /// each, as hashbrown lays them out.
    pub fn heap_bytes(&self) -> usize {
        let bucket = std::mem::size_of::<(u64, V)>() + 1;
        self.shards
            .iter()
            .map(|s| {
                let shard = s.lock().unwrap_or_else(|p| p.into_inner());
                buckets(shard.map.capacity()) * bucket
            })
            .sum()
    }

    /// The most heap bytes a table of `max_keys` entries can hold: the documented bound.
    /// A full shard that keeps replacing entries leaves tombstones, and hashbrown may then
    /// grow it once to twice the buckets its entries need; never further, since the entries
    /// then fill at most half of it and it rehashes in place.
    pub fn bound_bytes(max_keys: usize) -> usize {
        2 * buckets(per_shard(max_keys)) * (std::mem::size_of::<(u64, V)>() + 1) * SHARDS
    }
}

/// Entries a shard may hold: its even share of `max_keys` and an eighth more, since keys
/// never spread quite evenly (at a million keys a shard's share is 15,625, with a standard
/// deviation of 125), so that `max_keys` distinct keys fit without evicting any.
fn per_shard(max_keys: usize) -> usize {
    (max_keys.div_ceil(SHARDS) * 9 / 8).max(1)
}

/// hashbrown's bucket count for a capacity: a power of two, at most 7/8 full.
fn buckets(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    if capacity < 8 {
        return if capacity < 4 { 4 } else { 8 };
    }
    (capacity * 8 / 7).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(table: &Table<u64>, key: u64, value: u64, idle_below: u64) -> Pressure {
        table
            .update(key, |v| *v < idle_below, true, |_| ((), Some(value)))
            .1
    }

    #[test]
    fn the_bound_holds_idle_entries_go_first_then_the_smallest() {
        let table = Table::<u64>::new(SHARDS * 100);
        // Fill with idle entries (value 1), then add live ones (value 10): the idle ones
        // make room, nothing live is evicted.
        for key in 0..table.max_keys() as u64 {
            set(&table, key << 40 | key, 1, 5);
        }
        assert_eq!(table.len(), table.max_keys());
        let mut evicted = 0;
        for key in 0..(SHARDS as u64 * 50) {
            let k = (key << 40) | (key + 1_000_000);
            evicted += usize::from(set(&table, k, 10, 5).evicted);
        }
        assert_eq!(evicted, 0, "idle entries made the room");
        assert!(table.len() <= table.max_keys());
        // Only live entries now and more keep coming: the bound still holds, by eviction.
        for key in 0..(SHARDS as u64 * 500) {
            let k = (key << 40) | (key + 9_000_000);
            set(&table, k, 10, 5);
        }
        assert!(table.len() <= table.max_keys());
        assert!(
            table.heap_bytes() <= Table::<u64>::bound_bytes(SHARDS * 100),
            "{} > {}",
            table.heap_bytes(),
            Table::<u64>::bound_bytes(SHARDS * 100)
        );
    }

    #[test]
    fn entries_that_may_not_be_evicted_are_refused_when_full() {
        let table = Table::<u64>::new(SHARDS);
        let store = |key: u64| {
            table
                .update(key << 40, |_| false, false, |_| ((), Some(1)))
                .1
        };
        assert!(!store(1).full);
        assert!(
            store(1 + SHARDS as u64).full,
            "same shard, full, no eviction"
        );
        table.modify(1 << 40, |_| None);
        assert!(!store(1 + SHARDS as u64).full, "room again");
    }

    #[test]
    fn sweep_drops_idle_entries_only() {
        let table = Table::<u64>::new(10_000);
        for key in 0..1_000u64 {
            set(&table, key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key, 0);
        }
        assert_eq!(table.sweep(|v| *v < 500), 500);
        assert_eq!(table.len(), 500);
        assert_eq!(table.get(0), None);
    }
}
