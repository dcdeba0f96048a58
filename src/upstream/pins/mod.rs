//! What add, read, replace and delete do with the `upstream` backend. Requests never unpin
//! anything upstream (except the upstream's own replace, in `replace`): a delete only drops its
//! holder and asks the sweep to look, and the sweep alone decides that a CID is unheld.

mod refresh;
mod replace;

use super::ask::{self, worth_adding, Asked};
use super::holders::CidKeys;
use super::state::CidState;
use super::{bytes, gate};
use super::{Upstream, UpstreamPin, Upstreaming, KV_PROPAGATION_MS};
use crate::auth::user::UserId;
use crate::config::UpstreamSettings;
use crate::domain::{cid::Cid, pin::Pin, request_id::RequestId, status::Status, timestamp::Millis};
use crate::store::repair::{self, Entries};
use crate::store::{kv::Kv, kv::KvError, pins::PinStore, record::PinRecord};

pub struct UpstreamPins<'a, K, U> {
    kv: &'a K,
    user: &'a UserId,
    up: &'a Upstreaming<'a, U>,
    settings: &'a UpstreamSettings,
}

/// A pin as stored, and the CID's state when we have it (answers add its next try).
pub type Shown = (PinRecord, Option<CidState>);

/// Most pin objects one user may hold of one CID. Each is a holder the sweep visits whenever
/// the CID's status changes; the bound keeps what one user can make a look cost small.
pub const MAX_PINS_PER_CID: u32 = 10;

/// Why an add or replace was not done.
#[derive(Debug)]
pub enum AddError {
    Storage(KvError),
    /// The user already holds `MAX_PINS_PER_CID` pin objects of this CID.
    OverLimit,
}

impl From<KvError> for AddError {
    fn from(e: KvError) -> Self {
        AddError::Storage(e)
    }
}

impl<'a, K: Kv, U: Upstream> UpstreamPins<'a, K, U> {
    pub fn new(
        kv: &'a K,
        user: &'a UserId,
        up: &'a Upstreaming<'a, U>,
        settings: &'a UpstreamSettings,
    ) -> Self {
        UpstreamPins {
            kv,
            user,
            up,
            settings,
        }
    }

