//! Partition assignors, as Kafka's consumer ships them: `range`,
//! `roundrobin`, `sticky` and `cooperative-sticky`.
//!
//! An assignor is a pure function from the members' subscriptions (member
//! id, subscribed topics, partitions currently owned) and the partition
//! counts of the subscribed topics to one assignment per member. Members
//! only ever get partitions of topics they subscribe to, and no partition
//! goes to two members.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::TopicPartition;
use super::sticky;
use crate::error::{Error, Result};

/// One member's subscription, as the assignor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The member id (assignors order members by it).
    pub member_id: String,
    /// The subscribed topics.
    pub topics: BTreeSet<String>,
    /// The partitions the member owns now (reported by cooperative members
    /// when they join; eager members revoke everything first and report
    /// nothing).
    pub owned: Vec<TopicPartition>,
}

/// The assignment of each member, by member id; every member of the input
/// has an entry, partitions sorted.
pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// Which rebalance protocol a consumer follows (Kafka's
/// `RebalanceProtocol`): eager members give up every partition before
/// rejoining; cooperative ones (KIP-429) keep consuming what they own and
/// give up only what the new assignment takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RebalanceProtocol {
    /// Revoke everything at the start of each rebalance.
    Eager,
    /// Revoke only the partitions that move, then rejoin so they can be
    /// assigned to their new owners in the next generation.
    Cooperative,
}

/// A partition assignment strategy (`partition.assignment.strategy`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Assignor {
    /// Kafka's `RangeAssignor` (`range`): per topic, the partitions in
    /// order are cut into contiguous ranges over the subscribed members
    /// sorted by member id; the first `partitions % members` members get
    /// one more.
    Range,
    /// Kafka's `RoundRobinAssignor` (`roundrobin`): every subscribed
    /// partition, sorted by topic then partition, dealt in turn over the
    /// members sorted by member id (skipping members not subscribed to the
    /// partition's topic).
    RoundRobin,
    /// Kafka's `StickyAssignor` (`sticky`): balanced, keeping as many
    /// current owners as possible; eager protocol.
    Sticky,
    /// Kafka's `CooperativeStickyAssignor` (`cooperative-sticky`): the
    /// sticky assignment, except that a partition changing owner is left
    /// unassigned for one generation, so its previous owner revokes it
    /// before the new owner gets it (KIP-429).
    CooperativeSticky,
}

impl Assignor {
    /// Every assignor, in Kafka's default preference (`range`,
    /// `cooperative-sticky`) followed by the others.
    pub const ALL: [Assignor; 4] = [
        Assignor::Range,
        Assignor::CooperativeSticky,
        Assignor::RoundRobin,
        Assignor::Sticky,
    ];

    /// The protocol name the group agrees on (`range`, `roundrobin`,
    /// `sticky`, `cooperative-sticky`).
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The Java class name Kafka configures it with.
    pub fn class_name(self) -> &'static str {
        match self {
            Assignor::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
            Assignor::RoundRobin => "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            Assignor::Sticky => "org.apache.kafka.clients.consumer.StickyAssignor",
            Assignor::CooperativeSticky => {
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
            }
        }
    }

    /// Parses a protocol name or a Java class name (with or without the
    /// package, as `partition.assignment.strategy` accepts it).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an unknown assignor.
    pub fn from_name(name: &str) -> Result<Assignor> {
        let name = name.trim();
        let short = name.rsplit('.').next().unwrap_or(name);
        Assignor::ALL
            .into_iter()
            .find(|a| {
                a.name() == name
                    || a.class_name() == name
                    || a.class_name().ends_with(&format!(".{short}"))
            })
            .ok_or_else(|| Error::InvalidConfig {
                key: "partition.assignment.strategy".into(),
                value: name.into(),
                reason: "expected range, roundrobin, sticky or cooperative-sticky".into(),
            })
    }

    /// The rebalance protocols the assignor supports.
    pub fn supports(self, protocol: RebalanceProtocol) -> bool {
        protocol == RebalanceProtocol::Eager || self == Assignor::CooperativeSticky
    }

    /// Assigns the partitions of the subscribed topics (`partitions`: topic
    /// -> partition count; topics missing from it have no partitions) to
    /// `members`.
    pub fn assign(
        self,
        partitions: &BTreeMap<String, u32>,
        members: &[Subscription],
    ) -> Assignment {
        match self {
            Assignor::Range => range(partitions, members),
            Assignor::RoundRobin => round_robin(partitions, members),
            Assignor::Sticky => sticky::sticky(partitions, members),
            Assignor::CooperativeSticky => sticky::cooperative_sticky(partitions, members),
        }
    }
}

