//! Who is calling: HTTP Basic (checked against `USERS`) or a Bearer JWT from `POST /token`.

pub mod jwt;
pub mod user;
pub mod users;

use crate::error::ApiError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use user::UserId;
use users::Users;

/// The secrets authentication needs; both come from Worker secrets.
pub struct AuthConfig {
    pub users: Users,
    pub jwt_secret: Vec<u8>,
}

/// Which credentials an endpoint accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    BasicOrBearer,
    BasicOnly,
}

/// The key that signs `user`'s tokens: derived from the server secret and the user's password,
/// so rotating either invalidates the user's tokens, and a leaked password alone mints none.
pub fn signing_key(cfg: &AuthConfig, user: &UserId) -> Option<jwt::Key> {
    let password = cfg.users.password_of(user)?;
    let mut m = Hmac::<Sha256>::new_from_slice(&cfg.jwt_secret).expect("HMAC takes any key length");
    m.update(b"ipfs-pinning-jwt-v1\0");
    m.update(user.as_str().as_bytes());
    m.update(b"\0");
    m.update(password.as_bytes());
    Some(jwt::Key(m.finalize().into_bytes().into()))
}

/// An authenticated caller; `token` is the id of the access token used, if any, whose record
/// the caller of `authenticate` must still find in KV before trusting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub token: Option<String>,
}

pub fn authenticate(
    cfg: &AuthConfig,
    header: Option<&str>,
    now_secs: u64,
    accept: Accept,
) -> Result<Caller, ApiError> {
    let header = header.ok_or_else(|| unauthorized("missing Authorization header"))?;
    let (scheme, credentials) = header.trim().split_once(' ').unwrap_or((header, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let (name, password) = decode_basic(credentials)?;
        let user = cfg
            .users
            .verify(&name, &password)
            .ok_or_else(|| unauthorized("wrong user name or password"))?;
        Ok(Caller { user, token: None })
    } else if scheme.eq_ignore_ascii_case("bearer") && accept == Accept::BasicOrBearer {
        let claims = jwt::verify(credentials, now_secs, |sub| {
            UserId::parse(sub).ok().and_then(|u| signing_key(cfg, &u))
        })
        .map_err(|e| unauthorized(e.describe()))?;
        let user =
            UserId::parse(&claims.sub).map_err(|_| unauthorized("access token is invalid"))?;
        Ok(Caller {
            user,
            token: Some(claims.jti),
        })
    } else if accept == Accept::BasicOnly {
        Err(unauthorized("this endpoint takes Basic credentials"))
    } else {
        Err(unauthorized(
            "Authorization must be Bearer <token> or Basic credentials",
        ))
    }
}

/// Whether the credentials are a password (Basic), the one kind a client could guess.
pub fn is_password(header: Option<&str>) -> bool {
    header
        .and_then(|h| h.split_whitespace().next())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic"))
}

fn decode_basic(credentials: &str) -> Result<(String, String), ApiError> {
    let malformed = || unauthorized("malformed Basic credentials");
    let bytes = STANDARD.decode(credentials).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (name, password) = text.split_once(':').ok_or_else(malformed)?;
    Ok((name.to_owned(), password.to_owned()))
}

pub fn unauthorized(why: &str) -> ApiError {
    ApiError::Unauthorized(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(users: &str, secret: &str) -> AuthConfig {
        AuthConfig {
            users: Users::parse(users).unwrap(),
            jwt_secret: secret.as_bytes().to_vec(),
        }
    }

    fn basic(u: &str, p: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{u}:{p}")))
    }

    fn token(cfg: &AuthConfig, user: &str, exp: u64) -> String {
        let u = UserId::parse(user).unwrap();
        let claims = jwt::Claims {
            sub: user.into(),
            jti: "t1".into(),
            iat: 0,
            exp,
            nbf: None,
        };
        format!(
            "Bearer {}",
            jwt::sign(&claims, &signing_key(cfg, &u).unwrap())
        )
    }

    const USERS: &str = r#"{"alice":"a-pw","bob":"b-pw"}"#;

    #[test]
    fn basic_and_bearer() {
        let c = cfg(USERS, "server-secret");
        let ok = |h: &str, a| authenticate(&c, Some(h), 10, a).map(|c| c.user.as_str().to_owned());
        assert_eq!(
            ok(&basic("alice", "a-pw"), Accept::BasicOnly).unwrap(),
            "alice"
        );
        assert_eq!(
            ok(&token(&c, "bob", 100), Accept::BasicOrBearer).unwrap(),
            "bob"
        );
        assert_eq!(
            ok(
                &token(&c, "bob", 100).replace("Bearer", "bearer"),
                Accept::BasicOrBearer
            )
            .unwrap(),
            "bob"
        );
        assert!(ok(&token(&c, "bob", 100), Accept::BasicOnly).is_err());
        assert!(
            ok(&token(&c, "bob", 5), Accept::BasicOrBearer).is_err(),
            "expired"
        );
        assert!(ok(&basic("alice", "b-pw"), Accept::BasicOrBearer).is_err());
        assert!(ok("Basic !!!", Accept::BasicOrBearer).is_err());
        assert!(ok("Digest x", Accept::BasicOrBearer).is_err());
        assert!(authenticate(&c, None, 10, Accept::BasicOrBearer).is_err());
    }

    #[test]
    fn rotating_secret_or_password_invalidates_tokens() {
        let c = cfg(USERS, "server-secret");
        let t = token(&c, "alice", 100);
        let rotated_secret = cfg(USERS, "new-secret");
        assert!(authenticate(&rotated_secret, Some(&t), 10, Accept::BasicOrBearer).is_err());
        let rotated_pw = cfg(r#"{"alice":"new-pw","bob":"b-pw"}"#, "server-secret");
        assert!(authenticate(&rotated_pw, Some(&t), 10, Accept::BasicOrBearer).is_err());
        let removed = cfg(r#"{"bob":"b-pw"}"#, "server-secret");
        assert!(authenticate(&removed, Some(&t), 10, Accept::BasicOrBearer).is_err());
    }

    #[test]
    fn a_token_names_only_its_own_user() {
        let c = cfg(USERS, "server-secret");
        // Bob's key cannot sign a token for alice.
        let bob = UserId::parse("bob").unwrap();
        let claims = jwt::Claims {
            sub: "alice".into(),
            jti: "t1".into(),
            iat: 0,
            exp: 100,
            nbf: None,
        };
        let forged = format!(
            "Bearer {}",
            jwt::sign(&claims, &signing_key(&c, &bob).unwrap())
        );
        assert!(authenticate(&c, Some(&forged), 10, Accept::BasicOrBearer).is_err());
    }
}
