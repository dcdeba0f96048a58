//! The `r2` backend's fetch steps over an in-memory bucket and scripted gateways: what is kept
//! is complete and verified, steps resume from what is missing, bad sources cost a retry
//! elsewhere and never a stored block, and failures end with their reason.

mod common;
mod r2_support;

use cid::Cid;
use common::block_on;
use edge_pinning::domain::status::Status;
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::ipld::block::verify;
use edge_pinning::r2::index::DagIndex;
use edge_pinning::r2::keeper::Keeper;
use edge_pinning::r2::manifest::Manifest;
use edge_pinning::r2::step::{Outcome, Stepper};
use edge_pinning::r2::{layout, Blobs};
use edge_pinning::upstream::{Answer, Upstream, UpstreamPin};
use r2_support::*;

fn manifest(blobs: &MemBlobs, root: &Cid) -> Manifest {
    let b = block_on(blobs.get(&layout::manifest(&root.to_string())))
        .unwrap()
        .unwrap();
    Manifest::from_bytes(&b.bytes).unwrap()
}

fn add(
    blobs: &MemBlobs,
    root: &Cid,
    origins: Vec<String>,
) -> Answer<edge_pinning::upstream::UpstreamStatus> {
    let jobs = Started::default();
    let keeper = Keeper {
        blobs,
        jobs: &jobs,
        now: Millis(1_000),
        clock: || Millis(1_000),
    };
    let pin = UpstreamPin {
        cid: root.to_string(),
        origins,
    };
    let answer = block_on(keeper.add(&pin));
    assert_eq!(jobs.0.borrow().len(), 1, "a new DAG starts one step");
    answer
}

/// Runs steps until one says anything but `Again`; the steps run and the last outcome.
fn run(
    blobs: &MemBlobs,
    net: &Net,
    s: &edge_pinning::r2::R2Settings,
    root: &Cid,
    now: u64,
) -> (u32, Outcome) {
    let stepper = Stepper {
        blobs,
        web: net,
        settings: s,
    };
    for n in 1..200 {
        let out = block_on(stepper.run(
            &root.to_string(),
            now + u64::from(n),
            &format!("t{now}-{n}"),
        ))
        .unwrap();
        if out != Outcome::Again {
            return (n, out);
        }
    }
    panic!("no end");
}

/// Every block of the DAG is in R2, where the index says, and hashes to its CID.
fn assert_kept(blobs: &MemBlobs, dag: &Dag) {
    let m = manifest(blobs, &dag.root);
    assert_eq!(m.status, Status::Pinned, "{:?}", m);
    assert_eq!((m.blocks, m.bytes), (dag.blocks.len() as u64, dag.bytes()));
    let idx = block_on(blobs.get(m.index.as_ref().unwrap()))
        .unwrap()
        .unwrap();
    let idx = DagIndex::from_bytes(&idx.bytes).unwrap();
    assert_eq!(idx.len(), dag.blocks.len());
    for (cid, bytes) in &dag.blocks {
        let e = idx.get(cid).unwrap();
        let seg = &m.segments[e.segment as usize];
        let got = block_on(blobs.get_range(seg, e.offset, u64::from(e.len)))
            .unwrap()
            .unwrap();
        assert_eq!(&got, bytes);
        verify(cid, &got).unwrap();
    }
    // Nothing but what the manifest names is left behind.
    let mut named: Vec<String> = m.segments.clone();
    named.push(m.index.clone().unwrap());
    named.push(layout::manifest(&dag.root.to_string()));
    named.sort();
    assert_eq!(blobs.keys(), named);
}

#[test]
fn a_dag_is_fetched_verified_and_kept_in_one_step() {
    let dag = Dag::new(3, 4, 3000, 1);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good]);
    let s = settings(net.bases());
    assert!(
        matches!(add(&blobs, &dag.root, vec![]), Answer::Ok(st) if st.status == Status::Queued)
    );
    assert_eq!(run(&blobs, &net, &s, &dag.root, 10_000), (1, Outcome::Done));
    assert_kept(&blobs, &dag);
    assert_eq!(net.requests.borrow().len(), 1, "one CAR request");
}

