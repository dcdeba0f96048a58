//! Access-token ids and the optional `POST /token` body `{"label": "...", "expires_in": seconds}`.

use crate::error::ApiError;
use serde_json::Value;

pub const MAX_LABEL_CHARS: usize = 255;
/// Longest lifetime a client may ask for: ten years.
pub const MAX_EXPIRES_IN_SECS: u64 = 10 * 365 * 24 * 3600;

/// 32 lowercase hex digits, random.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenId(String);

impl TokenId {
    pub fn new(random: u128) -> TokenId {
        TokenId(format!("{random:032x}"))
    }

    /// Anything else cannot name a token: the caller answers 404 (or 401 inside a JWT).
    pub fn parse(s: &str) -> Option<TokenId> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| TokenId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenRequest {
    pub label: Option<String>,
    pub expires_in: Option<u64>,
}

impl TokenRequest {
    /// An empty body is the seed's contract (Basic in, token out) and takes the defaults.
    pub fn parse(body: &[u8]) -> Result<TokenRequest, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(TokenRequest::default());
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad("body", format!("not valid JSON ({e})")))?;
        let Value::Object(obj) = value else {
            return Err(ApiError::bad("body", "must be a JSON object"));
        };
        let label = match obj.get("label") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_LABEL_CHARS => {
                Some(s.clone())
            }
            Some(_) => {
                return Err(ApiError::bad(
                    "label",
                    format!("must be a string of 1 to {MAX_LABEL_CHARS} characters"),
                ))
            }
        };
        let expires_in = match obj.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_EXPIRES_IN_SECS).contains(&n) => Some(n),
                _ => {
                    return Err(ApiError::bad(
                        "expires_in",
                        format!(
                            "must be a whole number of seconds from 1 to {MAX_EXPIRES_IN_SECS}"
                        ),
                    ))
                }
            },
        };
        Ok(TokenRequest { label, expires_in })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bodies() {
        assert_eq!(TokenRequest::parse(b"").unwrap(), TokenRequest::default());
        let r = TokenRequest::parse(br#"{"label":"laptop","expires_in":3600}"#).unwrap();
        assert_eq!(
            (r.label.as_deref(), r.expires_in),
            (Some("laptop"), Some(3600))
        );
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"label":5}"#,
            br#"{"label":""}"#,
            br#"{"expires_in":0}"#,
            br#"{"expires_in":-5}"#,
            br#"{"expires_in":1.5}"#,
            br#"{"expires_in":"60"}"#,
        ] {
            assert!(
                TokenRequest::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn ids() {
        let id = TokenId::new(0xabc);
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(TokenId::parse(id.as_str()), Some(id));
        assert_eq!(TokenId::parse("nope"), None);
    }
}
