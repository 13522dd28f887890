//! The consumer offset store: Kafka's `__consumer_offsets` schemas, the
//! group -> partition mapping, commits, deletes, expiry, replay, and every
//! offsets record of the real Kafka fixtures.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use seglog::cleaner::{CleanerConfig, clean_partition};
use seglog::clock::{Clock, ManualClock};
use seglog::config::{CleanupPolicy, StoreConfig};
use seglog::offsets::group_partition::{java_string_hash, kafka_abs, partition_for_group};
use seglog::offsets::schema::{
    GroupMetadataKey, OffsetCommitKey, OffsetCommitValue, OffsetRecordError, RecordKey,
};
use seglog::offsets::{CommittedOffset, OFFSETS_TOPIC, OffsetStore, OffsetStoreConfig};
use seglog::record::{BatchBuilder, BatchHeader, DecodeLimits, Record, batches};
use seglog::{Error, Store};

const NOW: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 24 * 3_600_000;

fn open(dir: &Path, clock: &ManualClock) -> (Store, OffsetStore) {
    let store = Store::open(dir, StoreConfig::default().clock(Arc::new(clock.clone()))).unwrap();
    let offsets = OffsetStore::open(&store, OffsetStoreConfig::default()).unwrap();
    (store, offsets)
}

fn reopen(
    dir: &Path,
    clock: &ManualClock,
    store: Store,
    offsets: OffsetStore,
) -> (Store, OffsetStore) {
    drop(offsets);
    store.close().unwrap();
    drop(store);
    open(dir, clock)
}

/// (key, value) of every record of one `__consumer_offsets` partition.
fn records_of(store: &Store, partition: u32) -> Vec<Vec<(i64, Record)>> {
    let p = store
        .topic(OFFSETS_TOPIC)
        .unwrap()
        .partition(partition)
        .unwrap();
    let slice = p.read(p.log_start_offset(), usize::MAX).unwrap();
    slice
        .iter()
        .map(|b| {
            b.records(&DecodeLimits::default())
                .unwrap()
                .to_records()
                .unwrap()
        })
        .collect()
}

#[test]
fn offset_store_is_send_and_sync() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<OffsetStore>();
}

#[test]
fn commit_then_committed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    let topic = store.topic(OFFSETS_TOPIC).unwrap();
    assert_eq!(topic.partition_count(), 50);
    assert_eq!(topic.config().cleanup_policy, CleanupPolicy::COMPACT);
    assert_eq!(topic.config().segment_bytes, 100 << 20);

    assert_eq!(offsets.committed("g", "t", 0), None);
    offsets
        .commit("g", &[("t", 0, 42, Some(3), "hello")])
        .unwrap();
    let expected = CommittedOffset {
        offset: 42,
        leader_epoch: Some(3),
        metadata: "hello".into(),
        commit_timestamp: NOW,
        expire_timestamp: None,
    };
    assert_eq!(offsets.committed("g", "t", 0), Some(expected.clone()));
    assert_eq!(offsets.committed("g", "t", 1), None);
    assert_eq!(offsets.committed("other", "t", 0), None);

    // A later commit replaces it; no epoch stays none.
    clock.advance(1_000);
    offsets.commit("g", &[("t", 0, 50, None, "")]).unwrap();
    let c = offsets.committed("g", "t", 0).unwrap();
    assert_eq!(
        (c.offset, c.leader_epoch, c.commit_timestamp),
        (50, None, NOW + 1_000)
    );
    assert_eq!(offsets.groups(), vec!["g".to_string()]);
    assert_eq!(offsets.group_offsets("g").len(), 1);
    // Nothing is written for an empty commit.
    let p = topic.partition(offsets.partition_for("g")).unwrap();
    let end = p.log_end_offset();
    offsets.commit("g", &[]).unwrap();
    assert_eq!(p.log_end_offset(), end);
}

