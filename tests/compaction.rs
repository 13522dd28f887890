//! Compaction (the log cleaner) of one partition: the latest record per key
//! survives with its offset, tombstones live `delete.retention.ms` from the
//! first cleaning that saw them, producers' last batches survive, the dirty
//! ratio and both lags decide when to clean, the active segment is never
//! touched, and a crash mid-cleaning leaves a correct log. A proptest runs
//! random appends, tombstones, time, rolls, cleanings (small map budgets
//! force several rounds) and reopens against an exact model of the
//! cleaner. Case count: `PROPTEST_CASES` (default 24).
//!
//! Throughput: `cargo test --release --test compaction -- --ignored --nocapture`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use seglog::Error;
use seglog::cleaner::{CleanStats, CleanerConfig, OffsetMap, clean_partition, cleanable};
use seglog::clock::{Clock, ManualClock};
use seglog::config::{CleanupPolicy, TopicConfig};
use seglog::partition::{OpenOptions, Partition, RecordsOptions};
use seglog::record::{BatchBuilder, BatchHeader, BatchView, Compression, Record, TimestampType};
use seglog::segment::file_name::{CLEANED_SUFFIX, suffixed_path};
use seglog::segment::{FileKind, LogSegment, verify_segment};

const T0: i64 = 1_700_000_000_000;
const RETENTION: i64 = 10_000;

fn config(clock: &ManualClock) -> TopicConfig {
    TopicConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        segment_bytes: 1024,
        delete_retention_ms: RETENTION,
        message_timestamp_after_max_ms: i64::MAX,
        clock: Arc::new(clock.clone()),
        ..TopicConfig::default()
    }
}

fn open(dir: &Path, config: TopicConfig) -> Partition {
    let options = OpenOptions {
        clean_shutdown: true,
        ..OpenOptions::default()
    };
    Partition::open(dir, config, options).unwrap().0
}

fn big_map() -> CleanerConfig {
    CleanerConfig {
        dedupe_buffer_size: 1 << 20,
        ..CleanerConfig::default()
    }
}

/// A map that holds `keys` keys.
fn map_for(keys: usize) -> CleanerConfig {
    CleanerConfig {
        dedupe_buffer_size: 24 * (keys + 1),
        io_buffer_load_factor: 1.0,
        ..CleanerConfig::default()
    }
}

/// A record as read back: offset, key, value, timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp: i64,
}

fn read_all(p: &Partition) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut at = p.log_start_offset();
    while at < p.log_end_offset() {
        let slice = p.read(at, 1 << 20).unwrap();
        if slice.is_empty() {
            break;
        }
        for batch in slice.iter() {
            batch.verify_crc().unwrap();
            for r in batch.records(&p.config().decode).unwrap().iter() {
                let r = r.unwrap();
                if r.offset() >= at {
                    out.push(Rec {
                        offset: r.offset(),
                        key: r.key().map(<[u8]>::to_vec),
                        value: r.value().map(<[u8]>::to_vec),
                        timestamp: r.timestamp(),
                    });
                }
            }
            at = batch.next_offset();
        }
    }
    out
}

fn batch_headers(p: &Partition) -> Vec<seglog::record::RecordBatch> {
    let mut out = Vec::new();
    let mut at = p.log_start_offset();
    while at < p.log_end_offset() {
        let slice = p.read(at, 1 << 20).unwrap();
        for batch in slice.iter() {
            at = batch.next_offset();
            out.push(batch);
        }
    }
    out
}

/// Checks every sealed segment (the active one's `.log` has a
/// preallocated tail until it is sealed).
fn verify_all(p: &Partition) {
    let bases = p.segment_base_offsets();
    for &base in &bases[..bases.len() - 1] {
        let report = verify_segment(p.dir(), base, &p.config().segment_config()).unwrap();
        assert!(report.is_ok(), "segment {base}: {:?}", report.faults);
    }
}

/// Bytes of the active segment, as a reader sees them.
fn active_bytes(p: &Partition) -> Vec<u8> {
    let base = p.segment_infos().last().unwrap().base_offset;
    if base >= p.log_end_offset() {
        return Vec::new();
    }
    p.read(base, usize::MAX).unwrap().as_bytes().to_vec()
}

fn put(p: &Partition, key: &str, value: Option<&str>) -> i64 {
    let now = p.config().clock.now_ms();
    let record = match value {
        Some(v) => Record::keyed(now, key.to_string(), v.to_string()),
        None => Record::tombstone(now, key.to_string()),
    };
    p.append_records(&[record], RecordsOptions::default())
        .unwrap()
        .base_offset
}

/// Cleans until the dirty range is done; returns the last round's stats.
fn clean_fully(p: &Partition, checkpoint: &mut i64, cfg: &CleanerConfig) -> CleanStats {
    let now = p.config().clock.now_ms();
    loop {
        let stats = clean_partition(p, *checkpoint, now, cfg).unwrap();
        *checkpoint = stats.first_dirty_after;
        if !stats.map_full {
            return stats;
        }
    }
}

