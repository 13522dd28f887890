//! Consumer groups inside one process: the coordinator's membership,
//! generations, rebalances and timeouts (on a manual clock), the assignors
//! against Kafka's documented examples, fenced commits, auto-commit,
//! `auto.offset.reset`, delivery guarantees, lag and the admin operations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seglog::client::{AutoOffsetReset, ConsumerRecord};
use seglog::clock::{Clock, ManualClock};
use seglog::config::{StoreConfig, TopicConfig};
use seglog::offsets::group::{
    Assignor, GroupConsumer, GroupConsumerConfig, GroupCoordinator, GroupState, NoopListener,
    OffsetReset, RebalanceListener, RebalanceProtocol, Subscription, TopicPartition,
};
use seglog::offsets::{OffsetStore, OffsetStoreConfig};
use seglog::partition::RecordsOptions;
use seglog::record::Record;
use seglog::{Error, Result, Store};

const NOW: i64 = 1_700_000_000_000;

struct Env {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    store: Store,
    coordinator: GroupCoordinator,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let (store, coordinator) = open(dir.path(), &clock);
    Env {
        _dir: dir,
        clock,
        store,
        coordinator,
    }
}

fn open(dir: &Path, clock: &ManualClock) -> (Store, GroupCoordinator) {
    let config = StoreConfig::default().clock(Arc::new(clock.clone()));
    let store = Store::open(dir, config).unwrap();
    let offsets_config = OffsetStoreConfig {
        num_partitions: 3,
        ..OffsetStoreConfig::default()
    };
    let offsets = OffsetStore::open(&store, offsets_config).unwrap();
    let coordinator = GroupCoordinator::new(&store, offsets);
    (store, coordinator)
}

impl Env {
    fn topic(&self, name: &str, partitions: u32) {
        self.store
            .create_topic(name, partitions, TopicConfig::default())
            .unwrap();
    }

    /// Appends `n` records "p<partition>-<i>" to one partition.
    fn produce(&self, topic: &str, partition: u32, n: usize) {
        let p = self
            .store
            .topic(topic)
            .unwrap()
            .partition(partition)
            .unwrap();
        let now = self.clock.now_ms();
        let records: Vec<Record> = (0..n)
            .map(|i| Record::new(now, format!("p{partition}-{i}")))
            .collect();
        p.append_records(&records, RecordsOptions::default())
            .unwrap();
    }

    fn consumer(&self, config: GroupConsumerConfig, topics: &[&str]) -> GroupConsumer {
        let mut c = GroupConsumer::new(&self.coordinator, config).unwrap();
        c.subscribe(topics, NoopListener).unwrap();
        c
    }
}

/// Polls every consumer (without waiting) until the group is stable and
/// every one of them has picked up the current generation; checks after
/// every poll that no partition is owned by two consumers. Returns the
/// records polled.
fn settle(
    coordinator: &GroupCoordinator,
    group: &str,
    consumers: &mut [&mut GroupConsumer],
) -> Vec<ConsumerRecord> {
    let mut records = Vec::new();
    for _ in 0..20 {
        for i in 0..consumers.len() {
            records.extend(consumers[i].poll(Duration::ZERO).unwrap());
            assert_disjoint(consumers_owned(consumers));
        }
        let d = coordinator.describe(group);
        let all_synced = consumers.iter().all(|c| c.generation() == d.generation);
        if d.state == GroupState::Stable && all_synced && d.members.len() == consumers.len() {
            return records;
        }
    }
    panic!(
        "group {group} did not settle: {:?}",
        coordinator.describe(group)
    );
}

fn consumers_owned(consumers: &[&mut GroupConsumer]) -> Vec<Vec<TopicPartition>> {
    consumers.iter().map(|c| c.assignment()).collect()
}

fn assert_disjoint(sets: Vec<Vec<TopicPartition>>) {
    let mut seen = BTreeSet::new();
    for set in sets {
        for tp in set {
            assert!(seen.insert(tp.clone()), "{tp:?} owned twice");
        }
    }
}

