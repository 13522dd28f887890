//! The partition log on real files: offsets, reads, rolls, lookups,
//! reopen, recovery, the log start and end moving, flush policies.

use std::sync::Arc;
use std::time::Duration;

use seglog::Error;
use seglog::clock::ManualClock;
use seglog::config::TopicConfig;
use seglog::partition::{Isolation, OpenOptions, Partition, RecordsOptions};
use seglog::record::{BatchBuilder, BatchHeader, Record, TimestampType};

const T0: i64 = 1_700_000_000_000;

fn config(clock: &ManualClock) -> TopicConfig {
    TopicConfig {
        segment_bytes: 4096,
        segment_index_bytes: 1024,
        index_interval_bytes: 256,
        preallocate_window_bytes: 64 << 10,
        ..TopicConfig::default()
    }
    .clock(Arc::new(clock.clone()))
}

fn open(dir: &std::path::Path, clock: &ManualClock, clean: bool) -> Partition {
    let options = OpenOptions {
        clean_shutdown: clean,
        ..OpenOptions::default()
    };
    Partition::open(dir, config(clock), options).unwrap().0
}

fn values(p: &Partition, from: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let slice = p.read(offset, 1000).unwrap();
        if slice.is_empty() {
            return out;
        }
        for batch in slice.iter() {
            for r in batch.records(&p.config().decode).unwrap().iter() {
                let r = r.unwrap();
                if r.offset() >= from {
                    out.push((
                        r.offset(),
                        String::from_utf8(r.value().unwrap().to_vec()).unwrap(),
                    ));
                }
            }
            offset = batch.next_offset();
        }
    }
}

fn append_n(p: &Partition, clock: &ManualClock, n: usize, tag: &str) {
    for i in 0..n {
        let r = Record::new(
            clock.now_ms_for_test(),
            format!("{tag}-{i}-{}", "x".repeat(40)),
        );
        p.append_records(&[r], RecordsOptions::default()).unwrap();
    }
}

trait NowForTest {
    fn now_ms_for_test(&self) -> i64;
}
impl NowForTest for ManualClock {
    fn now_ms_for_test(&self) -> i64 {
        use seglog::clock::Clock;
        self.now_ms()
    }
}

#[test]
fn append_read_roll_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("orders-3");
    let clock = ManualClock::new(T0);
    let p = open(&pdir, &clock, true);
    assert_eq!((p.topic(), p.partition()), ("orders", 3));
    append_n(&p, &clock, 200, "a");
    assert_eq!(p.log_end_offset(), 200);
    assert!(
        p.segment_base_offsets().len() > 3,
        "{:?}",
        p.segment_base_offsets()
    );
    let all = values(&p, 0);
    assert_eq!(all.len(), 200);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, (o, v))| *o == i as i64 && v.starts_with(&format!("a-{i}-")))
    );
    assert_eq!(values(&p, 150).len(), 50);
    assert!(p.read(200, 100).unwrap().is_empty());
    assert!(matches!(
        p.read(201, 100),
        Err(Error::OffsetOutOfRange {
            requested: 201,
            log_start: 0,
            log_end: 200
        })
    ));
    p.close().unwrap();
    assert!(matches!(
        p.append_records(&[Record::new(T0, "x")], RecordsOptions::default()),
        Err(Error::Closed { .. })
    ));
    drop(p);

    let p = open(&pdir, &clock, true);
    assert_eq!(p.log_end_offset(), 200);
    append_n(&p, &clock, 10, "b");
    assert_eq!(values(&p, 195).len(), 15);
    p.close().unwrap();
}

