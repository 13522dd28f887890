//! Test helpers shared by the codec modules, and `common_codec_tests!`, which
//! expands the tests every codec must pass.

// With some codecs compiled out, some helpers (or all of them) go unused.
#![cfg_attr(
    not(all(
        feature = "gzip",
        feature = "snappy",
        feature = "lz4",
        feature = "zstd"
    )),
    allow(dead_code, unused_imports, unused_macros)
)]

use proptest::test_runner::TestCaseError;
use proptest::{prop_assert, prop_assert_eq};

use crate::error::BatchError;

/// A codec under test: its name (as its `Decompression` errors carry it)
/// and its two functions.
#[derive(Clone, Copy)]
pub(super) struct Codec {
    pub(super) name: &'static str,
    pub(super) compress: fn(&[u8], &mut Vec<u8>) -> Result<(), BatchError>,
    pub(super) decompress: fn(&[u8], usize) -> Result<Vec<u8>, BatchError>,
}

/// `len` deterministic incompressible bytes (xorshift64 from `seed`).
pub(super) fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// 80 KB of a repeated 8-byte pattern, then `random_len` pseudo-random
/// bytes: input with both matches and literals.
pub(super) fn repetitive_then_random(random_len: usize) -> Vec<u8> {
    let mut input = b"abcdefgh".repeat(10_000);
    input.extend(pseudo_random(random_len, 5));
    input
}

/// `input` compressed on its own.
pub(super) fn compressed(codec: Codec, input: &[u8]) -> Vec<u8> {
    concatenated(codec, &[input])
}

/// Each of `parts` compressed as a stream of its own, one after another.
pub(super) fn concatenated(codec: Codec, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        (codec.compress)(part, &mut out).unwrap();
    }
    out
}

/// Checks that `input` comes back from its compressed form with a limit of
/// exactly its length, and returns the compressed form.
pub(super) fn assert_roundtrip(codec: Codec, input: &[u8]) -> Vec<u8> {
    let out = compressed(codec, input);
    assert_eq!((codec.decompress)(&out, input.len()).unwrap(), input);
    out
}

/// Round-trips empty input; `expected`, if given, is its exact stream.
pub(super) fn assert_roundtrip_empty(codec: Codec, expected: Option<&[u8]>) {
    let out = assert_roundtrip(codec, b"");
    if let Some(expected) = expected {
        assert_eq!(out, expected);
    }
}

/// Round-trips 300 KB of a repeated record, which must shrink to less than
/// `1 / ratio` of its size.
pub(super) fn assert_compressible(codec: Codec, ratio: usize) {
    let input: Vec<u8> = b"key-0001 value-0001 "
        .iter()
        .copied()
        .cycle()
        .take(300_000)
        .collect();
    let out = compressed(codec, &input);
    assert!(out.len() < input.len() / ratio, "{} bytes", out.len());
    assert_eq!((codec.decompress)(&out, input.len()).unwrap(), input);
}

/// Checks that compressing appends to what `out` already holds, and returns
/// `b"prefix"` followed by the stream of `b"abc"`.
pub(super) fn assert_compress_appends(codec: Codec) -> Vec<u8> {
    let mut out = b"prefix".to_vec();
    (codec.compress)(b"abc", &mut out).unwrap();
    assert_eq!(&out[..6], b"prefix");
    assert_eq!((codec.decompress)(&out[6..], 3).unwrap(), b"abc");
    out
}

/// Checks that 64 MiB of zeros (compressed to less than `max_bomb_len`
/// bytes, if given) are refused under a 1 MiB limit.
pub(super) fn assert_bomb_refused(codec: Codec, max_bomb_len: Option<usize>) {
    let zeros = vec![0u8; 64 << 20];
    let bomb = compressed(codec, &zeros);
    drop(zeros);
    if let Some(max_bomb_len) = max_bomb_len {
        assert!(bomb.len() < max_bomb_len);
    }
    let start = std::time::Instant::now();
    assert_eq!(
        (codec.decompress)(&bomb, 1 << 20),
        Err(BatchError::DecompressedTooLarge { max: 1 << 20 })
    );
    eprintln!("{} bomb refused in {:?}", codec.name, start.elapsed());
}

/// Checks that `input` decompresses within a limit of exactly its length
/// and is refused with one byte less.
pub(super) fn assert_limit_inclusive(codec: Codec, input: &[u8]) {
    let out = compressed(codec, input);
    let len = input.len();
    assert_eq!((codec.decompress)(&out, len).unwrap(), input);
    assert_eq!(
        (codec.decompress)(&out, len - 1),
        Err(BatchError::DecompressedTooLarge { max: len - 1 })
    );
}

/// Checks that `result` is a `Decompression` error of the codec `name`.
pub(super) fn assert_decode_error(name: &str, result: Result<Vec<u8>, BatchError>) {
    match result {
        Err(BatchError::Decompression { codec, .. }) if codec == name => {}
        other => panic!("expected a {name} Decompression error, got {other:?}"),
    }
}

/// Checks that the compressed `input` cut short at every `step`-th byte (and,
/// when `step` skips some, at each of its last 20 bytes) is a decoding error.
pub(super) fn assert_truncations_are_errors(codec: Codec, input: &[u8], step: usize) {
    let out = compressed(codec, input);
    let n = out.len();
    let tail = if step > 1 { n - 20 } else { n };
    for cut in (0..n).step_by(step).chain(tail..n) {
        assert_decode_error(codec.name, (codec.decompress)(&out[..cut], 1 << 20));
    }
}

