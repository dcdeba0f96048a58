//! Fault injection for the native tests: every KV operation, upstream call and gate call a
//! request or sweep makes is one *step*, numbered from 0. A plan makes step k fail (KV error,
//! upstream unavailable, gate unreachable) or makes the request stop dead just before or just
//! after it: the step's future never completes and the runner drops the request's future there,
//! so nothing after it runs — the same as a Worker killed at that await.
#![allow(dead_code)]

pub mod audit;

use crate::common::{basic, DELEGATE};
use crate::upstream_support::{FakeUpstream, MemoryGate};
use edge_pinning::config::Config;
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::http::HttpRequest;
use edge_pinning::limits::Unlimited;
use edge_pinning::quota::claims::Claims;
use edge_pinning::store::kv::{Kv, KvError, ListPage};
use edge_pinning::upstream::gate::{GateCall, GateFuture, GateTransport, Gates};
use edge_pinning::upstream::{
    sweep, Answer, Counted, Throttle, Upstream, UpstreamPin, UpstreamStatus, Upstreaming,
};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use crate::common::MemoryKv;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The step returns an error; the request goes on as its code decides.
    Fail,
    /// The request stops dead before the step reaches storage.
    CrashBefore,
    /// The step takes effect, then the request stops dead.
    CrashAfter,
}

pub const KINDS: [Kind; 3] = [Kind::Fail, Kind::CrashBefore, Kind::CrashAfter];

/// The step counter and the plan, shared by every wrapper of one world.
#[derive(Default)]
pub struct Faults {
    step: Cell<u32>,
    plan: Cell<Option<(u32, Kind)>>,
    crashed: Cell<bool>,
    /// The step the plan fired at, and the label of the operation there.
    pub fired: RefCell<Option<String>>,
    /// The labels of the steps taken since the plan was armed (up to and including the fault).
    pub log: RefCell<Vec<String>>,
}

/// What a step should do, decided as it begins.
enum Go {
    Run,
    Fail,
    Stop,
    RunThenStop,
}

impl Faults {
    pub fn arm(&self, k: u32, kind: Kind) {
        self.step.set(0);
        self.crashed.set(false);
        self.plan.set(Some((k, kind)));
        *self.fired.borrow_mut() = None;
        self.log.borrow_mut().clear();
    }

    /// Counts steps without faults (to learn how many a request makes).
    pub fn count_only(&self) {
        self.step.set(0);
        self.crashed.set(false);
        self.plan.set(None);
    }

    pub fn disarm(&self) {
        self.crashed.set(false);
        self.plan.set(None);
    }

    pub fn steps(&self) -> u32 {
        self.step.get()
    }

    pub fn crashed(&self) -> bool {
        self.crashed.get()
    }

    fn begin(&self, label: &str) -> Go {
        let k = self.step.get();
        self.step.set(k + 1);
        if self.plan.get().is_some() {
            self.log.borrow_mut().push(label.to_owned());
        }
        let Some((at, kind)) = self.plan.get().filter(|(at, _)| *at == k) else {
            return Go::Run;
        };
        let _ = at;
        *self.fired.borrow_mut() = Some(label.to_owned());
        match kind {
            Kind::Fail => Go::Fail,
            Kind::CrashBefore => {
                self.crashed.set(true);
                Go::Stop
            }
            Kind::CrashAfter => Go::RunThenStop,
        }
    }

    /// Runs one step through the plan: `run` is the operation, `failed` its error.
    pub async fn step<T>(&self, label: &str, run: impl Future<Output = T>, failed: T) -> T {
        match self.begin(label) {
            Go::Run => run.await,
            Go::Fail => failed,
            Go::Stop => never().await,
            Go::RunThenStop => {
                let _ = run.await;
                self.crashed.set(true);
                never().await
            }
        }
    }
}

fn never<T>() -> impl Future<Output = T> {
    std::future::poll_fn(|_| Poll::Pending)
}

/// Polls `f` to completion, or until a planned crash: then the future is dropped where it
/// stands (`None`), which is what a killed Worker's request amounts to.
pub fn run_until_crash<F: Future>(faults: &Faults, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
        if faults.crashed() {
            return None;
        }
    }
}

#[derive(Clone)]
pub struct FaultyKv {
    pub inner: MemoryKv,
    pub faults: Rc<Faults>,
}

