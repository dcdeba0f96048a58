//! The name index (`n/{user}/{namehash}/{requestid}`) over pins written before it existed.
//!
//! Every pin written by this code gets its entry with its own writes (`PinStore::put`), so
//! only older pins can lack one. `n/{user}/!` says how far a **backfill** has got; name
//! lookups trust the index only once it says the backfill is done, and scan until then:
//!
//! - The first full scan of a user's pins (any listing that scans anyway) stores `s`, the
//!   time it started. Code older than the index may still be finishing requests then, so pins
//!   created from `s + ROLLOUT_MS` on are this code's, with entries of their own.
//! - From `s + ROLLOUT_MS`, each full scan also writes the entries of up to `BACKFILL_MAX`
//!   named pins created before it, newest first, after `c` (the last pin done), and stores the
//!   new `c`; the scan that reaches the end stores `d`, when it was done.
//! - Lookups trust the index from `d + SETTLE_MS`, when KV shows every entry everywhere.
//!
//! Each entry is written, then checked (write, then check, as the upstream's status writes):
//! a delete removes the CID index entry before the name entry and the record last, so an entry
//! whose pin lacks either (deleted meanwhile, or an add that stopped before its CID entry) is
//! taken back; one whose record changed meanwhile is written again from the record.
//! Two scans walking at once may store `!n` out of order: that loses progress (redone,
//! idempotently), never claims it: `d` is stored only by a walk that reached the end.

use super::counts::{PRUNE_PER_SCAN, SETTLE_MS};
use super::join;
use super::keys;
use super::kv::{Kv, KvError, LIST_PAGE};
use super::record::{metadata_json, Glance, PinRecord, RecordView};
use crate::auth::user::UserId;
use crate::domain::cid::Cid;
use crate::domain::name::fold;
use crate::domain::request_id::RequestId;
use crate::domain::timestamp::Millis;
use serde_json::{json, Value};

/// How long older code may still be writing pins once this code has run (a deploy's requests
/// in flight): pins created later than this after `s` need no backfill.
pub const ROLLOUT_MS: u64 = 15 * 60_000;
/// Pins one scan may index (one put and two gets each).
pub const BACKFILL_MAX: usize = 200;
/// KV operations a scanning listing keeps for itself, of the 1000 an invocation may make.
const OPS_BUDGET: usize = 850;

/// What `n/{user}/!` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexState {
    started: u64,
    cursor: Option<RequestId>,
    done: Option<u64>,
}

impl IndexState {
    fn parse(v: &Value) -> Option<IndexState> {
        Some(IndexState {
            started: v.get("s")?.as_u64()?,
            cursor: match v.get("c") {
                Some(c) => Some(RequestId::parse(c.as_str()?)?),
                None => None,
            },
            done: match v.get("d") {
                Some(d) => Some(d.as_u64()?),
                None => None,
            },
        })
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "s": self.started });
        if let Some(c) = &self.cursor {
            v["c"] = json!(c.as_str());
        }
        if let Some(d) = self.done {
            v["d"] = json!(d);
        }
        v
    }

    /// Whether a name lookup may answer from the index alone.
    pub fn trusted(&self, now: Millis) -> bool {
        self.done
            .is_some_and(|d| now.0 >= d.saturating_add(SETTLE_MS))
    }

    /// Whether a pin needs the backfill: created before this code surely wrote every pin, and
    /// not yet walked past.
    fn wants(&self, id: &RequestId) -> bool {
        self.done.is_none()
            && id.created().0 < self.started.saturating_add(ROLLOUT_MS)
            && self.cursor.is_none_or(|c| *id > c)
    }
}

/// The index's state for this user (one `get`); `None` before any scan has started it.
pub async fn state<K: Kv>(kv: &K, user: &UserId) -> Result<Option<IndexState>, KvError> {
    let raw = kv.get(&keys::name_index_state(user)).await?;
    let value: Option<Value> = raw.and_then(|s| serde_json::from_str(&s).ok());
    Ok(value.as_ref().and_then(IndexState::parse))
}

async fn store_state<K: Kv>(kv: &K, user: &UserId, state: &IndexState) -> Result<(), KvError> {
    let v = state.to_json().to_string();
    kv.put(&keys::name_index_state(user), &v, &Value::Null, None)
        .await
}

/// A named pin the backfill will index: its id, listed metadata, and name (`None`: the
/// metadata left it out, so the record is read).
struct Pending {
    id: RequestId,
    metadata: Value,
    name: Option<String>,
}

/// What a full scan of `p/{user}/` gathers for the backfill on its way.
#[derive(Default)]
pub struct Backfill {
    /// The state read before the scan; `None`: not read (this listing does not backfill).
    state: Option<Option<IndexState>>,
    /// Pins listed, to tell how many lists the scan made.
    listed: usize,
    pending: Vec<Pending>,
    /// More pins wanted the backfill than `pending` holds.
    more: bool,
}

