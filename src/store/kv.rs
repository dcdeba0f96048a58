//! The four Workers KV operations the service uses, as a trait: the edge implements it on the
//! real binding, native tests on a map; `Paced` wraps either to keep to KV's per-key write rate,
//! and `Counting` wraps that to measure what a request costs.

use crate::domain::timestamp::Millis;
use serde_json::Value;
use std::cell::Cell;

/// KV returns at most this many keys per `list` call.
pub const LIST_PAGE: u32 = 1000;
/// Workers KV's bound on a key's metadata, serialized.
pub const MAX_METADATA_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct KvError(pub String);

#[derive(Debug, Clone)]
pub struct ListedKey {
    pub name: String,
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub keys: Vec<ListedKey>,
    /// Present while more keys follow.
    pub cursor: Option<String>,
}

#[allow(async_fn_in_trait)] // Workers run one thread; no `Send` bound is wanted.
pub trait Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError>;
    /// `expires` (Unix seconds) lets KV drop the key by itself; it must be ≥ 60 s ahead.
    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<(), KvError>;
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// A put of derived data that another request may have written the same a moment ago (a
    /// listing's totals, a token's last use): `Paced` makes it once, and skips it where KV
    /// would refuse it for the key's rate rather than wait. Whether it was written.
    async fn put_derived(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<bool, KvError> {
        self.put(key, value, metadata, expires).await.map(|()| true)
    }
    /// Keys under `prefix` in ascending byte order, at most `limit` (≤ `LIST_PAGE`) at a time.
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError>;
    /// The time now, as the runtime tells it after the calls made so far (in workerd the clock
    /// moves on with each call), or `None` where it cannot: a scan's stored totals say when it
    /// was over, and without this they must assume the longest a scan may take.
    fn clock(&self) -> Option<Millis> {
        None
    }
    /// Waits `ms` (`Paced` spaces writes to one key by this); a store that takes every write
    /// at once need not.
    async fn pause(&self, _ms: u64) {}
}

/// Counts the operations a request performs (reported in `x-kv-ops` when debugging is on).
pub struct Counting<K> {
    inner: K,
    counts: [Cell<u32>; 4],
}

impl<K: Kv> Counting<K> {
    pub fn new(inner: K) -> Self {
        Counting {
            inner,
            counts: Default::default(),
        }
    }

    fn tick(&self, i: usize) {
        self.counts[i].set(self.counts[i].get() + 1);
    }

    /// Every operation so far, of any kind (the sweep spends a budget of them).
    pub fn total(&self) -> u32 {
        self.counts.iter().map(Cell::get).sum()
    }

    /// `get=N,put=N,delete=N,list=N`.
    pub fn summary(&self) -> String {
        let [g, p, d, l] = self.counts.each_ref().map(Cell::get);
        format!("get={g},put={p},delete={d},list={l}")
    }
}

impl<K: Kv> Kv for Counting<K> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.tick(0);
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<(), KvError> {
        self.tick(1);
        self.inner.put(key, value, metadata, expires).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.tick(2);
        self.inner.delete(key).await
    }
    async fn put_derived(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<bool, KvError> {
        self.tick(1);
        self.inner.put_derived(key, value, metadata, expires).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        self.tick(3);
        self.inner.list(prefix, cursor, limit).await
    }
    fn clock(&self) -> Option<Millis> {
        self.inner.clock()
    }
    async fn pause(&self, ms: u64) {
        self.inner.pause(ms).await
    }
}
