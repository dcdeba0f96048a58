//! Limits natively: the per-user request rate, the per-address sign-in budget (consulted before
//! a password is checked, so a blocked address learns nothing), and bodies read only after
//! sign-in and only up to the route's cap.

mod common;

use common::{basic, request, Client};
use edge_pinning::error::ApiError;
use edge_pinning::http::body::RequestBody;
use edge_pinning::limits::{Blocked, Bucket, Limiter};
use edge_pinning::quota::{self, MemoryQuotaStore, QuotaCall, QuotaReply, DAY_MS};
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Allows `requests` per user and `sign_ins` per address, with the edge's memory of blocks.
struct Budget {
    requests: usize,
    sign_ins: usize,
    used: RefCell<BTreeMap<String, usize>>,
    blocked: Blocked,
    /// Each user's daily-budget object, and the objects' clock.
    quotas: RefCell<BTreeMap<String, Rc<MemoryQuotaStore>>>,
    clock: Cell<u64>,
}

impl Budget {
    fn new(requests: usize, sign_ins: usize) -> Budget {
        Budget {
            requests,
            sign_ins,
            used: RefCell::default(),
            blocked: Blocked::default(),
            quotas: RefCell::default(),
            clock: Cell::new(1_700_000_000_000),
        }
    }
    /// The binding's window passes.
    fn next_window(&self) {
        self.used.borrow_mut().clear();
    }
}

impl Limiter for Budget {
    async fn allow(&self, bucket: Bucket, key: &str) -> bool {
        let limit = match bucket {
            Bucket::Requests => self.requests,
            Bucket::SignIns => self.sign_ins,
        };
        let mut m = self.used.borrow_mut();
        let used = m.entry(format!("{bucket:?} {key}")).or_default();
        *used += 1;
        *used <= limit
    }
    fn blocked(&self) -> Option<&Blocked> {
        Some(&self.blocked)
    }
    async fn spend_daily(&self, user: &str, call: &QuotaCall) -> bool {
        let store = self
            .quotas
            .borrow_mut()
            .entry(user.into())
            .or_default()
            .clone();
        quota::apply(&*store, call, self.clock.get()).await.unwrap() == QuotaReply::Granted
    }
}

fn from(c: &Client, limiter: &Budget, ip: &str, auth: &str) -> u16 {
    let mut req = request(auth, "GET", "/pins", Vec::new());
    req.client_ip = Some(ip.into());
    c.send(limiter, req).status
}

fn token(c: &Client, user: &str) -> String {
    let a = c.call(user, "POST", "/token", "");
    format!("Bearer {}", a.body["token"].as_str().unwrap())
}

#[test]
fn requests_are_limited_per_user() {
    let c = Client::new("instant", 1000);
    let budget = Budget::new(3, 100);
    let ten = (0..10).map(common::cid).collect::<Vec<_>>().join(",");
    for _ in 0..3 {
        let a = c.call_limited(
            &budget,
            &basic("alice"),
            "GET",
            &format!("/pins?cid={ten}"),
            "",
        );
        assert_eq!(a.status, 200, "a 10-CID lookup counts once");
    }
    let over = c.call_limited(&budget, &basic("alice"), "GET", "/pins", "");
    assert_eq!(over.status, 429);
    assert_eq!(over.reply.header("retry-after"), Some("60"));
    assert_eq!(over.body["error"]["reason"], "TOO_MANY_REQUESTS");
    let bob = c.call_limited(&budget, &basic("bob"), "GET", "/pins", "");
    assert_eq!(bob.status, 200, "per user");
}

/// Fails before the fix: the password was checked first and the budget consulted only on a
/// failure, so the right password from a blocked address still got 200.
#[test]
fn a_blocked_address_is_refused_even_the_right_password() {
    let c = Client::new("instant", 1000);
    let alice_token = token(&c, "alice");
    let budget = Budget::new(1000, 3);
    let wrong = "Basic YWxpY2U6d3Jvbmc="; // alice:wrong
    for _ in 0..3 {
        assert_eq!(from(&c, &budget, "198.51.100.7", wrong), 401);
    }
    for auth in [wrong, &basic("alice"), &alice_token] {
        assert_eq!(from(&c, &budget, "198.51.100.7", auth), 429, "{auth}");
    }
    let refused = c.send(&budget, {
        let mut r = request(&basic("alice"), "GET", "/pins", Vec::new());
        r.client_ip = Some("198.51.100.7".into());
        r
    });
    assert_eq!(refused.body["error"]["reason"], "TOO_MANY_REQUESTS");
    assert!(refused.reply.header("retry-after").is_some());
    assert_eq!(
        from(&c, &budget, "198.51.100.8", &basic("alice")),
        200,
        "per address"
    );
    // The window passes: the binding's count and the isolate's memory of the block.
    budget.next_window();
    let later = Client {
        now: c.now + 60_000,
        kv: c.kv.clone(),
        config: common::config("instant"),
    };
    assert_eq!(from(&later, &budget, "198.51.100.7", &basic("alice")), 200);
}

