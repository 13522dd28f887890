//! Power loss: everything not fsynced may be lost or damaged (DESIGN.md
//! section 3, "Nothing flushed is lost; nothing corrupt is ever returned",
//! and section 7 item 13: a SIGKILL keeps the page cache, so it alone proves
//! nothing about fsync).
//!
//! The model: `flush()` returns the flushed offset F; more records are
//! appended and not flushed; then the partition is abandoned without
//! closing (`mem::forget`), and in its directory only what was never
//! fsynced is damaged: in the active segment's `.log` (the highest base
//! offset), the bytes from the first batch at or past F on (cut, garbage,
//! zeros, or left alone), and the active segment's `.index` / `.timeindex`
//! (deleted, cut or garbled). Sealed segments were fsynced when sealed and
//! are left alone. The partition is reopened as after a crash, with F as the
//! recovery point, and must hold exactly the records before the first
//! damaged batch: every offset below F, a dense ordered prefix, nothing that
//! fails its CRC, and appends continue at the recovered end.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use seglog::clock::ManualClock;
use seglog::config::TopicConfig;
use seglog::partition::{OpenOptions, OpenReport, Partition, RecordsOptions};
use seglog::record::{BatchHeader, Record, batches};
use seglog::segment::{FileKind, file_name, verify_segment};

const T0: i64 = 1_700_000_000_000;

fn config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 16 << 10,
        segment_index_bytes: 16 << 10,
        index_interval_bytes: 512,
        preallocate_window_bytes: 16 << 10,
        ..TopicConfig::default()
    }
    .clock(Arc::new(ManualClock::new(T0)))
}

/// The value of the record at `offset`: it names its offset (16 to 56 bytes).
fn value_for(offset: i64) -> String {
    format!("rec-{offset:010}-{}", "p".repeat((offset % 41) as usize))
}

/// Appends one batch per entry of `sizes` (records per batch) after `end`;
/// returns the new log end.
fn append_batches(p: &Partition, mut end: i64, sizes: &[usize]) -> i64 {
    for &n in sizes {
        let records: Vec<Record> = (end..end + n as i64)
            .map(|o| Record::new(T0, value_for(o)))
            .collect();
        let info = p
            .append_records(&records, RecordsOptions::default())
            .unwrap();
        assert_eq!(info.base_offset, end);
        end = info.last_offset + 1;
    }
    end
}

/// A partition abandoned without closing after a flush at `flushed` and
/// unflushed appends up to `end`.
struct Abandoned {
    _root: tempfile::TempDir,
    dir: PathBuf,
    flushed: i64,
    end: i64,
}

/// Appends `before`, flushes, appends `after`, and abandons the partition
/// as a power loss would: no close, no trim, nothing more synced.
fn write_and_abandon(before: &[usize], after: &[usize]) -> Abandoned {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("power-0");
    let (p, _) = Partition::open(&dir, config(), OpenOptions::default()).unwrap();
    let mid = append_batches(&p, 0, before);
    let flushed = p.flush().unwrap();
    assert_eq!(flushed, mid);
    assert_eq!(p.flushed_offset(), mid);
    let end = append_batches(&p, mid, after);
    // Leak the handle: no Drop may tidy up what a power loss would not.
    std::mem::forget(p);
    Abandoned {
        _root: root,
        dir,
        flushed,
        end,
    }
}

/// One batch of the active segment as written.
#[derive(Debug, Clone, Copy)]
struct Placed {
    position: usize,
    size: usize,
    base_offset: i64,
    next_offset: i64,
}

/// The batches of a segment's bytes up to the first one that does not frame
/// (the zero-filled space reserved ahead of the writer).
fn layout(data: &[u8]) -> Vec<Placed> {
    batches(data)
        .map_while(Result::ok)
        .map(|(position, view)| Placed {
            position,
            size: view.size(),
            base_offset: view.base_offset(),
            next_offset: view.next_offset(),
        })
        .collect()
}

/// The active segment: the highest base offset.
fn active_base(dir: &Path) -> i64 {
    *common::segment_bases(dir).last().unwrap()
}

fn path_of(dir: &Path, base: i64, kind: FileKind) -> PathBuf {
    file_name::file_path(dir, base, kind)
}