/// The owned counts, largest first, after checking the assignment is
/// disjoint and covers all `partitions` of `topic`.
fn balanced_counts(consumers: &[&mut GroupConsumer], topic: &str, partitions: u32) -> Vec<usize> {
    let owned = consumers_owned(consumers);
    assert_disjoint(owned.clone());
    let all: BTreeSet<TopicPartition> = owned.iter().flatten().cloned().collect();
    let expected: BTreeSet<TopicPartition> =
        (0..partitions).map(|p| (topic.to_string(), p)).collect();
    assert_eq!(all, expected, "the assignment is not complete");
    let mut counts: Vec<usize> = owned.iter().map(Vec::len).collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts
}

fn tps(list: &[(&str, u32)]) -> Vec<TopicPartition> {
    list.iter().map(|&(t, p)| (t.to_string(), p)).collect()
}

fn offsets(records: &[ConsumerRecord]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

/// Polls until a poll returns nothing.
fn drain(c: &mut GroupConsumer) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    loop {
        let batch = c.poll(Duration::from_millis(20)).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

#[test]
fn range_and_roundrobin_give_kafkas_documented_assignments() {
    // Kafka's javadoc example: C0 and C1 subscribe to t0 and t1, 3 partitions each.
    let partitions = BTreeMap::from([("t0".to_string(), 3), ("t1".to_string(), 3)]);
    let members: Vec<Subscription> = ["C1", "C0"]
        .iter()
        .map(|id| Subscription {
            member_id: id.to_string(),
            topics: BTreeSet::from(["t0".to_string(), "t1".to_string()]),
            owned: Vec::new(),
        })
        .collect();
    let range = Assignor::Range.assign(&partitions, &members);
    assert_eq!(
        range["C0"],
        tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)])
    );
    assert_eq!(range["C1"], tps(&[("t0", 2), ("t1", 2)]));
    let rr = Assignor::RoundRobin.assign(&partitions, &members);
    assert_eq!(rr["C0"], tps(&[("t0", 0), ("t0", 2), ("t1", 1)]));
    assert_eq!(rr["C1"], tps(&[("t0", 1), ("t1", 0), ("t1", 2)]));

    // The same through the coordinator, with client ids C0 and C1.
    for (assignor, expected) in [(Assignor::Range, range), (Assignor::RoundRobin, rr)] {
        let env = env();
        env.topic("t0", 3);
        env.topic("t1", 3);
        let group = format!("docs-{assignor}");
        let config = |id: &str| {
            GroupConsumerConfig::new(group.as_str())
                .client_id(id)
                .assignors(&[assignor])
        };
        let mut c0 = env.consumer(config("C0"), &["t0", "t1"]);
        let mut c1 = env.consumer(config("C1"), &["t1", "t0"]);
        settle(&env.coordinator, &group, &mut [&mut c0, &mut c1]);
        assert_eq!(c0.assignment(), expected["C0"]);
        assert_eq!(c1.assignment(), expected["C1"]);
        assert_eq!(env.coordinator.describe(&group).protocol, Some(assignor));
    }
}

#[test]
fn the_group_uses_the_assignor_every_member_supports() {
    let env = env();
    env.topic("t", 2);
    let mut a = env.consumer(
        GroupConsumerConfig::new("g").assignors(&[Assignor::RoundRobin, Assignor::Range]),
        &["t"],
    );
    let mut b = env.consumer(GroupConsumerConfig::new("g"), &["t"]);
    settle(&env.coordinator, "g", &mut [&mut a, &mut b]);
    assert_eq!(
        env.coordinator.describe("g").protocol,
        Some(Assignor::Range)
    );
    assert_eq!(b.rebalance_protocol(), RebalanceProtocol::Eager);

    let mut c = GroupConsumer::new(
        &env.coordinator,
        GroupConsumerConfig::new("g").assignors(&[Assignor::Sticky]),
    )
    .unwrap();
    c.subscribe(&["t"], NoopListener).unwrap();
    let err = c.poll(Duration::ZERO).unwrap_err();
    assert!(
        matches!(err, Error::InconsistentGroupProtocol { .. }),
        "{err:?}"
    );
}

