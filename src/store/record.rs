//! What is stored for a pin. The same shape serves as the KV value (always complete) and as
//! list metadata, which must fit in 1024 bytes: when the whole record does not fit, the
//! metadata keeps what filters need and is marked partial, and the value is read instead.

use crate::domain::status::Status;
use crate::store::kv::MAX_METADATA_BYTES;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    #[serde(rename = "s")]
    pub status: Status,
    /// The CID as the client spelled it.
    #[serde(rename = "c")]
    pub cid: String,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "o", default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    #[serde(rename = "m", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    #[serde(rename = "i", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub info: BTreeMap<String, String>,
    /// The upstream's delegates for this pin (`upstream` backend); empty means the configured ones.
    #[serde(rename = "g", default, skip_serializing_if = "Vec::is_empty")]
    pub delegates: Vec<String>,
    /// Set only in metadata that left fields out; absent fields are then unknown, not empty.
    #[serde(rename = "p", default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// What a scan needs to judge a pin by status and name; the rest of the record is skipped.
#[derive(Debug, Deserialize)]
pub struct PinView<'a> {
    #[serde(rename = "s")]
    pub status: Status,
    #[serde(rename = "n", borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(rename = "p", default)]
    pub partial: bool,
}

impl PinRecord {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("records serialize")
    }

    pub fn from_json(s: &str) -> Option<PinRecord> {
        serde_json::from_str(s).ok()
    }

    /// Metadata is the record's JSON as one string: crossing from JS into wasm, one string per
    /// key costs far less than an object walked field by field, and it parses straight into
    /// the record without an intermediate `Value`.
    pub fn from_metadata(v: Option<&Value>) -> Option<PinRecord> {
        match v? {
            Value::String(json) => PinRecord::from_json(json),
            other => PinRecord::deserialize(other).ok(),
        }
    }

    /// The metadata for this record's keys: the record itself when it fits, else status, CID,
    /// and the name and meta when they fit, marked partial.
    pub fn to_metadata(&self) -> Value {
        // KV bounds the metadata as serialized: the string's quotes and escapes count.
        let as_metadata = |r: &PinRecord| Value::String(r.to_json());
        let fits = |v: &Value| v.to_string().len() <= MAX_METADATA_BYTES;
        let whole = as_metadata(self);
        if fits(&whole) {
            return whole;
        }
        let mut slim = PinRecord {
            status: self.status,
            cid: self.cid.clone(),
            name: self.name.clone(),
            origins: Vec::new(),
            meta: self.meta.clone(),
            info: BTreeMap::new(),
            delegates: Vec::new(),
            partial: true,
        };
        let fits = |r: &PinRecord| fits(&as_metadata(r));
        if !fits(&slim) {
            slim.meta.clear();
        }
        if !fits(&slim) {
            slim.meta = self.meta.clone();
            slim.name = None;
        }
        if !fits(&slim) {
            slim.meta.clear();
        }
        as_metadata(&slim)
    }

    /// The status and name in this metadata, read without copying: a scan judges every key,
    /// and most keys never reach the page. `None` for metadata that is not a record string.
    pub fn view_metadata(v: Option<&Value>) -> Option<PinView<'_>> {
        match v? {
            Value::String(json) => serde_json::from_str(json).ok(),
            _ => None,
        }
    }

    /// Whether filters on name/meta can be judged from this (possibly partial) record.
    pub fn knows_name(&self) -> bool {
        !self.partial || self.name.is_some()
    }

    pub fn knows_meta(&self) -> bool {
        !self.partial || !self.meta.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name_len: usize, meta_len: usize, origins: usize) -> PinRecord {
        PinRecord {
            status: Status::Pinned,
            cid: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".into(),
            name: Some("n".repeat(name_len)),
            origins: (0..origins).map(|i| format!("/ip4/10.0.0.{i}/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN")).collect(),
            meta: [("k".to_owned(), "v".repeat(meta_len))].into(),
            info: BTreeMap::new(),
            delegates: Vec::new(),
            partial: false,
        }
    }

    fn meta_of(r: &PinRecord) -> PinRecord {
        let v = r.to_metadata();
        assert!(v.to_string().len() <= MAX_METADATA_BYTES);
        PinRecord::from_metadata(Some(&v)).unwrap()
    }

    #[test]
    fn small_records_are_their_own_metadata() {
        let r = record(10, 10, 2);
        assert_eq!(meta_of(&r), r);
        assert!(r.knows_name() && r.knows_meta());
    }

    #[test]
    fn large_records_keep_what_filters_need() {
        let m = meta_of(&record(10, 10, 20));
        assert!(m.partial && m.origins.is_empty());
        assert_eq!(m.name.as_deref(), Some("n".repeat(10).as_str()));
        assert!(m.knows_name() && m.knows_meta());

        let m = meta_of(&record(10, 2000, 0));
        assert!(m.partial && m.knows_name() && !m.knows_meta());

        let m = meta_of(&record(255 * 4, 10, 0).clone());
        assert!(m.partial && m.status == Status::Pinned);
    }
}
