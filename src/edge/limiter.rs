//! `limits::Limiter` on a Workers rate-limit binding (`RATE_LIMITER` in wrangler.toml).

use crate::limits::Limiter;
use worker::{console_error, RateLimiter};

/// `None` when the binding is absent: no limits.
pub struct BindingLimiter(pub Option<RateLimiter>);

impl Limiter for BindingLimiter {
    async fn allow(&self, key: &str) -> bool {
        let Some(binding) = &self.0 else { return true };
        match binding.limit(key.to_owned()).await {
            Ok(outcome) => outcome.success,
            // Fail open: an outage of the limiter must not take the service down with it.
            Err(e) => {
                console_error!("rate limiter: {e}");
                true
            }
        }
    }
}
