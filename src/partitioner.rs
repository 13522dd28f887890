//! Kafka's default partitioner (DESIGN.md section 3, last bullet).
//!
//! A keyed record goes where Kafka's Java producer would send it:
//! `toPositive(murmur2(key)) % numPartitions`, with Kafka's own murmur2
//! (seed `0x9747b28c`) and `toPositive` being `& 0x7fffffff`, not `abs`. So a
//! key lands in the same partition whether a Java client or seglog wrote it.
//!
//! Records without a key are spread by a [`Partitioner`], either *sticky*
//! (Kafka's default since KIP-480 / KIP-794: stay on one partition until the
//! producer reports a new batch, so batches fill up) or *round-robin* (one
//! record per partition in turn). Unlike the Java client, both strategies are
//! deterministic: see [`KeylessStrategy`].
//!
//! ```
//! use seglog::partitioner::{partition_for_key, Partitioner};
//!
//! let partitioner = Partitioner::new(); // sticky for keyless records
//! let p = partitioner.partition("orders", Some(b"customer-42"), None, 6);
//! assert_eq!(p, partition_for_key(b"customer-42", 6));
//! assert_eq!(partitioner.partition("orders", None, Some(4), 6), 4); // explicit wins
//! ```

use std::collections::HashMap;

use parking_lot::Mutex;

/// Kafka's murmur2 seed (`Utils.murmur2`).
const SEED: u32 = 0x9747_b28c;
/// Kafka's murmur2 multiplier `m`.
const M: u32 = 0x5bd1_e995;
/// Kafka's murmur2 shift `r`.
const R: u32 = 24;

/// The 32-bit murmur2 hash of `data`, exactly as Kafka's Java
/// `org.apache.kafka.common.utils.Utils.murmur2` computes it.
///
/// Four-byte little-endian chunks are mixed in, then the one to three tail
/// bytes, then the final avalanche; all arithmetic wraps like Java's `int`.
/// The result is the Java `int` (so it is often negative).
///
/// ```
/// use seglog::partitioner::murmur2;
///
/// assert_eq!(murmur2(b"21"), -973_932_308); // Kafka's UtilsTest.testMurmur2
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    // Java hashes `int length`; a Java array is never longer than i32::MAX,
    // so the truncation below only matters for slices Java cannot have.
    let mut h = SEED ^ (data.len() as u32);

    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // The tail: byte i of the last partial chunk goes in at bit 8 * i (Java's
    // switch fall-through), then one multiplication if there was any tail.
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u32::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;

    // Reinterpret the bits as Java's signed int.
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (`n & 0x7fffffff`).
///
/// This is not `abs`: `to_positive(-1)` is `i32::MAX` and
/// `to_positive(i32::MIN)` is `0`, and the partition a key maps to depends on
/// exactly this.
///
/// ```
/// use seglog::partitioner::to_positive;
///
/// assert_eq!(to_positive(-973_932_308), 1_173_551_340);
/// assert_eq!(to_positive(i32::MIN), 0);
/// ```
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's default partitioner picks for a record with `key`:
/// `to_positive(murmur2(key)) % num_partitions`.
///
/// The same key lands in the same partition as with Kafka's Java client (and
/// with librdkafka's `murmur2_random` partitioner), as long as the partition
/// count does not change.
///
/// # Panics
///
/// If `num_partitions` is 0 (a topic always has at least one partition; the
/// Java client fails the same way).
///
/// # Example
///
/// ```
/// use seglog::partitioner::{murmur2, partition_for_key};
///
/// // murmur2("foobar") is -790332482 (Kafka's UtilsTest); with the sign bit
/// // cleared that is 1357151166, and 1357151166 % 10 == 6.
/// assert_eq!(murmur2(b"foobar"), -790_332_482);
/// assert_eq!(partition_for_key(b"foobar", 10), 6);
///
/// // kafka-python's Java-compatibility vector: "abc" over 1000 partitions.
/// assert_eq!(partition_for_key(b"abc", 1000), 107);
/// ```
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    assert!(num_partitions > 0, "a topic has at least one partition");
    // to_positive's result is in 0..=i32::MAX, so it fits a u32 unchanged.
    (to_positive(murmur2(key)) as u32) % num_partitions
}

