//! `limits::Limiter` on Workers rate-limit bindings: `RATE_LIMITER` (per user) and
//! `SIGNIN_LIMITER` (per client address) in wrangler.toml.

use super::quota;
use crate::limits::{Blocked, Bucket, Limiter};
use crate::quota::QuotaCall;
use std::sync::atomic::{AtomicBool, Ordering};
use worker::{console_error, ObjectNamespace, RateLimiter};

/// Whether this isolate has said that the daily budgets are off (once is enough).
static NO_QUOTAS_LOGGED: AtomicBool = AtomicBool::new(false);

/// A binding that is absent switches its limit off.
pub struct BindingLimiter {
    pub requests: Option<RateLimiter>,
    pub sign_ins: Option<RateLimiter>,
    /// This isolate's memory of addresses over their sign-in budget.
    pub blocked: &'static Blocked,
    /// The users' daily budgets (`USER_QUOTAS`); absent: no budgets, logged.
    pub quotas: Option<ObjectNamespace>,
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

    async fn spend_daily(&self, user: &str, call: &QuotaCall) -> bool {
        let Some(ns) = &self.quotas else {
            if !NO_QUOTAS_LOGGED.swap(true, Ordering::Relaxed) {
                console_error!("daily budgets are off: no USER_QUOTAS binding");
            }
            return true;
        };
        match quota::spend(ns, user, call).await {
            Ok(granted) => granted,
            // Fail open, as the rate limits do: the budgets' outage is not the service's.
            Err(e) => {
                console_error!("daily budget of a user: {e}");
                true
            }
        }
    }
}
