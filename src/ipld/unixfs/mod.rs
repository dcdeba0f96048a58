//! UnixFS: files, directories and HAMT-sharded directories over dag-pb, for a gateway that
//! serves file bytes, byte ranges and paths.
//!
//! Nothing here fetches: each function reads one block and says which blocks come next, so
//! the caller fetches (and verifies) between steps.

mod dir;
mod file;
pub mod murmur3;
mod pb;

pub use dir::{dir_step, hamt_step, Next};
pub use file::{file_pieces, file_size, Piece};
pub use pb::{PbLink, PbNode};

use pb::{Field, Fields};
use std::fmt;

/// Why a block could not be read as UnixFS. `Display` is fit to show a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixFsError {
    /// The dag-pb envelope or the UnixFS message is not valid protobuf as dag-pb requires.
    Protobuf(&'static str),
    /// A dag-pb node with no UnixFS data, or with a type UnixFS does not define.
    NotUnixFs(&'static str),
    /// The node is UnixFS, but not the kind the operation needs (a directory asked for bytes).
    WrongKind(Kind),
    /// The node contradicts itself (blocksizes not matching links, a bad fanout).
    Inconsistent(&'static str),
    /// The CID's codec is neither dag-pb nor raw.
    Codec(u64),
}

impl UnixFsError {
    /// A short reason without the variant's framing.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Protobuf(r) | Self::NotUnixFs(r) | Self::Inconsistent(r) => r,
            Self::WrongKind(_) => "wrong UnixFS kind",
            Self::Codec(_) => "not a UnixFS codec",
        }
    }
}

impl fmt::Display for UnixFsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protobuf(r) => write!(f, "malformed dag-pb: {r}"),
            Self::NotUnixFs(r) => write!(f, "not UnixFS: {r}"),
            Self::WrongKind(k) => write!(f, "UnixFS node is a {k:?}, not usable here"),
            Self::Inconsistent(r) => write!(f, "inconsistent UnixFS node: {r}"),
            Self::Codec(c) => write!(f, "codec 0x{c:x} is not UnixFS (dag-pb or raw)"),
        }
    }
}

impl std::error::Error for UnixFsError {}

/// The UnixFS `Data.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Raw,
    Directory,
    File,
    Metadata,
    Symlink,
    HamtShard,
}

/// A UnixFS `Data` message (the `data` of a dag-pb node), borrowing from the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixFs<'a> {
    pub kind: Kind,
    /// File bytes held in this node itself (before any children's), or a symlink's target.
    pub data: Option<&'a [u8]>,
    pub filesize: Option<u64>,
    /// Each child link's share of the file's bytes, in link order.
    pub blocksizes: Vec<u64>,
    /// HAMT: the multihash code of the name hash (0x22, murmur3-x64-64).
    pub hash_type: Option<u64>,
    /// HAMT: children per shard node.
    pub fanout: Option<u64>,
    pub mode: Option<u32>,
}

impl<'a> UnixFs<'a> {
    /// Parses a UnixFS `Data` message. Unknown fields (such as `mtime`) are skipped, as
    /// protobuf allows and UnixFS's later additions rely on.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, UnixFsError> {
        let mut fields = Fields::new(bytes);
        let mut kind = None;
        let mut fs = UnixFs {
            kind: Kind::Raw,
            data: None,
            filesize: None,
            blocksizes: Vec::new(),
            hash_type: None,
            fanout: None,
            mode: None,
        };
        while let Some((number, value)) = fields.next_field()? {
            match (number, value) {
                (1, Field::Varint(t)) => {
                    kind = Some(match t {
                        0 => Kind::Raw,
                        1 => Kind::Directory,
                        2 => Kind::File,
                        3 => Kind::Metadata,
                        4 => Kind::Symlink,
                        5 => Kind::HamtShard,
                        _ => return Err(UnixFsError::NotUnixFs("unknown Data.Type")),
                    })
                }
                (2, Field::Bytes(d)) => fs.data = Some(d),
                (3, Field::Varint(n)) => fs.filesize = Some(n),
                (4, Field::Varint(n)) => fs.blocksizes.push(n),
                // Packed encoding of the same repeated field.
                (4, Field::Bytes(mut packed)) => {
                    while !packed.is_empty() {
                        let (n, used) = crate::ipld::varint::read(packed)
                            .map_err(|_| UnixFsError::Protobuf("bad packed blocksizes"))?;
                        fs.blocksizes.push(n);
                        packed = &packed[used..];
                    }
                }
                (5, Field::Varint(n)) => fs.hash_type = Some(n),
                (6, Field::Varint(n)) => fs.fanout = Some(n),
                (7, Field::Varint(n)) => fs.mode = Some(n as u32),
                (1..=7, _) => return Err(UnixFsError::Protobuf("UnixFS field of wrong type")),
                _ => {}
            }
        }
        fs.kind = kind.ok_or(UnixFsError::NotUnixFs("no Data.Type"))?;
        Ok(fs)
    }

    /// The UnixFS message of a dag-pb node.
    pub fn of(node: &PbNode<'a>) -> Result<Self, UnixFsError> {
        Self::parse(
            node.data
                .ok_or(UnixFsError::NotUnixFs("dag-pb node without Data"))?,
        )
    }
}
