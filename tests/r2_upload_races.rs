//! An upload in flight against the cleanups that delete a DAG's objects no manifest names: a
//! fetch step's, a read's (stale indexes) and a release. Each runs at the worst moment, right
//! after the upload wrote an object and before its commit names it; the commit must then name
//! only objects that are there. An upload past its deadline commits nothing, and what one cut
//! off midway left is deleted by the hourly collect once its time is up.

mod common;
mod r2_support;

use cid::Cid;
use common::block_on;
use edge_pinning::domain::{status::Status, timestamp::Millis};
use edge_pinning::r2::keeper::{Keeper, COLLECT_DAGS};
use edge_pinning::r2::manifest::Manifest;
use edge_pinning::r2::step::Stepper;
use edge_pinning::r2::upload::{Upload, UploadError, Uploaded};
use edge_pinning::r2::{layout, Blob, BlobError, Blobs};
use edge_pinning::upstream::{Answer, Upstream};
use r2_support::*;
use std::cell::RefCell;

type Hook<'a> = Box<dyn FnOnce() + 'a>;

/// The bucket, with `hook` run once right after the first put of a key containing `after`.
struct Meddled<'a> {
    inner: &'a MemBlobs,
    after: &'static str,
    hook: RefCell<Option<Hook<'a>>>,
}

impl Blobs for Meddled<'_> {
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, at: u64, len: u64) -> Result<Option<Vec<u8>>, BlobError> {
        self.inner.get_range(key, at, len).await
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.inner.put(key, bytes).await?;
        if key.contains(self.after) {
            let hook = self.hook.borrow_mut().take();
            if let Some(hook) = hook {
                hook();
            }
        }
        Ok(())
    }
    async fn put_if(&self, key: &str, b: Vec<u8>, etag: &str) -> Result<Option<String>, BlobError> {
        self.inner.put_if(key, b, etag).await
    }
    async fn delete(&self, keys: Vec<String>) -> Result<(), BlobError> {
        self.inner.delete(keys).await
    }
    async fn list(
        &self,
        p: &str,
        c: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), BlobError> {
        self.inner.list(p, c).await
    }
}

const STARTED: u64 = 1_000;

/// Uploads `car` (of `root`'s DAG) begun at `STARTED`, with `hook` run as described, and the
/// clock at `now` when it commits. (Its nonce, in its objects' names: `now`, unique here.)
fn upload_meddled<'a>(
    blobs: &'a MemBlobs,
    car: Vec<u8>,
    root: Cid,
    after: &'static str,
    hook: Hook<'a>,
    now: u64,
) -> Result<Uploaded, UploadError> {
    let meddled = Meddled {
        inner: blobs,
        after,
        hook: RefCell::new(Some(hook)),
    };
    let clock = move || now;
    let up = Upload {
        blobs: &meddled,
        clock: &clock,
        cap: 1 << 30,
        room: None,
    };
    let mut body = MemBody::chunked(car, 777);
    block_on(up.run(&mut body, Some(root), STARTED, &now.to_string()))
}

fn manifest(blobs: &MemBlobs, root: &Cid) -> Manifest {
    let b = block_on(blobs.get(&layout::manifest(&root.to_string())));
    Manifest::from_bytes(&b.unwrap().unwrap().bytes).unwrap()
}

/// Every object the manifest names is in the bucket.
fn whole(blobs: &MemBlobs, root: &Cid) {
    let m = manifest(blobs, root);
    let keys = blobs.keys();
    for k in m.segments.iter().chain(m.index.iter()) {
        assert!(keys.contains(k), "{k} is named by the manifest but gone");
    }
}

fn keeper(blobs: &MemBlobs, now: u64) -> Keeper<&MemBlobs, Started> {
    Keeper {
        blobs,
        jobs: Started::default(),
        now: Millis(now),
        clock: || Millis(0),
    }
}

