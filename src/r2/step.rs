//! One fetch step of a DAG: claim it, find what is missing, fetch within the step's budget,
//! keep what is reachable and verified as one new segment, commit. Every step is idempotent
//! and resumes from what is missing, so at-least-once delivery and a step that dies anywhere
//! cost only repeated work (docs/storage.md, "R2 backend").

use super::fetch::{self, Ended, Received};
use super::index::{self, Entry};
use super::manifest::Manifest;
use super::work::{inline_links, Work};
use super::{layout, sources, BlobError, Blobs, R2Settings, Web};
use crate::domain::status::Status;
use crate::ipld::car::write;
use crate::upstream::state::backoff_ms;
use cid::Cid;
use std::collections::{BTreeMap, BTreeSet};

/// How long a claim lasts: longer than any step may run (a Queues consumer is stopped after
/// 15 minutes of wall time), so two steps of one DAG never overlap.
pub const CLAIM_MS: u64 = 15 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Pinned, failed, gone, or not a job: no further step.
    Done,
    /// Progress was made and more is missing: run the next step now.
    Again,
    /// Nothing could be fetched: run the next step after this many seconds.
    Later(u32),
    /// Another step holds the claim (or won the commit): it goes on, this one stops.
    Busy,
}

pub struct Stepper<'a, B, W> {
    pub blobs: &'a B,
    pub web: &'a W,
    pub settings: &'a R2Settings,
}

