//! Kafka's producer state snapshot files: `<20-digit offset>.snapshot`.
//!
//! A snapshot holds, for every producer id a partition knows, the producer's
//! epoch and its last batch, as of the offset in the file name (the log end
//! offset when it was taken). Layout, all big-endian, as Kafka's
//! `ProducerStateManager` writes it (schema version 1):
//!
//! | bytes | field |
//! |---|---|
//! | 0..2 | version i16 = 1 |
//! | 2..6 | crc u32: CRC-32C of every byte after this field (6..end) |
//! | 6..10 | entry count i32 |
//! | 10.. | `count` entries of 46 bytes each |
//!
//! An entry: producerId i64, producerEpoch i16, lastSequence i32,
//! lastOffset i64, offsetDelta i32 (last offset - first offset of the last
//! batch, which is also last sequence - first sequence), timestamp i64 (max
//! timestamp of the last batch), coordinatorEpoch i32, currentTxnFirstOffset
//! i64 (-1: no open transaction). A lastOffset of -1 means the entry carries
//! no batch (only an epoch), as in Kafka.
//!
//! Files are replaced atomically ([`write_snapshot`]): written to
//! `<name>.snapshot.tmp`, fsynced, renamed, and the directory fsynced. Kafka
//! only lists names ending in `.snapshot`, so a leftover temporary file is
//! ignored by it (and by [`snapshot_offsets`]); [`remove_temp_files`] clears
//! them.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::durable_fs::{sync_dir, sync_parent_dir};
use crate::error::{Error, Result};
use crate::segment::file_name::{self, FileKind};

/// The snapshot schema version Kafka writes and reads (`PRODUCER_SNAPSHOT_VERSION`).
pub const SNAPSHOT_VERSION: i16 = 1;

/// Bytes before the first entry: version (2), crc (4), entry count (4).
pub const SNAPSHOT_HEADER_SIZE: usize = 10;

/// Bytes of one producer entry.
pub const SNAPSHOT_ENTRY_SIZE: usize = 46;

/// Suffix appended to a snapshot's name while it is being written.
pub const TEMP_SUFFIX: &str = ".tmp";

const CRC_OFFSET: usize = 2;
/// Where the CRC-covered bytes start (the entry count).
const CRC_COVERED_FROM: usize = 6;

/// One producer's line in a snapshot file: its epoch and its last batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnapshotEntry {
    /// The producer id.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// Sequence number of the last record of the producer's last batch
    /// (-1 when the entry has no batch).
    pub last_sequence: i32,
    /// Offset of the last record of the producer's last batch (-1: no batch).
    pub last_offset: i64,
    /// Last offset - first offset of that batch (0 when there is no batch).
    pub offset_delta: i32,
    /// Max timestamp of the producer's last write.
    pub timestamp: i64,
    /// Epoch of the transaction coordinator that wrote the producer's last
    /// transaction marker (-1 if none).
    pub coordinator_epoch: i32,
    /// First offset of the producer's open transaction, if one is open.
    pub current_txn_first_offset: Option<i64>,
}

impl SnapshotEntry {
    /// Whether the entry carries a batch (`last_offset >= 0`, Kafka's rule).
    pub fn has_batch(&self) -> bool {
        self.last_offset >= 0
    }

    /// Offset of the first record of the last batch.
    pub fn first_offset(&self) -> i64 {
        self.last_offset.wrapping_sub(i64::from(self.offset_delta))
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.last_sequence.to_be_bytes());
        out.extend_from_slice(&self.last_offset.to_be_bytes());
        out.extend_from_slice(&self.offset_delta.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.coordinator_epoch.to_be_bytes());
        out.extend_from_slice(&self.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
    }

    /// Decodes one entry from exactly [`SNAPSHOT_ENTRY_SIZE`] bytes.
    fn decode(b: &[u8; SNAPSHOT_ENTRY_SIZE]) -> Self {
        let txn = be_i64(b, 38);
        SnapshotEntry {
            producer_id: be_i64(b, 0),
            producer_epoch: i16::from_be_bytes([b[8], b[9]]),
            last_sequence: be_i32(b, 10),
            last_offset: be_i64(b, 14),
            offset_delta: be_i32(b, 22),
            timestamp: be_i64(b, 26),
            coordinator_epoch: be_i32(b, 34),
            // Kafka reads any negative value as "no open transaction".
            current_txn_first_offset: (txn >= 0).then_some(txn),
        }
    }
}