/// Per key, its (offset, value) records in offset order.
type ByKey = BTreeMap<Vec<u8>, Vec<(i64, Option<Vec<u8>>)>>;

fn by_key(records: &[Rec]) -> ByKey {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for r in records {
        out.entry(r.key.clone().unwrap())
            .or_default()
            .push((r.offset, r.value.clone()));
    }
    out
}

#[test]
fn keeps_the_latest_value_per_key_with_offsets_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("c-0"), config(&clock));
    for i in 0..500 {
        put(&p, &format!("k{}", i % 10), Some(&format!("v{i}")));
    }
    p.roll_now().unwrap();
    let before = read_all(&p);
    let segments = p.segment_infos().len();
    let mut checkpoint = 0;
    let stats = clean_fully(&p, &mut checkpoint, &CleanerConfig::default());
    assert_eq!(checkpoint, 500);
    assert_eq!(
        (stats.first_dirty_before, stats.first_dirty_after),
        (0, 500)
    );
    assert_eq!((stats.records_before, stats.records_after), (500, 10));
    assert_eq!(stats.segments_before, segments - 1);
    assert_eq!(stats.segments_after, 1);
    assert!(stats.bytes_after < stats.bytes_before / 20);
    assert_eq!(stats.map_keys, 10);
    assert_eq!(stats.dirty_ratio_before, 1.0);
    assert_eq!(stats.dirty_ratio_after, 0.0);
    let after = read_all(&p);
    let expected: Vec<Rec> = before.iter().filter(|r| r.offset >= 490).cloned().collect();
    assert_eq!(after, expected);
    assert_eq!(p.log_end_offset(), 500);
    verify_all(&p);
    // Appends go on, and a second cleaning merges the new part.
    for i in 500..520 {
        put(&p, &format!("k{}", i % 20), Some(&format!("v{i}")));
    }
    p.roll_now().unwrap();
    clean_fully(&p, &mut checkpoint, &CleanerConfig::default());
    let keys = by_key(&read_all(&p));
    assert_eq!(keys.len(), 20);
    assert!(keys.values().all(|v| v.len() == 1));
    verify_all(&p);
}

#[test]
fn cleaning_never_touches_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("c-0"), config(&clock));
    for i in 0..100 {
        put(&p, "same", Some(&format!("v{i}")));
    }
    let active = p.segment_infos().last().unwrap().base_offset;
    assert!(active > 0);
    let bytes = active_bytes(&p);
    let stats = clean_partition(&p, 0, T0, &big_map()).unwrap();
    assert_eq!(stats.first_dirty_after, active);
    assert_eq!(active_bytes(&p), bytes);
    // The old segments kept the latest value before the active segment
    // only; every record of the active segment is still there.
    let records = read_all(&p);
    assert_eq!(records.iter().filter(|r| r.offset < active).count(), 1);
    assert_eq!(
        records.iter().filter(|r| r.offset >= active).count() as i64,
        100 - active
    );
}

#[test]
fn tombstones_live_delete_retention_ms_after_the_first_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("c-0"), config(&clock));
    put(&p, "gone", Some("v1"));
    let tombstone = put(&p, "gone", None);
    put(&p, "kept", Some("x"));
    p.roll_now().unwrap();
    let mut checkpoint = 0;
    let t1 = T0 + 5;
    clock.set(t1);
    let stats = clean_fully(&p, &mut checkpoint, &big_map());
    assert_eq!(stats.tombstones_removed, 0);
    let records = read_all(&p);
    assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), [1, 2]);
    let horizon = batch_headers(&p)
        .iter()
        .find(|b| b.base_offset() == tombstone)
        .unwrap()
        .delete_horizon();
    assert_eq!(horizon, Some(t1 + RETENTION));
    // The record keeps its own timestamp under the horizon.
    assert_eq!(records[0].timestamp, T0);

    // Just before the horizon a cleaning keeps it, at it the next drops it.
    for (now, present) in [(t1 + RETENTION - 1, true), (t1 + RETENTION, false)] {
        clock.set(now);
        put(&p, "filler", Some("f"));
        p.roll_now().unwrap();
        let stats = clean_fully(&p, &mut checkpoint, &big_map());
        let offsets: Vec<i64> = read_all(&p).iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets.contains(&tombstone),
            present,
            "at {now}: {offsets:?}"
        );
        assert_eq!(stats.tombstones_removed, u64::from(!present));
        verify_all(&p);
    }
}

