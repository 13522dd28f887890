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
    use crate::record::compression::test_support::{
        Codec, assert_decode_error, assert_limit_inclusive, common_codec_tests, concatenated,
        prop_assert_clean_outcome, pseudo_random,
    };
    use proptest::prelude::*;

    const SNAPPY: Codec = Codec {
        name: CODEC,
        compress,
        decompress,
    };

    common_codec_tests! {
        codec: SNAPPY,
        compressible_ratio: 10,
        roundtrip_max_len: 100_000,
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
        let out = concatenated(SNAPPY, &[b"first ", b"", b"second"]);
        assert_eq!(decompress(&out, 100).unwrap(), b"first second");
    }

    #[test]
    fn limit_is_inclusive_across_blocks() {
        assert_limit_inclusive(SNAPPY, &[b'x'; 100_000]);
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
        assert_decode_error(CODEC, decompress(&framed, usize::MAX));
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
            assert_decode_error(CODEC, decompress(&out[..cut], 1 << 20));
        }
    }

    #[test]
    fn bad_framing_is_an_error() {
        let mut out = Vec::new();
        compress(b"some records", &mut out).unwrap();
        let mut negative = out.clone();
        negative[16..20].copy_from_slice(&(-5i32).to_be_bytes());
        assert_decode_error(CODEC, decompress(&negative, 100));
        let mut dangling = out.clone();
        dangling.extend_from_slice(&[0, 0]);
        assert_decode_error(CODEC, decompress(&dangling, 100));
        let mut bad_concat = out.clone();
        bad_concat.extend_from_slice(&MAGIC[..4]);
        bad_concat.extend_from_slice(b"XXXX\0\0\0\x01\0\0\0\x01");
        assert_decode_error(CODEC, decompress(&bad_concat, 100));
    }

    // Robustness property: default config (256 cases; PROPTEST_CASES raises
    // it for a longer run).
    proptest! {
        #[test]
        fn arbitrary_framed_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut framed = HEADER.to_vec();
            framed.extend_from_slice(&data);
            prop_assert_clean_outcome(decompress(&framed, 1 << 16))?;
        }
    }
}
