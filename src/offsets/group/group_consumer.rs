//! [`GroupConsumer`]: Kafka's `KafkaConsumer` with `subscribe`, over a
//! [`GroupCoordinator`] and a wrapped [`Consumer`] that fetches the owned
//! partitions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::TopicPartition;
use super::assignor::{RebalanceProtocol, rebalance_protocol};
use super::config::GroupConsumerConfig;
use super::coordinator::GroupCoordinator;
use super::listener::RebalanceListener;
use crate::client::{Consumer, ConsumerRecord};
use crate::error::{Error, Result};
use crate::offsets::CommittedOffset;

/// Numbers the default client ids, as Kafka's client does.
static CLIENT_SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// Who a consumer is in its group (Kafka's `ConsumerGroupMetadata`): what a
/// commit carries so the coordinator can fence zombies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation of the consumer's current assignment (-1: none).
    pub generation: i32,
    /// The member id (empty before the first join).
    pub member_id: String,
}

/// A consumer in a consumer group, as Kafka's `KafkaConsumer` with
/// `subscribe`: it joins the group of `group.id` through the
/// [`GroupCoordinator`], consumes only the partitions the group assigns it,
/// starts each at the group's committed offset (or per
/// `auto.offset.reset`), commits positions (automatically every
/// `auto.commit.interval.ms`, before partitions are revoked and on close,
/// or by [`commit_sync`](Self::commit_sync)), and follows rebalances from
/// inside [`poll`](Self::poll).
///
/// Used from one thread (`&mut self`), as Kafka's; several of one group run
/// in several threads, sharing the coordinator. Heartbeats are sent by
/// `poll` (and by [`heartbeat`](Self::heartbeat)): there is no background
/// thread, so an application that spends longer than
/// `session.timeout.ms` between polls must call `heartbeat` or raise the
/// timeout. Dropping the consumer without [`close`](Self::close) leaves
/// the group at once without committing (a crash, as far as offsets go).
///
/// ```
/// use std::time::Duration;
/// use seglog::Store;
/// use seglog::config::{StoreConfig, TopicConfig};
/// use seglog::offsets::{OffsetStore, OffsetStoreConfig};
/// use seglog::offsets::group::{GroupConsumer, GroupConsumerConfig, GroupCoordinator, NoopListener};
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreConfig::default())?;
/// store.create_topic("events", 4, TopicConfig::default())?;
/// let coordinator = GroupCoordinator::new(&store, OffsetStore::open(&store, OffsetStoreConfig::default())?);
///
/// let mut a = GroupConsumer::new(&coordinator, GroupConsumerConfig::new("g"))?;
/// a.subscribe(&["events"], NoopListener)?;
/// a.poll(Duration::ZERO)?;
/// assert_eq!(a.assignment().len(), 4);
///
/// // A second member: `a` gives up its partitions at its next poll, then
/// // both get their share of the new generation.
/// let mut b = GroupConsumer::new(&coordinator, GroupConsumerConfig::new("g"))?;
/// b.subscribe(&["events"], NoopListener)?;
/// b.poll(Duration::ZERO)?;
/// a.poll(Duration::ZERO)?;
/// b.poll(Duration::ZERO)?;
/// assert_eq!((a.assignment().len(), b.assignment().len()), (2, 2));
/// assert_eq!(a.generation(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GroupConsumer {
    pub(super) coordinator: GroupCoordinator,
    pub(super) config: GroupConsumerConfig,
    pub(super) client_id: String,
    pub(super) consumer: Consumer,
    pub(super) protocol: RebalanceProtocol,
    pub(super) subscription: Vec<String>,
    pub(super) listener: Option<Box<dyn RebalanceListener>>,
    pub(super) member: Option<String>,
    pub(super) generation: i32,
    /// The partitions consumed now, sorted.
    pub(super) owned: Vec<TopicPartition>,
    /// A rejoin is due (cooperative revocation, subscription change).
    pub(super) rejoin: bool,
    /// The group version of the last view.
    pub(super) version: u64,
    /// When the next auto-commit is due (store clock, ms).
    pub(super) next_auto_commit: i64,
    pub(super) in_callback: bool,
    pub(super) closed: bool,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group_id", &self.config.group_id)
            .field("member", &self.member)
            .field("generation", &self.generation)
            .field("subscription", &self.subscription)
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

