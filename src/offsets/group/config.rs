//! [`GroupConsumerConfig`]: the group consumer's settings, with Kafka's key
//! names and defaults.

use super::assignor::Assignor;
use crate::client::{AutoOffsetReset, ConsumerConfig};
use crate::error::{Error, Result};

/// The keys [`GroupConsumerConfig::set`] understands besides those of
/// [`ConsumerConfig`](crate::client::ConsumerConfig) (`CONSUMER_KEYS`).
pub const GROUP_CONSUMER_KEYS: &[&str] = &[
    "auto.commit.interval.ms",
    "client.id",
    "enable.auto.commit",
    "group.id",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "session.timeout.ms",
];

/// Settings of a [`GroupConsumer`](super::GroupConsumer), with Kafka's key
/// names and defaults. The fetch keys and `auto.offset.reset` live in the
/// wrapped [`ConsumerConfig`].
///
/// ```
/// use seglog::client::AutoOffsetReset;
/// use seglog::offsets::group::{Assignor, GroupConsumerConfig};
///
/// let config = GroupConsumerConfig::from_properties(
///     "group.id=billing\nauto.offset.reset=earliest\npartition.assignment.strategy=cooperative-sticky",
/// )?;
/// assert_eq!(config.group_id, "billing");
/// assert_eq!(config.consumer.auto_offset_reset, AutoOffsetReset::Earliest);
/// assert_eq!(config.partition_assignment_strategy, vec![Assignor::CooperativeSticky]);
/// assert_eq!((config.session_timeout_ms, config.auto_commit_interval_ms), (45_000, 5_000));
/// # Ok::<(), seglog::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConsumerConfig {
    /// `group.id`: the group to join; required.
    pub group_id: String,
    /// `client.id`: prefix of the member id. Empty (the default) means
    /// `consumer-<group.id>-<n>`, as Kafka's client names itself.
    pub client_id: String,
    /// `enable.auto.commit`: commit the positions of owned partitions every
    /// `auto.commit.interval.ms` (from inside `poll`), before partitions
    /// are revoked, and on close. Default true.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`, on the store's clock. Default 5000.
    pub auto_commit_interval_ms: u64,
    /// `session.timeout.ms`: a member without a heartbeat for this long is
    /// evicted. Polling heartbeats. Default 45000.
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms`: a member that has not polled for this long is
    /// evicted; also the rebalance timeout. Default 300000.
    pub max_poll_interval_ms: u64,
    /// `heartbeat.interval.ms`: a `poll` waiting for records checks in with
    /// the coordinator at least this often (real time), so it sees
    /// rebalances while it waits. Default 3000; below `session.timeout.ms`.
    pub heartbeat_interval_ms: u64,
    /// `partition.assignment.strategy`: the assignors this member supports,
    /// most preferred first. Default `range, cooperative-sticky` (Kafka
    /// 3.x); the group uses the one most members prefer among those all
    /// support. The rebalance protocol is cooperative only when every
    /// listed assignor supports it.
    pub partition_assignment_strategy: Vec<Assignor>,
    /// The fetch settings and `auto.offset.reset` of the wrapped
    /// [`Consumer`](crate::client::Consumer).
    pub consumer: ConsumerConfig,
}

impl Default for GroupConsumerConfig {
    fn default() -> Self {
        GroupConsumerConfig {
            group_id: String::new(),
            client_id: String::new(),
            enable_auto_commit: true,
            auto_commit_interval_ms: 5_000,
            session_timeout_ms: 45_000,
            max_poll_interval_ms: 300_000,
            heartbeat_interval_ms: 3_000,
            partition_assignment_strategy: vec![Assignor::Range, Assignor::CooperativeSticky],
            consumer: ConsumerConfig::default(),
        }
    }
}

impl GroupConsumerConfig {
    /// The defaults with `group.id` = `group_id`.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConsumerConfig {
            group_id: group_id.into(),
            ..GroupConsumerConfig::default()
        }
    }

    /// Parses `key=value` text (Kafka's key names) over the defaults.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an unknown key or a bad value.
    pub fn from_properties(text: &str) -> Result<Self> {
        let mut config = GroupConsumerConfig::default();
        for (key, value) in crate::config::parse_properties(text)? {
            config.set(&key, &value)?;
        }
        Ok(config)
    }

    /// Sets one key by its Kafka name; the keys of [`ConsumerConfig`] are
    /// passed on to it.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an unknown key or a bad value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "group.id" => self.group_id = value.trim().to_string(),
            "client.id" => self.client_id = value.trim().to_string(),
            "enable.auto.commit" => self.enable_auto_commit = parse_bool(key, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval_ms = parse_ms(key, value)?,
            "session.timeout.ms" => self.session_timeout_ms = parse_ms(key, value)?,
            "max.poll.interval.ms" => self.max_poll_interval_ms = parse_ms(key, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval_ms = parse_ms(key, value)?,
            "partition.assignment.strategy" => {
                self.partition_assignment_strategy = value
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(Assignor::from_name)
                    .collect::<Result<_>>()?;
            }
            _ => self.consumer.set(key, value)?,
        }
        Ok(())
    }

    /// [`set`](Self::set) in builder form.
    ///
    /// # Errors
    /// As [`set`](Self::set).
    pub fn set_str(mut self, key: &str, value: &str) -> Result<Self> {
        self.set(key, value)?;
        Ok(self)
    }

    /// Sets `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets `enable.auto.commit`.
    pub fn enable_auto_commit(mut self, yes: bool) -> Self {
        self.enable_auto_commit = yes;
        self
    }

    /// Sets `auto.commit.interval.ms`.
    pub fn auto_commit_interval_ms(mut self, ms: u64) -> Self {
        self.auto_commit_interval_ms = ms;
        self
    }

    /// Sets `session.timeout.ms`.
    pub fn session_timeout_ms(mut self, ms: u64) -> Self {
        self.session_timeout_ms = ms;
        self
    }

    /// Sets `max.poll.interval.ms`.
    pub fn max_poll_interval_ms(mut self, ms: u64) -> Self {
        self.max_poll_interval_ms = ms;
        self
    }

    /// Sets `heartbeat.interval.ms`.
    pub fn heartbeat_interval_ms(mut self, ms: u64) -> Self {
        self.heartbeat_interval_ms = ms;
        self
    }

    /// Sets `partition.assignment.strategy`.
    pub fn assignors(mut self, assignors: &[Assignor]) -> Self {
        self.partition_assignment_strategy = assignors.to_vec();
        self
    }

    /// Sets `auto.offset.reset` (of the wrapped consumer configuration).
    pub fn auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.consumer.auto_offset_reset = reset;
        self
    }

    /// Replaces the wrapped consumer configuration.
    pub fn consumer(mut self, consumer: ConsumerConfig) -> Self {
        self.consumer = consumer;
        self
    }

    /// Checks the settings as Kafka's client does at construction.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`]: an empty `group.id`, no assignor, or
    /// `heartbeat.interval.ms` not below `session.timeout.ms`.
    pub fn validate(&self) -> Result<()> {
        let invalid = |key: &str, value: String, reason: &str| Error::InvalidConfig {
            key: key.into(),
            value,
            reason: reason.into(),
        };
        if self.group_id.is_empty() {
            return Err(invalid(
                "group.id",
                String::new(),
                "a group consumer needs a group id",
            ));
        }
        if self.partition_assignment_strategy.is_empty() {
            return Err(invalid(
                "partition.assignment.strategy",
                String::new(),
                "at least one assignor is needed",
            ));
        }
        if self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Err(invalid(
                "heartbeat.interval.ms",
                self.heartbeat_interval_ms.to_string(),
                "must be below session.timeout.ms",
            ));
        }
        Ok(())
    }
}