fn be_i64(b: &[u8; SNAPSHOT_ENTRY_SIZE], at: usize) -> i64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(raw)
}

fn be_i32(b: &[u8; SNAPSHOT_ENTRY_SIZE], at: usize) -> i32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(raw)
}

/// The most entries one file can hold (the count field is an i32).
pub const MAX_ENTRIES: usize = i32::MAX as usize;

/// Encodes `entries` as a complete snapshot file, CRC included, in the order
/// given. At most [`MAX_ENTRIES`] entries are written ([`write_snapshot`]
/// refuses more).
pub fn encode_snapshot(entries: &[SnapshotEntry]) -> Vec<u8> {
    let entries = &entries[..entries.len().min(MAX_ENTRIES)];
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_SIZE + entries.len() * SNAPSHOT_ENTRY_SIZE);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    // Cannot truncate: the slice was capped at i32::MAX entries above.
    out.extend_from_slice(&(entries.len() as i32).to_be_bytes());
    for entry in entries {
        entry.encode_into(&mut out);
    }
    let crc = crc32c::crc32c(&out[CRC_COVERED_FROM..]);
    out[CRC_OFFSET..CRC_COVERED_FROM].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Decodes a whole snapshot file. The error is the reason the bytes are not
/// a valid version-1 snapshot; [`read_snapshot`] turns it into
/// [`Error::CorruptSnapshot`]. Never panics, and allocates only for entries
/// the bytes actually hold. Trailing bytes after the last entry are refused
/// (Kafka never writes them).
pub fn decode_snapshot(bytes: &[u8]) -> std::result::Result<Vec<SnapshotEntry>, String> {
    if bytes.len() < SNAPSHOT_HEADER_SIZE {
        return Err(format!(
            "{} bytes, shorter than the {SNAPSHOT_HEADER_SIZE}-byte header",
            bytes.len()
        ));
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    if version != SNAPSHOT_VERSION {
        return Err(format!(
            "unknown snapshot version {version} (expected {SNAPSHOT_VERSION})"
        ));
    }
    let stored = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
    let computed = crc32c::crc32c(&bytes[CRC_COVERED_FROM..]);
    if stored != computed {
        return Err(format!(
            "CRC-32C mismatch: stored {stored:#010x}, computed {computed:#010x}"
        ));
    }
    let count = i32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
    let body = &bytes[SNAPSHOT_HEADER_SIZE..];
    let Ok(count) = usize::try_from(count) else {
        return Err(format!("negative entry count {count}"));
    };
    let held = body.len() / SNAPSHOT_ENTRY_SIZE;
    if count > held {
        return Err(format!(
            "entry count {count} needs {} bytes of entries, the file has {}",
            count.saturating_mul(SNAPSHOT_ENTRY_SIZE),
            body.len()
        ));
    }
    let used = count * SNAPSHOT_ENTRY_SIZE;
    if body.len() != used {
        return Err(format!(
            "{} trailing bytes after {count} entries",
            body.len() - used
        ));
    }
    let mut entries = Vec::with_capacity(count);
    for chunk in body.chunks_exact(SNAPSHOT_ENTRY_SIZE) {
        let mut raw = [0u8; SNAPSHOT_ENTRY_SIZE];
        raw.copy_from_slice(chunk);
        entries.push(SnapshotEntry::decode(&raw));
    }
    Ok(entries)
}

/// Reads and checks a snapshot file (version, CRC-32C, count, length).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::CorruptSnapshot`]
/// naming the file if its bytes are not a valid snapshot.
pub fn read_snapshot(path: impl AsRef<Path>) -> Result<Vec<SnapshotEntry>> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_snapshot(&bytes).map_err(|reason| Error::CorruptSnapshot {
        path: path.to_path_buf(),
        reason,
    })
}

