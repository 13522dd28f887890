//! Kafka's `.timeindex` file: a sparse map from timestamp to offset,
//! memory-mapped.
//!
//! Each entry is 12 bytes, big-endian: a timestamp (`i64`) and an offset
//! relative to the segment's base offset (`i32`). An entry `(T, O)` says
//! that `T` is the largest timestamp seen in the segment up to offset `O`,
//! which carries it, so every record with a timestamp above `T` comes after
//! `O`. Timestamps strictly increase from entry to entry (Kafka appends only
//! when the timestamp grows), offsets never decrease.
//!
//! The file lifecycle (preallocation, trimming on [`TimeIndex::seal`],
//! re-extension on a writable open, the documented leniency for an all-zero
//! tail of an untrimmed file) is the offset index's; see
//! [`OffsetIndex`](super::OffsetIndex).

use std::path::Path;

use super::index_file::{IndexFile, IndexKind, be_i32, be_i64};
use crate::error::{Error, Result};

/// Bytes per `.timeindex` entry: timestamp (`i64`) + relative offset (`i32`).
pub const ENTRY_SIZE: usize = 12;

/// Kafka's `RecordBatch.NO_TIMESTAMP`: the timestamp [`TimeIndex::lookup`]
/// returns when no entry is at or below the target.
pub const NO_TIMESTAMP: i64 = -1;

const KIND: IndexKind = IndexKind {
    full_reason: "time index is full",
};

/// A segment's `.timeindex`: sparse timestamp -> offset, memory-mapped.
///
/// Reads take `&self` and never allocate; appends and truncation take
/// `&mut self`. The mapping belongs to this object alone.
#[derive(Debug)]
pub struct TimeIndex {
    file: IndexFile<ENTRY_SIZE>,
}

#[inline]
fn decode(entry: &[u8]) -> (i64, i32) {
    (be_i64(entry, 0), be_i32(entry, 8))
}

impl TimeIndex {
    /// Creates an empty, writable index at `path`, preallocated to
    /// `max_index_bytes` rounded down to a multiple of 12 (Kafka's
    /// `segment.index.bytes`). An existing file at `path` is replaced: it is
    /// unlinked first, never truncated in place, so a mapping of it held
    /// elsewhere stays valid. This is also how an index is rebuilt from its
    /// `.log`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be created, sized, mapped or its
    /// first blocks reserved (a full disk), or if `max_index_bytes < 12`.
    pub fn create(path: &Path, base_offset: i64, max_index_bytes: usize) -> Result<Self> {
        IndexFile::create(path, base_offset, max_index_bytes, KIND).map(|file| TimeIndex { file })
    }

