//! User identities. Names appear inside KV keys, so they are restricted to characters that
//! cannot break the key layout (no `/`).

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<UserId, String> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
        if ok {
            Ok(UserId(s.to_owned()))
        } else {
            Err(format!(
                "user name '{s}' must be 1-64 characters of A-Z a-z 0-9 . _ @ -"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_keys() {
        assert!(UserId::parse("alice@example.com").is_ok());
        for bad in ["", "a/b", "a b", "ä", &"x".repeat(65)] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }
}
