//! The gateway over the IPLD fixtures (tests/fixtures/ipld, made by ipfs-car and friends),
//! each written into an in-memory bucket in the R2 layout a fetch step writes: a `pinned`
//! manifest, CAR segments and the binary index. Answers are read back with the project's CAR
//! reader and every block verified; file bytes are compared with the regenerated originals.

#[path = "../common/mod.rs"]
mod common;
#[path = "../r2_support/mod.rs"]
mod r2_support;

mod formats;
mod plain;

use cid::Cid;
use common::{block_on, MemoryKv};
use edge_pinning::config::Config;
use edge_pinning::domain::status::Status;
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::gateway::{handler, GatewayRequest, IndexCache};
use edge_pinning::http::Reply;
use edge_pinning::ipld::block::verify;
use edge_pinning::ipld::car::{write, CarItem, CarReader};
use edge_pinning::ipld::links::links;
use edge_pinning::limits::Unlimited;
use edge_pinning::r2::index::{DagIndex, Entry};
use edge_pinning::r2::manifest::Manifest;
use edge_pinning::r2::{layout, Blobs};
use r2_support::MemBlobs;
use std::collections::HashMap;

pub const BIG: &str = "bafybeif2qkvwabdwvhk2b2frzp6t44e5drpbkwb3two2ie37qvh5xi4w4e";
pub const DIR: &str = "bafybeidyot4y4zbon635jwmewvn6qmmbejnn5eieukfsb7bopdeqs724dq";
pub const HAMT: &str = "bafybeig3dmzqhgrckevkjajmul75daioyxi2z43sqxqeioleeb6xciotye";
pub const V0DEEP: &str = "QmfPdVqVVMEu8XDnW5858HqazZhFmmmVERzgyhdZYWZ95W";
pub const CBOR: &str = "bafyreieugenj2q5x6x3bxt7hrqwxmuixe2cmxnvcmksogenuccgesfeagy";
pub const TINY: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

/// The same xorshift32 stream as tests/fixtures/ipld/make-fixtures.mjs.
pub fn content(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn cid(s: &str) -> Cid {
    s.parse().unwrap()
}

/// Every block of a CAR, in order, unverified.
pub fn read_car(car: &[u8]) -> (Vec<Cid>, Vec<(Cid, Vec<u8>)>) {
    let mut r = CarReader::new();
    r.push(car);
    let (mut roots, mut blocks) = (Vec::new(), Vec::new());
    while let Some(item) = r.next().unwrap() {
        match item {
            CarItem::Header { roots: rs } => roots = rs,
            CarItem::Block { cid, bytes, .. } => blocks.push((cid, bytes)),
        }
    }
    r.finish().unwrap();
    (roots, blocks)
}

/// A kept DAG in a bucket, and its blocks as the fixture holds them.
pub struct Kept {
    pub blobs: MemBlobs,
    pub blocks: HashMap<Cid, Vec<u8>>,
}

/// Writes fixture `name` (root `root`) as a fetch step would, its blocks spread over
/// `segments` segment objects, and marks it `status`.
pub fn keep(name: &str, root: &str, segments: usize, status: Status) -> Kept {
    let path = format!("{}/tests/fixtures/ipld/{name}", env!("CARGO_MANIFEST_DIR"));
    let (_, blocks) = read_car(&std::fs::read(path).unwrap());
    let root = cid(root).into_v1().unwrap();
    let v1 = root.to_string();
    let blobs = MemBlobs::default();
    let mut index = DagIndex::default();
    let mut m = Manifest::new(Vec::new(), 0);
    let per = blocks.len().div_ceil(segments);
    for (n, chunk) in blocks.chunks(per).enumerate() {
        let mut car = write::header(&[root]);
        for (c, bytes) in chunk {
            let c = if c.hash() == root.hash() { root } else { *c };
            let section = write::block_section(&c, bytes);
            let offset = (car.len() + section.len() - bytes.len()) as u64;
            car.extend_from_slice(&section);
            let links = links(&c, bytes).unwrap();
            let (segment, len) = (n as u32, bytes.len() as u32);
            index.insert(
                c,
                Entry {
                    segment,
                    offset,
                    len,
                    links,
                },
            );
        }
        let key = layout::segment(&v1, &format!("t{n}"));
        block_on(blobs.put(&key, car)).unwrap();
        m.segments.push(key);
    }
    let ikey = layout::index(&v1, "t");
    block_on(blobs.put(&ikey, index.to_bytes())).unwrap();
    m.index = Some(ikey);
    m.status = status;
    block_on(blobs.put(&layout::manifest(&v1), m.to_bytes())).unwrap();
    Kept {
        blobs,
        blocks: blocks.into_iter().collect(),
    }
}

pub fn config(gateway: &str, backend: &str) -> Config {
    Config::from_env(|k| {
        Some(match k {
            "USERS" => r#"{"alice":"alice-pw","bob":"bob-pw"}"#.to_owned(),
            "JWT_SECRET" => "test-secret-0123456789".to_owned(),
            "PIN_BACKEND" => backend.to_owned(),
            "DELEGATES" => common::DELEGATE.to_owned(),
            "GATEWAY" => gateway.to_owned(),
            _ => return None,
        })
    })
    .unwrap()
}

/// A gateway request: `target` is path and query, `headers` among accept, range,
/// if-none-match and authorization.
pub fn ask(kept: &Kept, method: &str, target: &str, headers: &[(&str, &str)]) -> (Reply, Vec<u8>) {
    ask_with(
        kept,
        &config("public", "r2"),
        &MemoryKv::new(100),
        method,
        target,
        headers,
    )
}

pub fn ask_with(
    kept: &Kept,
    config: &Config,
    kv: &MemoryKv,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> (Reply, Vec<u8>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let h = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    };
    let req = GatewayRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        accept: h("accept"),
        range: h("range"),
        if_none_match: h("if-none-match"),
        authorization: h("authorization"),
        client_ip: None,
    };
    let cache = IndexCache::new(1 << 20);
    let now = Millis(1_700_000_000_000);
    let mut reply = block_on(handler::handle(
        &req,
        kv,
        &Unlimited,
        Some(&kept.blobs),
        &cache,
        Ok(config),
        now,
    ));
    let body = match reply.plan.take() {
        Some(plan) => {
            let want = plan.len;
            let body = block_on(plan.collect(&kept.blobs)).unwrap();
            assert_eq!(body.len() as u64, want, "{target}: the planned length");
            body
        }
        None => reply.body.clone().unwrap_or_default().into_bytes(),
    };
    if let Some(len) = reply.header("content-length") {
        if method == "GET" {
            assert_eq!(len, body.len().to_string(), "{target}: Content-Length");
        }
    }
    (reply, body)
}

/// The blocks of an answered CAR, each verified against its CID.
pub fn verified_blocks(car: &[u8]) -> Vec<Cid> {
    let (_, blocks) = read_car(car);
    for (c, b) in &blocks {
        verify(c, b).unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    blocks.into_iter().map(|(c, _)| c).collect()
}
