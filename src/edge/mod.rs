//! The workers-rs glue: turn a Workers request into an `HttpRequest`, read settings, KV and
//! the rate limiter from the environment, and turn the core's `Reply` back into a response.

mod gate;
mod gateway;
mod http;
mod kv;
mod limiter;
mod objects;
mod quota;
mod r2;
mod settings;
mod upstream;

use crate::backend::Provider as Either;
use crate::config::{Provider, UpstreamSettings};
use crate::domain::timestamp::Millis;
use crate::error::ApiError;
use crate::http::Reply;
use crate::limits::Blocked;
use crate::quota::claims::Claims;
use crate::r2::keeper::Keeper;
use crate::upstream::gate::Gates;
use crate::upstream::{client::PsaClient, sweep, Counted, Throttle, Upstreaming};
use settings::settings;
use worker::wasm_bindgen::JsValue;
use worker::worker_sys::web_sys;
use worker::{
    console_error, console_log, event, js_sys, Context, Env, MessageBatch, MessageExt, Request,
    Result, ScheduleContext, ScheduledEvent,
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
async fn fetch(raw: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let now = now();
    let config = settings(&env);
    if let Err(e) = config.as_ref() {
        console_error!("configuration error: {e}");
    }
    let limiter = limiter::BindingLimiter {
        requests: bound(&env, "RATE_LIMITER").and_then(|_| env.rate_limiter("RATE_LIMITER").ok()),
        sign_ins: bound(&env, "SIGNIN_LIMITER")
            .and_then(|_| env.rate_limiter("SIGNIN_LIMITER").ok()),
        blocked: BLOCKED.with(|b| *b),
        quotas: objects::namespace(&env, USERS_BINDING),
    };
    // `worker::Request` reads `cf`, the method and the URL (parsed) up front: the API routes
    // read what they need from the raw request instead; the gateway keeps its glue.
    let head = http::Head::of(&raw);
    let (path, query) = crate::http::split_url(head.url());
    if crate::http::router::is_gateway(path) {
        let req = Request::from(raw);
        let config = config.as_ref().as_ref().map_err(String::as_str);
        return gateway::fetch(&req, &env, &limiter, config, now)
            .await
            .map(Into::into);
    }
    let http = head.request(&raw, path, query);
    let reply = match kv::WorkersKv::bound(&env, kv::PINS) {
        Some(store) => {
            let client = config
                .as_ref()
                .as_ref()
                .ok()
                .and_then(|c| c.upstream.as_ref())
                .map(|u| Counted::new(provider(&env, u, now)));
            let config = config.as_ref().as_ref().map_err(String::as_str);
            // The gates serve only a real backend's releases: no lookup for the others.
            let transport = client.as_ref().and_then(|_| gate_transport(&env));
            let gates = gates_of(&transport);
            // The users' objects' namespace, looked up once for the budgets above.
            let users = client
                .as_ref()
                .and(limiter.quotas.clone())
                .map(quota::DoClaims);
            let claims = claims_of(&users);
            let up = client.as_ref().map(|client| Upstreaming {
                client,
                throttle: THROTTLE.with(|t| *t),
                gates: &gates,
                claims: &claims,
            });
            // One instantiation of the request path, whatever the backend (bundle size).
            crate::app::handle_with(http, store, &limiter, up.as_ref(), config, now).await
        }
        None => {
            console_error!("KV binding {}: not bound", kv::PINS);
            Reply::failure(&ApiError::Internal("storage is not configured".into())).with_cors()
        }
    };
    if reply.status >= 500 {
        // Details name settings and keys, never credentials.
        let body = reply.body.as_deref().unwrap_or("");
        console_error!("{} {path} -> {}: {body}", head.method(), reply.status);
    }
    http::reply(reply)
}

/// The Cron Trigger (`[triggers] crons` in wrangler.toml): one sweep of the upstream work queue.
/// Does nothing unless `PIN_BACKEND` is `upstream`.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    // The run's scheduled minute (at or just before the clock): the hourly passes (`verify`,
    // `collect`) run in an hour's first minute, which a late start would otherwise miss.
    let now = Millis(event.schedule() as u64);
    let config = settings(&env);
    let config = match config.as_ref() {
        Ok(config) => config,
        Err(e) => return console_error!("sweep: configuration error: {e}"),
    };
    let Some(settings) = &config.upstream else {
        return;
    };
    let Some(store) = kv::WorkersKv::bound(&env, kv::PINS) else {
        return console_error!("sweep: KV binding {}: not bound", kv::PINS);
    };
    let client = Counted::new(provider(&env, settings, now));
    let transport = gate_transport(&env);
    let users = objects::namespace(&env, USERS_BINDING).map(quota::DoClaims);
    let (gates, claims) = (gates_of(&transport), claims_of(&users));
    match sweep::run(store, &client, &gates, &claims, settings, now).await {
        Ok(report) => console_log!("sweep: {report}"),
        // Every step is safe to stop after; the next run goes on.
        Err(e) => console_error!("sweep: storage error: {}", e.0),
    }
}

