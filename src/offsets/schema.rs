//! The keys and values of `__consumer_offsets` records, in Kafka's binary
//! schemas (big-endian throughout).
//!
//! Every key and every value starts with an `i16` version. For keys the
//! version says which kind of record it is (Kafka 4 calls it the record
//! type):
//!
//! ```text
//! key version 0, 1  offset commit    group STRING, topic STRING, partition INT32
//! key version 2     group metadata   group STRING
//! key version 3+    other coordinator records (KIP-848 consumer, share and
//!                   streams groups); passed over
//! ```
//!
//! Offset commit values (Kafka's `OffsetCommitValue`, versions 0 to 4):
//!
//! ```text
//! v0  offset INT64, metadata STRING, commit_timestamp INT64
//! v1  offset INT64, metadata STRING, commit_timestamp INT64, expire_timestamp INT64
//! v2  offset INT64, metadata STRING, commit_timestamp INT64
//! v3  offset INT64, leader_epoch INT32, metadata STRING, commit_timestamp INT64
//! v4  offset INT64, leader_epoch INT32, metadata COMPACT_STRING, commit_timestamp INT64,
//!     tagged fields (tag 0: topic_id UUID, 16 bytes)
//! ```
//!
//! `STRING` is Kafka's non-nullable string: an `i16` length and that many
//! UTF-8 bytes. Version 4 is the first flexible version: its string is a
//! `COMPACT_STRING` (unsigned varint of length + 1, where 0 would be null and
//! is refused) and the value ends with a tagged-field section (an unsigned
//! varint count, then per field an unsigned varint tag, an unsigned varint
//! size and the bytes). Unknown tags are skipped, as Kafka does.
//!
//! A record with a null value is a tombstone: the offset (or the group) was
//! deleted. Group metadata values are not decoded here.
//!
//! seglog writes offset commit keys with version 1 and values with version
//! 3, as Kafka 2.1 to 4.0 do.
//!
//! Every decoder checks every length against the bytes present and never
//! panics, whatever the input.

/// Key version of an offset commit written by Kafka before 0.9 (same layout
/// as version 1).
pub const OFFSET_COMMIT_KEY_V0: i16 = 0;
/// Key version of an offset commit: the version seglog writes.
pub const OFFSET_COMMIT_KEY_V1: i16 = 1;
/// Key version of a group metadata record.
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// The offset commit value version seglog writes.
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// The highest offset commit value version Kafka has defined.
pub const MAX_OFFSET_COMMIT_VALUE_VERSION: i16 = 4;
/// Kafka's "no leader epoch" (`RecordBatch.NO_PARTITION_LEADER_EPOCH`).
pub const NO_LEADER_EPOCH: i32 = -1;
/// The longest string Kafka's `STRING` type holds, in bytes.
pub const MAX_STRING_LEN: usize = i16::MAX as usize;
/// The tag of the topic id in a version 4 value.
const TOPIC_ID_TAG: u32 = 0;
/// Size of a UUID.
const UUID_LEN: usize = 16;

/// Why an offsets record cannot be decoded (or encoded).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffsetRecordError {
    /// The bytes end inside a field.
    #[error("truncated {field}: needs {needed} bytes at byte {position}, {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where it starts in the key or value.
        position: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A string that the schema does not allow to be null is null.
    #[error("{field} is null (length {length}) but the schema does not allow null")]
    NullString {
        /// The field.
        field: &'static str,
        /// The length read.
        length: i64,
    },
    /// A string is longer than Kafka's limit of 32767 bytes.
    #[error("{field} is {length} bytes long, more than a Kafka string's {MAX_STRING_LEN}")]
    StringTooLong {
        /// The field.
        field: &'static str,
        /// Its length in bytes.
        length: usize,
    },
    /// A string is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
    /// An unsigned varint runs over five bytes.
    #[error("the varint of {field} at byte {position} is longer than 5 bytes")]
    VarintTooLong {
        /// The field.
        field: &'static str,
        /// Where the varint starts.
        position: usize,
    },
    /// A version this schema does not define.
    #[error("unknown {record} version {version}")]
    UnknownVersion {
        /// `key` or `offset commit value`.
        record: &'static str,
        /// The version read (or asked for).
        version: i16,
    },
    /// A known tagged field has the wrong size.
    #[error("tagged field {tag} has {size} bytes, {expected} expected")]
    BadTaggedField {
        /// The tag.
        tag: u32,
        /// Its size as written.
        size: usize,
        /// The size the schema gives it.
        expected: usize,
    },
    /// A record of `__consumer_offsets` has no key.
    #[error("the record has a null key")]
    NullKey,
    /// An offset commit key names a negative partition.
    #[error("partition {0} is negative")]
    NegativePartition(i32),
}

