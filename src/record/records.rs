//! Decoding the records of a batch, lazily and without copying.
//!
//! A record on the wire:
//!
//! ```text
//! length          varint   bytes after this field
//! attributes      i8       unused, 0
//! timestampDelta  varlong  against the batch's baseTimestamp
//! offsetDelta     varint   against the batch's baseOffset
//! keyLength       varint   -1 = null
//! key             bytes
//! valueLength     varint   -1 = null (a tombstone)
//! value           bytes
//! headerCount     varint
//! headers         headerKeyLength varint, headerKey (UTF-8), headerValueLength varint (-1 = null), headerValue
//! ```

use std::borrow::Cow;

use bytes::Bytes;

use super::compression::{self, Compression};
use super::model::{Header, Record, TimestampType};
use super::varint::{get_varint, get_varlong};
use super::view::{BatchHeader, BatchView};
use crate::error::BatchError;

/// The smallest possible record: length, attributes, timestamp delta, offset
/// delta, key length, value length, header count (one byte each).
const MIN_RECORD_SIZE: usize = 7;

/// Limits applied while decoding untrusted batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The most bytes a compressed records section may expand to; more is an
    /// error ([`BatchError::DecompressedTooLarge`]), so a compression bomb
    /// costs at most this much memory. Default 64 MiB.
    pub max_decompressed_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_decompressed_bytes: 64 << 20,
        }
    }
}

/// The records of one batch, decompressed if they were compressed.
#[derive(Debug, Clone)]
pub struct RecordSet<'a> {
    data: Cow<'a, [u8]>,
    base_offset: i64,
    base_timestamp: i64,
    /// The batch's maxTimestamp when it is LogAppendTime.
    log_append_time: Option<i64>,
    count: i32,
    last_offset_delta: i32,
}

impl<'a> RecordSet<'a> {
    pub(crate) fn new(batch: BatchView<'a>, limits: &DecodeLimits) -> Result<Self, BatchError> {
        let count = batch.record_count();
        if count < 0 {
            return Err(BatchError::RecordCount {
                declared: count,
                detail: "a negative count is impossible".into(),
            });
        }
        let stored = batch.bytes();
        let section = &stored[super::layout::HEADER_SIZE..];
        let data = match batch.compression()? {
            // An empty batch (compaction keeps them for producer state) is
            // not decoded, whatever its codec and section, as in Kafka.
            _ if count == 0 => Cow::Borrowed(&[][..]),
            Compression::None => Cow::Borrowed(section),
            codec => Cow::Owned(compression::decompress(
                codec,
                section,
                limits.max_decompressed_bytes,
            )?),
        };
        if (count as usize) > data.len() / MIN_RECORD_SIZE {
            return Err(BatchError::RecordCount {
                declared: count,
                detail: format!("but the records section holds only {} bytes", data.len()),
            });
        }
        let log_append_time =
            (batch.timestamp_type() == TimestampType::LogAppendTime).then(|| batch.max_timestamp());
        Ok(RecordSet {
            data,
            base_offset: batch.base_offset(),
            base_timestamp: batch.base_timestamp(),
            log_append_time,
            count,
            last_offset_delta: batch.last_offset_delta(),
        })
    }

    /// The declared number of records.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the batch holds no records (compaction can leave such batches).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The decoded (decompressed) records section.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Iterates over the records; each item is checked as it is decoded.
    pub fn iter(&self) -> RecordIter<'_> {
        RecordIter {
            data: &self.data,
            pos: 0,
            index: 0,
            set: self,
            prev_delta: -1,
            done: false,
        }
    }

    /// Iterates from the first record whose offset is `>= offset`. Earlier
    /// records are skipped by their length after reading only their
    /// timestamp and offset deltas (what a random read needs to be fast);
    /// their keys, values and headers are neither decoded nor checked.
    pub fn iter_from(&self, offset: i64) -> RecordIter<'_> {
        let mut iter = self.iter();
        iter.skip_while_header(|o, _| o < offset);
        iter
    }

    /// Iterates from the first record whose timestamp is `>= timestamp`,
    /// skipping earlier ones as [`RecordSet::iter_from`] does.
    pub fn iter_from_timestamp(&self, timestamp: i64) -> RecordIter<'_> {
        let mut iter = self.iter();
        iter.skip_while_header(|_, t| t < timestamp);
        iter
    }

    /// Decodes every record, checking the whole section: the record count,
    /// no trailing bytes, offset deltas strictly increasing and within
    /// lastOffsetDelta.
    pub fn validate(&self) -> Result<(), BatchError> {
        self.iter().try_for_each(|r| r.map(|_| ()))
    }

    /// Copies every record out (offset and owned record).
    pub fn to_records(&self) -> Result<Vec<(i64, Record)>, BatchError> {
        self.iter()
            .map(|r| r.map(|r| (r.offset(), r.to_record())))
            .collect()
    }
}

