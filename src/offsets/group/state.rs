//! The coordinator's in-memory state of one group: its members, its
//! generation and the rebalance state machine (Kafka's classic group
//! protocol, with the assignment computed by the coordinator when the last
//! member has rejoined, so `CompletingRebalance` is never observed).
//!
//! * A rebalance starts (`PreparingRebalance`) when a member joins, leaves,
//!   is evicted, changes its subscription, or a subscribed topic's partition
//!   count changes. Every member must then rejoin.
//! * It completes once every member has rejoined, or at the rebalance
//!   deadline (the largest `max.poll.interval.ms` of the members), which
//!   evicts the members that did not rejoin. The generation is bumped and
//!   the chosen assignor computes the assignment: `Stable`, or `Empty`
//!   without members.
//! * A member is evicted when it has not heartbeated for its
//!   `session.timeout.ms` or not polled for its `max.poll.interval.ms`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::TopicPartition;
use super::assignor::{Assignor, Subscription};

/// The state of a consumer group, with Kafka's names.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members (the group may still have committed offsets).
    Empty,
    /// A rebalance is under way: members are rejoining.
    PreparingRebalance,
    /// Every member has its assignment for the current generation.
    Stable,
    /// The group does not exist (never known, or deleted).
    Dead,
}

impl GroupState {
    /// Kafka's name of the state (`Empty`, `PreparingRebalance`, `Stable`,
    /// `Dead`).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One member as the coordinator knows it.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub client_id: String,
    pub topics: BTreeSet<String>,
    /// Supported assignors, most preferred first.
    pub protocols: Vec<Assignor>,
    pub session_timeout_ms: i64,
    /// `max.poll.interval.ms`, also the rebalance timeout.
    pub max_poll_interval_ms: i64,
    pub last_heartbeat: i64,
    pub last_poll: i64,
    /// Rejoined the rebalance in progress.
    pub joined: bool,
    /// The partitions it reported owning when it (re)joined.
    pub owned: Vec<TopicPartition>,
    /// Its assignment of `assigned_generation`.
    pub assignment: Vec<TopicPartition>,
    /// The generation `assignment` belongs to (-1: none yet).
    pub assigned_generation: i32,
    /// The last generation whose assignment the member has picked up.
    pub synced_generation: i32,
}

impl Member {
    /// Whether the member's session or poll interval has run out at `now`.
    fn expired(&self, now: i64) -> bool {
        now - self.last_heartbeat >= self.session_timeout_ms
            || now - self.last_poll >= self.max_poll_interval_ms
    }
}

/// One group.
#[derive(Debug)]
pub(super) struct Group {
    pub state: GroupState,
    pub generation: i32,
    pub protocol: Option<Assignor>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// When a rebalance in progress gives up on members not rejoined.
    pub rebalance_deadline: i64,
    /// Bumped on every change; waiters watch it.
    pub version: u64,
    /// Since when the group has had no members.
    pub empty_since: Option<i64>,
    /// The partition counts the current assignment was computed with.
    pub partition_counts: BTreeMap<String, u32>,
}

