//! A request's head in and a reply out, each in one call across the JS boundary.
//!
//! Read through web-sys, the head is a call per field (the method, the URL, each header) and
//! the reply a call per header, each one a string decoded on the far side: JS functions here
//! do the same work in JS and cross once, with the fields joined by `\n`. No field can hold
//! a `\n`: the Fetch standard forbids LF (and CR and NUL) in header names and values, and
//! method names are tokens; a serialized URL percent-encodes it. `\0` stands for a header
//! that is absent, which a value cannot hold either.

use crate::error::ApiError;
use crate::http::{body::RequestBody, HttpRequest, Reply};
use futures_util::StreamExt;
use worker::wasm_bindgen::{self, prelude::*};
use worker::worker_sys::web_sys;
use worker::ByteStream;

#[wasm_bindgen(inline_js = r#"
const utf8 = new TextEncoder();
export function head(req) {
  const h = req.headers;
  const v = (name) => h.get(name) ?? "\0";
  return utf8.encode([req.method, req.url, v("authorization"), v("cf-connecting-ip"), v("content-length")].join("\n"));
}
// A reply's headers, made once per distinct set: a response copies the ones it is made
// with (workerd copies a Headers init), so one object serves every reply with the same set.
const heads = new Map();
export function respond(status, body, head) {
  let headers = heads.get(head);
  if (headers === undefined) {
    headers = new Headers();
    const parts = head.split("\n");
    for (let i = 1; i < parts.length; i += 2) headers.set(parts[i - 1], parts[i]);
    // Sets that vary (a Retry-After's seconds) must not grow it without bound.
    if (heads.size >= 64) heads.clear();
    heads.set(head, headers);
  }
  return new Response(body, { status, headers });
}
"#)]
extern "C" {
    /// As UTF-8 bytes: they cross in one copy, where a string's glue copies it a character at
    /// a time, in JS that runs interpreted.
    fn head(req: &web_sys::Request) -> Vec<u8>;
    #[wasm_bindgen(catch)]
    fn respond(status: u16, body: Option<&str>, head: &str) -> Result<web_sys::Response, JsValue>;
}

/// What the core needs of a request's head: its method, URL and three headers.
pub struct Head {
    text: String,
}

impl Head {
    pub fn of(req: &web_sys::Request) -> Head {
        Head {
            text: super::text(head(req)),
        }
    }

    fn field(&self, i: usize) -> Option<&str> {
        self.text.split('\n').nth(i).filter(|v| *v != "\0")
    }

    pub fn method(&self) -> &str {
        self.field(0).unwrap_or("")
    }

    pub fn url(&self) -> &str {
        self.field(1).unwrap_or("")
    }

    /// The request for the core: path and query as split from the URL by the caller; the
    /// body stays a stream for the app to read after sign-in (none is asked for on a GET).
    pub fn request(
        &self,
        req: &web_sys::Request,
        path: &str,
        query: &str,
    ) -> HttpRequest<StreamBody> {
        let method = self.method();
        let bodiless = matches!(method, "GET" | "HEAD");
        HttpRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            authorization: self.field(2).map(str::to_owned),
            client_ip: self.field(3).map(str::to_owned),
            body: StreamBody {
                declared: self.field(4).and_then(|v| v.trim().parse().ok()),
                stream: if bodiless {
                    None
                } else {
                    req.body().map(ByteStream::from)
                },
            },
        }
    }
}

/// The request's body as workerd delivers it, chunk by chunk.
pub struct StreamBody {
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

/// The reply as a runtime response, its headers and body handed over in one call.
pub fn reply(reply: Reply) -> worker::Result<web_sys::Response> {
    let mut head = String::with_capacity(160);
    if reply.body.is_some() && reply.header("content-type").is_none() {
        // What `worker::Response::ok` said of a body that names no type.
        head.push_str("content-type\ntext/plain; charset=utf-8\n");
    }
    for (name, value) in &reply.headers {
        debug_assert!(!name.contains('\n') && !value.contains('\n'));
        head.push_str(name);
        head.push('\n');
        head.push_str(value);
        head.push('\n');
    }
    Ok(respond(reply.status, reply.body.as_deref(), &head)?)
}
