//! A pinned DAG as the gateway reads it: its manifest (one R2 get per request: the status can
//! change) and its index (immutable once written, so cached per isolate by its object key).

use crate::domain::status::Status;
use crate::error::ApiError;
use crate::ipld::block::{inline_bytes, verify};
use crate::ipld::links::links;
use crate::r2::index::{DagIndex, Entry};
use crate::r2::manifest::Manifest;
use crate::r2::{layout, Blobs};
use cid::Cid;
use std::cell::RefCell;
use std::rc::Rc;

/// Where a block's bytes are: an R2 object and a range of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub offset: u64,
    pub len: u32,
}

#[derive(Debug)]
pub struct Dag {
    segments: Vec<String>,
    index: Rc<DagIndex>,
}

/// Indexes recently read, newest last, up to a byte budget (an index object's key names one
/// immutable version: a step writes a new key, never over an old one).
pub struct IndexCache {
    budget: usize,
    held: RefCell<Vec<(String, Rc<DagIndex>, usize)>>,
}

impl IndexCache {
    pub fn new(budget: usize) -> IndexCache {
        IndexCache {
            budget,
            held: RefCell::default(),
        }
    }

    fn get(&self, key: &str) -> Option<Rc<DagIndex>> {
        let mut held = self.held.borrow_mut();
        let at = held.iter().position(|(k, _, _)| k == key)?;
        let hit = held.remove(at);
        let index = hit.1.clone();
        held.push(hit);
        Some(index)
    }

    fn put(&self, key: &str, index: Rc<DagIndex>, size: usize) {
        let mut held = self.held.borrow_mut();
        held.push((key.to_owned(), index, size));
        while held.iter().map(|h| h.2).sum::<usize>() > self.budget && held.len() > 1 {
            held.remove(0);
        }
    }
}

fn r2_error(e: crate::r2::BlobError) -> ApiError {
    ApiError::Internal(format!("R2: {}", e.0))
}

fn not_kept() -> ApiError {
    ApiError::NotFound("this CID is not kept here (no pinned DAG of it)".into())
}

impl Dag {
    /// The DAG of `root` when its manifest says `pinned`; 404 otherwise.
    pub async fn open<B: Blobs>(
        blobs: &B,
        cache: &IndexCache,
        root: &Cid,
    ) -> Result<Dag, ApiError> {
        let v1 = root.into_v1().map_err(|_| not_kept())?.to_string();
        let blob = blobs.get(&layout::manifest(&v1)).await.map_err(r2_error)?;
        let m = blob
            .and_then(|b| Manifest::from_bytes(&b.bytes))
            .filter(|m| m.status == Status::Pinned)
            .ok_or_else(not_kept)?;
        let key = m.index.ok_or_else(not_kept)?;
        let index = match cache.get(&key) {
            Some(index) => index,
            None => {
                let blob = blobs.get(&key).await.map_err(r2_error)?;
                let bytes = blob
                    .ok_or_else(|| ApiError::Internal("the DAG's index is gone".into()))?
                    .bytes;
                let index = DagIndex::from_bytes(&bytes)
                    .map_err(|e| ApiError::Internal(format!("the DAG's index: {}", e.0)))?;
                let index = Rc::new(index);
                cache.put(&key, index.clone(), bytes.len());
                index
            }
        };
        Ok(Dag {
            segments: m.segments,
            index,
        })
    }

    /// The index entry of `cid`, whichever CID version names the block (the index holds each
    /// block under the CID it was linked by; the root under its CIDv1).
    pub fn entry(&self, cid: &Cid) -> Option<&Entry> {
        self.index.get(cid).or_else(|| {
            let other = match cid.version() {
                cid::Version::V0 => cid.into_v1().ok()?,
                cid::Version::V1 => Cid::new_v0(*cid.hash()).ok()?,
            };
            self.index.get(&other)
        })
    }

    pub fn locate(&self, cid: &Cid) -> Result<Stored, ApiError> {
        let e = self.entry(cid).ok_or_else(|| missing(cid))?;
        let key = self.segments.get(e.segment as usize).ok_or_else(|| {
            ApiError::Internal("the DAG's index names a segment its manifest does not".into())
        })?;
        Ok(Stored {
            key: key.clone(),
            offset: e.offset,
            len: e.len,
        })
    }

    /// The links of a block (identity CIDs' from their inline bytes), from the index.
    pub fn links(&self, cid: &Cid) -> Vec<Cid> {
        match inline_bytes(cid) {
            Some(b) => links(cid, b).unwrap_or_default(),
            None => self.entry(cid).map(|e| e.links.clone()).unwrap_or_default(),
        }
    }

    /// A block's bytes, read from R2 and verified against its CID.
    pub async fn block<B: Blobs>(&self, blobs: &B, cid: &Cid) -> Result<Vec<u8>, ApiError> {
        if let Some(b) = inline_bytes(cid) {
            return Ok(b.to_vec());
        }
        let at = self.locate(cid)?;
        read_verified(blobs, cid, &at).await
    }
}

pub fn missing(cid: &Cid) -> ApiError {
    ApiError::Internal(format!("the kept DAG has no block {cid}"))
}

pub async fn read_verified<B: Blobs>(
    blobs: &B,
    cid: &Cid,
    at: &Stored,
) -> Result<Vec<u8>, ApiError> {
    let bytes = blobs
        .get_range(&at.key, at.offset, u64::from(at.len))
        .await
        .map_err(r2_error)?
        .ok_or_else(|| ApiError::Internal("a segment of the DAG is gone".into()))?;
    verify(cid, &bytes)
        .map_err(|e| ApiError::Internal(format!("stored block {cid} failed verification: {e}")))?;
    Ok(bytes)
}
