//! A response body as a plan: pieces whose total length is known before any block is read, so
//! a gigabyte answer streams through a Worker's 128 MB with a `Content-Length`. The edge pulls
//! chunks from [`BodyStream`]; native tests pull the same chunks.

use super::dag::{read_verified, Dag, Stored};
use crate::error::ApiError;
use crate::ipld::codec;
use crate::ipld::unixfs::{file_pieces, Piece as FilePiece};
use crate::r2::Blobs;
use cid::Cid;
use std::rc::Rc;

/// R2 reads of neighbouring blocks of one segment are merged up to this many bytes: a DAG
/// written depth first lies in its segments in the order a CAR or a file reads it, so a
/// gigabyte costs a few hundred reads (subrequests) instead of thousands.
pub const MERGE_BYTES: u64 = 8 << 20;
/// Bytes between two merged blocks: the next one's section header (varint and CID).
const MAX_GAP: u64 = 128;

#[derive(Debug, Clone)]
pub enum Piece {
    Bytes(Vec<u8>),
    /// A stored block, verified when read: `prefix`, then its bytes `from..to`.
    Block {
        cid: Cid,
        at: Stored,
        prefix: Vec<u8>,
        from: u32,
        to: u32,
    },
    /// Bytes `start..end` of the UnixFS file rooted at `cid`: its node is read when reached
    /// and replaced by its parts.
    File {
        cid: Cid,
        start: u64,
        end: u64,
    },
}

#[derive(Debug)]
pub struct Plan {
    pub len: u64,
    pieces: Vec<Piece>,
    dag: Option<Rc<Dag>>,
}

impl Plan {
    pub fn bytes(b: Vec<u8>) -> Plan {
        Plan {
            len: b.len() as u64,
            pieces: vec![Piece::Bytes(b)],
            dag: None,
        }
    }

    pub fn new(len: u64, pieces: Vec<Piece>, dag: Rc<Dag>) -> Plan {
        Plan {
            len,
            pieces,
            dag: Some(dag),
        }
    }

    pub fn stream(self) -> BodyStream {
        let mut stack = self.pieces;
        stack.reverse();
        BodyStream {
            dag: self.dag,
            stack,
            expected: self.len,
            sent: 0,
            failed: false,
        }
    }

    /// The whole body (tests, and small answers).
    pub async fn collect<B: Blobs>(self, blobs: &B) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut s = self.stream();
        while let Some(chunk) = s.next(blobs).await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

/// Yields a plan's bytes chunk by chunk. After an error it yields nothing more: the response
/// is cut short, which a client of a CAR or of a `Content-Length` body detects.
pub struct BodyStream {
    dag: Option<Rc<Dag>>,
    stack: Vec<Piece>,
    expected: u64,
    sent: u64,
    failed: bool,
}

impl BodyStream {
    pub async fn next<B: Blobs>(&mut self, blobs: &B) -> Option<Result<Vec<u8>, String>> {
        if self.failed {
            return None;
        }
        let got = self.step(blobs).await;
        match got {
            Ok(Some(chunk)) => {
                self.sent += chunk.len() as u64;
                if self.sent > self.expected {
                    return self.fail("the body is longer than planned".into());
                }
                Some(Ok(chunk))
            }
            Ok(None) if self.sent != self.expected => self.fail(format!(
                "the body ended at {} of {} bytes",
                self.sent, self.expected
            )),
            Ok(None) => None,
            Err(e) => self.fail(e.details()),
        }
    }

    fn fail(&mut self, why: String) -> Option<Result<Vec<u8>, String>> {
        self.failed = true;
        Some(Err(why))
    }

    async fn step<B: Blobs>(&mut self, blobs: &B) -> Result<Option<Vec<u8>>, ApiError> {
        loop {
            let Some(piece) = self.stack.pop() else {
                return Ok(None);
            };
            match piece {
                Piece::Bytes(b) if b.is_empty() => continue,
                Piece::Bytes(b) => return Ok(Some(b)),
                Piece::Block { .. } => {
                    let mut run = vec![piece];
                    while let Some(next) = self.stack.last() {
                        if !adjacent(run.last().expect("one at least"), next, run_len(&run)) {
                            break;
                        }
                        run.push(self.stack.pop().expect("just seen"));
                    }
                    return read_run(blobs, run).await.map(Some);
                }
                Piece::File { cid, start, end } => self.expand(blobs, cid, start, end).await?,
            }
        }
    }

