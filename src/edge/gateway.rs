//! The gateway's glue: a Workers request becomes a `GatewayRequest`, and a reply's body plan
//! becomes a `FixedLengthStream` fed chunk by chunk from R2 range reads (never the whole
//! answer in memory).

use super::{kv::WorkersKv, kv::PINS, limiter::BindingLimiter, r2::R2Blobs, r2::BUCKET};
use crate::config::Config;
use crate::domain::timestamp::Millis;
use crate::error::ApiError;
use crate::gateway::{handler, GatewayRequest, IndexCache};
use crate::http::Reply;
use worker::{console_error, Env, FixedLengthStream, Request, Response, ResponseBody, Result};

/// Indexes kept per isolate: a few large DAGs' worth, well inside a Worker's 128 MB.
const INDEX_CACHE_BYTES: usize = 16 << 20;

thread_local! {
    static INDEXES: &'static IndexCache = Box::leak(Box::new(IndexCache::new(INDEX_CACHE_BYTES)));
}

pub async fn fetch(
    req: &Request,
    env: &Env,
    limiter: &BindingLimiter,
    config: std::result::Result<&Config, &str>,
    now: Millis,
) -> Result<Response> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let url = req.url()?;
    let greq = GatewayRequest {
        method: req.inner().method(),
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        accept: header("accept"),
        range: header("range"),
        if_none_match: header("if-none-match"),
        authorization: header("authorization"),
        client_ip: header("cf-connecting-ip"),
    };
    let blobs = env.bucket(BUCKET).ok().map(|b| R2Blobs(Some(b)));
    let reply = match WorkersKv::bound(env, PINS) {
        Some(kv) => {
            let cache = INDEXES.with(|c| *c);
            handler::handle(&greq, &kv, limiter, blobs.as_ref(), cache, config, now).await
        }
        None => {
            console_error!("KV binding {PINS}: not bound");
            Reply::failure(&ApiError::Internal("storage is not configured".into()))
        }
    };
    if reply.status >= 500 {
        let body = reply.body.as_deref().unwrap_or("");
        console_error!("{} {} -> {}: {body}", greq.method, greq.path, reply.status);
    }
    respond(reply, blobs)
}

fn respond(mut reply: Reply, blobs: Option<R2Blobs>) -> Result<Response> {
    let response = match (reply.plan.take(), blobs) {
        (Some(plan), Some(blobs)) => {
            let len = plan.len;
            let chunks = futures_util::stream::unfold(
                (plan.stream(), blobs),
                |(mut body, blobs)| async move {
                    let next = body.next(&blobs).await?;
                    let next = next.map_err(|e| {
                        // Headers are gone: cutting the stream short is all that is left.
                        console_error!("gateway body: {e}");
                        worker::Error::from(e)
                    });
                    Some((next, (body, blobs)))
                },
            );
            let fixed: worker::worker_sys::FixedLengthStream =
                FixedLengthStream::wrap(chunks, len).into();
            Response::from_body(ResponseBody::Stream(fixed.readable()))?
        }
        _ => match reply.body.take() {
            Some(body) => Response::ok(body)?,
            None => Response::empty()?,
        },
    };
    let mut response = response.with_status(reply.status);
    let headers = response.headers_mut();
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    Ok(response)
}
