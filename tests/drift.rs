//! Drift repair (issue 13): a provider that loses a pin it once reported `pinned` — restarted
//! with empty state, a pin removed there by hand — is noticed by the sweep's hourly
//! re-verification, the CID is added again, and every holder shows the repair until it is
//! pinned again.

mod common;
mod upstream_support;

use common::cid;
use edge_pinning::domain::status::Status;
use serde_json::json;
use upstream_support::World;

const HOUR: u64 = 3600;

/// Moves the clock to the first minute of the next hour (when the re-verification pass runs).
fn to_next_hour(w: &World) {
    let ms = w.clock.get();
    w.clock.set((ms / 3_600_000 + 1) * 3_600_000 + 1_000);
}

#[test]
fn a_pin_the_provider_lost_is_found_and_pinned_again() {
    for by_cid in [false, true] {
        let w = World::new(by_cid);
        w.up.starts_as(&cid(1), Status::Pinned);
        w.up.starts_as(&cid(2), Status::Pinned);
        let a = w.pin("alice", json!({"cid": cid(1)}));
        let b = w.pin("bob", json!({"cid": cid(1)}));
        let kept = w.pin("carol", json!({"cid": cid(2)}));
        assert_eq!(a["status"], "pinned");
        w.sweep();
        // The provider restarts with empty state, but for cid(2).
        w.up.pins.borrow_mut().retain(|_, p| p.cid == cid(2));
        w.up.starts.borrow_mut().clear();
        let adds = w.up.calls("add");

        // Within the day nothing asks: `pinned` is trusted for VERIFY_AFTER_MS.
        to_next_hour(&w);
        w.sweep();
        w.sweep();
        assert_eq!(w.listed_status("alice", &a["requestid"]), "pinned");
        assert_eq!(w.up.calls("add"), adds);

        // A day on, the hourly pass queues the pinned CIDs and the next run asks about them.
        w.advance(24 * HOUR);
        to_next_hour(&w);
        let report = w.sweep();
        assert_eq!(report.verifying, 2, "{report}");
        w.advance(60);
        w.sweep();
        assert_eq!(
            w.up.calls("add"),
            adds + 1,
            "the lost CID is added again, once"
        );
        assert_eq!(w.up.pins_of(&cid(1)).len(), 1);
        for (user, pin) in [("alice", &a), ("bob", &b)] {
            let got = w.get(user, &pin["requestid"]);
            assert_eq!(got.body["status"], "queued", "{user}: {}", got.body);
            let repair = got.body["info"]["repair"].as_str().unwrap_or_default();
            assert!(repair.contains("no longer had"), "{user}: {}", got.body);
            assert_eq!(w.listed_status(user, &pin["requestid"]), "queued");
        }
        assert_eq!(
            w.listed_status("carol", &kept["requestid"]),
            "pinned",
            "still there: untouched"
        );

        // The provider pins it again: the holders show it, and the repair note is gone.
        w.up.set_status(&cid(1), Status::Pinned);
        w.advance(60);
        w.sweep();
        let got = w.get("alice", &a["requestid"]);
        assert_eq!(got.body["status"], "pinned");
        assert!(got.body["info"].get("repair").is_none(), "{}", got.body);
        assert_eq!(w.listed_status("bob", &b["requestid"]), "pinned");
    }
}