#[test]
fn a_commit_of_several_partitions_is_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    let entries: Vec<_> = (0..5u32)
        .map(|n| ("orders", n, i64::from(n) * 10, Some(1), "m"))
        .collect();
    offsets.commit("billing", &entries).unwrap();

    let n = offsets.partition_for("billing");
    assert_eq!(n, partition_for_group("billing", 50));
    let batches = records_of(&store, n);
    assert_eq!(batches.len(), 1, "one commit, one batch");
    assert_eq!(batches[0].len(), 5);
    for (i, (offset, record)) in batches[0].iter().enumerate() {
        assert_eq!(*offset, i as i64);
        assert_eq!(record.timestamp, NOW);
        let key = RecordKey::decode(record.key.as_ref().unwrap()).unwrap();
        assert_eq!(
            key,
            RecordKey::OffsetCommit(OffsetCommitKey::new("billing", "orders", i as i32))
        );
        let value = OffsetCommitValue::decode(record.value.as_ref().unwrap()).unwrap();
        assert_eq!(
            (value.version, value.offset, value.leader_epoch),
            (3, i as i64 * 10, 1)
        );
    }
    // No other partition got anything.
    for p in store.topic(OFFSETS_TOPIC).unwrap().partitions() {
        if p.partition() != n {
            assert_eq!(p.log_end_offset(), 0);
        }
    }
}

#[test]
fn an_invalid_entry_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    let p = store
        .topic(OFFSETS_TOPIC)
        .unwrap()
        .partition(offsets.partition_for("g"))
        .unwrap();
    let big = "x".repeat(4097);
    for bad in [
        vec![("t", 0, 1, None, ""), ("t", 1, -1, None, "")],
        vec![("t", 0, 1, None, ""), ("t", 1, 1, None, big.as_str())],
        vec![("t", 0, 1, None, ""), ("t", u32::MAX, 1, None, "")],
    ] {
        let err = offsets.commit("g", &bad).unwrap_err();
        assert!(matches!(err, Error::InvalidOffsetCommit { .. }), "{err}");
    }
    let err = offsets.commit("", &[("t", 0, 1, None, "")]).unwrap_err();
    assert!(matches!(err, Error::InvalidOffsetCommit { .. }), "{err}");
    assert_eq!(p.log_end_offset(), 0);
    assert_eq!(offsets.committed("g", "t", 0), None);
    // 4096 bytes of metadata is Kafka's limit, still accepted.
    offsets
        .commit("g", &[("t", 0, 1, None, &big[..4096])])
        .unwrap();
}

#[test]
fn offsets_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    for g in 0..20 {
        let group = format!("group-{g}");
        for round in 0..3i64 {
            clock.advance(10);
            let entries: Vec<_> = (0..4u32)
                .map(|p| ("events", p, round * 100 + i64::from(p), Some(g), "meta"))
                .collect();
            offsets.commit(&group, &entries).unwrap();
        }
    }
    let before: Vec<_> = offsets
        .groups()
        .into_iter()
        .map(|g| (g.clone(), offsets.group_offsets(&g)))
        .collect();
    assert_eq!(before.len(), 20);

    let (_store, offsets) = reopen(dir.path(), &clock, store, offsets);
    let after: Vec<_> = offsets
        .groups()
        .into_iter()
        .map(|g| (g.clone(), offsets.group_offsets(&g)))
        .collect();
    assert_eq!(before, after);
    assert_eq!(
        offsets.committed("group-7", "events", 2).unwrap().offset,
        202
    );
}

#[test]
fn deletes_are_tombstones_that_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    offsets
        .commit(
            "a",
            &[
                ("t", 0, 1, None, ""),
                ("t", 1, 2, None, ""),
                ("u", 0, 3, None, ""),
            ],
        )
        .unwrap();
    offsets.commit("b", &[("t", 0, 4, None, "")]).unwrap();

    assert_eq!(
        offsets
            .delete("a", &[("t", 1), ("t", 1), ("nope", 9)])
            .unwrap(),
        1
    );
    assert_eq!(offsets.delete("missing", &[("t", 0)]).unwrap(), 0);
    assert_eq!(offsets.committed("a", "t", 1), None);
    assert_eq!(offsets.delete_group("b").unwrap(), 1);
    assert_eq!(offsets.delete_group("b").unwrap(), 0);
    assert_eq!(offsets.groups(), vec!["a".to_string()]);

    // The tombstones are in the log: a null value for a version 1 key.
    let batches = records_of(&store, offsets.partition_for("b"));
    let (_, last) = batches.last().unwrap().last().unwrap().clone();
    assert_eq!(last.value, None);
    assert_eq!(
        RecordKey::decode(last.key.as_ref().unwrap()).unwrap(),
        RecordKey::OffsetCommit(OffsetCommitKey::new("b", "t", 0))
    );

    let (_store, offsets) = reopen(dir.path(), &clock, store, offsets);
    assert_eq!(offsets.groups(), vec!["a".to_string()]);
    assert_eq!(offsets.committed("a", "t", 1), None);
    assert_eq!(offsets.committed("a", "t", 0).unwrap().offset, 1);
    assert_eq!(offsets.committed("a", "u", 0).unwrap().offset, 3);
    assert_eq!(offsets.committed("b", "t", 0), None);
}

