//! `POST /token`: exchange Basic credentials for a signed access token.

use crate::auth::{jwt, signing_key, user::UserId};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::Reply;

pub fn issue(config: &Config, user: &UserId, now_secs: u64) -> Result<Reply, ApiError> {
    let key = signing_key(&config.auth, user)
        .ok_or_else(|| ApiError::Unauthorized("unknown user".into()))?;
    let claims = jwt::Claims {
        sub: user.as_str().to_owned(),
        iat: now_secs,
        exp: now_secs.saturating_add(config.token_ttl_secs),
        nbf: None,
    };
    Ok(Reply::json(
        200,
        &serde_json::json!({ "token": jwt::sign(&claims, &key) }),
    ))
}
