//! snappy: xerial snappy-java's stream framing (`SnappyOutputStream`), which
//! Kafka's `SnappyCompression` writes and reads.
//!
//! Framing written, as snappy-java's `SnappyOutputStream` with its default
//! 32 KiB block size writes it:
//!
//! ```text
//! header (16 bytes): 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   magic
//!                    00 00 00 01                          version 1 (big-endian i32)
//!                    00 00 00 01                          compatible version 1
//! blocks:            [big-endian i32 length][raw snappy block of at most 32 KiB input]...
//! ```
//!
//! There is no end marker and no checksum; empty input is the bare header.
//!
//! Reading follows `SnappyInputStream`: input that does not start with the
//! 8-byte magic (or is shorter than the 16-byte header) is one plain raw
//! snappy block, as `Snappy.compress(byte[])` and some non-Java clients write
//! it; a length field equal to the first four magic bytes starts a
//! concatenated stream's header. Each block's declared decompressed length is
//! checked against the remaining output budget, and against the most any
//! valid snappy block of its size can expand to, before anything is
//! allocated for it. Unlike `SnappyInputStream`, which stops silently, one to
//! three dangling bytes after the last block are reported as corruption.

use snap::raw::{Decoder, Encoder, decompress_len, max_compress_len};

use super::bounded;
use crate::error::BatchError;

const CODEC: &str = "snappy";

/// snappy-java's `SnappyCodec.MAGIC_HEADER`.
const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];

/// The full stream header: magic, version 1, compatible version 1.
const HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];

/// snappy-java's `SnappyOutputStream.DEFAULT_BLOCK_SIZE`, which Kafka uses.
const BLOCK_SIZE: usize = 32 * 1024;

/// snappy-java's `SnappyCodec.MINIMUM_COMPATIBLE_VERSION`.
const MIN_COMPATIBLE_VERSION: i32 = 1;

/// No valid raw snappy block expands more than this: the densest element,
/// a copy with a 2-byte offset, spends 3 bytes on 64 output bytes (21.3x).
const MAX_EXPANSION: usize = 22;

