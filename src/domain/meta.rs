//! `Pin.meta`: a string→string map, bounded so one pin cannot bloat a user's pinset.

use serde_json::Value;
use std::collections::BTreeMap;

pub const MAX_META_KEYS: usize = 1000;
pub const MAX_META_KEY_CHARS: usize = 255;
pub const MAX_META_JSON_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinMeta(BTreeMap<String, String>);

impl PinMeta {
    /// `Pin.meta`: a JSON object of strings within the bounds above.
    pub fn parse(value: Value) -> Result<PinMeta, String> {
        let meta = PinMeta::parse_filter(value)?;
        if meta.0.len() > MAX_META_KEYS {
            return Err(format!("at most {MAX_META_KEYS} keys"));
        }
        // Any string is a key, the empty one too (the schema's `additionalProperties`).
        if meta
            .0
            .keys()
            .any(|k| k.chars().count() > MAX_META_KEY_CHARS)
        {
            return Err(format!(
                "keys must be at most {MAX_META_KEY_CHARS} characters"
            ));
        }
        if meta.json_len() > MAX_META_JSON_BYTES {
            return Err(format!("larger than {MAX_META_JSON_BYTES} bytes as JSON"));
        }
        Ok(meta)
    }

    /// The `meta` filter of `GET /pins`: any JSON object of strings. The bounds of `Pin.meta` keep
    /// a pinset small; a filter beyond them costs nothing (the URL bounds it) and matches no pin.
    pub fn parse_filter(value: Value) -> Result<PinMeta, String> {
        let Value::Object(obj) = value else {
            return Err("must be a JSON object of strings".into());
        };
        obj.into_iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k, v)),
                _ => Err(format!("value of '{k}' must be a string")),
            })
            .collect::<Result<_, _>>()
            .map(PinMeta)
    }

    /// Bytes of this map as compact JSON, escapes included (what the size bound counts).
    fn json_len(&self) -> usize {
        serde_json::to_vec(&self.0).map_or(usize::MAX, |json| json.len())
    }

    /// Every pair of `self` (the filter) is in `pin` (a pin may have more keys).
    pub fn is_subset_of(&self, pin: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, v)| pin.get(k) == Some(v))
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_only_and_bounded() {
        assert!(PinMeta::parse(json!({"app_id": "x"})).is_ok());
        assert!(PinMeta::parse(json!({"n": 1})).is_err());
        assert!(PinMeta::parse(json!({"n": null})).is_err());
        assert!(PinMeta::parse(json!(["a"])).is_err());
        assert!(PinMeta::parse(json!({"big": "x".repeat(17 * 1024)})).is_err());
    }

    #[test]
    fn any_key_up_to_255_characters() {
        assert!(PinMeta::parse(json!({"": "x"})).is_ok());
        assert!(PinMeta::parse(json!({"é".repeat(255): "x"})).is_ok());
        assert!(PinMeta::parse(json!({"é".repeat(256): "x"})).is_err());
    }

    #[test]
    fn a_filter_is_any_object_of_strings() {
        let long_key = json!({"k".repeat(256): "x"});
        assert!(PinMeta::parse(long_key.clone()).is_err());
        assert!(PinMeta::parse_filter(long_key).is_ok());
        assert!(PinMeta::parse_filter(json!({"n": 1})).is_err());
        assert!(PinMeta::parse_filter(json!("a")).is_err());
    }

    #[test]
    fn the_size_bound_is_the_compact_json_length() {
        // {"k":"…"} is 8 bytes around the value.
        let exactly = json!({"k": "x".repeat(MAX_META_JSON_BYTES - 8)});
        assert_eq!(
            serde_json::to_vec(&exactly).unwrap().len(),
            MAX_META_JSON_BYTES
        );
        assert!(PinMeta::parse(exactly).is_ok());
        assert!(PinMeta::parse(json!({"k": "x".repeat(MAX_META_JSON_BYTES - 7)})).is_err());
        // Escapes count: each '"' is two bytes in JSON.
        assert!(PinMeta::parse(json!({"k": "\"".repeat(MAX_META_JSON_BYTES / 2)})).is_err());
    }

    #[test]
    fn filter_is_an_and_of_pairs() {
        let pin: BTreeMap<_, _> = [("a", "1"), ("b", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(PinMeta::parse(json!({"a": "1"}))
            .unwrap()
            .is_subset_of(&pin));
        assert!(PinMeta::parse(json!({"a": "1", "b": "2"}))
            .unwrap()
            .is_subset_of(&pin));
        assert!(!PinMeta::parse(json!({"a": "1", "b": "3"}))
            .unwrap()
            .is_subset_of(&pin));
        assert!(!PinMeta::parse(json!({"c": "1"}))
            .unwrap()
            .is_subset_of(&pin));
    }
}
