//! A memory-mapped file of fixed-size entries: the storage shared by the
//! offset index (8-byte entries) and the time index (12-byte entries).
//!
//! The lifecycle follows Kafka's `AbstractIndex`:
//!
//! - **Active** (writable): the file is set to the maximum index size
//!   (`segment.index.bytes` rounded down to a whole number of entries) and
//!   mapped read-write; entries are appended in place. The file is sparse
//!   beyond what was reserved: real blocks are reserved ahead of the writer
//!   with `fallocate` in windows of [`RESERVE_WINDOW`] bytes, so a full disk
//!   surfaces as [`Error::Io`] when a window is reserved, never as `SIGBUS` on
//!   a store into the mapping. A filesystem without `fallocate` is used
//!   without reservation.
//! - **Sealed** (read-only): the file holds exactly `entries * N` bytes and
//!   is mapped read-only (an empty file has no mapping at all: mapping zero
//!   bytes fails). No file descriptor is kept open.
//!
//! The mapping is owned by this object alone (one object per file), and the
//! file is only ever shrunk after that mapping has been dropped, so no mapped
//! page can lie past the end of the file. [`IndexFile::create`] replaces an
//! existing file by unlinking it rather than truncating it in place, so a
//! mapping of the old file held elsewhere stays valid.
//!
//! Dropping an active index without sealing it leaves the file at its
//! preallocated length, exactly as a crash would.
//!
//! Opening an existing file counts `length / N` entries as Kafka does, except
//! that a run of all-zero slots at the end (after slot 0) is recognised as the
//! unwritten preallocated tail of an index that was never trimmed (its
//! segment was not closed cleanly) and is not counted; see
//! [`IndexFile::open`].

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use memmap2::{Mmap, MmapMut, MmapOptions};

use crate::error::{Error, Result};

/// Bytes of disk blocks reserved ahead of the writer at a time.
pub(crate) const RESERVE_WINDOW: u64 = 64 * 1024;

/// Size in bytes of the "warm" tail of the index that a lookup searches
/// first, as Kafka does: lookups mostly target recent entries, and keeping
/// them in one small region keeps the pages they touch hot.
const WARM_BYTES: usize = 8192;

/// Static descriptions of one kind of index, used in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexKind {
    /// `SegmentFull` reason when no slot is left.
    pub(crate) full_reason: &'static str,
}

/// The current mapping of the file.
#[derive(Debug)]
enum Mapping {
    /// No mapping: the file is empty (or a remap failed).
    None,
    /// Sealed index.
    ReadOnly(Mmap),
    /// Active index.
    Writable(MmapMut),
}

impl Mapping {
    fn bytes(&self) -> &[u8] {
        match self {
            Mapping::None => &[],
            Mapping::ReadOnly(m) => m,
            Mapping::Writable(m) => m,
        }
    }
}

/// A memory-mapped index file of `N`-byte entries; see the module docs.
#[derive(Debug)]
pub(crate) struct IndexFile<const N: usize> {
    path: PathBuf,
    base_offset: i64,
    /// The configured maximum size, rounded down to whole entries.
    max_bytes: u64,
    kind: IndexKind,
    map: Mapping,
    /// Held while writable (for `fallocate`, `set_len`); `None` when sealed.
    file: Option<File>,
    entries: usize,
    file_len: u64,
    /// Bytes from the start of the file whose blocks are known allocated.
    reserved: u64,
    /// Bytes from the start that were written (appended or zeroed) while
    /// active: the range a flush covers.
    written: usize,
    /// False once `fallocate` reported that the filesystem lacks it.
    can_reserve: bool,
    /// All-zero slots found past the entries when the file was opened.
    zero_tail: usize,
    /// The file length found at open when it was not a multiple of `N`.
    misaligned_len: Option<u64>,
    /// Entries were written or dropped since the last flush.
    dirty: AtomicBool,
    /// A flush failed: what is on disk is unknown, writes are refused.
    poisoned: AtomicBool,
}

/// Reads a big-endian `i32` at byte `at` of `buf`.
///
/// # Panics
///
/// If `buf` is shorter than `at + 4` (callers pass whole entries).
#[inline]
pub(crate) fn be_i32(buf: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    i32::from_be_bytes(b)
}

