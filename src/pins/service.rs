//! The pin operations, over a user's `PinStore` and the configured backend.

use super::model::{PinResults, PinStatus, Renderer, UsageReport};
use crate::auth::user::UserId;
use crate::backend::Backend;
use crate::config::{Provider, UpstreamSettings};
use crate::domain::{list_query::ListQuery, pin::Pin, request_id::RequestId, timestamp::Millis};
use crate::error::ApiError;
use crate::store::usage;
use crate::store::{kv::Kv, kv::KvError, pins::PinStore, record::PinRecord, record::RecordView};
use crate::upstream::pins::{AddError, UpstreamPins, MAX_PINS_PER_CID};
use crate::upstream::{state::CidState, NoUpstream, Upstream, Upstreaming};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct PinService<'a, K, U = NoUpstream> {
    kv: &'a K,
    user: &'a UserId,
    store: PinStore<'a, K>,
    backend: Backend,
    delegates: &'a [String],
    upstream: Option<(&'a Upstreaming<'a, U>, &'a UpstreamSettings)>,
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

    /// The upstream path, when that is the backend.
    fn upstream(&self) -> Result<Option<UpstreamPins<'a, K, U>>, ApiError> {
        match (self.backend.is_real(), self.upstream) {
            (true, Some((up, settings))) => {
                Ok(Some(UpstreamPins::new(self.kv, self.user, up, settings)))
            }
            (true, None) => Err(ApiError::Internal(
                "the pinning backend has no provider configured".into(),
            )),
            _ => Ok(None),
        }
    }

    /// The answer for a pin, with when its next upstream try is if it is waiting for one.
    fn shown(&self, id: &RequestId, record: PinRecord, state: Option<CidState>) -> PinStatus<'a> {
        let mut status = PinStatus::new(id, record, self.delegates);
        if let Some(state) = state {
            state.overlay(&mut status.info);
        }
        status
    }

    pub async fn add(&self, pin: Pin, now: Millis) -> Result<PinStatus<'a>, ApiError> {
        let id = RequestId::new(next_created(now), random_u64()?);
        if let Some(up) = self.upstream()? {
            let (record, state) = up.add(&id, pin, now).await.map_err(not_added)?;
            return Ok(self.shown(&id, record, state));
        }
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
        self.store
            .put(&id, &pin.cid, &record, None, now)
            .await
            .map_err(storage)?;
        Ok(PinStatus::new(&id, record, self.delegates))
    }

    pub async fn get(&self, id: &str, now: Millis) -> Result<PinStatus<'a>, ApiError> {
        let (id, record) = self.find(id).await?;
        if let Some(up) = self.upstream()? {
            let (record, state) = up.refresh(&id, record, now).await.map_err(storage)?;
            return Ok(self.shown(&id, record, state));
        }
        Ok(PinStatus::new(&id, record, self.delegates))
    }

    /// The new pin is written before the old one is removed, so a failure in between leaves
    /// both pins rather than neither.
    pub async fn replace(
        &self,
        id: &str,
        pin: Pin,
        now: Millis,
    ) -> Result<PinStatus<'a>, ApiError> {
        let (old_id, old) = self.find(id).await?;
        if let Some(up) = self.upstream()? {
            let new_id = RequestId::new(next_created(now), random_u64()?);
            let (record, state) = up
                .replace(&old_id, &old, &new_id, pin, now)
                .await
                .map_err(not_added)?;
            return Ok(self.shown(&new_id, record, state));
        }
        let added = self.add(pin, now).await?;
        self.store
            .delete(&old_id, &old, now)
            .await
            .map_err(storage)?;
        Ok(added)
    }

    pub async fn delete(&self, id: &str, now: Millis) -> Result<(), ApiError> {
        let (id, record) = self.find(id).await?;
        if let Some(up) = self.upstream()? {
            return up.delete(&id, &record, now).await.map_err(storage);
        }
        self.store.delete(&id, &record, now).await.map_err(storage)
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

    /// `GET /usage`, where the backend keeps content (`r2`); a 404 elsewhere, where no sizes
    /// are known.
    pub async fn usage(&self) -> Result<UsageReport, ApiError> {
        let quota = match self.upstream.map(|(_, s)| &s.provider) {
            Some(Provider::R2(r2)) => r2.quota.of(self.user.as_str()),
            _ => {
                return Err(ApiError::NotFound(
                    "usage is reported where the service keeps content (PIN_BACKEND r2)".into(),
                ))
            }
        };
        let u = usage::usage(self.kv, self.user).await.map_err(storage)?;
        Ok(UsageReport::new(&u, quota))
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

fn storage(e: KvError) -> ApiError {
    ApiError::Internal(format!("storage error: {}", e.0))
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