/// Writes a snapshot file atomically: `<path>.tmp` is written and fsynced,
/// renamed over `path`, and the directory fsynced. A crash leaves either the
/// old file (or none) or the complete new one.
///
/// # Errors
/// [`Error::Io`] naming the file that failed; [`Error::CorruptSnapshot`] if
/// more than [`MAX_ENTRIES`] entries are given (not expressible).
pub fn write_snapshot(path: impl AsRef<Path>, entries: &[SnapshotEntry]) -> Result<()> {
    let path = path.as_ref();
    if entries.len() > MAX_ENTRIES {
        return Err(Error::CorruptSnapshot {
            path: path.to_path_buf(),
            reason: format!("{} entries do not fit the i32 count", entries.len()),
        });
    }
    let bytes = encode_snapshot(entries);
    let tmp = temp_path(path);
    let written = write_synced(&tmp, &bytes).and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        sync_parent_dir(path)
    });
    if written.is_err() {
        // Best effort: a failed write must not leave a half file behind.
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(TEMP_SUFFIX);
    PathBuf::from(name)
}

/// The path of the snapshot taken at `offset` in a partition directory:
/// `<dir>/<20-digit offset>.snapshot`.
pub fn snapshot_path(dir: impl AsRef<Path>, offset: i64) -> PathBuf {
    file_name::file_path(dir.as_ref(), offset, FileKind::Snapshot)
}

/// The offsets of the snapshot files in a partition directory, ascending.
/// Only regular files named `<20 digits>.snapshot` count. A directory that
/// does not exist has none (as in Kafka).
///
/// # Errors
/// [`Error::Io`] if the directory cannot be listed.
pub fn snapshot_offsets(dir: impl AsRef<Path>) -> Result<Vec<i64>> {
    let dir = dir.as_ref();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut offsets = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some((offset, FileKind::Snapshot)) = name.to_str().and_then(file_name::parse) else {
            continue;
        };
        if entry.path().is_file() {
            offsets.push(offset);
        }
    }
    offsets.sort_unstable();
    offsets.dedup();
    Ok(offsets)
}