/// How a [`Partitioner`] spreads records that have no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeylessStrategy {
    /// Kafka's default (KIP-480 / KIP-794 in spirit): every keyless record of
    /// a topic goes to that topic's current partition until the producer
    /// calls [`Partitioner::on_new_batch`]; the current partition then moves
    /// to the next one, round-robin (`(current + 1) % num_partitions`). A
    /// topic starts at partition 0.
    ///
    /// The Java client picks the next partition at random (weighted by queue
    /// sizes since KIP-794); seglog moves round-robin so runs are
    /// reproducible, which keeps the point of the strategy: whole batches go
    /// to one partition, and over many batches all partitions get an even
    /// share.
    Sticky,
    /// Each keyless record goes to the next partition of its topic in turn:
    /// 0, 1, ..., n - 1, 0, ... (per topic, starting at 0), like Kafka's
    /// `RoundRobinPartitioner`. Unlike that Java class, keyed records are
    /// still hashed, so keys keep their partition.
    /// [`Partitioner::on_new_batch`] is a no-op.
    RoundRobin,
}

/// Chooses the partition of each record a producer sends, like the Java
/// client: an explicit partition wins, a keyed record goes to
/// [`partition_for_key`], and a keyless record follows the
/// [`KeylessStrategy`].
///
/// Cheap to create and `Send + Sync`: share one per producer (for example
/// behind an `Arc`). The only state is one `u32` per topic that has seen a
/// keyless record, behind a mutex held for a hash-map lookup.
#[derive(Debug)]
pub struct Partitioner {
    strategy: KeylessStrategy,
    /// Per topic: the current partition ([`KeylessStrategy::Sticky`]) or the
    /// next partition ([`KeylessStrategy::RoundRobin`]). A missing topic
    /// means 0. Values are reduced modulo the partition count on use, so a
    /// changed partition count never yields an out-of-range partition.
    topics: Mutex<HashMap<String, u32>>,
}

impl Partitioner {
    /// A partitioner with Kafka's default, [`KeylessStrategy::Sticky`].
    pub fn new() -> Self {
        Self::with_strategy(KeylessStrategy::Sticky)
    }

    /// A partitioner that spreads keyless records one by one,
    /// [`KeylessStrategy::RoundRobin`].
    pub fn round_robin() -> Self {
        Self::with_strategy(KeylessStrategy::RoundRobin)
    }

    /// A partitioner with the given strategy for keyless records.
    pub fn with_strategy(strategy: KeylessStrategy) -> Self {
        Partitioner {
            strategy,
            topics: Mutex::new(HashMap::new()),
        }
    }

    /// The strategy for keyless records.
    pub fn strategy(&self) -> KeylessStrategy {
        self.strategy
    }

    /// The partition for a record of `topic` with `key`, for a topic of
    /// `num_partitions` partitions.
    ///
    /// * `explicit` (the record names its partition) wins and is returned
    ///   as is; checking it against the partition count is the caller's job,
    ///   as in the Java client.
    /// * Otherwise a keyed record (an empty key is a key) goes to
    ///   [`partition_for_key`].
    /// * Otherwise the [`KeylessStrategy`] decides.
    ///
    /// # Panics
    ///
    /// If `explicit` is `None` and `num_partitions` is 0.
    pub fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        explicit: Option<u32>,
        num_partitions: u32,
    ) -> u32 {
        if let Some(partition) = explicit {
            return partition;
        }
        if let Some(key) = key {
            return partition_for_key(key, num_partitions);
        }
        assert!(num_partitions > 0, "a topic has at least one partition");
        let mut topics = self.topics.lock();
        match self.strategy {
            KeylessStrategy::Sticky => topics.get(topic).map_or(0, |p| p % num_partitions),
            KeylessStrategy::RoundRobin => {
                let next = match topics.get_mut(topic) {
                    Some(next) => next,
                    None => topics.entry(topic.to_owned()).or_insert(0),
                };
                let partition = *next % num_partitions;
                *next = (partition + 1) % num_partitions;
                partition
            }
        }
    }

    /// Tells the partitioner that the producer started a new batch for
    /// `topic` (the batch of the current sticky partition is full or sent).
    ///
    /// With [`KeylessStrategy::Sticky`] the topic's current partition moves
    /// to the next one, `(current + 1) % num_partitions`; keyless records go
    /// there from now on. With [`KeylessStrategy::RoundRobin`], or when
    /// `num_partitions` is 0, this does nothing.
    pub fn on_new_batch(&self, topic: &str, num_partitions: u32) {
        if self.strategy != KeylessStrategy::Sticky || num_partitions == 0 {
            return;
        }
        let mut topics = self.topics.lock();
        match topics.get_mut(topic) {
            Some(current) => *current = (*current % num_partitions + 1) % num_partitions,
            None => {
                topics.insert(topic.to_owned(), 1 % num_partitions);
            }
        }
    }
}