#[test]
fn eight_partitions_stay_balanced_as_members_come_and_go() {
    let env = env();
    env.topic("t", 8);
    let config = || GroupConsumerConfig::new("g");
    let (mut c1, mut c2, mut c3) = (
        env.consumer(config(), &["t"]),
        env.consumer(config(), &["t"]),
        env.consumer(config(), &["t"]),
    );
    settle(&env.coordinator, "g", &mut [&mut c1, &mut c2, &mut c3]);
    assert_eq!(
        balanced_counts(&[&mut c1, &mut c2, &mut c3], "t", 8),
        vec![3, 3, 2]
    );
    let first = env.coordinator.describe("g").generation;

    // A fourth member joins.
    let mut c4 = env.consumer(config(), &["t"]);
    settle(
        &env.coordinator,
        "g",
        &mut [&mut c1, &mut c2, &mut c3, &mut c4],
    );
    assert_eq!(
        balanced_counts(&[&mut c1, &mut c2, &mut c3, &mut c4], "t", 8),
        vec![2, 2, 2, 2]
    );
    assert!(env.coordinator.describe("g").generation > first);

    // c4 stops heartbeating: after session.timeout.ms (45 s) it is evicted.
    env.clock.advance(30_000);
    for c in [&mut c1, &mut c2, &mut c3] {
        c.poll(Duration::ZERO).unwrap();
    }
    assert_eq!(env.coordinator.describe("g").members.len(), 4);
    env.clock.advance(20_000);
    settle(&env.coordinator, "g", &mut [&mut c1, &mut c2, &mut c3]);
    assert_eq!(
        balanced_counts(&[&mut c1, &mut c2, &mut c3], "t", 8),
        vec![3, 3, 2]
    );
    assert_eq!(env.coordinator.describe("g").members.len(), 3);
    drop(c4);

    // c3 closes: the group rebalances at once.
    c3.close().unwrap();
    settle(&env.coordinator, "g", &mut [&mut c1, &mut c2]);
    assert_eq!(balanced_counts(&[&mut c1, &mut c2], "t", 8), vec![4, 4]);
}

#[test]
fn max_poll_interval_evicts_a_member_that_only_heartbeats() {
    let env = env();
    env.topic("t", 2);
    let config = || {
        GroupConsumerConfig::new("g")
            .session_timeout_ms(10_000)
            .heartbeat_interval_ms(1_000)
            .max_poll_interval_ms(20_000)
    };
    let mut busy = env.consumer(config(), &["t"]);
    let mut idle = env.consumer(config(), &["t"]);
    settle(&env.coordinator, "g", &mut [&mut busy, &mut idle]);
    for _ in 0..2 {
        env.clock.advance(8_000);
        busy.heartbeat().unwrap();
        idle.poll(Duration::ZERO).unwrap();
    }
    // 16 s without a poll, session kept alive by heartbeats: still a member.
    assert_eq!(env.coordinator.describe("g").members.len(), 2);
    env.clock.advance(8_000);
    idle.poll(Duration::ZERO).unwrap();
    let d = env.coordinator.describe("g");
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].member_id, idle.member_id().unwrap());
    assert!(matches!(busy.heartbeat(), Err(Error::UnknownMember { .. })));
}

