//! Delete retention on real files (`cleanup.policy=delete`): by time, by
//! size, by log start; `file.delete.delay.ms`; readers of deleted segments;
//! crashes between the rename and the removal; compact-only topics; and the
//! long-run bound on disk use.

use std::path::Path;
use std::sync::Arc;

use seglog::Error;
use seglog::cleaner::retention::{DeletionQueue, apply_retention};
use seglog::clock::{Clock, ManualClock};
use seglog::config::{CleanupPolicy, TopicConfig};
use seglog::partition::{OpenOptions, Partition, RecordsOptions, RetentionRule};
use seglog::record::{BatchHeader, Record};
use seglog::segment::verify_segment;

const T0: i64 = 1_700_000_000_000;
const SEGMENT_BYTES: usize = 4096;
const MAX_MESSAGE_BYTES: usize = 2048;

fn config(clock: &ManualClock) -> TopicConfig {
    TopicConfig {
        segment_bytes: SEGMENT_BYTES,
        segment_index_bytes: 1024,
        index_interval_bytes: 256,
        max_message_bytes: MAX_MESSAGE_BYTES,
        preallocate_window_bytes: 4096,
        retention_ms: -1,
        retention_bytes: -1,
        file_delete_delay_ms: 0,
        ..TopicConfig::default()
    }
    .clock(Arc::new(clock.clone()))
}

fn open_with(dir: &Path, config: TopicConfig, options: OpenOptions) -> Partition {
    Partition::open(dir, config, options).unwrap().0
}

fn open(dir: &Path, config: TopicConfig) -> Partition {
    open_with(dir, config, OpenOptions::default())
}

fn value_for(offset: i64) -> String {
    format!("value-{offset:08}-{}", "x".repeat(80))
}

/// Appends `n` single-record batches stamped `timestamp`.
fn append_at(p: &Partition, timestamp: i64, n: usize) {
    for _ in 0..n {
        let offset = p.log_end_offset();
        let record = Record::keyed(timestamp, format!("key-{}", offset % 7), value_for(offset));
        p.append_records(&[record], RecordsOptions::default())
            .unwrap();
    }
}

/// Appends single-record batches stamped `timestamp` until `segments` more
/// segments were rolled, then rolls; returns the new segments' bases.
fn fill_segments(p: &Partition, timestamp: i64, segments: usize) -> Vec<i64> {
    let before = p.segment_base_offsets();
    let first = *before.last().unwrap();
    while p.segment_base_offsets().len() < before.len() + segments - 1 {
        append_at(p, timestamp, 1);
    }
    append_at(p, timestamp, 3);
    p.roll_now().unwrap();
    let bases = p.segment_base_offsets();
    bases
        .into_iter()
        .filter(|&b| b >= first && b < p.log_end_offset())
        .collect()
}

/// Checks every record from the log start to the log end.
fn check_all(p: &Partition) {
    let mut next = p.log_start_offset();
    while next < p.log_end_offset() {
        let slice = p.read(next, 1 << 16).unwrap();
        assert!(!slice.is_empty());
        for batch in slice.iter() {
            batch.verify_crc().unwrap();
            for record in batch.records(&p.config().decode).unwrap().iter() {
                let record = record.unwrap();
                if record.offset() >= next {
                    assert_eq!(record.offset(), next);
                    assert_eq!(record.value().unwrap(), value_for(next).as_bytes());
                    next += 1;
                }
            }
        }
    }
}

/// Every sealed segment passes `verify_segment`, and the active one too
/// when `closed` (until then its `.log` ends in reserved zeros).
fn verify_all(p: &Partition, closed: bool) {
    let infos = p.segment_infos();
    for info in infos.iter().filter(|i| closed || !i.active) {
        let base = info.base_offset;
        let report = verify_segment(p.dir(), base, &p.config().segment_config()).unwrap();
        assert!(report.is_ok(), "segment {base}: {:?}", report.faults);
    }
}

