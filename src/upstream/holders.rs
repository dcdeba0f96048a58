//! KV access for the `upstream` backend's per-CID keys: holders (`h/`), CID states (`x/`), the
//! work queue (`q/`), and the one write that touches another user's pin record (a status update).

use super::state::CidState;
use crate::auth::user::UserId;
use crate::domain::{cid::Cid, request_id::RequestId, status::Status, timestamp::Millis};
use crate::store::kv::{Kv, KvError, LIST_PAGE};
use crate::store::{keys, pins::PinStore, record::PinRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub struct CidKeys<'a, K> {
    kv: &'a K,
}

/// A queue entry's metadata: when it is next due, the user whose request queued it (the sweep
/// shares its runs out among users by this), and where a status update of many holders stopped
/// (a KV list cursor and the last holder key done), so a later run can go on from there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    #[serde(rename = "d")]
    pub at: u64,
    /// Absent in entries queued before users were recorded: those share one turn.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The upstream pins a release just deleted, for the look after it: a provider that still
    /// lists them (late, or for good) must not have them adopted and released again, round
    /// after round (`sweep::release`).
    #[serde(rename = "g", default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<String>,
}

impl<'a, K: Kv> CidKeys<'a, K> {
    pub fn new(kv: &'a K) -> Self {
        CidKeys { kv }
    }

    pub async fn hold(&self, cid: &str, user: &UserId, id: &RequestId) -> Result<(), KvError> {
        let key = keys::holder(cid, user, id);
        self.kv.put(&key, "", &json!({}), None).await
    }

    pub async fn unhold(&self, cid: &str, user: &UserId, id: &RequestId) -> Result<(), KvError> {
        self.kv.delete(&keys::holder(cid, user, id)).await
    }

    /// How many pin objects `user` holds of `cid`, counting up to `limit` (one list when
    /// `limit` fits a page, as it does).
    pub async fn held_by(&self, cid: &str, user: &UserId, limit: u32) -> Result<u32, KvError> {
        let prefix = keys::holders_of_cid_by(cid, user);
        let (mut held, mut cursor) = (0, None);
        loop {
            let page = self.kv.list(&prefix, cursor, limit - held).await?;
            held += page.keys.len() as u32;
            cursor = page.cursor;
            if held >= limit || cursor.is_none() {
                return Ok(held);
            }
        }
    }

    /// One page of a CID's holders (every user), and the cursor of the next page.
    pub async fn holders(
        &self,
        cid: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<(String, UserId, RequestId)>, Option<String>), KvError> {
        let page = self
            .kv
            .list(&keys::holders_of_cid(cid), cursor, LIST_PAGE)
            .await?;
        let holders = page
            .keys
            .into_iter()
            .filter_map(|k| keys::holder_of(&k.name).map(|(u, id)| (k.name, u, id)))
            .collect();
        Ok((holders, page.cursor))
    }

    /// An unreadable state is treated as unknown: it is a cache, and the sweep rebuilds it.
    pub async fn state(&self, cid: &str) -> Result<Option<CidState>, KvError> {
        let raw = self.kv.get(&keys::cid_state(cid)).await?;
        Ok(raw.and_then(|s| CidState::from_json(&s)))
    }

    pub async fn put_state(&self, cid: &str, state: &CidState) -> Result<(), KvError> {
        let key = keys::cid_state(cid);
        self.kv.put(&key, &state.to_json(), &json!({}), None).await
    }

    pub async fn drop_state(&self, cid: &str) -> Result<(), KvError> {
        self.kv.delete(&keys::cid_state(cid)).await
    }

    /// Asks the sweep to look at `cid` from `due` on, on behalf of `user`'s pin `by`. Each
    /// request adds an entry of its own (keyed by time and pin), so no two requests write the
    /// same entry; the sweep drops the extra entries of a CID it has looked at.
    pub async fn enqueue(
        &self,
        cid: &str,
        user: &UserId,
        by: &RequestId,
        now: Millis,
        due: u64,
    ) -> Result<(), KvError> {
        let entry = Due {
            at: due,
            user: Some(user.as_str().to_owned()),
            ..Due::default()
        };
        self.put_entry(&keys::queued(now.0, cid, by), &entry).await
    }

    /// Rewrites an entry; only the sweep does this, to an entry it has just listed.
    pub async fn put_entry(&self, key: &str, due: &Due) -> Result<(), KvError> {
        let meta = serde_json::to_value(due).expect("entries serialize");
        self.kv.put(key, "", &meta, None).await
    }

    /// Writes a pin object's new status (`before`: the one it was read in; record, then index,
    /// as `PinStore::put`), then checks that the pin is still held: a delete removes the
    /// holder *first*, so if the holder is gone the delete ran meanwhile and this write must
    /// not bring the pin back. Returns whether the pin is still there.
    pub async fn rewrite_holder(
        &self,
        user: &UserId,
        id: &RequestId,
        cid: &Cid,
        before: Status,
        record: &PinRecord,
        now: Millis,
    ) -> Result<bool, KvError> {
        let store = PinStore::new(self.kv, user);
        store.put(id, cid, record, Some(before), now).await?;
        if self
            .kv
            .get(&keys::holder(cid.canonical(), user, id))
            .await?
            .is_some()
        {
            return Ok(true);
        }
        store.delete(id, record, now).await?;
        Ok(false)
    }
}