    /// Replaces a file node by its parts; a raw leaf becomes a block piece, so that runs of
    /// leaves merge into one read.
    async fn expand<B: Blobs>(
        &mut self,
        blobs: &B,
        cid: Cid,
        start: u64,
        end: u64,
    ) -> Result<(), ApiError> {
        let dag = self
            .dag
            .clone()
            .ok_or_else(|| ApiError::Internal("no DAG".into()))?;
        if cid.codec() == codec::RAW {
            let at = dag.locate(&cid)?;
            let len = u64::from(at.len);
            let (from, to) = (start.min(len) as u32, end.min(len) as u32);
            self.stack.push(Piece::Block {
                cid,
                at,
                prefix: Vec::new(),
                from,
                to,
            });
            return Ok(());
        }
        let bytes = dag.block(blobs, &cid).await?;
        let parts = file_pieces(&cid, &bytes, start, end)
            .map_err(|e| ApiError::Internal(format!("kept file node {cid}: {e}")))?;
        for part in parts.into_iter().rev() {
            self.stack.push(match part {
                FilePiece::Inline(b) => Piece::Bytes(b.to_vec()),
                FilePiece::Child { cid, start, end } => Piece::File { cid, start, end },
            });
        }
        Ok(())
    }
}

fn run_len(run: &[Piece]) -> u64 {
    match (run.first(), run.last()) {
        (Some(Piece::Block { at: a, .. }), Some(Piece::Block { at: b, .. })) => {
            b.offset + u64::from(b.len) - a.offset
        }
        _ => 0,
    }
}

fn adjacent(last: &Piece, next: &Piece, so_far: u64) -> bool {
    let (Piece::Block { at: a, .. }, Piece::Block { at: b, .. }) = (last, next) else {
        return false;
    };
    let end = a.offset + u64::from(a.len);
    a.key == b.key
        && b.offset >= end
        && b.offset - end <= MAX_GAP
        && so_far + (b.offset - end) + u64::from(b.len) <= MERGE_BYTES
}

/// One R2 read for a run of neighbouring blocks, each verified, then written out in order.
async fn read_run<B: Blobs>(blobs: &B, run: Vec<Piece>) -> Result<Vec<u8>, ApiError> {
    let Some(Piece::Block { at: first, .. }) = run.first() else {
        return Ok(Vec::new());
    };
    if run.len() == 1 {
        let Some(Piece::Block {
            cid,
            at,
            prefix,
            from,
            to,
        }) = run.into_iter().next()
        else {
            unreachable!("a run holds blocks")
        };
        let mut out = prefix;
        let bytes = read_verified(blobs, &cid, &at).await?;
        out.extend_from_slice(&bytes[from as usize..to as usize]);
        return Ok(out);
    }
    let whole = Stored {
        key: first.key.clone(),
        offset: first.offset,
        len: 0,
    };
    let span = run_len(&run);
    let bytes = blobs
        .get_range(&whole.key, whole.offset, span)
        .await
        .map_err(|e| ApiError::Internal(format!("R2: {}", e.0)))?
        .filter(|b| b.len() as u64 == span)
        .ok_or_else(|| ApiError::Internal("a segment of the DAG is short or gone".into()))?;
    let mut out = Vec::with_capacity(span as usize + 64 * run.len());
    for piece in run {
        let Piece::Block {
            cid,
            at,
            prefix,
            from,
            to,
        } = piece
        else {
            unreachable!("a run holds blocks")
        };
        let at0 = (at.offset - whole.offset) as usize;
        let block = &bytes[at0..at0 + at.len as usize];
        crate::ipld::block::verify(&cid, block).map_err(|e| {
            ApiError::Internal(format!("stored block {cid} failed verification: {e}"))
        })?;
        out.extend_from_slice(&prefix);
        out.extend_from_slice(&block[from as usize..to as usize]);
    }
    Ok(out)
}
