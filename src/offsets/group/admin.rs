//! The admin side of the [`GroupCoordinator`], as `kafka-consumer-groups`
//! offers it: describe a group with its lag, list groups, delete a group,
//! reset a group's offsets, and expire the offsets of empty groups.

use std::collections::{BTreeMap, BTreeSet};

use super::TopicPartition;
use super::assignor::Assignor;
use super::coordinator::GroupCoordinator;
use super::state::{Group, GroupState};
use crate::error::{Error, Result};
use crate::partition::Partition;

/// A group as `kafka-consumer-groups --describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group: String,
    /// Its state ([`GroupState::Dead`] for a group that does not exist).
    pub state: GroupState,
    /// Its current generation (0 when the coordinator never saw a member).
    pub generation: i32,
    /// The assignor of the current generation.
    pub protocol: Option<Assignor>,
    /// The member the coordinator regards as leader.
    pub leader: Option<String>,
    /// The members, sorted by member id.
    pub members: Vec<MemberDescription>,
    /// Every partition the group owns or has an offset for, sorted.
    pub offsets: Vec<PartitionLag>,
}

/// One member of a [`GroupDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// The member's `client.id`.
    pub client_id: String,
    /// The subscribed topics, sorted.
    pub topics: Vec<String>,
    /// The member's assignment (of the last completed generation), sorted.
    pub assignment: Vec<TopicPartition>,
}

/// One partition line of `kafka-consumer-groups --describe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The committed offset (CURRENT-OFFSET), if any.
    pub committed: Option<i64>,
    /// The partition's log end offset (LOG-END-OFFSET); `None` when the
    /// partition no longer exists.
    pub log_end_offset: Option<i64>,
    /// `log_end_offset - committed` (LAG), when both are known.
    pub lag: Option<i64>,
    /// The member the partition is assigned to (CONSUMER-ID), if any.
    pub owner: Option<String>,
}

/// One line of [`GroupCoordinator::list_groups`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group: String,
    /// Its state.
    pub state: GroupState,
    /// How many members it has.
    pub members: usize,
}

/// Where [`GroupCoordinator::reset_offsets`] moves a group's offsets (the
/// `--to-earliest`, `--to-latest`, `--to-offset`, `--to-datetime` options
/// of `kafka-consumer-groups --reset-offsets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The log start offset of each partition.
    Earliest,
    /// The log end offset of each partition.
    Latest,
    /// This offset, clamped into `[log start, log end]` per partition.
    Offset(i64),
    /// The first offset whose record timestamp is at least this (ms), or
    /// the log end when every record is older.
    Timestamp(i64),
}

impl GroupCoordinator {
    /// Describes `group` like `kafka-consumer-groups --describe`: state,
    /// generation, assignor, members with their assignments, and for every
    /// partition owned or committed: committed offset, log end offset, lag
    /// and owner. A group the coordinator does not know but which has
    /// committed offsets is `Empty`; one with neither is `Dead`.
    pub fn describe(&self, group: &str) -> GroupDescription {
        let mut description = match self.existing_slot(group) {
            Some(slot) => self.with_group(&slot, |g, _| describe_members(group, g)),
            None => GroupDescription {
                group: group.to_string(),
                state: GroupState::Dead,
                generation: 0,
                protocol: None,
                leader: None,
                members: Vec::new(),
                offsets: Vec::new(),
            },
        };
        description.offsets = self.partition_lags(group, &description.members);
        if description.state == GroupState::Dead && !description.offsets.is_empty() {
            description.state = GroupState::Empty;
        }
        description
    }

    /// Every group known to the coordinator or with committed offsets,
    /// sorted by group id.
    pub fn list_groups(&self) -> Vec<GroupListing> {
        let mut listing: BTreeMap<String, GroupListing> = self
            .inner
            .offsets
            .groups()
            .into_iter()
            .map(|group| {
                let line = GroupListing {
                    group: group.clone(),
                    state: GroupState::Empty,
                    members: 0,
                };
                (group, line)
            })
            .collect();
        let slots: Vec<_> = self
            .inner
            .groups
            .read()
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        for (group, slot) in slots {
            let (state, members) = self.with_group(&slot, |g, _| (g.state, g.members.len()));
            if state != GroupState::Dead {
                let line = GroupListing {
                    group: group.clone(),
                    state,
                    members,
                };
                listing.insert(group, line);
            }
        }
        listing.into_values().collect()
    }

    /// Deletes `group` and its committed offsets, as
    /// `kafka-consumer-groups --delete`. Returns how many offsets were
    /// deleted (0 for a group that does not exist).
    ///
    /// # Errors
    /// [`Error::GroupNotEmpty`] while the group has members; I/O errors of
    /// the offset store (the group is kept then).
    pub fn delete_group(&self, group: &str) -> Result<usize> {
        let mut groups = self.inner.groups.write();
        let Some(slot) = groups.get(group).cloned() else {
            return self.inner.offsets.delete_group(group);
        };
        let deleted = self.with_group(&slot, |g, _| {
            check_inactive(group, g)?;
            let deleted = self.inner.offsets.delete_group(group)?;
            g.state = GroupState::Dead;
            g.version += 1;
            Ok::<_, Error>(deleted)
        })?;
        groups.remove(group);
        Ok(deleted)
    }

