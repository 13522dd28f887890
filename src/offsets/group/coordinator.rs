//! [`GroupCoordinator`]: Kafka's group coordinator inside the process.
//!
//! Groups live in memory (one [`Group`] behind a mutex and a condition
//! variable each); offsets live in the [`OffsetStore`]. Time-based rules
//! (session timeout, `max.poll.interval.ms`, the rebalance deadline) read
//! the store's injected clock and are applied lazily, by every call that
//! touches a group, and by [`GroupCoordinator::check_timeouts`].
//!
//! Lock order: the group map, then one group's mutex, then the offset
//! store's locks (a fenced commit is checked and written under the group's
//! mutex, as Kafka's coordinator does under its group lock).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use super::TopicPartition;
use super::assignor::Assignor;
use super::state::{Group, GroupState, Member};
use crate::error::{Error, Result};
use crate::offsets::{CommitEntry, OffsetStore};
use crate::store::Store;

/// What a member sends when it joins or rejoins a group (Kafka's
/// JoinGroup request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The member's `client.id` (member ids start with it).
    pub client_id: String,
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// The assignors the member supports, most preferred first
    /// (`partition.assignment.strategy`); at least one.
    pub protocols: Vec<Assignor>,
    /// `session.timeout.ms`.
    pub session_timeout_ms: i64,
    /// `max.poll.interval.ms`, also the member's rebalance timeout.
    pub max_poll_interval_ms: i64,
    /// The partitions the member owns (cooperative members; eager members
    /// revoke everything before rejoining and send nothing).
    pub owned: Vec<TopicPartition>,
}

/// What the coordinator tells a member about itself and its group (the
/// answers of Kafka's JoinGroup, SyncGroup and Heartbeat in one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// The member id.
    pub member_id: String,
    /// The group's state.
    pub state: GroupState,
    /// The group's current generation.
    pub generation: i32,
    /// The assignor chosen for the current generation.
    pub protocol: Option<Assignor>,
    /// The member's assignment of `assigned_generation`, sorted.
    pub assignment: Vec<TopicPartition>,
    /// The generation of `assignment`; -1 before the member's first one.
    pub assigned_generation: i32,
    /// A rebalance is in progress and the member has not rejoined it yet.
    pub rejoin_needed: bool,
    /// The group's change counter, for [`GroupCoordinator::wait_for_change`].
    pub version: u64,
}

/// One group's state and the condition variable its waiters sleep on.
#[derive(Debug)]
pub(super) struct Slot {
    pub group: Mutex<Group>,
    pub changed: Condvar,
}

/// Kafka's group coordinator for the consumer groups of one [`Store`],
/// inside the process: membership, generations, rebalances with the
/// `range`, `roundrobin`, `sticky` and `cooperative-sticky` assignors,
/// session and poll timeouts, fenced offset commits, and the admin side
/// (describe with lag, list, delete, reset offsets, offset expiry).
///
/// Groups are kept in memory; committed offsets in the [`OffsetStore`]
/// (`__consumer_offsets`), so they survive a restart while memberships do
/// not, as with a broker restart. Cheap to clone, `Send + Sync`; create one
/// per store and share it between the
/// [`GroupConsumer`](super::GroupConsumer)s of every thread.
///
/// ```
/// use std::time::Duration;
/// use seglog::Store;
/// use seglog::client::{Producer, ProducerConfig, ProducerRecord};
/// use seglog::config::{StoreConfig, TopicConfig};
/// use seglog::offsets::{OffsetStore, OffsetStoreConfig};
/// use seglog::offsets::group::{GroupConsumer, GroupConsumerConfig, GroupCoordinator, GroupState, NoopListener};
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreConfig::default())?;
/// store.create_topic("orders", 2, TopicConfig::default())?;
/// let producer = Producer::new(&store, ProducerConfig::default())?;
/// for n in 0..4 {
///     producer.send(ProducerRecord::new("orders", format!("order {n}")).with_partition(n % 2))?;
/// }
/// producer.flush();
///
/// let offsets = OffsetStore::open(&store, OffsetStoreConfig::default())?;
/// let coordinator = GroupCoordinator::new(&store, offsets);
/// let config = GroupConsumerConfig::new("billing").set_str("auto.offset.reset", "earliest")?;
/// let mut consumer = GroupConsumer::new(&coordinator, config)?;
/// consumer.subscribe(&["orders"], NoopListener)?;
/// let records = consumer.poll(Duration::from_secs(1))?;
/// assert_eq!(records.len(), 4);
/// consumer.commit_sync()?;
///
/// let group = coordinator.describe("billing");
/// assert_eq!((group.state, group.generation), (GroupState::Stable, 1));
/// assert!(group.offsets.iter().all(|p| p.lag == Some(0)));
/// consumer.close()?;
/// assert_eq!(coordinator.describe("billing").state, GroupState::Empty);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub store: Store,
    pub offsets: OffsetStore,
    pub groups: RwLock<BTreeMap<String, Arc<Slot>>>,
    next_member: AtomicU64,
}

