//! `limits::Limiter` on Workers rate-limit bindings: `RATE_LIMITER` (per user) and
//! `SIGNIN_LIMITER` (per client address) in wrangler.toml.

use crate::limits::{Blocked, Bucket, Limiter};
use worker::{console_error, RateLimiter};

/// A binding that is absent switches its limit off.
pub struct BindingLimiter {
    pub requests: Option<RateLimiter>,
    pub sign_ins: Option<RateLimiter>,
    /// This isolate's memory of addresses over their sign-in budget.
    pub blocked: &'static Blocked,
}

impl Limiter for BindingLimiter {
    async fn allow(&self, bucket: Bucket, key: &str) -> bool {
        let binding = match bucket {
            Bucket::Requests => &self.requests,
            Bucket::SignIns => &self.sign_ins,
        };
        let Some(binding) = binding else { return true };
        match binding.limit(key.to_owned()).await {
            Ok(outcome) => outcome.success,
            // Fail open: an outage of the limiter must not take the service down with it.
            Err(e) => {
                console_error!("rate limiter: {e}");
                true
            }
        }
    }

    fn blocked(&self) -> Option<&Blocked> {
        Some(self.blocked)
    }
}