/// Records every callback as (client id, event, generation, partitions).
type Events = Arc<Mutex<Vec<(String, &'static str, i32, Vec<TopicPartition>)>>>;

struct Recorder(Events);

impl Recorder {
    fn push(&self, c: &GroupConsumer, event: &'static str, partitions: &[TopicPartition]) {
        let id = c.config().client_id.clone();
        self.0
            .lock()
            .unwrap()
            .push((id, event, c.generation(), partitions.to_vec()));
    }
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked(&mut self, c: &mut GroupConsumer, p: &[TopicPartition]) -> Result<()> {
        self.push(c, "revoked", p);
        Ok(())
    }
    fn on_partitions_assigned(
        &mut self,
        c: &mut GroupConsumer,
        p: &[TopicPartition],
    ) -> Result<()> {
        self.push(c, "assigned", p);
        Ok(())
    }
    fn on_partitions_lost(&mut self, c: &mut GroupConsumer, p: &[TopicPartition]) -> Result<()> {
        self.push(c, "lost", p);
        Ok(())
    }
}

#[test]
fn cooperative_sticky_moves_only_what_it_must_revoking_first() {
    let env = env();
    env.topic("t", 8);
    let events: Events = Arc::default();
    let member = |id: &str| {
        let config = GroupConsumerConfig::new("coop")
            .client_id(id)
            .assignors(&[Assignor::CooperativeSticky]);
        let mut c = GroupConsumer::new(&env.coordinator, config).unwrap();
        c.subscribe(&["t"], Recorder(events.clone())).unwrap();
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Cooperative);
        c
    };
    let (mut a, mut b) = (member("a"), member("b"));
    settle(&env.coordinator, "coop", &mut [&mut a, &mut b]);
    assert_eq!(balanced_counts(&[&mut a, &mut b], "t", 8), vec![4, 4]);
    let (before_a, before_b) = (a.assignment(), b.assignment());

    let mut c = member("c");
    settle(&env.coordinator, "coop", &mut [&mut a, &mut b, &mut c]);
    assert_eq!(
        balanced_counts(&[&mut a, &mut b, &mut c], "t", 8),
        vec![3, 3, 2]
    );
    // a and b each gave up one partition and kept the rest.
    assert!(a.assignment().iter().all(|tp| before_a.contains(tp)));
    assert!(b.assignment().iter().all(|tp| before_b.contains(tp)));
    assert_eq!(c.assignment().len(), 2);

    // Each move is a revoke in one generation, then an assign in a later one;
    // no partition is in two members' assignments of the same generation.
    let events = events.lock().unwrap().clone();
    let mut per_generation: BTreeMap<i32, BTreeMap<TopicPartition, String>> = BTreeMap::new();
    let mut owner: BTreeMap<TopicPartition, (String, i32)> = BTreeMap::new();
    for (member, event, generation, partitions) in &events {
        for tp in partitions {
            match *event {
                "assigned" => {
                    assert!(
                        !owner.contains_key(tp),
                        "{tp:?} assigned to {member} while owned: {events:?}"
                    );
                    owner.insert(tp.clone(), (member.clone(), *generation));
                    let previous = per_generation
                        .entry(*generation)
                        .or_default()
                        .insert(tp.clone(), member.clone());
                    assert!(
                        previous.is_none(),
                        "{tp:?} twice in generation {generation}"
                    );
                }
                "revoked" => {
                    let (held_by, since) = owner.remove(tp).expect("revoked while not owned");
                    assert_eq!(&held_by, member);
                    assert!(since < *generation);
                }
                other => panic!("unexpected {other}"),
            }
        }
    }
    // c's two partitions were revoked from a and b in the generation right
    // before the one that assigned them to c, and nothing else moved then.
    let assigned_to_c = events
        .iter()
        .find(|e| e.0 == "c" && e.1 == "assigned" && !e.3.is_empty())
        .unwrap();
    assert_eq!(assigned_to_c.3, c.assignment());
    let freed: Vec<&TopicPartition> = events
        .iter()
        .filter(|e| e.1 == "revoked" && e.2 == assigned_to_c.2 - 1)
        .flat_map(|e| &e.3)
        .collect();
    assert_eq!(freed.len(), 2, "{events:?}");
    assert!(freed.iter().all(|tp| c.assignment().contains(tp)));
}

#[test]
fn a_consumer_dropped_before_committing_is_replaced_without_skipping() {
    let env = env();
    env.topic("t", 1);
    env.produce("t", 0, 10);
    let config = || {
        GroupConsumerConfig::new("g")
            .enable_auto_commit(false)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .set_str("max.poll.records", "4")
            .unwrap()
    };
    let mut processed = Vec::new();
    let mut first = env.consumer(config(), &["t"]);
    let batch = first.poll(Duration::from_secs(1)).unwrap();
    assert_eq!(offsets(&batch), vec![0, 1, 2, 3]);
    processed.extend(offsets(&batch));
    first.commit_sync().unwrap();
    let batch = first.poll(Duration::from_secs(1)).unwrap();
    assert_eq!(offsets(&batch), vec![4, 5, 6, 7]);
    processed.extend(offsets(&batch));
    drop(first); // crashes before committing 4..7

    assert_eq!(
        env.coordinator
            .offsets()
            .committed("g", "t", 0)
            .unwrap()
            .offset,
        4
    );
    let mut second = env.consumer(config(), &["t"]);
    let replayed = drain(&mut second);
    assert_eq!(offsets(&replayed), vec![4, 5, 6, 7, 8, 9]);
    processed.extend(offsets(&replayed));
    let distinct: BTreeSet<i64> = processed.into_iter().collect();
    assert_eq!(
        distinct,
        (0..10).collect(),
        "at least once: nothing skipped"
    );
}

