//! A kept DAG's index: for every block, where its bytes are (segment, offset, length) and which
//! CIDs it links to. Written whole by the one step that holds the DAG's claim, next to the
//! segments it describes; the manifest names the index in force, so a step that dies before
//! its commit leaves only objects nobody names (docs/storage.md, "R2 backend").
//!
//! Binary, not JSON: a gigabyte DAG has thousands of blocks and the index is read by every
//! fetch step and every gateway read. Layout: magic, entry count, then per entry the CID's
//! bytes, segment number, offset, length and links, all lengths and numbers as LEB128 varints.

use super::manifest::Manifest;
use super::{BlobError, Blobs};
use cid::Cid;
use std::collections::{BTreeMap, BTreeSet};

const MAGIC: &[u8; 4] = b"DIX1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position of the segment in the manifest's segment list.
    pub segment: u32,
    /// The block's bytes within that segment object.
    pub offset: u64,
    pub len: u32,
    pub links: Vec<Cid>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DagIndex {
    entries: BTreeMap<Cid, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexError(pub &'static str);

/// The index a manifest names, read from the bucket; `None` when it names none, or one that is
/// gone or unreadable (the DAG's blocks are then walked again from its root).
pub async fn in_force<B: Blobs>(blobs: &B, m: &Manifest) -> Result<Option<DagIndex>, BlobError> {
    let Some(key) = &m.index else {
        return Ok(None);
    };
    let blob = blobs.get(key).await?;
    Ok(blob.and_then(|b| DagIndex::from_bytes(&b.bytes).ok()))
}

impl DagIndex {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, cid: &Cid) -> Option<&Entry> {
        self.entries.get(cid)
    }

    pub fn contains(&self, cid: &Cid) -> bool {
        self.entries.contains_key(cid)
    }

    pub fn insert(&mut self, cid: Cid, entry: Entry) {
        self.entries.insert(cid, entry);
    }

    /// Total bytes of the blocks kept, each counted once.
    pub fn bytes(&self) -> u64 {
        self.entries.values().map(|e| u64::from(e.len)).sum()
    }

    /// Every CID reachable from `root` that is not kept yet, in the order a depth-first walk
    /// meets them. Identity CIDs carry their block inside them: they are walked through (their
    /// links count), never missing.
    pub fn missing(&self, root: &Cid, inline_links: impl Fn(&Cid) -> Vec<Cid>) -> Vec<Cid> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![*root];
        let mut missing = Vec::new();
        while let Some(cid) = stack.pop() {
            if !seen.insert(cid) {
                continue;
            }
            if cid.hash().code() == IDENTITY {
                stack.extend(inline_links(&cid).into_iter().rev());
            } else if let Some(e) = self.entries.get(&cid) {
                stack.extend(e.links.iter().rev().copied());
            } else {
                missing.push(cid);
            }
        }
        missing
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put_varint(&mut out, self.entries.len() as u64);
        for (cid, e) in &self.entries {
            put_cid(&mut out, cid);
            put_varint(&mut out, u64::from(e.segment));
            put_varint(&mut out, e.offset);
            put_varint(&mut out, u64::from(e.len));
            put_varint(&mut out, e.links.len() as u64);
            for l in &e.links {
                put_cid(&mut out, l);
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<DagIndex, IndexError> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or(IndexError("not a DAG index"))?;
        let mut r = Reader(rest);
        let count = r.varint()?;
        let mut entries = BTreeMap::new();
        for _ in 0..count {
            let cid = r.cid()?;
            let segment = u32::try_from(r.varint()?).map_err(|_| IndexError("segment"))?;
            let offset = r.varint()?;
            let len = u32::try_from(r.varint()?).map_err(|_| IndexError("length"))?;
            let n = r.varint()?;
            let mut links = Vec::new();
            for _ in 0..n {
                links.push(r.cid()?);
            }
            entries.insert(
                cid,
                Entry {
                    segment,
                    offset,
                    len,
                    links,
                },
            );
        }
        if !r.0.is_empty() {
            return Err(IndexError("trailing bytes"));
        }
        Ok(DagIndex { entries })
    }
}

/// The identity multihash: the "digest" is the data itself.
pub const IDENTITY: u64 = 0x00;

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_cid(out: &mut Vec<u8>, cid: &Cid) {
    let b = cid.to_bytes();
    put_varint(out, b.len() as u64);
    out.extend_from_slice(&b);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, IndexError> {
        let mut n = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.0.split_first().ok_or(IndexError("truncated"))?;
            self.0 = rest;
            n |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err(IndexError("varint too long"))
    }

    fn cid(&mut self) -> Result<Cid, IndexError> {
        let len = usize::try_from(self.varint()?).map_err(|_| IndexError("length"))?;
        if len > self.0.len() {
            return Err(IndexError("truncated"));
        }
        let (b, rest) = self.0.split_at(len);
        self.0 = rest;
        Cid::try_from(b).map_err(|_| IndexError("bad CID"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(s: &str) -> Cid {
        Cid::try_from(s).unwrap()
    }

    const A: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    const B: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    const C: &str = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";

    #[test]
    fn round_trips_and_finds_what_is_missing() {
        let mut idx = DagIndex::default();
        let entry = |links: Vec<Cid>| Entry {
            segment: 0,
            offset: 40,
            len: 100,
            links,
        };
        idx.insert(cid(B), entry(vec![cid(A), cid(C)]));
        assert_eq!(idx.missing(&cid(B), |_| vec![]), vec![cid(A), cid(C)]);
        idx.insert(cid(A), entry(vec![]));
        assert_eq!(idx.missing(&cid(B), |_| vec![]), vec![cid(C)]);
        let back = DagIndex::from_bytes(&idx.to_bytes()).unwrap();
        assert_eq!(back, idx);
        assert_eq!(back.bytes(), 200);
    }

    #[test]
    fn refuses_damaged_bytes_without_panicking() {
        let mut idx = DagIndex::default();
        idx.insert(
            cid(B),
            Entry {
                segment: 3,
                offset: 1 << 40,
                len: 7,
                links: vec![cid(A)],
            },
        );
        let bytes = idx.to_bytes();
        for cut in 0..bytes.len() {
            assert!(DagIndex::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(DagIndex::from_bytes(&extra).is_err());
    }
}
