//! A user's pinset in KV: writes, reads, and the newest-first scan behind `GET /pins`.

use super::keys;
use super::kv::{Kv, KvError, ListedKey};
use super::record::PinRecord;
use crate::auth::user::UserId;
use crate::domain::cid::Cid;
use crate::domain::list_query::{Candidate, ListQuery, Verdict};
use crate::domain::request_id::RequestId;

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

    /// Record first, index second: an interrupted write leaves a pin that lists but is not
    /// yet found by `cid=`, never an index entry pointing at nothing.
    pub async fn put(&self, id: &RequestId, cid: &Cid, record: &PinRecord) -> Result<(), KvError> {
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

    /// Index first, record second: an interrupted delete leaves the record, and retrying the
    /// delete finishes it.
    pub async fn delete(&self, id: &RequestId, record: &PinRecord) -> Result<(), KvError> {
        if let Ok(cid) = Cid::parse(&record.cid) {
            self.kv
                .delete(&keys::cid_index(self.user, &cid, id))
                .await?;
        }
        self.kv.delete(&keys::pin(self.user, id)).await
    }

    /// Scans newest-first, one `list` per 1000 keys, reading a record only when its metadata is
    /// partial and a filter or the page needs what was left out. Holds at most `limit` records.
    pub async fn list(&self, q: &ListQuery) -> Result<Listing, KvError> {
        let mut listing = Listing {
            count: 0,
            results: Vec::new(),
        };
        match &q.cids {
            None => {
                self.scan(&keys::pins_of(self.user), q, &mut listing)
                    .await?
            }
            Some(cids) if cids.len() == 1 => {
                self.scan(&keys::holders_of(self.user, &cids[0]), q, &mut listing)
                    .await?
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
                    self.scan(&keys::holders_of(self.user, cid), &unlimited, &mut all)
                        .await?;
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

    async fn scan(&self, prefix: &str, q: &ListQuery, out: &mut Listing) -> Result<(), KvError> {
        let mut cursor = None;
        loop {
            let page = self.kv.list(prefix, cursor).await?;
            for key in page.keys {
                if let Some((id, record)) = self.judge(key, q).await? {
                    out.count += 1;
                    if out.results.len() < q.limit {
                        out.results.push((id, record));
                    }
                }
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }

    async fn judge(
        &self,
        key: ListedKey,
        q: &ListQuery,
    ) -> Result<Option<(RequestId, PinRecord)>, KvError> {
        let Some(id) = keys::request_id_of(&key.name) else {
            return Ok(None);
        };
        let mut record = match PinRecord::from_metadata(key.metadata.as_ref()) {
            Some(r) => r,
            // Written without metadata (never by this code): read the record.
            None => match self.get(&id).await? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        loop {
            let candidate = Candidate {
                created: id.created(),
                status: record.status,
                name: record.knows_name().then_some(record.name.as_deref()),
                meta: record.knows_meta().then_some(&record.meta),
            };
            match q.judge(&candidate) {
                Verdict::Yes => return Ok(Some((id, record))),
                Verdict::No => return Ok(None),
                // Complete records answer every filter, so this reads each record at most once.
                Verdict::NeedRecord if record.partial => match self.get(&id).await? {
                    Some(full) => record = full,
                    None => return Ok(None),
                },
                Verdict::NeedRecord => return Ok(None),
            }
        }
    }
}

fn corrupt(id: &RequestId) -> KvError {
    KvError(format!(
        "pin record {} is missing or unreadable",
        id.as_str()
    ))
}
