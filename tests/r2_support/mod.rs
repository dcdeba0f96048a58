//! In-memory R2, a scripted trustless gateway and a job recorder for the `r2` backend's tests.
#![allow(dead_code)]

use crate::common::DELEGATE;
use cid::multihash::Multihash;
use cid::Cid;
use edge_pinning::config::Config;
use edge_pinning::ipld::car::{write, CarItem, CarReader};
use edge_pinning::r2::{Blob, BlobError, Blobs, Chunks, Jobs, R2Settings, Sender, Web, WebAnswer};
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

pub const RAW: u64 = 0x55;
pub const DAG_CBOR: u64 = 0x71;

pub fn cid_of(codec: u64, bytes: &[u8]) -> Cid {
    let digest = Sha256::digest(bytes);
    Cid::new_v1(codec, Multihash::<64>::wrap(0x12, &digest).unwrap())
}

/// A dag-cbor list of links (tag 42), as real encoders write it.
pub fn cbor_links(links: &[Cid], salt: u8) -> Vec<u8> {
    let mut out = vec![0x82, salt, 0x98, links.len() as u8];
    for l in links {
        let b = l.to_bytes();
        out.extend_from_slice(&[0xd8, 0x2a, 0x58, (b.len() + 1) as u8, 0x00]);
        out.extend_from_slice(&b);
    }
    out
}

/// A DAG: a dag-cbor root over `fanout` dag-cbor nodes, each over `leaves` raw blocks of
/// `leaf_bytes` bytes (distinct content).
pub struct Dag {
    pub root: Cid,
    pub blocks: BTreeMap<Cid, Vec<u8>>,
}

impl Dag {
    pub fn new(fanout: usize, leaves: usize, leaf_bytes: usize, salt: u8) -> Dag {
        let mut blocks = BTreeMap::new();
        let mut mids = Vec::new();
        for m in 0..fanout {
            let mut kids = Vec::new();
            for l in 0..leaves {
                let mut leaf = vec![0u8; leaf_bytes];
                for (i, b) in leaf.iter_mut().enumerate() {
                    *b = (i as u8) ^ (m as u8).wrapping_mul(31) ^ (l as u8).wrapping_mul(7) ^ salt;
                }
                leaf[0] = m as u8;
                leaf[1] = l as u8;
                let c = cid_of(RAW, &leaf);
                blocks.insert(c, leaf);
                kids.push(c);
            }
            let node = cbor_links(&kids, m as u8);
            let c = cid_of(DAG_CBOR, &node);
            blocks.insert(c, node);
            mids.push(c);
        }
        let root_bytes = cbor_links(&mids, salt);
        let root = cid_of(DAG_CBOR, &root_bytes);
        blocks.insert(root, root_bytes);
        Dag { root, blocks }
    }

    pub fn bytes(&self) -> u64 {
        self.blocks.values().map(|b| b.len() as u64).sum()
    }

    /// The blocks under `cid`, depth first, as a trustless gateway sends them.
    pub fn subtree(&self, cid: &Cid) -> Vec<Cid> {
        let mut out = Vec::new();
        let mut stack = vec![*cid];
        let mut seen = BTreeSet::new();
        while let Some(c) = stack.pop() {
            if !seen.insert(c) || !self.blocks.contains_key(&c) {
                continue;
            }
            out.push(c);
            let links = edge_pinning::ipld::links::links(&c, &self.blocks[&c]).unwrap_or_default();
            stack.extend(links.into_iter().rev());
        }
        out
    }
}

/// Runs before each write, with the key written.
pub type PutHook = Box<dyn Fn(&MemBlobs, &str)>;

#[derive(Default)]
pub struct MemBlobs {
    pub objects: RefCell<BTreeMap<String, (Vec<u8>, u64)>>,
    version: Cell<u64>,
    /// Called before each write: a test can change the bucket under a step (a release).
    pub before_put: RefCell<Option<PutHook>>,
    /// Keys a list returns at most (default 2, so that paging is exercised; R2's is 1000).
    pub page: Cell<Option<usize>>,
}

