//! Daily budgets per user. Workers KV's free plan allows the whole account 1,000 writes,
//! 1,000 deletes and 1,000 lists a day, and a rate limit cannot stop one user from spending
//! them (the bindings count over 10 or 60 s). So each user has a daily budget of write
//! requests and of listings (`DAILY_WRITES_PER_USER`, `DAILY_LISTS_PER_USER`), counted per
//! UTC day by one small Durable Object per user (`USER_QUOTAS`): a count is a read-modify-write,
//! which KV cannot do safely and an object does one call at a time. Only requests that write
//! or list consult it; reads by id never do.
//!
//! `apply` is the object's logic over a `QuotaStore`, plain and tested here; the edge's object
//! is that store (src/edge/quota.rs). The same object keeps its user's byte claims (`claims`).

pub mod claims;

use crate::domain::list_query::ListQuery;
use crate::error::ApiError;
use crate::http::{query, router::Route};
use claims::{Claim, ClaimCall};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub const DAY_MS: u64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Daily {
    /// Requests that write: add, replace, delete a pin; issue, revoke a token.
    Writes,
    /// Listings: `GET /pins` (a `cid=` lookup counts one per CID), `GET /tokens`.
    Lists,
}

/// Spend `cost` of `kind` if the day's count stays within `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaCall {
    pub kind: Daily,
    pub cost: u32,
    pub limit: u32,
}

/// What a user's object is asked: spend of a daily budget, or the byte claims' two steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserCall {
    Spend(QuotaCall),
    Pending,
    Claim(ClaimCall),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaReply {
    Granted,
    Spent,
}

/// What one user has spent on one UTC day (days since the epoch, on the object's clock).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    #[serde(rename = "d")]
    pub day: u64,
    #[serde(rename = "w")]
    pub writes: u32,
    #[serde(rename = "l")]
    pub lists: u32,
}

#[allow(async_fn_in_trait)] // one thread: no `Send` wanted
pub trait QuotaStore {
    async fn load(&self) -> Result<DayCount, String>;
    async fn save(&self, count: &DayCount) -> Result<(), String>;
    async fn load_claims(&self) -> Result<Vec<Claim>, String>;
    async fn save_claims(&self, claims: &[Claim]) -> Result<(), String>;
}

/// Applies one call at `now_ms`. The caller runs calls to one user one at a time (the Durable
/// Object does: its storage calls let no other call in). A refusal writes nothing.
pub async fn apply<S: QuotaStore>(
    store: &S,
    call: &QuotaCall,
    now_ms: u64,
) -> Result<QuotaReply, String> {
    let today = now_ms / DAY_MS;
    let mut count = store.load().await?;
    if count.day != today {
        count = DayCount {
            day: today,
            ..DayCount::default()
        };
    }
    let used = match call.kind {
        Daily::Writes => &mut count.writes,
        Daily::Lists => &mut count.lists,
    };
    let after = used.saturating_add(call.cost);
    if after > call.limit {
        return Ok(QuotaReply::Spent);
    }
    *used = after;
    store.save(&count).await?;
    Ok(QuotaReply::Granted)
}

/// What a request spends of its user's day, if anything; gets spend nothing.
pub fn charge(route: &Route, raw_query: &str) -> Result<Option<(Daily, u32)>, ApiError> {
    Ok(match route {
        Route::AddPin
        | Route::ReplacePin(_)
        | Route::DeletePin(_)
        | Route::IssueToken
        | Route::RevokeToken(_)
        | Route::UploadCar => Some((Daily::Writes, 1)),
        Route::ListPins => {
            // Parsed again by the handler: a malformed query is refused before it spends.
            let q = ListQuery::parse(&query::parse(raw_query)?)?;
            let lookups = q.cids.as_ref().map_or(1, Vec::len).max(1);
            Some((Daily::Lists, lookups as u32))
        }
        // A pass over every record of the user, like a name scan.
        Route::ListTokens | Route::Usage => Some((Daily::Lists, 1)),
        Route::GetPin(_) | Route::Preflight(_) | Route::Gateway => None,
    })
}

