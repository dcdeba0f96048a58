//! Request ids: 32 lowercase hex digits. The first 16 are `u64::MAX - created` (milliseconds),
//! so ids sort newest-first as KV keys; the last 16 are random, so ids are unguessable and a CID
//! pinned twice gets two ids.

use super::timestamp::Millis;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn new(created: Millis, random: u64) -> RequestId {
        RequestId(format!("{:016x}{random:016x}", u64::MAX - created.0))
    }

    /// Anything that is not one of our ids cannot name a pin: the caller answers 404.
    pub fn parse(s: &str) -> Option<RequestId> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| RequestId(s.to_owned()))
    }

    pub fn created(&self) -> Millis {
        let inverted = u64::from_str_radix(&self.0[..16], 16).expect("parsed ids are hex");
        Millis(u64::MAX - inverted)
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