#[test]
fn fenced_members_cannot_commit() {
    let env = env();
    env.topic("t", 2);
    env.produce("t", 0, 5);
    let config = || {
        GroupConsumerConfig::new("g")
            .enable_auto_commit(false)
            .auto_offset_reset(AutoOffsetReset::Earliest)
    };
    let events: Events = Arc::default();
    let mut a = GroupConsumer::new(&env.coordinator, config().client_id("a")).unwrap();
    a.subscribe(&["t"], Recorder(events.clone())).unwrap();
    a.poll(Duration::ZERO).unwrap();
    a.commit_offsets(&[("t", 0, 2)]).unwrap();
    let old = a.group_metadata();
    assert_eq!(old.generation, 1);

    let mut b = env.consumer(config(), &["t"]);
    settle(&env.coordinator, "g", &mut [&mut a, &mut b]);
    assert_eq!(a.generation(), 2);
    // A commit carrying the old generation is a zombie's: refused.
    let err = env
        .coordinator
        .commit(
            "g",
            &old.member_id,
            old.generation,
            &[("t", 0, 5, None, "")],
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::IllegalGeneration {
                generation: 1,
                current: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        env.coordinator
            .commit("g", "nobody", 2, &[("t", 0, 5, None, "")]),
        Err(Error::UnknownMember { .. })
    ));
    assert_eq!(
        env.coordinator
            .offsets()
            .committed("g", "t", 0)
            .unwrap()
            .offset,
        2
    );

    // `a` misses its session: evicted, its commits are refused, and its
    // next poll reports the partitions lost and joins again.
    env.clock.advance(45_000);
    b.poll(Duration::ZERO).unwrap();
    let err = a.commit_offsets(&[("t", 0, 5)]).unwrap_err();
    assert!(matches!(err, Error::UnknownMember { .. }), "{err:?}");
    assert_eq!(
        env.coordinator
            .offsets()
            .committed("g", "t", 0)
            .unwrap()
            .offset,
        2
    );
    let owned_before = a.assignment();
    settle(&env.coordinator, "g", &mut [&mut a, &mut b]);
    let events = events.lock().unwrap();
    assert!(
        events.iter().any(|e| e.1 == "lost" && e.3 == owned_before),
        "{events:?}"
    );
    assert_ne!(a.member_id(), Some(old.member_id.as_str()));
    a.commit_offsets(&[("t", 0, 5)]).unwrap();
}

#[test]
fn committed_offsets_survive_a_store_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    {
        let (store, coordinator) = open(dir.path(), &clock);
        store.create_topic("t", 2, TopicConfig::default()).unwrap();
        let p = store.topic("t").unwrap().partition(1).unwrap();
        let records: Vec<Record> = (0..6).map(|i| Record::new(NOW, format!("v{i}"))).collect();
        p.append_records(&records, RecordsOptions::default())
            .unwrap();
        let config = GroupConsumerConfig::new("g")
            .enable_auto_commit(false)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .set_str("max.poll.records", "4")
            .unwrap();
        let mut c = GroupConsumer::new(&coordinator, config).unwrap();
        c.subscribe(&["t"], NoopListener).unwrap();
        assert_eq!(c.poll(Duration::from_secs(1)).unwrap().len(), 4);
        c.commit_sync().unwrap();
        c.close().unwrap();
        drop(coordinator);
        store.close().unwrap();
    }
    let (_store, coordinator) = open(dir.path(), &clock);
    assert_eq!(
        coordinator.offsets().committed("g", "t", 1).unwrap().offset,
        4
    );
    let mut c = GroupConsumer::new(&coordinator, GroupConsumerConfig::new("g")).unwrap();
    c.subscribe(&["t"], NoopListener).unwrap();
    let rest = drain(&mut c);
    assert_eq!(offsets(&rest), vec![4, 5]);
    assert_eq!(rest[0].value.as_deref(), Some(&b"v4"[..]));
}

