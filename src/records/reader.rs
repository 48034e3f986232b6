//! A bounds-checked big-endian cursor: every read either succeeds or returns
//! `Truncated`, so decoders never index past their input.

use super::error::{RecordError, Result};
use super::varint;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(len).ok_or(RecordError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(RecordError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn i8(&mut self) -> Result<i8> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn varint(&mut self) -> Result<i32> {
        let (value, used) = varint::read_varint(self.rest())?;
        self.pos += used;
        Ok(value)
    }

    pub(crate) fn varlong(&mut self) -> Result<i64> {
        let (value, used) = varint::read_varlong(self.rest())?;
        self.pos += used;
        Ok(value)
    }
}

/// Reads big-endian fields at fixed offsets of a slice, for headers.
pub(crate) fn i32_at(buf: &[u8], at: usize) -> Option<i32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_order_and_stops_at_the_end() {
        let mut reader = Reader::new(&[0, 1, 0, 0, 0, 2, 0xff]);
        assert_eq!(reader.i16().unwrap(), 1);
        assert_eq!(reader.i32().unwrap(), 2);
        assert_eq!(reader.remaining(), 1);
        assert_eq!(reader.i16(), Err(RecordError::Truncated));
        assert_eq!(reader.i8().unwrap(), -1);
        assert_eq!(reader.take(1), Err(RecordError::Truncated));
        assert_eq!(reader.take(usize::MAX), Err(RecordError::Truncated));
        assert_eq!(reader.rest(), &[] as &[u8]);
    }

    #[test]
    fn fixed_offset_reads_are_bounded() {
        assert_eq!(i32_at(&[0, 0, 0, 7], 0), Some(7));
        assert_eq!(i32_at(&[0, 0, 0], 0), None);
        assert_eq!(i32_at(&[0; 8], usize::MAX), None);
    }
}
