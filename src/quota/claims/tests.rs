use super::*;
use crate::quota::{now_or_never, MemoryQuotaStore};

const T0: u64 = 1_700_000_000_000;

fn call(id: &str, bytes: u64, used: u64, counted: &[&str]) -> ClaimCall {
    ClaimCall {
        id: id.into(),
        bytes,
        quota: 1000,
        used,
        counted: counted.iter().map(|c| c.to_string()).collect(),
    }
}

fn ask(s: &MemoryQuotaStore, c: ClaimCall, now: u64) -> ClaimReply {
    now_or_never(claim(s, &c, now)).unwrap()
}

fn ids(s: &MemoryQuotaStore, now: u64) -> Vec<String> {
    now_or_never(pending(s, now)).unwrap()
}

#[test]
fn two_pins_completing_at_once_cannot_both_pass_the_quota() {
    let s = MemoryQuotaStore::default();
    // Both read usage 300 before either was written: 600 each fits alone, not together.
    assert!(ids(&s, T0).is_empty());
    assert_eq!(ask(&s, call("a", 600, 300, &[]), T0), ClaimReply::Granted);
    assert_eq!(
        ask(&s, call("b", 600, 300, &[]), T0 + 5),
        ClaimReply::Over { others: 900 }
    );
    assert_eq!(ids(&s, T0 + 5), ["a"], "a refusal keeps nothing");
    // One that fits beside the first does.
    assert_eq!(
        ask(&s, call("c", 100, 300, &[]), T0 + 6),
        ClaimReply::Granted
    );
}

#[test]
fn a_claim_the_caller_counted_is_not_added_again() {
    let s = MemoryQuotaStore::default();
    assert_eq!(ask(&s, call("a", 600, 0, &[]), T0), ClaimReply::Granted);
    // A later pass saw a's record pinned: its 600 are in `used` already.
    assert_eq!(ids(&s, T0 + 1000), ["a"]);
    assert_eq!(
        ask(&s, call("b", 400, 600, &["a"]), T0 + 1000),
        ClaimReply::Granted
    );
    // Without saying so, a's bytes would count twice.
    assert_eq!(
        ask(&s, call("c", 1, 600, &[]), T0 + 1000),
        ClaimReply::Over { others: 1600 }
    );
}

#[test]
fn the_same_pin_claiming_again_replaces_its_claim() {
    let s = MemoryQuotaStore::default();
    assert_eq!(ask(&s, call("a", 600, 0, &[]), T0), ClaimReply::Granted);
    // A second look at the same pin (the sweep after a read) does not count it twice.
    assert_eq!(ask(&s, call("a", 600, 0, &[]), T0 + 1), ClaimReply::Granted);
    assert_eq!(s.claims.borrow().len(), 1);
    assert_eq!(s.claims.borrow()[0].at, T0 + 1);
}

#[test]
fn claims_expire_once_every_pass_shows_their_records() {
    let s = MemoryQuotaStore::default();
    assert_eq!(ask(&s, call("a", 900, 0, &[]), T0), ClaimReply::Granted);
    assert_eq!(
        ask(&s, call("b", 200, 0, &[]), T0 + CLAIM_MS - 1),
        ClaimReply::Over { others: 900 }
    );
    assert!(ids(&s, T0 + CLAIM_MS).is_empty());
    // From then on a's bytes are in the caller's count (here: its record was never written).
    assert_eq!(
        ask(&s, call("b", 200, 0, &[]), T0 + CLAIM_MS),
        ClaimReply::Granted
    );
    assert_eq!(s.claims.borrow().len(), 1, "the expired claim is dropped");
}

#[test]
fn an_object_keeps_at_most_max_claims() {
    let s = MemoryQuotaStore::default();
    for i in 0..MAX_CLAIMS + 3 {
        let mut c = call(&i.to_string(), 0, 0, &[]);
        c.quota = u64::MAX;
        assert_eq!(ask(&s, c, T0 + i as u64), ClaimReply::Granted);
    }
    let kept = s.claims.borrow();
    assert_eq!(kept.len(), MAX_CLAIMS);
    assert_eq!(kept[0].id, "3", "the oldest go first");
}

#[test]
fn sums_saturate_instead_of_overflowing() {
    let s = MemoryQuotaStore::default();
    let mut c = call("a", u64::MAX, u64::MAX, &[]);
    c.quota = u64::MAX;
    assert_eq!(ask(&s, c, T0), ClaimReply::Granted);
    assert_eq!(
        ask(&s, call("b", 1, 0, &[]), T0),
        ClaimReply::Over { others: u64::MAX }
    );
}

#[test]
fn the_wire_form_is_small_and_round_trips() {
    let c = Claim {
        id: "x".into(),
        bytes: 5,
        at: 7,
    };
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"i":"x","b":5,"t":7}"#
    );
    let over = ClaimReply::Over { others: 3 };
    let back: ClaimReply = serde_json::from_str(&serde_json::to_string(&over).unwrap()).unwrap();
    assert_eq!(back, over);
}