#[test]
fn auto_commit_runs_after_the_interval_and_on_close() {
    let env = env();
    env.topic("t", 1);
    env.produce("t", 0, 10);
    let config = GroupConsumerConfig::new("g")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .set_str("max.poll.records", "3")
        .unwrap();
    let mut c = env.consumer(config, &["t"]);
    let committed = || {
        env.coordinator
            .offsets()
            .committed("g", "t", 0)
            .map(|c| c.offset)
    };
    assert_eq!(
        offsets(&c.poll(Duration::from_secs(1)).unwrap()),
        vec![0, 1, 2]
    );
    assert_eq!(committed(), None);
    env.clock.advance(4_999);
    assert_eq!(
        offsets(&c.poll(Duration::from_secs(1)).unwrap()),
        vec![3, 4, 5]
    );
    assert_eq!(committed(), None, "not before auto.commit.interval.ms");
    env.clock.advance(1);
    // The poll commits what the previous polls returned, then fetches.
    assert_eq!(
        offsets(&c.poll(Duration::from_secs(1)).unwrap()),
        vec![6, 7, 8]
    );
    assert_eq!(committed(), Some(6));
    c.close().unwrap();
    assert_eq!(committed(), Some(9), "close commits the position");
}

#[test]
fn auto_offset_reset_applies_without_a_committed_offset() {
    let env = env();
    env.topic("t", 1);
    env.produce("t", 0, 5);
    let config = |group: &str, reset| GroupConsumerConfig::new(group).auto_offset_reset(reset);

    let mut earliest = env.consumer(config("e", AutoOffsetReset::Earliest), &["t"]);
    assert_eq!(offsets(&drain(&mut earliest)), vec![0, 1, 2, 3, 4]);

    let mut latest = env.consumer(config("l", AutoOffsetReset::Latest), &["t"]);
    assert!(drain(&mut latest).is_empty());
    env.produce("t", 0, 1);
    assert_eq!(offsets(&drain(&mut latest)), vec![5]);

    let mut none = env.consumer(config("n", AutoOffsetReset::None), &["t"]);
    let err = none.poll(Duration::ZERO).unwrap_err();
    assert!(
        matches!(err, Error::NoOffsetForPartition { partition: 0, .. }),
        "{err:?}"
    );
    none.seek("t", 0, 2).unwrap();
    assert_eq!(offsets(&drain(&mut none))[0], 2);

    // A committed offset wins over auto.offset.reset.
    env.coordinator
        .commit("n2", "", -1, &[("t", 0, 3, None, "")])
        .unwrap();
    let mut resumed = env.consumer(config("n2", AutoOffsetReset::None), &["t"]);
    assert_eq!(offsets(&drain(&mut resumed)), vec![3, 4, 5]);
}

#[test]
fn describe_shows_lag_on_a_live_store() {
    let env = env();
    env.topic("t", 2);
    env.produce("t", 0, 5);
    env.produce("t", 1, 3);
    let config = GroupConsumerConfig::new("g")
        .enable_auto_commit(false)
        .auto_offset_reset(AutoOffsetReset::Earliest);
    let mut c = env.consumer(config, &["t"]);
    assert_eq!(drain(&mut c).len(), 8);
    let d = env.coordinator.describe("g");
    let member = c.member_id().unwrap().to_string();
    assert_eq!(
        (d.state, d.generation, d.protocol),
        (GroupState::Stable, 1, Some(Assignor::Range))
    );
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].assignment, tps(&[("t", 0), ("t", 1)]));
    // Nothing committed yet: no current offset, no lag, but the owner.
    assert!(
        d.offsets
            .iter()
            .all(|p| p.committed.is_none() && p.lag.is_none())
    );
    assert!(
        d.offsets
            .iter()
            .all(|p| p.owner.as_deref() == Some(member.as_str()))
    );

    c.commit_sync().unwrap();
    env.produce("t", 0, 4);
    let d = env.coordinator.describe("g");
    let line = |p: u32| d.offsets.iter().find(|l| l.partition == p).unwrap().clone();
    assert_eq!(
        (line(0).committed, line(0).log_end_offset, line(0).lag),
        (Some(5), Some(9), Some(4))
    );
    assert_eq!(
        (line(1).committed, line(1).log_end_offset, line(1).lag),
        (Some(3), Some(3), Some(0))
    );

    c.close().unwrap();
    let d = env.coordinator.describe("g");
    assert_eq!((d.state, d.members.len()), (GroupState::Empty, 0));
    assert_eq!(
        d.offsets.iter().map(|l| l.lag).collect::<Vec<_>>(),
        vec![Some(4), Some(0)]
    );
    assert!(d.offsets.iter().all(|l| l.owner.is_none()));
    assert_eq!(env.coordinator.describe("unknown").state, GroupState::Dead);
}

