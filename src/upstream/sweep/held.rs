//! A CID that has holders: cancel any release mark, bring its state up to date with one
//! upstream call (add the bare CID if it has no upstream pin, or the upstream lost it), and
//! write the status into every holder's pin object that does not show it yet — at most
//! `HOLDERS_PER_LOOK` of them per look, so a look costs the same however many hold the CID;
//! the entry keeps its place among the holders and the next run goes on from there.

use super::{Next, Sweep};
use crate::auth::user::UserId;
use crate::domain::{cid::Cid, request_id::RequestId};
use crate::store::kv::{Kv, KvError};
use crate::store::{keys, record::PinRecord};
use crate::upstream::ask::{self, worth_refreshing};
use crate::upstream::holders::Due;
use crate::upstream::state::CidState;
use crate::upstream::Upstream;
use crate::upstream::{bytes, gate};

/// Room one holder needs: its record, a rewrite (change marker, record, index), the holder
/// check, and an undo (marker, index, record).
const KV_PER_HOLDER: u32 = 8;
/// Holders one look reads: at most 2 + 40 × 8 KV operations, whatever the CID's popularity.
pub const HOLDERS_PER_LOOK: u32 = 40;

type Holder = (String, UserId, RequestId);

impl<K: Kv, U: Upstream> Sweep<'_, K, U> {
    pub(super) async fn held(
        &self,
        cid: &str,
        known: Option<CidState>,
        mut holders: Vec<Holder>,
        mut more: Option<String>,
        due: &Due,
    ) -> Result<Next, KvError> {
        let Ok(parsed) = Cid::parse(cid) else {
            return Ok(Next::Done); // not a key this code wrote
        };
        let resuming = due.cursor.is_some() || due.after.is_some();
        let mut state = known.clone().unwrap_or_else(CidState::pending);
        // A resumed update already asked the upstream; its state is in `x/`.
        let mut asked = resuming;
        let mut live = 0u32;
        // When the youngest holder without a pin object may be taken for a stopped add's.
        let mut unsure: Option<u64> = None;
        let mut shown = 0u32;
        let mut page = due.cursor.clone();
        let mut after = due.after.clone();
        let mut read = 0u32;
        loop {
            for (key, user, id) in holders {
                if after.as_deref().is_some_and(|a| key.as_str() <= a) {
                    continue;
                }
                if self.kv_left() < KV_PER_HOLDER || read == HOLDERS_PER_LOOK {
                    // Go on from here next time: the state is saved, the rest is idempotent.
                    return Ok(Next::Later(Due {
                        at: due.at,
                        cursor: page,
                        after,
                        ..Due::default()
                    }));
                }
                read += 1;
                let record = match self.record(&user, &id).await? {
                    Found::Pin(record) => record,
                    // Not ours to repair: the owner's reads report it; it still holds the CID.
                    Found::Unreadable => {
                        live += 1;
                        after = Some(key);
                        continue;
                    }
                    // No pin object: an add still running, or one that stopped half-way
                    // (its holder is then older than any request lives): drop that holder.
                    Found::Missing => {
                        let stale_at = id.created().0 + self.grace_ms();
                        if stale_at < self.now.0 {
                            self.keys().unhold(cid, &user, &id).await?;
                            let holder = gate::holder(user.as_str(), &id);
                            self.gates.unhold(cid, holder).await?;
                        } else {
                            live += 1;
                            unsure = unsure.max(Some(stale_at + 1));
                        }
                        after = Some(key);
                        continue;
                    }
                };
                live += 1;
                shown += 1;
                if !asked {
                    asked = true;
                    self.ask(cid, &mut state, known.as_ref()).await?;
                }
                if !state.shown_by(&record) {
                    let mut updated = state.apply_to(&record);
                    let ledger = bytes::Ledger {
                        kv: self.kv,
                        settings: self.settings,
                        claims: self.claims,
                    };
                    let over = bytes::overdraws(&ledger, &user, &id, &record, &state).await?;
                    if let Some(why) = &over {
                        updated = bytes::refused(&record, why.clone());
                    }
                    let kept = self
                        .keys()
                        .rewrite_holder(&user, &id, &parsed, record.status, &updated, self.now)
                        .await?;
                    if kept && over.is_some() {
                        // Over its user's quota: this pin object holds the CID no more.
                        self.keys().unhold(cid, &user, &id).await?;
                        self.gates
                            .unhold(cid, gate::holder(user.as_str(), &id))
                            .await?;
                        live -= 1;
                    }
                }
                after = Some(key);
            }
            let Some(next) = more else { break };
            (holders, more) = self.keys().holders(cid, Some(next.clone())).await?;
            page = Some(next);
            after = None;
        }
        Ok(if live == 0 && !resuming {
            // Only stale holders were left (now dropped): release at the next look.
            Next::Later(Due {
                at: self.now.0,
                ..Due::default()
            })
        } else if let (0, false, Some(at)) = (shown, resuming, unsure) {
            // Only adds still running, or stopped before their pin object: look again when
            // the last of them may be taken for stopped, or the CID would stay held by none.
            Next::Later(Due {
                at,
                ..Due::default()
            })
        } else if state.is_final() {
            Next::Done
        } else if state.tries > 0 {
            Next::Later(Due {
                at: state.next_try,
                ..Due::default()
            })
        } else {
            Next::Again
        })
    }

    async fn record(&self, user: &UserId, id: &RequestId) -> Result<Found, KvError> {
        Ok(match self.kv.get(&keys::pin(user, id)).await? {
            None => Found::Missing,
            Some(raw) => PinRecord::from_json(&raw).map_or(Found::Unreadable, Found::Pin),
        })
    }

    /// Clears a release mark (the CID is held after all) and asks the upstream if worthwhile,
    /// for every holder alike: with the bare CID should it need adding.
    async fn ask(
        &self,
        cid: &str,
        state: &mut CidState,
        known: Option<&CidState>,
    ) -> Result<(), KvError> {
        state.releasing = None;
        if worth_refreshing(known, self.now) && self.calls_left() > 0 {
            let retry = self.settings.retry_secs;
            ask::refresh(self.up, state, cid, self.now, retry).await;
        }
        if known != Some(state) {
            self.keys().put_state(cid, state).await?;
        }
        Ok(())
    }
}

/// A holder's pin object, as the sweep finds it.
enum Found {
    Pin(PinRecord),
    Missing,
    Unreadable,
}