/// Byte position in the active segment's `.log` where unsynced data
/// begins: the first batch whose base offset is at or past `flushed`, or
/// the end of the batches when there is none.
fn unsynced_from(data: &[u8], flushed: i64) -> usize {
    let mut end = 0;
    for item in batches(data) {
        match item {
            Ok((position, view)) if view.base_offset() >= flushed => return position,
            Ok((position, view)) => end = position + view.size(),
            Err((position, _)) => return position,
        }
    }
    end
}

/// What happens to the unsynced part of the active `.log`. The numbers are
/// raw draws, mapped into the unsynced range when applied.
#[derive(Debug, Clone)]
enum LogDamage {
    /// Nothing was lost.
    Leave,
    /// The file ends at a point at or past the unsynced start.
    Cut(u64),
    /// Some spots were overwritten with these bytes.
    Garbage(Vec<(u64, Vec<u8>)>),
    /// A range (start draw, length) reads as zeros.
    Zero(u64, u64),
}

/// What happens to one of the active segment's index files.
#[derive(Debug, Clone)]
enum IndexDamage {
    Keep,
    Delete,
    /// The file ends at a point (a draw over its length).
    Cut(u64),
    /// A spot (a draw over its length) was overwritten with these bytes.
    Garbage(u64, Vec<u8>),
}

/// Damages `[from, len)` of the file at `path`, whose batches are
/// `placed`; returns the first byte position whose content changed (a cut
/// counts from the new length), or `None` when nothing did.
///
/// baseOffset and partitionLeaderEpoch lie outside the CRC (Kafka's
/// format), so garbage confined to them can pass recovery's checks; that
/// case has its own tests (`damaged_base_offset_is_not_kept`,
/// `damaged_leader_epoch_is_not_kept`). Here, when garbage changed only
/// those bytes of the first batch it reached, one CRC-covered byte of that
/// batch is flipped as well, so the random test stays about the rest.
fn damage_log(path: &Path, from: usize, damage: &LogDamage, placed: &[Placed]) -> Option<usize> {
    let before = fs::read(path).unwrap();
    let len = before.len();
    assert!(from <= len);
    let span = (len - from) as u64;
    let mut after = before.clone();
    match damage {
        LogDamage::Leave => {}
        LogDamage::Cut(draw) => after.truncate(from + (draw % (span + 1)) as usize),
        LogDamage::Garbage(spots) => {
            for (draw, bytes) in spots {
                if span == 0 {
                    break;
                }
                let start = from + (draw % span) as usize;
                let end = (start + bytes.len()).min(len);
                after[start..end].copy_from_slice(&bytes[..end - start]);
            }
        }
        LogDamage::Zero(draw, length) => {
            let start = from + (draw % (span + 1)) as usize;
            let end = (start + *length as usize).min(len);
            after[start..end].fill(0);
        }
    }
    if let LogDamage::Garbage(_) = damage {
        cover_uncovered_only_damage(&before, &mut after, placed);
    }
    fs::write(path, &after).unwrap();
    let changed = before.iter().zip(&after).position(|(a, b)| a != b);
    match changed {
        Some(at) => Some(at),
        None if after.len() < len => Some(after.len()),
        None => None,
    }
}

/// Bytes of a batch outside its CRC that recovery cannot check: baseOffset
/// (0..8) and partitionLeaderEpoch (12..16).
fn outside_crc(relative: usize) -> bool {
    relative < 8 || (12..16).contains(&relative)
}

/// See [`damage_log`]: makes sure the first damaged batch has a damaged
/// CRC-covered byte when it has any damage at all.
fn cover_uncovered_only_damage(before: &[u8], after: &mut [u8], placed: &[Placed]) {
    let Some(first) = before.iter().zip(&*after).position(|(a, b)| a != b) else {
        return;
    };
    let Some(b) = placed
        .iter()
        .find(|b| (b.position..b.position + b.size).contains(&first))
    else {
        return;
    };
    let range = b.position..b.position + b.size;
    let only_outside = range
        .clone()
        .filter(|&i| before[i] != after[i])
        .all(|i| outside_crc(i - b.position));
    if only_outside {
        // The attributes' high byte, the first byte under the CRC.
        after[b.position + 21] ^= 0x80;
    }
}

