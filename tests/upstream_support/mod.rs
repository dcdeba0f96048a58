//! Native support for the `upstream` backend's tests: an in-memory Pinning Service provider
//! that can be told to fail, a world that drives the whole request path and the sweep over
//! the in-memory KV, and an executor that interleaves two requests at every KV and upstream
//! call, to check the race reasoning of docs/storage.md under many schedules.
#![allow(dead_code)]

use crate::common::{basic, block_on, MemoryKv, DELEGATE};
use edge_pinning::config::Config;
use edge_pinning::domain::{status::Status, timestamp::Instant, timestamp::Millis};
use edge_pinning::http::HttpRequest;
use edge_pinning::limits::Unlimited;
use edge_pinning::quota::claims::{Claims, MemoryClaims};
use edge_pinning::store::kv::{Kv, KvError, ListPage};
use edge_pinning::upstream::gate::{
    apply, GateCall, GateFuture, GateTransport, Gates, MemoryGateStore,
};
use edge_pinning::upstream::{
    sweep, Answer, Counted, Refusal, Throttle, Upstream, UpstreamPin, UpstreamStatus, Upstreaming,
};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

pub const UP_DELEGATE: &str =
    "/ip4/203.0.113.42/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// Every call is unreachable / 5xx.
    Down,
    /// Adds get a 400 Failure; other calls work.
    RefuseAdds,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePin {
    pub cid: String,
    pub name: Option<String>,
    pub status: Status,
    pub created: u64,
}

/// An in-memory provider. `by_cid` makes it key pins by CID like IPFS Cluster and the npm mock
/// (a second add of a CID returns the same pin); otherwise every add is a new pin. Strict about
/// origins as real providers are: an add whose origins it cannot parse as multiaddrs (or that
/// its own policy, `refused_origins`, rejects) gets a 400 quoting them.
pub struct FakeUpstream {
    pub pins: RefCell<BTreeMap<String, FakePin>>,
    pub mode: Cell<Mode>,
    pub by_cid: bool,
    pub log: RefCell<Vec<String>>,
    /// Every pin body received by add or replace (CID, origins).
    pub received: RefCell<Vec<UpstreamPin>>,
    /// The status a new pin of a CID starts in (`queued` when not set).
    pub starts: RefCell<BTreeMap<String, Status>>,
    /// Origins containing one of these are refused (a provider's own rule, e.g. no loopback).
    pub refused_origins: RefCell<Vec<String>>,
    /// The DAG size a pinned CID is reported with (as the `r2` keeper reports it).
    pub sizes: RefCell<BTreeMap<String, u64>>,
    /// Deleted pins stay in its listings (a provider that lists them late, or for good); a
    /// get or delete of one is a 404.
    pub lingering: Cell<bool>,
    deleted: RefCell<BTreeMap<String, FakePin>>,
    next: Cell<u32>,
    clock: Rc<Cell<u64>>,
}

impl FakeUpstream {
    pub fn new(by_cid: bool, clock: Rc<Cell<u64>>) -> Self {
        FakeUpstream {
            pins: RefCell::default(),
            mode: Cell::new(Mode::Up),
            by_cid,
            log: RefCell::default(),
            received: RefCell::default(),
            starts: RefCell::default(),
            refused_origins: RefCell::default(),
            sizes: RefCell::default(),
            lingering: Cell::new(false),
            deleted: RefCell::default(),
            next: Cell::new(0),
            clock,
        }
    }

    /// Pins of `cid` upstream.
    pub fn pins_of(&self, cid: &str) -> Vec<FakePin> {
        self.pins
            .borrow()
            .values()
            .filter(|p| p.cid == cid)
            .cloned()
            .collect()
    }

    /// New pins of `cid` start in `status` (the npm mock takes it from the name; we send none).
    pub fn starts_as(&self, cid: &str, status: Status) {
        self.starts.borrow_mut().insert(cid.to_owned(), status);
    }

    pub fn set_status(&self, cid: &str, status: Status) {
        for p in self.pins.borrow_mut().values_mut() {
            if p.cid == cid {
                p.status = status;
            }
        }
    }

