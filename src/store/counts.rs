//! How many pins a user has in each status, kept so that the common listings (no filter, or
//! only `status`, which is what Kubo's `ls` and `--stat` ask) need not scan the whole pinset
//! to answer an exact `count`.
//!
//! No request ever reads, changes and writes back a shared number. Instead:
//! - every write to a user's pinset first puts a **change marker**, a key of its own
//!   (`p/{user}/!m{stamp}`, newest first) naming the pin and the status it had before
//!   (none for a new pin);
//! - a full scan of the pinset counts every status on its way and stores the **totals** under
//!   `p/{user}/!c` with two times: every write stamped before `c` is in them (KV shows a write
//!   everywhere within ~60 s), and none stamped after `e` is (the scan was over by then, give
//!   or take the clocks of two machines);
//! - a listing adds to the totals the changes marked after `e`: for each pin so marked, its
//!   status now (one `get`) minus the status its earliest such marker says it had. A marker
//!   between `c` and `e` may or may not be in the totals, so then the listing scans instead.
//!
//! Totals and markers sort before every request id (`!` < `0`), so the one `list` that reads
//! the newest pins also reads them, as one snapshot.
//!
//! Why the earliest marker's "before" is the status the totals counted: a write after `e` came
//! more than ~60 s after every write the totals hold (those are older than `c`), so the
//! status it read was theirs, unless another write after `e` came in between — and that one
//! has the earlier marker. A write that stopped after its marker changes nothing: the `get`
//! shows the pin as it is. Markers never expire (an expired one could hide a change); scans
//! prune those well inside the totals in force.

mod marker;

use super::keys;
use super::kv::{Kv, KvError};
use super::record::RecordView;
use super::repair;
use crate::auth::user::UserId;
use crate::domain::request_id::RequestId;
use crate::domain::status::Status;
use crate::domain::timestamp::Millis;
pub use marker::{mark_change, stamp};
use marker::{Marker, MARKER};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// Writes stamped at least this long before a scan began are in what it counted: KV's ~60 s
/// propagation bound plus a margin for a request's own span and the clocks of two machines.
pub const SETTLE_MS: u64 = 65_000;
/// A scan is over this long after its request began (100 lists take a few seconds), where the
/// runtime's clock cannot say when it was over.
pub const SCAN_SPAN_MS: u64 = 60_000;
/// How far apart two machines' clocks may be: writes are stamped by the writer's clock.
pub const CLOCK_SKEW_MS: u64 = 5_000;
/// Markers are pruned only this far before a scan's cutoff, so that totals stored out of order
/// by two overlapping scans never lack a marker they need.
pub const PRUNE_SLACK_MS: u64 = 300_000;
/// Marker deletions one listing may spend, inside the 1000 KV operations of an invocation.
pub const PRUNE_PER_SCAN: usize = 100;
/// Pins whose changes a listing reads (one `get` each) before it would rather scan.
pub const MAX_TOUCHED: usize = 100;
/// A status listing scans (storing totals, pruning markers and repairing what they name,
/// `repair`) rather than read changes this much older than the totals: whatever a stopped
/// write left is repaired within this bound of the owner's next listing.
pub const REPAIR_AFTER_MS: u64 = 3_600_000;
/// Key tail (after `p/{user}/`) of the totals.
const TOTALS: &str = "!c";

/// Pins per status, in `Status::ALL` order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally(pub [usize; 4]);

impl Tally {
    pub fn add(&mut self, status: Status) {
        self.0[index(status)] += 1;
    }

    /// False when there is nothing to take (counts that disagree with the markers).
    fn take(&mut self, status: Status) -> bool {
        let slot = &mut self.0[index(status)];
        *slot = match slot.checked_sub(1) {
            Some(n) => n,
            None => return false,
        };
        true
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

/// Stored totals: exact for every write stamped before `cutoff`, and for none after `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Totals {
    cutoff: u64,
    end: u64,
    tally: Tally,
}

/// What the totals and markers give a status-only listing.
#[derive(Debug, PartialEq, Eq)]
pub enum Base {
    /// The counts as they are.
    Exact(Tally),
    /// The stored totals, to be corrected by these pins' statuses now: each with the status
    /// it had in the totals (none: it did not exist then).
    Changed(Tally, BTreeMap<RequestId, Option<Status>>),
    /// Only a full scan can tell.
    Unknown,
}

/// What the leading keys of a user's pin listing say: the stored totals and the markers.
#[derive(Default)]
pub struct Changes {
    stored: Option<Totals>,
    /// Newest first, as listed.
    markers: Vec<Marker>,
}

impl Changes {
    /// Takes in a listed key (its name after `p/{user}/`); false when it is a pin's.
    pub fn observe(&mut self, tail: &str, metadata: Option<&Value>) -> bool {
        if tail == TOTALS {
            self.stored = metadata.and_then(parse_totals);
            true
        } else if let Some(stamp) = tail.strip_prefix(MARKER) {
            self.markers.extend(Marker::read(stamp, metadata));
            true
        } else {
            false
        }
    }

    /// The totals and the pins changed since, or `Unknown` when a marker may or may not be in
    /// the totals, comes from older code, or there are too many changed pins to read.
    pub fn base(&self) -> Base {
        self.base_at(None)
    }

