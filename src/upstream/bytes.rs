//! Byte quotas (`QUOTA_BYTES`, `QUOTAS`; `r2` backend) for DAGs the provider fetched: a pin
//! whose DAG turns out to be more than its user has room for is `failed` with the reason when
//! it would become `pinned`, and stops holding the CID — so it keeps nothing, another user's
//! pin of the same CID is untouched, and a CID nobody else holds is released as any other.
//! Checked once per pin, at that moment (one pass over the user's records: ⌈N/1000⌉ lists),
//! and only for users with a quota. Uploads are checked as they stream (`pins::content`).

use super::state::CidState;
use crate::auth::user::UserId;
use crate::config::{Provider, UpstreamSettings};
use crate::domain::status::Status;
use crate::store::kv::{Kv, KvError};
use crate::store::{record::PinRecord, usage};
use std::collections::BTreeMap;

/// Why `record`, about to show `state`, would take its user over their quota; `None` when it
/// would not (or no quota applies).
pub async fn overdraws<K: Kv>(
    kv: &K,
    settings: &UpstreamSettings,
    user: &UserId,
    record: &PinRecord,
    state: &CidState,
) -> Result<Option<String>, KvError> {
    let Provider::R2(r2) = &settings.provider else {
        return Ok(None);
    };
    let (Some(quota), Some(size)) = (r2.quota.of(user.as_str()), state.dag_size) else {
        return Ok(None);
    };
    if record.status == Status::Pinned || state.status != Status::Pinned {
        return Ok(None);
    }
    // This pin is not pinned yet, so it is not in `used`.
    let used = usage::usage(kv, user).await?.bytes;
    Ok((used.saturating_add(size) > quota).then(|| {
        format!(
            "over your quota: this DAG is {size} bytes and you keep {used} of your {quota}; \
             nothing of it is kept for this pin"
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
