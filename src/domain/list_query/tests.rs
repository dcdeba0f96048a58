//! `GET /pins` queries parsed: every parameter, its bounds and its errors.

use super::*;

fn q(s: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
    let pairs: Vec<_> = s
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ListQuery::parse(&pairs)
}

fn bad_field(s: &[(&str, &str)]) -> String {
    match q(s) {
        Err(ApiError::BadRequest(d)) => d.split(':').next().unwrap().to_owned(),
        other => panic!("expected 400, got {other:?}"),
    }
}

const V0: &str = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
const V1: &str = "bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34";

#[test]
fn defaults() {
    let d = q(&[]).unwrap();
    assert_eq!(d.limit, 10);
    assert_eq!(d.status, StatusSet::PINNED_ONLY);
    assert!(d.cids.is_none() && d.name.is_none() && d.meta.is_none());
}

#[test]
fn parses_every_parameter() {
    let d = q(&[
        ("cid", &format!("{V0},{V1}")),
        ("name", "x"),
        ("match", "ipartial"),
        ("status", "queued,failed"),
        ("before", "2030-01-01T00:00:00Z"),
        ("after", "2020-01-01T00:00:00.5Z"),
        ("limit", "1000"),
        ("meta", r#"{"app":"a"}"#),
        ("unknown", "ignored"),
    ])
    .unwrap();
    assert_eq!(d.cids.unwrap().len(), 1, "v0 and v1 of one CID dedupe");
    assert!(d.status.contains(Status::Queued) && !d.status.contains(Status::Pinned));
    assert_eq!(d.limit, 1000);
}

#[test]
fn names_the_bad_parameter() {
    assert_eq!(bad_field(&[("limit", "0")]), "limit");
    assert_eq!(bad_field(&[("limit", "1001")]), "limit");
    assert_eq!(bad_field(&[("limit", "ten")]), "limit");
    assert_eq!(bad_field(&[("limit", "1"), ("limit", "2")]), "limit");
    assert_eq!(bad_field(&[("status", "pinned,pinned")]), "status");
    assert_eq!(bad_field(&[("status", "")]), "status");
    assert_eq!(bad_field(&[("cid", "")]), "cid");
    assert_eq!(bad_field(&[("cid", "nope")]), "cid");
    let eleven = [V1; 11].join(",");
    assert_eq!(bad_field(&[("cid", &eleven)]), "cid");
    assert_eq!(bad_field(&[("cid", &format!("{V1},{V1}"))]), "cid");
    assert_eq!(bad_field(&[("cid", V1), ("cid", V1)]), "cid");
    assert_eq!(bad_field(&[("name", &"n".repeat(256))]), "name");
    assert_eq!(bad_field(&[("match", "fuzzy")]), "match");
    assert_eq!(bad_field(&[("before", "yesterday")]), "before");
    assert_eq!(bad_field(&[("after", "2020-01-01")]), "after");
    assert_eq!(bad_field(&[("meta", "{")]), "meta");
    assert_eq!(bad_field(&[("meta", r#"{"a":1}"#)]), "meta");
    assert_eq!(bad_field(&[("meta[a]", "1"), ("meta[a]", "2")]), "meta[a]");
    assert_eq!(bad_field(&[("meta", "{}"), ("meta[a]", "1")]), "meta");
}

#[test]
fn empty_strings_the_schema_allows_are_filters() {
    // `name` has only a maxLength, and a meta key may be any string.
    let d = q(&[("name", ""), ("meta", r#"{"":""}"#)]).unwrap();
    assert!(d.name.is_some() && d.meta.is_some());
}

#[test]
fn meta_as_deep_object_is_the_same_filter() {
    let json = q(&[("meta", r#"{"app":"a","v":"1"}"#)]).unwrap().meta;
    let deep = q(&[("meta[app]", "a"), ("meta[v]", "1")]).unwrap().meta;
    assert_eq!(deep, json);
    assert!(deep.is_some());
}

#[test]
fn judges_candidates() {
    let query = q(&[
        ("name", "doc"),
        ("match", "partial"),
        ("status", "pinned,queued"),
    ])
    .unwrap();
    let meta = BTreeMap::new();
    let mut c = Candidate {
        created: Millis(5),
        status: Status::Pinned,
        name: Some(Some("my doc")),
        meta: Some(&meta),
    };
    assert_eq!(query.judge(&c), Verdict::Yes);
    c.name = Some(None);
    assert_eq!(query.judge(&c), Verdict::No);
    c.name = None;
    assert_eq!(query.judge(&c), Verdict::NeedRecord);
    c.status = Status::Failed;
    assert_eq!(
        query.judge(&c),
        Verdict::No,
        "cheap filters decide before a read"
    );
}

#[test]
fn bounds_are_exclusive() {
    let query = q(&[
        ("before", "1970-01-01T00:00:00.010Z"),
        ("after", "1970-01-01T00:00:00.005Z"),
    ])
    .unwrap();
    let at = |ms| Candidate {
        created: Millis(ms),
        status: Status::Pinned,
        name: None,
        meta: None,
    };
    assert_eq!(query.judge(&at(10)), Verdict::No);
    assert_eq!(query.judge(&at(9)), Verdict::Yes);
    assert_eq!(query.judge(&at(5)), Verdict::No);
    assert_eq!(query.judge(&at(6)), Verdict::Yes);
}
