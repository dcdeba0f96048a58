//! The `upstream` backend over an in-memory provider: one upstream pin per CID, status
//! mirroring by reads and by the sweep, deferred release, faults, replace.

mod common;
mod upstream_support;

use common::cid;
use edge_pinning::domain::status::Status;
use edge_pinning::upstream::{Answer, Upstream, UpstreamPin};
use serde_json::json;
use upstream_support::{Mode, World, UP_DELEGATE};

#[test]
fn two_users_one_upstream_pin_released_after_the_last_holder_and_the_grace() {
    let w = World::new(false);
    let a = w.pin("alice", json!({"cid": cid(1), "name": "a's"}));
    let b = w.pin("bob", json!({"cid": cid(1), "name": "b's"}));
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1, "one upstream pin");
    assert_eq!(w.up.calls("add"), 1, "the second pin mirrors the first");
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("queued"), Some("queued"))
    );
    assert_eq!(
        a["delegates"],
        json!([UP_DELEGATE]),
        "delegates from the upstream"
    );
    assert_eq!(a["info"]["status_details"], "fake: queued");
    assert_ne!(a["requestid"], b["requestid"]);

    assert_eq!(w.delete("alice", &a["requestid"]), 202);
    for _ in 0..3 {
        w.advance(300);
        w.sweep();
    }
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1, "bob still holds it");
    assert_eq!(w.up.calls("delete"), 0);
    assert_eq!(w.get("bob", &b["requestid"]).status, 200);

    assert_eq!(w.delete("bob", &b["requestid"]), 202);
    w.sweep(); // marks the CID
    assert_eq!(
        w.up.pins_of(&cid(1)).len(),
        1,
        "not before the grace period"
    );
    w.advance(119);
    w.sweep();
    assert_eq!(
        w.up.pins_of(&cid(1)).len(),
        1,
        "not before the grace period"
    );
    w.advance(1);
    let report = w.sweep();
    assert_eq!(report.released, 1);
    assert!(w.up.pins_of(&cid(1)).is_empty(), "released");
    w.advance(120);
    w.sweep(); // the last look finds nobody and forgets the CID
    assert!(w.keys("h/").is_empty() && w.keys("x/").is_empty() && w.keys("q/").is_empty());
    // No pin objects are left; only the users' change markers, which their next listing prunes.
    assert!(w.keys("p/").iter().all(|k| k.contains("/!m")) && w.keys("c/").is_empty());
}

#[test]
fn statuses_mirror_through_reads_and_the_sweep() {
    let w = World::new(false);
    let a = w.pin("alice", json!({"cid": cid(1)}));
    let b = w.pin("bob", json!({"cid": cid(1)}));
    w.up.set_status(&cid(1), Status::Pinning);

    // A read refreshes at most once per UPSTREAM_REFRESH_SECONDS (10 s) in this isolate.
    let got = w.get("alice", &a["requestid"]);
    assert_eq!(
        got.body["status"], "queued",
        "the add just asked the upstream"
    );
    assert_eq!(w.up.calls("get"), 0);
    w.advance(10);
    let got = w.get("alice", &a["requestid"]);
    assert_eq!(
        (got.body["status"].as_str(), w.up.calls("get")),
        (Some("pinning"), 1)
    );
    assert_eq!(got.body["info"]["status_details"], "fake: pinning");
    assert_eq!(w.get("alice", &a["requestid"]).body["status"], "pinning");
    assert_eq!(w.up.calls("get"), 1, "throttled");
    assert_eq!(
        w.listed_status("alice", &a["requestid"]),
        "pinning",
        "record and index updated"
    );
    assert_eq!(
        w.listed_status("bob", &b["requestid"]),
        "queued",
        "until the sweep"
    );

    w.up.set_status(&cid(1), Status::Pinned);
    let report = w.sweep();
    assert_eq!(
        report.calls, 1,
        "one call for the CID, whatever the holders"
    );
    assert_eq!(w.listed_status("alice", &a["requestid"]), "pinned");
    assert_eq!(w.listed_status("bob", &b["requestid"]), "pinned");
    assert!(w.keys("q/").is_empty(), "final: nothing left to sweep");
    let calls = w.up.log.borrow().len();
    w.advance(3600);
    assert_eq!(w.get("bob", &b["requestid"]).body["status"], "pinned");
    w.sweep();
    assert_eq!(
        w.up.log.borrow().len(),
        calls,
        "final pins cost the upstream nothing"
    );

    // A third user pinning a pinned CID is pinned at once, without an upstream call.
    let c = w.pin("carol", json!({"cid": cid(1)}));
    assert_eq!(c["status"], "pinned");
    assert_eq!(w.up.log.borrow().len(), calls);
}

