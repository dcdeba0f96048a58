//! Native test support: an in-memory KV with Workers KV's ordering and cursor paging, and a
//! way to drive `app::handle` without a runtime (the in-memory KV never waits).
#![allow(dead_code)]

use base64::Engine;
use edge_pinning::config::Config;
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::http::{body::RequestBody, HttpRequest, Reply};
use edge_pinning::limits::{Limiter, Unlimited};
use edge_pinning::store::kv::{Kv, KvError, ListPage, ListedKey};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Clone)]
pub struct MemoryKv {
    pub map: Rc<RefCell<BTreeMap<String, (String, Value)>>>,
    /// Keys per `list` page (Workers KV: 1000); smaller here to exercise cursors.
    pub page: usize,
    /// Workers KV's rule of one write per key per second, when set.
    pub rate: Option<Rc<WriteRate>>,
}

/// One write (put or delete) per key per second of `clock`, as Workers KV answers a faster
/// one: `429 Too Many Requests`. `pause` moves the clock on; what was waited and refused is
/// counted.
pub struct WriteRate {
    pub clock: Rc<Cell<u64>>,
    last: RefCell<BTreeMap<String, u64>>,
    pub waits: Cell<u32>,
    pub refused: Cell<u32>,
}

impl MemoryKv {
    pub fn new(page: usize) -> Self {
        MemoryKv {
            map: Rc::default(),
            page,
            rate: None,
        }
    }

    /// A KV that keeps to Workers KV's per-key write rate, timed by `clock`.
    pub fn with_rate(page: usize, clock: Rc<Cell<u64>>) -> Self {
        let rate = WriteRate {
            clock,
            last: RefCell::default(),
            waits: Cell::new(0),
            refused: Cell::new(0),
        };
        MemoryKv {
            rate: Some(Rc::new(rate)),
            ..MemoryKv::new(page)
        }
    }

    fn write(&self, key: &str, op: &str) -> Result<(), KvError> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        let now = rate.clock.get();
        let mut last = rate.last.borrow_mut();
        if last.get(key).is_some_and(|t| now < t + 1000) {
            rate.refused.set(rate.refused.get() + 1);
            return Err(KvError(format!("KV {op} failed: 429 Too Many Requests")));
        }
        last.insert(key.to_owned(), now);
        Ok(())
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        Ok(self.map.borrow().get(key).map(|(v, _)| v.clone()))
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        _expires: Option<u64>,
    ) -> Result<(), KvError> {
        assert!(
            metadata.to_string().len() <= 1024,
            "KV refuses metadata over 1024 bytes"
        );
        self.write(key, "PUT")?;
        self.map
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), metadata.clone()));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.write(key, "DELETE")?;
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        let page = self.page.min(limit as usize);
        let map = self.map.borrow();
        let after = cursor.unwrap_or_default();
        let mut keys: Vec<ListedKey> = map
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| after.is_empty() || k.as_str() > after.as_str())
            .take(page + 1)
            .map(|(k, (_, m))| ListedKey {
                name: k.clone(),
                metadata: Some(m.clone()),
            })
            .collect();
        let more = keys.len() > page;
        keys.truncate(page);
        let cursor = more.then(|| keys.last().unwrap().name.clone());
        Ok(ListPage { keys, cursor })
    }
    fn clock(&self) -> Option<Millis> {
        self.rate.as_ref().map(|r| Millis(r.clock.get()))
    }
    async fn pause(&self, ms: u64) {
        if let Some(rate) = &self.rate {
            rate.waits.set(rate.waits.get() + 1);
            rate.clock.set(rate.clock.get() + ms);
        }
    }
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

pub const DELEGATE: &str =
    "/ip4/127.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";

pub fn config(backend: &str) -> Config {
    Config::from_env(|k| {
        Some(match k {
            "USERS" => r#"{"alice":"alice-pw","bob":"bob-pw"}"#.to_owned(),
            "JWT_SECRET" => "test-secret-0123456789".to_owned(),
            "PIN_BACKEND" => backend.to_owned(),
            "DELEGATES" => DELEGATE.to_owned(),
            "DEBUG_KV_OPS" => "1".to_owned(),
            _ => return None,
        })
    })
    .unwrap()
}

pub fn basic(user: &str) -> String {
    let creds = format!("{user}:{user}-pw");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    )
}

pub struct Client {
    pub kv: MemoryKv,
    pub config: Config,
    pub now: u64,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub reply: Reply,
}

impl Client {
    pub fn new(backend: &str, page: usize) -> Self {
        Client {
            kv: MemoryKv::new(page),
            config: config(backend),
            now: 1_700_000_000_000,
        }
    }

    /// A request as `user` with Basic credentials.
    pub fn call(&self, user: &str, method: &str, target: &str, body: &str) -> Answer {
        self.call_as(&basic(user), method, target, body)
    }

    /// A request with this `Authorization` header.
    pub fn call_as(&self, authorization: &str, method: &str, target: &str, body: &str) -> Answer {
        self.call_limited(&Unlimited, authorization, method, target, body)
    }

    pub fn call_limited(
        &self,
        limiter: &impl Limiter,
        authorization: &str,
        method: &str,
        target: &str,
        body: &str,
    ) -> Answer {
        let req = request(authorization, method, target, body.as_bytes().to_vec());
        self.send(limiter, req)
    }

    /// Any request, its body any `RequestBody`.
    pub fn send<B: RequestBody>(&self, limiter: &impl Limiter, req: HttpRequest<B>) -> Answer {
        let config = Ok(&self.config);
        let reply = block_on(edge_pinning::app::handle(
            req,
            self.kv.clone(),
            limiter,
            config,
            Millis(self.now),
        ));
        let body = reply
            .body
            .as_deref()
            .map(|b| serde_json::from_str(b).unwrap())
            .unwrap_or(Value::Null);
        Answer {
            status: reply.status,
            body,
            reply,
        }
    }

    pub fn pin(&self, user: &str, pin: Value) -> Value {
        let a = self.call(user, "POST", "/pins", &pin.to_string());
        assert_eq!(a.status, 202, "{}", a.body);
        a.body
    }

    /// `get=N,put=N,delete=N,list=N` for the last call.
    pub fn ops(a: &Answer) -> String {
        a.reply.header("x-kv-ops").unwrap().to_owned()
    }
}

/// A request from 192.0.2.1 (`client_ip` may be changed).
pub fn request<B>(authorization: &str, method: &str, target: &str, body: B) -> HttpRequest<B> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        authorization: Some(authorization.to_owned()),
        client_ip: Some("192.0.2.1".into()),
        body,
    }
}

/// A distinct, valid CIDv1 (raw, identity-free sha2-256 shape) for each `n`.
pub fn cid(n: u32) -> String {
    use cid::multihash::Multihash;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(n.to_be_bytes());
    let mh = Multihash::<64>::wrap(0x12, &digest).unwrap();
    cid::Cid::new_v1(0x55, mh).to_string()
}