/// The big fixture's DAG, its first half uploaded (so a step has work: `pinning`).
fn half_uploaded(blobs: &MemBlobs) -> (Cid, Vec<u8>) {
    let (roots, all) = blocks(&fixture("big.car"));
    let (first, rest) = all.split_at(all.len() / 2);
    let up = Upload {
        blobs,
        clock: &|| STARTED,
        cap: 1 << 30,
        room: None,
    };
    let mut body = MemBody::chunked(car_of(&[roots[0]], first), 777);
    block_on(up.run(&mut body, None, STARTED, "first")).unwrap();
    (roots[0], car_of(&[], rest))
}

#[test]
fn a_fetch_step_during_an_upload_spares_what_the_upload_will_name() {
    let blobs = MemBlobs::default();
    let (root, rest) = half_uploaded(&blobs);
    let net = Net::new(&Dag::new(1, 1, 10, 0), &[Mode::Down]);
    let s = settings(net.bases());
    let stepper = Stepper {
        blobs: &blobs,
        web: &net,
        settings: &s,
    };
    let step = || {
        block_on(stepper.run(&root.to_string(), 5_000, "s1")).unwrap();
    };
    let done = upload_meddled(&blobs, rest, root, "/s/u", Box::new(step), 6_000).unwrap();
    assert_eq!(done.status, Status::Pinned);
    whole(&blobs, &root);
}

#[test]
fn a_read_during_an_upload_spares_the_index_it_is_about_to_commit() {
    let blobs = MemBlobs::default();
    let (root, rest) = half_uploaded(&blobs);
    // The rest arrives: pinned. Sent again, the upload writes a new index and commits it; a
    // read of the pinned DAG between the two deletes the indexes the manifest does not name.
    let done = upload_meddled(&blobs, rest.clone(), root, "-", Box::new(|| ()), 2_000).unwrap();
    assert_eq!(done.status, Status::Pinned);
    let k = keeper(&blobs, 5_000);
    let read = || {
        block_on(k.get(&root.to_string()));
    };
    upload_meddled(&blobs, rest, root, "/i/u", Box::new(read), 6_000).unwrap();
    whole(&blobs, &root);
}

#[test]
fn a_release_during_an_upload_leaves_the_upload_whole() {
    let blobs = MemBlobs::default();
    let (root, rest) = half_uploaded(&blobs);
    let k = keeper(&blobs, 5_000);
    let release = || {
        block_on(k.delete(&root.to_string()));
    };
    let done = upload_meddled(&blobs, rest, root, "/s/u", Box::new(release), 6_000).unwrap();
    // The first half went with the release; the upload's own blocks are all there.
    assert_eq!(done.status, Status::Pinning);
    whole(&blobs, &root);
}

#[test]
fn an_upload_past_its_deadline_commits_nothing_and_keeps_nothing() {
    let blobs = MemBlobs::default();
    let (root, rest) = half_uploaded(&blobs);
    let before = manifest(&blobs, &root);
    let keys = blobs.keys();
    let late = STARTED + layout::UPLOAD_MS - layout::UPLOAD_COMMIT_MARGIN_MS;
    let refused = upload_meddled(&blobs, rest.clone(), root, "-", Box::new(|| ()), late);
    assert_eq!(refused, Err(UploadError::TooSlow));
    assert_eq!(manifest(&blobs, &root), before);
    assert_eq!(blobs.keys(), keys, "its segments and index are deleted");
    // A minute earlier it commits.
    let done = upload_meddled(&blobs, rest, root, "-", Box::new(|| ()), late - 60_000).unwrap();
    assert_eq!(done.status, Status::Pinned);
    // Once its time is up, a step's cleanup no longer spares an upload's leftovers.
    let name = layout::segment(&root.to_string(), &layout::upload_object(STARTED, "x", "0"));
    assert!(layout::upload_in_flight(
        &name,
        STARTED + layout::UPLOAD_MS - 1
    ));
    assert!(!layout::upload_in_flight(
        &name,
        STARTED + layout::UPLOAD_MS
    ));
    assert!(!layout::upload_in_flight(
        "dag/x/s/0000000001000-ab",
        STARTED
    ));
}

