//! `partition.metadata` and [`TopicId`]: Kafka's `PartitionMetadataFile`
//! and `org.apache.kafka.common.Uuid`.
//!
//! ```text
//! version: 0
//! topic_id: IFuPQ7WpSCyaLCo8X57VNA      (no newline at the end)
//! ```

use std::fmt;
use std::fs::File;
use std::hash::BuildHasher as _;
use std::io::Read as _;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{JavaLines, corrupt, invalid_input, is_java_space, utf8, write_atomically};
use crate::error::{Error, Result};

/// What [`Error::CorruptCheckpoint`] calls these files.
const KIND: &str = "partition metadata";

/// URL-safe base64 (RFC 4648 section 5), Java's `Base64.getUrlEncoder()`.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A Kafka topic id: a 128-bit UUID (Kafka's `Uuid`), shown as Kafka shows
/// it, in URL-safe base64 without padding (22 characters), for example
/// `IFuPQ7WpSCyaLCo8X57VNA`.
///
/// The bytes are the UUID in big-endian order (most significant half
/// first), so the derived ordering is Kafka's `Uuid.compareTo`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicId([u8; 16]);

impl TopicId {
    /// Kafka's `Uuid.ZERO_UUID` (`AAAAAAAAAAAAAAAAAAAAAA`): "no topic id";
    /// never a valid id in `partition.metadata`.
    pub const ZERO: TopicId = TopicId([0; 16]);

    /// Kafka's `Uuid.ONE_UUID` / `METADATA_TOPIC_ID`
    /// (`AAAAAAAAAAAAAAAAAAAAAQ`): the id of KRaft's `__cluster_metadata`.
    pub const METADATA: TopicId = TopicId([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

    /// The id with these 16 bytes (big-endian UUID).
    pub const fn from_bytes(bytes: [u8; 16]) -> TopicId {
        TopicId(bytes)
    }

    /// The 16 bytes (big-endian UUID).
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Whether Kafka reserves this id ([`ZERO`](Self::ZERO) or
    /// [`METADATA`](Self::METADATA)) so that `Uuid.randomUuid` never returns it.
    pub fn is_reserved(self) -> bool {
        self == Self::ZERO || self == Self::METADATA
    }

    /// A new random id as Kafka's `Uuid.randomUuid` makes them: a version 4,
    /// variant 2 UUID that is not reserved and whose text does not start
    /// with `-` (so it cannot be mistaken for a command-line option).
    ///
    /// The bytes come from `/dev/urandom`; where that cannot be read, from
    /// std's randomly keyed SipHash over a process-wide counter.
    pub fn random() -> TopicId {
        loop {
            let mut bytes = random_bytes();
            bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
            bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 2 (RFC 4122)
            let id = TopicId(bytes);
            // The first character encodes the top 6 bits of byte 0; 62 is '-'.
            if !id.is_reserved() && bytes[0] >> 2 != 62 {
                return id;
            }
        }
    }
}

/// 16 random bytes.
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok()
    {
        return bytes;
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Each RandomState has fresh keys derived from OS randomness.
    let high = std::collections::hash_map::RandomState::new().hash_one(n);
    let low = std::collections::hash_map::RandomState::new().hash_one(n);
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes
}

impl fmt::Display for TopicId {
    /// Kafka's `Uuid.toString()`: URL-safe base64, no padding, 22 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 22];
        for (group, chunk) in self.0.chunks(3).enumerate() {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let bits = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            // 16 bytes: five full groups of 4 characters, then 2 for the last byte.
            let chars = if chunk.len() == 3 { 4 } else { 2 };
            for i in 0..chars {
                out[group * 4 + i] = ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize];
            }
        }
        // Only ASCII from ALPHABET was written.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopicId({self})")
    }
}

/// Why a string is not a [`TopicId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid topic id: {reason}")]
pub struct ParseTopicIdError {
    reason: &'static str,
}

impl FromStr for TopicId {
    type Err = ParseTopicIdError;

    /// Parses Kafka's `Uuid.toString()` form: 22 URL-safe base64
    /// characters, or 24 with Java's `==` padding (which Kafka's
    /// `Uuid.fromString` also accepts). Unlike Java's decoder, the unused
    /// low bits of the last character must be zero, so every id has exactly
    /// one unpadded spelling.
    fn from_str(s: &str) -> std::result::Result<TopicId, ParseTopicIdError> {
        let err = |reason| ParseTopicIdError { reason };
        let text = match s.len() {
            22 => s.as_bytes(),
            24 => s
                .strip_suffix("==")
                .ok_or(err("24 characters must end with `==` padding"))?
                .as_bytes(),
            _ => return Err(err("expected 22 base64 characters")),
        };
        let mut digits = [0u8; 22];
        for (digit, &c) in digits.iter_mut().zip(text) {
            *digit = ALPHABET
                .iter()
                .position(|&a| a == c)
                .ok_or(err("not a URL-safe base64 character"))? as u8;
        }
        // 22 characters carry 132 bits: the 128 of the id, then 4 zero bits.
        let last = digits[21];
        if last & 0xf != 0 {
            return Err(err("non-canonical last character"));
        }
        let bits = digits[..21]
            .iter()
            .fold(0u128, |bits, &d| (bits << 6) | u128::from(d));
        let bits = (bits << 2) | u128::from(last >> 4);
        Ok(TopicId(bits.to_be_bytes()))
    }
}

/// Reads `partition.metadata` and returns its topic id.
///
/// As Kafka's `PartitionMetadataReadBuffer`: line 1 `version: <n>` with a
/// version of at least 0, line 2 `topic_id: <id>`, keys followed by `:` and
/// whitespace, the zero id refused. A newer version's further lines are
/// ignored as Kafka ignores them; a version 0 file must end after the id
/// (an optional final newline aside). A missing file is an
/// [`Error::Io`] with kind `NotFound` (Kafka checks for the file first).
pub fn read_partition_metadata(path: impl AsRef<Path>) -> Result<TopicId> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_partition_metadata(path, &bytes)
}

