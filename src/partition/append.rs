//! The two append paths (DESIGN.md section 7 item 2) and rolling.
//!
//! `append_records` encodes records (the producer's path); `append_batch`
//! takes a batch a client encoded, validates it as Kafka's leader does, and
//! assigns offsets by rewriting baseOffset and partitionLeaderEpoch in place.
//! Both end in `append_validated`, which rolls when needed, appends to the
//! active segment, publishes the new log end and applies the flush policy.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::RwLock;

use super::log::{Partition, Writer};
use super::producer_state::{AppendedBatch, Check};
use crate::error::{BatchError, Error, Result};
use crate::record::layout as l;
use crate::record::{BatchBuilder, BatchHeader, BatchView, Compression, Record, TimestampType};
use crate::segment::LogSegment;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The batch's maxTimestamp as stored (the append time for LogAppendTime).
    pub max_timestamp: i64,
    /// The append time stamped into the batch, for LogAppendTime topics.
    pub log_append_time: Option<i64>,
}

/// Options of [`Partition::append_records`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordsOptions {
    /// The codec of the batch.
    pub compression: Compression,
    /// Idempotent producer fields: (producer id, epoch, base sequence).
    pub producer: Option<(i64, i16, i32)>,
}

impl Partition {
    /// Encodes `records` as one batch and appends it.
    pub fn append_records(
        &self,
        records: &[Record],
        options: RecordsOptions,
    ) -> Result<AppendInfo> {
        if records.is_empty() {
            return Err(Error::InvalidBatch(BatchError::NotAccepted(
                "a batch needs at least one record",
            )));
        }
        if let Some(index) = records.iter().position(|r| r.key.is_none()) {
            self.check_key(index, None)?;
        }
        let now = self.config().clock.now_ms();
        if self.config().message_timestamp_type == TimestampType::CreateTime {
            for r in records {
                self.check_timestamp(r.timestamp, now)?;
            }
        }
        let mut builder = BatchBuilder::new(0).compression(options.compression);
        if let Some((id, epoch, seq)) = options.producer {
            builder = builder.producer(id, epoch, seq);
        }
        for r in records {
            builder.push(r)?;
        }
        let mut bytes = builder.build()?;
        self.check_size(bytes.len())?;
        self.append_validated(&mut bytes, now)
    }

    /// Validates a batch encoded by a client and appends it, assigning its
    /// offsets. The batch must be one v2 batch with a valid CRC, records
    /// numbered 0..n-1, no control bit, within `max.message.bytes`, and (for
    /// CreateTime) timestamps within the accepted range.
    pub fn append_batch(&self, batch: &mut [u8]) -> Result<AppendInfo> {
        let now = self.config().clock.now_ms();
        self.validate_client_batch(batch, now)?;
        self.append_validated(batch, now)
    }

    fn validate_client_batch(&self, batch: &[u8], now: i64) -> Result<()> {
        let view = BatchView::parse(batch)?;
        if view.size() != batch.len() {
            return Err(Error::InvalidBatch(BatchError::NotAccepted(
                "exactly one batch per append",
            )));
        }
        self.check_size(view.size())?;
        view.verify_crc()?;
        if view.is_control() {
            return Err(Error::InvalidBatch(BatchError::NotAccepted(
                "control batches come from the log, not clients",
            )));
        }
        let count = view.record_count();
        if count < 1 || view.last_offset_delta() != count - 1 {
            return Err(Error::InvalidBatch(BatchError::BadOffsets(format!(
                "{count} records with lastOffsetDelta {}; expected offsets 0..{count}",
                view.last_offset_delta()
            ))));
        }
        if view.timestamp_type() != TimestampType::CreateTime {
            return Err(Error::InvalidBatch(BatchError::NotAccepted(
                "client batches carry CreateTime; LogAppendTime is the log's to set",
            )));
        }
        let create_time = self.config().message_timestamp_type == TimestampType::CreateTime;
        let records = view.records(&self.config().decode)?;
        let mut max_timestamp = l::NO_TIMESTAMP;
        for (index, record) in records.iter().enumerate() {
            let record = record?;
            self.check_key(index, record.key())?;
            max_timestamp = max_timestamp.max(record.timestamp());
            if create_time {
                self.check_timestamp(record.timestamp(), now)?;
            }
        }
        if max_timestamp != view.max_timestamp() {
            return Err(Error::InvalidBatch(BatchError::NotAccepted(
                "maxTimestamp differs from the largest record timestamp",
            )));
        }
        Ok(())
    }

    /// Kafka's rule: a compacted topic refuses records without a key
    /// (compaction keeps the latest record per key; a keyless one would be
    /// dropped by the next cleaning).
    fn check_key(&self, index: usize, key: Option<&[u8]>) -> Result<()> {
        if key.is_none() && self.config().cleanup_policy.compact {
            return Err(Error::InvalidRecord {
                index,
                reason: "compacted topic cannot accept message without key",
            });
        }
        Ok(())
    }

    fn check_size(&self, size: usize) -> Result<()> {
        let max = self.config().max_message_bytes;
        if size > max {
            return Err(Error::RecordTooLarge { size, max });
        }
        Ok(())
    }

    fn check_timestamp(&self, timestamp: i64, now: i64) -> Result<()> {
        let config = self.config();
        let min = now.saturating_sub(config.message_timestamp_before_max_ms);
        let max = now.saturating_add(config.message_timestamp_after_max_ms);
        if timestamp < min || timestamp > max {
            return Err(Error::InvalidTimestamp {
                timestamp,
                min,
                max,
                now,
            });
        }
        Ok(())
    }

