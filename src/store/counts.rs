//! How many pins a user has in each status, kept so that the common listings (no filter, or
//! only `status`, which is what Kubo's `ls` and `--stat` ask) need not scan the whole pinset
//! to answer an exact `count`.
//!
//! No request ever reads, changes and writes back a shared number. Instead:
//! - every write to a user's pinset first puts a **change marker**, a key of its own
//!   (`p/{user}/!m{stamp}`, newest first);
//! - a full scan of the pinset counts every status on its way and stores the totals under
//!   `p/{user}/!c`, tagged with the newest marker it saw, and deletes settled markers but the
//!   newest, so that markers do not pile up in front of the pins;
//! - a listing trusts those totals only while that tag is still the newest marker.
//!
//! Both sort before every request id (`!` < `0`), so the one `list` that reads the newest pins
//! also reads the totals and the markers.
//!
//! A scan stores its totals only when the newest marker is older than `SETTLE_MS`, longer than
//! KV's ~60 s propagation, so that what it counted includes every write the marker stands for;
//! Markers never expire (an expired marker could hide a change from totals tagged before it).
//! A stale or racing store can only leave totals whose tag is not the newest marker: a rescan,
//! never a wrong count.

use super::kv::{Kv, KvError};
use crate::auth::user::UserId;
use crate::domain::request_id::RequestId;
use crate::domain::status::Status;
use crate::domain::timestamp::Millis;
use serde_json::{json, Value};

/// Changes younger than this may not be visible to a scan everywhere yet.
pub const SETTLE_MS: u64 = 120_000;
/// Key tails (after `p/{user}/`) of the totals and of the markers.
const TOTALS: &str = "!c";
const MARKER: &str = "!m";
/// Marker deletions one listing may spend, inside the 1000 KV operations of an invocation.
pub const PRUNE_PER_SCAN: usize = 100;

/// Pins per status, in `Status::ALL` order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally(pub [usize; 4]);

impl Tally {
    pub fn add(&mut self, status: Status) {
        self.0[index(status)] += 1;
    }

    pub fn of(&self, status: Status) -> usize {
        self.0[index(status)]
    }
}

fn index(status: Status) -> usize {
    Status::ALL
        .iter()
        .position(|s| *s == status)
        .expect("ALL lists every status")
}

/// What the leading keys of a user's pin listing say: the stored totals and the markers.
#[derive(Default)]
pub struct Changes {
    stored: Option<(String, Tally)>,
    /// Newest first, as listed.
    markers: Vec<RequestId>,
}

impl Changes {
    /// Takes in a listed key (its name after `p/{user}/`); false when it is a pin's.
    pub fn observe(&mut self, tail: &str, metadata: Option<&Value>) -> bool {
        if tail == TOTALS {
            self.stored = metadata.and_then(parse_counts);
            true
        } else if let Some(stamp) = tail.strip_prefix(MARKER) {
            self.markers.extend(RequestId::parse(stamp));
            true
        } else {
            false
        }
    }

    /// The stored totals, if no change has been marked since they were taken.
    pub fn current(&self) -> Option<Tally> {
        let (as_of, tally) = self.stored.as_ref()?;
        (*as_of == self.tag()).then_some(*tally)
    }

    /// After a full scan: stores its totals if the changes before it have settled, and deletes
    /// settled markers but the newest (at most `PRUNE_PER_SCAN`). A marker older than the newest
    /// invalidates nothing the newest does not, so deleting it never makes totals current.
    pub async fn store<K: Kv>(
        &self,
        kv: &K,
        user: &UserId,
        tally: Tally,
        now: Millis,
    ) -> Result<(), KvError> {
        let settled = |m: &RequestId| m.created().0.saturating_add(SETTLE_MS) <= now.0;
        if self.markers.first().is_none_or(settled) && self.current() != Some(tally) {
            let meta = json!({ "a": self.tag(), "n": tally.0 });
            kv.put(&format!("{}{TOTALS}", prefix(user)), "", &meta, None)
                .await?;
        }
        // Oldest first, so that a capped prune still shortens the next scan's lead.
        let old = self.markers.iter().skip(1).filter(|m| settled(m));
        for m in old.rev().take(PRUNE_PER_SCAN) {
            kv.delete(&marker(user, m)).await?;
        }
        Ok(())
    }

    fn tag(&self) -> String {
        self.markers
            .first()
            .map_or_else(String::new, |m| m.as_str().to_owned())
    }
}

/// A fresh marker name: the time of the change, newest first, and 64 random bits.
pub fn stamp(now: Millis) -> Result<RequestId, KvError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| KvError(format!("no randomness: {e}")))?;
    Ok(RequestId::new(now, u64::from_le_bytes(bytes)))
}

/// Puts a change marker; called before every write to the user's pinset.
pub async fn mark_change<K: Kv>(kv: &K, user: &UserId, stamp: &RequestId) -> Result<(), KvError> {
    kv.put(&marker(user, stamp), "", &Value::Null, None).await
}

fn prefix(user: &UserId) -> String {
    format!("p/{}/", user.as_str())
}

fn marker(user: &UserId, stamp: &RequestId) -> String {
    format!("{}{MARKER}{}", prefix(user), stamp.as_str())
}

fn parse_counts(v: &Value) -> Option<(String, Tally)> {
    let as_of = v.get("a")?.as_str()?.to_owned();
    let n = v.get("n")?.as_array()?;
    let mut tally = Tally::default();
    for (slot, value) in tally.0.iter_mut().zip(n) {
        *slot = usize::try_from(value.as_u64()?).ok()?;
    }
    (n.len() == 4).then_some((as_of, tally))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_and_reject_junk() {
        let v = json!({"a": "x", "n": [1, 2, 3, 4]});
        let (as_of, t) = parse_counts(&v).unwrap();
        assert_eq!((as_of.as_str(), t.of(Status::Pinning)), ("x", 2));
        assert!(parse_counts(&json!({"a": "x", "n": [1, 2, 3]})).is_none());
        assert!(parse_counts(&json!({"a": "x", "n": [1, -2, 3, 4]})).is_none());
        assert!(parse_counts(&json!({"n": [1, 2, 3, 4]})).is_none());
    }

    #[test]
    fn stored_totals_are_current_only_under_the_newest_marker() {
        let tally = Tally([0, 0, 5, 0]);
        let m1 = RequestId::new(Millis(1_000), 1);
        let m2 = RequestId::new(Millis(2_000), 1);
        let c = Changes {
            stored: Some((m1.as_str().to_owned(), tally)),
            markers: vec![m1],
        };
        assert_eq!(c.current(), Some(tally));
        let newer = Changes {
            stored: Some((m1.as_str().to_owned(), tally)),
            markers: vec![m2, m1],
        };
        assert_eq!(newer.current(), None);
        let pruned = Changes {
            stored: Some((m1.as_str().to_owned(), tally)),
            markers: Vec::new(),
        };
        assert_eq!(
            pruned.current(),
            None,
            "a tag that is not listed forces a rescan"
        );
        let never = Changes {
            stored: Some((String::new(), tally)),
            markers: Vec::new(),
        };
        assert_eq!(never.current(), Some(tally));
    }
}