impl Group {
    /// A new group without members.
    pub fn new(now: i64) -> Group {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            rebalance_deadline: 0,
            version: 0,
            empty_since: Some(now),
            partition_counts: BTreeMap::new(),
        }
    }

    /// The union of the members' subscriptions.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.topics.iter().cloned())
            .collect()
    }

    /// Starts a rebalance unless one is in progress: every member must
    /// rejoin before the deadline.
    pub fn prepare_rebalance(&mut self, now: i64, reason: &str) {
        self.version += 1;
        if self.state == GroupState::PreparingRebalance {
            return;
        }
        tracing::debug!(
            generation = self.generation,
            reason,
            "group rebalance starts"
        );
        self.state = GroupState::PreparingRebalance;
        let timeout = self
            .members
            .values()
            .map(|m| m.max_poll_interval_ms)
            .max()
            .unwrap_or(0);
        self.rebalance_deadline = now.saturating_add(timeout);
        for member in self.members.values_mut() {
            member.joined = false;
        }
    }

    /// Evicts the members whose session or poll interval ran out; starts a
    /// rebalance when any was. Returns the evicted member ids.
    pub fn evict_expired(&mut self, now: i64) -> Vec<String> {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.expired(now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            tracing::info!(member = %id, "member evicted: session.timeout.ms or max.poll.interval.ms ran out");
            self.members.remove(id);
        }
        if !expired.is_empty() {
            self.prepare_rebalance(now, "member evicted");
        }
        expired
    }

    /// Removes a member (leave or eviction) and starts a rebalance.
    pub fn remove_member(&mut self, member: &str, now: i64) -> bool {
        if self.members.remove(member).is_none() {
            return false;
        }
        self.prepare_rebalance(now, "member left");
        true
    }

    /// Whether the rebalance in progress can complete at `now`.
    pub fn rebalance_ready(&self, now: i64) -> bool {
        self.state == GroupState::PreparingRebalance
            && (self.members.values().all(|m| m.joined) || now >= self.rebalance_deadline)
    }

    /// Completes the rebalance in progress: drops members that did not
    /// rejoin, bumps the generation and assigns `partitions` (topic ->
    /// partition count of the subscribed topics).
    pub fn complete_rebalance(&mut self, now: i64, partitions: BTreeMap<String, u32>) {
        self.members.retain(|id, m| {
            if !m.joined {
                tracing::info!(member = %id, "member evicted: did not rejoin before the rebalance timeout");
            }
            m.joined
        });
        self.generation += 1;
        self.version += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            self.empty_since = Some(now);
            self.partition_counts = BTreeMap::new();
            return;
        }
        self.state = GroupState::Stable;
        self.empty_since = None;
        self.protocol = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.assign(&partitions);
        self.partition_counts = partitions;
    }

    /// Runs the chosen assignor and hands each member its share.
    fn assign(&mut self, partitions: &BTreeMap<String, u32>) {
        let subscriptions: Vec<Subscription> = self
            .members
            .iter()
            .map(|(id, m)| Subscription {
                member_id: id.clone(),
                topics: m.topics.clone(),
                owned: m.owned.clone(),
            })
            .collect();
        let assignor = self.protocol.unwrap_or(Assignor::Range);
        let mut assignment = assignor.assign(partitions, &subscriptions);
        for (id, member) in self.members.iter_mut() {
            member.assignment = assignment.remove(id).unwrap_or_default();
            member.assigned_generation = self.generation;
        }
    }

    /// Kafka's protocol selection: among the assignors every member
    /// supports, each member votes for the first in its own preference
    /// order; the most voted wins (ties: the leader's preference).
    pub fn select_protocol(&self) -> Option<Assignor> {
        let candidates = self.common_protocols();
        let mut votes: BTreeMap<Assignor, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(vote) = member.protocols.iter().find(|p| candidates.contains(p)) {
                *votes.entry(*vote).or_default() += 1;
            }
        }
        let most = votes.values().copied().max()?;
        let preference = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next())
            .map(|m| m.protocols.clone())
            .unwrap_or_default();
        preference
            .into_iter()
            .find(|p| votes.get(p) == Some(&most))
            .or_else(|| votes.iter().find(|(_, v)| **v == most).map(|(p, _)| *p))
    }

    /// The assignors every member supports.
    pub fn common_protocols(&self) -> BTreeSet<Assignor> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return BTreeSet::new();
        };
        let mut common: BTreeSet<Assignor> = first.protocols.iter().copied().collect();
        for m in members {
            common.retain(|p| m.protocols.contains(p));
        }
        common
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(protocols: &[Assignor]) -> Member {
        Member {
            client_id: "c".into(),
            topics: BTreeSet::from(["t".to_string()]),
            protocols: protocols.to_vec(),
            session_timeout_ms: 10,
            max_poll_interval_ms: 100,
            last_heartbeat: 0,
            last_poll: 0,
            joined: true,
            owned: Vec::new(),
            assignment: Vec::new(),
            assigned_generation: -1,
            synced_generation: -1,
        }
    }

    #[test]
    fn the_most_voted_common_protocol_wins() {
        use Assignor::*;
        let mut g = Group::new(0);
        g.members
            .insert("a".into(), member(&[RoundRobin, Range, CooperativeSticky]));
        g.members.insert("b".into(), member(&[Range, RoundRobin]));
        g.members.insert("c".into(), member(&[Range, RoundRobin]));
        assert_eq!(g.select_protocol(), Some(Range));
        g.members.remove("c");
        // One vote each: the leader's (first member's) preference decides.
        assert_eq!(g.select_protocol(), Some(RoundRobin));
    }

    #[test]
    fn rebalance_completes_when_all_rejoined_or_at_the_deadline() {
        let mut g = Group::new(0);
        g.members.insert("a".into(), member(&[Assignor::Range]));
        g.members.insert("b".into(), member(&[Assignor::Range]));
        g.prepare_rebalance(0, "test");
        assert!(!g.rebalance_ready(5));
        g.members.get_mut("a").unwrap().joined = true;
        assert!(!g.rebalance_ready(99));
        assert!(g.rebalance_ready(100));
        g.complete_rebalance(100, BTreeMap::from([("t".to_string(), 2)]));
        assert_eq!(g.members.len(), 1);
        assert_eq!((g.state, g.generation), (GroupState::Stable, 1));
        assert_eq!(g.members["a"].assignment.len(), 2);
    }

    #[test]
    fn expired_members_are_evicted() {
        let mut g = Group::new(0);
        g.members.insert("a".into(), member(&[Assignor::Range]));
        assert!(g.evict_expired(9).is_empty());
        assert_eq!(g.evict_expired(10), vec!["a".to_string()]);
        assert_eq!(g.state, GroupState::PreparingRebalance);
    }
}
