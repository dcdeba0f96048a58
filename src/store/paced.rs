//! Workers KV takes at most one write (put or delete) to a key per second, and answers a
//! faster one with `429 Too Many Requests`; the local runtime does not, so nothing here would
//! show it before production. `Paced` wraps a request's (or a cron run's) KV:
//!
//! - A key this request has already written is written again only once a second has passed
//!   since (it waits for the rest). The request paths Kubo and the WebUI use every day (add,
//!   read, list, replace, delete, upload) write no key twice (`tests/kv_pace.rs`); the paths
//!   that do are rare: a write undone because a quota or the provider refused it, a delete
//!   racing a status update, the name index's backfill, a sweep's release that finds a holder
//!   arriving.
//! - A write another request made within the second (two users adding one CID, two listings
//!   storing a user's totals) is refused by KV: it is tried again after 1 s, then 2 s, then
//!   given up, and the client told to retry (`error::storage`: 429); every write sequence is
//!   safe to stop at any step (docs/storage.md).
//!
//! - Derived data another request may have written the same a moment ago (a listing's
//!   totals, a token's last use) is put once (`Kv::put_derived`), and skipped where KV would
//!   refuse it: waiting would only delay an answer for a write that is not needed.
//!
//! `Counting` wraps this, so tries again are not counted as operations: a cron run's budget
//! keeps room for them (900 of the 1000 an invocation may make).

use super::kv::{Kv, KvError, ListPage};
use crate::domain::timestamp::Millis;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;

/// KV's spacing of writes to one key, with a margin for the two clocks.
pub const SAME_KEY_MS: u64 = 1_100;
/// Waits before each try again of a write KV refused for its rate: 1 s, then 2 s.
const BACKOFF_MS: [u64; 2] = [1_000, 2_000];

pub struct Paced<K> {
    inner: K,
    /// Keys written so far, with the time of the write when the store has a clock (a map: a
    /// cron run writes hundreds).
    written: RefCell<HashMap<String, Option<Millis>>>,
    waited: Cell<u32>,
}

impl<K: Kv> Paced<K> {
    pub fn new(inner: K) -> Self {
        Paced {
            inner,
            written: RefCell::default(),
            waited: Cell::new(0),
        }
    }

    /// How many writes waited, for the spacing or after a refusal.
    pub fn waited(&self) -> u32 {
        self.waited.get()
    }

    async fn wait(&self, ms: u64) {
        self.waited.set(self.waited.get() + 1);
        self.inner.pause(ms).await;
    }

    /// How long `key` must wait before this request may write it again (0: it may now).
    fn too_soon(&self, key: &str) -> u64 {
        let last = self.written.borrow().get(key).copied();
        let Some(at) = last else { return 0 };
        let since = match (at, self.inner.clock()) {
            (Some(at), Some(now)) => now.0.saturating_sub(at.0),
            _ => 0,
        };
        SAME_KEY_MS.saturating_sub(since)
    }

    /// Before a write of `key`: waits out the second since this request last wrote it.
    async fn space(&self, key: &str) {
        let wait = self.too_soon(key);
        if wait > 0 {
            self.wait(wait).await;
        }
    }

    /// One write of `key`: spaced from this request's last, tried again while KV refuses it
    /// for its rate (up to `BACKOFF_MS`), and noted.
    async fn write<F: Future<Output = Result<(), KvError>>>(
        &self,
        key: &str,
        op: impl Fn() -> F,
    ) -> Result<(), KvError> {
        self.space(key).await;
        let mut tries = BACKOFF_MS.iter();
        loop {
            match op().await {
                Err(e) if rate_limited(&e) => match tries.next() {
                    Some(ms) => self.wait(*ms).await,
                    None => return Err(e),
                },
                done => {
                    self.wrote(key);
                    return done;
                }
            }
        }
    }

    fn wrote(&self, key: &str) {
        let at = self.inner.clock();
        self.written.borrow_mut().insert(key.to_owned(), at);
    }
}

/// Whether KV refused a write for the key's rate (workerd: "KV PUT failed: 429 Too Many
/// Requests").
pub fn rate_limited(e: &KvError) -> bool {
    e.0.contains("429")
}

impl<K: Kv> Kv for Paced<K> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<(), KvError> {
        self.write(key, || self.inner.put(key, value, metadata, expires))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.write(key, || self.inner.delete(key)).await
    }

    async fn put_derived(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<bool, KvError> {
        if self.too_soon(key) > 0 {
            return Ok(false);
        }
        match self.inner.put(key, value, metadata, expires).await {
            Err(e) if rate_limited(&e) => Ok(false),
            done => {
                self.wrote(key);
                done.map(|()| true)
            }
        }
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        self.inner.list(prefix, cursor, limit).await
    }

    fn clock(&self) -> Option<Millis> {
        self.inner.clock()
    }

    async fn pause(&self, ms: u64) {
        self.inner.pause(ms).await
    }
}