impl MemBlobs {
    pub fn keys(&self) -> Vec<String> {
        self.objects.borrow().keys().cloned().collect()
    }
    fn bump(&self) -> u64 {
        self.version.set(self.version.get() + 1);
        self.version.get()
    }
    fn hook(&self, key: &str) {
        if let Some(f) = self.before_put.borrow().as_ref() {
            f(self, key);
        }
    }
}

impl Blobs for MemBlobs {
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        Ok(self.objects.borrow().get(key).map(|(b, v)| Blob {
            bytes: b.clone(),
            etag: v.to_string(),
        }))
    }
    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        Ok(self.objects.borrow().get(key).map(|(b, _)| {
            let start = (offset as usize).min(b.len());
            let end = (start + len as usize).min(b.len());
            b[start..end].to_vec()
        }))
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.hook(key);
        let v = self.bump();
        self.objects.borrow_mut().insert(key.to_owned(), (bytes, v));
        Ok(())
    }
    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, BlobError> {
        self.hook(key);
        let current = self.objects.borrow().get(key).map(|(_, v)| v.to_string());
        if current.as_deref() != Some(etag) {
            return Ok(None);
        }
        let v = self.bump();
        self.objects.borrow_mut().insert(key.to_owned(), (bytes, v));
        Ok(Some(v.to_string()))
    }
    async fn delete(&self, keys: Vec<String>) -> Result<(), BlobError> {
        let mut o = self.objects.borrow_mut();
        for k in keys {
            o.remove(&k);
        }
        Ok(())
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), BlobError> {
        let o = self.objects.borrow();
        let after = cursor.unwrap_or_default();
        let keys: Vec<String> = o
            .keys()
            .filter(|k| k.starts_with(prefix) && **k > after)
            .take(self.page.get().unwrap_or(2))
            .cloned()
            .collect();
        let more = keys.len() == self.page.get().unwrap_or(2);
        let next = if more { keys.last().cloned() } else { None };
        Ok((keys, next))
    }
}

/// What a scripted gateway does to its answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Good,
    /// Connection refused.
    Down,
    /// 404 for everything.
    Missing,
    /// The k-th block of every CAR has one byte flipped.
    Corrupt(usize),
    /// Every CAR answer stops after this many bytes.
    Cut(usize),
    /// Answers CAR requests with HTML (a gateway that does not speak the protocol).
    NotCar,
}

pub struct Gateway {
    pub base: String,
    pub dag: BTreeMap<Cid, Vec<u8>>,
    pub roots: Vec<Cid>,
    pub mode: Cell<Mode>,
}

pub struct Net {
    pub gateways: Vec<Gateway>,
    pub requests: RefCell<Vec<String>>,
    pub bytes_served: Cell<u64>,
}

impl Net {
    pub fn new(dag: &Dag, modes: &[Mode]) -> Net {
        let gateways = modes
            .iter()
            .enumerate()
            .map(|(i, m)| Gateway {
                base: format!("http://gw{i}.test"),
                dag: dag.blocks.clone(),
                roots: vec![dag.root],
                mode: Cell::new(*m),
            })
            .collect();
        Net {
            gateways,
            requests: RefCell::new(Vec::new()),
            bytes_served: Cell::new(0),
        }
    }

    pub fn bases(&self) -> Vec<String> {
        self.gateways.iter().map(|g| g.base.clone()).collect()
    }
}

pub struct MemBody(Vec<Vec<u8>>, Option<String>);

impl MemBody {
    /// A body that arrives in pieces of `size` bytes.
    pub fn chunked(bytes: Vec<u8>, size: usize) -> MemBody {
        MemBody(bytes.chunks(size).map(<[u8]>::to_vec).collect(), None)
    }
}

impl Chunks for MemBody {
    async fn next(&mut self) -> Option<Result<Vec<u8>, String>> {
        if self.0.is_empty() {
            return self.1.take().map(Err);
        }
        Some(Ok(self.0.remove(0)))
    }
}

impl Sender for MemBody {
    async fn committing(&mut self, _root: &Cid, _at: u64) -> Result<(), String> {
        Ok(())
    }
}

