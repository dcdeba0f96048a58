//! Access-token ids and the optional `POST /token` body `{"label": "...", "expires_in": seconds}`.

use crate::error::ApiError;
use serde_json::Value;

/// A label's bound in bytes of UTF-8, not characters: the record is KV metadata, which KV
/// bounds at 1024 bytes as serialized JSON; 255 bytes escape to at most 510.
pub const MAX_LABEL_BYTES: usize = 255;
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
            Some(Value::String(s)) => Some(parse_label(s).map_err(|e| ApiError::bad("label", e))?),
            Some(_) => return Err(ApiError::bad("label", "must be a string")),
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

fn parse_label(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > MAX_LABEL_BYTES {
        return Err(format!(
            "must be 1 to {MAX_LABEL_BYTES} bytes of UTF-8, got {}",
            s.len()
        ));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
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
            br#"{"label":"tab\there"}"#,
            br#"{"label":"nul\u0000"}"#,
            br#"{"label":"c1\u0085"}"#,
        ] {
            assert!(
                TokenRequest::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// The longest labels, however they are spelled, fit a token record in KV's 1024 bytes
    /// of metadata (as serialized); one byte more is refused.
    #[test]
    fn labels_are_bounded_in_bytes() {
        for unit in ["x", "\"", "\\", "é", "€", "😀"] {
            let longest = unit.repeat(MAX_LABEL_BYTES / unit.len());
            let body = serde_json::json!({ "label": longest }).to_string();
            let label = TokenRequest::parse(body.as_bytes()).unwrap().label.unwrap();
            let record = crate::store::tokens::TokenRecord {
                label: Some(label),
                created_ms: u64::MAX,
                expires_secs: u64::MAX,
            };
            assert!(serde_json::to_string(&record).unwrap().len() <= 1024);
            let over = serde_json::json!({ "label": format!("{longest}{unit}") }).to_string();
            assert!(TokenRequest::parse(over.as_bytes()).is_err(), "{unit}");
        }
        let emoji = serde_json::json!({ "label": "😀".repeat(255) }).to_string();
        assert!(TokenRequest::parse(emoji.as_bytes()).is_err());
    }

    #[test]
    fn ids() {
        let id = TokenId::new(0xabc);
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(TokenId::parse(id.as_str()), Some(id));
        assert_eq!(TokenId::parse("nope"), None);
    }
}
