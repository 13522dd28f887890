//! [`RebalanceListener`]: Kafka's `ConsumerRebalanceListener`.

use super::TopicPartition;
use super::group_consumer::GroupConsumer;
use crate::error::Result;

/// Callbacks around a rebalance, as Kafka's `ConsumerRebalanceListener`.
/// They run on the consumer's thread, inside [`GroupConsumer::poll`] (and
/// `close` / `unsubscribe`), and get the consumer itself, so they can
/// commit (`commit_sync`, `commit_offsets`), look at positions or seek.
/// Calling `poll`, `subscribe`, `unsubscribe` or `close` from a callback is
/// refused. An error returned by a callback is returned by the call that
/// ran it, after the rebalance step is complete.
pub trait RebalanceListener: Send {
    /// Partitions are taken away: with the eager protocol every owned
    /// partition at the start of each rebalance (called even when there
    /// are none); with the cooperative protocol only those that move to
    /// another member, at the end of the rebalance (never empty). Also on
    /// `close` and `unsubscribe`. Called while they are still owned, after
    /// auto-commit committed their positions, so their offsets can be
    /// committed here.
    fn on_partitions_revoked(
        &mut self,
        consumer: &mut GroupConsumer,
        partitions: &[TopicPartition],
    ) -> Result<()> {
        let _ = (consumer, partitions);
        Ok(())
    }

    /// Partitions were added at the end of a rebalance (all of the new
    /// assignment with the eager protocol, the newly added ones with the
    /// cooperative protocol); called after every completed rebalance, even
    /// when nothing was added. Their positions are set already (committed
    /// offset, or `auto.offset.reset`).
    fn on_partitions_assigned(
        &mut self,
        consumer: &mut GroupConsumer,
        partitions: &[TopicPartition],
    ) -> Result<()> {
        let _ = (consumer, partitions);
        Ok(())
    }

    /// The member was evicted (session or poll timeout) and its partitions
    /// may already belong to others: committing them would be fenced.
    /// Called only when some were owned. The default calls
    /// [`on_partitions_revoked`](Self::on_partitions_revoked), as Kafka's.
    fn on_partitions_lost(
        &mut self,
        consumer: &mut GroupConsumer,
        partitions: &[TopicPartition],
    ) -> Result<()> {
        self.on_partitions_revoked(consumer, partitions)
    }
}

/// A listener that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopListener;

impl RebalanceListener for NoopListener {}
