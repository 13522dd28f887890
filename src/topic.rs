//! [`Topic`]: a name, a configuration and N partitions.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::partition::Partition;
use crate::partition::checkpoint::TopicId;

/// A topic of a [`Store`](crate::Store): cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Topic {
    pub(crate) inner: Arc<TopicInner>,
}

#[derive(Debug)]
pub(crate) struct TopicInner {
    pub name: String,
    /// Assigned on first persist for topics imported without one.
    pub id: RwLock<Option<TopicId>>,
    pub config: RwLock<TopicConfig>,
    pub partitions: RwLock<Vec<Partition>>,
    /// Whether seglog has a persisted configuration for it; a topic found
    /// only as Kafka partition directories has none, and is never cleaned
    /// or deleted by retention until one is set.
    pub configured: RwLock<bool>,
}

impl Topic {
    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The topic id (from `partition.metadata`), when there is one.
    pub fn id(&self) -> Option<TopicId> {
        *self.inner.id.read()
    }

    /// The topic's configuration.
    pub fn config(&self) -> TopicConfig {
        self.inner.config.read().clone()
    }

    /// Whether seglog holds a persisted configuration for the topic.
    pub fn is_configured(&self) -> bool {
        *self.inner.configured.read()
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> u32 {
        self.inner.partitions.read().len() as u32
    }

    /// One partition's log.
    pub fn partition(&self, partition: u32) -> Result<Partition> {
        let partitions = self.inner.partitions.read();
        partitions
            .get(partition as usize)
            .cloned()
            .ok_or_else(|| Error::UnknownPartition {
                topic: self.inner.name.clone(),
                partition,
                count: partitions.len() as u32,
            })
    }

    /// Every partition's log, in partition order.
    pub fn partitions(&self) -> Vec<Partition> {
        self.inner.partitions.read().clone()
    }
}
