//! One request's path through the service: route → (preflight) → configuration → auth →
//! handler → reply with CORS. Everything here is plain Rust; the edge supplies KV and the clock.

use crate::auth::{authenticate, Accept};
use crate::config::Config;
use crate::domain::timestamp::Millis;
use crate::error::ApiError;
use crate::http::{router, router::Route, HttpRequest, Reply};
use crate::pins::{api as pins_api, service::PinService};
use crate::store::kv::{Counting, Kv};
use crate::tokens;

pub async fn handle<K: Kv>(
    req: HttpRequest,
    kv: K,
    config: Result<&Config, &str>,
    now: Millis,
) -> Reply {
    let kv = Counting::new(kv);
    let reply = match dispatch(&req, &kv, config, now).await {
        Ok(reply) => reply,
        Err(e) => Reply::failure(&e),
    };
    let mut reply = reply.with_cors();
    if config.is_ok_and(|c| c.debug_kv_ops) {
        reply.headers.push(("x-kv-ops", kv.summary()));
    }
    reply
}

async fn dispatch<K: Kv>(
    req: &HttpRequest,
    kv: &K,
    config: Result<&Config, &str>,
    now: Millis,
) -> Result<Reply, ApiError> {
    let route = router::route(&req.method, &req.path)?;
    if let Route::Preflight(allow) = route {
        return Ok(Reply::preflight(allow));
    }
    let config =
        config.map_err(|e| ApiError::Internal(format!("the service is misconfigured: {e}")))?;
    let now_secs = now.0 / 1000;
    let accept = if route == Route::IssueToken {
        Accept::BasicOnly
    } else {
        Accept::BasicOrBearer
    };
    let user = authenticate(&config.auth, req.authorization.as_deref(), now_secs, accept)?;
    if route == Route::IssueToken {
        return tokens::issue(config, &user, now_secs);
    }
    let svc = PinService::new(kv, &user, config.backend, &config.delegates);
    pins_api::handle(route, req, &svc, now).await
}
