//! Workers KV's one write per key per second (`store::paced`), over a KV that answers a faster
//! write with `429 Too Many Requests` as Workers KV does (`common::WriteRate`; the local
//! runtime never does). The paths Kubo and the WebUI use every day write no key twice within
//! a second, so they never wait; the rare paths that do wait out the second instead of failing;
//! a write another request just made is tried again.

mod common;
mod r2_support;
mod upstream_support;

use common::{basic, block_on, cid, Client, MemoryKv};
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::http::HttpRequest;
use edge_pinning::limits::Unlimited;
use edge_pinning::quota::claims::Claims;
use edge_pinning::r2::keeper::Keeper;
use edge_pinning::store::kv::{Kv, KvError, ListPage};
use edge_pinning::store::paced::Paced;
use edge_pinning::upstream::gate::Gates;
use edge_pinning::upstream::{Counted, Throttle, Upstreaming};
use r2_support::{fixture, MemBlobs, Started};
use serde_json::{json, Value};
use std::cell::Cell;
use std::rc::Rc;
use upstream_support::World;

const T0: u64 = 1_700_000_000_000;

fn rate(w: &World) -> (u32, u32) {
    let r = w.kv.0.rate.as_ref().unwrap();
    (r.waits.get(), r.refused.get())
}

/// What Kubo's MFS policy, `pin remote add/ls/rm` and the WebUI send, a couple of seconds
/// apart as a client sends them, with the sweep running: adds, the policy's lookup and its
/// replaces (the provider's own replace while the old CID is the pin's alone, add-then-release
/// while another user holds it), reads, listings, a CID two users share, deletes and the
/// release that follows. Not one write waits, and KV refuses none.
#[test]
fn the_everyday_requests_write_no_key_twice_a_second() {
    for gated in [false, true] {
        let w = World::rated(false);
        w.gated.set(gated);
        let step = || w.advance(2);
        let mfs = "policy/12D3KooWPeer/mfs";
        let a = w.pin("alice", json!({"cid": cid(1), "name": mfs}));
        step();
        let q = format!("/pins?name={mfs}&status=queued,pinning,pinned,failed");
        assert_eq!(w.call("alice", "GET", &q, "").body["count"], 1);
        step();
        // The CID is this pin's alone: the provider's replace.
        let replace = |id: &Value, c: u32| {
            let target = format!("/pins/{}", id.as_str().unwrap());
            let body = json!({"cid": cid(c), "name": mfs}).to_string();
            let r = w.call("alice", "POST", &target, &body);
            assert_eq!(r.status, 202, "{}", r.body);
            r.body["requestid"].clone()
        };
        let b = replace(&a["requestid"], 2);
        step();
        let bob = w.pin("bob", json!({"cid": cid(2)}));
        step();
        // Bob holds it too: add the new CID, release the old through the sweep.
        let c = replace(&b, 3);
        step();
        assert_eq!(w.get("alice", &c).status, 200);
        step();
        for q in [
            "/pins",
            "/pins?status=pinned",
            &format!("/pins?cid={}", cid(3)),
        ] {
            assert_eq!(w.call("alice", "GET", q, "").status, 200);
            step();
        }
        w.up.set_status(&cid(3), edge_pinning::domain::status::Status::Pinned);
        for _ in 0..3 {
            w.sweep();
            w.advance(61);
        }
        assert_eq!(w.delete("alice", &c), 202);
        step();
        assert_eq!(w.delete("bob", &bob["requestid"]), 202);
        for _ in 0..8 {
            w.sweep();
            w.advance(61);
        }
        assert!(w.up.pins.borrow().is_empty(), "released: {:?}", w.up.log);
        assert_eq!(rate(&w), (0, 0), "gated: {gated}");
    }
}

