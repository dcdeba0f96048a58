//! A CID without holders is unpinned upstream in two looks, a grace period
//! (`UPSTREAM_RELEASE_GRACE_SECONDS`, at least twice KV's ~60 s propagation bound) apart:
//!
//! 1. *Mark*: no holder is listed, so the state gets a release mark (`releasing`).
//! 2. *Release*: still no holder, and the mark still there: unpin upstream (the known upstream
//!    pin, plus any duplicate created before the mark), forget the state, and look for holders
//!    once more — one found is pinned again at once. A last look a grace period later
//!    re-adds the CID should a holder turn up even then.
//!
//! Why a held CID stays pinned (docs/storage.md, "Upstream backend"): a holder written more
//! than ~60 s before step 2's listing is seen by it. A later one was written after the mark
//! had spread (the grace is at least twice the propagation bound), so its add saw the mark and
//! pinned the CID itself (`ask::worth_adding`); its upstream pin is newer than the mark, and
//! step 2 deletes only older ones.

use super::{Next, Sweep};
use crate::auth::user::UserId;
use crate::domain::timestamp::Millis;
use crate::store::kv::{Kv, KvError};
use crate::store::pins::PinStore;
use crate::upstream::gate::{self, Release, STALE_HOLDER_MS};
use crate::upstream::holders::Due;
use crate::upstream::state::CidState;
use crate::upstream::KV_PROPAGATION_MS;
use crate::upstream::{ask, Answer, Upstream, UpstreamPin};

/// Margin for the upstream's clock: duplicates younger than the mark minus this are kept.
const SKEW_MS: u64 = 60_000;

