//! Retention and compaction driven by the store: explicit passes, the
//! cleaner checkpoint, the maintenance thread, and imported topics left
//! alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use seglog::clock::ManualClock;
use seglog::config::{StoreConfig, TopicConfig};
use seglog::partition::RecordsOptions;
use seglog::record::{BatchHeader, Record};
use seglog::{Error, Store};

const T0: i64 = 1_700_000_000_000;

fn store_config(clock: &ManualClock) -> StoreConfig {
    StoreConfig::default()
        .clock(Arc::new(clock.clone()))
        .maintenance_thread(false)
}

fn topic_config(extra: &str) -> TopicConfig {
    TopicConfig::from_properties(&format!(
        "segment.bytes=1024\nfile.delete.delay.ms=0\n{extra}"
    ))
    .unwrap()
}

fn append(store: &Store, topic: &str, clock: &ManualClock, key: &str, n: usize) {
    let p = store.topic(topic).unwrap().partition(0).unwrap();
    for i in 0..n {
        let r = Record::keyed(
            seglog::clock::Clock::now_ms(clock),
            key.to_string(),
            format!("value-{i:04}-{}", "x".repeat(60)),
        );
        p.append_records(&[r], RecordsOptions::default()).unwrap();
    }
}

fn latest_per_key(store: &Store, topic: &str) -> Vec<(String, String)> {
    let p = store.topic(topic).unwrap().partition(0).unwrap();
    let mut latest = std::collections::BTreeMap::new();
    let mut at = p.log_start_offset();
    while at < p.log_end_offset() {
        for batch in p.read(at, 1 << 20).unwrap().iter() {
            for r in batch.records(&p.config().decode).unwrap().iter() {
                let r = r.unwrap();
                let key = String::from_utf8(r.key().unwrap().to_vec()).unwrap();
                latest.insert(key, String::from_utf8(r.value().unwrap().to_vec()).unwrap());
            }
            at = batch.next_offset();
        }
    }
    latest.into_iter().collect()
}

#[test]
fn retention_pass_deletes_old_segments_of_configured_topics_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let store = Store::open(dir.path(), store_config(&clock)).unwrap();
    store
        .create_topic("events", 1, topic_config("retention.ms=60000"))
        .unwrap();
    append(&store, "events", &clock, "k", 60);
    let before = store.describe_topic("events").unwrap().partitions[0].segments;
    assert!(before > 3);
    clock.advance(120_000);
    let done = store.run_retention().unwrap();
    assert_eq!(done.len(), 1);
    let p = store.topic("events").unwrap().partition(0).unwrap();
    assert_eq!(p.log_start_offset(), 60);
    assert_eq!(p.log_end_offset(), 60);
    // The log start checkpoint advanced with it.
    let text = std::fs::read_to_string(dir.path().join("log-start-offset-checkpoint")).unwrap();
    assert!(text.contains("events 0 60"), "{text}");
    store.close().unwrap();
}

#[test]
fn cleaner_picks_dirty_partitions_and_keeps_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let store = Store::open(dir.path(), store_config(&clock)).unwrap();
    store
        .create_topic(
            "profiles",
            1,
            topic_config("cleanup.policy=compact\nmin.cleanable.dirty.ratio=0.5"),
        )
        .unwrap();
    for key in ["a", "b", "c"] {
        append(&store, "profiles", &clock, key, 20);
    }
    store
        .topic("profiles")
        .unwrap()
        .partition(0)
        .unwrap()
        .roll_now()
        .unwrap();
    let before = store.cleanable("profiles", 0).unwrap();
    assert!(before.ratio > 0.99, "{before:?}");
    let cleaned = store.run_cleaner().unwrap().expect("a dirty partition");
    assert_eq!((cleaned.topic.as_str(), cleaned.partition), ("profiles", 0));
    assert!(cleaned.stats.bytes_after < cleaned.stats.bytes_before);
    let checkpoint = store.cleaner_checkpoint("profiles", 0).unwrap();
    assert!(checkpoint > 0);
    assert!(store.run_cleaner().unwrap().is_none(), "nothing dirty left");
    let latest = latest_per_key(&store, "profiles");
    assert_eq!(
        latest.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert!(latest.iter().all(|(_, v)| v.starts_with("value-0019")));
    store.close().unwrap();
    drop(store);

    let store = Store::open(dir.path(), store_config(&clock)).unwrap();
    assert_eq!(store.cleaner_checkpoint("profiles", 0), Some(checkpoint));
    let text = std::fs::read_to_string(dir.path().join("cleaner-offset-checkpoint")).unwrap();
    assert!(text.contains(&format!("profiles 0 {checkpoint}")), "{text}");
    let forced = store.compact("profiles", Some(0)).unwrap();
    assert_eq!(forced.len(), 1);
    assert!(matches!(
        store.compact("nope", None),
        Err(Error::UnknownTopic(_))
    ));
}

#[test]
fn the_maintenance_thread_applies_retention_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let config = StoreConfig {
        log_initial_task_delay_ms: 0,
        log_retention_check_interval_ms: 20,
        log_cleaner_backoff_ms: 20,
        ..store_config(&clock)
    }
    .maintenance_thread(true);
    let store = Store::open(dir.path(), config).unwrap();
    store
        .create_topic("logs", 1, topic_config("retention.ms=1000"))
        .unwrap();
    append(&store, "logs", &clock, "k", 40);
    clock.advance(10_000);
    let p = store.topic("logs").unwrap().partition(0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.log_start_offset() < 40 {
        assert!(Instant::now() < deadline, "retention never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    store.stop_maintenance();
    store.close().unwrap();
}

#[test]
fn imported_topics_are_never_cleaned_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    {
        let store = Store::open(dir.path(), store_config(&clock)).unwrap();
        store
            .create_topic("imported", 1, topic_config("retention.ms=1"))
            .unwrap();
        append(&store, "imported", &clock, "k", 30);
        store.close().unwrap();
    }
    // Forget seglog's configuration, as for a directory copied from Kafka.
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .ends_with(".seglog-topic")
        {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let store = Store::open(dir.path(), store_config(&clock)).unwrap();
    clock.advance(1_000_000);
    assert!(store.run_retention().unwrap().is_empty());
    assert!(matches!(
        store.compact("imported", None),
        Err(Error::NotAllowed(_))
    ));
    assert_eq!(
        store
            .topic("imported")
            .unwrap()
            .partition(0)
            .unwrap()
            .log_start_offset(),
        0
    );
}
