//! The one strongly consistent decision the `upstream` backend needs: may a CID be unpinned
//! upstream now? KV cannot answer it (a holder written at another location may be invisible
//! for ~60 s), so each CID gets a *gate*, a Durable Object (`CID_GATES`) that serializes it:
//!
//! - every pin object holding the CID is registered with `hold` before its add answers, and
//!   leaves with `unhold` after its delete;
//! - whatever removes the CID upstream (the sweep's release, the upstream's replace) first takes
//!   a *lease*, granted only while no one else holds the CID, and removes nothing after the
//!   lease runs out;
//! - a hold during a lease is recorded and answered *fenced*: that add does not call the
//!   upstream (the lease holder's unpin may still be on its way) and shows `queued`; the lease
//!   holder learns at `end` that someone arrived and pins the CID again at once (a sweep look
//!   at the lease's end does it should the lease holder stop first).
//!
//! So an upstream pin is only ever removed under a decision taken while nobody held its CID,
//! with providers that key pins by CID (IPFS Cluster) too. `GateState` is that logic, plain and
//! tested here; the edge stores it in the object and carries calls to it.

use crate::domain::{request_id::RequestId, timestamp::Millis};
use crate::store::kv::KvError;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

/// How long a lease lasts: enough for a release's few upstream calls (each waits at most 10 s).
pub const LEASE_MS: u64 = 60_000;
/// A lease holder starts no unpin with less than this left of its lease.
pub const LEASE_MARGIN_MS: u64 = 15_000;

/// A call to a CID's gate. (Externally tagged, serde's default: an internally tagged enum
/// costs far more code to read, and this crosses into wasm on every add and delete.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateCall {
    Hold {
        holder: String,
    },
    Unhold {
        holder: String,
    },
    /// Take the lease; `except` is a holder that is itself moving away (the upstream's replace).
    Begin {
        except: Option<String>,
        now: u64,
    },
    End {
        lease: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateReply {
    /// Held, and nothing stands in the way.
    Clear,
    /// Held, but a release is under way until then: do not call the upstream.
    Fenced {
        until: u64,
    },
    Done,
    Granted {
        lease: u64,
        until: u64,
    },
    /// Refused: these still hold the CID (at most 20 named), or a lease is under way.
    Held {
        holders: Vec<String>,
        leased: bool,
    },
    /// The lease is over; `arrived`: someone took hold meanwhile, pin the CID again.
    Ended {
        arrived: bool,
    },
}

/// What a CID's gate keeps.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateState {
    #[serde(rename = "h", default)]
    holders: BTreeSet<String>,
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
    /// The next lease's number (a late `End` of an expired lease must not end a newer one).
    #[serde(rename = "n", default)]
    next: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Lease {
    #[serde(rename = "i")]
    id: u64,
    #[serde(rename = "u")]
    until: u64,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    except: Option<String>,
    #[serde(rename = "a", default)]
    arrived: bool,
}

impl GateState {
    /// Applies one call at `now` (the gate's clock).
    pub fn apply(&mut self, call: GateCall, now: u64) -> GateReply {
        if self.lease.as_ref().is_some_and(|l| l.until <= now) {
            self.lease = None; // its holder stopped, or overran: it unpins nothing more
        }
        match call {
            GateCall::Hold { holder } => {
                let reply = match &mut self.lease {
                    Some(lease) if lease.except.as_deref() != Some(holder.as_str()) => {
                        lease.arrived = true;
                        GateReply::Fenced { until: lease.until }
                    }
                    _ => GateReply::Clear,
                };
                self.holders.insert(holder);
                reply
            }
            GateCall::Unhold { holder } => {
                self.holders.remove(&holder);
                GateReply::Done
            }
            GateCall::Begin { except, .. } => {
                let others: Vec<String> = self
                    .holders
                    .iter()
                    .filter(|h| Some(h.as_str()) != except.as_deref())
                    .take(20)
                    .cloned()
                    .collect();
                if !others.is_empty() || self.lease.is_some() {
                    return GateReply::Held {
                        holders: others,
                        leased: self.lease.is_some(),
                    };
                }
                self.next += 1;
                let until = now + LEASE_MS;
                self.lease = Some(Lease {
                    id: self.next,
                    until,
                    except,
                    arrived: false,
                });
                GateReply::Granted {
                    lease: self.next,
                    until,
                }
            }
            GateCall::End { lease } => match self.lease.take() {
                Some(l) if l.id == lease => GateReply::Ended {
                    arrived: l.arrived || self.others(l.except.as_deref()),
                },
                other => {
                    self.lease = other;
                    // Expired (or never ours): whoever holds the CID now must get it pinned.
                    GateReply::Ended {
                        arrived: !self.holders.is_empty(),
                    }
                }
            },
        }
    }

    fn others(&self, except: Option<&str>) -> bool {
        self.holders.iter().any(|h| Some(h.as_str()) != except)
    }

    /// Nothing held and no lease: the object's storage can be emptied.
    pub fn is_idle(&self) -> bool {
        self.holders.is_empty() && self.lease.is_none()
    }
}

/// How a pin object is named to its CID's gate.
pub fn holder(user: &str, id: &RequestId) -> String {
    format!("{user}/{}", id.as_str())
}

/// The pin object a gate's holder names.
pub fn holder_of(name: &str) -> Option<(&str, RequestId)> {
    let (user, id) = name.rsplit_once('/')?;
    Some((user, RequestId::parse(id)?))
}

pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<GateReply, String>> + 'a>>;

/// Carries a call to a CID's gate (the edge: a Durable Object stub; tests: memory).
pub trait GateTransport {
    fn call<'a>(&'a self, cid: &'a str, call: GateCall) -> GateFuture<'a>;
}

/// The gates of the deployment, or none (no `CID_GATES` binding: releases rely on KV alone,
/// with the window docs/storage.md describes for providers that key pins by CID).
#[derive(Default)]
pub struct Gates<'a> {
    transport: Option<&'a dyn GateTransport>,
    /// Calls made: each is a subrequest, which the sweep's budget counts.
    made: Cell<u32>,
}

