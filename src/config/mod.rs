//! The worker's settings, read from its vars and secrets (see README, "Configuration").

use crate::auth::{users::Users, AuthConfig};
use crate::backend::Backend;
use crate::domain::origins::looks_like_multiaddr;
use crate::gateway::{parse_mode, Mode};
use crate::r2::{self, sources::parse_gateways, R2Settings, DEFAULT_GATEWAYS};

pub const DEFAULT_TOKEN_TTL_SECS: u64 = 365 * 24 * 3600;
const MIN_JWT_SECRET_BYTES: usize = 16;

pub struct Config {
    pub auth: AuthConfig,
    pub backend: Backend,
    /// Set exactly when the backend is a real one (`upstream`, `r2`): the per-CID lifecycle's
    /// settings and the provider it runs over.
    pub upstream: Option<UpstreamSettings>,
    pub delegates: Vec<String>,
    pub token_ttl_secs: u64,
    pub debug_kv_ops: bool,
    /// Write requests one user may make per UTC day; 0: no budget.
    pub daily_writes: u32,
    /// Listings one user may make per UTC day (a `cid=` lookup counts one per CID); 0: none.
    pub daily_lists: u32,
    /// Who may read `/ipfs/…` (README, "Reading pins back: the gateway").
    pub gateway: Mode,
}

/// Sized for the free plan (1,000 KV writes, deletes and lists a day for the whole account):
/// one user's adds (3 writes each) stay under a third of it. README, "Rate limits".
pub const DEFAULT_DAILY_WRITES: u32 = 100;
pub const DEFAULT_DAILY_LISTS: u32 = 300;

impl Config {
    /// `get` reads a var or secret by name. Errors name the setting, never its value.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let required = |k: &str| {
            get(k)
                .filter(|v| !v.trim().is_empty())
                .ok_or(format!("{k} is not set"))
        };
        let users = Users::parse(&required("USERS")?)?;
        let jwt_secret = required("JWT_SECRET")?.into_bytes();
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(format!(
                "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
            ));
        }
        let backend = Backend::parse(required("PIN_BACKEND")?.trim())?;
        let delegates = parse_delegates(&required("DELEGATES")?)?;
        let token_ttl_secs = match get("TOKEN_TTL_SECONDS") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or("TOKEN_TTL_SECONDS must be a positive integer")?,
            None => DEFAULT_TOKEN_TTL_SECS,
        };
        let daily = |k: &str, default: u32| match get(k) {
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("{k} must be an integer from 0 (no budget) to {}", u32::MAX)),
            None => Ok(default),
        };
        let daily_writes = daily("DAILY_WRITES_PER_USER", DEFAULT_DAILY_WRITES)?;
        let daily_lists = daily("DAILY_LISTS_PER_USER", DEFAULT_DAILY_LISTS)?;
        let debug_kv_ops = get("DEBUG_KV_OPS").is_some_and(|v| v == "1" || v == "true");
        let upstream = match backend {
            Backend::Upstream | Backend::R2 => Some(UpstreamSettings::from_env(backend, &get)?),
            _ => None,
        };
        Ok(Config {
            auth: AuthConfig { users, jwt_secret },
            backend,
            upstream,
            delegates,
            token_ttl_secs,
            debug_kv_ops,
            daily_writes,
            daily_lists,
            gateway: parse_mode(get("GATEWAY").as_deref())?,
        })
    }
}

/// The provider a real backend pins through.
pub enum Provider {
    /// A Pinning Service API provider (README, "Real pinning").
    Psa {
        /// The provider's endpoint, without a trailing slash.
        url: String,
        /// Sent as `Authorization: Bearer …`; never logged.
        token: String,
    },
    /// The service itself, keeping DAGs in R2 (README, "Pins kept in R2").
    R2(R2Settings),
}

/// How a real backend reaches its provider, and the lifecycle's timings (README, "Real pinning").
pub struct UpstreamSettings {
    pub provider: Provider,
    /// A read of a pin that is not final asks the upstream at most this often (per isolate).
    pub refresh_secs: u64,
    /// First wait after a failed call; doubles per failure, up to an hour.
    pub retry_secs: u64,
    /// How long a CID's holders must stay gone before the sweep unpins it upstream; at least
    /// twice KV's ~60 s propagation bound (docs/storage.md, "Upstream backend").
    pub grace_secs: u64,
    /// Upstream calls one cron run may make (the free plan allows 50 subrequests).
    pub sweep_calls: u32,
}