type Result<T> = std::result::Result<T, OffsetRecordError>;

/// The key of a `__consumer_offsets` record, by its version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    /// Key version 0 or 1: a committed offset.
    OffsetCommit(OffsetCommitKey),
    /// Key version 2: the group's membership and assignment (its value is
    /// not decoded by seglog).
    GroupMetadata(GroupMetadataKey),
    /// Key version 3 or more: a record of Kafka 4's new group coordinator
    /// (consumer, share and streams groups) that seglog passes over, as
    /// Kafka's loader passes over record types it does not know.
    Other {
        /// The key version (Kafka's record type).
        version: i16,
    },
}

impl RecordKey {
    /// Decodes a key.
    ///
    /// # Errors
    /// [`OffsetRecordError`] for truncated or malformed bytes and for a
    /// negative version.
    pub fn decode(bytes: &[u8]) -> Result<RecordKey> {
        let mut r = Reader::new(bytes);
        let version = r.i16("key version")?;
        match version {
            OFFSET_COMMIT_KEY_V0 | OFFSET_COMMIT_KEY_V1 => {
                let group = r.string("group")?;
                let topic = r.string("topic")?;
                let partition = r.i32("partition")?;
                Ok(RecordKey::OffsetCommit(OffsetCommitKey {
                    version,
                    group,
                    topic,
                    partition,
                }))
            }
            GROUP_METADATA_KEY_VERSION => Ok(RecordKey::GroupMetadata(GroupMetadataKey {
                group: r.string("group")?,
            })),
            v if v > GROUP_METADATA_KEY_VERSION => Ok(RecordKey::Other { version: v }),
            v => Err(OffsetRecordError::UnknownVersion {
                record: "key",
                version: v,
            }),
        }
    }

    /// The key's version.
    pub fn version(&self) -> i16 {
        match self {
            RecordKey::OffsetCommit(k) => k.version,
            RecordKey::GroupMetadata(_) => GROUP_METADATA_KEY_VERSION,
            RecordKey::Other { version } => *version,
        }
    }
}

/// The key of a committed offset: group, topic, partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetCommitKey {
    /// 0 or 1 (same layout); seglog writes 1.
    pub version: i16,
    /// The consumer group id.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

impl OffsetCommitKey {
    /// A version 1 key, the version Kafka writes.
    pub fn new(group: impl Into<String>, topic: impl Into<String>, partition: i32) -> Self {
        OffsetCommitKey {
            version: OFFSET_COMMIT_KEY_V1,
            group: group.into(),
            topic: topic.into(),
            partition,
        }
    }

    /// Encodes the key: `version i16, group STRING, topic STRING, partition i32`.
    ///
    /// # Errors
    /// [`OffsetRecordError::UnknownVersion`] for a version other than 0 or
    /// 1, [`OffsetRecordError::StringTooLong`] for a group or topic over
    /// 32767 bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if !matches!(self.version, OFFSET_COMMIT_KEY_V0 | OFFSET_COMMIT_KEY_V1) {
            return Err(OffsetRecordError::UnknownVersion {
                record: "offset commit key",
                version: self.version,
            });
        }
        let mut out = Vec::with_capacity(8 + self.group.len() + self.topic.len());
        out.extend_from_slice(&self.version.to_be_bytes());
        put_string(&mut out, "group", &self.group)?;
        put_string(&mut out, "topic", &self.topic)?;
        out.extend_from_slice(&self.partition.to_be_bytes());
        Ok(out)
    }
}

/// The key of a group's metadata record (key version 2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupMetadataKey {
    /// The group id.
    pub group: String,
}

impl GroupMetadataKey {
    /// Encodes the key: `version i16 = 2, group STRING`. seglog writes it
    /// only with a null value, to delete a group Kafka described.
    ///
    /// # Errors
    /// [`OffsetRecordError::StringTooLong`] for a group over 32767 bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(4 + self.group.len());
        out.extend_from_slice(&GROUP_METADATA_KEY_VERSION.to_be_bytes());
        put_string(&mut out, "group", &self.group)?;
        Ok(out)
    }
}

/// The value of a committed offset, any version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetCommitValue {
    /// 0 to 4; seglog writes 3.
    pub version: i16,
    /// The committed offset: the next record the group will read.
    pub offset: i64,
    /// The leader epoch of the last consumed record (versions 3 and 4);
    /// [`NO_LEADER_EPOCH`] when unknown or not stored.
    pub leader_epoch: i32,
    /// The consumer's metadata string.
    pub metadata: String,
    /// When the commit was written, in ms since the Unix epoch.
    pub commit_timestamp: i64,
    /// Version 1 only: when the offset expires (`None` when -1 or absent).
    pub expire_timestamp: Option<i64>,
    /// Version 4 only (tagged field 0, Kafka 4.1+): the topic id.
    pub topic_id: Option<[u8; UUID_LEN]>,
}