/// Replaces `partition.metadata` atomically with Kafka's bytes:
/// `version: 0\ntopic_id: <id>`, no final newline. [`TopicId::ZERO`] is an
/// `InvalidInput` [`Error::Io`]: Kafka could not read it back.
pub fn write_partition_metadata(path: impl AsRef<Path>, topic_id: TopicId) -> Result<()> {
    let path = path.as_ref();
    if topic_id == TopicId::ZERO {
        return Err(invalid_input(
            path,
            "the zero topic id cannot be written".to_owned(),
        ));
    }
    write_atomically(path, format!("version: 0\ntopic_id: {topic_id}").as_bytes())
}

/// Parses the bytes of `partition.metadata` with the rules of
/// [`read_partition_metadata`] (for tools and fuzzing; `path` only names the
/// file in errors).
pub fn decode_partition_metadata(path: &Path, bytes: &[u8]) -> Result<TopicId> {
    let text = utf8(path, KIND, bytes)?;
    let mut lines = JavaLines::new(text);
    let line = lines.next().unwrap_or_default();
    let version =
        value(line, "version").ok_or_else(|| corrupt(path, KIND, 1, "expected `version: <n>`"))?;
    let version: i32 = version.parse().map_err(|_| {
        corrupt(
            path,
            KIND,
            1,
            format!("version {version:?} is not a number"),
        )
    })?;
    if version < 0 {
        return Err(corrupt(
            path,
            KIND,
            1,
            format!("unsupported version {version}"),
        ));
    }
    let line = lines.next().unwrap_or_default();
    let id = value(line, "topic_id")
        .ok_or_else(|| corrupt(path, KIND, 2, "expected `topic_id: <id>`"))?;
    let id: TopicId = id
        .parse()
        .map_err(|e| corrupt(path, KIND, 2, format!("{e}")))?;
    if id == TopicId::ZERO {
        return Err(corrupt(
            path,
            KIND,
            2,
            "the zero topic id is not a topic id",
        ));
    }
    if version == 0 && lines.next().is_some() {
        return Err(corrupt(
            path,
            KIND,
            3,
            "unexpected content after the topic id",
        ));
    }
    Ok(id)
}

