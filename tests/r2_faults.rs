//! Fault injection at every R2 operation of the `r2` backend (issue 13): each `get`, `put`,
//! conditional `put`, `delete` and `list` of a DAG's fetch steps, and of its release
//! (`Keeper::delete`), and of the lifecycle's read that follows the last step (`Keeper::get`),
//! is made to fail, or the call stops dead just before or just after it (`faults_support`).
//! Then the invariants, at once and after the next steps and read (or release) ran:
//! the manifest never names a missing object, no block the index names is corrupt, a pinned
//! DAG has every block readable and verified, and nothing the manifest does not name is left.
//! Prints its figures: `cargo test --test r2_faults -- --nocapture`.

mod common;
mod faults_support;
mod r2_support;
mod upstream_support;

use common::block_on;
use edge_pinning::domain::status::Status;
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::ipld::block::verify;
use edge_pinning::r2::index::DagIndex;
use edge_pinning::r2::keeper::Keeper;
use edge_pinning::r2::manifest::Manifest;
use edge_pinning::r2::step::{Outcome, Stepper, CLAIM_MS};
use edge_pinning::r2::{layout, Blob, BlobError, Blobs, R2Settings};
use edge_pinning::upstream::{Answer, Upstream, UpstreamPin, UpstreamStatus};
use faults_support::{run_until_crash, Faults, KINDS};
use r2_support::*;
use std::cell::Cell;

/// The bucket behind the plan: every operation is one step.
struct FaultyBlobs<'a> {
    inner: &'a MemBlobs,
    faults: &'a Faults,
}

fn r2_err<T>(label: &str) -> Result<T, BlobError> {
    Err(BlobError(format!("injected fault at {label}")))
}

impl Blobs for FaultyBlobs<'_> {
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let label = format!("r2 get {key}");
        let run = self.inner.get(key);
        self.faults.step(&label, run, r2_err(&label)).await
    }
    async fn get_range(&self, key: &str, at: u64, len: u64) -> Result<Option<Vec<u8>>, BlobError> {
        let label = format!("r2 get_range {key}");
        let run = self.inner.get_range(key, at, len);
        self.faults.step(&label, run, r2_err(&label)).await
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        let label = format!("r2 put {key}");
        let run = self.inner.put(key, bytes);
        self.faults.step(&label, run, r2_err(&label)).await
    }
    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, BlobError> {
        let label = format!("r2 put_if {key}");
        let run = self.inner.put_if(key, bytes, etag);
        self.faults.step(&label, run, r2_err(&label)).await
    }
    async fn delete(&self, keys: Vec<String>) -> Result<(), BlobError> {
        let label = format!("r2 delete {}", keys.join(","));
        let run = self.inner.delete(keys);
        self.faults.step(&label, run, r2_err(&label)).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), BlobError> {
        let label = format!("r2 list {prefix}");
        let run = self.inner.list(prefix, cursor);
        self.faults.step(&label, run, r2_err(&label)).await
    }
}

#[derive(Default)]
struct Figures {
    points: u64,
    checks: u64,
    violations: Vec<String>,
}

impl Figures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            self.violations.push(what());
        }
    }
}

/// A DAG of 16 blocks (3 nodes of 4 leaves under a root) that takes several steps to fetch.
struct World {
    dag: Dag,
    blobs: MemBlobs,
    net: Net,
    settings: R2Settings,
    now: Cell<u64>,
}

impl World {
    fn new() -> World {
        let dag = Dag::new(3, 4, 3000, 9);
        let net = Net::new(&dag, &[Mode::Good]);
        let mut settings = settings(net.bases());
        settings.step_bytes = 7000;
        let w = World {
            dag,
            blobs: MemBlobs::default(),
            net,
            settings,
            now: Cell::new(10_000),
        };
        let jobs = Started::default();
        let keeper = Keeper {
            blobs: &w.blobs,
            jobs: &jobs,
            now: Millis(1_000),
            clock: || Millis(1_000),
        };
        let pin = UpstreamPin {
            cid: w.cid(),
            origins: vec![],
        };
        assert!(matches!(block_on(keeper.add(&pin)), Answer::Ok(_)));
        w
    }