/// Deletes the snapshot files whose offset satisfies `doomed`, then fsyncs
/// the directory once. Returns the deleted offsets, ascending.
fn delete_snapshots_where(dir: &Path, doomed: impl Fn(i64) -> bool) -> Result<Vec<i64>> {
    let mut deleted = Vec::new();
    for offset in snapshot_offsets(dir)? {
        if !doomed(offset) {
            continue;
        }
        let path = snapshot_path(dir, offset);
        match fs::remove_file(&path) {
            Ok(()) => deleted.push(offset),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    if !deleted.is_empty() {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

/// Deletes the snapshots taken above `offset` (after a truncation to
/// `offset` they describe records that no longer exist). Returns their
/// offsets.
///
/// # Errors
/// [`Error::Io`] naming the file or directory that failed.
pub fn delete_snapshots_above(dir: impl AsRef<Path>, offset: i64) -> Result<Vec<i64>> {
    delete_snapshots_where(dir.as_ref(), |o| o > offset)
}

/// Deletes the snapshots taken below `offset` (Kafka's
/// `deleteSnapshotsBefore`, when segments below it are deleted). Returns
/// their offsets.
///
/// # Errors
/// [`Error::Io`] naming the file or directory that failed.
pub fn delete_snapshots_below(dir: impl AsRef<Path>, offset: i64) -> Result<Vec<i64>> {
    delete_snapshots_where(dir.as_ref(), |o| o < offset)
}

/// Deletes the snapshot taken at exactly `offset` (for example a corrupt
/// one). Returns whether a file was deleted.
///
/// # Errors
/// [`Error::Io`] naming the file or directory that failed.
pub fn delete_snapshot(dir: impl AsRef<Path>, offset: i64) -> Result<bool> {
    Ok(!delete_snapshots_where(dir.as_ref(), |o| o == offset)?.is_empty())
}

/// Removes `<offset>.snapshot.tmp` files left by a crash in the middle of
/// [`write_snapshot`]. Returns how many were removed.
///
/// # Errors
/// [`Error::Io`] naming the file or directory that failed.
pub fn remove_temp_files(dir: impl AsRef<Path>) -> Result<usize> {
    let dir = dir.as_ref();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let is_temp = name
            .to_str()
            .and_then(|n| n.strip_suffix(TEMP_SUFFIX))
            .and_then(file_name::parse)
            .is_some_and(|(_, kind)| kind == FileKind::Snapshot);
        if is_temp {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(producer_id: i64) -> SnapshotEntry {
        SnapshotEntry {
            producer_id,
            producer_epoch: 3,
            last_sequence: 41,
            last_offset: 1_000 + producer_id,
            offset_delta: 4,
            timestamp: 1_700_000_000_123,
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }

    /// The file layout checked field by field against hand-written bytes.
    #[test]
    fn write_read_roundtrip_with_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_path(dir.path(), 1_005);
        assert!(path.ends_with("00000000000000001005.snapshot"));
        let entries = [
            entry(7),
            SnapshotEntry {
                producer_id: i64::MAX,
                producer_epoch: i16::MAX,
                last_sequence: i32::MAX,
                last_offset: 5,
                offset_delta: 0,
                timestamp: -1,
                coordinator_epoch: 9,
                current_txn_first_offset: Some(3),
            },
        ];
        write_snapshot(&path, &entries).unwrap();
        let bytes = fs::read(&path).unwrap();

        let mut expected = vec![0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 2];
        // entry 1
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]); // producer id
        expected.extend_from_slice(&[0, 3]); // epoch
        expected.extend_from_slice(&[0, 0, 0, 41]); // last sequence
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x03, 0xEF]); // last offset 1007
        expected.extend_from_slice(&[0, 0, 0, 4]); // offset delta
        expected.extend_from_slice(&1_700_000_000_123i64.to_be_bytes()); // timestamp
        expected.extend_from_slice(&[0xFF; 4]); // coordinator epoch -1
        expected.extend_from_slice(&[0xFF; 8]); // no open transaction
        // entry 2
        expected.extend_from_slice(&[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        expected.extend_from_slice(&[0x7F, 0xFF]);
        expected.extend_from_slice(&[0x7F, 0xFF, 0xFF, 0xFF]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        expected.extend_from_slice(&[0, 0, 0, 0]);
        expected.extend_from_slice(&[0xFF; 8]);
        expected.extend_from_slice(&[0, 0, 0, 9]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        let crc = crc32c::crc32c(&expected[6..]);
        expected[2..6].copy_from_slice(&crc.to_be_bytes());

        assert_eq!(bytes.len(), SNAPSHOT_HEADER_SIZE + 2 * SNAPSHOT_ENTRY_SIZE);
        assert_eq!(bytes, expected);
        assert_eq!(read_snapshot(&path).unwrap(), entries);
        assert!(!temp_path(&path).exists());
    }

    /// An empty snapshot is what Kafka writes for a partition without
    /// producers; its bytes are fixed (seen in the real fixtures).
    #[test]
    fn empty_snapshot_bytes() {
        assert_eq!(
            encode_snapshot(&[]),
            [0x00, 0x01, 0x48, 0x67, 0x4B, 0xC7, 0, 0, 0, 0]
        );
        assert_eq!(decode_snapshot(&encode_snapshot(&[])).unwrap(), vec![]);
    }

    #[test]
    fn overwrite_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_path(dir.path(), 0);
        write_snapshot(&path, &[entry(1), entry(2)]).unwrap();
        write_snapshot(&path, &[entry(3)]).unwrap();
        assert_eq!(read_snapshot(&path).unwrap(), vec![entry(3)]);
    }

    fn corrupt_reason(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_path(dir.path(), 42);
        fs::write(&path, bytes).unwrap();
        match read_snapshot(&path) {
            Err(Error::CorruptSnapshot { path: p, reason }) => {
                assert_eq!(p, path);
                reason
            }
            other => panic!("expected CorruptSnapshot, got {other:?}"),
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let good = encode_snapshot(&[entry(1), entry(2)]);
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let reason = corrupt_reason(&bad);
            if bit < 16 {
                assert!(reason.contains("version"), "{bit}: {reason}");
            } else {
                assert!(reason.contains("CRC"), "{bit}: {reason}");
            }
        }
    }

    #[test]
    fn truncation_is_detected() {
        let good = encode_snapshot(&[entry(1), entry(2)]);
        for len in 0..good.len() {
            let reason = corrupt_reason(&good[..len]);
            assert!(!reason.is_empty());
        }
        assert!(corrupt_reason(&good[..5]).contains("header"));
    }

    /// A count claiming more entries than the bytes hold (with a valid CRC,
    /// so the count check itself is reached) allocates nothing.
    #[test]
    fn huge_or_negative_count_is_refused() {
        for count in [i32::MAX, 3, -1, i32::MIN] {
            let mut bytes = encode_snapshot(&[entry(1), entry(2)]);
            bytes[6..10].copy_from_slice(&count.to_be_bytes());
            let crc = crc32c::crc32c(&bytes[6..]);
            bytes[2..6].copy_from_slice(&crc.to_be_bytes());
            let reason = corrupt_reason(&bytes);
            assert!(reason.contains("count"), "{count}: {reason}");
        }
        // Too few: the rest is trailing garbage.
        let mut bytes = encode_snapshot(&[entry(1), entry(2)]);
        bytes[6..10].copy_from_slice(&1i32.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[6..]);
        bytes[2..6].copy_from_slice(&crc.to_be_bytes());
        assert!(corrupt_reason(&bytes).contains("trailing"));
    }

    #[test]
    fn wrong_version_is_refused() {
        let mut bytes = encode_snapshot(&[]);
        bytes[1] = 2;
        assert!(corrupt_reason(&bytes).contains("version 2"));
    }

    #[test]
    fn missing_file_is_io() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_snapshot(dir.path().join("x.snapshot")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }

    #[test]
    fn listing_and_deleting() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(
            snapshot_offsets(d.join("absent")).unwrap(),
            Vec::<i64>::new()
        );
        for offset in [30, 0, 10, 20] {
            write_snapshot(snapshot_path(d, offset), &[]).unwrap();
        }
        // Not snapshots: other kinds, other names, a directory, a temp file.
        fs::write(d.join("00000000000000000005.log"), b"").unwrap();
        fs::write(d.join("5.snapshot"), b"").unwrap();
        fs::write(d.join("00000000000000000040.snapshot.deleted"), b"").unwrap();
        fs::create_dir(d.join("00000000000000000050.snapshot")).unwrap();
        fs::write(d.join("00000000000000000060.snapshot.tmp"), b"").unwrap();
        assert_eq!(snapshot_offsets(d).unwrap(), vec![0, 10, 20, 30]);

        assert_eq!(delete_snapshots_above(d, 20).unwrap(), vec![30]);
        assert_eq!(delete_snapshots_below(d, 10).unwrap(), vec![0]);
        assert!(delete_snapshot(d, 10).unwrap());
        assert!(!delete_snapshot(d, 10).unwrap());
        assert_eq!(snapshot_offsets(d).unwrap(), vec![20]);
        assert_eq!(remove_temp_files(d).unwrap(), 1);
        assert!(!d.join("00000000000000000060.snapshot.tmp").exists());
        assert!(d.join("00000000000000000040.snapshot.deleted").exists());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_snapshot(&bytes);
        }

        /// Arbitrary bytes behind a valid version and CRC still never panic
        /// (reaches the count and entry parsing).
        #[test]
        fn arbitrary_body_with_valid_crc_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = vec![0, 1, 0, 0, 0, 0];
            bytes.extend_from_slice(&body);
            let crc = crc32c::crc32c(&bytes[6..]);
            bytes[2..6].copy_from_slice(&crc.to_be_bytes());
            if let Ok(entries) = decode_snapshot(&bytes) {
                prop_assert_eq!(bytes.len(), SNAPSHOT_HEADER_SIZE + entries.len() * SNAPSHOT_ENTRY_SIZE);
            }
        }

        #[test]
        fn encode_decode_roundtrip(raw in proptest::collection::vec(
            (any::<i64>(), any::<i16>(), any::<i32>(), any::<i64>(), any::<i32>(), any::<i64>(), any::<i32>(), proptest::option::of(0..i64::MAX)),
            0..8,
        )) {
            let entries: Vec<SnapshotEntry> = raw
                .into_iter()
                .map(|(p, e, s, o, d, t, c, x)| SnapshotEntry {
                    producer_id: p,
                    producer_epoch: e,
                    last_sequence: s,
                    last_offset: o,
                    offset_delta: d,
                    timestamp: t,
                    coordinator_epoch: c,
                    current_txn_first_offset: x,
                })
                .collect();
            let bytes = encode_snapshot(&entries);
            prop_assert_eq!(bytes.len(), SNAPSHOT_HEADER_SIZE + entries.len() * SNAPSHOT_ENTRY_SIZE);
            prop_assert_eq!(decode_snapshot(&bytes).unwrap(), entries);
        }
    }

    /// The fixture directory (DESIGN.md section 7 item 13).
    pub(crate) fn fixtures() -> Option<PathBuf> {
        let dir = std::env::var_os("SEGLOG_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/kafka-real")
            });
        if dir.is_dir() {
            return Some(dir);
        }
        assert!(
            std::env::var("SEGLOG_REQUIRE_FIXTURES").as_deref() != Ok("1"),
            "SEGLOG_REQUIRE_FIXTURES=1 but no fixtures at {}",
            dir.display()
        );
        eprintln!(
            "skipping: no Kafka fixtures at {} (set SEGLOG_FIXTURES)",
            dir.display()
        );
        None
    }

    /// Every `.snapshot` file below `root`, sorted.
    pub(crate) fn fixture_snapshots(root: &Path) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "snapshot") {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(root, &mut out);
        out.sort();
        out
    }

    /// Every real Kafka snapshot decodes with a valid CRC, holds sane
    /// entries, and re-encodes to the same bytes.
    #[test]
    fn every_fixture_snapshot_decodes_and_reencodes_exactly() {
        let Some(root) = fixtures() else { return };
        let files = fixture_snapshots(&root);
        assert!(
            !files.is_empty(),
            "no .snapshot files under {}",
            root.display()
        );
        let (mut producers, mut with_producers) = (0, 0);
        for path in &files {
            let bytes = fs::read(path).unwrap();
            let entries = read_snapshot(path).unwrap_or_else(|e| panic!("{e}"));
            let name = path.file_name().unwrap().to_str().unwrap();
            let (snapshot_offset, kind) = file_name::parse(name).unwrap();
            assert_eq!(kind, FileKind::Snapshot);
            assert!(
                entries.len() <= 5,
                "{}: {} producers",
                path.display(),
                entries.len()
            );
            let mut ids = std::collections::HashSet::new();
            for e in &entries {
                let at = path.display();
                assert!(e.producer_id >= 0, "{at}: {e:?}");
                assert!(ids.insert(e.producer_id), "{at}: duplicate producer {e:?}");
                assert!(e.producer_epoch >= 0, "{at}: {e:?}");
                assert!(e.has_batch(), "{at}: {e:?}");
                assert!(e.last_offset < snapshot_offset, "{at}: {e:?}");
                assert!(e.offset_delta >= 0 && e.first_offset() >= 0, "{at}: {e:?}");
                assert!(e.last_sequence >= e.offset_delta, "{at}: {e:?}");
                // 2017-01-01 .. 2100-01-01
                assert!(
                    (1_483_228_800_000..4_102_444_800_000).contains(&e.timestamp),
                    "{at}: {e:?}"
                );
                assert!(e.coordinator_epoch >= -1, "{at}: {e:?}");
                assert_eq!(e.current_txn_first_offset, None, "{at}: {e:?}");
            }
            assert_eq!(encode_snapshot(&entries), bytes, "{}", path.display());
            producers += entries.len();
            with_producers += usize::from(!entries.is_empty());
        }
        eprintln!(
            "{} real snapshots decoded and re-encoded byte for byte; {with_producers} hold producers ({producers} entries)",
            files.len()
        );
    }

    /// Listing a real partition directory finds its snapshots.
    #[test]
    fn fixture_listing() {
        let Some(root) = fixtures() else { return };
        let files = fixture_snapshots(&root);
        let mut dirs: Vec<&Path> = files.iter().filter_map(|p| p.parent()).collect();
        dirs.dedup();
        let listed: usize = dirs
            .iter()
            .map(|d| snapshot_offsets(d).unwrap().len())
            .sum();
        assert_eq!(listed, files.len());
    }
}