#[test]
fn keyless_records_are_refused_on_compacted_topics() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("c-0"), config(&clock));
    let err = p
        .append_records(&[Record::new(T0, "v")], RecordsOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRecord { index: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("without key"), "{err}");
    let mixed = [Record::keyed(T0, "k", "v"), Record::new(T0, "v")];
    let err = p
        .append_records(&mixed, RecordsOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRecord { index: 1, .. }),
        "{err}"
    );
    let mut b = BatchBuilder::new(0);
    b.push(&Record::keyed(T0, "k", "v")).unwrap();
    b.push(&Record::new(T0, "no key")).unwrap();
    let mut bytes = b.build().unwrap();
    let err = p.append_batch(&mut bytes).unwrap_err();
    assert!(
        matches!(err, Error::InvalidRecord { index: 1, .. }),
        "{err}"
    );
    assert_eq!(p.log_end_offset(), 0);
    // Keyed records are fine, and so are keyless ones on a delete topic.
    p.append_records(&mixed[..1], RecordsOptions::default())
        .unwrap();
    let d = open(
        &dir.path().join("d-0"),
        TopicConfig {
            cleanup_policy: CleanupPolicy::DELETE,
            ..config(&clock)
        },
    );
    d.append_records(&[Record::new(T0, "v")], RecordsOptions::default())
        .unwrap();
    d.append_batch(&mut bytes).unwrap();
    // And the cleaner refuses a topic that is not compacted.
    assert!(matches!(
        clean_partition(&d, 0, T0, &big_map()),
        Err(Error::NotAllowed(_))
    ));
}

#[test]
fn dirty_ratio_threshold_decides() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("c-0"), config(&clock));
    for i in 0..200 {
        put(&p, &format!("k{}", i % 40), Some(&format!("value-{i:04}")));
    }
    p.roll_now().unwrap();
    let all = cleanable(&p, 0, T0).unwrap();
    assert_eq!((all.ratio, all.clean_bytes), (1.0, 0));
    assert!(all.must_clean);
    let mut checkpoint = 0;
    clean_fully(&p, &mut checkpoint, &big_map());
    let none = cleanable(&p, checkpoint, T0).unwrap();
    assert_eq!(
        (none.dirty_bytes, none.ratio, none.must_clean),
        (0, 0.0, false)
    );
    // An out-of-range checkpoint falls back to the log start, as in Kafka.
    assert_eq!(cleanable(&p, -7, T0).unwrap().first_dirty, 0);
    assert_eq!(cleanable(&p, 10_000, T0).unwrap().first_dirty, 0);

    let mut last = 0.0;
    let mut crossed = false;
    for round in 0..40 {
        put(&p, &format!("k{round}"), Some("value-xxxx"));
        put(&p, &format!("k{round}"), Some("value-yyyy"));
        p.roll_now().unwrap();
        let c = cleanable(&p, checkpoint, T0).unwrap();
        let infos = p.segment_infos();
        let clean: u64 = infos
            .iter()
            .filter(|s| s.next_offset <= checkpoint && s.base_offset < checkpoint)
            .map(|s| s.size)
            .sum();
        let dirty: u64 = infos
            .iter()
            .filter(|s| !s.active && s.base_offset >= checkpoint)
            .map(|s| s.size)
            .sum();
        assert_eq!((c.clean_bytes, c.dirty_bytes), (clean, dirty));
        assert_eq!(c.ratio, dirty as f64 / (clean + dirty) as f64);
        assert!(c.ratio > last);
        last = c.ratio;
        // Kafka's rule is strict: ratio > min.cleanable.dirty.ratio.
        assert_eq!(c.must_clean, c.ratio > 0.5, "{c:?}");
        crossed |= c.must_clean;
        if crossed {
            break;
        }
    }
    assert!(crossed);
}

#[test]
fn min_compaction_lag_holds_back_young_segments() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let hour = 3_600_000;
    let p = open(
        &dir.path().join("c-0"),
        TopicConfig {
            min_compaction_lag_ms: hour,
            ..config(&clock)
        },
    );
    for i in 0..100 {
        put(&p, &format!("k{}", i % 5), Some(&format!("old-{i}")));
    }
    p.roll_now().unwrap();
    let young_base = p.log_end_offset();
    clock.set(T0 + 2 * hour);
    for i in 0..100 {
        put(&p, &format!("k{}", i % 5), Some(&format!("new-{i}")));
    }
    p.roll_now().unwrap();
    let now = T0 + 2 * hour + 60_000;
    let c = cleanable(&p, 0, now).unwrap();
    assert_eq!(c.first_uncleanable, young_base);
    let old_bytes: u64 = p
        .segment_infos()
        .iter()
        .filter(|s| s.base_offset < young_base)
        .map(|s| s.size)
        .sum();
    assert_eq!(c.dirty_bytes, old_bytes);
    let stats = clean_partition(&p, 0, now, &big_map()).unwrap();
    assert_eq!(stats.first_dirty_after, young_base);
    let records = read_all(&p);
    // The old part keeps one record per key; the young part is untouched.
    assert_eq!(records.iter().filter(|r| r.offset < young_base).count(), 5);
    assert_eq!(
        records.iter().filter(|r| r.offset >= young_base).count(),
        100
    );
    // An hour later the young part is old enough.
    let later = now + hour;
    assert_eq!(
        cleanable(&p, young_base, later).unwrap().first_uncleanable,
        200
    );
    let stats = clean_partition(&p, young_base, later, &big_map()).unwrap();
    assert_eq!(stats.first_dirty_after, 200);
    assert_eq!(read_all(&p).len(), 5);
}

