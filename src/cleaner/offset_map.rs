//! [`OffsetMap`]: key -> latest offset over the dirty part of a log, in a
//! fixed memory budget, as Kafka's `SkimpyOffsetMap`.
//!
//! Each entry is 24 bytes, as in Kafka: the key's 16-byte digest (see
//! `key_hash`) and its offset. The slots live in one array allocated zeroed
//! (pages are only touched as they are used) and searched by linear probing
//! from the slot the digest picks. The map takes at most `load_factor` x
//! slots entries (`log.cleaner.io.buffer.load.factor`, 0.9): past that a new
//! key is refused, and the cleaning round stops before it.

use super::key_hash::{KeyHash, hash_key};
use crate::error::{Error, Result};

/// Bytes of one entry: a 16-byte key digest and an 8-byte offset.
pub const BYTES_PER_ENTRY: usize = 24;

/// One slot: digest low, digest high, offset + 1 (0 = empty).
type Slot = [u64; 3];

/// Key -> latest offset for a cleaning round, within a fixed budget.
///
/// ```
/// use seglog::cleaner::OffsetMap;
///
/// let mut map = OffsetMap::new(1 << 20, 0.9)?;
/// assert!(map.put(b"k", 3));
/// assert!(map.put(b"k", 8));
/// assert_eq!(map.get(b"k"), Some(8));
/// assert_eq!(map.get(b"other"), None);
/// # Ok::<(), seglog::Error>(())
/// ```
#[derive(Debug)]
pub struct OffsetMap {
    slots: Vec<Slot>,
    entries: usize,
    max_entries: usize,
    latest_offset: i64,
}

impl OffsetMap {
    /// A map using at most `max_bytes` (`log.cleaner.dedupe.buffer.size`)
    /// and holding at most `load_factor` of its slots.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the budget cannot hold a single key (Kafka
    /// refuses such a cleaner too: it could never make progress).
    pub fn new(max_bytes: usize, load_factor: f64) -> Result<Self> {
        let slots = max_bytes / BYTES_PER_ENTRY;
        // One slot always stays empty, so every probe sequence ends.
        let by_factor = (slots as f64 * load_factor.clamp(0.0, 1.0)) as usize;
        let max_entries = by_factor.min(slots.saturating_sub(1));
        if max_entries == 0 {
            return Err(Error::InvalidConfig {
                key: "log.cleaner.dedupe.buffer.size".into(),
                value: max_bytes.to_string(),
                reason: format!(
                    "holds no key at load factor {load_factor} ({BYTES_PER_ENTRY} bytes per key)"
                ),
            });
        }
        Ok(OffsetMap {
            // All zeros: allocated zeroed, touched lazily.
            slots: vec![[0u64; 3]; slots],
            entries: 0,
            max_entries,
            latest_offset: -1,
        })
    }

    /// Records `offset` (>= 0) as the latest for `key`. Returns false, and
    /// changes nothing, when `key` is new and the map is full; an existing
    /// key is always updated.
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        self.put_hash(hash_key(key), offset)
    }

    /// [`OffsetMap::put`] for a key already digested.
    pub(crate) fn put_hash(&mut self, hash: KeyHash, offset: i64) -> bool {
        let stored = (offset as u64).wrapping_add(1);
        let slot = self.find(hash);
        let entry = &mut self.slots[slot];
        if entry[2] == 0 {
            if self.entries >= self.max_entries {
                return false;
            }
            *entry = [hash.lo, hash.hi, stored];
            self.entries += 1;
        } else {
            entry[2] = stored;
        }
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// The latest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.get_hash(hash_key(key))
    }

    /// [`OffsetMap::get`] for a key already digested.
    pub(crate) fn get_hash(&self, hash: KeyHash) -> Option<i64> {
        let entry = self.slots[self.find(hash)];
        (entry[2] != 0).then(|| entry[2].wrapping_sub(1) as i64)
    }

    /// The slot holding `hash`, or the empty slot where it would go.
    #[inline]
    fn find(&self, hash: KeyHash) -> usize {
        let n = self.slots.len();
        // Lemire's multiply-shift maps the digest onto 0..n without a division.
        let mut slot = ((u128::from(hash.lo) * n as u128) >> 64) as usize;
        loop {
            let entry = &self.slots[slot];
            if entry[2] == 0 || (entry[0] == hash.lo && entry[1] == hash.hi) {
                return slot;
            }
            slot += 1;
            if slot == n {
                slot = 0;
            }
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The most keys the map takes.
    pub fn capacity(&self) -> usize {
        self.max_entries
    }

    /// Whether a new key would be refused.
    pub fn is_full(&self) -> bool {
        self.entries >= self.max_entries
    }

    /// Number of slots (`max_bytes / 24`).
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Keys held / slots, as Kafka's `max-buffer-utilization-percent`.
    pub fn utilization(&self) -> f64 {
        self.entries as f64 / self.slots.len() as f64
    }

    /// The largest offset put, -1 when empty.
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_offset_per_key() {
        let mut map = OffsetMap::new(24 * 100, 0.9).unwrap();
        for i in 0..300i64 {
            assert!(map.put(format!("k{}", i % 50).as_bytes(), i));
        }
        assert_eq!(map.len(), 50);
        for k in 0..50i64 {
            assert_eq!(map.get(format!("k{k}").as_bytes()), Some(250 + k));
        }
        assert_eq!(map.get(b"k50"), None);
        assert_eq!(map.latest_offset(), 299);
    }

    #[test]
    fn refuses_new_keys_when_full_but_updates_old_ones() {
        let mut map = OffsetMap::new(24 * 10, 0.5).unwrap();
        assert_eq!((map.slots(), map.capacity()), (10, 5));
        for i in 0..5 {
            assert!(map.put(&[i], i64::from(i)));
        }
        assert!(map.is_full());
        assert!(!map.put(b"new", 9));
        assert_eq!(map.get(b"new"), None);
        assert!(map.put(&[2], 42));
        assert_eq!(map.get(&[2]), Some(42));
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn a_full_load_factor_still_leaves_an_empty_slot() {
        let mut map = OffsetMap::new(24 * 4, 1.0).unwrap();
        assert_eq!(map.capacity(), 3);
        for i in 0..3 {
            assert!(map.put(&[i], 0));
        }
        assert_eq!(map.get(b"absent"), None);
    }

    #[test]
    fn a_budget_without_room_for_one_key_is_refused() {
        assert!(matches!(
            OffsetMap::new(24, 0.9),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(OffsetMap::new(0, 0.9).is_err());
        assert!(OffsetMap::new(240, 0.05).is_err());
        assert_eq!(OffsetMap::new(48, 0.9).unwrap().capacity(), 1);
    }
}
