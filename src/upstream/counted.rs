//! Counting an upstream's calls.

use super::{Accept, Answer, Upstream, UpstreamPin, UpstreamStatus};
use crate::domain::timestamp::Millis;
use crate::r2::upload::{UploadError, Uploaded};
use crate::r2::Sender;
use std::cell::Cell;

/// An upstream that counts its calls, and the unavailable answers in a row: the sweep's budget
/// and circuit breaker. The edge wraps its one client in it for requests and sweeps alike, so
/// the wasm bundle holds one copy of the code generic over the upstream, not two.
pub struct Counted<U> {
    inner: U,
    made: Cell<u32>,
    streak: Cell<u32>,
}

impl<U> Counted<U> {
    pub fn new(inner: U) -> Self {
        Counted {
            inner,
            made: Cell::new(0),
            streak: Cell::new(0),
        }
    }

    /// Calls made so far.
    pub fn made(&self) -> u32 {
        self.made.get()
    }

    /// Unavailable answers since the last useful one.
    pub fn streak(&self) -> u32 {
        self.streak.get()
    }

    fn note<T>(&self, answer: Answer<T>) -> Answer<T> {
        self.made.set(self.made.get() + 1);
        let down = matches!(answer, Answer::Unavailable(_));
        self.streak
            .set(if down { self.streak.get() + 1 } else { 0 });
        answer
    }
}

impl<U> std::ops::Deref for Counted<U> {
    type Target = U;
    fn deref(&self) -> &U {
        &self.inner
    }
}

impl<U: Upstream> Upstream for Counted<U> {
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        self.note(self.inner.add(pin).await)
    }
    async fn get(&self, requestid: &str) -> Answer<UpstreamStatus> {
        self.note(self.inner.get(requestid).await)
    }
    async fn replace(&self, requestid: &str, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        self.note(self.inner.replace(requestid, pin).await)
    }
    async fn delete(&self, requestid: &str) -> Answer<()> {
        self.note(self.inner.delete(requestid).await)
    }
    async fn list_by_cid(&self, cid: &str, before: Millis) -> Answer<Vec<UpstreamStatus>> {
        self.note(self.inner.list_by_cid(cid, before).await)
    }
    async fn accept<C: Sender>(&self, body: &mut C, ask: &Accept) -> Result<Uploaded, UploadError> {
        self.inner.accept(body, ask).await
    }
    async fn collect(&self, cursor: Option<String>) -> Answer<(u32, Option<String>)> {
        self.note(self.inner.collect(cursor).await)
    }
}
