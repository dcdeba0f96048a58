//! What a user stores: pins per status and the bytes of their pinned DAGs (`info.dag_size`,
//! which the `r2` backend writes into every holder's record). Read by one pass over the
//! user's records: exact, and no key is written, so nothing is read-modify-written.
//! Cost: ⌈N/1000⌉ lists, plus a get for each pinned record too large for its key's metadata.

use super::counts::Tally;
use super::keys;
use super::kv::{Kv, KvError, LIST_PAGE};
use super::record::{metadata_json, PinRecord};
use crate::auth::user::UserId;
use crate::domain::{request_id::RequestId, status::Status};
use crate::upstream::state::DAG_SIZE;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub pins: Tally,
    /// Each pinned pin counts its DAG's bytes, so a CID pinned twice counts twice.
    pub bytes: u64,
}

pub async fn usage<K: Kv>(kv: &K, user: &UserId) -> Result<Usage, KvError> {
    pass(kv, user, None).await
}

/// `usage`, and the pins it counted pinned with their bytes, in the order KV lists their keys
/// (lexicographic, so by id): what the byte claims need (`quota::claims`), 40 bytes a pinned
/// pin while the check runs.
pub async fn usage_and_pinned<K: Kv>(
    kv: &K,
    user: &UserId,
) -> Result<(Usage, Vec<(RequestId, u64)>), KvError> {
    let mut pinned = Vec::new();
    let usage = pass(kv, user, Some(&mut pinned)).await?;
    Ok((usage, pinned))
}

async fn pass<K: Kv>(
    kv: &K,
    user: &UserId,
    mut pinned: Option<&mut Vec<(RequestId, u64)>>,
) -> Result<Usage, KvError> {
    let prefix = keys::pins_of(user);
    let mut out = Usage::default();
    let mut cursor = None;
    loop {
        let page = kv.list(&prefix, cursor, LIST_PAGE).await?;
        for key in &page.keys {
            let tail = &key.name[prefix.len()..];
            let Some(id) = RequestId::parse(tail) else {
                continue; // markers and stored totals
            };
            let mut spill = String::new();
            let listed =
                metadata_json(key.metadata.as_ref(), &mut spill).and_then(PinRecord::from_json);
            let record = match listed {
                Some(r) if !(r.partial && r.status == Status::Pinned) => Some(r),
                _ => kv
                    .get(&keys::pin(user, &id))
                    .await?
                    .and_then(|json| PinRecord::from_json(&json)),
            };
            let Some(record) = record else { continue };
            out.pins.add(record.status);
            if record.status == Status::Pinned {
                let bytes = dag_size(&record).unwrap_or(0);
                out.bytes += bytes;
                if let Some(p) = pinned.as_deref_mut() {
                    p.push((id, bytes));
                }
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

pub fn dag_size(record: &PinRecord) -> Option<u64> {
    record.info.get(DAG_SIZE).and_then(|s| s.parse().ok())
}
