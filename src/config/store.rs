//! [`StoreConfig`]: store-wide settings.

use crate::clock::{SharedClock, system_clock};

use super::topic::TopicConfig;

/// Store-wide settings. Kafka's broker key names where one exists.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `allow.auto.create.topics`: create a topic on first use. Default
    /// **false**, unlike Kafka's `true`: an embedded store should not grow
    /// topics from a typo.
    pub allow_auto_create_topics: bool,
    /// `num.partitions`: partitions of an auto-created topic (default 1).
    pub num_partitions: u32,
    /// `delete.topic.enable`: whether topics may be deleted (default true).
    pub delete_topic_enable: bool,
    /// The configuration of new topics unless one is given, and of topics
    /// opened from a directory without a seglog configuration.
    pub default_topic: TopicConfig,
    /// The clock (system clock by default); also given to every topic.
    pub clock: SharedClock,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            allow_auto_create_topics: false,
            num_partitions: 1,
            delete_topic_enable: true,
            default_topic: TopicConfig::default(),
            clock: system_clock(),
        }
    }
}

impl StoreConfig {
    /// Sets `allow.auto.create.topics`.
    pub fn allow_auto_create_topics(mut self, yes: bool) -> Self {
        self.allow_auto_create_topics = yes;
        self
    }

    /// Sets `delete.topic.enable`.
    pub fn delete_topic_enable(mut self, yes: bool) -> Self {
        self.delete_topic_enable = yes;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}
