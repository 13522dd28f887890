//! Property tests of the batch codec: encode -> decode is the identity for
//! arbitrary records and every codec; arbitrary bytes never panic; any
//! truncation or CRC-covered bit flip is rejected.

use bytes::Bytes;
use proptest::prelude::*;
use seglog::BatchError;
use seglog::record::{
    BatchBuilder, BatchHeader, BatchView, Compression, DecodeLimits, Header, Record,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn bytes_strategy(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Bytes::new())),
        6 => proptest::collection::vec(any::<u8>(), 0..max).prop_map(|v| Some(Bytes::from(v))),
    ]
}

fn record_strategy() -> impl Strategy<Value = Record> {
    let header = ("[a-z]{0,8}", bytes_strategy(16)).prop_map(|(key, value)| Header { key, value });
    (
        any::<i64>(),
        bytes_strategy(32),
        prop_oneof![4 => bytes_strategy(256), 1 => bytes_strategy(70_000)],
        proptest::collection::vec(header, 0..4),
    )
        .prop_map(|(timestamp, key, value, headers)| Record {
            timestamp: timestamp / 4,
            key,
            value,
            headers,
        })
}

fn available_codecs() -> Vec<Compression> {
    Compression::ALL
        .into_iter()
        .filter(|c| c.is_available())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn encode_decode_is_identity(
        records in proptest::collection::vec(record_strategy(), 0..20),
        base in 0i64..i64::MAX / 2,
        codec in proptest::sample::select(available_codecs()),
    ) {
        let mut b = BatchBuilder::new(base).compression(codec);
        for r in &records {
            b.push(r).unwrap();
        }
        let bytes = b.build().unwrap();
        let view = BatchView::parse(&bytes).unwrap();
        let limits = DecodeLimits::default();
        view.validate(&limits).unwrap();
        prop_assert_eq!(view.compression().unwrap(), codec);
        prop_assert_eq!(view.record_count() as usize, records.len());
        let decoded = view.records(&limits).unwrap().to_records().unwrap();
        prop_assert_eq!(decoded.len(), records.len());
        for (i, ((offset, got), want)) in decoded.iter().zip(&records).enumerate() {
            prop_assert_eq!(*offset, base + i as i64);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = DecodeLimits { max_decompressed_bytes: 1 << 16 };
        for (_, view) in seglog::record::batches(&data).flatten() {
            let _ = view.validate(&limits);
            if let Ok(set) = view.records(&limits) {
                for r in set.iter().flatten() {
                    let _ = r.to_record();
                }
            }
        }
    }

    /// A valid header with an arbitrary records section (and a CRC fixed up
    /// to match, so the record decoder itself is exercised) never panics.
    #[test]
    fn arbitrary_records_section_never_panics(
        section in proptest::collection::vec(any::<u8>(), 0..400),
        count in -2i32..40,
        codec in 0u16..6,
    ) {
        let mut bytes = BatchBuilder::new(0).build().unwrap();
        bytes.extend_from_slice(&section);
        let len = (bytes.len() - 12) as i32;
        bytes[8..12].copy_from_slice(&len.to_be_bytes());
        bytes[21..23].copy_from_slice(&codec.to_be_bytes());
        bytes[57..61].copy_from_slice(&count.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        let view = BatchView::parse(&bytes).unwrap();
        let _ = view.validate(&DecodeLimits { max_decompressed_bytes: 1 << 16 });
    }

    #[test]
    fn truncation_and_bit_flips_are_rejected(
        records in proptest::collection::vec(record_strategy(), 1..6),
        codec in proptest::sample::select(available_codecs()),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut b = BatchBuilder::new(7).compression(codec);
        for r in &records {
            b.push(r).unwrap();
        }
        let bytes = b.build().unwrap();
        let short = &bytes[..cut.index(bytes.len())];
        let truncated = BatchView::parse(short).unwrap_err();
        prop_assert!(
            matches!(truncated, BatchError::Truncated { .. }),
            "truncation gave {:?}",
            truncated
        );
        let mut flipped = bytes.clone();
        let at = 21 + flip.index(bytes.len() - 21);
        flipped[at] ^= 1 << bit;
        let err = BatchView::parse(&flipped).unwrap().validate(&DecodeLimits::default()).unwrap_err();
        prop_assert!(matches!(err, BatchError::CrcMismatch { .. }), "flip at {} gave {:?}", at, err);
    }
}

#[test]
fn a_compression_bomb_is_an_error() {
    for codec in available_codecs()
        .into_iter()
        .filter(|&c| c != Compression::None)
    {
        let mut b = BatchBuilder::new(0).compression(codec);
        b.push(&Record::new(0, vec![0u8; 8 << 20])).unwrap();
        let bytes = b.build().unwrap();
        assert!(bytes.len() < 1 << 20, "{codec}: {}", bytes.len());
        let view = BatchView::parse(&bytes).unwrap();
        let err = view
            .records(&DecodeLimits {
                max_decompressed_bytes: 1 << 20,
            })
            .unwrap_err();
        assert_eq!(
            err,
            BatchError::DecompressedTooLarge { max: 1 << 20 },
            "{codec}"
        );
    }
}

/// Built without a codec's feature (`cargo test --no-default-features`), a
/// batch using it fails with an error naming the feature.
#[test]
fn a_compiled_out_codec_names_its_feature() {
    for codec in Compression::ALL.into_iter().filter(|c| !c.is_available()) {
        let mut builder = BatchBuilder::new(0).compression(codec);
        builder.push(&Record::new(0, "x")).unwrap();
        let err = builder.build().unwrap_err();
        assert_eq!(
            err,
            BatchError::CodecUnavailable {
                codec: codec.name(),
                feature: codec.feature()
            }
        );
        // A stored batch of that codec: one record, codec attribute set.
        let mut builder = BatchBuilder::new(0);
        builder.push(&Record::new(0, "x")).unwrap();
        let mut bytes = builder.build().unwrap();
        bytes[22] = codec.id();
        let err = seglog::Error::from(
            BatchView::parse(&bytes)
                .unwrap()
                .records(&DecodeLimits::default())
                .unwrap_err(),
        );
        assert!(
            err.to_string().contains(&format!("`{}`", codec.feature())),
            "{err}"
        );
    }
}
