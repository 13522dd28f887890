//! Topic administration: create, look up, describe, alter, add partitions,
//! delete. Serialised by the store's admin lock.

use std::path::Path;

use super::Store;
use super::open::new_topic;
use super::topic_meta::{TopicMeta, topic_file, write_topic_meta};
use super::topic_name::validate_topic_name;
use crate::config::TopicConfig;
use crate::durable_fs::sync_dir;
use crate::error::{Error, Result};
use crate::partition::checkpoint::TopicId;
use crate::partition::{OpenOptions, Partition, partition_dir_name};
use crate::topic::Topic;

/// What `describe` reports about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// The partition number.
    pub partition: u32,
    /// Its log start offset.
    pub log_start_offset: i64,
    /// Its log end offset.
    pub log_end_offset: i64,
    /// Bytes of its segments.
    pub size_bytes: u64,
    /// Number of segments.
    pub segments: usize,
}

/// What `describe` reports about a topic.
#[derive(Debug, Clone)]
pub struct TopicDescription {
    /// The topic name.
    pub name: String,
    /// The topic id.
    pub id: Option<TopicId>,
    /// Whether seglog holds a persisted configuration for it.
    pub configured: bool,
    /// The configuration, every key with its value.
    pub config: Vec<(&'static str, String)>,
    /// One entry per partition.
    pub partitions: Vec<PartitionDescription>,
}

impl Store {
    /// Creates a topic with `partitions` partitions.
    ///
    /// # Errors
    /// [`Error::InvalidTopicName`], [`Error::TopicExists`], or
    /// [`Error::InvalidConfig`] for zero partitions.
    pub fn create_topic(&self, name: &str, partitions: u32, config: TopicConfig) -> Result<Topic> {
        validate_topic_name(name)?;
        if partitions == 0 {
            return Err(Error::InvalidConfig {
                key: "partitions".into(),
                value: "0".into(),
                reason: "a topic needs at least one partition".into(),
            });
        }
        let _admin = self.inner.admin.lock();
        self.check_open()?;
        if self.inner.topics.read().contains_key(name) {
            return Err(Error::TopicExists(name.to_string()));
        }
        let config = TopicConfig {
            clock: self.inner.config.clock.clone(),
            ..config
        };
        let meta = TopicMeta {
            name: name.to_string(),
            partitions,
            topic_id: TopicId::random(),
            config: config.clone(),
        };
        write_topic_meta(self.dir(), &meta)?;
        let opened = (0..partitions)
            .map(|n| self.open_new_partition(name, n, &meta))
            .collect::<Result<Vec<_>>>()?;
        sync_dir(self.dir())?; // the new partition directories
        let topic = new_topic(name, Some(meta.topic_id), config, opened, true);
        self.inner
            .topics
            .write()
            .insert(name.to_string(), topic.clone());
        Ok(topic)
    }

    fn open_new_partition(&self, topic: &str, n: u32, meta: &TopicMeta) -> Result<Partition> {
        let options = OpenOptions {
            clean_shutdown: true,
            topic_id: Some(meta.topic_id),
            ..OpenOptions::default()
        };
        let dir = self.dir().join(partition_dir_name(topic, n));
        Partition::open(&dir, meta.config.clone(), options).map(|(p, _)| p)
    }

    /// The topic `name`; created with the default configuration and
    /// `num.partitions` when unknown and `allow.auto.create.topics` is on.
    pub fn topic(&self, name: &str) -> Result<Topic> {
        if let Some(topic) = self.inner.topics.read().get(name) {
            return Ok(topic.clone());
        }
        if !self.inner.config.allow_auto_create_topics {
            return Err(Error::UnknownTopic(name.to_string()));
        }
        let config = self.inner.config.default_topic.clone();
        match self.create_topic(name, self.inner.config.num_partitions, config) {
            Err(Error::TopicExists(_)) => self.topic(name),
            other => other,
        }
    }

    /// The names of all topics, sorted.
    pub fn topic_names(&self) -> Vec<String> {
        self.inner.topics.read().keys().cloned().collect()
    }

    /// Partitions, offsets, sizes, segment counts and configuration.
    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        let topic = self.existing(name)?;
        let partitions = topic
            .partitions()
            .iter()
            .map(|p| PartitionDescription {
                partition: p.partition(),
                log_start_offset: p.log_start_offset(),
                log_end_offset: p.log_end_offset(),
                size_bytes: p.size_bytes(),
                segments: p.segment_base_offsets().len(),
            })
            .collect();
        Ok(TopicDescription {
            name: name.to_string(),
            id: topic.id(),
            configured: topic.is_configured(),
            config: topic.config().entries(),
            partitions,
        })
    }