/// In a proptest: decoding returned data or one of the two expected errors.
pub(super) fn prop_assert_clean_outcome(
    result: Result<Vec<u8>, BatchError>,
) -> Result<(), TestCaseError> {
    match result {
        Ok(_)
        | Err(BatchError::Decompression { .. })
        | Err(BatchError::DecompressedTooLarge { .. }) => {}
        Err(other) => prop_assert!(false, "unexpected error {other:?}"),
    }
    Ok(())
}

/// In a proptest: compresses `data` reduced to `alphabet` symbols, xors the
/// `flips` into the stream and checks that decoding it fails cleanly.
pub(super) fn prop_damaged_stream(
    codec: Codec,
    data: &[u8],
    flips: &[(usize, u8)],
    alphabet: u16,
) -> Result<(), TestCaseError> {
    // Small alphabets make the encoder emit matches and entropy
    // tables, not just literals, for the flips to land in.
    let data: Vec<u8> = data
        .iter()
        .map(|&b| (u16::from(b) % alphabet) as u8)
        .collect();
    let mut out = compressed(codec, &data);
    for &(at, xor) in flips {
        let i = at % out.len();
        out[i] ^= xor;
    }
    prop_assert_clean_outcome((codec.decompress)(&out, 1 << 16))
}

/// In a proptest: `data` comes back from its compressed form.
pub(super) fn prop_roundtrip(codec: Codec, data: &[u8]) -> Result<(), TestCaseError> {
    let out = compressed(codec, data);
    prop_assert_eq!((codec.decompress)(&out, data.len()).unwrap(), data);
    Ok(())
}

/// Expands, in a codec's test module, the tests every codec must pass:
///
/// ```ignore
/// common_codec_tests! {
///     codec: GZIP,                  // a `Codec`
///     compressible_ratio: 50,       // 300 KB of a repeated record shrink more
///     roundtrip_max_len: 8192,      // longest input of the `roundtrips` proptest
///     empty_stream: &[...],         // optional: the exact stream of empty input
///     bomb_max_len: 1 << 20,        // optional: the 64 MiB zero bomb is shorter
/// }
/// ```
macro_rules! common_codec_tests {
    (@option) => {
        None
    };
    (@option $value:expr) => {
        Some($value)
    };
    (
        codec: $codec:expr,
        compressible_ratio: $ratio:expr,
        roundtrip_max_len: $max_len:expr,
        $(empty_stream: $empty:expr,)?
        $(bomb_max_len: $bomb_max:expr,)?
    ) => {
        #[test]
        fn roundtrip_empty() {
            $crate::record::compression::test_support::assert_roundtrip_empty(
                $codec,
                $crate::record::compression::test_support::common_codec_tests!(
                    @option $($empty)?
                ),
            );
        }

        #[test]
        fn roundtrip_small() {
            $crate::record::compression::test_support::assert_roundtrip($codec, b"hello, kafka");
        }

        #[test]
        fn roundtrip_random_mebibyte() {
            $crate::record::compression::test_support::assert_roundtrip(
                $codec,
                &$crate::record::compression::test_support::pseudo_random(
                    1 << 20,
                    0x9E37_79B9_7F4A_7C15,
                ),
            );
        }

        #[test]
        fn roundtrip_compressible() {
            $crate::record::compression::test_support::assert_compressible($codec, $ratio);
        }

        #[test]
        fn compress_appends() {
            $crate::record::compression::test_support::assert_compress_appends($codec);
        }

        #[test]
        fn bomb_is_refused_without_inflating_it() {
            $crate::record::compression::test_support::assert_bomb_refused(
                $codec,
                $crate::record::compression::test_support::common_codec_tests!(
                    @option $($bomb_max)?
                ),
            );
        }

        #[test]
        fn empty_input_is_an_error() {
            $crate::record::compression::test_support::assert_decode_error(
                $codec.name,
                ($codec.decompress)(b"", 100),
            );
        }

        // Robustness properties: default config (256 cases; PROPTEST_CASES
        // raises it for a longer run).
        ::proptest::proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(
                data in ::proptest::collection::vec(::proptest::arbitrary::any::<u8>(), 0..2048),
            ) {
                $crate::record::compression::test_support::prop_assert_clean_outcome(
                    ($codec.decompress)(&data, 1 << 16),
                )?;
            }

            #[test]
            fn damaged_streams_never_panic(
                data in ::proptest::collection::vec(::proptest::arbitrary::any::<u8>(), 0..4096),
                flips in ::proptest::collection::vec(
                    (::proptest::arbitrary::any::<usize>(), ::proptest::arbitrary::any::<u8>()),
                    1..8,
                ),
                alphabet in ::proptest::prop_oneof![
                    ::proptest::strategy::Just(256u16),
                    ::proptest::strategy::Just(4),
                    ::proptest::strategy::Just(16),
                ],
            ) {
                $crate::record::compression::test_support::prop_damaged_stream(
                    $codec, &data, &flips, alphabet,
                )?;
            }
        }

        // Round trips of inputs up to `roundtrip_max_len`: fewer cases.
        ::proptest::proptest! {
            #![proptest_config(::proptest::test_runner::Config::with_cases(64))]

            #[test]
            fn roundtrips(
                data in ::proptest::collection::vec(::proptest::arbitrary::any::<u8>(), 0..$max_len),
            ) {
                $crate::record::compression::test_support::prop_roundtrip($codec, &data)?;
            }
        }
    };
}

pub(super) use common_codec_tests;
