//! The parsed `Config`, kept per isolate and reused while every setting it was built from reads
//! the same.
//!
//! Parsing the settings on every request (the `USERS` JSON, the delegates' peer ids, the
//! numbers) cost a `GET /pins/{id}` a measurable share of its time (README, "Benchmark"). The
//! cache is keyed by the raw value of every setting `Config::from_env` may read, secrets
//! included, read afresh on every request and compared whole; and the config is parsed from
//! exactly the values compared. So a changed secret (`wrangler secret put`, which Cloudflare
//! applies by starting new isolates anyway) or var can never be answered from a config built from
//! the old value: the values differ and the config is parsed again. The values held are the ones
//! the config holds parsed anyway, and only as long as the isolate whose settings they are.
//! (A SHA-256 of them was the key before: the same guarantee, at a hash per request.)

use crate::config::Config;
use std::cell::RefCell;
use std::rc::Rc;

/// Every setting `Config::from_env` may read (a test keeps the list complete).
pub const SETTINGS: &[&str] = &[
    "USERS",
    "JWT_SECRET",
    "PIN_BACKEND",
    "DELEGATES",
    "TOKEN_TTL_SECONDS",
    "DAILY_WRITES_PER_USER",
    "DAILY_LISTS_PER_USER",
    "DEBUG_KV_OPS",
    "GATEWAY",
    "GATEWAYS",
    "MAX_PIN_BYTES",
    "R2_STEP_BYTES",
    "R2_STEP_FETCHES",
    "R2_RETRY_SECONDS",
    "R2_MAX_TRIES",
    "QUOTA_BYTES",
    "QUOTAS",
    "CAR_MAX_BYTES",
    "UPSTREAM_URL",
    "UPSTREAM_TOKEN",
    "UPSTREAM_REFRESH_SECONDS",
    "UPSTREAM_RETRY_SECONDS",
    "UPSTREAM_RELEASE_GRACE_SECONDS",
    "UPSTREAM_SWEEP_BUDGET",
];

/// A parsed configuration, or why the settings do not make one (cached alike).
pub type Parsed = Rc<Result<Config, String>>;

thread_local! {
    static CACHE: RefCell<Option<(Vec<Option<String>>, Parsed)>> = const { RefCell::new(None) };
}

/// The configuration the settings `read` returns make, parsed only when they differ from the
/// ones the cached configuration was built from. `read` gets each setting's index in
/// `SETTINGS` and its name.
pub fn config(read: impl Fn(usize, &str) -> Option<String>) -> Parsed {
    let values: Vec<Option<String>> = SETTINGS
        .iter()
        .enumerate()
        .map(|(i, k)| read(i, k))
        .collect();
    if let Some(parsed) = CACHE.with_borrow(|c| {
        c.as_ref()
            .filter(|(k, _)| *k == values)
            .map(|(_, p)| Rc::clone(p))
    }) {
        return parsed;
    }
    let parsed = Rc::new(Config::from_env(|k| {
        let i = SETTINGS.iter().position(|s| *s == k)?;
        values[i].clone()
    }));
    CACHE.set(Some((values, Rc::clone(&parsed))));
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    const PEER: &str = "/ip4/127.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";

    fn base(backend: &str) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("USERS", r#"{"dev":"dev"}"#.to_owned()),
            ("JWT_SECRET", "0123456789abcdef".to_owned()),
            ("PIN_BACKEND", backend.to_owned()),
            ("DELEGATES", PEER.to_owned()),
            ("UPSTREAM_URL", "https://cluster.example".to_owned()),
            ("UPSTREAM_TOKEN", "t".to_owned()),
        ])
    }

    /// `from_env` asks for no setting outside `SETTINGS`, whichever backend (else a change to
    /// that setting would not change the key, and a stale config would be served).
    #[test]
    fn settings_lists_every_setting_read() {
        for backend in ["none", "instant", "upstream", "r2"] {
            let asked = RefCell::new(Vec::new());
            let env = base(backend);
            let parsed = Config::from_env(|k| {
                asked.borrow_mut().push(k.to_owned());
                env.get(k).cloned()
            });
            assert!(parsed.is_ok(), "{backend}: {:?}", parsed.err());
            for k in asked.into_inner() {
                assert!(
                    SETTINGS.contains(&k.as_str()),
                    "{k} is read but not in SETTINGS"
                );
            }
        }
    }

    fn jwt_secret(p: &Parsed) -> Vec<u8> {
        p.as_ref().as_ref().unwrap().auth.jwt_secret.clone()
    }

    #[test]
    fn reused_while_settings_read_the_same_and_rebuilt_when_any_changes() {
        let mut env = base("instant");
        let first = config(|_, k| env.get(k).cloned());
        let again = config(|_, k| env.get(k).cloned());
        assert!(Rc::ptr_eq(&first, &again), "same settings: parsed once");

        // A secret changes: the next request sees the new one, never the cached one.
        env.insert("JWT_SECRET", "another-secret-of-16+".to_owned());
        let rotated = config(|_, k| env.get(k).cloned());
        assert!(!Rc::ptr_eq(&first, &rotated));
        assert_eq!(jwt_secret(&rotated), b"another-secret-of-16+");

        // A password in USERS changes: the old one stops working at once.
        env.insert("USERS", r#"{"dev":"new-pw"}"#.to_owned());
        let users = config(|_, k| env.get(k).cloned());
        let c = users.as_ref().as_ref().unwrap();
        assert!(c.auth.users.verify("dev", "dev").is_none());
        assert!(c.auth.users.verify("dev", "new-pw").is_some());

        // An optional setting appearing counts as a change too, and so does one going away.
        env.insert("DEBUG_KV_OPS", "1".to_owned());
        assert!(
            config(|_, k| env.get(k).cloned())
                .as_ref()
                .as_ref()
                .unwrap()
                .debug_kv_ops
        );
        env.remove("DEBUG_KV_OPS");
        assert!(
            !config(|_, k| env.get(k).cloned())
                .as_ref()
                .as_ref()
                .unwrap()
                .debug_kv_ops
        );

        // Broken settings are an error, and stay one until they are fixed.
        env.insert("JWT_SECRET", "short".to_owned());
        assert!(config(|_, k| env.get(k).cloned()).is_err());
        env.insert("JWT_SECRET", "0123456789abcdef".to_owned());
        assert_eq!(
            jwt_secret(&config(|_, k| env.get(k).cloned())),
            b"0123456789abcdef"
        );
    }

    #[test]
    fn an_upstream_token_change_reaches_the_provider() {
        let mut env = base("upstream");
        let token = |p: Parsed| match &p
            .as_ref()
            .as_ref()
            .unwrap()
            .upstream
            .as_ref()
            .unwrap()
            .provider
        {
            Provider::Psa { token, .. } => token.clone(),
            Provider::R2(_) => panic!("a PSA provider"),
        };
        assert_eq!(token(config(|_, k| env.get(k).cloned())), "t");
        env.insert("UPSTREAM_TOKEN", "t2".to_owned());
        assert_eq!(token(config(|_, k| env.get(k).cloned())), "t2");
    }
}
