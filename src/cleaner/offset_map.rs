//! [`OffsetMap`]: key -> latest offset over the dirty part of a log, in a
//! fixed memory budget, as Kafka's `SkimpyOffsetMap`.
//!
//! Each entry is 24 bytes, as in Kafka: the key's 16-byte digest (see
//! `key_hash`) and its offset. The slots are one array searched by linear
//! probing from the slot the digest picks. Kafka's map holds at most
//! `load_factor` x `budget / 24` keys (`log.cleaner.io.buffer.load.factor`,
//! 0.9); past that a new key is refused and the cleaning round stops before
//! it. So does this one.
//!
//! Unlike Kafka's, the array does not start at the full budget: it starts
//! small and grows in place (doubling, then to the budget) whenever it is
//! half full. Probes land at random, and a 128 MiB array makes nearly each
//! one a cache and TLB miss even for a few thousand keys; an array sized to
//! the keys stays in cache. Growing reallocates the array (on Linux a large
//! allocation is remapped, not copied) and rehashes it in place, so memory
//! never exceeds the budget.

use super::key_hash::{KeyHash, hash_key};
use crate::error::{Error, Result};

/// Bytes of one entry: a 16-byte key digest and an 8-byte offset.
pub const BYTES_PER_ENTRY: usize = 24;

/// Slots of a new map (at most the budget's): 1.5 MiB.
const INITIAL_SLOTS: usize = 1 << 16;

/// One slot: digest low, digest high, offset + 1 (0 = empty).
type Slot = [u64; 3];

/// Set in a slot's offset word while a rehash has placed it.
const PLACED: u64 = 1 << 63;

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
    /// Slots the budget allows.
    max_slots: usize,
    entries: usize,
    /// Kafka's limit: `load_factor` x `max_slots`.
    max_entries: usize,
    latest_offset: i64,
}

impl OffsetMap {
    /// A map using at most `max_bytes` (`log.cleaner.dedupe.buffer.size`)
    /// and holding at most `load_factor` of the slots that fit in it.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the budget cannot hold a single key (Kafka
    /// refuses such a cleaner too: it could never make progress).
    pub fn new(max_bytes: usize, load_factor: f64) -> Result<Self> {
        let max_slots = max_bytes / BYTES_PER_ENTRY;
        // One slot always stays empty, so every probe sequence ends.
        let by_factor = (max_slots as f64 * load_factor.clamp(0.0, 1.0)) as usize;
        let max_entries = by_factor.min(max_slots.saturating_sub(1));
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
            slots: vec![[0; 3]; max_slots.min(INITIAL_SLOTS)],
            max_slots,
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
        // Offsets are below i64::MAX; the top bit stays free for `grow`.
        let stored = offset.clamp(0, i64::MAX - 1) as u64 + 1;
        let mut slot = self.find(hash);
        if self.slots[slot][2] == 0 {
            if self.entries >= self.max_entries {
                return false;
            }
            if self.entries >= self.slots.len() / 2 && self.slots.len() < self.max_slots {
                self.grow();
                slot = self.find(hash);
            }
            self.entries += 1;
        }
        self.slots[slot] = [hash.lo, hash.hi, stored];
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// The latest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.get_hash(hash_key(key))
    }

    /// [`OffsetMap::get`] for a key already digested.
    pub(crate) fn get_hash(&self, hash: KeyHash) -> Option<i64> {
        let stored = self.slots[self.find(hash)][2];
        (stored != 0).then(|| stored.wrapping_sub(1) as i64)
    }

    /// The slot holding `hash`, or the empty slot where it would go.
    #[inline]
    fn find(&self, hash: KeyHash) -> usize {
        let mut slot = home(hash.lo, self.slots.len());
        loop {
            let entry = &self.slots[slot];
            if entry[2] == 0 || (entry[0] == hash.lo && entry[1] == hash.hi) {
                return slot;
            }
            slot = next(slot, self.slots.len());
        }
    }

    /// Doubles the array (up to the budget) and rehashes it in place: each
    /// entry not yet placed is taken out and put at the first slot from its
    /// new home that is empty or holds an entry not yet placed, which is
    /// then taken out in turn. Placed slots never empty again, so every
    /// probe path stays unbroken.
    fn grow(&mut self) {
        let old = self.slots.len();
        let new = old.saturating_mul(2).min(self.max_slots);
        self.slots.resize(new, [0; 3]);
        for i in 0..old {
            if self.slots[i][2] & PLACED != 0 || self.slots[i][2] == 0 {
                continue;
            }
            let mut entry = std::mem::take(&mut self.slots[i]);
            loop {
                let mut slot = home(entry[0], new);
                while self.slots[slot][2] & PLACED != 0 {
                    slot = next(slot, new);
                }
                entry[2] |= PLACED;
                let displaced = std::mem::replace(&mut self.slots[slot], entry);
                if displaced[2] == 0 {
                    break;
                }
                entry = displaced;
            }
        }
        for slot in &mut self.slots {
            slot[2] &= !PLACED;
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

    /// Slots the budget allows (`max_bytes / 24`).
    pub fn slots(&self) -> usize {
        self.max_slots
    }

    /// Bytes the array uses now (it grows up to the budget).
    pub fn allocated_bytes(&self) -> usize {
        self.slots.len() * BYTES_PER_ENTRY
    }

    /// Keys held / slots allowed, as Kafka's `max-buffer-utilization-percent`.
    pub fn utilization(&self) -> f64 {
        self.entries as f64 / self.max_slots as f64
    }

    /// The largest offset put, -1 when empty.
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }
}

/// Where a digest's probe starts in `n` slots (Lemire's multiply-shift: no
/// division).
#[inline]
fn home(lo: u64, n: usize) -> usize {
    ((u128::from(lo) * n as u128) >> 64) as usize
}

#[inline]
fn next(slot: usize, n: usize) -> usize {
    if slot + 1 == n { 0 } else { slot + 1 }
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

    #[test]
    fn grows_in_place_up_to_the_budget_and_keeps_every_key() {
        let budget = 24 * 1_000_000;
        let mut map = OffsetMap::new(budget, 0.9).unwrap();
        assert_eq!(map.allocated_bytes(), 24 * INITIAL_SLOTS);
        let keys = 900_000u32;
        for i in 0..keys {
            assert!(map.put(&i.to_le_bytes(), i64::from(i)), "{i}");
        }
        assert!(map.is_full());
        assert!(!map.put(b"one more", 1));
        assert_eq!(map.allocated_bytes(), budget);
        for i in (0..keys).step_by(7) {
            assert_eq!(map.get(&i.to_le_bytes()), Some(i64::from(i)));
        }
        assert_eq!(map.get(&keys.to_le_bytes()), None);
        // A small key set stays in a small array.
        let mut small = OffsetMap::new(128 << 20, 0.9).unwrap();
        for i in 0..10_000u32 {
            small.put(&i.to_le_bytes(), 0);
        }
        assert_eq!(small.allocated_bytes(), 24 * INITIAL_SLOTS);
    }
}
