//! Real pinning (`PIN_BACKEND = "upstream"`): the worker is a Pinning Service API *client* of
//! an upstream provider (IPFS Cluster's port 9097, or any spec provider) and keeps one upstream
//! pin per CID however many of our pin objects hold it.
//!
//! - `ask`: one exchange about a CID, folded into its state (shared by requests and sweep).
//! - `client`: the spec's calls over a `Transport` (the edge's `fetch`), answers parsed into types.
//! - `state`: what we know of a CID upstream (`x/{cid}`), backoff, and what a holder should show.
//! - `holders`: KV access for holders, CID states and the work queue.
//! - `pins`: what add / get / replace / delete do with this backend.
//! - `sweep`: the cron's pass over the queue: status mirroring, retries, deferred release.
//! - `gate`: the per-CID Durable Object that decides, consistently, when a CID may be unpinned.
//! - `Counted` (calls made, for the sweep's budget) and `Throttle` (reads' refresh interval).
//!
//! The safety argument (a held CID is never unpinned) is in docs/storage.md, "Upstream backend".

pub mod ask;
pub mod bytes;
pub mod client;
mod counted;
pub mod gate;
pub mod holders;
pub mod pins;
pub mod state;
pub mod sweep;
mod throttle;

pub use counted::Counted;
pub use throttle::Throttle;

use crate::domain::{status::Status, timestamp::Instant, timestamp::Millis};
use crate::r2::upload::{UploadError, Uploaded};
use crate::r2::Sender;

/// How long Workers KV may take to show a write at every location (its documented bound).
pub const KV_PROPAGATION_MS: u64 = 60_000;

/// How an upstream call ended. Parsed, never raw: a 2xx whose body is not the spec's shape is
/// `Unavailable`, like a 5xx, because retrying later is the only sensible answer to both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    Ok(T),
    /// A 4xx other than credentials or throttling: this request will not succeed as it is.
    Refused(Refusal),
    /// Unreachable, timed out, 5xx, 401/403/408/429, or a malformed answer: try again later.
    Unavailable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// The upstream's `Failure.error.reason` (or `HTTP {status}` when it sent none).
    pub reason: String,
    pub details: String,
}

impl Refusal {
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    pub fn describe(&self) -> String {
        if self.details.is_empty() {
            self.reason.clone()
        } else {
            format!("{}: {}", self.reason, self.details)
        }
    }
}

/// The `Pin` we send upstream. The upstream pin is shared by every holder of the CID, so it
/// carries only what is safe to share: the canonical CID and, on the add a pin object's own
/// request makes, that request's origins that are strictly well-formed (`is_dialable`), so
/// that the upstream can fetch from the user's node. Never a name (each user's is their own)
/// nor `meta`. Retries, status reads and the sweep send the bare CID: a refusal of the bare
/// CID is about the CID itself, whoever asks; one of a request's origins is that request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamPin {
    pub cid: String,
    pub origins: Vec<String>,
}

impl UpstreamPin {
    pub fn bare(cid: &str) -> UpstreamPin {
        UpstreamPin {
            cid: cid.to_owned(),
            origins: Vec::new(),
        }
    }

    /// The CID and those of `origins` every provider can parse.
    pub fn with_origins(cid: &str, origins: &[String]) -> UpstreamPin {
        let origins = origins
            .iter()
            .filter(|o| crate::domain::multiaddr::is_dialable(o))
            .cloned()
            .collect();
        UpstreamPin {
            cid: cid.to_owned(),
            origins,
        }
    }
}

/// The parts of an upstream `PinStatus` we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamStatus {
    pub requestid: String,
    pub status: Status,
    /// Only well-formed multiaddrs ending in `/p2p/<peer>` (Kubo gives up on others).
    pub delegates: Vec<String>,
    /// `info.status_details`, when the upstream gave it.
    pub details: Option<String>,
    pub created: Option<Instant>,
    /// Bytes of the pinned DAG's blocks (each once), when the provider knows them (`r2`).
    pub dag_size: Option<u64>,
}

/// The Pinning Service API calls the worker makes. Async, no `Send` (Workers run one thread).
#[allow(async_fn_in_trait)]
pub trait Upstream {
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus>;
    async fn get(&self, requestid: &str) -> Answer<UpstreamStatus>;
    async fn replace(&self, requestid: &str, pin: &UpstreamPin) -> Answer<UpstreamStatus>;
    async fn delete(&self, requestid: &str) -> Answer<()>;
    /// Every upstream pin of `cid` (any status) created before `before`: finds the duplicates
    /// that two concurrent first adds can leave, so that releasing a CID removes them too.
    async fn list_by_cid(&self, cid: &str, before: Millis) -> Answer<Vec<UpstreamStatus>>;
    /// Content sent with a pin (`POST /car`), kept by a provider that keeps content (`r2`).
    async fn accept<C: Sender>(&self, body: &mut C, ask: &Accept) -> Result<Uploaded, UploadError> {
        let _ = (body, ask);
        Err(UploadError::NotKept)
    }
    /// Deletes, over one page of the provider's objects after `cursor`, what was left by
    /// uploads that can no longer commit it (`r2`); `(deleted, where the next pass starts)`,
    /// `None` at the end.
    async fn collect(&self, cursor: Option<String>) -> Answer<(u32, Option<String>)> {
        let _ = cursor;
        Answer::Ok((0, None))
    }
}

/// What an upload may be: the DAG it joins, and its limits.
pub struct Accept {
    pub root: Option<cid::Cid>,
    /// Body bytes accepted.
    pub cap: u64,
    /// Bytes the user may still add, when a quota applies.
    pub room: Option<u64>,
}

/// The upstream of a worker whose backend is not `upstream`: never called.
pub struct NoUpstream;

impl Upstream for NoUpstream {
    async fn add(&self, _: &UpstreamPin) -> Answer<UpstreamStatus> {
        Answer::Unavailable("no upstream is configured".into())
    }
    async fn get(&self, _: &str) -> Answer<UpstreamStatus> {
        Answer::Unavailable("no upstream is configured".into())
    }
    async fn replace(&self, _: &str, _: &UpstreamPin) -> Answer<UpstreamStatus> {
        Answer::Unavailable("no upstream is configured".into())
    }
    async fn delete(&self, _: &str) -> Answer<()> {
        Answer::Unavailable("no upstream is configured".into())
    }
    async fn list_by_cid(&self, _: &str, _: Millis) -> Answer<Vec<UpstreamStatus>> {
        Answer::Unavailable("no upstream is configured".into())
    }
}

/// What the request path needs to talk to the upstream.
pub struct Upstreaming<'a, U> {
    pub client: &'a U,
    pub throttle: &'a Throttle,
    pub gates: &'a gate::Gates<'a>,
    /// The users' objects, for byte claims (`quota::claims`).
    pub claims: &'a crate::quota::claims::Claims<'a>,
}
