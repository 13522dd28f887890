//! [`Store`]: a directory laid out like one Kafka `log.dirs` entry, owning
//! its topics, its lock, the store-wide checkpoint files and the producer
//! id allocator.
//!
//! Files at the root: Kafka's `.lock`, `recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint`, the clean shutdown marker
//! `.kafka_cleanshutdown`; seglog's own `<topic id>.seglog-topic` files and
//! `seglog-producer-id-block` (regular files, which a broker ignores).

mod admin;
mod lock;
mod maintenance;
mod open;
mod topic_meta;
mod topic_name;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

pub use admin::{PartitionDescription, TopicDescription};
pub use lock::LOCK_FILE;
pub use maintenance::{PartitionCleaning, PartitionRetention};
pub use topic_meta::TOPIC_FILE_SUFFIX;
pub use topic_name::{MAX_TOPIC_NAME_LEN, validate_topic_name};

use crate::config::StoreConfig;
use crate::error::Result;
use crate::partition::checkpoint::{
    LOG_START_OFFSET_CHECKPOINT, OffsetEntry, RECOVERY_POINT_CHECKPOINT, write_atomically,
    write_offset_entries,
};
use crate::producer_id::ProducerIdAllocator;
use crate::topic::Topic;
use lock::StoreLock;

/// Kafka's clean shutdown marker at the log dir root.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// seglog's producer id allocator file at the store root.
pub const PRODUCER_ID_FILE: &str = "seglog-producer-id-block";

/// A store: one directory of topics. Cheap to clone, `Send + Sync`.
///
/// ```
/// use seglog::{Store, config::{StoreConfig, TopicConfig}};
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreConfig::default())?;
/// let topic = store.create_topic("orders", 3, TopicConfig::default())?;
/// assert_eq!(topic.partition_count(), 3);
/// assert_eq!(store.topic_names(), vec!["orders".to_string()]);
/// store.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) inner: Arc<StoreInner>,
}

#[derive(Debug)]
pub(crate) struct StoreInner {
    pub dir: PathBuf,
    pub config: StoreConfig,
    pub topics: RwLock<BTreeMap<String, Topic>>,
    pub producer_ids: ProducerIdAllocator,
    /// Serialises topic administration (create, delete, alter, add).
    pub admin: Mutex<()>,
    pub closed: Mutex<bool>,
    /// Where each compacted partition's dirty part starts.
    pub cleaner_checkpoints: Mutex<BTreeMap<(String, u32), i64>>,
    /// `.deleted` files waiting for `file.delete.delay.ms`.
    pub deletions: crate::cleaner::retention::DeletionQueue,
    /// One cleaning (or retention pass) at a time.
    pub cleaning: Mutex<()>,
    /// Partitions whose cleaning failed; skipped by the background cleaner.
    pub uncleanable: Mutex<std::collections::BTreeSet<(String, u32)>>,
    pub maintenance: maintenance::Maintenance,
    _lock: StoreLock,
}

impl Store {
    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The store's configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// A new producer id, never handed out before in this store.
    pub fn allocate_producer_id(&self) -> Result<i64> {
        self.inner.producer_ids.allocate()
    }

    /// Writes the store-wide checkpoints: every partition's flushed offset
    /// (`recovery-point-offset-checkpoint`) and log start offset
    /// (`log-start-offset-checkpoint`), in Kafka's format.
    pub fn checkpoint(&self) -> Result<()> {
        write_checkpoints(self.dir(), &self.inner.topics.read())
    }

    /// Flushes and closes every partition, writes the checkpoints and the
    /// clean shutdown marker, so the next open skips recovery. Reads through
    /// existing handles keep working; writes are refused. Idempotent.
    pub fn close(&self) -> Result<()> {
        self.inner.maintenance.stop();
        let mut closed = self.inner.closed.lock();
        if !*closed {
            close_all(self.dir(), &self.inner.topics.read())?;
            self.write_cleaner_checkpoint()?;
            self.inner.deletions.delete_all_files()?;
            *closed = true;
        }
        Ok(())
    }
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        self.maintenance.stop();
        // Best effort: `Store::close` is the way to learn about failures.
        if !*self.closed.get_mut() {
            let _ = close_all(&self.dir, self.topics.get_mut());
        }
    }
}

/// Closes every partition, then writes the checkpoints and the marker.
fn close_all(dir: &Path, topics: &BTreeMap<String, Topic>) -> Result<()> {
    for topic in topics.values() {
        for p in topic.partitions() {
            p.close()?;
        }
    }
    write_checkpoints(dir, topics)?;
    write_atomically(dir.join(CLEAN_SHUTDOWN_FILE), b"")
}

fn write_checkpoints(dir: &Path, topics: &BTreeMap<String, Topic>) -> Result<()> {
    let (mut recovery, mut start) = (Vec::new(), Vec::new());
    for topic in topics.values() {
        for p in topic.partitions() {
            let entry = |offset| OffsetEntry {
                topic: topic.name().to_string(),
                partition: p.partition(),
                offset,
            };
            recovery.push(entry(p.flushed_offset()));
            start.push(entry(p.log_start_offset()));
        }
    }
    write_offset_entries(dir.join(RECOVERY_POINT_CHECKPOINT), &recovery)?;
    write_offset_entries(dir.join(LOG_START_OFFSET_CHECKPOINT), &start)
}