#[test]
fn small_steps_resume_from_what_is_missing() {
    let dag = Dag::new(4, 5, 4000, 2);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good]);
    let mut s = settings(net.bases());
    s.step_bytes = 20_000;
    add(&blobs, &dag.root, vec![]);
    let (steps, out) = run(&blobs, &net, &s, &dag.root, 10_000);
    assert_eq!(out, Outcome::Done);
    assert!(steps >= 4, "{steps} steps");
    assert_kept(&blobs, &dag);
}

#[test]
fn a_cut_stream_resumes_without_refetching_what_was_kept() {
    let dag = Dag::new(4, 4, 5000, 3);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Cut(30_000)]);
    let mut s = settings(net.bases());
    s.step_fetches = 1;
    add(&blobs, &dag.root, vec![]);
    let stepper = Stepper {
        blobs: &blobs,
        web: &net,
        settings: &s,
    };
    let first = block_on(stepper.run(&dag.root.to_string(), 10_000, "a")).unwrap();
    assert_eq!(first, Outcome::Again);
    let kept_first = manifest(&blobs, &dag.root).bytes;
    assert!(kept_first > 0 && kept_first < dag.bytes());
    net.gateways[0].mode.set(Mode::Good);
    let requests_before = net.requests.borrow().len();
    assert_eq!(run(&blobs, &net, &s, &dag.root, 20_000).1, Outcome::Done);
    assert_kept(&blobs, &dag);
    // The later requests ask for the missing subtrees, never the root again.
    let root_url = format!("/ipfs/{}?", dag.root);
    assert!(net.requests.borrow()[requests_before..]
        .iter()
        .all(|u| !u.contains(&root_url)));
}

#[test]
fn a_corrupt_gateway_costs_a_retry_elsewhere_never_a_stored_block() {
    let dag = Dag::new(2, 3, 2000, 4);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Corrupt(2), Mode::Good]);
    let s = settings(net.bases());
    add(&blobs, &dag.root, vec![]);
    assert_eq!(run(&blobs, &net, &s, &dag.root, 10_000).1, Outcome::Done);
    assert_kept(&blobs, &dag);
    assert!(net
        .requests
        .borrow()
        .iter()
        .any(|u| u.starts_with("http://gw1.test")));
}

#[test]
fn a_gateway_that_is_not_trustless_falls_back_to_raw_blocks() {
    let dag = Dag::new(2, 2, 1000, 5);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::NotCar]);
    let s = settings(net.bases());
    add(&blobs, &dag.root, vec![]);
    assert_eq!(run(&blobs, &net, &s, &dag.root, 10_000).1, Outcome::Done);
    assert_kept(&blobs, &dag);
    assert!(net
        .requests
        .borrow()
        .iter()
        .any(|u| u.contains("format=raw")));
}

#[test]
fn http_origins_are_tried_before_the_gateways() {
    let dag = Dag::new(1, 2, 100, 6);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good, Mode::Good]);
    // gw1 is named as the pin's origin (a multiaddr), gw0 is the configured gateway.
    let s = settings(vec![net.bases()[0].clone()]);
    let mut net = net;
    net.gateways[1].base = "http://127.0.0.1:9".into();
    add(
        &blobs,
        &dag.root,
        vec![
            "/ip4/127.0.0.1/tcp/9/http".into(),
            "/ip4/1.2.3.4/tcp/4001/p2p/QmX".into(),
        ],
    );
    assert_eq!(manifest(&blobs, &dag.root).origins, ["http://127.0.0.1:9"]);
    assert_eq!(run(&blobs, &net, &s, &dag.root, 10_000).1, Outcome::Done);
    assert!(net.requests.borrow()[0].starts_with("http://127.0.0.1:9/ipfs/"));
}