    /// Assigns offsets to a valid batch and appends it.
    fn append_validated(&self, batch: &mut [u8], now: i64) -> Result<AppendInfo> {
        let mut writer = self.shared.writer.lock();
        self.check_open(&writer)?;
        let header = BatchView::parse(batch)?;
        let check = writer.producers.check(
            header.producer_id(),
            header.producer_epoch(),
            header.base_sequence(),
            header.record_count(),
        )?;
        if let Check::Duplicate {
            base_offset,
            last_offset,
            timestamp,
        } = check
        {
            let log_append = self.config().message_timestamp_type == TimestampType::LogAppendTime;
            return Ok(AppendInfo {
                base_offset,
                last_offset,
                max_timestamp: timestamp,
                log_append_time: log_append.then_some(timestamp),
            });
        }
        let base_offset = self.log_end_offset();
        batch[l::BASE_OFFSET..l::LENGTH].copy_from_slice(&base_offset.to_be_bytes());
        batch[l::PARTITION_LEADER_EPOCH..l::MAGIC]
            .copy_from_slice(&writer.leader_epoch.to_be_bytes());
        let log_append_time =
            (self.config().message_timestamp_type == TimestampType::LogAppendTime).then_some(now);
        if let Some(t) = log_append_time {
            stamp_log_append_time(batch, t);
        }
        let view = BatchView::parse(batch)?;
        let segment = self.segment_for_append(&mut writer, &view)?;
        segment.write().append(&view)?;
        let info = AppendInfo {
            base_offset,
            last_offset: view.last_offset(),
            max_timestamp: view.max_timestamp(),
            log_append_time,
        };
        if view.producer_id() >= 0 {
            writer.producers.record(&AppendedBatch::from_header(&view));
        }
        self.shared
            .offsets
            .log_end
            .store(view.next_offset(), Ordering::Release);
        writer.unflushed_records += i64::from(view.record_count());
        self.shared.watch.notify();
        self.apply_flush_policy(&mut writer, now)?;
        Ok(info)
    }

    /// The segment the batch goes to: the active one, or a new one when
    /// Kafka's roll rules say so.
    fn segment_for_append(
        &self,
        writer: &mut Writer,
        batch: &BatchView<'_>,
    ) -> Result<Arc<RwLock<LogSegment>>> {
        let active = self.active_segment()?;
        if !self.should_roll(writer, &active.read(), batch) {
            return Ok(active);
        }
        self.roll(writer)
    }

    fn should_roll(&self, writer: &Writer, active: &LogSegment, batch: &BatchView<'_>) -> bool {
        if active.is_empty() {
            return false;
        }
        let config = self.config();
        let too_big = active.size() + batch.size() as u64 > config.segment_bytes as u64;
        let too_old = active
            .first_batch_timestamp()
            .filter(|&t| t >= 0)
            .is_some_and(|first| {
                batch.max_timestamp().saturating_sub(first)
                    > config.segment_ms - writer.roll_jitter_ms
            });
        let offsets_overflow = batch.last_offset() - active.base_offset() > i64::from(i32::MAX);
        too_big || too_old || active.indexes_full() || offsets_overflow
    }

    /// Seals the active segment and starts a new one at the log end.
    pub(super) fn roll(&self, writer: &mut Writer) -> Result<Arc<RwLock<LogSegment>>> {
        let active = self.active_segment()?;
        let base = self.log_end_offset();
        if active.read().base_offset() == base {
            return Ok(active); // already empty at the log end
        }
        if let Some(job) = active.write().seal_deferred()? {
            writer.pending_syncs.push(job);
        }
        self.snapshot_producers(&writer.producers, base)?;
        let segment = Arc::new(RwLock::new(LogSegment::create(
            self.dir(),
            base,
            self.config().segment_config(),
        )?));
        let mut map = (*self.segments()).clone();
        map.insert(base, Arc::clone(&segment));
        self.publish_segments(map);
        writer.dir_dirty = true;
        writer.roll_jitter_ms = draw_jitter(
            self.config().segment_jitter_ms,
            self.config().segment_ms,
            base,
        );
        Ok(segment)
    }

    /// Rolls a new, empty segment at the log end now.
    pub fn roll_now(&self) -> Result<()> {
        let mut writer = self.shared.writer.lock();
        self.check_open(&writer)?;
        self.roll(&mut writer).map(|_| ())
    }
}

/// Sets LogAppendTime: attribute bit 3 and maxTimestamp, then the CRC.
fn stamp_log_append_time(batch: &mut [u8], now: i64) {
    let attributes = u16::from_be_bytes([batch[l::ATTRIBUTES], batch[l::ATTRIBUTES + 1]])
        | l::LOG_APPEND_TIME_FLAG;
    batch[l::ATTRIBUTES..l::LAST_OFFSET_DELTA].copy_from_slice(&attributes.to_be_bytes());
    batch[l::MAX_TIMESTAMP..l::PRODUCER_ID].copy_from_slice(&now.to_be_bytes());
    crate::record::set_crc(batch);
}

/// Kafka's `segment.jitter.ms`: a per-segment amount in `[0, min(jitter,
/// segment.ms))`, here derived from the segment's base offset.
pub(super) fn draw_jitter(jitter_ms: i64, segment_ms: i64, seed: i64) -> i64 {
    let bound = jitter_ms.min(segment_ms);
    if bound <= 0 {
        return 0;
    }
    let mut x = (seed as u64) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x % bound as u64) as i64
}
