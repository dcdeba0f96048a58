//! Request ids: 32 lowercase hex digits. The first 16 are `u64::MAX - created` (milliseconds),
//! so ids sort newest-first as KV keys; the last 16 are random, so ids are unguessable and a CID
//! pinned twice gets two ids.

use super::timestamp::Millis;

/// Held inline (no allocation): a scan parses one for every key it lists.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId([u8; 32]);

impl RequestId {
    pub fn new(created: Millis, random: u64) -> RequestId {
        let hex = format!("{:016x}{random:016x}", u64::MAX - created.0);
        RequestId::parse(&hex).expect("32 lowercase hex digits")
    }

    /// Anything that is not one of our ids cannot name a pin: the caller answers 404.
    pub fn parse(s: &str) -> Option<RequestId> {
        let bytes: [u8; 32] = s.as_bytes().try_into().ok()?;
        let hex = bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        hex.then_some(RequestId(bytes))
    }

    pub fn created(&self) -> Millis {
        let inverted = self.0[..16].iter().fold(0u64, |n, &b| {
            let digit = if b >= b'a' { b - b'a' + 10 } else { b - b'0' };
            n << 4 | u64::from(digit)
        });
        Millis(u64::MAX - inverted)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_created_and_sorts_newest_first() {
        let old = RequestId::new(Millis(1_000), 7);
        let new = RequestId::new(Millis(2_000), 1);
        assert_eq!(old.created(), Millis(1_000));
        assert!(new < old, "newer ids sort first");
        assert_eq!(RequestId::parse(new.as_str()), Some(new));
    }

    #[test]
    fn rejects_foreign_ids() {
        for s in ["", "abc", &"g".repeat(32), &"A".repeat(32), &"0".repeat(33)] {
            assert_eq!(RequestId::parse(s), None, "{s}");
        }
    }
}
