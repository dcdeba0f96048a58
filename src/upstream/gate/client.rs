//! A CID's gate as the service calls it: hold and unhold a pin object, begin and end a
//! release's lease, through whatever carries the call (`GateTransport`), or no gates at all.

use super::{GateCall, GateReply, LEASE_MARGIN_MS, LEASE_MS};
use crate::domain::timestamp::Millis;
use crate::store::kv::KvError;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;

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
