//! [`CleanerConfig`]: the broker-wide settings of the log cleaner, named
//! after Kafka's `log.cleaner.*` keys, with Kafka's defaults. The per-topic
//! settings (`min.cleanable.dirty.ratio`, the compaction lags,
//! `delete.retention.ms`, `segment.bytes`) live in
//! [`TopicConfig`](crate::config::TopicConfig).

use crate::error::{Error, Result};

/// Settings of the log cleaner. Defaults are Kafka's.
///
/// ```
/// use seglog::cleaner::CleanerConfig;
///
/// let mut config = CleanerConfig::default();
/// config.set("log.cleaner.dedupe.buffer.size", "1048576")?;
/// assert_eq!(config.dedupe_buffer_size, 1 << 20);
/// # Ok::<(), seglog::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanerConfig {
    /// `log.cleaner.dedupe.buffer.size`: memory of the offset map (default
    /// 128 MiB, 24 bytes per key). Kafka divides it among its cleaner
    /// threads; here it is the budget of one cleaning.
    pub dedupe_buffer_size: usize,
    /// `log.cleaner.io.buffer.load.factor`: how full the offset map may get
    /// (default 0.9).
    pub io_buffer_load_factor: f64,
    /// `log.cleaner.io.buffer.size`: bytes read through
    /// [`Partition::read`](crate::partition::Partition::read) at a time
    /// (default 512 KiB; reads are zero-copy, so this bounds the work per
    /// read, not memory).
    pub io_buffer_size: usize,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            dedupe_buffer_size: 128 << 20,
            io_buffer_load_factor: 0.9,
            io_buffer_size: 512 << 10,
        }
    }
}

/// The keys [`CleanerConfig::set`] understands.
pub const CLEANER_KEYS: &[&str] = &[
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.io.buffer.size",
];

impl CleanerConfig {
    /// Sets one key by its Kafka name.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an unknown key or a value out of range.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let invalid = |reason: &str| Error::InvalidConfig {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let size = || {
            value
                .trim()
                .parse::<usize>()
                .map_err(|e| invalid(&e.to_string()))
        };
        match key {
            "log.cleaner.dedupe.buffer.size" => self.dedupe_buffer_size = size()?,
            "log.cleaner.io.buffer.size" => self.io_buffer_size = size()?.max(1),
            "log.cleaner.io.buffer.load.factor" => {
                let factor = value
                    .trim()
                    .parse::<f64>()
                    .map_err(|e| invalid(&e.to_string()))?;
                if !(factor > 0.0 && factor <= 1.0) {
                    return Err(invalid("must be above 0 and at most 1"));
                }
                self.io_buffer_load_factor = factor;
            }
            _ => return Err(invalid("unknown log cleaner key")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas_and_keys_parse() {
        let mut c = CleanerConfig::default();
        assert_eq!(c.dedupe_buffer_size, 134_217_728);
        assert_eq!(c.io_buffer_size, 524_288);
        c.set("log.cleaner.io.buffer.load.factor", "0.5").unwrap();
        assert_eq!(c.io_buffer_load_factor, 0.5);
        assert!(c.set("log.cleaner.io.buffer.load.factor", "1.5").is_err());
        assert!(c.set("log.cleaner.dedupe.buffer.size", "-1").is_err());
        assert!(c.set("log.cleaner.threads", "2").is_err());
        for key in CLEANER_KEYS {
            assert!(c.set(key, "1").is_ok(), "{key}");
        }
    }
}