#[test]
fn timestamps_lookups_and_log_append_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("t-0"), &clock, true);
    for i in 0..50 {
        clock.set(T0 + i * 10);
        append_n(&p, &clock, 1, "t");
    }
    assert_eq!(
        p.offset_for_timestamp(T0 + 95).unwrap(),
        Some((10, T0 + 100))
    );
    assert_eq!(p.offset_for_timestamp(0).unwrap(), Some((0, T0)));
    assert_eq!(p.offset_for_timestamp(T0 + 10_000).unwrap(), None);
    assert_eq!(p.max_timestamp(), Some((T0 + 490, 49)));
    // Outside message.timestamp.after.max.ms (1 hour by default).
    let far = Record::new(T0 + 490 + 3_600_001, "future");
    assert!(matches!(
        p.append_records(&[far], RecordsOptions::default()),
        Err(Error::InvalidTimestamp { .. })
    ));

    let cfg = config(&clock).message_timestamp_type(TimestampType::LogAppendTime);
    let (q, _) = Partition::open(&dir.path().join("lat-0"), cfg, OpenOptions::default()).unwrap();
    let info = q
        .append_records(&[Record::new(5, "old")], RecordsOptions::default())
        .unwrap();
    assert_eq!(info.log_append_time, Some(clock.now_ms_for_test()));
    let batch = q.read(0, 100).unwrap().iter().next().unwrap();
    let r = batch
        .records(&q.config().decode)
        .unwrap()
        .to_records()
        .unwrap();
    assert_eq!(r[0].1.timestamp, clock.now_ms_for_test());
    assert!(batch.verify_crc().is_ok());
}

#[test]
fn append_batch_validates_and_assigns_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("b-0"), &clock, true);
    append_n(&p, &clock, 3, "x");
    let mut b = BatchBuilder::new(999);
    for i in 0..4 {
        b.push(&Record::new(T0 + i, format!("v{i}"))).unwrap();
    }
    let mut bytes = b.build().unwrap();
    let info = p.append_batch(&mut bytes).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (3, 6));
    assert_eq!(values(&p, 3)[3], (6, "v3".to_string()));

    let mut corrupt = bytes.clone();
    let n = corrupt.len();
    corrupt[n - 1] ^= 1;
    assert!(matches!(
        p.append_batch(&mut corrupt),
        Err(Error::InvalidBatch(_))
    ));
    let mut control = BatchBuilder::new(0).control(true);
    control.push(&Record::new(T0, "c")).unwrap();
    assert!(matches!(
        p.append_batch(&mut control.build().unwrap()),
        Err(Error::InvalidBatch(_))
    ));
    let mut gappy = BatchBuilder::new(0);
    gappy.push_parts(0, T0, None, Some(b"a"), &[]).unwrap();
    gappy.push_parts(2, T0, None, Some(b"b"), &[]).unwrap();
    assert!(matches!(
        p.append_batch(&mut gappy.build().unwrap()),
        Err(Error::InvalidBatch(_))
    ));
    let mut big = BatchBuilder::new(0);
    big.push(&Record::new(T0, vec![0u8; 2 << 20])).unwrap();
    assert!(matches!(
        p.append_batch(&mut big.build().unwrap()),
        Err(Error::RecordTooLarge { .. })
    ));
    assert_eq!(p.log_end_offset(), 7);
}

#[test]
fn delete_records_and_truncate_to() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("d-0"), &clock, true);
    append_n(&p, &clock, 100, "d");
    let segments = p.segment_base_offsets().len();
    assert_eq!(p.delete_records(40).unwrap(), 40);
    assert_eq!(p.log_start_offset(), 40);
    assert!(p.segment_base_offsets().len() < segments);
    assert!(matches!(
        p.read(39, 10),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert_eq!(values(&p, 40).first().map(|v| v.0), Some(40));

    assert_eq!(p.truncate_to(70).unwrap(), 70);
    assert_eq!(values(&p, 40).len(), 30);
    append_n(&p, &clock, 5, "e");
    let tail = values(&p, 68);
    assert_eq!(
        tail.iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![68, 69, 70, 71, 72, 73, 74]
    );
    assert!(tail[2].1.starts_with("e-0-"));

    assert_eq!(p.delete_records(75).unwrap(), 75);
    assert_eq!((p.log_start_offset(), p.log_end_offset()), (75, 75));
    assert_eq!(p.segment_base_offsets(), vec![75]);
    append_n(&p, &clock, 1, "f");
    assert_eq!(values(&p, 75).len(), 1);
}

#[test]
fn unclean_reopen_recovers_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("r-0");
    let clock = ManualClock::new(T0);
    let p = open(&pdir, &clock, true);
    append_n(&p, &clock, 120, "r");
    std::mem::forget(p); // a crash: no close, no trim
    let (p, report) = Partition::open(&pdir, config(&clock), OpenOptions::default()).unwrap();
    assert!(!report.recovered.is_empty());
    assert_eq!(p.log_end_offset(), 120);
    assert_eq!(values(&p, 0).len(), 120);
    append_n(&p, &clock, 3, "s");
    assert_eq!(values(&p, 118).len(), 5);
    p.close().unwrap();
}