fn file_names(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

fn out_of_range(p: &Partition, offset: i64) -> bool {
    matches!(p.read(offset, 100), Err(Error::OffsetOutOfRange { .. }))
}

#[test]
fn time_retention_deletes_expired_segments_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(
        &dir.path().join("time-0"),
        TopicConfig {
            retention_ms: 10_000,
            ..config(&clock)
        },
    );
    let old = fill_segments(&p, T0, 3);
    let mid = fill_segments(&p, T0 + 6_000, 2);
    append_at(&p, T0 + 12_000, 5);
    let active = *p.segment_base_offsets().last().unwrap();

    // Exactly retention.ms old is not yet breached (Kafka: now - ts > ms).
    assert!(
        p.delete_old_segments(T0 + 10_000)
            .unwrap()
            .deleted
            .is_empty()
    );

    let outcome = p.delete_old_segments(T0 + 10_001).unwrap();
    let bases: Vec<i64> = outcome.deleted.iter().map(|d| d.base_offset).collect();
    assert_eq!(bases, old);
    assert!(
        outcome
            .deleted
            .iter()
            .all(|d| d.rule == RetentionRule::Time)
    );
    assert_eq!(outcome.log_start, mid[0]);
    assert_eq!(p.log_start_offset(), mid[0]);
    assert!(!outcome.rolled);
    assert!(out_of_range(&p, mid[0] - 1));
    check_all(&p);
    for base in &old {
        assert!(!dir.path().join(format!("time-0/{base:020}.log")).exists());
    }

    let outcome = p.delete_old_segments(T0 + 16_001).unwrap();
    let bases: Vec<i64> = outcome.deleted.iter().map(|d| d.base_offset).collect();
    assert_eq!(bases, mid);
    assert_eq!(p.segment_base_offsets(), vec![active]);
    verify_all(&p, false);

    // The active segment itself is due: an empty one is rolled at the log
    // end first, and the log end never moves back.
    let end = p.log_end_offset();
    let outcome = p.delete_old_segments(T0 + 22_001).unwrap();
    assert!(outcome.rolled);
    assert_eq!(outcome.deleted.len(), 1);
    assert_eq!(outcome.deleted[0].base_offset, active);
    assert_eq!((p.log_start_offset(), p.log_end_offset()), (end, end));
    assert_eq!(p.segment_base_offsets(), vec![end]);
    assert!(p.read(end, 100).unwrap().is_empty());
    // An empty last segment is never deleted.
    assert!(
        p.delete_old_segments(T0 + 99_000)
            .unwrap()
            .deleted
            .is_empty()
    );
    append_at(&p, T0 + 22_001, 1);
    assert_eq!(p.log_end_offset(), end + 1);
    check_all(&p);
    verify_all(&p, false);
}

#[test]
fn time_retention_stops_at_first_segment_not_due() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(
        &dir.path().join("stop-0"),
        TopicConfig {
            retention_ms: 10_000,
            ..config(&clock)
        },
    );
    let first = fill_segments(&p, T0, 1);
    let newer = fill_segments(&p, T0 + 20_000, 1);
    let older_again = fill_segments(&p, T0, 1);
    append_at(&p, T0 + 20_000, 1);
    let outcome = p.delete_old_segments(T0 + 15_000).unwrap();
    let bases: Vec<i64> = outcome.deleted.iter().map(|d| d.base_offset).collect();
    assert_eq!(bases, first);
    assert_eq!(p.segment_base_offsets()[..2], [newer[0], older_again[0]]);
    check_all(&p);
}

#[test]
fn size_retention_keeps_at_least_retention_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let retention: u64 = 10_000;
    let p = open(
        &dir.path().join("size-0"),
        TopicConfig {
            retention_bytes: retention as i64,
            ..config(&clock)
        },
    );
    let mut deleted_any = false;
    for round in 0..60 {
        append_at(&p, T0, 10);
        let before = p.size_bytes();
        let stats = apply_retention(&p, T0).unwrap();
        assert_eq!(stats.bytes_before, before);
        let freed: u64 = stats.deleted.iter().map(|d| d.size).sum();
        assert_eq!(stats.bytes_after, before - freed, "round {round}");
        assert!(stats.deleted.iter().all(|d| d.rule == RetentionRule::Size));
        if before < retention {
            assert_eq!(stats.segments_deleted, 0);
            continue;
        }
        deleted_any |= stats.segments_deleted > 0;
        let infos = p.segment_infos();
        assert!(stats.bytes_after >= retention, "round {round}");
        // One more segment would have gone if it had fit.
        assert!(
            stats.bytes_after - infos[0].size < retention,
            "round {round}"
        );
        assert!(stats.bytes_after < retention + SEGMENT_BYTES as u64);
        assert_eq!(stats.log_start_after, infos[0].base_offset);
    }
    assert!(deleted_any);
    check_all(&p);
    verify_all(&p, false);
}