    fn cid(&self) -> String {
        self.dag.root.to_string()
    }

    /// Runs steps over `blobs` until one ends the job (or stops dead: `None`, or fails:
    /// `Some(Err)`); a step that finds the claim held waits it out, as a redelivered message
    /// or the keeper's restart of a stalled job does.
    fn steps<B: Blobs>(
        &self,
        blobs: &B,
        faults: &Faults,
        tag: &str,
    ) -> Option<Result<Outcome, BlobError>> {
        let stepper = Stepper {
            blobs,
            web: &self.net,
            settings: &self.settings,
        };
        let wait = |ms: u64| self.now.set(self.now.get() + ms);
        for n in 0..100 {
            wait(1_000);
            let (cid, tag) = (self.cid(), format!("{tag}{n}"));
            let step = stepper.run(&cid, self.now.get(), &tag);
            match run_until_crash(faults, step)? {
                Ok(Outcome::Again) => {}
                Ok(Outcome::Busy) => wait(CLAIM_MS),
                Ok(Outcome::Later(secs)) => wait(u64::from(secs) * 1000),
                other => return Some(other),
            }
        }
        panic!("no end");
    }

    /// The lifecycle's read of the DAG's status (it reads until it reads `pinned`).
    fn read<B: Blobs>(&self, blobs: &B, faults: &Faults) -> Option<Answer<UpstreamStatus>> {
        let jobs = Started::default();
        let keeper = Keeper {
            blobs,
            jobs: &jobs,
            now: Millis(self.now.get()),
            clock: || Millis(1_000),
        };
        run_until_crash(faults, keeper.get(&self.cid()))
    }

    /// Steps until the job ends, then the lifecycle's read; `None`: stopped or failed.
    fn fetch<B: Blobs>(&self, blobs: &B, faults: &Faults, tag: &str) -> Option<Status> {
        let _ = self.steps(blobs, faults, tag)?.ok()?;
        match self.read(blobs, faults)? {
            Answer::Ok(s) => Some(s.status),
            _ => None,
        }
    }

    fn manifest(&self) -> Option<Manifest> {
        let b = block_on(self.blobs.get(&layout::manifest(&self.cid()))).unwrap()?;
        Manifest::from_bytes(&b.bytes)
    }

    /// What must hold whenever the bucket is at rest: the manifest names no missing object,
    /// and every block its index names reads back and hashes to its CID.
    fn at_rest(&self, f: &mut Figures, when: &str) {
        let Some(m) = self.manifest() else { return };
        let exists = |k: &String| self.blobs.objects.borrow().contains_key(k);
        for k in m.segments.iter().chain(m.index.iter()) {
            f.check(exists(k), || {
                format!("{when}: the manifest names {k}, missing")
            });
        }
        let Some(idx) = m
            .index
            .as_ref()
            .and_then(|k| block_on(self.blobs.get(k)).unwrap())
        else {
            return;
        };
        let idx = DagIndex::from_bytes(&idx.bytes).expect("an index this code wrote");
        for cid in self.dag.blocks.keys().filter(|c| idx.contains(c)) {
            let e = idx.get(cid).unwrap();
            let seg = &m.segments[e.segment as usize];
            let got = block_on(self.blobs.get_range(seg, e.offset, u64::from(e.len))).unwrap();
            let ok = got.is_some_and(|b| verify(cid, &b).is_ok());
            f.check(ok, || format!("{when}: block {cid} unreadable or corrupt"));
        }
    }

    /// Pinned: every block of the DAG kept and verified.
    fn pinned(&self, f: &mut Figures, when: &str) -> Option<Manifest> {
        let m = self.manifest();
        let status = m.as_ref().map(|m| m.status);
        f.check(status == Some(Status::Pinned), || {
            format!("{when}: {status:?}")
        });
        let m = m?;
        let blocks = m.blocks as usize;
        f.check(blocks == self.dag.blocks.len(), || {
            format!("{when}: {blocks} blocks kept")
        });
        self.at_rest(f, when);
        Some(m)
    }