#[test]
fn expiry_removes_old_offsets_of_empty_groups_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    assert_eq!(offsets.config().retention_ms, 7 * DAY_MS);
    offsets
        .commit("idle", &[("t", 0, 1, None, ""), ("t", 1, 1, None, "")])
        .unwrap();
    offsets.commit("busy", &[("t", 0, 1, None, "")]).unwrap();
    clock.advance(3 * DAY_MS);
    offsets.commit("idle", &[("t", 1, 2, None, "")]).unwrap();

    let empty = |g: &str| g == "idle";
    // Not old enough yet.
    assert_eq!(offsets.expire(NOW + 7 * DAY_MS - 1, empty).unwrap(), 0);
    // t-0 of idle was committed 7 days ago; t-1 only 4 days ago; busy is
    // not empty.
    assert_eq!(offsets.expire(NOW + 7 * DAY_MS, empty).unwrap(), 1);
    assert_eq!(offsets.committed("idle", "t", 0), None);
    assert!(offsets.committed("idle", "t", 1).is_some());
    assert!(offsets.committed("busy", "t", 0).is_some());

    let (store, offsets) = reopen(dir.path(), &clock, store, offsets);
    assert_eq!(offsets.committed("idle", "t", 0), None);
    assert_eq!(offsets.expire(NOW + 10 * DAY_MS, |_| true).unwrap(), 2);
    assert!(offsets.groups().is_empty());
    drop(store);
}

#[test]
fn lag_is_log_end_minus_committed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    let topic = store.create_topic("orders", 2, Default::default()).unwrap();
    let p = topic.partition(1).unwrap();
    for i in 0..10 {
        p.append_records(&[Record::new(NOW, format!("r{i}"))], Default::default())
            .unwrap();
    }
    assert_eq!(offsets.lag("g", "orders", 1), None);
    offsets
        .commit("g", &[("orders", 1, 4, None, ""), ("gone", 0, 4, None, "")])
        .unwrap();
    assert_eq!(offsets.lag("g", "orders", 1), Some(6));
    assert_eq!(offsets.lag("g", "gone", 0), None, "no such topic");
    assert!(!store.topic_names().contains(&"gone".to_string()));
}

#[test]
fn the_group_partition_is_kafkas() {
    // Java String.hashCode vectors.
    assert_eq!(java_string_hash(""), 0);
    assert_eq!(java_string_hash("a"), 97);
    assert_eq!(java_string_hash("ab"), 97 * 31 + 98);
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    // A non-BMP character counts as two UTF-16 units: U+1D11E is D834 DD1E.
    assert_eq!(java_string_hash("\u{1D11E}"), 0xD834 * 31 + 0xDD1E);
    assert_eq!(
        java_string_hash("x\u{1D11E}"),
        ((120 * 31 + 0xD834) * 31) + 0xDD1E
    );
    // Utils.abs, not abs: i32::MIN maps to 0.
    assert_eq!(kafka_abs(i32::MIN), 0);
    assert_eq!(kafka_abs(-7), 7);
    assert_eq!(partition_for_group("polygenelubricants", 50), 0);
    assert_eq!(partition_for_group("", 50), 0);
    assert_eq!(partition_for_group("a", 50), 97 % 50);
    // A negative hash: "console-consumer-46999" lands in partition 8 per
    // a Kafka user's check against GroupMetadataManager.partitionFor.
    assert_eq!(partition_for_group("console-consumer-46999", 50), 8);
    for g in [
        "billing",
        "console-consumer-1",
        "\u{e9}t\u{e9}",
        "\u{1F600}grp",
    ] {
        let h = java_string_hash(g);
        let expected = if h == i32::MIN {
            0
        } else {
            h.unsigned_abs() % 50
        };
        assert_eq!(partition_for_group(g, 50), expected, "{g}");
    }

    // And the store writes where Kafka's coordinator would.
    let dir = tempfile::tempdir().unwrap();
    let (store, offsets) = open(dir.path(), &ManualClock::new(NOW));
    offsets
        .commit("polygenelubricants", &[("t", 0, 1, None, "")])
        .unwrap();
    offsets.commit("a", &[("t", 0, 1, None, "")]).unwrap();
    let topic = store.topic(OFFSETS_TOPIC).unwrap();
    assert_eq!(topic.partition(0).unwrap().log_end_offset(), 1);
    assert_eq!(topic.partition(47).unwrap().log_end_offset(), 1);
}

