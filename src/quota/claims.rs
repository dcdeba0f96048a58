//! Byte claims: one user's pins completing at the same moment cannot together pass their byte
//! quota. Usage is read from KV (a pass over the user's records), and a pin that turns `pinned`
//! at another request or location is invisible there for up to a minute; each check alone
//! would let every one of them through. So before a pin may show `pinned`, its bytes are
//! *claimed* at the user's object (`USER_QUOTAS`), which takes one call at a time and keeps the
//! claims of the last `CLAIM_MS`:
//!
//! 1. The caller's pass over its records: its usage, and the ids it counted pinned.
//! 2. `Pending`: the ids of the live claims; the caller notes those it counted.
//! 3. `Claim`: the object adds to the caller's usage every live claim but its own and those the
//!    caller counted. A claim that arrived after step 2 was made after the caller's pass ended,
//!    so its pin's record was written after it too, and is counted here; one that the pass did
//!    not see (KV had not shown its record there yet) likewise. Within the quota the claim is
//!    kept; over it, nothing is.
//!
//! A claim is made before its pin's record is written `pinned`; a request that dies between
//! the two leaves a claim that reserves its bytes until it expires. `CLAIM_MS` is five times
//! the minute KV may take to show a write everywhere, so a claim's record is in every pass
//! by then.

use super::QuotaStore;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

pub const CLAIM_MS: u64 = 5 * 60_000;
/// Claims an object keeps at most (the oldest go first): a few hundred bytes of JSON each.
pub const MAX_CLAIMS: usize = 2_000;

/// Bytes a pin is about to keep. (Short field names: the list is one stored value.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "b")]
    pub bytes: u64,
    #[serde(rename = "t")]
    pub at: u64,
}

/// May pin `id` keep `bytes`? `used`: the caller's count of its user's pinned bytes, its own
/// pin left out; `counted`: the pending claims whose pins that count included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimCall {
    pub id: String,
    pub bytes: u64,
    pub quota: u64,
    pub used: u64,
    pub counted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimReply {
    Granted,
    /// Refused: the bytes the user keeps or has claimed besides this pin.
    Over {
        others: u64,
    },
}

fn live(mut claims: Vec<Claim>, now_ms: u64) -> Vec<Claim> {
    claims.retain(|c| c.at.saturating_add(CLAIM_MS) > now_ms);
    claims
}

/// Step 2: the ids of the live claims.
pub async fn pending<S: QuotaStore>(store: &S, now_ms: u64) -> Result<Vec<String>, String> {
    let claims = live(store.load_claims().await?, now_ms);
    Ok(claims.into_iter().map(|c| c.id).collect())
}

/// Step 3. The caller runs calls to one user one at a time (the Durable Object does).
pub async fn claim<S: QuotaStore>(
    store: &S,
    call: &ClaimCall,
    now_ms: u64,
) -> Result<ClaimReply, String> {
    let mut claims = live(store.load_claims().await?, now_ms);
    let others = claims
        .iter()
        .filter(|c| c.id != call.id && !call.counted.contains(&c.id))
        .fold(call.used, |sum, c| sum.saturating_add(c.bytes));
    if others.saturating_add(call.bytes) > call.quota {
        return Ok(ClaimReply::Over { others });
    }
    claims.retain(|c| c.id != call.id);
    claims.push(Claim {
        id: call.id.clone(),
        bytes: call.bytes,
        at: now_ms,
    });
    let excess = claims.len().saturating_sub(MAX_CLAIMS);
    claims.drain(..excess);
    store.save_claims(&claims).await?;
    Ok(ClaimReply::Granted)
}

pub type ClaimFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + 'a>>;

/// Carries the two calls to a user's object (the edge: a Durable Object stub; tests: memory).
pub trait ClaimTransport {
    fn pending<'a>(&'a self, user: &'a str) -> ClaimFuture<'a, Vec<String>>;
    fn claim<'a>(&'a self, user: &'a str, call: ClaimCall) -> ClaimFuture<'a, ClaimReply>;
}

/// The users' objects as the service asks them, or none (no `USER_QUOTAS` binding): then, and
/// when a call fails, `None` says to check the pin alone against its user's stored usage.
#[derive(Default)]
pub struct Claims<'a> {
    transport: Option<&'a dyn ClaimTransport>,
    /// Calls made: each is a subrequest, which the sweep's budget counts.
    made: Cell<u32>,
}

impl<'a> Claims<'a> {
    pub fn new(transport: &'a dyn ClaimTransport) -> Claims<'a> {
        Claims {
            transport: Some(transport),
            made: Cell::new(0),
        }
    }

    pub fn none() -> Claims<'a> {
        Claims::default()
    }

    pub fn made(&self) -> u32 {
        self.made.get()
    }

    pub async fn pending(&self, user: &str) -> Option<Vec<String>> {
        let t = self.transport?;
        self.made.set(self.made.get() + 1);
        t.pending(user).await.ok()
    }

    pub async fn claim(&self, user: &str, call: ClaimCall) -> Option<ClaimReply> {
        let t = self.transport?;
        self.made.set(self.made.get() + 1);
        t.claim(user, call).await.ok()
    }
}

/// The users' objects in memory, on a clock the test moves: the model of the Durable Objects.
pub struct MemoryClaims {
    pub stores: RefCell<BTreeMap<String, super::MemoryQuotaStore>>,
    pub clock: Rc<Cell<u64>>,
}

impl MemoryClaims {
    pub fn new(clock: Rc<Cell<u64>>) -> MemoryClaims {
        MemoryClaims {
            stores: RefCell::default(),
            clock,
        }
    }

    fn with<T>(&self, user: &str, f: impl FnOnce(&super::MemoryQuotaStore) -> T) -> T {
        let mut stores = self.stores.borrow_mut();
        f(stores.entry(user.to_owned()).or_default())
    }
}

impl ClaimTransport for MemoryClaims {
    fn pending<'a>(&'a self, user: &'a str) -> ClaimFuture<'a, Vec<String>> {
        let now = self.clock.get();
        let claims = self.with(user, |s| s.claims.borrow().clone());
        Box::pin(async move { Ok(live(claims, now).into_iter().map(|c| c.id).collect()) })
    }
    fn claim<'a>(&'a self, user: &'a str, call: ClaimCall) -> ClaimFuture<'a, ClaimReply> {
        let now = self.clock.get();
        // Applied at once, as the object applies one call before the next.
        let reply = self.with(user, |s| super::now_or_never(claim(s, &call, now)));
        Box::pin(async move { reply })
    }
}

#[cfg(test)]
mod tests;