impl OffsetCommitValue {
    /// A value of the version seglog writes (3).
    pub fn new(
        offset: i64,
        leader_epoch: Option<i32>,
        metadata: &str,
        commit_timestamp: i64,
    ) -> Self {
        OffsetCommitValue {
            version: OFFSET_COMMIT_VALUE_VERSION,
            offset,
            leader_epoch: leader_epoch.unwrap_or(NO_LEADER_EPOCH),
            metadata: metadata.to_string(),
            commit_timestamp,
            expire_timestamp: None,
            topic_id: None,
        }
    }

    /// The leader epoch, `None` for Kafka's "no epoch" (-1) or any other
    /// negative number.
    pub fn leader_epoch(&self) -> Option<i32> {
        (self.leader_epoch >= 0).then_some(self.leader_epoch)
    }

    /// Decodes a value of any version 0 to 4. Bytes after the last field
    /// are ignored, as Kafka's readers ignore them.
    ///
    /// # Errors
    /// [`OffsetRecordError`] for truncated or malformed bytes and unknown
    /// versions.
    pub fn decode(bytes: &[u8]) -> Result<OffsetCommitValue> {
        let mut r = Reader::new(bytes);
        let version = r.i16("value version")?;
        if !(0..=MAX_OFFSET_COMMIT_VALUE_VERSION).contains(&version) {
            return Err(OffsetRecordError::UnknownVersion {
                record: "offset commit value",
                version,
            });
        }
        let offset = r.i64("offset")?;
        let leader_epoch = if version >= 3 {
            r.i32("leader_epoch")?
        } else {
            NO_LEADER_EPOCH
        };
        let metadata = if version >= 4 {
            r.compact_string("metadata")?
        } else {
            r.string("metadata")?
        };
        let commit_timestamp = r.i64("commit_timestamp")?;
        let expire_timestamp = if version == 1 {
            Some(r.i64("expire_timestamp")?).filter(|&t| t != -1)
        } else {
            None
        };
        let topic_id = if version >= 4 {
            r.tagged_topic_id()?
        } else {
            None
        };
        Ok(OffsetCommitValue {
            version,
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
            expire_timestamp,
            topic_id,
        })
    }

    /// Encodes the value with its `version` (fields the version lacks are
    /// left out).
    ///
    /// # Errors
    /// [`OffsetRecordError::UnknownVersion`] outside 0 to 4,
    /// [`OffsetRecordError::StringTooLong`] for metadata over 32767 bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let version = self.version;
        if !(0..=MAX_OFFSET_COMMIT_VALUE_VERSION).contains(&version) {
            return Err(OffsetRecordError::UnknownVersion {
                record: "offset commit value",
                version,
            });
        }
        let mut out = Vec::with_capacity(40 + self.metadata.len());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        if version >= 3 {
            out.extend_from_slice(&self.leader_epoch.to_be_bytes());
        }
        if version >= 4 {
            put_compact_string(&mut out, "metadata", &self.metadata)?;
        } else {
            put_string(&mut out, "metadata", &self.metadata)?;
        }
        out.extend_from_slice(&self.commit_timestamp.to_be_bytes());
        if version == 1 {
            out.extend_from_slice(&self.expire_timestamp.unwrap_or(-1).to_be_bytes());
        }
        if version >= 4 {
            match self.topic_id {
                Some(id) if id != [0; UUID_LEN] => {
                    put_unsigned_varint(&mut out, 1);
                    put_unsigned_varint(&mut out, TOPIC_ID_TAG);
                    put_unsigned_varint(&mut out, UUID_LEN as u32);
                    out.extend_from_slice(&id);
                }
                _ => put_unsigned_varint(&mut out, 0),
            }
        }
        Ok(out)
    }
}

