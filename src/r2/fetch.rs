//! One Trustless Gateway request (https://specs.ipfs.tech/http-gateways/trustless-gateway/),
//! streamed: each block is verified against its CID as it arrives and kept in memory for the
//! step; nothing unverified goes further. A source that sends a block whose hash does not
//! match is dropped for the rest of the step, and its verified blocks are still good.

use super::{Chunks, Web};
use crate::ipld::block::{self, MAX_BLOCK_BYTES};
use crate::ipld::car::{CarItem, CarReader};
use cid::Cid;
use std::collections::BTreeMap;

pub const CAR_ACCEPT: &str = "application/vnd.ipld.car;version=1;order=dfs;dups=y";
pub const RAW_ACCEPT: &str = "application/vnd.ipld.raw";

/// Verified blocks a step has received and not yet kept, with their total size.
#[derive(Default)]
pub struct Received {
    pub blocks: BTreeMap<Cid, Vec<u8>>,
    pub bytes: u64,
}

impl Received {
    fn take(&mut self, cid: Cid, bytes: Vec<u8>) {
        if !self.blocks.contains_key(&cid) {
            self.bytes += bytes.len() as u64;
            self.blocks.insert(cid, bytes);
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The whole answer was read.
    Complete,
    /// The step's byte budget was reached: the rest is for the next step.
    Budget,
    /// The source did not answer, or not with what was asked (status, type, framing).
    Unusable(String),
    /// The source sent a block that is not what its CID says.
    Corrupt(String),
}

/// `GET {base}/ipfs/{cid}?format=car&dag-scope=all`: the DAG under `cid`, as far as the budget
/// goes (`budget` bytes in `into` at most).
pub async fn car<W: Web>(
    web: &W,
    base: &str,
    cid: &Cid,
    budget: u64,
    into: &mut Received,
) -> Ended {
    let url = format!("{base}/ipfs/{cid}?format=car&dag-scope=all");
    let mut answer = match web.get(&url, CAR_ACCEPT).await {
        Ok(a) => a,
        Err(e) => return Ended::Unusable(format!("{base}: {e}")),
    };
    if answer.status != 200 {
        return Ended::Unusable(format!("{base}: HTTP {}", answer.status));
    }
    if let Err(why) = car_type_ok(&answer.content_type) {
        return Ended::Unusable(format!("{base}: {why}"));
    }
    let mut reader = CarReader::new();
    loop {
        loop {
            match reader.next() {
                Ok(Some(CarItem::Header { .. })) => {}
                Ok(Some(CarItem::Block { cid, bytes, .. })) => {
                    if let Err(e) = block::verify(&cid, &bytes) {
                        return Ended::Corrupt(format!("{base}: block {cid}: {e}"));
                    }
                    into.take(cid, bytes.to_vec());
                    if into.bytes >= budget {
                        return Ended::Budget;
                    }
                }
                Ok(None) => break,
                Err(e) => return Ended::Unusable(format!("{base}: {e}")),
            }
        }
        match answer.body.next().await {
            Some(Ok(chunk)) => reader.push(&chunk),
            Some(Err(e)) => return Ended::Unusable(format!("{base}: the answer broke off ({e})")),
            None => {
                return match reader.finish() {
                    Ok(()) => Ended::Complete,
                    Err(e) => Ended::Unusable(format!("{base}: {e}")),
                }
            }
        }
    }
}

/// `GET {base}/ipfs/{cid}?format=raw`: one block, verified.
pub async fn raw<W: Web>(web: &W, base: &str, cid: &Cid, into: &mut Received) -> Ended {
    let url = format!("{base}/ipfs/{cid}?format=raw");
    let mut answer = match web.get(&url, RAW_ACCEPT).await {
        Ok(a) => a,
        Err(e) => return Ended::Unusable(format!("{base}: {e}")),
    };
    if answer.status != 200 {
        return Ended::Unusable(format!("{base}: HTTP {}", answer.status));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = answer.body.next().await {
        match chunk {
            Ok(c) if bytes.len() + c.len() <= MAX_BLOCK_BYTES => bytes.extend_from_slice(&c),
            Ok(_) => return Ended::Corrupt(format!("{base}: block {cid} is over 2 MiB")),
            Err(e) => return Ended::Unusable(format!("{base}: the answer broke off ({e})")),
        }
    }
    if let Err(e) = block::verify(cid, &bytes) {
        return Ended::Corrupt(format!("{base}: block {cid}: {e}"));
    }
    into.take(*cid, bytes);
    Ended::Complete
}

/// A CAR answer must say it is one, and if it names a version, version 1.
fn car_type_ok(content_type: &str) -> Result<(), String> {
    let mut parts = content_type.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|t| t.eq_ignore_ascii_case("application/vnd.ipld.car"))
    {
        return Err(format!("answered '{content_type}', not a CAR"));
    }
    for p in parts {
        if let Some(v) = p.strip_prefix("version=") {
            if v.trim_matches('"') != "1" {
                return Err(format!("answered a CAR of version {v}, not 1"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::car_type_ok;

    #[test]
    fn car_content_types() {
        assert!(car_type_ok("application/vnd.ipld.car").is_ok());
        assert!(car_type_ok("application/vnd.ipld.car; version=1; order=dfs; dups=y").is_ok());
        assert!(car_type_ok("application/vnd.ipld.car;version=1;order=undefined").is_ok());
        assert!(car_type_ok("application/vnd.ipld.car; version=2").is_err());
        assert!(car_type_ok("text/html").is_err());
    }
}
