//! lz4: the LZ4 frame format (v1.6), as Kafka's `Lz4BlockOutputStream` writes
//! it for v2 record batches.
//!
//! Framing written, byte for byte what Kafka writes (only the LZ4 block
//! encoder differs: lz4_flex instead of lz4-java, like Kafka's default fast,
//! non-HC compressor):
//!
//! ```text
//! 04 22 4d 18   magic 0x184D2204, little-endian
//! 60            FLG: version 01, independent blocks; no block checksum,
//!               no content size, no content checksum, no dictionary
//! 40            BD: 64 KiB maximum block size
//! 82            HC: (xxh32(FLG BD, seed 0) >> 8) & 0xff, computed correctly
//!               (Kafka writes a broken HC, hashed over the magic too, only
//!               for magic-0 messages; v2 batches get the correct one)
//! blocks:       [u32 LE size][data] per 64 KiB of input; a block whose
//!               compressed form is not smaller than its input is stored
//!               raw, with bit 31 of the size set
//! 00 00 00 00   end mark, no content checksum
//! ```
//!
//! Reading accepts any valid LZ4 frame, not just Kafka's: 64 KiB to 4 MiB
//! blocks, independent or linked, optional block checksums, content size,
//! content checksum, concatenated frames and skippable frames. The header
//! checksum is always verified (Kafka does so for v2 batches). Frames that
//! need an external dictionary, legacy frames, a missing end mark and
//! trailing bytes that are not a frame are errors.
//!
//! The frame layer is parsed here rather than with lz4_flex's `FrameDecoder`
//! so that truncation is always detected (that decoder treats input cut at a
//! block boundary, end mark included, as a clean end) and so that every block
//! is decompressed straight into the output within the budget: nothing is
//! allocated from the block size a header declares.

use lz4_flex::block::{
    DecompressError, compress_into, decompress_into, decompress_into_with_dict,
    get_maximum_output_size,
};

use super::bounded;
use crate::error::BatchError;

const CODEC: &str = "lz4";

/// The LZ4 frame magic number.
const MAGIC: u32 = 0x184D_2204;

/// Skippable frames use magics 0x184D2A50..=0x184D2A5F.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;

/// The frame header Kafka writes for v2 batches: magic, FLG, BD, HC.
const KAFKA_HEADER: [u8; 7] = [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82];

/// Kafka's (and the format's default) maximum block size, 64 KiB.
const BLOCK_SIZE: usize = 64 * 1024;

/// Bit 31 of a block size marks a block stored uncompressed.
const UNCOMPRESSED_FLAG: u32 = 0x8000_0000;

/// How far back a match in a linked block may reach.
const WINDOW: usize = 64 * 1024;

/// No LZ4 block expands more than this: a match costs at least one byte
/// per 255 bytes of length.
const MAX_EXPANSION: usize = 255;

// FLG bits.
const FLG_VERSION_MASK: u8 = 0xC0;
const FLG_VERSION_01: u8 = 0x40;
const FLG_BLOCK_INDEPENDENCE: u8 = 0x20;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_RESERVED: u8 = 0x02;
const FLG_DICT_ID: u8 = 0x01;
// BD bits.
const BD_RESERVED: u8 = 0x8F;

/// Appends `input` to `out` as one LZ4 frame framed exactly as Kafka's
/// `Lz4BlockOutputStream` frames it.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), BatchError> {
    out.reserve(KAFKA_HEADER.len() + 8 + get_maximum_output_size(input.len().min(BLOCK_SIZE)));
    out.extend_from_slice(&KAFKA_HEADER);
    for block in input.chunks(BLOCK_SIZE) {
        let at = out.len();
        out.resize(at + 4 + get_maximum_output_size(block.len()), 0);
        let compressed = compress_into(block, &mut out[at + 4..])
            .map_err(|e| bounded::corrupt(CODEC, format!("compression failed: {e}")))?;
        // Kafka stores a block raw unless compressing it made it smaller.
        let (size, raw) = if compressed < block.len() {
            (compressed, false)
        } else {
            (block.len(), true)
        };
        out.truncate(at + 4 + size);
        if raw {
            out[at + 4..].copy_from_slice(block);
        }
        // size <= 64 KiB, so it fits in 31 bits.
        let word = size as u32 | if raw { UNCOMPRESSED_FLAG } else { 0 };
        out[at..at + 4].copy_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    Ok(())
}