/// Key version 1 for group "g1", topic "t", partition 3, by hand.
const GOLDEN_KEY: [u8; 13] = [
    0x00, 0x01, // version 1 (offset commit)
    0x00, 0x02, b'g', b'1', // group: STRING, i16 length 2
    0x00, 0x01, b't', // topic: STRING, length 1
    0x00, 0x00, 0x00, 0x03, // partition i32 = 3
];

/// Value version 3: offset 42, leader epoch 5, metadata "m", commit
/// timestamp 1_700_000_000_000 (0x0000018B_CFE56800), by hand.
const GOLDEN_VALUE: [u8; 25] = [
    0x00, 0x03, // version 3
    0, 0, 0, 0, 0, 0, 0, 0x2a, // offset i64 = 42
    0, 0, 0, 0x05, // leader_epoch i32 = 5
    0x00, 0x01, b'm', // metadata: STRING, length 1
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // commit_timestamp i64
];

#[test]
fn golden_bytes_key_v1_value_v3() {
    assert_eq!(
        OffsetCommitKey::new("g1", "t", 3).encode().unwrap(),
        GOLDEN_KEY
    );
    let value = OffsetCommitValue::new(42, Some(5), "m", NOW);
    assert_eq!(value.encode().unwrap(), GOLDEN_VALUE);
    assert_eq!(
        RecordKey::decode(&GOLDEN_KEY).unwrap(),
        RecordKey::OffsetCommit(OffsetCommitKey::new("g1", "t", 3))
    );
    assert_eq!(OffsetCommitValue::decode(&GOLDEN_VALUE).unwrap(), value);
    // Group metadata key: version 2 and the group.
    assert_eq!(
        GroupMetadataKey { group: "g1".into() }.encode().unwrap(),
        [0x00, 0x02, 0x00, 0x02, b'g', b'1']
    );
    // Older versions, by hand: v0 (offset, metadata, timestamp) and v1
    // (plus expire_timestamp); v2 is v0's layout.
    let mut v0 = vec![0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x07, 0x00, 0x00];
    v0.extend_from_slice(&NOW.to_be_bytes());
    let d = OffsetCommitValue::decode(&v0).unwrap();
    assert_eq!(
        (
            d.offset,
            d.metadata.as_str(),
            d.commit_timestamp,
            d.leader_epoch()
        ),
        (7, "", NOW, None)
    );
    let mut v1 = v0.clone();
    v1[1] = 1;
    v1.extend_from_slice(&(NOW + 5).to_be_bytes());
    assert_eq!(
        OffsetCommitValue::decode(&v1).unwrap().expire_timestamp,
        Some(NOW + 5)
    );
    // v4: the metadata is a COMPACT_STRING (varint length + 1) and the
    // value ends with tagged fields (here none).
    let mut v4 = vec![
        0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x2a, 0, 0, 0, 0x05, 0x02, b'm',
    ];
    v4.extend_from_slice(&NOW.to_be_bytes());
    v4.push(0x00);
    let d = OffsetCommitValue::decode(&v4).unwrap();
    assert_eq!(
        (d.version, d.offset, d.leader_epoch(), d.metadata.as_str()),
        (4, 42, Some(5), "m")
    );
    assert_eq!(d.encode().unwrap(), v4);

    // The store writes exactly these bytes, timestamped by its clock.
    let dir = tempfile::tempdir().unwrap();
    let (store, offsets) = open(dir.path(), &ManualClock::new(NOW));
    offsets.commit("g1", &[("t", 3, 42, Some(5), "m")]).unwrap();
    let batches = records_of(&store, offsets.partition_for("g1"));
    let (_, record) = &batches[0][0];
    assert_eq!(record.key.as_deref(), Some(&GOLDEN_KEY[..]));
    assert_eq!(record.value.as_deref(), Some(&GOLDEN_VALUE[..]));
    assert_eq!(record.timestamp, NOW);
}

