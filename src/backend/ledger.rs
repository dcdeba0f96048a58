//! The ledger-only backends (`instant`, `none`): a pin is its record and nothing else; no
//! per-CID state, no provider, nothing to release.

use super::Backend;
use crate::auth::user::UserId;
use crate::domain::{pin::Pin, request_id::RequestId, timestamp::Millis};
use crate::store::{kv::Kv, kv::KvError, pins::PinStore, record::PinRecord};
use crate::upstream::pins::Shown;

pub struct LedgerPins<'a, K> {
    store: PinStore<'a, K>,
    backend: Backend,
}

impl<'a, K: Kv> LedgerPins<'a, K> {
    pub fn new(kv: &'a K, user: &'a UserId, backend: Backend) -> Self {
        LedgerPins {
            store: PinStore::new(kv, user),
            backend,
        }
    }

    pub async fn add(&self, id: &RequestId, pin: Pin, now: Millis) -> Result<Shown, KvError> {
        let admission = self.backend.admit();
        let record = PinRecord {
            status: admission.status,
            cid: pin.cid.as_given().to_owned(),
            name: pin.name.map(|n| n.into_string()),
            origins: pin.origins.into_vec(),
            meta: pin.meta.into_map(),
            info: admission.info,
            delegates: Vec::new(),
            partial: false,
        };
        self.store.put(id, &pin.cid, &record, None, now).await?;
        Ok((record, None))
    }

    /// The new pin is written before the old one is removed, so a failure in between leaves
    /// both pins rather than neither.
    pub async fn replace(
        &self,
        old_id: &RequestId,
        old: &PinRecord,
        new_id: &RequestId,
        pin: Pin,
        now: Millis,
    ) -> Result<Shown, KvError> {
        let added = self.add(new_id, pin, now).await?;
        self.store.delete(old_id, old, now).await?;
        Ok(added)
    }

    pub async fn delete(
        &self,
        id: &RequestId,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        self.store.delete(id, record, now).await
    }
}
