//! [`TopicConfig`]: the per-topic keys, each field named after the Kafka
//! key it stands for, with Kafka's defaults.

use super::properties::{out_of_range, parse_properties, parse_value};
use crate::clock::{SharedClock, system_clock};
use crate::error::{Error, Result};
use crate::record::{DecodeLimits, TimestampType};
use crate::segment::SegmentConfig;

/// `cleanup.policy`: `delete`, `compact`, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Old segments are deleted by time and size (`delete`).
    pub delete: bool,
    /// The log keeps the latest record per key (`compact`).
    pub compact: bool,
}

impl CleanupPolicy {
    /// Kafka's default, `delete`.
    pub const DELETE: CleanupPolicy = CleanupPolicy {
        delete: true,
        compact: false,
    };
    /// `compact`.
    pub const COMPACT: CleanupPolicy = CleanupPolicy {
        delete: false,
        compact: true,
    };

    fn parse(value: &str) -> Result<Self> {
        let mut policy = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for part in value.split(',').map(str::trim) {
            match part {
                "delete" => policy.delete = true,
                "compact" => policy.compact = true,
                _ => {
                    return Err(out_of_range(
                        "cleanup.policy",
                        value,
                        "expected delete, compact or both",
                    ));
                }
            }
        }
        Ok(policy)
    }

    fn name(self) -> &'static str {
        match (self.compact, self.delete) {
            (true, true) => "compact,delete",
            (true, false) => "compact",
            _ => "delete",
        }
    }
}

/// Per-topic settings of the log. Defaults are Kafka's.
#[derive(Debug, Clone)]
pub struct TopicConfig {
    /// `segment.bytes`: roll a new segment when the active one would pass
    /// this size (default 1 GiB).
    pub segment_bytes: usize,
    /// `segment.ms`: roll when the first batch of the active segment is
    /// older than this at the incoming batch's time (default 7 days).
    pub segment_ms: i64,
    /// `segment.jitter.ms`: at most this much is taken off `segment.ms`,
    /// at random per segment (default 0).
    pub segment_jitter_ms: i64,
    /// `segment.index.bytes`: size of a preallocated index (default 10 MiB).
    pub segment_index_bytes: usize,
    /// `index.interval.bytes`: bytes between index entries (default 4096).
    pub index_interval_bytes: usize,
    /// `max.message.bytes`: the largest batch accepted (default 1048588).
    pub max_message_bytes: usize,
    /// `message.timestamp.type`: CreateTime (default) or LogAppendTime.
    pub message_timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`: how far in the past a CreateTime
    /// timestamp may be (default `i64::MAX`: unlimited).
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime
    /// timestamp may be (default 3600000, Kafka 4.0's, so one far-future
    /// timestamp cannot hold back time-based retention).
    pub message_timestamp_after_max_ms: i64,
    /// `flush.messages`: fsync after this many appended records (default
    /// `i64::MAX`: leave it to the page cache, as Kafka does).
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the last one is this old at an append
    /// (default `i64::MAX`).
    pub flush_ms: i64,
    /// `producer.id.expiration.ms`: forget an idle producer's state after
    /// this long (default 86400000, one day).
    pub producer_id_expiration_ms: i64,
    /// `cleanup.policy` (default `delete`). Enforced by the retention and
    /// compaction layer.
    pub cleanup_policy: CleanupPolicy,
    /// `retention.ms`: delete segments whose newest record is older
    /// (default 604800000, 7 days; -1 = no time limit).
    pub retention_ms: i64,
    /// `retention.bytes`: per-partition size limit (default -1 = none).
    pub retention_bytes: i64,
    /// `delete.retention.ms`: how long tombstones survive compaction
    /// (default 86400000).
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio` (default 0.5).
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms` (default 0).
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms` (default `i64::MAX`).
    pub max_compaction_lag_ms: i64,
    /// `file.delete.delay.ms`: how long deleted segment files linger as
    /// `.deleted` (default 60000).
    pub file_delete_delay_ms: i64,
    /// seglog's own: bytes reserved ahead of the writer at a time (4 MiB).
    pub preallocate_window_bytes: usize,
    /// seglog's own: decoding limits for untrusted batches (the cap on
    /// decompressed size, 64 MiB).
    pub decode: DecodeLimits,
    /// The clock (system clock by default).
    pub clock: SharedClock,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3_600_000,
            segment_jitter_ms: 0,
            segment_index_bytes: 10 << 20,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            message_timestamp_before_max_ms: i64::MAX,
            message_timestamp_after_max_ms: 3_600_000,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            producer_id_expiration_ms: 86_400_000,
            cleanup_policy: CleanupPolicy::DELETE,
            retention_ms: 7 * 24 * 3_600_000,
            retention_bytes: -1,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            file_delete_delay_ms: 60_000,
            preallocate_window_bytes: 4 << 20,
            decode: DecodeLimits::default(),
            clock: system_clock(),
        }
    }
}