#[test]
fn kv_operations_per_request() {
    let w = World::new(false);
    let add = w.call(
        "alice",
        "POST",
        "/pins",
        &json!({"cid": cid(1)}).to_string(),
    );
    // the user's holders of the CID (the limit), holder, state (get + put), queue entry,
    // change marker, record, index
    assert_eq!(add.ops, "get=1,put=6,delete=0,list=1");
    let id = &add.body["requestid"];
    let mirror = w.call("bob", "POST", "/pins", &json!({"cid": cid(1)}).to_string());
    assert_eq!(
        mirror.ops, "get=1,put=4,delete=0,list=1",
        "no upstream call, no state write"
    );
    let throttled = w.get("alice", id);
    assert_eq!(throttled.ops, "get=1,put=0,delete=0,list=0");
    w.advance(10);
    w.up.set_status(&cid(1), Status::Pinned);
    let refreshed = w.get("alice", id);
    // record, state; state, queue entry, change marker, record, index; holder check
    assert_eq!(refreshed.ops, "get=3,put=5,delete=0,list=0");
    let pinned = w.get("alice", id);
    assert_eq!(
        pinned.ops, "get=1,put=0,delete=0,list=0",
        "final: one get, as before"
    );
    let del = w.call(
        "alice",
        "DELETE",
        &format!("/pins/{}", id.as_str().unwrap()),
        "",
    );
    assert_eq!(del.ops, "get=3,put=2,delete=3,list=0");
}

#[test]
fn an_unreachable_upstream_keeps_pins_queued_and_retries_with_backoff() {
    let w = World::new(false);
    w.up.mode.set(Mode::Down);
    w.up.starts_as(&cid(1), Status::Pinned);
    let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-doc"}));
    assert_eq!(a["status"], "queued");
    assert!(a["info"]["status_details"]
        .as_str()
        .unwrap()
        .contains("retried with backoff"));
    assert_eq!(a["info"]["upstream_error"], "HTTP 503");
    let first_try = w.now().0 + 60_000;
    assert_eq!(
        a["info"]["next_try"],
        edge_pinning::domain::timestamp::Millis(first_try).to_rfc3339()
    );
    assert_eq!(
        a["delegates"],
        json!([common::DELEGATE]),
        "configured until the upstream answers"
    );

    let calls = w.up.log.borrow().len();
    w.sweep();
    w.advance(30);
    w.get("alice", &a["requestid"]);
    assert_eq!(
        w.up.log.borrow().len(),
        calls,
        "nobody calls before the next try"
    );
    w.advance(30);
    w.sweep();
    assert_eq!(w.up.log.borrow().len(), calls + 1);
    let got = w.get("alice", &a["requestid"]).body;
    assert_eq!(
        (got["status"].as_str(), got["info"]["tries"].as_str()),
        (Some("queued"), Some("2"))
    );
    assert_eq!(
        got["info"]["next_try"],
        edge_pinning::domain::timestamp::Millis(w.now().0 + 120_000).to_rfc3339()
    );

    // Nothing is lost: the pin lists, and recovers once the upstream is back.
    assert_eq!(w.listed_status("alice", &a["requestid"]), "queued");
    w.up.mode.set(Mode::Up);
    w.advance(120);
    w.sweep();
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1);
    let got = w.get("alice", &a["requestid"]).body;
    assert_eq!(got["status"], "pinned");
    assert!(got["info"].get("next_try").is_none());
    assert_eq!(got["delegates"], json!([UP_DELEGATE]));
}

