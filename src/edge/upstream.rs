//! `upstream::client::Transport` on the Workers `fetch` API. Only the bytes move here; the
//! Pinning Service API itself (URLs, status codes, parsing) is `crate::upstream::client`.

use crate::upstream::client::{Call, Transport};
use worker::wasm_bindgen::JsValue;
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit};

/// Longest wait for an upstream answer. Without it an upstream that accepts the connection
/// and never answers would hold the user's request (and the sweep) open indefinitely.
const TIMEOUT_MS: u32 = 10_000;

pub struct FetchTransport;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Transport for FetchTransport {
    async fn send(&self, call: Call) -> Result<(u16, String), String> {
        let headers = Headers::new();
        headers
            .set("authorization", &call.authorization)
            .map_err(err)?;
        headers.set("accept", "application/json").map_err(err)?;
        let mut init = RequestInit::new();
        init.with_method(Method::from(call.method.to_owned()));
        if let Some(body) = &call.body {
            headers
                .set("content-type", "application/json")
                .map_err(err)?;
            init.with_body(Some(JsValue::from_str(body)));
        }
        init.with_headers(headers);
        let request = Request::new_with_init(&call.url, &init).map_err(err)?;
        let signal = AbortSignal::from(worker::web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS));
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(err)?;
        let status = response.status_code();
        let body = response.text().await.map_err(err)?;
        Ok((status, body))
    }
}
