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
        assert!(out.len() < input.len() / 50, "{} bytes", out.len());
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
        let mut out = Vec::new();
        compress(b"first ", &mut out).unwrap();
        compress(b"", &mut out).unwrap();
        compress(b"second", &mut out).unwrap();
        assert_eq!(decompress(&out, 100).unwrap(), b"first second");
    }

    #[test]
    fn limit_is_inclusive() {
        let input = vec![b'x'; 10_000];
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        assert_eq!(decompress(&out, 10_000).unwrap(), input);
        assert_eq!(
            decompress(&out, 9_999),
            Err(BatchError::DecompressedTooLarge { max: 9_999 })
        );
    }

    #[test]
    fn bomb_is_refused_without_inflating_it() {
        let zeros = vec![0u8; 64 << 20];
        let mut bomb = Vec::new();
        compress(&zeros, &mut bomb).unwrap();
        drop(zeros);
        assert!(bomb.len() < 1 << 20);
        let start = std::time::Instant::now();
        assert_eq!(
            decompress(&bomb, 1 << 20),
            Err(BatchError::DecompressedTooLarge { max: 1 << 20 })
        );
        eprintln!("gzip bomb refused in {:?}", start.elapsed());
    }

    fn assert_corrupt(result: Result<Vec<u8>, BatchError>) {
        match result {
            Err(BatchError::Decompression { codec: "gzip", .. }) => {}
            other => panic!("expected a gzip Decompression error, got {other:?}"),
        }
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_corrupt(decompress(b"", 100));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut out = Vec::new();
        compress(&pseudo_random(5000, 7), &mut out).unwrap();
        for cut in 0..out.len() {
            assert_corrupt(decompress(&out[..cut], 1 << 20));
        }
    }

    #[test]
    fn corrupted_crc_is_an_error() {
        let mut out = Vec::new();
        compress(b"some records", &mut out).unwrap();
        let n = out.len();
        out[n - 8] ^= 1;
        assert_corrupt(decompress(&out, 100));
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        let mut out = Vec::new();
        compress(b"some records", &mut out).unwrap();
        out.extend_from_slice(b"junk");
        assert_corrupt(decompress(&out, 100));
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
        fn roundtrips(data in proptest::collection::vec(any::<u8>(), 0..8192)) {
            let mut out = Vec::new();
            compress(&data, &mut out).unwrap();
            prop_assert_eq!(decompress(&out, data.len()).unwrap(), data);
        }
    }
}
