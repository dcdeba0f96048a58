//! The parsed `Config`, kept per isolate and reused while every setting it was built from reads
//! the same.
//!
//! Parsing the settings on every request (the `USERS` JSON, the delegates' peer ids, the
//! numbers) cost a `GET /pins/{id}` a measurable share of its time (README, "Benchmark"). The
//! cache is keyed by a snapshot of every setting `Config::from_env` may read, secrets included:
//! a JSON array of their values, read afresh on every request (in one call: `edge::settings`)
//! and compared whole; and the config is parsed from exactly the values compared. So a changed
//! secret (`wrangler secret put`, which Cloudflare applies by starting new isolates anyway) or
//! var can never be answered from a config built from the old value: the snapshots differ and
//! the config is parsed again. The values held are the ones the config holds parsed anyway, and
//! only as long as the isolate whose settings they are. (A SHA-256 of them was the key once:
//! the same guarantee, at a hash per request; then a call per setting: the same, at 24 calls.)

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
    static CACHE: RefCell<Option<(Vec<u8>, Parsed)>> = const { RefCell::new(None) };
}

/// The configuration a settings snapshot makes: a JSON array of each setting's value in
/// `SETTINGS` order, a string or `null` where it is not set (JSON text is equal exactly when the
/// values are). Parsed only when the snapshot differs from the one the cached configuration was
/// built from.
pub fn config(snapshot: &[u8]) -> Parsed {
    if let Some(parsed) = CACHE.with_borrow(|c| {
        c.as_ref()
            .filter(|(k, _)| k.as_slice() == snapshot)
            .map(|(_, p)| Rc::clone(p))
    }) {
        return parsed;
    }
    let parsed = Rc::new(
        match serde_json::from_slice::<Vec<Option<String>>>(snapshot) {
            Ok(values) if values.len() == SETTINGS.len() => Config::from_env(|k| {
                let i = SETTINGS.iter().position(|s| *s == k)?;
                values[i].clone()
            }),
            // JSON.stringify writes a lone surrogate as an escape no Rust string can hold.
            _ => Err(
                "the settings could not be read (a value that is not valid Unicode text?)"
                    .to_owned(),
            ),
        },
    );
    CACHE.set(Some((snapshot.to_vec(), Rc::clone(&parsed))));
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A snapshot as `edge::settings` makes one (JSON.stringify of the values), of `read`'s.
    fn snapshot(read: impl Fn(&str) -> Option<String>) -> Vec<u8> {
        let values: Vec<Option<String>> = SETTINGS.iter().map(|k| read(k)).collect();
        serde_json::to_vec(&values).unwrap()
    }

    #[test]
    fn a_snapshot_that_is_not_the_settings_is_an_error_not_a_panic() {
        let lone = format!("[{}]", vec![r#""\ud800""#; SETTINGS.len()].join(","));
        for bad in [&b"[]"[..], b"not json", b"{}", lone.as_bytes()] {
            let parsed = config(bad);
            assert_eq!(
                parsed.as_ref().as_ref().err().map(String::as_str),
                Some("the settings could not be read (a value that is not valid Unicode text?)")
            );
        }
    }

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
        let first = config(&snapshot(|k| env.get(k).cloned()));
        let again = config(&snapshot(|k| env.get(k).cloned()));
        assert!(Rc::ptr_eq(&first, &again), "same settings: parsed once");

        // A secret changes: the next request sees the new one, never the cached one.
        env.insert("JWT_SECRET", "another-secret-of-16+".to_owned());
        let rotated = config(&snapshot(|k| env.get(k).cloned()));
        assert!(!Rc::ptr_eq(&first, &rotated));
        assert_eq!(jwt_secret(&rotated), b"another-secret-of-16+");

        // A password in USERS changes: the old one stops working at once.
        env.insert("USERS", r#"{"dev":"new-pw"}"#.to_owned());
        let users = config(&snapshot(|k| env.get(k).cloned()));
        let c = users.as_ref().as_ref().unwrap();
        assert!(c.auth.users.verify("dev", "dev").is_none());
        assert!(c.auth.users.verify("dev", "new-pw").is_some());

        // An optional setting appearing counts as a change too, and so does one going away.
        env.insert("DEBUG_KV_OPS", "1".to_owned());
        assert!(
            config(&snapshot(|k| env.get(k).cloned()))
                .as_ref()
                .as_ref()
                .unwrap()
                .debug_kv_ops
        );
        env.remove("DEBUG_KV_OPS");
        assert!(
            !config(&snapshot(|k| env.get(k).cloned()))
                .as_ref()
                .as_ref()
                .unwrap()
                .debug_kv_ops
        );

        // Broken settings are an error, and stay one until they are fixed.
        env.insert("JWT_SECRET", "short".to_owned());
        assert!(config(&snapshot(|k| env.get(k).cloned())).is_err());
        env.insert("JWT_SECRET", "0123456789abcdef".to_owned());
        assert_eq!(
            jwt_secret(&config(&snapshot(|k| env.get(k).cloned()))),
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
        assert_eq!(token(config(&snapshot(|k| env.get(k).cloned()))), "t");
        env.insert("UPSTREAM_TOKEN", "t2".to_owned());
        assert_eq!(token(config(&snapshot(|k| env.get(k).cloned()))), "t2");
    }
}
