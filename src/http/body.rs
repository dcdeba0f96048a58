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
    fn reads_bodies_up_to_the_cap() {
        assert_eq!(now(read_capped(&mut b"{}".to_vec(), 2)).unwrap(), b"{}");
        assert_eq!(now(read_capped(&mut Vec::new(), 2)).unwrap(), b"");
        assert!(now(read_capped(&mut b"{ }".to_vec(), 2)).is_err());
    }
}
