//! The spec's response types, `PinStatus` and `PinResults`, exactly as they go on the wire:
//! optional fields are omitted rather than `null`, and vendor data lives only in `info`.

use crate::domain::{request_id::RequestId, status::Status};
use crate::store::record::PinRecord;
use serde::Serialize;
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

#[derive(Debug, Serialize)]
pub struct PinResults<'a> {
    pub count: usize,
    pub results: Vec<PinStatus<'a>>,
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
