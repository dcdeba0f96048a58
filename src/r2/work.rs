//! A fetch step's view of its DAG: the index in force plus the blocks received, walked from
//! the root for what is still missing and what is reachable to keep.

use super::fetch::Received;
use super::index::{DagIndex, IDENTITY};
use crate::ipld::links;
use cid::Cid;
use std::collections::{BTreeMap, BTreeSet};

/// The links inside an identity CID's inline block.
pub fn inline_links(cid: &Cid) -> Vec<Cid> {
    links::links(cid, cid.hash().digest()).unwrap_or_default()
}

/// A step's view: the index in force plus the blocks received, with their links (decoded
/// once, when first needed).
pub(super) struct Work {
    pub root: Cid,
    pub index: DagIndex,
    pub got: Received,
    pub links: BTreeMap<Cid, Result<Vec<Cid>, String>>,
}

impl Work {
    pub fn has(&self, cid: &Cid) -> bool {
        self.index.contains(cid) || self.got.blocks.contains_key(cid)
    }

    fn links_of(&mut self, cid: &Cid) -> Vec<Cid> {
        if let Some(e) = self.index.get(cid) {
            return e.links.clone();
        }
        if cid.hash().code() == IDENTITY {
            return inline_links(cid);
        }
        let Some(bytes) = self.got.blocks.get(cid) else {
            return Vec::new();
        };
        let decoded = self
            .links
            .entry(*cid)
            .or_insert_with(|| links::links(cid, bytes).map_err(|e| format!("block {cid}: {e}")));
        decoded.clone().unwrap_or_default()
    }

    pub fn links_error(&self, cid: &Cid) -> Option<String> {
        self.links.get(cid).and_then(|r| r.clone().err())
    }

    /// Walks from the root through kept and received blocks: the received blocks met (to
    /// keep, in walk order) and the CIDs still missing.
    fn walk(&mut self) -> (Vec<Cid>, Vec<Cid>) {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.root];
        let (mut reached, mut missing) = (Vec::new(), Vec::new());
        while let Some(cid) = stack.pop() {
            if !seen.insert(cid) {
                continue;
            }
            if !self.has(&cid) && cid.hash().code() != IDENTITY {
                missing.push(cid);
                continue;
            }
            if self.got.blocks.contains_key(&cid) && !self.index.contains(&cid) {
                reached.push(cid);
            }
            let links = self.links_of(&cid);
            stack.extend(links.into_iter().rev());
        }
        (reached, missing)
    }

    pub fn missing(&mut self) -> Vec<Cid> {
        self.walk().1
    }

    pub fn reachable(&mut self) -> Vec<Cid> {
        self.walk().0
    }
}