#[test]
fn a_down_upstream_ends_the_sweep_early_and_the_next_run_goes_on() {
    let w = World::new(false);
    let ids: Vec<_> = (0..6)
        .map(|i| w.pin("alice", json!({"cid": cid(i)}))["requestid"].clone())
        .collect();
    w.up.mode.set(Mode::Down);
    let report = w.sweep();
    assert_eq!(
        (report.calls, report.stopped),
        (3, Some("upstream unavailable"))
    );
    w.up.mode.set(Mode::Up);
    w.up.set_status(&cid(0), Status::Pinned);
    for i in 0..6 {
        w.up.set_status(&cid(i), Status::Pinned);
    }
    let report = w.sweep();
    assert_eq!(
        report.calls, 3,
        "the three not yet tried; the others wait for their backoff"
    );
    w.advance(60);
    w.sweep();
    for id in &ids {
        assert_eq!(w.listed_status("alice", id), "pinned");
    }
}

#[test]
fn a_refused_add_fails_the_pin_with_the_reason() {
    let w = World::new(false);
    w.up.mode.set(Mode::RefuseAdds);
    let a = w.pin("alice", json!({"cid": cid(1)}));
    assert_eq!(a["status"], "failed");
    assert_eq!(
        a["info"]["status_details"],
        "the upstream refused this pin: BAD_REQUEST: this provider does not take that CID"
    );
    w.sweep();
    assert_eq!(w.up.calls("add"), 1, "a refusal is final: not retried");
    assert!(w.keys("q/").is_empty());
    // A new pin object of that CID asks again.
    w.up.mode.set(Mode::Up);
    w.up.starts_as(&cid(1), Status::Pinned);
    let b = w.pin("bob", json!({"cid": cid(1), "name": "pinned-b"}));
    assert_eq!(b["status"], "pinned");
}

/// A provider that still lists the pins it deleted (late, or for good): the look after a
/// release, and one after a stopped add's pin is adopted and released, must not take a pin
/// the release deleted for a stopped add's, or it would be adopted and released round after
/// round.
#[test]
fn a_provider_listing_deleted_pins_gets_each_released_once() {
    use edge_pinning::auth::user::UserId;
    use edge_pinning::domain::request_id::RequestId;
    use edge_pinning::upstream::holders::CidKeys;
    let w = World::new(false);
    w.up.lingering.set(true);
    let a = w.pin("alice", json!({"cid": cid(1)}));
    w.delete("alice", &a["requestid"]);
    // An add that stopped after the provider's add: only the provider and its look know it.
    let up = UpstreamPin::bare(&cid(2));
    assert!(matches!(common::block_on(w.up.add(&up)), Answer::Ok(_)));
    let (bob, dead) = (UserId::parse("bob").unwrap(), RequestId::new(w.now(), 3));
    let (keys, now) = (CidKeys::new(&w.kv), w.now());
    common::block_on(keys.enqueue(&cid(2), &bob, &dead, now, now.0)).unwrap();
    let mut reports = Vec::new();
    for _ in 0..12 {
        reports.push(w.sweep());
        w.advance(120);
    }
    let sum = |f: fn(&edge_pinning::upstream::sweep::Report) -> u32| reports.iter().map(f).sum();
    assert_eq!(
        (sum(|r| r.released), sum(|r| r.adopted)),
        (2, 1),
        "{reports:#?}"
    );
    assert_eq!(
        w.up.calls("delete"),
        2,
        "each pin deleted once: {:?}",
        w.up.log.borrow()
    );
    assert!(w.up.pins.borrow().is_empty());
    assert!(w.keys("q/").is_empty() && w.keys("x/").is_empty());
}

#[test]
fn a_failed_upstream_delete_is_retried() {
    let w = World::new(false);
    let a = w.pin("alice", json!({"cid": cid(1)}));
    w.delete("alice", &a["requestid"]);
    w.advance(60); // the delete's look waits for KV to show it everywhere
    w.sweep();
    w.advance(120);
    w.up.mode.set(Mode::Down);
    w.sweep();
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1);
    w.up.mode.set(Mode::Up);
    w.sweep();
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1, "waits for its backoff");
    w.advance(60);
    assert_eq!(w.sweep().released, 1);
    assert!(w.up.pins_of(&cid(1)).is_empty());
}

