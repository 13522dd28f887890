//! One segment on real files: appends, reads, lookups, Kafka's index rule,
//! seal and reopen, recovery from torn and damaged tails.

mod common;

use proptest::prelude::*;
use seglog::Error;
use seglog::record::{BatchBuilder, BatchHeader, BatchView, Record};
use seglog::segment::{
    FileKind, LogSegment, SegmentConfig, TruncationCause, file_name, verify_segment,
};

const BASE: i64 = 1_000;

/// A batch of `n` records starting at `offset`, timestamps `ts..ts+n`.
fn batch(offset: i64, n: usize, ts: i64, value_len: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(offset).partition_leader_epoch(0);
    for i in 0..n {
        let value = vec![b'a' + (i % 26) as u8; value_len];
        b.push(&Record::keyed(ts + i as i64, format!("k{i}"), value))
            .unwrap();
    }
    b.build().unwrap()
}

fn small_config() -> SegmentConfig {
    SegmentConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 256,
        segment_index_bytes: 4096,
        preallocate_window_bytes: 64 << 10,
        ..SegmentConfig::default()
    }
}

/// Appends `count` batches of 3 records; returns (position, size, last offset) of each.
fn fill(seg: &mut LogSegment, count: usize) -> Vec<(u64, usize, i64)> {
    let mut out = Vec::new();
    for i in 0..count {
        let offset = seg.next_offset();
        let bytes = batch(offset, 3, 10_000 + 10 * i as i64, 40);
        let view = BatchView::parse(&bytes).unwrap();
        let pos = seg.append(&view).unwrap();
        out.push((pos, bytes.len(), view.last_offset()));
    }
    out
}

/// The index entries Kafka's rule gives for batches of these sizes.
fn expected_index(batches: &[(u64, usize, i64)], interval: usize) -> Vec<(i64, u32)> {
    let mut since = 0;
    let mut out = Vec::new();
    for &(pos, size, last) in batches {
        if since > interval {
            out.push((last, pos as u32));
            since = 0;
        }
        since += size;
    }
    out
}

#[test]
fn append_read_lookup_and_kafkas_index_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mut seg = LogSegment::create(dir.path(), BASE, small_config()).unwrap();
    let placed = fill(&mut seg, 50);
    assert_eq!(seg.next_offset(), BASE + 150);
    assert_eq!(seg.max_timestamp(), 10_000 + 490 + 2);

    let index = seg.offset_index().unwrap();
    let got: Vec<_> = (0..index.len()).map(|n| index.entry(n)).collect();
    assert_eq!(got, expected_index(&placed, 256));
    assert!(!got.is_empty());

    // Every offset translates to the batch holding it.
    for &(pos, size, last) in &placed {
        for offset in last - 2..=last {
            let loc = seg.translate_offset(offset).unwrap().unwrap();
            assert_eq!((loc.position, loc.size, loc.last_offset), (pos, size, last));
        }
    }
    assert_eq!(seg.translate_offset(BASE + 150).unwrap(), None);

    // Reads return whole batches, at least one.
    let one = seg.read(placed[3].0, 1).unwrap();
    assert_eq!(one.iter().count(), 1);
    let some = seg.read(placed[3].0, placed[3].1 * 3 + 5).unwrap();
    let got: Vec<_> = some.iter().map(|b| b.base_offset()).collect();
    assert_eq!(got, [BASE + 9, BASE + 12, BASE + 15]);
    assert!(seg.read(seg.size(), 100).unwrap().is_empty());

    // Timestamps: batch i holds 10_000 + 10 i + 0..3 at offsets BASE + 3 i + 0..3.
    assert_eq!(
        seg.find_offset_by_timestamp(0, BASE).unwrap(),
        Some((BASE, 10_000))
    );
    assert_eq!(
        seg.find_offset_by_timestamp(10_101, BASE).unwrap(),
        Some((BASE + 31, 10_101))
    );
    assert_eq!(
        seg.find_offset_by_timestamp(10_103, BASE).unwrap(),
        Some((BASE + 33, 10_110))
    );
    assert_eq!(
        seg.find_offset_by_timestamp(10_103, BASE + 40).unwrap(),
        Some((BASE + 40, 10_131))
    );
    assert_eq!(seg.find_offset_by_timestamp(20_000, BASE).unwrap(), None);
}

