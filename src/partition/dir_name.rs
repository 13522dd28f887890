//! Partition directory names: `<topic>-<partition>`, as Kafka names them.

/// The directory name of a partition: `orders-3`.
pub fn partition_dir_name(topic: &str, partition: u32) -> String {
    format!("{topic}-{partition}")
}

/// Splits a directory name into topic and partition at the last dash;
/// `None` when it is not `<topic>-<number>` (Kafka's `.deleted`/`-future`/
/// `-stray` suffixed directories included).
pub fn parse_partition_dir(name: &str) -> Option<(&str, u32)> {
    let (topic, number) = name.rsplit_once('-')?;
    if topic.is_empty() || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if number.len() > 1 && number.starts_with('0') {
        return None;
    }
    number.parse().ok().map(|n| (topic, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(partition_dir_name("orders", 3), "orders-3");
        assert_eq!(parse_partition_dir("orders-3"), Some(("orders", 3)));
        assert_eq!(
            parse_partition_dir("__consumer_offsets-49"),
            Some(("__consumer_offsets", 49))
        );
        assert_eq!(parse_partition_dir("my-topic-12"), Some(("my-topic", 12)));
        for bad in [
            "orders",
            "-3",
            "orders-",
            "orders-x",
            "orders-03",
            "t-1.abc-delete",
            "t-1-future",
        ] {
            assert_eq!(parse_partition_dir(bad), None, "{bad}");
        }
    }
}
