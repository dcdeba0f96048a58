//! `GET /pins/{id}` with the `upstream` backend, of a pin that is not final: the upstream is
//! asked (throttled per isolate), and what changed is stored, quota checked.

use super::{Shown, UpstreamPins};
use crate::domain::{cid::Cid, request_id::RequestId, timestamp::Millis};
use crate::store::{kv::Kv, kv::KvError, record::PinRecord};
use crate::upstream::ask::{self, worth_refreshing};
use crate::upstream::bytes;
use crate::upstream::state::CidState;
use crate::upstream::Upstream;

impl<K: Kv, U: Upstream> UpstreamPins<'_, K, U> {
    /// `GET /pins/{id}` of a pin that is not final: at most once per `UPSTREAM_REFRESH_SECONDS`
    /// (per isolate) ask the upstream, and store what changed.
    pub async fn refresh(
        &self,
        id: &RequestId,
        record: PinRecord,
        now: Millis,
    ) -> Result<Shown, KvError> {
        let Ok(cid) = Cid::parse(&record.cid) else {
            return Ok((record, None));
        };
        let interval = self.settings.refresh_secs * 1000;
        if record.status.is_final() || !self.up.throttle.allow(cid.canonical(), now, interval) {
            return Ok((record, None));
        }
        let known = self.keys().state(cid.canonical()).await?;
        let mut state = known.clone().unwrap_or_else(CidState::pending);
        if worth_refreshing(known.as_ref(), now) {
            let retry = self.settings.retry_secs;
            ask::refresh(self.up.client, &mut state, cid.canonical(), now, retry).await;
            if known.as_ref() != Some(&state) {
                self.keys().put_state(cid.canonical(), &state).await?;
            }
            if known.as_ref().map(|k| k.status) != Some(state.status) {
                // Other holders show the old status until the sweep passes.
                let c = cid.canonical();
                self.keys().enqueue(c, self.user, id, now, now.0).await?;
            }
        }
        if state.shown_by(&record) {
            return Ok((record, Some(state)));
        }
        let mut updated = state.apply_to(&record);
        let user = self.user;
        let over = bytes::overdraws(&self.ledger(), user, id, &record, &state).await?;
        if let Some(why) = &over {
            updated = bytes::refused(&record, why.clone());
        }
        let kept = self
            .keys()
            .rewrite_holder(self.user, id, &cid, record.status, &updated, now)
            .await?;
        if kept && over.is_some() {
            self.let_go(cid.canonical(), id, now).await?;
        }
        Ok((if kept { updated } else { record }, Some(state)))
    }
}
