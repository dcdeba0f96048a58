//! `Pin.meta`: a string→string map, bounded so one pin cannot bloat a user's pinset.

use serde_json::Value;
use std::collections::BTreeMap;

pub const MAX_META_KEYS: usize = 1000;
pub const MAX_META_KEY_CHARS: usize = 255;
pub const MAX_META_JSON_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinMeta(BTreeMap<String, String>);

impl PinMeta {
    pub fn parse(value: Value) -> Result<PinMeta, String> {
        let Value::Object(obj) = value else {
            return Err("must be a JSON object of strings".into());
        };
        if obj.len() > MAX_META_KEYS {
            return Err(format!("at most {MAX_META_KEYS} keys"));
        }
        let mut map = BTreeMap::new();
        let mut bytes = 2;
        for (k, v) in obj {
            let Value::String(v) = v else {
                return Err(format!("value of '{k}' must be a string"));
            };
            if k.is_empty() || k.chars().count() > MAX_META_KEY_CHARS {
                return Err(format!("keys must be 1 to {MAX_META_KEY_CHARS} characters"));
            }
            bytes += k.len() + v.len() + 6;
            map.insert(k, v);
        }
        if bytes > MAX_META_JSON_BYTES {
            return Err(format!("larger than {MAX_META_JSON_BYTES} bytes"));
        }
        Ok(PinMeta(map))
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
        assert!(PinMeta::parse(json!({"": "x"})).is_err());
        assert!(PinMeta::parse(json!({"big": "x".repeat(17 * 1024)})).is_err());
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
