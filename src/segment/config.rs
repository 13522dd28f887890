//! Settings of one segment, taken from the topic's Kafka configuration.

use crate::record::DecodeLimits;

/// Settings of one segment. Field names follow Kafka's topic keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentConfig {
    /// `segment.bytes`: the most bytes a segment's `.log` holds (default
    /// 1 GiB, at most `i32::MAX` since Kafka's index positions are i32).
    pub segment_bytes: usize,
    /// `index.interval.bytes`: bytes appended between two index entries
    /// (default 4096).
    pub index_interval_bytes: usize,
    /// `segment.index.bytes`: size of a preallocated index file (default
    /// 10 MiB).
    pub segment_index_bytes: usize,
    /// Disk space reserved ahead of the writer at a time (default 4 MiB).
    pub preallocate_window_bytes: usize,
    /// Limits for decoding batches (decompression cap).
    pub decode: DecodeLimits,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            segment_bytes: 1 << 30,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 << 20,
            preallocate_window_bytes: 4 << 20,
            decode: DecodeLimits::default(),
        }
    }
}

impl SegmentConfig {
    /// The capacity the `.log` is mapped with: `segment.bytes`, clamped to
    /// Kafka's i32 positions.
    pub(crate) fn log_capacity(&self) -> usize {
        self.segment_bytes.min(i32::MAX as usize)
    }
}