/// A record decoded in place. The key, value and header bytes borrow from
/// the batch (or from its decompressed copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    offset: i64,
    timestamp: i64,
    timestamp_delta: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [u8],
    header_count: u32,
}

impl<'a> RecordRef<'a> {
    /// The record's offset.
    pub fn offset(&self) -> i64 {
        self.offset
    }
    /// The record's timestamp (the batch's maxTimestamp for LogAppendTime).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }
    /// The timestampDelta stored in the record (ignored by readers of a
    /// LogAppendTime batch, kept for tools that rewrite batches).
    pub fn timestamp_delta(&self) -> i64 {
        self.timestamp_delta
    }
    /// The key, `None` for a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }
    /// The value, `None` for a null value (a tombstone).
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }
    /// Number of headers.
    pub fn header_count(&self) -> usize {
        self.header_count as usize
    }
    /// The headers, in order (already checked when the record was decoded).
    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter {
            data: self.headers,
            left: self.header_count,
        }
    }
    /// An owned copy of the record (header keys converted lossily to UTF-8).
    pub fn to_record(&self) -> Record {
        Record {
            timestamp: self.timestamp,
            key: self.key.map(Bytes::copy_from_slice),
            value: self.value.map(Bytes::copy_from_slice),
            headers: self
                .headers()
                .map(|h| Header {
                    key: String::from_utf8_lossy(h.key).into_owned(),
                    value: h.value.map(Bytes::copy_from_slice),
                })
                .collect(),
        }
    }
}

/// A header decoded in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// The key bytes (UTF-8 as Kafka writes them; not checked).
    pub key: &'a [u8],
    /// The value; `None` for null.
    pub value: Option<&'a [u8]>,
}

/// Iterator over a record's headers.
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    data: &'a [u8],
    left: u32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = HeaderRef<'a>;

    fn next(&mut self) -> Option<HeaderRef<'a>> {
        if self.left == 0 {
            return None;
        }
        let mut cur = Cursor {
            data: self.data,
            pos: 0,
        };
        // Headers were walked once when the record was decoded, so this
        // cannot fail; stop quietly rather than panic if it ever does.
        let key = cur.bytes().ok()??;
        let value = cur.bytes().ok()?;
        self.data = &self.data[cur.pos..];
        self.left -= 1;
        Some(HeaderRef { key, value })
    }
}

/// Iterator over the records of a [`RecordSet`].
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    data: &'a [u8],
    pos: usize,
    index: i32,
    set: &'a RecordSet<'a>,
    prev_delta: i64,
    done: bool,
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordRef<'a>, BatchError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.index == self.set.count {
            self.done = true;
            if self.pos != self.data.len() {
                return Some(Err(BatchError::RecordCount {
                    declared: self.set.count,
                    detail: format!(
                        "{} bytes follow the last record",
                        self.data.len() - self.pos
                    ),
                }));
            }
            return None;
        }
        let item = self.decode_one();
        if item.is_err() {
            self.done = true;
        }
        self.index += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.set.count - self.index).max(0) as usize;
        (0, Some(left + 1))
    }
}

impl<'a> RecordIter<'a> {
    /// Advances past records while `skip(offset, timestamp)` holds, reading
    /// only each record's length and deltas. Stops at the first record it
    /// cannot read, leaving it to `next` to report.
    fn skip_while_header(&mut self, mut skip: impl FnMut(i64, i64) -> bool) {
        while !self.done && self.index < self.set.count {
            let mut cur = Cursor {
                data: self.data,
                pos: self.pos,
            };
            let Some((end, ts_delta, offset_delta)) = cur.record_header() else {
                return;
            };
            let offset = self.set.base_offset.wrapping_add(offset_delta);
            let timestamp = self
                .set
                .log_append_time
                .unwrap_or_else(|| self.set.base_timestamp.wrapping_add(ts_delta));
            if offset_delta <= self.prev_delta || !skip(offset, timestamp) {
                return;
            }
            self.prev_delta = offset_delta;
            self.pos = end;
            self.index += 1;
        }
    }

