//! The KV key layout (documented in docs/storage.md). Every key of a pinset starts with the
//! user, so a user's requests never touch another user's keys, and no two pins share a key.
//!
//! - `p/{user}/{requestid}` — the pin record (value: JSON; metadata: what list filters need).
//! - `c/{user}/{cid}/{requestid}` — the CID index (value: empty; metadata: as above), where
//!   `{cid}` is the canonical CIDv1 base32 spelling.
//! - `n/{user}/{namehash}/{requestid}` — the name index (value: empty; metadata: as above),
//!   where `{namehash}` is 32 hex digits of the SHA-256 of the folded name (`name::fold`):
//!   the key stays short whatever the name, and a listing compares the stored name itself.
//! - `n/{user}/!` — how far the name index covers the pins written before it existed.
//! - `k/{user}/{tokenid}` — an access token's record; the token works only while it exists.
//! - `u/{user}/{tokenid}` — when the token was last used. Kept apart from the record so that a
//!   write of it can never bring a revoked record back.
//!
//! The `upstream` backend adds keys per CID (canonical spelling), shared by every user who pins
//! it but never read-modified-written by two requests (docs/storage.md, "Upstream backend"):
//!
//! - `h/{cid}/{user}/{requestid}` — one holder per pin object of that CID (value: empty).
//! - `x/{cid}` — what we last learnt from the upstream about that CID.
//! - `q/{enqueued_ms}/{cid}/{requestid}` — the sweep's work queue, oldest first (metadata: when
//!   due); the request id is that of the pin whose request queued it, so no two requests share one.
//! - `s/sweep` — where the last sweep stopped (written by the cron only).
//!
//! Request ids sort newest-first, so a prefix listing is already in the spec's order.

use crate::auth::user::UserId;
use crate::domain::{cid::Cid, request_id::RequestId, token::TokenId};
use sha2::{Digest, Sha256};

pub fn pin(user: &UserId, id: &RequestId) -> String {
    format!("p/{}/{}", user.as_str(), id.as_str())
}

pub fn pins_of(user: &UserId) -> String {
    format!("p/{}/", user.as_str())
}

pub fn cid_index(user: &UserId, cid: &Cid, id: &RequestId) -> String {
    format!("{}{}", holders_of(user, cid), id.as_str())
}

pub fn holders_of(user: &UserId, cid: &Cid) -> String {
    format!("c/{}/{}/", user.as_str(), cid.canonical())
}

/// The name index entry of a pin whose folded name is `folded`.
pub fn name_index(user: &UserId, folded: &str, id: &RequestId) -> String {
    format!("{}{}", named(user, folded), id.as_str())
}

/// Every pin whose name folds to `folded` (and, at 2^-128 odds, a colliding name).
pub fn named(user: &UserId, folded: &str) -> String {
    format!("n/{}/{}/", user.as_str(), name_hash(folded))
}

/// The `{namehash}` of a folded name: 32 hex digits.
pub fn name_hash(folded: &str) -> String {
    let digest = Sha256::digest(folded.as_bytes());
    let mut hash = String::with_capacity(32);
    for b in &digest[..16] {
        hash.push(char::from_digit(u32::from(b >> 4), 16).expect("a nibble"));
        hash.push(char::from_digit(u32::from(b & 15), 16).expect("a nibble"));
    }
    hash
}

/// The name index entry of a pin, by its name's hash (as a change marker carries it).
pub fn name_index_hashed(user: &UserId, hash: &str, id: &RequestId) -> String {
    format!("n/{}/{hash}/{}", user.as_str(), id.as_str())
}

/// Apart from the pins' prefix, so that status listings never list it, and outside every
/// name's prefix (`!` is no hex digit).
pub fn name_index_state(user: &UserId) -> String {
    format!("n/{}/!", user.as_str())
}

pub fn token(user: &UserId, id: &TokenId) -> String {
    format!("{}{}", tokens_of(user), id.as_str())
}

pub fn tokens_of(user: &UserId) -> String {
    format!("k/{}/", user.as_str())
}

pub fn token_used(user: &UserId, id: &TokenId) -> String {
    format!("{}{}", tokens_used_of(user), id.as_str())
}

pub fn tokens_used_of(user: &UserId) -> String {
    format!("u/{}/", user.as_str())
}

pub fn holder(cid: &str, user: &UserId, id: &RequestId) -> String {
    format!("{}{}/{}", holders_of_cid(cid), user.as_str(), id.as_str())
}

/// Every holder of a CID, whoever the user: the upstream pin stays while this prefix is not empty.
pub fn holders_of_cid(cid: &str) -> String {
    format!("h/{cid}/")
}