fn kv_err<T>(what: &str) -> Result<T, KvError> {
    Err(KvError(format!("injected fault at {what}")))
}

impl Kv for FaultyKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let label = format!("kv get {key}");
        self.faults
            .step(&label, self.inner.get(key), kv_err(&label))
            .await
    }
    async fn put(&self, key: &str, v: &str, m: &Value, e: Option<u64>) -> Result<(), KvError> {
        let label = format!("kv put {key}");
        let run = self.inner.put(key, v, m, e);
        self.faults.step(&label, run, kv_err(&label)).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let label = format!("kv delete {key}");
        self.faults
            .step(&label, self.inner.delete(key), kv_err(&label))
            .await
    }
    async fn list(&self, prefix: &str, c: Option<String>, n: u32) -> Result<ListPage, KvError> {
        let label = format!("kv list {prefix}");
        let run = self.inner.list(prefix, c, n);
        self.faults.step(&label, run, kv_err(&label)).await
    }
}

pub type UnpinHook = Box<dyn Fn(&str)>;

/// The in-memory provider behind the plan; a failed call is `Unavailable` (a 5xx or timeout).
pub struct FaultyUpstream {
    pub inner: FakeUpstream,
    pub faults: Rc<Faults>,
    /// Called before each unpin with the CID it removes (`None`: the id is unknown upstream).
    pub on_unpin: RefCell<Option<UnpinHook>>,
}

fn down<T>(label: &str) -> Answer<T> {
    Answer::Unavailable(format!("injected fault at {label}"))
}

impl FaultyUpstream {
    fn unpinning(&self, id: &str) {
        let cid = self.inner.pins.borrow().get(id).map(|p| p.cid.clone());
        if let (Some(cid), Some(hook)) = (cid, self.on_unpin.borrow().as_ref()) {
            hook(&cid);
        }
    }
}

impl Upstream for FaultyUpstream {
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        let label = format!("upstream add {}", pin.cid);
        self.faults
            .step(&label, self.inner.add(pin), down(&label))
            .await
    }
    async fn get(&self, id: &str) -> Answer<UpstreamStatus> {
        let label = format!("upstream get {id}");
        self.faults
            .step(&label, self.inner.get(id), down(&label))
            .await
    }
    async fn replace(&self, id: &str, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        let label = format!("upstream replace {id}");
        let run = async {
            self.unpinning(id);
            self.inner.replace(id, pin).await
        };
        self.faults.step(&label, run, down(&label)).await
    }
    async fn delete(&self, id: &str) -> Answer<()> {
        let label = format!("upstream delete {id}");
        let run = async {
            self.unpinning(id);
            self.inner.delete(id).await
        };
        self.faults.step(&label, run, down(&label)).await
    }
    async fn list_by_cid(&self, cid: &str, before: Millis) -> Answer<Vec<UpstreamStatus>> {
        let label = format!("upstream list {cid}");
        let run = self.inner.list_by_cid(cid, before);
        self.faults.step(&label, run, down(&label)).await
    }
}

/// The CIDs' gates (Durable Objects) behind the plan: a failed call never reached the object.
pub struct FaultyGate {
    pub inner: MemoryGate,
    pub faults: Rc<Faults>,
}

impl GateTransport for FaultyGate {
    fn call<'a>(&'a self, cid: &'a str, call: GateCall) -> GateFuture<'a> {
        let label = format!("gate {cid} {call:?}");
        Box::pin(async move {
            // Lazily: the memory gate applies a call as soon as it is made.
            let run = async move { self.inner.call(cid, call).await };
            self.faults
                .step(&label, run, Err(format!("injected fault at {label}")))
                .await
        })
    }
}

pub struct Answered {
    pub status: u16,
    pub body: Value,
}

/// The whole service over faulty storage: pin and token requests with either backend, and
/// the upstream backend's sweep.
pub struct FaultWorld {
    pub kv: MemoryKv,
    pub faults: Rc<Faults>,
    pub config: Config,
    pub up: Counted<FaultyUpstream>,
    pub gate: FaultyGate,
    pub gated: bool,
    pub throttle: Throttle,
    pub clock: Rc<Cell<u64>>,
}

pub const USERS: [&str; 3] = ["alice", "bob", "carol"];