    /// The DAG's objects the manifest does not name.
    fn unnamed(&self, m: Option<&Manifest>) -> Vec<String> {
        let manifest = layout::manifest(&self.cid());
        let prefix = layout::dag_prefix(&self.cid());
        self.blobs
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(&prefix) && *k != manifest)
            .filter(|k| m.is_none_or(|m| m.index.as_ref() != Some(k) && !m.segments.contains(k)))
            .collect()
    }
}

fn figures(what: &str, f: &Figures) {
    println!(
        "r2 faults, {what}: {} fault points tried, {} invariant checks made, {} violations",
        f.points,
        f.checks,
        f.violations.len()
    );
    for v in f.violations.iter().take(30) {
        println!("  violation: {v}");
    }
}

/// Every R2 operation of the steps that fetch a DAG: after the fault, the next steps pin it.
#[test]
fn r2_faults_in_fetch_steps() {
    let faults = Faults::default();
    let total = {
        let w = World::new();
        faults.count_only();
        let blobs = FaultyBlobs {
            inner: &w.blobs,
            faults: &faults,
        };
        assert_eq!(w.fetch(&blobs, &faults, "t"), Some(Status::Pinned));
        faults.steps()
    };
    assert!(
        total > 10,
        "several steps, several operations each: {total}"
    );
    let mut f = Figures::default();
    for k in 0..total {
        for kind in KINDS {
            let w = World::new();
            faults.arm(k, kind);
            let faulty = FaultyBlobs {
                inner: &w.blobs,
                faults: &faults,
            };
            let _ = w.fetch(&faulty, &faults, "f");
            let fired = faults.fired.borrow().clone().unwrap_or_default();
            faults.disarm();
            let when = format!("{kind:?} at step {k} ({fired})");
            f.points += 1;
            w.at_rest(&mut f, &format!("{when}, at once"));
            let status = w.fetch(&faulty, &faults, "n");
            f.check(status == Some(Status::Pinned), || {
                format!("{when}: the lifecycle reads {status:?}")
            });
            let m = w.pinned(&mut f, &format!("{when}, then"));
            let left = w.unnamed(m.as_ref());
            f.check(left.is_empty(), || format!("{when}: left unnamed {left:?}"));
        }
    }
    figures("fetch steps and the read after them", &f);
    assert!(f.violations.is_empty(), "{} violations", f.violations.len());
}

/// Every R2 operation of a release: the manifest goes first, so what a stopped release
/// leaves is unnamed, and the release repeated (as the sweep repeats it) leaves nothing.
#[test]
fn r2_faults_in_a_release() {
    let faults = Faults::default();
    let release = |w: &World, blobs: &FaultyBlobs<'_>| {
        let jobs = Started::default();
        let keeper = Keeper {
            blobs,
            jobs: &jobs,
            now: Millis(w.now.get()),
            clock: || Millis(1_000),
        };
        run_until_crash(&faults, keeper.delete(&w.cid()))
    };
    let pinned = || {
        let w = World::new();
        faults.disarm();
        let plain = FaultyBlobs {
            inner: &w.blobs,
            faults: &faults,
        };
        assert_eq!(w.fetch(&plain, &faults, "t"), Some(Status::Pinned));
        w
    };
    let total = {
        let w = pinned();
        faults.count_only();
        let blobs = FaultyBlobs {
            inner: &w.blobs,
            faults: &faults,
        };
        assert!(matches!(release(&w, &blobs), Some(Answer::Ok(()))));
        faults.steps()
    };
    let mut f = Figures::default();
    for k in 0..total {
        for kind in KINDS {
            let w = pinned();
            faults.arm(k, kind);
            let blobs = FaultyBlobs {
                inner: &w.blobs,
                faults: &faults,
            };
            let _ = release(&w, &blobs);
            let fired = faults.fired.borrow().clone().unwrap_or_default();
            faults.disarm();
            let when = format!("{kind:?} at step {k} ({fired})");
            f.points += 1;
            w.at_rest(&mut f, &format!("{when}, at once"));
            let again = release(&w, &blobs);
            f.check(matches!(again, Some(Answer::Ok(()))), || {
                format!("{when}: the release repeated failed")
            });
            let left = w.blobs.keys();
            f.check(left.is_empty(), || format!("{when}: left {left:?}"));
        }
    }
    figures("release", &f);
    assert!(f.violations.is_empty(), "{} violations", f.violations.len());
}
