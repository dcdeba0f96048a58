//! Rate limits. The edge backs `Limiter` with a Workers rate-limit binding (a counter per key
//! per Cloudflare location, no KV writes); the core only decides which key a request counts
//! against: the user once signed in, the client address for failed sign-ins.

/// The binding's period in wrangler.toml, sent as `Retry-After`.
pub const PERIOD_SECS: u32 = 60;

#[allow(async_fn_in_trait)] // Workers run one thread; no `Send` bound is wanted.
pub trait Limiter {
    /// Counts one request against `key`; false when the key is over its limit.
    async fn allow(&self, key: &str) -> bool;
}

/// No limits: when the binding is absent, and in tests that are not about limits.
pub struct Unlimited;

impl Limiter for Unlimited {
    async fn allow(&self, _key: &str) -> bool {
        true
    }
}

pub fn user_key(user: &str) -> String {
    format!("user:{user}")
}

pub fn address_key(ip: &str) -> String {
    format!("ip:{ip}")
}
