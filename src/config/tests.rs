//! Settings parsed from the environment: every setting, its defaults and its refusals.

use super::*;

const PEER: &str = "/ip4/127.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";

#[test]
fn delegates() {
    let two = format!(
        "{PEER}, /dns4/x.example/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
    );
    assert_eq!(parse_delegates(&two).unwrap().len(), 2);
    assert!(parse_delegates("").is_err());
    assert!(parse_delegates("/ip4/127.0.0.1/tcp/4001").is_err());
    assert!(parse_delegates("/ip4/127.0.0.1/tcp/4001/p2p/notapeer").is_err());
}

/// A setting's error names the setting and what is wrong with it, never its value: the text
/// is every client's 500 and the log's line. One bad value per setting the worker reads.
#[test]
fn errors_never_quote_a_value() {
    const SECRET: &str = "s3cr3t-739184265";
    let good = |k: &str| -> Option<String> {
        Some(match k {
            "USERS" => r#"{"dev":"dev"}"#.to_owned(),
            "JWT_SECRET" => "0123456789abcdef".to_owned(),
            "PIN_BACKEND" => "upstream".to_owned(),
            "DELEGATES" => PEER.to_owned(),
            "UPSTREAM_URL" => "https://cluster.example".to_owned(),
            "UPSTREAM_TOKEN" => "t".to_owned(),
            _ => return None,
        })
    };
    let bad_values = [
        ("USERS", format!(r#"{{"bob":{}}}"#, 739184265)),
        ("USERS", format!(r#"{{"bob/{SECRET}":"pw"}}"#)),
        ("USERS", format!(r#"{{"bob":"{SECRET}""#)),
        ("USERS", format!(r#"["{SECRET}"]"#)),
        ("JWT_SECRET", "s3cr3t".to_owned()),
        ("PIN_BACKEND", SECRET.to_owned()),
        ("DELEGATES", format!("{PEER},/ip4/{SECRET}")),
        ("DELEGATES", format!("/ip4/1.2.3.4/tcp/1/p2p/{SECRET}")),
        ("DELEGATES", format!("{SECRET} {PEER}")),
        ("TOKEN_TTL_SECONDS", SECRET.to_owned()),
        ("UPSTREAM_URL", format!("ftp://{SECRET}")),
        ("UPSTREAM_REFRESH_SECONDS", SECRET.to_owned()),
        ("UPSTREAM_RETRY_SECONDS", SECRET.to_owned()),
        ("UPSTREAM_RELEASE_GRACE_SECONDS", SECRET.to_owned()),
        ("UPSTREAM_SWEEP_BUDGET", SECRET.to_owned()),
        ("DAILY_WRITES_PER_USER", SECRET.to_owned()),
        ("DAILY_LISTS_PER_USER", "-1".to_owned()),
    ];
    for (setting, value) in bad_values {
        let env = |k: &str| {
            if k == setting {
                Some(value.clone())
            } else {
                good(k)
            }
        };
        let e = Config::from_env(env)
            .err()
            .unwrap_or_else(|| panic!("{setting}"));
        assert!(e.contains(setting), "{setting}: {e}");
        for secret in ["739184265", "s3cr3t", "bob"] {
            assert!(!e.contains(secret), "{setting} quoted its value: {e}");
        }
    }
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
    assert!(c.upstream.is_none());
}

#[test]
fn upstream_settings() {
    let env = |url: &'static str, token: Option<&'static str>| {
        move |k: &str| match k {
            "USERS" => Some(r#"{"dev":"dev"}"#.to_owned()),
            "JWT_SECRET" => Some("0123456789abcdef".to_owned()),
            "PIN_BACKEND" => Some("upstream".to_owned()),
            "DELEGATES" => Some(PEER.to_owned()),
            "UPSTREAM_URL" => Some(url.to_owned()),
            "UPSTREAM_TOKEN" => token.map(str::to_owned),
            "UPSTREAM_SWEEP_BUDGET" => Some("25".to_owned()),
            _ => None,
        }
    };
    let c = Config::from_env(env("http://cluster:9097/", Some("s3cret"))).unwrap();
    let u = c.upstream.unwrap();
    let Provider::Psa { url, token } = &u.provider else {
        panic!("a PSA provider")
    };
    assert_eq!(
        (url.as_str(), token.as_str()),
        ("http://cluster:9097", "s3cret")
    );
    assert_eq!(
        (u.refresh_secs, u.retry_secs, u.grace_secs, u.sweep_calls),
        (10, 60, 120, 25)
    );
    let missing = Config::from_env(env("http://cluster:9097", None))
        .err()
        .unwrap();
    assert!(missing.contains("UPSTREAM_TOKEN") && !missing.contains("s3cret"));
    assert!(Config::from_env(env("ftp://x", Some("t"))).is_err());
}
