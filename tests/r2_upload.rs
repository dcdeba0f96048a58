//! `POST /car`'s core: uploads of CARs made by ipfs-car (tests/fixtures/ipld) into an
//! in-memory bucket. What is accepted is whole and verified; what is refused keeps nothing.

mod common;
mod r2_support;

use cid::Cid;
use common::block_on;
use edge_pinning::domain::status::Status;
use edge_pinning::r2::manifest::Manifest;
use edge_pinning::r2::upload::{Upload, UploadError, Uploaded};
use edge_pinning::r2::{layout, Blobs, Chunks, Sender};
use r2_support::{blocks, car_of, fixture, MemBlobs, MemBody};

fn upload(
    blobs: &MemBlobs,
    car: Vec<u8>,
    root: Option<Cid>,
    cap: u64,
    tag: &str,
) -> Result<Uploaded, UploadError> {
    let up = Upload {
        blobs,
        clock: &|| 1_000,
        cap,
        room: None,
    };
    let mut body = MemBody::chunked(car, 777);
    block_on(up.run(&mut body, root, 1_000, tag))
}

fn manifest(blobs: &MemBlobs, root: &Cid) -> Manifest {
    let b = block_on(blobs.get(&layout::manifest(&root.to_string())))
        .unwrap()
        .unwrap();
    Manifest::from_bytes(&b.bytes).unwrap()
}

#[test]
fn a_directory_car_is_kept_whole_and_pinned() {
    for name in ["dir.car", "hamt.car", "big.car", "cbor.car"] {
        let blobs = MemBlobs::default();
        let car = fixture(name);
        let (roots, all) = blocks(&car);
        let done = upload(&blobs, car, None, 1 << 30, "t").unwrap();
        assert_eq!(
            (done.root, done.status, done.missing),
            (roots[0], Status::Pinned, 0),
            "{name}"
        );
        let m = manifest(&blobs, &roots[0]);
        assert_eq!(m.status, Status::Pinned);
        let unique: std::collections::BTreeSet<_> = all.iter().map(|(c, _)| *c).collect();
        assert_eq!(m.blocks as usize, unique.len(), "{name}");
    }
}

#[test]
fn a_dag_split_across_cars_is_pinned_when_the_last_part_arrives() {
    let blobs = MemBlobs::default();
    let (roots, all) = blocks(&fixture("big.car"));
    let root = roots[0];
    let (first, rest) = all.split_at(all.len() / 2);
    let part1 = upload(&blobs, car_of(&[root], first), None, 1 << 30, "a").unwrap();
    assert_eq!(part1.status, Status::Pinning);
    assert!(part1.missing > 0);
    // The second part names no root of its own: ?root= says which DAG it belongs to.
    let part2 = upload(&blobs, car_of(&[], rest), Some(root), 1 << 30, "b").unwrap();
    assert_eq!((part2.status, part2.missing), (Status::Pinned, 0));
    assert_eq!(manifest(&blobs, &root).segments.len(), 2);
}

#[test]
fn refused_uploads_keep_nothing() {
    let car = fixture("dir.car");
    let (roots, all) = blocks(&car);
    let mut corrupt = all.clone();
    corrupt[1].1[0] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>, u64, &str)> = vec![
        (
            "a flipped byte",
            car_of(&roots, &corrupt),
            1 << 30,
            "does not match",
        ),
        (
            "truncated",
            car[..car.len() - 5].to_vec(),
            1 << 30,
            "truncated",
        ),
        ("no roots", car_of(&[], &all), 1 << 30, "no root"),
        ("not a CAR", b"<html>hello</html>".to_vec(), 1 << 30, ""),
        ("empty", Vec::new(), 1 << 30, "empty"),
    ];
    for (what, body, cap, says) in cases {
        let blobs = MemBlobs::default();
        match upload(&blobs, body, None, cap, "t") {
            Err(UploadError::Malformed(why)) => assert!(why.contains(says), "{what}: {why}"),
            other => panic!("{what}: {other:?}"),
        }
        assert!(blobs.keys().is_empty(), "{what}: {:?}", blobs.keys());
    }
    let blobs = MemBlobs::default();
    let big = fixture("big.car");
    assert_eq!(
        upload(&blobs, big, None, 100_000, "t"),
        Err(UploadError::TooLarge(100_000))
    );
    assert!(blobs.keys().is_empty());
    let up = Upload {
        blobs: &blobs,
        clock: &|| 1,
        cap: 1 << 30,
        room: Some(10),
    };
    let mut body = MemBody::chunked(fixture("dir.car"), 100);
    let refused = block_on(up.run(&mut body, None, 1, "q"));
    assert_eq!(refused, Err(UploadError::OverQuota { room: 10 }));
    assert!(blobs.keys().is_empty());
}

