//! The Cron Trigger's pass over the work queue (`q/`), within a budget of upstream calls
//! (`UPSTREAM_SWEEP_BUDGET`; the free plan allows 50 subrequests per run) and of KV operations
//! (Workers allow 1000 per invocation), shared out fairly among the users whose requests queued
//! the entries (`turns`): round-robin, one look per turn, oldest entry of each user first, and
//! no user past half of either budget while another still waits. A user whose due entries do
//! not all fit in a run goes on from where they stopped at the next run.
//!
//! An entry names a CID. With holders, the sweep mirrors the upstream's status into every
//! holder's pin object (`held`); without, it releases the CID upstream in two steps a grace
//! period apart (`release`). Entries not yet due are skipped without any KV read: their
//! metadata says when they are due.

mod collect;
mod held;
mod release;
mod turns;
mod verify;

pub use held::HOLDERS_PER_LOOK;

use super::gate::Gates;
use super::holders::{CidKeys, Due};
use super::{Counted, Upstream};
use crate::config::UpstreamSettings;
use crate::domain::timestamp::Millis;
use crate::quota::claims::Claims;
use crate::store::kv::{Counting, Kv, KvError};
use crate::store::paced::Paced;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;

/// KV operations one run may spend, of the 1000 Workers allow an invocation.
pub const KV_BUDGET: u32 = 900;
/// Room an entry needs before it is started (state, holders, the first record, the rewrite,
/// a release's state and queue writes), so no entry is cut off half-way.
const KV_PER_ENTRY: u32 = 16;
/// Unavailable answers in a row that end a run early: the upstream is down, and the
/// entries left keep their place for the next run.
const BREAKER: u32 = 3;

/// What one run did (logged by the edge; asserted by tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub looked: u32,
    pub calls: u32,
    pub kv_ops: u32,
    pub released: u32,
    /// CIDs found kept by the provider with no state (a request stopped after its call),
    /// marked to be released as unheld ones are (`release::adopt`).
    pub adopted: u32,
    /// Pinned CIDs queued for re-verification (drift repair, `verify`).
    pub verifying: u32,
    /// Objects left by cut-off uploads, deleted (`collect`).
    pub collected: u32,
    /// Why the run stopped before the end of the queue, if it did.
    pub stopped: Option<&'static str>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "looked at {} CIDs, {} upstream calls, {} KV operations, {} released, {} adopted, \
             {} to verify, {} upload leftovers deleted; {}",
            self.looked,
            self.calls,
            self.kv_ops,
            self.released,
            self.adopted,
            self.verifying,
            self.collected,
            self.stopped.unwrap_or("reached the end of the queue")
        )
    }
}

/// What becomes of a queue entry after a look.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    /// Nothing left to do for the CID: remove the entry.
    Done,
    /// Look again from then on (and from where a long update stopped).
    Later(Due),
    /// Look again at the next pass, as the entry says: no write.
    Again,
}

/// One run. `kv` is taken by value and `up` counted so that these are the very types the
/// request path uses (one copy of the generic code in the bundle).
pub async fn run<K: Kv, U: Upstream>(
    kv: K,
    up: &Counted<U>,
    gates: &Gates<'_>,
    claims: &Claims<'_>,
    settings: &UpstreamSettings,
    now: Millis,
) -> Result<Report, KvError> {
    let kv = Counting::new(Paced::new(kv));
    let sweep = Sweep {
        kv: &kv,
        up,
        gates,
        claims,
        calls_before: up.made() + gates.made() + claims.made(),
        settings,
        now,
        looked: Cell::new(0),
        released: Cell::new(0),
        adopted: Cell::new(0),
        seen: RefCell::default(),
    };
    let stopped = sweep.pass().await?;
    let verifying = sweep.verify().await?;
    let collected = sweep.collect().await?;
    Ok(Report {
        verifying,
        collected,
        looked: sweep.looked.get(),
        calls: sweep.calls(),
        kv_ops: kv.total(),
        released: sweep.released.get(),
        adopted: sweep.adopted.get(),
        stopped,
    })
}

struct Sweep<'a, K, U> {
    kv: &'a Counting<Paced<K>>,
    up: &'a Counted<U>,
    gates: &'a Gates<'a>,
    claims: &'a Claims<'a>,
    calls_before: u32,
    settings: &'a UpstreamSettings,
    now: Millis,
    looked: Cell<u32>,
    released: Cell<u32>,
    adopted: Cell<u32>,
    /// CIDs looked at in this run: a later entry of the same CID (several requests enqueue
    /// one each) is dropped, so a CID costs one look and at most one upstream status call.
    seen: RefCell<HashSet<String>>,
}

impl<'a, K: Kv, U: Upstream> Sweep<'a, K, U> {
    fn keys(&self) -> CidKeys<'a, Counting<Paced<K>>> {
        CidKeys::new(self.kv)
    }

    /// Subrequests made: upstream calls, calls to the CIDs' gates and to users' objects.
    fn calls(&self) -> u32 {
        self.up.made() + self.gates.made() + self.claims.made() - self.calls_before
    }

    /// Whether this run is in the first minute of an hour, when the hourly passes (`verify`,
    /// `collect`) run; the cron runs every minute.
    fn hourly(&self) -> bool {
        self.now.0 % 3_600_000 < 60_000
    }

    /// Where an hourly pass stopped last (its cursor under `key`), if it did.
    async fn pass_cursor(&self, key: &str) -> Result<Option<String>, KvError> {
        Ok(self.kv.get(key).await?.filter(|c| !c.is_empty()))
    }

    fn kv_left(&self) -> u32 {
        KV_BUDGET.saturating_sub(self.kv.total())
    }

    fn calls_left(&self) -> u32 {
        self.settings.sweep_calls.saturating_sub(self.calls())
    }

    fn grace_ms(&self) -> u64 {
        self.settings.grace_secs * 1000
    }

    /// Does one due entry (one user's turn): drops it if its CID was looked at in this run,
    /// otherwise looks at the CID and rewrites or removes the entry as the look says.
    async fn turn(&self, key: String, cid: &str, due: &Due) -> Result<(), KvError> {
        if !self.seen.borrow_mut().insert(cid.to_owned()) {
            return self.kv.delete(&key).await;
        }
        let next = self.entry(cid, due).await?;
        self.looked.set(self.looked.get() + 1);
        match next {
            Next::Done => self.kv.delete(&key).await,
            Next::Later(mut later) => {
                later.user = due.user.clone();
                self.keys().put_entry(&key, &later).await
            }
            Next::Again if due.cursor.is_some() || due.after.is_some() => {
                let fresh = Due {
                    at: due.at,
                    user: due.user.clone(),
                    ..Due::default()
                };
                self.keys().put_entry(&key, &fresh).await
            }
            Next::Again => Ok(()),
        }
    }

    /// One look at one CID: mirror its status to its holders, or release it when it has none.
    async fn entry(&self, cid: &str, due: &Due) -> Result<Next, KvError> {
        let state = self.keys().state(cid).await?;
        let (holders, more) = self.keys().holders(cid, due.cursor.clone()).await?;
        let resuming = due.cursor.is_some() || due.after.is_some();
        if holders.is_empty() && more.is_none() && !resuming {
            return self.unheld(cid, state, &due.released).await;
        }
        self.held(cid, state, holders, more, due).await
    }
}
