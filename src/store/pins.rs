//! A user's pinset in KV: a pin's writes and reads (the listing behind `GET /pins` is in
//! `listing`).

use super::counts;
use super::keys;
use super::kv::{Kv, KvError};
use super::record::PinRecord;
use super::repair::Entries;
use crate::auth::user::UserId;
use crate::domain::cid::Cid;
use crate::domain::name::fold;
use crate::domain::request_id::RequestId;
use crate::domain::status::Status;
use crate::domain::timestamp::Millis;

pub use super::listing::Listing;

pub struct PinStore<'a, K> {
    pub(super) kv: &'a K,
    pub(super) user: &'a UserId,
}

impl<'a, K: Kv> PinStore<'a, K> {
    pub fn new(kv: &'a K, user: &'a UserId) -> Self {
        PinStore { kv, user }
    }

    /// Change marker first (it names the pin, its entries' keys and `before`, the status the
    /// caller read it in; none for a new pin). A new pin: record, then the CID index and the
    /// name index; an interrupted add leaves a pin that lists but is not yet found by `cid=`
    /// or `name=`, never an index entry pointing at nothing, and the scan that prunes the
    /// marker adds the entries (`repair`). A rewrite (a status change): entries first, record
    /// last, so an interrupted one leaves the record behind its entries, and whoever rewrites
    /// it (the record does not show the new status) writes it all again.
    pub async fn put(
        &self,
        id: &RequestId,
        cid: &Cid,
        record: &PinRecord,
        before: Option<Status>,
        now: Millis,
    ) -> Result<(), KvError> {
        let entries = Entries::of(cid, record.name.as_deref());
        counts::mark_change(self.kv, self.user, now, id, before, Some(&entries)).await?;
        let meta = record.to_metadata();
        if before.is_none() {
            self.put_record(id, record, &meta).await?;
        }
        self.kv
            .put(&keys::cid_index(self.user, cid, id), "", &meta, None)
            .await?;
        if let Some(name) = &record.name {
            let key = keys::name_index(self.user, &fold(name), id);
            self.kv.put(&key, "", &meta, None).await?;
        }
        if before.is_some() {
            self.put_record(id, record, &meta).await?;
        }
        Ok(())
    }

    async fn put_record(
        &self,
        id: &RequestId,
        record: &PinRecord,
        meta: &serde_json::Value,
    ) -> Result<(), KvError> {
        let key = keys::pin(self.user, id);
        self.kv.put(&key, &record.to_json(), meta, None).await
    }

    pub async fn get(&self, id: &RequestId) -> Result<Option<PinRecord>, KvError> {
        let raw = self.text(id).await?;
        raw.map(|s| PinRecord::from_json(&s).ok_or_else(|| corrupt(id)))
            .transpose()
    }

    /// A pin's record as stored, unparsed.
    pub async fn text(&self, id: &RequestId) -> Result<Option<String>, KvError> {
        self.kv.get(&keys::pin(self.user, id)).await
    }

    /// Change marker, then the CID index, the name index, and the record: an interrupted
    /// delete leaves the record, and retrying the delete finishes it; otherwise the scan that
    /// prunes the marker puts the entries back (`repair`), and the pin is wholly there. (The
    /// name index's backfill relies on this order: `names`.)
    pub async fn delete(
        &self,
        id: &RequestId,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        let parsed = Cid::parse(&record.cid).ok();
        let entries = parsed
            .as_ref()
            .map(|cid| Entries::of(cid, record.name.as_deref()));
        let before = Some(record.status);
        counts::mark_change(self.kv, self.user, now, id, before, entries.as_ref()).await?;
        if let Some(cid) = parsed {
            self.kv
                .delete(&keys::cid_index(self.user, &cid, id))
                .await?;
        }
        if let Some(name) = &record.name {
            let key = keys::name_index(self.user, &fold(name), id);
            self.kv.delete(&key).await?;
        }
        self.kv.delete(&keys::pin(self.user, id)).await
    }
}

pub(crate) fn corrupt(id: &RequestId) -> KvError {
    KvError(format!(
        "pin record {} is missing or unreadable",
        id.as_str()
    ))
}
