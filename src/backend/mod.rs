//! Pinning backends: what happens to a pin after it is recorded. Chosen by `PIN_BACKEND`.
//! `pinning` is the one interface `PinService` calls; `ledger` is the backends that only
//! record, `crate::upstream` the lifecycle of the real ones, over a `Provider`.

pub mod ledger;
pub mod pinning;

use crate::domain::{status::Status, timestamp::Millis};
use crate::r2::upload::{UploadError, Uploaded};
use crate::r2::Sender;
use crate::upstream::{Accept, Answer, Upstream, UpstreamPin, UpstreamStatus};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Recorded and reported `pinned` at once, retrieving nothing: for development and clients' tests.
    Instant,
    /// Recorded as `queued`, for a real backend to take over.
    None,
    /// Pinned by an upstream Pinning Service API provider (`crate::upstream`).
    Upstream,
    /// Kept by the service itself, verified, in R2 (`crate::r2`), through the same lifecycle.
    R2,
}

/// A new pin's first status and the `info` that explains it.
pub struct Admission {
    pub status: Status,
    pub info: BTreeMap<String, String>,
}

impl Backend {
    pub fn parse(s: &str) -> Result<Backend, String> {
        match s {
            "instant" => Ok(Backend::Instant),
            "none" => Ok(Backend::None),
            "upstream" => Ok(Backend::Upstream),
            "r2" => Ok(Backend::R2),
            // Never the value: settings' errors reach every client.
            _ => Err("PIN_BACKEND must be one of: instant, none, upstream, r2".into()),
        }
    }

    /// Whether pins go through the per-CID lifecycle (`crate::upstream`) and a provider.
    pub fn is_real(self) -> bool {
        matches!(self, Backend::Upstream | Backend::R2)
    }

    pub fn admit(self) -> Admission {
        let (status, details) = match self {
            Backend::Instant => (
                Status::Pinned,
                "instant backend: recorded as pinned; no content was retrieved",
            ),
            Backend::None => (Status::Queued, "queued: no pinning backend is configured"),
            // Never used for a stored pin: `crate::upstream::pins` admits those.
            Backend::Upstream | Backend::R2 => (Status::Queued, "queued for the pinning backend"),
        };
        Admission {
            status,
            info: [("status_details".to_owned(), details.to_owned())].into(),
        }
    }
}

/// The provider of a real backend, whichever it is: one type, so the request path and the
/// sweep are compiled once for both (bundle size).
pub enum Provider<P, K> {
    /// A Pinning Service API provider (`upstream`).
    Psa(P),
    /// The service's own R2 keeper (`r2`).
    Kept(K),
}

impl<P: Upstream, K: Upstream> Upstream for Provider<P, K> {
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        match self {
            Provider::Psa(p) => p.add(pin).await,
            Provider::Kept(k) => k.add(pin).await,
        }
    }
    async fn get(&self, requestid: &str) -> Answer<UpstreamStatus> {
        match self {
            Provider::Psa(p) => p.get(requestid).await,
            Provider::Kept(k) => k.get(requestid).await,
        }
    }
    async fn replace(&self, requestid: &str, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        match self {
            Provider::Psa(p) => p.replace(requestid, pin).await,
            Provider::Kept(k) => k.replace(requestid, pin).await,
        }
    }
    async fn delete(&self, requestid: &str) -> Answer<()> {
        match self {
            Provider::Psa(p) => p.delete(requestid).await,
            Provider::Kept(k) => k.delete(requestid).await,
        }
    }
    async fn list_by_cid(&self, cid: &str, before: Millis) -> Answer<Vec<UpstreamStatus>> {
        match self {
            Provider::Psa(p) => p.list_by_cid(cid, before).await,
            Provider::Kept(k) => k.list_by_cid(cid, before).await,
        }
    }
    async fn accept<C: Sender>(&self, body: &mut C, ask: &Accept) -> Result<Uploaded, UploadError> {
        match self {
            Provider::Psa(p) => p.accept(body, ask).await,
            Provider::Kept(k) => k.accept(body, ask).await,
        }
    }
    async fn collect(&self, cursor: Option<String>) -> Answer<(u32, Option<String>)> {
        match self {
            Provider::Psa(p) => p.collect(cursor).await,
            Provider::Kept(k) => k.collect(cursor).await,
        }
    }
}
