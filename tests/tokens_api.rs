//! Access tokens natively: issue → use → list → revoke → 401, rotation, isolation.
//! (Rate limits: tests/limits.rs.)

mod common;

use common::Client;

fn issue(c: &Client, user: &str, body: &str) -> (String, String) {
    let a = c.call(user, "POST", "/token", body);
    assert_eq!(a.status, 200, "{}", a.body);
    (
        a.body["token"].as_str().unwrap().to_owned(),
        a.body["id"].as_str().unwrap().to_owned(),
    )
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[test]
fn issue_use_list_revoke() {
    let c = Client::new("instant", 1000);
    let laptop = c.call(
        "alice",
        "POST",
        "/token",
        r#"{"label":"laptop","expires_in":3600}"#,
    );
    assert_eq!(laptop.body["label"], "laptop");
    assert!(laptop.body["expires_at"].as_str().unwrap().ends_with('Z'));
    let (laptop_t, laptop_id) = (
        laptop.body["token"].as_str().unwrap(),
        laptop.body["id"].as_str().unwrap(),
    );
    let (phone_t, _) = issue(&c, "alice", "");

    assert_eq!(c.call_as(&bearer(laptop_t), "GET", "/pins", "").status, 200);
    let listed = c.call_as(&bearer(&phone_t), "GET", "/tokens", "");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["count"], 2);
    assert!(
        !listed.body.to_string().contains(laptop_t),
        "listing never reveals a token"
    );
    let entry = listed.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == laptop_id)
        .unwrap();
    assert_eq!(entry["label"], "laptop");
    assert!(
        entry["last_used"].is_string(),
        "the first use in an isolate is recorded"
    );

    let revoked = c.call_as(
        &bearer(&phone_t),
        "DELETE",
        &format!("/tokens/{laptop_id}"),
        "",
    );
    assert_eq!(revoked.status, 204);
    let after = c.call_as(&bearer(laptop_t), "GET", "/pins", "");
    assert_eq!(after.status, 401);
    assert!(after.reply.header("www-authenticate").is_some());
    assert_eq!(
        c.call_as(&bearer(&phone_t), "GET", "/pins", "").status,
        200,
        "other tokens keep working"
    );
    assert_eq!(
        c.call("alice", "DELETE", &format!("/tokens/{laptop_id}"), "")
            .status,
        404
    );
}

#[test]
fn a_token_is_checked_against_its_record_each_request() {
    let c = Client::new("instant", 1000);
    let (t, _) = issue(&c, "alice", "");
    let ok = c.call_as(&bearer(&t), "GET", "/pins", "");
    assert!(
        common::Client::ops(&ok).starts_with("get=1,"),
        "one get for the token record"
    );
}

#[test]
fn expiry() {
    let mut c = Client::new("instant", 1000);
    let (t, _) = issue(&c, "alice", r#"{"expires_in":60}"#);
    assert_eq!(c.call_as(&bearer(&t), "GET", "/pins", "").status, 200);
    c.now += 61_000;
    let expired = c.call_as(&bearer(&t), "GET", "/pins", "");
    assert_eq!(
        (expired.status, expired.body["error"]["details"].as_str()),
        (401, Some("access token has expired"))
    );
    assert_eq!(
        c.call("alice", "GET", "/tokens", "").body["count"],
        0,
        "expired tokens are not listed"
    );
}

#[test]
fn cross_user_and_bad_requests() {
    let c = Client::new("instant", 1000);
    let (_, alice_id) = issue(&c, "alice", "");
    let (bob_t, _) = issue(&c, "bob", "");
    assert_eq!(
        c.call_as(
            &bearer(&bob_t),
            "DELETE",
            &format!("/tokens/{alice_id}"),
            ""
        )
        .status,
        404
    );
    assert_eq!(
        c.call_as(&bearer(&bob_t), "GET", "/tokens", "").body["count"],
        1
    );
    assert_eq!(c.call("alice", "GET", "/tokens", "").body["count"], 1);
    assert_eq!(
        c.call_as(&bearer(&bob_t), "POST", "/token", "").status,
        401,
        "a token cannot mint tokens"
    );
    assert_eq!(
        c.call("alice", "POST", "/token", r#"{"expires_in":0}"#)
            .status,
        400
    );
    assert_eq!(c.call("alice", "POST", "/token", "{").status, 400);
}

#[test]
fn rotating_the_password_invalidates_tokens() {
    let mut c = Client::new("instant", 1000);
    let (t, _) = issue(&c, "alice", "");
    c.config = edge_pinning::config::Config::from_env(|k| {
        Some(match k {
            "USERS" => r#"{"alice":"new-pw","bob":"bob-pw"}"#.to_owned(),
            "JWT_SECRET" => "test-secret-0123456789".to_owned(),
            "PIN_BACKEND" => "instant".to_owned(),
            "DELEGATES" => common::DELEGATE.to_owned(),
            _ => return None,
        })
    })
    .unwrap();
    assert_eq!(c.call_as(&bearer(&t), "GET", "/pins", "").status, 401);
}
