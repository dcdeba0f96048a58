//! The `upstream` backend between tenants: what one user sends upstream cannot fail another's
//! pin, one user's flood cannot slow another's status changes or releases in the sweep, one
//! user's many pin objects of a CID cannot make a look expensive, and a new pin shows its own
//! try rather than another user's history. Figures are printed (`--nocapture`).

mod common;
mod upstream_support;

use common::cid;
use edge_pinning::domain::{status::Status, timestamp::Millis};
use serde_json::json;
use upstream_support::{Mode, World};

const PEER: &str = "QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";

#[test]
fn one_users_refused_origins_do_not_fail_another_users_queued_pin() {
    let w = World::new(false);
    w.up.starts_as(&cid(1), Status::Pinned);
    // A provider rule the worker cannot know of: no loopback origins.
    w.up.refused_origins.borrow_mut().push("/ip4/127.".into());
    w.up.mode.set(Mode::Down);
    let b = w.pin("bob", json!({"cid": cid(1)}));
    assert_eq!(b["status"], "queued");
    w.up.mode.set(Mode::Up);
    w.advance(60); // bob's backoff is over: any add now asks the upstream

    let loopback = format!("/ip4/127.0.0.1/tcp/4001/p2p/{PEER}");
    let body = json!({"cid": cid(1), "origins": [loopback]}).to_string();
    let refused = w.call("alice", "POST", "/pins", &body);
    // limit, holder, state read, (the call,) state with bob's backoff cleared (it answered),
    // holder removed, queue entry, change marker, record, index
    assert_eq!(refused.ops, "get=1,put=6,delete=1,list=1");
    let a = refused.body;
    assert_eq!(a["status"], "failed", "alice's own request was refused");
    let why = a["info"]["status_details"].as_str().unwrap();
    assert!(why.contains("is not an origin we accept"), "{why}");

    w.sweep(); // retries the bare CID for bob
    assert_eq!(w.listed_status("bob", &b["requestid"]), "pinned");
    let got = w.get("bob", &b["requestid"]).body;
    assert_eq!(got["status"], "pinned");
    assert!(!got.to_string().contains("origin"), "{got}");
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1);
    let last = w.up.received.borrow().last().cloned().unwrap();
    assert!(last.origins.is_empty(), "the sweep sends the bare CID");

    // Alice's pin stays as her request left it, holds nothing, and goes when she deletes it.
    assert_eq!(w.listed_status("alice", &a["requestid"]), "failed");
    assert_eq!(
        w.keys(&format!("h/{}/alice/", cid(1))),
        Vec::<String>::new()
    );
    assert_eq!(w.delete("alice", &a["requestid"]), 202);
    w.advance(600);
    w.sweep();
    assert_eq!(w.up.pins_of(&cid(1)).len(), 1, "bob still holds it");
}

#[test]
fn only_strictly_valid_origins_go_upstream() {
    let w = World::new(false);
    let good = format!("/ip4/198.51.100.7/tcp/4001/p2p/{PEER}");
    // Stored and returned as given (origins are hints), but no provider could parse these.
    let odd = [
        format!("/ip4/999.1.1.1/tcp/4001/p2p/{PEER}"),
        "/someday-protocol/xyz".to_owned(),
    ];
    let a = w.pin(
        "alice",
        json!({"cid": cid(1), "name": "alice's secret name", "origins": [odd[0], good, odd[1]]}),
    );
    assert_eq!(a["status"], "queued", "{a}");
    assert_eq!(a["pin"]["origins"], json!([odd[0], good, odd[1]]));
    let sent = w.up.received.borrow()[0].clone();
    assert_eq!(sent.origins, vec![good.clone()]);
    assert!(
        w.up.pins_of(&cid(1))[0].name.is_none(),
        "never a user's name"
    );
}