/// The value of `<key>:<whitespace><value>`, Kafka's `split(":\\s+", 2)`.
fn value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?.strip_prefix(':')?;
    let value = rest.trim_start_matches(is_java_space);
    (value.len() < rest.len()).then_some(value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn corrupt_line(bytes: &[u8]) -> usize {
        match decode_partition_metadata(Path::new("pm"), bytes) {
            Err(Error::CorruptCheckpoint { line, kind, .. }) => {
                assert_eq!(kind, KIND);
                line
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    #[test]
    fn known_vectors() {
        // Kafka's reserved ids; METADATA is in every KRaft fixture's
        // __cluster_metadata-0/partition.metadata.
        assert_eq!(TopicId::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(TopicId::METADATA.to_string(), "AAAAAAAAAAAAAAAAAAAAAQ");
        // Computed independently with Python's base64.urlsafe_b64encode.
        let counting: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            TopicId::from_bytes(counting).to_string(),
            "AAECAwQFBgcICQoLDA0ODw"
        );
        assert_eq!(
            TopicId::from_bytes([0xff; 16]).to_string(),
            "_____________________w"
        );
        // A real topic id (fixture williamjie__kafakainfo), decoded with Python.
        let id: TopicId = "IFuPQ7WpSCyaLCo8X57VNA".parse().unwrap();
        let hex: String = id.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "205b8f43b5a9482c9a2c2a3c5f9ed534");
        assert_eq!(format!("{id:?}"), "TopicId(IFuPQ7WpSCyaLCo8X57VNA)");
        // Java's padded form is accepted too.
        assert_eq!("IFuPQ7WpSCyaLCo8X57VNA==".parse::<TopicId>().unwrap(), id);
        // Ordering is Kafka's compareTo (unsigned, most significant first).
        assert!(TopicId::ZERO < TopicId::METADATA && TopicId::METADATA < id);
    }

    #[test]
    fn bad_ids() {
        for bad in [
            "",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAé",
        ] {
            assert!(bad.parse::<TopicId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn random_ids_are_kafka_like() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let id = TopicId::random();
            let text = id.to_string();
            assert!(!text.starts_with('-'), "{text}");
            assert!(!id.is_reserved());
            assert_eq!(id.to_bytes()[6] >> 4, 4);
            assert_eq!(id.to_bytes()[8] >> 6, 2);
            assert_eq!(text.parse::<TopicId>().unwrap(), id);
            assert!(seen.insert(id));
        }
        // The dash test used by `random` is the one on the text.
        for b0 in 0..=255u8 {
            let mut bytes = [1u8; 16];
            bytes[0] = b0;
            assert_eq!(
                TopicId::from_bytes(bytes).to_string().starts_with('-'),
                b0 >> 2 == 62
            );
        }
    }

    #[test]
    fn file_bytes_and_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partition.metadata");
        assert!(
            matches!(read_partition_metadata(&path), Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound)
        );
        let id: TopicId = "IFuPQ7WpSCyaLCo8X57VNA".parse().unwrap();
        write_partition_metadata(&path, id).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"version: 0\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA"
        );
        assert_eq!(read_partition_metadata(&path).unwrap(), id);
        let random = TopicId::random();
        write_partition_metadata(&path, random).unwrap();
        assert_eq!(read_partition_metadata(&path).unwrap(), random);
        assert!(write_partition_metadata(&path, TopicId::ZERO).is_err());
        assert_eq!(read_partition_metadata(&path).unwrap(), random);
    }

    #[test]
    fn lenient_where_kafka_is() {
        let p = Path::new("pm");
        let id: TopicId = "IFuPQ7WpSCyaLCo8X57VNA".parse().unwrap();
        for ok in [
            &b"version: 0\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA\n"[..],
            b"version: 0\r\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA\r\n",
            b"version:\t 0\ntopic_id:  IFuPQ7WpSCyaLCo8X57VNA",
            b"version: 1\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA\nsomething: new\n",
        ] {
            assert_eq!(
                decode_partition_metadata(p, ok).unwrap(),
                id,
                "{:?}",
                String::from_utf8_lossy(ok)
            );
        }
        assert_eq!(
            decode_partition_metadata(p, b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ").unwrap(),
            TopicId::METADATA
        );
    }

    #[test]
    fn malformed_names_the_line() {
        assert_eq!(corrupt_line(b""), 1);
        assert_eq!(
            corrupt_line(b"version: -1\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA"),
            1
        );
        assert_eq!(
            corrupt_line(b"version: x\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA"),
            1
        );
        assert_eq!(
            corrupt_line(b"version:0\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA"),
            1
        );
        assert_eq!(
            corrupt_line(b"Version: 0\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA"),
            1
        );
        assert_eq!(
            corrupt_line(b"version: 0 \ntopic_id: IFuPQ7WpSCyaLCo8X57VNA"),
            1
        );
        assert_eq!(corrupt_line(b"version: 0\n"), 2);
        assert_eq!(corrupt_line(b"version: 0\ntopic_id: "), 2);
        assert_eq!(
            corrupt_line(b"version: 0\ntopic-id: IFuPQ7WpSCyaLCo8X57VNA"),
            2
        );
        assert_eq!(
            corrupt_line(b"version: 0\ntopic_id: IFuPQ7WpSCyaLCo8X57VN"),
            2
        );
        assert_eq!(
            corrupt_line(b"version: 0\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA extra"),
            2
        );
        assert_eq!(
            corrupt_line(b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA"),
            2
        );
        assert_eq!(
            corrupt_line(b"version: 0\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA\n\n"),
            3
        );
        assert_eq!(
            corrupt_line(b"version: 0\ntopic_id: IFuPQ7WpSCyaLCo8X57VNA\nx"),
            3
        );
        let err = decode_partition_metadata(Path::new("/d/pm"), b"version: 0\ntopic_id: nope")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed partition metadata file /d/pm: line 2: invalid topic id: expected 22 base64 characters"
        );
    }

    proptest! {
        #[test]
        fn display_from_str_roundtrip(bytes in any::<[u8; 16]>()) {
            let id = TopicId::from_bytes(bytes);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 22);
            prop_assert_eq!(text.parse::<TopicId>().unwrap(), id);
            prop_assert_eq!(decode_partition_metadata(Path::new("pm"), format!("version: 0\ntopic_id: {text}").as_bytes()).ok(),
                (id != TopicId::ZERO).then_some(id));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_partition_metadata(Path::new("pm"), &bytes);
        }

        #[test]
        fn from_str_never_panics(text in "[A-Za-z0-9_=+/-]{20,26}|\\PC{0,30}") {
            if let Ok(id) = text.parse::<TopicId>() {
                prop_assert_eq!(id.to_string(), text.trim_end_matches('='));
            }
        }
    }
}
