//! What add, read, replace and delete do with the `upstream` backend. Requests never unpin
//! anything upstream (except the upstream's own replace, below): a delete only drops its
//! holder and asks the sweep to look, and the sweep alone decides that a CID is unheld.

use super::ask::{self, worth_adding, worth_refreshing};
use super::gate::{self, Release};
use super::holders::CidKeys;
use super::state::CidState;
use super::{Answer, Upstream, UpstreamPin, Upstreaming, KV_PROPAGATION_MS};
use crate::auth::user::UserId;
use crate::config::UpstreamSettings;
use crate::domain::{cid::Cid, pin::Pin, request_id::RequestId, status::Status, timestamp::Millis};
use crate::store::{kv::Kv, kv::KvError, pins::PinStore, record::PinRecord};

pub struct UpstreamPins<'a, K, U> {
    kv: &'a K,
    user: &'a UserId,
    up: &'a Upstreaming<'a, U>,
    settings: &'a UpstreamSettings,
}

/// A pin as stored, and the CID's state when we have it (answers add its next try).
pub type Shown = (PinRecord, Option<CidState>);

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

    /// `POST /pins`: holder first (from then on no sweep unpins the CID without seeing it or
    /// us seeing its mark), then the upstream if nothing is pinned there, then the pin object.
    pub async fn add(&self, id: &RequestId, pin: Pin, now: Millis) -> Result<Shown, KvError> {
        let cid = pin.cid.clone();
        self.keys().hold(cid.canonical(), self.user, id).await?;
        let state = match self.gate_hold(cid.canonical(), id, now).await? {
            Some(fenced) => fenced,
            None => {
                let known = self.keys().state(cid.canonical()).await?;
                self.admit(cid.canonical(), id, known, &pin, now).await?
            }
        };
        let record = state.apply_to(&record_of(pin));
        self.store().put(id, &cid, &record, None, now).await?;
        Ok((record, Some(state)))
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
        self.keys().enqueue(cid, id, now, until).await?;
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
        if !worth_adding(known.as_ref(), now) {
            return Ok(known.expect("only a known state is mirrored"));
        }
        let mut state = known.clone().unwrap_or_else(CidState::pending);
        let retry = self.settings.retry_secs;
        ask::add(
            self.up.client,
            &mut state,
            &upstream_pin(cid, pin),
            now,
            retry,
        )
        .await;
        // Kubo polls a new pin at once: its first reads need not ask again.
        self.up.throttle.note(cid, now);
        state.releasing = None;
        self.keys().put_state(cid, &state).await?;
        // Other holders may be waiting on this CID; a state that is not final needs polling.
        if known.is_some() || !state.is_final() {
            self.keys()
                .enqueue(cid, id, now, self.due(&state, now))
                .await?;
        }
        Ok(state)
    }

    /// When the sweep should next look at a CID in this state.
    fn due(&self, state: &CidState, now: Millis) -> u64 {
        if state.tries > 0 {
            state.next_try
        } else {
            now.0
        }
    }

    /// `GET /pins/{id}` of a pin that is not final: at most once per `UPSTREAM_REFRESH_SECONDS`
    /// (per isolate) ask the upstream, and store what changed.
    pub async fn refresh(
        &self,
        id: &RequestId,
        record: PinRecord,
        now: Millis,
    ) -> Result<Shown, KvError> {
        let Ok(cid) = Cid::parse(&record.cid) else {
            return Ok((record, None));
        };
        let interval = self.settings.refresh_secs * 1000;
        if record.status.is_final() || !self.up.throttle.allow(cid.canonical(), now, interval) {
            return Ok((record, None));
        }
        let known = self.keys().state(cid.canonical()).await?;
        let mut state = known.clone().unwrap_or_else(CidState::pending);
        if worth_refreshing(known.as_ref(), now) {
            let upin = UpstreamPin {
                cid: cid.canonical().to_owned(),
                name: record.name.clone(),
                origins: record.origins.clone(),
            };
            let retry = self.settings.retry_secs;
            ask::refresh(self.up.client, &mut state, &upin, now, retry).await;
            if known.as_ref() != Some(&state) {
                self.keys().put_state(cid.canonical(), &state).await?;
            }
            if known.as_ref().map(|k| k.status) != Some(state.status) {
                // Other holders show the old status until the sweep passes.
                self.keys().enqueue(cid.canonical(), id, now, now.0).await?;
            }
        }
        if state.shown_by(&record) {
            return Ok((record, Some(state)));
        }
        let updated = state.apply_to(&record);
        let kept = self
            .keys()
            .rewrite_holder(self.user, id, &cid, record.status, &updated, now)
            .await?;
        Ok((if kept { updated } else { record }, Some(state)))
    }

    /// `DELETE /pins/{id}`: the holder first (a status update racing with us then sees it gone
    /// and undoes itself), then the pin object, then a queue entry: the sweep unpins the CID
    /// upstream once no holder is left, after the grace period. The entry is due only once
    /// this delete has reached every location (`KV_PROPAGATION_MS`, or the grace period if
    /// shorter): a look sooner, from a location that still lists this holder, would find the
    /// CID held and done with, and nothing would ever release it.
    pub async fn delete(
        &self,
        id: &RequestId,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        let cid = Cid::parse(&record.cid).ok();
        if let Some(cid) = &cid {
            self.keys().unhold(cid.canonical(), self.user, id).await?;
        }
        self.store().delete(id, record, now).await?;
        if let Some(cid) = &cid {
            let due = now.0 + KV_PROPAGATION_MS.min(self.settings.grace_secs * 1000);
            self.keys().enqueue(cid.canonical(), id, now, due).await?;
            // Last: a gate that could not be told keeps a holder whose pin object is gone,
            // which the sweep drops once the grace period has passed (`sweep::release`).
            let holder = gate::holder(self.user.as_str(), id);
            let _ = self.up.gates.unhold(cid.canonical(), holder).await;
        }
        Ok(())
    }

    /// `POST /pins/{id}`: the new pin object is complete before the old one goes. When the old
    /// CID is held by the old pin alone, is pinned upstream and the new CID is not, the
    /// upstream's own replace moves the pin with no window for its garbage collector; otherwise
    /// the new CID is added and the old one released (through the sweep) afterwards.
    pub async fn replace(
        &self,
        old_id: &RequestId,
        old: &PinRecord,
        new_id: &RequestId,
        pin: Pin,
        now: Millis,
    ) -> Result<Shown, KvError> {
        let new_cid = pin.cid.clone();
        let y = new_cid.canonical();
        self.keys().hold(y, self.user, new_id).await?;
        let fenced = self.gate_hold(y, new_id, now).await?;
        let known_y = self.keys().state(y).await?;
        let old_cid = Cid::parse(&old.cid).ok();
        let state = match (&old_cid, fenced) {
            (_, Some(fenced)) => Some(fenced),
            (Some(x), None) if x.canonical() != y => {
                self.replace_upstream(x, old_id, new_id, known_y.as_ref(), &pin, now)
                    .await?
            }
            _ => None,
        };
        let state = match state {
            Some(state) => state,
            None => match old_cid.as_ref().filter(|x| x.canonical() == y) {
                // Same CID: the holder moves to the new pin, nothing changes upstream.
                Some(_) => known_y.unwrap_or_else(|| CidState {
                    status: old.status,
                    ..CidState::pending()
                }),
                None => self.admit(y, new_id, known_y, &pin, now).await?,
            },
        };
        let record = state.apply_to(&record_of(pin));
        self.store()
            .put(new_id, &new_cid, &record, None, now)
            .await?;
        self.delete(old_id, old, now).await?;
        Ok((record, Some(state)))
    }

    /// The upstream's replace, when it applies; `None` when the caller must add-then-release.
    async fn replace_upstream(
        &self,
        x: &Cid,
        old_id: &RequestId,
        new_id: &RequestId,
        known_y: Option<&CidState>,
        pin: &Pin,
        now: Millis,
    ) -> Result<Option<CidState>, KvError> {
        let y_unpinned = known_y.is_none_or(|s| s.upstream_id.is_none());
        let known_x = self.keys().state(x.canonical()).await?;
        let upstream_x = known_x
            .as_ref()
            .filter(|s| s.releasing.is_none() && s.status != Status::Failed)
            .and_then(|s| s.upstream_id.clone());
        let Some(rid) = upstream_x.filter(|_| y_unpinned) else {
            return Ok(None);
        };
        let (holders, more) = self.keys().holders(x.canonical(), None).await?;
        let alone = more.is_none()
            && holders.len() == 1
            && holders[0].1 == *self.user
            && holders[0].2 == *old_id;
        if !alone {
            return Ok(None);
        }
        // The gate has the last word: no one else may hold the old CID, and the lease must
        // leave room for the call.
        let moving = Some(gate::holder(self.user.as_str(), old_id));
        let asked = self.kv.clock().unwrap_or(now);
        let granted = self.up.gates.begin(x.canonical(), moving, asked).await?;
        let clock = self.kv.clock().unwrap_or(now).0;
        let lease = match granted {
            Release::Granted { lease, until } if clock < until => lease,
            Release::Granted { lease, .. } => {
                self.up.gates.end(x.canonical(), lease).await?;
                return Ok(None);
            }
            Release::Held(_) => return Ok(None),
        };
        // Should we stop between the upstream's replace and the end of this request, the old
        // pin object would still hold a CID no longer pinned upstream: this entry makes the
        // sweep look at it, and the mark makes that look ask the upstream (a marked state is
        // never trusted as pinned) and re-add it. Without the mark the look trusted the old
        // `pinned` and the CID stayed unpinned (tests/faults.rs stops a replace at each step).
        self.keys()
            .enqueue(x.canonical(), old_id, now, now.0)
            .await?;
        let mut marked = known_x.clone().expect("an upstream id comes from a state");
        marked.releasing = Some(now.0);
        self.keys().put_state(x.canonical(), &marked).await?;
        let y = pin.cid.canonical();
        let mut state = known_y.cloned().unwrap_or_else(CidState::pending);
        let answer = self.up.client.replace(&rid, &upstream_pin(y, pin)).await;
        let arrived = self.up.gates.end(x.canonical(), lease).await?;
        match answer {
            Answer::Ok(s) => state.observed(s),
            // Not replaced (e.g. the upstream lost the old pin): add and release instead.
            Answer::Refused(_) => return Ok(None),
            // Replaced or not, we cannot tell: retry the new CID, release the old through
            // the sweep (its unpin of an already-replaced pin is a harmless 404).
            Answer::Unavailable(e) => state.failed_attempt(e, now, self.settings.retry_secs),
        }
        self.keys().put_state(y, &state).await?;
        self.keys()
            .enqueue(y, new_id, now, self.due(&state, now))
            .await?;
        if state.upstream_id.is_some() {
            self.after_upstream_replace(x, old_id, arrived, now).await?;
        }
        Ok(Some(state))
    }

    /// The old CID is gone upstream. Forget its state, then look for a holder that arrived
    /// meanwhile (the gate says so; without gates, KV's listing may): its add may have
    /// mirrored the state we just dropped, or been fenced, so pin the CID again.
    async fn after_upstream_replace(
        &self,
        x: &Cid,
        old_id: &RequestId,
        arrived: bool,
        now: Millis,
    ) -> Result<(), KvError> {
        let x = x.canonical();
        self.keys().drop_state(x).await?;
        let (holders, _) = self.keys().holders(x, None).await?;
        let others = holders
            .iter()
            .any(|(_, u, id)| !(u == self.user && id == old_id));
        if others || arrived {
            let mut state = CidState::pending();
            let upin = UpstreamPin {
                cid: x.to_owned(),
                name: None,
                origins: Vec::new(),
            };
            ask::add(
                self.up.client,
                &mut state,
                &upin,
                now,
                self.settings.retry_secs,
            )
            .await;
            self.keys().put_state(x, &state).await?;
            self.keys().enqueue(x, old_id, now, now.0).await?;
        }
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

/// What goes upstream: the canonical CID, the user's name for it, and its origins. `meta` stays
/// with us: it is the user's own, and the upstream pin is shared.
fn upstream_pin(cid: &str, pin: &Pin) -> UpstreamPin {
    UpstreamPin {
        cid: cid.to_owned(),
        name: pin.name.as_ref().map(|n| n.as_str().to_owned()),
        origins: pin.origins.clone().into_vec(),
    }
}
