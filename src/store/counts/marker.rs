//! Change markers: the key every write to a user's pinset puts first (`p/{user}/!m{stamp}`,
//! newest first), naming the pin, the status it had before (none for a new pin) and its index
//! entries. `counts` reads them back to correct its totals and prunes them after a scan.

use crate::auth::user::UserId;
use crate::domain::request_id::RequestId;
use crate::domain::status::Status;
use crate::domain::timestamp::Millis;
use crate::store::keys;
use crate::store::kv::{Kv, KvError};
use crate::store::repair::Entries;
use serde_json::{json, Value};

/// Key tail (after `p/{user}/`) of a marker, before its stamp.
pub(super) const MARKER: &str = "!m";

/// A change marker: when, and (markers of older code say neither) which pin and its status
/// before the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Marker {
    pub stamp: RequestId,
    pub change: Option<(RequestId, Option<Status>)>,
    /// The pin's index entries (markers of older code do not say).
    pub entries: Option<Entries>,
}

impl Marker {
    /// A listed marker: its key's tail after `MARKER`, and its metadata. `None` when the tail
    /// is not a stamp.
    pub(super) fn read(stamp: &str, metadata: Option<&Value>) -> Option<Marker> {
        Some(Marker {
            stamp: RequestId::parse(stamp)?,
            change: metadata.and_then(parse_change),
            entries: metadata.and_then(Entries::read),
        })
    }
}

/// A fresh marker name: the time of the change, newest first, and 64 random bits.
pub fn stamp(now: Millis) -> Result<RequestId, KvError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| KvError(format!("no randomness: {e}")))?;
    Ok(RequestId::new(now, u64::from_le_bytes(bytes)))
}

/// Puts a change marker for `pin`, whose status is `before` (none: a new pin); called before
/// every write to the user's pinset. Stamped by the runtime's clock where it has one: `now` is
/// when the request (or the cron's run) began, and a sweep's write may come minutes later,
/// past the bound (`CLOCK_SKEW_MS`) that the totals' cutoff allows a stamp.
pub async fn mark_change<K: Kv>(
    kv: &K,
    user: &UserId,
    now: Millis,
    pin: &RequestId,
    before: Option<Status>,
    entries: Option<&Entries>,
) -> Result<(), KvError> {
    let mut meta = match before {
        Some(s) => json!({ "r": pin.as_str(), "b": s.as_str() }),
        None => json!({ "r": pin.as_str() }),
    };
    if let Some(e) = entries {
        e.write(&mut meta);
    }
    let at = kv.clock().unwrap_or(now);
    kv.put(&key(user, &stamp(at)?), "", &meta, None).await
}

/// A marker's key.
pub(super) fn key(user: &UserId, stamp: &RequestId) -> String {
    format!("{}{MARKER}{}", keys::pins_of(user), stamp.as_str())
}

/// What a marker's metadata says: the pin, and its status before the write.
pub(super) fn parse_change(v: &Value) -> Option<(RequestId, Option<Status>)> {
    let pin = RequestId::parse(v.get("r")?.as_str()?)?;
    let before = match v.get("b") {
        None => None,
        Some(b) => Some(Status::parse(b.as_str()?).ok()?),
    };
    Some((pin, before))
}
