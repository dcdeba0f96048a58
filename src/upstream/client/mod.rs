//! A Pinning Service API client over a one-method `Transport`: the edge sends the bytes with
//! `fetch`; building URLs, classifying status codes and parsing answers happen here, natively
//! tested. Anything but the spec's shape in a 2xx answer is `Unavailable`, like a 5xx.

use super::{Answer, Refusal, Upstream, UpstreamPin, UpstreamStatus};
use crate::config::parse_delegates;
use crate::domain::{status::Status, timestamp::Instant, timestamp::Millis};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// One HTTP exchange with the upstream.
pub struct Call {
    pub method: &'static str,
    pub url: String,
    /// The `Authorization` header's value.
    pub authorization: String,
    /// A JSON body.
    pub body: Option<String>,
}

#[allow(async_fn_in_trait)]
pub trait Transport {
    /// The status and body of the answer; `Err` when none arrived (unreachable, timed out).
    async fn send(&self, call: Call) -> Result<(u16, String), String>;
}

pub struct PsaClient<T> {
    transport: T,
    /// `UPSTREAM_URL` without a trailing slash.
    base: String,
    token: String,
}

/// Longest upstream requestid we keep (it goes into `x/` values and URLs).
const MAX_REQUESTID: usize = 256;
/// `status_details` longer than this are cut: they end up in our records' metadata.
const MAX_DETAILS_CHARS: usize = 300;
const MAX_DELEGATES: usize = 20;

impl<T: Transport> PsaClient<T> {
    pub fn new(transport: T, base: &str, token: &str) -> Self {
        PsaClient {
            transport,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    async fn call(&self, method: &'static str, path: &str, body: Option<Value>) -> Exchange {
        let call = Call {
            method,
            url: format!("{}{path}", self.base),
            authorization: format!("Bearer {}", self.token),
            body: body.map(|b| b.to_string()),
        };
        match self.transport.send(call).await {
            Ok((status, body)) => Exchange::Answered(status, body),
            Err(e) => Exchange::Failed(format!("upstream unreachable: {e}")),
        }
    }
}

enum Exchange {
    Answered(u16, String),
    Failed(String),
}

impl Exchange {
    /// A 2xx body through `parse`, or the refusal or fault the status code says.
    fn into_answer<R>(self, parse: impl FnOnce(&str) -> Option<R>) -> Answer<R> {
        let (status, body) = match self {
            Exchange::Failed(e) => return Answer::Unavailable(e),
            Exchange::Answered(s, b) => (s, b),
        };
        match status {
            200..=299 => match parse(&body) {
                Some(r) => Answer::Ok(r),
                None => Answer::Unavailable(format!(
                    "upstream answered HTTP {status} with a malformed body"
                )),
            },
            // Our token, a timeout or throttling: the pin is fine, the moment is not.
            401 | 403 | 408 | 429 => Answer::Unavailable(format!(
                "upstream HTTP {status}: {}",
                failure(status, &body).describe()
            )),
            400..=499 => Answer::Refused(failure(status, &body)),
            _ => Answer::Unavailable(format!("upstream HTTP {status}")),
        }
    }
}

impl<T: Transport> Upstream for PsaClient<T> {
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        self.call("POST", "/pins", Some(pin_body(pin)))
            .await
            .into_answer(parse_status)
    }

    async fn get(&self, requestid: &str) -> Answer<UpstreamStatus> {
        self.call("GET", &format!("/pins/{}", encode(requestid)), None)
            .await
            .into_answer(parse_status)
    }

    async fn replace(&self, requestid: &str, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        let path = format!("/pins/{}", encode(requestid));
        self.call("POST", &path, Some(pin_body(pin)))
            .await
            .into_answer(parse_status)
    }

    async fn delete(&self, requestid: &str) -> Answer<()> {
        self.call("DELETE", &format!("/pins/{}", encode(requestid)), None)
            .await
            .into_answer(|_| Some(()))
    }

    async fn list_by_cid(&self, cid: &str, before: Millis) -> Answer<Vec<UpstreamStatus>> {
        let path = format!(
            "/pins?cid={}&status=queued,pinning,pinned,failed&limit=1000&before={}",
            encode(cid),
            encode(&before.to_rfc3339())
        );
        let answer = self
            .call("GET", &path, None)
            .await
            .into_answer(parse_results);
        // Some providers ignore `before`: filter again, keeping pins of unknown age out.
        match answer {
            Answer::Ok(pins) => Answer::Ok(
                pins.into_iter()
                    .filter(|p| p.created.is_some_and(|c| before.is_after(c)))
                    .collect(),
            ),
            other => other,
        }
    }
}

fn pin_body(pin: &UpstreamPin) -> Value {
    let mut body = json!({ "cid": pin.cid });
    if !pin.origins.is_empty() {
        body["origins"] = json!(pin.origins);
    }
    body
}

#[derive(Deserialize)]
struct WireStatus {
    requestid: String,
    status: String,
    #[serde(default)]
    delegates: Vec<Value>,
    #[serde(default)]
    info: Option<Map<String, Value>>,
    #[serde(default)]
    created: Option<String>,
}

#[derive(Deserialize)]
struct WireResults {
    results: Vec<Value>,
}

fn parse_status(body: &str) -> Option<UpstreamStatus> {
    status_of(serde_json::from_str(body).ok()?)
}

fn parse_results(body: &str) -> Option<Vec<UpstreamStatus>> {
    let wire: WireResults = serde_json::from_str(body).ok()?;
    wire.results.into_iter().map(status_of).collect()
}

fn status_of(v: Value) -> Option<UpstreamStatus> {
    let w: WireStatus = serde_json::from_value(v).ok()?;
    let id_ok = !w.requestid.is_empty()
        && w.requestid.len() <= MAX_REQUESTID
        && !w.requestid.chars().any(char::is_control);
    if !id_ok {
        return None;
    }
    let details = w
        .info
        .as_ref()
        .and_then(|i| i.get("status_details"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .map(|d| d.chars().take(MAX_DETAILS_CHARS).collect());
    Some(UpstreamStatus {
        dag_size: None,
        requestid: w.requestid,
        status: Status::parse(&w.status).ok()?,
        delegates: w
            .delegates
            .iter()
            .filter_map(Value::as_str)
            .filter(|d| parse_delegates(d).is_ok())
            .take(MAX_DELEGATES)
            .map(str::to_owned)
            .collect(),
        details,
        created: w.created.as_deref().and_then(|c| Instant::parse(c).ok()),
    })
}

/// The spec's `Failure` body, or the bare status when the body is something else.
fn failure(status: u16, body: &str) -> Refusal {
    let error = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let field = |k: &str| {
        error
            .as_ref()
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_DETAILS_CHARS).collect::<String>())
    };
    Refusal {
        status,
        reason: field("reason").unwrap_or_else(|| format!("HTTP {status}")),
        details: field("details").unwrap_or_default(),
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters: requestids are opaque.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
