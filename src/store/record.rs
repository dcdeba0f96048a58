//! What is stored for a pin. The same shape serves as the KV value (always complete) and as
//! list metadata, which must fit in 1024 bytes: when the whole record does not fit, the
//! metadata keeps what filters need and is marked partial, and the value is read instead.

use crate::domain::status::Status;
use crate::store::kv::MAX_METADATA_BYTES;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

/// A stored record read in place, borrowing from the metadata (or value) string: what a scan
/// judges and a listing renders. Origins, meta, info and delegates stay raw JSON: a listing
/// copies them into the reply as they are, and only a `meta` filter looks inside one.
#[derive(Debug, Deserialize)]
pub struct RecordView<'a> {
    #[serde(rename = "s")]
    pub status: Status,
    #[serde(rename = "c", borrow)]
    pub cid: &'a RawValue,
    #[serde(rename = "n", borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(rename = "o", borrow, default)]
    pub origins: Option<&'a RawValue>,
    #[serde(rename = "m", borrow, default)]
    pub meta: Option<&'a RawValue>,
    #[serde(rename = "i", borrow, default)]
    pub info: Option<&'a RawValue>,
    #[serde(rename = "g", borrow, default)]
    pub delegates: Option<&'a RawValue>,
    #[serde(rename = "p", default)]
    pub partial: bool,
}

impl<'a> RecordView<'a> {
    pub fn parse(json: &'a str) -> Option<RecordView<'a>> {
        serde_json::from_str(json).ok()
    }

    /// Whether filters on name/meta can be judged from this (possibly partial) record.
    pub fn knows_name(&self) -> bool {
        !self.partial || self.name.is_some()
    }

    pub fn knows_meta(&self) -> bool {
        !self.partial || self.meta.is_some()
    }

    /// The meta map, for a `meta` filter (absent meta is empty; unreadable meta too).
    pub fn meta_map(&self) -> BTreeMap<String, String> {
        self.meta
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default()
    }
}

/// Status, name and partiality read straight off a record's text, which `PinRecord` writes
/// with `s`, `c` and `n` first and `p` (the only unquoted value) last: what a scan needs to pass
/// over most pins without parsing them. `None` for text in any other shape, an escaped name
/// included: the caller parses that instead.
#[derive(Debug, PartialEq, Eq)]
pub struct Glance<'a> {
    pub status: Status,
    pub name: Option<&'a str>,
    pub partial: bool,
}