#[test]
fn concurrent_commits_match_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    std::thread::scope(|s| {
        for t in 0..4i64 {
            let offsets = offsets.clone();
            s.spawn(move || {
                for i in 0..50 {
                    // Every thread hits the same keys of the same group.
                    offsets
                        .commit(
                            "shared",
                            &[("t", 0, t * 1000 + i, None, ""), ("t", 1, i, None, "")],
                        )
                        .unwrap();
                    if i % 10 == 0 {
                        offsets.delete("shared", &[("t", 1)]).unwrap();
                    }
                    offsets
                        .commit(&format!("own-{t}"), &[("t", 0, i, None, "")])
                        .unwrap();
                }
            });
        }
    });
    let before: Vec<_> = offsets
        .groups()
        .into_iter()
        .map(|g| (g.clone(), offsets.group_offsets(&g)))
        .collect();
    let (_store, offsets) = reopen(dir.path(), &clock, store, offsets);
    let after: Vec<_> = offsets
        .groups()
        .into_iter()
        .map(|g| (g.clone(), offsets.group_offsets(&g)))
        .collect();
    assert_eq!(before, after, "memory and log agree");
    assert_eq!(after.len(), 5);
}

/// Writes a `__consumer_offsets-0` partition by hand with transactional
/// offset commits: one committed, one aborted, one still open.
#[test]
fn transactional_commits_count_after_their_commit_marker() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join(format!("{OFFSETS_TOPIC}-0"));
    std::fs::create_dir_all(&pdir).unwrap();
    let commit = |p: i32, offset: i64| {
        Record::keyed(
            NOW,
            OffsetCommitKey::new("g", "t", p).encode().unwrap(),
            OffsetCommitValue::new(offset, None, "", NOW)
                .encode()
                .unwrap(),
        )
    };
    let marker = |kind: i16| {
        let mut key = 0i16.to_be_bytes().to_vec();
        key.extend_from_slice(&kind.to_be_bytes());
        Record::keyed(NOW, key, vec![0, 0, 0, 0, 0, 0])
    };
    let batch = |base: i64, pid: i64, control: bool, record: Record| {
        let mut b = BatchBuilder::new(base)
            .producer(pid, 0, if control { -1 } else { 0 })
            .transactional(true)
            .control(control);
        b.push(&record).unwrap();
        b.build().unwrap()
    };
    let mut log = Vec::new();
    log.extend(batch(0, 7, false, commit(0, 10))); // pid 7: t-0 = 10
    log.extend(batch(1, 8, false, commit(1, 20))); // pid 8: t-1 = 20
    log.extend(batch(2, 7, true, marker(1))); // pid 7 COMMIT
    log.extend(batch(3, 8, true, marker(0))); // pid 8 ABORT
    log.extend(batch(4, 9, false, commit(2, 30))); // pid 9: still open
    std::fs::write(pdir.join("00000000000000000000.log"), &log).unwrap();

    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let offsets = OffsetStore::open(&store, OffsetStoreConfig::default()).unwrap();
    assert_eq!(
        offsets.partition_count(),
        1,
        "an existing topic keeps its count"
    );
    assert_eq!(offsets.committed("g", "t", 0).map(|c| c.offset), Some(10));
    assert_eq!(offsets.committed("g", "t", 1), None, "aborted");
    assert_eq!(offsets.committed("g", "t", 2), None, "not committed yet");
}

#[test]
fn a_corrupt_record_fails_the_replay_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join(format!("{OFFSETS_TOPIC}-0"));
    std::fs::create_dir_all(&pdir).unwrap();
    let mut b = BatchBuilder::new(0);
    b.push(&Record::keyed(
        NOW,
        OffsetCommitKey::new("g", "t", 0).encode().unwrap(),
        vec![0, 3, 1],
    ))
    .unwrap();
    std::fs::write(pdir.join("00000000000000000000.log"), b.build().unwrap()).unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let err = OffsetStore::open(&store, OffsetStoreConfig::default()).unwrap_err();
    match err {
        Error::CorruptOffsetRecord {
            partition,
            offset,
            reason,
            ..
        } => {
            assert_eq!((partition, offset), (0, 0));
            assert!(
                matches!(reason, OffsetRecordError::Truncated { .. }),
                "{reason}"
            );
        }
        other => panic!("unexpected {other}"),
    }
}