#[test]
fn seal_reopen_and_continue() {
    let dir = tempfile::tempdir().unwrap();
    let mut seg = LogSegment::create(dir.path(), BASE, small_config()).unwrap();
    let placed = fill(&mut seg, 20);
    let entries = seg.offset_index().unwrap().len();
    seg.seal().unwrap();
    let log = file_name::file_path(dir.path(), BASE, FileKind::Log);
    let size: usize = placed.iter().map(|p| p.1).sum();
    assert_eq!(std::fs::metadata(&log).unwrap().len(), size as u64);
    let index_len = std::fs::metadata(file_name::file_path(
        dir.path(),
        BASE,
        FileKind::OffsetIndex,
    ))
    .unwrap()
    .len();
    assert_eq!(index_len, entries as u64 * 8);
    // Sealing adds the final time index entry: the segment's max timestamp.
    let time = seg.time_index().unwrap();
    assert_eq!(time.last_entry(), Some((seg.max_timestamp(), placed[19].2)));
    drop(seg);

    let seg = LogSegment::open(dir.path(), BASE, small_config(), false).unwrap();
    assert_eq!(seg.next_offset(), BASE + 60);
    assert_eq!(seg.max_timestamp(), 10_000 + 190 + 2);
    assert!(
        verify_segment(dir.path(), BASE, &small_config())
            .unwrap()
            .is_ok()
    );
    drop(seg);

    let mut seg = LogSegment::open(dir.path(), BASE, small_config(), true).unwrap();
    fill(&mut seg, 5);
    assert_eq!(seg.next_offset(), BASE + 75);
    seg.seal().unwrap();
    let report = verify_segment(dir.path(), BASE, &small_config()).unwrap();
    assert!(report.is_ok(), "{:?}", report.faults);
    assert_eq!(report.records, 75);
}

#[test]
fn appends_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut seg = LogSegment::create(dir.path(), BASE, small_config()).unwrap();
    let below = batch(BASE - 1, 1, 0, 1);
    let err = seg.append(&BatchView::parse(&below).unwrap()).unwrap_err();
    assert!(matches!(err, Error::OffsetNotInSegment { .. }), "{err}");
    let far = batch(BASE + i64::from(i32::MAX) + 1, 1, 0, 1);
    let err = seg.append(&BatchView::parse(&far).unwrap()).unwrap_err();
    assert!(matches!(err, Error::OffsetNotInSegment { .. }), "{err}");
    fill(&mut seg, 2);
    let back = batch(BASE + 3, 1, 0, 1);
    let err = seg.append(&BatchView::parse(&back).unwrap()).unwrap_err();
    assert!(matches!(err, Error::InvalidBatch(_)), "{err}");
    let huge = batch(seg.next_offset(), 1, 0, 2 << 20);
    let err = seg.append(&BatchView::parse(&huge).unwrap()).unwrap_err();
    assert!(matches!(err, Error::SegmentFull { .. }), "{err}");
}

#[test]
fn read_handles_outlive_recovery_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let mut seg = LogSegment::create(dir.path(), BASE, small_config()).unwrap();
    let placed = fill(&mut seg, 10);
    let held = seg.read(placed[8].0, 1 << 20).unwrap();
    let before = held.as_bytes().clone();
    drop(seg);
    // Damage batch 5's CRC-covered bytes, then recover while `held` lives.
    let log = file_name::file_path(dir.path(), BASE, FileKind::Log);
    flip_byte(&log, placed[5].0 + 70);
    let mut seg = LogSegment::open_for_recovery(dir.path(), BASE, small_config()).unwrap();
    let report = seg.recover().unwrap();
    assert_eq!(report.valid_bytes, placed[5].0);
    assert!(
        matches!(report.cause, Some(TruncationCause::Corrupt { position, .. }) if position == placed[5].0)
    );
    assert_eq!(seg.next_offset(), BASE + 15);
    assert_eq!(held.as_bytes(), &before);
    assert!(held.iter().all(|b| b.verify_crc().is_ok()));
}

