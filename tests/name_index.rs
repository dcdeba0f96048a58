//! The name index (`n/{user}/{hash}/{id}`) against the scan it replaces: randomized pinsets
//! through adds, Kubo's MFS replaces, deletes and status changes; writes stopped at every
//! step; pins written before the index existed.

mod common;

use common::{basic, block_on, cid, config, Client, MemoryKv};
use edge_pinning::auth::user::UserId;
use edge_pinning::domain::name::fold;
use edge_pinning::domain::status::Status;
use edge_pinning::domain::timestamp::Millis;
use edge_pinning::domain::{cid::Cid, request_id::RequestId};
use edge_pinning::http::HttpRequest;
use edge_pinning::limits::Unlimited;
use edge_pinning::store::keys;
use edge_pinning::store::kv::{Kv, KvError, ListPage};
use edge_pinning::store::names::{BACKFILL_MAX, ROLLOUT_MS};
use edge_pinning::store::pins::PinStore;
use edge_pinning::store::record::PinRecord;
use serde_json::{json, Value};
use std::cell::Cell;
use std::rc::Rc;

const MFS: &str = "policy/12D3KooWQmPeer/mfs";
const ALL: &str = "status=queued,pinning,pinned,failed";

/// Names with case variants, lower-casings that change length ('İ'), final sigma, 'ß',
/// 255 characters of 2 and 4 bytes (the latter too long to stay in list metadata), shared
/// prefixes, escapes, the empty name.
fn pool() -> Vec<String> {
    let mut names: Vec<String> = [
        MFS,
        "Policy/12D3KooWQmPeer/MFS",
        "policy/12D3KooWQmPeer/mfs2",
        "İstanbul",
        "i\u{307}stanbul",
        "ISTANBUL",
        "istanbul",
        "report",
        "Report",
        "report-2024",
        "rep",
        "ΟΔΟΣ",
        "οδος",
        "οδοσ",
        "ß",
        "SS",
        "ss",
        "quote \" and back\\slash",
        "",
    ]
    .map(str::to_owned)
    .to_vec();
    names.push("é".repeat(255));
    names.push("É".repeat(255));
    names.push("😀".repeat(255));
    names.push("a".repeat(254) + "B");
    names
}

