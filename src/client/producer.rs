//! [`Producer`]: batches records per partition and appends them to a
//! [`Store`] from a background thread, as Kafka's `KafkaProducer` does.

use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::Mutex;

use super::accumulator::{Accumulator, Limits};
use super::batch::record_size;
use super::delivery::{DeliveryFuture, RecordMetadata};
use super::producer_config::ProducerConfig;
use super::sender;
use crate::Store;
use crate::error::{Error, Result};
use crate::record::layout::HEADER_SIZE;
use crate::record::{Header, Record};

/// A record to send: Kafka's `ProducerRecord`.
///
/// ```
/// use seglog::client::ProducerRecord;
/// use seglog::record::Header;
///
/// let record = ProducerRecord::keyed("orders", "customer-42", "{\"total\": 12}")
///     .with_header(Header::new("source", "web"))
///     .with_timestamp(1_700_000_000_000);
/// assert_eq!(record.partition, None); // the key decides
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// An explicit partition; when `None`, the key's murmur2 hash decides,
    /// or the keyless strategy when there is no key.
    pub partition: Option<u32>,
    /// The key; `None` is Kafka's null key.
    pub key: Option<Bytes>,
    /// The value; `None` is Kafka's null value (a tombstone).
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: Vec<Header>,
    /// The create time in milliseconds since the Unix epoch; `None` takes
    /// the store's clock at `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record with a value and no key.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            value: Some(value.into()),
            ..ProducerRecord::default()
        }
    }

    /// A record with a key and a value.
    pub fn keyed(topic: impl Into<String>, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        ProducerRecord {
            key: Some(key.into()),
            ..ProducerRecord::new(topic, value)
        }
    }

    /// A tombstone: a key with a null value.
    pub fn tombstone(topic: impl Into<String>, key: impl Into<Bytes>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            key: Some(key.into()),
            ..ProducerRecord::default()
        }
    }

    /// Sends to this partition, whatever the key.
    pub fn with_partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create time.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, header: Header) -> Self {
        self.headers.push(header);
        self
    }
}

/// What the producer and its sender thread share.
pub(crate) struct Shared {
    pub store: Store,
    pub config: ProducerConfig,
    /// Producer id and epoch when idempotent.
    pub producer: Option<(i64, i16)>,
    pub accumulator: Accumulator,
}

