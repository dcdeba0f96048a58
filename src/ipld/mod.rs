//! The IPLD core the `r2` backend and the gateway stand on: block verification, link
//! extraction (dag-pb, raw, dag-cbor, dag-json), an incremental CARv1 reader and writer, and
//! UnixFS (files, directories, HAMT-sharded directories).
//!
//! Plain Rust over byte slices: no I/O, no `worker` types. Every parser here takes bytes that
//! came from the network and answers a typed error for anything malformed, never a panic; each
//! is bounded in memory and in recursion (the CBOR walk keeps its own stack), so a hostile
//! block costs at most its own size.
//!
//! Identity-hash CIDs (multihash 0x00) carry their block inline: the digest *is* the block.
//! They are never fetched or stored, but a DAG walk must still read their links (see
//! [`block::inline_bytes`]; [`links::links_to_fetch`] does it for the caller).

pub mod block;
pub mod car;
mod cbor;
pub mod links;
pub mod unixfs;
mod varint;

/// Multicodec codes this module reads.
pub mod codec {
    pub const RAW: u64 = 0x55;
    pub const DAG_PB: u64 = 0x70;
    pub const DAG_CBOR: u64 = 0x71;
    pub const DAG_JSON: u64 = 0x0129;
}
