//! `store::kv::Kv` on a Workers KV binding, called directly.
//!
//! `worker::kv::KvStore` looks up the binding's five methods on every request and converts
//! options and list results through `serde_wasm_bindgen`; calling the binding's methods here
//! does each operation in one call and its promise, and leaves ~20 KB of glue out of the bundle.
//! (It did not make requests measurably cheaper: README, "Benchmark".)

use crate::domain::timestamp::Millis;
use crate::store::kv::{Kv, KvError, ListPage, ListedKey, LIST_PAGE};
use serde_json::Value;
use worker::js_sys::{self, Object, Promise, Reflect};
use worker::wasm_bindgen::{self, prelude::*, JsCast};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

#[wasm_bindgen]
extern "C" {
    /// A `KVNamespace` binding.
    pub type KvNamespace;

    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &KvNamespace,
        key: &str,
        value: &str,
        options: &Object,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn list(this: &KvNamespace, options: &Object) -> Result<Promise, JsValue>;
}

/// The binding that holds the pinsets (wrangler.toml).
pub const PINS: &str = "PINS";

pub struct WorkersKv(KvNamespace);

impl WorkersKv {
    /// The KV namespace bound as `name`, if it is bound.
    pub fn bound(env: &Env, name: &'static str) -> Option<WorkersKv> {
        let value = Reflect::get(env, &super::js_name(name)).ok()?;
        (value.is_object()).then(|| WorkersKv(value.unchecked_into()))
    }
}

fn err(e: JsValue) -> KvError {
    KvError(
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "KV call failed".into()),
    )
}

async fn done(promise: Result<Promise, JsValue>) -> Result<JsValue, KvError> {
    JsFuture::from(promise.map_err(err)?).await.map_err(err)
}

fn set(options: &Object, key: &str, value: &JsValue) -> Result<(), KvError> {
    Reflect::set(options, &JsValue::from_str(key), value).map_err(err)?;
    Ok(())
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        // Text is the default type: no options object.
        Ok(done(self.0.get(key)).await?.as_string())
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: &Value,
        expires: Option<u64>,
    ) -> Result<(), KvError> {
        let options = Object::new();
        // The service's metadata is a string (the record's JSON); anything else goes as JSON.
        let metadata = match metadata {
            Value::String(s) => JsValue::from_str(s),
            other => js_sys::JSON::parse(&other.to_string()).map_err(err)?,
        };
        set(&options, "metadata", &metadata)?;
        if let Some(at) = expires {
            set(&options, "expiration", &JsValue::from_f64(at as f64))?;
        }
        done(self.0.put(key, value, &options)).await.map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        done(self.0.delete(key)).await.map(drop)
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        let options = Object::new();
        set(&options, "prefix", &JsValue::from_str(prefix))?;
        set(&options, "limit", &JsValue::from(limit.clamp(1, LIST_PAGE)))?;
        if let Some(c) = cursor {
            set(&options, "cursor", &JsValue::from_str(&c))?;
        }
        let page = done(self.0.list(&options)).await?;
        listed(&page).ok_or_else(|| KvError("KV list: an unexpected result".into()))
    }

    fn clock(&self) -> Option<Millis> {
        Some(super::now())
    }
}

thread_local! {
    static FIELDS: [JsValue; 5] = ["keys", "name", "metadata", "list_complete", "cursor"].map(JsValue::from_str);
}

/// A list's result, read a field at a time: a key's metadata (the record's JSON, as a string)
/// crosses the boundary as it is; metadata of another shape goes through its JSON text.
fn listed(page: &JsValue) -> Option<ListPage> {
    FIELDS.with(|[keys_f, name_f, metadata_f, complete_f, cursor_f]| {
        let field = |o: &JsValue, f: &JsValue| Reflect::get(o, f).ok();
        let keys: js_sys::Array = field(page, keys_f)?.dyn_into().ok()?;
        let mut out = Vec::with_capacity(keys.length() as usize);
        for key in keys.iter() {
            let name = field(&key, name_f)?.as_string()?;
            let metadata = field(&key, metadata_f)?;
            let metadata = if let Some(s) = metadata.as_string() {
                Some(Value::String(s))
            } else if metadata.is_undefined() || metadata.is_null() {
                None
            } else {
                let json = String::from(js_sys::JSON::stringify(&metadata).ok()?);
                Some(serde_json::from_str(&json).ok()?)
            };
            out.push(ListedKey { name, metadata });
        }
        let complete = field(page, complete_f)?.as_bool().unwrap_or(true);
        let cursor = field(page, cursor_f).and_then(|c| c.as_string());
        Some(ListPage {
            keys: out,
            cursor: if complete { None } else { cursor },
        })
    })
}
