//! File bytes: which blocks hold a byte range of a UnixFS file.

use super::{Kind, PbNode, UnixFs, UnixFsError};
use crate::ipld::codec;
use cid::Cid;

/// Part of a requested byte range, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Bytes held in the block itself (a raw leaf, or a node's own `Data`).
    Inline(&'a [u8]),
    /// Bytes `start..end` of the child's own content, counted from the child's first byte:
    /// fetch the child and ask [`file_pieces`] again with that range.
    Child { cid: Cid, start: u64, end: u64 },
}

/// What a file block is: a raw leaf, or a UnixFS file node.
enum FileBlock<'a> {
    Leaf(&'a [u8]),
    Node {
        data: &'a [u8],
        links: Vec<Cid>,
        sizes: Vec<u64>,
    },
}

fn read<'a>(cid: &Cid, bytes: &'a [u8]) -> Result<FileBlock<'a>, UnixFsError> {
    match cid.codec() {
        codec::RAW => Ok(FileBlock::Leaf(bytes)),
        codec::DAG_PB => {
            let node = PbNode::parse(bytes)?;
            let fs = UnixFs::of(&node)?;
            if !matches!(fs.kind, Kind::File | Kind::Raw) {
                return Err(UnixFsError::WrongKind(fs.kind));
            }
            if fs.blocksizes.len() != node.links.len() {
                return Err(UnixFsError::Inconsistent("blocksizes do not match links"));
            }
            let data = fs.data.unwrap_or_default();
            let total = fs
                .blocksizes
                .iter()
                .try_fold(data.len() as u64, |acc, &s| acc.checked_add(s))
                .ok_or(UnixFsError::Inconsistent("file size overflows"))?;
            if fs.filesize.is_some_and(|f| f != total) {
                return Err(UnixFsError::Inconsistent(
                    "filesize does not match blocksizes",
                ));
            }
            Ok(FileBlock::Node {
                data,
                links: node.links.into_iter().map(|l| l.cid).collect(),
                sizes: fs.blocksizes,
            })
        }
        other => Err(UnixFsError::Codec(other)),
    }
}

/// The byte length of the file rooted at this block (a raw block, or a dag-pb UnixFS file
/// node: its own data plus its children's `blocksizes`).
pub fn file_size(cid: &Cid, bytes: &[u8]) -> Result<u64, UnixFsError> {
    Ok(match read(cid, bytes)? {
        FileBlock::Leaf(b) => b.len() as u64,
        FileBlock::Node { data, sizes, .. } => data.len() as u64 + sizes.iter().sum::<u64>(),
    })
}

/// Which parts of this file block cover bytes `start..end` of its file (clamped to the file's
/// size; empty when nothing is left). A node's own data comes before its children's, as
/// UnixFS lays files out.
///
/// Sizes come from the parent's `blocksizes`, which a child can contradict: the caller counts
/// what it actually writes and fails the response if a child comes up short.
pub fn file_pieces<'a>(
    cid: &Cid,
    bytes: &'a [u8],
    start: u64,
    end: u64,
) -> Result<Vec<Piece<'a>>, UnixFsError> {
    let clip = |b: &'a [u8], from: u64, to: u64| -> &'a [u8] {
        let len = b.len() as u64;
        let (from, to) = (from.min(len) as usize, to.min(len) as usize);
        &b[from..to.max(from)]
    };
    let mut out = Vec::new();
    let block = read(cid, bytes)?;
    if start >= end {
        return Ok(out);
    }
    match block {
        FileBlock::Leaf(b) => {
            if start < b.len() as u64 {
                out.push(Piece::Inline(clip(b, start, end)));
            }
        }
        FileBlock::Node { data, links, sizes } => {
            if start < data.len() as u64 {
                out.push(Piece::Inline(clip(data, start, end)));
            }
            let mut at = data.len() as u64;
            for (cid, size) in links.into_iter().zip(sizes) {
                let child_end = at + size;
                if at < end && start < child_end && size > 0 {
                    out.push(Piece::Child {
                        cid,
                        start: start.saturating_sub(at),
                        end: end.min(child_end) - at,
                    });
                }
                at = child_end;
            }
        }
    }
    Ok(out)
}