impl FaultWorld {
    /// `backend`: `instant` or `upstream`; `gated`: whether the CIDs' gates are bound.
    pub fn new(backend: &str, gated: bool, by_cid: bool) -> FaultWorld {
        let vars: BTreeMap<&str, String> = [
            (
                "USERS",
                r#"{"alice":"alice-pw","bob":"bob-pw","carol":"carol-pw"}"#,
            ),
            ("JWT_SECRET", "test-secret-0123456789"),
            ("PIN_BACKEND", backend),
            ("DELEGATES", DELEGATE),
            ("UPSTREAM_URL", "http://upstream.test"),
            ("UPSTREAM_TOKEN", "upstream-token"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        let config = Config::from_env(|k| vars.get(k).cloned()).unwrap();
        // Each world on a day of its own: pins' `created` (unique per process) stays at its
        // clock, as long as worlds are made and used one at a time (tests/faults.rs, `run`).
        static WORLDS: AtomicU64 = AtomicU64::new(0);
        let day = WORLDS.fetch_add(1, Ordering::SeqCst) * 86_400_000;
        let clock = Rc::new(Cell::new(1_700_000_000_000 + day));
        let faults = Rc::new(Faults::default());
        let up = FaultyUpstream {
            inner: FakeUpstream::new(by_cid, clock.clone()),
            faults: faults.clone(),
            on_unpin: RefCell::default(),
        };
        FaultWorld {
            kv: MemoryKv::new(7),
            gate: FaultyGate {
                inner: MemoryGate::new(clock.clone()),
                faults: faults.clone(),
            },
            faults,
            config,
            up: Counted::new(up),
            gated,
            throttle: Throttle::default(),
            clock,
        }
    }

    pub fn now(&self) -> Millis {
        Millis(self.clock.get())
    }

    pub fn advance(&self, secs: u64) {
        self.clock.set(self.clock.get() + secs * 1000);
    }

    fn kv(&self) -> FaultyKv {
        FaultyKv {
            inner: self.kv.clone(),
            faults: self.faults.clone(),
        }
    }

    fn gates(&self) -> Gates<'_> {
        if self.gated {
            Gates::new(&self.gate)
        } else {
            Gates::none()
        }
    }

    /// One request as a future, with this `Authorization` header.
    pub fn request<'a>(
        &'a self,
        auth: &str,
        method: &str,
        target: &str,
        body: &str,
    ) -> impl Future<Output = Answered> + 'a {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let req = HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            authorization: Some(auth.to_owned()),
            client_ip: Some("192.0.2.1".into()),
            body: body.as_bytes().to_vec(),
        };
        let now = self.now();
        async move {
            let gates = self.gates();
            let up = Upstreaming {
                client: &self.up,
                throttle: &self.throttle,
                gates: &gates,
                claims: &Claims::none(),
            };
            let reply = edge_pinning::app::handle_with(
                req,
                self.kv(),
                &Unlimited,
                Some(&up),
                Ok(&self.config),
                now,
            )
            .await;
            let body = reply.body.as_deref().unwrap_or("null");
            Answered {
                status: reply.status,
                body: serde_json::from_str(body).unwrap_or(Value::Null),
            }
        }
    }

    /// A request without faults (the plan is off).
    pub fn call(&self, user: &str, method: &str, target: &str, body: &str) -> Answered {
        self.call_as(&basic(user), method, target, body)
    }

    pub fn call_as(&self, auth: &str, method: &str, target: &str, body: &str) -> Answered {
        self.faults.disarm();
        run_until_crash(&self.faults, self.request(auth, method, target, body))
            .expect("no crash without a plan")
    }

    pub fn sweep_future(&self) -> impl Future<Output = Result<sweep::Report, KvError>> + '_ {
        let now = self.now();
        async move {
            let settings = self.config.upstream.as_ref().unwrap();
            sweep::run(
                self.kv(),
                &self.up,
                &self.gates(),
                &Claims::none(),
                settings,
                now,
            )
            .await
        }
    }

    /// The cron for a while: a run a minute for `minutes` minutes, no faults.
    pub fn sweeps(&self, minutes: u32) {
        if self.config.upstream.is_none() {
            return;
        }
        for _ in 0..minutes {
            self.advance(60);
            self.faults.disarm();
            run_until_crash(&self.faults, self.sweep_future())
                .unwrap()
                .unwrap();
        }
    }
}