/// Decompresses one or more LZ4 frames of at most `max` decompressed bytes.
pub(super) fn decompress(input: &[u8], max: usize) -> Result<Vec<u8>, BatchError> {
    if input.is_empty() {
        return Err(bounded::corrupt(CODEC, "empty input"));
    }
    let mut out = bounded::output_buffer(input.len(), max);
    let mut rest = input;
    while !rest.is_empty() {
        rest = decode_frame(rest, &mut out, max)?;
    }
    Ok(out)
}

/// A cursor over the compressed input that reports truncation.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    /// The next `n` bytes, or a truncation error naming `what` they hold.
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], BatchError> {
        let Some((taken, rest)) = self.0.split_at_checked(n) else {
            return Err(bounded::corrupt(
                CODEC,
                format!(
                    "truncated input: {what} needs {n} bytes, {} present",
                    self.0.len()
                ),
            ));
        };
        self.0 = rest;
        Ok(taken)
    }

    /// The next byte.
    fn u8(&mut self, what: &str) -> Result<u8, BatchError> {
        Ok(self.take(1, what)?[0])
    }

    /// The next four bytes as a little-endian `u32`.
    fn u32_le(&mut self, what: &str) -> Result<u32, BatchError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Decodes the frame (or skips the skippable frame) at the start of `input`,
/// appending to `out`, and returns the input after it.
fn decode_frame<'a>(
    input: &'a [u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<&'a [u8], BatchError> {
    let mut cur = Input(input);
    let magic = cur.u32_le("frame magic")?;
    if magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
        let len = cur.u32_le("skippable frame size")?;
        let len = usize::try_from(len)
            .map_err(|_| bounded::corrupt(CODEC, "skippable frame too large"))?;
        cur.take(len, "skippable frame")?;
        return Ok(cur.0);
    }
    if magic != MAGIC {
        return Err(bounded::corrupt(
            CODEC,
            format!("not an LZ4 frame (magic {magic:#010x})"),
        ));
    }

    // Frame descriptor: FLG, BD, optional content size, optional dict id, HC.
    let descriptor_start = cur.0;
    let flg = cur.u8("frame descriptor")?;
    let bd = cur.u8("frame descriptor")?;
    if flg & FLG_VERSION_MASK != FLG_VERSION_01 {
        return Err(bounded::corrupt(
            CODEC,
            format!("unsupported frame version {}", flg >> 6),
        ));
    }
    if flg & FLG_RESERVED != 0 || bd & BD_RESERVED != 0 {
        return Err(bounded::corrupt(
            CODEC,
            "reserved bits set in the frame descriptor",
        ));
    }
    let block_max = match (bd >> 4) & 0x07 {
        code @ 4..=7 => 1usize << (2 * code + 8),
        code => {
            return Err(bounded::corrupt(
                CODEC,
                format!("invalid block maximum size code {code}"),
            ));
        }
    };
    let content_size = if flg & FLG_CONTENT_SIZE != 0 {
        let b = cur.take(8, "frame content size")?;
        Some(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    } else {
        None
    };
    if flg & FLG_DICT_ID != 0 {
        cur.take(4, "dictionary id")?;
    }
    let descriptor_len = descriptor_start.len() - cur.0.len();
    let hc = cur.u8("header checksum")?;
    let expected_hc = (xxh32(&descriptor_start[..descriptor_len], 0) >> 8) as u8;
    if hc != expected_hc {
        return Err(bounded::corrupt(
            CODEC,
            format!("frame header checksum {hc:#04x}, expected {expected_hc:#04x}"),
        ));
    }
    if flg & FLG_DICT_ID != 0 {
        return Err(bounded::corrupt(
            CODEC,
            "frame needs an external dictionary",
        ));
    }
    if let Some(size) = content_size
        && size > max.saturating_sub(out.len()) as u64
    {
        return Err(BatchError::DecompressedTooLarge { max });
    }
    let linked = flg & FLG_BLOCK_INDEPENDENCE == 0;
    let block_checksums = flg & FLG_BLOCK_CHECKSUM != 0;

    let frame_start = out.len();
    loop {
        let word = cur.u32_le("block size")?;
        let size = (word & !UNCOMPRESSED_FLAG) as usize;
        if size == 0 {
            // The end mark (Kafka and the reference decoder also end the
            // frame on 0x80000000).
            break;
        }
        if size > block_max {
            return Err(bounded::corrupt(
                CODEC,
                format!("block of {size} bytes exceeds the frame's {block_max}-byte maximum"),
            ));
        }
        let data = cur.take(size, "block")?;
        if block_checksums {
            let stored = cur.u32_le("block checksum")?;
            if xxh32(data, 0) != stored {
                return Err(bounded::corrupt(CODEC, "block checksum mismatch"));
            }
        }
        if word & UNCOMPRESSED_FLAG != 0 {
            bounded::extend(out, data, max)?;
        } else {
            let dict_from = if linked {
                out.len().saturating_sub(WINDOW).max(frame_start)
            } else {
                out.len()
            };
            decode_block(data, out, dict_from, block_max, max)?;
        }
    }

    if flg & FLG_CONTENT_CHECKSUM != 0 {
        let stored = cur.u32_le("content checksum")?;
        if xxh32(&out[frame_start..], 0) != stored {
            return Err(bounded::corrupt(CODEC, "content checksum mismatch"));
        }
    }
    if let Some(size) = content_size {
        let produced = (out.len() - frame_start) as u64;
        if produced != size {
            return Err(bounded::corrupt(
                CODEC,
                format!("frame declares {size} bytes of content, holds {produced}"),
            ));
        }
    }
    Ok(cur.0)
}

