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

#[wasm_bindgen(inline_js = r#"
const utf8 = new TextEncoder();
export function flat(page) {
  const out = [page.list_complete ? "1" : "0", page.cursor ?? ""];
  for (const k of page.keys) {
    const m = k.metadata;
    const meta = m === undefined || m === null ? "-" : typeof m === "string" ? "s" + m : "j" + JSON.stringify(m);
    if (k.name.includes("\n") || meta.includes("\n")) return null;
    out.push(k.name, meta);
  }
  return utf8.encode(out.join("\n"));
}
export function bytes(value) {
  return value === null || value === undefined ? undefined : new Uint8Array(value);
}
"#)]
extern "C" {
    /// A list result as one text, a field a line: complete (`1`/`0`), the cursor, then each
    /// key's name and its metadata tagged `s` (a string, as it is), `j` (other JSON, as its
    /// text) or `-` (none). `None` when a field holds a line break (no key or metadata of the
    /// service's does: `listed`). As UTF-8 bytes: a page's few kilobytes then cross in one
    /// copy, where a string crosses a character at a time.
    fn flat(page: &JsValue) -> Option<Vec<u8>>;

    /// An `ArrayBuffer`'s bytes, copied into wasm at once (`None` for a missing value).
    fn bytes(value: &JsValue) -> Option<Vec<u8>>;
}

#[wasm_bindgen]
extern "C" {
    /// A `KVNamespace` binding.
    pub type KvNamespace;

    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str, kind: &JsValue) -> Result<Promise, JsValue>;

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
        let value = super::binding(env, name).filter(JsValue::is_object)?;
        Some(WorkersKv(value.unchecked_into()))
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
        // As bytes, copied across at once: a string's glue copies it a character at a time.
        let value = done(self.0.get(key, &super::js_name("arrayBuffer"))).await?;
        Ok(bytes(&value).map(super::text))
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

    async fn pause(&self, ms: u64) {
        worker::Delay::from(std::time::Duration::from_millis(ms)).await
    }
}

/// A list's result, read in one crossing (`flat`). A field with a line break cannot be told
/// apart that way, and none can hold one: every key is built by `store::keys` from user names
/// (`A-Z a-z 0-9 . _ @ -`), hashes, CIDs and request ids, and metadata is JSON text.
fn listed(page: &JsValue) -> Option<ListPage> {
    let text = String::from_utf8(flat(page)?).ok()?;
    let mut lines = text.split('\n');
    let complete = lines.next()? == "1";
    let cursor = lines.next()?;
    let mut keys = Vec::new();
    while let Some(name) = lines.next() {
        let line = lines.next()?;
        let metadata = match line.split_at_checked(1)? {
            ("s", s) => Some(Value::String(s.to_owned())),
            ("j", json) => Some(serde_json::from_str(json).ok()?),
            _ => None,
        };
        keys.push(ListedKey {
            name: name.to_owned(),
            metadata,
        });
    }
    Some(ListPage {
        keys,
        cursor: (!complete && !cursor.is_empty()).then(|| cursor.to_owned()),
    })
}
