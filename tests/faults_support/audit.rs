//! The invariants checked after every fault, through the API as users see it: what the test's
//! clients were told (the model) against what every listing, read and count answers.

use super::{FaultWorld, USERS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const ALL: &str = "status=queued,pinning,pinned,failed&limit=1000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub cid: String,
    pub name: String,
}

/// What the clients were acknowledged.
#[derive(Default, Clone)]
pub struct Model {
    /// (user, request id) → the pin.
    pub pins: BTreeMap<(String, String), Want>,
    /// (user, token id) → the token.
    pub tokens: BTreeMap<(String, String), String>,
    /// Tokens whose revocation was acknowledged.
    pub revoked: Vec<String>,
}

/// What the faulted request may or may not have done: each of these is allowed to be wholly
/// there or wholly gone, never half.
#[derive(Default, Clone)]
pub struct Doubt {
    /// Existing pins it was changing (a delete's, a replace's old pin).
    pub pins: Vec<(String, String)>,
    /// A pin it was creating, whose id the client never learnt.
    pub new: Option<(String, Want)>,
    /// A token it was revoking.
    pub token: Option<(String, String)>,
    /// A token it was issuing (user).
    pub new_token: Option<String>,
}

#[derive(Default)]
pub struct Findings {
    pub checks: u64,
    pub violations: Vec<String>,
}

impl Findings {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            self.violations.push(what());
        }
    }
}

type Listed = BTreeMap<String, (String, String, String)>;

/// `GET /pins?{query}` as `user`: id → (cid, name, status), and the count.
fn list(w: &FaultWorld, user: &str, query: &str, f: &mut Findings) -> (Listed, u64) {
    let a = w.call(user, "GET", &format!("/pins?{query}"), "");
    f.check(a.status == 200, || {
        format!("{user} GET /pins?{query}: {}", a.status)
    });
    let mut out = Listed::new();
    let results = a.body["results"].as_array().cloned().unwrap_or_default();
    for p in &results {
        let id = p["requestid"].as_str().unwrap_or("").to_owned();
        let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
        let entry = (s(&p["pin"]["cid"]), s(&p["pin"]["name"]), s(&p["status"]));
        let fresh = out.insert(id.clone(), entry).is_none();
        f.check(fresh, || format!("{user} ?{query}: {id} listed twice"));
    }
    (out, a.body["count"].as_u64().unwrap_or(u64::MAX))
}

