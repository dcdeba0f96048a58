//! The IPLD core against CARs made by third-party software (tests/fixtures/ipld, made by
//! `ipfs-car` 3.1, `ipfs-unixfs-importer` 17, `@ipld/car` and `@ipld/dag-cbor`; see the README
//! there), and against malformed input.

mod blocks;
mod fixtures;
mod malformed;
mod unixfs;

use cid::Cid;
use edge_pinning::ipld::car::{CarError, CarItem, CarReader};
use std::collections::HashMap;

pub const TINY: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
pub const BIG: &str = "bafybeif2qkvwabdwvhk2b2frzp6t44e5drpbkwb3two2ie37qvh5xi4w4e";
pub const DIR: &str = "bafybeidyot4y4zbon635jwmewvn6qmmbejnn5eieukfsb7bopdeqs724dq";
pub const HAMT: &str = "bafybeig3dmzqhgrckevkjajmul75daioyxi2z43sqxqeioleeb6xciotye";
pub const V0DEEP: &str = "QmfPdVqVVMEu8XDnW5858HqazZhFmmmVERzgyhdZYWZ95W";
pub const CBOR: &str = "bafyreieugenj2q5x6x3bxt7hrqwxmuixe2cmxnvcmksogenuccgesfeagy";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/ipld/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn cid(s: &str) -> Cid {
    s.parse().unwrap()
}

/// The same xorshift32 byte stream as `content` in tests/fixtures/ipld/make-fixtures.mjs.
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

/// A tiny deterministic generator for the property tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn word(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.word() % n as u64) as usize
    }
}

pub struct Block {
    pub cid: Cid,
    pub bytes: Vec<u8>,
    pub offset: u64,
    pub section_len: u64,
    pub data_offset: u64,
}

/// Reads a whole CAR, pushing it in chunks of `chunk` bytes.
pub fn read_car(car: &[u8], chunk: usize) -> Result<(Vec<Cid>, Vec<Block>), CarError> {
    let mut reader = CarReader::new();
    let mut roots = None;
    let mut blocks = Vec::new();
    for piece in car.chunks(chunk.max(1)) {
        reader.push(piece);
        while let Some(item) = reader.next()? {
            match item {
                CarItem::Header { roots: r } => {
                    assert!(roots.is_none() && blocks.is_empty(), "header first, once");
                    roots = Some(r);
                }
                CarItem::Block {
                    cid,
                    bytes,
                    offset,
                    section_len,
                    data_offset,
                } => {
                    assert!(roots.is_some(), "header before blocks");
                    blocks.push(Block {
                        cid,
                        bytes,
                        offset,
                        section_len,
                        data_offset,
                    });
                }
            }
        }
    }
    reader.finish()?;
    assert_eq!(reader.offset(), car.len() as u64);
    Ok((roots.unwrap(), blocks))
}

/// A fixture's blocks by CID.
pub fn store(name: &str) -> (Vec<Cid>, HashMap<Cid, Vec<u8>>) {
    let (roots, blocks) = read_car(&fixture(name), 64 * 1024).unwrap();
    (
        roots,
        blocks.into_iter().map(|b| (b.cid, b.bytes)).collect(),
    )
}