    /// Calls made so far whose log line starts with `verb`.
    pub fn calls(&self, verb: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|l| l.starts_with(verb))
            .count()
    }

    fn answer(&self, id: &str, p: &FakePin) -> UpstreamStatus {
        UpstreamStatus {
            requestid: id.to_owned(),
            status: p.status,
            delegates: vec![UP_DELEGATE.to_owned()],
            details: Some(format!("fake: {}", p.status.as_str())),
            created: Some(Instant::parse(&Millis(p.created).to_rfc3339()).unwrap()),
            dag_size: (p.status == Status::Pinned)
                .then(|| self.sizes.borrow().get(&p.cid).copied())
                .flatten(),
        }
    }

    fn down<T>(&self) -> Option<Answer<T>> {
        (self.mode.get() == Mode::Down).then(|| Answer::Unavailable("HTTP 503".into()))
    }

    fn not_found<T>() -> Answer<T> {
        Answer::Refused(Refusal {
            status: 404,
            reason: "NOT_FOUND".into(),
            details: String::new(),
        })
    }

    fn add_now(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        self.received.borrow_mut().push(pin.clone());
        if self.mode.get() == Mode::RefuseAdds {
            return Answer::Refused(Refusal {
                status: 400,
                reason: "BAD_REQUEST".into(),
                details: "this provider does not take that CID".into(),
            });
        }
        for (i, o) in pin.origins.iter().enumerate() {
            let refused = self.refused_origins.borrow().iter().any(|r| o.contains(r));
            if refused || !strict_multiaddr(o) {
                return Answer::Refused(Refusal {
                    status: 400,
                    reason: "BAD_REQUEST".into(),
                    details: format!("origins[{i}]: '{o}' is not an origin we accept"),
                });
            }
        }
        let status = self
            .starts
            .borrow()
            .get(&pin.cid)
            .copied()
            .unwrap_or(Status::Queued);
        let mut pins = self.pins.borrow_mut();
        if self.by_cid {
            if let Some((id, p)) = pins.iter().find(|(_, p)| p.cid == pin.cid) {
                return Answer::Ok(self.answer(id, p));
            }
        }
        self.next.set(self.next.get() + 1);
        let id = format!("up-{}", self.next.get());
        let p = FakePin {
            cid: pin.cid.clone(),
            name: None,
            status,
            created: self.clock.get(),
        };
        let answer = self.answer(&id, &p);
        pins.insert(id, p);
        Answer::Ok(answer)
    }
}

impl Upstream for FakeUpstream {
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        yield_now().await;
        self.log.borrow_mut().push(format!("add {}", pin.cid));
        self.down().unwrap_or_else(|| self.add_now(pin))
    }

    async fn get(&self, id: &str) -> Answer<UpstreamStatus> {
        yield_now().await;
        self.log.borrow_mut().push(format!("get {id}"));
        if let Some(d) = self.down() {
            return d;
        }
        match self.pins.borrow().get(id) {
            Some(p) => Answer::Ok(self.answer(id, p)),
            None => Self::not_found(),
        }
    }

    async fn replace(&self, id: &str, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        yield_now().await;
        self.log
            .borrow_mut()
            .push(format!("replace {id} {}", pin.cid));
        if let Some(d) = self.down() {
            return d;
        }
        if self.pins.borrow_mut().remove(id).is_none() {
            return Self::not_found();
        }
        self.add_now(pin)
    }

    async fn delete(&self, id: &str) -> Answer<()> {
        yield_now().await;
        self.log.borrow_mut().push(format!("delete {id}"));
        if let Some(d) = self.down() {
            return d;
        }
        match self.pins.borrow_mut().remove(id) {
            Some(p) => {
                if self.lingering.get() {
                    self.deleted.borrow_mut().insert(id.to_owned(), p);
                }
                Answer::Ok(())
            }
            None => Self::not_found(),
        }
    }

    async fn list_by_cid(&self, cid: &str, before: Millis) -> Answer<Vec<UpstreamStatus>> {
        yield_now().await;
        self.log.borrow_mut().push(format!("list {cid}"));
        if let Some(d) = self.down() {
            return d;
        }
        let (pins, deleted) = (self.pins.borrow(), self.deleted.borrow());
        Answer::Ok(
            pins.iter()
                .chain(deleted.iter())
                .filter(|(_, p)| p.cid == cid && p.created < before.0)
                .map(|(id, p)| self.answer(id, p))
                .collect(),
        )
    }
}