fn damage_index(path: &Path, damage: &IndexDamage) {
    if !path.exists() {
        return;
    }
    let mut data = fs::read(path).unwrap();
    let len = data.len() as u64;
    match damage {
        IndexDamage::Keep => return,
        IndexDamage::Delete => return fs::remove_file(path).unwrap(),
        IndexDamage::Cut(draw) => data.truncate((draw % (len + 1)) as usize),
        IndexDamage::Garbage(_, _) if len == 0 => {}
        IndexDamage::Garbage(draw, bytes) => {
            let start = (draw % len) as usize;
            let end = (start + bytes.len()).min(data.len());
            data[start..end].copy_from_slice(&bytes[..end - start]);
        }
    }
    fs::write(path, &data).unwrap();
}

/// Applies the damage to the abandoned partition and returns the log end
/// recovery must find: the end of the last batch wholly before the first
/// damaged byte of the active segment.
fn lose_power(
    a: &Abandoned,
    log: &LogDamage,
    offset_index: &IndexDamage,
    time_index: &IndexDamage,
) -> i64 {
    let base = active_base(&a.dir);
    let log_path = path_of(&a.dir, base, FileKind::Log);
    let data = fs::read(&log_path).unwrap();
    let placed = layout(&data);
    assert_eq!(
        placed.last().map_or(base, |b| b.next_offset),
        a.end,
        "the active segment should end at the log end"
    );
    let from = unsynced_from(&data, a.flushed);
    let first_changed = damage_log(&log_path, from, log, &placed);
    damage_index(&path_of(&a.dir, base, FileKind::OffsetIndex), offset_index);
    damage_index(&path_of(&a.dir, base, FileKind::TimeIndex), time_index);
    placed
        .iter()
        .take_while(|b| first_changed.is_none_or(|d| b.position + b.size <= d))
        .last()
        .map_or(base, |b| b.next_offset)
}

fn reopen(dir: &Path, recovery_point: i64) -> (Partition, OpenReport) {
    let options = OpenOptions {
        clean_shutdown: false,
        recovery_point,
        ..OpenOptions::default()
    };
    Partition::open(dir, config(), options).unwrap()
}

/// Reads the whole log and checks it is a dense ordered prefix `0..end`
/// with the right values, each batch with a valid CRC, records that decode
/// and the leader epoch it was written with. Returns the offsets read.
fn check_prefix(p: &Partition) -> i64 {
    assert_eq!(p.log_start_offset(), 0);
    let mut next = 0;
    loop {
        let slice = p.read(next, 64 << 10).unwrap();
        if slice.is_empty() {
            break;
        }
        for batch in slice.iter() {
            assert_eq!(
                batch.base_offset(),
                next,
                "batches must follow each other without gaps"
            );
            batch.verify_crc().unwrap();
            batch.validate(&p.config().decode).unwrap();
            assert_eq!(
                batch.partition_leader_epoch(),
                p.leader_epoch(),
                "batch at {next} has a damaged leader epoch"
            );
            for record in batch.records(&p.config().decode).unwrap().iter() {
                let record = record.unwrap();
                assert_eq!(record.offset(), next, "offsets must be dense");
                assert_eq!(record.value().unwrap(), value_for(next).as_bytes());
                next += 1;
            }
        }
    }
    assert_eq!(
        next,
        p.log_end_offset(),
        "read end differs from the log end"
    );
    next
}

/// After recovery: the log holds exactly `expected_end` records, then
/// takes appends, closes cleanly with sound segments, and reopens intact.
fn check_recovered(a: &Abandoned, expected_end: i64) {
    let (p, report) = reopen(&a.dir, a.flushed);
    assert!(
        !report.recovered.is_empty(),
        "an unclean open must scan the active segment"
    );
    let end = check_prefix(&p);
    assert!(
        end >= a.flushed,
        "flushed records lost: recovered end {end} < flushed {}",
        a.flushed
    );
    assert_eq!(
        end, expected_end,
        "recovered end (flushed {}, appended {}); report {report:?}",
        a.flushed, a.end
    );
    assert_eq!(p.flushed_offset(), end, "everything recovered is on disk");

    let new_end = append_batches(&p, end, &[3, 1, 7]);
    assert_eq!(check_prefix(&p), new_end);
    p.close().unwrap();
    let segment_config = p.config().segment_config();
    for base in common::segment_bases(&a.dir) {
        let verified = verify_segment(&a.dir, base, &segment_config).unwrap();
        assert!(verified.is_ok(), "segment {base}: {:?}", verified.faults);
    }
    drop(p);
    let options = OpenOptions {
        clean_shutdown: true,
        recovery_point: new_end,
        ..OpenOptions::default()
    };
    let (p, _) = Partition::open(&a.dir, config(), options).unwrap();
    assert_eq!(check_prefix(&p), new_end);
    p.close().unwrap();
}

