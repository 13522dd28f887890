//! zstd: standard Zstandard frames (RFC 8878), as Kafka's `ZstdCompression`
//! (zstd-jni's `ZstdOutputStream`) writes them.
//!
//! Kafka adds no framing of its own: the records section is one zstd frame.
//! Writing uses ruzstd's pure-Rust encoder at its `Fastest` level (roughly
//! zstd level 1; Kafka's default is level 3, and the level is not visible in
//! the format). The frame carries a window descriptor and a content checksum
//! but no content size, as a streaming zstd-jni frame does (zstd-jni leaves
//! the checksum off; both are valid frames any zstd decoder reads).
//!
//! Reading accepts any sequence of zstd frames and skippable frames, and
//! verifies content checksums. Output is capped:
//!
//! * a frame that declares a content size beyond the remaining budget is
//!   refused before anything is decoded;
//! * the decoder keeps up to one window of history besides the output, so the
//!   window a frame may declare is limited to `max` (but at least 8 MiB, the
//!   largest window zstd levels 1-19 use, and at most 128 MiB, libzstd's own
//!   default decoding limit); a larger window is an error that names the
//!   limit, and raising the decompression limit admits it;
//! * output is drained after every block (at most 128 KiB) into a buffer that
//!   never grows past `max`.

use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, DEFAULT_MAX_WINDOW_SIZE, FrameDecoder};
use ruzstd::encoding::{CompressionLevel, compress as zstd_compress};

use super::bounded::{self, BoundedWriter};
use crate::error::BatchError;

const CODEC: &str = "zstd";

/// The zstd frame magic number.
const MAGIC: u32 = 0xFD2F_B528;

/// Skippable frames use magics 0x184D2A50..=0x184D2A5F.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;

/// The smallest window limit: zstd levels 1-19 use windows up to 8 MiB
/// (window log 23) when the input size is unknown, as in Kafka's streaming
/// writer.
const MIN_WINDOW_LIMIT: usize = 8 << 20;

/// Appends `input` to `out` as one zstd frame.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), BatchError> {
    zstd_compress(input, &mut *out, CompressionLevel::Fastest);
    Ok(())
}

/// Decompresses one or more zstd frames of at most `max` decompressed bytes.
pub(super) fn decompress(input: &[u8], max: usize) -> Result<Vec<u8>, BatchError> {
    if input.is_empty() {
        return Err(bounded::corrupt(CODEC, "empty input"));
    }
    let window_limit = window_limit(max);
    let mut decoder = FrameDecoder::new();
    decoder.set_max_window_size(window_limit);
    let mut out = bounded::output_buffer(input.len(), max);
    let mut rest = input;
    while !rest.is_empty() {
        if let Some(after) = skip_skippable_frame(rest)? {
            rest = after;
            continue;
        }
        let declared = declared_content_size(rest);
        if let Some(size) = declared
            && size > max.saturating_sub(out.len()) as u64
        {
            return Err(BatchError::DecompressedTooLarge { max });
        }
        let frame_start = out.len();
        decoder
            .reset(&mut rest)
            .map_err(|e| decoder_error(&e, window_limit))?;
        loop {
            let finished = decoder
                .decode_blocks(&mut rest, BlockDecodingStrategy::UptoBlocks(1))
                .map_err(|e| decoder_error(&e, window_limit))?;
            let mut sink = BoundedWriter::new(&mut out, max);
            if let Err(e) = decoder.collect_to_writer(&mut sink) {
                if sink.overflowed() {
                    return Err(BatchError::DecompressedTooLarge { max });
                }
                return Err(bounded::corrupt(CODEC, e.to_string()));
            }
            if finished {
                break;
            }
        }
        if let (Some(stored), Some(computed)) = (
            decoder.get_checksum_from_data(),
            decoder.get_calculated_checksum(),
        ) && stored != computed
        {
            return Err(bounded::corrupt(
                CODEC,
                format!("content checksum {stored:#010x}, computed {computed:#010x}"),
            ));
        }
        let produced = (out.len() - frame_start) as u64;
        if let Some(size) = declared
            && produced != size
        {
            return Err(bounded::corrupt(
                CODEC,
                format!("frame declares {size} bytes of content, holds {produced}"),
            ));
        }
    }
    Ok(out)
}

/// The largest window a frame may declare when decoding at most `max`
/// bytes: `max`, clamped to 8 MiB..=128 MiB.
fn window_limit(max: usize) -> u64 {
    (max as u64).clamp(MIN_WINDOW_LIMIT as u64, DEFAULT_MAX_WINDOW_SIZE)
}

