//! Fault injection at every step (issue 13): for every request that writes and every sweep,
//! for every step k it makes (KV operation, upstream call, gate call), run it again in a fresh
//! world with step k failing, or with the request stopping dead just before or just after step
//! k; then let the next requests and twenty minutes of sweeps run, and an hour pass (the
//! owner's next listing then repairs what a stopped write left: `store::repair`), and audit
//! every user through the API (`faults_support::audit`), name lookups answered from the name
//! index. No known gaps: every fault's leftovers are repaired by normal operation. Prints its
//! figures: `cargo test --test faults -- --nocapture`, or `npm test`, which runs it that way.

mod common;
mod faults_support;
mod upstream_support;

use common::cid;
use edge_pinning::domain::status::Status;
use edge_pinning::store::counts::{REPAIR_AFTER_MS, SETTLE_MS};
use edge_pinning::store::names::ROLLOUT_MS;
use faults_support::audit::{audit, Doubt, Model, Want};
use faults_support::{run_until_crash, Answered, FaultWorld, KINDS};
use serde_json::json;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// The backends' configurations every scenario runs in.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Instant,
    /// Upstream with the CIDs' gates, a provider keying pins by CID (IPFS Cluster).
    Gated,
    /// Upstream, KV alone deciding releases, a provider giving every add its own pin.
    Ungated,
}

impl Mode {
    fn world(self) -> FaultWorld {
        match self {
            Mode::Instant => FaultWorld::new("instant", false, false),
            Mode::Gated => FaultWorld::new("upstream", true, true),
            Mode::Ungated => FaultWorld::new("upstream", false, false),
        }
    }
    fn upstream(self) -> bool {
        !matches!(self, Mode::Instant)
    }
}

/// The pinset and tokens every scenario starts from.
struct Base {
    model: Model,
    ids: Vec<String>,
    token: (String, String),
}

fn pin(w: &FaultWorld, model: &mut Model, user: &str, n: u32, name: &str) -> String {
    let body = json!({"cid": cid(n), "name": name}).to_string();
    let a = w.call(user, "POST", "/pins", &body);
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["requestid"].as_str().unwrap().to_owned();
    let want = Want {
        cid: cid(n),
        name: name.into(),
    };
    model.pins.insert((user.into(), id.clone()), want);
    id
}

