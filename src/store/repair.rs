//! Repair of a pin's index entries, by the full scan that prunes its change markers.
//!
//! A write to a pinset is several KV operations (marker, record, `c/` entry, `n/` entry), and
//! a request can stop between any two. What a stopped write leaves, the marker it wrote first
//! names: the pin, and the keys of its entries. Before a scan prunes the newest marker of a
//! pin (written more than `PRUNE_SLACK_MS` ago: no request still works on it), it makes the
//! pin's entries agree with its record: present (as the record says) while the record exists,
//! absent once it is gone. So an add that stopped before its entries, or a delete that stopped
//! between its entries and its record, ends up wholly there; a pin whose record went ends up
//! wholly gone. Why this is safe against requests running at the same time: docs/storage.md,
//! "Order of writes". Costs: one `get` of the record and one per entry; a write (and one more
//! look at the record) only where an entry was wrong.

use super::keys;
use super::kv::{Kv, KvError};
use super::record::PinRecord;
use crate::auth::user::UserId;
use crate::domain::cid::Cid;
use crate::domain::name::fold;
use crate::domain::request_id::RequestId;
use serde_json::{json, Value};

/// The index entries a write gives a pin: its canonical CID and the hash of its folded name,
/// which the marker carries so that entries left by a pin whose record is gone can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entries {
    pub cid: String,
    pub name: Option<String>,
}

impl Entries {
    pub fn of(cid: &Cid, name: Option<&str>) -> Entries {
        Entries {
            cid: cid.canonical().to_owned(),
            name: name.map(|n| keys::name_hash(&fold(n))),
        }
    }

    /// Into a marker's metadata.
    pub fn write(&self, meta: &mut Value) {
        meta["c"] = json!(self.cid);
        if let Some(n) = &self.name {
            meta["n"] = json!(n);
        }
    }

    /// From a marker's metadata (`None` for markers of older code).
    pub fn read(meta: &Value) -> Option<Entries> {
        let cid = meta.get("c")?.as_str()?.to_owned();
        let name = match meta.get("n") {
            Some(n) => Some(n.as_str()?.to_owned()),
            None => None,
        };
        Some(Entries { cid, name })
    }

    fn keys(&self, user: &UserId, id: &RequestId) -> Vec<String> {
        let mut out = vec![format!("c/{}/{}/{}", user.as_str(), self.cid, id.as_str())];
        if let Some(n) = &self.name {
            out.push(keys::name_index_hashed(user, n, id));
        }
        out
    }
}

/// Makes the pin's entries agree with its record (see the module's comment). `marked`: the
/// entries its newest marker names.
pub async fn pin<K: Kv>(
    kv: &K,
    user: &UserId,
    id: &RequestId,
    marked: Option<&Entries>,
) -> Result<(), KvError> {
    let Some(raw) = kv.get(&keys::pin(user, id)).await? else {
        // Gone: no entry may point at it.
        return match marked {
            Some(entries) => drop_entries(kv, user, id, entries).await,
            None => Ok(()),
        };
    };
    // Unreadable: not ours to judge (reads report it).
    let Some(record) = PinRecord::from_json(&raw) else {
        return Ok(());
    };
    let Ok(cid) = Cid::parse(&record.cid) else {
        return Ok(());
    };
    let meta = record.to_metadata();
    let entries = Entries::of(&cid, record.name.as_deref());
    let mut wrote = false;
    for key in entries.keys(user, id) {
        if kv.get(&key).await?.is_none() {
            kv.put(&key, "", &meta, None).await?;
            wrote = true;
        }
    }
    // A delete of the pin that ran meanwhile may have gone past these keys already: look
    // once more, and take back what we put if the record is gone (what is left in a narrower
    // window, the delete's own marker names for the next repair).
    if wrote && kv.get(&keys::pin(user, id)).await?.is_none() {
        drop_entries(kv, user, id, &entries).await?;
    }
    Ok(())
}

/// Deletes whichever of a pin's entries exist (a `get` each, a delete only where one does).
pub async fn drop_entries<K: Kv>(
    kv: &K,
    user: &UserId,
    id: &RequestId,
    entries: &Entries,
) -> Result<(), KvError> {
    for key in entries.keys(user, id) {
        if kv.get(&key).await?.is_some() {
            kv.delete(&key).await?;
        }
    }
    Ok(())
}