/// Reads a big-endian `i64` at byte `at` of `buf`.
///
/// # Panics
///
/// If `buf` is shorter than `at + 8` (callers pass whole entries).
#[inline]
pub(crate) fn be_i64(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

fn to_usize(path: &Path, n: u64) -> Result<usize> {
    usize::try_from(n).map_err(|_| {
        Error::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("index file length {n} does not fit this platform's address space"),
            ),
        )
    })
}

/// Maps `len` bytes of `file` read-only, or nothing when `len` is zero.
fn map_read_only(path: &Path, file: &File, len: u64) -> Result<Mapping> {
    if len == 0 {
        return Ok(Mapping::None);
    }
    let len = to_usize(path, len)?;
    // SAFETY: the mapping is owned by one IndexFile, which never shrinks the
    // file while this mapping exists (it drops the mapping first) and only
    // reads the first `entries * N <= len` bytes. The store directory is
    // owned by one process (its lock file), so no other process truncates or
    // rewrites the file underneath us.
    let map = unsafe { MmapOptions::new().len(len).map(file) };
    map.map(Mapping::ReadOnly).map_err(|e| Error::io(path, e))
}

/// Maps `len > 0` bytes of `file` read-write.
fn map_writable(path: &Path, file: &File, len: u64) -> Result<Mapping> {
    let len = to_usize(path, len)?;
    // SAFETY: as in `map_read_only`: this IndexFile is the mapping's only
    // owner, the file is at least `len` bytes long (set just before) and is
    // not shrunk while mapped; the store's lock keeps other processes away.
    // Stores only go to blocks reserved with fallocate when it is supported.
    let map = unsafe { MmapOptions::new().len(len).map_mut(file) };
    map.map(Mapping::Writable).map_err(|e| Error::io(path, e))
}