/// How a strict provider reads an origin (written apart from the worker's own check, so a test
/// can catch a mistake in it): known protocols with well-formed values, ending in a peer id.
pub fn strict_multiaddr(s: &str) -> bool {
    let parts: Vec<&str> = match s.strip_prefix('/') {
        Some(rest) => rest.split('/').collect(),
        None => return false,
    };
    let mut i = 0;
    let mut ends_with_peer = false;
    while i < parts.len() {
        let value = parts.get(i + 1).copied().unwrap_or("");
        let (ok, takes_value) = match parts[i] {
            "ip4" => (value.parse::<std::net::Ipv4Addr>().is_ok(), true),
            "ip6" => (value.parse::<std::net::Ipv6Addr>().is_ok(), true),
            "dns" | "dns4" | "dns6" | "dnsaddr" => (!value.is_empty(), true),
            "tcp" | "udp" => (value.parse::<u16>().is_ok(), true),
            "p2p" | "ipfs" => (
                value.len() >= 46 && value.chars().all(|c| c.is_ascii_alphanumeric()),
                true,
            ),
            "quic" | "quic-v1" | "ws" | "wss" | "tls" | "p2p-circuit" => (true, false),
            _ => (false, false),
        };
        if !ok {
            return false;
        }
        ends_with_peer = matches!(parts[i], "p2p" | "ipfs");
        i += if takes_value { 2 } else { 1 };
    }
    ends_with_peer
}

/// A KV whose every operation first yields once, so that `interleave` can switch requests there.
#[derive(Clone)]
pub struct YieldingKv(pub MemoryKv);

impl Kv for YieldingKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        yield_now().await;
        self.0.get(key).await
    }
    async fn put(&self, key: &str, v: &str, m: &Value, e: Option<u64>) -> Result<(), KvError> {
        yield_now().await;
        self.0.put(key, v, m, e).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        yield_now().await;
        self.0.delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        yield_now().await;
        self.0.list(prefix, cursor, limit).await
    }
    fn clock(&self) -> Option<Millis> {
        self.0.clock()
    }
    async fn pause(&self, ms: u64) {
        self.0.pause(ms).await
    }
}

pub fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |_| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            Poll::Pending
        }
    })
}

/// Runs two futures to completion, choosing which one makes the next step with a small
/// pseudo-random generator seeded by `seed`: each seed is one interleaving of their KV and
/// upstream calls.
pub fn interleave<A: Future, B: Future>(a: A, b: B, seed: u64) -> (A::Output, B::Output) {
    let mut a = Box::pin(a);
    let mut b = Box::pin(b);
    let (mut ra, mut rb) = (None, None);
    let mut cx = Context::from_waker(Waker::noop());
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while ra.is_none() || rb.is_none() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick_a = (x >> 33) & 1 == 0;
        if (pick_a && ra.is_none()) || rb.is_some() {
            step(&mut a, &mut ra, &mut cx);
        } else {
            step(&mut b, &mut rb, &mut cx);
        }
    }
    (ra.unwrap(), rb.unwrap())
}

fn step<F: Future>(f: &mut Pin<Box<F>>, out: &mut Option<F::Output>, cx: &mut Context) {
    if let Poll::Ready(v) = f.as_mut().poll(cx) {
        *out = Some(v);
    }
}

pub struct World {
    pub kv: YieldingKv,
    pub config: Config,
    pub up: Counted<FakeUpstream>,
    pub throttle: Throttle,
    pub clock: Rc<Cell<u64>>,
    pub gate: MemoryGate,
    /// Whether requests and sweeps go through `gate` (the `CID_GATES` binding) or KV alone.
    pub gated: Cell<bool>,
    /// The users' objects for byte claims, used unless `claiming` is off (no `USER_QUOTAS`).
    pub users: MemoryClaims,
    pub claiming: Cell<bool>,
}

/// CID gates in memory: the core's gate logic over a memory store per CID, on the test's clock.
pub struct MemoryGate {
    pub states: RefCell<BTreeMap<String, Rc<MemoryGateStore>>>,
    pub clock: Rc<Cell<u64>>,
    pub calls: Cell<u32>,
}

impl MemoryGate {
    pub fn new(clock: Rc<Cell<u64>>) -> MemoryGate {
        MemoryGate {
            states: RefCell::default(),
            clock,
            calls: Cell::new(0),
        }
    }
}