/// Appends `input` to `out` in xerial framing with 32 KiB blocks.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), BatchError> {
    out.reserve(HEADER.len() + 4 + max_compress_len(input.len().min(BLOCK_SIZE)));
    out.extend_from_slice(&HEADER);
    let mut encoder = Encoder::new();
    for block in input.chunks(BLOCK_SIZE) {
        let at = out.len();
        out.resize(at + 4 + max_compress_len(block.len()), 0);
        let written = encoder
            .compress(block, &mut out[at + 4..])
            .map_err(|e| bounded::corrupt(CODEC, format!("compression failed: {e}")))?;
        out.truncate(at + 4 + written);
        let len = i32::try_from(written)
            .map_err(|_| bounded::corrupt(CODEC, "compressed block too large"))?;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Decompresses xerial-framed (or plain raw) snappy of at most `max`
/// decompressed bytes.
pub(super) fn decompress(input: &[u8], max: usize) -> Result<Vec<u8>, BatchError> {
    if input.is_empty() {
        return Err(bounded::corrupt(CODEC, "empty input"));
    }
    let mut out = bounded::output_buffer(input.len(), max);
    let mut decoder = Decoder::new();
    if input.len() < HEADER.len() || input[..MAGIC.len()] != MAGIC {
        decode_block(&mut decoder, input, &mut out, max)?;
        return Ok(out);
    }
    let mut rest = &input[HEADER.len()..];
    while !rest.is_empty() {
        let Some((len_bytes, after)) = rest.split_first_chunk::<4>() else {
            return Err(bounded::corrupt(
                CODEC,
                format!("{} dangling bytes where a block length belongs", rest.len()),
            ));
        };
        if len_bytes[..] == MAGIC[..4] {
            // A concatenated stream: the rest of a 16-byte header follows.
            rest = skip_concatenated_header(rest)?;
            continue;
        }
        let len = i32::from_be_bytes(*len_bytes);
        let len = usize::try_from(len)
            .map_err(|_| bounded::corrupt(CODEC, format!("negative block length {len}")))?;
        let Some((block, after)) = after.split_at_checked(len) else {
            return Err(bounded::corrupt(
                CODEC,
                format!(
                    "truncated input: block of {len} bytes, {} present",
                    after.len()
                ),
            ));
        };
        decode_block(&mut decoder, block, &mut out, max)?;
        rest = after;
    }
    Ok(out)
}

/// Checks the 16-byte header of a concatenated stream at the start of `rest`
/// and returns what follows it.
fn skip_concatenated_header(rest: &[u8]) -> Result<&[u8], BatchError> {
    let Some((header, after)) = rest.split_first_chunk::<16>() else {
        return Err(bounded::corrupt(
            CODEC,
            "truncated input: incomplete header of a concatenated stream",
        ));
    };
    if header[..8] != MAGIC {
        return Err(bounded::corrupt(
            CODEC,
            "invalid magic in the header of a concatenated stream",
        ));
    }
    let version = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    if version < MIN_COMPATIBLE_VERSION {
        return Err(bounded::corrupt(
            CODEC,
            format!("incompatible stream version {version}"),
        ));
    }
    Ok(after)
}

/// Decodes one raw snappy block, appending to `out` within `max`.
fn decode_block(
    decoder: &mut Decoder,
    block: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<(), BatchError> {
    let declared = decompress_len(block).map_err(|e| bounded::corrupt(CODEC, e.to_string()))?;
    if declared > max.saturating_sub(out.len()) {
        return Err(BatchError::DecompressedTooLarge { max });
    }
    if declared > block.len().saturating_mul(MAX_EXPANSION) {
        return Err(bounded::corrupt(
            CODEC,
            format!(
                "a {}-byte block cannot expand to the {declared} bytes it declares",
                block.len()
            ),
        ));
    }
    bounded::reserve(out, declared, max)?;
    let at = out.len();
    out.resize(at + declared, 0);
    match decoder.decompress(block, &mut out[at..]) {
        Ok(written) if written == declared => Ok(()),
        Ok(written) => {
            out.truncate(at);
            Err(bounded::corrupt(
                CODEC,
                format!("block declared {declared} bytes but produced {written}"),
            ))
        }
        Err(e) => {
            out.truncate(at);
            Err(bounded::corrupt(CODEC, e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    fn roundtrip(input: &[u8]) {
        let mut out = Vec::new();
        compress(input, &mut out).unwrap();
        assert_eq!(decompress(&out, input.len()).unwrap(), input);
    }

    /// Splits a xerial stream into its blocks, checking the framing.
    fn blocks(stream: &[u8]) -> Vec<&[u8]> {
        assert_eq!(&stream[..16], &HEADER);
        let mut rest = &stream[16..];
        let mut blocks = Vec::new();
        while !rest.is_empty() {
            let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            blocks.push(&rest[4..4 + len]);
            rest = &rest[4 + len..];
        }
        blocks
    }

    #[test]
    fn roundtrip_empty() {
        roundtrip(b"");
    }

    #[test]
    fn roundtrip_small() {
        roundtrip(b"hello, kafka");
    }

    #[test]
    fn roundtrip_random_mebibyte() {
        roundtrip(&pseudo_random(1 << 20, 0x9E37_79B9_7F4A_7C15));
    }

    #[test]
    fn roundtrip_compressible() {
        let input: Vec<u8> = b"key-0001 value-0001 "
            .iter()
            .copied()
            .cycle()
            .take(300_000)
            .collect();
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        assert!(out.len() < input.len() / 10, "{} bytes", out.len());
        assert_eq!(decompress(&out, input.len()).unwrap(), input);
    }

    #[test]
    fn header_bytes_are_xerials() {
        let mut out = Vec::new();
        compress(b"", &mut out).unwrap();
        assert_eq!(
            out,
            [
                0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                0x00, 0x01
            ]
        );
        assert_eq!(decompress(&out, 0).unwrap(), b"");
    }

    #[test]
    fn blocks_hold_32_kib_of_input_each() {
        let input = pseudo_random(100_000, 3);
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        let blocks = blocks(&out);
        let sizes: Vec<usize> = blocks.iter().map(|b| decompress_len(b).unwrap()).collect();
        assert_eq!(sizes, [32768, 32768, 32768, 100_000 - 3 * 32768]);
        let mut joined = Vec::new();
        for block in blocks {
            joined.extend(Decoder::new().decompress_vec(block).unwrap());
        }
        assert_eq!(joined, input);
        assert_eq!(decompress(&out, input.len()).unwrap(), input);
    }

    #[test]
    fn compress_appends() {
        let mut out = b"prefix".to_vec();
        compress(b"abc", &mut out).unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(decompress(&out[6..], 3).unwrap(), b"abc");
    }

    #[test]
    fn accepts_raw_snappy() {
        let input = b"records written by Snappy.compress(byte[]) without framing".repeat(50);
        let raw = Encoder::new().compress_vec(&input).unwrap();
        assert_eq!(decompress(&raw, input.len()).unwrap(), input);
        // The empty raw block is the single byte 0.
        assert_eq!(decompress(&[0], 0).unwrap(), b"");
        assert_eq!(
            decompress(&raw, input.len() - 1),
            Err(BatchError::DecompressedTooLarge {
                max: input.len() - 1
            })
        );
    }

    #[test]
    fn accepts_concatenated_streams() {
        let mut out = Vec::new();
        compress(b"first ", &mut out).unwrap();
        compress(b"", &mut out).unwrap();
        compress(b"second", &mut out).unwrap();
        assert_eq!(decompress(&out, 100).unwrap(), b"first second");
    }

    #[test]
    fn limit_is_inclusive_across_blocks() {
        let input = vec![b'x'; 100_000];
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        assert_eq!(decompress(&out, 100_000).unwrap(), input);
        assert_eq!(
            decompress(&out, 99_999),
            Err(BatchError::DecompressedTooLarge { max: 99_999 })
        );
    }

    #[test]
    fn bomb_is_refused_without_inflating_it() {
        let zeros = vec![0u8; 64 << 20];
        let mut bomb = Vec::new();
        compress(&zeros, &mut bomb).unwrap();
        drop(zeros);
        let start = std::time::Instant::now();
        assert_eq!(
            decompress(&bomb, 1 << 20),
            Err(BatchError::DecompressedTooLarge { max: 1 << 20 })
        );
        eprintln!("snappy bomb refused in {:?}", start.elapsed());
    }

    #[test]
    fn huge_declared_length_is_refused_before_allocating() {
        // A raw block claiming 2^32 - 1 bytes (varint ff ff ff ff 0f).
        let claim = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert_eq!(
            decompress(&claim, 1 << 20),
            Err(BatchError::DecompressedTooLarge { max: 1 << 20 })
        );
        // Within the budget but impossible for the block's size.
        let mut framed = HEADER.to_vec();
        framed.extend_from_slice(&6i32.to_be_bytes());
        framed.extend_from_slice(&claim);
        assert_corrupt(decompress(&framed, usize::MAX));
    }

    fn assert_corrupt(result: Result<Vec<u8>, BatchError>) {
        match result {
            Err(BatchError::Decompression {
                codec: "snappy", ..
            }) => {}
            other => panic!("expected a snappy Decompression error, got {other:?}"),
        }
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_corrupt(decompress(b"", 100));
    }

    #[test]
    fn truncation_inside_a_block_is_an_error() {
        let input = pseudo_random(70_000, 11);
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        // Block boundaries are not detectable without an end marker (the
        // format has none), so cut everywhere else.
        let mut boundaries = vec![16];
        for block in blocks(&out) {
            let end = block.as_ptr() as usize - out.as_ptr() as usize + block.len();
            boundaries.push(end);
        }
        for cut in 0..out.len() {
            if boundaries.contains(&cut) {
                continue;
            }
            assert_corrupt(decompress(&out[..cut], 1 << 20));
        }
    }

    #[test]
    fn bad_framing_is_an_error() {
        let mut out = Vec::new();
        compress(b"some records", &mut out).unwrap();
        let mut negative = out.clone();
        negative[16..20].copy_from_slice(&(-5i32).to_be_bytes());
        assert_corrupt(decompress(&negative, 100));
        let mut dangling = out.clone();
        dangling.extend_from_slice(&[0, 0]);
        assert_corrupt(decompress(&dangling, 100));
        let mut bad_concat = out.clone();
        bad_concat.extend_from_slice(&MAGIC[..4]);
        bad_concat.extend_from_slice(b"XXXX\0\0\0\x01\0\0\0\x01");
        assert_corrupt(decompress(&bad_concat, 100));
    }

    // Robustness properties: default config (256 cases; PROPTEST_CASES
    // raises it for a longer run).
    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            match decompress(&data, 1 << 16) {
                Ok(_) | Err(BatchError::Decompression { .. }) | Err(BatchError::DecompressedTooLarge { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }

        #[test]
        fn arbitrary_framed_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut framed = HEADER.to_vec();
            framed.extend_from_slice(&data);
            match decompress(&framed, 1 << 16) {
                Ok(_) | Err(BatchError::Decompression { .. }) | Err(BatchError::DecompressedTooLarge { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }

        #[test]
        fn damaged_streams_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            alphabet in prop_oneof![Just(256u16), Just(4), Just(16)],
        ) {
            // Small alphabets make the encoder emit matches and entropy
            // tables, not just literals, for the flips to land in.
            let data: Vec<u8> = data.iter().map(|&b| (u16::from(b) % alphabet) as u8).collect();
            let mut out = Vec::new();
            compress(&data, &mut out).unwrap();
            for (at, xor) in flips {
                let i = at % out.len();
                out[i] ^= xor;
            }
            match decompress(&out, 1 << 16) {
                Ok(_) | Err(BatchError::Decompression { .. }) | Err(BatchError::DecompressedTooLarge { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
    }

    // Round trips of inputs up to 200 KB: fewer cases.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn roundtrips(data in proptest::collection::vec(any::<u8>(), 0..100_000)) {
            let mut out = Vec::new();
            compress(&data, &mut out).unwrap();
            prop_assert_eq!(decompress(&out, data.len()).unwrap(), data);
        }
    }
}
