//! Issuing, listing, revoking and checking a user's access tokens.

use super::model::{IssuedToken, TokenInfo, TokenList};
use crate::auth::{jwt, signing_key, unauthorized, user::UserId, AuthConfig};
use crate::domain::timestamp::Millis;
use crate::domain::token::{TokenId, TokenRequest};
use crate::error::{storage, ApiError};
use crate::store::kv::Kv;
use crate::store::tokens::{TokenRecord, TokenStore};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How often one isolate records a token's last use (a KV write), at most.
const TOUCH_EVERY_MS: u64 = 3600 * 1000;
/// Bound on the isolate's memory of recent touches.
const TOUCH_MEMORY: usize = 10_000;

pub struct TokenService<'a, K> {
    store: TokenStore<'a, K>,
    user: &'a UserId,
}

impl<'a, K: Kv> TokenService<'a, K> {
    pub fn new(kv: &'a K, user: &'a UserId) -> Self {
        TokenService {
            store: TokenStore::new(kv, user),
            user,
        }
    }

    pub async fn issue(
        &self,
        auth: &AuthConfig,
        req: TokenRequest,
        default_ttl: u64,
        now: Millis,
    ) -> Result<IssuedToken, ApiError> {
        let key = signing_key(auth, self.user).ok_or_else(|| unauthorized("unknown user"))?;
        let id = TokenId::new(random_u128()?);
        let now_secs = now.0 / 1000;
        let expires_secs = now_secs.saturating_add(req.expires_in.unwrap_or(default_ttl));
        let record = TokenRecord {
            label: req.label,
            created_ms: now.0,
            expires_secs,
        };
        // The record is written before the token exists anywhere, so it is valid on first use.
        self.store
            .put(&id, &record, now_secs)
            .await
            .map_err(storage)?;
        let claims = jwt::Claims {
            sub: self.user.as_str().to_owned(),
            jti: id.as_str().to_owned(),
            iat: now_secs,
            exp: expires_secs,
            nbf: None,
        };
        Ok(IssuedToken {
            token: jwt::sign(&claims, &key),
            id: id.as_str().to_owned(),
            label: record.label,
            expires_at: Millis(expires_secs * 1000).to_rfc3339(),
        })
    }

    /// Newest first. Expired tokens whose records KV has not yet dropped are left out.
    pub async fn list(&self, now: Millis) -> Result<TokenList, ApiError> {
        let mut tokens = self.store.list().await.map_err(storage)?;
        let used = self.store.last_used().await.map_err(storage)?;
        tokens.retain(|(_, r)| r.expires_secs > now.0 / 1000);
        tokens.sort_by(|a, b| {
            b.1.created_ms
                .cmp(&a.1.created_ms)
                .then_with(|| a.0.cmp(&b.0))
        });
        let results: Vec<TokenInfo> = tokens
            .into_iter()
            .map(|(id, r)| TokenInfo {
                last_used: used.get(&id).map(|t| Millis(*t).to_rfc3339()),
                id: id.as_str().to_owned(),
                label: r.label,
                created: Millis(r.created_ms).to_rfc3339(),
                expires_at: Millis(r.expires_secs * 1000).to_rfc3339(),
            })
            .collect();
        Ok(TokenList {
            count: results.len(),
            results,
        })
    }

    pub async fn revoke(&self, id: &str) -> Result<(), ApiError> {
        let not_found = || ApiError::NotFound("no token with this id".into());
        let id = TokenId::parse(id).ok_or_else(not_found)?;
        self.store
            .get(&id)
            .await
            .map_err(storage)?
            .ok_or_else(not_found)?;
        self.store.delete(&id).await.map_err(storage)
    }

    /// A verified JWT is accepted only while its record exists (not revoked) and is unexpired.
    pub async fn check(&self, jti: &str, now: Millis) -> Result<(), ApiError> {
        let revoked = || unauthorized("access token has been revoked");
        let id = TokenId::parse(jti).ok_or_else(|| unauthorized("access token is invalid"))?;
        let record = self
            .store
            .get(&id)
            .await
            .map_err(storage)?
            .ok_or_else(revoked)?;
        if record.expires_secs <= now.0 / 1000 {
            return Err(unauthorized("access token has expired"));
        }
        if due_for_touch(self.user, &id, now) {
            // Best effort: a failed note of last use must not fail the request.
            let _ = self.store.touch(&id, &record, now.0).await;
        }
        Ok(())
    }
}

static TOUCHED: Mutex<BTreeMap<(String, String), u64>> = Mutex::new(BTreeMap::new());

fn due_for_touch(user: &UserId, id: &TokenId, now: Millis) -> bool {
    let Ok(mut touched) = TOUCHED.lock() else {
        return false;
    };
    if touched.len() >= TOUCH_MEMORY {
        touched.clear();
    }
    let key = (user.as_str().to_owned(), id.as_str().to_owned());
    match touched.get(&key) {
        Some(&at) if now.0.saturating_sub(at) < TOUCH_EVERY_MS => false,
        _ => {
            touched.insert(key, now.0);
            true
        }
    }
}

fn random_u128() -> Result<u128, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(u128::from_le_bytes(bytes))
}