/// Whether a release may go ahead.
#[derive(Debug, PartialEq, Eq)]
pub enum Release {
    /// Unpin while the clock is before `until`; then `end` the lease.
    Granted { lease: Option<u64>, until: u64 },
    /// Someone holds the CID (these, as far as named), or another release is under way.
    Held(Vec<String>),
}

impl<'a> Gates<'a> {
    pub fn new(transport: &'a dyn GateTransport) -> Gates<'a> {
        Gates {
            transport: Some(transport),
            made: Cell::new(0),
        }
    }

    pub fn none() -> Gates<'a> {
        Gates::default()
    }

    pub fn made(&self) -> u32 {
        self.made.get()
    }

    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    async fn call(&self, cid: &str, call: GateCall) -> Result<Option<GateReply>, KvError> {
        let Some(t) = self.transport else {
            return Ok(None);
        };
        self.made.set(self.made.get() + 1);
        t.call(cid, call)
            .await
            .map(Some)
            .map_err(|e| KvError(format!("gate of {cid}: {e}")))
    }

    /// Registers a pin object; `Some(until)` when a release is under way until then.
    pub async fn hold(&self, cid: &str, holder: String) -> Result<Option<u64>, KvError> {
        match self.call(cid, GateCall::Hold { holder }).await? {
            Some(GateReply::Fenced { until }) => Ok(Some(until)),
            _ => Ok(None),
        }
    }

    pub async fn unhold(&self, cid: &str, holder: String) -> Result<(), KvError> {
        self.call(cid, GateCall::Unhold { holder }).await.map(drop)
    }

    /// Asks for the lease. Without gates every release is granted (KV alone decided).
    pub async fn begin(
        &self,
        cid: &str,
        except: Option<String>,
        now: Millis,
    ) -> Result<Release, KvError> {
        let call = GateCall::Begin { except, now: now.0 };
        Ok(match self.call(cid, call).await? {
            None => Release::Granted {
                lease: None,
                until: u64::MAX,
            },
            Some(GateReply::Granted { lease, until }) => Release::Granted {
                lease: Some(lease),
                until,
            },
            Some(GateReply::Held { holders, .. }) => Release::Held(holders),
            Some(other) => return Err(KvError(format!("gate of {cid}: answered {other:?}"))),
        })
    }

