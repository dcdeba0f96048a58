//! Every setting the configuration is built from, read in one call per request.
//!
//! Read one by one, they were 24 `Reflect.get` calls and a string copied for each that is set,
//! through JS glue that V8 was seen running interpreted and that copies a string a character
//! at a time. Here JS reads them all and hands over one snapshot, as UTF-8 bytes
//! (`config_cache`).

use crate::config_cache;
use worker::js_sys::Array;
use worker::wasm_bindgen::{self, prelude::*};
use worker::Env;

#[wasm_bindgen(inline_js = r#"
const utf8 = new TextEncoder();
export function snapshot(env, names) {
  const values = new Array(names.length);
  for (let i = 0; i < names.length; i++) {
    const v = env[names[i]];
    values[i] = typeof v === "string" ? v : null;
  }
  return utf8.encode(JSON.stringify(values));
}
"#)]
extern "C" {
    /// The settings named in `names`, as `config_cache::config` takes them: a JSON array of
    /// each one's value, a string or `null` (a var or secret is a string; anything else is no
    /// setting).
    fn snapshot(env: &Env, names: &Array) -> Vec<u8>;
}

thread_local! {
    /// The settings' names as a JS array, made once.
    static NAMES: Array = config_cache::SETTINGS.iter().map(|k| JsValue::from_str(k)).collect();
}

/// The configuration, parsed again only when a setting reads differently from the ones the
/// isolate's cached configuration was built from (`config_cache` says why that is safe).
pub fn settings(env: &Env) -> config_cache::Parsed {
    config_cache::config(&NAMES.with(|names| snapshot(env, names)))
}
