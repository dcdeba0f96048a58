//! The workers-rs glue: turn a Workers request into an `HttpRequest`, read settings and KV
//! from the environment, and turn the core's `Reply` back into a response.

mod kv;

use crate::config::Config;
use crate::domain::{pin, timestamp::Millis};
use crate::http::{HttpRequest, Reply};
use worker::{console_error, event, Context, Date, Env, Request, Response, Result};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let now = Millis(Date::now().as_millis());
    let config = Config::from_env(|k| setting(&env, k));
    if let Err(e) = &config {
        console_error!("configuration error: {e}");
    }
    let reply = match read_request(&mut req).await {
        Ok(http) => match env.kv("PINS") {
            Ok(store) => {
                crate::app::handle(
                    http,
                    kv::WorkersKv(store),
                    config.as_ref().map_err(String::as_str),
                    now,
                )
                .await
            }
            Err(e) => {
                console_error!("KV binding PINS: {e}");
                Reply::failure(&crate::error::ApiError::Internal(
                    "storage is not configured".into(),
                ))
                .with_cors()
            }
        },
        Err(reply) => reply,
    };
    if reply.status >= 500 {
        console_error!(
            "{} {} -> {}: {}",
            req.inner().method(),
            req.path(),
            reply.status,
            reply.body.as_deref().unwrap_or("")
        );
    }
    respond(reply)
}

/// A var or a secret (both are strings to the worker).
fn setting(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|s| s.to_string()))
        .ok()
}

async fn read_request(req: &mut Request) -> std::result::Result<HttpRequest, Reply> {
    let too_large = || Reply::failure(&pin::too_large()).with_cors();
    let declared: Option<usize> = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > pin::MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let method = req.inner().method();
    let body = if method == "POST" {
        req.bytes().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    if body.len() > pin::MAX_BODY_BYTES {
        return Err(too_large());
    }
    let url = req.url().map_err(|_| {
        Reply::failure(&crate::error::ApiError::BadRequest("unreadable URL".into())).with_cors()
    })?;
    Ok(HttpRequest {
        method,
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        authorization: req.headers().get("authorization").ok().flatten(),
        body,
    })
}

fn respond(reply: Reply) -> Result<Response> {
    let response = match reply.body {
        Some(body) => Response::ok(body)?,
        None => Response::empty()?,
    };
    let mut response = response.with_status(reply.status);
    let headers = response.headers_mut();
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    Ok(response)
}