/// Describes a decoder error, naming the limit when a window is too big.
fn decoder_error(e: &FrameDecoderError, window_limit: u64) -> BatchError {
    match e {
        FrameDecoderError::WindowSizeTooBig { requested, .. } => bounded::corrupt(
            CODEC,
            format!(
                "frame window of {requested} bytes exceeds the {window_limit}-byte limit \
                 (which follows the decompression limit, up to 128 MiB)"
            ),
        ),
        e => bounded::corrupt(CODEC, e.to_string()),
    }
}

/// If `input` starts with a skippable frame, returns what follows it.
fn skip_skippable_frame(input: &[u8]) -> Result<Option<&[u8]>, BatchError> {
    let Some((magic, rest)) = input.split_first_chunk::<4>() else {
        return Ok(None);
    };
    if u32::from_le_bytes(*magic) & SKIPPABLE_MASK != SKIPPABLE_MAGIC {
        return Ok(None);
    }
    let Some((len, rest)) = rest.split_first_chunk::<4>() else {
        return Err(bounded::corrupt(
            CODEC,
            "truncated input: skippable frame size",
        ));
    };
    let len = usize::try_from(u32::from_le_bytes(*len))
        .map_err(|_| bounded::corrupt(CODEC, "skippable frame too large"))?;
    match rest.get(len..) {
        Some(after) => Ok(Some(after)),
        None => Err(bounded::corrupt(CODEC, "truncated input: skippable frame")),
    }
}

