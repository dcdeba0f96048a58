//! How a run shares its budgets among users. The queue is listed first (a `list` per 1000
//! entries; entries not yet due are skipped without a read), and the due entries are grouped
//! by the user whose request queued them, each user's oldest first. Then users take turns,
//! one look each, in the order of their oldest entry. A user who has spent half of the run's
//! KV operations or half of its upstream calls waits while anyone else still has a turn to
//! take (they may go on once nobody else does: no budget is left idle). So a user with
//! hundreds of CIDs that never finish delays another user's look by at most one turn.
//!
//! `s/sweep` is written only by a run that could not do every due entry (as before, nothing
//! when the queue is done): per user, the last entry looked at, so that the next run goes on
//! after it and every entry of a user is looked at once before any is looked at again; and
//! the list cursor, should the queue be longer than one run can list.

use super::{Sweep, BREAKER, KV_BUDGET, KV_PER_ENTRY};
use crate::store::keys::{self, QUEUE, SWEEP_CURSOR};
use crate::store::kv::{Kv, KvError, LIST_PAGE};
use crate::upstream::holders::Due;
use crate::upstream::Upstream;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// KV operations a run may spend on listing the queue (a third of its budget: 300 lists).
const LIST_BUDGET: u32 = KV_BUDGET / 3;

/// Where runs stand (the `s/sweep` value).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Resume {
    /// The queue's list cursor, when a run stopped listing before its end.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    /// Per user, the last entry looked at by a run that stopped before that user's last one.
    #[serde(rename = "u", default, skip_serializing_if = "BTreeMap::is_empty")]
    users: BTreeMap<String, String>,
}

/// One user's due entries in this run, and what their looks have cost so far.
struct Turns {
    user: String,
    due: VecDeque<(String, String, Due)>,
    last: Option<String>,
    kv: u32,
    calls: u32,
}

impl<K: Kv, U: Upstream> Sweep<'_, K, U> {
    /// One run: list, take turns, save where each user stopped.
    pub(super) async fn pass(&self) -> Result<Option<&'static str>, KvError> {
        let saved: Resume = match self.kv.get(SWEEP_CURSOR).await? {
            Some(raw) => serde_json::from_str(&raw).unwrap_or_default(),
            None => Resume::default(),
        };
        let (mut users, cursor) = self.list(saved.cursor.clone()).await?;
        for t in &mut users {
            // Go on after the last entry looked at; a user with nothing after it starts over.
            if let Some(after) = saved.users.get(&t.user) {
                if t.due.iter().any(|(k, _, _)| k > after) {
                    t.due.retain(|(k, _, _)| k > after);
                    t.last = Some(after.clone());
                }
            }
        }
        let stopped = self.take_turns(&mut users).await?;
        let resume = Resume {
            cursor,
            users: users
                .into_iter()
                .filter(|t| !t.due.is_empty())
                .filter_map(|t| Some((t.user, t.last?)))
                .collect(),
        };
        if resume != saved {
            if resume == Resume::default() {
                self.kv.delete(SWEEP_CURSOR).await?;
            } else {
                let raw = serde_json::to_string(&resume).expect("cursors serialize");
                let meta = serde_json::json!({});
                self.kv.put(SWEEP_CURSOR, &raw, &meta, None).await?;
            }
        }
        Ok(stopped.or(resume
            .cursor
            .as_ref()
            .map(|_| "queue too long to list in one run")))
    }

    /// The due entries, grouped by user in the order of each user's oldest, and the cursor to
    /// list on from next time if the listing budget ran out first.
    async fn list(
        &self,
        mut cursor: Option<String>,
    ) -> Result<(Vec<Turns>, Option<String>), KvError> {
        let mut users: Vec<Turns> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        loop {
            if self.kv.total() >= LIST_BUDGET {
                return Ok((users, cursor));
            }
            let page = match self.kv.list(QUEUE, cursor.clone(), LIST_PAGE).await {
                Ok(page) => page,
                // A cursor KV no longer accepts: start from the oldest entry.
                Err(_) if cursor.is_some() => {
                    cursor = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for key in page.keys {
                let due: Due = key
                    .metadata
                    .and_then(|m| serde_json::from_value(m).ok())
                    .unwrap_or_default();
                if due.at > self.now.0 {
                    continue;
                }
                let Some(cid) = keys::queued_cid(&key.name).map(str::to_owned) else {
                    self.kv.delete(&key.name).await?;
                    continue;
                };
                let user = due.user.clone().unwrap_or_default();
                let i = *index.entry(user.clone()).or_insert_with(|| {
                    users.push(Turns {
                        user,
                        due: VecDeque::new(),
                        last: None,
                        kv: 0,
                        calls: 0,
                    });
                    users.len() - 1
                });
                users[i].due.push_back((key.name, cid, due));
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok((users, None)),
            }
        }
    }

    /// Round-robin until every due entry is done or a budget is spent.
    async fn take_turns(&self, users: &mut [Turns]) -> Result<Option<&'static str>, KvError> {
        let kv_share = KV_BUDGET / 2;
        let calls_share = self.settings.sweep_calls.div_ceil(2);
        let capped = |t: &Turns| t.kv >= kv_share || t.calls >= calls_share;
        loop {
            let mut took = false;
            for i in 0..users.len() {
                if users[i].due.is_empty() {
                    continue;
                }
                let waiting = |j: usize| j != i && !users[j].due.is_empty() && !capped(&users[j]);
                if capped(&users[i]) && (0..users.len()).any(waiting) {
                    continue;
                }
                if self.kv_left() < KV_PER_ENTRY {
                    return Ok(Some("KV budget spent"));
                }
                if self.calls_left() == 0 {
                    return Ok(Some("upstream call budget spent"));
                }
                let (kv, calls) = (self.kv.total(), self.calls());
                let t = &mut users[i];
                let (key, cid, due) = t.due.pop_front().expect("not empty");
                t.last = Some(key.clone());
                self.turn(key, &cid, &due).await?;
                t.kv += self.kv.total() - kv;
                t.calls += self.calls() - calls;
                took = true;
                if self.up.streak() >= BREAKER {
                    return Ok(Some("upstream unavailable"));
                }
            }
            if !took {
                return Ok(None);
            }
        }
    }
}