    /// Ends a lease; true when someone took hold meanwhile (pin the CID again now).
    pub async fn end(&self, cid: &str, lease: Option<u64>) -> Result<bool, KvError> {
        let Some(lease) = lease else {
            return Ok(false);
        };
        Ok(matches!(
            self.call(cid, GateCall::End { lease }).await?,
            Some(GateReply::Ended { arrived: true })
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(h: &str) -> GateCall {
        GateCall::Hold { holder: h.into() }
    }
    fn unhold(h: &str) -> GateCall {
        GateCall::Unhold { holder: h.into() }
    }
    fn begin(except: Option<&str>) -> GateCall {
        GateCall::Begin {
            except: except.map(str::to_owned),
            now: 0,
        }
    }

    #[test]
    fn a_lease_only_while_nobody_holds() {
        let mut g = GateState::default();
        assert_eq!(g.apply(hold("a/1"), 0), GateReply::Clear);
        assert_eq!(g.apply(hold("a/1"), 0), GateReply::Clear, "idempotent");
        assert!(matches!(g.apply(begin(None), 0), GateReply::Held { .. }));
        assert_eq!(g.apply(unhold("a/1"), 0), GateReply::Done);
        assert_eq!(g.apply(unhold("a/1"), 0), GateReply::Done, "idempotent");
        let GateReply::Granted { lease, until } = g.apply(begin(None), 1_000) else {
            panic!("nobody holds it");
        };
        assert_eq!(until, 1_000 + LEASE_MS);
        // A second release must wait for the first.
        assert_eq!(
            g.apply(begin(None), 2_000),
            GateReply::Held {
                holders: vec![],
                leased: true
            }
        );
        assert_eq!(
            g.apply(GateCall::End { lease }, 3_000),
            GateReply::Ended { arrived: false }
        );
        assert!(g.is_idle());
    }

    #[test]
    fn a_hold_during_a_lease_is_fenced_and_reported_at_its_end() {
        let mut g = GateState::default();
        let GateReply::Granted { lease, until } = g.apply(begin(None), 0) else {
            panic!()
        };
        assert_eq!(g.apply(hold("b/2"), 10), GateReply::Fenced { until });
        // Even if it leaves again before the end, the lease holder re-adds (harmless).
        assert_eq!(
            g.apply(GateCall::End { lease }, 20),
            GateReply::Ended { arrived: true }
        );
        assert_eq!(
            g.apply(hold("b/2"), 30),
            GateReply::Clear,
            "no lease, no fence"
        );
    }

    #[test]
    fn an_expired_lease_fences_nothing_and_its_late_end_still_reports_holders() {
        let mut g = GateState::default();
        let GateReply::Granted { lease, .. } = g.apply(begin(None), 0) else {
            panic!()
        };
        assert_eq!(g.apply(hold("c/3"), LEASE_MS), GateReply::Clear);
        assert_eq!(
            g.apply(GateCall::End { lease }, LEASE_MS + 1),
            GateReply::Ended { arrived: true }
        );
        // A newer lease is not ended by an old one's number.
        g.apply(unhold("c/3"), LEASE_MS + 2);
        let GateReply::Granted { lease: newer, .. } = g.apply(begin(None), LEASE_MS + 3) else {
            panic!()
        };
        assert_ne!(newer, lease);
        assert_eq!(
            g.apply(GateCall::End { lease }, LEASE_MS + 4),
            GateReply::Ended { arrived: false }
        );
        assert!(g.apply(begin(None), LEASE_MS + 5) != GateReply::Clear);
        assert!(matches!(
            g.apply(begin(None), LEASE_MS + 5),
            GateReply::Held { leased: true, .. }
        ));
    }

    #[test]
    fn the_upstreams_replace_leases_around_the_pin_that_moves_away() {
        let mut g = GateState::default();
        g.apply(hold("a/1"), 0);
        let GateReply::Granted { lease, .. } = g.apply(begin(Some("a/1")), 0) else {
            panic!("only the moving pin holds it")
        };
        // The moving pin's own hold (a retry) is not someone arriving.
        assert_eq!(g.apply(hold("a/1"), 1), GateReply::Clear);
        assert_eq!(
            g.apply(GateCall::End { lease }, 2),
            GateReply::Ended { arrived: false }
        );
        g.apply(hold("b/1"), 3);
        assert!(matches!(
            g.apply(begin(Some("a/1")), 4),
            GateReply::Held { .. }
        ));
    }

    #[test]
    fn calls_and_state_round_trip_as_json() {
        let mut g = GateState::default();
        g.apply(hold("alice/0123"), 0);
        g.apply(begin(Some("alice/0123")), 0);
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<GateState>(&json).unwrap(), g);
        let call = GateCall::Begin {
            except: None,
            now: 5,
        };
        let text = serde_json::to_string(&call).unwrap();
        assert_eq!(serde_json::from_str::<GateCall>(&text).unwrap(), call);
        let id = RequestId::new(Millis(5), 9);
        assert_eq!(holder_of(&holder("bob", &id)), Some(("bob", id)));
    }
}
