//! [`ConsumerConfig`]: the consumer's settings, with Kafka's key names and
//! defaults.

use super::{parse_bool, parse_num, unknown_key};
use crate::error::{Error, Result};
use crate::partition::Isolation;

/// Kafka's `auto.offset.reset`: where a consumer starts on a partition it
/// has no position for, and where it goes when its position is out of range
/// (below the log start after retention, or past the log end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AutoOffsetReset {
    /// `earliest`: the log start offset.
    Earliest,
    /// `latest` (Kafka's default): the log end offset.
    #[default]
    Latest,
    /// `none`: fail with [`Error::NoOffsetForPartition`] or
    /// [`Error::OffsetOutOfRange`].
    None,
}

impl AutoOffsetReset {
    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            AutoOffsetReset::Earliest => "earliest",
            AutoOffsetReset::Latest => "latest",
            AutoOffsetReset::None => "none",
        }
    }
}

/// Settings of a [`Consumer`](super::Consumer), with Kafka's key names and
/// defaults.
///
/// ```
/// use seglog::client::{AutoOffsetReset, ConsumerConfig};
/// use seglog::partition::Isolation;
///
/// let config = ConsumerConfig::from_properties("auto.offset.reset=earliest\nisolation.level=durable")?;
/// assert_eq!(config.auto_offset_reset, AutoOffsetReset::Earliest);
/// assert_eq!(config.isolation, Isolation::Durable);
/// assert_eq!(config.max_poll_records, 500);
/// # Ok::<(), seglog::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `max.poll.records`: the most records one `poll` returns. Default 500.
    pub max_poll_records: usize,
    /// `fetch.min.bytes`: `poll` waits (up to `fetch.max.wait.ms` once it
    /// has something, up to its timeout while it has nothing) until this
    /// many bytes of batches are available. Default 1.
    pub fetch_min_bytes: usize,
    /// `fetch.max.wait.ms`: how long `poll` waits for `fetch.min.bytes`
    /// once it holds some records. Default 500.
    pub fetch_max_wait_ms: u64,
    /// `fetch.max.bytes`: the most bytes of batches read in one `poll`
    /// across partitions (at least one batch is always read). Default
    /// 52428800.
    pub fetch_max_bytes: usize,
    /// `max.partition.fetch.bytes`: the most bytes read from one partition
    /// at a time (at least one batch). Default 1048576.
    pub max_partition_fetch_bytes: usize,
    /// `check.crcs`: verify the CRC-32C of every batch handed out, as
    /// Kafka's consumer does. Default true.
    pub check_crcs: bool,
    /// `isolation.level`: `read_uncommitted` (Kafka's default) maps to
    /// [`Isolation::Appended`]; seglog's own value `durable` maps to
    /// [`Isolation::Durable`] (only records flushed to disk are seen).
    /// `read_committed` is refused: seglog does not write transactions.
    pub isolation: Isolation,
    /// `auto.offset.reset`. Default latest, as in Kafka.
    pub auto_offset_reset: AutoOffsetReset,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_poll_records: 500,
            fetch_min_bytes: 1,
            fetch_max_wait_ms: 500,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            check_crcs: true,
            isolation: Isolation::Appended,
            auto_offset_reset: AutoOffsetReset::Latest,
        }
    }
}

/// The keys [`ConsumerConfig::set`] understands.
pub const CONSUMER_KEYS: &[&str] = &[
    "auto.offset.reset",
    "check.crcs",
    "fetch.max.bytes",
    "fetch.max.wait.ms",
    "fetch.min.bytes",
    "isolation.level",
    "max.partition.fetch.bytes",
    "max.poll.records",
];

impl ConsumerConfig {
    /// Parses `key=value` text (Kafka's key names) over the defaults.
    pub fn from_properties(text: &str) -> Result<Self> {
        let mut config = ConsumerConfig::default();
        for (key, value) in crate::config::parse_properties(text)? {
            config.set(&key, &value)?;
        }
        Ok(config)
    }

    /// Sets one key by its Kafka name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let invalid = |reason: &str| Error::InvalidConfig {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        };
        match key {
            "auto.offset.reset" => {
                self.auto_offset_reset = match value.trim() {
                    "earliest" => AutoOffsetReset::Earliest,
                    "latest" => AutoOffsetReset::Latest,
                    "none" => AutoOffsetReset::None,
                    _ => return Err(invalid("expected earliest, latest or none")),
                }
            }
            "check.crcs" => self.check_crcs = parse_bool(key, value)?,
            "fetch.max.bytes" => self.fetch_max_bytes = parse_num(key, value)?,
            "fetch.max.wait.ms" => self.fetch_max_wait_ms = parse_num(key, value)?,
            "fetch.min.bytes" => self.fetch_min_bytes = parse_num(key, value)?,
            "isolation.level" => {
                self.isolation = match value.trim() {
                    "read_uncommitted" => Isolation::Appended,
                    "durable" => Isolation::Durable,
                    "read_committed" => {
                        return Err(invalid(
                            "seglog writes no transactions; use read_uncommitted or durable",
                        ));
                    }
                    _ => return Err(invalid("expected read_uncommitted or durable")),
                }
            }
            "max.partition.fetch.bytes" => self.max_partition_fetch_bytes = parse_num(key, value)?,
            "max.poll.records" => {
                self.max_poll_records = parse_num(key, value)?;
                if self.max_poll_records == 0 {
                    return Err(invalid("must be at least 1"));
                }
            }
            _ => return Err(unknown_key(key, value, "consumer")),
        }
        Ok(())
    }

    /// Sets `max.poll.records` (at least 1).
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.max_poll_records = n.max(1);
        self
    }

    /// Sets `fetch.min.bytes`.
    pub fn fetch_min_bytes(mut self, bytes: usize) -> Self {
        self.fetch_min_bytes = bytes;
        self
    }

    /// Sets `fetch.max.wait.ms`.
    pub fn fetch_max_wait_ms(mut self, ms: u64) -> Self {
        self.fetch_max_wait_ms = ms;
        self
    }

    /// Sets `fetch.max.bytes`.
    pub fn fetch_max_bytes(mut self, bytes: usize) -> Self {
        self.fetch_max_bytes = bytes;
        self
    }

    /// Sets `max.partition.fetch.bytes`.
    pub fn max_partition_fetch_bytes(mut self, bytes: usize) -> Self {
        self.max_partition_fetch_bytes = bytes;
        self
    }

    /// Sets `check.crcs`.
    pub fn check_crcs(mut self, yes: bool) -> Self {
        self.check_crcs = yes;
        self
    }

    /// Sets the isolation (`isolation.level`).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Sets `auto.offset.reset`.
    pub fn auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_properties() {
        let c = ConsumerConfig::default();
        assert_eq!(c.fetch_max_bytes, 52_428_800);
        assert_eq!(c.max_partition_fetch_bytes, 1_048_576);
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Latest);
        let c = ConsumerConfig::from_properties(
            "isolation.level=read_uncommitted\nmax.poll.records=7\ncheck.crcs=false\nauto.offset.reset=none",
        )
        .unwrap();
        assert_eq!(c.max_poll_records, 7);
        assert!(!c.check_crcs);
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::None);
        assert!(ConsumerConfig::from_properties("isolation.level=read_committed").is_err());
        assert!(ConsumerConfig::from_properties("max.poll.records=0").is_err());
    }
}