// ---- Deterministic cases, one per kind of damage -------------------------

/// 30 batches of 4 records flushed, then 30 unflushed batches of 4, all in
/// the first segment.
fn standard() -> Abandoned {
    let a = write_and_abandon(&[4; 30], &[4; 30]);
    assert_eq!(common::segment_bases(&a.dir), vec![0], "no roll expected");
    a
}

/// The position and size of the `n`th batch after the flushed ones.
fn unflushed_batch(a: &Abandoned, n: usize) -> Placed {
    let base = active_base(&a.dir);
    let data = fs::read(path_of(&a.dir, base, FileKind::Log)).unwrap();
    let from = unsynced_from(&data, a.flushed);
    let placed = layout(&data);
    let first = placed.iter().position(|b| b.position == from).unwrap();
    let b = placed[first + n];
    assert_eq!(b.base_offset, a.flushed + 4 * n as i64, "batches of 4");
    b
}

#[test]
fn nothing_lost_leaves_every_record() {
    let a = standard();
    let expected = lose_power(
        &a,
        &LogDamage::Leave,
        &IndexDamage::Keep,
        &IndexDamage::Keep,
    );
    assert_eq!(expected, a.end);
    check_recovered(&a, a.end);
}

#[test]
fn cut_inside_an_unflushed_batch() {
    let a = standard();
    let b = unflushed_batch(&a, 10);
    let path = path_of(&a.dir, active_base(&a.dir), FileKind::Log);
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len((b.position + b.size / 2) as u64).unwrap();
    check_recovered(&a, b.base_offset);
}

#[test]
fn cut_at_the_flush_point_keeps_exactly_the_flushed_records() {
    let a = standard();
    let expected = lose_power(
        &a,
        &LogDamage::Cut(0),
        &IndexDamage::Keep,
        &IndexDamage::Keep,
    );
    assert_eq!(expected, a.flushed);
    check_recovered(&a, a.flushed);
}

#[test]
fn garbage_inside_unflushed_records() {
    let a = standard();
    let b = unflushed_batch(&a, 7);
    let path = path_of(&a.dir, active_base(&a.dir), FileKind::Log);
    let mut data = fs::read(&path).unwrap();
    // Past the 61-byte header: inside the records, under the CRC.
    for byte in &mut data[b.position + 70..b.position + 80] {
        *byte ^= 0xa5;
    }
    fs::write(&path, &data).unwrap();
    check_recovered(&a, b.base_offset);
}

#[test]
fn garbage_over_the_crc_field() {
    let a = standard();
    let b = unflushed_batch(&a, 3);
    let path = path_of(&a.dir, active_base(&a.dir), FileKind::Log);
    let mut data = fs::read(&path).unwrap();
    data[b.position + 17] ^= 0xff;
    fs::write(&path, &data).unwrap();
    check_recovered(&a, b.base_offset);
}

#[test]
fn zeroed_range_in_the_unflushed_tail() {
    let a = standard();
    let b = unflushed_batch(&a, 5);
    let path = path_of(&a.dir, active_base(&a.dir), FileKind::Log);
    let mut data = fs::read(&path).unwrap();
    // From the middle of batch 5 into batch 8: batches after stay intact
    // on disk, but nothing after the first damaged batch may come back.
    let c = unflushed_batch(&a, 8);
    assert!(c.position > b.position);
    data[b.position + b.size / 2..c.position + 10].fill(0);
    fs::write(&path, &data).unwrap();
    check_recovered(&a, b.base_offset);
}

#[test]
fn zeros_from_a_batch_boundary_look_like_the_reserved_tail() {
    let a = standard();
    let b = unflushed_batch(&a, 12);
    let path = path_of(&a.dir, active_base(&a.dir), FileKind::Log);
    let mut data = fs::read(&path).unwrap();
    data[b.position..b.position + b.size].fill(0);
    fs::write(&path, &data).unwrap();
    check_recovered(&a, b.base_offset);
}