/// The `__consumer_offsets-N` directories of the fixtures, grouped by the
/// log directory they come from.
fn fixture_offsets_dirs(root: &Path) -> BTreeMap<PathBuf, Vec<PathBuf>> {
    let mut by_log_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for dir in common::partition_dirs(root) {
        let name = dir.file_name().unwrap().to_str().unwrap();
        if name
            .strip_prefix("__consumer_offsets-")
            .is_some_and(|n| n.parse::<u32>().is_ok())
        {
            by_log_dir
                .entry(dir.parent().unwrap().to_path_buf())
                .or_default()
                .push(dir);
        }
    }
    by_log_dir
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

type Latest = BTreeMap<(String, String, u32), i64>;

/// Decodes every record of every fixture `__consumer_offsets` partition;
/// returns the latest committed offset per key, per log directory.
fn decode_fixtures(root: &Path) -> BTreeMap<PathBuf, Latest> {
    let mut key_versions: BTreeMap<i16, usize> = BTreeMap::new();
    let mut value_versions: BTreeMap<i16, usize> = BTreeMap::new();
    let (mut tombstones, mut group_metadata, mut partitions, mut batches_seen) = (0, 0, 0, 0);
    let mut latest = BTreeMap::new();
    for (log_dir, dirs) in fixture_offsets_dirs(root) {
        let latest: &mut Latest = latest.entry(log_dir).or_default();
        for dir in dirs {
            partitions += 1;
            for log in segment_files(&dir) {
                let bytes = std::fs::read(&log).unwrap();
                for batch in batches(&bytes) {
                    let (pos, batch) = batch.unwrap_or_else(|e| panic!("{}: {e:?}", log.display()));
                    batch.verify_crc().unwrap();
                    batches_seen += 1;
                    // Transaction markers are not offsets records. (The
                    // fixtures hold no transactions; the latest-value
                    // bookkeeping below would need markers if they did.)
                    assert!(!batch.is_transactional(), "{}", log.display());
                    if batch.is_control() {
                        continue;
                    }
                    let records = batch.records(&DecodeLimits::default()).unwrap();
                    for record in records.iter() {
                        let record = record.unwrap();
                        let at =
                            || format!("{} byte {pos} offset {}", log.display(), record.offset());
                        let key = RecordKey::decode(record.key().expect("a key"))
                            .unwrap_or_else(|e| panic!("{}: key: {e}", at()));
                        *key_versions.entry(key.version()).or_default() += 1;
                        match key {
                            RecordKey::OffsetCommit(k) => {
                                let tp = (k.group, k.topic, k.partition as u32);
                                match record.value() {
                                    None => {
                                        tombstones += 1;
                                        latest.remove(&tp);
                                    }
                                    Some(v) => {
                                        let v = OffsetCommitValue::decode(v)
                                            .unwrap_or_else(|e| panic!("{}: value: {e}", at()));
                                        *value_versions.entry(v.version).or_default() += 1;
                                        latest.insert(tp, v.offset);
                                    }
                                }
                            }
                            RecordKey::GroupMetadata(_) => group_metadata += 1,
                            RecordKey::Other { version } => {
                                panic!("{}: unexpected key version {version}", at())
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "fixture __consumer_offsets: {partitions} partitions, {batches_seen} batches; key versions {key_versions:?}; \
         offset commit value versions {value_versions:?}; {tombstones} offset tombstones; \
         {group_metadata} group metadata records (passed over)"
    );
    assert!(partitions > 0 && !value_versions.is_empty());
    latest
}

#[test]
fn every_fixture_offsets_record_decodes() {
    let Some(root) = common::fixtures() else {
        return;
    };
    let latest = decode_fixtures(&root);
    assert!(latest.values().any(|l| !l.is_empty()));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

/// A copy of each fixture log directory's `__consumer_offsets` replays
/// into the same offsets as the record-by-record decoding.
#[test]
fn fixture_offsets_replay_into_an_offset_store() {
    let Some(root) = common::fixtures() else {
        return;
    };
    let expected = decode_fixtures(&root);
    let mut groups = 0;
    for (log_dir, dirs) in fixture_offsets_dirs(&root) {
        let tmp = tempfile::tempdir().unwrap();
        for dir in &dirs {
            copy_dir(dir, &tmp.path().join(dir.file_name().unwrap()));
        }
        let store = Store::open(tmp.path(), StoreConfig::default()).unwrap();
        let offsets = OffsetStore::open(&store, OffsetStoreConfig::default())
            .unwrap_or_else(|e| panic!("{}: {e}", log_dir.display()));
        let mut got = Latest::new();
        for g in offsets.groups() {
            for ((topic, partition), c) in offsets.group_offsets(&g) {
                got.insert((g.clone(), topic, partition), c.offset);
            }
        }
        assert_eq!(&got, &expected[&log_dir], "{}", log_dir.display());
        groups += offsets.groups().len();
    }
    eprintln!("replayed {groups} groups from the fixtures");
}

#[test]
fn compacted_offsets_keep_the_latest_values() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, offsets) = open(dir.path(), &clock);
    for round in 0..20 {
        clock.advance(1_000);
        offsets
            .commit(
                "g",
                &[("t", 0, round, None, ""), ("t", 1, round * 2, Some(1), "m")],
            )
            .unwrap();
    }
    offsets.commit("g", &[("t", 2, 5, None, "")]).unwrap();
    assert_eq!(offsets.delete("g", &[("t", 2)]).unwrap(), 1);
    let before = offsets.group_offsets("g");

    // Compaction never touches the active segment: roll first.
    let p = store
        .topic(OFFSETS_TOPIC)
        .unwrap()
        .partition(offsets.partition_for("g"))
        .unwrap();
    p.roll_now().unwrap();
    let config = CleanerConfig {
        dedupe_buffer_size: 1 << 20,
        ..CleanerConfig::default()
    };
    let stats = clean_partition(&p, 0, clock.now_ms(), &config).unwrap();
    assert_eq!(stats.records_before, 42);
    assert!(stats.records_after < stats.records_before, "{stats:?}");

    // What is left holds each key once: the latest value (or tombstone).
    let mut keys = std::collections::HashSet::new();
    for (_, record) in records_of(&store, p.partition()).into_iter().flatten() {
        assert!(keys.insert(record.key.clone().unwrap()), "a key twice");
    }
    assert_eq!(keys.len(), 3, "t-0, t-1 and the tombstone of t-2");

    let (_store, offsets) = reopen(dir.path(), &clock, store, offsets);
    assert_eq!(offsets.group_offsets("g"), before);
    assert_eq!(offsets.committed("g", "t", 0).unwrap().offset, 19);
    assert_eq!(offsets.committed("g", "t", 1).unwrap().offset, 38);
    assert_eq!(offsets.committed("g", "t", 2), None);
}

fn value_strategy() -> impl Strategy<Value = OffsetCommitValue> {
    (
        0i16..=4,
        any::<i64>(),
        any::<i32>(),
        ".{0,20}",
        any::<i64>(),
        any::<i64>(),
        any::<[u8; 16]>(),
    )
        .prop_map(
            |(version, offset, epoch, metadata, ts, expire, id)| OffsetCommitValue {
                version,
                offset,
                leader_epoch: if version >= 3 { epoch } else { -1 },
                metadata,
                commit_timestamp: ts,
                expire_timestamp: (version == 1 && expire != -1).then_some(expire),
                topic_id: (version == 4 && id != [0; 16]).then_some(id),
            },
        )
}

proptest! {
    #[test]
    fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = RecordKey::decode(&bytes);
        let _ = OffsetCommitValue::decode(&bytes);
    }

    #[test]
    fn near_valid_values_never_panic(value in value_strategy(), cut in any::<usize>(), flip in any::<(usize, u8)>()) {
        let mut bytes = value.encode().unwrap();
        let at = flip.0 % bytes.len();
        bytes[at] ^= flip.1;
        let _ = OffsetCommitValue::decode(&bytes);
        bytes.truncate(cut % (bytes.len() + 1));
        let _ = OffsetCommitValue::decode(&bytes);
    }

    #[test]
    fn every_value_version_roundtrips(value in value_strategy()) {
        let bytes = value.encode().unwrap();
        prop_assert_eq!(OffsetCommitValue::decode(&bytes).unwrap(), value);
    }

    #[test]
    fn keys_roundtrip(group in ".{0,20}", topic in "[a-z._-]{1,20}", partition in any::<i32>()) {
        let key = OffsetCommitKey::new(group.clone(), topic, partition);
        prop_assert_eq!(RecordKey::decode(&key.encode().unwrap()).unwrap(), RecordKey::OffsetCommit(key));
        let gm = GroupMetadataKey { group };
        prop_assert_eq!(RecordKey::decode(&gm.encode().unwrap()).unwrap(), RecordKey::GroupMetadata(gm));
    }
}