/// alice: A1 (cid 1, hers alone), A2 (cid 2, shared with bob), A3 (cid 8, not final upstream
/// until the setup ends); bob: B1 (cid 2), B2 (cid 3), B3 (cid 8); carol: C1 (cid 7); a token.
fn setup(w: &FaultWorld) -> Base {
    let mut model = Model::default();
    // The name index as it is once its backfill is done: `name=` lookups answer from it.
    for _ in 0..2 {
        for user in faults_support::USERS {
            let a = w.call(user, "GET", "/pins?name=x&match=partial", "");
            assert_eq!(a.status, 200, "{}", a.body);
        }
        w.advance(ROLLOUT_MS / 1000 + 1);
    }
    w.advance(SETTLE_MS / 1000 + 1);
    // Names are not sent upstream: the provider is told which CIDs it pins at once (all but
    // cid 8, which stays queued until the setup ends).
    for n in (1..=7).chain(9..=9) {
        w.up.inner.starts_as(&cid(n), Status::Pinned);
    }
    let ids = vec![
        pin(w, &mut model, "alice", 1, "pinned-a1"),
        pin(w, &mut model, "alice", 2, "pinned-a2"),
        pin(w, &mut model, "alice", 8, "queued-a3"),
        pin(w, &mut model, "bob", 2, "pinned-b1"),
        pin(w, &mut model, "bob", 3, "pinned-b2"),
        pin(w, &mut model, "bob", 8, "queued-b3"),
        pin(w, &mut model, "carol", 7, "pinned-c1"),
    ];
    let t = w.call("alice", "POST", "/token", r#"{"label":"laptop"}"#);
    assert_eq!(t.status, 200, "{}", t.body);
    let token = (
        t.body["id"].as_str().unwrap().to_owned(),
        t.body["token"].as_str().unwrap().to_owned(),
    );
    model
        .tokens
        .insert(("alice".into(), token.0.clone()), token.1.clone());
    w.sweeps(3);
    w.up.inner.set_status(&cid(8), Status::Pinned);
    // Old enough that the next full scan stores totals and prunes the setup's markers.
    w.advance(600);
    Base { model, ids, token }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// alice pins this CID (4: new; 3: bob holds it).
    Add(u32),
    /// alice deletes base pin i.
    Delete(usize),
    /// alice replaces base pin i with this CID.
    Replace(usize, u32),
    Issue,
    Revoke,
    /// a request with the token (notes its last use)
    UseToken,
    /// a listing by name: a full scan, storing totals and pruning markers
    ScanList,
    /// alice reads A3, no longer final upstream: refreshed and rewritten
    Refresh,
    /// alice deletes A1, then this many cron runs a minute apart (mark, release) are the op
    SweepRelease(u32),
    /// the cron mirrors cid 8's new status into A3 and B3
    SweepMirror,
}

type Fut<'a> = Pin<Box<dyn Future<Output = Option<Answered>> + 'a>>;

/// Prepares `op` (acknowledged parts go to the model), says what it may leave in doubt, and
/// gives the faulted part as a future.
fn stage<'a>(w: &'a FaultWorld, base: &mut Base, op: Op) -> (Doubt, Fut<'a>) {
    let alice = "alice";
    let mut doubt = Doubt::default();
    let call = |method: &str, target: String, body: String| -> Fut<'a> {
        let auth = common::basic(alice);
        let method = method.to_owned();
        Box::pin(async move { Some(w.request(&auth, &method, &target, &body).await) })
    };
    let new = |n: u32| Want {
        cid: cid(n),
        name: format!("pinned-new{n}"),
    };
    let body = |n: u32| json!({"cid": cid(n), "name": format!("pinned-new{n}")}).to_string();
    let fut = match op {
        Op::Add(n) => {
            doubt.new = Some((alice.into(), new(n)));
            call("POST", "/pins".into(), body(n))
        }
        Op::Delete(i) => {
            doubt.pins.push((alice.into(), base.ids[i].clone()));
            call("DELETE", format!("/pins/{}", base.ids[i]), String::new())
        }
        Op::Replace(i, n) => {
            doubt.pins.push((alice.into(), base.ids[i].clone()));
            doubt.new = Some((alice.into(), new(n)));
            call("POST", format!("/pins/{}", base.ids[i]), body(n))
        }
        Op::Issue => {
            doubt.new_token = Some(alice.into());
            call("POST", "/token".into(), r#"{"label":"phone"}"#.into())
        }
        Op::Revoke => {
            doubt.token = Some((alice.into(), base.token.0.clone()));
            call("DELETE", format!("/tokens/{}", base.token.0), String::new())
        }
        Op::UseToken => {
            let auth = format!("Bearer {}", base.token.1);
            Box::pin(async move { Some(w.request(&auth, "GET", "/pins", "").await) })
        }
        Op::ScanList => call(
            "GET",
            "/pins?name=pinned&match=partial".into(),
            String::new(),
        ),
        Op::Refresh => call("GET", format!("/pins/{}", base.ids[2]), String::new()),
        Op::SweepRelease(runs) => {
            let a = w.call(alice, "DELETE", &format!("/pins/{}", base.ids[0]), "");
            assert_eq!(a.status, 202);
            base.model.pins.remove(&(alice.into(), base.ids[0].clone()));
            Box::pin(async move {
                for _ in 0..runs {
                    w.advance(60);
                    w.sweep_future().await.ok()?;
                }
                None
            })
        }
        Op::SweepMirror => Box::pin(async move {
            w.advance(60);
            w.sweep_future().await.ok()?;
            None
        }),
    };
    (doubt, fut)
}

/// Folds an acknowledged answer into the model; what was not acknowledged stays in doubt.
fn settle(base: &mut Base, op: Op, answer: Option<Answered>, doubt: &mut Doubt) {
    let Some(a) = answer.filter(|a| (200..300).contains(&a.status)) else {
        return;
    };
    let alice = || "alice".to_owned();
    let id = |a: &Answered| a.body["requestid"].as_str().unwrap().to_owned();
    match op {
        Op::Add(_) | Op::Replace(..) => {
            if let Op::Replace(i, _) = op {
                base.model.pins.remove(&(alice(), base.ids[i].clone()));
            }
            let (_, want) = doubt.new.take().unwrap();
            base.model.pins.insert((alice(), id(&a)), want);
            doubt.pins.clear();
        }
        Op::Delete(i) => {
            base.model.pins.remove(&(alice(), base.ids[i].clone()));
            doubt.pins.clear();
        }
        Op::Issue => {
            let tid = a.body["id"].as_str().unwrap().to_owned();
            let jwt = a.body["token"].as_str().unwrap().to_owned();
            base.model.tokens.insert((alice(), tid), jwt);
            doubt.new_token = None;
        }
        Op::Revoke => {
            let key = (alice(), base.token.0.clone());
            let jwt = base.model.tokens.remove(&key).unwrap();
            base.model.revoked.push(jwt);
            doubt.token = None;
        }
        _ => {}
    }
}

#[derive(Default)]
struct Figures {
    points: u64,
    checks: u64,
    violations: Vec<String>,
}

/// Every fault point of `op` in `mode`: returns how many steps the op makes.
/// Who pins the op's CID next: bob too (a stopped request's leftovers then meet a holder), or
/// nobody (what it pinned upstream must then be found and released by the sweep alone).
#[derive(Clone, Copy, Debug)]
enum Then {
    BobPinsIt,
    NobodyPinsIt,
}