#[test]
fn content_nowhere_fails_after_the_retries_with_the_reason() {
    let dag = Dag::new(1, 1, 100, 7);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Down, Mode::Missing]);
    let s = settings(net.bases());
    add(&blobs, &dag.root, vec![]);
    let stepper = Stepper {
        blobs: &blobs,
        web: &net,
        settings: &s,
    };
    let root = dag.root.to_string();
    let mut now = 10_000;
    let mut waits = Vec::new();
    loop {
        match block_on(stepper.run(&root, now, &format!("t{now}"))).unwrap() {
            Outcome::Later(secs) => {
                // Not before its time: a step that comes early does nothing.
                assert_eq!(
                    block_on(stepper.run(&root, now + 1000, "early")).unwrap(),
                    Outcome::Later(secs - 1)
                );
                waits.push(secs);
                now += u64::from(secs) * 1000;
            }
            Outcome::Done => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, [60, 120, 240]);
    let m = manifest(&blobs, &dag.root);
    assert_eq!(m.status, Status::Failed);
    let why = m.details.unwrap();
    let named = why.contains("HTTP 404") && why.contains("connection refused");
    assert!(why.contains("after 4 tries") && named, "{why}");
    assert_eq!(
        blobs.keys().len(),
        1,
        "nothing but the manifest was written"
    );
}

#[test]
fn a_dag_over_the_cap_fails_and_keeps_nothing_more() {
    let dag = Dag::new(3, 3, 10_000, 8);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good]);
    let mut s = settings(net.bases());
    s.max_pin_bytes = 50_000;
    add(&blobs, &dag.root, vec![]);
    assert_eq!(run(&blobs, &net, &s, &dag.root, 10_000).1, Outcome::Done);
    let m = manifest(&blobs, &dag.root);
    assert_eq!(m.status, Status::Failed);
    assert!(m.details.unwrap().contains("MAX_PIN_BYTES"));
}

#[test]
fn an_unknown_codec_fails_the_pin() {
    let leaf = b"some dag-jose or other block".to_vec();
    let odd = Cid::new_v1(0x85, cid_of(RAW, &leaf).hash().to_owned());
    let root_bytes = cbor_links(&[odd], 0);
    let root = cid_of(DAG_CBOR, &root_bytes);
    let dag = Dag {
        root,
        blocks: [(root, root_bytes), (odd, leaf)].into(),
    };
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good]);
    let s = settings(net.bases());
    add(&blobs, &dag.root, vec![]);
    assert_eq!(run(&blobs, &net, &s, &dag.root, 10_000).1, Outcome::Done);
    let m = manifest(&blobs, &dag.root);
    assert_eq!(m.status, Status::Failed);
    assert!(
        m.details.unwrap().contains("codec"),
        "{:?}",
        manifest(&blobs, &dag.root)
    );
}

#[test]
fn a_claimed_dag_is_left_to_its_step_and_a_released_one_loses_its_commit() {
    let dag = Dag::new(2, 2, 500, 9);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good]);
    let s = settings(net.bases());
    add(&blobs, &dag.root, vec![]);
    let root = dag.root.to_string();
    // A release lands while the step is fetching: its commit fails, its objects go.
    let release_key = layout::manifest(&root);
    *blobs.before_put.borrow_mut() = Some(Box::new(move |b: &MemBlobs, key: &str| {
        if key.contains("/s/") {
            b.objects.borrow_mut().remove(&release_key);
        }
    }));
    let stepper = Stepper {
        blobs: &blobs,
        web: &net,
        settings: &s,
    };
    assert_eq!(
        block_on(stepper.run(&root, 10_000, "x")).unwrap(),
        Outcome::Busy
    );
    *blobs.before_put.borrow_mut() = None;
    assert!(blobs.keys().is_empty(), "{:?}", blobs.keys());
    // While one step holds the claim, another does nothing.
    add(&blobs, &dag.root, vec![]);
    let mut m = manifest(&blobs, &dag.root);
    m.claim = Some(50_000);
    block_on(blobs.put(&layout::manifest(&root), m.to_bytes())).unwrap();
    assert_eq!(
        block_on(stepper.run(&root, 20_000, "y")).unwrap(),
        Outcome::Busy
    );
    assert_eq!(run(&blobs, &net, &s, &dag.root, 50_000).1, Outcome::Done);
    assert_kept(&blobs, &dag);
}