/// The holders of a CID that are one user's pin objects.
pub fn holders_of_cid_by(cid: &str, user: &UserId) -> String {
    format!("{}{}/", holders_of_cid(cid), user.as_str())
}

/// The user and request id a listed holder key names.
pub fn holder_of(key: &str) -> Option<(UserId, RequestId)> {
    let mut parts = key.rsplit('/');
    let id = RequestId::parse(parts.next()?)?;
    let user = UserId::parse(parts.next()?).ok()?;
    Some((user, id))
}

pub fn cid_state(cid: &str) -> String {
    format!("{CID_STATES}{cid}")
}

/// Every CID state (the sweep's re-verification walks them).
pub const CID_STATES: &str = "x/";

pub const QUEUE: &str = "q/";

/// Zero-padded so that keys sort by enqueue time: the sweep takes the oldest first.
pub fn queued(enqueued_ms: u64, cid: &str, by: &RequestId) -> String {
    format!("{QUEUE}{enqueued_ms:013}/{cid}/{}", by.as_str())
}

/// The CID a listed queue key names.
pub fn queued_cid(key: &str) -> Option<&str> {
    let mut parts = key.strip_prefix(QUEUE)?.split('/');
    let (_, cid, _, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    (!cid.is_empty() && rest.is_none()).then_some(cid)
}

pub const SWEEP_CURSOR: &str = "s/sweep";

/// The token id a listed `k/` or `u/` key ends with.
pub fn token_id_of(key: &str) -> Option<TokenId> {
    TokenId::parse(key.rsplit('/').next()?)
}

/// The request id a listed key ends with; `None` for a key this layout did not write.
pub fn request_id_of(key: &str) -> Option<RequestId> {
    RequestId::parse(key.rsplit('/').next()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timestamp::Millis;

    #[test]
    fn layout() {
        let u = UserId::parse("alice").unwrap();
        let id = RequestId::new(Millis(1), 2);
        let cid = Cid::parse("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG").unwrap();
        assert_eq!(pin(&u, &id), format!("p/alice/{}", id.as_str()));
        assert!(pin(&u, &id).starts_with(&pins_of(&u)));
        let c = cid_index(&u, &cid, &id);
        assert_eq!(
            c,
            format!(
                "c/alice/bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34/{}",
                id.as_str()
            )
        );
        assert!(c.starts_with(&holders_of(&u, &cid)));
        assert_eq!(request_id_of(&c), Some(id));
        assert_eq!(request_id_of("p/alice/junk"), None);
    }

    #[test]
    fn name_keys_are_short_whatever_the_name() {
        let u = UserId::parse(&"u".repeat(64)).unwrap();
        let id = RequestId::new(Millis(1), 2);
        let longest = "\u{10FFFF}".repeat(255);
        let k = name_index(&u, &longest, &id);
        assert_eq!(k.len(), 2 + 64 + 1 + 32 + 1 + 32);
        assert!(k.len() <= 512, "KV's key limit");
        assert!(k.starts_with(&named(&u, &longest)));
        assert_eq!(request_id_of(&k), Some(id));
        assert_ne!(named(&u, "a"), named(&u, "b"));
        assert_eq!(named(&u, "a"), named(&u, "a"));
        assert!(!named(&u, "").is_empty());
        assert!(!name_index_state(&u).starts_with(&named(&u, "")));
        assert!(!name_index_state(&u).starts_with(&pins_of(&u)));
    }

    #[test]
    fn upstream_layout() {
        let u = UserId::parse("alice").unwrap();
        let id = RequestId::new(Millis(1), 2);
        let cid = "bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34";
        let h = holder(cid, &u, &id);
        assert!(h.starts_with(&holders_of_cid(cid)));
        assert!(h.starts_with(&holders_of_cid_by(cid, &u)));
        let al = UserId::parse("al").unwrap();
        assert!(!h.starts_with(&holders_of_cid_by(cid, &al)));
        assert_eq!(holder_of(&h), Some((u, id)));
        let q = queued(42, cid, &id);
        assert_eq!(q, format!("q/0000000000042/{cid}/{}", id.as_str()));
        assert!(queued(9, cid, &id) < queued(10, cid, &id));
        assert_eq!(queued_cid(&q), Some(cid));
        assert_eq!(queued_cid("q/junk"), None);
        assert_eq!(queued_cid("q/1/cid"), None);
    }

    #[test]
    fn one_user_prefix_never_covers_another() {
        let a = UserId::parse("al").unwrap();
        let b = UserId::parse("alice").unwrap();
        let id = RequestId::new(Millis(1), 2);
        assert!(!pin(&b, &id).starts_with(&pins_of(&a)));
    }
}
