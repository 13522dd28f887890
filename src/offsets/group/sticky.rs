//! The sticky assignors: a balanced assignment that keeps as many current
//! owners as possible, and its cooperative form (KIP-429), which never hands
//! a partition straight from one member to another.
//!
//! The algorithm, in three steps:
//! 1. every member keeps the partitions it owns that still exist, that it
//!    still subscribes to and that no member earlier in member-id order
//!    claimed;
//! 2. each remaining partition goes to the least loaded member subscribed
//!    to its topic (ties broken by member id);
//! 3. while some member holds two partitions more than another member
//!    that could take one of them, the most loaded member gives one (its
//!    highest) to the least loaded one. Each move shrinks the sum of
//!    squared loads, so this ends; with equal subscriptions it ends with
//!    loads within one of each other after moving exactly the excess of the
//!    overloaded members, which is the fewest moves any balanced
//!    assignment needs.

use std::collections::{BTreeMap, BTreeSet};

use super::TopicPartition;
use super::assignor::{Assignment, Subscription, sorted};

/// Kafka's `StickyAssignor`.
pub(super) fn sticky(partitions: &BTreeMap<String, u32>, members: &[Subscription]) -> Assignment {
    let members = sorted(members);
    let mut loads: BTreeMap<&str, BTreeSet<TopicPartition>> = members
        .iter()
        .map(|m| (m.member_id.as_str(), BTreeSet::new()))
        .collect();
    let claimed = keep_owned(partitions, &members, &mut loads);
    assign_free(partitions, &members, &claimed, &mut loads);
    balance(&members, &mut loads);
    loads
        .into_iter()
        .map(|(m, set)| (m.to_string(), set.into_iter().collect()))
        .collect()
}

/// Kafka's `CooperativeStickyAssignor`: the sticky assignment minus every
/// partition whose current owner is another member. Such a partition is
/// revoked from its owner in this generation and assigned in the next one.
pub(super) fn cooperative_sticky(
    partitions: &BTreeMap<String, u32>,
    members: &[Subscription],
) -> Assignment {
    let mut owner: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
    for m in sorted(members) {
        for tp in &m.owned {
            owner.entry(tp).or_insert(m.member_id.as_str());
        }
    }
    let mut assignment = sticky(partitions, members);
    for (member, list) in assignment.iter_mut() {
        list.retain(|tp| owner.get(tp).is_none_or(|o| *o == member.as_str()));
    }
    assignment
}

/// Whether `tp` exists and `member` subscribes to its topic.
fn eligible(
    partitions: &BTreeMap<String, u32>,
    member: &Subscription,
    tp: &TopicPartition,
) -> bool {
    member.topics.contains(&tp.0) && partitions.get(&tp.0).is_some_and(|&n| tp.1 < n)
}

/// Step 1: the owned partitions each member keeps. Returns all claimed.
fn keep_owned<'a>(
    partitions: &BTreeMap<String, u32>,
    members: &[&'a Subscription],
    loads: &mut BTreeMap<&'a str, BTreeSet<TopicPartition>>,
) -> BTreeSet<TopicPartition> {
    let mut claimed = BTreeSet::new();
    for m in members {
        for tp in &m.owned {
            if eligible(partitions, m, tp) && claimed.insert(tp.clone()) {
                loads.entry(&m.member_id).or_default().insert(tp.clone());
            }
        }
    }
    claimed
}

/// Step 2: every unclaimed partition to the least loaded eligible member.
fn assign_free<'a>(
    partitions: &BTreeMap<String, u32>,
    members: &[&'a Subscription],
    claimed: &BTreeSet<TopicPartition>,
    loads: &mut BTreeMap<&'a str, BTreeSet<TopicPartition>>,
) {
    for (topic, &count) in partitions {
        for partition in 0..count {
            let tp = (topic.clone(), partition);
            if claimed.contains(&tp) {
                continue;
            }
            let target = members
                .iter()
                .filter(|m| m.topics.contains(topic))
                .min_by_key(|m| {
                    (
                        loads.get(m.member_id.as_str()).map_or(0, BTreeSet::len),
                        &m.member_id,
                    )
                });
            if let Some(m) = target {
                loads.entry(&m.member_id).or_default().insert(tp);
            }
        }
    }
}

