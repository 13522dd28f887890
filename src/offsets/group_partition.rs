//! Which `__consumer_offsets` partition holds a group: Kafka's
//! `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`
//! (`GroupMetadataManager.partitionFor`, `GroupCoordinatorService.partitionFor`).

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over the
/// string's UTF-16 code units, in wrapping 32-bit arithmetic. A character
/// outside the Basic Multilingual Plane counts as its two surrogates.
///
/// ```
/// use seglog::offsets::group_partition::java_string_hash;
/// assert_eq!(java_string_hash(""), 0);
/// assert_eq!(java_string_hash("a"), 97);
/// assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
/// ```
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Kafka's `Utils.abs`: the absolute value, except that `i32::MIN` (whose
/// absolute value does not fit) maps to 0, not to itself.
///
/// ```
/// use seglog::offsets::group_partition::kafka_abs;
/// assert_eq!(kafka_abs(-5), 5);
/// assert_eq!(kafka_abs(i32::MIN), 0);
/// ```
pub fn kafka_abs(n: i32) -> i32 {
    if n == i32::MIN { 0 } else { n.abs() }
}

/// The `__consumer_offsets` partition of `group` among `partitions`, as
/// Kafka's group coordinator computes it. `partitions` must not be 0.
///
/// ```
/// use seglog::offsets::group_partition::partition_for_group;
/// assert_eq!(partition_for_group("console-consumer-46999", 50), 8);
/// ```
pub fn partition_for_group(group: &str, partitions: u32) -> u32 {
    kafka_abs(java_string_hash(group)) as u32 % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_java() {
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // "Aa" and "BB" collide in Java.
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        // U+1F600 is the surrogate pair D83D DE00: 0xD83D * 31 + 0xDE00.
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(partition_for_group("polygenelubricants", 50), 0);
    }
}
