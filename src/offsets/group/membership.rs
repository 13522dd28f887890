//! The member's side of the group protocol, run from inside
//! [`GroupConsumer::poll`]: heartbeat, pick up a new generation's
//! assignment (revoking before assigning), rejoin when the group
//! rebalances, and commit positions on the way.

use std::collections::BTreeSet;

use super::TopicPartition;
use super::assignor::RebalanceProtocol;
use super::coordinator::{JoinRequest, MemberView};
use super::group_consumer::GroupConsumer;
use super::listener::RebalanceListener;
use crate::client::AutoOffsetReset;
use crate::error::{Error, Result};
use crate::offsets::CommitEntry;

/// How many join / assignment steps one `coordinate` takes at most (a
/// cooperative move needs two: revoke, then rejoin).
const MAX_STEPS: usize = 4;

/// Which callback to run.
#[derive(Debug, Clone, Copy)]
enum Callback {
    Revoked,
    Assigned,
    Lost,
}

impl GroupConsumer {
    /// Heartbeats, follows the group to its current generation, and rejoins
    /// when a rebalance needs this member.
    pub(super) fn coordinate(&mut self) -> Result<()> {
        let mut view = match self.member.clone() {
            None => self.join()?,
            Some(id) => match self.coordinator.heartbeat(&self.config.group_id, &id, true) {
                Err(Error::UnknownMember { .. }) => {
                    self.lose_partitions()?;
                    self.join()?
                }
                other => other?,
            },
        };
        let mut result = Ok(());
        for _ in 0..MAX_STEPS {
            self.version = view.version;
            if view.assigned_generation > self.generation {
                result = result.and(self.reconcile(&view));
            }
            if !view.rejoin_needed && !self.rejoin {
                break;
            }
            result = result.and(self.prepare_rejoin());
            view = self.join()?;
        }
        result
    }

    /// Picks up an assignment the group completed since the last poll,
    /// without rejoining: what `close` does before its final commit, so a
    /// cooperative member's positions are committed with the generation
    /// that lets them in.
    pub(super) fn catch_up(&mut self) -> Result<()> {
        let Some(id) = self.member.clone() else {
            return Ok(());
        };
        match self.coordinator.heartbeat(&self.config.group_id, &id, true) {
            Err(Error::UnknownMember { .. }) => self.lose_partitions(),
            Err(e) => Err(e),
            Ok(view) if view.assigned_generation > self.generation => self.reconcile(&view),
            Ok(_) => Ok(()),
        }
    }

    /// Joins (or rejoins) the group; an evicted member loses its partitions
    /// and joins as a new one.
    fn join(&mut self) -> Result<MemberView> {
        let request = JoinRequest {
            client_id: self.client_id.clone(),
            topics: self.subscription.clone(),
            protocols: self.config.partition_assignment_strategy.clone(),
            session_timeout_ms: ms(self.config.session_timeout_ms),
            max_poll_interval_ms: ms(self.config.max_poll_interval_ms),
            owned: match self.protocol {
                RebalanceProtocol::Cooperative => self.owned.clone(),
                RebalanceProtocol::Eager => Vec::new(),
            },
        };
        let group = self.config.group_id.clone();
        match self
            .coordinator
            .join_group(&group, self.member.as_deref(), &request)
        {
            Err(Error::UnknownMember { .. }) if self.member.is_some() => {
                self.lose_partitions()?;
                self.join()
            }
            Err(e) => Err(e),
            Ok(view) => {
                self.member = Some(view.member_id.clone());
                self.rejoin = false;
                Ok(view)
            }
        }
    }

    /// Kafka's `onJoinPrepare`: auto-commit, and with the eager protocol
    /// revoke everything.
    fn prepare_rejoin(&mut self) -> Result<()> {
        let owned = self.owned.clone();
        let committed = if self.config.enable_auto_commit {
            self.commit_quietly(&owned)
        } else {
            Ok(())
        };
        if self.protocol == RebalanceProtocol::Cooperative || self.generation < 0 {
            return committed;
        }
        let revoked = self.invoke(Callback::Revoked, &owned);
        self.set_owned(Vec::new())?;
        committed.and(revoked)
    }

    /// Moves to the assignment of `view`: revokes what is no longer ours
    /// (commit, callback; the cooperative protocol then rejoins), then
    /// takes the new partitions (positions, callback).
    fn reconcile(&mut self, view: &MemberView) -> Result<()> {
        let target: BTreeSet<&TopicPartition> = view.assignment.iter().collect();
        let revoked: Vec<TopicPartition> = self
            .owned
            .iter()
            .filter(|tp| !target.contains(tp))
            .cloned()
            .collect();
        let added: Vec<TopicPartition> = view
            .assignment
            .iter()
            .filter(|tp| !self.owned.contains(tp))
            .cloned()
            .collect();
        self.generation = view.assigned_generation;
        let mut result = Ok(());
        if !revoked.is_empty() {
            if self.config.enable_auto_commit {
                result = self.commit_quietly(&revoked);
            }
            result = result.and(self.invoke(Callback::Revoked, &revoked));
            self.rejoin |= self.protocol == RebalanceProtocol::Cooperative;
        }
        self.set_owned(view.assignment.clone())?;
        self.start_positions(&added)?;
        result.and(self.invoke(Callback::Assigned, &added))
    }

