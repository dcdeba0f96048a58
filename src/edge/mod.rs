//! The workers-rs glue: turn a Workers request into an `HttpRequest`, read settings, KV and
//! the rate limiter from the environment, and turn the core's `Reply` back into a response.

mod gate;
mod gateway;
mod kv;
mod limiter;
mod quota;
mod r2;
mod upstream;

use crate::backend::Provider as Either;
use crate::config::{Config, Provider, UpstreamSettings};
use crate::domain::timestamp::Millis;
use crate::error::ApiError;
use crate::http::{body::RequestBody, HttpRequest, Reply};
use crate::limits::Blocked;
use crate::r2::keeper::Keeper;
use crate::upstream::gate::Gates;
use crate::upstream::{client::PsaClient, sweep, Counted, Throttle, Upstreaming};
use futures_util::StreamExt;
use worker::{
    console_error, console_log, event, ByteStream, Context, Date, Env, MessageBatch, MessageExt,
    Request, Response, Result, ScheduleContext, ScheduledEvent,
};

thread_local! {
    /// Read-triggered refreshes already made by this isolate (see `Throttle`); leaked once per
    /// isolate so that requests can borrow it across awaits.
    static THROTTLE: &'static Throttle = Box::leak(Box::default());
    /// Addresses this isolate saw over their sign-in budget (see `limits::Blocked`).
    static BLOCKED: &'static Blocked = Box::leak(Box::default());
}

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
    let limiter = limiter::BindingLimiter {
        requests: env.rate_limiter("RATE_LIMITER").ok(),
        sign_ins: env.rate_limiter("SIGNIN_LIMITER").ok(),
        blocked: BLOCKED.with(|b| *b),
        quotas: env.durable_object("USER_QUOTAS").ok(),
    };
    if crate::http::router::is_gateway(&req.path()) {
        let config = config.as_ref().map_err(String::as_str);
        return gateway::fetch(&req, &env, &limiter, config, now).await;
    }
    let reply = match (read_request(&mut req), env.kv("PINS")) {
        (Ok(http), Ok(store)) => {
            let client = config
                .as_ref()
                .ok()
                .and_then(|c| c.upstream.as_ref())
                .map(|u| Counted::new(provider(&env, u, now)));
            let config = config.as_ref().map_err(String::as_str);
            let store = kv::WorkersKv(store);
            let transport = gate_transport(&env);
            let gates = gates_of(&transport);
            let up = client.as_ref().map(|client| Upstreaming {
                client,
                throttle: THROTTLE.with(|t| *t),
                gates: &gates,
            });
            // One instantiation of the request path, whatever the backend (bundle size).
            crate::app::handle_with(http, store, &limiter, up.as_ref(), config, now).await
        }
        (Err(reply), _) => reply,
        (_, Err(e)) => {
            console_error!("KV binding PINS: {e}");
            Reply::failure(&ApiError::Internal("storage is not configured".into())).with_cors()
        }
    };
    if reply.status >= 500 {
        // Details name settings and keys, never credentials.
        let body = reply.body.as_deref().unwrap_or("");
        console_error!(
            "{} {} -> {}: {body}",
            req.inner().method(),
            req.path(),
            reply.status
        );
    }
    respond(reply)
}

/// The Cron Trigger (`[triggers] crons` in wrangler.toml): one sweep of the upstream work queue.
/// Does nothing unless `PIN_BACKEND` is `upstream`.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = Millis(Date::now().as_millis());
    let config = match Config::from_env(|k| setting(&env, k)) {
        Ok(config) => config,
        Err(e) => return console_error!("sweep: configuration error: {e}"),
    };
    let Some(settings) = &config.upstream else {
        return;
    };
    let store = match env.kv("PINS") {
        Ok(store) => kv::WorkersKv(store),
        Err(e) => return console_error!("sweep: KV binding PINS: {e}"),
    };
    let client = Counted::new(provider(&env, settings, now));
    let transport = gate_transport(&env);
    match sweep::run(store, &client, &gates_of(&transport), settings, now).await {
        Ok(report) => console_log!("sweep: {report}"),
        // Every step is safe to stop after; the next run goes on.
        Err(e) => console_error!("sweep: storage error: {}", e.0),
    }
}

