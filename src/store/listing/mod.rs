//! The listing behind `GET /pins`: which keys a query reads (the pinset newest first, one
//! name's index entries, or each CID's), and the counts the stored totals give. `scan` judges
//! the keys.

mod scan;

use super::counts::{self, Base, Changes};
use super::join;
use super::keys;
use super::kv::{Kv, KvError};
use super::names::{self, Backfill};
use super::paced::rate_limited;
use super::pins::PinStore;
use super::record::RecordView;
use crate::domain::list_query::ListQuery;
use crate::domain::request_id::RequestId;
use crate::domain::timestamp::Millis;
use scan::Known;

/// One page of `GET /pins`: the total that matched and the newest `limit` of them.
pub struct Listing<T> {
    pub count: usize,
    pub results: Vec<(RequestId, T)>,
}

impl<K: Kv> PinStore<'_, K> {
    /// Scans newest-first, one `list` per 1000 keys, judging each pin from its list metadata
    /// in place and reading a record only when its metadata is partial and a filter or the
    /// page needs what was left out. `render` turns a pin on the page into what the caller
    /// returns, so at most `limit` of those are held. When the query filters by status alone
    /// and the stored counts are current, the scan stops as soon as the page is full; a scan of
    /// the whole pinset stores fresh counts and moves the name index's backfill on. An `exact`
    /// or `iexact` name reads only the name index's entries for that folded name, once the
    /// backfill is done.
    pub async fn list<T>(
        &self,
        q: &ListQuery,
        now: Millis,
        render: &impl Fn(&RequestId, &RecordView<'_>) -> T,
    ) -> Result<Listing<T>, KvError> {
        let mut listing = Listing {
            count: 0,
            results: Vec::new(),
        };
        match &q.cids {
            None => {
                // The listing's first keys are the stored totals and the change markers. A
                // listing sure to scan the whole pinset moves the name index's backfill on.
                let mut lead = Lead::default();
                if !q.counts_from_totals() && q.after.is_none() {
                    let state = names::state(self.kv, self.user).await?;
                    if let Some(folded) = q.name.as_ref().and_then(|n| n.indexed()) {
                        if state.as_ref().is_some_and(|s| s.trusted(now)) {
                            let prefix = keys::named(self.user, &folded);
                            self.scan(&prefix, q, None, now, render, &mut listing)
                                .await?;
                            return Ok(listing);
                        }
                    }
                    lead.backfill = Backfill::new(state);
                }
                let prefix = keys::pins_of(self.user);
                let scan = self.scan(&prefix, q, Some(&mut lead), now, render, &mut listing);
                if let Some(tally) = scan.await? {
                    let upkeep = async {
                        let pruned = lead.changes.store(self.kv, self.user, tally, now).await?;
                        lead.backfill.finish(self.kv, self.user, pruned, now).await
                    };
                    // The answer is whole: upkeep KV refuses for its rate (another listing of
                    // this user's storing the totals the same second) stops, as it may at any
                    // step, and the next listing does it.
                    match upkeep.await {
                        Err(e) if !rate_limited(&e) => return Err(e),
                        _ => {}
                    }
                }
            }
            Some(cids) if cids.len() == 1 => {
                let prefix = keys::holders_of(self.user, &cids[0]);
                self.scan(&prefix, q, None, now, render, &mut listing)
                    .await?;
            }
            Some(cids) => {
                // Each CID's entries arrive newest-first; gather the (few) matches and re-sort.
                let unlimited = ListQuery {
                    limit: usize::MAX,
                    ..q.clone()
                };
                for cid in cids {
                    let prefix = keys::holders_of(self.user, cid);
                    self.scan(&prefix, &unlimited, None, now, render, &mut listing)
                        .await?;
                }
                listing.results.sort_by_key(|a| a.0);
                listing.results.truncate(q.limit);
            }
        }
        Ok(listing)
    }

    /// The pins of the queried statuses, from the totals and markers that lead the listing:
    /// as stored, or corrected by a `get` of each pin changed since. `None`: the scan counts.
    async fn known(
        &self,
        q: &ListQuery,
        changes: Option<&Changes>,
        countable: bool,
        now: Millis,
    ) -> Result<Option<Known>, KvError> {
        let Some(changes) = changes.filter(|_| countable) else {
            return Ok(None);
        };
        let tally = match changes.base_at(Some(now)) {
            Base::Exact(tally) => Some(tally),
            Base::Changed(tally, changed) => {
                let reads = join::all(changed.keys().map(|pin| self.get_json(pin))).await;
                let mut moves = Vec::with_capacity(changed.len());
                for (before, now) in changed.values().zip(reads) {
                    moves.push((*before, counts::status_of(now?.as_deref())));
                }
                counts::apply(tally, moves)
            }
            Base::Unknown => None,
        };
        Ok(tally.map(|t| Known::new(q, t)))
    }

    async fn get_json(&self, id: &RequestId) -> Result<Option<String>, KvError> {
        self.kv.get(&keys::pin(self.user, id)).await
    }
}

/// What the leading keys of a full scan say, and what it gathers on its way.
#[derive(Default)]
struct Lead {
    changes: Changes,
    backfill: Backfill,
}
