//! [`OffsetStore`]: consumer group offsets in `__consumer_offsets`.
//!
//! The in-memory state (group -> (topic, partition) -> committed offset) is
//! a cache of the topic: it is rebuilt at open by replaying every partition
//! (the latest record per key wins, a tombstone deletes), and every change
//! is appended to the group's partition before it is applied.
//!
//! Locking: one mutex per `__consumer_offsets` partition serialises the
//! writes of the groups that live there (compute the records, append them as
//! one batch, apply them), so the state always follows the log's order; the
//! state itself sits behind a read-write lock that readers take only for a
//! lookup. Lock order: partition mutex, then state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::group_partition::partition_for_group;
use super::schema::{
    GroupMetadataKey, MAX_STRING_LEN, OffsetCommitKey, OffsetCommitValue, OffsetRecordError,
    RecordKey,
};
use crate::config::{CleanupPolicy, TopicConfig};
use crate::error::{BatchError, Error, Result};
use crate::partition::{Partition, RecordsOptions};
use crate::record::{BatchHeader, Record};
use crate::store::Store;
use crate::topic::Topic;

/// The name of Kafka's internal offsets topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Bytes asked for per read while replaying.
const READ_CHUNK: usize = 1 << 20;

/// Control record type of a transaction commit marker (an abort is 0).
const CONTROL_COMMIT: i16 = 1;
/// Control record type of a transaction abort marker.
const CONTROL_ABORT: i16 = 0;

/// Settings of the offset store, with the Kafka broker keys they stand for
/// and Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetStoreConfig {
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`
    /// when it is created (default 50). An existing topic keeps its count.
    pub num_partitions: u32,
    /// `offsets.retention.minutes`, in milliseconds: how old the offsets of
    /// an empty group may grow before [`OffsetStore::expire`] deletes them
    /// (default 10080 minutes, 7 days).
    pub retention_ms: i64,
    /// `offsets.topic.segment.bytes`: segment size of the topic when it is
    /// created (default 104857600, 100 MiB).
    pub segment_bytes: usize,
    /// `offset.metadata.max.bytes`: the longest metadata string accepted
    /// with a commit (default 4096).
    pub metadata_max_bytes: usize,
}

impl Default for OffsetStoreConfig {
    fn default() -> Self {
        OffsetStoreConfig {
            num_partitions: 50,
            retention_ms: 10_080 * 60_000,
            segment_bytes: 100 << 20,
            metadata_max_bytes: 4096,
        }
    }
}

/// One offset to commit: `(topic, partition, offset, leader_epoch,
/// metadata)`. `offset` is the next record the group will read; the leader
/// epoch is that of the last consumed record, if known.
pub type CommitEntry<'a> = (&'a str, u32, i64, Option<i32>, &'a str);

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset the group will read.
    pub offset: i64,
    /// The leader epoch of the last consumed record, if known.
    pub leader_epoch: Option<i32>,
    /// The consumer's metadata string.
    pub metadata: String,
    /// When the commit was written (the store clock), ms since the epoch.
    pub commit_timestamp: i64,
    /// An explicit expiry time, carried only by version 1 values written by
    /// old Kafka versions (seglog never sets it).
    pub expire_timestamp: Option<i64>,
}

impl From<OffsetCommitValue> for CommittedOffset {
    fn from(v: OffsetCommitValue) -> Self {
        CommittedOffset {
            offset: v.offset,
            leader_epoch: v.leader_epoch(),
            commit_timestamp: v.commit_timestamp,
            expire_timestamp: v.expire_timestamp,
            metadata: v.metadata,
        }
    }
}

type TopicPartition = (String, u32);

/// One stored offset and the log offset of the record that set it.
#[derive(Debug, Clone)]
struct Entry {
    value: CommittedOffset,
    log_offset: i64,
}

#[derive(Debug, Default)]
struct GroupState {
    offsets: BTreeMap<TopicPartition, Entry>,
    /// A group metadata record (key version 2), written by Kafka, is live.
    has_metadata: bool,
}

