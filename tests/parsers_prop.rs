//! Bad input at scale (issue 13, item 4): every parser that sees client bytes — the query
//! string, the JSON bodies of pins and tokens, Basic and Bearer headers, a JWT's segments — fed
//! a fixed budget of inputs grown from the seed corpus (`tests/corpus/*.txt`, one seed a line)
//! by byte-wise and structural mutation, with a small seeded generator so every run is the
//! same. Each goes through the whole request path (`app::handle`); the property: no panic,
//! never a 5xx, and every refusal the spec's `Failure` with a 4xx status.
//!
//! A new parser gets a target: a corpus file and an entry in `TARGETS` saying where its bytes
//! go. (The CAR reader, once `src/ipld` has one, is fed the same way: its target is the upload
//! request's body, or its parse function directly, with `corpus/car.txt` as hex seeds.)
//! `FUZZ_CASES` sets the budget per target (default 4000); the figures are printed.

mod common;

use base64::Engine;
use common::{basic, block_on, config, MemoryKv};
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::http::HttpRequest;
use edge_pinning::limits::Unlimited;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A linear congruential generator: tiny, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces that parsers treat specially, spliced in by the structural mutations.
const TOKENS: &[&str] = &[
    "%",
    "%2",
    "%zz",
    "%00",
    "%FF",
    "%C3%28",
    "+",
    "&",
    "=",
    ",",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
    ":",
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "18446744073709551616",
    "9999-12-31T23:59:59Z",
    "Z",
    ".",
    "..",
    "/",
    "Qm",
    "bafy",
    "baf",
    "k51",
    "f01",
    "z",
    "u",
    "\u{feff}",
    "\u{0}",
    "é",
    "Basic ",
    "Bearer ",
    ":",
    "=",
    "==",
    "eyJ",
    "alg",
    "none",
    "HS256",
];

fn mutate(rng: &mut Rng, seed: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(9) {
            0 if !b.is_empty() => {
                let i = at.min(b.len() - 1);
                b[i] ^= 1 << rng.below(8);
            }
            1 => b.insert(at, rng.next() as u8),
            2 if !b.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(b.len());
                b.drain(at.min(end)..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            4 if !b.is_empty() => {
                // Repeat a slice: long names, deep nesting, many commas.
                let end = (at + 1 + rng.below(16)).min(b.len());
                let piece = b[at.min(end)..end].to_vec();
                for _ in 0..rng.below(200) {
                    b.splice(at..at, piece.iter().copied());
                }
            }
            5 => {
                // Splice another seed in (crossover).
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(other.len() + 1);
                b.truncate(at);
                b.extend_from_slice(&other[cut..]);
            }
            6 if !b.is_empty() => b.truncate(at),
            7 => {
                let n = rng.below(3000);
                b.splice(at..at, std::iter::repeat_n(b'a', n));
            }
            _ => b.insert(at, b" \t\r\n"[rng.below(4)]),
        }
    }
    b
}

/// Where a target's bytes go in a request.
#[derive(Clone, Copy)]
enum Into {
    Query,
    PinBody,
    ReplaceBody,
    TokenBody,
    Authorization,
    JwtSegments,
}

const TARGETS: &[(&str, &str, Into)] = &[
    (
        "query string",
        include_str!("corpus/query.txt"),
        Into::Query,
    ),
    (
        "pin body",
        include_str!("corpus/pin_body.txt"),
        Into::PinBody,
    ),
    (
        "replace body",
        include_str!("corpus/pin_body.txt"),
        Into::ReplaceBody,
    ),
    (
        "token body",
        include_str!("corpus/token_body.txt"),
        Into::TokenBody,
    ),
    (
        "authorization",
        include_str!("corpus/authorization.txt"),
        Into::Authorization,
    ),
    ("jwt segments", "", Into::JwtSegments),
];

struct Service {
    kv: MemoryKv,
    config: edge_pinning::config::Config,
}