#[test]
fn a_step_that_keeps_nothing_keeps_the_index_of_an_upload() {
    use edge_pinning::r2::step::{Outcome, Stepper};
    use r2_support::{settings, Dag, Mode, Net};
    let blobs = MemBlobs::default();
    let (roots, all) = blocks(&fixture("big.car"));
    let root = roots[0];
    let (first, rest) = all.split_at(all.len() / 2);
    let part1 = upload(&blobs, car_of(&[root], first), None, 1 << 30, "a").unwrap();
    let before = manifest(&blobs, &root);
    // Every gateway is down: the step keeps nothing, and must not lose what was uploaded.
    let net = Net::new(&Dag::new(1, 1, 10, 0), &[Mode::Down]);
    let s = settings(net.bases());
    let stepper = Stepper {
        blobs: &blobs,
        web: &net,
        settings: &s,
    };
    let out = block_on(stepper.run(&root.to_string(), 5_000, "s1")).unwrap();
    assert!(matches!(out, Outcome::Later(_)), "{out:?}");
    let after = manifest(&blobs, &root);
    assert_eq!(
        (after.index.as_ref(), after.blocks),
        (before.index.as_ref(), part1.added_blocks)
    );
    assert_eq!(after.segments, before.segments);
    let part2 = upload(&blobs, car_of(&[], rest), Some(root), 1 << 30, "b").unwrap();
    assert_eq!(part2.status, Status::Pinned);
}

/// A body that notes what the bucket holds when the upload says it is about to commit.
struct Watched<'a> {
    body: MemBody,
    blobs: &'a MemBlobs,
    told: Vec<(Cid, Vec<String>)>,
    refuse: bool,
}

impl Chunks for Watched<'_> {
    async fn next(&mut self) -> Option<Result<Vec<u8>, String>> {
        self.body.next().await
    }
}

impl Sender for Watched<'_> {
    async fn committing(&mut self, root: &Cid, _at: u64) -> Result<(), String> {
        self.told.push((*root, self.blobs.keys()));
        if self.refuse {
            return Err("KV: the look could not be queued".into());
        }
        Ok(())
    }
}

#[test]
fn the_sender_is_told_the_root_before_the_commit_and_can_stop_it() {
    let car = fixture("dir.car");
    let (roots, _) = blocks(&car);
    for refuse in [false, true] {
        let blobs = MemBlobs::default();
        let up = Upload {
            blobs: &blobs,
            clock: &|| 1_000,
            cap: 1 << 30,
            room: None,
        };
        let mut body = Watched {
            body: MemBody::chunked(car.clone(), 777),
            blobs: &blobs,
            told: Vec::new(),
            refuse,
        };
        let done = block_on(up.run(&mut body, None, 1_000, "t"));
        let [(root, then)] = body.told.as_slice() else {
            panic!("told {:?}", body.told);
        };
        assert_eq!(*root, roots[0]);
        let manifest = layout::manifest(&root.to_string());
        assert!(!then.is_empty(), "the segments are written by then");
        assert!(!then.contains(&manifest), "nothing is named yet: {then:?}");
        if refuse {
            assert!(matches!(done, Err(UploadError::Storage(_))), "{done:?}");
            assert!(blobs.keys().is_empty(), "{:?}", blobs.keys());
        } else {
            assert_eq!(done.unwrap().status, Status::Pinned);
            assert!(blobs.keys().contains(&manifest));
        }
    }
}
