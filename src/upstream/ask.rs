//! One exchange with the upstream about a held CID, folded into its `CidState`. Shared by the
//! request path (add, read) and the sweep, so both react to an answer in the same way.

use super::state::CidState;
use super::{Answer, Refusal, Upstream, UpstreamPin};
use crate::domain::{status::Status, timestamp::Millis};

/// What the caller learns besides the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    Answered,
    /// Unreachable, 5xx or malformed: the state carries the backoff.
    Unavailable,
    /// A 4xx to an add that carried one request's origins: that request's alone to bear. The
    /// shared state is left as it was; the caller fails that pin object only.
    RefusedAlone(Refusal),
}

/// Pins the CID upstream: a 2xx tracks the upstream pin, anything but a 4xx is retried later.
/// A 4xx to the bare CID is about the CID itself (any holder asking would get it): the state
/// records it, final until a new pin object asks again. A 4xx to an add with a request's
/// origins may be about those origins, so it decides nothing for the other holders.
pub async fn add<U: Upstream>(
    up: &U,
    state: &mut CidState,
    pin: &UpstreamPin,
    now: Millis,
    retry_secs: u64,
) -> Asked {
    match up.add(pin).await {
        Answer::Ok(s) => {
            state.observed(s);
            state.confirmed(now);
            Asked::Answered
        }
        Answer::Refused(r) if !pin.origins.is_empty() => Asked::RefusedAlone(r),
        Answer::Refused(r) => {
            state.refused(&r);
            Asked::Answered
        }
        Answer::Unavailable(e) => {
            state.failed_attempt(e, now, retry_secs);
            Asked::Unavailable
        }
    }
}

/// Brings the state up to date: asks for the upstream pin's status, or adds the CID when it has
/// no upstream pin, or the upstream no longer knows it (a held CID missing upstream is re-added).
/// On behalf of every holder, so with the bare CID.
pub async fn refresh<U: Upstream>(
    up: &U,
    state: &mut CidState,
    cid: &str,
    now: Millis,
    retry_secs: u64,
) -> Asked {
    let pin = &UpstreamPin::bare(cid);
    let Some(id) = state.upstream_id.clone() else {
        return add(up, state, pin, now, retry_secs).await;
    };
    match up.get(&id).await {
        Answer::Ok(s) => {
            let was_pinned = state.status == Status::Pinned;
            state.observed(s);
            if was_pinned && !state.is_final() {
                // Pinned no more (a provider that lost blocks and fetches them again).
                state.lost = Some(now.0);
            }
            state.confirmed(now);
            Asked::Answered
        }
        Answer::Refused(r) if r.is_not_found() => {
            if state.status == Status::Pinned {
                // The provider lost a pin it had: drift, repaired by adding it again.
                state.lost = Some(now.0);
            }
            add(up, state, pin, now, retry_secs).await
        }
        // A 4xx on a status read says nothing about the pin: keep it and ask again later.
        Answer::Refused(r) => {
            state.failed_attempt(r.describe(), now, retry_secs);
            Asked::Unavailable
        }
        Answer::Unavailable(e) => {
            state.failed_attempt(e, now, retry_secs);
            Asked::Unavailable
        }
    }
}

/// Whether a held CID's state is worth a `refresh` now: nothing known, or no upstream pin and
/// the backoff over, or an upstream pin that is not final and the backoff over, or a `pinned`
/// the provider last confirmed `VERIFY_AFTER_MS` ago. A refusal waits for a new pin object.
pub fn worth_refreshing(state: Option<&CidState>, now: Millis) -> bool {
    match state {
        None => true,
        // A release may have unpinned it (and stopped before dropping this state): ask.
        Some(s) if s.releasing.is_some() => true,
        Some(s) if s.is_refused() => false,
        Some(s) if s.needs_verifying(now) => true,
        Some(s) => !s.is_final() && s.is_due(now),
    }
}

/// Whether a *new* pin object of the CID should call the upstream (`add`) rather than mirror
/// what is known. It does when nothing is pinned upstream for sure: nothing known, a refusal or
/// `failed` (a new pin object tries again), a release mark (the sweep may be about to unpin:
/// pin again ourselves, see the sweep), or no upstream pin yet — even during the CID's
/// backoff: a new pin object asks at once, as the first add of a CID does, so that what it is
/// shown comes from its own call and not from earlier holders' failed tries. A live upstream
/// pin is mirrored: that is what makes it one upstream pin per CID.
pub fn worth_adding(state: Option<&CidState>) -> bool {
    match state {
        None => true,
        Some(s) if s.releasing.is_some() || s.status == Status::Failed => true,
        Some(s) => s.upstream_id.is_none(),
    }
}
