use super::*;

#[test]
fn state_round_trips_and_is_trusted_only_after_it_settled() {
    let id = RequestId::new(Millis(5), 7);
    let s = IndexState {
        started: 10,
        cursor: Some(id),
        done: None,
    };
    assert_eq!(IndexState::parse(&s.to_json()), Some(s.clone()));
    assert!(!s.trusted(Millis(u64::MAX)));
    let d = IndexState {
        done: Some(100),
        cursor: None,
        ..s
    };
    assert_eq!(IndexState::parse(&d.to_json()), Some(d.clone()));
    assert!(!d.trusted(Millis(100 + SETTLE_MS - 1)));
    assert!(d.trusted(Millis(100 + SETTLE_MS)));
    assert_eq!(IndexState::parse(&json!({"c": "x"})), None);
    assert_eq!(IndexState::parse(&json!({"s": 1, "c": "junk"})), None);
}

#[test]
fn the_walk_wants_older_pins_past_its_cursor() {
    let at = |ms| RequestId::new(Millis(ms), 1);
    let s = IndexState {
        started: 1_000_000,
        cursor: Some(at(500_000)),
        done: None,
    };
    assert!(s.wants(&at(400_000)), "older than the cursor");
    assert!(!s.wants(&at(600_000)), "walked past");
    assert!(!s.wants(&at(1_000_000 + ROLLOUT_MS)), "this code's own");
    let fresh = IndexState { cursor: None, ..s };
    assert!(fresh.wants(&at(1_000_000 + ROLLOUT_MS - 1)));
}
