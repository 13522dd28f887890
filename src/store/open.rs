//! Opening a store: lock, clean shutdown marker, checkpoints, topics from
//! seglog's topic files and from partition directories (Kafka's included).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::lock::StoreLock;
use super::topic_meta::{TOPIC_FILE_SUFFIX, TopicMeta, read_topic_meta};
use super::{CLEAN_SHUTDOWN_FILE, PRODUCER_ID_FILE, Store, StoreInner};
use crate::config::{StoreConfig, TopicConfig};
use crate::durable_fs::sync_dir;
use crate::error::{Error, Result};
use crate::partition::checkpoint::{
    LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, read_offsets,
};
use crate::partition::{OpenOptions, Partition, parse_partition_dir, partition_dir_name};
use crate::producer_id::ProducerIdAllocator;
use crate::topic::{Topic, TopicInner};

/// What the store's checkpoints say about every partition.
struct Checkpoints {
    clean: bool,
    recovery: BTreeMap<(String, u32), i64>,
    log_start: BTreeMap<(String, u32), i64>,
}

impl Checkpoints {
    fn options(&self, topic: &str, partition: u32, meta: Option<&TopicMeta>) -> OpenOptions {
        let key = (topic.to_string(), partition);
        // Strict recovery only for logs seglog alone wrote and never
        // compacts (see `OpenOptions::lenient_recovery`).
        let lenient = meta.is_none_or(|m| m.config.cleanup_policy.compact);
        OpenOptions {
            recovery_point: self.recovery.get(&key).copied().unwrap_or(0),
            log_start_offset: self.log_start.get(&key).copied(),
            clean_shutdown: self.clean,
            topic_id: meta.map(|m| m.topic_id),
            lenient_recovery: lenient,
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store directory `dir`, taking its
    /// lock. A directory written by a Kafka broker opens with its topics
    /// derived from the partition directory names; such topics have no
    /// seglog configuration until one is set.
    ///
    /// # Errors
    /// [`Error::StoreLocked`] when another process (or another open `Store`
    /// in this one) holds the directory.
    pub fn open(dir: impl AsRef<Path>, config: StoreConfig) -> Result<Store> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = StoreLock::acquire(dir)?;
        let checkpoints = read_checkpoints(dir)?;
        let topics = open_topics(dir, &config, &checkpoints)?;
        let max_seen = topics
            .values()
            .flat_map(|t| t.partitions())
            .filter_map(|p| p.max_producer_id())
            .max();
        let producer_ids = ProducerIdAllocator::open(dir.join(PRODUCER_ID_FILE), max_seen)?;
        let maintenance_thread = config.maintenance_thread;
        let store = Store {
            inner: Arc::new(StoreInner {
                dir: dir.to_path_buf(),
                config,
                topics: RwLock::new(topics),
                producer_ids,
                admin: Mutex::new(()),
                closed: Mutex::new(false),
                cleaner_checkpoints: Mutex::new(super::maintenance::read_cleaner_checkpoints(dir)?),
                deletions: Default::default(),
                cleaning: Mutex::new(()),
                uncleanable: Mutex::new(Default::default()),
                maintenance: Default::default(),
                _lock: lock,
            }),
        };
        if maintenance_thread {
            store.start_maintenance()?;
        }
        Ok(store)
    }
}

/// Reads the clean shutdown marker (and removes it: from now on a crash is
/// unclean) and the offset checkpoints.
fn read_checkpoints(dir: &Path) -> Result<Checkpoints> {
    let marker = dir.join(CLEAN_SHUTDOWN_FILE);
    let clean = marker.exists();
    if clean {
        std::fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
        sync_dir(dir)?;
    }
    Ok(Checkpoints {
        clean,
        recovery: read_offsets(dir.join(RECOVERY_POINT_CHECKPOINT))?,
        log_start: read_offsets(dir.join(LOG_START_OFFSET_CHECKPOINT))?,
    })
}

fn open_topics(
    dir: &Path,
    config: &StoreConfig,
    checkpoints: &Checkpoints,
) -> Result<BTreeMap<String, Topic>> {
    let (metas, found) = scan(dir, config)?;
    let names: BTreeSet<&String> = metas.keys().chain(found.keys()).collect();
    let mut topics = BTreeMap::new();
    for name in names {
        let meta = metas.get(name);
        let dirs = found
            .get(name)
            .map_or(0, |ps| ps.iter().max().map_or(0, |m| m + 1));
        let count = meta.map_or(0, |m| m.partitions).max(dirs);
        let topic_config = meta.map_or_else(
            || with_clock(&config.default_topic, config),
            |m| with_clock(&m.config, config),
        );
        let mut partitions = Vec::with_capacity(count as usize);
        for n in 0..count {
            let pdir = dir.join(partition_dir_name(name, n));
            let options = checkpoints.options(name, n, meta);
            let (partition, _report) = Partition::open(&pdir, topic_config.clone(), options)?;
            partitions.push(partition);
        }
        let id = partitions
            .first()
            .and_then(Partition::topic_id)
            .or(meta.map(|m| m.topic_id));
        topics.insert(
            name.clone(),
            new_topic(name, id, topic_config, partitions, meta.is_some()),
        );
    }
    Ok(topics)
}

/// The topic files and the partition directories found in `dir`.
type Scan = (BTreeMap<String, TopicMeta>, BTreeMap<String, Vec<u32>>);

fn scan(dir: &Path, config: &StoreConfig) -> Result<Scan> {
    let (mut metas, mut found) = (BTreeMap::new(), BTreeMap::<String, Vec<u32>>::new());
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_dir() {
            if name.ends_with("-delete") {
                // A deletion that did not finish: finish it.
                std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            } else if name.starts_with("__cluster_metadata-") {
                // A KRaft metadata log, not a topic: left alone.
            } else if let Some((topic, partition)) = parse_partition_dir(name) {
                found.entry(topic.to_string()).or_default().push(partition);
            }
        } else if name.ends_with(TOPIC_FILE_SUFFIX) {
            let meta = read_topic_meta(&path, &config.default_topic)?;
            metas.insert(meta.name.clone(), meta);
        }
    }
    Ok((metas, found))
}

fn with_clock(topic: &TopicConfig, store: &StoreConfig) -> TopicConfig {
    TopicConfig {
        clock: store.clock.clone(),
        ..topic.clone()
    }
}

pub(super) fn new_topic(
    name: &str,
    id: Option<crate::partition::checkpoint::TopicId>,
    config: TopicConfig,
    partitions: Vec<Partition>,
    configured: bool,
) -> Topic {
    Topic {
        inner: Arc::new(TopicInner {
            name: name.to_string(),
            id: RwLock::new(id),
            config: RwLock::new(config),
            partitions: RwLock::new(partitions),
            configured: RwLock::new(configured),
        }),
    }
}