impl GroupState {
    fn is_empty(&self) -> bool {
        self.offsets.is_empty() && !self.has_metadata
    }
}

#[derive(Debug, Default)]
struct State {
    groups: BTreeMap<String, GroupState>,
}

impl State {
    /// Applies one record read from the log.
    fn apply_record(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        log_offset: i64,
    ) -> std::result::Result<(), OffsetRecordError> {
        let key = key.ok_or(OffsetRecordError::NullKey)?;
        match RecordKey::decode(key)? {
            RecordKey::OffsetCommit(k) => {
                let partition = u32::try_from(k.partition)
                    .map_err(|_| OffsetRecordError::NegativePartition(k.partition))?;
                let tp = (k.topic, partition);
                match value {
                    None => self.remove_offset(&k.group, &tp, log_offset),
                    Some(v) => {
                        let value = OffsetCommitValue::decode(v)?.into();
                        self.put_offset(k.group, tp, value, log_offset);
                    }
                }
            }
            RecordKey::GroupMetadata(k) => self.set_group_metadata(k.group, value.is_some()),
            RecordKey::Other { .. } => {}
        }
        Ok(())
    }

    /// Applies a change this process has just appended at `log_offset`.
    fn apply_change(&mut self, group: &str, change: Change, log_offset: i64) {
        match change {
            Change::Commit(tp, value) => self.put_offset(group.to_string(), tp, value, log_offset),
            Change::DeleteOffset(tp) => self.remove_offset(group, &tp, log_offset),
            Change::DeleteGroupMetadata => self.set_group_metadata(group.to_string(), false),
        }
    }

    /// Stores `value` unless a record later in the log set the key already
    /// (possible only for transactional commits, applied at their marker).
    fn put_offset(&mut self, group: String, tp: TopicPartition, value: CommittedOffset, at: i64) {
        let offsets = &mut self.groups.entry(group).or_default().offsets;
        if offsets.get(&tp).is_none_or(|e| e.log_offset < at) {
            offsets.insert(
                tp,
                Entry {
                    value,
                    log_offset: at,
                },
            );
        }
    }

    fn remove_offset(&mut self, group: &str, tp: &TopicPartition, at: i64) {
        if let Some(state) = self.groups.get_mut(group) {
            if state.offsets.get(tp).is_some_and(|e| e.log_offset < at) {
                state.offsets.remove(tp);
            }
            if state.is_empty() {
                self.groups.remove(group);
            }
        }
    }

    fn set_group_metadata(&mut self, group: String, present: bool) {
        if present {
            self.groups.entry(group).or_default().has_metadata = true;
        } else if let Some(state) = self.groups.get_mut(&group) {
            state.has_metadata = false;
            if state.is_empty() {
                self.groups.remove(&group);
            }
        }
    }
}

/// A change to one group, written as one record.
#[derive(Debug)]
enum Change {
    Commit(TopicPartition, CommittedOffset),
    DeleteOffset(TopicPartition),
    DeleteGroupMetadata,
}

/// Consumer group offsets kept in the compacted topic `__consumer_offsets`
/// of a [`Store`], in Kafka's record format.
///
/// Each group lives in one partition of the topic, chosen as Kafka's group
/// coordinator does ([`partition_for_group`]); a commit of several offsets
/// is one batch, so it is stored all or nothing. Cheap to clone, `Send +
/// Sync`. It holds a clone of the store, so drop it before reopening the
/// store directory.
///
/// ```
/// use seglog::Store;
/// use seglog::config::StoreConfig;
/// use seglog::offsets::{OffsetStore, OffsetStoreConfig};
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreConfig::default())?;
/// let offsets = OffsetStore::open(&store, OffsetStoreConfig::default())?;
///
/// // Two offsets in one atomic commit.
/// offsets.commit("billing", &[("orders", 0, 42, None, ""), ("orders", 1, 7, Some(3), "v2")])?;
/// assert_eq!(offsets.committed("billing", "orders", 1).map(|c| c.offset), Some(7));
/// drop(offsets);
/// store.close()?;
/// drop(store);
///
/// // The offsets come back from the topic itself.
/// let store = Store::open(dir.path(), StoreConfig::default())?;
/// let offsets = OffsetStore::open(&store, OffsetStoreConfig::default())?;
/// let committed = offsets.committed("billing", "orders", 0).expect("replayed");
/// assert_eq!((committed.offset, committed.leader_epoch), (42, None));
/// assert_eq!(offsets.groups(), vec!["billing".to_string()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OffsetStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    topic: Topic,
    partitions: u32,
    config: OffsetStoreConfig,
    state: RwLock<State>,
    /// One per `__consumer_offsets` partition: serialises its writes.
    writers: Vec<Mutex<()>>,
}

