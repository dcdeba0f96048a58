//! Rate limits. The edge backs `Limiter` with Workers rate-limit bindings (a counter per key
//! per Cloudflare location, no KV writes); the core decides which budget and key a request
//! spends: the user's request budget once signed in, the client address's sign-in budget for
//! every password check and every failed sign-in.

use crate::quota::QuotaCall;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

/// The bindings' period in wrangler.toml, sent as `Retry-After`.
pub const PERIOD_SECS: u32 = 60;

/// Which budget a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Every signed-in request, per user (`RATE_LIMITER`).
    Requests,
    /// Password checks and failed sign-ins, per client address (`SIGNIN_LIMITER`).
    SignIns,
}

#[allow(async_fn_in_trait)] // Workers run one thread; no `Send` bound is wanted.
pub trait Limiter {
    /// Counts one unit of `bucket` against `key`; false when the key is over its limit.
    async fn allow(&self, bucket: Bucket, key: &str) -> bool;

    /// This instance's memory of addresses whose sign-in budget is spent, if it keeps one.
    fn blocked(&self) -> Option<&Blocked> {
        None
    }

    /// Spends from `user`'s daily budget (`quota`); false once it is spent. An implementation
    /// that cannot ask lets the request through (and says so in its log).
    async fn spend_daily(&self, _user: &str, _call: &QuotaCall) -> bool {
        true
    }
}

/// No limits: when the bindings are absent, and in tests that are not about limits.
pub struct Unlimited;

impl Limiter for Unlimited {
    async fn allow(&self, _bucket: Bucket, _key: &str) -> bool {
        true
    }
}

pub fn user_key(user: &str) -> String {
    format!("user:{user}")
}

/// The sign-in budget's key for a client address: an IPv4 address, or an IPv6 client's /64
/// (one subscriber's whole allocation, which a guesser could otherwise walk through).
/// Everything without a readable address shares one key.
pub fn address_key(ip: Option<&str>) -> String {
    match ip.and_then(|s| s.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("ip:{net}/64")
            }
        },
        None => "ip:unknown".to_owned(),
    }
}

/// Addresses this isolate has seen over their sign-in budget, refused every sign-in until the
/// window passes. A rate-limit binding cannot be read without spending it, so a sign-in that
/// does not spend (a Bearer token that verifies) is checked here; the binding stays the bound.
#[derive(Default)]
pub struct Blocked(Mutex<BTreeMap<String, u64>>);

/// Bound on the memory; past it, lapsed entries go, then (under a flood) the oldest half.
const BLOCKED_MEMORY: usize = 10_000;

impl Blocked {
    /// Seconds until `address` may sign in again, if it is blocked at `now_ms`.
    pub fn refused(&self, address: &str, now_ms: u64) -> Option<u32> {
        let until = *self.0.lock().ok()?.get(address)?;
        (until > now_ms).then(|| until.saturating_sub(now_ms).div_ceil(1000) as u32)
    }

    /// `address` went over its budget at `now_ms`: refuse it for a whole period.
    pub fn block(&self, address: &str, now_ms: u64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= BLOCKED_MEMORY {
            map.retain(|_, until| *until > now_ms);
        }
        if map.len() >= BLOCKED_MEMORY {
            let mut untils: Vec<u64> = map.values().copied().collect();
            untils.sort_unstable();
            let cut = untils[untils.len() / 2];
            map.retain(|_, until| *until > cut);
        }
        map.insert(address.to_owned(), now_ms + u64::from(PERIOD_SECS) * 1000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_64() {
        let a = address_key(Some("2001:db8:1:2:aaaa::1"));
        assert_eq!(a, "ip:2001:db8:1:2::/64");
        assert_eq!(address_key(Some("2001:db8:1:2:ffff:1:2:3")), a);
        assert_ne!(address_key(Some("2001:db8:1:3::1")), a);
        assert_eq!(address_key(Some("192.0.2.1")), "ip:192.0.2.1");
        assert_eq!(address_key(Some("::ffff:192.0.2.1")), "ip:192.0.2.1");
        assert_eq!(address_key(Some("nonsense")), "ip:unknown");
        assert_eq!(address_key(None), "ip:unknown");
    }

    #[test]
    fn a_block_lasts_one_period() {
        let b = Blocked::default();
        assert_eq!(b.refused("ip:a", 0), None);
        b.block("ip:a", 1_000);
        assert_eq!(b.refused("ip:a", 1_000), Some(PERIOD_SECS));
        assert_eq!(b.refused("ip:a", 60_500), Some(1));
        assert_eq!(b.refused("ip:a", 61_000), None);
        assert_eq!(b.refused("ip:b", 1_000), None);
        for i in 0..BLOCKED_MEMORY as u64 + 10 {
            b.block(&format!("ip:{i}"), i);
        }
        assert!(b.0.lock().unwrap().len() <= BLOCKED_MEMORY);
        assert!(b.refused("ip:10009", 10_009).is_some(), "the newest stay");
    }
}
