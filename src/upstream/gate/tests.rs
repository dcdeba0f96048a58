//! The gate's decision (`apply`) over a store in memory.

use super::*;
use crate::domain::timestamp::Millis;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A gate in memory; its store never waits, so one poll applies a call.
#[derive(Default)]
struct G(MemoryGateStore);

impl G {
    fn apply(&self, call: GateCall, now: u64) -> GateReply {
        let mut f = pin!(apply(&self.0, call, now));
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(reply) => reply.unwrap(),
            Poll::Pending => panic!("the memory store never waits"),
        }
    }
    fn is_idle(&self) -> bool {
        self.0.holders.borrow().is_empty() && self.0.record.borrow().lease.is_none()
    }
}

fn hold(h: &str) -> GateCall {
    GateCall::Hold { holder: h.into() }
}
fn unhold(h: &str) -> GateCall {
    GateCall::Unhold { holder: h.into() }
}
fn begin(except: Option<&str>) -> GateCall {
    GateCall::Begin {
        except: except.map(str::to_owned),
    }
}

#[test]
fn a_lease_only_while_nobody_holds() {
    let g = G::default();
    assert_eq!(g.apply(hold("a/1"), 0), GateReply::Clear);
    assert_eq!(g.apply(hold("a/1"), 0), GateReply::Clear, "idempotent");
    assert!(matches!(g.apply(begin(None), 0), GateReply::Held { .. }));
    assert_eq!(g.apply(unhold("a/1"), 0), GateReply::Done);
    assert_eq!(g.apply(unhold("a/1"), 0), GateReply::Done, "idempotent");
    let GateReply::Granted { lease, until } = g.apply(begin(None), 1_000) else {
        panic!("nobody holds it");
    };
    assert_eq!(until, 1_000 + LEASE_MS);
    // A second release must wait for the first.
    assert_eq!(
        g.apply(begin(None), 2_000),
        GateReply::Held {
            holders: vec![],
            leased: true
        }
    );
    assert_eq!(
        g.apply(GateCall::End { lease }, 3_000),
        GateReply::Ended { arrived: false }
    );
    assert!(g.is_idle());
}

#[test]
fn a_refusal_names_at_most_twenty_holders() {
    let g = G::default();
    for i in 0..30 {
        g.apply(hold(&format!("u/{i:02}")), 0);
    }
    let GateReply::Held { holders, leased } = g.apply(begin(Some("u/00")), 0) else {
        panic!("held by 30");
    };
    assert_eq!((holders.len(), leased), (NAMED, false));
    assert!(
        !holders.contains(&"u/00".to_owned()),
        "the moving pin is not named"
    );
}

#[test]
fn a_hold_during_a_lease_is_fenced_and_reported_at_its_end() {
    let g = G::default();
    let GateReply::Granted { lease, until } = g.apply(begin(None), 0) else {
        panic!()
    };
    assert_eq!(g.apply(hold("b/2"), 10), GateReply::Fenced { until });
    // Even if it leaves again before the end, the lease holder re-adds (harmless).
    g.apply(unhold("b/2"), 15);
    assert_eq!(
        g.apply(GateCall::End { lease }, 20),
        GateReply::Ended { arrived: true }
    );
    assert_eq!(
        g.apply(hold("b/2"), 30),
        GateReply::Clear,
        "no lease, no fence"
    );
}

#[test]
fn an_expired_lease_fences_nothing_and_its_late_end_still_reports_holders() {
    let g = G::default();
    let GateReply::Granted { lease, .. } = g.apply(begin(None), 0) else {
        panic!()
    };
    assert_eq!(g.apply(hold("c/3"), LEASE_MS), GateReply::Clear);
    assert_eq!(
        g.apply(GateCall::End { lease }, LEASE_MS + 1),
        GateReply::Ended { arrived: true }
    );
    // A newer lease is not ended by an old one's number.
    g.apply(unhold("c/3"), LEASE_MS + 2);
    let GateReply::Granted { lease: newer, .. } = g.apply(begin(None), LEASE_MS + 3) else {
        panic!()
    };
    assert_ne!(newer, lease);
    assert_eq!(
        g.apply(GateCall::End { lease }, LEASE_MS + 4),
        GateReply::Ended { arrived: false }
    );
    assert!(matches!(
        g.apply(begin(None), LEASE_MS + 5),
        GateReply::Held { leased: true, .. }
    ));
}

#[test]
fn the_upstreams_replace_leases_around_the_pin_that_moves_away() {
    let g = G::default();
    g.apply(hold("a/1"), 0);
    let GateReply::Granted { lease, .. } = g.apply(begin(Some("a/1")), 0) else {
        panic!("only the moving pin holds it")
    };
    // The moving pin's own hold (a retry) is not someone arriving.
    assert_eq!(g.apply(hold("a/1"), 1), GateReply::Clear);
    assert_eq!(
        g.apply(GateCall::End { lease }, 2),
        GateReply::Ended { arrived: false }
    );
    g.apply(hold("b/1"), 3);
    assert!(matches!(
        g.apply(begin(Some("a/1")), 4),
        GateReply::Held { .. }
    ));
}

#[test]
fn calls_and_records_round_trip_as_json() {
    let g = G::default();
    g.apply(begin(Some("alice/0123")), 0);
    let record = g.0.record.borrow().clone();
    let json = serde_json::to_string(&record).unwrap();
    assert_eq!(serde_json::from_str::<LeaseRecord>(&json).unwrap(), record);
    let call = GateCall::Begin {
        except: Some("bob/0".into()),
    };
    let text = serde_json::to_string(&call).unwrap();
    assert_eq!(serde_json::from_str::<GateCall>(&text).unwrap(), call);
    let id = RequestId::new(Millis(5), 9);
    assert_eq!(holder_of(&holder("bob", &id)), Some(("bob", id)));
}
