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
//! with providers that key pins by CID (IPFS Cluster) too. `apply` is that logic, plain and
//! tested here over a `GateStore`; the edge's object is that store, and carries calls to it.

use crate::domain::{request_id::RequestId, timestamp::Millis};
use crate::store::kv::KvError;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

/// How long a lease lasts: enough for a release's few upstream calls (each waits at most 10 s).
pub const LEASE_MS: u64 = 60_000;
/// A lease holder starts no unpin with less than this left of its lease (as its own clock,
/// started before it asked, counts it).
pub const LEASE_MARGIN_MS: u64 = 15_000;
/// A gate holder whose pin object is missing is taken for one left by a stopped request only
/// after this long (or the grace period, if longer): an add may be between its hold and its
/// pin object.
pub const STALE_HOLDER_MS: u64 = 15 * 60_000;

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

/// Where a CID's gate keeps what it knows: each holder as a key of its own (a popular CID can
/// have many, and a call touches one), and the lease record under one more.
#[allow(async_fn_in_trait)] // one thread: no `Send` wanted
pub trait GateStore {
    async fn record(&self) -> Result<LeaseRecord, String>;
    async fn set_record(&self, record: &LeaseRecord) -> Result<(), String>;
    async fn add_holder(&self, holder: &str) -> Result<(), String>;
    async fn remove_holder(&self, holder: &str) -> Result<(), String>;
    /// The first `limit` holders, in any stable order.
    async fn holders(&self, limit: usize) -> Result<Vec<String>, String>;
}

/// The lease under way, if any, and the next lease's number (a late `End` of an expired lease
/// must not end a newer one).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
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

/// Holders a refusal names: enough for the sweep to find ones left by a stopped request.
const NAMED: usize = 20;

/// Applies one call at `now` (the gate's clock). The caller runs calls to one CID one at a time
/// (the Durable Object does: its storage calls do not let another call in).
pub async fn apply<S: GateStore>(store: &S, call: GateCall, now: u64) -> Result<GateReply, String> {
    let mut record = store.record().await?;
    let before = record.clone();
    if record.lease.as_ref().is_some_and(|l| l.until <= now) {
        record.lease = None; // its holder stopped, or overran: it unpins nothing more
    }
    let reply = match call {
        GateCall::Hold { holder } => {
            store.add_holder(&holder).await?;
            match &mut record.lease {
                Some(lease) if lease.except.as_deref() != Some(holder.as_str()) => {
                    lease.arrived = true;
                    GateReply::Fenced { until: lease.until }
                }
                _ => GateReply::Clear,
            }
        }
        GateCall::Unhold { holder } => {
            store.remove_holder(&holder).await?;
            GateReply::Done
        }
        GateCall::Begin { except } => {
            let others = others(store, except.as_deref(), NAMED).await?;
            if !others.is_empty() || record.lease.is_some() {
                GateReply::Held {
                    holders: others,
                    leased: record.lease.is_some(),
                }
            } else {
                record.next += 1;
                let until = now + LEASE_MS;
                record.lease = Some(Lease {
                    id: record.next,
                    until,
                    except,
                    arrived: false,
                });
                GateReply::Granted {
                    lease: record.next,
                    until,
                }
            }
        }
        GateCall::End { lease } => match record.lease.take() {
            Some(l) if l.id == lease => {
                let others = others(store, l.except.as_deref(), 1).await?;
                GateReply::Ended {
                    arrived: l.arrived || !others.is_empty(),
                }
            }
            other => {
                record.lease = other;
                // Expired (or never ours): whoever holds the CID now must get it pinned.
                let anyone = store.holders(1).await?;
                GateReply::Ended {
                    arrived: !anyone.is_empty(),
                }
            }
        },
    };
    if record != before {
        store.set_record(&record).await?;
    }
    Ok(reply)
}