    /// As `base`, and `Unknown` when a change after the totals is older than
    /// `REPAIR_AFTER_MS` at `now`: the scan that follows repairs what it names.
    pub fn base_at(&self, now: Option<Millis>) -> Base {
        let Some(stored) = self.stored else {
            return Base::Unknown;
        };
        let stale = |at: u64| now.is_some_and(|n| at.saturating_add(REPAIR_AFTER_MS) < n.0);
        // Per pin: the time of its earliest marker, and the status that marker read.
        let mut earliest: BTreeMap<RequestId, (u64, Option<Status>)> = BTreeMap::new();
        for m in &self.markers {
            let at = m.stamp.created().0;
            if at < stored.cutoff {
                break; // newest first: the rest are in the totals too
            }
            let Some((pin, before)) = m.change.filter(|_| at > stored.end && !stale(at)) else {
                return Base::Unknown;
            };
            match earliest.get_mut(&pin) {
                Some(seen) if at < seen.0 => *seen = (at, before),
                // Two writes of one pin in the same millisecond: which came first is unknown
                // unless one created the pin.
                Some(seen) if at == seen.0 && before != seen.1 => {
                    if before.is_none() {
                        *seen = (at, None);
                    } else if seen.1.is_some() {
                        return Base::Unknown;
                    }
                }
                Some(_) => {}
                None => {
                    earliest.insert(pin, (at, before));
                }
            }
        }
        let changed: BTreeMap<_, _> = earliest.into_iter().map(|(p, (_, b))| (p, b)).collect();
        match changed.len() {
            0 => Base::Exact(stored.tally),
            n if n <= MAX_TOUCHED => Base::Changed(stored.tally, changed),
            _ => Base::Unknown,
        }
    }

    /// After a full scan begun at `now`: stores its totals if no marker falls where they could
    /// not tell whether it is counted and the totals in force are not as good, then deletes
    /// the markers no totals can need any more (at most `PRUNE_PER_SCAN`, oldest first),
    /// each after repairing the pin it names. Returns how many it pruned.
    pub async fn store<K: Kv>(
        &self,
        kv: &K,
        user: &UserId,
        tally: Tally,
        now: Millis,
    ) -> Result<usize, KvError> {
        let end = match kv.clock() {
            Some(t) => t.0.max(now.0) + CLOCK_SKEW_MS,
            None => now.0 + SCAN_SPAN_MS,
        };
        let fresh = Totals {
            cutoff: now.0.saturating_sub(SETTLE_MS),
            end,
            tally,
        };
        let settled = self
            .markers
            .first()
            .is_none_or(|m| m.stamp.created().0 < fresh.cutoff);
        let in_force_is_exact = self.stored.is_some() && self.base() == Base::Exact(tally);
        let in_force = if settled && !in_force_is_exact {
            let meta = json!({ "c": fresh.cutoff, "e": fresh.end, "n": tally.0 });
            let key = format!("{}{TOTALS}", keys::pins_of(user));
            // Skipped when another listing of this user stored totals this very second (Kubo's
            // `--stat` sends four at once): the totals in force are then as if not stored.
            if kv.put_derived(&key, "", &meta, None).await? {
                Some(fresh)
            } else {
                self.stored
            }
        } else {
            self.stored
        };
        let Some(in_force) = in_force else {
            return Ok(0);
        };
        // In the totals in force, and older than what any scan still running (begun within
        // its span) counted: no totals stored now or later can need these.
        let prunable = |m: &&Marker| {
            let at = m.stamp.created().0;
            at < in_force.cutoff && at.saturating_add(PRUNE_SLACK_MS) < fresh.cutoff
        };
        // Each pin's newest marker (they are listed newest first) says what to repair: the
        // pin's entries are made to agree with its record before that marker goes.
        let mut seen = HashSet::new();
        let newest: HashSet<RequestId> = self
            .markers
            .iter()
            .filter(|m| m.change.is_some_and(|(pin, _)| seen.insert(pin)))
            .map(|m| m.stamp)
            .collect();
        let old = self.markers.iter().filter(prunable);
        let mut pruned = 0;
        for m in old.rev().take(PRUNE_PER_SCAN) {
            if let Some((pin, _)) = m.change.filter(|_| newest.contains(&m.stamp)) {
                repair::pin(kv, user, &pin, m.entries.as_ref()).await?;
            }
            kv.delete(&marker::key(user, &m.stamp)).await?;
            pruned += 1;
        }
        Ok(pruned)
    }
}

/// Applies the changes since the totals: each changed pin's status now (`None` once deleted)
/// replaces the one it had in them. `None` when the two disagree (a scan will tell).
pub fn apply(
    mut tally: Tally,
    changed: impl IntoIterator<Item = (Option<Status>, Option<Status>)>,
) -> Option<Tally> {
    for (before, now) in changed {
        if let Some(s) = before {
            if !tally.take(s) {
                return None;
            }
        }
        if let Some(s) = now {
            tally.add(s);
        }
    }
    Some(tally)
}

/// A pin's status as its stored record says (`None`: no such pin, or an unreadable record).
pub fn status_of(record_json: Option<&str>) -> Option<Status> {
    record_json.and_then(RecordView::parse).map(|v| v.status)
}

fn parse_totals(v: &Value) -> Option<Totals> {
    let n = v.get("n")?.as_array()?;
    let mut tally = Tally::default();
    for (slot, value) in tally.0.iter_mut().zip(n) {
        *slot = usize::try_from(value.as_u64()?).ok()?;
    }
    (n.len() == 4).then_some(Totals {
        cutoff: v.get("c")?.as_u64()?,
        end: v.get("e")?.as_u64()?,
        tally,
    })
}

#[cfg(test)]
mod tests;