#[test]
fn max_compaction_lag_forces_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(
        &dir.path().join("c-0"),
        TopicConfig {
            min_cleanable_dirty_ratio: 0.99,
            max_compaction_lag_ms: 1_000,
            ..config(&clock)
        },
    );
    for i in 0..300 {
        put(&p, &format!("k{i}"), Some("v"));
    }
    p.roll_now().unwrap();
    let mut checkpoint = 0;
    clean_fully(&p, &mut checkpoint, &big_map());
    let t1 = T0 + 50;
    clock.set(t1);
    put(&p, "k1", Some("newer"));
    p.roll_now().unwrap();
    let c = cleanable(&p, checkpoint, t1 + 1_000).unwrap();
    assert!(c.ratio < 0.99 && c.dirty_bytes > 0);
    assert_eq!((c.compaction_delay_ms, c.must_clean), (0, false));
    let c = cleanable(&p, checkpoint, t1 + 1_001).unwrap();
    assert_eq!((c.compaction_delay_ms, c.must_clean), (1, true));
    // Nothing dirty: the lag alone does not make a cleaning due.
    clean_fully(&p, &mut checkpoint, &big_map());
    let c = cleanable(&p, checkpoint, t1 + 1_000_000).unwrap();
    assert!(!c.must_clean);
}

#[test]
fn consumer_offsets_like_topic_shrinks_to_about_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(
        &dir.path().join("__consumer_offsets-0"),
        TopicConfig {
            segment_bytes: 16 << 10,
            ..config(&clock)
        },
    );
    for update in 0..2_000 {
        let batch: Vec<Record> = (0..20)
            .map(|k| {
                Record::keyed(
                    T0 + update,
                    format!("group-{}:orders:{k}", k % 3),
                    format!("offset={update:06};metadata="),
                )
            })
            .collect();
        p.append_records(&batch, RecordsOptions::default()).unwrap();
    }
    p.roll_now().unwrap();
    let size_before = p.size_bytes();
    let mut checkpoint = 0;
    let stats = clean_fully(&p, &mut checkpoint, &CleanerConfig::default());
    assert_eq!(stats.records_before, 40_000);
    assert_eq!(stats.records_after, 20);
    assert_eq!(p.segment_infos().len(), 2);
    assert!(
        p.size_bytes() < 2_000,
        "{} of {size_before}",
        p.size_bytes()
    );
    let keys = by_key(&read_all(&p));
    assert_eq!(keys.len(), 20);
    for values in keys.values() {
        assert_eq!(values.len(), 1);
        assert_eq!(
            values[0].1.as_deref(),
            Some(&b"offset=001999;metadata="[..])
        );
    }
    verify_all(&p);
}

#[test]
fn a_small_map_cleans_in_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("c-0"), config(&clock));
    for i in 0..400 {
        put(&p, &format!("k{}", (i * 7) % 50), Some(&format!("v{i}")));
    }
    p.roll_now().unwrap();
    let cfg = map_for(8);
    assert_eq!(
        OffsetMap::new(cfg.dedupe_buffer_size, 1.0)
            .unwrap()
            .capacity(),
        8
    );
    let mut checkpoint = 0;
    let mut rounds = 0;
    loop {
        let stats = clean_partition(&p, checkpoint, T0, &cfg).unwrap();
        rounds += 1;
        assert!(stats.first_dirty_after > checkpoint);
        assert!(stats.map_keys <= 8);
        checkpoint = stats.first_dirty_after;
        verify_all(&p);
        if !stats.map_full {
            break;
        }
    }
    assert!(rounds >= 7, "{rounds} rounds");
    assert_eq!(checkpoint, 400);
    let keys = by_key(&read_all(&p));
    assert_eq!(keys.len(), 50);
    assert!(keys.values().all(|v| v.len() == 1));
}

