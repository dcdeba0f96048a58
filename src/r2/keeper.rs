//! The `r2` backend as a provider of the per-CID lifecycle (`crate::upstream`): the lifecycle
//! asks it to add a CID, for a CID's status, and to release a CID nobody holds; it answers
//! from the DAG's manifest in R2 and starts fetch steps. Its request id for a DAG is the
//! root's canonical CID, so a CID is kept once however many pin objects hold it.

use super::manifest::Manifest;
use super::upload::{Upload, UploadError, Uploaded};
use super::Sender;
use super::{layout, sources, Blobs, Jobs};
use crate::domain::{status::Status, timestamp::Millis};
use crate::upstream::{Accept, Answer, Refusal, Upstream, UpstreamPin, UpstreamStatus};
use std::collections::BTreeMap;

/// DAGs a collect pass deletes leftovers of at most (a get and a delete each).
pub const COLLECT_DAGS: usize = 10;

/// A job whose manifest has not changed for this long while not final lost its step (a
/// message dropped, a step stopped): a read of it starts another.
pub const STALLED_MS: u64 = 5 * 60 * 1000;

pub struct Keeper<B, J> {
    pub blobs: B,
    pub jobs: J,
    /// The request's (or the sweep's) time.
    pub now: Millis,
    /// The time now, as it goes on (an upload checks its deadline when it commits).
    pub clock: fn() -> Millis,
}

impl<B: Blobs, J: Jobs> Keeper<B, J> {
    async fn manifest(&self, cid: &str) -> Result<Option<Manifest>, String> {
        let blob = self.blobs.get(&layout::manifest(cid)).await;
        let blob = blob.map_err(|e| format!("R2: {}", e.0))?;
        Ok(blob.and_then(|b| Manifest::from_bytes(&b.bytes)))
    }

    async fn write(&self, cid: &str, m: &Manifest) -> Result<(), String> {
        let key = layout::manifest(cid);
        self.blobs
            .put(&key, m.to_bytes())
            .await
            .map_err(|e| format!("R2: {}", e.0))
    }

    /// Checks a pinned DAG against the bucket, and tidies it: `Ok(false)` when an object its
    /// manifest names is gone (the DAG is lost: the caller forgets it, and the lifecycle adds
    /// it again — drift repair), and indexes the manifest does not name are deleted (the one
    /// a last step replaced, should it have stopped between its commit and deleting it; every
    /// other leftover of a stopped step is deleted by the next step, `Stepper::collect`). The
    /// lifecycle reads a DAG until it reads it pinned, then about once a day (`sweep::verify`):
    /// one list of the DAG's objects per such read. An error fails the read, which is repeated.
    async fn check(&self, cid: &str, m: &Manifest) -> Result<bool, String> {
        let r2 = |e: super::BlobError| format!("R2: {}", e.0);
        let prefix = layout::dag_prefix(cid);
        let indexes = layout::indexes(cid);
        let stale = |k: &str| k.starts_with(&indexes) && m.index.as_deref() != Some(k);
        let left = super::prune(&self.blobs, &prefix, self.now.0, stale)
            .await
            .map_err(r2)?;
        let present: std::collections::BTreeSet<String> = left.into_iter().collect();
        let mut named = m.segments.iter().chain(m.index.iter());
        Ok(named.all(|k| present.contains(k)))
    }

    /// Starts a step for a job that should be running and shows no sign of it.
    async fn kick_if_stalled(&self, cid: &str, m: &Manifest) {
        let now = self.now.0;
        let idle = m.updated + STALLED_MS <= now && !m.is_claimed(now);
        if !m.status.is_final() && idle && m.next_try <= now {
            let _ = self.jobs.start(cid, 0).await;
        }
    }
}

fn status_of(cid: &str, m: &Manifest) -> UpstreamStatus {
    UpstreamStatus {
        requestid: cid.to_owned(),
        status: m.status,
        delegates: Vec::new(),
        details: Some(m.describe()),
        created: None,
        dag_size: (m.status == Status::Pinned).then_some(m.bytes),
    }
}

fn not_found() -> Refusal {
    Refusal {
        status: 404,
        reason: "NOT_FOUND".into(),
        details: "this DAG is not kept".into(),
    }
}

impl<B: Blobs, J: Jobs> Upstream for Keeper<B, J> {
    /// Keeps the CID: a DAG already kept or on its way is mirrored; a failed one is tried
    /// again from what it had kept; a new one gets a manifest and its first step.
    async fn add(&self, pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        let cid = pin.cid.as_str();
        let known = match self.manifest(cid).await {
            Ok(m) => m,
            Err(e) => return Answer::Unavailable(e),
        };
        let origins: Vec<String> = pin
            .origins
            .iter()
            .filter_map(|o| sources::origin_url(o))
            .collect();
        let m = match known {
            Some(m) if m.status != Status::Failed => {
                self.kick_if_stalled(cid, &m).await;
                return Answer::Ok(status_of(cid, &m));
            }
            Some(failed) => Manifest {
                status: Status::Queued,
                details: None,
                tries: 0,
                next_try: 0,
                error: None,
                claim: None,
                origins,
                updated: self.now.0,
                ..failed
            },
            None => Manifest::new(origins, self.now.0),
        };
        if let Err(e) = self.write(cid, &m).await {
            return Answer::Unavailable(e);
        }
        // A lost message is repaired: the lifecycle reads a DAG that is not final, and a read
        // of a stalled job starts a step.
        let _ = self.jobs.start(cid, 0).await;
        Answer::Ok(status_of(cid, &m))
    }

