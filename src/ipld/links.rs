//! The links of a block: what a DAG walk must fetch next.

use super::{block::inline_bytes, cbor, codec, unixfs::PbNode};
use cid::Cid;
use std::fmt;

/// Why a block's links could not be read. The `Display` text is fit for a pin's
/// `info.status_details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// A codec this service cannot read links from, so it cannot know the DAG is complete.
    UnknownCodec(u64),
    /// The block does not decode as its codec says it should.
    Malformed { codec: u64, reason: &'static str },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCodec(code) => write!(
                f,
                "unsupported codec 0x{code:x} (supported: dag-pb, raw, dag-cbor, dag-json)"
            ),
            Self::Malformed { codec, reason } => {
                write!(f, "malformed {} block: {reason}", codec_name(*codec))
            }
        }
    }
}

impl std::error::Error for LinkError {}

fn codec_name(code: u64) -> &'static str {
    match code {
        codec::DAG_PB => "dag-pb",
        codec::DAG_CBOR => "dag-cbor",
        codec::DAG_JSON => "dag-json",
        codec::RAW => "raw",
        _ => "unknown-codec",
    }
}

/// The CIDs `bytes` (the block `cid` names, already verified) links to, in block order,
/// duplicates kept: dag-pb's `Links[].Hash`, every tag-42 CID anywhere in a dag-cbor value,
/// every `{"/": "…"}` in dag-json, none for raw.
///
/// Identity-hash CIDs may appear among the result: their block is inline (see
/// [`super::block::inline_bytes`]), so the caller fetches and stores nothing for them, but
/// calls `links` on their inline bytes and follows those links like any other.
pub fn links(cid: &Cid, bytes: &[u8]) -> Result<Vec<Cid>, LinkError> {
    let code = cid.codec();
    let malformed = |reason| LinkError::Malformed {
        codec: code,
        reason,
    };
    match code {
        codec::RAW => Ok(Vec::new()),
        codec::DAG_PB => Ok(PbNode::parse(bytes)
            .map_err(|e| malformed(e.reason()))?
            .links
            .into_iter()
            .map(|l| l.cid)
            .collect()),
        codec::DAG_CBOR => cbor::links(bytes).map_err(malformed),
        codec::DAG_JSON => json_links(bytes).map_err(malformed),
        other => Err(LinkError::UnknownCodec(other)),
    }
}

/// [`links`], with each identity-hash CID replaced by the links of its inline block (and so on,
/// for inline blocks linking to inline blocks): every CID returned names a block to fetch.
/// Duplicates are kept.
pub fn links_to_fetch(cid: &Cid, bytes: &[u8]) -> Result<Vec<Cid>, LinkError> {
    let mut out = Vec::new();
    let mut pending = links(cid, bytes)?;
    pending.reverse();
    // Each inline block is shorter than the CID holding it, so this ends.
    while let Some(next) = pending.pop() {
        match inline_bytes(&next) {
            Some(inline) => {
                let mut inner = links(&next, inline)?;
                inner.reverse();
                pending.extend(inner);
            }
            None => out.push(next),
        }
    }
    Ok(out)
}

fn json_links(bytes: &[u8]) -> Result<Vec<Cid>, &'static str> {
    use serde_json::Value;
    // serde_json refuses nesting past 128 levels, which bounds this recursion.
    fn walk(v: &Value, out: &mut Vec<Cid>) -> Result<(), &'static str> {
        match v {
            Value::Array(items) => items.iter().try_for_each(|i| walk(i, out)),
            Value::Object(map) => match (map.len(), map.get("/")) {
                (1, Some(Value::String(s))) => {
                    out.push(s.parse().map_err(|_| "invalid CID in a link")?);
                    Ok(())
                }
                // `{"/": {"bytes": "…"}}` is how dag-json writes bytes: no link.
                (1, Some(Value::Object(_))) => Ok(()),
                _ => map.values().try_for_each(|i| walk(i, out)),
            },
            _ => Ok(()),
        }
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|_| "invalid JSON")?;
    let mut out = Vec::new();
    walk(&value, &mut out)?;
    Ok(out)
}