#[test]
fn an_idempotent_producers_last_batch_survives_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let pdir = dir.path().join("c-0");
    let p = open(&pdir, config(&clock));
    let pid = 4_000;
    let produce = |p: &Partition, keys: &[&str], seq: i32| {
        let records: Vec<Record> = keys
            .iter()
            .map(|k| Record::keyed(T0, k.to_string(), "p"))
            .collect();
        let options = RecordsOptions {
            producer: Some((pid, 0, seq)),
            ..RecordsOptions::default()
        };
        p.append_records(&records, options)
    };
    produce(&p, &["a", "b"], 0).unwrap();
    produce(&p, &["c"], 2).unwrap();
    let last = produce(&p, &["d", "e"], 3).unwrap();
    for i in 0..60 {
        for k in ["a", "b", "c", "d", "e"] {
            put(&p, k, Some(&format!("other-{i}")));
        }
    }
    p.roll_now().unwrap();
    let mut checkpoint = 0;
    let stats = clean_fully(&p, &mut checkpoint, &big_map());
    assert_eq!(stats.empty_batches_kept, 1);
    let kept: Vec<_> = batch_headers(&p)
        .into_iter()
        .filter(|b| b.producer_id() == pid)
        .collect();
    assert_eq!(kept.len(), 1);
    let b = &kept[0];
    assert_eq!(b.record_count(), 0);
    assert_eq!(
        (b.base_offset(), b.last_offset()),
        (last.base_offset, last.last_offset)
    );
    assert_eq!((b.producer_epoch(), b.base_sequence()), (0, 3));
    assert_eq!(b.max_timestamp(), T0);
    verify_all(&p);

    // A retry of the last batch is still a duplicate, in this process...
    let retry = produce(&p, &["d", "e"], 3).unwrap();
    assert_eq!(retry, last);
    // ...and after a restart that rebuilds producer state from the log.
    let end = p.log_end_offset();
    p.close().unwrap();
    drop(p);
    for entry in std::fs::read_dir(&pdir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "snapshot") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let p = open(&pdir, config(&clock));
    let retry = produce(&p, &["d", "e"], 3).unwrap();
    assert_eq!(
        (retry.base_offset, retry.last_offset),
        (last.base_offset, last.last_offset)
    );
    assert_eq!(p.log_end_offset(), end);
    assert!(matches!(
        produce(&p, &["f"], 9),
        Err(Error::OutOfOrderSequence { .. })
    ));
    produce(&p, &["f"], 5).unwrap();

    // Once the producer has expired, its emptied batch goes too.
    put(&p, "f", Some("newer"));
    p.roll_now().unwrap();
    clock.set(T0 + p.config().producer_id_expiration_ms);
    let stats = clean_fully(&p, &mut checkpoint, &big_map());
    assert_eq!(stats.empty_batches_kept, 0);
    assert!(batch_headers(&p).iter().all(|b| b.producer_id() != pid));
}

/// Writes a sealed segment at 0 holding `batches` (imported data), and an
/// empty active segment after it.
fn import(dir: &Path, config: &TopicConfig, batches: &[Vec<u8>]) -> i64 {
    std::fs::create_dir_all(dir).unwrap();
    let mut segment = LogSegment::create(dir, 0, config.segment_config()).unwrap();
    for bytes in batches {
        segment.append(&BatchView::parse(bytes).unwrap()).unwrap();
    }
    let end = segment.next_offset();
    segment.seal().unwrap();
    drop(segment);
    LogSegment::create(dir, end, config.segment_config())
        .unwrap()
        .seal()
        .unwrap();
    end
}

#[test]
fn control_and_transactional_batches_are_kept_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let cfg = config(&clock);
    let pdir = dir.path().join("imported-0");
    let batch = |base: i64, key: &str, value: &str| {
        let mut b = BatchBuilder::new(base).partition_leader_epoch(0);
        b.push(&Record::keyed(T0, key.to_string(), value.to_string()))
            .unwrap();
        b
    };
    let plain = |base, key, value| batch(base, key, value).build().unwrap();
    let mut tx = BatchBuilder::new(1)
        .producer(900, 1, 0)
        .transactional(true)
        .partition_leader_epoch(0);
    tx.push(&Record::keyed(T0, "a", "in-tx")).unwrap();
    let tx = tx.build().unwrap();
    let mut marker = BatchBuilder::new(2)
        .producer(900, 1, -1)
        .transactional(true)
        .control(true)
        .partition_leader_epoch(0);
    marker
        .push_parts(0, T0, Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 0]), &[])
        .unwrap();
    let marker = marker.build().unwrap();
    let batches = vec![
        plain(0, "a", "v0"),
        tx.clone(),
        marker.clone(),
        plain(3, "a", "v3"),
        plain(4, "b", "v4"),
        plain(5, "b", "v5"),
    ];
    let end = import(&pdir, &cfg, &batches);
    assert_eq!(end, 6);
    let p = open(&pdir, cfg);
    let stats = clean_partition(&p, 0, T0, &big_map()).unwrap();
    assert_eq!(stats.first_dirty_after, 6);
    let kept: Vec<Vec<u8>> = batch_headers(&p)
        .iter()
        .map(|b| b.as_bytes().to_vec())
        .collect();
    // v0 and v4 are obsolete; the transactional batch (which does not make
    // v0 obsolete either way) and the marker are copied byte for byte.
    assert_eq!(
        kept,
        vec![tx, marker, batches[3].clone(), batches[5].clone()]
    );
    verify_all(&p);
}

