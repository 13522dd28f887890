//! [`ProducerConfig`]: the producer's settings, with Kafka's key names and
//! defaults.

use std::time::Duration;

use super::{parse_bool, parse_num, unknown_key};
use crate::error::{Error, Result};
use crate::partitioner::KeylessStrategy;
use crate::record::Compression;

/// Kafka's `acks`: what a producer waits for before a send counts as done.
///
/// In-process there is no network and no replica; the three levels say
/// when a [`DeliveryFuture`](super::DeliveryFuture) resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Acks {
    /// `acks=0`, fire and forget: the delivery future resolves once the batch
    /// was handed to the log, with offset `-1` (as Kafka's client reports
    /// for `acks=0`); an append error is logged, not reported.
    Zero,
    /// `acks=1`: the future resolves once the batch is appended (readers see
    /// it; it is in the page cache and survives a crash of the process).
    One,
    /// `acks=all` (Kafka's default since 3.0): the future resolves once the
    /// batch is appended *and* flushed to disk (`Partition::flush`), so it
    /// survives a crash of the machine.
    #[default]
    All,
}

impl Acks {
    /// Kafka's value: `0`, `1` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            Acks::Zero => "0",
            Acks::One => "1",
            Acks::All => "all",
        }
    }

    /// Parses Kafka's values `0`, `1`, `all` (and `-1`, Kafka's alias of
    /// `all`).
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim() {
            "0" => Ok(Acks::Zero),
            "1" => Ok(Acks::One),
            "all" | "-1" => Ok(Acks::All),
            _ => Err(Error::InvalidConfig {
                key: "acks".into(),
                value: value.into(),
                reason: "expected 0, 1 or all".into(),
            }),
        }
    }
}

/// Settings of a [`Producer`](super::Producer), with Kafka's key names and
/// defaults (Kafka 4.0).
///
/// ```
/// use seglog::client::{Acks, ProducerConfig};
///
/// let config = ProducerConfig::default().linger_ms(20).batch_size(64 << 10);
/// assert_eq!(config.acks, Acks::All);
/// let parsed = ProducerConfig::from_properties("acks=1\nlinger.ms=0\n")?;
/// assert!(!parsed.enable_idempotence); // Kafka's rule: acks != all turns it off
/// # Ok::<(), seglog::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `batch.size`: the most bytes (uncompressed, record batch header
    /// included) a batch of one partition collects before it is sent; a
    /// single larger record gets a batch of its own. Default 16384.
    pub batch_size: usize,
    /// `linger.ms`: how long a batch waits for more records before it is
    /// sent. Default 5, Kafka 4.0's default (it was 0 before 4.0).
    pub linger_ms: u64,
    /// `buffer.memory`: the most bytes of records waiting to be appended;
    /// `send` blocks when it is full. Default 33554432 (32 MiB).
    pub buffer_memory: usize,
    /// `max.block.ms`: how long `send` blocks for buffer space before it
    /// fails with [`Error::BufferFull`]. Default 60000.
    pub max_block_ms: u64,
    /// `compression.type`: the codec of the batches. Default none.
    pub compression: Compression,
    /// `max.request.size`: a record whose batch would be larger (uncompressed)
    /// is refused with [`Error::RecordTooLarge`]; batches never grow past it.
    /// Default 1048576.
    pub max_request_size: usize,
    /// `enable.idempotence`: the producer takes a producer id from the store
    /// and numbers its records, so a batch can never be appended twice.
    /// Needs `acks=all`, as in Kafka. Default true.
    pub enable_idempotence: bool,
    /// `acks`. Default all.
    pub acks: Acks,
    /// `partitioner.class`: how records without key nor partition are
    /// spread, sticky (Kafka's built-in default) or round-robin (Kafka's
    /// `RoundRobinPartitioner`). Keyed records always follow Kafka's murmur2.
    pub partitioner: KeylessStrategy,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            batch_size: 16_384,
            linger_ms: 5,
            buffer_memory: 33_554_432,
            max_block_ms: 60_000,
            compression: Compression::None,
            max_request_size: 1_048_576,
            enable_idempotence: true,
            acks: Acks::All,
            partitioner: KeylessStrategy::Sticky,
        }
    }
}

/// The keys [`ProducerConfig::set`] understands.
pub const PRODUCER_KEYS: &[&str] = &[
    "acks",
    "batch.size",
    "buffer.memory",
    "compression.type",
    "enable.idempotence",
    "linger.ms",
    "max.block.ms",
    "max.request.size",
    "partitioner.class",
];

