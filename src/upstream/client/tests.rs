//! The Pinning Service client against a provider in memory: requests, answers, errors.

use super::*;
use std::cell::RefCell;

const PEER: &str = "/ip4/203.0.113.42/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";

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
