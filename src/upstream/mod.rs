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
//!
//! The safety argument (a held CID is never unpinned) is in docs/storage.md, "Upstream".

pub mod ask;
pub mod client;
pub mod holders;
pub mod pins;
pub mod state;
pub mod sweep;

use crate::domain::{status::Status, timestamp::Instant, timestamp::Millis};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

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

/// The `Pin` we send upstream: the canonical CID, and the name and origins of the pin object
/// that caused the call (origins let the upstream fetch from the user's node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamPin {
    pub cid: String,
    pub name: Option<String>,
    pub origins: Vec<String>,
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

/// Bounds status refreshes triggered by reads to one per CID per interval *in this isolate*,
/// without a KV write: Kubo polls a new pin twice a second, and a KV write per poll would cost
/// more than the upstream call it saves. Other isolates keep their own bound.
#[derive(Default)]
pub struct Throttle(RefCell<HashMap<String, u64>>);

/// Entries kept before the map is cleared (a cleared map only allows an early refresh).
const THROTTLE_ENTRIES: usize = 4096;

impl Throttle {
    /// Remembers that `key` was just asked about (an add counts as a refresh).
    pub fn note(&self, key: &str, now: Millis) {
        self.allow(key, now, 0);
    }

    /// True (and remembered) when `key` was not allowed within the last `interval_ms`.
    pub fn allow(&self, key: &str, now: Millis, interval_ms: u64) -> bool {
        let mut map = self.0.borrow_mut();
        let last = map.get(key).copied();
        // A clock that went backwards (another test, another isolate's record) allows.
        if last.is_some_and(|t| now.0 >= t && now.0 - t < interval_ms) {
            return false;
        }
        if map.len() >= THROTTLE_ENTRIES {
            map.clear();
        }
        map.insert(key.to_owned(), now.0);
        true
    }
}

/// An upstream that counts its calls, and the unavailable answers in a row: the sweep's budget
/// and circuit breaker. The edge wraps its one client in it for requests and sweeps alike, so
/// the wasm bundle holds one copy of the code generic over the upstream, not two.
pub struct Counted<U> {
    inner: U,
    made: Cell<u32>,
    streak: Cell<u32>,
}

impl<U> Counted<U> {
    pub fn new(inner: U) -> Self {
        Counted {
            inner,
            made: Cell::new(0),
            streak: Cell::new(0),
        }
    }

    /// Calls made so far.
    pub fn made(&self) -> u32 {
        self.made.get()
    }

    /// Unavailable answers since the last useful one.
    pub fn streak(&self) -> u32 {
        self.streak.get()
    }

    fn note<T>(&self, answer: Answer<T>) -> Answer<T> {
        self.made.set(self.made.get() + 1);
        let down = matches!(answer, Answer::Unavailable(_));
        self.streak
            .set(if down { self.streak.get() + 1 } else { 0 });
        answer
    }
}

impl<U> std::ops::Deref for Counted<U> {
    type Target = U;
    fn deref(&self) -> &U {
        &self.inner
    }
}

impl<U: Upstream> Upstream for Counted<U> {
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        self.note(self.inner.add(pin).await)
    }
    async fn get(&self, requestid: &str) -> Answer<UpstreamStatus> {
        self.note(self.inner.get(requestid).await)
    }
    async fn replace(&self, requestid: &str, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        self.note(self.inner.replace(requestid, pin).await)
    }
    async fn delete(&self, requestid: &str) -> Answer<()> {
        self.note(self.inner.delete(requestid).await)
    }
    async fn list_by_cid(&self, cid: &str, before: Millis) -> Answer<Vec<UpstreamStatus>> {
        self.note(self.inner.list_by_cid(cid, before).await)
    }
}

/// What the request path needs to talk to the upstream.
pub struct Upstreaming<'a, U> {
    pub client: &'a U,
    pub throttle: &'a Throttle,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_once_per_interval() {
        let t = Throttle::default();
        assert!(t.allow("a", Millis(1_000), 500));
        assert!(!t.allow("a", Millis(1_400), 500));
        assert!(t.allow("b", Millis(1_400), 500));
        assert!(t.allow("a", Millis(1_500), 500));
        assert!(
            t.allow("a", Millis(100), 500),
            "a clock that went back allows"
        );
    }
}
