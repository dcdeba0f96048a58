//! Prints, as NDJSON, the KV entries of a pinset of N pins for one user, written by the real
//! `PinStore` — so the benchmark's seeded data has exactly the layout and list metadata the
//! worker writes, without going through N requests. Per pin, first its entries
//! (`{"k":key,"v":value,"m":metadata}`), then what the pin is
//! (`{"pin":requestid,"created_ms":..,"cid":..,"status":..,"name":..,"meta":{..}}`), from which the
//! benchmark picks its queries and works out the `count` each listing must answer.
//!
//!     cargo run --release --example seed -- N USER
//!
//! The pins are spread over time (one per second), with a realistic mix: most pinned, some
//! queued, pinning or failed; names of mixed case (one of them the name Kubo's MFS policy gives
//! its pin); meta on some. Only the pin's own keys are printed (its record, its CID index and
//! its name index, named by `store::keys`): whatever else a write puts (change markers) is left
//! out, so the pinset looks like one whose last write was long ago — and, first, the name
//! index's state saying its backfill was done long ago, as it is for such a pinset.

use edge_pinning::auth::user::UserId;
use edge_pinning::domain::name::fold;
use edge_pinning::domain::{cid::Cid, request_id::RequestId, status::Status, timestamp::Millis};
use edge_pinning::store::kv::{Kv, KvError, ListPage};
use edge_pinning::store::{keys, pins::PinStore, record::PinRecord};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A `Kv` that writes the puts of the keys in `wanted` to stdout and holds nothing.
struct Printer {
    out: RefCell<BufWriter<std::io::Stdout>>,
    wanted: RefCell<Vec<String>>,
}

impl Kv for Printer {
    async fn get(&self, _: &str) -> Result<Option<String>, KvError> {
        Ok(None)
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        meta: &Value,
        _: Option<u64>,
    ) -> Result<(), KvError> {
        if !self.wanted.borrow().iter().any(|k| k == key) {
            return Ok(());
        }
        let line = json!({"k": key, "v": value, "m": meta});
        writeln!(self.out.borrow_mut(), "{line}").map_err(|e| KvError(e.to_string()))
    }
    async fn delete(&self, _: &str) -> Result<(), KvError> {
        Ok(())
    }
    async fn list(&self, _: &str, _: Option<String>, _: u32) -> Result<ListPage, KvError> {
        Ok(ListPage {
            keys: Vec::new(),
            cursor: None,
        })
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The i-th benchmark CID: CIDv1, raw codec, sha2-256 of "bench-{i}", base32.
fn bench_cid(i: u64) -> String {
    let digest = Sha256::digest(format!("bench-{i}"));
    let mh = cid::multihash::Multihash::<64>::wrap(0x12, &digest).expect("32 bytes fit");
    cid::Cid::new_v1(0x55, mh).to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: seed N USER");
    let user = UserId::parse(&args.next().expect("usage: seed N USER")).expect("a valid user");
    let out = Printer {
        out: RefCell::new(BufWriter::new(std::io::stdout())),
        wanted: RefCell::new(Vec::new()),
    };
    let store = PinStore::new(&out, &user);
    let start = 1_700_000_000_000u64;
    let state = json!({"k": keys::name_index_state(&user), "v": json!({"s": 0, "d": 0}).to_string(), "m": null});
    writeln!(out.out.borrow_mut(), "{state}").expect("stdout is writable");
    // Kubo's MFS policy pin, among names that are all different (`data-{i}` otherwise).
    let mfs_at = n / 3 / 4 * 4 + 3;
    for i in 0..n {
        let status = match i % 20 {
            0 => Status::Queued,
            1 => Status::Pinning,
            2 => Status::Failed,
            _ => Status::Pinned,
        };
        let name = match i % 4 {
            0 => format!("Report-{i}.PDF"),
            1 => format!("report-{i}.pdf"),
            2 => format!("photo-{i}.jpg"),
            _ if i == mfs_at => "policy/12D3KooWBenchPeer/mfs".to_owned(),
            _ => format!("data-{i}"),
        };
        let meta: BTreeMap<String, String> = if i % 10 == 0 {
            [("app".to_owned(), "bench".to_owned())].into()
        } else {
            BTreeMap::new()
        };
        let created = Millis(start + i * 1000);
        let id = RequestId::new(created, i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let cid_text = bench_cid(i);
        let cid = Cid::parse(&cid_text).expect("a valid CID");
        let record = PinRecord {
            status,
            cid: cid_text.clone(),
            name: Some(name.clone()),
            origins: Vec::new(),
            meta,
            info: [(
                "status_details".to_owned(),
                format!("seeded as {}", status.as_str()),
            )]
            .into(),
            delegates: Vec::new(),
            partial: false,
        };
        *out.wanted.borrow_mut() = vec![
            keys::pin(&user, &id),
            keys::cid_index(&user, &cid, &id),
            keys::name_index(&user, &fold(&name), &id),
        ];
        block_on(store.put(&id, &cid, &record, None, created)).expect("stdout is writable");
        let line = json!({
            "pin": id.as_str(),
            "created_ms": created.0,
            "cid": cid_text,
            "status": status.as_str(),
            "name": name,
            "meta": record.meta,
        });
        writeln!(out.out.borrow_mut(), "{line}").expect("stdout is writable");
    }
    out.out.borrow_mut().flush().expect("stdout is writable");
}