    #[inline]
    fn decode_one(&mut self) -> Result<RecordRef<'a>, BatchError> {
        let index = self.index as u32;
        let start = self.pos;
        let bad = |detail| BatchError::BadRecord {
            index,
            position: start,
            detail,
        };
        let mut cur = Cursor {
            data: self.data,
            pos: start,
        };
        let length = cur.varint().map_err(|_| bad("unreadable length"))?;
        if length < 0 || length as usize > self.data.len() - cur.pos {
            return Err(bad("length runs past the end of the records"));
        }
        let end = cur.pos + length as usize;
        let mut body = Cursor {
            data: &self.data[..end],
            pos: cur.pos,
        };
        let record = self.decode_body(&mut body).map_err(bad)?;
        if body.pos != end {
            return Err(bad("length does not match the fields"));
        }
        self.pos = end;
        Ok(record)
    }

    #[inline]
    fn decode_body(&mut self, cur: &mut Cursor<'a>) -> Result<RecordRef<'a>, &'static str> {
        cur.take(1).map_err(|_| "missing attributes")?;
        let ts_delta = cur.varlong().map_err(|_| "bad timestamp delta")?;
        let offset_delta = i64::from(cur.varint().map_err(|_| "bad offset delta")?);
        if offset_delta <= self.prev_delta {
            return Err("offset delta does not increase");
        }
        if offset_delta > i64::from(self.set.last_offset_delta) {
            return Err("offset delta beyond the batch's lastOffsetDelta");
        }
        self.prev_delta = offset_delta;
        let key = cur.bytes().map_err(|_| "bad key")?;
        let value = cur.bytes().map_err(|_| "bad value")?;
        let header_count = cur.varint().map_err(|_| "bad header count")?;
        if header_count < 0 {
            return Err("negative header count");
        }
        let headers_start = cur.pos;
        for _ in 0..header_count {
            if cur.bytes().map_err(|_| "bad header key")?.is_none() {
                return Err("null header key");
            }
            cur.bytes().map_err(|_| "bad header value")?;
        }
        let timestamp = match self.set.log_append_time {
            Some(t) => t,
            None => self.set.base_timestamp.wrapping_add(ts_delta),
        };
        Ok(RecordRef {
            offset: self.set.base_offset.wrapping_add(offset_delta),
            timestamp,
            timestamp_delta: ts_delta,
            key,
            value,
            headers: &cur.data[headers_start..cur.pos],
            header_count: header_count as u32,
        })
    }
}

/// A read position over a byte slice; every read is bounds-checked.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], ()> {
        let end = self.pos.checked_add(n).ok_or(())?;
        let out = self.data.get(self.pos..end).ok_or(())?;
        self.pos = end;
        Ok(out)
    }

    #[inline]
    fn varint(&mut self) -> Result<i32, ()> {
        let (v, n) = get_varint(&self.data[self.pos..]).map_err(|_| ())?;
        self.pos += n;
        Ok(v)
    }

    #[inline]
    fn varlong(&mut self) -> Result<i64, ()> {
        let (v, n) = get_varlong(&self.data[self.pos..]).map_err(|_| ())?;
        self.pos += n;
        Ok(v)
    }

    /// A record's end, timestamp delta and offset delta, from its first
    /// fields; `None` when they cannot be read.
    #[inline]
    fn record_header(&mut self) -> Option<(usize, i64, i64)> {
        let length = self.varint().ok()?;
        let end = self.pos.checked_add(usize::try_from(length).ok()?)?;
        if end > self.data.len() {
            return None;
        }
        self.take(1).ok()?;
        let ts_delta = self.varlong().ok()?;
        let offset_delta = i64::from(self.varint().ok()?);
        Some((end, ts_delta, offset_delta))
    }

    /// A length-prefixed byte string; length -1 is null.
    #[inline]
    fn bytes(&mut self) -> Result<Option<&'a [u8]>, ()> {
        match self.varint()? {
            -1 => Ok(None),
            n if n < 0 => Err(()),
            n => self.take(n as usize).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::record::{BatchBuilder, BatchView, DecodeLimits};

    #[test]
    fn iter_from_skips_to_the_offset_and_the_timestamp() {
        let mut b = BatchBuilder::new(100);
        for i in 0..10 {
            b.push_parts(
                i * 2,
                1_000 + i64::from(i) * 10,
                None,
                Some(format!("v{i}").as_bytes()),
                &[],
            )
            .unwrap();
        }
        let bytes = b.build().unwrap();
        let view = BatchView::parse(&bytes).unwrap();
        let set = view.records(&DecodeLimits::default()).unwrap();
        let offsets =
            |it: super::RecordIter<'_>| it.map(|r| r.unwrap().offset()).collect::<Vec<_>>();
        assert_eq!(
            offsets(set.iter_from(105)),
            [106, 108, 110, 112, 114, 116, 118]
        );
        assert_eq!(offsets(set.iter_from(0)).len(), 10);
        assert!(offsets(set.iter_from(200)).is_empty());
        assert_eq!(
            offsets(set.iter_from_timestamp(1_041)),
            [110, 112, 114, 116, 118]
        );
        let r = set.iter_from(118).next().unwrap().unwrap();
        assert_eq!((r.value(), r.timestamp()), (Some(&b"v9"[..]), 1_090));
    }
}
