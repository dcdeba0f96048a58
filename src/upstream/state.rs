//! What we know of one CID upstream (the `x/{cid}` value), how it changes with each answer,
//! and what the pin objects holding that CID should therefore show.
//!
//! The state is a *cache* of the upstream, never the only copy of anything a user asked for:
//! holders (`h/`) say who wants the CID, the upstream says what is pinned. Any stale or lost
//! write of it is repaired by the next refresh or sweep (docs/storage.md, "Upstream backend").

use super::{Refusal, UpstreamStatus};
use crate::domain::{status::Status, timestamp::Millis};
use crate::store::record::PinRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest wait between retries, whatever `UPSTREAM_RETRY_SECONDS` doubles to.
pub const MAX_BACKOFF_MS: u64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidState {
    /// The upstream pin's requestid, once an add succeeded.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<String>,
    /// The upstream's last reported status (`queued` until it answered; `failed` if it refused).
    #[serde(rename = "s")]
    pub status: Status,
    /// The upstream's `status_details`, or why it refused the pin.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(rename = "g", default, skip_serializing_if = "Vec::is_empty")]
    pub delegates: Vec<String>,
    /// Failed attempts in a row (unreachable, 5xx); 0 when the last call was answered.
    #[serde(rename = "k", default, skip_serializing_if = "is_zero")]
    pub tries: u32,
    /// Not before this time (ms) is the upstream asked again about this CID.
    #[serde(rename = "n", default, skip_serializing_if = "is_zero_ms")]
    pub next_try: u64,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set by the sweep when it found no holder: the release mark (ms). See `sweep`.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub releasing: Option<u64>,
    /// The pinned DAG's size, when the provider reports it: `info.dag_size` of every holder.
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub dag_size: Option<u64>,
    /// When the provider last said the CID is pinned (ms): a pinned CID is asked again once
    /// this is `VERIFY_AFTER_MS` old (`sweep::verify`), so a pin the provider lost is noticed.
    #[serde(rename = "v", default, skip_serializing_if = "is_zero_ms")]
    pub verified: u64,
    /// When a pinned CID was found missing at its provider (ms) and added again; shown in
    /// `info.repair` until it is pinned again.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
}

/// How long a provider's `pinned` is trusted before the sweep asks again (a day).
pub const VERIFY_AFTER_MS: u64 = 24 * 3600 * 1000;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_ms(n: &u64) -> bool {
    *n == 0
}

/// The `info` key of a pinned DAG's size in bytes (what `/usage` adds up).
pub const DAG_SIZE: &str = "dag_size";

/// The first 4xx on add, for whoever holds the CID.
pub const REFUSED_PREFIX: &str = "the upstream refused this pin: ";
const WAITING: &str =
    "queued: the upstream pinning service has not answered yet; retried with backoff";

impl CidState {
    /// Nothing asked upstream yet.
    pub fn pending() -> CidState {
        CidState {
            upstream_id: None,
            status: Status::Queued,
            details: None,
            delegates: Vec::new(),
            tries: 0,
            next_try: 0,
            error: None,
            releasing: None,
            dag_size: None,
            verified: 0,
            lost: None,
        }
    }

    pub fn from_json(s: &str) -> Option<CidState> {
        serde_json::from_str(s).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("states serialize")
    }

    /// The upstream answered with this pin status.
    pub fn observed(&mut self, s: UpstreamStatus) {
        self.upstream_id = Some(s.requestid);
        self.status = s.status;
        self.details = s.details;
        self.dag_size = s.dag_size;
        if !s.delegates.is_empty() {
            self.delegates = s.delegates;
        }
        self.answered();
    }

    /// After an answer at `now`: a `pinned` is confirmed (and any repair is over).
    pub fn confirmed(&mut self, now: Millis) {
        if self.status == Status::Pinned {
            self.verified = now.0;
            self.lost = None;
        }
    }

    /// Whether a pinned CID is due for its provider to confirm it again.
    pub fn needs_verifying(&self, now: Millis) -> bool {
        self.status == Status::Pinned && self.verified + VERIFY_AFTER_MS <= now.0
    }

    /// The upstream refused to pin the CID (a 4xx on add): final until someone pins it again.
    pub fn refused(&mut self, r: &Refusal) {
        self.upstream_id = None;
        self.status = Status::Failed;
        self.details = Some(format!("{REFUSED_PREFIX}{}", r.describe()));
        self.answered();
    }

    /// The upstream answered (whatever it said): no backoff.
    pub fn answered(&mut self) {
        self.tries = 0;
        self.next_try = 0;
        self.error = None;
    }

    /// The upstream did not answer usefully: try again after an exponential backoff from
    /// `retry_secs`, doubling per failure up to `MAX_BACKOFF_MS`.
    pub fn failed_attempt(&mut self, error: String, now: Millis, retry_secs: u64) {
        self.tries = self.tries.saturating_add(1);
        self.next_try = now.0 + backoff_ms(self.tries, retry_secs);
        self.error = Some(error);
    }

    pub fn is_due(&self, now: Millis) -> bool {
        self.next_try <= now.0
    }

