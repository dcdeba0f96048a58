//! CARv1, read incrementally off a network stream and written for gateway responses.
//!
//! A CARv1 is a varint-prefixed dag-cbor header `{version: 1, roots: [CID…]}` followed by
//! sections, each a varint length then a binary CID and the block's bytes. The reader holds
//! at most one unfinished section (≤ [`MAX_SECTION_BYTES`]) beyond what the caller pushed.

pub mod write;

use super::block::MAX_BLOCK_BYTES;
use super::{cbor, varint};
use cid::Cid;
use std::fmt;

/// The largest header accepted. A header is a version and a few roots; 64 KiB is over a
/// thousand CIDs.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Room for a section's CID: a CIDv1 with a 64-byte digest is under 90 bytes.
pub const MAX_CID_BYTES: usize = 128;

/// The largest section accepted: a maximal block and its CID.
pub const MAX_SECTION_BYTES: usize = MAX_BLOCK_BYTES + MAX_CID_BYTES;

/// Why a CAR stream was refused. `Display` is fit to show a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarError {
    /// The stream ended inside the header or a section, at this offset.
    Truncated { offset: u64 },
    /// A varint of more than ten bytes, over 64 bits, or zero-padded.
    BadVarint { offset: u64 },
    /// The header's length prefix is over [`MAX_HEADER_BYTES`] (or zero).
    HeaderSize { offset: u64, size: u64 },
    /// The header is not the dag-cbor map CARv1 defines.
    BadHeader(&'static str),
    /// A CAR of another version; a CARv2 begins with a pragma that reads as version 2.
    NotCarV1 { version: u64 },
    /// A section's length prefix is over [`MAX_SECTION_BYTES`], or zero.
    SectionSize { offset: u64, size: u64 },
    /// A section does not start with a valid binary CID.
    BadCid { offset: u64 },
    /// A block over [`MAX_BLOCK_BYTES`].
    BlockTooLarge { offset: u64, size: u64 },
}

impl fmt::Display for CarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { offset } => write!(f, "CAR truncated at byte {offset}"),
            Self::BadVarint { offset } => write!(f, "CAR has an invalid varint at byte {offset}"),
            Self::HeaderSize { size, .. } => write!(
                f,
                "CAR header of {size} bytes (must be 1 to {MAX_HEADER_BYTES})"
            ),
            Self::BadHeader(reason) => write!(f, "CAR header is invalid: {reason}"),
            Self::NotCarV1 { version } => {
                write!(f, "CAR version {version} is not supported (only CARv1)")
            }
            Self::SectionSize { offset, size } => write!(
                f,
                "CAR section at byte {offset} has length {size} (must be 1 to {MAX_SECTION_BYTES})"
            ),
            Self::BadCid { offset } => write!(f, "CAR section at byte {offset} has an invalid CID"),
            Self::BlockTooLarge { offset, size } => write!(
                f,
                "CAR block at byte {offset} is {size} bytes, over the {MAX_BLOCK_BYTES}-byte limit"
            ),
        }
    }
}

impl std::error::Error for CarError {}

/// What the reader yields, in stream order: the header once, then every block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarItem {
    /// The roots may be empty: CARv1 allows it; whether that is acceptable is the caller's call.
    Header { roots: Vec<Cid> },
    /// A block, unverified (see [`crate::ipld::block::verify`]). `offset` and `section_len`
    /// locate the whole section (length varint, CID, bytes) in the stream, so a stored copy of
    /// the stream can be sliced back into a CAR; `data_offset` is where `bytes` begin, for
    /// serving the raw block from the same copy.
    Block {
        cid: Cid,
        bytes: Vec<u8>,
        offset: u64,
        section_len: u64,
        data_offset: u64,
    },
}

/// An incremental CARv1 reader: [`push`](Self::push) bytes as they arrive, take items with
/// [`next`](Self::next) until it answers `None` (more bytes needed), and call
/// [`finish`](Self::finish) at the end of the stream.
#[derive(Debug, Default)]
pub struct CarReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    start: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    header_read: bool,
    failed: Option<CarError>,
}

