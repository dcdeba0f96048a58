//! How many pins a user has in each status, kept so that the common listings (no filter, or
//! only `status`, which is what Kubo's `ls` and `--stat` ask) need not scan the whole pinset
//! to answer an exact `count`.
//!
//! No request ever reads, changes and writes back a shared number. Instead:
//! - every write to a user's pinset first puts a **change marker**, a key of its own
//!   (`v/{user}/{stamp}`, newest first, expiring after `MARKER_TTL_SECS`);
//! - a full scan of the pinset counts every status on its way and stores the totals under
//!   `v/{user}/!counts`, tagged with the newest marker it saw;
//! - a listing trusts those totals only while that tag is still the newest marker. One `list`
//!   of the `v/{user}/` prefix returns both (`!` sorts before every stamp).
//!
//! A scan stores its totals only when the newest marker is older than `SETTLE_MS`, longer than
//! KV's ~60 s propagation, so that what it counted includes every write the marker stands for.
//! Markers expire, and an expired newest marker no longer matches the tag, so even a count
//! taken from an unusually late view of KV is corrected by a rescan within `MARKER_TTL_SECS`.

use super::kv::{Kv, KvError};
use crate::auth::user::UserId;
use crate::domain::request_id::RequestId;
use crate::domain::status::Status;
use crate::domain::timestamp::Millis;
use serde_json::{json, Value};

/// Changes younger than this may not be visible to a scan everywhere yet.
pub const SETTLE_MS: u64 = 120_000;
/// How long a change marker lives. KV expires keys by itself; at least 60 s is required.
pub const MARKER_TTL_SECS: u64 = 3600;
const COUNTS: &str = "!counts";

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

/// What one `list` of `v/{user}/` says: the stored totals and the newest change.
pub struct Changes {
    stored: Option<(String, Tally)>,
    newest: Option<RequestId>,
}

impl Changes {
    pub async fn read<K: Kv>(kv: &K, user: &UserId) -> Result<Changes, KvError> {
        // The totals (`!` sorts first) and the newest marker: two keys at most.
        let page = kv.list(&prefix(user), None, 2).await?;
        let mut changes = Changes {
            stored: None,
            newest: None,
        };
        for key in page.keys {
            let tail = key.name.rsplit('/').next().unwrap_or("");
            if tail == COUNTS {
                changes.stored = key.metadata.as_ref().and_then(parse_counts);
            } else if let Some(stamp) = RequestId::parse(tail) {
                changes.newest = Some(stamp);
                break;
            }
        }
        Ok(changes)
    }

    /// The stored totals, if no change has been marked since they were taken.
    pub fn current(&self) -> Option<Tally> {
        let (as_of, tally) = self.stored.as_ref()?;
        (*as_of == self.tag()).then_some(*tally)
    }

    /// Stores the totals of a full scan, if the changes before it have settled.
    pub async fn store<K: Kv>(
        &self,
        kv: &K,
        user: &UserId,
        tally: Tally,
        now: Millis,
    ) -> Result<(), KvError> {
        let settled = self
            .newest
            .as_ref()
            .is_none_or(|m| m.created().0.saturating_add(SETTLE_MS) <= now.0);
        if !settled || self.current() == Some(tally) {
            return Ok(());
        }
        let meta = json!({ "a": self.tag(), "n": tally.0 });
        kv.put(&format!("{}{COUNTS}", prefix(user)), "", &meta, None)
            .await
    }

    fn tag(&self) -> String {
        self.newest
            .as_ref()
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
pub async fn mark_change<K: Kv>(
    kv: &K,
    user: &UserId,
    stamp: &RequestId,
    now: Millis,
) -> Result<(), KvError> {
    let key = format!("{}{}", prefix(user), stamp.as_str());
    let expires = now.0 / 1000 + MARKER_TTL_SECS;
    kv.put(&key, "", &Value::Null, Some(expires)).await
}

fn prefix(user: &UserId) -> String {
    format!("v/{}/", user.as_str())
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
            newest: Some(m1.clone()),
        };
        assert_eq!(c.current(), Some(tally));
        let newer = Changes {
            stored: Some((m1.as_str().to_owned(), tally)),
            newest: Some(m2),
        };
        assert_eq!(newer.current(), None);
        let expired = Changes {
            stored: Some((m1.as_str().to_owned(), tally)),
            newest: None,
        };
        assert_eq!(expired.current(), None, "an expired marker forces a rescan");
        let never = Changes {
            stored: Some((String::new(), tally)),
            newest: None,
        };
        assert_eq!(never.current(), Some(tally));
    }
}
