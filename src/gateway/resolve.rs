//! Path resolution through UnixFS directories, plain and HAMT-sharded, one verified block at a
//! time; what was read on the way is what a CAR answer must carry before the entity.

use super::dag::Dag;
use crate::error::ApiError;
use crate::ipld::codec;
use crate::ipld::unixfs::{dir_step, Next, PbNode};
use crate::r2::Blobs;
use cid::Cid;

/// Where a path ends: the entity's CID and verified block, the blocks read before it (root and
/// shards, in order), and the CID each path segment resolved to (`X-Ipfs-Roots`).
#[derive(Debug)]
pub struct Resolved {
    pub cid: Cid,
    pub bytes: Vec<u8>,
    pub trail: Vec<Cid>,
    pub roots: Vec<Cid>,
}

/// A HAMT is at most 64 bits of hash deep; a path longer than this is refused unread.
const MAX_SEGMENTS: usize = 256;

pub async fn resolve<B: Blobs>(
    dag: &Dag,
    blobs: &B,
    root: &Cid,
    path: &[String],
) -> Result<Resolved, ApiError> {
    if path.len() > MAX_SEGMENTS {
        return Err(ApiError::bad("path", "too many segments"));
    }
    let mut cid = *root;
    let mut bytes = dag.block(blobs, root).await?;
    let mut trail = Vec::new();
    let mut roots = vec![*root];
    for name in path {
        if cid.codec() != codec::DAG_PB {
            return Err(no_path(
                "the path crosses a block that is not a UnixFS directory",
            ));
        }
        let mut depth = 0;
        loop {
            let node = PbNode::parse(&bytes).map_err(|e| bad_node(&cid, e))?;
            let next = dir_step(&node, name, depth)
                .map_err(|_| no_path("the path crosses a UnixFS node that is not a directory"))?;
            trail.push(cid);
            match next {
                Next::Found(c) => {
                    cid = c;
                    bytes = dag.block(blobs, &c).await?;
                    roots.push(c);
                    break;
                }
                Next::Descend(c) => {
                    cid = c;
                    bytes = dag.block(blobs, &c).await?;
                    depth += 1;
                }
                Next::Missing => return Err(no_path("no such file or directory")),
            }
        }
    }
    Ok(Resolved {
        cid,
        bytes,
        trail,
        roots,
    })
}

fn no_path(why: &str) -> ApiError {
    ApiError::NotFound(format!("path: {why}"))
}

pub fn bad_node(cid: &Cid, e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("kept block {cid}: {e}"))
}
