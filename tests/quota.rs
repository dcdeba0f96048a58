//! Byte quotas for fetched DAGs (`QUOTAS`, r2 backend): a pin whose DAG would take its user
//! over their quota fails with the reason when the DAG is pinned, and stops holding the CID;
//! another user's pin of the same CID is kept, and their bytes count for each of them.

mod common;
mod upstream_support;

use common::cid;
use edge_pinning::domain::status::Status;
use serde_json::json;
use upstream_support::World;

fn world() -> World {
    World::with(
        false,
        1000,
        &[
            ("PIN_BACKEND", "r2"),
            ("QUOTAS", r#"{"alice": 1000, "bob": 5000}"#),
        ],
    )
}

#[test]
fn a_dag_over_a_users_quota_fails_their_pin_alone() {
    let w = world();
    w.up.sizes.borrow_mut().insert(cid(1), 3000);
    let a = w.pin("alice", json!({"cid": cid(1)}));
    let b = w.pin("bob", json!({"cid": cid(1)}));
    let c = w.pin("carol", json!({"cid": cid(1)}));
    // The provider fetched it: 3000 bytes, over alice's 1000, within bob's 5000; carol has none.
    w.up.set_status(&cid(1), Status::Pinned);
    w.sweep();
    let got = w.get("alice", &a["requestid"]);
    assert_eq!(got.body["status"], "failed", "{}", got.body);
    let why = got.body["info"]["status_details"].as_str().unwrap();
    assert!(
        why.contains("over your quota") && why.contains("3000"),
        "{why}"
    );
    assert_eq!(w.listed_status("alice", &a["requestid"]), "failed");
    for (user, pin) in [("bob", &b), ("carol", &c)] {
        let got = w.get(user, &pin["requestid"]);
        assert_eq!(got.body["status"], "pinned", "{user}");
        assert_eq!(got.body["info"]["dag_size"], "3000");
    }
    // Alice's pin holds the CID no more; the others' still do.
    let holders = w.keys(&format!("h/{}/", cid(1)));
    assert!(
        holders.iter().all(|k| !k.contains("/alice/")),
        "{holders:?}"
    );
    assert_eq!(holders.len(), 2);

    // A new pin of the pinned CID over the quota fails at once, the same way.
    let again = w.pin("alice", json!({"cid": cid(1)}));
    assert_eq!(again["status"], "failed");
    // Within the quota it is pinned, and counts for bob as well as carol.
    w.up.sizes.borrow_mut().insert(cid(2), 1500);
    w.up.starts_as(&cid(2), Status::Pinned);
    assert_eq!(w.pin("bob", json!({"cid": cid(2)}))["status"], "pinned");
    // 3000 + 1500 kept: a third DAG of 600 would cross bob's 5000.
    w.up.sizes.borrow_mut().insert(cid(3), 600);
    w.up.starts_as(&cid(3), Status::Pinned);
    assert_eq!(w.pin("bob", json!({"cid": cid(3)}))["status"], "failed");
}
