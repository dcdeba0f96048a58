//! Races of the `upstream` backend, each run under hundreds of interleavings: two requests (or
//! a request and the sweep) take turns at every KV operation and upstream call. The in-memory
//! KV is linearizable; what Workers KV's ~60 s propagation adds is argued in docs/storage.md.
//! Both kinds of provider are checked: one pin per add (most), one pin per CID (IPFS Cluster).

mod common;
mod upstream_support;

use common::cid;
use edge_pinning::domain::status::Status;
use serde_json::{json, Value};
use upstream_support::{interleave, World};

const SEEDS: u64 = 300;
/// (one pin per CID, through the CIDs' gates): both kinds of provider, with KV alone and with
/// the `CID_GATES` binding.
const MODES: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

fn id(v: &Value) -> String {
    v["requestid"].as_str().unwrap().to_owned()
}

/// Sweeps until every grace period involved has passed, checking after each run that the
/// CID is pinned upstream whenever someone holds it.
fn settle(w: &World, cid: &str, held: bool) {
    for _ in 0..4 {
        w.advance(121);
        w.sweep();
        if held {
            assert!(!w.up.pins_of(cid).is_empty(), "a held CID was unpinned");
        }
    }
}

#[test]
fn delete_racing_an_add_never_unpins_the_held_cid() {
    for (by_cid, gated) in MODES {
        for seed in 0..SEEDS {
            let w = World::new(by_cid);
            w.gated.set(gated);
            w.up.starts_as(&cid(1), Status::Pinned);
            w.up.starts_as(&cid(2), Status::Pinned);
            let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-a"}));
            let path = format!("/pins/{}", id(&a));
            let body = json!({"cid": cid(1), "name": "pinned-b"}).to_string();
            let (del, add) = interleave(
                w.request("alice", "DELETE", &path, ""),
                w.request("bob", "POST", "/pins", &body),
                seed,
            );
            assert_eq!((del.status, add.status), (202, 202));
            assert!(!w.up.pins_of(&cid(1)).is_empty(), "seed {seed}");
            settle(&w, &cid(1), true);
            assert_eq!(
                w.get("bob", &add.body["requestid"]).body["status"],
                "pinned"
            );
            assert_eq!(w.get("alice", &a["requestid"]).status, 404);
            // And once bob lets go too, nothing is left upstream.
            w.delete("bob", &add.body["requestid"]);
            settle(&w, &cid(1), false);
            assert!(
                w.up.pins_of(&cid(1)).is_empty(),
                "seed {seed}, by_cid {by_cid}, gated {gated}"
            );
        }
    }
}

/// Alice pins a CID and lets go of it; `wait` seconds later the sweep looks (61: after the
/// delete's entry is due, so it marks the CID), and 121 s after that its next look races bob's
/// add of the CID. Checks the CID is pinned when both are done and while bob holds it, that his
/// pin mirrors the upstream, and that nothing is left once he lets go. Returns whether his add
/// was fenced (answered `queued` by a gate's lease).
fn release_racing_an_add(by_cid: bool, gated: bool, wait: u64, seed: u64) -> bool {
    let w = World::new(by_cid);
    w.gated.set(gated);
    w.up.starts_as(&cid(1), Status::Pinned);
    let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-a"}));
    w.delete("alice", &a["requestid"]);
    w.advance(wait);
    w.sweep();
    w.advance(121);
    let body = json!({"cid": cid(1), "name": "pinned-b"}).to_string();
    let (report, add) = interleave(
        w.sweep_future(),
        w.request("bob", "POST", "/pins", &body),
        seed,
    );
    assert_eq!(add.status, 202);
    let context = format!("seed {seed}, by_cid {by_cid}, gated {gated}: {report:?}");
    assert!(!w.up.pins_of(&cid(1)).is_empty(), "{context}");
    settle(&w, &cid(1), true);
    // Mirrored, whatever the upstream says (a re-add by the sweep may carry the bare CID, and
    // this provider takes its status from the name).
    let upstream: Vec<&str> = (w.up.pins_of(&cid(1)).iter())
        .map(|p| p.status.as_str())
        .collect();
    let shown = w.get("bob", &add.body["requestid"]).body["status"].clone();
    assert!(upstream.contains(&shown.as_str().unwrap()), "{context}");
    w.delete("bob", &add.body["requestid"]);
    settle(&w, &cid(1), false);
    assert!(w.up.pins_of(&cid(1)).is_empty(), "{context}: a leak");
    add.body["status"] == "queued"
}

#[test]
fn the_release_mark_racing_an_add_never_leaves_the_cid_unpinned() {
    for (by_cid, gated) in MODES {
        for seed in 0..SEEDS {
            release_racing_an_add(by_cid, gated, 0, seed);
        }
    }
}

/// The sweep's unpin itself racing an add. With the CIDs' gates an add whose hold lands in the
/// release's lease is fenced (queued, no upstream call); the release learns of it when the
/// lease ends and pins the CID again before its look is over.
#[test]
fn the_unpin_racing_an_add_never_leaves_the_cid_unpinned() {
    let mut fenced = 0;
    for (by_cid, gated) in MODES {
        for seed in 0..SEEDS {
            let queued = release_racing_an_add(by_cid, gated, 61, seed);
            fenced += usize::from(gated && queued);
        }
    }
    assert!(fenced > 0, "some adds landed inside the release's lease");
}

