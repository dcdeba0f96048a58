//! A kept DAG's manifest (`dag/{cid}/m`): what is kept so far, what the job is doing, and its
//! result. It is the commit point: a step claims the DAG by a conditional write of it, and
//! commits by another conditional write naming its new segment and index; objects no manifest
//! names are leftovers of a step that stopped, and nothing reads them.

use crate::domain::status::Status;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "s")]
    pub status: Status,
    /// Why the DAG failed, or what the job waits for.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Segment objects in force, in the order their numbers in the index refer to.
    #[serde(rename = "g", default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// The index object in force.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Blocks and bytes kept so far (each block once).
    #[serde(rename = "b", default)]
    pub blocks: u64,
    #[serde(rename = "n", default)]
    pub bytes: u64,
    /// Blocks known to be missing after the last step.
    #[serde(rename = "w", default)]
    pub missing: u64,
    /// HTTP URLs from the pins' origins, tried before the gateways.
    #[serde(rename = "o", default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Steps in a row that kept nothing, and not before when the next may run (ms).
    #[serde(rename = "k", default)]
    pub tries: u32,
    #[serde(rename = "t", default)]
    pub next_try: u64,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A step at work, until when (ms); no other step starts before then.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<u64>,
    /// Last change (ms): the sweep restarts a job whose step stopped without a word.
    #[serde(rename = "u", default)]
    pub updated: u64,
}

impl Manifest {
    pub fn new(origins: Vec<String>, now: u64) -> Manifest {
        Manifest {
            status: Status::Queued,
            details: None,
            segments: Vec::new(),
            index: None,
            blocks: 0,
            bytes: 0,
            missing: 1,
            origins,
            tries: 0,
            next_try: 0,
            error: None,
            claim: None,
            updated: now,
        }
    }

    pub fn from_bytes(b: &[u8]) -> Option<Manifest> {
        serde_json::from_slice(b).ok()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifests serialize")
    }

    pub fn is_claimed(&self, now: u64) -> bool {
        self.claim.is_some_and(|until| until > now)
    }

    /// What a pin of this DAG should say about it.
    pub fn describe(&self) -> String {
        match (self.status, &self.details) {
            (_, Some(d)) => d.clone(),
            (Status::Pinned, None) => format!(
                "kept in R2: {} blocks, {} bytes, every block verified",
                self.blocks, self.bytes
            ),
            (_, None) if self.blocks == 0 => match &self.error {
                Some(e) => format!("queued: nothing fetched yet ({e}); retried with backoff"),
                None => "queued: fetching the DAG from trustless gateways".to_owned(),
            },
            (_, None) => format!(
                "pinning: {} blocks, {} bytes kept so far; {} known missing",
                self.blocks, self.bytes, self.missing
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_explains_itself() {
        let mut m = Manifest::new(vec!["https://example.com".into()], 5);
        assert!(m.describe().starts_with("queued"));
        m.status = Status::Pinning;
        m.blocks = 3;
        m.bytes = 1000;
        m.missing = 2;
        assert_eq!(
            m.describe(),
            "pinning: 3 blocks, 1000 bytes kept so far; 2 known missing"
        );
        m.claim = Some(10);
        assert!(m.is_claimed(9) && !m.is_claimed(10));
        assert_eq!(Manifest::from_bytes(&m.to_bytes()), Some(m));
        assert_eq!(Manifest::from_bytes(b"{"), None);
    }
}