/// Decompresses one LZ4 block straight into `out`, within `max`.
///
/// The output window is the smallest of the frame's block maximum, the
/// remaining budget and what a block of this size can possibly expand to; so
/// a block that does not fit is [`BatchError::DecompressedTooLarge`] only if
/// the budget was the binding limit, and corruption otherwise. In a linked
/// frame, `out[dict_from..]` is the history matches may reach into.
fn decode_block(
    data: &[u8],
    out: &mut Vec<u8>,
    dict_from: usize,
    block_max: usize,
    max: usize,
) -> Result<(), BatchError> {
    let start = out.len();
    let budget = max.saturating_sub(start);
    let format_limit = block_max.min(data.len().saturating_mul(MAX_EXPANSION));
    let window = format_limit.min(budget);
    bounded::reserve(out, window, max)?;
    out.resize(start + window, 0);
    let (history, target) = out.split_at_mut(start);
    let result = if dict_from < start {
        decompress_into_with_dict(data, target, &history[dict_from..])
    } else {
        decompress_into(data, target)
    };
    match result {
        Ok(written) => {
            out.truncate(start + written);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            match e {
                DecompressError::OutputTooSmall { .. } if budget < format_limit => {
                    Err(BatchError::DecompressedTooLarge { max })
                }
                DecompressError::OutputTooSmall { .. } => Err(bounded::corrupt(
                    CODEC,
                    format!("block expands beyond {format_limit} bytes"),
                )),
                e => Err(bounded::corrupt(CODEC, e.to_string())),
            }
        }
    }
}