/// Counts the entries of an existing file of `slots` slots: all of them,
/// except an all-zero tail after slot 0 (an untrimmed preallocated file).
/// Returns `(entries, zero_tail)`.
fn count_entries<const N: usize>(bytes: &[u8], slots: usize) -> (usize, usize) {
    let slot = |i: usize| &bytes[i * N..(i + 1) * N];
    let is_zero = |i: usize| slot(i).iter().all(|&b| b == 0);
    if slots < 2 || !is_zero(slots - 1) {
        return (slots, 0);
    }
    // Slots 1.. of a valid index are never all zero (offsets strictly grow
    // in the offset index, timestamps in the time index), so non-zero slots
    // followed by zero slots is monotone: binary search for the boundary.
    let (mut lo, mut hi) = (1, slots - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if is_zero(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    // An all-zero slot 0 before a zero tail is a preallocated file that never
    // got an entry: an entry (base offset, position 0 / timestamp 0) says
    // nothing a lookup on an empty index would not.
    let entries = if lo == 1 && is_zero(0) { 0 } else { lo };
    (entries, slots - entries)
}

impl<const N: usize> IndexFile<N> {
    /// Creates the file at `path` and makes it an active index preallocated
    /// to `max_index_bytes` rounded down to whole entries. An existing file
    /// is unlinked first (never truncated in place: someone may still have
    /// it mapped) and replaced by a new one.
    pub(crate) fn create(
        path: &Path,
        base_offset: i64,
        max_index_bytes: usize,
        kind: IndexKind,
    ) -> Result<Self> {
        let max_bytes = Self::max_bytes(path, max_index_bytes)?;
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(path, e)),
            _ => {}
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut index = Self::empty(path, base_offset, max_bytes, kind);
        index.activate(file)?;
        Ok(index)
    }

    /// Opens the existing file at `path`. Its entries are `length / N` slots,
    /// less an all-zero tail after slot 0 (the unwritten part of a file that
    /// was preallocated and never trimmed). A writable open re-extends the
    /// file to the maximum size (cutting any zero tail and partial entry
    /// first, so everything past the entries is zero).
    pub(crate) fn open(
        path: &Path,
        base_offset: i64,
        max_index_bytes: usize,
        writable: bool,
        kind: IndexKind,
    ) -> Result<Self> {
        let max_bytes = Self::max_bytes(path, max_index_bytes)?;
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut index = Self::empty(path, base_offset, max_bytes, kind);
        index.file_len = len;
        index.misaligned_len = (len % N as u64 != 0).then_some(len);
        index.map = map_read_only(path, &file, len)?;
        let slots = to_usize(path, len / N as u64)?;
        let (entries, zero_tail) = count_entries::<N>(index.map.bytes(), slots);
        index.entries = entries;
        index.zero_tail = zero_tail;
        index.reserved = len;
        if writable {
            index.activate(file)?;
        }
        Ok(index)
    }

    fn max_bytes(path: &Path, max_index_bytes: usize) -> Result<u64> {
        if max_index_bytes < N {
            return Err(Error::io(
                path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "maximum index size {max_index_bytes} is smaller than one {N}-byte entry"
                    ),
                ),
            ));
        }
        Ok((max_index_bytes / N * N) as u64)
    }

    fn empty(path: &Path, base_offset: i64, max_bytes: u64, kind: IndexKind) -> Self {
        IndexFile {
            path: path.to_path_buf(),
            base_offset,
            max_bytes,
            kind,
            map: Mapping::None,
            file: None,
            entries: 0,
            file_len: 0,
            reserved: 0,
            written: 0,
            can_reserve: true,
            zero_tail: 0,
            misaligned_len: None,
            dirty: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Makes the index active on `file` (opened read-write): cuts the file to
    /// its entries, extends it to the maximum size, maps it writable and
    /// reserves the first window.
    fn activate(&mut self, file: File) -> Result<()> {
        let used = self.used_bytes();
        let target = self.max_bytes.max(used);
        // Unmap before changing the length, the file may shrink.
        self.map = Mapping::None;
        let resized = (|| {
            if self.file_len > used {
                file.set_len(used)?;
            }
            file.set_len(target)
        })();
        if let Err(e) = resized {
            self.file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
            self.restore_read_only(&file);
            return Err(Error::io(&self.path, e));
        }
        self.file_len = target;
        self.map = match map_writable(&self.path, &file, target) {
            Ok(map) => map,
            Err(e) => {
                self.restore_read_only(&file);
                return Err(e);
            }
        };
        self.file = Some(file);
        self.reserved = used;
        // The entries may be dirty in the page cache from an earlier handle:
        // the next flush covers them too.
        self.written = self.entries * N;
        self.dirty.store(self.entries > 0, Ordering::Relaxed);
        self.can_reserve = true;
        self.reserve(used + N as u64)
    }

    /// After a failed resize or remap: map whatever the file now holds,
    /// read-only, and keep only the entries it still covers.
    fn restore_read_only(&mut self, file: &File) {
        self.file = None;
        self.map = map_read_only(&self.path, file, self.file_len).unwrap_or(Mapping::None);
        let covered = self.map.bytes().len() / N;
        self.entries = self.entries.min(covered);
        self.reserved = self.file_len;
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The segment's base offset.
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// Number of entry slots of the file as mapped (Kafka's `maxEntries`).
    pub(crate) fn max_entries(&self) -> usize {
        self.map.bytes().len() / N
    }

    /// Whether entries can be appended.
    pub(crate) fn is_writable(&self) -> bool {
        matches!(self.map, Mapping::Writable(_))
    }

    /// All-zero slots found past the entries when the file was opened.
    pub(crate) fn zero_tail(&self) -> usize {
        self.zero_tail
    }

    /// The file's current length in bytes.
    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    fn used_bytes(&self) -> u64 {
        (self.entries * N) as u64
    }

    /// Entry `n`'s bytes.
    ///
    /// # Panics
    ///
    /// If `n >= len()`.
    #[inline]
    pub(crate) fn slot(&self, n: usize) -> &[u8] {
        assert!(
            n < self.entries,
            "index entry {n} requested from {} holding {} entries",
            self.path.display(),
            self.entries
        );
        &self.map.bytes()[n * N..(n + 1) * N]
    }

    /// The last entry's bytes.
    #[inline]
    pub(crate) fn last_slot(&self) -> Option<&[u8]> {
        self.entries.checked_sub(1).map(|n| self.slot(n))
    }

    /// The number of leading entries for which `pred` holds, `pred` being
    /// true on a prefix of the entries and false after it. A binary search
    /// over the mapped bytes that looks at the warm tail first, as Kafka's.
    #[inline]
    pub(crate) fn partition_point(&self, pred: impl Fn(&[u8]) -> bool) -> usize {
        let n = self.entries;
        if n == 0 {
            return 0;
        }
        let bytes = &self.map.bytes()[..n * N];
        let at = |i: usize| &bytes[i * N..(i + 1) * N];
        let first_hot = n.saturating_sub(1 + WARM_BYTES / N);
        let (mut lo, mut hi) = if pred(at(first_hot)) {
            (first_hot + 1, n)
        } else {
            (0, first_hot)
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(at(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// `offset - base_offset` if it fits Kafka's 32-bit relative offsets.
    pub(crate) fn relative_offset(&self, offset: i64) -> Result<i32> {
        let not_in = |reason| Error::OffsetNotInSegment {
            offset,
            base_offset: self.base_offset,
            reason,
        };
        let rel = offset
            .checked_sub(self.base_offset)
            .ok_or_else(|| not_in("offset minus base offset overflows"))?;
        if rel < 0 {
            return Err(not_in("below the segment's base offset"));
        }
        i32::try_from(rel).map_err(|_| not_in("more than i32::MAX above the segment's base offset"))
    }

    /// A `CorruptIndex` error for this file.
    pub(crate) fn corrupt(&self, reason: String) -> Error {
        Error::CorruptIndex {
            path: self.path.clone(),
            reason,
        }
    }

    /// Fails if the file's length, as found at open, was not a whole number
    /// of entries.
    pub(crate) fn check_length(&self) -> Result<()> {
        match self.misaligned_len {
            Some(len) => Err(self.corrupt(format!(
                "file length {len} bytes is not a multiple of the {N}-byte entry size"
            ))),
            None => Ok(()),
        }
    }

    /// Fails unless the index accepts an append: writable, not poisoned, not
    /// full.
    pub(crate) fn check_appendable(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Relaxed) {
            return Err(Error::Poisoned {
                path: self.path.clone(),
            });
        }
        if !self.is_writable() {
            return Err(Error::io(
                &self.path,
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "index is sealed or opened read-only: it cannot be appended to",
                ),
            ));
        }
        if self.entries >= self.max_entries() {
            return Err(Error::SegmentFull {
                base_offset: self.base_offset,
                reason: self.kind.full_reason,
            });
        }
        Ok(())
    }

    /// Appends one entry (the caller has validated its content).
    pub(crate) fn append(&mut self, entry: [u8; N]) -> Result<()> {
        self.check_appendable()?;
        let at = self.entries * N;
        self.reserve((at + N) as u64)?;
        let Mapping::Writable(map) = &mut self.map else {
            // check_appendable() guarantees a writable mapping.
            return Err(Error::io(
                &self.path,
                io::Error::other("index lost its writable mapping"),
            ));
        };
        map[at..at + N].copy_from_slice(&entry);
        self.written = self.written.max(at + N);
        self.entries += 1;
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Makes sure the blocks of the first `end` bytes are allocated,
    /// reserving a window of at least [`RESERVE_WINDOW`] bytes at a time.
    fn reserve(&mut self, end: u64) -> Result<()> {
        if end <= self.reserved {
            return Ok(());
        }
        let stop = end.max(self.reserved + RESERVE_WINDOW).min(self.file_len);
        if !self.can_reserve || stop <= self.reserved {
            self.reserved = self.reserved.max(stop);
            return Ok(());
        }
        let Some(file) = &self.file else {
            return Ok(());
        };
        match fallocate(file, self.reserved, stop - self.reserved) {
            Ok(()) => {
                self.reserved = stop;
                Ok(())
            }
            Err(Reserve::Unsupported) => {
                self.can_reserve = false;
                self.reserved = self.file_len;
                Ok(())
            }
            Err(Reserve::Failed(e)) => Err(Error::io(&self.path, e)),
        }
    }

    /// Drops the entries from `n` on. An active index zeroes the dropped
    /// slots in place (so everything past the entries stays zero); a sealed
    /// index trims its file at once.
    pub(crate) fn truncate(&mut self, n: usize) -> Result<()> {
        if n >= self.entries {
            return Ok(());
        }
        match &mut self.map {
            Mapping::Writable(map) => {
                map[n * N..self.entries * N].fill(0);
                self.written = self.written.max(self.entries * N);
                self.entries = n;
                self.dirty.store(true, Ordering::Relaxed);
                Ok(())
            }
            _ => {
                self.entries = n;
                self.trim()
            }
        }
    }

    /// Drops every entry. Also forgets a misaligned length found at open:
    /// the file is rewritten from scratch.
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.truncate(0)?;
        self.misaligned_len = None;
        Ok(())
    }

    /// Trims the file to its entries, syncs it and maps it read-only.
    pub(crate) fn seal(&mut self) -> Result<()> {
        if self.is_writable() || self.file_len != self.used_bytes() {
            self.trim()
        } else {
            Ok(())
        }
    }

    /// Flushes written entries, drops the mapping, cuts the file to its
    /// entries, syncs it and remaps it read-only.
    fn trim(&mut self) -> Result<()> {
        self.flush()?;
        let used = self.used_bytes();
        let file = match self.file.take() {
            Some(file) => file,
            None => OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.path)
                .map_err(|e| Error::io(&self.path, e))?,
        };
        // Unmap before shrinking: no mapped page may lie past the end.
        self.map = Mapping::None;
        if let Err(e) = file.set_len(used) {
            self.file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
            self.restore_read_only(&file);
            return Err(Error::io(&self.path, e));
        }
        self.file_len = used;
        self.reserved = used;
        self.zero_tail = 0;
        let synced = file.sync_data();
        if let Err(e) = map_read_only(&self.path, &file, used).map(|map| self.map = map) {
            self.restore_read_only(&file);
            return Err(e);
        }
        self.dirty.store(false, Ordering::Relaxed);
        synced.map_err(|e| {
            self.poisoned.store(true, Ordering::Relaxed);
            Error::io(&self.path, e)
        })
    }

    /// Re-extends a sealed index to the maximum size and maps it writable.
    pub(crate) fn make_writable(&mut self) -> Result<()> {
        if self.is_writable() {
            return Ok(());
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        self.activate(file)
    }

    /// Writes the entries of an active index to disk (`msync`). A sealed
    /// index was synced when sealed and has nothing to flush.
    pub(crate) fn flush(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Relaxed) {
            return Err(Error::Poisoned {
                path: self.path.clone(),
            });
        }
        let Mapping::Writable(map) = &self.map else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        // Zeroed (truncated) slots past the entries are dirty too: flush
        // everything written since the index became active.
        let len = self.written.min(map.len());
        if len == 0 {
            return Ok(());
        }
        map.flush_range(0, len).map_err(|e| {
            self.poisoned.store(true, Ordering::Relaxed);
            Error::io(&self.path, e)
        })
    }

    /// Renames the file; the mapping stays valid.
    pub(crate) fn rename_to(&mut self, new_path: &Path) -> Result<()> {
        std::fs::rename(&self.path, new_path).map_err(|e| Error::io(&self.path, e))?;
        self.path = new_path.to_path_buf();
        Ok(())
    }
}

/// Why a reservation did not happen.
enum Reserve {
    /// The filesystem has no `fallocate`: carry on without reserving.
    Unsupported,
    /// A real failure, typically `ENOSPC`.
    Failed(io::Error),
}

/// Allocates the blocks of `len` bytes at `offset`, inside the file's size
/// (mode 0 never changes the size here since the range is inside it).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn fallocate(file: &File, offset: u64, len: u64) -> std::result::Result<(), Reserve> {
    use rustix::fs::FallocateFlags;
    use rustix::io::Errno;
    match rustix::fs::fallocate(file, FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => Err(Reserve::Unsupported),
        Err(e) => Err(Reserve::Failed(e.into())),
    }
}

/// Without `fallocate`, stores into the mapping allocate blocks lazily.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn fallocate(_file: &File, _offset: u64, _len: u64) -> std::result::Result<(), Reserve> {
    Err(Reserve::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: IndexKind = IndexKind {
        full_reason: "test index is full",
    };

    #[test]
    fn count_entries_handles_zero_tails() {
        let mut bytes = vec![0u8; 8 * 6];
        assert_eq!(count_entries::<8>(&bytes, 0), (0, 0));
        assert_eq!(count_entries::<8>(&bytes, 1), (1, 0));
        assert_eq!(count_entries::<8>(&bytes, 6), (0, 6));
        bytes[15] = 1; // slot 1 non-zero, slot 0 zero: (base, 0) is a real entry
        assert_eq!(count_entries::<8>(&bytes, 6), (2, 4));
        bytes[8 * 4 + 3] = 7;
        assert_eq!(count_entries::<8>(&bytes, 5), (5, 0));
        bytes[8 * 5] = 1;
        assert_eq!(count_entries::<8>(&bytes, 6), (6, 0));
    }

    #[test]
    fn partition_point_covers_warm_and_cold_sections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let mut idx = IndexFile::<8>::create(&path, 0, 8 * 5000, KIND).unwrap();
        for i in 0..3000u32 {
            let mut e = [0u8; 8];
            e[..4].copy_from_slice(&(i * 2).to_be_bytes());
            idx.append(e).unwrap();
        }
        for target in [-1i64, 0, 1, 2, 100, 4000, 5997, 5998, 5999, 10_000] {
            let got = idx.partition_point(|e| i64::from(be_i32(e, 0)) <= target);
            let want = (0..3000).filter(|i| i64::from(i * 2) <= target).count();
            assert_eq!(got, want, "target {target}");
        }
    }

    #[test]
    fn reservation_advances_in_windows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let mut idx = IndexFile::<8>::create(&path, 0, 1 << 20, KIND).unwrap();
        assert_eq!(idx.file_len(), 1 << 20);
        assert!(idx.reserved >= RESERVE_WINDOW.min(1 << 20));
        let per_window = (RESERVE_WINDOW / 8) as usize;
        for _ in 0..=per_window {
            idx.append([1; 8]).unwrap();
        }
        assert!(idx.reserved >= (idx.len() * 8) as u64);
        idx.seal().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            (per_window as u64 + 1) * 8
        );
    }

    #[test]
    fn index_files_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<IndexFile<8>>();
        assert_send_sync::<crate::segment::OffsetIndex>();
        assert_send_sync::<crate::segment::TimeIndex>();
    }

    #[test]
    fn create_replaces_a_mapped_file_without_truncating_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let mut old = IndexFile::<8>::create(&path, 0, 4096, KIND).unwrap();
        old.append([7; 8]).unwrap();
        old.seal().unwrap();
        let new = IndexFile::<8>::create(&path, 0, 4096, KIND).unwrap();
        assert_eq!(new.len(), 0);
        // The old mapping still reads the old (unlinked) file.
        assert_eq!(old.slot(0), [7; 8]);
    }

    #[test]
    fn rejects_a_maximum_below_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let err = IndexFile::<12>::create(&dir.path().join("t"), 0, 11, KIND).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}

