//! Kafka's `.index` file: a sparse map from offset to byte position in the
//! segment's `.log`, memory-mapped.
//!
//! Each entry is 8 bytes, big-endian: the offset relative to the segment's
//! base offset (`i32`) and the position of a batch in the `.log` (`i32`,
//! exposed as `u32` since it is never negative). Offsets strictly increase
//! from entry to entry, positions never decrease. While the segment is
//! active the file is preallocated to `segment.index.bytes` (rounded down to
//! whole entries); [`OffsetIndex::seal`] trims it to exactly `len() * 8`
//! bytes, as Kafka does when a segment is rolled or closed.
//!
//! An existing file is opened with Kafka's rule, `length / 8` entries, with
//! one documented leniency: an all-zero tail after entry 0 is the unwritten
//! part of a preallocated file that was never trimmed (a segment that was not
//! closed cleanly) and is not counted as entries (Kafka would count it).
//! [`OffsetIndex::zero_tail_entries`] reports it, so the caller can decide to
//! rebuild the index from the `.log`.

use std::path::Path;

use super::index_file::{IndexFile, IndexKind, be_i32};
use crate::error::{Error, Result};

/// Bytes per `.index` entry: relative offset (`i32`) + position (`i32`).
pub const ENTRY_SIZE: usize = 8;

const KIND: IndexKind = IndexKind {
    full_reason: "offset index is full",
};

/// A segment's `.index`: sparse offset -> `.log` position, memory-mapped.
///
/// Reads take `&self` and never allocate; appends and truncation take
/// `&mut self`. The mapping belongs to this object alone.
#[derive(Debug)]
pub struct OffsetIndex {
    file: IndexFile<ENTRY_SIZE>,
}

#[inline]
fn decode(entry: &[u8]) -> (i32, u32) {
    (be_i32(entry, 0), be_i32(entry, 4) as u32)
}

impl OffsetIndex {
    /// Creates an empty, writable index at `path`, preallocated to
    /// `max_index_bytes` rounded down to a multiple of 8 (Kafka's
    /// `segment.index.bytes`). An existing file at `path` is replaced: it is
    /// unlinked first, never truncated in place, so a mapping of it held
    /// elsewhere stays valid. This is also how an index is rebuilt from its
    /// `.log`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be created, sized, mapped or its
    /// first blocks reserved (a full disk), or if `max_index_bytes < 8`.
    pub fn create(path: &Path, base_offset: i64, max_index_bytes: usize) -> Result<Self> {
        IndexFile::create(path, base_offset, max_index_bytes, KIND).map(|file| OffsetIndex { file })
    }