fn rng(seed: u64) -> impl FnMut(usize) -> usize {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(7);
    move |n| {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (s >> 33) as usize % n
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const STATE: &str = "n/alice/!";

/// Marks alice's index as complete long ago (what the backfill ends in).
fn indexed(c: &Client) {
    let done = json!({"s": 0, "d": 0}).to_string();
    c.kv.map
        .borrow_mut()
        .insert(STATE.into(), (done, Value::Null));
}

/// (count, request ids) of a listing.
fn ids(c: &Client, q: &str) -> (u64, Vec<String>) {
    let a = c.call("alice", "GET", q, "");
    assert_eq!(a.status, 200, "{q}: {}", a.body);
    let ids = a.body["results"].as_array().unwrap().iter();
    let ids = ids.map(|p| p["requestid"].as_str().unwrap().to_owned());
    (a.body["count"].as_u64().unwrap(), ids.collect())
}

/// The same listing answered by a scan of the whole pinset: the index's state hidden, then
/// put back as it was.
fn scanned(c: &Client, q: &str) -> (u64, Vec<String>) {
    let state = c.kv.map.borrow_mut().remove(STATE);
    let out = ids(c, q);
    let mut map = c.kv.map.borrow_mut();
    match state {
        Some(s) => map.insert(STATE.into(), s),
        None => map.remove(STATE),
    };
    out
}

/// Every name entry is a pin's, under the hash of its folded name, with its record's metadata.
fn entries_are_true(kv: &MemoryKv) {
    let user = UserId::parse("alice").unwrap();
    let map = kv.map.borrow();
    for (k, (_, meta)) in map.range("n/alice/".to_owned()..) {
        if !k.starts_with("n/alice/") || k == STATE {
            continue;
        }
        let id = keys::request_id_of(k).unwrap();
        let (json, _) = map
            .get(&keys::pin(&user, &id))
            .unwrap_or_else(|| panic!("{k} points at no pin"));
        let r = PinRecord::from_json(json).unwrap();
        let name = r.name.as_deref().expect("a named pin");
        assert_eq!(k, &keys::name_index(&user, &fold(name), &id));
        assert_eq!(meta, &r.to_metadata(), "{k} says what the record says");
    }
}

/// The pins a name lookup can miss: those without a name entry.
fn unindexed(kv: &MemoryKv) -> Vec<String> {
    let user = UserId::parse("alice").unwrap();
    let map = kv.map.borrow();
    let pins = map.iter().filter_map(|(k, (v, _))| {
        let id = RequestId::parse(k.strip_prefix("p/alice/")?)?;
        let name = PinRecord::from_json(v)?.name?;
        let entry = keys::name_index(&user, &fold(&name), &id);
        (!map.contains_key(&entry)).then(|| id.as_str().to_owned())
    });
    pins.collect()
}

/// Kubo's MFS check: look the policy pin up by name, in every status, then replace it (or add
/// it if there is none). Returns the request id of the policy pin now.
fn mfs_step(c: &Client, n: u32) -> String {
    let (_, found) = ids(c, &format!("/pins?name={}&{ALL}", enc(MFS)));
    let pin = json!({"cid": cid(n), "name": MFS}).to_string();
    let a = match found.first() {
        Some(id) => c.call("alice", "POST", &format!("/pins/{id}"), &pin),
        None => c.call("alice", "POST", "/pins", &pin),
    };
    assert_eq!(a.status, 202, "{}", a.body);
    a.body["requestid"].as_str().unwrap().to_owned()
}

#[test]
fn the_index_answers_as_the_scan_through_random_writes() {
    let names = pool();
    let statuses = ["queued", "pinning", "pinned", "failed"];
    let mut compared = 0;
    for seed in 0..6u64 {
        let mut next = rng(seed);
        let mut c = Client::new("instant", if seed % 2 == 0 { 3 } else { 1000 });
        // The same KV through the `none` backend: pins stay queued.
        let mut queued = Client::new("none", 1000);
        queued.kv = c.kv.clone();
        indexed(&c);
        c.now += 70_000;
        let user = UserId::parse("alice").unwrap();
        let mut n = 0u32;
        let mut policy: Option<String> = None;
        for step in 0..120 {
            // Never more than one policy pin (checked below, after every step).
            n += 1;
            queued.now = c.now;
            let live: Vec<RequestId> =
                c.kv.map
                    .borrow()
                    .keys()
                    .filter_map(|k| RequestId::parse(k.strip_prefix("p/alice/")?))
                    .collect();
            match next(8) {
                0..=2 => {
                    let k = ["a", "b"][next(2)];
                    let mut pin = json!({"cid": cid(n), "meta": {"k": k}});
                    if next(6) > 0 {
                        // Any name but the policy's own (index 0): its variants are fine.
                        pin["name"] = json!(names[1 + next(names.len() - 1)]);
                    }
                    let by = if next(2) == 0 { &c } else { &queued };
                    by.pin("alice", pin);
                }
                3 => policy = Some(mfs_step(&c, n)),
                4 if !live.is_empty() => {
                    let id = live[next(live.len())];
                    let del = c.call("alice", "DELETE", &format!("/pins/{}", id.as_str()), "");
                    assert_eq!(del.status, 202);
                    if policy.as_deref() == Some(id.as_str()) {
                        policy = None;
                    }
                }
                5 if !live.is_empty() => {
                    // A status change, as a backend writes it (same pin, same name).
                    let id = live[next(live.len())];
                    let store = PinStore::new(&c.kv, &user);
                    let mut r = block_on(store.get(&id)).unwrap().unwrap();
                    let before = r.status;
                    r.status = Status::parse(statuses[next(4)]).unwrap();
                    let cid = Cid::parse(&r.cid).unwrap();
                    block_on(store.put(&id, &cid, &r, Some(before), Millis(c.now))).unwrap();
                }
                6 => {
                    // A replace that renames.
                    if let Some(id) = live.get(next(live.len().max(1))) {
                        let name = &names[1 + next(names.len() - 1)];
                        let pin = json!({"cid": cid(n), "name": name});
                        let a = c.call(
                            "alice",
                            "POST",
                            &format!("/pins/{}", id.as_str()),
                            &pin.to_string(),
                        );
                        assert_eq!(a.status, 202);
                        if policy.as_deref() == Some(id.as_str()) {
                            policy = None;
                        }
                    }
                }
                _ => c.now += [1, 61_000, 400_000][next(3)],
            }
            entries_are_true(&c.kv);
            assert_eq!(unindexed(&c.kv), Vec::<String>::new());
            // The policy pin, looked up the way Kubo does, is the one the sequence left.
            let (count, found) = ids(&c, &format!("/pins?name={}&{ALL}", enc(MFS)));
            assert_eq!(
                count as usize,
                usize::from(policy.is_some()),
                "seed {seed} step {step}"
            );
            assert_eq!(found.first(), policy.as_ref());
            for _ in 0..4 {
                let name = &names[next(names.len())];
                let mode = ["exact", "iexact"][next(2)];
                let mut q = format!(
                    "/pins?name={}&match={mode}&limit={}",
                    enc(name),
                    1 + next(4)
                );
                match next(4) {
                    0 => q += &format!("&{ALL}"),
                    1 => q += &format!("&status={}", statuses[next(4)]),
                    2 => q += "&status=queued,pinned&meta=%7B%22k%22%3A%22a%22%7D",
                    _ => {}
                }
                if next(3) == 0 && !live.is_empty() {
                    let at = live[next(live.len())].created().to_rfc3339();
                    q += &format!("&{}={}", ["before", "after"][next(2)], enc(&at));
                }
                assert_eq!(ids(&c, &q), scanned(&c, &q), "seed {seed} step {step}: {q}");
                compared += 1;
            }
        }
    }
    assert!(compared > 2000);
}

/// KV that refuses every write after the first `left`: a request that died at that step.
#[derive(Clone)]
struct Stopping {
    kv: MemoryKv,
    left: Rc<Cell<usize>>,
}

impl Stopping {
    fn write(&self) -> Result<(), KvError> {
        match self.left.get() {
            0 => Err(KvError("stopped".into())),
            n => {
                self.left.set(n - 1);
                Ok(())
            }
        }
    }
}

impl Kv for Stopping {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.kv.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        meta: &Value,
        exp: Option<u64>,
    ) -> Result<(), KvError> {
        self.write()?;
        self.kv.put(key, value, meta, exp).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.write()?;
        self.kv.delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        self.kv.list(prefix, cursor, limit).await
    }
}

/// A request by alice through a KV that stops after `writes` writes; its status.
fn stopped_call(c: &Client, writes: usize, method: &str, path: &str, body: &str) -> u16 {
    let req = HttpRequest {
        method: method.into(),
        path: path.into(),
        query: String::new(),
        authorization: Some(basic("alice")),
        client_ip: Some("192.0.2.1".into()),
        body: body.as_bytes().to_vec(),
    };
    let kv = Stopping {
        kv: c.kv.clone(),
        left: Rc::new(Cell::new(writes)),
    };
    let config = config("instant");
    let reply = block_on(edge_pinning::app::handle(
        req,
        kv,
        &Unlimited,
        Ok(&config),
        Millis(c.now),
    ));
    reply.status
}

/// Name lookups after an interrupted write: never a pin that is not there or a stale one;
/// at most the interrupted pin missing, and only while it lacks its entry.
fn lookups_hold(c: &Client) {
    entries_are_true(&c.kv);
    let missing = unindexed(&c.kv);
    for name in [MFS, "Policy/12D3KooWQmPeer/MFS", "doc"] {
        for mode in ["exact", "iexact"] {
            let q = format!("/pins?name={}&match={mode}&{ALL}&limit=1000", enc(name));
            let (index, scan) = (ids(c, &q).1, scanned(c, &q).1);
            let extra: Vec<_> = scan.iter().filter(|id| !index.contains(id)).collect();
            assert!(index.iter().all(|id| scan.contains(id)), "{q}");
            assert!(
                extra.iter().all(|id| missing.contains(id)),
                "{q}: {extra:?}"
            );
        }
    }
}

#[test]
fn writes_stopped_at_every_step_leave_lookups_true() {
    let setup = || {
        let mut c = Client::new("instant", 1000);
        indexed(&c);
        c.now += 70_000;
        c.pin("alice", json!({"cid": cid(1), "name": "doc"}));
        c.pin("alice", json!({"cid": cid(2), "name": "Doc"}));
        let policy = mfs_step(&c, 3);
        c.now += 1000;
        (c, policy)
    };
    let mut steps = [0; 3];
    for (op, stepped) in steps.iter_mut().enumerate() {
        for k in 0.. {
            let (c, policy) = setup();
            let body = json!({"cid": cid(9), "name": MFS}).to_string();
            let status = match op {
                0 => stopped_call(
                    &c,
                    k,
                    "POST",
                    "/pins",
                    &json!({"cid": cid(9), "name": "DOC"}).to_string(),
                ),
                1 => stopped_call(&c, k, "DELETE", &format!("/pins/{policy}"), ""),
                _ => stopped_call(&c, k, "POST", &format!("/pins/{policy}"), &body),
            };
            if status == 202 {
                *stepped = k;
                lookups_hold(&c);
                assert!(unindexed(&c.kv).is_empty());
                break;
            }
            assert_eq!(status, 500);
            lookups_hold(&c);
            assert!(unindexed(&c.kv).len() <= 1, "only the interrupted pin");
            // The client tries again: a delete completes; Kubo's MFS check looks up and
            // replaces (or adds) again, leaving one policy pin it can find.
            match op {
                0 => {}
                1 => {
                    let again = c.call("alice", "DELETE", &format!("/pins/{policy}"), "");
                    assert!([202, 404].contains(&again.status));
                    assert!(unindexed(&c.kv).is_empty());
                }
                _ => {
                    // Stopped after the new pin was whole and before the old one's name entry
                    // went: both are there, and both are found (never neither). Stopped
                    // later, the old pin lists but is found by neither index, as an
                    // interrupted delete leaves it.
                    mfs_step(&c, 10);
                    let (count, _) = ids(&c, &format!("/pins?name={}&{ALL}", enc(MFS)));
                    assert_eq!(count, if (4..=6).contains(&k) { 2 } else { 1 }, "k={k}");
                }
            }
            lookups_hold(&c);
        }
    }
    // marker, record, CID entry, name entry; marker, CID entry, name entry, record; both.
    assert_eq!(steps, [4, 4, 8]);
}

type Hook = Box<dyn FnOnce()>;

/// KV that runs `hook` once, just before the first name entry is put: another request's
/// write landing in the middle of the backfill's write and its check.
#[derive(Clone)]
struct Hooked {
    kv: MemoryKv,
    hook: Rc<std::cell::RefCell<Option<Hook>>>,
}

impl Kv for Hooked {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.kv.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        meta: &Value,
        exp: Option<u64>,
    ) -> Result<(), KvError> {
        if key.starts_with("n/alice/") && key != STATE {
            let hook = self.hook.borrow_mut().take();
            if let Some(hook) = hook {
                hook();
            }
        }
        self.kv.put(key, value, meta, exp).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.kv.delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ListPage, KvError> {
        self.kv.list(prefix, cursor, limit).await
    }
}

fn listing_on(c: &Client, kv: impl Kv, query: &str) -> (u64, String) {
    let req = HttpRequest {
        method: "GET".into(),
        path: "/pins".into(),
        query: query.into(),
        authorization: Some(basic("alice")),
        client_ip: Some("192.0.2.1".into()),
        body: Vec::new(),
    };
    let reply = block_on(edge_pinning::app::handle(
        req,
        kv,
        &Unlimited,
        Ok(&c.config),
        Millis(c.now),
    ));
    let body: Value = serde_json::from_str(reply.body.as_deref().unwrap()).unwrap();
    (
        body["count"].as_u64().unwrap(),
        reply.header("x-kv-ops").unwrap().to_owned(),
    )
}

/// Pins written before the index existed: name lookups scan (and find them) until a backfill,
/// driven by the listings that scan, has written their entries and settled; never a lookup
/// that misses one.
#[test]
fn pins_from_before_the_index_are_backfilled_without_a_gap() {
    let mut c = Client::new("instant", 1000);
    let older = 2 * BACKFILL_MAX + 50;
    for i in 0..older as u32 {
        let mut pin = json!({"cid": cid(i)});
        if i % 10 != 9 {
            pin["name"] = json!(["doc", "Doc", "report"][i as usize % 3]);
        }
        c.pin("alice", pin);
    }
    // One older add stopped before its CID entry: the scan that prunes its change marker puts
    // its entries back (`store::repair`), so it ends up in both indexes.
    let user = UserId::parse("alice").unwrap();
    let lame = c.pin("alice", json!({"cid": cid(5000), "name": "doc"}));
    let lame_id = RequestId::parse(lame["requestid"].as_str().unwrap()).unwrap();
    // As older code left them: no name entries, no state.
    c.kv.map.borrow_mut().retain(|k, _| !k.starts_with("n/"));
    let c_key = keys::cid_index(&user, &Cid::parse(&cid(5000)).unwrap(), &lame_id);
    c.kv.map.borrow_mut().remove(&c_key);
    let named = |c: &Client, n: &str| -> u64 {
        let q = format!("/pins?name={n}&match=iexact&{ALL}");
        let (count, _) = ids(c, &q);
        assert_eq!(count, scanned(c, &q).0);
        count
    };
    let docs = named(&c, "doc");
    assert_eq!(
        docs,
        c.kv.map
            .borrow()
            .iter()
            .filter(
                |(k, (v, _))| k.starts_with("p/alice/") && v.contains(r#""n":"doc""#)
                    || k.starts_with("p/alice/") && v.contains(r#""n":"Doc""#)
            )
            .count() as u64
    );
    // The first scan started the clock; nothing is indexed before the rollout is over.
    let state = |c: &Client| {
        c.kv.map
            .borrow()
            .get(STATE)
            .map(|(v, _)| v.clone())
            .unwrap()
    };
    assert!(state(&c).contains(r#""s":"#) && !state(&c).contains(r#""d""#));
    c.now += 60_000;
    c.pin("alice", json!({"cid": cid(6000), "name": "DOC"}));
    assert_eq!(named(&c, "doc"), docs + 1);
    assert_eq!(unindexed(&c.kv).len(), older - older / 10 + 1);
    // Then each scanning listing indexes up to BACKFILL_MAX older pins, newest first.
    c.now += ROLLOUT_MS;
    let mut scans = 0;
    while !state(&c).contains(r#""d""#) {
        assert_eq!(named(&c, "doc"), docs + 1, "found throughout");
        entries_are_true(&c.kv);
        scans += 1;
        assert!(scans < 10);
    }
    // The named older pins, the one that never finished (its entry put back by the first of
    // these scans, which prunes its marker), and the one added in the rollout.
    let wanted = older - older / 10 + 2;
    assert_eq!(
        scans,
        wanted.div_ceil(BACKFILL_MAX),
        "{wanted} pins, {BACKFILL_MAX} a scan"
    );
    assert!(unindexed(&c.kv).is_empty(), "the stopped add repaired too");
    assert!(c.kv.map.borrow().contains_key(&c_key));
    // Done: still scanning until every location sees the entries; then one get and one list.
    let q = format!("name=doc&match=iexact&{ALL}");
    let (count, _) = listing_on(&c, c.kv.clone(), &q);
    assert_eq!(count, docs + 1, "a scan");
    c.now += 65_000;
    let (count, ops) = listing_on(&c, c.kv.clone(), &q);
    assert_eq!(count, docs + 1, "the repaired add is found, as by cid=");
    assert_eq!(ops, "get=1,put=0,delete=0,list=1");
    entries_are_true(&c.kv);
}

/// A delete or a status change landing between the backfill's write of an entry and its
/// check: the entry is taken back, or written again from the record.
#[test]
fn the_backfill_checks_what_it_wrote() {
    for race in ["delete", "delete-begun", "status"] {
        let mut c = Client::new("instant", 1000);
        let user = UserId::parse("alice").unwrap();
        let a = c.pin("alice", json!({"cid": cid(1), "name": "doc"}));
        let id = RequestId::parse(a["requestid"].as_str().unwrap()).unwrap();
        c.kv.map.borrow_mut().retain(|k, _| !k.starts_with("n/"));
        let start = json!({"s": c.now}).to_string();
        c.kv.map
            .borrow_mut()
            .insert(STATE.into(), (start, Value::Null));
        c.now += ROLLOUT_MS;
        let kv = c.kv.clone();
        let now = Millis(c.now);
        let u = user.clone();
        let hook: Box<dyn FnOnce()> = match race {
            "delete" => Box::new(move || {
                let store = PinStore::new(&kv, &u);
                let r = block_on(store.get(&id)).unwrap().unwrap();
                block_on(store.delete(&id, &r, now)).unwrap();
            }),
            // Only its CID entry gone yet; the rest comes after the check.
            "delete-begun" => Box::new(move || {
                let cid = Cid::parse(&cid(1)).unwrap();
                kv.map.borrow_mut().remove(&keys::cid_index(&u, &cid, &id));
            }),
            _ => Box::new(move || {
                let store = PinStore::new(&kv, &u);
                let mut r = block_on(store.get(&id)).unwrap().unwrap();
                r.status = Status::Failed;
                let cid = Cid::parse(&r.cid).unwrap();
                block_on(store.put(&id, &cid, &r, Some(Status::Pinned), now)).unwrap();
            }),
        };
        let hooked = Hooked {
            kv: c.kv.clone(),
            hook: Rc::new(std::cell::RefCell::new(Some(hook))),
        };
        listing_on(&c, hooked, "name=doc");
        if race == "delete-begun" {
            let r = block_on(PinStore::new(&c.kv, &user).get(&id))
                .unwrap()
                .unwrap();
            block_on(PinStore::new(&c.kv, &user).delete(&id, &r, Millis(c.now))).unwrap();
        }
        entries_are_true(&c.kv);
        assert!(unindexed(&c.kv).is_empty(), "{race}");
        let left =
            c.kv.map
                .borrow()
                .keys()
                .filter(|k| k.starts_with("n/alice/") && *k != STATE)
                .count();
        assert_eq!(left, usize::from(race == "status"), "{race}");
    }
}
