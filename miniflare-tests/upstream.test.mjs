// The `upstream` backend end to end: the built worker in workerd (Miniflare) pinning through a
// real third-party Pinning Service API server, the npm package `mock-ipfs-pinning-service`
// (the server Kubo's own tests use), on a loopback port. The mock keys pins by CID; it would
// take a new pin's status from its name, but the worker never sends a user's name, so new
// pins start `queued` and tests change a status by replacing `service.locals.state`. The cron
// is triggered through Miniflare's `scheduled`.
import assert from "node:assert/strict";
import http from "node:http";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { DELEGATE, cid, kvOps, startWorker } from "./harness.mjs";

const require = createRequire(import.meta.url);
const { setup } = require("mock-ipfs-pinning-service");

const TOKEN = "upstream-test-token";
const MOCK_DELEGATE = "/ip4/203.0.113.42/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";

/** The mock behind a plain HTTP server we can stop and restart on the same port. */
class Upstream {
  static async start() {
    const u = new Upstream();
    u.service = await setup({ token: TOKEN, loglevel: "error", delegates: MOCK_DELEGATE });
    u.calls = [];
    u.held = [];
    await u.listen(0);
    return u;
  }

  async listen(port) {
    this.server = http.createServer((req, res) => {
      this.calls.push(`${req.method} ${req.url.split("?")[0]}`);
      if (this.holdAdds && req.method === "POST" && req.url === "/pins") {
        // The add is done upstream, its answer kept back: the worker waits for it.
        const end = res.end.bind(res);
        res.end = (...args) => {
          this.held.push(() => end(...args));
          return res;
        };
      }
      this.service(req, res);
    });
    await new Promise((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.port = this.server.address().port;
  }

  async stop() {
    await new Promise((resolve) => {
      this.server.close(resolve);
      this.server.closeAllConnections();
    });
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Upstream pins of a CID (the mock keys them by CID). */
  pinsOf(c) {
    return [...this.service.locals.state.pins.values()].filter((p) => p.pin.cid === c);
  }

  /** Sets a CID's status upstream, immutably, as the mock expects. */
  setStatus(c, status) {
    const state = this.service.locals.state;
    const pins = new Map([...state.pins].map(([k, p]) => [k, p.pin.cid === c ? { ...p, status } : p]));
    this.service.locals.state = { ...state, pins };
  }

  count(call) {
    return this.calls.filter((c) => c === call).length;
  }
}

let upstream;
let w;

/** The worker's settings for the mock: real time in tests, so no grace, no throttle, no backoff. */
const upstreamBindings = () => ({
  PIN_BACKEND: "upstream",
  UPSTREAM_URL: upstream.url,
  UPSTREAM_TOKEN: TOKEN,
  UPSTREAM_RELEASE_GRACE_SECONDS: "0",
  UPSTREAM_REFRESH_SECONDS: "0",
  UPSTREAM_RETRY_SECONDS: "0",
});

before(async () => {
  upstream = await Upstream.start();
  w = await startWorker({ bindings: upstreamBindings() });
});
after(async () => {
  await w.dispose();
  await upstream.stop();
});

async function sweep() {
  const worker = await w.mf.getWorker();
  const result = await worker.scheduled({ cron: "* * * * *" });
  assert.equal(result.outcome, "ok");
}

/** The statuses a user's listing shows, by requestid. */
async function listed(as) {
  const res = await w.call("GET", "/pins?status=queued,pinning,pinned,failed&limit=1000", { as });
  assert.equal(res.status, 200, res.text);
  return Object.fromEntries(res.body.results.map((p) => [p.requestid, p.status]));
}

test("two users share one upstream pin, released after the last one lets go", async () => {
  const c = cid(1);
  const origins = ["/ip4/198.51.100.7/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"];
  const addRes = await w.call("POST", "/pins", { as: "alice", body: { cid: c, name: "pinned-alice", origins } });
  assert.equal(addRes.status, 202, addRes.text);
  // the user's holders of the CID (the limit), holder, CID state (read, then written with the
  // upstream's answer), queue entry, change marker, record, CID index, name index
  assert.deepEqual(kvOps(addRes), { get: 1, put: 7, delete: 0, list: 1 });
  const a = addRes.body;
  assert.equal(a.status, "queued");
  assert.deepEqual(a.delegates, [MOCK_DELEGATE], "the upstream's delegates");
  upstream.setStatus(c, "pinned");
  const read = await w.call("GET", `/pins/${a.requestid}`, { as: "alice" });
  assert.equal(read.body.status, "pinned");
  const b = await w.pin("bob", { cid: c, name: "bob's copy" });
  assert.equal(b.status, "pinned", "mirrored");
  assert.equal(upstream.count("POST /pins"), 1, "one upstream add for two pin objects");
  assert.equal(upstream.pinsOf(c).length, 1);
  assert.deepEqual(upstream.pinsOf(c)[0].pin.origins, origins, "strictly valid origins forwarded");
  assert.equal(upstream.pinsOf(c)[0].pin.name, undefined, "a user's name never goes upstream");

  const del = await w.call("DELETE", `/pins/${a.requestid}`, { as: "alice" });
  assert.equal(del.status, 202, del.text);
  // the record; queue entry, change marker; CID and name entries, record, holder deleted; then
  // the record and both entries read once more (a racing status update's writes would go)
  assert.deepEqual(kvOps(del), { get: 4, put: 2, delete: 4, list: 0 });
  await sweep();
  await sweep();
  await sweep();
  assert.equal(upstream.pinsOf(c).length, 1, "bob still holds it");
  assert.equal((await w.call("GET", `/pins/${b.requestid}`, { as: "bob" })).body.status, "pinned");

  assert.equal((await w.call("DELETE", `/pins/${b.requestid}`, { as: "bob" })).status, 202);
  assert.equal(upstream.pinsOf(c).length, 1, "requests never unpin: the sweep does");
  await sweep(); // marks the CID for release
  assert.equal(upstream.pinsOf(c).length, 1);
  await sweep(); // grace (0 s here) over, no holder: unpinned
  assert.equal(upstream.pinsOf(c).length, 0, "gone upstream");
  assert.equal(upstream.calls.filter((call) => call.startsWith("DELETE ")).length, 1);
});

test("statuses propagate from the upstream: queued → pinned, failed", async () => {
  const c = cid(2);
  const a = await w.pin("alice", { cid: c, name: "queued-a" });
  const b = await w.pin("bob", { cid: c });
  assert.equal(a.status, "queued");
  assert.equal(b.status, "queued");
  upstream.setStatus(c, "pinning");
  const read = await w.call("GET", `/pins/${a.requestid}`, { as: "alice" });
  assert.equal(read.body.status, "pinning", "a read refreshes a pin that is not final");
  assert.equal((await listed("bob"))[b.requestid], "queued", "others wait for the sweep");
  upstream.setStatus(c, "pinned");
  await sweep();
  assert.equal((await listed("alice"))[a.requestid], "pinned", "within one sweep");
  assert.equal((await listed("bob"))[b.requestid], "pinned", "within one sweep");

  const f = await w.pin("alice", { cid: cid(3), name: "failed-on-purpose" });
  upstream.setStatus(cid(3), "failed");
  await sweep();
  assert.equal((await listed("alice"))[f.requestid], "failed");
});

test("an upstream that goes away: pins survive, stay queued, and recover", async () => {
  const port = upstream.port;
  await upstream.stop();
  const c = cid(4);
  const p = await w.pin("alice", { cid: c, name: "pinned-later", origins: [DELEGATE] });
  assert.equal(p.status, "queued");
  assert.match(p.info.status_details, /retried with backoff/);
  assert.ok(p.info.next_try && p.info.upstream_error, JSON.stringify(p.info));
  assert.deepEqual(p.delegates, [DELEGATE], "the configured delegates until the upstream answers");
  const q = await w.pin("bob", { cid: c });
  assert.equal(q.status, "queued");
  await sweep();
  assert.equal((await listed("alice"))[p.requestid], "queued", "nothing lost");
  const read = await w.call("GET", `/pins/${p.requestid}`, { as: "alice" });
  assert.equal(read.body.status, "queued");
  assert.ok(Number(read.body.info.tries) >= 2, JSON.stringify(read.body.info));

  await upstream.listen(port);
  await sweep();
  assert.equal(upstream.pinsOf(c).length, 1, "added once the upstream is back");
  upstream.setStatus(c, "pinned");
  await sweep();
  assert.equal((await listed("alice"))[p.requestid], "pinned");
  assert.equal((await listed("bob"))[q.requestid], "pinned");
  const back = await w.call("GET", `/pins/${p.requestid}`, { as: "alice" });
  assert.equal(back.body.info?.next_try, undefined);
  assert.deepEqual(back.body.delegates, [MOCK_DELEGATE]);
});

test("replace: the upstream's replace when alone, add-then-release when shared", async () => {
  const alone = await w.pin("alice", { cid: cid(5), name: "pinned-v1" });
  const replaced = await w.call("POST", `/pins/${alone.requestid}`, {
    as: "alice",
    body: { cid: cid(6), name: "pinned-v2" },
  });
  assert.equal(replaced.status, 202, replaced.text);
  assert.equal(replaced.body.status, "queued", "the upstream's answer to its replace");
  assert.equal(upstream.pinsOf(cid(5)).length, 0, "replaced upstream");
  assert.equal(upstream.pinsOf(cid(6)).length, 1);
  assert.equal((await w.call("GET", `/pins/${alone.requestid}`, { as: "alice" })).status, 404);

  const shared = await w.pin("alice", { cid: cid(7), name: "pinned-s" });
  await w.pin("bob", { cid: cid(7) });
  const moved = await w.call("POST", `/pins/${shared.requestid}`, {
    as: "alice",
    body: { cid: cid(8), name: "pinned-t" },
  });
  assert.equal(moved.status, 202, moved.text);
  await sweep();
  await sweep();
  assert.equal(upstream.pinsOf(cid(7)).length, 1, "bob still holds the old CID");
  assert.equal(upstream.pinsOf(cid(8)).length, 1);
});

test("the CID's gate (a Durable Object) holds every pin object and fences adds during a release", async () => {
  const c = cid(20);
  const ns = await w.mf.getDurableObjectNamespace("CID_GATES");
  const gate = async (call) => {
    const res = await ns.get(ns.idFromName(c)).fetch("https://gate/", { method: "POST", body: JSON.stringify(call) });
    assert.equal(res.status, 200);
    return res.json();
  };
  const a = await w.pin("alice", { cid: c, name: "pinned-a" });
  // The release's question, asked directly: alice holds the CID, so no lease.
  assert.deepEqual(await gate({ begin: { except: null } }), {
    held: { holders: [`alice/${a.requestid}`], leased: false },
  });
  assert.equal((await w.call("DELETE", `/pins/${a.requestid}`, { as: "alice" })).status, 202);
  // Nobody holds it now: a lease is granted (as the sweep would take before unpinning)...
  const lease = await gate({ begin: { except: null } });
  assert.ok(lease.granted, JSON.stringify(lease));
  // ...and an add during it does not call the upstream: its unpin may still be on its way.
  const adds = upstream.count("POST /pins");
  const b = await w.pin("bob", { cid: c, name: "pinned-b" });
  assert.equal(b.status, "queued");
  assert.equal(upstream.count("POST /pins"), adds, "fenced: no upstream call");
  // The lease's end tells the releaser someone arrived; it pins the CID again.
  assert.deepEqual(await gate({ end: { lease: lease.granted.lease } }), { ended: { arrived: true } });
  // (No sweep held this lease and nothing was unpinned: bob's read of his queued pin asks
  // the upstream, which still has the CID.)
  upstream.setStatus(c, "pinned");
  const read = await w.call("GET", `/pins/${b.requestid}`, { as: "bob" });
  assert.equal(read.body.status, "pinned");
  assert.equal(upstream.pinsOf(c).length, 1);
  assert.equal((await w.call("DELETE", `/pins/${b.requestid}`, { as: "bob" })).status, 202);
  const last = await gate({ begin: { except: null } });
  assert.ok(last.granted, "a delete leaves the gate");
  assert.deepEqual(await gate({ end: { lease: last.granted.lease } }), { ended: { arrived: false } });
});

test("one user holds a CID at most 10 times: the 11th add is a 409 Failure", async () => {
  const c = cid(30);
  for (let i = 0; i < 10; i++) await w.pin("dev", { cid: c });
  const over = await w.call("POST", "/pins", { as: "dev", body: { cid: c } });
  assert.equal(over.status, 409, over.text);
  assert.equal(over.body.error.reason, "PIN_LIMIT_REACHED");
  assert.match(over.body.error.details, /^cid: /);
  assert.equal((await w.call("POST", "/pins", { as: "bob", body: { cid: c } })).status, 202, "others are not limited");
});

test("an add that dies after the upstream pinned: the sweep finds the pin and releases it", async () => {
  // Its own worker, without the CIDs' gates (KV alone decides releases): a gate would keep
  // the dead add's hold for 15 minutes before taking it for stopped, which real time cannot
  // wait here. The request really dies: workerd restarts while it waits for the upstream.
  const v = await startWorker({
    bindings: upstreamBindings(),
    extra: { durableObjects: { USER_QUOTAS: { className: "UserQuota", useSQLite: true } } },
  });
  try {
    const c = cid(77);
    upstream.holdAdds = true;
    const add = v.call("POST", "/pins", { as: "alice", body: { cid: c } }).catch((e) => e);
    while (upstream.pinsOf(c).length === 0) await new Promise((r) => setTimeout(r, 10));
    await v.rebind({ UPSTREAM_REFRESH_SECONDS: "0" }); // the add dies waiting for its answer
    upstream.holdAdds = false;
    for (const end of upstream.held.splice(0)) end();
    const answered = await add;
    assert.ok(answered instanceof Error || answered.status >= 500, `the add answered ${answered.status}`);
    const keys = (await (await v.kv()).list()).keys.map((k) => k.name);
    assert.ok(!keys.some((k) => k.startsWith("x/") || k.startsWith("p/alice/")), `no state, no pin object: ${keys}`);
    assert.ok(keys.some((k) => k.startsWith(`q/`) && k.includes(c)), "the look queued before the call");
    assert.equal(upstream.pinsOf(c).length, 1, "pinned upstream for nobody");

    const worker = await v.mf.getWorker();
    for (let run = 0; run < 8 && upstream.pinsOf(c).length > 0; run++) {
      assert.equal((await worker.scheduled({ cron: "* * * * *" })).outcome, "ok");
    }
    assert.equal(upstream.pinsOf(c).length, 0, "released by the sweep");
    const listing = await v.call("GET", "/pins?status=queued,pinning,pinned,failed", { as: "alice" });
    assert.equal(listing.body.count, 0);
  } finally {
    upstream.holdAdds = false;
    await v.dispose();
  }
});