impl Service {
    fn call(
        &self,
        auth: &str,
        method: &str,
        path: &str,
        query: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let req = HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            authorization: Some(auth.to_owned()),
            client_ip: Some("192.0.2.1".into()),
            body,
        };
        let reply = block_on(edge_pinning::app::handle(
            req,
            self.kv.clone(),
            &Unlimited,
            Ok(&self.config),
            Millis(1_700_000_000_000),
        ));
        let body = reply.body.as_deref().map(serde_json::from_str);
        let body = match body {
            Some(Ok(v)) => v,
            Some(Err(_)) => Value::String("<not JSON>".into()),
            None => Value::Null,
        };
        (reply.status, body)
    }
}

/// A JWT with one segment's decoded JSON mutated, re-encoded (signature kept or mangled).
fn jwt_case(rng: &mut Rng, token: &str, corpus: &[Vec<u8>]) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let i = rng.below(3);
    let raw = b64.decode(&parts[i]).unwrap_or_default();
    let changed = mutate(rng, &raw, corpus);
    parts[i] = b64.encode(changed);
    if rng.below(4) == 0 {
        parts.truncate(rng.below(4));
    }
    format!("Bearer {}", parts.join("."))
}

#[test]
fn parsers_never_panic_and_refuse_with_4xx_failures() {
    let budget: usize = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let svc = Service {
        kv: MemoryKv::new(1000),
        config: config("instant"),
    };
    let alice = basic("alice");
    let (status, issued) = svc.call(&alice, "POST", "/token", "", b"{}".to_vec());
    assert_eq!(status, 200);
    let token = issued["token"].as_str().unwrap().to_owned();
    let seed_pin = br#"{"cid":"bafkreifua4i2rddqhf2w7ofhhat6vprmb7s2andmu7qkcbfnyd6hmt2sru"}"#;
    let (_, pinned) = svc.call(&alice, "POST", "/pins", "", seed_pin.to_vec());
    let pin_path = format!("/pins/{}", pinned["requestid"].as_str().unwrap());
    let mut rng = Rng(13);
    let (mut cases, mut refused, mut failures) = (0u64, 0u64, Vec::new());
    for &(name, seeds, into) in TARGETS {
        let mut corpus: Vec<Vec<u8>> = seeds.lines().map(|l| l.as_bytes().to_vec()).collect();
        if corpus.is_empty() {
            corpus.push(token.as_bytes().to_vec());
        }
        for n in 0..budget {
            let seed = corpus[n % corpus.len()].clone();
            // Seeds first, as they are; then mutants.
            let input = if n < corpus.len() {
                seed
            } else {
                mutate(&mut rng, &seed, &corpus)
            };
            let text = String::from_utf8_lossy(&input).into_owned();
            let outcome = catch_unwind(AssertUnwindSafe(|| match into {
                Into::Query => svc.call(&alice, "GET", "/pins", &text, Vec::new()),
                Into::PinBody => svc.call(&alice, "POST", "/pins", "", input.clone()),
                Into::ReplaceBody => svc.call(&alice, "POST", &pin_path, "", input.clone()),
                Into::TokenBody => svc.call(&alice, "POST", "/token", "", input.clone()),
                Into::Authorization => svc.call(&text, "GET", "/pins", "limit=1", Vec::new()),
                Into::JwtSegments => {
                    let auth = jwt_case(&mut Rng(n as u64), &token, &corpus);
                    svc.call(&auth, "GET", "/pins", "limit=1", Vec::new())
                }
            }));
            cases += 1;
            let (status, body) = match outcome {
                Ok(answer) => answer,
                Err(_) => {
                    failures.push(format!("{name}: panic on {text:?}"));
                    continue;
                }
            };
            if (200..300).contains(&status) {
                continue;
            }
            refused += 1;
            let shaped =
                body["error"]["reason"].is_string() && body["error"]["details"].is_string();
            if !(400..500).contains(&status) || !shaped {
                failures.push(format!("{name}: {status} {body} on {text:?}"));
            }
        }
    }
    println!(
        "parsers: {cases} fuzz cases run over {} targets, {refused} refused (each a 4xx Failure), {} panics or bad refusals",
        TARGETS.len(),
        failures.len()
    );
    for f in failures.iter().take(20) {
        println!("  {f}");
    }
    assert!(failures.is_empty(), "{} bad answers", failures.len());
}
