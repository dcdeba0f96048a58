//! `upstream::client::Transport` on the runtime's `fetch`. Only the bytes move here; the
//! Pinning Service API itself (URLs, status codes, parsing) is `crate::upstream::client`.
//! It calls `fetch` through web-sys directly: workers-rs's `RequestInit` would bring its
//! `cf` options' serializers into the bundle for nothing.

use crate::upstream::client::{Call, Transport};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{js_sys, web_sys};

/// Longest wait for an upstream answer. Without it an upstream that accepts the connection
/// and never answers would hold the user's request (and the sweep) open indefinitely.
const TIMEOUT_MS: u32 = 10_000;

pub struct FetchTransport;

/// A JS exception's message (fetch failures, aborts), for logs and `info`.
pub(super) fn err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "fetch failed".into())
}

impl Transport for FetchTransport {
    async fn send(&self, call: Call) -> Result<(u16, String), String> {
        let headers = web_sys::Headers::new().map_err(err)?;
        headers
            .set("authorization", &call.authorization)
            .map_err(err)?;
        headers.set("accept", "application/json").map_err(err)?;
        let init = web_sys::RequestInit::new();
        init.set_method(call.method);
        if let Some(body) = &call.body {
            headers
                .set("content-type", "application/json")
                .map_err(err)?;
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&headers);
        init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS)));
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let answer = JsFuture::from(global.fetch_with_str_and_init(&call.url, &init))
            .await
            .map_err(err)?;
        let response: web_sys::Response = answer.dyn_into().map_err(err)?;
        let text = JsFuture::from(response.text().map_err(err)?)
            .await
            .map_err(err)?;
        Ok((response.status(), text.as_string().unwrap_or_default()))
    }
}