impl<B: Blobs, W: Web> Stepper<'_, B, W> {
    /// `tag` names this step's objects (random, from the caller).
    pub async fn run(&self, cid: &str, now: u64, tag: &str) -> Result<Outcome, BlobError> {
        let Ok(root) = Cid::try_from(cid) else {
            return Ok(Outcome::Done);
        };
        let key = layout::manifest(cid);
        let Some(blob) = self.blobs.get(&key).await? else {
            return Ok(Outcome::Done);
        };
        let Some(mut m) = Manifest::from_bytes(&blob.bytes) else {
            return Ok(Outcome::Done);
        };
        if m.status.is_final() {
            return Ok(Outcome::Done);
        }
        if m.is_claimed(now) {
            return Ok(Outcome::Busy);
        }
        if m.next_try > now {
            return Ok(Outcome::Later(secs_until(m.next_try, now)));
        }
        m.claim = Some(now + CLAIM_MS);
        m.updated = now;
        let Some(etag) = self.blobs.put_if(&key, m.to_bytes(), &blob.etag).await? else {
            return Ok(Outcome::Busy);
        };
        self.collect(cid, &m, now).await?;
        let index = index::in_force(self.blobs, &m).await?;
        if index.is_none() {
            m.segments.clear();
        }
        let previous = m.index.clone();
        let mut work = Work {
            root,
            index: index.unwrap_or_default(),
            got: Received::default(),
            links: BTreeMap::new(),
        };
        let notes = self.fetch(&m, &mut work).await;
        let (next, outcome) = self.conclude(m, work, notes, now, tag).await?;
        let ours = [layout::segment(cid, tag), layout::index(cid, tag)];
        let wrote = next.index.as_deref() == Some(ours[1].as_str());
        if self
            .blobs
            .put_if(&key, next.to_bytes(), &etag)
            .await?
            .is_none()
        {
            // Released or reset meanwhile: what this step wrote is nobody's.
            if wrote {
                self.blobs.delete(ours.to_vec()).await?;
            }
            return Ok(Outcome::Busy);
        }
        if let Some(old) = previous.filter(|_| wrote) {
            self.blobs.delete(vec![old]).await?;
        }
        Ok(outcome)
    }

    /// Deletes the DAG's objects that the manifest does not name: leftovers of a step that
    /// stopped before its commit (its segment and index) or after it (the index it replaced),
    /// or of an upload past its deadline. With the claim held no other step may commit, and
    /// one still writing (a release and re-add meanwhile) loses its commit and deletes its own
    /// objects anyway; an upload still in time may yet commit its objects: they are spared.
    /// One list a step.
    async fn collect(&self, cid: &str, m: &Manifest, now: u64) -> Result<(), BlobError> {
        let prefix = layout::dag_prefix(cid);
        let manifest = layout::manifest(cid);
        let named = |k: &str| {
            k == manifest || m.index.as_deref() == Some(k) || m.segments.iter().any(|s| s == k)
        };
        super::prune(self.blobs, &prefix, now, |k| !named(k)).await?;
        Ok(())
    }

    /// Fetches missing subtrees, source by source, until the budget or the missing run out.
    async fn fetch(&self, m: &Manifest, work: &mut Work) -> Vec<String> {
        let s = self.settings;
        let mut sources = sources::rotated(&m.origins, &s.gateways, m.tries);
        let mut notes = Vec::new();
        let mut asked = BTreeSet::new();
        let mut fetches = 0u32;
        while fetches < s.step_fetches && work.got.bytes < s.step_bytes {
            let Some(want) = work.missing().into_iter().find(|c| !asked.contains(c)) else {
                break;
            };
            asked.insert(want);
            let mut i = 0;
            while i < sources.len() && fetches < s.step_fetches {
                let src = sources[i].clone();
                fetches += 1;
                let budget = s.step_bytes;
                let mut ended = fetch::car(self.web, &src, &want, budget, &mut work.got).await;
                let cut = matches!(ended, Ended::Unusable(_));
                if cut && !work.has(&want) && fetches < s.step_fetches {
                    // Not a CAR at all from here: one block, and the rest in later rounds.
                    fetches += 1;
                    ended = fetch::raw(self.web, &src, &want, &mut work.got).await;
                }
                if matches!(ended, Ended::Complete) && !work.has(&want) {
                    // A gateway that lacks a DAG may still answer 200 with an empty CAR.
                    ended = Ended::Unusable(format!("{src}: answered without block {want}"));
                }
                match ended {
                    Ended::Complete | Ended::Budget => break,
                    Ended::Corrupt(e) => {
                        notes.push(e);
                        sources.remove(i);
                    }
                    Ended::Unusable(e) => {
                        notes.push(e);
                        if work.has(&want) {
                            break;
                        }
                        i += 1;
                    }
                }
            }
        }
        notes
    }

    /// Writes what this step kept (a segment and the new index) and returns the manifest to
    /// commit, with what follows it.
    async fn conclude(
        &self,
        mut m: Manifest,
        mut work: Work,
        notes: Vec<String>,
        now: u64,
        tag: &str,
    ) -> Result<(Manifest, Outcome), BlobError> {
        let s = self.settings;
        let root = work.root;
        let kept = work.reachable();
        m.claim = None;
        m.updated = now;
        m.error = summary(notes);
        if let Some(why) = kept.iter().find_map(|c| work.links_error(c)) {
            return Ok((fail(m, why), Outcome::Done));
        }
        let added: u64 = kept.iter().map(|c| work.got.blocks[c].len() as u64).sum();
        if work.index.bytes() + added > s.max_pin_bytes {
            let why = format!(
                "the DAG is larger than MAX_PIN_BYTES ({} bytes); nothing more is fetched",
                s.max_pin_bytes
            );
            return Ok((fail(m, why), Outcome::Done));
        }
        let cid = root.to_string();
        if !kept.is_empty() {
            let segment = m.segments.len() as u32;
            let mut car = write::header(std::slice::from_ref(&root));
            for c in &kept {
                let bytes = work
                    .got
                    .blocks
                    .remove(c)
                    .expect("kept blocks were received");
                let links = work
                    .links
                    .remove(c)
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let section = write::block_section(c, &bytes);
                let offset = (car.len() + section.len() - bytes.len()) as u64;
                car.extend_from_slice(&section);
                let len = bytes.len() as u32;
                work.index.insert(
                    *c,
                    Entry {
                        segment,
                        offset,
                        len,
                        links,
                    },
                );
            }
            let seg_key = layout::segment(&cid, tag);
            let idx_key = layout::index(&cid, tag);
            self.blobs.put(&seg_key, car).await?;
            self.blobs.put(&idx_key, work.index.to_bytes()).await?;
            m.segments.push(seg_key);
            m.index = Some(idx_key);
        }
        let missing = work.index.missing(&root, inline_links);
        m.blocks = work.index.len() as u64;
        m.bytes = work.index.bytes();
        m.missing = missing.len() as u64;
        if missing.is_empty() {
            m.status = Status::Pinned;
            m.details = None;
            m.error = None;
            return Ok((m, Outcome::Done));
        }
        m.status = if m.blocks > 0 {
            Status::Pinning
        } else {
            Status::Queued
        };
        if !kept.is_empty() {
            m.tries = 0;
            m.next_try = now;
            return Ok((m, Outcome::Again));
        }
        m.tries += 1;
        if m.tries >= s.max_tries {
            let why = format!(
                "no source had the {} missing blocks after {} tries; last error: {}",
                missing.len(),
                m.tries,
                m.error.as_deref().unwrap_or("none")
            );
            return Ok((fail(m, why), Outcome::Done));
        }
        let wait = backoff_ms(m.tries, s.retry_secs);
        m.next_try = now + wait;
        Ok((m, Outcome::Later(secs_until(now + wait, now))))
    }
}

/// The step's distinct troubles, for `info` (the first three; each names its source).
fn summary(mut notes: Vec<String>) -> Option<String> {
    notes.dedup();
    let mut seen = BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    (!notes.is_empty()).then(|| notes.into_iter().take(3).collect::<Vec<_>>().join("; "))
}

fn fail(mut m: Manifest, why: String) -> Manifest {
    m.status = Status::Failed;
    m.details = Some(why);
    m
}

fn secs_until(at: u64, now: u64) -> u32 {
    at.saturating_sub(now)
        .div_ceil(1000)
        .min(u64::from(u32::MAX)) as u32
}
