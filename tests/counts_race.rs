//! A write that lands while a full scan is under way: the scan may count it or not, and its
//! marker (listed before the scan began reading pins) cannot say which. The stored totals must
//! then never be corrected by that marker a second time.

mod common;

use common::{block_on, cid, Client, MemoryKv};
use edge_pinning::auth::user::UserId;
use edge_pinning::domain::{
    cid::Cid, list_query::ListQuery, request_id::RequestId, status::Status, timestamp::Millis,
};
use edge_pinning::http::query;
use edge_pinning::store::kv::{Kv, KvError, ListPage};
use edge_pinning::store::pins::PinStore;
use edge_pinning::store::record::RecordView;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};

/// The in-memory KV, counting its gets and lists; it runs `during` once, just before the
/// `at`-th list, and tells the time `now` when given one (as workerd does).
struct Probe<'a> {
    inner: MemoryKv,
    lists: Cell<u32>,
    gets: Cell<u32>,
    at: u32,
    during: RefCell<Option<Box<dyn FnOnce() + 'a>>>,
    now: Option<Cell<u64>>,
}

impl<'a> Probe<'a> {
    fn new(inner: MemoryKv) -> Probe<'a> {
        Probe {
            inner,
            lists: Cell::new(0),
            gets: Cell::new(0),
            at: 0,
            during: RefCell::new(None),
            now: None,
        }
    }
}

impl Kv for Probe<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, v: &str, m: &Value, e: Option<u64>) -> Result<(), KvError> {
        self.inner.put(key, v, m, e).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, c: Option<String>, l: u32) -> Result<ListPage, KvError> {
        self.lists.set(self.lists.get() + 1);
        if self.lists.get() == self.at {
            if let Some(write) = self.during.borrow_mut().take() {
                write();
            }
        }
        self.inner.list(prefix, c, l).await
    }
    fn clock(&self) -> Option<Millis> {
        self.now.as_ref().map(|t| Millis(t.get()))
    }
}

fn count(kv: &impl Kv, user: &UserId, q: &str, now: u64) -> usize {
    let q = ListQuery::parse(&query::parse(q).unwrap()).unwrap();
    let render = |_: &RequestId, _: &RecordView<'_>| ();
    let store = PinStore::new(kv, user);
    block_on(store.list(&q, Millis(now), &render))
        .unwrap()
        .count
}

#[test]
fn a_status_change_during_a_storing_scan_is_counted_once() {
    let mut c = Client::new("instant", 5);
    let alice = UserId::parse("alice").unwrap();
    for i in 0..20 {
        c.pin("alice", json!({"cid": cid(i)}));
    }
    c.now += 400_000;
    let oldest = {
        let all = c.call("alice", "GET", "/pins?limit=20", "").body;
        all["results"][19]["requestid"].as_str().unwrap().to_owned()
    };
    // A full scan begins; after its first page (the totals and markers, a few new pins) the
    // oldest pin, not yet read, turns `queued`.
    let now = c.now;
    let kv = Probe {
        at: 2,
        during: RefCell::new(Some(Box::new(|| {
            let store = PinStore::new(&c.kv, &alice);
            let id = RequestId::parse(&oldest).unwrap();
            let mut record = block_on(store.get(&id)).unwrap().unwrap();
            record.status = Status::Queued;
            let cid = Cid::parse(&record.cid).unwrap();
            block_on(store.put(&id, &cid, &record, Some(Status::Pinned), Millis(now))).unwrap();
        }))),
        ..Probe::new(c.kv.clone())
    };
    assert_eq!(count(&kv, &alice, "name=x", now), 0);
    assert!(kv.lists.get() > 2, "the write landed mid-scan");
    assert!(
        c.kv.map.borrow().contains_key("p/alice/!c"),
        "the scan stored the totals it counted (the write included)"
    );
    // The write's marker may or may not be in those totals: listings must not apply it again.
    for later in [0, 1_000, 61_000] {
        assert_eq!(
            count(&c.kv, &alice, "status=queued", now + later),
            1,
            "+{later} ms"
        );
        assert_eq!(
            count(&c.kv, &alice, "status=pinned", now + later),
            19,
            "+{later} ms"
        );
    }
}

#[test]
fn with_a_clock_a_write_soon_after_a_scan_is_a_change_not_a_rescan() {
    let mut c = Client::new("instant", 1000);
    let alice = UserId::parse("alice").unwrap();
    for i in 0..20 {
        c.pin("alice", json!({"cid": cid(i)}));
    }
    c.now += 400_000;
    let kv = Probe {
        now: Some(Cell::new(c.now)),
        ..Probe::new(c.kv.clone())
    };
    // (count, gets, lists) of a status-only listing.
    let look = |now: u64| {
        kv.now.as_ref().unwrap().set(now);
        let (g, l) = (kv.gets.get(), kv.lists.get());
        let n = count(&kv, &alice, "status=pinned&limit=1", now);
        (n, kv.gets.get() - g, kv.lists.get() - l)
    };
    assert_eq!(
        count(&kv, &alice, "name=x", c.now),
        0,
        "a full scan stores totals"
    );
    // Within the clocks' margin of the scan's end: it may have seen the write, so it scans.
    c.now += 4_000;
    c.pin("alice", json!({"cid": cid(100)}));
    assert_eq!(look(c.now), (21, 0, 2));
    // A fresh scan, then a write 6 s later: a change, read with one get.
    c.now += 66_000;
    assert_eq!(count(&kv, &alice, "name=x", c.now), 0);
    c.now += 6_000;
    c.pin("alice", json!({"cid": cid(101)}));
    assert_eq!(look(c.now), (22, 1, 1));
    // Without a clock the same write would fall inside the assumed 60 s scan span.
    assert_eq!(count(&c.kv, &alice, "status=pinned&limit=1", c.now), 22);
}

#[test]
fn a_write_late_in_a_long_run_is_stamped_when_it_is_made() {
    // A sweep's run began at T and rewrites a pin two minutes later: its change marker must
    // say T + 120 s, or a scan's totals would take the write for one KV already shows.
    let t = 1_700_000_000_000u64;
    let mut probe = Probe::new(MemoryKv::new(1000));
    probe.now = Some(Cell::new(t + 120_000));
    let alice = UserId::parse("alice").unwrap();
    let store = PinStore::new(&probe, &alice);
    let id = RequestId::new(Millis(t), 7);
    let record = edge_pinning::store::record::PinRecord::from_json(
        &json!({"c": cid(1), "s": "queued"}).to_string(),
    )
    .unwrap();
    let parsed = Cid::parse(&cid(1)).unwrap();
    block_on(store.put(&id, &parsed, &record, None, Millis(t))).unwrap();
    let prefix = "p/alice/!m";
    let page = block_on(probe.list(prefix, None, 10)).unwrap();
    let stamps: Vec<u64> = page
        .keys
        .iter()
        .map(|k| {
            RequestId::parse(&k.name[prefix.len()..])
                .unwrap()
                .created()
                .0
        })
        .collect();
    assert_eq!(stamps, [t + 120_000]);
}
