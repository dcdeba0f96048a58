//! The HTTP shapes the core works with, free of any runtime type: the edge converts a Workers
//! request into `HttpRequest` and a `Reply` back into a Workers response.

pub mod body;
pub mod query;
pub mod router;

use crate::error::ApiError;
use serde::Serialize;

/// A request's head, and its body still unread (`body::RequestBody`: the edge's stream, or
/// bytes in memory in tests).
pub struct HttpRequest<B = Vec<u8>> {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub authorization: Option<String>,
    /// The client's address (`CF-Connecting-IP`), for rate-limiting failed sign-ins.
    pub client_ip: Option<String>,
    pub body: B,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
    /// A binary body streamed by the edge piece by piece (the gateway's); `body` is then None.
    pub plan: Option<crate::gateway::Plan>,
}

const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type";
const CORS_MAX_AGE_SECS: &str = "86400";

impl Reply {
    pub fn json(status: u16, body: &impl Serialize) -> Reply {
        Reply::json_text(
            status,
            serde_json::to_string(body).expect("API types serialize"),
        )
    }

    /// A body that is JSON already.
    pub fn json_text(status: u16, body: String) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: Some(body),
            plan: None,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: None,
            plan: None,
        }
    }

    /// The spec's `Failure`: `{"error":{"reason":..., "details":...}}`.
    pub fn failure(e: &ApiError) -> Reply {
        let body = serde_json::json!({"error": {"reason": e.reason(), "details": e.details()}});
        let mut reply = Reply::json(e.status(), &body);
        match e {
            ApiError::MethodNotAllowed(allow) => reply.headers.push(("allow", (*allow).to_owned())),
            ApiError::TooManyRequests(_, secs) => {
                reply.headers.push(("retry-after", secs.to_string()))
            }
            ApiError::RangeNotSatisfiable(len) => reply
                .headers
                .push(("content-range", format!("bytes */{len}"))),
            ApiError::Unauthorized(_) => reply.headers.push((
                "www-authenticate",
                r#"Bearer realm="ipfs-pinning-service""#.to_owned(),
            )),
            _ => {}
        }
        reply
    }

    pub fn preflight(allow: &'static str) -> Reply {
        let mut reply = Reply::empty(204);
        reply.headers.extend([
            ("access-control-allow-methods", allow.to_owned()),
            (
                "access-control-allow-headers",
                CORS_ALLOW_HEADERS.to_owned(),
            ),
            ("access-control-max-age", CORS_MAX_AGE_SECS.to_owned()),
            ("allow", allow.to_owned()),
        ]);
        reply
    }

    /// Every answer may be read by a page on any origin: access is by token, not by cookie.
    pub fn with_cors(mut self) -> Reply {
        self.headers
            .push(("access-control-allow-origin", "*".to_owned()));
        self.headers.push((
            "access-control-expose-headers",
            "Allow, Retry-After, WWW-Authenticate".to_owned(),
        ));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request URL's path and query (the runtime hands over a serialized WHATWG URL: scheme,
/// `//`, authority, then the path; no fragment reaches a worker, but one is dropped if it does).
pub fn split_url(url: &str) -> (&str, &str) {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let path_and_query = rest.find(['/', '?']).map_or("", |i| &rest[i..]);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn splits_serialized_urls() {
        for (url, path, query) in [
            ("https://example.com/", "/", ""),
            ("https://example.com/pins/abc", "/pins/abc", ""),
            ("https://example.com/pins?a=1&b=/x", "/pins", "a=1&b=/x"),
            ("https://example.com/pins#/frag?x", "/pins", ""),
            ("https://example.com:8080/pins?limit=5", "/pins", "limit=5"),
            ("https://example.com/a%3F%23%2Fb?c", "/a%3F%23%2Fb", "c"),
            ("https://example.com?query", "/", "query"),
            ("https://example.com", "/", ""),
            ("http://127.0.0.1:8787/pins?", "/pins", ""),
            ("https://user:pw@example.com/ipfs/x?y=1", "/ipfs/x", "y=1"),
        ] {
            assert_eq!(split_url(url), (path, query), "{url}");
        }
    }
}