/// Helpers for tests over the real Kafka fixtures.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::{Path, PathBuf};

    /// The fixture directory (`SEGLOG_FIXTURES`, default
    /// `../shared/fixtures/kafka-real` beside the crate), or `None` with a
    /// message when it is absent; panics instead when
    /// `SEGLOG_REQUIRE_FIXTURES=1`.
    pub(crate) fn dir(test: &str) -> Option<PathBuf> {
        let dir = std::env::var_os("SEGLOG_FIXTURES").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/kafka-real"),
            PathBuf::from,
        );
        if dir.is_dir() {
            return Some(dir);
        }
        let required = std::env::var("SEGLOG_REQUIRE_FIXTURES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{test}: fixtures required but {} is absent",
            dir.display()
        );
        eprintln!("{test}: skipped, no fixtures at {}", dir.display());
        None
    }

    /// Every file under `dir` whose name is a 20-digit base offset with
    /// extension `ext`, with that base offset, sorted by path.
    pub(crate) fn files(dir: &Path, ext: &str) -> Vec<(PathBuf, i64)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == ext) {
                    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                    if stem.len() == 20
                        && let Ok(base) = stem.parse::<i64>()
                    {
                        out.push((path, base));
                    }
                }
            }
        }
        out.sort();
        out
    }
}
