//! A user's pinset in KV: writes, reads, and the newest-first scan behind `GET /pins`.

use super::counts::{self, Changes, Tally};
use super::keys;
use super::kv::{Kv, KvError, LIST_PAGE};
use super::record::PinRecord;
use crate::auth::user::UserId;
use crate::domain::cid::Cid;
use crate::domain::list_query::{Candidate, ListQuery, Verdict};
use crate::domain::request_id::RequestId;
use crate::domain::timestamp::Millis;

pub struct PinStore<'a, K> {
    kv: &'a K,
    user: &'a UserId,
}

/// One page of `GET /pins`: the total that matched and the newest `limit` of them.
pub struct Listing {
    pub count: usize,
    pub results: Vec<(RequestId, PinRecord)>,
}

impl<'a, K: Kv> PinStore<'a, K> {
    pub fn new(kv: &'a K, user: &'a UserId) -> Self {
        PinStore { kv, user }
    }

    /// Change marker first (so stored counts are never trusted past this write), record
    /// second, index third: an interrupted write leaves a pin that lists but is not yet found
    /// by `cid=`, never an index entry pointing at nothing.
    pub async fn put(
        &self,
        id: &RequestId,
        cid: &Cid,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        counts::mark_change(self.kv, self.user, &counts::stamp(now)?, now).await?;
        let meta = record.to_metadata();
        self.kv
            .put(&keys::pin(self.user, id), &record.to_json(), &meta, None)
            .await?;
        self.kv
            .put(&keys::cid_index(self.user, cid, id), "", &meta, None)
            .await
    }

    pub async fn get(&self, id: &RequestId) -> Result<Option<PinRecord>, KvError> {
        let raw = self.kv.get(&keys::pin(self.user, id)).await?;
        raw.map(|s| PinRecord::from_json(&s).ok_or_else(|| corrupt(id)))
            .transpose()
    }

    /// Change marker, then index, then record: an interrupted delete leaves the record, and
    /// retrying the delete finishes it.
    pub async fn delete(
        &self,
        id: &RequestId,
        record: &PinRecord,
        now: Millis,
    ) -> Result<(), KvError> {
        counts::mark_change(self.kv, self.user, &counts::stamp(now)?, now).await?;
        if let Ok(cid) = Cid::parse(&record.cid) {
            self.kv
                .delete(&keys::cid_index(self.user, &cid, id))
                .await?;
        }
        self.kv.delete(&keys::pin(self.user, id)).await
    }

    /// Scans newest-first, one `list` per 1000 keys, reading a record only when its metadata is
    /// partial and a filter or the page needs what was left out. Holds at most `limit` records.
    /// When the query filters by status alone and the stored counts are current, the scan
    /// stops as soon as the page is full; a scan of the whole pinset stores fresh counts.
    pub async fn list(&self, q: &ListQuery, now: Millis) -> Result<Listing, KvError> {
        let mut listing = Listing {
            count: 0,
            results: Vec::new(),
        };
        match &q.cids {
            None => {
                let changes = Changes::read(self.kv, self.user).await?;
                let known = match changes.current() {
                    Some(tally) if q.filters_by_status_only() => Some(Known::new(q, tally)),
                    _ => None,
                };
                let prefix = keys::pins_of(self.user);
                if let Some(tally) = self.scan(&prefix, q, known, &mut listing).await? {
                    changes.store(self.kv, self.user, tally, now).await?;
                }
            }
            Some(cids) if cids.len() == 1 => {
                let prefix = keys::holders_of(self.user, &cids[0]);
                self.scan(&prefix, q, None, &mut listing).await?;
            }
            Some(cids) => {
                // Each CID's entries arrive newest-first; gather the (few) matches and re-sort.
                let mut all = Listing {
                    count: 0,
                    results: Vec::new(),
                };
                let unlimited = ListQuery {
                    limit: usize::MAX,
                    ..q.clone()
                };
                for cid in cids {
                    let prefix = keys::holders_of(self.user, cid);
                    self.scan(&prefix, &unlimited, None, &mut all).await?;
                }
                all.results.sort_by(|a, b| a.0.cmp(&b.0));
                all.results.truncate(q.limit);
                listing = all;
            }
        }
        for (id, record) in &mut listing.results {
            if record.partial {
                // Deleted since the scan: the slim record still describes it truthfully.
                if let Some(full) = self.get(id).await? {
                    *record = full;
                }
            }
        }
        Ok(listing)
    }