/// The `r2` backend's queue consumer: one fetch step per message (wrangler.toml
/// `[[queues.consumers]]`). A step that stops with an R2 error is retried by the queue.
#[event(queue)]
async fn queue(batch: MessageBatch<r2::Job>, env: Env, _ctx: Context) -> Result<()> {
    let config = settings(&env);
    let config = match config.as_ref() {
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
        let now = now().0;
        let tag = crate::r2::layout::tag(now);
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
                clock: self::now,
            })
        }
    }
}

/// The Durable Object namespace of the CIDs' gates (wrangler.toml). Without it the upstream
/// backend decides releases from KV alone (docs/storage.md says what that leaves open).
const GATES_BINDING: &str = "CID_GATES";

fn gate_transport(env: &Env) -> Option<gate::DoGates> {
    objects::namespace(env, GATES_BINDING).map(gate::DoGates)
}

fn gates_of(gates: &Option<gate::DoGates>) -> Gates<'_> {
    match gates {
        Some(g) => Gates::new(g),
        None => Gates::none(),
    }
}

/// The users' objects (wrangler.toml): daily budgets and byte claims. Without them there are no
/// budgets, and a pin's bytes are checked against its user's stored usage alone
/// (docs/storage.md, "Byte quotas").
const USERS_BINDING: &str = "USER_QUOTAS";

fn claims_of(users: &Option<quota::DoClaims>) -> Claims<'_> {
    match users {
        Some(u) => Claims::new(u),
        None => Claims::none(),
    }
}

/// Bytes handed over from JS as text. They are UTF-8 (TextEncoder's output, KV values the
/// service wrote), so the lossy path, what a JS string or KV's "text" read would make of
/// bytes that are not, does not run.
pub(crate) fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The time now, from `Date.now()` (`worker::Date` makes a `Date` object for it).
pub(crate) fn now() -> Millis {
    Millis(js_sys::Date::now() as u64)
}

thread_local! {
    /// Binding names as JS strings, each made once (see `SETTING_NAMES`).
    static BINDING_NAMES: std::cell::RefCell<Vec<(&'static str, JsValue)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `name` as a JS string, made once per isolate.
pub(crate) fn js_name(name: &'static str) -> JsValue {
    BINDING_NAMES.with_borrow_mut(|names| {
        if let Some((_, js)) = names.iter().find(|(n, _)| *n == name) {
            return js.clone();
        }
        let js = JsValue::from_str(name);
        names.push((name, js.clone()));
        js
    })
}

/// A binding's value, if it is there at all: an absent one is then no more than one lookup
/// (`Env`'s typed getters format an error for it, on every request).
pub(crate) fn binding(env: &Env, name: &'static str) -> Option<JsValue> {
    let value = js_sys::Reflect::get(env, &js_name(name)).ok()?;
    (!value.is_undefined()).then_some(value)
}

/// Whether a binding is there (`binding`).
fn bound(env: &Env, name: &'static str) -> Option<()> {
    binding(env, name).map(drop)
}