#[test]
fn size_retention_zero_rolls_and_empties_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(
        &dir.path().join("zero-0"),
        TopicConfig {
            retention_bytes: 0,
            ..config(&clock)
        },
    );
    append_at(&p, T0, 100);
    let end = p.log_end_offset();
    let stats = apply_retention(&p, T0).unwrap();
    assert!(stats.rolled);
    assert_eq!(stats.bytes_after, 0);
    assert_eq!((p.log_start_offset(), p.log_end_offset()), (end, end));
    assert_eq!(p.segment_base_offsets(), vec![end]);
    append_at(&p, T0, 1);
    assert_eq!(p.log_end_offset(), end + 1);
    check_all(&p);
}

#[test]
fn log_start_rule_after_delete_records_and_checkpointed_start() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("start-0");
    let clock = ManualClock::new(T0);
    let p = open(&pdir, config(&clock));
    let bases = fill_segments(&p, T0, 6);
    // delete_records deletes what it can; retention has nothing left to do.
    assert_eq!(p.delete_records(bases[1] + 1).unwrap(), bases[1] + 1);
    assert_eq!(p.segment_base_offsets()[0], bases[1]);
    assert!(p.delete_old_segments(T0).unwrap().deleted.is_empty());
    p.close().unwrap();

    // A log start from the checkpoint above whole segments: the log start
    // rule deletes them, even for a compact-only topic.
    let start = bases[4] + 2;
    let options = OpenOptions {
        log_start_offset: Some(start),
        clean_shutdown: true,
        ..OpenOptions::default()
    };
    let compact = TopicConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        ..config(&clock)
    };
    let p = open_with(&pdir, compact, options);
    assert_eq!(p.segment_base_offsets()[0], bases[1]);
    let stats = apply_retention(&p, T0).unwrap();
    let deleted: Vec<i64> = stats.deleted.iter().map(|d| d.base_offset).collect();
    assert_eq!(deleted, bases[1..4]);
    assert!(
        stats
            .deleted
            .iter()
            .all(|d| d.rule == RetentionRule::LogStart)
    );
    assert_eq!(
        (stats.log_start_before, stats.log_start_after),
        (start, start)
    );
    assert_eq!(p.segment_base_offsets()[0], bases[4]);
    check_all(&p);
    verify_all(&p, false);
}

#[test]
fn deleted_files_linger_for_file_delete_delay() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("delay-0");
    let clock = ManualClock::new(T0);
    let p = open(
        &pdir,
        TopicConfig {
            retention_ms: 1_000,
            file_delete_delay_ms: 60_000,
            ..config(&clock)
        },
    );
    let old = fill_segments(&p, T0, 2);
    append_at(&p, T0 + 5_000, 3);
    let now = T0 + 2_000;
    let mut stats = apply_retention(&p, now).unwrap();
    assert_eq!(stats.segments_deleted, 2);
    let pending = stats.pending.take().unwrap();
    assert_eq!(pending.due_ms, now + 60_000);
    let deleted = file_names(&pdir, ".deleted");
    assert_eq!(deleted.len(), pending.files.len());
    for base in &old {
        for suffix in ["log", "index", "timeindex"] {
            let name = format!("{base:020}.{suffix}");
            assert!(deleted.contains(&format!("{name}.deleted")), "{name}");
            assert!(!pdir.join(&name).exists());
        }
    }
    let queue = DeletionQueue::new();
    queue.push(pending);
    assert_eq!(queue.next_due_ms(), Some(now + 60_000));
    assert_eq!(queue.delete_expired_files(now + 59_999).unwrap(), 0);
    assert_eq!(file_names(&pdir, ".deleted"), deleted);
    assert_eq!(
        queue.delete_expired_files(now + 60_000).unwrap(),
        deleted.len()
    );
    assert!(file_names(&pdir, ".deleted").is_empty());
    assert!(queue.is_empty());
    check_all(&p);
}