#[test]
fn admin_operations_need_an_inactive_group() {
    let env = env();
    env.topic("t", 2);
    env.produce("t", 0, 5);
    env.produce("t", 1, 5);
    let mut c = env.consumer(GroupConsumerConfig::new("g"), &["t"]);
    c.poll(Duration::ZERO).unwrap();
    c.commit_offsets(&[("t", 0, 1), ("t", 1, 1)]).unwrap();
    assert!(matches!(
        env.coordinator.delete_group("g"),
        Err(Error::GroupNotEmpty { members: 1, .. })
    ));
    assert!(matches!(
        env.coordinator
            .reset_offsets("g", "t", OffsetReset::Earliest),
        Err(Error::GroupNotEmpty { .. })
    ));
    let listing = env.coordinator.list_groups();
    assert_eq!(listing.len(), 1);
    assert_eq!(
        (listing[0].state, listing[0].members),
        (GroupState::Stable, 1)
    );
    drop(c); // leaves without committing

    let reset = env
        .coordinator
        .reset_offsets("g", "t", OffsetReset::Latest)
        .unwrap();
    assert_eq!(reset, vec![(0, 5), (1, 5)]);
    let reset = env
        .coordinator
        .reset_offsets("g", "t", OffsetReset::Offset(99))
        .unwrap();
    assert_eq!(reset, vec![(0, 5), (1, 5)], "clamped to the log end");
    let reset = env
        .coordinator
        .reset_offsets("g", "t", OffsetReset::Timestamp(NOW))
        .unwrap();
    assert_eq!(reset, vec![(0, 0), (1, 0)]);
    let reset = env
        .coordinator
        .reset_offsets("g", "t", OffsetReset::Offset(2))
        .unwrap();
    assert_eq!(reset, vec![(0, 2), (1, 2)]);
    assert_eq!(
        env.coordinator
            .offsets()
            .committed("g", "t", 1)
            .unwrap()
            .offset,
        2
    );
    assert!(matches!(
        env.coordinator
            .reset_offsets("g", "nope", OffsetReset::Earliest),
        Err(Error::UnknownTopic(_))
    ));

    assert_eq!(env.coordinator.delete_group("g").unwrap(), 2);
    assert_eq!(env.coordinator.describe("g").state, GroupState::Dead);
    assert!(env.coordinator.list_groups().is_empty());
}

#[test]
fn offsets_of_empty_groups_expire_after_the_retention() {
    let env = env();
    env.topic("t", 1);
    let mut active = env.consumer(GroupConsumerConfig::new("active"), &["t"]);
    active.poll(Duration::ZERO).unwrap();
    active.commit_offsets(&[("t", 0, 0)]).unwrap();
    let mut gone = env.consumer(GroupConsumerConfig::new("gone"), &["t"]);
    gone.poll(Duration::ZERO).unwrap();
    gone.commit_offsets(&[("t", 0, 0)]).unwrap();
    gone.close().unwrap();
    let week = 7 * 24 * 3_600_000;

    env.clock.advance(week - 1);
    // "active" stopped polling a week ago: its session ran out, so its group
    // is empty too, but only since now.
    assert!(matches!(
        active.heartbeat(),
        Err(Error::UnknownMember { .. })
    ));
    assert_eq!(env.coordinator.expire_offsets().unwrap(), 0);
    env.clock.advance(1);
    // "gone" has been empty for the retention period; "active" keeps its
    // offsets for another one.
    assert_eq!(env.coordinator.expire_offsets().unwrap(), 1);
    assert!(
        env.coordinator
            .offsets()
            .committed("gone", "t", 0)
            .is_none()
    );
    assert!(
        env.coordinator
            .offsets()
            .committed("active", "t", 0)
            .is_some()
    );
    assert_eq!(
        env.coordinator
            .list_groups()
            .iter()
            .map(|g| g.group.as_str())
            .collect::<Vec<_>>(),
        vec!["active"]
    );
}

#[test]
fn consumers_on_several_threads_share_the_partitions() {
    for assignors in [
        vec![Assignor::Range, Assignor::CooperativeSticky],
        vec![Assignor::CooperativeSticky],
    ] {
        threads_share_the_partitions(&assignors);
    }
}