fn every_fault(mode: Mode, op: Op, then: Then, figures: &mut Figures) -> u32 {
    let steps = {
        let w = mode.world();
        let mut base = setup(&w);
        let (_, fut) = stage(&w, &mut base, op);
        w.faults.count_only();
        run_until_crash(&w.faults, fut);
        w.faults.steps()
    };
    for k in 0..steps {
        for kind in KINDS {
            let w = mode.world();
            let mut base = setup(&w);
            let (mut doubt, fut) = stage(&w, &mut base, op);
            // The last-holder rule, checked at every unpin the upstream receives.
            let unpinned = Rc::new(RefCell::new(Vec::<String>::new()));
            let held = Rc::new(RefCell::new((base.model.clone(), doubt.clone())));
            let (seen, h) = (unpinned.clone(), held.clone());
            *w.up.on_unpin.borrow_mut() = Some(Box::new(move |c: &str| {
                let (model, doubt) = &*h.borrow();
                let holder = model
                    .pins
                    .iter()
                    .find(|(key, p)| p.cid == c && !doubt.pins.contains(key));
                if let Some(((u, id), _)) = holder {
                    seen.borrow_mut()
                        .push(format!("{c} unpinned while {u}'s {id} holds it"));
                }
            }));
            w.faults.arm(k, kind);
            let answer = run_until_crash(&w.faults, fut).flatten();
            let fired = w.faults.fired.borrow().clone().unwrap_or_default();
            settle(&mut base, op, answer, &mut doubt);
            *held.borrow_mut() = (base.model.clone(), doubt.clone());
            next_requests(&w, &mut base, op, mode, then);
            *held.borrow_mut() = (base.model.clone(), doubt.clone());
            w.sweeps(20);
            // Long enough that the owner's next listing repairs what a stopped write left.
            w.advance(REPAIR_AFTER_MS / 1000);
            let found = audit(&w, &base.model, &doubt, mode.upstream());
            figures.points += 1;
            figures.checks += found.checks + 1;
            let context = |v: &String| {
                format!("{mode:?} {op:?} {kind:?} at step {k} ({fired}), {then:?}: {v}")
            };
            for v in found.violations.iter().chain(unpinned.borrow().iter()) {
                figures.violations.push(context(v));
            }
        }
    }
    steps
}

/// What users do next: bob pins a CID (the op's, or one he holds already), and reads his pins.
fn next_requests(w: &FaultWorld, base: &mut Base, op: Op, mode: Mode, then: Then) {
    w.sweeps(2);
    let n = match (op, then) {
        (_, Then::NobodyPinsIt) => 3,
        (Op::Add(n) | Op::Replace(_, n), Then::BobPinsIt) => n,
        _ => 1,
    };
    let id = pin(w, &mut base.model, "bob", n, &format!("pinned-bob{n}"));
    let a = w.call("bob", "GET", &format!("/pins/{id}"), "");
    assert_eq!(a.status, 200, "{mode:?}");
}

fn run(mode: Mode, ops: &[Op]) {
    // One mode at a time: pin ids' `created` is unique per process (never behind the last one
    // made), so a world on an earlier day running beside a later one would make ids from its
    // future, which the sweep would take for adds still running (worlds: one day each).
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut figures = Figures::default();
    let mut steps = Vec::new();
    for &op in ops {
        let n = every_fault(mode, op, Then::BobPinsIt, &mut figures);
        every_fault(mode, op, Then::NobodyPinsIt, &mut figures);
        steps.push(format!("{op:?}: {n}"));
    }
    println!(
        "faults {mode:?}: {} fault points tried, {} invariant checks made, {} violations (steps per op: {})",
        figures.points,
        figures.checks,
        figures.violations.len(),
        steps.join(", ")
    );
    for v in figures.violations.iter().take(40) {
        println!("  violation: {v}");
    }
    assert!(
        figures.violations.is_empty(),
        "{} violations",
        figures.violations.len()
    );
}

const WRITES: [Op; 7] = [
    Op::Add(4),
    Op::Add(3),
    Op::Delete(0),
    Op::Delete(1),
    Op::Issue,
    Op::Revoke,
    Op::UseToken,
];

#[test]
fn faults_instant_backend() {
    let mut ops = WRITES.to_vec();
    ops.extend([Op::Replace(0, 5), Op::Replace(0, 1), Op::ScanList]);
    run(Mode::Instant, &ops);
}

const UPSTREAM: [Op; 7] = [
    Op::Replace(0, 5),
    Op::Replace(1, 6),
    Op::Replace(0, 1),
    Op::Refresh,
    Op::SweepRelease(4),
    Op::SweepMirror,
    Op::ScanList,
];

#[test]
fn faults_upstream_gated() {
    run(Mode::Gated, &[WRITES.as_slice(), &UPSTREAM].concat());
}

#[test]
fn faults_upstream_ungated() {
    run(Mode::Ungated, &[WRITES.as_slice(), &UPSTREAM].concat());
}