/// Every invariant, for every user. `upstream`: also the upstream's side, after the sweeps.
pub fn audit(w: &FaultWorld, model: &Model, doubt: &Doubt, upstream: bool) -> Findings {
    let mut f = Findings::default();
    let mut live_cids = BTreeSet::new();
    let mut universe: BTreeSet<String> = model.pins.values().map(|p| p.cid.clone()).collect();
    universe.extend(doubt.new.iter().map(|(_, p)| p.cid.clone()));
    for user in USERS {
        let (all, count) = list(w, user, ALL, &mut f);
        f.check(count == all.len() as u64, || {
            format!("{user}: count {count} but {} listed", all.len())
        });
        for status in ["queued", "pinning", "pinned", "failed"] {
            let (some, n) = list(w, user, &format!("status={status}&limit=1000"), &mut f);
            let want: BTreeSet<_> = all
                .iter()
                .filter(|p| p.1 .2 == status)
                .map(|p| p.0)
                .collect();
            let got: BTreeSet<_> = some.keys().collect();
            f.check(got == want && n == want.len() as u64, || {
                format!("{user} status={status}: {got:?} (count {n}), all lists {want:?}")
            });
        }
        // Every CID in play, listed by cid, against the full listing (finds index entries
        // without a record, and records without an index entry).
        for cid in &universe {
            let (by_cid, n) = list(w, user, &format!("cid={cid}"), &mut f);
            let want: BTreeSet<_> = all.iter().filter(|p| &p.1 .0 == cid).map(|p| p.0).collect();
            let got: BTreeSet<_> = by_cid.keys().collect();
            f.check(got == want && n == want.len() as u64, || {
                format!("{user} cid={cid}: {got:?} (count {n}), all lists {want:?}")
            });
        }
        let names: BTreeSet<&String> = all.values().map(|p| &p.1).collect();
        for name in names {
            let (by_name, _) = list(w, user, &format!("name={name}&match=exact"), &mut f);
            let want: BTreeSet<_> = all
                .iter()
                .filter(|p| &p.1 .1 == name)
                .map(|p| p.0)
                .collect();
            let got: BTreeSet<_> = by_name.keys().collect();
            f.check(got == want, || {
                format!("{user} name={name}: {got:?}, all {want:?}")
            });
        }
        let mut unknown = 0;
        for (id, (cid, name, status)) in &all {
            live_cids.insert(cid.clone());
            let got = w.call(user, "GET", &format!("/pins/{id}"), "");
            let same = got.body["pin"]["cid"] == cid.as_str() && got.status == 200;
            f.check(same, || {
                format!("{user}: {id} listed, but GET says {}", got.status)
            });
            let key = (user.to_owned(), id.clone());
            let here = Want {
                cid: cid.clone(),
                name: name.clone(),
            };
            match model.pins.get(&key) {
                Some(want) => f.check(*want == here, || format!("{user}: {id} changed")),
                None => {
                    unknown += 1;
                    let new = doubt
                        .new
                        .as_ref()
                        .is_some_and(|(u, p)| u == user && *p == here);
                    f.check(new && unknown == 1, || format!("{user}: {id} is unknown"));
                }
            }
            if upstream {
                f.check(status == "pinned", || {
                    format!("{user}: {id} stays {status}")
                });
            }
        }
        for ((u, id), want) in model.pins.iter().filter(|((u, _), _)| u == user) {
            let doubtful = doubt.pins.iter().any(|(du, did)| du == u && did == id);
            let listed = all.contains_key(id);
            f.check(listed || doubtful, || {
                format!("{u}: acknowledged pin {id} ({}) lost", want.cid)
            });
        }
        audit_tokens(w, user, model, doubt, &mut f);
    }
    if upstream {
        let up = &w.up.inner;
        for cid in &live_cids {
            let held = up
                .pins_of(cid)
                .iter()
                .any(|p| p.status.as_str() == "pinned");
            f.check(held, || format!("{cid} is held but not pinned upstream"));
        }
        let upstream_cids: BTreeSet<String> =
            up.pins.borrow().values().map(|p| p.cid.clone()).collect();
        for cid in upstream_cids {
            let ok = live_cids.contains(&cid);
            f.check(ok, || {
                format!("{cid} stays pinned upstream with no pin object")
            });
        }
    }
    f
}

fn audit_tokens(w: &FaultWorld, user: &str, model: &Model, doubt: &Doubt, f: &mut Findings) {
    let a = w.call(user, "GET", "/tokens", "");
    f.check(a.status == 200, || {
        format!("{user} GET /tokens: {}", a.status)
    });
    let listed: BTreeSet<String> = a.body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| t["id"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut unknown = 0;
    for id in &listed {
        let key = (user.to_owned(), id.clone());
        if model.tokens.contains_key(&key) || doubt.token.as_ref() == Some(&key) {
            continue;
        }
        unknown += 1;
        let ok = doubt.new_token.as_deref() == Some(user) && unknown == 1;
        f.check(ok, || format!("{user}: token {id} is unknown"));
    }
    for ((u, id), jwt) in model.tokens.iter().filter(|((u, _), _)| u == user) {
        let use_it = w.call_as(&format!("Bearer {jwt}"), "GET", "/pins?limit=1", "");
        let key = (u.clone(), id.clone());
        if doubt.token.as_ref() == Some(&key) {
            // Revoked or not, wholly: refused exactly when it is no longer listed.
            let refused = use_it.status == 401;
            f.check(refused != listed.contains(id), || {
                format!("{u}: token {id} half revoked ({})", use_it.status)
            });
            continue;
        }
        let works = use_it.status == 200 && listed.contains(id);
        f.check(works, || {
            format!("{u}: token {id} lost ({})", use_it.status)
        });
    }
    for jwt in model.revoked.iter().filter(|_| user == USERS[0]) {
        let use_it = w.call_as(&format!("Bearer {jwt}"), "GET", "/pins?limit=1", "");
        f.check(use_it.status == 401, || "a revoked token works".to_owned());
    }
}
