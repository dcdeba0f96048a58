//! The pin operations, over a user's `PinStore` and the configured backend.

use super::model::{PinResults, PinStatus, Renderer};
use crate::auth::user::UserId;
use crate::backend::Backend;
use crate::backend::{ledger::LedgerPins, pinning::Pinning};
use crate::config::UpstreamSettings;
use crate::domain::{list_query::ListQuery, pin::Pin, request_id::RequestId, timestamp::Millis};
use crate::error::{storage, ApiError};
use crate::store::pins::{corrupt, PinStore};
use crate::store::{kv::Kv, record::PinRecord, record::RecordView};
use crate::upstream::pins::{AddError, Shown, UpstreamPins, MAX_PINS_PER_CID};
use crate::upstream::{NoUpstream, Upstream, Upstreaming};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct PinService<'a, K, U = NoUpstream> {
    pub(super) kv: &'a K,
    pub(super) user: &'a UserId,
    store: PinStore<'a, K>,
    backend: Backend,
    delegates: &'a [String],
    pub(super) upstream: Option<(&'a Upstreaming<'a, U>, &'a UpstreamSettings)>,
}

impl<'a, K: Kv> PinService<'a, K> {
    pub fn new(kv: &'a K, user: &'a UserId, backend: Backend, delegates: &'a [String]) -> Self {
        PinService::build(kv, user, backend, delegates, None)
    }
}

impl<'a, K: Kv, U: Upstream> PinService<'a, K, U> {
    /// With `upstream` when the backend is `upstream` (pins are made real by it; see
    /// `crate::upstream`). One constructor for every backend keeps one copy of the request
    /// path in the bundle.
    pub fn build(
        kv: &'a K,
        user: &'a UserId,
        backend: Backend,
        delegates: &'a [String],
        upstream: Option<(&'a Upstreaming<'a, U>, &'a UpstreamSettings)>,
    ) -> Self {
        PinService {
            kv,
            user,
            store: PinStore::new(kv, user),
            backend,
            delegates,
            upstream,
        }
    }

    /// What pins go through: the ledger, or the lifecycle over the configured provider.
    fn pinning(&self) -> Result<Pinning<'a, K, U>, ApiError> {
        match (self.backend.is_real(), self.upstream) {
            (true, Some((up, settings))) => Ok(Pinning::Lifecycle(UpstreamPins::new(
                self.kv, self.user, up, settings,
            ))),
            (true, None) => Err(ApiError::Internal(
                "the pinning backend has no provider configured".into(),
            )),
            (false, _) => Ok(Pinning::Ledger(LedgerPins::new(
                self.kv,
                self.user,
                self.backend,
            ))),
        }
    }