/// The `r2` backend's queue consumer: one fetch step per message (wrangler.toml
/// `[[queues.consumers]]`). A step that stops with an R2 error is retried by the queue.
#[event(queue)]
async fn queue(batch: MessageBatch<r2::Job>, env: Env, _ctx: Context) -> Result<()> {
    let config = match Config::from_env(|k| setting(&env, k)) {
        Ok(config) => config,
        Err(e) => {
            console_error!("fetch step: configuration error: {e}");
            batch.retry_all();
            return Ok(());
        }
    };
    let Some(Provider::R2(settings)) = config.upstream.as_ref().map(|u| &u.provider) else {
        batch.ack_all();
        return Ok(());
    };
    let blobs = r2::R2Blobs(env.bucket(r2::BUCKET).ok());
    let jobs = r2::QueueJobs(env.queue(r2::QUEUE).ok());
    for message in batch.messages()? {
        let now = Date::now().as_millis();
        let tag = r2::step_tag(now);
        match r2::step(&blobs, &jobs, settings, &message.body().cid, now, &tag).await {
            Ok(outcome) => {
                console_log!("fetch step {}: {outcome:?}", message.body().cid);
                message.ack();
            }
            Err(e) => {
                console_error!("fetch step {}: {e}", message.body().cid);
                message.retry();
            }
        }
    }
    Ok(())
}

type Client = Either<PsaClient<upstream::FetchTransport>, Keeper<r2::R2Blobs, r2::QueueJobs>>;

/// The provider the configured real backend pins through. A missing R2 binding shows as an
/// unavailable provider (pins wait, queued) and is logged, never as a panic.
fn provider(env: &Env, settings: &UpstreamSettings, now: Millis) -> Client {
    match &settings.provider {
        Provider::Psa { url, token } => {
            Either::Psa(PsaClient::new(upstream::FetchTransport, url, token))
        }
        Provider::R2(_) => {
            let bucket = env.bucket(r2::BUCKET);
            if let Err(e) = &bucket {
                console_error!("R2 binding {}: {e}", r2::BUCKET);
            }
            Either::Kept(Keeper {
                blobs: r2::R2Blobs(bucket.ok()),
                jobs: r2::QueueJobs(env.queue(r2::QUEUE).ok()),
                now,
            })
        }
    }
}

/// The Durable Object namespace of the CIDs' gates (wrangler.toml). Without it the upstream
/// backend decides releases from KV alone (docs/storage.md says what that leaves open).
const GATES_BINDING: &str = "CID_GATES";

fn gate_transport(env: &Env) -> Option<gate::DoGates> {
    env.durable_object(GATES_BINDING).ok().map(gate::DoGates)
}

fn gates_of(gates: &Option<gate::DoGates>) -> Gates<'_> {
    match gates {
        Some(g) => Gates::new(g),
        None => Gates::none(),
    }
}

/// A var or a secret (both are strings to the worker).
fn setting(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|s| s.to_string()))
        .ok()
}

/// The request's head; its body stays a stream for the app to read after sign-in.
fn read_request(req: &mut Request) -> std::result::Result<HttpRequest<StreamBody>, Reply> {
    let header = |req: &Request, name: &str| req.headers().get(name).ok().flatten();
    let url = req
        .url()
        .map_err(|_| Reply::failure(&ApiError::BadRequest("unreadable URL".into())).with_cors())?;
    Ok(HttpRequest {
        method: req.inner().method(),
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        authorization: header(req, "authorization"),
        client_ip: header(req, "cf-connecting-ip"),
        body: StreamBody {
            declared: header(req, "content-length").and_then(|v| v.trim().parse().ok()),
            // No body at all (a GET) is an empty stream.
            stream: req.stream().ok(),
        },
    })
}

/// The request's body as workerd delivers it, chunk by chunk.
struct StreamBody {
    declared: Option<u64>,
    stream: Option<ByteStream>,
}

impl RequestBody for StreamBody {
    fn declared_len(&self) -> Option<u64> {
        self.declared
    }

    async fn next_chunk(&mut self) -> std::result::Result<Option<Vec<u8>>, ApiError> {
        let Some(stream) = &mut self.stream else {
            return Ok(None);
        };
        match stream.next().await {
            Some(Ok(chunk)) => Ok(Some(chunk)),
            Some(Err(_)) => Err(ApiError::BadRequest("body: unreadable".into())),
            None => Ok(None),
        }
    }
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
