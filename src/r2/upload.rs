//! `POST /car`: a CARv1 sent with the pin. Every block is verified as the body streams in and
//! written to R2 in segments of `SEGMENT_BYTES`; nothing is named by the DAG's manifest until
//! the whole body has arrived and checked out, so a refused upload keeps nothing (its segments
//! are deleted). Then the blocks join the DAG of the CAR's first root (or `?root=`): merged
//! into the index in force by a conditional write of the manifest, like a fetch step's commit.
//! A DAG whose blocks are all there is `pinned`; one still missing blocks is `pinning` and the
//! fetch steps get the rest (from gateways, or from later uploads with `?root=`).
//! An upload's objects are named as such, with the time it began (`layout::upload_object`):
//! a fetch step's cleanup, a read's and a release spare them for `UPLOAD_MS`, and the upload
//! commits nothing after its deadline, so no cleanup deletes what a commit is about to name.

use super::index::{self, Entry};
use super::manifest::Manifest;
use super::work::inline_links;
use super::{layout, BlobError, Blobs, Chunks, Sender};
use crate::domain::status::Status;
use crate::ipld::car::{write, CarItem, CarReader};
use crate::ipld::{block, links};
use cid::Cid;

/// Segment objects of an upload are cut at this size: what the worker holds at once.
pub const SEGMENT_BYTES: usize = 8 << 20;
/// Conditional merges tried before the upload gives up (a fetch step committing meanwhile).
const MERGE_TRIES: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// Not a CARv1, truncated, a block whose hash does not match, an unknown codec: 400.
    Malformed(String),
    /// More than the cap: 413.
    TooLarge(u64),
    /// The backend keeps no content (not `r2`): 404.
    NotKept,
    /// The body took too long to arrive (past the deadline before `UPLOAD_MS` runs out): 400.
    TooSlow,
    /// Over the user's quota: 403. `room`: the bytes the quota had left for it.
    OverQuota {
        room: u64,
    },
    Storage(BlobError),
}

impl From<BlobError> for UploadError {
    fn from(e: BlobError) -> Self {
        UploadError::Storage(e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub root: Cid,
    pub status: Status,
    /// Blocks and bytes this upload added, and what the DAG holds now.
    pub added_blocks: u64,
    pub dag_bytes: u64,
    pub missing: u64,
}

pub struct Upload<'a, B> {
    pub blobs: &'a B,
    /// The time now (ms): the commit checks its deadline against it.
    pub clock: &'a dyn Fn() -> u64,
    /// Body bytes accepted (`CAR_MAX_BYTES`).
    pub cap: u64,
    /// Bytes the user may still add, when a quota applies.
    pub room: Option<u64>,
}

struct Written {
    /// When the upload began, and its nonce: in its objects' names.
    started: u64,
    nonce: String,
    keys: Vec<String>,
    entries: Vec<(Cid, u32, u64, u32, Vec<Cid>)>,
}

impl<B: Blobs> Upload<'_, B> {
    /// Receives the body and commits it. `started`: when the upload began (the request's
    /// time); `nonce`: unique to this upload.
    pub async fn run<C: Sender>(
        &self,
        body: &mut C,
        root: Option<Cid>,
        started: u64,
        nonce: &str,
    ) -> Result<Uploaded, UploadError> {
        let mut written = Written {
            started,
            nonce: nonce.to_owned(),
            keys: Vec::new(),
            entries: Vec::new(),
        };
        let done = match self.receive(body, root, &mut written).await {
            Ok(root) => match body.committing(&root, (self.clock)()).await {
                Ok(()) => self.merge(root, &written, started).await,
                Err(e) => Err(UploadError::Storage(BlobError(e))),
            },
            Err(e) => Err(e),
        };
        if done.is_err() {
            self.blobs.delete(written.keys).await?;
        }
        done
    }

