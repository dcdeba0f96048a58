//! Byte quotas (`QUOTA_BYTES`, `QUOTAS`; `r2` backend) for DAGs the provider fetched: a pin
//! whose DAG turns out to be more than its user has room for is `failed` with the reason when
//! it would become `pinned`, and stops holding the CID — so it keeps nothing, another user's
//! pin of the same CID is untouched, and a CID nobody else holds is released as any other.
//! Checked once per pin, at that moment (one pass over the user's records: ⌈N/1000⌉ lists,
//! and the two calls of a byte claim to the user's object, `quota::claims`, so that pins
//! completing at once cannot together pass the quota), and only for users with a quota.
//! Uploads are checked as they stream too (`pins::content`).

use super::state::CidState;
use crate::auth::user::UserId;
use crate::config::{Provider, UpstreamSettings};
use crate::domain::{request_id::RequestId, status::Status};
use crate::quota::claims::{ClaimCall, ClaimReply, Claims};
use crate::store::kv::{Kv, KvError};
use crate::store::{record::PinRecord, usage};
use std::collections::BTreeMap;

/// Where a quota check reads and claims.
pub struct Ledger<'a, K> {
    pub kv: &'a K,
    pub settings: &'a UpstreamSettings,
    pub claims: &'a Claims<'a>,
}

/// Why pin `id`'s `record`, about to show `state`, would take its user over their quota;
/// `None` when it would not (or no quota applies). `None` for a pin that will show `pinned`
/// also means its bytes are claimed.
pub async fn overdraws<K: Kv>(
    at: &Ledger<'_, K>,
    user: &UserId,
    id: &RequestId,
    record: &PinRecord,
    state: &CidState,
) -> Result<Option<String>, KvError> {
    let Provider::R2(r2) = &at.settings.provider else {
        return Ok(None);
    };
    let (Some(quota), Some(size)) = (r2.quota.of(user.as_str()), state.dag_size) else {
        return Ok(None);
    };
    if record.status == Status::Pinned || state.status != Status::Pinned {
        return Ok(None);
    }
    let (usage, pinned) = usage::usage_and_pinned(at.kv, user).await?;
    // KV lists keys in lexicographic order, so the ids come sorted; should a store not, the
    // lookup is linear rather than wrong (a sort would add 4 KB of wasm for that case).
    let sorted = pinned.is_sorted_by_key(|(p, _)| *p);
    let bytes_of = |wanted: &RequestId| {
        let found = match sorted {
            true => pinned.binary_search_by(|(p, _)| p.cmp(wanted)).ok()?,
            false => pinned.iter().position(|(p, _)| p == wanted)?,
        };
        Some(pinned[found].1)
    };
    // This pin's own record, should another look have written it pinned meanwhile, is not
    // counted against it.
    let used = usage.bytes.saturating_sub(bytes_of(id).unwrap_or(0));
    let mut others = used;
    if let Some(pending) = at.claims.pending(user.as_str()).await {
        let call = ClaimCall {
            id: id.as_str().to_owned(),
            bytes: size,
            quota,
            used,
            counted: pending
                .into_iter()
                .filter(|p| RequestId::parse(p).is_some_and(|p| p != *id && bytes_of(&p).is_some()))
                .collect(),
        };
        match at.claims.claim(user.as_str(), call).await {
            Some(ClaimReply::Granted) => return Ok(None),
            Some(ClaimReply::Over { others: o }) => others = o,
            None => {} // the object did not answer: this pin alone, as without one
        }
    }
    Ok((others.saturating_add(size) > quota).then(|| {
        format!(
            "over your quota: this DAG is {size} bytes and you keep {others} of your {quota} \
             (counting your pins completing now); nothing of it is kept for this pin"
        )
    }))
}

/// The record of a pin refused for its quota.
pub fn refused(record: &PinRecord, why: String) -> PinRecord {
    PinRecord {
        status: Status::Failed,
        info: BTreeMap::from([("status_details".to_owned(), why)]),
        ..record.clone()
    }
}
