//! The record model: what a producer sends and a consumer gets back.

use bytes::Bytes;

/// How a batch's timestamps were assigned (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// The producer's timestamps are kept (Kafka's `CreateTime`).
    #[default]
    CreateTime,
    /// The log stamped the append time; every record of the batch reads back
    /// with the batch's maxTimestamp (Kafka's `LogAppendTime`).
    LogAppendTime,
}

impl TimestampType {
    /// Kafka's name, as in `message.timestamp.type`.
    pub fn name(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// A record header: a UTF-8 key and an optional byte value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The header's key.
    pub key: String,
    /// The header's value; `None` is Kafka's null.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Header {
            key: key.into(),
            value: Some(value.into()),
        }
    }
}

/// One record: optional key and value (a `None` value is a tombstone),
/// headers, and a timestamp in milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Record {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The key; `None` is Kafka's null key.
    pub key: Option<Bytes>,
    /// The value; `None` is Kafka's null value, a tombstone on compacted topics.
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// A record with a value and no key.
    pub fn new(timestamp: i64, value: impl Into<Bytes>) -> Self {
        Record {
            timestamp,
            value: Some(value.into()),
            ..Record::default()
        }
    }

    /// A record with a key and a value.
    pub fn keyed(timestamp: i64, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Record {
            timestamp,
            key: Some(key.into()),
            value: Some(value.into()),
            headers: Vec::new(),
        }
    }

    /// A tombstone: a key with a null value.
    pub fn tombstone(timestamp: i64, key: impl Into<Bytes>) -> Self {
        Record {
            timestamp,
            key: Some(key.into()),
            value: None,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, header: Header) -> Self {
        self.headers.push(header);
        self
    }
}
