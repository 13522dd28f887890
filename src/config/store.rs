//! [`StoreConfig`]: store-wide settings.

use crate::cleaner::CleanerConfig;
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
    /// `log.initial.task.delay.ms`: the maintenance thread's first pass
    /// waits this long after open (default 30000, Kafka's).
    pub log_initial_task_delay_ms: u64,
    /// `log.retention.check.interval.ms`: how often the maintenance thread
    /// applies retention (default 300000).
    pub log_retention_check_interval_ms: u64,
    /// `log.cleaner.enable`: whether the maintenance thread compacts
    /// (default true).
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: the cleaner's pause when nothing needs
    /// cleaning (default 15000).
    pub log_cleaner_backoff_ms: u64,
    /// The cleaner's memory and I/O settings (`log.cleaner.*`).
    pub cleaner: CleanerConfig,
    /// seglog's own: start the maintenance thread at open (default true;
    /// `Store::run_retention` / `run_cleaner` work either way).
    pub maintenance_thread: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            allow_auto_create_topics: false,
            num_partitions: 1,
            delete_topic_enable: true,
            default_topic: TopicConfig::default(),
            clock: system_clock(),
            log_initial_task_delay_ms: 30_000,
            log_retention_check_interval_ms: 300_000,
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            cleaner: CleanerConfig::default(),
            maintenance_thread: true,
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

    /// Starts (or not) the maintenance thread at open.
    pub fn maintenance_thread(mut self, yes: bool) -> Self {
        self.maintenance_thread = yes;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}