impl fmt::Display for Assignor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rebalance protocol of a consumer configured with `assignors`: the
/// cooperative protocol when every one of them supports it (Kafka's rule),
/// else eager.
pub fn rebalance_protocol(assignors: &[Assignor]) -> RebalanceProtocol {
    let cooperative = !assignors.is_empty()
        && assignors
            .iter()
            .all(|a| a.supports(RebalanceProtocol::Cooperative));
    if cooperative {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

/// An empty assignment for every member.
pub(super) fn empty_assignment(members: &[Subscription]) -> Assignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// The members sorted by member id.
pub(super) fn sorted(members: &[Subscription]) -> Vec<&Subscription> {
    let mut sorted: Vec<&Subscription> = members.iter().collect();
    sorted.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    sorted
}

/// Kafka's `RangeAssignor`.
fn range(partitions: &BTreeMap<String, u32>, members: &[Subscription]) -> Assignment {
    let mut assignment = empty_assignment(members);
    let members = sorted(members);
    for (topic, &count) in partitions {
        let consumers: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .map(|m| m.member_id.as_str())
            .collect();
        if consumers.is_empty() {
            continue;
        }
        let n = consumers.len() as u32;
        let (per, extra) = (count / n, count % n);
        for (i, member) in (0u32..).zip(consumers) {
            let start = i * per + i.min(extra);
            let len = per + u32::from(i < extra);
            if let Some(list) = assignment.get_mut(member) {
                list.extend((start..start + len).map(|p| (topic.clone(), p)));
            }
        }
    }
    assignment
}

/// Kafka's `RoundRobinAssignor`.
fn round_robin(partitions: &BTreeMap<String, u32>, members: &[Subscription]) -> Assignment {
    let mut assignment = empty_assignment(members);
    let members = sorted(members);
    if members.is_empty() {
        return assignment;
    }
    let mut next = 0usize;
    for (topic, &count) in partitions {
        if !members.iter().any(|m| m.topics.contains(topic)) {
            continue;
        }
        for partition in 0..count {
            while !members[next % members.len()].topics.contains(topic) {
                next += 1;
            }
            let member = &members[next % members.len()].member_id;
            next += 1;
            if let Some(list) = assignment.get_mut(member) {
                list.push((topic.clone(), partition));
            }
        }
    }
    for list in assignment.values_mut() {
        list.sort();
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> Subscription {
        Subscription {
            member_id: id.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned: Vec::new(),
        }
    }

    #[test]
    fn names_parse_both_ways() {
        for a in Assignor::ALL {
            assert_eq!(Assignor::from_name(a.name()).unwrap(), a);
            assert_eq!(Assignor::from_name(a.class_name()).unwrap(), a);
        }
        assert_eq!(
            Assignor::from_name("RoundRobinAssignor").unwrap(),
            Assignor::RoundRobin
        );
        assert!(Assignor::from_name("fair").is_err());
    }

    #[test]
    fn range_gives_the_first_members_the_extra_partitions() {
        let parts = BTreeMap::from([("t".to_string(), 8)]);
        let members = [
            member("c", &["t"]),
            member("a", &["t"]),
            member("b", &["t"]),
        ];
        let a = range(&parts, &members);
        let counts: Vec<usize> = a.values().map(Vec::len).collect();
        assert_eq!(counts, vec![3, 3, 2]);
        assert_eq!(a["a"][0], ("t".to_string(), 0));
        assert_eq!(a["c"], vec![("t".to_string(), 6), ("t".to_string(), 7)]);
    }

    #[test]
    fn round_robin_skips_members_not_subscribed() {
        let parts = BTreeMap::from([("t0".to_string(), 1), ("t1".to_string(), 2)]);
        let members = [member("a", &["t0"]), member("b", &["t0", "t1"])];
        let a = round_robin(&parts, &members);
        assert_eq!(a["a"], vec![("t0".to_string(), 0)]);
        assert_eq!(a["b"], vec![("t1".to_string(), 0), ("t1".to_string(), 1)]);
    }

    #[test]
    fn protocol_is_cooperative_only_when_every_assignor_supports_it() {
        use RebalanceProtocol::*;
        assert_eq!(
            rebalance_protocol(&[Assignor::CooperativeSticky]),
            Cooperative
        );
        assert_eq!(
            rebalance_protocol(&[Assignor::Range, Assignor::CooperativeSticky]),
            Eager
        );
    }
}