    fn keys(&self) -> CidKeys<'a, K> {
        CidKeys::new(self.kv)
    }

    fn store(&self) -> PinStore<'a, K> {
        PinStore::new(self.kv, self.user)
    }

    fn ledger(&self) -> bytes::Ledger<'a, K> {
        bytes::Ledger {
            kv: self.kv,
            settings: self.settings,
            claims: self.up.claims,
        }
    }

    /// `POST /pins`: holder first (from then on no sweep unpins the CID without seeing it or
    /// us seeing its mark), then the upstream if nothing is pinned there, then the pin object.
    pub async fn add(&self, id: &RequestId, pin: Pin, now: Millis) -> Result<Shown, AddError> {
        let cid = pin.cid.clone();
        self.within_limit(cid.canonical()).await?;
        self.keys().hold(cid.canonical(), self.user, id).await?;
        let state = match self.gate_hold(cid.canonical(), id, now).await? {
            Some(fenced) => fenced,
            None => {
                let known = self.keys().state(cid.canonical()).await?;
                self.admit(cid.canonical(), id, known, &pin, now).await?
            }
        };
        let fresh = record_of(pin);
        let mut record = state.apply_to(&fresh);
        let user = self.user;
        if let Some(why) = bytes::overdraws(&self.ledger(), user, id, &fresh, &state).await? {
            record = bytes::refused(&fresh, why);
            self.let_go(cid.canonical(), id, now).await?;
        }
        self.store().put(id, &cid, &record, None, now).await?;
        Ok((record, Some(state)))
    }

    /// This pin object no longer holds its CID (refused alone, or over its user's quota): its
    /// holder and gate holder go, and a look is queued so the sweep releases a CID nobody else
    /// holds, or retries it for those who do.
    async fn let_go(&self, cid: &str, id: &RequestId, now: Millis) -> Result<(), KvError> {
        self.drop_holds(cid, id).await?;
        self.keys().enqueue(cid, self.user, id, now, now.0).await
    }

    async fn drop_holds(&self, cid: &str, id: &RequestId) -> Result<(), KvError> {
        self.keys().unhold(cid, self.user, id).await?;
        let holder = gate::holder(self.user.as_str(), id);
        self.up.gates.unhold(cid, holder).await
    }

    /// One list: the user's holders of the CID. Under KV's propagation, adds at other locations
    /// within the last minute may go uncounted; the bound is on what one user can pile up.
    async fn within_limit(&self, cid: &str) -> Result<(), AddError> {
        let held = self
            .keys()
            .held_by(cid, self.user, MAX_PINS_PER_CID)
            .await?;
        if held >= MAX_PINS_PER_CID {
            return Err(AddError::OverLimit);
        }
        Ok(())
    }

    /// Registers the new pin object with the CID's gate. While a release of the CID is under
    /// way the upstream is not called (its unpin may land after our add): the pin shows
    /// `queued`, the releaser pins the CID again when it ends, and a sweep look at the lease's
    /// end does so should the releaser stop first.
    async fn gate_hold(
        &self,
        cid: &str,
        id: &RequestId,
        now: Millis,
    ) -> Result<Option<CidState>, KvError> {
        let holder = gate::holder(self.user.as_str(), id);
        let Some(until) = self.up.gates.hold(cid, holder).await? else {
            return Ok(None);
        };
        self.keys().enqueue(cid, self.user, id, now, until).await?;
        Ok(Some(CidState::pending()))
    }

    /// The CID's state once a new pin object holds it: the known one, or the upstream's answer.
    async fn admit(
        &self,
        cid: &str,
        id: &RequestId,
        known: Option<CidState>,
        pin: &Pin,
        now: Millis,
    ) -> Result<CidState, KvError> {
        if !worth_adding(known.as_ref()) {
            return Ok(known.expect("only a known state is mirrored"));
        }
        let mut state = known.clone().unwrap_or_else(CidState::pending);
        // Asked afresh: what this pin shows comes from its own call, not earlier tries.
        state.tries = 0;
        let retry = self.settings.retry_secs;
        let upin = UpstreamPin::with_origins(cid, pin.origins.as_slice());
        // Queued before the call: should this request stop after the provider pinned the CID
        // but before its state or pin object is written, the look finds a holder without a
        // pin object, drops it once the grace period has passed, and releases what only the
        // provider knows (`sweep::release`). It also polls a state that is not final.
        self.keys().enqueue(cid, self.user, id, now, now.0).await?;
        let asked = ask::add(self.up.client, &mut state, &upin, now, retry).await;
        if let Asked::RefusedAlone(r) = asked {
            if known.is_some_and(|k| k.tries > 0) {
                // It answered: the other holders need not wait out a backoff.
                state.answered();
                self.keys().put_state(cid, &state).await?;
            }
            return self.refused_alone(cid, id, &r).await;
        }
        // Kubo polls a new pin at once: its first reads need not ask again.
        self.up.throttle.note(cid, now);
        state.releasing = None;
        self.keys().put_state(cid, &state).await?;
        Ok(state)
    }

    /// The upstream refused what this request sent (its origins among it): this pin object
    /// alone is `failed`, with the upstream's words, and no longer holds the CID (so it keeps
    /// nothing pinned, and no look ever rewrites it). The CID's state is not touched; the look
    /// queued before the call retries the bare CID for any other holder.
    async fn refused_alone(
        &self,
        cid: &str,
        id: &RequestId,
        refusal: &super::Refusal,
    ) -> Result<CidState, KvError> {
        // `let_go` without its queue entry: `admit` put the same one before the call.
        self.drop_holds(cid, id).await?;
        let mut own = CidState::pending();
        own.refused(refusal);
        Ok(own)
    }

    /// `DELETE /pins/{id}`: a queue entry first, then the pin object, then the holder: the
    /// sweep unpins the CID upstream once no holder is left, after the grace period, and drops
    /// a holder whose pin object is gone (one this delete left, stopped before its last step).
    /// Stopped earlier, the pin object stays whole (its index entries are put back by the scan
    /// that prunes the delete's marker) and keeps its holder. A status update racing with us
    /// writes the record and its entries, then checks the holder; this delete drops the holder,
    /// then checks the record and entries: one of the two sees all the other wrote, so no pin
    /// object (nor entry) is left without its holder (docs/storage.md, "A delete's holder goes
    /// last"). The entry is due only once this delete
    /// has reached every location (`KV_PROPAGATION_MS`, or the grace period if shorter): a look
    /// sooner, from a location that still lists this holder, would find the CID held and done
    /// with, and nothing would ever release it.
    pub async fn delete(
        &self,
        id: &RequestId,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        let cid = Cid::parse(&record.cid).ok();
        if let Some(cid) = &cid {
            let due = now.0 + KV_PROPAGATION_MS.min(self.settings.grace_secs * 1000);
            let c = cid.canonical();
            self.keys().enqueue(c, self.user, id, now, due).await?;
        }
        self.store().delete(id, record, now).await?;
        let Some(cid) = &cid else {
            return Ok(());
        };
        self.keys().unhold(cid.canonical(), self.user, id).await?;
        // A status update that saw the holder still there may have written the record or its
        // entries again after we deleted them: all its writes came before our holder went.
        match self.store().get(id).await? {
            Some(back) => self.store().delete(id, &back, now).await?,
            None => {
                let entries = Entries::of(cid, record.name.as_deref());
                repair::drop_entries(self.kv, self.user, id, &entries).await?;
            }
        }
        // Last: a gate that could not be told keeps a holder whose pin object is gone,
        // which the sweep drops once the grace period has passed (`sweep::release`).
        let holder = gate::holder(self.user.as_str(), id);
        let _ = self.up.gates.unhold(cid.canonical(), holder).await;
        Ok(())
    }
}

/// The pin object as the user sent it; status and info come from the CID's state.
fn record_of(pin: Pin) -> PinRecord {
    PinRecord {
        status: Status::Queued,
        cid: pin.cid.as_given().to_owned(),
        name: pin.name.map(|n| n.into_string()),
        origins: pin.origins.into_vec(),
        meta: pin.meta.into_map(),
        info: Default::default(),
        delegates: Vec::new(),
        partial: false,
    }
}