#[test]
fn replace_alone_asks_the_upstream_to_replace() {
    let w = World::new(false);
    for c in 1..=3 {
        w.up.starts_as(&cid(c), Status::Pinned);
    }
    let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-v1"}));
    let target = format!("/pins/{}", a["requestid"].as_str().unwrap());
    let r = w.call(
        "alice",
        "POST",
        &target,
        &json!({"cid": cid(2), "name": "pinned-v2"}).to_string(),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "pinned");
    assert_eq!(w.up.calls("replace"), 1);
    assert!(
        w.up.pins_of(&cid(1)).is_empty(),
        "replaced upstream, no window"
    );
    assert_eq!(w.up.pins_of(&cid(2)).len(), 1);
    assert_eq!(w.get("alice", &a["requestid"]).status, 404);
    for _ in 0..3 {
        w.advance(120);
        w.sweep();
    }
    assert_eq!(w.up.pins_of(&cid(2)).len(), 1);
    assert_eq!(w.up.calls("delete"), 0, "nothing left to release");
    assert!(w.keys("x/").iter().all(|k| k.ends_with(&cid(2))));
}

#[test]
fn replace_shared_adds_then_releases() {
    let w = World::new(false);
    for c in 1..=3 {
        w.up.starts_as(&cid(c), Status::Pinned);
    }
    let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-a"}));
    let b = w.pin("bob", json!({"cid": cid(1)}));
    let target = format!("/pins/{}", a["requestid"].as_str().unwrap());
    let r = w.call(
        "alice",
        "POST",
        &target,
        &json!({"cid": cid(2), "name": "pinned-v2"}).to_string(),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(w.up.calls("replace"), 0, "bob holds the old CID");
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1);
    assert_eq!(w.up.pins_of(&cid(2)).len(), 1);
    for _ in 0..3 {
        w.advance(120);
        w.sweep();
    }
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1, "still bob's");
    w.delete("bob", &b["requestid"]);
    for _ in 0..2 {
        w.advance(120);
        w.sweep();
    }
    assert!(w.up.pins_of(&cid(1)).is_empty());
    assert_eq!(w.up.pins_of(&cid(2)).len(), 1);
}

#[test]
fn replace_with_the_same_cid_changes_nothing_upstream() {
    let w = World::new(false);
    for c in 1..=3 {
        w.up.starts_as(&cid(c), Status::Pinned);
    }
    let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-a"}));
    let target = format!("/pins/{}", a["requestid"].as_str().unwrap());
    let r = w.call(
        "alice",
        "POST",
        &target,
        &json!({"cid": cid(1), "name": "renamed"}).to_string(),
    );
    assert_eq!((r.status, r.body["status"].as_str()), (202, Some("pinned")));
    let calls = w.up.log.borrow().len();
    for _ in 0..3 {
        w.advance(120);
        w.sweep();
    }
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1);
    assert_eq!(w.up.log.borrow().len(), calls);
}

#[test]
fn a_held_cid_missing_upstream_is_added_again() {
    let w = World::new(false);
    let a = w.pin("alice", json!({"cid": cid(1), "name": "queued-a"}));
    w.up.pins.borrow_mut().clear(); // the operator removed it upstream
    w.sweep(); // the status read is a 404: the held CID is added again
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1);
    assert_eq!(w.up.calls("add"), 2);
    assert_eq!(w.get("alice", &a["requestid"]).body["status"], "queued");
}

#[test]
fn a_holder_left_by_an_interrupted_add_is_dropped_after_the_grace() {
    use edge_pinning::auth::user::UserId;
    use edge_pinning::domain::{request_id::RequestId, timestamp::Millis};
    use edge_pinning::store::kv::Kv;
    let w = World::new(false);
    let a = w.pin("alice", json!({"cid": cid(1)}));
    let ghost = RequestId::new(Millis(w.now().0), 7);
    let key = edge_pinning::store::keys::holder(&cid(1), &UserId::parse("bob").unwrap(), &ghost);
    common::block_on(w.kv.put(&key, "", &json!({}), None)).unwrap();
    w.delete("alice", &a["requestid"]);
    w.sweep();
    assert_eq!(
        w.up.pins_of(&cid(1)).len(),
        1,
        "an add may still be running"
    );
    w.advance(121);
    w.sweep(); // drops the stale holder
    w.sweep(); // marks
    w.advance(120);
    w.sweep(); // releases
    assert!(w.up.pins_of(&cid(1)).is_empty());
    assert!(w.keys("h/").is_empty());
}

