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
//! tested over a `GateStore` in memory (`tests.rs`); the edge's object is that store, and
//! carries calls to it; `client` is the service's side.

mod client;
#[cfg(test)]
mod tests;

pub use client::{GateFuture, GateTransport, Gates, Release};

use crate::domain::request_id::RequestId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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