/// The keys [`TopicConfig::set`] understands, Kafka's names first, then
/// seglog's own (`seglog.` prefix).
pub const TOPIC_KEYS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "producer.id.expiration.ms",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "seglog.max.decompressed.bytes",
    "seglog.preallocate.window.bytes",
];

impl TopicConfig {
    /// Parses `key=value` text (Kafka's key names) over the defaults.
    pub fn from_properties(text: &str) -> Result<Self> {
        let mut config = TopicConfig::default();
        for (key, value) in parse_properties(text)? {
            config.set(&key, &value)?;
        }
        Ok(config)
    }

    /// Sets one key by its Kafka name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let int = |v: &str| parse_value::<i64>(key, v);
        let size = |v: &str| parse_value::<usize>(key, v);
        match key {
            "cleanup.policy" => self.cleanup_policy = CleanupPolicy::parse(value)?,
            "compression.type" if value == "producer" => {}
            "compression.type" => {
                return Err(out_of_range(
                    key,
                    value,
                    "only `producer` (batches are stored as sent) is supported",
                ));
            }
            "delete.retention.ms" => self.delete_retention_ms = int(value)?,
            "file.delete.delay.ms" => self.file_delete_delay_ms = int(value)?,
            "flush.messages" => self.flush_messages = int(value)?,
            "flush.ms" => self.flush_ms = int(value)?,
            "index.interval.bytes" => self.index_interval_bytes = size(value)?,
            "max.compaction.lag.ms" => self.max_compaction_lag_ms = int(value)?,
            "max.message.bytes" => self.max_message_bytes = size(value)?,
            "message.timestamp.after.max.ms" => self.message_timestamp_after_max_ms = int(value)?,
            "message.timestamp.before.max.ms" => self.message_timestamp_before_max_ms = int(value)?,
            "message.timestamp.type" => self.message_timestamp_type = parse_timestamp_type(value)?,
            "min.cleanable.dirty.ratio" => {
                let ratio = parse_value::<f64>(key, value)?;
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(out_of_range(key, value, "must be between 0 and 1"));
                }
                self.min_cleanable_dirty_ratio = ratio;
            }
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = int(value)?,
            "producer.id.expiration.ms" => self.producer_id_expiration_ms = int(value)?,
            "retention.bytes" => self.retention_bytes = int(value)?,
            "retention.ms" => self.retention_ms = int(value)?,
            "segment.bytes" => {
                let bytes = size(value)?;
                if !(14..=i32::MAX as usize).contains(&bytes) {
                    return Err(out_of_range(
                        key,
                        value,
                        "must be between 14 and 2147483647",
                    ));
                }
                self.segment_bytes = bytes;
            }
            "segment.index.bytes" => self.segment_index_bytes = size(value)?.max(12),
            "segment.jitter.ms" => self.segment_jitter_ms = int(value)?,
            "segment.ms" => self.segment_ms = int(value)?.max(1),
            "seglog.max.decompressed.bytes" => self.decode.max_decompressed_bytes = size(value)?,
            "seglog.preallocate.window.bytes" => self.preallocate_window_bytes = size(value)?,
            _ => {
                return Err(Error::InvalidConfig {
                    key: key.to_string(),
                    value: value.to_string(),
                    reason: "unknown topic configuration key".into(),
                });
            }
        }
        Ok(())
    }

    /// Every key with its current value, as `key=value` lines (sorted),
    /// the form [`TopicConfig::from_properties`] reads back.
    pub fn to_properties(&self) -> String {
        self.entries()
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }

    /// Every key with its current value.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("cleanup.policy", self.cleanup_policy.name().to_string()),
            ("compression.type", "producer".to_string()),
            ("delete.retention.ms", self.delete_retention_ms.to_string()),
            (
                "file.delete.delay.ms",
                self.file_delete_delay_ms.to_string(),
            ),
            ("flush.messages", self.flush_messages.to_string()),
            ("flush.ms", self.flush_ms.to_string()),
            (
                "index.interval.bytes",
                self.index_interval_bytes.to_string(),
            ),
            (
                "max.compaction.lag.ms",
                self.max_compaction_lag_ms.to_string(),
            ),
            ("max.message.bytes", self.max_message_bytes.to_string()),
            (
                "message.timestamp.after.max.ms",
                self.message_timestamp_after_max_ms.to_string(),
            ),
            (
                "message.timestamp.before.max.ms",
                self.message_timestamp_before_max_ms.to_string(),
            ),
            (
                "message.timestamp.type",
                self.message_timestamp_type.name().to_string(),
            ),
            (
                "min.cleanable.dirty.ratio",
                self.min_cleanable_dirty_ratio.to_string(),
            ),
            (
                "min.compaction.lag.ms",
                self.min_compaction_lag_ms.to_string(),
            ),
            (
                "producer.id.expiration.ms",
                self.producer_id_expiration_ms.to_string(),
            ),
            ("retention.bytes", self.retention_bytes.to_string()),
            ("retention.ms", self.retention_ms.to_string()),
            ("segment.bytes", self.segment_bytes.to_string()),
            ("segment.index.bytes", self.segment_index_bytes.to_string()),
            ("segment.jitter.ms", self.segment_jitter_ms.to_string()),
            ("segment.ms", self.segment_ms.to_string()),
            (
                "seglog.max.decompressed.bytes",
                self.decode.max_decompressed_bytes.to_string(),
            ),
            (
                "seglog.preallocate.window.bytes",
                self.preallocate_window_bytes.to_string(),
            ),
        ]
    }

    /// The settings a segment of this topic is created with.
    pub fn segment_config(&self) -> SegmentConfig {
        SegmentConfig {
            // Room for one batch past segment.bytes: a batch larger than
            // the rest of a segment rolls first, so this is only reached
            // by a single batch in an empty segment.
            segment_bytes: self
                .segment_bytes
                .saturating_add(self.max_message_bytes)
                .min(i32::MAX as usize),
            index_interval_bytes: self.index_interval_bytes,
            segment_index_bytes: self.segment_index_bytes,
            preallocate_window_bytes: self.preallocate_window_bytes,
            decode: self.decode,
        }
    }

    /// Sets `segment.bytes`.
    pub fn segment_bytes(mut self, bytes: usize) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Sets `segment.ms`.
    pub fn segment_ms(mut self, ms: i64) -> Self {
        self.segment_ms = ms;
        self
    }

    /// Sets `max.message.bytes`.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Sets `message.timestamp.type`.
    pub fn message_timestamp_type(mut self, t: TimestampType) -> Self {
        self.message_timestamp_type = t;
        self
    }

    /// Sets `flush.messages`.
    pub fn flush_messages(mut self, n: i64) -> Self {
        self.flush_messages = n;
        self
    }

    /// Sets `flush.ms`.
    pub fn flush_ms(mut self, ms: i64) -> Self {
        self.flush_ms = ms;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

fn parse_timestamp_type(value: &str) -> Result<TimestampType> {
    match value {
        "CreateTime" => Ok(TimestampType::CreateTime),
        "LogAppendTime" => Ok(TimestampType::LogAppendTime),
        _ => Err(out_of_range(
            "message.timestamp.type",
            value,
            "expected CreateTime or LogAppendTime",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_roundtrip_with_kafka_keys() {
        let text = "segment.bytes=1048576\ncleanup.policy=compact,delete\nmessage.timestamp.type=LogAppendTime\nretention.ms=-1\n";
        let config = TopicConfig::from_properties(text).unwrap();
        assert_eq!(config.segment_bytes, 1 << 20);
        assert_eq!(
            config.cleanup_policy,
            CleanupPolicy {
                delete: true,
                compact: true
            }
        );
        assert_eq!(config.message_timestamp_type, TimestampType::LogAppendTime);
        let again = TopicConfig::from_properties(&config.to_properties()).unwrap();
        assert_eq!(again.entries(), config.entries());
        assert_eq!(TOPIC_KEYS.len(), config.entries().len());
        for (key, _) in config.entries() {
            assert!(TOPIC_KEYS.contains(&key), "{key}");
        }
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        for text in [
            "segment.bytes=abc",
            "no.such.key=1",
            "cleanup.policy=forever",
            "min.cleanable.dirty.ratio=2",
            "compression.type=lz4",
        ] {
            let err = TopicConfig::from_properties(text).unwrap_err();
            assert!(matches!(err, Error::InvalidConfig { .. }), "{text}: {err}");
        }
    }
}