#[test]
fn zero_delay_removes_files_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("nodelay-0");
    let clock = ManualClock::new(T0);
    let p = open(
        &pdir,
        TopicConfig {
            retention_ms: 1_000,
            ..config(&clock)
        },
    );
    fill_segments(&p, T0, 3);
    append_at(&p, T0 + 5_000, 1);
    let stats = apply_retention(&p, T0 + 2_000).unwrap();
    assert_eq!(stats.segments_deleted, 3);
    assert!(stats.pending.is_none());
    assert!(file_names(&pdir, ".deleted").is_empty());
    assert_eq!(file_names(&pdir, ".log").len(), 1);
}

#[test]
fn held_slice_of_deleted_segment_stays_readable() {
    for delay in [0, 60_000] {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(T0);
        let p = open(
            &dir.path().join("held-0"),
            TopicConfig {
                retention_ms: 1_000,
                file_delete_delay_ms: delay,
                ..config(&clock)
            },
        );
        let old = fill_segments(&p, T0, 2);
        append_at(&p, T0 + 5_000, 3);
        let held = p.read(0, 1 << 20).unwrap();
        let copy = held.as_bytes().to_vec();
        let mut stats = apply_retention(&p, T0 + 2_000).unwrap();
        assert_eq!(stats.segments_deleted, old.len());
        assert!(out_of_range(&p, 0));
        if let Some(pending) = stats.pending.take() {
            pending.remove_files().unwrap();
        }
        // New appends reuse the freed page cache; the slice must not change.
        append_at(&p, T0 + 5_000, 300);
        assert_eq!(held.as_bytes().as_ref(), copy.as_slice());
        let mut next = 0;
        for batch in held.iter() {
            batch.verify_crc().unwrap();
            for record in batch.records(&p.config().decode).unwrap().iter() {
                let record = record.unwrap();
                assert_eq!(record.value().unwrap(), value_for(next).as_bytes());
                next += 1;
            }
        }
        assert!(next > 0);
    }
}

#[test]
fn crash_after_rename_reopens_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("crash-0");
    let clock = ManualClock::new(T0);
    let cfg = TopicConfig {
        retention_ms: 1_000,
        file_delete_delay_ms: 60_000,
        ..config(&clock)
    };
    let p = open(&pdir, cfg.clone());
    let old = fill_segments(&p, T0, 3);
    let kept = fill_segments(&p, T0 + 5_000, 2);
    append_at(&p, T0 + 5_000, 4);
    let end = p.log_end_offset();
    let stats = apply_retention(&p, T0 + 2_000).unwrap();
    assert_eq!(stats.segments_deleted, old.len());
    let deleted = file_names(&pdir, ".deleted");
    assert!(!deleted.is_empty());
    std::mem::forget(p); // a crash: no close, the pending files stay

    let options = OpenOptions {
        log_start_offset: Some(stats.log_start_after),
        ..OpenOptions::default()
    };
    let (p, report) = Partition::open(&pdir, cfg.clone(), options).unwrap();
    assert_eq!(report.leftovers.len(), deleted.len());
    assert!(file_names(&pdir, ".deleted").is_empty());
    assert_eq!((p.log_start_offset(), p.log_end_offset()), (kept[0], end));
    assert_eq!(p.segment_base_offsets()[0], kept[0]);
    check_all(&p);
    verify_all(&p, false);
    append_at(&p, T0 + 5_000, 1);
    assert_eq!(p.log_end_offset(), end + 1);
    p.close().unwrap();

    // A crash between the renames: the indexes go first, so the `.log` and
    // the segment are whole; reopening keeps it, retention deletes it again.
    for suffix in ["timeindex", "index"] {
        let name = pdir.join(format!("{:020}.{suffix}", kept[0]));
        std::fs::rename(&name, format!("{}.deleted", name.display())).unwrap();
    }
    let (p, _) = Partition::open(&pdir, cfg, OpenOptions::default()).unwrap();
    assert_eq!(p.segment_base_offsets()[0], kept[0]);
    check_all(&p);
    verify_all(&p, false);
    let stats = apply_retention(&p, T0 + 6_001).unwrap();
    assert_eq!(stats.deleted[0].base_offset, kept[0]);
    check_all(&p);
}