impl OffsetStore {
    /// Opens the offset store of `store`: creates `__consumer_offsets`
    /// (`cleanup.policy=compact`, `config.num_partitions` partitions,
    /// `segment.bytes` = `config.segment_bytes`) when it is missing, and
    /// rebuilds the offsets by replaying every partition. An existing topic
    /// (a Kafka broker's included) keeps its partition count and
    /// configuration. Transactional offset commits count once their
    /// transaction's commit marker is read; aborted ones are dropped.
    ///
    /// # Errors
    /// [`Error::CorruptOffsetRecord`] for a record that does not decode,
    /// [`Error::CorruptFetch`] for a batch that fails its CRC, and the
    /// errors of [`Store::create_topic`].
    pub fn open(store: &Store, config: OffsetStoreConfig) -> Result<OffsetStore> {
        let topic = open_topic(store, &config)?;
        let partitions = topic.partition_count();
        let mut state = State::default();
        for partition in topic.partitions() {
            replay(&partition, &mut state)?;
        }
        Ok(OffsetStore {
            inner: Arc::new(Inner {
                store: store.clone(),
                topic,
                partitions,
                config,
                state: RwLock::new(state),
                writers: (0..partitions).map(|_| Mutex::new(())).collect(),
            }),
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &OffsetStoreConfig {
        &self.inner.config
    }

    /// The `__consumer_offsets` topic.
    pub fn topic(&self) -> &Topic {
        &self.inner.topic
    }

    /// The number of partitions of `__consumer_offsets`.
    pub fn partition_count(&self) -> u32 {
        self.inner.partitions
    }

    /// The `__consumer_offsets` partition holding `group`:
    /// `Utils.abs(group.hashCode()) % partitions`, as Kafka computes it.
    pub fn partition_for(&self, group: &str) -> u32 {
        partition_for_group(group, self.inner.partitions)
    }

    /// Commits offsets of `group` as ONE batch appended to the group's
    /// partition (all or nothing), each with the store clock's time as its
    /// commit timestamp. Records use offset commit key version 1 and value
    /// version 3, as Kafka writes them. A negative leader epoch is stored as
    /// "none". Nothing is written for an empty list.
    ///
    /// # Errors
    /// [`Error::InvalidOffsetCommit`] (nothing written) for an empty group
    /// id, a negative offset, a partition above `i32::MAX`, metadata over
    /// `metadata_max_bytes` or a string over 32767 bytes;
    /// [`Error::RecordTooLarge`] when the batch exceeds the topic's
    /// `max.message.bytes`; I/O errors of the append.
    pub fn commit(&self, group: &str, offsets: &[CommitEntry<'_>]) -> Result<()> {
        check_group(group)?;
        let now = self.inner.store.config().clock.now_ms();
        let mut changes = Vec::with_capacity(offsets.len());
        for &(topic, partition, offset, leader_epoch, metadata) in offsets {
            if offset < 0 {
                return Err(invalid(
                    group,
                    format!("offset {offset} of {topic}-{partition} is negative"),
                ));
            }
            let max = self.inner.config.metadata_max_bytes;
            if metadata.len() > max {
                return Err(invalid(
                    group,
                    format!(
                        "metadata of {topic}-{partition} is {} bytes, more than offset.metadata.max.bytes={max}",
                        metadata.len()
                    ),
                ));
            }
            let value = CommittedOffset {
                offset,
                leader_epoch: leader_epoch.filter(|e| *e >= 0),
                metadata: metadata.to_string(),
                commit_timestamp: now,
                expire_timestamp: None,
            };
            changes.push(Change::Commit((topic.to_string(), partition), value));
        }
        self.write(group, now, |_| changes).map(|_| ())
    }

    /// The committed offset of `group` for `topic`-`partition`.
    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<CommittedOffset> {
        let state = self.inner.state.read();
        let offsets = &state.groups.get(group)?.offsets;
        offsets
            .get(&(topic.to_string(), partition))
            .map(|e| e.value.clone())
    }

    /// Deletes committed offsets of `group` (Kafka's OffsetDelete): one
    /// batch of tombstones for those that exist. Returns how many were
    /// deleted.
    ///
    /// # Errors
    /// I/O errors of the append; nothing is deleted then.
    pub fn delete(&self, group: &str, partitions: &[(&str, u32)]) -> Result<usize> {
        let now = self.inner.store.config().clock.now_ms();
        self.write(group, now, |state| {
            let Some(state) = state else {
                return Vec::new();
            };
            let mut changes: Vec<Change> = Vec::new();
            for &(topic, partition) in partitions {
                let tp = (topic.to_string(), partition);
                let seen = changes
                    .iter()
                    .any(|c| matches!(c, Change::DeleteOffset(t) if *t == tp));
                if state.offsets.contains_key(&tp) && !seen {
                    changes.push(Change::DeleteOffset(tp));
                }
            }
            changes
        })
    }

    /// Deletes a group: tombstones for all its offsets, and for its group
    /// metadata record when Kafka left one, in one batch. Returns how many
    /// offsets were deleted.
    ///
    /// # Errors
    /// I/O errors of the append; nothing is deleted then.
    pub fn delete_group(&self, group: &str) -> Result<usize> {
        let now = self.inner.store.config().clock.now_ms();
        self.write(group, now, |state| {
            let Some(state) = state else {
                return Vec::new();
            };
            let mut changes: Vec<Change> = state
                .offsets
                .keys()
                .map(|tp| Change::DeleteOffset(tp.clone()))
                .collect();
            if state.has_metadata {
                changes.push(Change::DeleteGroupMetadata);
            }
            changes
        })
    }

    /// The groups with committed offsets (or a live Kafka group metadata
    /// record), sorted.
    pub fn groups(&self) -> Vec<String> {
        self.inner.state.read().groups.keys().cloned().collect()
    }

    /// Every committed offset of `group`, sorted by topic and partition.
    pub fn group_offsets(&self, group: &str) -> Vec<((String, u32), CommittedOffset)> {
        let state = self.inner.state.read();
        state.groups.get(group).map_or_else(Vec::new, |g| {
            g.offsets
                .iter()
                .map(|(tp, e)| (tp.clone(), e.value.clone()))
                .collect()
        })
    }

    /// Kafka's offset expiry for empty groups: for every group that
    /// `is_group_empty` reports empty, offsets whose commit timestamp is at
    /// least `offsets.retention.minutes` (`retention_ms`) before `now` get
    /// tombstones (an offset carrying a version 1 expire timestamp expires
    /// at that time instead). When every offset of a group expires and
    /// Kafka left a group metadata record, it is deleted too, as Kafka
    /// removes a dead group. One batch per group. Returns how many offsets
    /// expired. `is_group_empty` is called without any lock held.
    ///
    /// # Errors
    /// I/O errors of an append; groups handled before it stay expired.
    pub fn expire(&self, now: i64, is_group_empty: impl Fn(&str) -> bool) -> Result<usize> {
        let retention = self.inner.config.retention_ms;
        let expired = |v: &CommittedOffset| match v.expire_timestamp {
            Some(at) => now >= at,
            None => now.saturating_sub(v.commit_timestamp) >= retention,
        };
        let mut total = 0;
        for group in self.groups() {
            if !is_group_empty(&group) {
                continue;
            }
            // The tombstones carry the store clock's time, as any append.
            let append_time = self.inner.store.config().clock.now_ms();
            total += self.write(&group, append_time, |state| {
                let Some(state) = state else {
                    return Vec::new();
                };
                let mut changes: Vec<Change> = state
                    .offsets
                    .iter()
                    .filter(|(_, e)| expired(&e.value))
                    .map(|(tp, _)| Change::DeleteOffset(tp.clone()))
                    .collect();
                if !changes.is_empty() && changes.len() == state.offsets.len() && state.has_metadata
                {
                    changes.push(Change::DeleteGroupMetadata);
                }
                changes
            })?;
        }
        Ok(total)
    }

    /// The lag of `group` on `topic`-`partition`: the partition's log end
    /// offset minus the committed offset. `None` when the group has no
    /// offset there or the store has no such topic or partition.
    pub fn lag(&self, group: &str, topic: &str, partition: u32) -> Option<i64> {
        let committed = self.committed(group, topic, partition)?;
        let store = &self.inner.store;
        // `Store::topic` may auto-create; look only at existing topics.
        if !store.topic_names().iter().any(|t| t == topic) {
            return None;
        }
        let log = store.topic(topic).ok()?.partition(partition).ok()?;
        Some(log.log_end_offset() - committed.offset)
    }

    /// Flushes every partition of `__consumer_offsets` to disk.
    ///
    /// # Errors
    /// The I/O error of the first partition that fails.
    pub fn flush(&self) -> Result<()> {
        for partition in self.inner.topic.partitions() {
            partition.flush()?;
        }
        Ok(())
    }

    /// Under the group partition's writer mutex: asks `changes` what to
    /// write given the group's current state, appends the records as one
    /// batch timestamped `now`, then applies them. Returns the number of
    /// offset changes.
    fn write(
        &self,
        group: &str,
        now: i64,
        changes: impl FnOnce(Option<&GroupState>) -> Vec<Change>,
    ) -> Result<usize> {
        let n = self.partition_for(group);
        let partition = self.inner.topic.partition(n)?;
        let _writer = self
            .inner
            .writers
            .get(n as usize)
            .map(|m| m.lock())
            .ok_or_else(|| Error::UnknownPartition {
                topic: OFFSETS_TOPIC.to_string(),
                partition: n,
                count: self.inner.partitions,
            })?;
        let changes = changes(self.inner.state.read().groups.get(group));
        if changes.is_empty() {
            return Ok(0);
        }
        let records = changes
            .iter()
            .map(|c| record_for(group, c, now))
            .collect::<Result<Vec<_>>>()?;
        let info = partition.append_records(&records, RecordsOptions::default())?;
        let count = changes
            .iter()
            .filter(|c| !matches!(c, Change::DeleteGroupMetadata))
            .count();
        let mut state = self.inner.state.write();
        for (i, change) in changes.into_iter().enumerate() {
            state.apply_change(group, change, info.base_offset + i as i64);
        }
        Ok(count)
    }
}

/// The record that writes `change`.
fn record_for(group: &str, change: &Change, now: i64) -> Result<Record> {
    let offset_key = |tp: &TopicPartition| {
        let partition = i32::try_from(tp.1)
            .map_err(|_| invalid(group, format!("partition {} is above i32::MAX", tp.1)))?;
        OffsetCommitKey::new(group, tp.0.as_str(), partition)
            .encode()
            .map_err(|e| invalid(group, e.to_string()))
    };
    let (key, value) = match change {
        Change::Commit(tp, v) => {
            let value =
                OffsetCommitValue::new(v.offset, v.leader_epoch, &v.metadata, v.commit_timestamp)
                    .encode()
                    .map_err(|e| invalid(group, e.to_string()))?;
            (offset_key(tp)?, Some(Bytes::from(value)))
        }
        Change::DeleteOffset(tp) => (offset_key(tp)?, None),
        Change::DeleteGroupMetadata => {
            let key = GroupMetadataKey {
                group: group.to_string(),
            }
            .encode()
            .map_err(|e| invalid(group, e.to_string()))?;
            (key, None)
        }
    };
    Ok(Record {
        timestamp: now,
        key: Some(Bytes::from(key)),
        value,
        headers: Vec::new(),
    })
}

fn invalid(group: &str, reason: String) -> Error {
    Error::InvalidOffsetCommit {
        group: group.to_string(),
        reason,
    }
}

fn check_group(group: &str) -> Result<()> {
    if group.is_empty() {
        return Err(invalid(group, "the group id is empty".into()));
    }
    if group.len() > MAX_STRING_LEN {
        return Err(invalid(
            group,
            format!(
                "the group id is {} bytes, more than {MAX_STRING_LEN}",
                group.len()
            ),
        ));
    }
    Ok(())
}

/// The existing `__consumer_offsets`, or a new one with Kafka's settings.
fn open_topic(store: &Store, config: &OffsetStoreConfig) -> Result<Topic> {
    // `Store::topic` would auto-create with the default configuration.
    if store.topic_names().iter().any(|t| t == OFFSETS_TOPIC) {
        return store.topic(OFFSETS_TOPIC);
    }
    let topic_config = TopicConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        segment_bytes: config.segment_bytes,
        ..store.config().default_topic.clone()
    };
    match store.create_topic(OFFSETS_TOPIC, config.num_partitions, topic_config) {
        Err(Error::TopicExists(_)) => store.topic(OFFSETS_TOPIC),
        other => other,
    }
}

/// A batch problem found while replaying, placed in the topic.
fn fetch_error(partition: u32, offset: i64, reason: BatchError) -> Error {
    match reason {
        BatchError::CodecUnavailable { codec, feature } => {
            Error::CodecUnavailable { codec, feature }
        }
        reason => Error::CorruptFetch {
            topic: OFFSETS_TOPIC.to_string(),
            partition,
            offset,
            reason,
        },
    }
}

/// A transactional record waiting for its transaction's marker.
type Pending = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Replays one partition from its log start to its log end into `state`.
fn replay(partition: &Partition, state: &mut State) -> Result<()> {
    let n = partition.partition();
    let limits = partition.config().decode;
    let end = partition.log_end_offset();
    let mut next = partition.log_start_offset();
    let mut pending: HashMap<i64, Vec<Pending>> = HashMap::new();
    let corrupt = |offset: i64, reason: OffsetRecordError| Error::CorruptOffsetRecord {
        topic: OFFSETS_TOPIC.to_string(),
        partition: n,
        offset,
        reason,
    };
    while next < end {
        let before = next;
        let slice = partition.read(next, READ_CHUNK)?;
        for batch in slice.iter() {
            if batch.next_offset() <= next {
                continue;
            }
            let base = batch.base_offset();
            batch.verify_crc().map_err(|e| fetch_error(n, base, e))?;
            let records = batch
                .records(&limits)
                .map_err(|e| fetch_error(n, base, e))?;
            for record in records.iter() {
                let record = record.map_err(|e| fetch_error(n, base, e))?;
                let offset = record.offset();
                if offset < next {
                    continue;
                }
                if batch.is_control() {
                    let marker = record
                        .key()
                        .filter(|k| k.len() >= 4)
                        .map(|k| i16::from_be_bytes([k[2], k[3]]));
                    let txn = pending.remove(&batch.producer_id()).unwrap_or_default();
                    if marker == Some(CONTROL_COMMIT) {
                        for (at, key, value) in txn {
                            state
                                .apply_record(key.as_deref(), value.as_deref(), at)
                                .map_err(|e| corrupt(at, e))?;
                        }
                    } else if marker != Some(CONTROL_ABORT) {
                        // An unknown control record: keep waiting.
                        pending.insert(batch.producer_id(), txn);
                    }
                } else if batch.is_transactional() {
                    pending.entry(batch.producer_id()).or_default().push((
                        offset,
                        record.key().map(<[u8]>::to_vec),
                        record.value().map(<[u8]>::to_vec),
                    ));
                } else {
                    state
                        .apply_record(record.key(), record.value(), offset)
                        .map_err(|e| corrupt(offset, e))?;
                }
            }
            next = batch.next_offset();
        }
        if next <= before {
            break;
        }
    }
    Ok(())
}
