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
mod tests {
    use super::*;
    use std::cell::RefCell;

    const PEER: &str =
        "/ip4/203.0.113.42/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";

    /// Answers every call with one canned answer and remembers what was sent.
    struct Canned {
        answer: Result<(u16, String), String>,
        sent: RefCell<Vec<(String, String, Option<String>)>>,
    }

    impl Transport for &Canned {
        async fn send(&self, call: Call) -> Result<(u16, String), String> {
            assert_eq!(call.authorization, "Bearer t0k");
            self.sent
                .borrow_mut()
                .push((call.method.to_owned(), call.url, call.body));
            self.answer.clone()
        }
    }

    fn canned(answer: Result<(u16, &str), &str>) -> Canned {
        Canned {
            answer: answer
                .map(|(s, b)| (s, b.to_owned()))
                .map_err(str::to_owned),
            sent: RefCell::default(),
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn pin() -> UpstreamPin {
        UpstreamPin {
            cid: "bafy1".into(),
            origins: vec!["/ip4/1.2.3.4/tcp/1".into()],
        }
    }

    #[test]
    fn parses_a_pin_status_and_keeps_only_usable_delegates() {
        let body = json!({
            "requestid": "req-1", "status": "pinning", "created": "2026-01-01T00:00:00Z",
            "pin": {"cid": "bafy1"}, "delegates": [PEER, "not-a-multiaddr", 7],
            "info": {"status_details": "fetching"}
        })
        .to_string();
        let t = canned(Ok((202, &body)));
        let c = PsaClient::new(&t, "http://up:9097/", "t0k");
        let Answer::Ok(s) = run(c.add(&pin())) else {
            panic!()
        };
        assert_eq!((s.requestid.as_str(), s.status), ("req-1", Status::Pinning));
        assert_eq!(s.delegates, vec![PEER.to_owned()]);
        assert_eq!(s.details.as_deref(), Some("fetching"));
        let sent = t.sent.borrow();
        assert_eq!(sent[0].0, "POST");
        assert_eq!(sent[0].1, "http://up:9097/pins");
        let body: Value = serde_json::from_str(sent[0].2.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"cid": "bafy1", "origins": ["/ip4/1.2.3.4/tcp/1"]})
        );
    }

    #[test]
    fn classifies_answers() {
        let refused = canned(Ok((
            400,
            r#"{"error":{"reason":"BAD_CID","details":"nope"}}"#,
        )));
        let c = PsaClient::new(&refused, "http://up", "t0k");
        match run(c.add(&pin())) {
            Answer::Refused(r) => assert_eq!(r.describe(), "BAD_CID: nope"),
            other => panic!("{other:?}"),
        }
        for answer in [
            Ok((500, "oops")),
            Ok((401, "")),
            Ok((429, "")),
            Ok((202, "{\"requestid\":\"\",\"status\":\"queued\"}")),
            Ok((200, "not json")),
            Ok((200, "{\"requestid\":\"r\",\"status\":\"sleeping\"}")),
            Err("connection refused"),
        ] {
            let t = canned(answer);
            let c = PsaClient::new(&t, "http://up", "t0k");
            assert!(
                matches!(run(c.get("r")), Answer::Unavailable(_)),
                "{answer:?}"
            );
        }
        let gone = canned(Ok((404, "")));
        let c = PsaClient::new(&gone, "http://up", "t0k");
        assert!(
            matches!(run(c.delete("r")), Answer::Refused(r) if r.is_not_found() && r.reason == "HTTP 404")
        );
    }

    #[test]
    fn encodes_ids_and_filters_listings_by_age() {
        let body = json!({"count": 2, "results": [
            {"requestid": "old", "status": "pinned", "created": "2026-01-01T00:00:00Z", "pin": {"cid": "c"}, "delegates": []},
            {"requestid": "new", "status": "queued", "created": "2026-01-01T00:10:00Z", "pin": {"cid": "c"}, "delegates": []}
        ]})
        .to_string();
        let t = canned(Ok((200, &body)));
        let c = PsaClient::new(&t, "http://up", "t0k");
        let before = Millis(1_767_225_900_000); // 2026-01-01T00:05:00Z
        let Answer::Ok(found) = run(c.list_by_cid("c", before)) else {
            panic!()
        };
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].requestid, "old");
        assert!(t.sent.borrow()[0]
            .1
            .contains("before=2026-01-01T00%3A05%3A00.000Z"));
        run(c.delete("a/b c"));
        assert_eq!(t.sent.borrow()[1].1, "http://up/pins/a%2Fb%20c");
    }
}