/// The content size a zstd frame header at the start of `frame` declares,
/// if it declares one (and the header is complete; the decoder reports
/// anything malformed).
fn declared_content_size(frame: &[u8]) -> Option<u64> {
    let (magic, rest) = frame.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*magic) != MAGIC {
        return None;
    }
    let (&descriptor, rest) = rest.split_first()?;
    let single_segment = descriptor & 0x20 != 0;
    let fcs_len = match descriptor >> 6 {
        0 if single_segment => 1,
        0 => return None,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let window_len = usize::from(!single_segment);
    let dict_len = match descriptor & 0x03 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let fcs = rest.get(window_len + dict_len..window_len + dict_len + fcs_len)?;
    let size = fcs
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    // The 2-byte form is offset by 256.
    Some(if fcs_len == 2 { size + 256 } else { size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::compression::test_support::{
        Codec, assert_compress_appends, assert_decode_error, assert_limit_inclusive,
        assert_truncations_are_errors, common_codec_tests, prop_assert_clean_outcome,
        repetitive_then_random,
    };
    use proptest::prelude::*;

    const ZSTD: Codec = Codec {
        name: CODEC,
        compress,
        decompress,
    };

    common_codec_tests! {
        codec: ZSTD,
        compressible_ratio: 50,
        roundtrip_max_len: 100_000,
    }

    #[test]
    fn compress_appends_a_standard_frame() {
        let out = assert_compress_appends(ZSTD);
        assert_eq!(&out[6..10], &MAGIC.to_le_bytes());
    }

    /// `printf 'kafka zstd records, kafka zstd records!' | zstd -3 -c`
    /// (zstd 1.5.4 CLI, i.e. libzstd as zstd-jni embeds it): a streaming
    /// frame like Kafka's, with a 2 MiB window (level 3), no content size,
    /// a checksum and one compressed block holding a match.
    const LIBZSTD_FRAME: [u8; 40] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0xdd, 0x00, 0x00, 0xa8, 0x6b, 0x61, 0x66, 0x6b, 0x61,
        0x20, 0x7a, 0x73, 0x74, 0x64, 0x20, 0x72, 0x65, 0x63, 0x6f, 0x72, 0x64, 0x73, 0x2c, 0x20,
        0x21, 0x01, 0x00, 0xce, 0x9b, 0x4c, 0x34, 0x47, 0xeb, 0x61,
    ];

    #[test]
    fn decodes_a_libzstd_frame() {
        assert_eq!(
            decompress(&LIBZSTD_FRAME, 1 << 20).unwrap(),
            b"kafka zstd records, kafka zstd records!"
        );
    }

    #[test]
    fn accepts_concatenated_and_skippable_frames() {
        let mut out = Vec::new();
        compress(b"first ", &mut out).unwrap();
        out.extend_from_slice(&0x184D_2A5Fu32.to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(b"xyz");
        compress(b"", &mut out).unwrap();
        compress(b"second", &mut out).unwrap();
        assert_eq!(decompress(&out, 100).unwrap(), b"first second");
    }

    #[test]
    fn limit_is_inclusive() {
        assert_limit_inclusive(ZSTD, &[b'x'; 300_000]);
    }

    /// A frame header (magic, descriptor, optional window descriptor) and
    /// `blocks` RLE blocks of 128 KiB zeros each, the last one marked last.
    fn rle_frame(descriptor: u8, extra: &[u8], blocks: usize) -> Vec<u8> {
        let mut frame = MAGIC.to_le_bytes().to_vec();
        frame.push(descriptor);
        frame.extend_from_slice(extra);
        for i in 0..blocks {
            let last = u32::from(i + 1 == blocks);
            // Block header: last bit, type 1 (RLE), size 128 KiB.
            let header = last | (1 << 1) | ((128 * 1024) << 3);
            frame.extend_from_slice(&header.to_le_bytes()[..3]);
            frame.push(0);
        }
        frame
    }

    #[test]
    fn declared_content_size_is_checked_before_decoding() {
        // Single segment, 8-byte content size 2^40: refused at once.
        let frame = rle_frame(0xE0, &(1u64 << 40).to_le_bytes(), 1);
        assert_eq!(declared_content_size(&frame), Some(1 << 40));
        assert_eq!(
            decompress(&frame, 1 << 20),
            Err(BatchError::DecompressedTooLarge { max: 1 << 20 })
        );
        // 2-byte form is offset by 256.
        let frame = rle_frame(0x60, &[0x00, 0x01], 1);
        assert_eq!(declared_content_size(&frame), Some(256 + 256));
        assert_eq!(declared_content_size(&rle_frame(0x00, &[0x58], 1)), None);
        // Declared and actual content sizes must agree: 2 RLE blocks of
        // 128 KiB against a declared 300 000 (4-byte form, window 8 MiB).
        let mut extra = vec![0x68];
        extra.extend_from_slice(&300_000u32.to_le_bytes());
        let frame = rle_frame(0x80, &extra, 2);
        assert_eq!(declared_content_size(&frame), Some(300_000));
        assert_decode_error(CODEC, decompress(&frame, 1 << 20));
        extra[1..].copy_from_slice(&(256u32 << 10).to_le_bytes());
        let frame = rle_frame(0x80, &extra, 2);
        assert_eq!(decompress(&frame, 1 << 20).unwrap(), vec![0u8; 256 << 10]);
    }

    #[test]
    fn rle_bomb_with_a_big_window_is_bounded() {
        // 512 RLE blocks = 64 MiB of zeros in ~2 KiB, window 8 MiB
        // (descriptor 0x00: no content size; window byte 0x68 = 2^23).
        let frame = rle_frame(0x00, &[0x68], 512);
        assert!(frame.len() < 4096);
        assert_eq!(
            decompress(&frame, 1 << 20),
            Err(BatchError::DecompressedTooLarge { max: 1 << 20 })
        );
        // A declared 1 GiB window is refused before allocating it.
        let frame = rle_frame(0x00, &[0xA0], 1);
        assert!(matches!(
            decompress(&frame, 1 << 20),
            Err(BatchError::Decompression { codec: "zstd", .. })
        ));
        // An 8 MiB window is within the floor even for a small limit.
        let frame = rle_frame(0x00, &[0x68], 2);
        assert_eq!(decompress(&frame, 256 << 10).unwrap(), vec![0u8; 256 << 10]);
    }

    #[test]
    fn every_truncation_is_an_error() {
        assert_truncations_are_errors(ZSTD, &repetitive_then_random(70_000), 97);
    }

    #[test]
    fn checksum_and_trailing_bytes_are_checked() {
        let mut out = Vec::new();
        compress(b"some records, some records", &mut out).unwrap();
        let n = out.len();
        let mut bad = out.clone();
        bad[n - 1] ^= 1;
        assert_decode_error(CODEC, decompress(&bad, 100));
        let mut trailing = out.clone();
        trailing.extend_from_slice(b"junk");
        assert_decode_error(CODEC, decompress(&trailing, 100));
    }

    // Robustness property: default config (256 cases; PROPTEST_CASES raises
    // it for a longer run).
    proptest! {
        #[test]
        fn arbitrary_frame_bodies_never_panic(
            descriptor in any::<u8>(),
            data in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let mut frame = MAGIC.to_le_bytes().to_vec();
            frame.push(descriptor);
            frame.extend_from_slice(&data);
            prop_assert_clean_outcome(decompress(&frame, 1 << 16))?;
        }
    }
}
