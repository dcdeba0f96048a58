//! Judging every key under a prefix, newest first: each pin from its list metadata in place,
//! counted exactly, and the page rendered as it fills.

use super::{Lead, Listing};
use crate::domain::list_query::{Candidate, ListQuery, Verdict};
use crate::domain::request_id::RequestId;
use crate::domain::timestamp::Millis;
use crate::store::counts::Tally;
use crate::store::kv::{Kv, KvError, LIST_PAGE};
use crate::store::pins::{corrupt, PinStore};
use crate::store::record::{metadata_json, Glance, RecordView};

impl<K: Kv> PinStore<'_, K> {
    /// Judges every key under `prefix`, newest first. Under `p/`, `lead` collects the
    /// totals and change markers that lead the listing (and what the name index's backfill
    /// wants); when they give this query's count, the
    /// scan stops once the page is full or every match is found, and returns `None`. Otherwise
    /// it reads to the end and returns the statuses of all it scanned.
    pub(super) async fn scan<T>(
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
pub(super) struct Known {
    /// Pins of the queried statuses.
    matching: usize,
    /// Pins of every status.
    all: usize,
}

impl Known {
    pub(super) fn new(q: &ListQuery, tally: Tally) -> Known {
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
