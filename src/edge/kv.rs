//! `store::kv::Kv` on a Workers KV binding.

use crate::domain::timestamp::Millis;
use crate::store::kv::{Kv, KvError, ListPage, ListedKey, LIST_PAGE};
use serde_json::Value;
use worker::kv::KvStore;

pub struct WorkersKv(pub KvStore);

fn err(e: impl std::fmt::Display) -> KvError {
    KvError(e.to_string())
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.0.get(key).text().await.map_err(err)
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<(), KvError> {
        let mut builder = self
            .0
            .put(key, value)
            .map_err(err)?
            .metadata(metadata)
            .map_err(err)?;
        if let Some(at) = expires {
            builder = builder.expiration(at);
        }
        builder.execute().await.map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.delete(key).await.map_err(err)
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        let mut builder = self
            .0
            .list()
            .prefix(prefix.to_owned())
            .limit(u64::from(limit.clamp(1, LIST_PAGE)));
        if let Some(c) = cursor {
            builder = builder.cursor(c);
        }
        let page = builder.execute().await.map_err(err)?;
        Ok(ListPage {
            keys: page
                .keys
                .into_iter()
                .map(|k| ListedKey {
                    name: k.name,
                    metadata: k.metadata,
                })
                .collect(),
            cursor: if page.list_complete {
                None
            } else {
                page.cursor
            },
        })
    }

    fn clock(&self) -> Option<Millis> {
        Some(Millis(worker::Date::now().as_millis()))
    }
}
