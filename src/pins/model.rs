//! The spec's response types, `PinStatus` and `PinResults`, exactly as they go on the wire:
//! optional fields are omitted rather than `null`, and vendor data lives only in `info`.

use crate::domain::{request_id::RequestId, status::Status};
use crate::store::record::{PinRecord, RecordView};
use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct PinStatus<'a> {
    pub requestid: String,
    pub status: Status,
    pub created: String,
    pub pin: Pin,
    pub delegates: Cow<'a, [String]>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub info: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct Pin {
    pub cid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// `PinResults`, its pins already rendered: a listing writes each pin's JSON as the scan
/// passes it, straight from the stored record's text.
#[derive(Debug)]
pub struct PinResults {
    pub count: usize,
    pub results: Vec<String>,
}

impl PinResults {
    /// `{"count":…,"results":[…]}`, written once into a buffer of the final size.
    pub fn to_json(&self) -> String {
        let size = self.results.iter().map(|r| r.len() + 1).sum::<usize>() + 40;
        let mut out = String::with_capacity(size);
        out.push_str("{\"count\":");
        out.push_str(&self.count.to_string());
        out.push_str(",\"results\":[");
        for (i, pin) in self.results.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(pin);
        }
        out.push_str("]}");
        out
    }
}

/// Renders listed pins; `configured` (the delegates as one JSON array) stands in for a record
/// that names none of its own.
pub struct Renderer {
    configured: Box<RawValue>,
}

impl Renderer {
    pub fn new(configured: &[String]) -> Renderer {
        Renderer {
            configured: to_raw_value(configured).expect("strings serialize"),
        }
    }

    /// The same JSON as `PinStatus` (a test holds them equal), written straight into one
    /// buffer: the id, status and time need no escaping, and the stored origins, meta, info
    /// and delegates are copied as they are, never parsed and re-encoded.
    pub fn render(&self, id: &RequestId, view: &RecordView<'_>) -> String {
        let raw = |r: Option<&RawValue>| r.map_or(0, |r| r.get().len());
        let delegates = view.delegates.unwrap_or(&self.configured);
        let size = 160
            + raw(Some(view.cid))
            + view.name.as_deref().map_or(0, str::len)
            + raw(view.origins)
            + raw(view.meta)
            + raw(Some(delegates))
            + raw(view.info);
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(b"{\"requestid\":\"");
        out.extend_from_slice(id.as_str().as_bytes());
        out.extend_from_slice(b"\",\"status\":\"");
        out.extend_from_slice(view.status.as_str().as_bytes());
        out.extend_from_slice(b"\",\"created\":\"");
        id.created().write_rfc3339(&mut out);
        out.extend_from_slice(b"\",\"pin\":{\"cid\":");
        out.extend_from_slice(view.cid.get().as_bytes());
        if let Some(name) = &view.name {
            out.extend_from_slice(b",\"name\":");
            serde_json::to_writer(&mut out, name).expect("strings serialize");
        }
        let field = |out: &mut Vec<u8>, key: &[u8], value: Option<&RawValue>| {
            if let Some(value) = value {
                out.extend_from_slice(key);
                out.extend_from_slice(value.get().as_bytes());
            }
        };
        field(&mut out, b",\"origins\":", view.origins);
        field(&mut out, b",\"meta\":", view.meta);
        field(&mut out, b"},\"delegates\":", Some(delegates));
        field(&mut out, b",\"info\":", view.info);
        out.push(b'}');
        String::from_utf8(out).expect("JSON is UTF-8")
    }
}

impl<'a> PinStatus<'a> {
    /// `configured` are the delegates of a pin whose record names none of its own.
    pub fn new(id: &RequestId, record: PinRecord, configured: &'a [String]) -> Self {
        let delegates = if record.delegates.is_empty() {
            Cow::Borrowed(configured)
        } else {
            Cow::Owned(record.delegates)
        };
        PinStatus {
            requestid: id.as_str().to_owned(),
            status: record.status,
            created: id.created().to_rfc3339(),
            pin: Pin {
                cid: record.cid,
                name: record.name,
                origins: record.origins,
                meta: record.meta,
            },
            delegates,
            info: record.info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timestamp::Millis;

    fn record() -> PinRecord {
        PinRecord {
            status: Status::Pinning,
            cid: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".into(),
            name: None,
            origins: Vec::new(),
            meta: BTreeMap::new(),
            info: BTreeMap::new(),
            delegates: Vec::new(),
            partial: false,
        }
    }

    /// A listed pin is byte for byte the `PinStatus` that `GET /pins/{id}` would send.
    #[test]
    fn listed_pins_render_exactly_as_pin_status() {
        let configured = vec![
            "/dnsaddr/a.example/p2p/QmA".to_owned(),
            "/ip4/1.2.3.4/tcp/4001/p2p/QmB".into(),
        ];
        let renderer = Renderer::new(&configured);
        let mut records = vec![record()];
        let mut r = record();
        r.name = Some("a \"quoted\"\\ name\n\t\u{1}é😀".into());
        r.origins = vec!["/ip4/10.0.0.1/tcp/4001/p2p/QmC".into()];
        r.meta = [
            ("k\"ey".to_owned(), "v\\al\u{7f}".to_owned()),
            (String::new(), String::new()),
        ]
        .into();
        r.info = [("status_details".to_owned(), "queued upstream".to_owned())].into();
        records.push(r.clone());
        r.delegates = vec!["/ip4/5.6.7.8/tcp/4001/p2p/QmD".into()];
        r.status = Status::Failed;
        records.push(r);
        let mut r = record();
        r.name = Some(String::new());
        records.push(r);
        for (i, record) in records.into_iter().enumerate() {
            for created in [
                0,
                1_595_871_148_276,
                253_402_300_799_999,
                253_402_300_800_000,
            ] {
                let id = RequestId::new(Millis(created), i as u64);
                let stored = record.to_json();
                let view = RecordView::parse(&stored).unwrap();
                let listed = renderer.render(&id, &view);
                let single =
                    serde_json::to_string(&PinStatus::new(&id, record.clone(), &configured))
                        .unwrap();
                assert_eq!(listed, single);
            }
        }
    }

    #[test]
    fn results_wrap_rendered_pins() {
        let page = PinResults {
            count: 3,
            results: vec!["{\"a\":1}".into(), "{\"b\":2}".into()],
        };
        assert_eq!(page.to_json(), r#"{"count":3,"results":[{"a":1},{"b":2}]}"#);
        let empty = PinResults {
            count: 0,
            results: Vec::new(),
        };
        assert_eq!(empty.to_json(), r#"{"count":0,"results":[]}"#);
    }
}

/// `GET /usage`: `{"pins":{"queued":n,…},"bytes":n,"quota_bytes":n|null}`.
#[derive(Debug, Serialize)]
pub struct UsageReport {
    pub pins: BTreeMap<&'static str, usize>,
    pub bytes: u64,
    pub quota_bytes: Option<u64>,
}

impl UsageReport {
    pub fn new(u: &crate::store::usage::Usage, quota: Option<u64>) -> UsageReport {
        let pins = Status::ALL
            .iter()
            .map(|s| (s.as_str(), u.pins.of(*s)))
            .collect();
        UsageReport {
            pins,
            bytes: u.bytes,
            quota_bytes: quota,
        }
    }
}
