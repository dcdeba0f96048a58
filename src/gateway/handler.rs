//! A gateway request's path: route → preflight → settings (`GATEWAY`, the backend) →
//! credentials when private → the answer, with CORS. Errors are spec-shaped Failures.

use super::{ask, serve, GatewayRequest, IndexCache, Mode};
use crate::app::admit;
use crate::config::{Config, Provider};
use crate::domain::cid::Cid as DomainCid;
use crate::domain::timestamp::Millis;
use crate::error::ApiError;
use crate::http::{router, router::Route, HttpRequest, Reply};
use crate::limits::Limiter;
use crate::r2::Blobs;
use crate::store::{keys, kv::Kv};

const ALLOW: &str = "GET, HEAD, OPTIONS";

pub async fn handle<K: Kv, L: Limiter, B: Blobs>(
    req: &GatewayRequest,
    kv: &K,
    limiter: &L,
    blobs: Option<&B>,
    cache: &IndexCache,
    config: Result<&Config, &str>,
    now: Millis,
) -> Reply {
    let mut reply = match answer(req, kv, limiter, blobs, cache, config, now).await {
        Ok(reply) => reply,
        Err(e) => Reply::failure(&e),
    };
    reply.headers.extend([
        ("access-control-allow-origin", "*".to_owned()),
        (
            "access-control-expose-headers",
            "Content-Length, Content-Range, Content-Disposition, Etag, X-Ipfs-Path, X-Ipfs-Roots, Retry-After, WWW-Authenticate"
                .to_owned(),
        ),
    ]);
    reply
}

async fn answer<K: Kv, L: Limiter, B: Blobs>(
    req: &GatewayRequest,
    kv: &K,
    limiter: &L,
    blobs: Option<&B>,
    cache: &IndexCache,
    config: Result<&Config, &str>,
    now: Millis,
) -> Result<Reply, ApiError> {
    match router::route(&req.method, &req.path)? {
        Route::Gateway => {}
        Route::Preflight(_) => return Ok(preflight()),
        _ => return Err(ApiError::NotFound("no such endpoint".into())),
    }
    let config =
        config.map_err(|e| ApiError::Internal(format!("the service is misconfigured: {e}")))?;
    let kept = matches!(
        config.upstream.as_ref().map(|u| &u.provider),
        Some(Provider::R2(_))
    );
    let (Some(blobs), true, false) = (blobs, kept, config.gateway == Mode::Off) else {
        return Err(ApiError::NotFound(
            "no gateway here (GATEWAY is off, or PIN_BACKEND is not r2)".into(),
        ));
    };
    let ask = ask::parse(req)?;
    if config.gateway == Mode::Private {
        let http = HttpRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: String::new(),
            authorization: req.authorization.clone(),
            client_ip: req.client_ip.clone(),
            body: Vec::<u8>::new(),
        };
        let caller = admit(&http, &Route::Gateway, kv, limiter, config, now).await?;
        // The caller's own pins of the root, any status: the DAG must also be pinned (below).
        let root = DomainCid::parse(&ask.root.to_string()).map_err(|e| ApiError::bad("path", e))?;
        let held = kv
            .list(&keys::holders_of(&caller.user, &root), None, 1)
            .await
            .map_err(|e| ApiError::Internal(format!("KV: {}", e.0)))?;
        if held.keys.is_empty() {
            return Err(ApiError::NotFound(
                "this CID is not kept here (no pinned DAG of it)".into(),
            ));
        }
    }
    serve(&ask, blobs, cache, &req.path).await
}

fn preflight() -> Reply {
    let mut reply = Reply::empty(204);
    reply.headers.extend([
        ("access-control-allow-methods", ALLOW.to_owned()),
        (
            "access-control-allow-headers",
            "Authorization, Accept, Range, If-None-Match".to_owned(),
        ),
        ("access-control-max-age", "86400".to_owned()),
        ("allow", ALLOW.to_owned()),
    ]);
    reply
}