impl CarReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next bytes of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes of the stream consumed so far: the end of the last item returned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes pushed but not yet returned as items.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next item, `Ok(None)` when more bytes are needed, or the error that ends the
    /// stream (returned again on every later call).
    #[allow(clippy::should_implement_trait)] // fallible and resumable: not an Iterator
    pub fn next(&mut self) -> Result<Option<CarItem>, CarError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.read_item();
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// At the end of the stream: an error unless it ended right after the header or a block.
    pub fn finish(&self) -> Result<(), CarError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !self.header_read || self.buffered() > 0 {
            return Err(CarError::Truncated {
                offset: self.offset + self.buffered() as u64,
            });
        }
        Ok(())
    }

    fn read_item(&mut self) -> Result<Option<CarItem>, CarError> {
        let at = self.offset;
        let rest = &self.buf[self.start..];
        let (len, prefix) = match varint::read(rest) {
            Ok(v) => v,
            Err(varint::VarintError::Truncated) => return Ok(None),
            Err(varint::VarintError::Overlong) => return Err(CarError::BadVarint { offset: at }),
        };
        let limit = if self.header_read {
            MAX_SECTION_BYTES
        } else {
            MAX_HEADER_BYTES
        };
        if len == 0 || len > limit as u64 {
            return Err(if self.header_read {
                CarError::SectionSize {
                    offset: at,
                    size: len,
                }
            } else {
                CarError::HeaderSize {
                    offset: at,
                    size: len,
                }
            });
        }
        let total = prefix + len as usize;
        if rest.len() < total {
            return Ok(None);
        }
        let body = &rest[prefix..total];
        let item = if self.header_read {
            let cid = cbor::parse_cid_prefix(body).map_err(|_| CarError::BadCid { offset: at })?;
            let cid_len = cid.encoded_len();
            let bytes = &body[cid_len..];
            if bytes.len() > MAX_BLOCK_BYTES {
                return Err(CarError::BlockTooLarge {
                    offset: at,
                    size: bytes.len() as u64,
                });
            }
            CarItem::Block {
                cid,
                bytes: bytes.to_vec(),
                offset: at,
                section_len: total as u64,
                data_offset: at + (prefix + cid_len) as u64,
            }
        } else {
            let roots = parse_header(body)?;
            self.header_read = true;
            CarItem::Header { roots }
        };
        self.start += total;
        self.offset += total as u64;
        Ok(Some(item))
    }
}

/// Reads the header map. Keys may come in any order; unknown keys are skipped. The version
/// is checked before the roots are required, so a CARv2 pragma (`{version: 2}`) is named.
fn parse_header(body: &[u8]) -> Result<Vec<Cid>, CarError> {
    let bad = CarError::BadHeader;
    let mut d = cbor::Decoder::new(body);
    let (major, _, pairs) = d.head().map_err(bad)?;
    if major != 5 {
        return Err(bad("not a map"));
    }
    let (mut version, mut roots) = (None, None);
    for _ in 0..pairs {
        match d.text().map_err(bad)? {
            "version" => match d.head().map_err(bad)? {
                (0, _, v) => version = Some(v),
                _ => return Err(bad("version is not an integer")),
            },
            "roots" => {
                let (major, _, n) = d.head().map_err(bad)?;
                if major != 4 {
                    return Err(bad("roots is not a list"));
                }
                let mut list = Vec::new();
                for _ in 0..n {
                    list.push(d.link().map_err(bad)?);
                }
                roots = Some(list);
            }
            _ => d.skip(&mut |_| {}).map_err(bad)?,
        }
    }
    if !d.at_end() {
        return Err(bad("bytes after the header map"));
    }
    match version {
        Some(1) => roots.ok_or(bad("no roots")),
        Some(v) => Err(CarError::NotCarV1 { version: v }),
        None => Err(bad("no version")),
    }
}