#[test]
fn lost_and_damaged_index_files_are_rebuilt() {
    let a = standard();
    let expected = lose_power(
        &a,
        &LogDamage::Leave,
        &IndexDamage::Delete,
        &IndexDamage::Garbage(100, vec![0xff; 40]),
    );
    assert_eq!(expected, a.end);
    check_recovered(&a, a.end);

    let a = standard();
    let expected = lose_power(
        &a,
        &LogDamage::Cut(1_000),
        &IndexDamage::Garbage(3, vec![0x7f; 64]),
        &IndexDamage::Cut(13),
    );
    check_recovered(&a, expected);
}

/// The flush point lies in a segment sealed since; the active segment,
/// created after the flush, is entirely unsynced and loses everything.
#[test]
fn active_segment_created_after_the_flush_is_lost_whole() {
    let a = write_and_abandon(&[5; 20], &[5; 200]);
    let bases = common::segment_bases(&a.dir);
    assert!(bases.len() >= 3, "expected rolls: {bases:?}");
    let active = *bases.last().unwrap();
    assert!(active > a.flushed);
    let expected = lose_power(
        &a,
        &LogDamage::Cut(0),
        &IndexDamage::Delete,
        &IndexDamage::Delete,
    );
    assert_eq!(expected, active);
    check_recovered(&a, active);
}

/// baseOffset (bytes 0..8) is outside the CRC, as in Kafka. A damaged one
/// that still lies inside the segment must not make recovery keep the
/// batch with offsets that were never assigned: the log would have a gap,
/// and a reader would see records under the wrong offsets.
#[test]
fn damaged_base_offset_is_not_kept() {
    let a = standard();
    let b = unflushed_batch(&a, 4);
    let path = path_of(&a.dir, active_base(&a.dir), FileKind::Log);
    let mut data = fs::read(&path).unwrap();
    data[b.position..b.position + 8].copy_from_slice(&(b.base_offset + 3).to_be_bytes());
    fs::write(&path, &data).unwrap();
    check_recovered(&a, b.base_offset);
}

/// partitionLeaderEpoch (bytes 12..16) is outside the CRC too.
#[test]
fn damaged_leader_epoch_is_not_kept() {
    let a = standard();
    let b = unflushed_batch(&a, 4);
    let path = path_of(&a.dir, active_base(&a.dir), FileKind::Log);
    let mut data = fs::read(&path).unwrap();
    data[b.position + 15] = 0x42;
    fs::write(&path, &data).unwrap();
    check_recovered(&a, b.base_offset);
}

// ---- Random damage ---------------------------------------------------------

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

fn log_damage() -> impl Strategy<Value = LogDamage> {
    prop_oneof![
        Just(LogDamage::Leave),
        any::<u64>().prop_map(LogDamage::Cut),
        proptest::collection::vec(
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 1..64)),
            1..4
        )
        .prop_map(LogDamage::Garbage),
        (any::<u64>(), 1..8192u64).prop_map(|(at, len)| LogDamage::Zero(at, len)),
    ]
}

fn index_damage() -> impl Strategy<Value = IndexDamage> {
    prop_oneof![
        2 => Just(IndexDamage::Keep),
        1 => Just(IndexDamage::Delete),
        1 => any::<u64>().prop_map(IndexDamage::Cut),
        1 => (any::<u64>(), proptest::collection::vec(any::<u8>(), 1..32))
            .prop_map(|(at, bytes)| IndexDamage::Garbage(at, bytes)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Keep tests/ free of a regressions file; a failure prints its input.
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases())
    })]

    #[test]
    fn power_loss_keeps_the_flushed_prefix(
        before in proptest::collection::vec(1..12usize, 0..80),
        after in proptest::collection::vec(1..12usize, 0..80),
        log in log_damage(),
        offset_index in index_damage(),
        time_index in index_damage(),
    ) {
        let a = write_and_abandon(&before, &after);
        let expected = lose_power(&a, &log, &offset_index, &time_index);
        prop_assert!(expected >= a.flushed);
        check_recovered(&a, expected);
    }
}
