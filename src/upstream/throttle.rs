//! How often reads may ask the upstream.

use crate::domain::timestamp::Millis;
use std::cell::RefCell;
use std::collections::HashMap;

/// Bounds status refreshes triggered by reads to one per CID per interval *in this isolate*,
/// without a KV write: Kubo polls a new pin twice a second, and a KV write per poll would cost
/// more than the upstream call it saves. Other isolates keep their own bound.
#[derive(Default)]
pub struct Throttle(RefCell<HashMap<String, u64>>);

/// Entries kept before the map is cleared (a cleared map only allows an early refresh).
const THROTTLE_ENTRIES: usize = 4096;

impl Throttle {
    /// Remembers that `key` was just asked about (an add counts as a refresh).
    pub fn note(&self, key: &str, now: Millis) {
        self.allow(key, now, 0);
    }

    /// True (and remembered) when `key` was not allowed within the last `interval_ms`.
    pub fn allow(&self, key: &str, now: Millis, interval_ms: u64) -> bool {
        let mut map = self.0.borrow_mut();
        let last = map.get(key).copied();
        // A clock that went backwards (another test, another isolate's record) allows.
        if last.is_some_and(|t| now.0 >= t && now.0 - t < interval_ms) {
            return false;
        }
        if map.len() >= THROTTLE_ENTRIES {
            map.clear();
        }
        map.insert(key.to_owned(), now.0);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_once_per_interval() {
        let t = Throttle::default();
        assert!(t.allow("a", Millis(1_000), 500));
        assert!(!t.allow("a", Millis(1_400), 500));
        assert!(t.allow("b", Millis(1_400), 500));
        assert!(t.allow("a", Millis(1_500), 500));
        assert!(
            t.allow("a", Millis(100), 500),
            "a clock that went back allows"
        );
    }
}