impl Default for Partitioner {
    /// Same as [`Partitioner::new`]: sticky.
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;

    /// Kafka's own vectors: `UtilsTest.testMurmur2` in apache/kafka,
    /// clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java.
    /// The same six appear in franz-go (pkg/kgo/partitioner_test.go,
    /// `TestMurmur2KafkaVectors`) and in burdiyan/kafkautil.
    const KAFKA_UTILS_TEST: &[(&[u8], i32)] = &[
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107),
    ];

    /// burdiyan/kafkautil, partitioner_test.go `TestMurmur2` ("generated
    /// offline using JVM Kafka client for version 1.0.0"; also imported into
    /// other Go clients): a binary key with a two-byte tail.
    const KAFKAUTIL_BINARY: (&[u8], i32) = (&[12, 42, 56, 24, 109, 111], 274_204_207);

    /// librdkafka, src/rdmurmur2.c `unittest_murmur2` (`java_murmur2_results`,
    /// given there as the hex bits of the Java int). The "+1".."+3" entries are
    /// suffixes of the first string of their group (librdkafka tests unaligned
    /// pointers with them); together they cover tails of 0, 1, 2 and 3 bytes.
    const LIBRDKAFKA: &[(&[u8], u32)] = &[
        (b"kafka", 0xd067_cf64),
        (b"giberish123456789", 0x8f55_2b0c),
        (b"1234", 0x9fc9_7b14),
        (b"234", 0xe7c0_09ca),
        (b"34", 0x8739_30da),
        (b"4", 0x5a4b_5ca1),
        (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x7842_4f1c),
        (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62_b377),
        (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4_e09e),
        (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8_b43f),
        (b"", 0x106e_08d9),
    ];

    /// kafka-python (dpkp/kafka-python), test/test_partitioner.py
    /// `test_murmur2_java_compatibility`: partitions out of 1000 "compare[d]
    /// with output from Kafka's org.apache.kafka.clients.producer.Partitioner".
    const KAFKA_PYTHON_PARTITIONS_OF_1000: &[(&[u8], u32)] = &[
        (b"", 681),
        (b"a", 524),
        (b"ab", 434),
        (b"abc", 107),
        (b"123456789", 566),
        (b"\x00 ", 742),
    ];

    /// Keys whose murmur2 is `i32::MIN` and `-1`, constructed here (murmur2 of
    /// a 4-byte key is a bijection: every step is an odd multiplication or an
    /// xor-shift, each invertible) and checked by `murmur2` itself below.
    const KEY_HASHING_TO_MIN: [u8; 4] = [167, 214, 80, 108];
    const KEY_HASHING_TO_MINUS_ONE: [u8; 4] = [165, 212, 48, 92];

    /// A second murmur2, written the way the Java code reads: signed `i32`
    /// arithmetic with `>>>` as a logical shift of the bits, Java's `switch`
    /// fall-through spelled out.
    fn java_style_murmur2(data: &[u8]) -> i32 {
        let ushr = |x: i32, s: u32| ((x as u32) >> s) as i32;
        let length = data.len() as i32;
        let m = 0x5bd1_e995_i32;
        let mut h = (0x9747_b28c_u32 as i32) ^ length;
        let length4 = length / 4;
        for i in 0..length4 {
            let i4 = (i * 4) as usize;
            let mut k = i32::from(data[i4])
                .wrapping_add(i32::from(data[i4 + 1]) << 8)
                .wrapping_add(i32::from(data[i4 + 2]) << 16)
                .wrapping_add(i32::from(data[i4 + 3]) << 24);
            k = k.wrapping_mul(m);
            k ^= ushr(k, 24);
            k = k.wrapping_mul(m);
            h = h.wrapping_mul(m);
            h ^= k;
        }
        let base = (length & !3) as usize;
        let rem = length % 4;
        if rem == 3 {
            h ^= i32::from(data[base + 2]) << 16;
        }
        if rem >= 2 {
            h ^= i32::from(data[base + 1]) << 8;
        }
        if rem >= 1 {
            h ^= i32::from(data[base]);
            h = h.wrapping_mul(m);
        }
        h ^= ushr(h, 13);
        h = h.wrapping_mul(m);
        h ^= ushr(h, 15);
        h
    }

    #[test]
    fn murmur2_matches_kafka_utils_test() {
        for &(key, expected) in KAFKA_UTILS_TEST {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
        let (key, expected) = KAFKAUTIL_BINARY;
        assert_eq!(murmur2(key), expected);
    }

    #[test]
    fn murmur2_matches_librdkafka() {
        for &(key, bits) in LIBRDKAFKA {
            assert_eq!(
                murmur2(key),
                bits as i32,
                "{}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn partition_for_key_matches_kafka_python() {
        for &(key, partition) in KAFKA_PYTHON_PARTITIONS_OF_1000 {
            assert_eq!(partition_for_key(key, 1000), partition, "{key:?}");
        }
    }

    #[test]
    fn partition_for_key_is_to_positive_modulo() {
        // toPositive of the UtilsTest values (the ExpectedPositive column of
        // burdiyan/kafkautil's test).
        assert_eq!(to_positive(murmur2(b"21")), 1_173_551_340);
        assert_eq!(to_positive(murmur2(b"foobar")), 1_357_151_166);
        assert_eq!(
            to_positive(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")),
            2_088_585_677
        );
        assert_eq!(partition_for_key(b"21", 12), 1_173_551_340 % 12);
        assert_eq!(partition_for_key(b"foobar", 10), 6);
        assert_eq!(partition_for_key(b"abc", 1), 0);
    }

    #[test]
    fn to_positive_is_not_abs() {
        // A negative hash from Kafka's table: masking and abs disagree.
        let h = murmur2(b"21");
        assert!(h < 0);
        assert_eq!(to_positive(h), 1_173_551_340);
        assert_ne!(to_positive(h), h.wrapping_abs());
        assert_ne!(partition_for_key(b"21", 10), (h.wrapping_abs() as u32) % 10);

        // A key hashing to i32::MIN: Java's Math.abs would leave it negative
        // (and a negative partition); toPositive gives 0.
        assert_eq!(murmur2(&KEY_HASHING_TO_MIN), i32::MIN);
        assert_eq!(i32::MIN.wrapping_abs(), i32::MIN);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(partition_for_key(&KEY_HASHING_TO_MIN, 7), 0);

        // A key hashing to -1: toPositive gives i32::MAX, abs gives 1.
        assert_eq!(murmur2(&KEY_HASHING_TO_MINUS_ONE), -1);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(partition_for_key(&KEY_HASHING_TO_MINUS_ONE, 10), 7); // 2147483647 % 10
        assert_ne!(partition_for_key(&KEY_HASHING_TO_MINUS_ONE, 10), 1);

        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(i32::MAX), i32::MAX);
        assert_eq!(to_positive(42), 42);
    }

    #[test]
    #[should_panic(expected = "at least one partition")]
    fn zero_partitions_panics() {
        partition_for_key(b"k", 0);
    }

    #[test]
    fn explicit_partition_wins() {
        for partitioner in [Partitioner::new(), Partitioner::round_robin()] {
            assert_eq!(partitioner.partition("t", Some(b"21"), Some(3), 12), 3);
            assert_eq!(partitioner.partition("t", None, Some(5), 12), 5);
            // Returned as is, whatever the partition count.
            assert_eq!(partitioner.partition("t", None, Some(9), 0), 9);
        }
        // An explicit partition does not move the round-robin cursor.
        let rr = Partitioner::round_robin();
        rr.partition("t", None, Some(2), 4);
        assert_eq!(rr.partition("t", None, None, 4), 0);
    }

    #[test]
    fn keyed_records_are_stable() {
        for partitioner in [Partitioner::new(), Partitioner::round_robin()] {
            for _ in 0..5 {
                for &(key, _) in KAFKA_UTILS_TEST {
                    assert_eq!(
                        partitioner.partition("orders", Some(key), None, 12),
                        partition_for_key(key, 12)
                    );
                }
                partitioner.on_new_batch("orders", 12);
                // Keyless records in between do not disturb keyed ones.
                partitioner.partition("orders", None, None, 12);
            }
            // An empty key is a key, not "no key".
            assert_eq!(partitioner.partition("t", Some(b""), None, 1000), 681);
        }
    }

    #[test]
    fn sticky_stays_until_new_batch_then_moves_round_robin() {
        let p = Partitioner::new();
        assert_eq!(p.strategy(), KeylessStrategy::Sticky);
        for _ in 0..10 {
            assert_eq!(p.partition("t", None, None, 3), 0);
        }
        let mut seen = Vec::new();
        for _ in 0..6 {
            p.on_new_batch("t", 3);
            let current = p.partition("t", None, None, 3);
            for _ in 0..5 {
                assert_eq!(p.partition("t", None, None, 3), current);
            }
            seen.push(current);
        }
        assert_eq!(seen, [1, 2, 0, 1, 2, 0]);

        // Topics are independent.
        assert_eq!(p.partition("other", None, None, 3), 0);
        p.on_new_batch("other", 3);
        assert_eq!(p.partition("other", None, None, 3), 1);
        assert_eq!(p.partition("t", None, None, 3), 0);

        // One partition: nowhere else to go.
        p.on_new_batch("single", 1);
        assert_eq!(p.partition("single", None, None, 1), 0);
        // Zero partitions: on_new_batch is a no-op, not a panic.
        p.on_new_batch("t", 0);
        assert_eq!(p.partition("t", None, None, 3), 0);
    }

    #[test]
    fn sticky_survives_a_partition_count_change() {
        let p = Partitioner::new();
        for _ in 0..5 {
            p.on_new_batch("t", 8);
        }
        assert_eq!(p.partition("t", None, None, 8), 5);
        // Fewer partitions now: still in range.
        assert_eq!(p.partition("t", None, None, 4), 1);
        p.on_new_batch("t", 4);
        assert_eq!(p.partition("t", None, None, 4), 2);
    }

    #[test]
    fn round_robin_cycles_per_topic() {
        let p = Partitioner::round_robin();
        assert_eq!(p.strategy(), KeylessStrategy::RoundRobin);
        let got: Vec<u32> = (0..7).map(|_| p.partition("a", None, None, 3)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        // Another topic has its own cursor; on_new_batch does nothing.
        p.on_new_batch("b", 3);
        assert_eq!(p.partition("b", None, None, 3), 0);
        assert_eq!(p.partition("b", None, None, 3), 1);
        assert_eq!(p.partition("a", None, None, 3), 1);
        // Partition count shrinks: the cursor is reduced, never out of range.
        assert_eq!(p.partition("a", None, None, 2), 0);
        assert_eq!(p.partition("a", None, None, 2), 1);
    }

    #[test]
    fn round_robin_is_even_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Partitioner>();

        let p = Arc::new(Partitioner::round_robin());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let p = Arc::clone(&p);
                std::thread::spawn(move || {
                    let mut counts = [0u32; 4];
                    for _ in 0..1000 {
                        counts[p.partition("t", None, None, 4) as usize] += 1;
                    }
                    counts
                })
            })
            .collect();
        let mut total = [0u32; 4];
        for thread in threads {
            for (sum, n) in total.iter_mut().zip(thread.join().unwrap()) {
                *sum += n;
            }
        }
        assert_eq!(total, [1000; 4]);
    }

    #[test]
    fn default_is_sticky() {
        assert_eq!(Partitioner::default().strategy(), KeylessStrategy::Sticky);
        assert_eq!(
            Partitioner::with_strategy(KeylessStrategy::RoundRobin).strategy(),
            KeylessStrategy::RoundRobin
        );
    }

    proptest! {
        #[test]
        fn partition_for_key_in_range_and_deterministic(
            key in proptest::collection::vec(any::<u8>(), 0..64),
            n in 1u32..=u32::MAX,
        ) {
            let p = partition_for_key(&key, n);
            prop_assert!(p < n);
            prop_assert_eq!(p, partition_for_key(&key, n));
            prop_assert_eq!(p, (murmur2(&key) & 0x7fff_ffff) as u32 % n);
        }

        #[test]
        fn murmur2_matches_java_style_reference(
            key in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            prop_assert_eq!(murmur2(&key), java_style_murmur2(&key));
        }

        #[test]
        fn round_robin_visits_every_partition_once_per_cycle(
            n in 1u32..50,
            warmup in 0usize..100,
        ) {
            let p = Partitioner::round_robin();
            for _ in 0..warmup {
                p.partition("t", None, None, n);
            }
            let mut seen: Vec<u32> = (0..n).map(|_| p.partition("t", None, None, n)).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn java_style_reference_matches_vectors() {
        for &(key, expected) in KAFKA_UTILS_TEST {
            assert_eq!(java_style_murmur2(key), expected);
        }
    }
}