impl Backfill {
    /// For a scan that will read the whole pinset, with the state read before it.
    pub fn new(state: Option<IndexState>) -> Backfill {
        Backfill {
            state: Some(state),
            ..Backfill::default()
        }
    }

    /// Takes in a pin the scan listed, keeping it if the backfill wants it.
    pub fn see(&mut self, id: &RequestId, metadata: Option<&Value>, now: Millis) {
        self.listed += 1;
        let Some(Some(state)) = &self.state else {
            return;
        };
        if now.0 < state.started.saturating_add(ROLLOUT_MS) || !state.wants(id) {
            return;
        }
        let mut spill = String::new();
        let json = metadata_json(metadata, &mut spill);
        let name = match json.and_then(Glance::of) {
            Some(g) if g.knows_name() => g.name.map(|n| Some(n.to_owned())),
            Some(_) => Some(None),
            None => match json.and_then(RecordView::parse) {
                Some(v) if v.knows_name() => v.name.map(|n| Some(n.into_owned())),
                _ => Some(None),
            },
        };
        // A pin without a name has no entry: walked past.
        let Some(name) = name else { return };
        if self.pending.len() == BACKFILL_MAX {
            self.more = true;
            return;
        }
        let metadata = match (metadata, &name) {
            (Some(m), Some(_)) => m.clone(),
            _ => Value::Null,
        };
        self.pending.push(Pending {
            id: *id,
            metadata,
            name,
        });
    }

    /// After a scan that read the whole pinset: starts the index's clock, or writes the
    /// entries gathered (as many as the invocation's KV budget allows) and stores how far it
    /// got.
    /// `pruned`: the change markers the scan pruned (each with its repair's reads).
    pub async fn finish<K: Kv>(
        mut self,
        kv: &K,
        user: &UserId,
        pruned: usize,
        now: Millis,
    ) -> Result<(), KvError> {
        let Some(state) = self.state.take() else {
            return Ok(());
        };
        let Some(mut state) = state else {
            let fresh = IndexState {
                started: now.0,
                cursor: None,
                done: None,
            };
            return store_state(kv, user, &fresh).await;
        };
        if state.done.is_some() || now.0 < state.started.saturating_add(ROLLOUT_MS) {
            return Ok(());
        }
        // The scan's lists (markers too), its prunes and the repair before each (a record and
        // two entries read: `repair`), its totals, this state's get and put.
        let lists = (self.listed + PRUNE_PER_SCAN) / LIST_PAGE as usize + 1;
        let room = OPS_BUDGET.saturating_sub(lists + 4 * pruned + 3) / 3;
        if self.pending.len() > room {
            self.pending.truncate(room);
            self.more = true;
        }
        let done = join::all(self.pending.iter().map(|p| index_one(kv, user, p))).await;
        let mut walked = None;
        for (p, ok) in self.pending.iter().zip(done) {
            if !ok? {
                self.more = true;
                break;
            }
            walked = Some(p.id);
        }
        if self.more {
            if walked.is_none() {
                return Ok(());
            }
            state.cursor = walked;
        } else {
            state.cursor = None;
            state.done = Some(now.0);
        }
        store_state(kv, user, &state).await
    }
}

/// Writes one older pin's entry, then checks it against the pin's keys. False when the record
/// kept changing under it (a later walk does it again).
async fn index_one<K: Kv>(kv: &K, user: &UserId, p: &Pending) -> Result<bool, KvError> {
    let pin_key = keys::pin(user, &p.id);
    let (name, mut metadata) = match &p.name {
        Some(name) => (name.clone(), p.metadata.clone()),
        None => match kv
            .get(&pin_key)
            .await?
            .as_deref()
            .and_then(PinRecord::from_json)
        {
            Some(PinRecord { name: None, .. }) | None => return Ok(true),
            Some(r) => (r.name.clone().unwrap_or_default(), r.to_metadata()),
        },
    };
    let entry = keys::name_index(user, &fold(&name), &p.id);
    for _ in 0..3 {
        kv.put(&entry, "", &metadata, None).await?;
        let record = kv.get(&pin_key).await?;
        let record = record.as_deref().and_then(PinRecord::from_json);
        let cid = record.as_ref().and_then(|r| Cid::parse(&r.cid).ok());
        let indexed = match &cid {
            Some(cid) => kv.get(&keys::cid_index(user, cid, &p.id)).await?.is_some(),
            None => false,
        };
        let Some(record) = record.filter(|r| indexed && r.name.as_deref() == Some(&name)) else {
            // Deleted (or being deleted), or an add that stopped before its CID entry: such a
            // pin is in neither index.
            kv.delete(&entry).await?;
            return Ok(true);
        };
        let fresh = record.to_metadata();
        if fresh == metadata {
            return Ok(true);
        }
        metadata = fresh;
    }
    Ok(false)
}

#[cfg(test)]
mod tests;
