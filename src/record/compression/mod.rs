//! Compression codecs of Kafka record batches.
//!
//! A compressed batch stores its whole records section as one compressed
//! block, framed the way Kafka's Java client writes it: gzip streams, Kafka's
//! xerial-framed snappy, LZ4 frames with independent 64 KiB blocks, zstd
//! frames. Each codec sits behind a cargo feature of the same name; all four
//! are pure Rust and on by default, because data written by real Kafka
//! producers uses them.

#[cfg(feature = "gzip")]
mod gzip;
#[cfg(feature = "lz4")]
mod lz4;
#[cfg(feature = "snappy")]
mod snappy;
#[cfg(feature = "zstd")]
mod zstd;

mod bounded;
#[cfg(test)]
mod test_support;

use std::fmt;
use std::str::FromStr;

use crate::error::BatchError;

/// A record batch's compression codec (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Records stored as they are.
    #[default]
    None,
    /// gzip (RFC 1952), as `java.util.zip.GZIPOutputStream` writes it.
    Gzip,
    /// Snappy in the xerial stream framing Kafka uses.
    Snappy,
    /// The LZ4 frame format.
    Lz4,
    /// Zstandard frames.
    Zstd,
}

impl Compression {
    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// Decodes the codec id stored in attribute bits 0-2.
    pub fn from_id(id: u8) -> Result<Self, BatchError> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(BatchError::UnknownCodec(other)),
        }
    }

    /// The id stored in attribute bits 0-2.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Kafka's name for the codec, as used by `compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The cargo feature that compiles this codec in (`""` for `None`).
    pub fn feature(self) -> &'static str {
        match self {
            Compression::None => "",
            other => other.name(),
        }
    }

    /// Whether this build can encode and decode the codec.
    pub fn is_available(self) -> bool {
        match self {
            Compression::None => true,
            Compression::Gzip => cfg!(feature = "gzip"),
            Compression::Snappy => cfg!(feature = "snappy"),
            Compression::Lz4 => cfg!(feature = "lz4"),
            Compression::Zstd => cfg!(feature = "zstd"),
        }
    }

    fn unavailable(self) -> BatchError {
        BatchError::CodecUnavailable {
            codec: self.name(),
            feature: self.feature(),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing a codec name that Kafka does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression type `{0}` (expected none, gzip, snappy, lz4 or zstd)")]
pub struct UnknownCompression(pub String);

impl FromStr for Compression {
    type Err = UnknownCompression;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownCompression(s.to_string()))
    }
}

/// Appends `input` compressed with `codec` to `out`.
pub(crate) fn compress(
    codec: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), BatchError> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::compress(input, out),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::compress(input, out),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::compress(input, out),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::compress(input, out),
        #[allow(unreachable_patterns)]
        other => Err(other.unavailable()),
    }
}

/// Decompresses `input`, failing with [`BatchError::DecompressedTooLarge`]
/// rather than producing more than `max` bytes.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    max: usize,
) -> Result<Vec<u8>, BatchError> {
    match codec {
        Compression::None => {
            if input.len() > max {
                return Err(BatchError::DecompressedTooLarge { max });
            }
            Ok(input.to_vec())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::decompress(input, max),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompress(input, max),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::decompress(input, max),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompress(input, max),
        #[allow(unreachable_patterns)]
        other => Err(other.unavailable()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_roundtrips_every_available_codec() {
        let input = b"key-42 value-42 ".repeat(20_000);
        for codec in Compression::ALL {
            let mut out = b"head".to_vec();
            let compressed = compress(codec, &input, &mut out);
            if !codec.is_available() {
                assert!(matches!(
                    compressed,
                    Err(BatchError::CodecUnavailable { .. })
                ));
                assert!(matches!(
                    decompress(codec, &input, usize::MAX),
                    Err(BatchError::CodecUnavailable { .. })
                ));
                continue;
            }
            compressed.unwrap();
            assert_eq!(&out[..4], b"head", "{codec} must append");
            let body = &out[4..];
            assert_eq!(
                decompress(codec, body, input.len()).unwrap(),
                input,
                "{codec}"
            );
            assert_eq!(
                decompress(codec, body, input.len() - 1),
                Err(BatchError::DecompressedTooLarge {
                    max: input.len() - 1
                }),
                "{codec}"
            );
        }
    }

    #[test]
    fn dispatch_rejects_garbage_for_every_codec() {
        for codec in Compression::ALL {
            if codec == Compression::None || !codec.is_available() {
                continue;
            }
            for garbage in [&b""[..], b"\xff\xff\xff", b"not compressed at all"] {
                match decompress(codec, garbage, 1 << 20) {
                    Err(BatchError::Decompression { codec: name, .. }) => {
                        assert_eq!(name, codec.name());
                    }
                    other => panic!("{codec} on {garbage:?}: {other:?}"),
                }
            }
        }
    }
}
