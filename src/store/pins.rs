//! A user's pinset in KV: writes, reads, and the newest-first scan behind `GET /pins`.

use super::counts::{self, Base, Changes, Tally};
use super::join;
use super::keys;
use super::kv::{Kv, KvError, LIST_PAGE};
use super::names::{self, Backfill};
use super::record::{metadata_json, Glance, PinRecord, RecordView};
use super::repair::Entries;
use crate::auth::user::UserId;
use crate::domain::cid::Cid;
use crate::domain::list_query::{Candidate, ListQuery, Verdict};
use crate::domain::name::fold;
use crate::domain::request_id::RequestId;
use crate::domain::status::Status;
use crate::domain::timestamp::Millis;

pub struct PinStore<'a, K> {
    kv: &'a K,
    user: &'a UserId,
}

/// One page of `GET /pins`: the total that matched and the newest `limit` of them.
pub struct Listing<T> {
    pub count: usize,
    pub results: Vec<(RequestId, T)>,
}

impl<'a, K: Kv> PinStore<'a, K> {
    pub fn new(kv: &'a K, user: &'a UserId) -> Self {
        PinStore { kv, user }
    }

    /// Change marker first (it names the pin, its entries' keys and `before`, the status the
    /// caller read it in; none for a new pin). A new pin: record, then the CID index and the
    /// name index; an interrupted add leaves a pin that lists but is not yet found by `cid=`
    /// or `name=`, never an index entry pointing at nothing, and the scan that prunes the
    /// marker adds the entries (`repair`). A rewrite (a status change): entries first, record
    /// last, so an interrupted one leaves the record behind its entries, and whoever rewrites
    /// it (the record does not show the new status) writes it all again.
    pub async fn put(
        &self,
        id: &RequestId,
        cid: &Cid,
        record: &PinRecord,
        before: Option<Status>,
        now: Millis,
    ) -> Result<(), KvError> {
        let entries = Entries::of(cid, record.name.as_deref());
        counts::mark_change(self.kv, self.user, now, id, before, Some(&entries)).await?;
        let meta = record.to_metadata();
        if before.is_none() {
            self.put_record(id, record, &meta).await?;
        }
        self.kv
            .put(&keys::cid_index(self.user, cid, id), "", &meta, None)
            .await?;
        if let Some(name) = &record.name {
            let key = keys::name_index(self.user, &fold(name), id);
            self.kv.put(&key, "", &meta, None).await?;
        }
        if before.is_some() {
            self.put_record(id, record, &meta).await?;
        }
        Ok(())
    }

    async fn put_record(
        &self,
        id: &RequestId,
        record: &PinRecord,
        meta: &serde_json::Value,
    ) -> Result<(), KvError> {
        let key = keys::pin(self.user, id);
        self.kv.put(&key, &record.to_json(), meta, None).await
    }

    pub async fn get(&self, id: &RequestId) -> Result<Option<PinRecord>, KvError> {
        let raw = self.kv.get(&keys::pin(self.user, id)).await?;
        raw.map(|s| PinRecord::from_json(&s).ok_or_else(|| corrupt(id)))
            .transpose()
    }

    /// Change marker, then the CID index, the name index, and the record: an interrupted
    /// delete leaves the record, and retrying the delete finishes it; otherwise the scan that
    /// prunes the marker puts the entries back (`repair`), and the pin is wholly there. (The
    /// name index's backfill relies on this order: `names`.)
    pub async fn delete(
        &self,
        id: &RequestId,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        let parsed = Cid::parse(&record.cid).ok();
        let entries = parsed
            .as_ref()
            .map(|cid| Entries::of(cid, record.name.as_deref()));
        let before = Some(record.status);
        counts::mark_change(self.kv, self.user, now, id, before, entries.as_ref()).await?;
        if let Some(cid) = parsed {
            self.kv
                .delete(&keys::cid_index(self.user, &cid, id))
                .await?;
        }
        if let Some(name) = &record.name {
            let key = keys::name_index(self.user, &fold(name), id);
            self.kv.delete(&key).await?;
        }
        self.kv.delete(&keys::pin(self.user, id)).await
    }

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
                    let pruned = lead.changes.store(self.kv, self.user, tally, now).await?;
                    lead.backfill
                        .finish(self.kv, self.user, pruned, now)
                        .await?;
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

