//! Grouping the segments to rewrite into runs that each become one cleaned
//! segment (Kafka's `groupSegmentsBySize`), so segments that compaction
//! shrank merge instead of piling up.

use crate::partition::SegmentInfo;

/// Splits consecutive segments into groups whose total `.log` size stays
/// within `max_bytes` (`segment.bytes`) and whose offsets stay within
/// Kafka's 32-bit range relative to the group's first base offset. A
/// segment alone in its group may exceed `max_bytes`.
///
/// Kafka also bounds the sum of the index sizes by `segment.index.bytes`;
/// seglog rolls the cleaned output to a further segment whenever an index
/// fills instead (see `output`).
pub(crate) fn group_segments(segments: &[SegmentInfo], max_bytes: u64) -> Vec<Vec<SegmentInfo>> {
    let mut groups: Vec<Vec<SegmentInfo>> = Vec::new();
    for segment in segments {
        match groups.last_mut() {
            Some(group) if fits(group, segment, max_bytes) => group.push(*segment),
            _ => groups.push(vec![*segment]),
        }
    }
    groups
}

fn fits(group: &[SegmentInfo], next: &SegmentInfo, max_bytes: u64) -> bool {
    let size: u64 = group.iter().map(|s| s.size).sum();
    let first_base = group.first().map_or(next.base_offset, |s| s.base_offset);
    let last_offset = next.next_offset.saturating_sub(1).max(next.base_offset);
    size.saturating_add(next.size) <= max_bytes
        && last_offset.saturating_sub(first_base) <= i64::from(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(base: i64, next: i64, size: u64) -> SegmentInfo {
        SegmentInfo {
            base_offset: base,
            next_offset: next,
            size,
            max_timestamp: 0,
            active: false,
        }
    }

    fn bases(groups: &[Vec<SegmentInfo>]) -> Vec<Vec<i64>> {
        groups
            .iter()
            .map(|g| g.iter().map(|s| s.base_offset).collect())
            .collect()
    }

    #[test]
    fn groups_by_size() {
        let segs = [
            info(0, 10, 400),
            info(10, 20, 500),
            info(20, 30, 200),
            info(30, 40, 1_500),
            info(40, 40, 0),
            info(45, 50, 100),
        ];
        assert_eq!(
            bases(&group_segments(&segs, 1_000)),
            vec![vec![0, 10], vec![20], vec![30], vec![40, 45]]
        );
        assert_eq!(bases(&group_segments(&segs, 10_000)).len(), 1);
        assert!(group_segments(&[], 1_000).is_empty());
    }

    #[test]
    fn groups_stay_within_32_bit_relative_offsets() {
        let far = i64::from(i32::MAX);
        let segs = [info(0, 10, 1), info(far - 5, far, 1), info(far, far + 5, 1)];
        assert_eq!(
            bases(&group_segments(&segs, 1_000)),
            vec![vec![0, far - 5], vec![far]]
        );
    }
}