impl<K: Kv, U: Upstream> Sweep<'_, K, U> {
    pub(super) async fn unheld(
        &self,
        cid: &str,
        known: Option<CidState>,
        released: &[String],
    ) -> Result<Next, KvError> {
        let Some(mut state) = known else {
            return self.adopt(cid, released).await;
        };
        match state.releasing {
            None => {
                state.releasing = Some(self.now.0);
                self.keys().put_state(cid, &state).await?;
                Ok(self.at(self.now.0 + self.grace_ms()))
            }
            Some(mark) if self.now.0 < mark + self.grace_ms() => {
                Ok(self.at(mark + self.grace_ms()))
            }
            Some(_) if !state.is_due(self.now) => Ok(self.at(state.next_try)),
            Some(mark) => self.release(cid, state, mark).await,
        }
    }

    /// No state and no holder: nothing pinned that we know of. But a request that stopped
    /// after the provider's add and before the state's write (or an upload between its commit
    /// and its pin) leaves a pin only the provider knows; the look its entry asks for (queued
    /// before the call) ends here. So the provider is asked: what it keeps of the CID gets a
    /// state with a release mark, released as any unheld CID is (a holder arriving meanwhile
    /// is seen or sees the mark, as for any mark). Pins the release before this look deleted
    /// (`released`) are not taken again should the provider still list them.
    async fn adopt(&self, cid: &str, released: &[String]) -> Result<Next, KvError> {
        if self.calls_left() == 0 {
            return Ok(self.at(self.now.0));
        }
        let everything = Millis(self.now.0 + SKEW_MS);
        let found = match self.up.list_by_cid(cid, everything).await {
            Answer::Ok(found) => found,
            // A provider that cannot list by CID: nothing more to learn.
            Answer::Refused(_) => return Ok(Next::Done),
            Answer::Unavailable(_) => {
                return Ok(self.at(self.now.0 + self.settings.retry_secs * 1000))
            }
        };
        let Some(pin) = found.into_iter().find(|p| !released.contains(&p.requestid)) else {
            return Ok(Next::Done);
        };
        let mut state = CidState::pending();
        state.observed(pin);
        state.releasing = Some(self.now.0);
        self.keys().put_state(cid, &state).await?;
        self.adopted.set(self.adopted.get() + 1);
        Ok(self.at(self.now.0 + self.grace_ms()))
    }

    fn at(&self, at: u64) -> Next {
        Next::Later(Due {
            at,
            ..Due::default()
        })
    }

    async fn release(&self, cid: &str, mut state: CidState, mark: u64) -> Result<Next, KvError> {
        // An unpin and the duplicates' listing, and the gate's lease taken and ended.
        let needed = if self.gates.enabled() { 4 } else { 2 };
        if self.calls_left() < needed {
            return Ok(self.at(self.now.0));
        }
        // The gate decides: no one may hold the CID, whatever KV shows here.
        let asked = self.kv.clock().unwrap_or(self.now);
        let (lease, until) = match self.gates.begin(cid, None, asked).await? {
            Release::Granted { lease, until } => (lease, until),
            Release::Held(holders) => {
                self.drop_stale(cid, &holders).await?;
                return Ok(self.at(self.now.0 + KV_PROPAGATION_MS));
            }
        };
        // The lease must outlast every unpin this look starts.
        let room = |s: &Self| s.kv.clock().unwrap_or(s.now).0 < until;
        let mut gone = Vec::new();
        if let Some(id) = state.upstream_id.clone() {
            if !room(self) {
                return self.out_of_lease(cid, state, lease).await;
            }
            if let Answer::Unavailable(e) = self.up.delete(&id).await {
                return self.retry(cid, state, lease, e).await;
            }
            // Gone (a 404 included). Not asked again should a later step fail.
            state.upstream_id = None;
            gone.push(id);
        }
        let before = Millis(mark.saturating_sub(SKEW_MS));
        match self.up.list_by_cid(cid, before).await {
            Answer::Ok(mut duplicates) => {
                // A provider may still list the pin just deleted.
                duplicates.retain(|d| !gone.contains(&d.requestid));
                for dup in duplicates {
                    if self.calls_left() == 0 || !room(self) {
                        return self.out_of_lease(cid, state, lease).await;
                    }
                    if let Answer::Unavailable(e) = self.up.delete(&dup.requestid).await {
                        return self.retry(cid, state, lease, e).await;
                    }
                    gone.push(dup.requestid);
                }
            }
            Answer::Unavailable(e) => return self.retry(cid, state, lease, e).await,
            // A provider that refuses the listing: the known pin is gone, which is what counts.
            Answer::Refused(_) => {}
        }
        self.keys().drop_state(cid).await?;
        self.released.set(self.released.get() + 1);
        let arrived = self.gates.end(cid, lease).await?;
        self.rescue(cid, &gone, arrived).await
    }

    /// Stops a release whose lease (or budget) ran short: what is left is done at the next look.
    async fn out_of_lease(
        &self,
        cid: &str,
        state: CidState,
        lease: Option<u64>,
    ) -> Result<Next, KvError> {
        self.keys().put_state(cid, &state).await?;
        let arrived = self.gates.end(cid, lease).await?;
        if arrived {
            return self.rescue(cid, &[], true).await;
        }
        Ok(self.at(self.now.0))
    }

    /// The gate names holders KV does not show. Most are adds at another location, which the
    /// next look sees; one whose pin object is gone and older than the grace period was left by
    /// a request that stopped half-way (or a gate that could not be told of a delete): drop it.
    async fn drop_stale(&self, cid: &str, holders: &[String]) -> Result<(), KvError> {
        for name in holders {
            let Some((user, id)) = gate::holder_of(name) else {
                continue;
            };
            let Ok(user) = UserId::parse(user) else {
                continue;
            };
            let stale_after = self.grace_ms().max(STALE_HOLDER_MS);
            let old = id.created().0 + stale_after < self.now.0;
            if old
                && PinStore::new(self.kv, &user)
                    .get(&id)
                    .await
                    .ok()
                    .flatten()
                    .is_none()
            {
                self.gates.unhold(cid, name.clone()).await?;
            }
        }
        Ok(())
    }

    /// A failed unpin ends the lease, keeps the mark and is tried again after the backoff.
    async fn retry(
        &self,
        cid: &str,
        mut state: CidState,
        lease: Option<u64>,
        error: String,
    ) -> Result<Next, KvError> {
        self.gates.end(cid, lease).await?;
        state.failed_attempt(error, self.now, self.settings.retry_secs);
        self.keys().put_state(cid, &state).await?;
        Ok(self.at(state.next_try))
    }

    /// Just after unpinning: a holder that appeared meanwhile (the gate says so, or KV shows
    /// it) gets the CID pinned again now, unless its add already did (it saw the mark, and its
    /// upstream pin is not one we removed); otherwise one more look after a grace period does
    /// this for a holder seen only then.
    async fn rescue(&self, cid: &str, gone: &[String], arrived: bool) -> Result<Next, KvError> {
        let (holders, _) = self.keys().holders(cid, None).await?;
        if holders.is_empty() && !arrived {
            return Ok(Next::Later(Due {
                at: self.now.0 + self.grace_ms(),
                released: remembered(gone),
                ..Due::default()
            }));
        }
        let fresh = self.keys().state(cid).await?;
        let pinned_again = fresh
            .and_then(|s| s.upstream_id)
            .is_some_and(|id| !gone.contains(&id));
        if pinned_again {
            return Ok(self.at(self.now.0));
        }
        // For every holder alike: the bare CID.
        let pin = UpstreamPin::bare(cid);
        let mut state = CidState::pending();
        if self.calls_left() > 0 {
            ask::add(
                self.up,
                &mut state,
                &pin,
                self.now,
                self.settings.retry_secs,
            )
            .await;
        }
        self.keys().put_state(cid, &state).await?;
        // The next look mirrors the new state into the holders' pin objects.
        Ok(self.at(self.now.0))
    }
}

/// Bytes of upstream ids a queue entry remembers, within KV's 1024 bytes of metadata. A
/// release deletes one pin as a rule; ids past this are not remembered, and a provider that
/// kept listing those too would have them adopted and released again at each look after.
const REMEMBERED_BYTES: usize = 512;

fn remembered(gone: &[String]) -> Vec<String> {
    let mut room = REMEMBERED_BYTES;
    gone.iter()
        .take_while(|id| match room.checked_sub(id.len() + 3) {
            Some(left) => {
                room = left;
                true
            }
            None => false,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_queue_entry_remembers_fits_its_metadata() {
        let one = vec!["QmUpstreamPinId".to_owned()];
        assert_eq!(remembered(&one), one);
        let many: Vec<String> = (0..40).map(|i| format!("{i:0>60}")).collect();
        let kept = remembered(&many);
        assert_eq!(kept[..], many[..kept.len()], "the first ones, in order");
        let due = Due {
            at: u64::MAX,
            user: Some("u".repeat(64)),
            released: kept,
            ..Due::default()
        };
        let meta = serde_json::to_string(&due).unwrap();
        assert!(meta.len() < 1024 - 256, "{} bytes", meta.len());
        assert!(remembered(&["x".repeat(600)]).is_empty());
    }
}