/// The same with the `instant` backend (the default), and access tokens: issued, used,
/// listed, revoked.
#[test]
fn the_everyday_requests_of_the_default_backend_write_no_key_twice_a_second() {
    let clock = Rc::new(Cell::new(T0));
    let mut c = Client {
        kv: MemoryKv::with_rate(1000, clock.clone()),
        ..Client::new("instant", 1000)
    };
    let step = |c: &mut Client| {
        clock.set(clock.get() + 2000);
        c.now = clock.get();
    };
    let mfs = "policy/12D3KooWPeer/mfs";
    let a = c.pin("alice", json!({"cid": cid(1), "name": mfs}));
    step(&mut c);
    c.pin("alice", json!({"cid": cid(2)}));
    step(&mut c);
    let q = format!("/pins?name={mfs}&status=queued,pinning,pinned,failed");
    for target in [q.as_str(), "/pins", "/pins?status=pinned&limit=1"] {
        assert_eq!(c.call("alice", "GET", target, "").status, 200);
        step(&mut c);
    }
    let target = format!("/pins/{}", a["requestid"].as_str().unwrap());
    let body = json!({"cid": cid(3), "name": mfs}).to_string();
    let b = c.call("alice", "POST", &target, &body);
    assert_eq!(b.status, 202, "{}", b.body);
    step(&mut c);
    let target = format!("/pins/{}", b.body["requestid"].as_str().unwrap());
    assert_eq!(c.call("alice", "GET", &target, "").status, 200);
    step(&mut c);
    assert_eq!(c.call("alice", "DELETE", &target, "").status, 202);
    step(&mut c);
    let t = c.call("alice", "POST", "/token", r#"{"label":"laptop"}"#);
    assert_eq!(t.status, 200, "{}", t.body);
    step(&mut c);
    let bearer = format!("Bearer {}", t.body["token"].as_str().unwrap());
    assert_eq!(c.call_as(&bearer, "GET", "/tokens", "").status, 200);
    step(&mut c);
    let revoke = format!("/tokens/{}", t.body["id"].as_str().unwrap());
    assert!(c.call("alice", "DELETE", &revoke, "").status < 300);
    let r = c.kv.rate.as_ref().unwrap();
    assert_eq!((r.waits.get(), r.refused.get()), (0, 0));
}

/// An upload (`POST /car`, the `r2` backend) queues its look before the commit and its pin's
/// add queues one too: two entries, two keys.
#[test]
fn an_upload_writes_no_key_twice_a_second() {
    let clock = Rc::new(Cell::new(T0));
    let kv = MemoryKv::with_rate(1000, clock.clone());
    let config = r2_support::r2_config();
    let blobs = MemBlobs::default();
    let keeper = Counted::new(Keeper {
        blobs: &blobs,
        jobs: Started::default(),
        now: Millis(T0),
        clock: || Millis(T0),
    });
    let (throttle, gates, claims) = (Throttle::default(), Gates::none(), Claims::none());
    let up = Upstreaming {
        client: &keeper,
        throttle: &throttle,
        gates: &gates,
        claims: &claims,
    };
    let req = HttpRequest {
        method: "POST".into(),
        path: "/car".into(),
        query: "name=site".into(),
        authorization: Some(basic("alice")),
        client_ip: Some("192.0.2.1".into()),
        body: fixture("dir.car"),
    };
    let config = Ok(&config);
    let reply =
        edge_pinning::app::handle_with(req, kv.clone(), &Unlimited, Some(&up), config, Millis(T0));
    let reply = block_on(reply);
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let queued = kv
        .map
        .borrow()
        .keys()
        .filter(|k| k.starts_with("q/"))
        .count();
    assert_eq!(queued, 2, "the upload's look and the add's");
    let r = kv.rate.as_ref().unwrap();
    assert_eq!((r.waits.get(), r.refused.get()), (0, 0));
}

/// A pin the provider refuses for its origins drops the holder its add wrote a moment before:
/// the delete waits out the second rather than fail the request.
#[test]
fn a_rare_rewrite_waits_out_the_second() {
    let w = World::rated(false);
    w.up.refused_origins.borrow_mut().push("/ip4/10.".into());
    let origin = "/ip4/10.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";
    let before = w.now().0;
    let a = w.pin("alice", json!({"cid": cid(1), "origins": [origin]}));
    assert_eq!(a["status"], "failed", "{a}");
    let (waits, refused) = rate(&w);
    assert_eq!((waits, refused), (1, 0));
    assert!(w.now().0 >= before + 1000, "it waited a second");
}

/// A KV that refuses every write for its rate.
#[derive(Clone)]
struct Refusing(Rc<Cell<u32>>);

impl Kv for Refusing {
    async fn get(&self, _: &str) -> Result<Option<String>, KvError> {
        Ok(None)
    }
    async fn put(&self, _: &str, _: &str, _: &Value, _: Option<u64>) -> Result<(), KvError> {
        self.0.set(self.0.get() + 1);
        Err(KvError("KV PUT failed: 429 Too Many Requests".into()))
    }
    async fn delete(&self, _: &str) -> Result<(), KvError> {
        Ok(())
    }
    async fn list(&self, _: &str, _: Option<String>, _: u32) -> Result<ListPage, KvError> {
        Ok(ListPage {
            keys: Vec::new(),
            cursor: None,
        })
    }
}

/// Another request's write of the key a moment before: refused once, written after a second.
/// A key KV keeps refusing: three tries, then the error.
#[test]
fn a_write_refused_for_its_rate_is_tried_again_then_given_up() {
    let clock = Rc::new(Cell::new(T0));
    let kv = MemoryKv::with_rate(1000, clock.clone());
    let (first, second) = (Paced::new(kv.clone()), Paced::new(kv.clone()));
    block_on(first.put("x/k", "1", &json!({}), None)).unwrap();
    block_on(second.put("x/k", "2", &json!({}), None)).unwrap();
    let r = kv.rate.as_ref().unwrap();
    assert_eq!(
        (r.refused.get(), second.waited(), first.waited()),
        (1, 1, 0)
    );
    assert_eq!(block_on(kv.get("x/k")).unwrap().as_deref(), Some("2"));
    // The same request writing the key again waits first, and KV refuses nothing.
    block_on(second.delete("x/k")).unwrap();
    assert_eq!((r.refused.get(), second.waited()), (1, 2));

    let tries = Rc::new(Cell::new(0));
    let refusing = Paced::new(Refusing(tries.clone()));
    let e = block_on(refusing.put("x/k", "1", &json!({}), None)).unwrap_err();
    assert!(e.0.contains("429"));
    assert_eq!((tries.get(), refusing.waited()), (3, 2));
}

/// Still refused after the tries again: the client is told to retry in a second, as the spec's
/// 429 Failure, never a 500.
#[test]
fn a_write_still_refused_is_a_429_for_the_client() {
    let config = common::config("instant");
    let req = common::request(
        &basic("alice"),
        "POST",
        "/pins",
        json!({"cid": cid(1)}).to_string().into_bytes(),
    );
    let kv = Refusing(Rc::new(Cell::new(0)));
    let reply = block_on(edge_pinning::app::handle(
        req,
        kv,
        &Unlimited,
        Ok(&config),
        Millis(T0),
    ));
    assert_eq!(reply.status, 429, "{:?}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("1"));
    let body: Value = serde_json::from_str(reply.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["error"]["reason"], "TOO_MANY_REQUESTS");
}

/// Refuses every write of the keys ending in `tail`, for their rate (another request keeps
/// writing them).
#[derive(Clone)]
struct Busy(MemoryKv, &'static str);

impl Kv for Busy {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.0.get(key).await
    }
    async fn put(&self, key: &str, v: &str, m: &Value, e: Option<u64>) -> Result<(), KvError> {
        if key.ends_with(self.1) {
            return Err(KvError("KV PUT failed: 429 Too Many Requests".into()));
        }
        self.0.put(key, v, m, e).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.delete(key).await
    }
    async fn list(&self, p: &str, c: Option<String>, l: u32) -> Result<ListPage, KvError> {
        self.0.list(p, c, l).await
    }
}

/// A listing that scans stores the user's totals after it has its answer: KV refusing that
/// write (another listing stored them the same second) leaves the answer whole.
#[test]
fn a_listing_answers_when_its_totals_cannot_be_stored() {
    let c = Client::new("instant", 1000);
    c.pin("alice", json!({"cid": cid(1)}));
    let config = common::config("instant");
    // Two minutes on: the pinset is quiet, so a scan stores its totals.
    let later = Millis(c.now + 120_000);
    let list = |kv| {
        let req = common::request(&basic("alice"), "GET", "/pins", Vec::new());
        block_on(edge_pinning::app::handle(
            req,
            kv,
            &Unlimited,
            Ok(&config),
            later,
        ))
    };
    let reply = list(Busy(c.kv.clone(), "/!c"));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let body: Value = serde_json::from_str(reply.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["count"], 1);
    let stored = || c.kv.map.borrow().keys().any(|k| k.ends_with("/!c"));
    assert!(!stored());
    // And stored when KV takes the write.
    assert_eq!(list(Busy(c.kv.clone(), "never")).status, 200);
    assert!(stored());
}

/// Kubo's `ipfs pin remote service ls --stat` sends four status listings at once. Two that
/// both scan and store the user's totals in the same second: the second's write, which KV
/// refuses, is skipped rather than waited for, and both answer exact counts.
#[test]
fn listings_storing_totals_together_do_not_wait() {
    let mut collided = 0;
    for seed in 0..16 {
        let w = World::rated(false);
        for c in 1..=3 {
            w.pin("alice", json!({"cid": cid(c)}));
            w.advance(2);
        }
        w.advance(120); // quiet: a scan stores its totals
        let (a, b) = upstream_support::interleave(
            w.request("alice", "GET", "/pins?status=queued&limit=1", ""),
            w.request("alice", "GET", "/pins?status=pinned&limit=1", ""),
            seed,
        );
        assert_eq!((a.status, b.status), (200, 200));
        assert_eq!((&a.body["count"], &b.body["count"]), (&json!(3), &json!(0)));
        let r = w.kv.0.rate.as_ref().unwrap();
        assert_eq!(r.waits.get(), 0, "seed {seed}: {} {}", a.ops, b.ops);
        collided += r.refused.get();
        assert_eq!(w.keys("p/alice/!c").len(), 1, "stored");
    }
    assert!(collided > 0, "in some schedules both store");
}

/// Derived data is put once: skipped when this request or another wrote the key within the
/// second, never waited for.
#[test]
fn derived_data_is_put_once_or_skipped() {
    let clock = Rc::new(Cell::new(T0));
    let kv = MemoryKv::with_rate(1000, clock.clone());
    let (first, second) = (Paced::new(kv.clone()), Paced::new(kv.clone()));
    let put = |p: &Paced<MemoryKv>, v: &str| block_on(p.put_derived("p/u/!c", v, &json!({}), None));
    assert!(put(&first, "1").unwrap());
    assert!(
        !put(&first, "2").unwrap(),
        "this request wrote it a moment ago"
    );
    assert!(!put(&second, "3").unwrap(), "another did");
    assert_eq!((first.waited(), second.waited()), (0, 0));
    assert_eq!(block_on(kv.get("p/u/!c")).unwrap().as_deref(), Some("1"));
    clock.set(T0 + 2_000);
    assert!(put(&second, "4").unwrap());
}