    /// Judges every key under `prefix`, newest first. With `known` (the exact count, from
    /// stored totals) it stops once the page is full or every match is found, and returns
    /// `None`; otherwise it reads to the end and returns the statuses of all it scanned.
    async fn scan(
        &self,
        prefix: &str,
        q: &ListQuery,
        known: Option<Known>,
        out: &mut Listing,
    ) -> Result<Option<Tally>, KvError> {
        if known.is_some_and(|k| k.matching == 0) {
            return Ok(None);
        }
        let mut tally = Tally::default();
        let mut cursor = None;
        let mut size = known.map_or(LIST_PAGE, |k| k.first_page);
        // With a known count, the scan is over once the page is full or every match is found.
        let done = |out: &mut Listing| match known {
            Some(k) if out.results.len() == q.limit || out.count == k.matching => {
                out.count = out.count.max(k.matching);
                true
            }
            _ => false,
        };
        loop {
            let page = self.kv.list(prefix, cursor, size).await?;
            size = LIST_PAGE;
            for key in page.keys {
                if done(out) {
                    return Ok(None);
                }
                let Some(id) = keys::request_id_of(&key.name) else {
                    continue;
                };
                let record = match PinRecord::from_metadata(key.metadata.as_ref()) {
                    Some(r) => r,
                    // Written without metadata (never by this code): read the record.
                    None => match self.get(&id).await? {
                        Some(r) => r,
                        None => continue,
                    },
                };
                tally.add(record.status);
                if let Some(record) = self.judge(&id, record, q).await? {
                    out.count += 1;
                    if out.results.len() < q.limit {
                        out.results.push((id, record));
                    }
                }
            }
            match page.cursor {
                Some(_) if done(out) => return Ok(None),
                Some(c) => cursor = Some(c),
                None => return Ok(Some(tally)),
            }
        }
    }

    async fn judge(
        &self,
        id: &RequestId,
        mut record: PinRecord,
        q: &ListQuery,
    ) -> Result<Option<PinRecord>, KvError> {
        loop {
            let candidate = Candidate {
                created: id.created(),
                status: record.status,
                name: record.knows_name().then_some(record.name.as_deref()),
                meta: record.knows_meta().then_some(&record.meta),
            };
            match q.judge(&candidate) {
                Verdict::Yes => return Ok(Some(record)),
                Verdict::No => return Ok(None),
                // Complete records answer every filter, so this reads each record at most once.
                Verdict::NeedRecord if record.partial => match self.get(id).await? {
                    Some(full) => record = full,
                    None => return Ok(None),
                },
                Verdict::NeedRecord => return Ok(None),
            }
        }
    }
}

/// A status-only listing whose count the stored totals give.
#[derive(Clone, Copy)]
struct Known {
    /// Pins of the queried statuses.
    matching: usize,
    /// Keys to ask for first: enough to fill the page if matches are spread evenly, so that a
    /// page of 10 does not fetch (and decode the metadata of) 1000 keys.
    first_page: u32,
}

impl Known {
    fn new(q: &ListQuery, tally: Tally) -> Known {
        let matching = q.status.total(|s| tally.of(s));
        let all: usize = tally.0.iter().sum();
        let wanted = q.limit.min(matching);
        let expected = (wanted * all).div_ceil(matching.max(1));
        let first_page = (expected + expected / 4 + 8).min(LIST_PAGE as usize) as u32;
        Known {
            matching,
            first_page,
        }
    }
}

fn corrupt(id: &RequestId) -> KvError {
    KvError(format!(
        "pin record {} is missing or unreadable",
        id.as_str()
    ))
}