#[test]
fn rewritten_batches_keep_codec_timestamps_and_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    for (name, ts_type) in [
        ("create-0", TimestampType::CreateTime),
        ("append-0", TimestampType::LogAppendTime),
    ] {
        let p = open(
            &dir.path().join(name),
            TopicConfig {
                message_timestamp_type: ts_type,
                ..config(&clock)
            },
        );
        for i in 0..40i64 {
            clock.set(T0 + i * 10);
            let records: Vec<Record> = (0..5)
                .map(|j| {
                    Record::keyed(
                        T0 + i * 10 + j,
                        format!("k{}", (i * 5 + j) % 7),
                        "x".repeat(20),
                    )
                })
                .collect();
            let options = RecordsOptions {
                compression: Compression::Lz4,
                ..RecordsOptions::default()
            };
            p.append_records(&records, options).unwrap();
        }
        p.roll_now().unwrap();
        let before = read_all(&p);
        let headers_before: HashMap<i64, (i32, i64, i32)> = batch_headers(&p)
            .iter()
            .map(|b| {
                (
                    b.base_offset(),
                    (
                        b.last_offset_delta(),
                        b.max_timestamp(),
                        b.partition_leader_epoch(),
                    ),
                )
            })
            .collect();
        clean_partition(&p, 0, T0 + 1_000, &big_map()).unwrap();
        let after = read_all(&p);
        assert_eq!(after.len(), 7);
        for r in &after {
            assert!(before.contains(r), "{name}: {r:?} changed");
        }
        for b in batch_headers(&p) {
            assert_eq!(b.compression().unwrap(), Compression::Lz4);
            assert_eq!(b.timestamp_type(), ts_type);
            let (delta, max_ts, epoch) = headers_before[&b.base_offset()];
            assert_eq!(
                (b.last_offset_delta(), b.partition_leader_epoch()),
                (delta, epoch)
            );
            if ts_type == TimestampType::LogAppendTime {
                assert_eq!(b.max_timestamp(), max_ts);
            }
        }
        verify_all(&p);
    }
}

#[test]
fn a_half_written_cleaned_segment_is_ignored_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let pdir = dir.path().join("c-0");
    let p = open(&pdir, config(&clock));
    for i in 0..120 {
        put(&p, &format!("k{}", i % 6), Some(&format!("v{i}")));
    }
    p.roll_now().unwrap();
    p.flush().unwrap();
    let before = read_all(&p);
    // A cleaner that died half-way through its copy of the first segments.
    let mut cleaned = p.create_cleaned_segment(0).unwrap();
    for batch in p.read(0, 300).unwrap().iter() {
        cleaned.append(&batch.view()).unwrap();
    }
    std::mem::forget(cleaned);
    std::mem::forget(p);
    assert!(suffixed_path(&pdir, 0, FileKind::Log, CLEANED_SUFFIX).exists());

    let (p, report) = Partition::open(&pdir, config(&clock), OpenOptions::default()).unwrap();
    assert!(
        report
            .leftovers
            .iter()
            .any(|f| f.to_string_lossy().ends_with(CLEANED_SUFFIX))
    );
    assert!(!suffixed_path(&pdir, 0, FileKind::Log, CLEANED_SUFFIX).exists());
    assert_eq!(read_all(&p), before);
    verify_all(&p);
    let mut checkpoint = 0;
    clean_fully(&p, &mut checkpoint, &big_map());
    assert_eq!(read_all(&p).len(), 6);
    verify_all(&p);
}

#[test]
fn appends_and_reads_go_on_while_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("c-0"), config(&clock));
    for i in 0..300 {
        put(&p, &format!("k{}", i % 10), Some(&format!("v{i}")));
    }
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            for i in 300..1_300 {
                put(&p, &format!("k{}", i % 10), Some(&format!("v{i}")));
            }
        })
    };
    let reader = {
        let p = p.clone();
        std::thread::spawn(move || {
            for _ in 0..50 {
                let records = read_all(&p);
                assert!(records.windows(2).all(|w| w[0].offset < w[1].offset));
            }
        })
    };
    let mut checkpoint = 0;
    for _ in 0..20 {
        let stats = clean_partition(&p, checkpoint, T0, &big_map()).unwrap();
        checkpoint = stats.first_dirty_after;
    }
    writer.join().unwrap();
    reader.join().unwrap();
    p.roll_now().unwrap();
    clean_fully(&p, &mut checkpoint, &big_map());
    let keys = by_key(&read_all(&p));
    for (k, values) in keys {
        let k: usize = String::from_utf8(k[1..].to_vec()).unwrap().parse().unwrap();
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].0 % 10, k as i64);
        assert!(values[0].0 >= 1_290);
    }
    verify_all(&p);
}

// ---- the model -----------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Append { keys: Vec<(u8, bool)> },
    Advance { ms: i64 },
    Roll,
    Clean { small_map: bool },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let record = (0u8..8, proptest::bool::weighted(0.15));
    prop_oneof![
        10 => proptest::collection::vec(record, 1..4).prop_map(|keys| Op::Append { keys }),
        2 => (1i64..6_000).prop_map(|ms| Op::Advance { ms }),
        2 => Just(Op::Roll),
        3 => proptest::bool::ANY.prop_map(|small_map| Op::Clean { small_map }),
        1 => Just(Op::Reopen),
    ]
}