    /// Sets configuration keys (Kafka's names) of a topic and persists them;
    /// its partitions are reopened with the new configuration (handles
    /// taken before keep reading; writes go through new handles).
    pub fn alter_topic_config(&self, name: &str, changes: &[(&str, &str)]) -> Result<()> {
        let _admin = self.inner.admin.lock();
        self.check_open()?;
        let topic = self.existing(name)?;
        let mut config = topic.config();
        for (key, value) in changes {
            config.set(key, value)?;
        }
        let meta = TopicMeta {
            name: name.to_string(),
            partitions: topic.partition_count(),
            topic_id: assign_id(&topic),
            config: config.clone(),
        };
        write_topic_meta(self.dir(), &meta)?;
        let mut reopened = Vec::new();
        for p in topic.partitions() {
            p.close()?;
            let options = OpenOptions {
                clean_shutdown: true,
                recovery_point: p.flushed_offset(),
                log_start_offset: Some(p.log_start_offset()),
                topic_id: Some(meta.topic_id),
                lenient_recovery: true,
            };
            reopened.push(Partition::open(p.dir(), config.clone(), options)?.0);
        }
        *topic.inner.partitions.write() = reopened;
        *topic.inner.config.write() = config;
        *topic.inner.configured.write() = true;
        Ok(())
    }

    /// Grows a topic to `total` partitions (Kafka never removes partitions).
    pub fn add_partitions(&self, name: &str, total: u32) -> Result<()> {
        let _admin = self.inner.admin.lock();
        self.check_open()?;
        let topic = self.existing(name)?;
        let current = topic.partition_count();
        if total < current {
            return Err(Error::NotAllowed(format!(
                "topic {name} has {current} partitions; partitions can be added, never removed"
            )));
        }
        let meta = TopicMeta {
            name: name.to_string(),
            partitions: total,
            topic_id: assign_id(&topic),
            config: topic.config(),
        };
        write_topic_meta(self.dir(), &meta)?;
        for n in current..total {
            let p = self.open_new_partition(name, n, &meta)?;
            topic.inner.partitions.write().push(p);
        }
        sync_dir(self.dir())?;
        *topic.inner.configured.write() = true;
        Ok(())
    }

    /// Deletes a topic and its files. Readers still holding its partitions
    /// finish reading what they have (the files are unlinked, the mappings
    /// live on); writes through them fail.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        if !self.inner.config.delete_topic_enable {
            return Err(Error::NotAllowed(format!(
                "delete.topic.enable=false: topic {name} is kept"
            )));
        }
        let _admin = self.inner.admin.lock();
        self.check_open()?;
        let topic = self.existing(name)?;
        self.inner.topics.write().remove(name);
        // A topic created again under this name starts clean.
        self.inner
            .cleaner_checkpoints
            .lock()
            .retain(|(topic, _), _| topic != name);
        self.inner
            .uncleanable
            .lock()
            .retain(|(topic, _)| topic != name);
        for p in topic.partitions() {
            let _ = p.close();
            remove_partition_dir(p.dir())?;
        }
        if let Some(id) = topic.id() {
            let meta = topic_file(self.dir(), id);
            match std::fs::remove_file(&meta) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&meta, e)),
            }
        }
        sync_dir(self.dir())
    }

    fn check_open(&self) -> Result<()> {
        if *self.inner.closed.lock() {
            return Err(Error::Closed {
                path: self.dir().to_path_buf(),
            });
        }
        Ok(())
    }

    fn existing(&self, name: &str) -> Result<Topic> {
        self.inner
            .topics
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTopic(name.to_string()))
    }
}

/// Renames the directory to Kafka's `<name>.<id>-delete` form first, so a
/// crash mid-way leaves a directory the next open finishes deleting. As
/// Kafka does, the name is shortened to stay within 255 bytes.
fn remove_partition_dir(dir: &Path) -> Result<()> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("partition");
    let suffix = format!(".{}-delete", TopicId::random());
    let keep = name.len().min(255 - suffix.len());
    let doomed = dir.with_file_name(format!("{}{suffix}", &name[..keep]));
    std::fs::rename(dir, &doomed).map_err(|e| Error::io(dir, e))?;
    std::fs::remove_dir_all(&doomed).map_err(|e| Error::io(&doomed, e))
}

/// The topic's id, assigned now (once) for a topic imported without one.
fn assign_id(topic: &Topic) -> TopicId {
    *topic.inner.id.write().get_or_insert_with(TopicId::random)
}