/// The 429 once a budget is spent: what is spent, and the wait until the next UTC midnight.
pub fn spent(kind: Daily, limit: u32, now_ms: u64) -> ApiError {
    let (what, setting) = match kind {
        Daily::Writes => ("write requests", "DAILY_WRITES_PER_USER"),
        Daily::Lists => ("listings", "DAILY_LISTS_PER_USER"),
    };
    let wait_ms = DAY_MS - now_ms % DAY_MS;
    ApiError::TooManyRequests(
        format!("this user's daily budget of {limit} {what} ({setting}) is spent until 00:00 UTC"),
        wait_ms.div_ceil(1000) as u32,
    )
}

/// A quota object's store in memory: for tests, and the model of the Durable Object's.
#[derive(Debug, Default)]
pub struct MemoryQuotaStore {
    pub count: RefCell<DayCount>,
    pub claims: RefCell<Vec<Claim>>,
}

impl QuotaStore for MemoryQuotaStore {
    async fn load(&self) -> Result<DayCount, String> {
        Ok(self.count.borrow().clone())
    }
    async fn save(&self, count: &DayCount) -> Result<(), String> {
        *self.count.borrow_mut() = count.clone();
        Ok(())
    }
    async fn load_claims(&self) -> Result<Vec<Claim>, String> {
        Ok(self.claims.borrow().clone())
    }
    async fn save_claims(&self, claims: &[Claim]) -> Result<(), String> {
        *self.claims.borrow_mut() = claims.to_vec();
        Ok(())
    }
}

/// The answer of a future over the memory store, which never waits.
pub fn now_or_never<T>(f: impl Future<Output = T>) -> T {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("the memory store never waits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(store: &MemoryQuotaStore, kind: Daily, cost: u32, limit: u32, now: u64) -> QuotaReply {
        let call = QuotaCall { kind, cost, limit };
        now_or_never(apply(store, &call, now)).unwrap()
    }

    #[test]
    fn a_day_grants_up_to_its_limit_per_kind() {
        let s = MemoryQuotaStore::default();
        let noon = 20_000 * DAY_MS + DAY_MS / 2;
        for _ in 0..3 {
            assert_eq!(run(&s, Daily::Writes, 1, 3, noon), QuotaReply::Granted);
        }
        assert_eq!(run(&s, Daily::Writes, 1, 3, noon), QuotaReply::Spent);
        assert_eq!(s.count.borrow().writes, 3, "a refusal spends nothing");
        assert_eq!(run(&s, Daily::Lists, 2, 3, noon), QuotaReply::Granted);
        assert_eq!(
            run(&s, Daily::Lists, 2, 3, noon),
            QuotaReply::Spent,
            "cost counts"
        );
        assert_eq!(run(&s, Daily::Lists, 1, 3, noon), QuotaReply::Granted);
        // The next UTC day starts afresh.
        let tomorrow = 20_001 * DAY_MS;
        assert_eq!(run(&s, Daily::Writes, 1, 3, tomorrow), QuotaReply::Granted);
        assert_eq!(
            *s.count.borrow(),
            DayCount {
                day: 20_001,
                writes: 1,
                lists: 0
            }
        );
    }

    #[test]
    fn only_writes_and_listings_are_charged() {
        let charge = |route: Route, q: &str| charge(&route, q).unwrap();
        assert_eq!(charge(Route::GetPin("x".into()), ""), None);
        assert_eq!(charge(Route::AddPin, ""), Some((Daily::Writes, 1)));
        assert_eq!(
            charge(Route::RevokeToken("t".into()), ""),
            Some((Daily::Writes, 1))
        );
        assert_eq!(charge(Route::ListTokens, ""), Some((Daily::Lists, 1)));
        assert_eq!(
            charge(Route::ListPins, "status=queued"),
            Some((Daily::Lists, 1))
        );
        let v1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
        let v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
        let two = format!("cid={v1},{v0}");
        assert_eq!(charge(Route::ListPins, &two), Some((Daily::Lists, 2)));
        assert!(super::charge(&Route::ListPins, "limit=0").is_err());
    }

    #[test]
    fn a_spent_budget_waits_for_utc_midnight() {
        let e = spent(Daily::Writes, 100, 20_000 * DAY_MS + DAY_MS - 1500);
        assert_eq!(e.status(), 429);
        assert!(matches!(&e, ApiError::TooManyRequests(_, 2)));
        assert!(
            e.details().contains("DAILY_WRITES_PER_USER"),
            "{}",
            e.details()
        );
    }
}