/// A record of the model: key, value (None = tombstone), timestamp, and
/// its delete horizon once a cleaning stamped one.
#[derive(Debug, Clone)]
struct Model {
    key: u8,
    value: Option<String>,
    timestamp: i64,
    horizon: Option<i64>,
}

struct Harness {
    dir: std::path::PathBuf,
    clock: ManualClock,
    min_lag: i64,
    p: Partition,
    present: BTreeMap<i64, Model>,
    latest: HashMap<u8, i64>,
    checkpoint: i64,
}

impl Harness {
    fn new(root: &Path, min_lag: i64) -> Self {
        let clock = ManualClock::new(T0);
        let dir = root.join("model-0");
        let p = open(&dir, Self::config(&clock, min_lag));
        Harness {
            dir,
            clock,
            min_lag,
            p,
            present: BTreeMap::new(),
            latest: HashMap::new(),
            checkpoint: 0,
        }
    }

    fn config(clock: &ManualClock, min_lag: i64) -> TopicConfig {
        TopicConfig {
            segment_bytes: 400,
            min_compaction_lag_ms: min_lag,
            ..config(clock)
        }
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Append { keys } => self.append(keys),
            Op::Advance { ms } => self.clock.advance(*ms),
            Op::Roll => self.p.roll_now().unwrap(),
            Op::Clean { small_map } => {
                let cfg = if *small_map { map_for(3) } else { big_map() };
                self.clean(&cfg)?;
            }
            Op::Reopen => {
                self.p.close().unwrap();
                self.p = open(&self.dir, Self::config(&self.clock, self.min_lag));
            }
        }
        self.check()
    }

    fn append(&mut self, keys: &[(u8, bool)]) {
        let now = self.clock.now_ms();
        let base = self.p.log_end_offset();
        let records: Vec<Record> = keys
            .iter()
            .enumerate()
            .map(|(i, &(k, tombstone))| {
                let value = (!tombstone).then(|| format!("v{}", base + i as i64));
                Record {
                    timestamp: now,
                    key: Some(vec![b'k', b'0' + k].into()),
                    value: value.map(Into::into),
                    headers: Vec::new(),
                }
            })
            .collect();
        self.p
            .append_records(&records, RecordsOptions::default())
            .unwrap();
        for (i, &(k, tombstone)) in keys.iter().enumerate() {
            let offset = base + i as i64;
            let value = (!tombstone).then(|| format!("v{offset}"));
            self.present.insert(
                offset,
                Model {
                    key: k,
                    value,
                    timestamp: now,
                    horizon: None,
                },
            );
            self.latest.insert(k, offset);
        }
    }

    /// One cleaning round, then the model applies the cleaner's rules to
    /// the mapped range `[checkpoint, end)` and the rewritten segments.
    fn clean(&mut self, cfg: &CleanerConfig) -> Result<CleanStats, TestCaseError> {
        let now = self.clock.now_ms();
        let before = cleanable(&self.p, self.checkpoint, now).unwrap();
        let active = active_bytes(&self.p);
        let stats = clean_partition(&self.p, self.checkpoint, now, cfg).unwrap();
        prop_assert_eq!(active_bytes(&self.p), active);
        let (from, end) = (stats.first_dirty_before, stats.first_dirty_after);
        prop_assert_eq!(from, before.first_dirty);
        if before.first_dirty >= before.first_uncleanable {
            prop_assert_eq!((end, stats.segments_before), (from, 0));
            return Ok(stats);
        }
        prop_assert!(end > from && end <= before.first_uncleanable);
        prop_assert_eq!(stats.map_full, end < before.first_uncleanable);
        let mut latest_in_map: HashMap<u8, i64> = HashMap::new();
        for (&o, r) in self.present.range(from..end) {
            latest_in_map.insert(r.key, o);
        }
        self.present.retain(|&o, r| {
            if o >= end {
                return true;
            }
            let superseded = latest_in_map.get(&r.key).is_some_and(|&l| o < l);
            let expired = r.value.is_none() && r.horizon.is_some_and(|h| now >= h);
            !superseded && !expired
        });
        for (_, r) in self.present.range_mut(..stats.cleaned_up_to) {
            if r.value.is_none() && r.horizon.is_none() {
                r.horizon = Some(now + RETENTION);
            }
        }
        self.checkpoint = end;
        verify_all(&self.p);
        Ok(stats)
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let got = read_all(&self.p);
        let want: Vec<Rec> = self
            .present
            .iter()
            .map(|(&offset, r)| Rec {
                offset,
                key: Some(vec![b'k', b'0' + r.key]),
                value: r.value.clone().map(String::into_bytes),
                timestamp: r.timestamp,
            })
            .collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(self.p.log_end_offset(), self.next_offset());
        Ok(())
    }

    fn next_offset(&self) -> i64 {
        self.latest.values().max().map_or(0, |&o| o + 1)
    }

    /// Cleans everything twice, `delete.retention.ms` apart (the first
    /// cleaning stamps the horizon, the second acts on it): afterwards each
    /// key holds exactly its latest value, or nothing if it was deleted.
    fn final_check(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..2 {
            self.clock.advance(RETENTION.max(self.min_lag) + 1);
            self.append(&[(9, false)]);
            self.p.roll_now().unwrap();
            self.clock.advance(self.min_lag + 1);
            loop {
                let stats = self.clean(&big_map())?;
                if !stats.map_full {
                    break;
                }
            }
            self.check()?;
        }
        self.p.close().unwrap();
        for base in self.p.segment_base_offsets() {
            let report =
                verify_segment(&self.dir, base, &self.p.config().segment_config()).unwrap();
            prop_assert!(report.is_ok(), "segment {}: {:?}", base, report.faults);
        }
        let got = by_key(&read_all(&self.p));
        for (&key, &offset) in &self.latest {
            let name = vec![b'k', b'0' + key];
            let value = self.present.get(&offset).and_then(|r| r.value.clone());
            match value {
                Some(v) => {
                    prop_assert_eq!(&got[&name], &vec![(offset, Some(v.into_bytes()))]);
                }
                None => prop_assert!(!got.contains_key(&name), "key {} kept", key),
            }
        }
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn compaction_matches_the_model(
        ops in proptest::collection::vec(op(), 1..80),
        min_lag in prop_oneof![Just(0i64), 1i64..5_000],
    ) {
        let root = tempfile::tempdir().unwrap();
        let mut h = Harness::new(root.path(), min_lag);
        for op in &ops {
            h.run(op)?;
        }
        h.final_check()?;
    }
}

