//! Zigzag varints as Kafka writes them in v2 records (protobuf style: 7 bits a
//! byte, low group first, high bit = more follows).
//!
//! Reads are bounded the way Kafka's `ByteUtils` bounds them: at most 5 bytes
//! for a varint and 10 for a varlong; bits beyond the width are dropped, as Java
//! does, rather than rejected.

use super::error::{RecordError, Result};

const MAX_VARINT_BYTES: usize = 5;
const MAX_VARLONG_BYTES: usize = 10;

/// Reads a zigzag varint from the start of `buf`: (value, bytes consumed).
pub fn read_varint(buf: &[u8]) -> Result<(i32, usize)> {
    let (raw, used) = read_unsigned(buf, MAX_VARINT_BYTES)?;
    // Truncation is the point: a 5th byte's excess bits fall off as in Java.
    let raw = raw as u32;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Reads a zigzag varlong from the start of `buf`: (value, bytes consumed).
pub fn read_varlong(buf: &[u8]) -> Result<(i64, usize)> {
    let (raw, used) = read_unsigned(buf, MAX_VARLONG_BYTES)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

fn read_unsigned(buf: &[u8], max_bytes: usize) -> Result<(u64, usize)> {
    let mut value: u64 = 0;
    for (index, &byte) in buf.iter().take(max_bytes).enumerate() {
        let shift = 7 * index as u32;
        value |= u64::from(byte & 0x7f).wrapping_shl(shift);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    if buf.len() < max_bytes {
        Err(RecordError::Truncated)
    } else {
        Err(RecordError::InvalidRecord(format!(
            "varint longer than {max_bytes} bytes"
        )))
    }
}

/// Appends `value` as a zigzag varint.
pub fn write_varint(out: &mut Vec<u8>, value: i32) {
    write_unsigned(out, u64::from(((value << 1) ^ (value >> 31)) as u32));
}

/// Appends `value` as a zigzag varlong.
pub fn write_varlong(out: &mut Vec<u8>, value: i64) {
    write_unsigned(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn write_unsigned(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Bytes `write_varint(value)` appends.
pub fn varint_len(value: i32) -> usize {
    unsigned_len(u64::from(((value << 1) ^ (value >> 31)) as u32))
}

/// Bytes `write_varlong(value)` appends.
pub fn varlong_len(value: i64) -> usize {
    unsigned_len(((value << 1) ^ (value >> 63)) as u64)
}

fn unsigned_len(value: u64) -> usize {
    let significant_bits = 64 - value.leading_zeros() as usize;
    significant_bits.div_ceil(7).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let cases: [(i32, &[u8]); 6] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(read_varint(bytes).unwrap(), (value, bytes.len()));
        }
    }

    #[test]
    fn extremes_round_trip() {
        for value in [i32::MIN, i32::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(out.len(), 5);
            assert_eq!(read_varint(&out).unwrap(), (value, 5));
        }
        for value in [i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_varlong(&mut out, value);
            assert_eq!(out.len(), 10);
            assert_eq!(read_varlong(&out).unwrap(), (value, 10));
        }
    }

    #[test]
    fn overlong_and_truncated_are_errors() {
        assert_eq!(read_varint(&[]), Err(RecordError::Truncated));
        assert_eq!(read_varint(&[0x80, 0x80]), Err(RecordError::Truncated));
        assert!(matches!(read_varint(&[0x80; 6]), Err(RecordError::InvalidRecord(_))));
        assert!(matches!(read_varlong(&[0xff; 11]), Err(RecordError::InvalidRecord(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn varint_round_trips(value: i32) {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            prop_assert_eq!(out.len(), varint_len(value));
            prop_assert_eq!(read_varint(&out).unwrap(), (value, out.len()));
        }

        #[test]
        fn varlong_round_trips(value: i64) {
            let mut out = Vec::new();
            write_varlong(&mut out, value);
            prop_assert_eq!(out.len(), varlong_len(value));
            prop_assert_eq!(read_varlong(&out).unwrap(), (value, out.len()));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = read_varint(&bytes);
            let _ = read_varlong(&bytes);
        }
    }
}
