//! A DAG kept for nobody: an upload that committed, and whose request stopped before its pin
//! was written. The upload queued a look at its root before the commit (`r2::Sender`); the
//! sweep's look then finds no holder and no state, asks the keeper, marks what it keeps and
//! releases it two looks later, every object of the DAG with it. With a pin holding the root,
//! the same looks keep the DAG.

mod common;
mod r2_support;

use common::{block_on, MemoryKv};
use edge_pinning::auth::user::UserId;
use edge_pinning::domain::{request_id::RequestId, timestamp::Millis};
use edge_pinning::quota::claims::Claims;
use edge_pinning::r2::keeper::Keeper;
use edge_pinning::r2::layout;
use edge_pinning::r2::upload::Upload;
use edge_pinning::upstream::gate::Gates;
use edge_pinning::upstream::holders::CidKeys;
use edge_pinning::upstream::sweep::{self, Report};
use edge_pinning::upstream::{Counted, KV_PROPAGATION_MS};
use r2_support::{blocks, fixture, MemBlobs, MemBody, Started};

const T0: u64 = 1_700_000_000_000;

/// An upload of `dir.car` whose request stopped right after its commit: the DAG is pinned in
/// the bucket, and the look it queued before the commit is all KV holds of it.
fn stopped_upload(blobs: &MemBlobs, kv: &MemoryKv) -> String {
    let up = Upload {
        blobs,
        clock: &|| T0,
        cap: 1 << 30,
        room: None,
    };
    let mut body = MemBody::chunked(fixture("dir.car"), 777);
    let done = block_on(up.run(&mut body, None, T0, "n")).unwrap();
    let root = done.root.to_string();
    let user = UserId::parse("alice").unwrap();
    let id = RequestId::new(Millis(T0), 7);
    // As the pin service's sender queues it: due a minute after the commit.
    let due = T0 + KV_PROPAGATION_MS;
    block_on(CidKeys::new(kv).enqueue(&root, &user, &id, Millis(T0), due)).unwrap();
    root
}

/// A sweep a minute apart, `minutes` times, with the keeper over `blobs` as the provider.
fn sweeps(blobs: &MemBlobs, kv: &MemoryKv, minutes: u64) -> Vec<Report> {
    sweeps_from(blobs, kv, 0, minutes)
}

/// Sweeps at `T0` plus each of minutes `after + 1 ..= until`.
fn sweeps_from(blobs: &MemBlobs, kv: &MemoryKv, after: u64, until: u64) -> Vec<Report> {
    let config = r2_support::r2_config();
    let settings = config.upstream.as_ref().unwrap();
    (after + 1..=until)
        .map(|m| {
            let now = Millis(T0 + m * 60_000);
            let keeper = Counted::new(Keeper {
                blobs,
                jobs: Started::default(),
                now,
                clock: || Millis(0),
            });
            let (gates, claims) = (Gates::none(), Claims::none());
            block_on(sweep::run(
                kv.clone(),
                &keeper,
                &gates,
                &claims,
                settings,
                now,
            ))
            .unwrap()
        })
        .collect()
}

#[test]
fn the_sweep_releases_an_uploaded_dag_whose_pin_was_never_written() {
    let (blobs, kv) = (MemBlobs::default(), MemoryKv::new(1000));
    blobs.page.set(Some(1000)); // R2's page: the hourly collect goes over the bucket at once
    let root = stopped_upload(&blobs, &kv);
    assert!(blobs.keys().contains(&layout::manifest(&root)));
    let reports = sweeps(&blobs, &kv, 10);
    let adopted: u32 = reports.iter().map(|r| r.adopted).sum();
    let released: u32 = reports.iter().map(|r| r.released).sum();
    assert_eq!((adopted, released), (1, 1), "{reports:#?}");
    // Released: the manifest first, and the upload's objects are spared for its hour (a
    // release cannot tell a finished upload from one still sending); the hourly collect
    // then takes them as any upload's leftovers.
    let manifest = layout::manifest(&root);
    let left = blobs.keys();
    assert!(!left.is_empty() && left.iter().all(|k| k.contains("/u1700000000000-n-")));
    assert!(!left.contains(&manifest), "{left:?}");
    let later = sweeps_from(&blobs, &kv, 10, 120);
    assert!(later.iter().any(|r| r.collected == 2), "{later:#?}");
    assert!(blobs.keys().is_empty(), "left: {:?}", blobs.keys());
    let left: Vec<String> = kv.map.borrow().keys().cloned().collect();
    assert!(
        left.iter().all(|k| !k.contains(&root)),
        "nothing of the root is left in KV: {left:?}"
    );
}

#[test]
fn a_dag_a_pin_holds_is_not_released() {
    let (blobs, kv) = (MemBlobs::default(), MemoryKv::new(1000));
    let root = stopped_upload(&blobs, &kv);
    let (roots, _) = blocks(&fixture("dir.car"));
    assert_eq!(roots[0].to_string(), root);
    // The pin's add got as far as its holder and its record (as a finished add leaves them).
    let user = UserId::parse("alice").unwrap();
    let id = RequestId::new(Millis(T0), 7);
    block_on(CidKeys::new(&kv).hold(&root, &user, &id)).unwrap();
    let record = format!(r#"{{"status":"pinned","cid":"{root}"}}"#);
    kv.map.borrow_mut().insert(
        format!("p/alice/{}", id.as_str()),
        (record, serde_json::json!({})),
    );
    let kept = blobs.keys();
    let reports = sweeps(&blobs, &kv, 10);
    assert_eq!(blobs.keys(), kept, "{reports:#?}");
    assert_eq!(reports.iter().map(|r| r.released).sum::<u32>(), 0);
}
