//! One request's path through the service: route → (preflight) → configuration → auth → rate
//! limit → handler → reply with CORS. Plain Rust; the edge supplies KV, limits and the clock.

use crate::auth::{authenticate, Accept, Caller};
use crate::config::Config;
use crate::domain::timestamp::Millis;
use crate::error::ApiError;
use crate::http::{router, router::Route, HttpRequest, Reply};
use crate::limits::{self, Limiter};
use crate::pins::{api as pins_api, service::PinService};
use crate::store::kv::{Counting, Kv};
use crate::tokens::{api as tokens_api, service::TokenService};
use crate::upstream::{NoUpstream, Upstream, Upstreaming};

/// A request to a worker whose backend is not `upstream`.
pub async fn handle<K: Kv, L: Limiter>(
    req: HttpRequest,
    kv: K,
    limiter: &L,
    config: Result<&Config, &str>,
    now: Millis,
) -> Reply {
    handle_with::<K, L, NoUpstream>(req, kv, limiter, None, config, now).await
}

/// A request, with the upstream client the `upstream` backend pins through.
pub async fn handle_with<K: Kv, L: Limiter, U: Upstream>(
    req: HttpRequest,
    kv: K,
    limiter: &L,
    upstream: Option<&Upstreaming<'_, U>>,
    config: Result<&Config, &str>,
    now: Millis,
) -> Reply {
    let kv = Counting::new(kv);
    let reply = match dispatch(&req, &kv, limiter, upstream, config, now).await {
        Ok(reply) => reply,
        Err(e) => Reply::failure(&e),
    };
    let mut reply = reply.with_cors();
    if config.is_ok_and(|c| c.debug_kv_ops) {
        reply.headers.push(("x-kv-ops", kv.summary()));
    }
    reply
}

async fn dispatch<K: Kv, L: Limiter, U: Upstream>(
    req: &HttpRequest,
    kv: &K,
    limiter: &L,
    upstream: Option<&Upstreaming<'_, U>>,
    config: Result<&Config, &str>,
    now: Millis,
) -> Result<Reply, ApiError> {
    let route = router::route(&req.method, &req.path)?;
    if let Route::Preflight(allow) = route {
        return Ok(Reply::preflight(allow));
    }
    let config =
        config.map_err(|e| ApiError::Internal(format!("the service is misconfigured: {e}")))?;
    let caller = match sign_in(req, &route, kv, config, now).await {
        Ok(caller) => caller,
        Err(e) => {
            // Guessing passwords or tokens spends the client address's budget.
            let ip = req.client_ip.as_deref().unwrap_or("unknown");
            if !limiter.allow(&limits::address_key(ip)).await {
                return Err(ApiError::TooManyRequests(limits::PERIOD_SECS));
            }
            return Err(e);
        }
    };
    // One request, one count, whatever it asks for (a 10-CID lookup included).
    if !limiter.allow(&limits::user_key(caller.user.as_str())).await {
        return Err(ApiError::TooManyRequests(limits::PERIOD_SECS));
    }
    match route {
        Route::IssueToken | Route::ListTokens | Route::RevokeToken(_) => {
            tokens_api::handle(
                route,
                req,
                &TokenService::new(kv, &caller.user),
                config,
                now,
            )
            .await
        }
        // The edge sends gateway paths to `gateway::handler`; nothing else serves them.
        Route::Gateway => Err(ApiError::NotFound("no gateway here".into())),
        _ => {
            let upstream = upstream.zip(config.upstream.as_ref());
            let user = &caller.user;
            let svc = PinService::build(kv, user, config.backend, &config.delegates, upstream);
            pins_api::handle(route, req, &svc, now).await
        }
    }
}

/// Basic credentials, or a Bearer token that verifies and whose record still exists.
pub(crate) async fn sign_in<K: Kv>(
    req: &HttpRequest,
    route: &Route,
    kv: &K,
    config: &Config,
    now: Millis,
) -> Result<Caller, ApiError> {
    let accept = if *route == Route::IssueToken {
        Accept::BasicOnly
    } else {
        Accept::BasicOrBearer
    };
    let caller = authenticate(
        &config.auth,
        req.authorization.as_deref(),
        now.0 / 1000,
        accept,
    )?;
    if let Some(jti) = &caller.token {
        TokenService::new(kv, &caller.user).check(jti, now).await?;
    }
    Ok(caller)
}