#[test]
fn unclean_stop_leaves_a_zero_tail_that_recovery_removes() {
    let dir = tempfile::tempdir().unwrap();
    let mut seg = LogSegment::create(dir.path(), BASE, small_config()).unwrap();
    let placed = fill(&mut seg, 10);
    let size = seg.size();
    std::mem::forget(seg); // no seal, no drop: as if the process died
    let log = file_name::file_path(dir.path(), BASE, FileKind::Log);
    assert!(std::fs::metadata(&log).unwrap().len() > size);
    let mut seg = LogSegment::open_for_recovery(dir.path(), BASE, small_config()).unwrap();
    let report = seg.recover().unwrap();
    assert_eq!(report.cause, Some(TruncationCause::PreallocatedTail));
    assert_eq!((report.valid_bytes, report.batches), (size, 10));
    assert_eq!(seg.next_offset(), placed[9].2 + 1);
    fill(&mut seg, 1);
    seg.seal().unwrap();
    assert!(
        verify_segment(dir.path(), BASE, &small_config())
            .unwrap()
            .is_ok()
    );
}

#[test]
fn a_damaged_base_offset_is_caught_by_the_offset_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut seg = LogSegment::create(dir.path(), BASE, small_config()).unwrap();
    let placed = fill(&mut seg, 6);
    seg.seal().unwrap();
    drop(seg);
    let log = file_name::file_path(dir.path(), BASE, FileKind::Log);
    // baseOffset is outside the CRC: make batch 3 claim batch 1's offsets.
    let mut data = std::fs::read(&log).unwrap();
    let at = placed[3].0 as usize;
    data[at..at + 8].copy_from_slice(&(BASE + 3).to_be_bytes());
    std::fs::write(&log, &data).unwrap();
    let report = verify_segment(dir.path(), BASE, &small_config()).unwrap();
    assert!(
        report
            .faults
            .iter()
            .any(|f| f.position == Some(placed[3].0)),
        "{:?}",
        report.faults
    );
    let mut seg = LogSegment::open_for_recovery(dir.path(), BASE, small_config()).unwrap();
    assert_eq!(seg.recover().unwrap().valid_bytes, placed[3].0);
}

fn flip_byte(path: &std::path::Path, at: u64) {
    let mut data = std::fs::read(path).unwrap();
    data[at as usize] ^= 0x10;
    std::fs::write(path, &data).unwrap();
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Cutting the `.log` anywhere, or flipping any bit after the cut
    /// point's batch start, recovers exactly the whole batches before the
    /// damage.
    #[test]
    fn recovery_keeps_exactly_the_valid_prefix(
        batches in 1usize..12,
        cut_frac in 0.0f64..1.0,
        flip in proptest::option::of((0.0f64..1.0, 0u8..8)),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(dir.path(), BASE, small_config()).unwrap();
        let placed = fill(&mut seg, batches);
        seg.seal().unwrap();
        drop(seg);
        let log = file_name::file_path(dir.path(), BASE, FileKind::Log);
        let mut data = std::fs::read(&log).unwrap();
        let cut = (data.len() as f64 * cut_frac) as usize;
        data.truncate(cut.max(1));
        let mut damaged_at = data.len();
        if let Some((frac, bit)) = flip {
            let at = (data.len() as f64 * frac) as usize;
            data[at] ^= 1 << bit;
            damaged_at = damaged_at.min(at);
        }
        std::fs::write(&log, &data).unwrap();
        // The batches that end before the damage and lie entirely in the file.
        let expect: Vec<_> = placed.iter().filter(|p| (p.0 as usize + p.1) <= damaged_at).collect();
        let mut seg = LogSegment::open_for_recovery(dir.path(), BASE, small_config()).unwrap();
        let report = seg.recover().unwrap();
        let kept = expect.last().map_or(0, |p| p.0 + p.1 as u64);
        // A flip in baseOffset/length of a later batch can only shorten the prefix.
        prop_assert!(report.valid_bytes <= data.len() as u64);
        prop_assert!(report.valid_bytes >= kept || flip.is_some());
        prop_assert_eq!(report.batches as usize, placed.iter().filter(|p| p.0 + (p.1 as u64) <= report.valid_bytes).count());
        let slice = seg.read(0, usize::MAX).unwrap();
        for b in slice.iter() {
            prop_assert!(b.verify_crc().is_ok());
        }
        prop_assert_eq!(slice.size() as u64, report.valid_bytes);
        seg.seal().unwrap();
        prop_assert!(verify_segment(dir.path(), BASE, &small_config()).unwrap().is_ok());
    }
}