impl GateTransport for MemoryGate {
    fn call<'a>(&'a self, cid: &'a str, call: GateCall) -> GateFuture<'a> {
        self.calls.set(self.calls.get() + 1);
        let now = self.clock.get();
        let store = self
            .states
            .borrow_mut()
            .entry(cid.to_owned())
            .or_default()
            .clone();
        // The memory store never waits: the call is applied at once, as one step.
        let reply = block_on(apply(store.as_ref(), call, now));
        Box::pin(async move { reply })
    }
}

pub struct Answered {
    pub status: u16,
    pub body: Value,
    pub ops: String,
}

impl World {
    pub fn new(by_cid: bool) -> World {
        World::with(by_cid, 1000, &[])
    }

    /// `page`: KV list page size; `settings`: extra vars (e.g. a smaller sweep budget).
    pub fn with(by_cid: bool, page: usize, settings: &[(&str, &str)]) -> World {
        World::with_users(by_cid, page, settings, &["alice", "bob", "carol"])
    }

    /// As `new`, over a KV that keeps to Workers KV's one write per key per second, timed by
    /// the world's clock (`common::WriteRate`).
    pub fn rated(by_cid: bool) -> World {
        let w = World::new(by_cid);
        World {
            kv: YieldingKv(MemoryKv::with_rate(1000, w.clock.clone())),
            ..w
        }
    }

    /// As `with`, with these users (each user's password is `{user}-pw`).
    pub fn with_users(
        by_cid: bool,
        page: usize,
        settings: &[(&str, &str)],
        users: &[&str],
    ) -> World {
        let users: serde_json::Map<String, Value> = users
            .iter()
            .map(|u| (u.to_string(), Value::String(format!("{u}-pw"))))
            .collect();
        let users = Value::Object(users).to_string();
        let settings: BTreeMap<String, String> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::from_env(|k| {
            if let Some(v) = settings.get(k) {
                return Some(v.clone());
            }
            Some(match k {
                "USERS" => users.clone(),
                "JWT_SECRET" => "test-secret-0123456789".to_owned(),
                "PIN_BACKEND" => "upstream".to_owned(),
                "DELEGATES" => DELEGATE.to_owned(),
                "DEBUG_KV_OPS" => "1".to_owned(),
                "UPSTREAM_URL" => "http://upstream.test".to_owned(),
                "UPSTREAM_TOKEN" => "upstream-token".to_owned(),
                _ => return None,
            })
        })
        .unwrap();
        let clock = Rc::new(Cell::new(1_700_000_000_000));
        World {
            kv: YieldingKv(MemoryKv::new(page)),
            config,
            up: Counted::new(FakeUpstream::new(by_cid, clock.clone())),
            throttle: Throttle::default(),
            gate: MemoryGate::new(clock.clone()),
            gated: Cell::new(false),
            users: MemoryClaims::new(clock.clone()),
            claiming: Cell::new(true),
            clock,
        }
    }