#[test]
fn passwords_spend_the_budget_tokens_that_verify_do_not() {
    let c = Client::new("instant", 1000);
    let alice_token = token(&c, "alice");
    let budget = Budget::new(1000, 3);
    for _ in 0..10 {
        assert_eq!(from(&c, &budget, "192.0.2.9", &alice_token), 200);
    }
    for _ in 0..3 {
        assert_eq!(from(&c, &budget, "192.0.2.9", &basic("alice")), 200);
    }
    assert_eq!(from(&c, &budget, "192.0.2.9", &basic("alice")), 429);
    // Forged tokens spend it too, from a /64 as one client.
    for i in 0..3 {
        let ip = format!("2001:db8:5:6::{i}");
        assert_eq!(from(&c, &budget, &ip, "Bearer x.y.z"), 401);
    }
    assert_eq!(from(&c, &budget, "2001:db8:5:6::9", "Bearer x.y.z"), 429);
    assert_eq!(from(&c, &budget, "2001:db8:5:6:ffff::1", &alice_token), 429);
    assert_eq!(from(&c, &budget, "2001:db8:5:7::1", &alice_token), 200);
}

/// A body that counts what was read from it.
struct Counted<'a> {
    left: usize,
    read: &'a Cell<usize>,
}

impl RequestBody for Counted<'_> {
    fn declared_len(&self) -> Option<u64> {
        None // chunked
    }
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        if self.left == 0 {
            return Ok(None);
        }
        let n = self.left.min(16 * 1024);
        self.left -= n;
        self.read.set(self.read.get() + n);
        Ok(Some(vec![b' '; n]))
    }
}

/// Fails before the fix in its first half: the edge read the whole body before routing.
#[test]
fn bodies_are_read_after_sign_in_and_only_up_to_the_cap() {
    let c = Client::new("instant", 1000);
    let budget = Budget::new(1000, 1000);
    let read = Cell::new(0);
    let huge = || Counted {
        left: 100 << 20,
        read: &read,
    };
    let a = c.send(
        &budget,
        request("Basic bWFsbG9yeTp4", "POST", "/pins", huge()),
    );
    assert_eq!(
        (a.status, read.get()),
        (401, 0),
        "not a byte before sign-in"
    );
    let a = c.send(
        &budget,
        request(&basic("alice"), "POST", "/nowhere", huge()),
    );
    assert_eq!((a.status, read.get()), (404, 0));
    let a = c.send(&budget, request(&basic("alice"), "POST", "/pins", huge()));
    assert_eq!(a.status, 413);
    assert_eq!(a.body["error"]["reason"], "PAYLOAD_TOO_LARGE");
    assert!(read.get() <= 64 * 1024 + 16 * 1024, "read {}", read.get());
    let mut declared = request(&basic("alice"), "POST", "/pins", vec![b' '; 70_000]);
    declared.body.truncate(70_000);
    assert_eq!(c.send(&budget, declared).status, 413);
    let ok = json!({ "cid": common::cid(1) }).to_string().into_bytes();
    assert_eq!(
        c.send(&budget, request(&basic("alice"), "POST", "/pins", ok))
            .status,
        202
    );
}

/// Fails before the fix: nothing bounded a user's writes and listings per day.
#[test]
fn daily_budgets_bound_writes_and_listings_per_user_not_gets() {
    let mut c = Client::new("instant", 1000);
    c.config.daily_writes = 3;
    c.config.daily_lists = 4;
    let budget = Budget::new(1000, 1000);
    let day = c.now / DAY_MS;
    let call = |user: &str, method: &str, target: &str, body: &str| {
        c.call_limited(&budget, &basic(user), method, target, body)
    };
    let add = |user: &str, n: u32| {
        let pin = json!({ "cid": common::cid(n) }).to_string();
        call(user, "POST", "/pins", &pin)
    };
    let first = add("alice", 1);
    let id = first.body["requestid"].as_str().unwrap().to_owned();
    assert_eq!(add("alice", 2).status, 202);
    assert_eq!(call("alice", "POST", "/token", "").status, 200);
    let over = add("alice", 3);
    assert_eq!(over.status, 429);
    assert_eq!(over.body["error"]["reason"], "TOO_MANY_REQUESTS");
    let details = over.body["error"]["details"].as_str().unwrap();
    assert!(
        details.contains("daily budget of 3 write requests"),
        "{details}"
    );
    let wait: u64 = over.reply.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(
        wait,
        ((day + 1) * DAY_MS - c.now).div_ceil(1000),
        "to UTC midnight"
    );
    let delete = call("alice", "DELETE", &format!("/pins/{id}"), "");
    assert_eq!(delete.status, 429, "deletes write");
    // Gets never spend, and another user has a budget of their own.
    for _ in 0..10 {
        assert_eq!(call("alice", "GET", &format!("/pins/{id}"), "").status, 200);
    }
    assert_eq!(add("bob", 4).status, 202);
    // Listings: a cid= lookup spends one per CID.
    let two = format!("/pins?cid={},{}", common::cid(1), common::cid(2));
    assert_eq!(call("alice", "GET", &two, "").status, 200);
    assert_eq!(call("alice", "GET", "/pins", "").status, 200);
    assert_eq!(call("alice", "GET", "/tokens", "").status, 200);
    assert_eq!(call("alice", "GET", "/pins", "").status, 429);
    assert_eq!(
        call("alice", "GET", "/pins?limit=0", "").status,
        400,
        "malformed: no charge"
    );
    // The next UTC day.
    budget.clock.set((day + 1) * DAY_MS);
    assert_eq!(add("alice", 5).status, 202);
    assert_eq!(call("alice", "GET", "/pins", "").status, 200);
}
