//! The user registry, read from the `USERS` secret: a JSON object `{"name": "password", ...}`.

use super::user::UserId;
use serde_json::{error::Category, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Each user's password, and its SHA-256 for the constant-time comparison (made once, when the
/// settings are parsed, rather than on every sign-in).
pub struct Users {
    accounts: BTreeMap<UserId, (String, [u8; 32])>,
    /// What a sign-in as an unknown user is compared against, so that it costs the same.
    nobody: [u8; 32],
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s).into()
}

impl Users {
    /// Errors say what is wrong with the secret's shape and never quote it: the text reaches
    /// every client (a 500) and the logs, and a value, a name or a parser's excerpt of either
    /// could be a password.
    pub fn parse(json: &str) -> Result<Users, String> {
        let shape = "USERS must be a JSON object of user name to password";
        let value: Value = serde_json::from_str(json).map_err(|e| match e.classify() {
            Category::Syntax | Category::Eof => format!(
                "{shape}: it is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
            _ => format!("{shape}: it is not JSON"),
        })?;
        let Value::Object(raw) = value else {
            return Err(format!("{shape}: it is JSON but not an object"));
        };
        let mut users = BTreeMap::new();
        for (name, password) in raw {
            let Value::String(password) = password else {
                return Err(format!("{shape}: a password is not a string"));
            };
            if password.is_empty() {
                return Err(format!("{shape}: a password is empty"));
            }
            let id = UserId::parse(&name).map_err(|_| {
                format!("{shape}: a user name is not 1-64 characters of A-Z a-z 0-9 . _ @ -")
            })?;
            let d = digest(&password);
            users.insert(id, (password, d));
        }
        Ok(Users {
            accounts: users,
            nobody: digest("\u{0}no such user"),
        })
    }

    /// The user if the password is theirs. The comparison takes the same time whether the user
    /// exists or not, and however much of the password is right.
    pub fn verify(&self, name: &str, password: &str) -> Option<UserId> {
        let found = UserId::parse(name)
            .ok()
            .and_then(|id| self.accounts.get_key_value(&id));
        let expected = found.map_or(&self.nobody, |(_, (_, d))| d);
        let same = constant_time_eq(expected, &digest(password));
        match found {
            Some((id, _)) if same => Some(id.clone()),
            _ => None,
        }
    }

    pub fn password_of(&self, user: &UserId) -> Option<&str> {
        self.accounts.get(user).map(|(pw, _)| pw.as_str())
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

    /// Every refusal names the setting and the shape's fault, never a value, a user name, or a
    /// parser's excerpt of either (serde's messages quote what they found).
    #[test]
    fn refusals_never_quote_the_secret() {
        for bad in [
            r#"{"bob":739184265}"#,
            r#"{"bob":"739184265","carol-739184265":1}"#,
            r#"{"bob/739184265":"pw"}"#,
            r#"{"bob":""}"#,
            r#"{"bob":["739184265"]}"#,
            r#"["bob","739184265"]"#,
            r#""bob:739184265""#,
            "bob:739184265",
            r#"{"bob":"739184265""#,
            r#"{"bob":"739184265"} 739184265"#,
            "739184265",
        ] {
            let e = Users::parse(bad).err().expect(bad);
            assert!(e.starts_with("USERS"), "{e}");
            assert!(
                !e.contains("739184265") && !e.contains("bob"),
                "{bad} -> {e}"
            );
        }
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
