//! The user registry, read from the `USERS` secret: a JSON object `{"name": "password", ...}`.

use super::user::UserId;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub struct Users(BTreeMap<UserId, String>);

impl Users {
    pub fn parse(json: &str) -> Result<Users, String> {
        let raw: BTreeMap<String, String> = serde_json::from_str(json)
            .map_err(|e| format!("USERS must be a JSON object of user name to password ({e})"))?;
        let mut users = BTreeMap::new();
        for (name, password) in raw {
            if password.is_empty() {
                return Err(format!("USERS: user '{name}' has an empty password"));
            }
            users.insert(
                UserId::parse(&name).map_err(|e| format!("USERS: {e}"))?,
                password,
            );
        }
        Ok(Users(users))
    }

    /// The user if the password is theirs. The comparison takes the same time whether the user
    /// exists or not, and however much of the password is right.
    pub fn verify(&self, name: &str, password: &str) -> Option<UserId> {
        let found = UserId::parse(name)
            .ok()
            .and_then(|id| self.0.get_key_value(&id));
        let expected = found.map_or("\u{0}no such user", |(_, pw)| pw.as_str());
        let same = constant_time_eq(&Sha256::digest(expected), &Sha256::digest(password));
        match found {
            Some((id, _)) if same => Some(id.clone()),
            _ => None,
        }
    }

    pub fn password_of(&self, user: &UserId) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }
}

/// Equal-length comparison whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_passwords() {
        let users = Users::parse(r#"{"alice":"pw-a","bob":"pw-b"}"#).unwrap();
        assert_eq!(users.verify("alice", "pw-a").unwrap().as_str(), "alice");
        assert!(users.verify("alice", "pw-b").is_none());
        assert!(users.verify("alice", "").is_none());
        assert!(users.verify("carol", "pw-a").is_none());
        assert!(users.verify("a/b", "pw-a").is_none());
    }

    #[test]
    fn refuses_bad_registries() {
        assert!(Users::parse("alice:pw").is_err());
        assert!(Users::parse(r#"{"a/b":"pw"}"#).is_err());
        assert!(Users::parse(r#"{"a":""}"#).is_err());
        assert!(Users::parse(r#"{"a":1}"#).is_err());
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
