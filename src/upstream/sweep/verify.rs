//! Drift repair: a provider can lose a pin it once reported `pinned` (a cluster rebuilt, a pin
//! removed by hand, an R2 object deleted). Once an hour the sweep walks a few CID states
//! (`VERIFY_PER_PASS`, from where the last pass stopped, `s/verify`) and queues a look at each
//! pinned one whose provider has not confirmed it for `VERIFY_AFTER_MS`; that look asks the
//! provider (`ask::worth_refreshing`), which adds the CID again if it is gone, and mirrors the
//! repair (`info.repair`) to every holder. So every pinned CID is re-verified about once a day
//! while the service keeps fewer than 24 × `VERIFY_PER_PASS` CIDs, and at that rate beyond.
//!
//! Costs per pass: 1 get and 1 put (the cursor), 1 list, 1 get per state read, 1 put per look
//! queued; at most ~45 operations an hour (≈1,100 a day, writes at most 21 an hour).

use super::Sweep;
use crate::domain::{request_id::RequestId, timestamp::Millis};
use crate::store::keys;
use crate::store::kv::{Kv, KvError};
use crate::upstream::holders::Due;
use crate::upstream::Upstream;

/// CID states read per pass.
pub const VERIFY_PER_PASS: u32 = 20;
const CURSOR: &str = "s/verify";

impl<K: Kv, U: Upstream> Sweep<'_, K, U> {
    /// Queues looks at pinned CIDs due for re-verification; returns how many.
    pub(super) async fn verify(&self) -> Result<u32, KvError> {
        if !self.hourly() || self.kv_left() < 3 * VERIFY_PER_PASS + 4 {
            return Ok(0);
        }
        let cursor = self.pass_cursor(CURSOR).await?;
        let page = self
            .kv
            .list(keys::CID_STATES, cursor, VERIFY_PER_PASS)
            .await?;
        let mut queued = 0;
        for key in &page.keys {
            let cid = &key.name[keys::CID_STATES.len()..];
            let Some(state) = self.keys().state(cid).await? else {
                continue;
            };
            if state.releasing.is_none() && state.needs_verifying(self.now) {
                // Nobody's turn: the deployment's own work (`Due.user` absent).
                let by = RequestId::new(Millis(self.now.0), queued.into());
                let entry = Due {
                    at: self.now.0,
                    ..Due::default()
                };
                let key = keys::queued(self.now.0, cid, &by);
                self.keys().put_entry(&key, &entry).await?;
                queued += 1;
            }
        }
        match page.cursor {
            Some(next) => {
                self.kv
                    .put(CURSOR, &next, &serde_json::json!({}), None)
                    .await?
            }
            None => self.kv.delete(CURSOR).await?,
        }
        Ok(queued)
    }
}