#[test]
fn the_keeper_mirrors_re_adds_and_releases() {
    let dag = Dag::new(2, 2, 500, 10);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good]);
    let s = settings(net.bases());
    add(&blobs, &dag.root, vec![]);
    run(&blobs, &net, &s, &dag.root, 10_000);
    let jobs = Started::default();
    let keeper = Keeper {
        blobs: &blobs,
        jobs: &jobs,
        now: Millis(20_000),
        clock: || Millis(1_000),
    };
    let root = dag.root.to_string();
    let pin = UpstreamPin {
        cid: root.clone(),
        origins: vec![],
    };
    // A second add of a kept DAG fetches nothing.
    let Answer::Ok(st) = block_on(keeper.add(&pin)) else {
        panic!()
    };
    assert_eq!(st.status, Status::Pinned);
    assert!(st.details.unwrap().contains("every block verified"));
    assert!(jobs.0.borrow().is_empty());
    let Answer::Ok(all) = block_on(keeper.list_by_cid(&root, Millis(0))) else {
        panic!()
    };
    assert_eq!(all.len(), 1);
    // Release: every object goes, and the DAG is then unknown (the lifecycle re-adds it).
    assert_eq!(block_on(keeper.delete(&root)), Answer::Ok(()));
    assert!(blobs.keys().is_empty());
    assert!(matches!(block_on(keeper.get(&root)), Answer::Refused(r) if r.is_not_found()));
    assert_eq!(
        block_on(keeper.delete(&root)),
        Answer::Ok(()),
        "a release repeats safely"
    );
}

#[test]
fn a_gateway_without_the_dag_answers_an_empty_car_and_the_next_is_asked() {
    let dag = Dag::new(2, 2, 700, 11);
    let blobs = MemBlobs::default();
    let mut net = Net::new(&dag, &[Mode::Good, Mode::Good]);
    net.gateways[0].dag.clear();
    let s = settings(net.bases());
    add(&blobs, &dag.root, vec![]);
    assert_eq!(run(&blobs, &net, &s, &dag.root, 10_000).1, Outcome::Done);
    assert_kept(&blobs, &dag);
}

#[test]
fn a_kept_dag_whose_objects_are_gone_is_forgotten_and_fetched_again() {
    let dag = Dag::new(2, 3, 900, 12);
    let blobs = MemBlobs::default();
    let net = Net::new(&dag, &[Mode::Good]);
    let mut s = settings(net.bases());
    s.step_bytes = 3000; // several segments
    add(&blobs, &dag.root, vec![]);
    run(&blobs, &net, &s, &dag.root, 10_000);
    let root = dag.root.to_string();
    let lost = manifest(&blobs, &dag.root).segments[1].clone();
    block_on(blobs.delete(vec![lost])).unwrap();
    let jobs = Started::default();
    let keeper = Keeper {
        blobs: &blobs,
        jobs: &jobs,
        now: Millis(90_000),
        clock: || Millis(1_000),
    };
    // The re-verification's read: not found (so the lifecycle adds it again), nothing left.
    assert!(matches!(block_on(keeper.get(&root)), Answer::Refused(r) if r.is_not_found()));
    assert!(blobs.keys().is_empty(), "{:?}", blobs.keys());
    add(&blobs, &dag.root, vec![]);
    assert_eq!(run(&blobs, &net, &s, &dag.root, 100_000).1, Outcome::Done);
    assert_kept(&blobs, &dag);
}
