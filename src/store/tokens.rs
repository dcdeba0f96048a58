//! A user's access-token records in KV (`k/` and `u/` keys; see `keys`).

use super::keys;
use super::kv::{Kv, KvError, LIST_PAGE};
use crate::auth::user::UserId;
use crate::domain::token::TokenId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// KV refuses expirations less than this far ahead.
const MIN_KV_TTL_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(rename = "c")]
    pub created_ms: u64,
    /// Seconds since the epoch, as the JWT's `exp`.
    #[serde(rename = "e")]
    pub expires_secs: u64,
}

pub struct TokenStore<'a, K> {
    kv: &'a K,
    user: &'a UserId,
}

impl<'a, K: Kv> TokenStore<'a, K> {
    pub fn new(kv: &'a K, user: &'a UserId) -> Self {
        TokenStore { kv, user }
    }

    /// KV drops the record by itself once the token has expired.
    pub async fn put(
        &self,
        id: &TokenId,
        record: &TokenRecord,
        now_secs: u64,
    ) -> Result<(), KvError> {
        let meta = serde_json::to_value(record).expect("records serialize");
        let expires = kv_expiration(record.expires_secs, now_secs);
        self.kv
            .put(
                &keys::token(self.user, id),
                &meta.to_string(),
                &meta,
                Some(expires),
            )
            .await
    }

    pub async fn get(&self, id: &TokenId) -> Result<Option<TokenRecord>, KvError> {
        Ok(self
            .kv
            .get(&keys::token(self.user, id))
            .await?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// The record first: once it is gone the token is refused, whatever happens next.
    pub async fn delete(&self, id: &TokenId) -> Result<(), KvError> {
        self.kv.delete(&keys::token(self.user, id)).await?;
        self.kv.delete(&keys::token_used(self.user, id)).await
    }

    pub async fn list(&self) -> Result<Vec<(TokenId, TokenRecord)>, KvError> {
        let mut out = Vec::new();
        self.scan(&keys::tokens_of(self.user), |id, meta| {
            if let Ok(record) = serde_json::from_value(meta) {
                out.push((id, record));
            }
        })
        .await?;
        Ok(out)
    }

    /// Last use of each token, in milliseconds.
    pub async fn last_used(&self) -> Result<BTreeMap<TokenId, u64>, KvError> {
        let mut out = BTreeMap::new();
        self.scan(&keys::tokens_used_of(self.user), |id, meta| {
            if let Some(t) = meta.get("t").and_then(Value::as_u64) {
                out.insert(id, t);
            }
        })
        .await?;
        Ok(out)
    }

    pub async fn touch(
        &self,
        id: &TokenId,
        record: &TokenRecord,
        now_ms: u64,
    ) -> Result<(), KvError> {
        let meta = json!({ "t": now_ms });
        let expires = kv_expiration(record.expires_secs, now_ms / 1000);
        let key = keys::token_used(self.user, id);
        self.kv
            .put_derived(&key, "", &meta, Some(expires))
            .await
            .map(drop)
    }

    async fn scan(
        &self,
        prefix: &str,
        mut each: impl FnMut(TokenId, Value),
    ) -> Result<(), KvError> {
        let mut cursor = None;
        loop {
            let page = self.kv.list(prefix, cursor, LIST_PAGE).await?;
            for key in page.keys {
                if let (Some(id), Some(meta)) = (keys::token_id_of(&key.name), key.metadata) {
                    each(id, meta);
                }
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }
}

fn kv_expiration(expires_secs: u64, now_secs: u64) -> u64 {
    expires_secs.max(now_secs + MIN_KV_TTL_SECS)
}
