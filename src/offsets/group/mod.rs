//! Consumer groups inside one process, with Kafka's semantics and no
//! network: a [`GroupCoordinator`] per store keeps the groups (members,
//! generations, rebalances, timeouts) and fences offset commits into the
//! [`OffsetStore`](super::OffsetStore); a [`GroupConsumer`] per thread
//! subscribes, polls its share of the partitions and commits.
//!
//! * [`assignor`]: `range`, `roundrobin`, `sticky`, `cooperative-sticky`;
//! * [`GroupCoordinator`]: membership (join, heartbeat, leave), the
//!   rebalance state machine, fenced commits, and the admin side
//!   ([`describe`](GroupCoordinator::describe) with lag,
//!   [`list_groups`](GroupCoordinator::list_groups),
//!   [`delete_group`](GroupCoordinator::delete_group),
//!   [`reset_offsets`](GroupCoordinator::reset_offsets),
//!   [`expire_offsets`](GroupCoordinator::expire_offsets));
//! * [`GroupConsumer`], [`GroupConsumerConfig`] and [`RebalanceListener`]:
//!   Kafka's `KafkaConsumer.subscribe` side.
//!
//! How it maps to Kafka's classic group protocol: JoinGroup does not block;
//! the coordinator computes the assignment itself (the "leader" is only
//! reported) when the last member has rejoined, so a rebalance goes
//! `Stable -> PreparingRebalance -> Stable` and a member picks up its
//! assignment at its next heartbeat (SyncGroup). Eager members revoke
//! everything before rejoining; cooperative ones (every configured assignor
//! cooperative, i.e. `cooperative-sticky`) keep their partitions, and a
//! partition that moves is revoked in one generation and assigned in the
//! next (KIP-429). Not supported: static membership (`group.instance.id`),
//! custom assignors, Kafka's initial rebalance delay, and the expiry of
//! offsets of topics an active group stopped consuming (KIP-496).

mod admin;
pub mod assignor;
mod config;
mod coordinator;
mod group_consumer;
mod listener;
mod membership;
mod state;
mod sticky;

/// A partition of a topic: `(topic, partition)`.
pub type TopicPartition = (String, u32);

pub use admin::{GroupDescription, GroupListing, MemberDescription, OffsetReset, PartitionLag};
pub use assignor::{Assignment, Assignor, RebalanceProtocol, Subscription};
pub use config::{GROUP_CONSUMER_KEYS, GroupConsumerConfig};
pub use coordinator::{GroupCoordinator, JoinRequest, MemberView};
pub use group_consumer::{GroupConsumer, GroupMetadata};
pub use listener::{NoopListener, RebalanceListener};
pub use state::GroupState;
