//! HS256 JSON Web Tokens (RFC 7519), just the subset we issue: `{"alg":"HS256","typ":"JWT"}`
//! with `sub`, `jti`, `iat` and `exp`. Verification checks the algorithm, then the signature (in
//! constant time), then the time claims; nothing in a token is trusted before its signature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Tokens longer than this are refused unread (ours are ~200 bytes).
const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// The token's id: its record in KV must exist for the token to be accepted.
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    Algorithm,
    UnknownSubject,
    Signature,
    Expired,
    NotYetValid,
}

impl JwtError {
    pub fn describe(self) -> &'static str {
        match self {
            JwtError::Malformed => "access token is malformed",
            JwtError::Algorithm => "access token must be signed with HS256",
            JwtError::UnknownSubject | JwtError::Signature => "access token is invalid",
            JwtError::Expired => "access token has expired",
            JwtError::NotYetValid => "access token is not valid yet",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// A signing key; how it is derived is the caller's business (see `auth::signing_key`).
pub struct Key(pub [u8; 32]);

fn mac(key: &Key) -> HmacSha256 {
    HmacSha256::new_from_slice(&key.0).expect("HMAC takes any key length")
}

pub fn sign(claims: &Claims, key: &Key) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(key);
    m.update(signing_input.as_bytes());
    let sig = B64.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Verifies `token`; `key_for` maps the (not yet trusted) subject to its key.
pub fn verify(
    token: &str,
    now: u64,
    key_for: impl FnOnce(&str) -> Option<Key>,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| B64.decode(part).map_err(|_| JwtError::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    if header.alg != "HS256" {
        return Err(JwtError::Algorithm);
    }
    let claims: Claims = serde_json::from_slice(&decode(p)?).map_err(|_| JwtError::Malformed)?;
    let signature = decode(s)?;
    let key = key_for(&claims.sub).ok_or(JwtError::UnknownSubject)?;
    let mut m = mac(&key);
    m.update(&token.as_bytes()[..h.len() + 1 + p.len()]);
    m.verify_slice(&signature)
        .map_err(|_| JwtError::Signature)?;
    if now >= claims.exp {
        return Err(JwtError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now < nbf) {
        return Err(JwtError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key([b; 32])
    }

    fn claims() -> Claims {
        Claims {
            sub: "alice".into(),
            jti: "t1".into(),
            iat: 100,
            exp: 200,
            nbf: None,
        }
    }

    fn tamper_payload(token: &str, json: &str) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        format!("{}.{}.{}", parts[0], B64.encode(json), parts[2])
    }

    #[test]
    fn round_trip() {
        let t = sign(&claims(), &key(1));
        assert_eq!(
            verify(&t, 150, |s| (s == "alice").then(|| key(1))),
            Ok(claims())
        );
    }

    #[test]
    fn rejects_each_failure() {
        let t = sign(&claims(), &key(1));
        assert_eq!(verify(&t, 150, |_| Some(key(2))), Err(JwtError::Signature));
        assert_eq!(verify(&t, 150, |_| None), Err(JwtError::UnknownSubject));
        assert_eq!(verify(&t, 200, |_| Some(key(1))), Err(JwtError::Expired));
        let forged = tamper_payload(&t, r#"{"sub":"alice","jti":"t1","iat":100,"exp":999999}"#);
        assert_eq!(
            verify(&forged, 150, |_| Some(key(1))),
            Err(JwtError::Signature)
        );
        let future = sign(
            &Claims {
                nbf: Some(180),
                ..claims()
            },
            &key(1),
        );
        assert_eq!(
            verify(&future, 150, |_| Some(key(1))),
            Err(JwtError::NotYetValid)
        );
    }

    #[test]
    fn rejects_other_algorithms_and_garbage() {
        let t = sign(&claims(), &key(1));
        let body = t.split('.').nth(1).unwrap();
        let none = format!("{}.{body}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert_eq!(
            verify(&none, 150, |_| Some(key(1))),
            Err(JwtError::Algorithm)
        );
        let hs512 = format!(
            "{}.{body}.{}",
            B64.encode(r#"{"alg":"HS512"}"#),
            t.split('.').nth(2).unwrap()
        );
        assert_eq!(
            verify(&hs512, 150, |_| Some(key(1))),
            Err(JwtError::Algorithm)
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            &format!("{t}x"),
            &"a".repeat(5000),
        ] {
            assert!(verify(bad, 150, |_| Some(key(1))).is_err(), "{bad}");
        }
    }
}
