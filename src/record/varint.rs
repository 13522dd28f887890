//! Zigzag variable-length integers, as Kafka's records use them (the
//! protobuf encoding: 7 bits a byte, least significant group first, high bit
//! set on every byte but the last; signed values zigzag-mapped first).

/// Maximum encoded size of a 32-bit varint.
pub const MAX_VARINT_LEN: usize = 5;
/// Maximum encoded size of a 64-bit varlong.
pub const MAX_VARLONG_LEN: usize = 10;

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More continuation bytes than the type allows.
    TooLong,
}

/// Appends `value` as a zigzag varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_unsigned(out, u64::from(((value << 1) ^ (value >> 31)) as u32));
}

/// Appends `value` as a zigzag varlong.
#[inline]
pub fn put_varlong(out: &mut Vec<u8>, value: i64) {
    put_unsigned(out, ((value << 1) ^ (value >> 63)) as u64);
}

#[inline]
fn put_unsigned(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes `value` takes as a zigzag varint.
#[inline]
pub fn varint_len(value: i32) -> usize {
    unsigned_len(u64::from(((value << 1) ^ (value >> 31)) as u32))
}

/// Bytes `value` takes as a zigzag varlong.
#[inline]
pub fn varlong_len(value: i64) -> usize {
    unsigned_len(((value << 1) ^ (value >> 63)) as u64)
}

#[inline]
fn unsigned_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads a zigzag varint from the start of `buf`: the value and its length.
#[inline]
pub fn get_varint(buf: &[u8]) -> Result<(i32, usize), VarintError> {
    if let Some(&b) = buf.first()
        && b < 0x80
    {
        return Ok((unzigzag32(u32::from(b)), 1));
    }
    let (raw, len) = get_unsigned(buf, MAX_VARINT_LEN)?;
    Ok((unzigzag32(raw as u32), len))
}

/// Reads a zigzag varlong from the start of `buf`: the value and its length.
#[inline]
pub fn get_varlong(buf: &[u8]) -> Result<(i64, usize), VarintError> {
    if let Some(&b) = buf.first()
        && b < 0x80
    {
        return Ok((unzigzag64(u64::from(b)), 1));
    }
    let (raw, len) = get_unsigned(buf, MAX_VARLONG_LEN)?;
    Ok((unzigzag64(raw), len))
}

#[inline]
fn get_unsigned(buf: &[u8], max_len: usize) -> Result<(u64, usize), VarintError> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().take(max_len).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= max_len {
        Err(VarintError::TooLong)
    } else {
        Err(VarintError::Truncated)
    }
}

#[inline]
fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

#[inline]
fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Zigzag maps 0,-1,1,-2,2 to 0,1,2,3,4; 300 -> 600 -> [0xd8, 0x04].
        let cases: [(i32, &[u8]); 6] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (300, &[0xd8, 0x04]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(varint_len(value), bytes.len());
            assert_eq!(get_varint(bytes), Ok((value, bytes.len())));
        }
    }

    #[test]
    fn malformed() {
        assert_eq!(get_varint(&[]), Err(VarintError::Truncated));
        assert_eq!(get_varint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(get_varint(&[0x80; 6]), Err(VarintError::TooLong));
        assert_eq!(get_varlong(&[0xff; 11]), Err(VarintError::TooLong));
    }

    proptest! {
        #[test]
        fn varint_roundtrip(v in any::<i32>()) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            prop_assert_eq!(out.len(), varint_len(v));
            prop_assert_eq!(get_varint(&out), Ok((v, out.len())));
        }

        #[test]
        fn varlong_roundtrip(v in any::<i64>()) {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            prop_assert_eq!(out.len(), varlong_len(v));
            prop_assert_eq!(get_varlong(&out), Ok((v, out.len())));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = get_varint(&bytes);
            let _ = get_varlong(&bytes);
        }
    }
}
