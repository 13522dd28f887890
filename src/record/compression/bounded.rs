//! Bounded decompression output: a compression bomb is an error, not an
//! allocation.
//!
//! Every decoder in this module tree appends its output through these
//! helpers, which keep two promises:
//!
//! * the output never holds more than `max` bytes; one byte more is
//!   [`BatchError::DecompressedTooLarge`];
//! * the output's capacity never exceeds `max` either, and the first
//!   reservation is sized from the compressed input (a small multiple of it),
//!   never from a length the input merely claims.
//!
//! Growth is geometric (doubling, clamped to `max`), so appending `n` bytes
//! costs amortised O(n) copies, as with a plain `Vec`.

// Each helper serves some of the codecs; with some codec features off, some
// (with all off, all) go unused. The default build, with every codec, still
// checks for dead code here.
#![cfg_attr(
    not(all(
        feature = "gzip",
        feature = "snappy",
        feature = "lz4",
        feature = "zstd"
    )),
    allow(dead_code)
)]

use std::io::{self, Read, Write};

use crate::error::BatchError;

/// The first reservation is at most this multiple of the compressed size.
/// Kafka record batches typically compress 2-10x; later growth doubles.
const INITIAL_RATIO: usize = 4;

/// Floor of the first reservation, so tiny inputs do not regrow repeatedly.
const INITIAL_FLOOR: usize = 1024;

/// Size of the stack buffer [`read_to_end`] reads through.
const CHUNK: usize = 32 * 1024;

/// A `BatchError::Decompression` for `codec` with `detail`.
pub(super) fn corrupt(codec: &'static str, detail: impl Into<String>) -> BatchError {
    BatchError::Decompression {
        codec,
        detail: detail.into(),
    }
}

/// The capacity to give an output buffer before decoding `compressed_len`
/// bytes: a small multiple of the input, never more than `max`.
pub(super) fn initial_capacity(compressed_len: usize, max: usize) -> usize {
    compressed_len
        .saturating_mul(INITIAL_RATIO)
        .max(INITIAL_FLOOR)
        .min(max)
}

/// A new output buffer for decoding `compressed_len` bytes with limit `max`.
pub(super) fn output_buffer(compressed_len: usize, max: usize) -> Vec<u8> {
    Vec::with_capacity(initial_capacity(compressed_len, max))
}

/// Makes room for `additional` more bytes in `out`, or fails with
/// [`BatchError::DecompressedTooLarge`] if `out` would then exceed `max`.
///
/// The capacity grows geometrically but never past `max`.
pub(super) fn reserve(out: &mut Vec<u8>, additional: usize, max: usize) -> Result<(), BatchError> {
    let len = out.len();
    let needed = match len.checked_add(additional) {
        Some(needed) if needed <= max => needed,
        _ => return Err(BatchError::DecompressedTooLarge { max }),
    };
    if needed > out.capacity() {
        let target = out.capacity().saturating_mul(2).clamp(needed, max);
        out.reserve_exact(target - len);
    }
    Ok(())
}

/// Appends `data` to `out`, failing rather than letting `out` exceed `max`.
pub(super) fn extend(out: &mut Vec<u8>, data: &[u8], max: usize) -> Result<(), BatchError> {
    reserve(out, data.len(), max)?;
    out.extend_from_slice(data);
    Ok(())
}

/// Reads `reader` to its end, appending to `out`; fails with
/// [`BatchError::DecompressedTooLarge`] as soon as one byte more than `max`
/// (counting what `out` already holds) is available, and with
/// [`BatchError::Decompression`] for `codec` if the reader reports an error.
///
/// The reader is never asked for more than `max - out.len() + 1` bytes at a
/// time, so a compression bomb costs at most `max` bytes of output plus the
/// decoder's own bounded state.
pub(super) fn read_to_end<R: Read>(
    mut reader: R,
    out: &mut Vec<u8>,
    max: usize,
    codec: &'static str,
) -> Result<(), BatchError> {
    let mut chunk = [0u8; CHUNK];
    loop {
        let room = max.saturating_sub(out.len());
        let want = room.saturating_add(1).min(CHUNK);
        let n = match reader.read(&mut chunk[..want]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(codec, &e)),
        };
        if n > room {
            return Err(BatchError::DecompressedTooLarge { max });
        }
        extend(out, &chunk[..n], max)?;
    }
}

/// Describes a decoder's I/O error; a premature end of input says so.
pub(super) fn io_error(codec: &'static str, e: &io::Error) -> BatchError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        corrupt(codec, format!("truncated input: {e}"))
    } else {
        corrupt(codec, e.to_string())
    }
}

