//! Rewriting a batch without some of its records by copying the kept
//! records' bytes, instead of decoding and re-encoding each one.
//!
//! A record's bytes depend on its batch only through its offset and
//! timestamp deltas, against baseOffset and baseTimestamp. Both stay, so
//! the kept records are copied as they are (and recompressed as one block
//! with the batch's codec); the header keeps every field but the length,
//! recordCount, maxTimestamp (under CreateTime, the largest kept timestamp,
//! as Kafka's rewrite computes it) and the CRC. Kafka's cleaner re-encodes
//! instead, which also moves baseTimestamp to the first kept record; the
//! records read back are the same.

use crate::error::BatchError;
use crate::record::compression::{self, Compression};
use crate::record::layout as l;
use crate::record::varint::get_varint;
use crate::record::{BatchHeader, RecordBatch, TimestampType, set_crc};

/// Writes into `out` the batch `batch` holding only the records whose
/// `keep` flag is set. `data` is its decoded records section, `keep` one
/// flag per record; `section` is scratch space for compressed batches.
pub(crate) fn splice(
    batch: &RecordBatch,
    data: &[u8],
    keep: impl Iterator<Item = bool>,
    max_timestamp: i64,
    section: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), BatchError> {
    out.clear();
    out.extend_from_slice(&batch.as_bytes()[..l::HEADER_SIZE]);
    let codec = batch.compression()?;
    let kept = if codec == Compression::None {
        copy_kept(data, keep, out)?
    } else {
        section.clear();
        let kept = copy_kept(data, keep, section)?;
        compression::compress(codec, section, out)?;
        kept
    };
    let length =
        i32::try_from(out.len() - l::LOG_OVERHEAD).map_err(|_| BatchError::BadLength(i32::MAX))?;
    out[l::LENGTH..l::PARTITION_LEADER_EPOCH].copy_from_slice(&length.to_be_bytes());
    out[l::RECORD_COUNT..l::HEADER_SIZE].copy_from_slice(&kept.to_be_bytes());
    if batch.timestamp_type() == TimestampType::CreateTime {
        out[l::MAX_TIMESTAMP..l::PRODUCER_ID].copy_from_slice(&max_timestamp.to_be_bytes());
    }
    set_crc(out);
    Ok(())
}

/// Appends the bytes of the kept records of `data` to `out`; returns how
/// many were kept.
fn copy_kept(
    data: &[u8],
    keep: impl Iterator<Item = bool>,
    out: &mut Vec<u8>,
) -> Result<i32, BatchError> {
    let mut pos = 0;
    let mut kept = 0;
    for (index, keep) in keep.enumerate() {
        let end = record_end(data, pos).ok_or(BatchError::BadRecord {
            index: index as u32,
            position: pos,
            detail: "record length runs past the records section",
        })?;
        if keep {
            out.extend_from_slice(&data[pos..end]);
            kept += 1;
        }
        pos = end;
    }
    Ok(kept)
}

/// Where the record starting at `pos` ends (after its length varint and
/// the bytes it counts).
fn record_end(data: &[u8], pos: usize) -> Option<usize> {
    let (length, n) = get_varint(data.get(pos..)?).ok()?;
    let end = pos
        .checked_add(n)?
        .checked_add(usize::try_from(length).ok()?)?;
    (end <= data.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BatchBuilder, BatchView, DecodeLimits, Header, Record};
    use bytes::Bytes;

    fn batch(codec: Compression) -> RecordBatch {
        let mut b = BatchBuilder::new(100)
            .compression(codec)
            .producer(5, 1, 10)
            .partition_leader_epoch(3);
        for i in 0..4i64 {
            let r = Record::keyed(1_000 + 10 * i, format!("k{i}"), format!("v{i}"))
                .with_header(Header::new("h", "x"));
            b.push(&r).unwrap();
        }
        RecordBatch::from_bytes(Bytes::from(b.build().unwrap())).unwrap()
    }

    #[test]
    fn keeps_the_chosen_records_with_their_offsets() {
        for codec in [Compression::None, Compression::Lz4, Compression::Gzip]
            .into_iter()
            .filter(|c| c.is_available())
        {
            let original = batch(codec);
            let set = original.records(&DecodeLimits::default()).unwrap();
            let all = set.to_records().unwrap();
            let (mut section, mut out) = (Vec::new(), Vec::new());
            let keep = [true, false, true, false];
            splice(
                &original,
                set.data(),
                keep.into_iter(),
                1_020,
                &mut section,
                &mut out,
            )
            .unwrap();
            let v = BatchView::parse(&out).unwrap();
            v.validate(&DecodeLimits::default()).unwrap();
            assert_eq!(v.record_count(), 2);
            assert_eq!((v.base_offset(), v.last_offset()), (100, 103));
            assert_eq!((v.max_timestamp(), v.base_timestamp()), (1_020, 1_000));
            assert_eq!((v.producer_id(), v.base_sequence()), (5, 10));
            assert_eq!(v.partition_leader_epoch(), 3);
            assert_eq!(v.compression().unwrap(), codec);
            let got = v
                .records(&DecodeLimits::default())
                .unwrap()
                .to_records()
                .unwrap();
            assert_eq!(got, vec![all[0].clone(), all[2].clone()]);
        }
    }

    #[test]
    fn a_damaged_section_is_an_error() {
        let original = batch(Compression::None);
        let set = original.records(&DecodeLimits::default()).unwrap();
        let (mut section, mut out) = (Vec::new(), Vec::new());
        let short = &set.data()[..set.data().len() - 1];
        let err = splice(
            &original,
            short,
            [true; 4].into_iter(),
            0,
            &mut section,
            &mut out,
        );
        assert!(matches!(err, Err(BatchError::BadRecord { index: 3, .. })));
    }
}