#[test]
fn compact_only_topic_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let compact = TopicConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        retention_ms: 1,
        retention_bytes: 1,
        ..config(&clock)
    };
    let p = open(&dir.path().join("compact-0"), compact.clone());
    fill_segments(&p, T0, 4);
    let infos = p.segment_infos();
    let stats = apply_retention(&p, T0 + 1_000_000).unwrap();
    assert_eq!(stats.segments_deleted, 0);
    assert_eq!(stats.bytes_before, stats.bytes_after);
    assert_eq!(p.segment_infos(), infos);
    assert_eq!(p.log_start_offset(), 0);

    // compact,delete: retention applies.
    let both = TopicConfig {
        cleanup_policy: CleanupPolicy {
            compact: true,
            delete: true,
        },
        ..compact
    };
    let p = open(&dir.path().join("both-0"), both);
    fill_segments(&p, T0, 4);
    append_at(&p, T0 + 1_000_000, 1);
    let stats = apply_retention(&p, T0 + 1_000_000).unwrap();
    assert!(stats.segments_deleted >= 4);
}

/// Sum of the lengths of the live `.log` files, and the active one's.
fn log_bytes_on_disk(p: &Partition) -> (u64, u64) {
    let active = *p.segment_base_offsets().last().unwrap();
    let mut total = 0;
    let mut active_len = 0;
    for name in file_names(p.dir(), ".log") {
        let len = std::fs::metadata(p.dir().join(&name)).unwrap().len();
        total += len;
        if name == format!("{active:020}.log") {
            active_len = len;
        }
    }
    (total, active_len)
}

/// The "done when": appending for many segments while time passes
/// and retention runs, disk use stays within retention.bytes plus one
/// segment plus the active one.
#[test]
fn long_run_disk_use_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let retention: u64 = 16_384;
    let p = open(
        &dir.path().join("long-0"),
        TopicConfig {
            retention_bytes: retention as i64,
            retention_ms: 20_000,
            ..config(&clock)
        },
    );
    let mut deleted = 0;
    let mut by_time = 0;
    for i in 0..2_000 {
        let batch = 1 + i % 3;
        append_at(&p, clock.now_ms(), batch);
        clock.advance(100);
        if i % 700 == 699 {
            clock.advance(30_000); // a quiet spell: time retention takes over
        }
        if i % 4 != 0 {
            continue;
        }
        let stats = apply_retention(&p, clock.now_ms()).unwrap();
        deleted += stats.segments_deleted;
        by_time += stats
            .deleted
            .iter()
            .filter(|d| d.rule == RetentionRule::Time)
            .count();
        if stats.bytes_before >= retention
            && stats.deleted.iter().all(|d| d.rule != RetentionRule::Time)
        {
            assert!(stats.bytes_after >= retention, "pass {i}");
        }
        let (total, active_len) = log_bytes_on_disk(&p);
        assert!(
            total <= retention + SEGMENT_BYTES as u64 + active_len,
            "pass {i}: {total} bytes of .log on disk"
        );
        assert!(active_len <= (SEGMENT_BYTES + MAX_MESSAGE_BYTES + 4096) as u64);
        assert!(file_names(p.dir(), ".deleted").is_empty());
    }
    assert!(deleted > 100, "only {deleted} segments deleted");
    assert!(
        by_time > 0 && by_time < deleted,
        "{by_time} of {deleted} by time"
    );
    assert!(p.log_start_offset() > 0);
    check_all(&p);
    verify_all(&p, false);
    p.close().unwrap();
    verify_all(&p, true);
}