    /// Refused by the upstream: only a new pin object asks again.
    pub fn is_refused(&self) -> bool {
        self.upstream_id.is_none() && self.status == Status::Failed
    }

    /// Whether the status can still change without anyone asking (`queued`, `pinning`).
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }

    /// The status, `info` and delegates every pin object of this CID should be stored with.
    /// Nothing here changes from one retry to the next, so retries rewrite no pin records;
    /// `overlay` adds the moving parts (next try, last error) to answers.
    pub fn view(&self) -> (Status, BTreeMap<String, String>, Vec<String>) {
        let details = match (&self.upstream_id, &self.details) {
            (None, _) if self.tries > 0 => Some(WAITING.to_owned()),
            (_, d) => d.clone(),
        };
        let mut info: BTreeMap<String, String> = details
            .map(|d| [("status_details".to_owned(), d)].into())
            .unwrap_or_default();
        if let Some(size) = self.dag_size.filter(|_| self.status == Status::Pinned) {
            info.insert(DAG_SIZE.to_owned(), size.to_string());
        }
        if let Some(at) = self.lost.filter(|_| self.status != Status::Pinned) {
            let when = Millis(at).to_rfc3339();
            let why =
                format!("the provider no longer had this pinned CID ({when}); pinning it again");
            info.insert("repair".to_owned(), why);
        }
        (self.status, info, self.delegates.clone())
    }

    /// Whether `record` already shows `view()`.
    pub fn shown_by(&self, record: &PinRecord) -> bool {
        let (status, info, delegates) = self.view();
        record.status == status
            && record.info == info
            && (delegates.is_empty() || record.delegates == delegates)
    }

    /// `record` as it should be stored now.
    pub fn apply_to(&self, record: &PinRecord) -> PinRecord {
        let (status, info, delegates) = self.view();
        PinRecord {
            status,
            info,
            delegates: if delegates.is_empty() {
                record.delegates.clone()
            } else {
                delegates
            },
            ..record.clone()
        }
    }

    /// Adds when the next try is, and why, to an answer about a pin still waiting.
    pub fn overlay(&self, info: &mut BTreeMap<String, String>) {
        if self.tries > 0 && !self.is_final() {
            info.insert("next_try".into(), Millis(self.next_try).to_rfc3339());
            info.insert("tries".into(), self.tries.to_string());
            if let Some(e) = &self.error {
                info.insert("upstream_error".into(), e.clone());
            }
        }
    }
}

pub fn backoff_ms(tries: u32, retry_secs: u64) -> u64 {
    let base = retry_secs.saturating_mul(1000);
    let doubled = base.saturating_mul(1u64 << tries.saturating_sub(1).min(20));
    doubled.min(MAX_BACKOFF_MS.max(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Status) -> UpstreamStatus {
        UpstreamStatus {
            requestid: "r1".into(),
            status,
            delegates: vec!["/ip4/1.2.3.4/tcp/4001/p2p/QmX".into()],
            details: Some("fetching".into()),
            created: None,
            dag_size: None,
        }
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(1, 60), 60_000);
        assert_eq!(backoff_ms(2, 60), 120_000);
        assert_eq!(backoff_ms(7, 60), 3_600_000);
        assert_eq!(backoff_ms(40, 60), 3_600_000);
        assert_eq!(backoff_ms(3, 0), 0);
        assert_eq!(backoff_ms(1, 7200), 7_200_000, "a long base is kept");
    }

    #[test]
    fn failures_then_an_answer() {
        let mut s = CidState::pending();
        s.failed_attempt("HTTP 503".into(), Millis(1_000), 60);
        s.failed_attempt("HTTP 503".into(), Millis(61_000), 60);
        assert_eq!((s.tries, s.next_try), (2, 181_000));
        assert!(!s.is_due(Millis(180_999)) && s.is_due(Millis(181_000)));
        let (status, info, _) = s.view();
        assert_eq!(status, Status::Queued);
        assert!(info["status_details"].contains("retried with backoff"));
        let mut shown = BTreeMap::new();
        s.overlay(&mut shown);
        assert_eq!(shown["next_try"], Millis(181_000).to_rfc3339());
        assert_eq!(shown["upstream_error"], "HTTP 503");

        s.observed(answer(Status::Pinning));
        assert_eq!((s.tries, s.next_try, s.error.as_ref()), (0, 0, None));
        let (status, info, delegates) = s.view();
        assert_eq!(
            (status, info["status_details"].as_str()),
            (Status::Pinning, "fetching")
        );
        assert_eq!(delegates.len(), 1);
        assert_eq!(CidState::from_json(&s.to_json()), Some(s));
    }

    #[test]
    fn refusal_is_final_and_explained() {
        let mut s = CidState::pending();
        s.refused(&Refusal {
            status: 400,
            reason: "BAD".into(),
            details: "no".into(),
        });
        assert!(s.is_refused() && s.is_final());
        assert_eq!(
            s.view().1["status_details"],
            format!("{REFUSED_PREFIX}BAD: no")
        );
    }
}
