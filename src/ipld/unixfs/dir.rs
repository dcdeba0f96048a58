//! Directory lookups, plain and HAMT-sharded, one block per step.

use super::{murmur3, Kind, PbNode, UnixFs, UnixFsError};
use cid::Cid;

/// The multihash code of `murmur3-x64-64`, the only HAMT name hash UnixFS uses.
pub const HAMT_HASH_MURMUR3: u64 = 0x22;

/// What one lookup step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The entry: its CID.
    Found(Cid),
    /// A HAMT sub-shard that may hold the entry: fetch it and step again with `depth + 1`.
    Descend(Cid),
    /// No entry of that name.
    Missing,
}

/// One step of looking `name` up in the directory node `node`, at HAMT depth `depth` (0 for
/// the directory's root block). A plain directory answers at once; a HAMT shard may answer
/// [`Next::Descend`].
pub fn dir_step(node: &PbNode, name: &str, depth: u32) -> Result<Next, UnixFsError> {
    let fs = UnixFs::of(node)?;
    match fs.kind {
        Kind::Directory => Ok(node
            .links
            .iter()
            .find(|l| l.name.as_deref() == Some(name))
            .map_or(Next::Missing, |l| Next::Found(l.cid))),
        Kind::HamtShard => shard_step(node, &fs, name, depth),
        other => Err(UnixFsError::WrongKind(other)),
    }
}

/// One step of a lookup in a HAMT shard node (see [`dir_step`], which also takes plain
/// directories).
pub fn hamt_step(node: &PbNode, name: &str, depth: u32) -> Result<Next, UnixFsError> {
    let fs = UnixFs::of(node)?;
    if fs.kind != Kind::HamtShard {
        return Err(UnixFsError::WrongKind(fs.kind));
    }
    shard_step(node, &fs, name, depth)
}

// A shard of fanout 2^b takes b bits of the name's hash per level, most significant first, and
// names each link by the bucket number in upper-case hex, padded to the width of fanout - 1:
// the bare number for a sub-shard, the number then the entry's name for an entry.
fn shard_step(node: &PbNode, fs: &UnixFs, name: &str, depth: u32) -> Result<Next, UnixFsError> {
    if fs.hash_type != Some(HAMT_HASH_MURMUR3) {
        return Err(UnixFsError::Inconsistent("HAMT hash is not murmur3-x64-64"));
    }
    let fanout = fs
        .fanout
        .ok_or(UnixFsError::Inconsistent("HAMT without fanout"))?;
    if !fanout.is_power_of_two() || !(2..=1 << 16).contains(&fanout) {
        return Err(UnixFsError::Inconsistent(
            "HAMT fanout is not a power of two",
        ));
    }
    let bits = fanout.trailing_zeros();
    let skip = u64::from(depth) * u64::from(bits);
    if skip + u64::from(bits) > 64 {
        return Err(UnixFsError::Inconsistent("HAMT deeper than its hash"));
    }
    let bucket = (murmur3::x64_64(name.as_bytes()) << skip) >> (64 - bits);
    let width = (bits as usize).div_ceil(4);
    let prefix = format!("{bucket:0width$X}");
    for link in &node.links {
        match link.name.as_deref().and_then(|n| n.strip_prefix(&prefix)) {
            Some("") => return Ok(Next::Descend(link.cid)),
            Some(entry) if entry == name => return Ok(Next::Found(link.cid)),
            _ => {}
        }
    }
    Ok(Next::Missing)
}
