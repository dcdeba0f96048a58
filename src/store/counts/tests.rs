//! Unit tests of the totals and change markers.

use super::marker::parse_change;
use super::*;

const T0: u64 = 1_700_000_000_000;

fn totals(cutoff: u64, n: [usize; 4]) -> Totals {
    Totals {
        cutoff,
        end: cutoff + SETTLE_MS + SCAN_SPAN_MS,
        tally: Tally(n),
    }
}

fn marker_at(ms: u64, pin: u64, before: Option<Status>) -> Marker {
    Marker {
        stamp: RequestId::new(Millis(ms), ms ^ pin),
        change: Some((RequestId::new(Millis(T0 - 1_000_000), pin), before)),
        entries: None,
    }
}

fn pin(n: u64) -> RequestId {
    RequestId::new(Millis(T0 - 1_000_000), n)
}

#[test]
fn totals_and_changes_round_trip_and_junk_is_refused() {
    let v = json!({"c": 5, "e": 9, "n": [1, 2, 3, 4]});
    let t = parse_totals(&v).unwrap();
    assert_eq!((t.cutoff, t.end, t.tally.of(Status::Pinning)), (5, 9, 2));
    assert!(parse_totals(&json!({"c": 5, "e": 9, "n": [1, 2, 3]})).is_none());
    assert!(parse_totals(&json!({"c": 5, "e": 9, "n": [1, -2, 3, 4]})).is_none());
    assert!(parse_totals(&json!({"a": "older code's tag", "n": [1, 2, 3, 4]})).is_none());
    let id = pin(1);
    let c = parse_change(&json!({"r": id.as_str(), "b": "queued"})).unwrap();
    assert_eq!(c, (id, Some(Status::Queued)));
    assert_eq!(
        parse_change(&json!({"r": id.as_str()})).unwrap(),
        (id, None)
    );
    assert!(parse_change(&json!({"r": id.as_str(), "b": "lost"})).is_none());
    assert!(parse_change(&Value::Null).is_none());
}

#[test]
fn markers_before_the_cutoff_are_counted_and_after_the_end_are_changes() {
    let t = totals(T0, [0, 0, 5, 0]);
    let mut c = Changes {
        stored: Some(t),
        markers: vec![marker_at(T0 - 1, 1, None), marker_at(T0 - 50_000, 2, None)],
    };
    assert_eq!(c.base(), Base::Exact(Tally([0, 0, 5, 0])));
    // Newest first: pin 3 deleted (was pinned) after pin 4 was added and then updated.
    c.markers = vec![
        marker_at(t.end + 30, 3, Some(Status::Pinned)),
        marker_at(t.end + 20, 4, Some(Status::Queued)),
        marker_at(t.end + 10, 4, None),
        marker_at(T0 - 1, 1, None),
    ];
    let Base::Changed(tally, changed) = c.base() else {
        panic!("changes after the end are read");
    };
    assert_eq!(tally, Tally([0, 0, 5, 0]));
    assert_eq!(changed.get(&pin(3)), Some(&Some(Status::Pinned)));
    assert_eq!(
        changed.get(&pin(4)),
        Some(&None),
        "the earliest marker tells"
    );
    assert_eq!(changed.len(), 2);
}

#[test]
fn a_marker_the_totals_may_or_may_not_hold_forces_a_scan() {
    let t = totals(T0, [0, 0, 5, 0]);
    for at in [T0, T0 + 1, t.end] {
        let c = Changes {
            stored: Some(t),
            markers: vec![marker_at(at, 1, None)],
        };
        assert_eq!(c.base(), Base::Unknown, "{at}");
    }
    let older_code = Changes {
        stored: Some(t),
        markers: vec![Marker {
            stamp: RequestId::new(Millis(t.end + 1), 1),
            change: None,
            entries: None,
        }],
    };
    assert_eq!(older_code.base(), Base::Unknown);
    let none_stored = Changes::default();
    assert_eq!(none_stored.base(), Base::Unknown);
    let too_many = Changes {
        stored: Some(t),
        markers: (0..=MAX_TOUCHED as u64)
            .map(|i| marker_at(t.end + 1 + i, i, None))
            .collect(),
    };
    assert_eq!(too_many.base(), Base::Unknown);
}

#[test]
fn applying_changes_moves_pins_between_statuses() {
    let t = Tally([1, 0, 5, 0]);
    let moved = apply(
        t,
        [
            (Some(Status::Queued), Some(Status::Pinned)),
            (None, Some(Status::Failed)),
            (Some(Status::Pinned), None),
            (None, None), // added and deleted since
        ],
    );
    assert_eq!(moved, Some(Tally([0, 0, 5, 1])));
    assert_eq!(apply(t, [(Some(Status::Failed), None)]), None);
}

#[test]
fn a_change_older_than_the_repair_bound_asks_for_a_scan() {
    let t = totals(T0, [0, 0, 5, 0]);
    let at = t.end + 10;
    let c = Changes {
        stored: Some(t),
        markers: vec![marker_at(at, 1, None)],
    };
    let by = |ms: u64| c.base_at(Some(Millis(ms)));
    assert!(matches!(by(at + REPAIR_AFTER_MS), Base::Changed(..)));
    assert_eq!(by(at + REPAIR_AFTER_MS + 1), Base::Unknown);
    assert!(matches!(c.base(), Base::Changed(..)), "no clock, no bound");
}
