//! The users' daily budgets on Durable Objects: `UserQuota`, one object per user
//! (`USER_QUOTAS`, by name), the core's `QuotaStore` on the object's storage (one key, `d`);
//! and the stub side that carries a `QuotaCall` to it as a small JSON request.
//!
//! A call makes only storage calls, so the runtime's input gate delivers no other call in the
//! middle: one user's count is read and written one call at a time.

use crate::quota::{self, DayCount, QuotaCall, QuotaReply, QuotaStore};
use worker::{
    durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response,
    Result, State, Storage,
};

const COUNT_KEY: &str = "d";

#[durable_object(fetch)]
pub struct UserQuota {
    state: State,
}

impl DurableObject for UserQuota {
    fn new(state: State, _env: Env) -> Self {
        UserQuota { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: QuotaCall = match req.json().await {
            Ok(call) => call,
            Err(e) => return Response::error(format!("not a quota call: {e}"), 400),
        };
        let store = ObjectStore(self.state.storage());
        match quota::apply(&store, &call, super::now().0).await {
            Ok(reply) => Response::from_json(&reply),
            Err(e) => Response::error(format!("quota storage: {e}"), 500),
        }
    }
}

struct ObjectStore(Storage);

impl QuotaStore for ObjectStore {
    async fn load(&self) -> std::result::Result<DayCount, String> {
        let found = self.0.get(COUNT_KEY).await.map_err(|e| e.to_string())?;
        Ok(found.unwrap_or_default())
    }
    async fn save(&self, count: &DayCount) -> std::result::Result<(), String> {
        self.0
            .put(COUNT_KEY, count)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Asks `user`'s object; `Err` says why it could not (the caller fails open).
pub async fn spend(
    ns: &ObjectNamespace,
    user: &str,
    call: &QuotaCall,
) -> std::result::Result<bool, String> {
    let text = |e: worker::Error| e.to_string();
    let stub = ns.get_by_name(user).map_err(text)?;
    let body = serde_json::to_string(call).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://quota/", &init).map_err(text)?;
    let mut res = stub.fetch_with_request(req).await.map_err(text)?;
    if res.status_code() != 200 {
        return Err(format!("answered {}", res.status_code()));
    }
    Ok(res.json::<QuotaReply>().await.map_err(text)? == QuotaReply::Granted)
}