    /// The member is no longer in the group: its partitions are lost (no
    /// commit), and it will join as a new member.
    pub(super) fn lose_partitions(&mut self) -> Result<()> {
        let owned = self.owned.clone();
        tracing::info!(group = %self.config.group_id, member = ?self.member,
            "member no longer in the group: its partitions are lost");
        self.member = None;
        self.generation = -1;
        let lost = if owned.is_empty() {
            Ok(())
        } else {
            self.invoke(Callback::Lost, &owned)
        };
        self.set_owned(Vec::new())?;
        lost
    }

    /// Revokes the owned partitions (callback) and leaves the group.
    pub(super) fn leave(&mut self) -> Result<()> {
        let owned = self.owned.clone();
        let revoked = if owned.is_empty() {
            Ok(())
        } else {
            self.invoke(Callback::Revoked, &owned)
        };
        self.set_owned(Vec::new())?;
        if let Some(id) = self.member.take() {
            match self.coordinator.leave_group(&self.config.group_id, &id) {
                Ok(()) | Err(Error::UnknownMember { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.generation = -1;
        revoked
    }

    /// Makes `owned` the partitions fetched; positions of partitions kept
    /// stay, others are forgotten.
    fn set_owned(&mut self, mut owned: Vec<TopicPartition>) -> Result<()> {
        owned.sort();
        owned.dedup();
        self.consumer.assign(&owned)?;
        self.owned = owned;
        Ok(())
    }

    /// Positions of newly assigned partitions: the committed offset, else
    /// `auto.offset.reset` now (with `none` the next fetch reports it).
    fn start_positions(&mut self, added: &[TopicPartition]) -> Result<()> {
        for (topic, partition) in added {
            match self.committed(topic, *partition) {
                Some(c) => self.consumer.seek(topic, *partition, c.offset)?,
                None if self.config.consumer.auto_offset_reset != AutoOffsetReset::None => {
                    self.consumer.position(topic, *partition)?;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Runs a callback of the listener with this consumer.
    fn invoke(&mut self, callback: Callback, partitions: &[TopicPartition]) -> Result<()> {
        let Some(mut listener) = self.listener.take() else {
            return Ok(());
        };
        self.in_callback = true;
        let result = call(listener.as_mut(), self, callback, partitions);
        self.in_callback = false;
        self.listener = Some(listener);
        result
    }

    /// The auto-commit of `poll`, when `auto.commit.interval.ms` has passed.
    pub(super) fn maybe_auto_commit(&mut self) -> Result<()> {
        if !self.config.enable_auto_commit {
            return Ok(());
        }
        let now = self.now();
        if now < self.next_auto_commit {
            return Ok(());
        }
        self.next_auto_commit = now.saturating_add(self.auto_commit_interval());
        let owned = self.owned.clone();
        self.commit_quietly(&owned)
    }

    /// Commits positions; fencing is logged, not returned (an auto-commit
    /// of a fenced member is expected to fail, as in Kafka).
    pub(super) fn commit_quietly(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        match self.commit_positions(partitions) {
            Err(
                e @ (Error::UnknownMember { .. }
                | Error::IllegalGeneration { .. }
                | Error::RebalanceInProgress { .. }),
            ) => {
                tracing::warn!(group = %self.config.group_id, error = %e, "offset auto-commit fenced");
                Ok(())
            }
            other => other,
        }
    }

    /// Commits the positions of `partitions` (those with a position).
    pub(super) fn commit_positions(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let mut positions = Vec::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            match self.consumer.position(topic, *partition) {
                Ok(offset) => positions.push((topic.as_str(), *partition, offset, None, "")),
                Err(Error::NoOffsetForPartition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if positions.is_empty() {
            return Ok(());
        }
        self.commit_entries(&positions)
    }

    /// Commits `entries` with this member's id and generation.
    pub(super) fn commit_entries(&mut self, entries: &[CommitEntry<'_>]) -> Result<()> {
        let member = self.member.clone().unwrap_or_default();
        self.coordinator
            .commit(&self.config.group_id, &member, self.generation, entries)
    }
}

fn call(
    listener: &mut dyn RebalanceListener,
    consumer: &mut GroupConsumer,
    callback: Callback,
    partitions: &[TopicPartition],
) -> Result<()> {
    match callback {
        Callback::Revoked => listener.on_partitions_revoked(consumer, partitions),
        Callback::Assigned => listener.on_partitions_assigned(consumer, partitions),
        Callback::Lost => listener.on_partitions_lost(consumer, partitions),
    }
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