#[test]
fn flush_policy_and_durable_reads() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let cfg = config(&clock).flush_messages(5);
    let (p, _) = Partition::open(
        &dir.path().join("f-0"),
        cfg,
        OpenOptions {
            clean_shutdown: true,
            ..Default::default()
        },
    )
    .unwrap();
    append_n(&p, &clock, 4, "f");
    assert_eq!(p.flushed_offset(), 0);
    assert!(p.read_with(0, 100, Isolation::Durable).unwrap().is_empty());
    append_n(&p, &clock, 1, "f");
    assert_eq!(p.flushed_offset(), 5);
    assert_eq!(
        p.read_with(0, 1 << 20, Isolation::Durable)
            .unwrap()
            .iter()
            .count(),
        5
    );
    append_n(&p, &clock, 2, "g");
    assert!(!p.wait_for(5, Isolation::Durable, Duration::from_millis(20)));
    let q = p.clone();
    let waiter =
        std::thread::spawn(move || q.wait_for(6, Isolation::Durable, Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(p.flush().unwrap(), 7);
    assert!(waiter.join().unwrap());
}

fn producer_batch(pid: i64, epoch: i16, seq: i32, n: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(0).producer(pid, epoch, seq);
    for i in 0..n {
        b.push(&Record::new(T0, format!("p{pid}-s{}", seq + i as i32)))
            .unwrap();
    }
    b.build().unwrap()
}

#[test]
fn idempotent_producer_state_survives_roll_restart_and_crash() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("idem-0");
    let clock = ManualClock::new(T0);
    let p = open(&pdir, &clock, true);
    let first = p.append_batch(&mut producer_batch(7, 0, 0, 3)).unwrap();
    append_n(&p, &clock, 80, "filler"); // rolls several segments
    let second = p.append_batch(&mut producer_batch(7, 0, 3, 2)).unwrap();
    // A retry of either batch returns the original offsets, appending nothing.
    let end = p.log_end_offset();
    assert_eq!(
        p.append_batch(&mut producer_batch(7, 0, 0, 3))
            .unwrap()
            .base_offset,
        first.base_offset
    );
    assert_eq!(
        p.append_batch(&mut producer_batch(7, 0, 3, 2)).unwrap(),
        AppendInfoLike::from(second).0
    );
    assert_eq!(p.log_end_offset(), end);
    assert!(matches!(
        p.append_batch(&mut producer_batch(7, 0, 9, 1)),
        Err(Error::OutOfOrderSequence { .. })
    ));
    p.append_batch(&mut producer_batch(7, 1, 0, 1)).unwrap();
    assert!(matches!(
        p.append_batch(&mut producer_batch(7, 0, 5, 1)),
        Err(Error::ProducerFenced { .. })
    ));
    assert_eq!(p.max_producer_id(), Some(7));
    let snapshots = std::fs::read_dir(&pdir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "snapshot"))
        .count();
    assert!(snapshots > 0);
    p.close().unwrap();
    drop(p);

    let p = open(&pdir, &clock, true);
    assert!(
        matches!(p.append_batch(&mut producer_batch(7, 1, 0, 1)), Ok(info) if info.base_offset == end)
    );
    assert!(matches!(
        p.append_batch(&mut producer_batch(7, 1, 2, 1)),
        Err(Error::OutOfOrderSequence { .. })
    ));
    p.append_batch(&mut producer_batch(7, 1, 1, 1)).unwrap();
    let end = p.log_end_offset();
    std::mem::forget(p);
    let (p, _) = Partition::open(&pdir, config(&clock), OpenOptions::default()).unwrap();
    assert_eq!(
        p.append_batch(&mut producer_batch(7, 1, 1, 1))
            .unwrap()
            .base_offset,
        end - 1
    );
    assert_eq!(p.log_end_offset(), end);
}