#[test]
fn two_first_adds_make_at_most_two_upstream_pins_then_converge() {
    for seed in 0..SEEDS {
        let w = World::new(false);
        let body = json!({"cid": cid(1)}).to_string();
        let (a, b) = interleave(
            w.request("alice", "POST", "/pins", &body),
            w.request("bob", "POST", "/pins", &body),
            seed,
        );
        let upstream = w.up.pins_of(&cid(1)).len();
        assert!((1..=2).contains(&upstream), "seed {seed}: {upstream}");
        settle(&w, &cid(1), true);
        w.delete("alice", &a.body["requestid"]);
        w.delete("bob", &b.body["requestid"]);
        settle(&w, &cid(1), false);
        assert!(
            w.up.pins_of(&cid(1)).is_empty(),
            "seed {seed}: duplicates are released too"
        );
    }
}

#[test]
fn a_status_update_racing_a_delete_never_brings_the_pin_back() {
    for seed in 0..SEEDS {
        let w = World::new(false);
        let a = w.pin("alice", json!({"cid": cid(1)}));
        w.up.set_status(&cid(1), edge_pinning::domain::status::Status::Pinned);
        w.advance(10);
        let path = format!("/pins/{}", id(&a));
        let (_, del) = interleave(
            w.request("alice", "GET", &path, ""),
            w.request("alice", "DELETE", &path, ""),
            seed,
        );
        assert_eq!(del.status, 202);
        assert_eq!(w.get("alice", &a["requestid"]).status, 404, "seed {seed}");
        let stray: Vec<String> = ["p/", "c/", "h/"]
            .iter()
            .flat_map(|p| w.keys(p))
            .filter(|k| k.contains(&id(&a)))
            .collect();
        assert!(stray.is_empty(), "seed {seed}: {stray:?}");
    }
}

#[test]
fn the_sweeps_status_update_racing_a_delete_never_brings_the_pin_back() {
    for seed in 0..SEEDS {
        let w = World::new(false);
        let a = w.pin("alice", json!({"cid": cid(1)}));
        let b = w.pin("bob", json!({"cid": cid(1)}));
        w.up.set_status(&cid(1), edge_pinning::domain::status::Status::Pinned);
        let path = format!("/pins/{}", id(&b));
        let (_, del) = interleave(
            w.sweep_future(),
            w.request("bob", "DELETE", &path, ""),
            seed,
        );
        assert_eq!(del.status, 202);
        assert_eq!(w.get("bob", &b["requestid"]).status, 404, "seed {seed}");
        // No pin object of bob's is left (his change markers may be).
        let left: Vec<String> = w
            .keys("p/bob/")
            .into_iter()
            .chain(w.keys("c/bob/"))
            .collect();
        assert!(
            left.iter().all(|k| k.starts_with("p/bob/!m")),
            "seed {seed}: {left:?}"
        );
        w.sweep();
        assert_eq!(w.listed_status("alice", &a["requestid"]), "pinned");
    }
}

#[test]
fn replace_alone_racing_an_add_of_the_old_cid_keeps_it_pinned() {
    for (by_cid, gated) in MODES {
        for seed in 0..SEEDS {
            let w = World::new(by_cid);
            w.gated.set(gated);
            w.up.starts_as(&cid(1), Status::Pinned);
            w.up.starts_as(&cid(2), Status::Pinned);
            let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-a"}));
            let path = format!("/pins/{}", id(&a));
            let new = json!({"cid": cid(2), "name": "pinned-v2"}).to_string();
            let old = json!({"cid": cid(1), "name": "pinned-b"}).to_string();
            let (r, add) = interleave(
                w.request("alice", "POST", &path, &new),
                w.request("bob", "POST", "/pins", &old),
                seed,
            );
            assert_eq!((r.status, add.status), (202, 202));
            // The upstream's replace may drop the old CID for a moment; the replace itself
            // (or bob's add) pins it again before either request answers.
            assert!(
                !w.up.pins_of(&cid(1)).is_empty(),
                "seed {seed}, by_cid {by_cid}, gated {gated}"
            );
            assert!(!w.up.pins_of(&cid(2)).is_empty());
            settle(&w, &cid(1), true);
            w.delete("bob", &add.body["requestid"]);
            settle(&w, &cid(1), false);
            assert!(w.up.pins_of(&cid(1)).is_empty(), "seed {seed}: a leak");
            assert_eq!(w.up.pins_of(&cid(2)).len(), 1);
        }
    }
}

#[test]
fn the_schedules_do_interleave() {
    // Both orders and true overlaps occur: with overlap, both first adds call the upstream.
    let mut upstream_adds = std::collections::BTreeSet::new();
    for seed in 0..50 {
        let w = World::new(false);
        let body = json!({"cid": cid(1)}).to_string();
        interleave(
            w.request("alice", "POST", "/pins", &body),
            w.request("bob", "POST", "/pins", &body),
            seed,
        );
        upstream_adds.insert(w.up.calls("add"));
    }
    assert_eq!(upstream_adds, [1, 2].into());
}
