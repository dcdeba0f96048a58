//! CAR answers: which blocks, in which order (depth first, each block once), and the body plan
//! with its exact length (known from the index before any block is read).

use super::ask::{Ask, Scope};
use super::body::{Piece, Plan};
use super::dag::Dag;
use super::resolve::{bad_node, Resolved};
use crate::error::ApiError;
use crate::ipld::block::inline_bytes;
use crate::ipld::car::write;
use crate::ipld::codec;
use crate::ipld::unixfs::{file_pieces, file_size, Kind, PbNode, Piece as FilePiece, UnixFs};
use crate::r2::Blobs;
use cid::Cid;
use std::collections::BTreeSet;
use std::rc::Rc;

pub const CONTENT_TYPE: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/// The blocks of the answer and what names its variant in the `Etag`.
pub struct CarPlan {
    pub plan: Plan,
    pub variant: String,
}

pub async fn plan<B: Blobs>(
    dag: Rc<Dag>,
    blobs: &B,
    ask: &Ask,
    at: &Resolved,
) -> Result<CarPlan, ApiError> {
    let mut order = Order::default();
    for c in &at.trail {
        order.push(*c);
    }
    let mut variant = format!(
        "car.{}",
        if ask.entity_bytes.is_some() {
            "entity"
        } else {
            ask.scope.name()
        }
    );
    let scope = if ask.entity_bytes.is_some() {
        Scope::Entity
    } else {
        ask.scope
    };
    match scope {
        Scope::Block => {
            order.push(at.cid);
        }
        Scope::All => all(&dag, &mut order, at.cid),
        Scope::Entity => {
            let range = ask
                .entity_bytes
                .map(|eb| (eb, file_size(&at.cid, &at.bytes)));
            match (entity_kind(at)?, range) {
                (Entity::File, Some((eb, Ok(size)))) => match eb.resolve(size) {
                    Some((start, end)) => {
                        variant = format!("car.bytes.{start}-{end}");
                        file_range(&dag, blobs, &mut order, at, start, end).await?
                    }
                    None if size > 0 && eb.from >= 0 && eb.from as u64 >= size => {
                        return Err(ApiError::bad(
                            "entity-bytes",
                            "the range is outside the file",
                        ))
                    }
                    None => {
                        variant = "car.bytes.empty".into();
                        order.push(at.cid);
                    }
                },
                (Entity::File, _) => all(&dag, &mut order, at.cid),
                (Entity::Shards, _) => shards(&dag, blobs, &mut order, at.cid).await?,
                (Entity::Block, _) => {
                    order.push(at.cid);
                }
            }
        }
    }
    let mut pieces = Vec::with_capacity(order.cids.len() + 1);
    let header = write::header(std::slice::from_ref(&ask.root));
    let mut len = header.len() as u64;
    pieces.push(Piece::Bytes(header));
    for cid in order.cids {
        let at = dag.locate(&cid)?;
        len += write::section_len(&cid, at.len as usize);
        let prefix = write::section_prefix(&cid, at.len as usize);
        let to = at.len;
        pieces.push(Piece::Block {
            cid,
            at,
            prefix,
            from: 0,
            to,
        });
    }
    Ok(CarPlan {
        plan: Plan::new(len, pieces, dag),
        variant,
    })
}

/// Blocks in answer order, each once; identity CIDs are never written (their bytes are in the
/// CID), though their links are followed.
#[derive(Default)]
struct Order {
    seen: BTreeSet<Vec<u8>>,
    cids: Vec<Cid>,
}

impl Order {
    /// True the first time a block (by multihash: a CIDv0 and its CIDv1 are one block) is met.
    fn push(&mut self, cid: Cid) -> bool {
        let key = [cid.codec().to_be_bytes().as_slice(), &cid.hash().to_bytes()].concat();
        if !self.seen.insert(key) {
            return false;
        }
        if inline_bytes(&cid).is_none() {
            self.cids.push(cid);
        }
        true
    }
}

enum Entity {
    File,
    Shards,
    Block,
}

fn entity_kind(at: &Resolved) -> Result<Entity, ApiError> {
    match at.cid.codec() {
        codec::RAW => Ok(Entity::File),
        codec::DAG_PB => {
            let node = PbNode::parse(&at.bytes).map_err(|e| bad_node(&at.cid, e))?;
            Ok(match UnixFs::of(&node).map(|fs| fs.kind) {
                Ok(Kind::File | Kind::Raw) => Entity::File,
                Ok(Kind::HamtShard) => Entity::Shards,
                _ => Entity::Block,
            })
        }
        _ => Ok(Entity::Block),
    }
}

/// The whole DAG under `root`, depth first, from the index alone.
fn all(dag: &Dag, order: &mut Order, root: Cid) {
    let mut stack = vec![root];
    while let Some(cid) = stack.pop() {
        if order.push(cid) {
            stack.extend(dag.links(&cid).into_iter().rev());
        }
    }
}

/// A HAMT directory's own nodes: the shard and its sub-shards, not the entries.
async fn shards<B: Blobs>(
    dag: &Dag,
    blobs: &B,
    order: &mut Order,
    root: Cid,
) -> Result<(), ApiError> {
    let mut stack = vec![root];
    while let Some(cid) = stack.pop() {
        if !order.push(cid) {
            continue;
        }
        let bytes = dag.block(blobs, &cid).await?;
        let node = PbNode::parse(&bytes).map_err(|e| bad_node(&cid, e))?;
        let fs = UnixFs::of(&node).map_err(|e| bad_node(&cid, e))?;
        // A sub-shard's link is named by its bucket alone; an entry's adds the entry name.
        let width = format!("{:X}", fs.fanout.unwrap_or(256).max(2) - 1).len();
        let subs = node.links.iter().filter(|l| {
            l.name.as_deref().is_some_and(|n| n.len() == width) && l.cid.codec() == codec::DAG_PB
        });
        let subs: Vec<Cid> = subs.map(|l| l.cid).collect();
        stack.extend(subs.into_iter().rev());
    }
    Ok(())
}

/// The blocks needed to read bytes `start..end` of a file: every node on the way (read, to
/// follow its `blocksizes`) and the leaves the range touches (from the index, unread).
async fn file_range<B: Blobs>(
    dag: &Dag,
    blobs: &B,
    order: &mut Order,
    at: &Resolved,
    start: u64,
    end: u64,
) -> Result<(), ApiError> {
    let mut stack = vec![(at.cid, start, end)];
    while let Some((cid, start, end)) = stack.pop() {
        order.push(cid);
        if dag.links(&cid).is_empty() {
            continue;
        }
        let bytes = if cid == at.cid {
            at.bytes.clone()
        } else {
            dag.block(blobs, &cid).await?
        };
        let parts = file_pieces(&cid, &bytes, start, end).map_err(|e| bad_node(&cid, e))?;
        for part in parts.into_iter().rev() {
            if let FilePiece::Child { cid, start, end } = part {
                stack.push((cid, start, end));
            }
        }
    }
    Ok(())
}
