//! The cleaner's key → latest offset map, bounded like Kafka's SkimpyOffsetMap
//! by `log.cleaner.dedupe.buffer.size`.
//!
//! Keys are stored as 128-bit hashes (two SipHash-1-3 with keys drawn per map),
//! not copied: a map of a million keys costs 24 MB whatever the key sizes. A
//! collision would make one key's records look superseded by another's; with
//! 128 random bits per map that is below 2^-80 for a billion keys, and the
//! random keys mean no one can choose colliding keys in advance.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Bytes Kafka budgets per entry (a 16-byte hash and an 8-byte offset).
pub const BYTES_PER_ENTRY: usize = 24;

pub struct OffsetMap {
    latest: HashMap<u128, i64>,
    capacity: usize,
    hashers: (RandomState, RandomState),
}

impl OffsetMap {
    /// A map holding at most `capacity` keys (at least one).
    pub fn with_capacity(capacity: usize) -> OffsetMap {
        OffsetMap {
            latest: HashMap::new(),
            capacity: capacity.max(1),
            hashers: (RandomState::new(), RandomState::new()),
        }
    }

    /// The capacity `buffer_bytes` buys, at Kafka's load factor of 0.9.
    pub fn capacity_for(buffer_bytes: u64) -> usize {
        let entries = buffer_bytes / BYTES_PER_ENTRY as u64 * 9 / 10;
        usize::try_from(entries).unwrap_or(usize::MAX).max(1)
    }

    fn hash(&self, key: &[u8]) -> u128 {
        let high = self.hashers.0.hash_one(key);
        let low = self.hashers.1.hash_one(key);
        (u128::from(high) << 64) | u128::from(low)
    }

    /// Records `offset` as the latest for `key` (offsets are fed in order).
    /// False if the map is full and the key is new: nothing was recorded.
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let hash = self.hash(key);
        if self.latest.len() >= self.capacity && !self.latest.contains_key(&hash) {
            return false;
        }
        self.latest.insert(hash, offset);
        true
    }

    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.latest.get(&self.hash(key)).copied()
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// Room for `keys` more distinct keys.
    pub fn has_room_for(&self, keys: u64) -> bool {
        (self.latest.len() as u64).saturating_add(keys) <= self.capacity as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_offset_and_refuses_new_keys_when_full() {
        let mut map = OffsetMap::with_capacity(2);
        assert!(map.put(b"a", 1) && map.put(b"b", 2) && map.put(b"a", 3));
        assert_eq!((map.get(b"a"), map.get(b"b"), map.get(b"c")), (Some(3), Some(2), None));
        assert!(!map.put(b"c", 4), "full: a new key is refused");
        assert!(map.put(b"b", 5), "full: a known key is updated");
        assert_eq!(map.get(b"b"), Some(5));
        assert!(map.has_room_for(0) && !map.has_room_for(1));
        assert_eq!(OffsetMap::capacity_for(24 * 1000), 900);
        assert_eq!(OffsetMap::capacity_for(0), 1);
    }
}
