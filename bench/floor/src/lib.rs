//! bench/baseline.mjs in Rust: `?k=key` answers one KV get's value (404 when absent),
//! `?list=prefix&limit=n` one KV list's key count, `?noop` at once. The KV binding is called
//! directly, as the service calls it (src/edge/kv.rs).

use worker::js_sys::{self, Object, Promise, Reflect};
use worker::wasm_bindgen::{self, prelude::*, JsCast};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, web_sys, Context, Env, Result};

#[wasm_bindgen]
extern "C" {
    type KvNamespace;

    #[wasm_bindgen(method)]
    fn get(this: &KvNamespace, key: &str) -> Promise;

    #[wasm_bindgen(method)]
    fn list(this: &KvNamespace, options: &Object) -> Promise;
}

fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            js_sys::decode_uri_component(v)
                .map(String::from)
                .unwrap_or_default()
        })
    })
}

fn answer(status: u16, body: Option<&str>) -> Result<web_sys::Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    Ok(web_sys::Response::new_with_opt_str_and_init(body, &init)?)
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let url = req.url();
    let query = url.split_once('?').map_or("", |(_, q)| q);
    if param(query, "noop").is_some() {
        return answer(200, Some(""));
    }
    let kv: KvNamespace = Reflect::get(&env, &"PINS".into())?.unchecked_into();
    if let Some(prefix) = param(query, "list") {
        let limit: u32 = param(query, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(1000);
        let options = Object::new();
        Reflect::set(&options, &"prefix".into(), &prefix.into())?;
        Reflect::set(&options, &"limit".into(), &limit.into())?;
        let page = JsFuture::from(kv.list(&options)).await?;
        let keys = Reflect::get(&Reflect::get(&page, &"keys".into())?, &"length".into())?;
        let n = keys.as_f64().unwrap_or(0.0);
        return answer(200, Some(&format!("{{\"keys\":{n}}}")));
    }
    let key = param(query, "k").unwrap_or_default();
    let value = JsFuture::from(kv.get(&key)).await?.as_string();
    answer(
        if value.is_some() { 200 } else { 404 },
        Some(value.as_deref().unwrap_or("")),
    )
}