    /// Judges every key under `prefix`, newest first. Under `p/`, `lead` collects the
    /// totals and change markers that lead the listing (and what the name index's backfill
    /// wants); when they give this query's count, the
    /// scan stops once the page is full or every match is found, and returns `None`. Otherwise
    /// it reads to the end and returns the statuses of all it scanned.
    async fn scan<T>(
        &self,
        prefix: &str,
        q: &ListQuery,
        mut lead: Option<&mut Lead>,
        now: Millis,
        render: &impl Fn(&RequestId, &RecordView<'_>) -> T,
        out: &mut Listing<T>,
    ) -> Result<Option<Tally>, KvError> {
        let countable = lead.is_some() && q.counts_from_totals();
        // Decided at the first pin key, once the leading keys have been seen.
        let mut known: Option<Option<Known>> = None;
        let mut tally = Tally::default();
        let mut cursor = None;
        let mut size = if countable && q.before.is_none() {
            Known::guess(q.limit)
        } else {
            LIST_PAGE
        };
        // Keys run newest first. Pins at or after `before` come first: the totals count those
        // of the queried statuses (`newer`), the query does not; the count is known once they
        // are passed.
        let mut newer = 0;
        let mut passed = q.before.is_none();
        // With a known count, the scan is over once the page is full or every match is found.
        let done = |known: Option<Known>, newer: usize, passed: bool, out: &mut Listing<T>| {
            let Some(k) = known.filter(|_| passed) else {
                return false;
            };
            let matching = k.matching.saturating_sub(newer);
            let over = out.results.len() == q.limit || out.count >= matching;
            if over {
                out.count = out.count.max(matching);
            }
            over
        };
        loop {
            let page = self.kv.list(prefix, cursor, size).await?;
            size = LIST_PAGE;
            for key in page.keys {
                let tail = &key.name[prefix.len().min(key.name.len())..];
                if let Some(lead) = lead.as_deref_mut() {
                    if lead.changes.observe(tail, key.metadata.as_ref()) {
                        continue;
                    }
                }
                let changes = lead.as_deref().map(|l| &l.changes);
                let k = match known {
                    Some(k) => k,
                    None => *known.insert(self.known(q, changes, countable, now).await?),
                };
                if done(k, newer, passed, out) {
                    return Ok(None);
                }
                if let Some(k) = k.filter(|_| passed) {
                    size = k.next_page(q, out);
                }
                let Some(id) = RequestId::parse(tail) else {
                    continue;
                };
                if let Some(lead) = lead.as_deref_mut() {
                    lead.backfill.see(&id, key.metadata.as_ref(), now);
                }
                let created = id.created();
                if q.after.is_some_and(|a| !created.is_after(a)) {
                    // This pin and every one after it are too old to match: the count is
                    // complete (and, not having read everything, there are no totals).
                    return Ok(None);
                }
                let ahead = !passed && q.before.is_some_and(|b| !created.is_before(b));
                passed = !ahead;
                let mut spill = String::new();
                let listed = metadata_json(key.metadata.as_ref(), &mut spill);
                // Most pins are passed over (another name, past the page, newer than `before`):
                // judged from a glance at their text, without parsing the record. (While an
                // unfiltered page fills, every pin would be parsed anyway.)
                let page_full = out.results.len() >= q.limit;
                let glance = ahead || page_full || q.name.is_some();
                if let Some(g) = listed
                    .filter(|_| glance && q.meta.is_none())
                    .and_then(Glance::of)
                {
                    let judged = if ahead {
                        Verdict::No
                    } else {
                        q.judge(&Candidate {
                            created,
                            status: g.status,
                            name: g.knows_name().then_some(g.name),
                            meta: None,
                        })
                    };
                    if judged == Verdict::No || (judged == Verdict::Yes && page_full) {
                        tally.add(g.status);
                        newer += usize::from(ahead && q.status.contains(g.status));
                        out.count += usize::from(judged == Verdict::Yes);
                        continue;
                    }
                }
                let Some(view) = listed.and_then(RecordView::parse) else {
                    // Written without readable metadata (never by this code): read the record.
                    if let Some(json) = self.get_json(&id).await? {
                        let view = parse_view(&id, &json)?;
                        tally.add(view.status);
                        newer += usize::from(ahead && q.status.contains(view.status));
                        if verdict(q, &id, &view) == Verdict::Yes {
                            take(&id, &view, q.limit, render, out);
                        }
                    }
                    continue;
                };
                tally.add(view.status);
                if ahead {
                    newer += usize::from(q.status.contains(view.status));
                    continue;
                }
                let judged = verdict(q, &id, &view);
                let on_page = out.results.len() < q.limit;
                let wants_full = match judged {
                    Verdict::No => false,
                    Verdict::Yes => on_page && view.partial,
                    Verdict::NeedRecord => view.partial,
                };
                if !wants_full {
                    if judged == Verdict::Yes {
                        take(&id, &view, q.limit, render, out);
                    }
                    continue;
                }
                match self.get_json(&id).await? {
                    Some(json) => {
                        let full = parse_view(&id, &json)?;
                        if verdict(q, &id, &full) == Verdict::Yes {
                            take(&id, &full, q.limit, render, out);
                        }
                    }
                    // Deleted since it was listed: the slim record still describes it truthfully.
                    None if judged == Verdict::Yes => take(&id, &view, q.limit, render, out),
                    None => {}
                }
            }
            let k = match known {
                Some(k) => k,
                // Nothing but leading keys (or nothing) was listed.
                None if page.cursor.is_none() => {
                    let changes = lead.as_deref().map(|l| &l.changes);
                    self.known(q, changes, countable, now).await?
                }
                None => None,
            };
            match page.cursor {
                Some(_) if done(k, newer, passed, out) => return Ok(None),
                Some(c) => cursor = Some(c),
                None if done(k, newer, passed, out) => return Ok(None),
                None => return Ok(Some(tally)),
            }
        }
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

/// Counts a pin that matches, and renders it while the page has room.
fn take<T>(
    id: &RequestId,
    view: &RecordView<'_>,
    limit: usize,
    render: &impl Fn(&RequestId, &RecordView<'_>) -> T,
    out: &mut Listing<T>,
) {
    out.count += 1;
    if out.results.len() < limit {
        out.results.push((*id, render(id, view)));
    }
}

/// Judges a pin by its view: a partial record's missing name or meta is unknown, and the meta
/// map is built only for a query that filters by meta.
fn verdict(q: &ListQuery, id: &RequestId, view: &RecordView<'_>) -> Verdict {
    let meta = (q.meta.is_some() && view.knows_meta()).then(|| view.meta_map());
    q.judge(&Candidate {
        created: id.created(),
        status: view.status,
        name: view.knows_name().then_some(view.name.as_deref()),
        meta: meta.as_ref(),
    })
}

fn parse_view<'a>(id: &RequestId, json: &'a str) -> Result<RecordView<'a>, KvError> {
    RecordView::parse(json).ok_or_else(|| corrupt(id))
}

/// A status-only listing whose count the stored totals give.
#[derive(Clone, Copy)]
struct Known {
    /// Pins of the queried statuses.
    matching: usize,
    /// Pins of every status.
    all: usize,
}

impl Known {
    fn new(q: &ListQuery, tally: Tally) -> Known {
        Known {
            matching: q.status.total(|s| tally.of(s)),
            all: tally.0.iter().sum(),
        }
    }

    /// Keys to ask for before the totals are known: the page, the totals and the newest
    /// marker, and some slack, rather than 1000 keys whose metadata must all be decoded.
    fn guess(limit: usize) -> u32 {
        (limit + limit / 4 + 10).min(LIST_PAGE as usize) as u32
    }

    /// Keys to ask for next: enough to fill the rest of the page if matches are spread evenly.
    fn next_page<T>(self, q: &ListQuery, out: &Listing<T>) -> u32 {
        let wanted = q.limit.min(self.matching).saturating_sub(out.results.len());
        let expected = (wanted * self.all).div_ceil(self.matching.max(1));
        (expected + expected / 4 + 8).min(LIST_PAGE as usize) as u32
    }
}

fn corrupt(id: &RequestId) -> KvError {
    KvError(format!(
        "pin record {} is missing or unreadable",
        id.as_str()
    ))
}
