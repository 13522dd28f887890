//! Errors: one [`Error`] enum for the crate, and [`BatchError`] for what is
//! wrong inside one record batch.
//!
//! Every variant says what went wrong and where: a file path, a byte
//! position, an offset. There is deliberately no `From<std::io::Error>`, so an
//! I/O error can never lose the path it happened on.

use std::io;
use std::path::{Path, PathBuf};

/// The result type of every fallible seglog call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in seglog.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O error on a named file or directory.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation touched.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A record batch stored in a segment file is damaged: bad framing, bad
    /// CRC, offsets that do not fit the segment, undecodable records.
    #[error("corrupt batch in {} at byte {position}: {reason}", segment.display())]
    CorruptBatch {
        /// The `.log` file holding the batch.
        segment: PathBuf,
        /// Byte position of the batch's first byte in that file.
        position: u64,
        /// What is wrong with it.
        reason: BatchError,
    },

    /// A batch handed to seglog (not read from disk) is malformed.
    #[error("invalid record batch: {0}")]
    InvalidBatch(BatchError),

    /// A record is well formed but not acceptable here, as Kafka's
    /// `InvalidRecordException` (for example a record without a key on a
    /// compacted topic: "Compacted topic cannot accept message without
    /// key").
    #[error("invalid record {index} of the batch: {reason}")]
    InvalidRecord {
        /// Index of the record in its batch (0 for the first).
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An `.index` or `.timeindex` file is inconsistent with its segment.
    #[error("corrupt index {}: {reason}", path.display())]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A text checkpoint or metadata file (`*-offset-checkpoint`,
    /// `leader-epoch-checkpoint`, `partition.metadata`) does not parse.
    #[error("malformed {kind} file {}: line {line}: {reason}", path.display())]
    CorruptCheckpoint {
        /// The file.
        path: PathBuf,
        /// Which kind of file it is (`offset checkpoint`, `leader epoch
        /// checkpoint`, `partition metadata`).
        kind: &'static str,
        /// The 1-based line where the problem is.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A batch uses a compression codec whose cargo feature is not enabled.
    #[error(
        "batch compressed with {codec}, which this build lacks: enable seglog's cargo feature `{feature}`"
    )]
    CodecUnavailable {
        /// Kafka's name of the codec (`gzip`, `snappy`, `lz4`, `zstd`).
        codec: &'static str,
        /// The cargo feature that compiles it in.
        feature: &'static str,
    },

    /// A batch or record is larger than the configured maximum.
    #[error("record batch of {size} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// The size that was offered.
        size: usize,
        /// The configured maximum.
        max: usize,
    },

    /// An offset outside `[log_start, log_end]` was requested.
    #[error("offset {requested} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// The requested offset.
        requested: i64,
        /// The first offset still held.
        log_start: i64,
        /// The offset the next appended record will get.
        log_end: i64,
    },

    /// A file name that should follow Kafka's segment naming does not.
    #[error("{} is not a segment file name (20-digit base offset + .log/.index/.timeindex)", path.display())]
    InvalidSegmentName {
        /// The offending path.
        path: PathBuf,
    },

    /// An offset cannot be stored in this segment: it is below the segment's
    /// base offset or too far above it for Kafka's 32-bit relative offsets.
    #[error("offset {offset} does not fit segment {base_offset}: {reason}")]
    OffsetNotInSegment {
        /// The offending offset.
        offset: i64,
        /// The segment's base offset.
        base_offset: i64,
        /// Why it does not fit.
        reason: &'static str,
    },

    /// A segment has no room for another batch (size or index capacity);
    /// the caller should roll a new segment.
    #[error("segment {base_offset} is full: {reason}")]
    SegmentFull {
        /// The segment's base offset.
        base_offset: i64,
        /// Which limit was reached.
        reason: &'static str,
    },

    /// A CreateTime timestamp outside `message.timestamp.before.max.ms` /
    /// `message.timestamp.after.max.ms` of the log's clock.
    #[error("timestamp {timestamp} is outside the accepted range [{min}, {max}] (now {now})")]
    InvalidTimestamp {
        /// The offending record timestamp.
        timestamp: i64,
        /// The earliest accepted timestamp.
        min: i64,
        /// The latest accepted timestamp.
        max: i64,
        /// The clock's time at the append.
        now: i64,
    },

    /// The partition or store was closed; reopen it to write again.
    #[error("{} is closed", path.display())]
    Closed {
        /// The partition directory.
        path: PathBuf,
    },

    /// A directory is not a partition directory (`<topic>-<partition>`).
    #[error("{} is not a partition directory name (<topic>-<partition>)", path.display())]
    InvalidPartitionDir {
        /// The offending directory.
        path: PathBuf,
    },

    /// An idempotent producer's batch does not continue its sequence: a gap,
    /// or an old sequence no longer in the five-batch duplicate window.
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrderSequence {
        /// The producer id of the batch.
        producer_id: i64,
        /// The base sequence the partition expects next.
        expected: i32,
        /// The base sequence the batch carries.
        got: i32,
    },

    /// A batch carries a producer epoch older than the partition's current
    /// epoch for that producer id: a zombie producer.
    #[error(
        "producer {producer_id} is fenced: epoch {epoch} is older than the current epoch {current_epoch}"
    )]
    ProducerFenced {
        /// The producer id of the batch.
        producer_id: i64,
        /// The epoch the batch carries.
        epoch: i16,
        /// The epoch the partition knows for that producer id.
        current_epoch: i16,
    },

    /// A producer state `.snapshot` file cannot be used: bad version, CRC,
    /// length or entry count.
    #[error("corrupt producer snapshot {}: {reason}", path.display())]
    CorruptSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Another process (a seglog store or a Kafka broker) holds the store
    /// directory's `.lock`.
    #[error("store {} is locked by another process (its .lock is held)", path.display())]
    StoreLocked {
        /// The store directory.
        path: PathBuf,
    },

    /// A topic name Kafka would refuse (it must be 1-249 ASCII letters,
    /// digits, `.`, `_` or `-`, and not `.` or `..`).
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The offending name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The topic exists already.
    #[error("topic {0:?} already exists")]
    TopicExists(String),

    /// No such topic (and auto-creation is off).
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),

    /// The topic has no such partition.
    #[error("topic {topic:?} has no partition {partition} (it has {count})")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The requested partition.
        partition: u32,
        /// How many partitions it has.
        count: u32,
    },

    /// A configuration key or value is not accepted.
    #[error("invalid configuration {key}={value:?}: {reason}")]
    InvalidConfig {
        /// The key, with Kafka's name.
        key: String,
        /// The offered value.
        value: String,
        /// Why it is refused.
        reason: String,
    },

    /// The operation is refused by configuration or by Kafka's rules (for
    /// example deleting a topic with `delete.topic.enable=false`, or
    /// reducing a topic's partition count).
    #[error("not allowed: {0}")]
    NotAllowed(String),

    /// The handle refuses writes because an earlier fsync failed; what is on
    /// disk is unknown until the data is reopened and recovered.
    #[error("{} is poisoned by an earlier failed sync; reopen to recover", path.display())]
    Poisoned {
        /// The file whose sync failed.
        path: PathBuf,
    },

    /// A producer's `buffer.memory` stayed too full to take a record for
    /// `max.block.ms` (Kafka's "Failed to allocate memory within the
    /// configured max blocking time").
    #[error(
        "producer buffer full: {size} bytes needed, {available} of {buffer_memory} free after waiting {waited_ms} ms (max.block.ms)"
    )]
    BufferFull {
        /// Bytes the record needed.
        size: usize,
        /// Bytes free when the wait ended.
        available: usize,
        /// The producer's `buffer.memory`.
        buffer_memory: usize,
        /// How long the sender waited, in milliseconds.
        waited_ms: u64,
    },

    /// The producer was closed; it accepts no more records.
    #[error("the producer is closed")]
    ProducerClosed,

    /// Appending a producer batch failed; every record of the batch reports
    /// the same cause.
    #[error("producing to {topic}-{partition} failed: {source}")]
    ProduceFailed {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// Why the append failed (shared by the records of the batch).
        #[source]
        source: std::sync::Arc<Error>,
    },

    /// A batch fetched by a consumer fails its check (CRC, framing or
    /// record decoding), as Kafka's consumer reports with `check.crcs`.
    #[error("corrupt batch fetched from {topic}-{partition} at offset {offset}: {reason}")]
    CorruptFetch {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The base offset of the batch.
        offset: i64,
        /// What is wrong with it.
        reason: BatchError,
    },

    /// A record of the `__consumer_offsets` topic does not decode with
    /// Kafka's offset commit / group metadata schemas.
    #[error("corrupt offsets record in {topic}-{partition} at offset {offset}: {reason}")]
    CorruptOffsetRecord {
        /// The topic (`__consumer_offsets`).
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset of the record.
        offset: i64,
        /// What is wrong with it.
        reason: crate::offsets::schema::OffsetRecordError,
    },

    /// An offset commit (or deletion) is refused before anything is
    /// written: an empty group id, a negative offset, a string over Kafka's
    /// limits (`offset.metadata.max.bytes`, 32767-byte strings).
    #[error("invalid offset commit for group {group:?}: {reason}")]
    InvalidOffsetCommit {
        /// The group.
        group: String,
        /// Why it is refused.
        reason: String,
    },

    /// A consumer has no position for an assigned partition and
    /// `auto.offset.reset` is `none`.
    #[error("no offset for {topic}-{partition} and auto.offset.reset is none")]
    NoOffsetForPartition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
    },

    /// A group member's request carries a generation other than the
    /// group's current one (Kafka's `ILLEGAL_GENERATION`): the member was
    /// fenced by a rebalance. Nothing was written.
    #[error(
        "group {group:?}: generation {generation} is not the current generation {current}; the member was fenced by a rebalance"
    )]
    IllegalGeneration {
        /// The group.
        group: String,
        /// The generation the request carried.
        generation: i32,
        /// The group's current generation.
        current: i32,
    },

    /// The group does not know the member (Kafka's `UNKNOWN_MEMBER_ID`): it
    /// left, or was evicted after its session or poll interval ran out.
    /// Nothing was written.
    #[error("group {group:?} has no member {member:?} (it left or was evicted)")]
    UnknownMember {
        /// The group.
        group: String,
        /// The member id the request carried.
        member: String,
    },

    /// The group completed a rebalance that the member has not picked up
    /// yet (Kafka's `REBALANCE_IN_PROGRESS`): poll to finish it, then
    /// retry. Nothing was written.
    #[error("group {group:?} is rebalancing; poll to complete the rebalance, then retry")]
    RebalanceInProgress {
        /// The group.
        group: String,
    },

    /// The operation needs a group without members (Kafka's
    /// `NON_EMPTY_GROUP`), as deleting a group or resetting its offsets.
    #[error("group {group:?} has {members} active member(s); stop its consumers first")]
    GroupNotEmpty {
        /// The group.
        group: String,
        /// How many members it has.
        members: usize,
    },

    /// A joining member shares no partition assignor with the group's
    /// members (Kafka's `INCONSISTENT_GROUP_PROTOCOL`).
    #[error("group {group:?} uses none of the assignors [{protocols}] of the joining member")]
    InconsistentGroupProtocol {
        /// The group.
        group: String,
        /// The joining member's assignors, comma-separated.
        protocols: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Places a batch problem found in a file at `position`. A missing codec
    /// is not corruption and keeps its own variant.
    pub fn in_segment(segment: impl AsRef<Path>, position: u64, reason: BatchError) -> Self {
        match reason {
            BatchError::CodecUnavailable { codec, feature } => {
                Error::CodecUnavailable { codec, feature }
            }
            reason => Error::CorruptBatch {
                segment: segment.as_ref().to_path_buf(),
                position,
                reason,
            },
        }
    }
}