/// Step 3: move partitions from the most to the least loaded members
/// until no move can reduce the imbalance.
fn balance<'a>(
    members: &[&'a Subscription],
    loads: &mut BTreeMap<&'a str, BTreeSet<TopicPartition>>,
) {
    while let Some((from, to, tp)) = next_move(members, loads) {
        if let Some(set) = loads.get_mut(from) {
            set.remove(&tp);
        }
        loads.entry(to).or_default().insert(tp);
    }
}

/// The best single move, if one reduces the imbalance: from the most loaded
/// member that has a partition a less loaded member (by two or more) can
/// take, to the least loaded such member.
fn next_move<'a>(
    members: &[&'a Subscription],
    loads: &BTreeMap<&'a str, BTreeSet<TopicPartition>>,
) -> Option<(&'a str, &'a str, TopicPartition)> {
    let load = |m: &Subscription| loads.get(m.member_id.as_str()).map_or(0, BTreeSet::len);
    let mut by_load: Vec<&&Subscription> = members.iter().collect();
    by_load.sort_by(|a, b| load(b).cmp(&load(a)).then(a.member_id.cmp(&b.member_id)));
    for from in &by_load {
        let takers = by_load
            .iter()
            .rev()
            .take_while(|to| load(to) + 1 < load(from));
        for to in takers {
            let held = loads.get(from.member_id.as_str())?;
            if let Some(tp) = held.iter().rev().find(|tp| to.topics.contains(&tp.0)) {
                return Some((&from.member_id, &to.member_id, tp.clone()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, owned: &[u32]) -> Subscription {
        Subscription {
            member_id: id.into(),
            topics: BTreeSet::from(["t".to_string()]),
            owned: owned.iter().map(|&p| ("t".to_string(), p)).collect(),
        }
    }

    fn parts(a: &Assignment, m: &str) -> Vec<u32> {
        a[m].iter().map(|tp| tp.1).collect()
    }

    #[test]
    fn a_new_member_takes_only_the_excess() {
        let counts = BTreeMap::from([("t".to_string(), 8)]);
        let members = [
            member("a", &[0, 1, 2, 3]),
            member("b", &[4, 5, 6, 7]),
            member("c", &[]),
        ];
        let a = sticky(&counts, &members);
        assert_eq!(parts(&a, "a"), vec![0, 1, 2]);
        assert_eq!(parts(&a, "b"), vec![4, 5, 6]);
        assert_eq!(parts(&a, "c"), vec![3, 7]);
        // Cooperatively, the moving partitions wait one generation.
        let a = cooperative_sticky(&counts, &members);
        assert_eq!(parts(&a, "a"), vec![0, 1, 2]);
        assert!(a["c"].is_empty());
    }

    #[test]
    fn balanced_ownership_is_kept_as_is() {
        let counts = BTreeMap::from([("t".to_string(), 5)]);
        let members = [member("a", &[4, 0]), member("b", &[1, 2, 3])];
        let a = cooperative_sticky(&counts, &members);
        assert_eq!(parts(&a, "a"), vec![0, 4]);
        assert_eq!(parts(&a, "b"), vec![1, 2, 3]);
    }

    #[test]
    fn partitions_claimed_twice_stay_with_one_member() {
        let counts = BTreeMap::from([("t".to_string(), 2)]);
        let members = [member("a", &[0]), member("b", &[0, 1])];
        let a = sticky(&counts, &members);
        assert_eq!(parts(&a, "a"), vec![0]);
        assert_eq!(parts(&a, "b"), vec![1]);
    }
}
