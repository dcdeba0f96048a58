//! `POST /pins/{id}` with the `upstream` backend: the upstream's own replace when the old CID
//! is this pin object's alone, otherwise add the new CID and release the old one.

use super::{record_of, AddError, Shown, UpstreamPins};
use crate::domain::{cid::Cid, pin::Pin, request_id::RequestId, status::Status, timestamp::Millis};
use crate::store::{kv::Kv, kv::KvError, record::PinRecord};
use crate::upstream::ask;
use crate::upstream::gate::{self, Release};
use crate::upstream::state::CidState;
use crate::upstream::{Answer, Upstream, UpstreamPin};

impl<K: Kv, U: Upstream> UpstreamPins<'_, K, U> {
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
    ) -> Result<Shown, AddError> {
        let new_cid = pin.cid.clone();
        let y = new_cid.canonical();
        let old_cid = Cid::parse(&old.cid).ok();
        // The same CID moves its holder to the new pin: no more held than before.
        if old_cid.as_ref().is_none_or(|x| x.canonical() != y) {
            self.within_limit(y).await?;
        }
        self.keys().hold(y, self.user, new_id).await?;
        let fenced = self.gate_hold(y, new_id, now).await?;
        let known_y = self.keys().state(y).await?;
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
            .filter(|s| s.releasing.is_none() && s.status != Status::Failed)
            .and_then(|s| Some((s.upstream_id.clone()?, s)));
        let Some((rid, mut marked)) = upstream_x.filter(|_| y_unpinned) else {
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
        // Named after the new pin: the old pin's delete queues its own entry of the old CID,
        // which must be another key (KV takes one write a second to a key, `store::paced`).
        self.keys()
            .enqueue(x.canonical(), self.user, new_id, now, now.0)
            .await?;
        // Without the upstream pin's id: once replaced, the provider may give that id to the
        // new CID's pin, and no release of the old CID must ever unpin it. This state is the
        // old CID's last write here (a second would wait out KV's second, `store::paced`):
        // the sweep releases it as any marked CID, finding what the provider still keeps of
        // it by listing, and a stopped request's old pin object gets it added again.
        marked.releasing = Some(now.0);
        marked.upstream_id = None;
        self.keys().put_state(x.canonical(), &marked).await?;
        let y = pin.cid.canonical();
        // And one for the new CID, before the call as an add's (`admit`): a look at it finds
        // what the replace pinned should we stop before its state is written.
        self.keys()
            .enqueue(y, self.user, new_id, now, now.0)
            .await?;
        let mut state = known_y.cloned().unwrap_or_else(CidState::pending);
        let upin = UpstreamPin::with_origins(y, pin.origins.as_slice());
        let answer = self.up.client.replace(&rid, &upin).await;
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
        if state.upstream_id.is_some() {
            self.after_upstream_replace(x, old_id, arrived, now).await?;
        }
        Ok(Some(state))
    }

    /// The old CID is gone upstream, its state marked: look for a holder that arrived
    /// meanwhile (the gate says so; without gates, KV's listing may): its add may have
    /// mirrored the state before our mark, or been fenced, so pin the CID again.
    async fn after_upstream_replace(
        &self,
        x: &Cid,
        old_id: &RequestId,
        arrived: bool,
        now: Millis,
    ) -> Result<(), KvError> {
        let x = x.canonical();
        let (holders, _) = self.keys().holders(x, None).await?;
        let others = holders
            .iter()
            .any(|(_, u, id)| !(u == self.user && id == old_id));
        if others || arrived {
            let mut state = CidState::pending();
            let upin = UpstreamPin::bare(x);
            ask::add(
                self.up.client,
                &mut state,
                &upin,
                now,
                self.settings.retry_secs,
            )
            .await;
            // The look queued before the call follows this state up.
            self.keys().put_state(x, &state).await?;
        }
        Ok(())
    }
}