/// An [`io::Write`] sink that appends to a `Vec` up to `max` bytes and
/// refuses the write that would go past it, remembering that it did.
///
/// For decoders that push their output into a writer rather than being read.
#[derive(Debug)]
pub(super) struct BoundedWriter<'a> {
    out: &'a mut Vec<u8>,
    max: usize,
    overflowed: bool,
}

impl<'a> BoundedWriter<'a> {
    /// A writer appending to `out` while `out.len() <= max`.
    pub(super) fn new(out: &'a mut Vec<u8>, max: usize) -> Self {
        BoundedWriter {
            out,
            max,
            overflowed: false,
        }
    }

    /// Whether a write was refused because it would have exceeded `max`.
    pub(super) fn overflowed(&self) -> bool {
        self.overflowed
    }
}

impl Write for BoundedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if extend(self.out, buf, self.max).is_err() {
            self.overflowed = true;
            return Err(io::Error::other("decompression output limit reached"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_capacity_is_a_multiple_of_input_capped_by_max() {
        assert_eq!(initial_capacity(0, 1 << 20), INITIAL_FLOOR);
        assert_eq!(initial_capacity(10_000, 1 << 20), 40_000);
        assert_eq!(initial_capacity(10_000, 100), 100);
        assert_eq!(initial_capacity(usize::MAX, 7), 7);
    }

    #[test]
    fn reserve_never_grows_capacity_past_max() {
        let max = 100_000;
        let mut out = Vec::new();
        for _ in 0..99 {
            extend(&mut out, &[7u8; 1000], max).unwrap();
            assert!(out.capacity() <= max, "capacity {}", out.capacity());
        }
        extend(&mut out, &[7u8; 1000], max).unwrap();
        assert_eq!(out.len(), max);
        assert_eq!(
            extend(&mut out, &[7u8], max),
            Err(BatchError::DecompressedTooLarge { max })
        );
        assert_eq!(out.len(), max);
        assert!(out.capacity() <= max);
    }

    #[test]
    fn reserve_rejects_overflowing_sizes() {
        let mut out = vec![1u8; 3];
        assert_eq!(
            reserve(&mut out, usize::MAX, usize::MAX),
            Err(BatchError::DecompressedTooLarge { max: usize::MAX })
        );
    }

    #[test]
    fn read_to_end_accepts_exactly_max() {
        let data = vec![9u8; 100_000];
        let mut out = Vec::new();
        read_to_end(&data[..], &mut out, 100_000, "test").unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn read_to_end_rejects_one_byte_more() {
        let data = vec![9u8; 100_001];
        let mut out = Vec::new();
        assert_eq!(
            read_to_end(&data[..], &mut out, 100_000, "test"),
            Err(BatchError::DecompressedTooLarge { max: 100_000 })
        );
        assert!(out.capacity() <= 100_000);
    }

    #[test]
    fn read_to_end_stops_an_endless_reader() {
        let max = 1 << 20;
        let mut out = Vec::new();
        assert_eq!(
            read_to_end(io::repeat(0), &mut out, max, "test"),
            Err(BatchError::DecompressedTooLarge { max })
        );
        assert!(out.capacity() <= max);
    }

    #[test]
    fn read_to_end_counts_what_out_already_holds() {
        let mut out = vec![1u8; 10];
        assert_eq!(
            read_to_end(&[2u8; 11][..], &mut out, 20, "test"),
            Err(BatchError::DecompressedTooLarge { max: 20 })
        );
        let mut out = vec![1u8; 10];
        read_to_end(&[2u8; 10][..], &mut out, 20, "test").unwrap();
        assert_eq!(out.len(), 20);
    }

    #[test]
    fn read_to_end_reports_reader_errors_as_decompression() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut short"))
            }
        }
        let err = read_to_end(Failing, &mut Vec::new(), 10, "test").unwrap_err();
        match err {
            BatchError::Decompression { codec, detail } => {
                assert_eq!(codec, "test");
                assert!(detail.contains("truncated"), "{detail}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bounded_writer_refuses_past_max() {
        let mut out = Vec::new();
        let mut w = BoundedWriter::new(&mut out, 5);
        w.write_all(b"abc").unwrap();
        assert!(!w.overflowed());
        assert!(w.write_all(b"def").is_err());
        assert!(w.overflowed());
        assert_eq!(out, b"abc");
    }
}
