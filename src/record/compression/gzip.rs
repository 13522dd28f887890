//! gzip: a standard RFC 1952 gzip stream, as `java.util.zip.GZIPOutputStream`
//! (wrapped by Kafka's `GzipCompression`) writes it.
//!
//! Framing written, byte for byte as Java 16+ writes it: the 10-byte header
//! `1f 8b 08 00 00000000 00 ff` (deflate, no flags, mtime 0, XFL 0, OS 255
//! "unknown"; Java 8-15 wrote OS 0, which readers ignore), one raw deflate
//! stream at zlib's default level 6 (Kafka's default `compression.gzip.level`
//! is `Deflater.DEFAULT_COMPRESSION`, i.e. 6), then the CRC-32 and the input
//! size mod 2^32, both little-endian. The deflate bytes themselves come from
//! miniz_oxide and differ from zlib's, as any two deflate encoders may.
//!
//! Reading accepts any RFC 1952 stream, including multi-member streams
//! (concatenated gzip files), and checks every member's CRC-32 and size.
//! Bytes after the last member that do not form another member are an error.

use std::io::Write;

use flate2::bufread::MultiGzDecoder;
use flate2::{Compression as Level, GzBuilder};

use super::bounded;
use crate::error::BatchError;

const CODEC: &str = "gzip";

/// zlib's default level, which `Deflater.DEFAULT_COMPRESSION` (-1) selects.
const DEFAULT_LEVEL: u32 = 6;

/// Appends `input` to `out` as one gzip member.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), BatchError> {
    // GzBuilder's defaults are Java's header: no name/comment/extra, mtime 0,
    // XFL 0 at level 6, OS 255.
    let mut encoder = GzBuilder::new().write(&mut *out, Level::new(DEFAULT_LEVEL));
    encoder
        .write_all(input)
        .and_then(|()| encoder.try_finish())
        .map_err(|e| bounded::corrupt(CODEC, format!("compression failed: {e}")))
}

/// Decompresses a (possibly multi-member) gzip stream of at most `max`
/// decompressed bytes.
pub(super) fn decompress(input: &[u8], max: usize) -> Result<Vec<u8>, BatchError> {
    if input.is_empty() {
        return Err(bounded::corrupt(CODEC, "empty input"));
    }
    let mut out = bounded::output_buffer(input.len(), max);
    bounded::read_to_end(MultiGzDecoder::new(input), &mut out, max, CODEC)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::compression::test_support::{
        Codec, assert_decode_error, assert_limit_inclusive, assert_truncations_are_errors,
        common_codec_tests, concatenated, pseudo_random,
    };

    const GZIP: Codec = Codec {
        name: CODEC,
        compress,
        decompress,
    };

    common_codec_tests! {
        codec: GZIP,
        compressible_ratio: 50,
        roundtrip_max_len: 8192,
        bomb_max_len: 1 << 20,
    }

    #[test]
    fn header_and_trailer_are_javas() {
        let input = b"The quick brown fox jumps over the lazy dog";
        let mut out = Vec::new();
        compress(input, &mut out).unwrap();
        assert_eq!(
            &out[..10],
            &[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]
        );
        let n = out.len();
        // CRC-32 (IEEE) of the input, then ISIZE, little-endian.
        assert_eq!(&out[n - 8..n - 4], &0x414f_a339u32.to_le_bytes());
        assert_eq!(&out[n - 4..], &(input.len() as u32).to_le_bytes());
    }

    /// What Java's `GZIPOutputStream` (JDK 16+) writes for this input: the
    /// same zlib at level 6 with default memLevel and strategy, produced here
    /// with CPython's zlib 1.2.13 (`compressobj(6, DEFLATED, -15)`) between
    /// Java's header and trailer.
    const ZLIB_GZIP: [u8; 44] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xcb, 0x4e, 0x4c, 0xcb, 0x4e,
        0x54, 0x48, 0xaf, 0xca, 0x2c, 0x50, 0x28, 0x4a, 0x4d, 0xce, 0x2f, 0x4a, 0x29, 0xd6, 0x51,
        0xc8, 0x26, 0x4a, 0x4c, 0x11, 0x00, 0x9c, 0x0f, 0xc7, 0xa8, 0x3b, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn decodes_a_zlib_stream_as_java_writes_it() {
        let records = b"kafka gzip records, kafka gzip records, kafka gzip records!";
        assert_eq!(decompress(&ZLIB_GZIP, 1 << 20).unwrap(), records);
        let mut ours = Vec::new();
        compress(records, &mut ours).unwrap();
        assert_eq!(&ours[..10], &ZLIB_GZIP[..10]);
        assert_eq!(&ours[ours.len() - 8..], &ZLIB_GZIP[ZLIB_GZIP.len() - 8..]);
    }

    #[test]
    fn accepts_multi_member_streams() {
        let out = concatenated(GZIP, &[b"first ", b"", b"second"]);
        assert_eq!(decompress(&out, 100).unwrap(), b"first second");
    }

    #[test]
    fn limit_is_inclusive() {
        assert_limit_inclusive(GZIP, &[b'x'; 10_000]);
    }

    #[test]
    fn every_truncation_is_an_error() {
        assert_truncations_are_errors(GZIP, &pseudo_random(5000, 7), 1);
    }

    #[test]
    fn corrupted_crc_is_an_error() {
        let mut out = Vec::new();
        compress(b"some records", &mut out).unwrap();
        let n = out.len();
        out[n - 8] ^= 1;
        assert_decode_error(CODEC, decompress(&out, 100));
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        let mut out = Vec::new();
        compress(b"some records", &mut out).unwrap();
        out.extend_from_slice(b"junk");
        assert_decode_error(CODEC, decompress(&out, 100));
    }
}