/// Up to `limit` holders other than `except`.
async fn others<S: GateStore>(
    store: &S,
    except: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, String> {
    let mut holders = store.holders(limit + 1).await?;
    holders.retain(|h| Some(h.as_str()) != except);
    holders.truncate(limit);
    Ok(holders)
}

/// A gate's store in memory: for tests, and the model of the one in a Durable Object.
#[derive(Debug, Default)]
pub struct MemoryGateStore {
    pub holders: std::cell::RefCell<BTreeSet<String>>,
    pub record: std::cell::RefCell<LeaseRecord>,
}

impl GateStore for MemoryGateStore {
    async fn record(&self) -> Result<LeaseRecord, String> {
        Ok(self.record.borrow().clone())
    }
    async fn set_record(&self, record: &LeaseRecord) -> Result<(), String> {
        *self.record.borrow_mut() = record.clone();
        Ok(())
    }
    async fn add_holder(&self, holder: &str) -> Result<(), String> {
        self.holders.borrow_mut().insert(holder.to_owned());
        Ok(())
    }
    async fn remove_holder(&self, holder: &str) -> Result<(), String> {
        self.holders.borrow_mut().remove(holder);
        Ok(())
    }
    async fn holders(&self, limit: usize) -> Result<Vec<String>, String> {
        Ok(self.holders.borrow().iter().take(limit).cloned().collect())
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
    /// Unpin while the caller's clock is before `until`; then `end` the lease. `until` counts
    /// from the caller's clock *before* it asked, so the two machines' clocks never meet.
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

    /// Asks for the lease; `asked` is the caller's clock just before. Without gates every
    /// release is granted (KV alone decided).
    pub async fn begin(
        &self,
        cid: &str,
        except: Option<String>,
        asked: Millis,
    ) -> Result<Release, KvError> {
        Ok(match self.call(cid, GateCall::Begin { except }).await? {
            None => Release::Granted {
                lease: None,
                until: u64::MAX,
            },
            Some(GateReply::Granted { lease, .. }) => Release::Granted {
                lease: Some(lease),
                until: asked.0 + LEASE_MS - LEASE_MARGIN_MS,
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
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// A gate in memory; its store never waits, so one poll applies a call.
    #[derive(Default)]
    struct G(MemoryGateStore);

    impl G {
        fn apply(&self, call: GateCall, now: u64) -> GateReply {
            let mut f = pin!(apply(&self.0, call, now));
            match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(reply) => reply.unwrap(),
                Poll::Pending => panic!("the memory store never waits"),
            }
        }
        fn is_idle(&self) -> bool {
            self.0.holders.borrow().is_empty() && self.0.record.borrow().lease.is_none()
        }
    }

    fn hold(h: &str) -> GateCall {
        GateCall::Hold { holder: h.into() }
    }
    fn unhold(h: &str) -> GateCall {
        GateCall::Unhold { holder: h.into() }
    }
    fn begin(except: Option<&str>) -> GateCall {
        GateCall::Begin {
            except: except.map(str::to_owned),
        }
    }

    #[test]
    fn a_lease_only_while_nobody_holds() {
        let g = G::default();
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
    fn a_refusal_names_at_most_twenty_holders() {
        let g = G::default();
        for i in 0..30 {
            g.apply(hold(&format!("u/{i:02}")), 0);
        }
        let GateReply::Held { holders, leased } = g.apply(begin(Some("u/00")), 0) else {
            panic!("held by 30");
        };
        assert_eq!((holders.len(), leased), (NAMED, false));
        assert!(
            !holders.contains(&"u/00".to_owned()),
            "the moving pin is not named"
        );
    }

    #[test]
    fn a_hold_during_a_lease_is_fenced_and_reported_at_its_end() {
        let g = G::default();
        let GateReply::Granted { lease, until } = g.apply(begin(None), 0) else {
            panic!()
        };
        assert_eq!(g.apply(hold("b/2"), 10), GateReply::Fenced { until });
        // Even if it leaves again before the end, the lease holder re-adds (harmless).
        g.apply(unhold("b/2"), 15);
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
        let g = G::default();
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
        assert!(matches!(
            g.apply(begin(None), LEASE_MS + 5),
            GateReply::Held { leased: true, .. }
        ));
    }

    #[test]
    fn the_upstreams_replace_leases_around_the_pin_that_moves_away() {
        let g = G::default();
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
    fn calls_and_records_round_trip_as_json() {
        let g = G::default();
        g.apply(begin(Some("alice/0123")), 0);
        let record = g.0.record.borrow().clone();
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<LeaseRecord>(&json).unwrap(), record);
        let call = GateCall::Begin {
            except: Some("bob/0".into()),
        };
        let text = serde_json::to_string(&call).unwrap();
        assert_eq!(serde_json::from_str::<GateCall>(&text).unwrap(), call);
        let id = RequestId::new(Millis(5), 9);
        assert_eq!(holder_of(&holder("bob", &id)), Some(("bob", id)));
    }
}
