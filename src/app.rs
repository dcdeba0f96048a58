//! One request's path through the service: route → (preflight) → configuration → sign-in
//! budget → auth → rate limit → body → handler → reply with CORS. Plain Rust; the edge supplies KV, limits and the clock.

use crate::auth::{authenticate, is_password, Accept, Caller};
use crate::config::Config;
use crate::domain::pin::MAX_BODY_BYTES;
use crate::domain::timestamp::Millis;
use crate::error::ApiError;
use crate::http::body::{drain, read_capped, RequestBody};
use crate::http::{router, router::Route, HttpRequest, Reply};
use crate::limits::{self, Bucket, Limiter};
use crate::pins::{api as pins_api, service::PinService};
use crate::quota::{self, Daily, QuotaCall};
use crate::store::kv::{Counting, Kv};
use crate::store::paced::Paced;
use crate::tokens::{api as tokens_api, service::TokenService};
use crate::upstream::{NoUpstream, Upstream, Upstreaming};

/// A request to a worker whose backend is not `upstream`.
pub async fn handle<K: Kv, L: Limiter, B: RequestBody>(
    req: HttpRequest<B>,
    kv: K,
    limiter: &L,
    config: Result<&Config, &str>,
    now: Millis,
) -> Reply {
    handle_with::<K, L, NoUpstream, B>(req, kv, limiter, None, config, now).await
}

/// A request, with the upstream client the `upstream` backend pins through.
pub async fn handle_with<K: Kv, L: Limiter, U: Upstream, B: RequestBody>(
    mut req: HttpRequest<B>,
    kv: K,
    limiter: &L,
    upstream: Option<&Upstreaming<'_, U>>,
    config: Result<&Config, &str>,
    now: Millis,
) -> Reply {
    let kv = Counting::new(Paced::new(kv));
    let reply = match dispatch(&mut req, &kv, limiter, upstream, config, now).await {
        Ok(reply) => reply,
        Err(e) => {
            // A small body the client declared is read and dropped before a refusal: left
            // unread, the connection may be reset under the answer (`body::drain`). A body of
            // no declared length, or a larger one, stays unread.
            let small = req
                .body
                .declared_len()
                .filter(|n| *n <= MAX_BODY_BYTES as u64);
            if let Some(n) = small {
                drain(&mut req.body, n).await;
            }
            Reply::failure(&e)
        }
    };
    let mut reply = reply.with_cors();
    if config.is_ok_and(|c| c.debug_kv_ops) {
        reply.headers.push(("x-kv-ops", kv.summary()));
    }
    reply
}

async fn dispatch<K: Kv, L: Limiter, U: Upstream, B: RequestBody>(
    req: &mut HttpRequest<B>,
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
    let caller = admit(req, &route, kv, limiter, config, now).await?;
    // The body only now, from a known user, and only as much as the route takes.
    let body = match route.body_cap() {
        Some(cap) => read_capped(&mut req.body, cap).await?,
        None => Vec::new(),
    };
    spend_daily(&route, &req.query, &caller, limiter, config, now).await?;
    match route {
        Route::IssueToken | Route::ListTokens | Route::RevokeToken(_) => {
            let svc = TokenService::new(kv, &caller.user);
            tokens_api::handle(route, &body, &svc, config, now).await
        }
        Route::UploadCar => {
            let upstream = upstream.zip(config.upstream.as_ref());
            let user = &caller.user;
            let svc = PinService::build(kv, user, config.backend, &config.delegates, upstream);
            pins_api::upload(&req.query, &mut req.body, &svc, now).await
        }
        // The edge sends gateway paths to `gateway::handler`; nothing else serves them.
        Route::Gateway => Err(ApiError::NotFound("no gateway here".into())),
        _ => {
            let upstream = upstream.zip(config.upstream.as_ref());
            let user = &caller.user;
            let svc = PinService::build(kv, user, config.backend, &config.delegates, upstream);
            pins_api::handle(route, &req.query, &body, &svc, now).await
        }
    }
}

/// Who is asking, once the address's sign-in budget allowed the check and the user's request
/// budget allows the request: every route that takes credentials goes through here (the
/// gateway's private mode too).
pub(crate) async fn admit<K: Kv, L: Limiter, B>(
    req: &HttpRequest<B>,
    route: &Route,
    kv: &K,
    limiter: &L,
    config: &Config,
    now: Millis,
) -> Result<Caller, ApiError> {
    let address = limits::address_key(req.client_ip.as_deref());
    if let Some(secs) = limiter.blocked().and_then(|b| b.refused(&address, now.0)) {
        return Err(sign_ins_spent(secs));
    }
    // A password is the guessable credential: each check of one spends the address's sign-in
    // budget before it is made, so once the budget is spent the right password is refused too.
    let password = is_password(req.authorization.as_deref());
    if password {
        spend_sign_in(limiter, &address, now).await?;
    }
    let caller = match sign_in(req, route, kv, config, now).await {
        Ok(caller) => caller,
        Err(e) => {
            if !password && matches!(e, ApiError::Unauthorized(_)) {
                spend_sign_in(limiter, &address, now).await?;
            }
            return Err(e);
        }
    };
    // One request, one count, whatever it asks for (a 10-CID lookup included).
    if !limiter
        .allow(Bucket::Requests, &limits::user_key(caller.user.as_str()))
        .await
    {
        return Err(ApiError::rate_limited());
    }
    Ok(caller)
}

/// Writes and listings spend from the user's daily budget; gets never ask.
async fn spend_daily<L: Limiter>(
    route: &Route,
    query: &str,
    caller: &Caller,
    limiter: &L,
    config: &Config,
    now: Millis,
) -> Result<(), ApiError> {
    let Some((kind, cost)) = quota::charge(route, query)? else {
        return Ok(());
    };
    let limit = match kind {
        Daily::Writes => config.daily_writes,
        Daily::Lists => config.daily_lists,
    };
    let call = QuotaCall { kind, cost, limit };
    if limit == 0 || limiter.spend_daily(caller.user.as_str(), &call).await {
        Ok(())
    } else {
        Err(quota::spent(kind, limit, now.0))
    }
}

/// Spends one unit of `address`'s sign-in budget; once it is spent the address is refused
/// (and remembered, so that sign-ins which spend nothing are refused too).
async fn spend_sign_in<L: Limiter>(
    limiter: &L,
    address: &str,
    now: Millis,
) -> Result<(), ApiError> {
    if limiter.allow(Bucket::SignIns, address).await {
        return Ok(());
    }
    if let Some(blocked) = limiter.blocked() {
        blocked.block(address, now.0);
    }
    Err(sign_ins_spent(limits::PERIOD_SECS))
}

fn sign_ins_spent(secs: u32) -> ApiError {
    ApiError::TooManyRequests("too many sign-in attempts from this address".into(), secs)
}

/// Basic credentials, or a Bearer token that verifies and whose record still exists.
async fn sign_in<K: Kv, B>(
    req: &HttpRequest<B>,
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
