//! Configuration with Kafka's key names and defaults.
//!
//! [`TopicConfig`] holds the per-topic keys a partition log honours; each
//! field's doc names the Kafka key it stands for. Everything that depends
//! on time reads the injected [`Clock`](crate::clock::Clock).

use crate::clock::{SharedClock, system_clock};
use crate::record::{DecodeLimits, TimestampType};
use crate::segment::SegmentConfig;

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
            preallocate_window_bytes: 4 << 20,
            decode: DecodeLimits::default(),
            clock: system_clock(),
        }
    }
}

impl TopicConfig {
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