    async fn get(&self, requestid: &str) -> Answer<UpstreamStatus> {
        match self.manifest(requestid).await {
            Ok(Some(m)) if m.status == Status::Pinned => match self.check(requestid, &m).await {
                Ok(true) => Answer::Ok(status_of(requestid, &m)),
                // Lost objects: forget the DAG whole, so the lifecycle's add fetches it anew.
                Ok(false) => match self.delete(requestid).await {
                    Answer::Ok(()) => Answer::Refused(not_found()),
                    Answer::Refused(r) => Answer::Refused(r),
                    Answer::Unavailable(e) => Answer::Unavailable(e),
                },
                Err(e) => Answer::Unavailable(e),
            },
            Ok(Some(m)) => {
                self.kick_if_stalled(requestid, &m).await;
                Answer::Ok(status_of(requestid, &m))
            }
            Ok(None) => Answer::Refused(not_found()),
            Err(e) => Answer::Unavailable(e),
        }
    }

    /// A DAG is kept under its own CID: the lifecycle adds the new CID and releases the old.
    async fn replace(&self, _requestid: &str, _pin: &UpstreamPin) -> Answer<UpstreamStatus> {
        Answer::Refused(Refusal {
            status: 400,
            reason: "NOT_REPLACEABLE".into(),
            details: "kept DAGs are added and released, not replaced".into(),
        })
    }

    /// Releases a DAG: the manifest first (a step still at work then loses its commit and
    /// removes its own objects), then every object under the DAG's prefix. Safe to repeat:
    /// the lifecycle repeats a release until it succeeds.
    async fn delete(&self, requestid: &str) -> Answer<()> {
        let r2 = |e: super::BlobError| Answer::Unavailable(format!("R2: {}", e.0));
        if let Err(e) = self.blobs.delete(vec![layout::manifest(requestid)]).await {
            return r2(e);
        }
        // An upload still in time keeps its objects (`prune`): it will name them in a new
        // manifest (and its pin holds the CID again); past its deadline a later release or the
        // hourly collect takes them.
        let prefix = layout::dag_prefix(requestid);
        match super::prune(&self.blobs, &prefix, self.now.0, |_| true).await {
            Ok(_) => Answer::Ok(()),
            Err(e) => r2(e),
        }
    }

    /// Keeps an uploaded CAR's blocks in the DAG of its root; a DAG still missing blocks gets
    /// a fetch step for the rest.
    async fn accept<C: Sender>(&self, body: &mut C, ask: &Accept) -> Result<Uploaded, UploadError> {
        let clock = || (self.clock)().0;
        let up = Upload {
            blobs: &self.blobs,
            clock: &clock,
            cap: ask.cap,
            room: ask.room,
        };
        let done = up.run(body, ask.root, self.now.0, &layout::nonce()).await?;
        if done.missing > 0 {
            let _ = self.jobs.start(&done.root.to_string(), 0).await;
        }
        Ok(done)
    }

    /// An upload cut off midway leaves segments that no commit will name once its time is up;
    /// when its DAG has no step or release to come (nobody pinned the root), nothing else
    /// deletes them. Over one page of the bucket: every upload object past its time that its
    /// DAG's manifest does not name (1 list, a get per DAG with such objects, a delete each).
    /// Every finished upload's DAG has such objects (named), so a page may hold more DAGs
    /// than one pass reads: the pass then stops before the first DAG it cannot read, and the
    /// next one starts there (the cursor is the last key gone over).
    async fn collect(&self, cursor: Option<String>) -> Answer<(u32, Option<String>)> {
        let r2 = |e: super::BlobError| Answer::Unavailable(format!("R2: {}", e.0));
        let (keys, next) = match self.blobs.list(layout::DAGS, cursor).await {
            Ok(page) => page,
            Err(e) => return r2(e),
        };
        let dag_of = |key: &str| {
            key[layout::DAGS.len()..]
                .split('/')
                .next()
                .map(str::to_owned)
        };
        // The page's DAGs with upload objects past their time, in key order, each with the
        // key listed just before its first one.
        let mut dags: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            if !layout::upload_left(key, self.now.0) {
                continue;
            }
            let Some(cid) = dag_of(key) else { continue };
            let before = i.checked_sub(1).map(|b| keys[b].clone());
            let dag = dags.entry(cid).or_insert_with(|| (before, Vec::new()));
            dag.1.push(key.clone());
        }
        let mut deleted = 0;
        for (n, (cid, (before, left))) in dags.into_iter().enumerate() {
            if n == COLLECT_DAGS {
                return Answer::Ok((deleted, before));
            }
            let named: Vec<String> = match self.manifest(&cid).await {
                Ok(m) => m
                    .map(|m| m.segments.into_iter().chain(m.index).collect())
                    .unwrap_or_default(),
                Err(e) => return Answer::Unavailable(e),
            };
            let doomed: Vec<String> = left.into_iter().filter(|k| !named.contains(k)).collect();
            deleted += doomed.len() as u32;
            if !doomed.is_empty() {
                if let Err(e) = self.blobs.delete(doomed).await {
                    return r2(e);
                }
            }
        }
        Answer::Ok((deleted, next))
    }

    async fn list_by_cid(&self, cid: &str, _before: Millis) -> Answer<Vec<UpstreamStatus>> {
        match self.manifest(cid).await {
            Ok(m) => Answer::Ok(m.iter().map(|m| status_of(cid, m)).collect()),
            Err(e) => Answer::Unavailable(e),
        }
    }
}