    /// Opens the existing index at `path`: `length / 12` entries less an
    /// all-zero tail after the first entry (an untrimmed file; see
    /// [`zero_tail_entries`](Self::zero_tail_entries)). Opened `writable`,
    /// the file is cut to its entries and re-extended to `max_index_bytes`
    /// so appends continue. Run [`sanity_check`](Self::sanity_check) or
    /// [`verify`](Self::verify) to judge the content.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file is missing or cannot be opened, resized or
    /// mapped, or if `max_index_bytes < 12`.
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_bytes: usize,
        writable: bool,
    ) -> Result<Self> {
        IndexFile::open(path, base_offset, max_index_bytes, writable, KIND)
            .map(|file| TimeIndex { file })
    }

    /// The base offset of the segment this index belongs to.
    pub fn base_offset(&self) -> i64 {
        self.file.base_offset()
    }

    /// The index file's current path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.file.len()
    }

    /// Whether the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.file.len() == 0
    }

    /// Number of entry slots of the mapped file (Kafka's `maxEntries`):
    /// `max_index_bytes / 12` for an active index, the file's length / 12
    /// for one opened read-only.
    pub fn max_entries(&self) -> usize {
        self.file.max_entries()
    }

    /// Kafka's `isFull` for the time index: true from `max_entries() - 1`
    /// entries on, keeping the last slot for the entry appended when the
    /// segment rolls (`maybe_append(.., skip_full_check = true)`).
    pub fn is_full(&self) -> bool {
        self.file.len() >= self.file.max_entries().saturating_sub(1)
    }

    /// Whether the index is active (accepts appends) rather than sealed.
    pub fn is_writable(&self) -> bool {
        self.file.is_writable()
    }

    /// The number of all-zero slots found past the entries when the file was
    /// opened: non-zero means the file was preallocated and never trimmed.
    pub fn zero_tail_entries(&self) -> usize {
        self.file.zero_tail()
    }

    /// The file's current length in bytes.
    pub fn file_len(&self) -> u64 {
        self.file.file_len()
    }

    /// Entry `n` as (timestamp, absolute offset).
    ///
    /// # Panics
    ///
    /// If `n >= len()`.
    #[inline]
    pub fn entry(&self, n: usize) -> (i64, i64) {
        self.absolute(self.file.slot(n))
    }

    #[inline]
    fn absolute(&self, entry: &[u8]) -> (i64, i64) {
        let (ts, rel) = decode(entry);
        (ts, self.base_offset() + i64::from(rel))
    }

    /// The last entry as (timestamp, absolute offset), if any. (Kafka's
    /// `lastEntry` answers `(NO_TIMESTAMP, base_offset)` for an empty index.)
    #[inline]
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.file.last_slot().map(|e| self.absolute(e))
    }

    /// Kafka's `maybeAppend`: appends `(timestamp, offset)` only if
    /// `timestamp` is above the last entry's timestamp (above
    /// [`NO_TIMESTAMP`] for an empty index); an equal timestamp is skipped
    /// silently, as happens when a segment is rolled or closed after the
    /// entry was already written. `skip_full_check` lets the final entry of a
    /// rolling segment use the slot that [`is_full`](Self::is_full) keeps
    /// free.
    ///
    /// # Errors
    ///
    /// - [`Error::SegmentFull`] if the index is full (the last slot too when
    ///   `skip_full_check`).
    /// - [`Error::OffsetNotInSegment`] if `offset` is below the last entry's
    ///   offset, below the base offset or more than `i32::MAX` above it.
    /// - [`Error::CorruptIndex`] if `timestamp` is below the last entry's
    ///   (Kafka throws too: the caller passes the segment's running maximum
    ///   timestamp, which never decreases).
    /// - [`Error::Io`] if the index is sealed / read-only, or a reservation
    ///   of disk blocks fails; [`Error::Poisoned`] after a failed flush.
    pub fn maybe_append(
        &mut self,
        timestamp: i64,
        offset: i64,
        skip_full_check: bool,
    ) -> Result<()> {
        self.file.check_appendable()?;
        if !skip_full_check && self.is_full() {
            return Err(Error::SegmentFull {
                base_offset: self.base_offset(),
                reason: KIND.full_reason,
            });
        }
        let rel = self.file.relative_offset(offset)?;
        let last_ts = match self.last_entry() {
            Some((last_ts, last_offset)) => {
                if offset < last_offset {
                    return Err(Error::OffsetNotInSegment {
                        offset,
                        base_offset: self.base_offset(),
                        reason: "below the time index's last offset",
                    });
                }
                if timestamp < last_ts {
                    return Err(self.file.corrupt(format!(
                        "refused to append timestamp {timestamp} at offset {offset}: below the last \
                         entry's timestamp {last_ts}"
                    )));
                }
                last_ts
            }
            None => NO_TIMESTAMP,
        };
        if timestamp <= last_ts {
            return Ok(());
        }
        let mut entry = [0u8; ENTRY_SIZE];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&rel.to_be_bytes());
        self.file.append(entry)
    }

    /// The entry with the largest timestamp `<= target_ts`, as (timestamp,
    /// offset); `(NO_TIMESTAMP, base_offset)` if there is none (target before
    /// the first entry, or an empty index), as Kafka's `lookup`. A binary
    /// search over the mapped bytes, allocation-free.
    #[inline]
    pub fn lookup(&self, target_ts: i64) -> (i64, i64) {
        let found = self.file.partition_point(|e| be_i64(e, 0) <= target_ts);
        match found.checked_sub(1) {
            Some(n) => self.entry(n),
            None => (NO_TIMESTAMP, self.base_offset()),
        }
    }

    /// Drops every entry whose offset is `>= offset` (no effect when
    /// `offset` is above the last entry). An active index zeroes the dropped
    /// slots; a sealed one trims its file at once.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a sealed index's file cannot be trimmed.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let keep = match offset.checked_sub(self.base_offset()) {
            Some(rel) if rel > 0 => self.file.partition_point(|e| i64::from(be_i32(e, 8)) < rel),
            Some(_) => 0,
            None if offset > 0 => self.len(),
            None => 0,
        };
        self.file.truncate(keep)
    }

    /// Drops every entry (before a rebuild). Also forgets a bad file length
    /// found at open.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a sealed index's file cannot be trimmed.
    pub fn clear(&mut self) -> Result<()> {
        self.file.clear()
    }

    /// Kafka's cheap check on open: the file length (as found at open) is a
    /// multiple of 12, the last entry's timestamp is not below the first's,
    /// and the last entry's offset is not below the base offset.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptIndex`] naming what is wrong.
    pub fn sanity_check(&self) -> Result<()> {
        self.file.check_length()?;
        if let (Some(last), Some(first)) = (self.file.last_slot(), self.first_timestamp()) {
            let n = self.len() - 1;
            let (last_ts, last_rel) = decode(last);
            if last_ts < first {
                return Err(self.file.corrupt(format!(
                    "last entry {n} has timestamp {last_ts}, below the first entry's {first}"
                )));
            }
            if last_rel < 0 {
                return Err(self.file.corrupt(format!(
                    "last entry {n} has offset {} below the base offset {}",
                    self.base_offset() + i64::from(last_rel),
                    self.base_offset()
                )));
            }
        }
        Ok(())
    }

    fn first_timestamp(&self) -> Option<i64> {
        (!self.is_empty()).then(|| be_i64(self.file.slot(0), 0))
    }

    /// Checks every entry: relative offsets `>= 0` and non-decreasing,
    /// timestamps strictly increasing (Kafka appends only a larger one). The
    /// offsets are not compared with the `.log` here: the caller compares
    /// [`last_entry`](Self::last_entry) with the segment's next offset.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptIndex`] whose reason names the first bad entry and its
    /// values.
    pub fn verify(&self) -> Result<()> {
        self.file.check_length()?;
        let base = self.base_offset();
        let mut prev: Option<(i64, i32)> = None;
        for n in 0..self.len() {
            let (ts, rel) = decode(self.file.slot(n));
            let offset = base + i64::from(rel);
            let bad = |what: String| {
                Err(self.file.corrupt(format!(
                    "entry {n} (timestamp {ts}, offset {offset}): {what}"
                )))
            };
            if rel < 0 {
                return bad(format!("offset below the base offset {base}"));
            }
            if let Some((prev_ts, prev_rel)) = prev {
                if ts <= prev_ts {
                    return bad(format!(
                        "timestamp not above the previous entry's {prev_ts}"
                    ));
                }
                if rel < prev_rel {
                    return bad(format!(
                        "offset below the previous entry's {}",
                        base + i64::from(prev_rel)
                    ));
                }
            }
            prev = Some((ts, rel));
        }
        Ok(())
    }

    /// Seals the index when its segment is rolled or closed: flushes the
    /// entries, trims the file to exactly `len() * 12` bytes, syncs it and
    /// maps it read-only. Append the segment's final entry first
    /// (`maybe_append(max_timestamp, its_offset, true)`), as Kafka does on
    /// roll.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the flush, trim or sync fails.
    pub fn seal(&mut self) -> Result<()> {
        self.file.seal()
    }

    /// Makes a sealed index active again: re-extends the file to
    /// `max_index_bytes` and maps it writable.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened, resized or mapped.
    pub fn make_writable(&mut self) -> Result<()> {
        self.file.make_writable()
    }

    /// Writes what was appended to disk (`msync`). A sealed index was synced
    /// when it was sealed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the sync fails; the index then refuses further
    /// appends ([`Error::Poisoned`]).
    pub fn flush(&self) -> Result<()> {
        self.file.flush()
    }

    /// Renames the index file (for `.deleted`, `.cleaned`, `.swap`
    /// suffixes); the mapping stays valid.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the old path if the rename fails.
    pub fn rename_to(&mut self, new_path: &Path) -> Result<()> {
        self.file.rename_to(new_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    const MAX: usize = 10 * 1024 * 1024;

    fn fresh(base: i64, max: usize) -> (tempfile::TempDir, PathBuf, TimeIndex) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{base:020}.timeindex"));
        let idx = TimeIndex::create(&path, base, max).unwrap();
        (dir, path, idx)
    }

    #[test]
    fn create_preallocates_rounded_down() {
        let (_d, path, idx) = fresh(0, MAX);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 10_485_756);
        assert_eq!(idx.max_entries(), 873_813);
        assert!(idx.is_empty());
    }

    #[test]
    fn byte_exact_layout_after_seal() {
        let (_d, path, mut idx) = fresh(1000, MAX);
        idx.maybe_append(1_700_000_000_000, 1003, false).unwrap();
        idx.maybe_append(1_700_000_000_500, 1010, false).unwrap();
        idx.seal().unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(&[0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0, 0, 0, 3]);
        want.extend_from_slice(&[0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x69, 0xf4, 0, 0, 0, 10]);
        assert_eq!(std::fs::read(&path).unwrap(), want);
        assert_eq!(idx.entry(1), (1_700_000_000_500, 1010));
    }

    #[test]
    fn append_rules_follow_kafka() {
        let (_d, _p, mut idx) = fresh(100, 4 * ENTRY_SIZE);
        // Nothing at or below NO_TIMESTAMP is indexed.
        idx.maybe_append(-1, 100, false).unwrap();
        idx.maybe_append(-5, 100, false).unwrap();
        assert!(idx.is_empty());
        idx.maybe_append(50, 105, false).unwrap();
        // An equal timestamp is skipped, even at a larger offset.
        idx.maybe_append(50, 108, false).unwrap();
        assert_eq!(idx.len(), 1);
        // The same offset with a larger timestamp is appended.
        idx.maybe_append(60, 105, false).unwrap();
        assert_eq!(idx.last_entry(), Some((60, 105)));
        assert!(matches!(
            idx.maybe_append(70, 104, false),
            Err(Error::OffsetNotInSegment { .. })
        ));
        assert!(matches!(
            idx.maybe_append(55, 110, false),
            Err(Error::CorruptIndex { .. })
        ));
        assert!(matches!(
            idx.maybe_append(70, 99, false),
            Err(Error::OffsetNotInSegment { .. })
        ));
        // Four slots: full at three, the last one is for the roll.
        idx.maybe_append(70, 110, false).unwrap();
        assert!(idx.is_full());
        assert!(matches!(
            idx.maybe_append(80, 120, false),
            Err(Error::SegmentFull { .. })
        ));
        idx.maybe_append(80, 120, true).unwrap();
        assert!(matches!(
            idx.maybe_append(90, 130, true),
            Err(Error::SegmentFull { .. })
        ));
        assert_eq!(idx.len(), 4);
    }

    #[test]
    fn lookup_edge_cases() {
        let (_d, _p, mut idx) = fresh(100, MAX);
        assert_eq!(idx.lookup(1000), (NO_TIMESTAMP, 100), "empty");
        idx.maybe_append(1000, 103, false).unwrap();
        idx.maybe_append(2000, 110, false).unwrap();
        idx.maybe_append(3000, 120, false).unwrap();
        assert_eq!(idx.lookup(999), (NO_TIMESTAMP, 100), "before first");
        assert_eq!(idx.lookup(i64::MIN), (NO_TIMESTAMP, 100));
        assert_eq!(idx.lookup(1000), (1000, 103), "exact first");
        assert_eq!(idx.lookup(2500), (2000, 110), "between");
        assert_eq!(idx.lookup(3000), (3000, 120), "exact last");
        assert_eq!(idx.lookup(i64::MAX), (3000, 120), "after last");
    }

    #[test]
    fn truncation_and_reopen() {
        let (_d, path, mut idx) = fresh(0, MAX);
        for i in 0..10i64 {
            idx.maybe_append(1000 + i * 10, i * 5, false).unwrap();
        }
        idx.truncate_to(100).unwrap();
        assert_eq!(idx.len(), 10);
        idx.truncate_to(27).unwrap();
        assert_eq!(idx.last_entry(), Some((1050, 25)));
        idx.truncate_to(25).unwrap();
        assert_eq!(idx.last_entry(), Some((1040, 20)));
        // The timestamp rule restarts from the new last entry.
        idx.maybe_append(1045, 21, false).unwrap();
        idx.seal().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 6 * 12);
        drop(idx);

        let ro = TimeIndex::open(&path, 0, MAX, false).unwrap();
        assert_eq!(ro.len(), 6);
        ro.sanity_check().unwrap();
        ro.verify().unwrap();
        assert_eq!(ro.lookup(1044), (1040, 20));
        drop(ro);

        let mut rw = TimeIndex::open(&path, 0, MAX, true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 10_485_756);
        assert!(!rw.is_full());
        rw.maybe_append(1045, 30, false).unwrap();
        assert_eq!(rw.len(), 6);
        rw.maybe_append(1046, 30, false).unwrap();
        rw.clear().unwrap();
        assert!(rw.is_empty());
        rw.maybe_append(5, 0, false).unwrap();
        rw.seal().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]
        );
    }

    fn write_entries(path: &Path, entries: &[(i64, i32)]) {
        let mut bytes = Vec::new();
        for (ts, rel) in entries {
            bytes.extend_from_slice(&ts.to_be_bytes());
            bytes.extend_from_slice(&rel.to_be_bytes());
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000050.timeindex");
        let open = || TimeIndex::open(&path, 50, MAX, false).unwrap();
        let reason = |e: Error| match e {
            Error::CorruptIndex { reason, .. } => reason,
            other => panic!("unexpected {other}"),
        };

        write_entries(&path, &[(10, 1), (30, 2), (20, 3), (40, 4)]);
        open().sanity_check().unwrap();
        let r = reason(open().verify().unwrap_err());
        assert!(r.contains("entry 2") && r.contains("timestamp 20"), "{r}");

        write_entries(&path, &[(10, 1), (30, 5), (40, 4)]);
        let r = reason(open().verify().unwrap_err());
        assert!(r.contains("entry 2") && r.contains("offset 54"), "{r}");

        write_entries(&path, &[(100, 1), (30, 5)]);
        let r = reason(open().sanity_check().unwrap_err());
        assert!(r.contains("below the first"), "{r}");

        write_entries(&path, &[(10, 1), (30, -2)]);
        assert!(open().sanity_check().is_err());

        write_entries(&path, &[(10, 1)]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0; 8]);
        std::fs::write(&path, bytes).unwrap();
        assert!(open().sanity_check().is_err());
    }

    #[test]
    fn real_kafka_timeindex_files_verify() {
        let Some(dir) =
            crate::segment::index_file::fixtures::dir("real_kafka_timeindex_files_verify")
        else {
            return;
        };
        let files = crate::segment::index_file::fixtures::files(&dir, "timeindex");
        let mut checked = 0;
        let mut entries = 0;
        for (path, base) in &files {
            let idx = TimeIndex::open(path, *base, MAX, false)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            idx.sanity_check().unwrap_or_else(|e| panic!("{e}"));
            idx.verify().unwrap_or_else(|e| panic!("{e}"));
            for n in 0..idx.len() {
                let (ts, offset) = idx.entry(n);
                assert_eq!(idx.lookup(ts), (ts, offset));
            }
            checked += 1;
            entries += idx.len();
        }
        eprintln!("verified {checked} real .timeindex files, {entries} entries");
        assert!(checked > 0, "no .timeindex fixture under {}", dir.display());
    }

    proptest! {
        #[test]
        fn lookup_matches_a_vec_model(
            base in 0i64..1_000_000,
            steps in proptest::collection::vec((-3i64..1000, 0i64..20), 0..3000),
            targets in proptest::collection::vec(-10i64..600_000, 1..50),
        ) {
            let (_d, path, mut idx) = fresh(base, MAX);
            let mut model: Vec<(i64, i64)> = Vec::new();
            let (mut ts, mut off) = (0i64, base);
            for (d_ts, d_off) in steps {
                idx.maybe_append(ts, off, false).unwrap();
                if model.last().is_none_or(|&(last, _)| ts > last) {
                    model.push((ts, off));
                }
                ts = (ts + d_ts).max(ts);
                off += d_off;
            }
            prop_assert_eq!(idx.len(), model.len());
            let check = |idx: &TimeIndex| {
                for &t in &targets {
                    let want = model
                        .iter()
                        .rev()
                        .find(|(ts, _)| *ts <= t)
                        .copied()
                        .unwrap_or((NO_TIMESTAMP, base));
                    assert_eq!(idx.lookup(t), want, "target {}", t);
                }
            };
            check(&idx);
            idx.seal().unwrap();
            let ro = TimeIndex::open(&path, base, MAX, false).unwrap();
            prop_assert_eq!(ro.len(), model.len());
            ro.verify().unwrap();
            check(&ro);
        }
    }
}