struct AppendInfoLike(seglog::partition::AppendInfo);
impl From<seglog::partition::AppendInfo> for AppendInfoLike {
    fn from(mut info: seglog::partition::AppendInfo) -> Self {
        info.log_append_time = None;
        AppendInfoLike(info)
    }
}

#[path = "common/mod.rs"]
mod common;

/// A partition directory written by a Kafka broker opens, reads, and takes
/// appends that continue its offsets; the result still verifies.
#[test]
fn kafka_partition_directories_open_and_continue() {
    let Some(root) = common::fixtures() else {
        return;
    };
    let clock = ManualClock::new(T0);
    let mut opened = 0;
    for dir in common::partition_dirs(&root) {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        if seglog::partition::parse_partition_dir(&name).is_none() {
            continue;
        }
        let copy = tempfile::tempdir().unwrap();
        let pdir = copy.path().join(&name);
        std::fs::create_dir(&pdir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), pdir.join(entry.file_name())).unwrap();
            }
        }
        let kafka_records: u64 = common::segment_bases(&pdir)
            .iter()
            .map(|&b| {
                let data = std::fs::read(seglog::segment::file_name::file_path(
                    &pdir,
                    b,
                    seglog::segment::FileKind::Log,
                ))
                .unwrap();
                seglog::record::batches(&data)
                    .map(|r| r.unwrap().1.record_count() as u64)
                    .sum::<u64>()
            })
            .sum();
        let cfg = TopicConfig {
            max_message_bytes: 10 << 20,
            message_timestamp_after_max_ms: i64::MAX,
            ..config(&clock)
        };
        let (p, _) = Partition::open(&pdir, cfg, OpenOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let end = p.log_end_offset();
        let mut seen = 0u64;
        let mut offset = p.log_start_offset();
        while offset < end {
            let slice = p.read(offset, 1 << 20).unwrap();
            for batch in slice.iter() {
                seen += batch
                    .records(&p.config().decode)
                    .unwrap()
                    .iter()
                    .filter(|r| r.as_ref().unwrap().offset() >= offset)
                    .count() as u64;
                offset = batch.next_offset();
            }
        }
        assert_eq!(seen, kafka_records, "{name}");
        let info = p
            .append_records(
                &[Record::new(T0, "seglog was here")],
                RecordsOptions::default(),
            )
            .unwrap();
        assert_eq!(info.base_offset, end, "{name}");
        p.close().unwrap();
        for base in p.segment_base_offsets() {
            let report =
                seglog::segment::verify_segment(&pdir, base, &p.config().segment_config()).unwrap();
            assert!(report.is_ok(), "{name}: {:?}", report.faults);
        }
        opened += 1;
    }
    eprintln!("{opened} Kafka partition directories opened and appended to");
    assert!(opened > 100);
}

/// Truncating back into a sealed segment while a reader holds a slice of
/// it: the file must not shrink under the reader's mapping (SIGBUS).
#[test]
fn truncation_into_a_sealed_segment_keeps_held_slices_valid() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let p = open(&dir.path().join("sigbus-0"), &clock, true);
    append_n(&p, &clock, 100, "s");
    assert!(p.segment_base_offsets().len() > 2);
    let held = p.read(1, 1 << 20).unwrap();
    let copy = held.as_bytes().to_vec();
    p.truncate_to(2).unwrap();
    assert_eq!(p.log_end_offset(), 2);
    // Touch every byte the reader holds.
    assert_eq!(held.as_bytes().to_vec(), copy);
    assert!(held.iter().all(|b| b.verify_crc().is_ok()));
    append_n(&p, &clock, 3, "t");
    assert_eq!(values(&p, 0).len(), 5);
}