impl ProducerConfig {
    /// Parses `key=value` text (Kafka's key names) over the defaults.
    ///
    /// As in Kafka, `acks` other than `all` without an explicit
    /// `enable.idempotence` turns idempotence off instead of failing.
    pub fn from_properties(text: &str) -> Result<Self> {
        let mut config = ProducerConfig::default();
        let pairs = crate::config::parse_properties(text)?;
        for (key, value) in &pairs {
            config.set(key, value)?;
        }
        let idempotence_given = pairs.iter().any(|(k, _)| k == "enable.idempotence");
        if !idempotence_given && config.acks != Acks::All {
            config.enable_idempotence = false;
        }
        Ok(config)
    }

    /// Sets one key by its Kafka name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "acks" => self.acks = Acks::parse(value)?,
            "batch.size" => self.batch_size = parse_num(key, value)?,
            "buffer.memory" => self.buffer_memory = parse_num(key, value)?,
            "compression.type" => {
                self.compression = value.parse().map_err(|e| Error::InvalidConfig {
                    key: key.into(),
                    value: value.into(),
                    reason: format!("{e}"),
                })?;
            }
            "enable.idempotence" => self.enable_idempotence = parse_bool(key, value)?,
            "linger.ms" => self.linger_ms = parse_num(key, value)?,
            "max.block.ms" => self.max_block_ms = parse_num(key, value)?,
            "max.request.size" => self.max_request_size = parse_num(key, value)?,
            "partitioner.class" => self.partitioner = parse_partitioner(value)?,
            _ => return Err(unknown_key(key, value, "producer")),
        }
        Ok(())
    }

    /// Checks the combination, as Kafka's client does at construction.
    pub fn validate(&self) -> Result<()> {
        if self.enable_idempotence && self.acks != Acks::All {
            return Err(Error::InvalidConfig {
                key: "acks".into(),
                value: self.acks.name().into(),
                reason: "must be all to use the idempotent producer (set enable.idempotence=false)"
                    .into(),
            });
        }
        if !self.compression.is_available() {
            return Err(Error::CodecUnavailable {
                codec: self.compression.name(),
                feature: self.compression.feature(),
            });
        }
        Ok(())
    }

    /// Sets `batch.size`.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// Sets `linger.ms`.
    pub fn linger_ms(mut self, ms: u64) -> Self {
        self.linger_ms = ms;
        self
    }

    /// Sets `buffer.memory`.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// Sets `max.block.ms`.
    pub fn max_block_ms(mut self, ms: u64) -> Self {
        self.max_block_ms = ms;
        self
    }

    /// Sets `compression.type`.
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// Sets `max.request.size`.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// Sets `enable.idempotence`.
    pub fn enable_idempotence(mut self, yes: bool) -> Self {
        self.enable_idempotence = yes;
        self
    }

    /// Sets `acks`. Anything but [`Acks::All`] needs
    /// `enable_idempotence(false)` too.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// Sets the strategy for records without key nor partition.
    pub fn partitioner(mut self, strategy: KeylessStrategy) -> Self {
        self.partitioner = strategy;
        self
    }

    pub(crate) fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }

    pub(crate) fn max_block(&self) -> Duration {
        Duration::from_millis(self.max_block_ms)
    }
}

fn parse_partitioner(value: &str) -> Result<KeylessStrategy> {
    match value.trim() {
        ""
        | "sticky"
        | "default"
        | "org.apache.kafka.clients.producer.internals.DefaultPartitioner" => {
            Ok(KeylessStrategy::Sticky)
        }
        "round-robin"
        | "round_robin"
        | "roundrobin"
        | "org.apache.kafka.clients.producer.RoundRobinPartitioner" => {
            Ok(KeylessStrategy::RoundRobin)
        }
        _ => Err(Error::InvalidConfig {
            key: "partitioner.class".into(),
            value: value.into(),
            reason: "expected sticky or round-robin (or Kafka's RoundRobinPartitioner class)"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let c = ProducerConfig::default();
        assert_eq!(c.batch_size, 16_384);
        assert_eq!(c.linger_ms, 5);
        assert_eq!(c.buffer_memory, 33_554_432);
        assert_eq!(c.max_block_ms, 60_000);
        assert_eq!(c.max_request_size, 1_048_576);
        assert!(c.enable_idempotence);
        assert_eq!(c.acks, Acks::All);
        c.validate().unwrap();
    }

    #[test]
    fn properties_follow_kafkas_rules() {
        let c = ProducerConfig::from_properties(
            "acks=1\nbatch.size=100\ncompression.type=lz4\npartitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner",
        )
        .unwrap();
        assert_eq!(c.acks, Acks::One);
        assert!(!c.enable_idempotence);
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.partitioner, KeylessStrategy::RoundRobin);
        let explicit = ProducerConfig::from_properties("acks=0\nenable.idempotence=true").unwrap();
        assert!(explicit.validate().is_err());
        assert!(ProducerConfig::from_properties("acks=2").is_err());
        assert!(ProducerConfig::from_properties("no.such.key=1").is_err());
    }
}