impl UpstreamSettings {
    fn from_env(
        backend: Backend,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<UpstreamSettings, String> {
        let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let number = |k: &str, default: u64, max: u64| match set(k) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or(format!("{k} must be an integer from 0 to {max}")),
        };
        let provider = match backend {
            Backend::R2 => Provider::R2(R2Settings {
                gateways: match set("GATEWAYS") {
                    Some(g) => parse_gateways(&g)?,
                    None => DEFAULT_GATEWAYS.iter().map(|g| (*g).to_owned()).collect(),
                },
                max_pin_bytes: number("MAX_PIN_BYTES", r2::DEFAULT_MAX_PIN_BYTES, 1 << 50)?,
                step_bytes: number("R2_STEP_BYTES", r2::DEFAULT_STEP_BYTES, 96 << 20)?.max(1),
                step_fetches: number("R2_STEP_FETCHES", r2::DEFAULT_STEP_FETCHES.into(), 1000)?
                    .max(1) as u32,
                retry_secs: number("R2_RETRY_SECONDS", r2::DEFAULT_RETRY_SECS, 86_400)?,
                max_tries: number("R2_MAX_TRIES", r2::DEFAULT_MAX_TRIES.into(), 100)?.max(1) as u32,
                quota: r2::Quota::parse(set("QUOTA_BYTES").as_deref(), set("QUOTAS").as_deref())?,
                upload_bytes: number("CAR_MAX_BYTES", r2::DEFAULT_UPLOAD_BYTES, 1 << 40)?,
            }),
            _ => psa_from_env(&set)?,
        };
        Ok(UpstreamSettings {
            provider,
            refresh_secs: number("UPSTREAM_REFRESH_SECONDS", 10, 86_400)?,
            retry_secs: number("UPSTREAM_RETRY_SECONDS", 60, 86_400)?,
            grace_secs: number("UPSTREAM_RELEASE_GRACE_SECONDS", 120, 86_400)?,
            sweep_calls: number("UPSTREAM_SWEEP_BUDGET", 40, 10_000)? as u32,
        })
    }
}

fn psa_from_env(set: &impl Fn(&str) -> Option<String>) -> Result<Provider, String> {
    let url = set("UPSTREAM_URL").ok_or("UPSTREAM_URL is not set (PIN_BACKEND is upstream)")?;
    let url = url.trim().trim_end_matches('/').to_owned();
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok || url.chars().any(char::is_whitespace) || url.contains(['?', '#']) {
        return Err("UPSTREAM_URL must be an http(s) URL without query or fragment".into());
    }
    let token = set("UPSTREAM_TOKEN")
        .ok_or("UPSTREAM_TOKEN is not set (PIN_BACKEND is upstream)")?
        .trim()
        .to_owned();
    Ok(Provider::Psa { url, token })
}

/// Comma- or whitespace-separated multiaddrs, each ending in `/p2p/<peer id>`: Kubo dials every
/// delegate and gives up on a pin whose delegates it cannot parse.
pub fn parse_delegates(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for (i, d) in s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|d| !d.is_empty())
        .enumerate()
    {
        // DELEGATES may be a secret: say which item and what is wrong, never the item.
        let bad = |why: &str| format!("DELEGATES: item {} {why}", i + 1);
        looks_like_multiaddr(d).map_err(bad)?;
        let peer = d
            .rsplit_once("/p2p/")
            .map(|(_, p)| p)
            .ok_or_else(|| bad("must end with /p2p/<peer id>"))?;
        if !is_peer_id(peer) {
            return Err(bad("does not end with a valid peer id"));
        }
        if !out.iter().any(|o| o == d) {
            out.push(d.to_owned());
        }
    }
    match out.len() {
        0 => Err("DELEGATES must name at least one multiaddr".into()),
        1..=20 => Ok(out),
        n => Err(format!("DELEGATES: at most 20, got {n}")),
    }
}

/// A libp2p peer id: a base58btc multihash (`Qm…`, `12D3Koo…`) or a CIDv1 (`bafz…`, `k51…`).
fn is_peer_id(s: &str) -> bool {
    let as_base58_multihash = || {
        cid::multibase::Base::Base58Btc
            .decode(s)
            .ok()
            .is_some_and(|bytes| cid::multihash::Multihash::<64>::from_bytes(&bytes).is_ok())
    };
    !s.is_empty() && !s.contains('/') && (as_base58_multihash() || cid::Cid::try_from(s).is_ok())
}

#[cfg(test)]
mod tests;