    /// Resets the committed offsets of `group` on every partition of
    /// `topic`, as `kafka-consumer-groups --reset-offsets --execute`, in one
    /// commit. Returns the new offset of each partition.
    ///
    /// # Errors
    /// [`Error::UnknownTopic`]; [`Error::GroupNotEmpty`] while the group
    /// has members (Kafka's tool needs an inactive group); errors of the
    /// timestamp lookup and of the commit.
    pub fn reset_offsets(
        &self,
        group: &str,
        topic: &str,
        to: OffsetReset,
    ) -> Result<Vec<(u32, i64)>> {
        if !self.inner.store.topic_names().iter().any(|t| t == topic) {
            return Err(Error::UnknownTopic(topic.to_string()));
        }
        let partitions = self.inner.store.topic(topic)?.partitions();
        let targets = partitions
            .iter()
            .map(|p| Ok((p.partition(), reset_target(p, to)?)))
            .collect::<Result<Vec<(u32, i64)>>>()?;
        let entries: Vec<_> = targets
            .iter()
            .map(|&(p, offset)| (topic, p, offset, None, ""))
            .collect();
        loop {
            let slot = self.live_slot(group);
            let done = self.with_group(&slot, |g, _| {
                if g.state == GroupState::Dead {
                    return None;
                }
                Some(
                    check_inactive(group, g)
                        .and_then(|()| self.inner.offsets.commit(group, &entries)),
                )
            });
            if let Some(result) = done {
                return result.map(|()| targets);
            }
        }
    }

    /// Kafka's offset expiry for empty groups: deletes the offsets of every
    /// group that has had no members for `offsets.retention.minutes` and
    /// whose offsets were committed at least that long ago (a group this
    /// coordinator never saw counts as empty since forever), then forgets
    /// empty groups left without offsets. Returns how many offsets expired.
    /// For the store's maintenance loop or the application to call.
    ///
    /// # Errors
    /// I/O errors of the offset store.
    pub fn expire_offsets(&self) -> Result<usize> {
        let now = self.now();
        let retention = self.inner.offsets.config().retention_ms;
        let expired = self.inner.offsets.expire(now, |group| {
            self.existing_slot(group).is_none_or(|slot| {
                let g = slot.group.lock();
                g.members.is_empty() && g.empty_since.is_none_or(|t| now - t >= retention)
            })
        })?;
        let with_offsets: BTreeSet<String> = self.inner.offsets.groups().into_iter().collect();
        self.inner.groups.write().retain(|name, slot| {
            let mut g = slot.group.lock();
            let forget = g.members.is_empty() && !with_offsets.contains(name);
            if forget {
                g.state = GroupState::Dead;
                g.version += 1;
                slot.changed.notify_all();
            }
            !forget
        });
        Ok(expired)
    }

    /// The lag lines of `group`: owned partitions and committed ones.
    fn partition_lags(&self, group: &str, members: &[MemberDescription]) -> Vec<PartitionLag> {
        let mut lines: BTreeMap<TopicPartition, PartitionLag> = BTreeMap::new();
        for ((topic, partition), committed) in self.inner.offsets.group_offsets(group) {
            let line = self.lag_line(&topic, partition, Some(committed.offset));
            lines.insert((topic, partition), line);
        }
        for member in members {
            for (topic, partition) in &member.assignment {
                let key = (topic.clone(), *partition);
                let line = lines
                    .entry(key)
                    .or_insert_with(|| self.lag_line(topic, *partition, None));
                line.owner = Some(member.member_id.clone());
            }
        }
        lines.into_values().collect()
    }

    /// A lag line without owner.
    fn lag_line(&self, topic: &str, partition: u32, committed: Option<i64>) -> PartitionLag {
        let store = &self.inner.store;
        let log_end_offset = store
            .topic_names()
            .iter()
            .any(|t| t == topic)
            .then(|| store.topic(topic).ok()?.partition(partition).ok())
            .flatten()
            .map(|p| p.log_end_offset());
        PartitionLag {
            topic: topic.to_string(),
            partition,
            committed,
            log_end_offset,
            lag: log_end_offset.zip(committed).map(|(end, c)| end - c),
            owner: None,
        }
    }
}

/// The members part of a description.
fn describe_members(group: &str, g: &Group) -> GroupDescription {
    GroupDescription {
        group: group.to_string(),
        state: g.state,
        generation: g.generation,
        protocol: g.protocol,
        leader: g.leader.clone(),
        members: g
            .members
            .iter()
            .map(|(id, m)| MemberDescription {
                member_id: id.clone(),
                client_id: m.client_id.clone(),
                topics: m.topics.iter().cloned().collect(),
                assignment: m.assignment.clone(),
            })
            .collect(),
        offsets: Vec::new(),
    }
}

fn check_inactive(group: &str, g: &Group) -> Result<()> {
    if g.members.is_empty() {
        Ok(())
    } else {
        Err(Error::GroupNotEmpty {
            group: group.to_string(),
            members: g.members.len(),
        })
    }
}

/// The offset `to` means on `partition`.
fn reset_target(partition: &Partition, to: OffsetReset) -> Result<i64> {
    let (start, end) = (partition.log_start_offset(), partition.log_end_offset());
    Ok(match to {
        OffsetReset::Earliest => start,
        OffsetReset::Latest => end,
        OffsetReset::Offset(n) => n.clamp(start, end),
        OffsetReset::Timestamp(ts) => partition
            .offset_for_timestamp(ts)?
            .map_or(end, |(offset, _)| offset),
    })
}