#[test]
fn the_sweep_keeps_to_its_budget_and_resumes_oldest_first() {
    let w = World::with(false, 2, &[("UPSTREAM_SWEEP_BUDGET", "2")]);
    for i in 0..5 {
        w.pin("alice", json!({"cid": cid(i)}));
        w.advance(1);
    }
    let order = |from: usize| -> Vec<String> {
        w.up.log.borrow()[from..]
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap().to_owned())
            .collect()
    };
    let start = w.up.log.borrow().len();
    let report = w.sweep();
    assert_eq!(
        (report.calls, report.stopped),
        (2, Some("upstream call budget spent"))
    );
    let seen = order(start);
    assert_eq!(w.keys("s/"), vec!["s/sweep".to_owned()], "where it stopped");
    w.sweep();
    assert_eq!(w.keys("s/").len(), 1);
    w.sweep();
    assert!(
        w.keys("s/").is_empty(),
        "reached the end: the next run starts over"
    );
    w.sweep();
    let all = order(start);
    let ids = |i: u32| {
        w.up.pins
            .borrow()
            .iter()
            .find(|(_, p)| p.cid == cid(i))
            .unwrap()
            .0
            .clone()
    };
    let expected: Vec<String> = [0, 1, 2, 3, 4, 0, 1].into_iter().map(ids).collect();
    assert_eq!(all, expected, "oldest first, each once a round");
    assert_eq!(seen.len(), 2);
}