fn parse_ms(key: &str, value: &str) -> Result<u64> {
    value.trim().parse().map_err(|_| Error::InvalidConfig {
        key: key.into(),
        value: value.into(),
        reason: "expected a non-negative number of milliseconds".into(),
    })
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::InvalidConfig {
            key: key.into(),
            value: value.into(),
            reason: "expected true or false".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_defaults_and_keys() {
        let c = GroupConsumerConfig::new("g");
        assert!(c.enable_auto_commit);
        assert_eq!(c.max_poll_interval_ms, 300_000);
        assert_eq!(c.heartbeat_interval_ms, 3_000);
        assert_eq!(c.consumer.auto_offset_reset, AutoOffsetReset::Latest);
        c.validate().unwrap();
        let c = GroupConsumerConfig::from_properties(
            "group.id=g\nenable.auto.commit=false\nmax.poll.records=7\n\
             partition.assignment.strategy=org.apache.kafka.clients.consumer.RoundRobinAssignor, range",
        )
        .unwrap();
        assert!(!c.enable_auto_commit);
        assert_eq!(c.consumer.max_poll_records, 7);
        assert_eq!(
            c.partition_assignment_strategy,
            vec![Assignor::RoundRobin, Assignor::Range]
        );
        assert!(GroupConsumerConfig::default().validate().is_err());
        assert!(
            GroupConsumerConfig::new("g")
                .heartbeat_interval_ms(45_000)
                .validate()
                .is_err()
        );
        assert!(GroupConsumerConfig::from_properties("no.such.key=1").is_err());
    }
}