/// Appends a `STRING`: i16 length, UTF-8 bytes.
fn put_string(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<()> {
    if s.len() > MAX_STRING_LEN {
        return Err(OffsetRecordError::StringTooLong {
            field,
            length: s.len(),
        });
    }
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends a `COMPACT_STRING`: unsigned varint of length + 1, UTF-8 bytes.
fn put_compact_string(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<()> {
    if s.len() > MAX_STRING_LEN {
        return Err(OffsetRecordError::StringTooLong {
            field,
            length: s.len(),
        });
    }
    put_unsigned_varint(out, s.len() as u32 + 1);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends Kafka's unsigned varint (7 bits a byte, low group first, no
/// zigzag).
fn put_unsigned_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounds-checked big-endian reader.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8]> {
        let available = self.buf.len() - self.pos;
        if n > available {
            return Err(OffsetRecordError::Truncated {
                field,
                position: self.pos,
                needed: n,
                available,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16> {
        self.array(field).map(i16::from_be_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32> {
        self.array(field).map(i32::from_be_bytes)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64> {
        self.array(field).map(i64::from_be_bytes)
    }

    fn unsigned_varint(&mut self, field: &'static str) -> Result<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        for i in 0..5 {
            let byte = self.take(field, 1)?[0];
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(OffsetRecordError::VarintTooLong {
            field,
            position: start,
        })
    }

    fn utf8(&mut self, field: &'static str, len: usize) -> Result<String> {
        let bytes = self.take(field, len)?;
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| OffsetRecordError::InvalidUtf8 { field })
    }

    /// A non-nullable `STRING`.
    fn string(&mut self, field: &'static str) -> Result<String> {
        let len = self.i16(field)?;
        if len < 0 {
            return Err(OffsetRecordError::NullString {
                field,
                length: i64::from(len),
            });
        }
        self.utf8(field, len as usize)
    }

    /// A non-nullable `COMPACT_STRING`.
    fn compact_string(&mut self, field: &'static str) -> Result<String> {
        let n = self.unsigned_varint(field)?;
        if n == 0 {
            return Err(OffsetRecordError::NullString { field, length: -1 });
        }
        let len = (n - 1) as usize;
        if len > MAX_STRING_LEN {
            return Err(OffsetRecordError::StringTooLong { field, length: len });
        }
        self.utf8(field, len)
    }

    /// The tagged-field section of a flexible value; returns the topic id
    /// (tag 0) and skips unknown tags.
    fn tagged_topic_id(&mut self) -> Result<Option<[u8; UUID_LEN]>> {
        let count = self.unsigned_varint("tagged field count")?;
        let mut topic_id = None;
        for _ in 0..count {
            let tag = self.unsigned_varint("tagged field tag")?;
            let size = self.unsigned_varint("tagged field size")? as usize;
            let data = self.take("tagged field", size)?;
            if tag == TOPIC_ID_TAG {
                let id: [u8; UUID_LEN] =
                    data.try_into()
                        .map_err(|_| OffsetRecordError::BadTaggedField {
                            tag,
                            size,
                            expected: UUID_LEN,
                        })?;
                topic_id = Some(id);
            }
        }
        Ok(topic_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_version_roundtrips() {
        for version in 0..=MAX_OFFSET_COMMIT_VALUE_VERSION {
            let value = OffsetCommitValue {
                version,
                offset: 42,
                leader_epoch: if version >= 3 { 7 } else { NO_LEADER_EPOCH },
                metadata: "m\u{e9}ta".into(),
                commit_timestamp: 1_700_000_000_000,
                expire_timestamp: (version == 1).then_some(1_800_000_000_000),
                topic_id: (version == 4).then_some([9; UUID_LEN]),
            };
            let bytes = value.encode().unwrap();
            assert_eq!(OffsetCommitValue::decode(&bytes).unwrap(), value);
        }
    }

    #[test]
    fn v4_skips_unknown_tags_and_refuses_null_metadata() {
        // v4, offset 1, epoch -1, metadata "" (varint 1), ts 2, two tags:
        // tag 5 (2 bytes, unknown) and tag 0 (the topic id).
        let mut bytes = vec![0, 4];
        bytes.extend_from_slice(&1i64.to_be_bytes());
        bytes.extend_from_slice(&(-1i32).to_be_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&2i64.to_be_bytes());
        bytes.extend_from_slice(&[2, 5, 2, 0xaa, 0xbb, 0, 16]);
        bytes.extend_from_slice(&[3; 16]);
        let value = OffsetCommitValue::decode(&bytes).unwrap();
        assert_eq!(value.topic_id, Some([3; 16]));
        assert_eq!(value.leader_epoch(), None);
        bytes[14] = 0; // metadata length varint 0 = null
        assert!(matches!(
            OffsetCommitValue::decode(&bytes),
            Err(OffsetRecordError::NullString { .. })
        ));
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(RecordKey::decode(&[]).is_err());
        assert!(RecordKey::decode(&[0, 1, 0xff, 0xff]).is_err()); // null group
        assert!(RecordKey::decode(&[0xff, 0xff]).is_err()); // version -1
        assert_eq!(
            RecordKey::decode(&[0, 9, 1]).unwrap(),
            RecordKey::Other { version: 9 }
        );
        assert!(OffsetCommitValue::decode(&[0, 5]).is_err());
        assert!(OffsetCommitValue::decode(&[0, 3, 0, 0]).is_err());
        let long = "x".repeat(MAX_STRING_LEN + 1);
        assert!(OffsetCommitKey::new(long, "t", 0).encode().is_err());
    }
}