    /// The answer for a pin, with when its next provider try is if it is waiting for one.
    fn shown(&self, id: &RequestId, (record, state): Shown) -> PinStatus<'a> {
        let mut status = PinStatus::new(id, record, self.delegates);
        if let Some(state) = state {
            state.overlay(&mut status.info);
        }
        status
    }

    pub async fn add(&self, pin: Pin, now: Millis) -> Result<PinStatus<'a>, ApiError> {
        self.add_as(new_id(now)?, pin, now).await
    }

    /// `add`, under an id made beforehand (an upload names its look after the pin to come).
    pub(super) async fn add_as(
        &self,
        id: RequestId,
        pin: Pin,
        now: Millis,
    ) -> Result<PinStatus<'a>, ApiError> {
        let shown = self
            .pinning()?
            .add(&id, pin, now)
            .await
            .map_err(not_added)?;
        Ok(self.shown(&id, shown))
    }

    /// A pin's `PinStatus` as JSON. A pin shown as it is stored is written straight from its
    /// record's text, as a listing writes it (`Renderer`: no parse into owned strings, no
    /// re-encoding); one that may change on the way is read, refreshed and serialized.
    pub async fn get(&self, id: &str, now: Millis) -> Result<String, ApiError> {
        let pinning = self.pinning()?;
        if pinning.shows_as_stored() {
            let id = RequestId::parse(id).ok_or_else(ApiError::pin_not_found)?;
            let text = self.store.text(&id).await.map_err(storage)?;
            let text = text.ok_or_else(ApiError::pin_not_found)?;
            let view = RecordView::parse(&text).ok_or_else(|| storage(corrupt(&id)))?;
            return Ok(Renderer::new(self.delegates).render(&id, &view));
        }
        let status = self.status(id, now).await?;
        Ok(serde_json::to_string(&status).expect("a pin status serializes"))
    }

    /// A pin as it should be shown now (refreshed by a real backend).
    pub async fn status(&self, id: &str, now: Millis) -> Result<PinStatus<'a>, ApiError> {
        let (id, record) = self.find(id).await?;
        let shown = self
            .pinning()?
            .refresh(&id, record, now)
            .await
            .map_err(storage)?;
        Ok(self.shown(&id, shown))
    }

    pub async fn replace(
        &self,
        id: &str,
        pin: Pin,
        now: Millis,
    ) -> Result<PinStatus<'a>, ApiError> {
        let (old_id, old) = self.find(id).await?;
        let new_id = new_id(now)?;
        let pinning = self.pinning()?;
        let shown = pinning.replace(&old_id, &old, &new_id, pin, now).await;
        Ok(self.shown(&new_id, shown.map_err(not_added)?))
    }

    pub async fn delete(&self, id: &str, now: Millis) -> Result<(), ApiError> {
        let (id, record) = self.find(id).await?;
        let pinning = self.pinning()?;
        pinning.delete(&id, &record, now).await.map_err(storage)
    }

    pub async fn list(&self, query: &ListQuery, now: Millis) -> Result<PinResults, ApiError> {
        let renderer = Renderer::new(self.delegates);
        let render = |id: &RequestId, view: &RecordView<'_>| renderer.render(id, view);
        let listing = self.store.list(query, now, &render).await;
        let listing = listing.map_err(storage)?;
        Ok(PinResults {
            count: listing.count,
            results: listing.results.into_iter().map(|(_, pin)| pin).collect(),
        })
    }

    async fn find(&self, id: &str) -> Result<(RequestId, PinRecord), ApiError> {
        let id = RequestId::parse(id).ok_or_else(ApiError::pin_not_found)?;
        match self.store.get(&id).await.map_err(storage)? {
            Some(record) => Ok((id, record)),
            None => Err(ApiError::pin_not_found()),
        }
    }
}

/// The last `created` this isolate handed out. Pins created in the same millisecond get
/// consecutive milliseconds, so `created` is unique and increasing and `before`/`after` paging
/// never skips or repeats a pin. (Two isolates can still collide; see docs/storage.md.)
static LAST_CREATED: AtomicU64 = AtomicU64::new(0);

/// A new pin's id: created now (after every id this isolate made), and 64 random bits.
pub(super) fn new_id(now: Millis) -> Result<RequestId, ApiError> {
    Ok(RequestId::new(next_created(now), random_u64()?))
}

fn next_created(now: Millis) -> Millis {
    let prev = LAST_CREATED
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(last.max(now.0.saturating_sub(1)) + 1)
        })
        .expect("the update always succeeds");
    Millis(prev.max(now.0.saturating_sub(1)) + 1)
}

fn random_u64() -> Result<u64, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(u64::from_le_bytes(bytes))
}

fn not_added(e: AddError) -> ApiError {
    match e {
        AddError::Storage(e) => storage(e),
        AddError::OverLimit => ApiError::Conflict(format!(
            "cid: you already have {MAX_PINS_PER_CID} pin objects of this CID, the most one user \
             may hold; delete or replace one of them"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_is_strictly_increasing_within_a_millisecond() {
        let a = next_created(Millis(1_000_000_000_000));
        let b = next_created(Millis(1_000_000_000_000));
        let c = next_created(Millis(999_999_999_999));
        assert!(a < b && b < c);
        let later = next_created(Millis(2_000_000_000_000));
        assert_eq!(later, Millis(2_000_000_000_000));
    }
}
