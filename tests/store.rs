//! The store: topics, names, configs, the lock, reopen, and a log directory
//! written by a Kafka broker.

mod common;

use std::path::Path;

use seglog::config::{CleanupPolicy, StoreConfig, TopicConfig};
use seglog::partition::RecordsOptions;
use seglog::record::{BatchHeader, Record};
use seglog::{Error, Store};

const T0: i64 = 1_700_000_000_000;

fn now() -> i64 {
    use seglog::clock::Clock;
    seglog::clock::SystemClock.now_ms()
}

fn count_records(store: &Store, topic: &str) -> usize {
    let topic = store.topic(topic).unwrap();
    let mut n = 0;
    for p in topic.partitions() {
        let mut at = p.log_start_offset();
        while at < p.log_end_offset() {
            for batch in p.read(at, 1 << 20).unwrap().iter() {
                if !batch.is_control() {
                    n += batch
                        .records(&p.config().decode)
                        .unwrap()
                        .iter()
                        .filter(|r| r.as_ref().unwrap().offset() >= at)
                        .count();
                }
                at = batch.next_offset();
            }
        }
    }
    n
}

#[test]
fn topics_lifecycle_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let config =
        TopicConfig::from_properties("segment.bytes=4096\ncleanup.policy=compact").unwrap();
    let topic = store.create_topic("orders", 3, config).unwrap();
    let id = topic.id().unwrap();
    for p in topic.partitions() {
        p.append_records(&[Record::keyed(now(), "k", "v")], RecordsOptions::default())
            .unwrap();
    }
    assert!(matches!(
        store.create_topic("orders", 1, TopicConfig::default()),
        Err(Error::TopicExists(_))
    ));
    assert!(matches!(store.topic("nope"), Err(Error::UnknownTopic(_))));
    assert!(matches!(
        topic.partition(3),
        Err(Error::UnknownPartition {
            partition: 3,
            count: 3,
            ..
        })
    ));
    store
        .create_topic("events", 1, TopicConfig::default())
        .unwrap();
    assert_eq!(
        store.topic_names(),
        vec!["events".to_string(), "orders".to_string()]
    );

    store.add_partitions("orders", 5).unwrap();
    assert!(matches!(
        store.add_partitions("orders", 2),
        Err(Error::NotAllowed(_))
    ));
    store
        .alter_topic_config("orders", &[("retention.ms", "1000")])
        .unwrap();
    let described = store.describe_topic("orders").unwrap();
    assert_eq!(described.partitions.len(), 5);
    assert_eq!(described.partitions[1].log_end_offset, 1);
    assert!(
        described
            .config
            .contains(&("retention.ms", "1000".to_string()))
    );
    assert!(described.configured);
    store.close().unwrap();
    drop(store);

    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let topic = store.topic("orders").unwrap();
    assert_eq!((topic.partition_count(), topic.id()), (5, Some(id)));
    assert_eq!(topic.config().segment_bytes, 4096);
    assert_eq!(topic.config().cleanup_policy, CleanupPolicy::COMPACT);
    assert_eq!(topic.config().retention_ms, 1000);
    assert_eq!(count_records(&store, "orders"), 3);
    // Kafka's checkpoint files and the partition metadata are in place.
    for file in [
        "recovery-point-offset-checkpoint",
        "log-start-offset-checkpoint",
        "orders-0/partition.metadata",
        "orders-0/leader-epoch-checkpoint",
    ] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    store.delete_topic("orders").unwrap();
    assert!(!dir.path().join("orders-0").exists());
    assert!(matches!(store.topic("orders"), Err(Error::UnknownTopic(_))));
    store.close().unwrap();
    drop(store);
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    assert_eq!(store.topic_names(), vec!["events".to_string()]);
}

#[test]
fn topic_names_follow_kafkas_rules_and_never_escape() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("store");
    let store = Store::open(&inner, StoreConfig::default()).unwrap();
    for bad in [
        "",
        ".",
        "..",
        "../escape",
        "a/b",
        "with space",
        &"x".repeat(250),
    ] {
        let err = store
            .create_topic(bad, 1, TopicConfig::default())
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidTopicName { .. }),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert!(matches!(
        store.create_topic("zero", 0, TopicConfig::default()),
        Err(Error::InvalidConfig { .. })
    ));
    store
        .create_topic(&"x".repeat(249), 1, TopicConfig::default())
        .unwrap();
    store.delete_topic(&"x".repeat(249)).unwrap();
    assert!(store.topic_names().is_empty());
}

#[test]
fn auto_creation_and_delete_protection_are_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        num_partitions: 2,
        ..StoreConfig::default()
    }
    .allow_auto_create_topics(true)
    .delete_topic_enable(false);
    let store = Store::open(dir.path(), config).unwrap();
    let topic = store.topic("auto").unwrap();
    assert_eq!(topic.partition_count(), 2);
    assert!(matches!(
        store.delete_topic("auto"),
        Err(Error::NotAllowed(_))
    ));
    assert!(dir.path().join("auto-1").exists());
}

#[test]
fn a_store_is_owned_by_one_opener() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let err = Store::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert!(
        matches!(&err, Error::StoreLocked { path } if path == dir.path()),
        "{err}"
    );
    drop(store);
    Store::open(dir.path(), StoreConfig::default()).unwrap();
}

/// A Kafka broker holds `.lock` with a POSIX record lock (Java's
/// `FileChannel.tryLock`); a process holding one keeps seglog out.
#[test]
fn a_posix_lock_like_kafkas_keeps_the_store_closed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".lock"), b"").unwrap();
    let script = "import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\nprint('locked',flush=True)\ntime.sleep(30)\n";
    let child = std::process::Command::new("python3")
        .args(["-c", script, dir.path().join(".lock").to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipping: no python3 to hold a POSIX lock");
        return;
    };
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let result = Store::open(dir.path(), StoreConfig::default());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        matches!(result, Err(Error::StoreLocked { .. })),
        "{result:?}"
    );
}

/// A log dir written by a Kafka 3.0 broker opens as a store: topics from
/// the directory names, all records readable, no seglog configuration (so
/// nothing would ever clean it), appends continue the offsets.
#[test]
fn a_kafka_log_dir_opens_as_a_store() {
    let Some(root) = common::fixtures() else {
        return;
    };
    let source = root.join("tuyen-nnt__kafka_2.13-3.0.0/data/kafka");
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&source, dir.path());
    let config = StoreConfig {
        default_topic: TopicConfig {
            message_timestamp_after_max_ms: i64::MAX,
            ..TopicConfig::default()
        },
        ..StoreConfig::default()
    };
    let store = Store::open(dir.path(), config).unwrap();
    let names = store.topic_names();
    assert!(
        names.contains(&"my-first-topic".to_string())
            && names.contains(&"__consumer_offsets".to_string()),
        "{names:?}"
    );
    let topic = store.topic("my-first-topic").unwrap();
    assert_eq!(topic.partition_count(), 3);
    assert!(!topic.is_configured());
    let before: usize = count_records(&store, "my-first-topic");
    assert!(before > 0);
    let p = topic.partition(0).unwrap();
    let end = p.log_end_offset();
    let info = p
        .append_records(&[Record::new(T0, "from seglog")], RecordsOptions::default())
        .unwrap();
    assert_eq!(info.base_offset, end);
    store.close().unwrap();
    drop(store);
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    assert_eq!(count_records(&store, "my-first-topic"), before + 1);
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
