//! Unsigned LEB128 varints as multiformats and protobuf write them.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The bytes end before the varint does: more input may complete it.
    Truncated,
    /// Longer than ten bytes, over 64 bits, or padded with a trailing zero byte: no encoder
    /// writes these, and accepting them would let one value have many encodings.
    Overlong,
}

/// Reads a varint at the start of `buf`: its value and how many bytes it took.
pub fn read(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate() {
        if i == 10 {
            return Err(VarintError::Overlong);
        }
        let low = u64::from(byte & 0x7f);
        // The tenth byte holds bit 63 only.
        if i == 9 && low > 1 {
            return Err(VarintError::Overlong);
        }
        value |= low << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(VarintError::Overlong);
            }
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= 10 {
        return Err(VarintError::Overlong);
    }
    Err(VarintError::Truncated)
}

/// Appends `value` as a varint.
pub fn write(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// How many bytes [`write`] takes for `value`.
pub fn len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_encodings() {
        for v in [0, 1, 127, 128, 300, 1 << 21, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write(&mut out, v);
            assert_eq!(out.len(), len(v), "{v}");
            assert_eq!(read(&out), Ok((v, out.len())));
            for cut in 0..out.len() {
                assert_eq!(read(&out[..cut]), Err(VarintError::Truncated));
            }
        }
        assert_eq!(read(&[0x80, 0x00]), Err(VarintError::Overlong));
        assert_eq!(read(&[0xff; 10]), Err(VarintError::Overlong));
        assert_eq!(read(&[0xff; 11]), Err(VarintError::Overlong));
        let mut over = vec![0xff; 9];
        over.push(0x02); // bit 64
        assert_eq!(read(&over), Err(VarintError::Overlong));
        assert_eq!(read(&[0xac, 0x02, 0xff]), Ok((300, 2)));
    }
}