/// xxHash32 of `data`, the checksum the LZ4 frame format uses.
fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 0x9E37_79B1;
    const P2: u32 = 0x85EB_CA77;
    const P3: u32 = 0xC2B2_AE3D;
    const P4: u32 = 0x27D4_EB2F;
    const P5: u32 = 0x1656_67B1;

    /// The little-endian `u32` at the start of `b`.
    fn lane(b: &[u8]) -> u32 {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    /// One accumulator round.
    fn round(acc: u32, input: u32) -> u32 {
        acc.wrapping_add(input.wrapping_mul(P2))
            .rotate_left(13)
            .wrapping_mul(P1)
    }

    let mut stripes = data.chunks_exact(16);
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        for stripe in &mut stripes {
            for (i, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, lane(&stripe[4 * i..]));
            }
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    // The format mixes in the length modulo 2^32.
    h = h.wrapping_add(data.len() as u32);
    let mut words = stripes.remainder().chunks_exact(4);
    for word in &mut words {
        h = h
            .wrapping_add(lane(word).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &byte in words.remainder() {
        h = h
            .wrapping_add(u32::from(byte).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^= h >> 16;
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::compression::test_support::{
        Codec, assert_decode_error, assert_limit_inclusive, assert_truncations_are_errors,
        common_codec_tests, prop_assert_clean_outcome, pseudo_random, repetitive_then_random,
    };
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use proptest::prelude::*;
    use std::io::Write;

    const LZ4: Codec = Codec {
        name: CODEC,
        compress,
        decompress,
    };

    common_codec_tests! {
        codec: LZ4,
        compressible_ratio: 50,
        roundtrip_max_len: 200_000,
        empty_stream: &[0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0],
    }

    /// Walks a frame Kafka-style: (size word, payload) per block.
    fn blocks(frame: &[u8]) -> Vec<(u32, &[u8])> {
        assert_eq!(&frame[..7], &KAFKA_HEADER);
        let mut rest = &frame[7..];
        let mut blocks = Vec::new();
        loop {
            let word = u32::from_le_bytes(rest[..4].try_into().unwrap());
            rest = &rest[4..];
            if word == 0 {
                assert!(rest.is_empty(), "bytes after the end mark");
                return blocks;
            }
            let size = (word & 0x7FFF_FFFF) as usize;
            blocks.push((word, &rest[..size]));
            rest = &rest[size..];
        }
    }

    fn lz4_flex_frame(input: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(input).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn xxh32_matches_reference_vectors() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"a", 0), 0x550D_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
    }

    #[test]
    fn kafka_header_checksum_is_correct() {
        assert_eq!((xxh32(&[0x60, 0x40], 0) >> 8) as u8, 0x82);
        // Kafka's broken magic-0 checksum would hash the magic too.
        assert_ne!((xxh32(&KAFKA_HEADER[..6], 0) >> 8) as u8, 0x82);
    }

    #[test]
    fn frame_is_framed_like_kafkas() {
        let mut input = b"abcdefgh".repeat(10_000); // compressible
        input.extend(pseudo_random(150_000, 5)); // incompressible
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        // Magic 0x184D2204 little-endian, FLG 0x60, BD 0x40, HC 0x82.
        assert_eq!(&out[..7], &[0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82]);
        assert_eq!(
            u32::from_le_bytes(out[..4].try_into().unwrap()),
            0x184D_2204
        );
        assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 0]);
        let blocks = blocks(&out);
        // 230 000 bytes in 64 KiB blocks: 65536 * 3 + 33392.
        assert_eq!(blocks.len(), 4);
        let mut joined = Vec::new();
        for (i, (word, data)) in blocks.iter().enumerate() {
            let raw = word & UNCOMPRESSED_FLAG != 0;
            let chunk = &input[i * BLOCK_SIZE..input.len().min((i + 1) * BLOCK_SIZE)];
            if raw {
                assert_eq!(*data, chunk);
                joined.extend_from_slice(data);
            } else {
                assert!(data.len() < chunk.len());
                joined.extend(lz4_flex::block::decompress(data, BLOCK_SIZE).unwrap());
            }
        }
        assert_eq!(joined, input);
        // The first block compresses; the random tail is stored raw.
        assert_eq!(blocks[0].0 & UNCOMPRESSED_FLAG, 0);
        assert_ne!(blocks[3].0 & UNCOMPRESSED_FLAG, 0);
        assert_eq!(blocks[3].1.len(), 230_000 - 3 * BLOCK_SIZE);
    }

    /// The records section of a real lz4 batch written by a Kafka producer
    /// (Confluent Control Center 7.6, fixture rjmfernandes__flink-on-prem,
    /// `_confluent-controlcenter-7-6-0-1-aggregate-topic-partition-store-changelog-0`,
    /// batch at byte 12400; batch CRC-32C verified): 6 records, one
    /// compressed block.
    const REAL_BATCH_6_RECORDS: [u8; 276] = [
        0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0x05, 0x01, 0x00, 0x00, 0xf4, 0x49, 0x5e, 0x00,
        0x00, 0x00, 0x42, 0x7d, 0x66, 0x66, 0x30, 0x38, 0x32, 0x61, 0x63, 0x31, 0x30, 0x32, 0x65,
        0x30, 0x37, 0x32, 0x61, 0x38, 0x36, 0x34, 0x32, 0x66, 0x65, 0x66, 0x66, 0x61, 0x34, 0x37,
        0x66, 0x31, 0x39, 0x65, 0x34, 0x35, 0x10, 0x00, 0x00, 0x01, 0x8e, 0xf6, 0xa5, 0x8d, 0x2b,
        0x00, 0x62, 0x00, 0xb0, 0xea, 0x01, 0x02, 0x42, 0x7d, 0x61, 0x39, 0x61, 0x37, 0x64, 0x38,
        0x32, 0x32, 0x32, 0x62, 0x39, 0x36, 0x31, 0x37, 0x66, 0x38, 0x33, 0x31, 0x39, 0x36, 0x34,
        0x36, 0x62, 0x39, 0x31, 0x38, 0x65, 0x33, 0x64, 0x31, 0x34, 0x32, 0x32, 0x00, 0xf6, 0x19,
        0x2c, 0x00, 0x5e, 0x00, 0x00, 0x04, 0x42, 0x7d, 0x61, 0x33, 0x37, 0x38, 0x38, 0x38, 0x66,
        0x64, 0x35, 0x36, 0x31, 0x66, 0x65, 0x38, 0x35, 0x64, 0x62, 0x39, 0x39, 0x33, 0x66, 0x37,
        0x35, 0x63, 0x36, 0x31, 0x64, 0x39, 0x62, 0x35, 0x64, 0x30, 0x30, 0x00, 0x01, 0x62, 0x00,
        0xfc, 0x11, 0x06, 0x42, 0x7d, 0x34, 0x37, 0x31, 0x31, 0x37, 0x61, 0x37, 0x34, 0x32, 0x37,
        0x62, 0x38, 0x64, 0x32, 0x37, 0x39, 0x62, 0x62, 0x61, 0x66, 0x64, 0x31, 0x37, 0x30, 0x61,
        0x33, 0x37, 0x36, 0x39, 0x62, 0x00, 0xfb, 0x14, 0x08, 0x42, 0x7d, 0x33, 0x38, 0x65, 0x35,
        0x62, 0x36, 0x30, 0x35, 0x37, 0x66, 0x61, 0x37, 0x62, 0x37, 0x37, 0x30, 0x36, 0x66, 0x62,
        0x38, 0x39, 0x38, 0x36, 0x39, 0x36, 0x65, 0x39, 0x37, 0x35, 0x65, 0x34, 0x62, 0x62, 0x00,
        0xf0, 0x1e, 0x0a, 0x42, 0x7d, 0x36, 0x38, 0x32, 0x37, 0x31, 0x33, 0x33, 0x33, 0x36, 0x31,
        0x63, 0x39, 0x33, 0x63, 0x62, 0x38, 0x66, 0x39, 0x66, 0x34, 0x35, 0x39, 0x61, 0x66, 0x65,
        0x32, 0x39, 0x37, 0x62, 0x39, 0x33, 0x37, 0x10, 0x00, 0x00, 0x01, 0x8e, 0xf6, 0xa5, 0x8d,
        0x2d, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// Same fixture, `_confluent-controlcenter-7-6-0-1-monitoring-trigger-event-rekey-0`,
    /// batch at byte 0: 1 record in a block Kafka stored raw (size word
    /// 0x8000000a).
    const REAL_BATCH_RAW_BLOCK: [u8; 25] = [
        0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0x0a, 0x00, 0x00, 0x80, 0x12, 0x00, 0x00, 0x00,
        0x00, 0x06, 0x7f, 0x20, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// Splits a v2 records section into records by their varint lengths.
    fn record_lengths(mut records: &[u8]) -> Vec<usize> {
        let mut lengths = Vec::new();
        while !records.is_empty() {
            let (mut raw, mut shift, mut i) = (0u64, 0, 0);
            loop {
                let b = records[i];
                raw |= u64::from(b & 0x7f) << shift;
                i += 1;
                if b & 0x80 == 0 {
                    break;
                }
                shift += 7;
            }
            let len = ((raw >> 1) as i64 ^ -((raw & 1) as i64)) as usize;
            lengths.push(len);
            records = &records[i + len..];
        }
        lengths
    }

    #[test]
    fn decodes_a_real_kafka_lz4_batch() {
        let records = decompress(&REAL_BATCH_6_RECORDS, 1 << 20).unwrap();
        let lengths = record_lengths(&records);
        assert_eq!(lengths.len(), 6, "{lengths:?}");
        // Every record starts with attributes 0 and carries a 32-hex-digit key.
        assert!(records.windows(2).filter(|w| w == b"B}").count() >= 6);
        // Re-encoding with Kafka's framing round-trips.
        let mut again = Vec::new();
        compress(&records, &mut again).unwrap();
        assert_eq!(&again[..7], &REAL_BATCH_6_RECORDS[..7]);
        assert_eq!(decompress(&again, records.len()).unwrap(), records);
    }

    #[test]
    fn decodes_a_real_kafka_raw_block() {
        let records = decompress(&REAL_BATCH_RAW_BLOCK, 1 << 20).unwrap();
        assert_eq!(records, &REAL_BATCH_RAW_BLOCK[11..21]);
        assert_eq!(record_lengths(&records), [9]);
    }

    /// Every lz4 v2 batch in the real Kafka fixtures (`SEGLOG_FIXTURES`,
    /// default `../shared/fixtures/kafka-real`; skipped when absent) decodes
    /// to exactly its header's record count. Batches are located by hand
    /// from the 61-byte v2 header: next batch at pos + 12 + batchLength.
    #[test]
    fn decodes_every_real_fixture_lz4_batch() {
        let root = std::env::var_os("SEGLOG_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../shared/fixtures/kafka-real")
            });
        let mut stack = vec![root];
        let (mut batches, mut records_total) = (0usize, 0usize);
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "log") {
                    continue;
                }
                let log = std::fs::read(&path).unwrap();
                let mut pos = 0;
                while pos + 61 <= log.len() {
                    let be32 = |at: usize| i32::from_be_bytes(log[at..at + 4].try_into().unwrap());
                    let batch_len = be32(pos + 8);
                    if batch_len < 49 || pos + 12 + batch_len as usize > log.len() {
                        break;
                    }
                    let end = pos + 12 + batch_len as usize;
                    let magic = log[pos + 16];
                    let attributes = u16::from_be_bytes([log[pos + 21], log[pos + 22]]);
                    if magic == 2 && attributes & 7 == 3 {
                        let count = be32(pos + 57) as usize;
                        let records = decompress(&log[pos + 61..end], 64 << 20)
                            .unwrap_or_else(|e| panic!("{}@{pos}: {e}", path.display()));
                        assert_eq!(
                            record_lengths(&records).len(),
                            count,
                            "{}@{pos}",
                            path.display()
                        );
                        batches += 1;
                        records_total += count;
                    }
                    pos = end;
                }
            }
        }
        eprintln!("decoded {batches} real lz4 batches, {records_total} records");
    }

    #[test]
    fn real_batch_truncations_are_errors() {
        for cut in 0..REAL_BATCH_6_RECORDS.len() {
            assert_decode_error(CODEC, decompress(&REAL_BATCH_6_RECORDS[..cut], 1 << 20));
        }
    }

    /// `printf 'kafka lz4 records, ...' | lz4 -c` (lz4 1.9.4 CLI, liblz4):
    /// FLG 0x64 (content checksum), BD 0x40, HC 0xa7, one compressed block.
    const LIBLZ4_FRAME: [u8; 49] = [
        0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x1e, 0x00, 0x00, 0x00, 0xff, 0x04, 0x6b, 0x61,
        0x66, 0x6b, 0x61, 0x20, 0x6c, 0x7a, 0x34, 0x20, 0x72, 0x65, 0x63, 0x6f, 0x72, 0x64, 0x73,
        0x2c, 0x20, 0x13, 0x00, 0x0d, 0x50, 0x6f, 0x72, 0x64, 0x73, 0x21, 0x00, 0x00, 0x00, 0x00,
        0xfc, 0x8b, 0xe0, 0xdf,
    ];

    #[test]
    fn decodes_a_liblz4_frame() {
        assert_eq!(
            decompress(&LIBLZ4_FRAME, 1 << 20).unwrap(),
            b"kafka lz4 records, kafka lz4 records, kafka lz4 records!"
        );
    }

    #[test]
    fn decodes_frames_with_every_option() {
        let input: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i / 7).to_le_bytes())
            .collect();
        for block_size in [
            BlockSize::Max64KB,
            BlockSize::Max256KB,
            BlockSize::Max1MB,
            BlockSize::Max4MB,
        ] {
            for block_mode in [BlockMode::Independent, BlockMode::Linked] {
                for checksums in [false, true] {
                    for content_size in [None, Some(input.len() as u64)] {
                        let info = FrameInfo::new()
                            .block_size(block_size)
                            .block_mode(block_mode)
                            .block_checksums(checksums)
                            .content_checksum(checksums)
                            .content_size(content_size);
                        let frame = lz4_flex_frame(&input, info);
                        assert_eq!(
                            decompress(&frame, input.len()).unwrap(),
                            input,
                            "{block_size:?} {block_mode:?} {checksums} {content_size:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn checksums_are_verified() {
        let input = b"checksummed records ".repeat(100);
        let info = FrameInfo::new()
            .block_size(BlockSize::Max64KB)
            .block_checksums(true)
            .content_checksum(true);
        let frame = lz4_flex_frame(&input, info);
        let n = frame.len();
        let mut bad_content = frame.clone();
        bad_content[n - 1] ^= 1;
        assert_decode_error(CODEC, decompress(&bad_content, 1 << 20));
        let mut bad_block = frame.clone();
        bad_block[n - 9] ^= 1; // last byte of the block checksum
        assert_decode_error(CODEC, decompress(&bad_block, 1 << 20));
        let mut bad_header = frame.clone();
        bad_header[6] ^= 1;
        assert_decode_error(CODEC, decompress(&bad_header, 1 << 20));
    }

    #[test]
    fn content_size_is_checked_early_and_late() {
        let input = vec![b'z'; 50_000];
        let info = FrameInfo::new()
            .block_size(BlockSize::Max64KB)
            .content_size(Some(input.len() as u64));
        let frame = lz4_flex_frame(&input, info);
        assert_eq!(
            decompress(&frame, 49_999),
            Err(BatchError::DecompressedTooLarge { max: 49_999 })
        );
        // A frame that holds fewer bytes than it declares.
        let short = lz4_flex_frame(
            &input[..1000],
            FrameInfo::new()
                .block_size(BlockSize::Max64KB)
                .content_size(Some(1000)),
        );
        let mut lying = short.clone();
        lying[6..14].copy_from_slice(&1001u64.to_le_bytes());
        // Fix the header checksum so only the size is wrong.
        lying[14] = (xxh32(&lying[4..14], 0) >> 8) as u8;
        assert_decode_error(CODEC, decompress(&lying, 1 << 20));
    }

    #[test]
    fn accepts_concatenated_and_skippable_frames() {
        let mut out = Vec::new();
        compress(b"first ", &mut out).unwrap();
        out.extend_from_slice(&0x184D_2A5Au32.to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(b"xyz");
        compress(b"second", &mut out).unwrap();
        assert_eq!(decompress(&out, 100).unwrap(), b"first second");
    }

    #[test]
    fn limit_is_inclusive() {
        assert_limit_inclusive(LZ4, &[b'x'; 200_000]);
        assert_limit_inclusive(LZ4, &pseudo_random(200_000, 9));
    }

    #[test]
    fn big_declared_blocks_allocate_nothing_up_front() {
        // A 4 MiB-block frame whose only block is one literal byte.
        let mut frame = vec![0x04, 0x22, 0x4D, 0x18, 0x60, 0x70];
        frame.push((xxh32(&[0x60, 0x70], 0) >> 8) as u8);
        frame.extend_from_slice(&2u32.to_le_bytes());
        frame.extend_from_slice(&[0x10, b'q']);
        frame.extend_from_slice(&0u32.to_le_bytes());
        let out = decompress(&frame, 64 << 20).unwrap();
        assert_eq!(out, b"q");
        assert!(out.capacity() < 64 * 1024, "capacity {}", out.capacity());
    }

    #[test]
    fn every_truncation_is_an_error() {
        assert_truncations_are_errors(LZ4, &repetitive_then_random(70_000), 97);
    }

    #[test]
    fn bad_headers_are_errors() {
        let mut out = Vec::new();
        compress(b"records", &mut out).unwrap();
        for (at, value) in [
            (0, 0x05),
            (4, 0xA0),
            (4, 0x62),
            (5, 0x30),
            (5, 0x41),
            (6, 0x83),
        ] {
            let mut bad = out.clone();
            bad[at] = value;
            assert_decode_error(CODEC, decompress(&bad, 100));
        }
        let mut trailing = out.clone();
        trailing.extend_from_slice(b"junk");
        assert_decode_error(CODEC, decompress(&trailing, 100));
        // A legacy frame (magic 0x184C2102) is not accepted.
        let mut legacy = out.clone();
        legacy[..4].copy_from_slice(&0x184C_2102u32.to_le_bytes());
        assert_decode_error(CODEC, decompress(&legacy, 100));
    }

    // Robustness property: default config (256 cases; PROPTEST_CASES raises
    // it for a longer run).
    proptest! {
        #[test]
        fn arbitrary_blocks_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            linked in any::<bool>(),
        ) {
            // A valid header followed by arbitrary block bytes.
            let flg = if linked { 0x40 } else { 0x60 };
            let mut frame = vec![0x04, 0x22, 0x4D, 0x18, flg, 0x40];
            frame.push((xxh32(&[flg, 0x40], 0) >> 8) as u8);
            frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
            frame.extend_from_slice(&data);
            frame.extend_from_slice(&0u32.to_le_bytes());
            prop_assert_clean_outcome(decompress(&frame, 1 << 16))?;
        }
    }

    // Inputs up to 200 KB: fewer cases.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn agrees_with_lz4_flex(data in proptest::collection::vec(0u8..4, 0..200_000), linked in any::<bool>()) {
            let mode = if linked { BlockMode::Linked } else { BlockMode::Independent };
            let info = FrameInfo::new().block_size(BlockSize::Max64KB).block_mode(mode).content_checksum(true);
            let frame = lz4_flex_frame(&data, info);
            prop_assert_eq!(decompress(&frame, data.len()).unwrap(), data);
        }
    }
}