impl From<BatchError> for Error {
    fn from(reason: BatchError) -> Self {
        match reason {
            BatchError::CodecUnavailable { codec, feature } => {
                Error::CodecUnavailable { codec, feature }
            }
            reason => Error::InvalidBatch(reason),
        }
    }
}

/// What is wrong with one record batch. Positions inside are relative to the
/// start of the batch; [`Error::CorruptBatch`] adds the file and its position.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Fewer bytes are present than the batch needs.
    #[error("truncated: needs {needed} bytes, {available} present")]
    Truncated {
        /// Bytes the batch header says it spans (or the header size).
        needed: u64,
        /// Bytes actually present.
        available: u64,
    },
    /// The batchLength field is impossible.
    #[error("batch length field {0} is impossible")]
    BadLength(i32),
    /// Not a v2 batch.
    #[error("unsupported magic byte {0} (only RecordBatch v2 is supported)")]
    UnsupportedMagic(i8),
    /// The stored CRC-32C does not match the bytes.
    #[error("CRC-32C mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The CRC field of the batch.
        stored: u32,
        /// The CRC computed over the batch's bytes.
        computed: u32,
    },
    /// The attributes name a codec id that does not exist.
    #[error("unknown compression codec id {0}")]
    UnknownCodec(u8),
    /// A codec compiled out of this build; see [`Error::CodecUnavailable`].
    #[error("codec {codec} needs cargo feature `{feature}`")]
    CodecUnavailable {
        /// Kafka's name of the codec.
        codec: &'static str,
        /// The cargo feature that compiles it in.
        feature: &'static str,
    },
    /// The compressed records could not be decompressed.
    #[error("cannot decompress {codec} records: {detail}")]
    Decompression {
        /// Kafka's name of the codec.
        codec: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// Decompression would produce more than the configured maximum.
    #[error("records decompress to more than the limit of {max} bytes")]
    DecompressedTooLarge {
        /// The configured limit.
        max: usize,
    },
    /// A record inside the batch is malformed.
    #[error("record {index} at byte {position} of the records: {detail}")]
    BadRecord {
        /// Index of the record in the batch.
        index: u32,
        /// Position in the (decompressed) records section.
        position: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// The number of records present differs from the header's recordCount.
    #[error("header says {declared} records, {detail}")]
    RecordCount {
        /// The header's recordCount.
        declared: i32,
        /// What was found instead.
        detail: String,
    },
    /// Offsets in the batch are inconsistent (deltas, lastOffsetDelta, or
    /// baseOffset against its neighbours).
    #[error("bad offsets: {0}")]
    BadOffsets(String),
    /// The batch is fine but not acceptable in this place (for example a
    /// control batch offered by a client).
    #[error("batch not accepted: {0}")]
    NotAccepted(&'static str),
}