impl Web for Net {
    type Body = MemBody;
    async fn get(&self, url: &str, _accept: &str) -> Result<WebAnswer<MemBody>, String> {
        self.requests.borrow_mut().push(url.to_owned());
        let g = self
            .gateways
            .iter()
            .find(|g| url.starts_with(&format!("{}/", g.base)))
            .ok_or("unknown host")?;
        let rest = &url[g.base.len()..];
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let cid = Cid::try_from(path.strip_prefix("/ipfs/").unwrap()).unwrap();
        let answer = |status, ct: &str, body: Vec<u8>, err: Option<String>| {
            self.bytes_served
                .set(self.bytes_served.get() + body.len() as u64);
            let chunks = body.chunks(1000).map(<[u8]>::to_vec).collect();
            Ok(WebAnswer {
                status,
                content_type: ct.to_owned(),
                body: MemBody(chunks, err),
            })
        };
        match g.mode.get() {
            Mode::Down => return Err("connection refused".into()),
            Mode::Missing => return answer(404, "text/plain", b"not found".to_vec(), None),
            _ => {}
        }
        if !g.dag.contains_key(&cid) {
            // As gateway-lib does: a CAR of the header alone.
            return answer(
                200,
                "application/vnd.ipld.car; version=1",
                write::header(&[cid]),
                None,
            );
        }
        if query.contains("format=raw") {
            return answer(200, "application/vnd.ipld.raw", g.dag[&cid].clone(), None);
        }
        if g.mode.get() == Mode::NotCar {
            return answer(200, "text/html", b"<html>".to_vec(), None);
        }
        let tree = Dag {
            root: cid,
            blocks: g.dag.clone(),
        }
        .subtree(&cid);
        let mut car = write::header(&[cid]);
        for (i, c) in tree.iter().enumerate() {
            let mut bytes = g.dag[c].clone();
            if g.mode.get() == Mode::Corrupt(i) {
                bytes[0] ^= 0xff;
            }
            car.extend_from_slice(&write::block_section(c, &bytes));
        }
        if let Mode::Cut(n) = g.mode.get() {
            car.truncate(n.min(car.len()));
            return answer(
                200,
                "application/vnd.ipld.car; version=1; order=dfs; dups=y",
                car,
                Some("connection reset".into()),
            );
        }
        answer(
            200,
            "application/vnd.ipld.car; version=1; order=dfs; dups=y",
            car,
            None,
        )
    }
}

#[derive(Default)]
pub struct Started(pub RefCell<Vec<(String, u32)>>);

impl Jobs for Started {
    async fn start(&self, cid: &str, delay: u32) -> Result<(), String> {
        self.0.borrow_mut().push((cid.to_owned(), delay));
        Ok(())
    }
}

pub fn settings(gateways: Vec<String>) -> R2Settings {
    R2Settings {
        gateways,
        max_pin_bytes: 1 << 30,
        step_bytes: 32 << 20,
        step_fetches: 40,
        retry_secs: 60,
        max_tries: 4,
        quota: Default::default(),
        upload_bytes: 1 << 30,
    }
}

/// A fixture of tests/fixtures/ipld (CARs made by ipfs-car).
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/ipld/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn blocks(car: &[u8]) -> (Vec<Cid>, Vec<(Cid, Vec<u8>)>) {
    let mut r = CarReader::new();
    r.push(car);
    let (mut roots, mut out) = (Vec::new(), Vec::new());
    while let Some(item) = r.next().unwrap() {
        match item {
            CarItem::Header { roots: r } => roots = r,
            CarItem::Block { cid, bytes, .. } => out.push((cid, bytes)),
        }
    }
    (roots, out)
}

pub fn car_of(roots: &[Cid], blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let mut car = write::header(roots);
    for (c, b) in blocks {
        car.extend_from_slice(&write::block_section(c, b));
    }
    car
}

/// The settings of a deployment with the `r2` backend and one user, `alice`.
pub fn r2_config() -> Config {
    Config::from_env(|k| {
        let v = match k {
            "USERS" => r#"{"alice":"alice-pw"}"#,
            "PIN_BACKEND" => "r2",
            "JWT_SECRET" => "test-secret-0123456789",
            "DELEGATES" => DELEGATE,
            _ => return None,
        };
        Some(v.to_owned())
    })
    .unwrap()
}