impl GroupConsumer {
    /// A consumer of `config.group_id`, not subscribed yet.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] from [`GroupConsumerConfig::validate`] or
    /// from the wrapped consumer's configuration.
    pub fn new(coordinator: &GroupCoordinator, config: GroupConsumerConfig) -> Result<Self> {
        config.validate()?;
        let consumer = Consumer::new(coordinator.store(), config.consumer.clone())?;
        let client_id = if config.client_id.is_empty() {
            let n = CLIENT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
            format!("consumer-{}-{n}", config.group_id)
        } else {
            config.client_id.clone()
        };
        Ok(GroupConsumer {
            coordinator: coordinator.clone(),
            protocol: rebalance_protocol(&config.partition_assignment_strategy),
            config,
            client_id,
            consumer,
            subscription: Vec::new(),
            listener: None,
            member: None,
            generation: -1,
            owned: Vec::new(),
            rejoin: false,
            version: 0,
            next_auto_commit: 0,
            in_callback: false,
            closed: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GroupConsumerConfig {
        &self.config
    }

    /// The rebalance protocol this consumer follows (cooperative when every
    /// configured assignor supports it).
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        self.protocol
    }

    /// The member id, once joined.
    pub fn member_id(&self) -> Option<&str> {
        self.member.as_deref()
    }

    /// The generation of the current assignment (-1 before the first).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// The group, generation and member id, as a commit carries them.
    pub fn group_metadata(&self) -> GroupMetadata {
        GroupMetadata {
            group_id: self.config.group_id.clone(),
            generation: self.generation,
            member_id: self.member.clone().unwrap_or_default(),
        }
    }

    /// The partitions this consumer owns now, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.owned.clone()
    }

    /// The subscribed topics, sorted.
    pub fn subscription(&self) -> &[String] {
        &self.subscription
    }

    /// Subscribes to `topics` (replacing an earlier subscription, which
    /// makes the consumer rejoin at its next poll), with `listener` for the
    /// rebalance callbacks. Topics are created as `Store::topic` does when
    /// the store allows auto-creation; a topic that does not exist yet gets
    /// partitions assigned once it is created.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] for an empty list, after close or from a
    /// callback; [`Error::InvalidTopicName`].
    pub fn subscribe<T: AsRef<str>>(
        &mut self,
        topics: &[T],
        listener: impl RebalanceListener + 'static,
    ) -> Result<()> {
        self.check_usable("subscribe")?;
        let mut topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_string()).collect();
        topics.sort();
        topics.dedup();
        if topics.is_empty() {
            return Err(Error::NotAllowed(
                "subscribe needs at least one topic (use unsubscribe)".into(),
            ));
        }
        for topic in &topics {
            match self.coordinator.store().topic(topic) {
                Ok(_) | Err(Error::UnknownTopic(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if self.subscription.is_empty() {
            self.next_auto_commit = self.now() + self.auto_commit_interval();
        }
        self.rejoin |= self.member.is_some() && self.subscription != topics;
        self.subscription = topics;
        self.listener = Some(Box::new(listener));
        Ok(())
    }

    /// Leaves the group: the revocation callback for the owned partitions
    /// (no commit, as Kafka's `unsubscribe`), then a leave, so the others
    /// rebalance at once.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] after close or from a callback; the callback's
    /// error.
    pub fn unsubscribe(&mut self) -> Result<()> {
        self.check_usable("unsubscribe")?;
        let result = self.leave();
        self.subscription.clear();
        result
    }

    /// Returns the next records of the owned partitions, after taking part
    /// in the group: joins, heartbeats, follows a rebalance (callbacks,
    /// commits before revocation, positions of new partitions), and
    /// auto-commits when `auto.commit.interval.ms` has passed on the
    /// store's clock. Waits up to `timeout` for records, checking in with
    /// the coordinator at least every `heartbeat.interval.ms`; while it owns
    /// nothing it sleeps on the group's changes. A rebalance may take
    /// longer than one poll: it goes on at the next.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] without a subscription, after close or from a
    /// callback; errors of the wrapped consumer's `poll` (for example
    /// [`Error::NoOffsetForPartition`] with `auto.offset.reset=none`), of a
    /// callback, or of the offset store.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.check_usable("poll")?;
        if self.subscription.is_empty() {
            return Err(Error::NotAllowed(
                "poll needs a subscription (call subscribe first)".into(),
            ));
        }
        let deadline = Instant::now().checked_add(timeout);
        let heartbeat = Duration::from_millis(self.config.heartbeat_interval_ms);
        loop {
            self.coordinate()?;
            self.maybe_auto_commit()?;
            let left = deadline.map_or(heartbeat, |d| d.saturating_duration_since(Instant::now()));
            let slice = left.min(heartbeat);
            if self.owned.is_empty() {
                let group = self.config.group_id.clone();
                self.coordinator
                    .wait_for_change(&group, self.version, slice);
            } else {
                let records = self.consumer.poll(slice)?;
                if !records.is_empty() {
                    return Ok(records);
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Vec::new());
            }
        }
    }

    /// Sends a heartbeat without polling (what Kafka's background thread
    /// does): keeps the session alive while the application works between
    /// polls. It does not reset `max.poll.interval.ms`.
    ///
    /// # Errors
    /// [`Error::UnknownMember`] when the member was evicted (the next poll
    /// rejoins).
    pub fn heartbeat(&mut self) -> Result<()> {
        match &self.member {
            Some(id) => self
                .coordinator
                .heartbeat(&self.config.group_id, id, false)
                .map(|_| ()),
            None => Ok(()),
        }
    }

    /// Commits the positions of the owned partitions (the offsets after the
    /// records `poll` returned), as one batch; nothing when nothing is
    /// owned.
    ///
    /// # Errors
    /// [`Error::UnknownMember`] / [`Error::IllegalGeneration`] when the
    /// member was fenced (the offsets stay as they were);
    /// [`Error::RebalanceInProgress`] when a rebalance completed that this
    /// consumer has not polled yet; errors of the offset store.
    pub fn commit_sync(&mut self) -> Result<()> {
        self.check_open()?;
        let owned = self.owned.clone();
        self.commit_positions(&owned)
    }

    /// Commits the given `(topic, partition, offset)` triples (the offset of
    /// the next record to read), as one batch, fenced as
    /// [`commit_sync`](Self::commit_sync). Before the first join it is a
    /// plain commit, accepted while the group has no members.
    ///
    /// # Errors
    /// As [`commit_sync`](Self::commit_sync), and
    /// [`Error::InvalidOffsetCommit`] for a negative offset.
    pub fn commit_offsets(&mut self, offsets: &[(&str, u32, i64)]) -> Result<()> {
        self.check_open()?;
        let entries: Vec<_> = offsets
            .iter()
            .map(|&(t, p, o)| (t, p, o, None, ""))
            .collect();
        self.commit_entries(&entries)
    }

    /// The group's committed offset for `topic`-`partition`.
    pub fn committed(&self, topic: &str, partition: u32) -> Option<CommittedOffset> {
        self.coordinator
            .offsets()
            .committed(&self.config.group_id, topic, partition)
    }

    /// The offset of the next record `poll` returns for an owned partition.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] for a partition not owned;
    /// [`Error::NoOffsetForPartition`] with `auto.offset.reset=none` and
    /// no committed offset.
    pub fn position(&mut self, topic: &str, partition: u32) -> Result<i64> {
        self.consumer.position(topic, partition)
    }

    /// Moves the position of an owned partition.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] for a partition not owned.
    pub fn seek(&mut self, topic: &str, partition: u32, offset: i64) -> Result<()> {
        self.consumer.seek(topic, partition, offset)
    }

    /// Closes the consumer as Kafka's `close`: picks up an assignment the
    /// group completed since the last poll (so the commit carries the
    /// current generation), commits the positions of the owned partitions
    /// when `enable.auto.commit` is on, runs the revocation callback, and
    /// leaves the group so it rebalances at once.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] from a callback; the first error of the
    /// commit (other than fencing, which is only logged) or of the
    /// callback. The consumer leaves the group in any case.
    pub fn close(mut self) -> Result<()> {
        self.check_usable("close")?;
        let caught_up = self.catch_up();
        let committed = if self.config.enable_auto_commit {
            let owned = self.owned.clone();
            self.commit_quietly(&owned)
        } else {
            Ok(())
        };
        let left = self.leave();
        self.closed = true;
        caught_up.and(committed).and(left)
    }

    /// The store clock's time.
    pub(super) fn now(&self) -> i64 {
        self.coordinator.now()
    }

    pub(super) fn auto_commit_interval(&self) -> i64 {
        i64::try_from(self.config.auto_commit_interval_ms).unwrap_or(i64::MAX)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::NotAllowed("the consumer is closed".into()));
        }
        Ok(())
    }

    fn check_usable(&self, what: &str) -> Result<()> {
        self.check_open()?;
        if self.in_callback {
            return Err(Error::NotAllowed(format!(
                "{what} cannot be called from a rebalance callback"
            )));
        }
        Ok(())
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        if let Some(id) = self.member.take() {
            // Best effort: the coordinator may have evicted us already.
            let _ = self.coordinator.leave_group(&self.config.group_id, &id);
        }
    }
}
