//! CPU per request for the pure core, natively (`cargo bench --bench core`): JWT verification,
//! query parsing, and whole requests through `app::handle` over an in-memory KV, including a
//! page of 1000 pins filtered and serialized; and a CAR read, verified and walked, per MiB.
//! Prints µs per operation and the margin against the Workers free plan's 10 ms of CPU per
//! request; `--json` prints the same as JSON.
//!
//! Native x86-64 is faster than wasm in workerd, so the margin is what matters, not the figure.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{block_on, cid, Client};
use edge_pinning::auth::jwt::{self, Claims, Key};
use edge_pinning::domain::list_query::ListQuery;
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::http::{query, HttpRequest};
use edge_pinning::ipld::{block, car, links::links};
use edge_pinning::limits::Unlimited;
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

const FREE_PLAN_CPU_US: f64 = 10_000.0;

/// Median µs per call over `rounds` rounds of `iters` calls.
fn measure(iters: u32, rounds: u32, mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let as_json = std::env::args().any(|a| a == "--json");
    let mut rows: Vec<(&str, f64)> = Vec::new();

    let key = Key([7; 32]);
    let claims = Claims {
        sub: "alice".into(),
        jti: "0123456789abcdef0123456789abcdef".into(),
        iat: 1_700_000_000,
        exp: 1_800_000_000,
        nbf: None,
    };
    let token = jwt::sign(&claims, &key);
    rows.push((
        "JWT verify (HS256)",
        measure(2000, 15, || {
            black_box(jwt::verify(black_box(&token), 1_700_000_001, |_| Some(Key(key.0))).is_ok());
        }),
    ));

    let ten: Vec<String> = (0..10).map(cid).collect();
    let q = format!(
        "cid={}&name=report&match=ipartial&status=pinned,queued&before=2030-01-01T00:00:00Z&limit=1000&meta=%7B%22app%22%3A%22x%22%7D",
        ten.join("%2C")
    );
    rows.push((
        "query parse (every parameter, 10 CIDs)",
        measure(2000, 15, || {
            let pairs = query::parse(black_box(&q)).unwrap();
            black_box(ListQuery::parse(&pairs).unwrap());
        }),
    ));

    // 1000 pins, every request through the whole core: auth, routing, parsing, the store's scan
    // of list metadata, filtering, and JSON serialization of the reply.
    let c = Client::new("instant", 1000);
    for i in 0..1000u32 {
        c.pin(
            "alice",
            json!({"cid": cid(i), "name": format!("Report-{i}.pdf"), "meta": {"app": "x", "n": i.to_string()}}),
        );
    }
    // A pinset whose last write was long ago, as `examples/seed.rs` gives the benchmark: the
    // 1000 writes' change markers would otherwise lead every listing.
    c.kv.map
        .borrow_mut()
        .retain(|k, _| !k.starts_with("p/alice/!m"));
    let bearer = {
        let t = c.call("alice", "POST", "/token", "");
        format!("Bearer {}", t.body["token"].as_str().unwrap())
    };
    let id = c.call("alice", "GET", "/pins?limit=1", "").body["results"][0]["requestid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Straight into `app::handle`: the reply's JSON is built but not parsed back.
    let request = |target: &str| {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let (path, query, bearer) = (path.to_owned(), query.to_owned(), bearer.clone());
        let c = &c;
        move || {
            let req = HttpRequest {
                method: "GET".into(),
                path: path.clone(),
                query: query.clone(),
                authorization: Some(bearer.clone()),
                client_ip: None,
                body: Vec::new(),
            };
            let reply = block_on(edge_pinning::app::handle(
                req,
                c.kv.clone(),
                &Unlimited,
                Ok(&c.config),
                Millis(c.now),
            ));
            assert_eq!(reply.status, 200);
            black_box(reply);
        }
    };
    rows.push((
        "GET /pins/{id} (Bearer)",
        measure(200, 15, request(&format!("/pins/{id}"))),
    ));
    rows.push((
        "GET /pins?limit=1000 (1000 pins filtered + serialized)",
        measure(10, 15, request("/pins?limit=1000")),
    ));
    rows.push((
        "GET /pins?name=report&match=ipartial&limit=1000",
        measure(
            10,
            15,
            request("/pins?name=report&match=ipartial&limit=1000"),
        ),
    ));
    rows.push((
        "GET /pins?name=report&match=ipartial (scan 1000, page of 10)",
        measure(20, 15, request("/pins?name=report&match=ipartial")),
    ));
    rows.push((
        "GET /pins?name=nothing&match=partial (scan 1000, no match)",
        measure(20, 15, request("/pins?name=nothing&match=partial")),
    ));
    rows.push((
        "GET /pins (newest page of 10)",
        measure(500, 15, request("/pins")),
    ));
    rows.push((
        "GET /pins?cid=<10 CIDs>",
        measure(50, 15, request(&format!("/pins?cid={}", ten.join(",")))),
    ));

    // The `r2` backend's and CAR upload's inner loop: read a CAR as it streams in (64 KiB
    // chunks), verify every block, read its links. Figures are per MiB of CAR.
    let mut per_mib = Vec::new();
    for (name, hash) in [
        ("sha2-256", block::hash::SHA2_256),
        ("blake3", block::hash::BLAKE3),
    ] {
        let car = synthetic_car(hash, 16, 256 * 1024);
        per_mib.push((format!("256 KiB raw, {name}"), car));
    }
    let hamt = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ipld/hamt.car"
    ))
    .unwrap();
    per_mib.push(("ipfs-car HAMT dir, sha2-256".into(), hamt));
    let mut ingest_rows = Vec::new();
    for (what, car) in &per_mib {
        let mib = car.len() as f64 / (1024.0 * 1024.0);
        let iters = (8.0 / mib).ceil() as u32;
        let us = measure(iters, 9, || {
            black_box(ingest(black_box(car)));
        }) / mib;
        ingest_rows.push((format!("CAR in per MiB (read+verify+links): {what}"), us));
    }
    for (name, us) in &ingest_rows {
        rows.push((name.as_str(), *us));
    }
    big_pinset_rows(&mut rows);

    if as_json {
        let out: Vec<_> = rows
            .iter()
            .map(|(name, us)| json!({"op": name, "us": (us * 10.0).round() / 10.0, "margin_x": (FREE_PLAN_CPU_US / us).round()}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
    } else {
        println!(
            "{:<58} {:>10} {:>18}",
            "native core, per call", "µs", "free plan 10 ms"
        );
        for (name, us) in &rows {
            println!("{name:<58} {us:>10.1} {:>17.0}x", FREE_PLAN_CPU_US / us);
        }
        for (name, us) in &ingest_rows {
            println!("{name}: {:.0} MiB/s", 1e6 / us);
        }
    }
}

/// A CAR of `count` raw blocks of `size` pseudo-random bytes, hashed with `hash`.
fn synthetic_car(hash: u64, count: usize, size: usize) -> Vec<u8> {
    use cid::{multihash::Multihash, Cid};
    use sha2::Digest;
    let mut x = 0x2545_f491_u32;
    let mut out = car::write::header(&[]);
    for _ in 0..count {
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let digest: Vec<u8> = match hash {
            block::hash::BLAKE3 => blake3::hash(&bytes).as_bytes().to_vec(),
            _ => sha2::Sha256::digest(&bytes).to_vec(),
        };
        let cid = Cid::new_v1(0x55, Multihash::wrap(hash, &digest).unwrap());
        car::write::extend_block_section(&mut out, &cid, &bytes);
    }
    out
}

/// Reads, verifies and walks the links of every block of `car`, as it would arrive.
fn ingest(car: &[u8]) -> usize {
    let mut reader = car::CarReader::new();
    let mut seen = 0;
    for chunk in car.chunks(64 * 1024) {
        reader.push(chunk);
        while let Some(item) = reader.next().unwrap() {
            if let car::CarItem::Block { cid, bytes, .. } = item {
                block::verify(&cid, &bytes).unwrap();
                seen += links(&cid, &bytes).unwrap().len() + bytes.len();
            }
        }
    }
    reader.finish().unwrap();
    seen
}

/// Name lookups over 100,000 pins, answered from the name index (its backfill long done).
fn big_pinset_rows(rows: &mut Vec<(&str, f64)>) {
    use edge_pinning::auth::user::UserId;
    use edge_pinning::domain::{cid::Cid, request_id::RequestId, status::Status};
    use edge_pinning::store::{keys, pins::PinStore, record::PinRecord};
    let c = Client::new("instant", 1000);
    let user = UserId::parse("alice").unwrap();
    let store = PinStore::new(&c.kv, &user);
    let done = json!({"s": 0, "d": 0}).to_string();
    let state = (done, serde_json::Value::Null);
    c.kv.map
        .borrow_mut()
        .insert(keys::name_index_state(&user), state);
    for i in 0..100_000u32 {
        let name = match i {
            77_777 => "policy/12D3KooWBenchPeer/mfs".to_owned(),
            _ if i % 2 == 0 => format!("Report-{i}.PDF"),
            _ => format!("report-{}.pdf", i - 1),
        };
        let record = PinRecord {
            status: [Status::Pinned, Status::Queued][(i % 7 == 0) as usize],
            cid: cid(i),
            name: Some(name),
            origins: Vec::new(),
            meta: Default::default(),
            info: Default::default(),
            delegates: Vec::new(),
            partial: false,
        };
        let created = Millis(1_600_000_000_000 + u64::from(i) * 1000);
        let id = RequestId::new(created, u64::from(i));
        let cid = Cid::parse(&record.cid).unwrap();
        block_on(store.put(&id, &cid, &record, None, created)).unwrap();
    }
    c.kv.map
        .borrow_mut()
        .retain(|k, _| !k.starts_with("p/alice/!m"));
    let request = |target: &'static str| {
        let (path, query) = target.split_once('?').unwrap();
        let c = &c;
        move || {
            let req = HttpRequest {
                method: "GET".into(),
                path: path.into(),
                query: query.into(),
                authorization: Some(common::basic("alice")),
                client_ip: None,
                body: Vec::new(),
            };
            let reply = block_on(edge_pinning::app::handle(
                req,
                c.kv.clone(),
                &Unlimited,
                Ok(&c.config),
                Millis(c.now),
            ));
            assert_eq!(reply.status, 200);
            assert_ne!(reply.body.as_deref(), Some(r#"{"count":0,"results":[]}"#));
            black_box(reply);
        }
    };
    rows.push((
        "GET /pins?name=Report-50000.PDF (N=100,000, name index)",
        measure(200, 15, request("/pins?name=Report-50000.PDF")),
    ));
    rows.push((
        "GET /pins?name=report-50000.pdf&match=iexact (N=100,000; 2 matches)",
        measure(200, 15, request("/pins?name=report-50000.pdf&match=iexact")),
    ));
    rows.push((
        "MFS check as Kubo sends it (N=100,000)",
        measure(
            200,
            15,
            request(
                "/pins?name=policy%2F12D3KooWBenchPeer%2Fmfs&status=queued,pinning,pinned,failed",
            ),
        ),
    ));
}