/// Bob has 400 CIDs the upstream never finishes; alice has one, and later deletes another.
#[test]
fn a_flooding_user_does_not_delay_a_quiet_users_status_change_or_release() {
    let w = World::new(false);
    for i in 0..400 {
        w.pin("bob", json!({"cid": cid(100 + i)}));
    }
    w.advance(1);
    w.up.starts_as(&cid(2), Status::Pinned);
    let kept = w.pin("alice", json!({"cid": cid(1)}));
    let dropped = w.pin("alice", json!({"cid": cid(2)}));
    w.up.set_status(&cid(1), Status::Pinned);
    let mut runs = 0;
    while w.listed_status("alice", &kept["requestid"]) != "pinned" {
        let report = w.sweep();
        runs += 1;
        assert!(runs <= 20, "{report:?}");
    }
    println!("runs until the quiet user's status change lands: {runs}");
    assert_eq!(runs, 1);

    assert_eq!(w.delete("alice", &dropped["requestid"]), 202);
    let mut runs = 0;
    while !w.up.pins_of(&cid(2)).is_empty() {
        w.advance(60);
        w.sweep();
        runs += 1;
        assert!(runs <= 30);
    }
    println!("runs until the quiet user's CID is released (one a minute): {runs}");
    assert!(runs <= 4, "mark after 60 s, release 120 s later: {runs}");
}

#[test]
fn a_look_at_a_cid_held_950_times_costs_bounded_kv() {
    let users: Vec<String> = (0..95).map(|i| format!("u{i:02}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let w = World::with_users(false, 1000, &[], &names);
    for user in &names {
        for _ in 0..10 {
            w.pin(user, json!({"cid": cid(1)}));
        }
    }
    w.up.set_status(&cid(1), Status::Pinned);
    let first = w.sweep();
    println!("first look at a CID with 950 holders: {first:?}");
    assert_eq!(first.looked, 1);
    // state, holders, 40 records and their rewrites, the entry: far below the run's 900.
    assert!(first.kv_ops <= 2 + 40 * 8 + 16, "{first:?}");
    let mut runs = 1;
    while !w.keys("q/").is_empty() {
        let r = w.sweep();
        assert!(r.kv_ops <= 2 + 40 * 8 + 16, "{r:?}");
        runs += 1;
    }
    println!("runs until all 950 holders show it: {runs}");
}

#[test]
fn one_user_holds_a_cid_at_most_ten_times() {
    let w = World::new(false);
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(w.pin("alice", json!({"cid": cid(1)}))["requestid"].clone());
    }
    let over = w.call(
        "alice",
        "POST",
        "/pins",
        &json!({"cid": cid(1)}).to_string(),
    );
    assert_eq!(over.status, 409, "{}", over.body);
    assert_eq!(over.body["error"]["reason"], "PIN_LIMIT_REACHED");
    assert!(over.body["error"]["details"]
        .as_str()
        .unwrap()
        .starts_with("cid: "));
    assert_eq!(w.keys(&format!("h/{}/alice/", cid(1))).len(), 10);
    w.pin("bob", json!({"cid": cid(1)}));

    // Replacing one of them by the same CID moves it; another pin cannot move onto it.
    let same = format!("/pins/{}", ids[0].as_str().unwrap());
    let body = json!({"cid": cid(1), "name": "renamed"}).to_string();
    assert_eq!(w.call("alice", "POST", &same, &body).status, 202);
    let other = w.pin("alice", json!({"cid": cid(2)}));
    let onto = format!("/pins/{}", other["requestid"].as_str().unwrap());
    let body = json!({"cid": cid(1)}).to_string();
    assert_eq!(w.call("alice", "POST", &onto, &body).status, 409);

    assert_eq!(w.delete("alice", &ids[1]), 202);
    w.pin("alice", json!({"cid": cid(1)}));
}

#[test]
fn a_new_pin_during_a_backoff_shows_its_own_try() {
    let w = World::new(false);
    w.up.mode.set(Mode::Down);
    w.pin("carol", json!({"cid": cid(9)}));
    for _ in 0..4 {
        w.advance(3600);
        w.sweep();
    }
    w.advance(1);
    let b = w.pin("bob", json!({"cid": cid(9)}));
    let info = &b["info"];
    assert_eq!(info["tries"], "1", "{info}");
    let next = Millis(w.now().0 + 60_000).to_rfc3339();
    assert_eq!(info["next_try"], next, "its own backoff, not carol's hour");
}