/// What an upload cut off midway leaves: a segment under its DAG's prefix, named by nothing.
fn cut_off(blobs: &MemBlobs, root: &str, nonce: &str) -> String {
    let key = layout::segment(root, &layout::upload_object(STARTED, nonce, "0"));
    block_on(blobs.put(&key, vec![0; 8])).unwrap();
    key
}

/// Collect passes over the whole bucket (following the cursor), at `now`: objects deleted.
fn collect_all(blobs: &MemBlobs, now: u64) -> u32 {
    let (mut cursor, mut deleted) = (None, 0);
    for _ in 0..1000 {
        match block_on(keeper(blobs, now).collect(cursor)) {
            Answer::Ok((d, next)) => (deleted, cursor) = (deleted + d, next),
            other => panic!("{other:?}"),
        }
        if cursor.is_none() {
            return deleted;
        }
    }
    panic!("the passes never reached the end of the bucket")
}

#[test]
fn the_hourly_collect_deletes_what_cut_off_uploads_left_once_their_time_is_up() {
    let blobs = MemBlobs::default();
    let (root, _) = half_uploaded(&blobs);
    let kept = blobs.keys(); // the committed upload's objects (named) and the manifest
    let beside = cut_off(&blobs, &root.to_string(), "beside"); // a DAG that has a manifest
    let alone = cut_off(&blobs, "bafkqaaa", "alone"); // nobody ever pinned this root
                                                      // Within the hour the upload may still commit: nothing is touched.
    assert_eq!(collect_all(&blobs, STARTED + layout::UPLOAD_MS - 1), 0);
    assert!(blobs.keys().contains(&beside) && blobs.keys().contains(&alone));
    assert_eq!(collect_all(&blobs, STARTED + layout::UPLOAD_MS), 2);
    assert_eq!(blobs.keys(), kept, "named objects stay, the leftovers go");
    whole(&blobs, &root);
}

#[test]
fn a_collect_pass_takes_a_bounded_number_of_dags_and_the_next_goes_on_from_there() {
    let blobs = MemBlobs::default();
    blobs.page.set(Some(1000));
    for i in 0..COLLECT_DAGS + 2 {
        cut_off(&blobs, &format!("bafk{i:03}"), "x");
    }
    let late = STARTED + layout::UPLOAD_MS;
    let first = block_on(keeper(&blobs, late).collect(None));
    let Answer::Ok((d, Some(cursor))) = first else {
        panic!("{first:?}")
    };
    assert_eq!(d as usize, COLLECT_DAGS);
    assert_eq!(blobs.keys().len(), 2);
    let second = block_on(keeper(&blobs, late).collect(Some(cursor)));
    assert!(matches!(second, Answer::Ok((2, None))), "{second:?}");
    assert!(blobs.keys().is_empty());
}

#[test]
fn finished_uploads_do_not_hold_the_collect_back() {
    // More finished uploads in one page than a pass reads: all their objects are named, so
    // nothing of them is deleted, and a pass that listed the page again would read the same
    // DAGs forever and never reach the leftover after them.
    let blobs = MemBlobs::default();
    blobs.page.set(Some(1000));
    let (roots, all) = blocks(&fixture("dir.car"));
    let car = car_of(&[roots[0]], &all);
    for i in 0..COLLECT_DAGS + 3 {
        let root = Cid::new_v1(
            0x55,
            cid::multihash::Multihash::wrap(0, &[i as u8]).unwrap(),
        );
        let up = Upload {
            blobs: &blobs,
            clock: &|| STARTED,
            cap: 1 << 30,
            room: None,
        };
        let mut body = MemBody::chunked(car.clone(), 777);
        block_on(up.run(&mut body, Some(root), STARTED, &format!("f{i}"))).unwrap();
    }
    let leftover = cut_off(&blobs, "bafzzzzz", "x");
    let kept = blobs.keys().len() - 1;
    assert_eq!(collect_all(&blobs, STARTED + layout::UPLOAD_MS), 1);
    assert!(!blobs.keys().contains(&leftover));
    assert_eq!(blobs.keys().len(), kept, "the finished uploads are whole");
}