impl<'a> Glance<'a> {
    pub fn of(json: &'a str) -> Option<Glance<'a>> {
        let rest = json.strip_prefix(r#"{"s":""#)?;
        let (status, rest) = rest.split_once('"')?;
        let status = Status::ALL.into_iter().find(|s| s.as_str() == status)?;
        let rest = rest.strip_prefix(r#","c":""#)?;
        let (cid, rest) = rest.split_once('"')?;
        let name = match rest.strip_prefix(r#","n":""#) {
            Some(rest) => Some(rest.split_once('"')?.0),
            None => None,
        };
        if cid.contains('\\') || name.is_some_and(|n| n.contains('\\')) {
            return None;
        }
        let partial = json.ends_with(r#","p":true}"#);
        Some(Glance {
            status,
            name,
            partial,
        })
    }

    pub fn knows_name(&self) -> bool {
        !self.partial || self.name.is_some()
    }
}

/// The JSON text of a listed key's metadata: the record string, or (metadata written as an
/// object by older code) that object serialized into `spill`.
pub fn metadata_json<'a>(v: Option<&'a Value>, spill: &'a mut String) -> Option<&'a str> {
    match v? {
        Value::String(json) => Some(json),
        other @ Value::Object(_) => {
            *spill = other.to_string();
            Some(spill)
        }
        _ => None,
    }
}

impl PinRecord {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("records serialize")
    }

    pub fn from_json(s: &str) -> Option<PinRecord> {
        serde_json::from_str(s).ok()
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

    /// The metadata's JSON text, checked against KV's bound.
    fn meta_of(r: &PinRecord) -> String {
        let v = r.to_metadata();
        assert!(v.to_string().len() <= MAX_METADATA_BYTES);
        let mut spill = String::new();
        metadata_json(Some(&v), &mut spill).unwrap().to_owned()
    }

    #[test]
    fn small_records_are_their_own_metadata() {
        let r = record(10, 10, 2);
        let json = meta_of(&r);
        assert_eq!(PinRecord::from_json(&json).unwrap(), r);
        let v = RecordView::parse(&json).unwrap();
        assert!(!v.partial && v.knows_name() && v.knows_meta());
        assert_eq!(v.cid.get(), format!("\"{}\"", r.cid));
        assert_eq!(v.meta_map(), r.meta);
        assert_eq!(
            v.origins.map(|o| o.get()),
            Some(serde_json::to_string(&r.origins).unwrap().as_str())
        );
        assert!(v.info.is_none() && v.delegates.is_none());
    }

    #[test]
    fn large_records_keep_what_filters_need() {
        let json = meta_of(&record(10, 10, 20));
        let m = RecordView::parse(&json).unwrap();
        assert!(m.partial && m.origins.is_none());
        assert_eq!(m.name.as_deref(), Some("n".repeat(10).as_str()));
        assert!(m.knows_name() && m.knows_meta());

        let json = meta_of(&record(10, 2000, 0));
        let m = RecordView::parse(&json).unwrap();
        assert!(m.partial && m.knows_name() && !m.knows_meta());

        let json = meta_of(&record(255 * 4, 10, 0));
        let m = RecordView::parse(&json).unwrap();
        assert!(m.partial && m.status == Status::Pinned && !m.knows_name());
    }

    #[test]
    fn object_metadata_from_older_code_reads_as_the_same_view() {
        let r = record(10, 10, 1);
        let object: Value = serde_json::from_str(&r.to_json()).unwrap();
        let mut spill = String::new();
        let json = metadata_json(Some(&object), &mut spill).unwrap();
        let v = RecordView::parse(json).unwrap();
        assert_eq!((v.status, v.name.as_deref()), (r.status, r.name.as_deref()));
        assert!(metadata_json(Some(&Value::Null), &mut String::new()).is_none());
    }

    /// A glance says what the full parse says, or nothing.
    #[test]
    fn a_glance_agrees_with_the_parse_or_declines() {
        let names = [
            None,
            Some(""),
            Some("plain.pdf"),
            Some("quote \" inside"),
            Some("back\\slash"),
            Some("tab\tand\u{1}"),
            Some("ünïcødé 😀"),
            Some("ends with \\"),
            Some(",\"p\":true}"),
        ];
        let mut glanced = 0;
        for name in names {
            for (meta, origins) in [(0, 0), (10, 2), (2000, 0), (10, 20)] {
                let mut r = record(0, meta, origins);
                r.name = name.map(str::to_owned);
                let json = meta_of(&r);
                let view = RecordView::parse(&json).unwrap();
                if let Some(g) = Glance::of(&json) {
                    glanced += 1;
                    assert_eq!(g.status, view.status, "{json}");
                    assert_eq!(g.name, view.name.as_deref(), "{json}");
                    assert_eq!(g.partial, view.partial, "{json}");
                    assert_eq!(g.knows_name(), view.knows_name(), "{json}");
                }
            }
        }
        assert_eq!(glanced, 16, "every name without an escape, in every shape");
        assert_eq!(
            Glance::of(r#"{"c":"x","s":"pinned"}"#),
            None,
            "another order"
        );
        assert_eq!(Glance::of(r#"{"s":"lost","c":"x"}"#), None);
    }

    #[test]
    fn escaped_names_are_read_too() {
        let mut r = record(0, 0, 0);
        r.name = Some("a \"quoted\" name\n".into());
        let json = r.to_json();
        let v = RecordView::parse(&json).unwrap();
        assert_eq!(v.name.as_deref(), r.name.as_deref());
    }
}
