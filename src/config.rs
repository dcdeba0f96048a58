//! The worker's settings, read from its vars and secrets (see README, "Configuration").

use crate::auth::{users::Users, AuthConfig};
use crate::backend::Backend;
use crate::domain::origins::looks_like_multiaddr;

pub const DEFAULT_TOKEN_TTL_SECS: u64 = 365 * 24 * 3600;
const MIN_JWT_SECRET_BYTES: usize = 16;

pub struct Config {
    pub auth: AuthConfig,
    pub backend: Backend,
    pub delegates: Vec<String>,
    pub token_ttl_secs: u64,
    pub debug_kv_ops: bool,
}

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
        let debug_kv_ops = get("DEBUG_KV_OPS").is_some_and(|v| v == "1" || v == "true");
        Ok(Config {
            auth: AuthConfig { users, jwt_secret },
            backend,
            delegates,
            token_ttl_secs,
            debug_kv_ops,
        })
    }
}

/// Comma- or whitespace-separated multiaddrs, each ending in `/p2p/<peer id>`: Kubo dials every
/// delegate and gives up on a pin whose delegates it cannot parse.
pub fn parse_delegates(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for d in s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|d| !d.is_empty())
    {
        let bad = |why: &str| format!("DELEGATES: '{d}' {why}");
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
mod tests {
    use super::*;

    const PEER: &str = "/ip4/127.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";

    #[test]
    fn delegates() {
        let two = format!("{PEER}, /dns4/x.example/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");
        assert_eq!(parse_delegates(&two).unwrap().len(), 2);
        assert!(parse_delegates("").is_err());
        assert!(parse_delegates("/ip4/127.0.0.1/tcp/4001").is_err());
        assert!(parse_delegates("/ip4/127.0.0.1/tcp/4001/p2p/notapeer").is_err());
    }

    #[test]
    fn settings() {
        let env = |k: &str| match k {
            "USERS" => Some(r#"{"dev":"dev"}"#.to_owned()),
            "JWT_SECRET" => Some("0123456789abcdef".to_owned()),
            "PIN_BACKEND" => Some("instant".to_owned()),
            "DELEGATES" => Some(PEER.to_owned()),
            _ => None,
        };
        let c = Config::from_env(env).unwrap();
        assert_eq!(c.backend, Backend::Instant);
        assert_eq!(c.token_ttl_secs, DEFAULT_TOKEN_TTL_SECS);
        assert!(!c.debug_kv_ops);
        let missing = |k: &str| if k == "PIN_BACKEND" { None } else { env(k) };
        assert_eq!(
            Config::from_env(missing).err().unwrap(),
            "PIN_BACKEND is not set"
        );
        let short = |k: &str| {
            if k == "JWT_SECRET" {
                Some("short".into())
            } else {
                env(k)
            }
        };
        assert!(Config::from_env(short).is_err());
    }
}