// ---- throughput ----------------------------------------------------------

/// Rough compaction throughput (MB/s of dirty log) for 10%, 50% and 90%
/// duplicate keys, uncompressed and lz4: 1,000,000 records with 16-byte
/// keys and 100-byte values (random hex, which lz4 shrinks about 2x) in
/// batches of 100. Run in release:
/// `cargo test --release --test compaction -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    const RECORDS: u64 = 1_000_000;
    prime_memory();
    let mut rng = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for codec in [Compression::None, Compression::Lz4] {
        for dup in [0.1, 0.5, 0.9] {
            let dir = tempfile::tempdir().unwrap();
            let clock = ManualClock::new(T0);
            let p = open(
                &dir.path().join("bench-0"),
                TopicConfig {
                    segment_bytes: 1 << 30,
                    ..config(&clock)
                },
            );
            let distinct = ((RECORDS as f64) * (1.0 - dup)) as u64;
            for chunk in 0..RECORDS / 100 {
                let records: Vec<Record> = (0..100)
                    .map(|i| {
                        // Distinct keys first, then repeats drawn at random.
                        let n = chunk * 100 + i;
                        let k = if n < distinct { n } else { next() % distinct };
                        let value: String = (0..6).map(|_| format!("{:016x}", next())).collect();
                        Record::keyed(T0, format!("key-{k:012}"), format!("{value}...."))
                    })
                    .collect();
                let options = RecordsOptions {
                    compression: codec,
                    ..RecordsOptions::default()
                };
                p.append_records(&records, options).unwrap();
            }
            p.roll_now().unwrap();
            let (started, cpu) = (Instant::now(), thread_cpu());
            let stats = clean_partition(&p, 0, T0, &CleanerConfig::default()).unwrap();
            let elapsed = started.elapsed().max(Duration::from_micros(1));
            let cpu = thread_cpu()
                .saturating_sub(cpu)
                .max(Duration::from_millis(1));
            assert!(!stats.map_full);
            let mb = stats.dirty_bytes as f64 / 1e6;
            println!(
                "compaction {codec:?} {:>2.0}% duplicates: {mb:.1} MB dirty in {} ms = {:.0} MB/s (CPU {} ms: {:.0} MB/s; {} -> {} records, {:.1} -> {:.1} MB)",
                dup * 100.0,
                elapsed.as_millis(),
                mb / elapsed.as_secs_f64(),
                cpu.as_millis(),
                mb / cpu.as_secs_f64(),
                stats.records_before,
                stats.records_after,
                stats.bytes_before as f64 / 1e6,
                stats.bytes_after as f64 / 1e6,
            );
        }
    }
}

/// CPU time of this thread (user + system) from `/proc/thread-self/stat`,
/// in clock ticks of 10 ms; zero where it cannot be read. Wall time on a
/// shared 2-core machine varies 2x with the other work on it.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Touches 1 GiB once, so page-cache writes during the timing do not wait
/// for memory the VM has to hand back first (DESIGN.md section 6).
fn prime_memory() {
    let mut memory = vec![0u8; 1 << 30];
    for i in (0..memory.len()).step_by(4096) {
        memory[i] = 1;
    }
    std::hint::black_box(&memory);
}