fn threads_share_the_partitions(assignors: &[Assignor]) {
    // The system clock: real session timeouts, real waits.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let offsets_config = OffsetStoreConfig {
        num_partitions: 3,
        ..OffsetStoreConfig::default()
    };
    let offsets = OffsetStore::open(&store, offsets_config).unwrap();
    let coordinator = GroupCoordinator::new(&store, offsets);
    store.create_topic("t", 6, TopicConfig::default()).unwrap();
    let now = store.config().clock.now_ms();
    for p in 0..6 {
        let partition = store.topic("t").unwrap().partition(p).unwrap();
        let records: Vec<Record> = (0..100).map(|i| Record::new(now, format!("{i}"))).collect();
        partition
            .append_records(&records, RecordsOptions::default())
            .unwrap();
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (coordinator, seen, total) = (coordinator.clone(), seen.clone(), total.clone());
            let assignors = assignors.to_vec();
            std::thread::spawn(move || {
                let config = GroupConsumerConfig::new("workers")
                    .assignors(&assignors)
                    .auto_offset_reset(AutoOffsetReset::Earliest)
                    .set_str("max.poll.records", "50")
                    .unwrap();
                let mut c = GroupConsumer::new(&coordinator, config).unwrap();
                c.subscribe(&["t"], NoopListener).unwrap();
                while total.load(Ordering::SeqCst) < 600 {
                    let records = c.poll(Duration::from_millis(50)).unwrap();
                    total.fetch_add(records.len(), Ordering::SeqCst);
                    let mut seen = seen.lock().unwrap();
                    seen.extend(records.iter().map(|r| (r.partition, r.offset)));
                }
                c.close().unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let distinct: BTreeSet<(u32, i64)> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), 600, "every record consumed");
    assert_eq!(
        seen.len(),
        600,
        "and none twice: positions are committed before revocation"
    );
    let d = coordinator.describe("workers");
    assert_eq!(d.state, GroupState::Empty);
    assert!(d.offsets.iter().all(|l| l.lag == Some(0)), "{d:?}");
}

/// Commits the positions when partitions are revoked (manual commits).
struct CommitOnRevoke;

impl RebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked(&mut self, c: &mut GroupConsumer, _: &[TopicPartition]) -> Result<()> {
        c.commit_sync()
    }
}

#[test]
fn a_listener_commits_before_its_partitions_move() {
    let env = env();
    env.topic("t", 1);
    env.produce("t", 0, 5);
    let config = || {
        GroupConsumerConfig::new("g")
            .enable_auto_commit(false)
            .auto_offset_reset(AutoOffsetReset::Earliest)
    };
    let mut a = GroupConsumer::new(&env.coordinator, config()).unwrap();
    a.subscribe(&["t"], CommitOnRevoke).unwrap();
    assert_eq!(drain(&mut a).len(), 5);
    let mut b = env.consumer(config(), &["t"]);
    settle(&env.coordinator, "g", &mut [&mut a, &mut b]);
    let committed = env.coordinator.offsets().committed("g", "t", 0);
    assert_eq!(committed.map(|c| c.offset), Some(5));
}

#[test]
fn a_commit_between_a_rebalance_and_the_next_poll_is_refused_as_in_progress() {
    let env = env();
    env.topic("t", 3);
    let config = || GroupConsumerConfig::new("g").enable_auto_commit(false);
    let mut a = env.consumer(config(), &["t"]);
    let mut b = env.consumer(config(), &["t"]);
    settle(&env.coordinator, "g", &mut [&mut a, &mut b]);
    let mut c = env.consumer(config(), &["t"]);
    c.poll(Duration::ZERO).unwrap(); // joins: a rebalance starts
    a.poll(Duration::ZERO).unwrap(); // a rejoins and waits for b
    b.poll(Duration::ZERO).unwrap(); // b rejoins last: the rebalance completes
    assert_eq!(env.coordinator.describe("g").generation, a.generation() + 1);
    let err = a.commit_offsets(&[("t", 0, 0)]).unwrap_err();
    assert!(matches!(err, Error::RebalanceInProgress { .. }), "{err:?}");
    a.poll(Duration::ZERO).unwrap();
    a.commit_offsets(&[("t", 0, 0)]).unwrap();
}
