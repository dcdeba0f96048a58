//! The users' objects on Durable Objects: `UserQuota`, one object per user (`USER_QUOTAS`, by
//! name), the core's `QuotaStore` on the object's storage (the day's count, `d`; the byte
//! claims, `b`); and the stub side that carries a `UserCall` to it as a small JSON request.
//!
//! A call makes only storage calls, so the runtime's input gate delivers no other call in the
//! middle: one user's count and claims are read and written one call at a time.

use super::objects::{self, error_text as text};
use crate::quota::claims::{self, Claim, ClaimCall, ClaimFuture, ClaimReply, ClaimTransport};
use crate::quota::{self, DayCount, QuotaCall, QuotaReply, QuotaStore, UserCall};
use serde::de::DeserializeOwned;
use worker::{
    console_error, durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result,
    State, Storage,
};

const COUNT_KEY: &str = "d";
const CLAIMS_KEY: &str = "b";

#[durable_object(fetch)]
pub struct UserQuota {
    state: State,
}

impl DurableObject for UserQuota {
    fn new(state: State, _env: Env) -> Self {
        UserQuota { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: UserCall = match req.json().await {
            Ok(call) => call,
            Err(e) => return Response::error(format!("not a quota call: {e}"), 400),
        };
        let store = ObjectStore(self.state.storage());
        let now = super::now().0;
        let answered = match &call {
            UserCall::Spend(c) => quota::apply(&store, c, now).await.map(|r| json(&r)),
            UserCall::Pending => claims::pending(&store, now).await.map(|r| json(&r)),
            UserCall::Claim(c) => claims::claim(&store, c, now).await.map(|r| json(&r)),
        };
        match answered {
            Ok(Ok(text)) => Response::ok(text),
            Ok(Err(e)) | Err(e) => Response::error(format!("quota storage: {e}"), 500),
        }
    }
}

fn json<T: serde::Serialize>(reply: &T) -> std::result::Result<String, String> {
    serde_json::to_string(reply).map_err(|e| e.to_string())
}

struct ObjectStore(Storage);

impl QuotaStore for ObjectStore {
    async fn load(&self) -> std::result::Result<DayCount, String> {
        Ok(self
            .0
            .get(COUNT_KEY)
            .await
            .map_err(text)?
            .unwrap_or_default())
    }
    async fn save(&self, count: &DayCount) -> std::result::Result<(), String> {
        self.0.put(COUNT_KEY, count).await.map_err(text)
    }
    async fn load_claims(&self) -> std::result::Result<Vec<Claim>, String> {
        Ok(self
            .0
            .get(CLAIMS_KEY)
            .await
            .map_err(text)?
            .unwrap_or_default())
    }
    async fn save_claims(&self, claims: &[Claim]) -> std::result::Result<(), String> {
        self.0.put(CLAIMS_KEY, claims).await.map_err(text)
    }
}

/// Asks `user`'s object; `Err` says why it could not.
async fn ask<T: DeserializeOwned>(
    ns: &ObjectNamespace,
    user: &str,
    call: &UserCall,
) -> std::result::Result<T, String> {
    let body = serde_json::to_string(call).map_err(|e| e.to_string())?;
    let answer = objects::call(ns, user, "https://quota/", body).await?;
    serde_json::from_str(&answer).map_err(|e| e.to_string())
}

/// Spends of a daily budget; `Err` says why it could not (the caller fails open).
pub async fn spend(
    ns: &ObjectNamespace,
    user: &str,
    call: &QuotaCall,
) -> std::result::Result<bool, String> {
    let reply: QuotaReply = ask(ns, user, &UserCall::Spend(call.clone())).await?;
    Ok(reply == QuotaReply::Granted)
}

/// Byte claims through the users' objects. A failed call is logged (without the user's name)
/// and the pin is checked alone, as without the binding.
pub struct DoClaims(pub ObjectNamespace);

fn logged<T>(r: std::result::Result<T, String>) -> std::result::Result<T, String> {
    r.inspect_err(|e| console_error!("byte claim: {e}; this pin is checked alone"))
}

impl ClaimTransport for DoClaims {
    fn pending<'a>(&'a self, user: &'a str) -> ClaimFuture<'a, Vec<String>> {
        Box::pin(async move { logged(ask(&self.0, user, &UserCall::Pending).await) })
    }
    fn claim<'a>(&'a self, user: &'a str, call: ClaimCall) -> ClaimFuture<'a, ClaimReply> {
        Box::pin(async move { logged(ask(&self.0, user, &UserCall::Claim(call)).await) })
    }
}