    /// Opens the existing index at `path`.
    ///
    /// The entries are the file's `length / 8` slots, less an all-zero tail
    /// after the first entry (see the module docs and
    /// [`zero_tail_entries`](Self::zero_tail_entries)). Opened read-only,
    /// the file is mapped as it is (an empty file is valid and maps
    /// nothing). Opened `writable` (the last segment of a log becoming
    /// active again), the file is cut to its entries and re-extended to
    /// `max_index_bytes`, so appends continue. Run
    /// [`sanity_check`](Self::sanity_check) or [`verify`](Self::verify) to
    /// judge the content.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file is missing or cannot be opened, resized or
    /// mapped, or if `max_index_bytes < 8`.
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_bytes: usize,
        writable: bool,
    ) -> Result<Self> {
        IndexFile::open(path, base_offset, max_index_bytes, writable, KIND)
            .map(|file| OffsetIndex { file })
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
    /// `max_index_bytes / 8` for an active index, the file's length / 8 for
    /// one opened read-only (equal to [`len`](Self::len) once sealed).
    pub fn max_entries(&self) -> usize {
        self.file.max_entries()
    }

    /// Whether no slot is left, so the segment must roll (Kafka's `isFull`).
    pub fn is_full(&self) -> bool {
        self.file.len() >= self.file.max_entries()
    }

    /// Whether the index is active (accepts appends) rather than sealed.
    pub fn is_writable(&self) -> bool {
        self.file.is_writable()
    }

    /// The number of all-zero slots found past the entries when the file was
    /// opened: non-zero means the file was preallocated and never trimmed,
    /// that is its segment was not closed cleanly. Zero after a seal.
    pub fn zero_tail_entries(&self) -> usize {
        self.file.zero_tail()
    }

    /// The file's current length in bytes.
    pub fn file_len(&self) -> u64 {
        self.file.file_len()
    }

    /// Entry `n` as (absolute offset, position).
    ///
    /// # Panics
    ///
    /// If `n >= len()`.
    #[inline]
    pub fn entry(&self, n: usize) -> (i64, u32) {
        self.absolute(self.file.slot(n))
    }

    #[inline]
    fn absolute(&self, entry: &[u8]) -> (i64, u32) {
        let (rel, pos) = decode(entry);
        (self.base_offset() + i64::from(rel), pos)
    }

    /// The last entry as (absolute offset, position), if any.
    #[inline]
    pub fn last_entry(&self) -> Option<(i64, u32)> {
        self.file.last_slot().map(|e| self.absolute(e))
    }

    /// Appends an entry mapping `offset` to `position` in the `.log`.
    ///
    /// # Errors
    ///
    /// - [`Error::SegmentFull`] if the index is full, or if `position` is
    ///   beyond Kafka's 32-bit positions (`i32::MAX`).
    /// - [`Error::OffsetNotInSegment`] if `offset` is not above the last
    ///   entry's offset, below the base offset or more than `i32::MAX` above
    ///   it.
    /// - [`Error::CorruptIndex`] if `position` is below the last entry's
    ///   position (the index refuses to become inconsistent).
    /// - [`Error::Io`] if the index is sealed / read-only, or a reservation
    ///   of disk blocks fails; [`Error::Poisoned`] after a failed flush.
    pub fn append(&mut self, offset: i64, position: u32) -> Result<()> {
        self.file.check_appendable()?;
        if position > i32::MAX as u32 {
            return Err(Error::SegmentFull {
                base_offset: self.base_offset(),
                reason: "log position beyond Kafka's 32-bit range",
            });
        }
        let rel = self.file.relative_offset(offset)?;
        if let Some((last_offset, last_position)) = self.last_entry() {
            if offset <= last_offset {
                return Err(Error::OffsetNotInSegment {
                    offset,
                    base_offset: self.base_offset(),
                    reason: "not above the offset index's last offset",
                });
            }
            if position < last_position {
                return Err(self.file.corrupt(format!(
                    "refused to append offset {offset} at position {position}: below the last \
                     entry's position {last_position}"
                )));
            }
        }
        let mut entry = [0u8; ENTRY_SIZE];
        entry[..4].copy_from_slice(&rel.to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        self.file.append(entry)
    }

    /// The entry with the largest offset `<= target`, as (offset, position);
    /// `(base_offset, 0)` if there is none (target before the first entry, or
    /// an empty index), as Kafka's `lookup`. A binary search over the mapped
    /// bytes, allocation-free.
    #[inline]
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let found = match target.checked_sub(self.base_offset()) {
            Some(rel) if rel >= 0 => self
                .file
                .partition_point(|e| i64::from(be_i32(e, 0)) <= rel),
            Some(_) => 0,
            None => {
                if target > 0 {
                    self.len()
                } else {
                    0
                }
            }
        };
        match found.checked_sub(1) {
            Some(n) => self.entry(n),
            None => (self.base_offset(), 0),
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
            Some(rel) if rel > 0 => self.file.partition_point(|e| i64::from(be_i32(e, 0)) < rel),
            Some(_) => 0,
            None if offset > 0 => self.len(),
            None => 0,
        };
        self.file.truncate(keep)
    }

    /// Drops every entry whose position is `>= position`: what recovery
    /// needs after cutting the `.log` at `position`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a sealed index's file cannot be trimmed.
    pub fn truncate_to_position(&mut self, position: u32) -> Result<()> {
        let keep = self.file.partition_point(|e| decode(e).1 < position);
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
    /// multiple of 8, and the last entry's offset is not below the base
    /// offset. seglog also checks that the last entry's position is within
    /// `log_size`, the `.log` file's size.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptIndex`] naming what is wrong.
    pub fn sanity_check(&self, log_size: u64) -> Result<()> {
        self.file.check_length()?;
        if let Some(slot) = self.file.last_slot() {
            let (rel, pos) = decode(slot);
            let n = self.len() - 1;
            if rel < 0 {
                return Err(self.file.corrupt(format!(
                    "last entry {n} has offset {} below the base offset {}",
                    self.base_offset() + i64::from(rel),
                    self.base_offset()
                )));
            }
            if pos > i32::MAX as u32 {
                return Err(self.file.corrupt(format!(
                    "last entry {n} has negative position {}",
                    pos as i32
                )));
            }
            if u64::from(pos) > log_size {
                return Err(self.file.corrupt(format!(
                    "last entry {n} has position {pos} past the end of the log ({log_size} bytes)"
                )));
            }
        }
        Ok(())
    }

    /// Checks every entry: relative offsets `>= 0` and strictly increasing,
    /// positions non-negative, non-decreasing and `< log_size` (each entry
    /// points at a batch in the `.log`). Linear in the number of entries.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptIndex`] whose reason names the first bad entry and its
    /// values.
    pub fn verify(&self, log_size: u64) -> Result<()> {
        self.file.check_length()?;
        let base = self.base_offset();
        let mut prev: Option<(i32, u32)> = None;
        for n in 0..self.len() {
            let (rel, pos) = decode(self.file.slot(n));
            let offset = base + i64::from(rel);
            let bad = |what: String| {
                Err(self.file.corrupt(format!(
                    "entry {n} (offset {offset}, position {}): {what}",
                    pos as i32
                )))
            };
            if rel < 0 {
                return bad(format!("offset below the base offset {base}"));
            }
            if pos > i32::MAX as u32 {
                return bad("negative position".to_string());
            }
            if u64::from(pos) >= log_size {
                return bad(format!("position not inside the log ({log_size} bytes)"));
            }
            if let Some((prev_rel, prev_pos)) = prev {
                if rel <= prev_rel {
                    return bad(format!(
                        "offset not above the previous entry's {}",
                        base + i64::from(prev_rel)
                    ));
                }
                if pos < prev_pos {
                    return bad(format!("position below the previous entry's {prev_pos}"));
                }
            }
            prev = Some((rel, pos));
        }
        Ok(())
    }

    /// Seals the index when its segment is rolled or closed: flushes the
    /// entries, trims the file to exactly `len() * 8` bytes, syncs it and
    /// maps it read-only. No effect on an index that is already sealed and
    /// trimmed. A read-only opened file with a zero tail is trimmed too.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the flush, trim or sync fails.
    pub fn seal(&mut self) -> Result<()> {
        self.file.seal()
    }

    /// Makes a sealed index active again (Kafka's resize to the maximum
    /// size, when a log is truncated back into this segment): re-extends
    /// the file to `max_index_bytes` and maps it writable.
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

    fn fresh(base: i64, max: usize) -> (tempfile::TempDir, PathBuf, OffsetIndex) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{base:020}.index"));
        let idx = OffsetIndex::create(&path, base, max).unwrap();
        (dir, path, idx)
    }

    #[test]
    fn create_preallocates_rounded_down() {
        let (_d, path, idx) = fresh(0, 1003);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1000);
        assert_eq!(idx.max_entries(), 125);
        assert!(idx.is_empty());
        assert!(idx.is_writable());
        assert_eq!(idx.last_entry(), None);
    }

    #[test]
    fn byte_exact_layout_after_seal() {
        let (_d, path, mut idx) = fresh(1000, MAX);
        idx.append(1000, 0).unwrap();
        idx.append(1005, 4200).unwrap();
        idx.append(1000 + i64::from(i32::MAX), 0x7fff_fffe).unwrap();
        idx.seal().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            bytes,
            [
                0, 0, 0, 0, 0, 0, 0, 0, //
                0, 0, 0, 5, 0, 0, 0x10, 0x68, //
                0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xfe,
            ]
        );
        assert!(!idx.is_writable());
        assert!(idx.is_full());
        assert_eq!(idx.entry(1), (1005, 4200));
    }

    #[test]
    fn lookup_edge_cases() {
        let (_d, _p, mut idx) = fresh(100, MAX);
        assert_eq!(idx.lookup(150), (100, 0), "empty index");
        idx.append(110, 500).unwrap();
        idx.append(120, 900).unwrap();
        idx.append(130, 1300).unwrap();
        assert_eq!(idx.lookup(50), (100, 0), "below base");
        assert_eq!(idx.lookup(105), (100, 0), "before first entry");
        assert_eq!(idx.lookup(110), (110, 500), "exact first");
        assert_eq!(idx.lookup(125), (120, 900), "between");
        assert_eq!(idx.lookup(130), (130, 1300), "exact last");
        assert_eq!(idx.lookup(i64::MAX), (130, 1300), "after last");
        assert_eq!(idx.lookup(i64::MIN), (100, 0));
    }

    #[test]
    fn append_rules() {
        let (_d, _p, mut idx) = fresh(100, 3 * ENTRY_SIZE);
        assert!(matches!(
            idx.append(99, 0),
            Err(Error::OffsetNotInSegment { .. })
        ));
        assert!(matches!(
            idx.append(100 + i64::from(i32::MAX) + 1, 0),
            Err(Error::OffsetNotInSegment { .. })
        ));
        idx.append(105, 10).unwrap();
        assert!(matches!(
            idx.append(105, 20),
            Err(Error::OffsetNotInSegment { .. })
        ));
        assert!(matches!(
            idx.append(104, 20),
            Err(Error::OffsetNotInSegment { .. })
        ));
        assert!(matches!(
            idx.append(106, 9),
            Err(Error::CorruptIndex { .. })
        ));
        assert!(matches!(
            idx.append(106, u32::MAX),
            Err(Error::SegmentFull { .. })
        ));
        idx.append(106, 10).unwrap();
        idx.append(107, 30).unwrap();
        assert!(idx.is_full());
        assert!(matches!(
            idx.append(108, 40),
            Err(Error::SegmentFull { .. })
        ));
        assert_eq!(idx.len(), 3);
    }

    #[test]
    fn truncation() {
        let (_d, path, mut idx) = fresh(0, MAX);
        for i in 0..10 {
            idx.append(i * 10, (i * 100) as u32).unwrap();
        }
        idx.truncate_to(1000).unwrap();
        assert_eq!(idx.len(), 10);
        idx.truncate_to(75).unwrap();
        assert_eq!(idx.last_entry(), Some((70, 700)));
        idx.truncate_to(70).unwrap();
        assert_eq!(idx.last_entry(), Some((60, 600)));
        idx.truncate_to_position(450).unwrap();
        assert_eq!(idx.last_entry(), Some((40, 400)));
        idx.truncate_to_position(400).unwrap();
        assert_eq!(idx.last_entry(), Some((30, 300)));
        // Appends continue after a truncation, over the zeroed slots.
        idx.append(31, 310).unwrap();
        idx.seal().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5 * 8);
        // A sealed index trims its file right away.
        idx.truncate_to(20).unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * 8);
        idx.clear().unwrap();
        assert!(idx.is_empty());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(idx.lookup(5), (0, 0));
    }

    #[test]
    fn seal_reopen_read_only_then_writable() {
        let (_d, path, mut idx) = fresh(500, MAX);
        idx.append(501, 0).unwrap();
        idx.append(520, 8000).unwrap();
        idx.flush().unwrap();
        idx.seal().unwrap();
        drop(idx);

        let ro = OffsetIndex::open(&path, 500, MAX, false).unwrap();
        assert_eq!(ro.len(), 2);
        assert!(ro.is_full());
        assert_eq!(ro.lookup(519), (501, 0));
        ro.sanity_check(9000).unwrap();
        ro.verify(9000).unwrap();
        drop(ro);

        let mut rw = OffsetIndex::open(&path, 500, MAX, true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), MAX as u64);
        assert_eq!(rw.len(), 2);
        assert!(!rw.is_full());
        assert_eq!(rw.max_entries(), MAX / 8);
        assert!(matches!(
            rw.append(520, 9000),
            Err(Error::OffsetNotInSegment { .. })
        ));
        rw.append(530, 9000).unwrap();
        rw.seal().unwrap();
        assert!(matches!(rw.append(540, 9500), Err(Error::Io { .. })));
        rw.make_writable().unwrap();
        rw.append(540, 9500).unwrap();
        rw.seal().unwrap();
        drop(rw);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4 * 8);
        let ro = OffsetIndex::open(&path, 500, MAX, false).unwrap();
        assert_eq!(ro.entry(3), (540, 9500));
    }

    #[test]
    fn empty_files_have_no_mapping() {
        let (_d, path, mut idx) = fresh(0, MAX);
        idx.seal().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(idx.lookup(3), (0, 0));
        let ro = OffsetIndex::open(&path, 0, MAX, false).unwrap();
        assert!(ro.is_empty());
        assert!(ro.is_full());
        ro.sanity_check(0).unwrap();
        ro.verify(0).unwrap();
        let mut rw = OffsetIndex::open(&path, 0, MAX, true).unwrap();
        rw.append(0, 0).unwrap();
        assert_eq!(rw.lookup(3), (0, 0));
    }

    #[test]
    fn untrimmed_file_counts_only_written_entries() {
        let (_d, path, mut idx) = fresh(0, 4096);
        idx.append(0, 0).unwrap();
        idx.append(7, 700).unwrap();
        idx.flush().unwrap();
        drop(idx); // as after a crash: not trimmed
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
        let ro = OffsetIndex::open(&path, 0, 4096, false).unwrap();
        assert_eq!(ro.len(), 2);
        assert_eq!(ro.zero_tail_entries(), 4096 / 8 - 2);
        ro.verify(701).unwrap();
        drop(ro);
        let mut rw = OffsetIndex::open(&path, 0, 4096, true).unwrap();
        assert_eq!(rw.len(), 2);
        rw.append(8, 800).unwrap();
        rw.seal().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24);
        assert_eq!(rw.zero_tail_entries(), 0);
    }

    #[test]
    fn preallocated_file_without_entries_is_empty() {
        let (_d, path, idx) = fresh(0, 4096);
        drop(idx);
        let ro = OffsetIndex::open(&path, 0, 4096, false).unwrap();
        assert!(ro.is_empty());
        assert_eq!(ro.zero_tail_entries(), 512);
    }

    fn write_entries(path: &Path, entries: &[(i32, i32)]) {
        let mut bytes = Vec::new();
        for (rel, pos) in entries {
            bytes.extend_from_slice(&rel.to_be_bytes());
            bytes.extend_from_slice(&pos.to_be_bytes());
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let open = || OffsetIndex::open(&path, 100, MAX, false).unwrap();
        let reason = |e: Error| match e {
            Error::CorruptIndex { reason, .. } => reason,
            other => panic!("unexpected {other}"),
        };

        write_entries(&path, &[(1, 0), (5, 100), (3, 200)]);
        open().sanity_check(1000).unwrap();
        let r = reason(open().verify(1000).unwrap_err());
        assert!(r.contains("entry 2") && r.contains("offset 103"), "{r}");

        write_entries(&path, &[(1, 0), (5, 100), (9, 2000)]);
        assert!(open().sanity_check(1000).is_err());
        let r = reason(open().verify(1000).unwrap_err());
        assert!(r.contains("entry 2") && r.contains("position 2000"), "{r}");

        write_entries(&path, &[(1, 300), (5, 100)]);
        let r = reason(open().verify(1000).unwrap_err());
        assert!(r.contains("entry 1") && r.contains("position below"), "{r}");

        write_entries(&path, &[(1, 0), (-4, 100)]);
        assert!(open().sanity_check(1000).is_err());

        write_entries(&path, &[(1, -1)]);
        assert!(open().verify(1000).is_err());

        write_entries(&path, &[(1, 0), (2, 10)]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&path, bytes).unwrap();
        let idx = open();
        assert_eq!(idx.len(), 2);
        let r = reason(idx.sanity_check(1000).unwrap_err());
        assert!(r.contains("19 bytes"), "{r}");
        assert!(idx.verify(1000).is_err());
    }

    #[test]
    fn rename_keeps_the_mapping() {
        let (d, path, mut idx) = fresh(0, MAX);
        idx.append(3, 30).unwrap();
        let new_path = d.path().join("00000000000000000000.index.deleted");
        idx.rename_to(&new_path).unwrap();
        assert_eq!(idx.path(), new_path);
        assert!(!path.exists());
        idx.append(4, 40).unwrap();
        idx.seal().unwrap();
        assert_eq!(std::fs::metadata(&new_path).unwrap().len(), 16);
        assert_eq!(idx.lookup(4), (4, 40));
    }

    #[test]
    fn missing_file_is_an_io_error_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.index");
        match OffsetIndex::open(&path, 0, MAX, false) {
            Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn real_kafka_index_files_verify() {
        let Some(dir) = crate::segment::index_file::fixtures::dir("real_kafka_index_files_verify")
        else {
            return;
        };
        let files = crate::segment::index_file::fixtures::files(&dir, "index");
        let mut checked = 0;
        let mut entries = 0;
        for (path, base) in &files {
            let log = path.with_extension("log");
            let Ok(meta) = std::fs::metadata(&log) else {
                continue;
            };
            let idx = OffsetIndex::open(path, *base, MAX, false)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            idx.sanity_check(meta.len())
                .unwrap_or_else(|e| panic!("{e}"));
            idx.verify(meta.len()).unwrap_or_else(|e| panic!("{e}"));
            for n in 0..idx.len() {
                let (offset, position) = idx.entry(n);
                assert_eq!(idx.lookup(offset), (offset, position));
            }
            checked += 1;
            entries += idx.len();
        }
        eprintln!("verified {checked} real .index files, {entries} entries");
        assert!(
            checked > 0,
            "no .index fixture with its .log under {}",
            dir.display()
        );
    }

    proptest! {
        #[test]
        fn lookup_matches_a_vec_model(
            base in 0i64..1_000_000,
            steps in proptest::collection::vec((1i64..50, 0u32..5000), 0..3000),
            targets in proptest::collection::vec(-100i64..200_000, 1..50),
        ) {
            let (_d, path, mut idx) = fresh(base, MAX);
            let mut model: Vec<(i64, u32)> = Vec::new();
            let (mut off, mut pos) = (base, 0u32);
            for (d_off, d_pos) in steps {
                idx.append(off, pos).unwrap();
                model.push((off, pos));
                off += d_off;
                pos += d_pos;
            }
            let check = |idx: &OffsetIndex| {
                for &t in &targets {
                    let t = base + t;
                    let want = model
                        .iter()
                        .rev()
                        .find(|(o, _)| *o <= t)
                        .copied()
                        .unwrap_or((base, 0));
                    assert_eq!(idx.lookup(t), want, "target {}", t);
                }
            };
            check(&idx);
            idx.seal().unwrap();
            check(&idx);
            let ro = OffsetIndex::open(&path, base, MAX, false).unwrap();
            prop_assert_eq!(ro.len(), model.len());
            ro.verify(u64::from(pos) + 1).unwrap();
            check(&ro);
        }
    }
}
