//! Request bodies as they arrive. The app reads one only after routing and sign-in, with the
//! route's own cap, and stops at the first byte over it: a client cannot make the worker hold
//! more than a route allows, nor make it read anything before it has signed in. A route that
//! takes a large upload (a CAR) reads the same stream chunk by chunk under its own cap.

use crate::error::ApiError;

#[allow(async_fn_in_trait)] // one thread: no `Send` wanted
pub trait RequestBody {
    /// The length the client declared (`Content-Length`), if any: a body declared over the
    /// cap is refused without reading a byte.
    fn declared_len(&self) -> Option<u64>;

    /// The next chunk, `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError>;
}

/// A body already in memory (tests, benchmarks): one chunk.
impl RequestBody for Vec<u8> {
    fn declared_len(&self) -> Option<u64> {
        Some(self.len() as u64)
    }

    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        Ok((!self.is_empty()).then(|| std::mem::take(self)))
    }
}

/// The whole body, refused with a 413 as soon as more than `cap` bytes have arrived.
pub async fn read_capped<B: RequestBody>(body: &mut B, cap: usize) -> Result<Vec<u8>, ApiError> {
    if body.declared_len().is_some_and(|n| n > cap as u64) {
        return Err(too_large(cap));
    }
    let mut out = Vec::new();
    while let Some(chunk) = body.next_chunk().await? {
        if out.len() + chunk.len() > cap {
            return Err(too_large(cap));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// What a refused upload may still send before its answer: read and dropped (see `drain`).
pub const REFUSED_DRAIN_BYTES: u64 = 8 << 20;

/// Reads and drops the rest of a refused body, at most `limit` bytes of it. A client still
/// sending (a browser uploading a file over HTTP/1.1) whose body is left unread may see the
/// connection reset instead of the answer; `wrangler dev`'s proxy turns it into a 503 "worker
/// restarted mid-request" (workerd issue 4660). A body larger than `limit` is left, unread.
pub async fn drain<B: RequestBody>(body: &mut B, limit: u64) {
    let mut left = limit;
    while left > 0 {
        match body.next_chunk().await {
            Ok(Some(chunk)) => left = left.saturating_sub(chunk.len() as u64),
            Ok(None) | Err(_) => break,
        }
    }
}

pub fn too_large(cap: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("request body larger than {cap} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn now<F: std::future::Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("never waits"),
        }
    }

    /// Endless 1 KiB chunks with no declared length, counting what was taken.
    struct Endless(usize);

    impl RequestBody for Endless {
        fn declared_len(&self) -> Option<u64> {
            None
        }
        async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
            self.0 += 1;
            Ok(Some(vec![b' '; 1024]))
        }
    }

    #[test]
    fn stops_at_the_first_chunk_over_the_cap() {
        let mut endless = Endless(0);
        let e = now(read_capped(&mut endless, 64 * 1024)).unwrap_err();
        assert!(matches!(e, ApiError::PayloadTooLarge(_)));
        assert_eq!(endless.0, 65, "read one chunk past the cap, no more");
    }

    #[test]
    fn drains_a_refused_body_to_its_end_or_the_limit() {
        let mut endless = Endless(0);
        now(drain(&mut endless, 10 * 1024));
        assert_eq!(endless.0, 10, "stops at the limit");
        let mut rest = vec![7u8; 5000];
        now(drain(&mut rest, 10 * 1024));
        assert!(rest.is_empty(), "read to its end");
    }

    #[test]
    fn reads_bodies_up_to_the_cap() {
        assert_eq!(now(read_capped(&mut b"{}".to_vec(), 2)).unwrap(), b"{}");
        assert_eq!(now(read_capped(&mut Vec::new(), 2)).unwrap(), b"");
        assert!(now(read_capped(&mut b"{ }".to_vec(), 2)).is_err());
    }
}