impl GroupCoordinator {
    /// A coordinator for the groups of `store`, keeping their offsets in
    /// `offsets` (opened over the same store).
    pub fn new(store: &Store, offsets: OffsetStore) -> GroupCoordinator {
        GroupCoordinator {
            inner: Arc::new(Inner {
                store: store.clone(),
                offsets,
                groups: RwLock::new(BTreeMap::new()),
                next_member: AtomicU64::new(1),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The offset store the committed offsets live in.
    pub fn offsets(&self) -> &OffsetStore {
        &self.inner.offsets
    }

    /// The store clock's time, in ms.
    pub(super) fn now(&self) -> i64 {
        self.inner.store.config().clock.now_ms()
    }

    /// Joins (`member_id` `None`: a new member gets an id) or rejoins
    /// `group`. Starts a rebalance unless one is in progress, and completes
    /// it when this was the last member to rejoin. Kafka's JoinGroup,
    /// without the wait: the returned view carries the new assignment when
    /// the rebalance completed; otherwise poll [`heartbeat`] (or wait with
    /// [`wait_for_change`]) until it does.
    ///
    /// [`heartbeat`]: GroupCoordinator::heartbeat
    /// [`wait_for_change`]: GroupCoordinator::wait_for_change
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty group id or no assignor;
    /// [`Error::UnknownMember`] for a member id the group does not know
    /// (evicted: join again without one); [`Error::InconsistentGroupProtocol`]
    /// when the member shares no assignor with the group's members.
    pub fn join_group(
        &self,
        group: &str,
        member_id: Option<&str>,
        request: &JoinRequest,
    ) -> Result<MemberView> {
        check_join(group, request)?;
        loop {
            let slot = self.live_slot(group);
            let joined = self.with_group(&slot, |g, now| {
                self.join_locked(g, now, group, member_id, request)
            });
            // `None`: the group was deleted meanwhile; join its successor.
            if let Some(result) = joined {
                return result;
            }
        }
    }

    /// [`join_group`](Self::join_group) under the group's lock.
    fn join_locked(
        &self,
        g: &mut Group,
        now: i64,
        group: &str,
        member_id: Option<&str>,
        request: &JoinRequest,
    ) -> Option<Result<MemberView>> {
        if g.state == GroupState::Dead {
            return None;
        }
        let id = match member_id {
            Some(id) if g.members.contains_key(id) => id.to_string(),
            Some(id) => return Some(Err(unknown_member(group, id))),
            None => self.new_member_id(&request.client_id),
        };
        if let Err(e) = check_protocols(g, group, &id, &request.protocols) {
            return Some(Err(e));
        }
        if g.state != GroupState::PreparingRebalance {
            g.prepare_rebalance(now, "member joined");
        }
        upsert_member(g, &id, request, now);
        self.tick(g, now);
        Some(view_of(g, &id).ok_or_else(|| unknown_member(group, &id)))
    }

    /// A heartbeat of `member_id` (`polled`: from inside `poll`, which also
    /// resets its `max.poll.interval.ms`). Applies timeouts first, so a
    /// member whose session ran out learns it here. Starts a rebalance when
    /// a subscribed topic's partition count changed.
    ///
    /// # Errors
    /// [`Error::UnknownMember`] when the group does not know the member.
    pub fn heartbeat(&self, group: &str, member_id: &str, polled: bool) -> Result<MemberView> {
        let slot = self
            .existing_slot(group)
            .ok_or_else(|| unknown_member(group, member_id))?;
        self.with_group(&slot, |g, now| {
            let member = g
                .members
                .get_mut(member_id)
                .ok_or_else(|| unknown_member(group, member_id))?;
            member.last_heartbeat = now;
            if polled {
                member.last_poll = now;
            }
            if g.state == GroupState::Stable && self.partition_counts(g) != g.partition_counts {
                g.prepare_rebalance(now, "partition count of a subscribed topic changed");
            }
            view_of(g, member_id).ok_or_else(|| unknown_member(group, member_id))
        })
    }

    /// Removes `member_id` from `group` (Kafka's LeaveGroup): the group
    /// rebalances at once instead of after the session timeout.
    ///
    /// # Errors
    /// [`Error::UnknownMember`] when the group does not know the member.
    pub fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        let slot = self
            .existing_slot(group)
            .ok_or_else(|| unknown_member(group, member_id))?;
        self.with_group(&slot, |g, now| {
            if !g.remove_member(member_id, now) {
                return Err(unknown_member(group, member_id));
            }
            self.tick(g, now);
            Ok(())
        })
    }

    /// Commits offsets for `group` on behalf of `member_id` in `generation`
    /// (Kafka's OffsetCommit from a group member): one batch, all or
    /// nothing. Accepted while the generation is the group's current one,
    /// also during a rebalance (that is how eager members commit before
    /// revoking); the commit counts as a heartbeat. An empty `member_id`
    /// with a negative generation is a commit from outside the group,
    /// accepted while the group has no members.
    ///
    /// # Errors
    /// Nothing is written on any of them: [`Error::UnknownMember`] for a
    /// member the group does not know (evicted or left, or an outside
    /// commit to a group with members); [`Error::RebalanceInProgress`] when
    /// the group completed a rebalance the member has not picked up yet
    /// (poll first); [`Error::IllegalGeneration`] for any other generation
    /// (a zombie); the errors of [`OffsetStore::commit`].
    pub fn commit(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
        offsets: &[CommitEntry<'_>],
    ) -> Result<()> {
        let outside = member_id.is_empty() && generation < 0;
        loop {
            let slot = match self.existing_slot(group) {
                Some(slot) => slot,
                None if outside => self.live_slot(group),
                None => return Err(unknown_member(group, member_id)),
            };
            let committed = self.with_group(&slot, |g, now| {
                if g.state == GroupState::Dead {
                    return None;
                }
                let checked = check_commit(g, group, member_id, generation, now);
                Some(checked.and_then(|()| self.inner.offsets.commit(group, offsets)))
            });
            match committed {
                Some(result) => return result,
                None if outside => continue,
                None => return Err(unknown_member(group, member_id)),
            }
        }
    }

    /// Runs `f` on the group of `slot` under its lock, after applying the
    /// time-based rules at the clock's `now`; wakes the group's waiters when
    /// anything changed.
    pub(super) fn with_group<R>(&self, slot: &Slot, f: impl FnOnce(&mut Group, i64) -> R) -> R {
        let mut g = slot.group.lock();
        let before = g.version;
        let now = self.now();
        self.tick(&mut g, now);
        let result = f(&mut g, now);
        if g.version != before {
            slot.changed.notify_all();
        }
        result
    }

    /// Blocks until `group` changes from `version` (a [`MemberView`]'s), or
    /// `timeout` passes. Returns at once for an unknown group.
    pub fn wait_for_change(&self, group: &str, version: u64, timeout: Duration) {
        let Some(slot) = self.existing_slot(group) else {
            return;
        };
        let deadline = Instant::now().checked_add(timeout);
        let mut g = slot.group.lock();
        while g.version == version {
            match deadline {
                Some(d) => {
                    if slot.changed.wait_until(&mut g, d).timed_out() {
                        return;
                    }
                }
                None => slot.changed.wait(&mut g),
            }
        }
    }

    /// Applies the time-based rules to every group now: evicts members
    /// whose `session.timeout.ms` or `max.poll.interval.ms` ran out and
    /// completes rebalances whose deadline passed. Calls on a group do this
    /// for it anyway; this is for a maintenance loop. Returns the evicted
    /// member ids.
    pub fn check_timeouts(&self) -> Vec<String> {
        let slots: Vec<Arc<Slot>> = self.inner.groups.read().values().cloned().collect();
        let mut evicted = Vec::new();
        for slot in slots {
            let mut g = slot.group.lock();
            let before = g.version;
            evicted.extend(self.tick(&mut g, self.now()));
            if g.version != before {
                slot.changed.notify_all();
            }
        }
        evicted
    }

    /// Evicts expired members and completes a rebalance that is ready.
    pub(super) fn tick(&self, g: &mut Group, now: i64) -> Vec<String> {
        if g.state == GroupState::Dead {
            return Vec::new();
        }
        let evicted = g.evict_expired(now);
        if g.rebalance_ready(now) {
            let counts = self.partition_counts(g);
            g.complete_rebalance(now, counts);
        }
        evicted
    }

    /// The partition counts of the topics `g`'s members subscribe to (topics
    /// that do not exist are left out).
    fn partition_counts(&self, g: &Group) -> BTreeMap<String, u32> {
        let existing = self.inner.store.topic_names();
        g.subscribed_topics()
            .into_iter()
            .filter(|t| existing.binary_search(t).is_ok())
            .filter_map(|t| {
                let n = self.inner.store.topic(&t).ok()?.partition_count();
                Some((t, n))
            })
            .collect()
    }

    /// The slot of `group`, if the coordinator knows it.
    pub(super) fn existing_slot(&self, group: &str) -> Option<Arc<Slot>> {
        self.inner.groups.read().get(group).cloned()
    }

    /// The slot of `group`, created (empty) when unknown. It may be deleted
    /// before the caller locks it: callers check for [`GroupState::Dead`]
    /// and look again.
    pub(super) fn live_slot(&self, group: &str) -> Arc<Slot> {
        if let Some(slot) = self.existing_slot(group) {
            return slot;
        }
        let now = self.now();
        let mut groups = self.inner.groups.write();
        Arc::clone(groups.entry(group.to_string()).or_insert_with(|| {
            Arc::new(Slot {
                group: Mutex::new(Group::new(now)),
                changed: Condvar::new(),
            })
        }))
    }

    fn new_member_id(&self, client_id: &str) -> String {
        let n = self.inner.next_member.fetch_add(1, Ordering::Relaxed);
        format!("{client_id}-{n:010}")
    }
}

pub(super) fn unknown_member(group: &str, member: &str) -> Error {
    Error::UnknownMember {
        group: group.to_string(),
        member: member.to_string(),
    }
}

/// The view `member` gets; marks the assignment as picked up.
fn view_of(g: &mut Group, member: &str) -> Option<MemberView> {
    let (state, generation, protocol, version) = (g.state, g.generation, g.protocol, g.version);
    let m = g.members.get_mut(member)?;
    m.synced_generation = m.assigned_generation;
    Some(MemberView {
        member_id: member.to_string(),
        state,
        generation,
        protocol,
        assignment: m.assignment.clone(),
        assigned_generation: m.assigned_generation,
        rejoin_needed: state == GroupState::PreparingRebalance && !m.joined,
        version,
    })
}

/// Adds or updates a member that (re)joins the rebalance in progress.
fn upsert_member(g: &mut Group, id: &str, request: &JoinRequest, now: i64) {
    let member = g.members.entry(id.to_string()).or_insert_with(|| Member {
        client_id: request.client_id.clone(),
        topics: BTreeSet::new(),
        protocols: Vec::new(),
        session_timeout_ms: 0,
        max_poll_interval_ms: 0,
        last_heartbeat: now,
        last_poll: now,
        joined: false,
        owned: Vec::new(),
        assignment: Vec::new(),
        assigned_generation: -1,
        synced_generation: -1,
    });
    member.topics = request.topics.iter().cloned().collect();
    member.protocols = request.protocols.clone();
    member.session_timeout_ms = request.session_timeout_ms;
    member.max_poll_interval_ms = request.max_poll_interval_ms;
    member.last_heartbeat = now;
    member.last_poll = now;
    member.owned = request.owned.clone();
    member.joined = true;
    let deadline = now.saturating_add(request.max_poll_interval_ms);
    g.rebalance_deadline = g.rebalance_deadline.max(deadline);
    g.version += 1;
}

fn check_join(group: &str, request: &JoinRequest) -> Result<()> {
    if group.is_empty() {
        return Err(Error::InvalidConfig {
            key: "group.id".into(),
            value: String::new(),
            reason: "a group member needs a non-empty group id".into(),
        });
    }
    if request.protocols.is_empty() {
        return Err(Error::InvalidConfig {
            key: "partition.assignment.strategy".into(),
            value: String::new(),
            reason: "at least one assignor is needed".into(),
        });
    }
    Ok(())
}

/// Kafka's INCONSISTENT_GROUP_PROTOCOL: the joining member must share an
/// assignor with every other member.
fn check_protocols(g: &Group, group: &str, id: &str, protocols: &[Assignor]) -> Result<()> {
    let others = g.members.iter().filter(|(m, _)| m.as_str() != id);
    let mut shared: BTreeSet<Assignor> = protocols.iter().copied().collect();
    for (_, m) in others {
        shared.retain(|p| m.protocols.contains(p));
    }
    if shared.is_empty() {
        let names: Vec<&str> = protocols.iter().map(|p| p.name()).collect();
        return Err(Error::InconsistentGroupProtocol {
            group: group.to_string(),
            protocols: names.join(", "),
        });
    }
    Ok(())
}

/// Kafka's offset commit validation; a valid member's commit counts as its
/// heartbeat.
fn check_commit(
    g: &mut Group,
    group: &str,
    member_id: &str,
    generation: i32,
    now: i64,
) -> Result<()> {
    if member_id.is_empty() && generation < 0 {
        if g.members.is_empty() {
            return Ok(());
        }
        return Err(unknown_member(group, member_id));
    }
    let current = g.generation;
    let member = g
        .members
        .get_mut(member_id)
        .ok_or_else(|| unknown_member(group, member_id))?;
    if generation == current {
        member.last_heartbeat = now;
        return Ok(());
    }
    if generation == member.synced_generation && member.assigned_generation > generation {
        return Err(Error::RebalanceInProgress {
            group: group.to_string(),
        });
    }
    Err(Error::IllegalGeneration {
        group: group.to_string(),
        generation,
        current,
    })
}
