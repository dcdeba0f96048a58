//! What `PinService` calls to add, read, replace and delete a pin, whatever the backend: the
//! ledger (`instant`, `none`) or the per-CID lifecycle over a provider (`upstream`, `r2`). A
//! third kind of backend is one more variant here and one module beside these.

use super::ledger::LedgerPins;
use crate::domain::{pin::Pin, request_id::RequestId, timestamp::Millis};
use crate::store::{kv::Kv, kv::KvError, record::PinRecord};
use crate::upstream::pins::{AddError, Shown, UpstreamPins};
use crate::upstream::Upstream;

pub enum Pinning<'a, K, U> {
    Ledger(LedgerPins<'a, K>),
    Lifecycle(UpstreamPins<'a, K, U>),
}

impl<K: Kv, U: Upstream> Pinning<'_, K, U> {
    pub async fn add(&self, id: &RequestId, pin: Pin, now: Millis) -> Result<Shown, AddError> {
        match self {
            Pinning::Ledger(l) => Ok(l.add(id, pin, now).await?),
            Pinning::Lifecycle(u) => u.add(id, pin, now).await,
        }
    }

    /// Whether a stored record is shown as it is stored (the ledger's are; the lifecycle's may
    /// change on the way, `refresh`), so that its answer can be written from its text.
    pub fn shows_as_stored(&self) -> bool {
        matches!(self, Pinning::Ledger(_))
    }

    /// A pin as it should be shown now: the lifecycle asks its provider about a pin that is
    /// not final (at most every `UPSTREAM_REFRESH_SECONDS`).
    pub async fn refresh(
        &self,
        id: &RequestId,
        record: PinRecord,
        now: Millis,
    ) -> Result<Shown, KvError> {
        match self {
            Pinning::Ledger(_) => Ok((record, None)),
            Pinning::Lifecycle(u) => u.refresh(id, record, now).await,
        }
    }

    pub async fn replace(
        &self,
        old_id: &RequestId,
        old: &PinRecord,
        new_id: &RequestId,
        pin: Pin,
        now: Millis,
    ) -> Result<Shown, AddError> {
        match self {
            Pinning::Ledger(l) => Ok(l.replace(old_id, old, new_id, pin, now).await?),
            Pinning::Lifecycle(u) => u.replace(old_id, old, new_id, pin, now).await,
        }
    }

    pub async fn delete(
        &self,
        id: &RequestId,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        match self {
            Pinning::Ledger(l) => l.delete(id, record, now).await,
            Pinning::Lifecycle(u) => u.delete(id, record, now).await,
        }
    }
}