#[test]
fn a_cid_with_many_holders_is_updated_across_runs() {
    // 4 keys per list page; 24 users holding the CID 10 times each (the most one may).
    let users: Vec<String> = (0..24).map(|i| format!("user{i:02}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let w = upstream_support::World::with_users(false, 4, &[], &names);
    let mut ids = Vec::new();
    for user in &names {
        for _ in 0..10 {
            ids.push((
                *user,
                w.pin(user, json!({"cid": cid(1)}))["requestid"].clone(),
            ));
        }
    }
    w.up.set_status(&cid(1), Status::Pinned);
    let mut runs = Vec::new();
    while !w.keys("q/").is_empty() {
        runs.push(w.sweep());
        assert!(runs.len() <= 10, "{runs:?}");
    }
    // 240 holders, 40 a look: six runs, one upstream call in all.
    assert_eq!(runs.len(), 6, "{runs:?}");
    assert_eq!(runs.iter().map(|r| r.calls).sum::<u32>(), 1);
    assert!(runs.iter().all(|r| r.kv_ops <= 2 + 40 * 8 + 16), "{runs:?}");
    for (user, id) in &ids {
        assert_eq!(w.listed_status(user, id), "pinned");
    }
}

#[test]
fn a_cid_queued_by_many_requests_costs_one_look_a_run() {
    let w = World::new(false);
    w.pin("alice", json!({"cid": cid(1)}));
    for user in ["bob", "carol"] {
        let p = w.pin(user, json!({"cid": cid(1)}));
        w.advance(1);
        w.delete(user, &p["requestid"]); // each delete enqueues the CID
    }
    assert_eq!(w.keys("q/").len(), 3);
    w.up.set_status(&cid(1), Status::Pinning);
    w.advance(60); // the deletes' entries are due once KV shows them everywhere
    let report = w.sweep();
    assert_eq!((report.looked, report.calls), (1, 1), "{report:?}");
    assert_eq!(
        w.keys("q/").len(),
        1,
        "the other entries of that CID are dropped"
    );
}

#[test]
fn kv_operations_of_replace_and_of_an_outage() {
    let w = World::new(false);
    for c in 1..=3 {
        w.up.starts_as(&cid(c), Status::Pinned);
    }
    let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-a"}));
    let replace = |id: &serde_json::Value, pin: serde_json::Value| {
        let target = format!("/pins/{}", id.as_str().unwrap());
        w.call("alice", "POST", &target, &pin.to_string())
    };
    // The upstream's replace: old record, both states, the old CID's holders (before and
    // after), the old record and entries once more after its holder went, and the writes of
    // both pins, states and queue entries; the old CID's marked state is left for the sweep
    // to release (no key is written twice: KV takes one write a second to a key). (Named
    // pins: the new pin's name index entry is one put, the old one's one delete and one get.)
    let alone = replace(&a["requestid"], json!({"cid": cid(2), "name": "pinned-b"}));
    assert_eq!(alone.ops, "get=6,put=11,delete=4,list=3");
    w.pin("bob", json!({"cid": cid(2)}));
    let shared = replace(
        &alone.body["requestid"],
        json!({"cid": cid(3), "name": "pinned-c"}),
    );
    // (The new pin's add queues its look before calling the upstream, even for a CID the
    // upstream then answers pinned at once: a request stopped after the call is found.)
    assert_eq!(shared.ops, "get=6,put=9,delete=4,list=2");
    let same = replace(
        &shared.body["requestid"],
        json!({"cid": cid(3), "name": "renamed"}),
    );
    assert_eq!(same.ops, "get=5,put=7,delete=4,list=0");
    w.up.mode.set(Mode::Down);
    let down = w.call(
        "carol",
        "POST",
        "/pins",
        &json!({"cid": cid(9)}).to_string(),
    );
    assert_eq!(down.ops, "get=1,put=6,delete=0,list=1");
    let calls = w.up.log.borrow().len();
    let waiting = w.call("bob", "POST", "/pins", &json!({"cid": cid(9)}).to_string());
    assert_eq!(
        waiting.ops, "get=1,put=6,delete=0,list=1",
        "a new pin asks at once, as a first add does, even during the CID's backoff"
    );
    assert_eq!(w.up.log.borrow().len(), calls + 1);
    assert_eq!(
        waiting.body["info"]["tries"], "1",
        "its own try, not carol's"
    );
}

/// A releaser that unpinned and then stopped, its lease held, an add fenced meanwhile: the
/// CID's state in KV still says `pinned` (with the release mark). The sweep's look at the
/// lease's end does not trust a marked state: it asks, finds the pin gone, and adds it again.
#[test]
fn a_fenced_pin_is_pinned_again_after_a_releaser_stopped_mid_release() {
    use edge_pinning::upstream::gate::{apply, GateCall, GateReply, MemoryGateStore};
    for by_cid in [false, true] {
        let w = World::new(by_cid);
        for c in 1..=3 {
            w.up.starts_as(&cid(c), Status::Pinned);
        }
        w.gated.set(true);
        let a = w.pin("alice", json!({"cid": cid(1), "name": "pinned-a"}));
        w.delete("alice", &a["requestid"]);
        w.advance(61);
        w.sweep(); // marks the CID
        w.advance(121);
        // The releaser: takes the lease, unpins, and stops there.
        let store = w
            .gate
            .states
            .borrow_mut()
            .entry(cid(1))
            .or_default()
            .clone();
        let begin = GateCall::Begin { except: None };
        let granted = common::block_on(apply::<MemoryGateStore>(&store, begin, w.now().0));
        assert!(matches!(granted, Ok(GateReply::Granted { .. })));
        w.up.pins.borrow_mut().retain(|_, p| p.cid != cid(1));
        let b = w.pin("bob", json!({"cid": cid(1), "name": "pinned-b"}));
        assert_eq!(b["status"], "queued", "fenced: no upstream call");
        assert!(w.up.pins_of(&cid(1)).is_empty());
        // After the lease has run out, the look bob's add queued re-adds the CID.
        w.advance(61);
        w.sweep();
        assert_eq!(
            w.up.pins_of(&cid(1)).len(),
            1,
            "by_cid {by_cid}: pinned again"
        );
        w.advance(61);
        w.sweep();
        assert_eq!(w.get("bob", &b["requestid"]).body["status"], "pinned");
    }
}