    /// Reads, verifies and writes the body's blocks; the DAG's root.
    async fn receive<C: Chunks>(
        &self,
        body: &mut C,
        root: Option<Cid>,
        out: &mut Written,
    ) -> Result<Cid, UploadError> {
        let mut reader = CarReader::new();
        let (mut root, mut segment, mut received) = (root, Vec::new(), 0u64);
        let mut header_seen = false;
        loop {
            while let Some(item) = reader
                .next()
                .map_err(|e| UploadError::Malformed(e.to_string()))?
            {
                match item {
                    CarItem::Header { roots } => {
                        header_seen = true;
                        if root.is_none() {
                            root = Some(*roots.first().ok_or_else(|| {
                                UploadError::Malformed(
                                    "the CAR names no root (and no ?root= was given)".into(),
                                )
                            })?);
                        }
                    }
                    CarItem::Block { cid, bytes, .. } => {
                        block::verify(&cid, &bytes)
                            .map_err(|e| UploadError::Malformed(format!("block {cid}: {e}")))?;
                        let links = links::links(&cid, &bytes)
                            .map_err(|e| UploadError::Malformed(format!("block {cid}: {e}")))?;
                        if segment.is_empty() {
                            segment = write::header(&[root.expect("the header comes first")]);
                        }
                        let section = write::block_section(&cid, &bytes);
                        let offset = (segment.len() + section.len() - bytes.len()) as u64;
                        segment.extend_from_slice(&section);
                        let n = out.keys.len() as u32;
                        out.entries
                            .push((cid, n, offset, bytes.len() as u32, links));
                        if segment.len() >= SEGMENT_BYTES {
                            self.flush(root, &mut segment, out).await?;
                        }
                    }
                }
            }
            match body.next().await {
                Some(Ok(chunk)) => {
                    received += chunk.len() as u64;
                    if received > self.cap {
                        return Err(UploadError::TooLarge(self.cap));
                    }
                    if let Some(room) = self.room.filter(|r| received > *r) {
                        return Err(UploadError::OverQuota { room });
                    }
                    reader.push(&chunk);
                }
                Some(Err(e)) => {
                    return Err(UploadError::Malformed(format!("the body broke off: {e}")))
                }
                None => break,
            }
        }
        if received == 0 {
            return Err(UploadError::Malformed(
                "the body is empty, not a CAR".into(),
            ));
        }
        reader
            .finish()
            .map_err(|e| UploadError::Malformed(e.to_string()))?;
        if !header_seen {
            return Err(UploadError::Malformed(
                "the body is empty, not a CAR".into(),
            ));
        }
        self.flush(root, &mut segment, out).await?;
        root.ok_or_else(|| UploadError::Malformed("the CAR names no root".into()))
    }

    async fn flush(
        &self,
        root: Option<Cid>,
        segment: &mut Vec<u8>,
        out: &mut Written,
    ) -> Result<(), UploadError> {
        if segment.is_empty() {
            return Ok(());
        }
        let root = root.expect("blocks follow the header").to_string();
        let name = layout::upload_object(out.started, &out.nonce, &out.keys.len().to_string());
        let key = layout::segment(&root, &name);
        self.blobs.put(&key, std::mem::take(segment)).await?;
        out.keys.push(key);
        Ok(())
    }

    /// Joins the written segments to the DAG: conditional on the manifest read, retried when
    /// a step committed meanwhile.
    async fn merge(&self, root: Cid, w: &Written, now: u64) -> Result<Uploaded, UploadError> {
        let cid = root.to_string();
        let key = layout::manifest(&cid);
        for attempt in 0..MERGE_TRIES {
            let current = self.blobs.get(&key).await?;
            let (mut m, etag) = match &current {
                Some(b) => match Manifest::from_bytes(&b.bytes) {
                    Some(m) => (m, Some(b.etag.clone())),
                    None => (Manifest::new(Vec::new(), now), Some(b.etag.clone())),
                },
                None => (Manifest::new(Vec::new(), now), None),
            };
            let mut index = index::in_force(self.blobs, &m).await?.unwrap_or_default();
            if m.index.is_none() {
                m.segments.clear();
            }
            let base = m.segments.len() as u32;
            let mut added = 0;
            for (c, seg, offset, len, links) in &w.entries {
                if !index.contains(c) {
                    added += 1;
                    let entry = Entry {
                        segment: base + seg,
                        offset: *offset,
                        len: *len,
                        links: links.clone(),
                    };
                    index.insert(*c, entry);
                }
            }
            let missing = index.missing(&root, inline_links).len() as u64;
            let name = layout::upload_object(w.started, &w.nonce, &format!("i{attempt}"));
            let idx_key = layout::index(&cid, &name);
            self.blobs.put(&idx_key, index.to_bytes()).await?;
            let previous = m.index.replace(idx_key.clone());
            m.segments.extend(w.keys.iter().cloned());
            m.blocks = index.len() as u64;
            m.bytes = index.bytes();
            m.missing = missing;
            m.updated = now;
            if missing == 0 {
                (m.status, m.details, m.error) = (Status::Pinned, None, None);
            } else if m.status != Status::Pinned {
                // Missing blocks are fetched; a failed DAG tries again.
                (m.status, m.details, m.tries, m.next_try) = (Status::Pinning, None, 0, 0);
            }
            // Past its deadline the cleanups may delete this upload's objects: commit nothing.
            let deadline = w.started + layout::UPLOAD_MS - layout::UPLOAD_COMMIT_MARGIN_MS;
            if (self.clock)() >= deadline {
                self.blobs.delete(vec![idx_key]).await?;
                return Err(UploadError::TooSlow);
            }
            let committed = match etag {
                Some(etag) => self
                    .blobs
                    .put_if(&key, m.to_bytes(), &etag)
                    .await?
                    .is_some(),
                None => {
                    self.blobs.put(&key, m.to_bytes()).await?;
                    true
                }
            };
            if committed {
                if let Some(old) = previous {
                    self.blobs.delete(vec![old]).await?;
                }
                return Ok(Uploaded {
                    root,
                    status: m.status,
                    added_blocks: added,
                    dag_bytes: m.bytes,
                    missing,
                });
            }
            self.blobs.delete(vec![idx_key]).await?;
        }
        Err(UploadError::Storage(BlobError(
            "the DAG kept changing; try again".into(),
        )))
    }
}