    pub fn gates(&self) -> Gates<'_> {
        if self.gated.get() {
            Gates::new(&self.gate)
        } else {
            Gates::none()
        }
    }

    pub fn claims(&self) -> Claims<'_> {
        if self.claiming.get() {
            Claims::new(&self.users)
        } else {
            Claims::none()
        }
    }

    pub fn now(&self) -> Millis {
        Millis(self.clock.get())
    }

    pub fn advance(&self, secs: u64) {
        self.clock.set(self.clock.get() + secs * 1000);
    }

    /// One request, as a future (for `interleave`).
    pub fn request(
        &self,
        user: &str,
        method: &str,
        target: &str,
        body: &str,
    ) -> impl Future<Output = Answered> + '_ {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let req = HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            authorization: Some(basic(user)),
            client_ip: Some("192.0.2.1".into()),
            body: body.as_bytes().to_vec(),
        };
        let now = self.now();
        async move {
            let (gates, claims) = (self.gates(), self.claims());
            let up = Upstreaming {
                client: &self.up,
                throttle: &self.throttle,
                gates: &gates,
                claims: &claims,
            };
            let reply = edge_pinning::app::handle_with(
                req,
                self.kv.clone(),
                &Unlimited,
                Some(&up),
                Ok(&self.config),
                now,
            )
            .await;
            Answered {
                status: reply.status,
                body: reply
                    .body
                    .as_deref()
                    .map(|b| serde_json::from_str(b).unwrap())
                    .unwrap_or(Value::Null),
                ops: reply.header("x-kv-ops").unwrap_or("").to_owned(),
            }
        }
    }

    pub fn call(&self, user: &str, method: &str, target: &str, body: &str) -> Answered {
        block_on(self.request(user, method, target, body))
    }

    pub fn pin(&self, user: &str, pin: Value) -> Value {
        let a = self.call(user, "POST", "/pins", &pin.to_string());
        assert_eq!(a.status, 202, "{}", a.body);
        a.body
    }

    pub fn get(&self, user: &str, id: &Value) -> Answered {
        self.call(user, "GET", &format!("/pins/{}", id.as_str().unwrap()), "")
    }

    pub fn delete(&self, user: &str, id: &Value) -> u16 {
        let target = format!("/pins/{}", id.as_str().unwrap());
        self.call(user, "DELETE", &target, "").status
    }

    pub fn sweep_future(&self) -> impl Future<Output = sweep::Report> + '_ {
        let now = self.now();
        async move {
            let settings = self.config.upstream.as_ref().unwrap();
            let (gates, claims) = (self.gates(), self.claims());
            sweep::run(self.kv.clone(), &self.up, &gates, &claims, settings, now)
                .await
                .unwrap()
        }
    }

    pub fn sweep(&self) -> sweep::Report {
        block_on(self.sweep_future())
    }

    /// Keys under `prefix` in the KV.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let map = self.kv.0.map.borrow();
        map.keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// The status a user's pin shows in a listing (answered from list metadata, no refresh).
    pub fn listed_status(&self, user: &str, id: &Value) -> String {
        let list = self.call(
            user,
            "GET",
            "/pins?status=queued,pinning,pinned,failed&limit=1000",
            "",
        );
        list.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["requestid"] == *id)
            .map(|p| p["status"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| "absent".into())
    }
}

/// Workers KV's eventual consistency, modelled: every write is stamped with the time and the
/// location that made it; a location sees its own writes at once and other locations' writes
/// only `lag` ms later (the most stale answer KV may give). Two views of one store are two
/// Cloudflare locations.
#[derive(Clone)]
pub struct LaggedKv {
    store: Rc<RefCell<BTreeMap<String, Vec<Version>>>>,
    clock: Rc<Cell<u64>>,
    location: u8,
    lag: u64,
}

type Version = (u64, u8, Option<(String, Value)>);

impl LaggedKv {
    pub fn new(clock: Rc<Cell<u64>>, lag: u64) -> LaggedKv {
        LaggedKv {
            store: Rc::default(),
            clock,
            location: 0,
            lag,
        }
    }

    /// The same store as seen from another location.
    pub fn elsewhere(&self, location: u8) -> LaggedKv {
        LaggedKv {
            location,
            ..self.clone()
        }
    }

    fn visible<'v>(&self, versions: &'v [Version]) -> Option<&'v (String, Value)> {
        let now = self.clock.get();
        versions
            .iter()
            .rev()
            .find(|(t, loc, _)| *loc == self.location || t + self.lag <= now)
            .and_then(|(_, _, v)| v.as_ref())
    }

    fn write(&self, key: &str, value: Option<(String, Value)>) {
        let version = (self.clock.get(), self.location, value);
        self.store
            .borrow_mut()
            .entry(key.to_owned())
            .or_default()
            .push(version);
    }
}

impl Kv for LaggedKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let store = self.store.borrow();
        let found = store.get(key).and_then(|v| self.visible(v));
        Ok(found.map(|(v, _)| v.clone()))
    }
    async fn put(&self, key: &str, v: &str, m: &Value, _: Option<u64>) -> Result<(), KvError> {
        self.write(key, Some((v.to_owned(), m.clone())));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.write(key, None);
        Ok(())
    }
    /// Every visible key at once (more than `limit`, which callers allow): no cursors to model.
    async fn list(
        &self,
        prefix: &str,
        _cursor: Option<String>,
        _limit: u32,
    ) -> Result<ListPage, KvError> {
        let store = self.store.borrow();
        let keys = store
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(k, versions)| {
                self.visible(versions)
                    .map(|(_, m)| edge_pinning::store::kv::ListedKey {
                        name: k.clone(),
                        metadata: Some(m.clone()),
                    })
            })
            .collect();
        Ok(ListPage { keys, cursor: None })
    }
}