/// Kafka's producer over a [`Store`]: records are collected per partition
/// into batches (up to `batch.size` bytes or `linger.ms`, within
/// `buffer.memory`) and appended by a background thread the producer owns.
/// Keyed records go where Kafka's Java client would send them (murmur2);
/// keyless ones follow the sticky or round-robin strategy.
///
/// With `enable.idempotence` (the default) the producer takes a producer id
/// from the store (epoch 0) and numbers its records per partition from 0, so
/// the log refuses to append a batch twice. There are no retries: an
/// in-process append succeeds or fails for a reason a retry would not fix,
/// and the record's [`DeliveryFuture`] reports it.
///
/// `Send + Sync`: share one producer between threads by reference or
/// `Arc`. Dropping it closes it (sends what is buffered, joins the thread).
/// It holds a handle of the store, so the store's directory stays locked
/// until the producer is dropped too.
///
/// ```
/// use seglog::client::{Producer, ProducerConfig, ProducerRecord};
/// use seglog::config::{StoreConfig, TopicConfig};
/// use seglog::partitioner::partition_for_key;
/// use seglog::Store;
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreConfig::default())?;
/// store.create_topic("orders", 3, TopicConfig::default())?;
///
/// let producer = Producer::new(&store, ProducerConfig::default())?;
/// let pending = producer.send(ProducerRecord::keyed("orders", "customer-42", "first"))?;
/// let metadata = producer.send_sync(ProducerRecord::keyed("orders", "customer-42", "second"))?;
/// assert_eq!(metadata.partition, partition_for_key(b"customer-42", 3));
/// assert_eq!(pending.wait()?.offset, 0);
/// assert_eq!(metadata.offset, 1);
/// producer.close();
/// store.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Producer {
    shared: Arc<Shared>,
    sender: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("config", &self.shared.config)
            .field("producer", &self.shared.producer)
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// A producer over `store`; starts its sender thread and, when
    /// idempotent, allocates its producer id from the store (epoch 0).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a combination Kafka refuses (idempotence
    /// without `acks=all`), [`Error::CodecUnavailable`], or the store's
    /// error allocating a producer id.
    pub fn new(store: &Store, config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let producer = if config.enable_idempotence {
            Some((store.allocate_producer_id()?, 0))
        } else {
            None
        };
        let limits = Limits {
            batch_limit: config.batch_size.min(config.max_request_size),
            buffer_memory: config.buffer_memory,
            linger: config.linger(),
            max_block: config.max_block(),
        };
        let shared = Arc::new(Shared {
            store: store.clone(),
            accumulator: Accumulator::new(limits, config.partitioner),
            config,
            producer,
        });
        let handle = sender::spawn(Arc::clone(&shared))?;
        Ok(Producer {
            shared,
            sender: Mutex::new(Some(handle)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ProducerConfig {
        &self.shared.config
    }

    /// The producer id, when idempotent.
    pub fn producer_id(&self) -> Option<i64> {
        self.shared.producer.map(|(id, _)| id)
    }

    /// The producer epoch (always 0), when idempotent.
    pub fn producer_epoch(&self) -> Option<i16> {
        self.shared.producer.map(|(_, epoch)| epoch)
    }

    /// Bytes of `buffer.memory` not taken by records waiting to be appended
    /// (Kafka's `buffer-available-bytes` metric).
    pub fn buffer_available_bytes(&self) -> usize {
        self.shared.accumulator.available_memory()
    }

    /// Adds a record to its partition's batch and returns at once with a
    /// future of its delivery; blocks only while `buffer.memory` is full, up
    /// to `max.block.ms`.
    ///
    /// # Errors
    /// Immediately: [`Error::UnknownTopic`] (unless the store creates topics
    /// on first use), [`Error::UnknownPartition`] for an explicit partition
    /// the topic lacks, [`Error::RecordTooLarge`] when the record alone
    /// makes a batch larger than `max.request.size` or `buffer.memory`,
    /// [`Error::BufferFull`] after `max.block.ms`, [`Error::ProducerClosed`].
    /// Errors of the append itself come through the future.
    pub fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let ProducerRecord {
            topic,
            partition,
            key,
            value,
            headers,
            timestamp,
        } = record;
        let handle = self.shared.store.topic(&topic)?;
        let count = handle.partition_count();
        if let Some(p) = partition
            && p >= count
        {
            return Err(Error::UnknownPartition {
                topic,
                partition: p,
                count,
            });
        }
        let timestamp = timestamp.unwrap_or_else(|| self.shared.store.config().clock.now_ms());
        let record = Record {
            timestamp,
            key,
            value,
            headers,
        };
        let size = HEADER_SIZE + record_size(0, 0, &record);
        let config = &self.shared.config;
        for max in [config.max_request_size, config.buffer_memory] {
            if size > max {
                return Err(Error::RecordTooLarge { size, max });
            }
        }
        self.shared
            .accumulator
            .append(&topic, count, partition, record)
    }

    /// Sends a record and waits for its delivery. Its batch is sent at once,
    /// without waiting for `linger.ms`.
    ///
    /// # Errors
    /// Those of [`Producer::send`] and [`DeliveryFuture::wait`].
    pub fn send_sync(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        let future = self.send(record)?;
        self.shared.accumulator.send_now(&future);
        future.wait()
    }

    /// Sends every buffered record now and waits until all records sent
    /// before the call are delivered (successfully or not: the outcome of
    /// each is in its future), as Kafka's `flush`.
    pub fn flush(&self) {
        self.shared.accumulator.flush();
    }

    /// Refuses further records, delivers everything buffered and stops the
    /// sender thread. Idempotent; also done on drop.
    pub fn close(&self) {
        self.shared.accumulator.close();
        if let Some(handle) = self.sender.lock().take()
            && handle.join().is_err()
        {
            tracing::error!("the producer's sender thread panicked");
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.close();
    }
}
