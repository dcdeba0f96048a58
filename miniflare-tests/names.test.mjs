// Name lookups from the name index, in workerd: Kubo's MFS policy replayed, and the KV calls of
// a lookup the same for 20 pins as for 1500.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cid, kvOps, startWorker } from "./harness.mjs";

const MFS = "policy/12D3KooWNodePeerIdForTheTest/mfs";
const ALL = "status=queued,pinning,pinned,failed";
const lookup = (name, extra = "") => `/pins?name=${encodeURIComponent(name)}&${ALL}${extra}`;

let w;
before(async () => {
  w = await startWorker();
  // Pinsets that start empty need no backfill: mark it done long ago, as it ends.
  const kv = await w.kv();
  for (const user of ["alice", "bob"]) await kv.put(`n/${user}/!`, JSON.stringify({ s: 0, d: 0 }));
});
after(() => w.dispose());

/** Kubo's MFS check: the policy pin by name in every status, then replace it or add it. */
async function mfsCheck(as, n) {
  const found = await w.call("GET", lookup(MFS), { as });
  assert.equal(found.status, 200);
  assert.deepEqual(kvOps(found), { get: 1, put: 0, delete: 0, list: 1 }, "the index's state, one list");
  assert.ok(found.body.count <= 1);
  const pin = { cid: cid(n), name: MFS };
  const old = found.body.results[0];
  const res = old
    ? await w.call("POST", `/pins/${old.requestid}`, { as, body: pin })
    : await w.call("POST", "/pins", { as, body: pin });
  assert.equal(res.status, 202, res.text);
  return { old, now: res.body };
}

test("Kubo's MFS policy: lookup, add, several replaces, always exactly one policy pin", async () => {
  await w.pin("alice", { cid: cid(900), name: "Policy/12D3KooWNodePeerIdForTheTest/MFS" });
  await w.pin("alice", { cid: cid(901), name: `${MFS}-not` });
  const first = await mfsCheck("alice", 1);
  assert.equal(first.old, undefined, "nothing to replace at first: an add");
  let current = first.now;
  for (let n = 2; n <= 5; n++) {
    const step = await mfsCheck("alice", n);
    assert.equal(step.old.requestid, current.requestid, "the pin the last step left");
    assert.equal(step.old.pin.cid, cid(n - 1));
    current = step.now;
    const now = await w.call("GET", lookup(MFS), { as: "alice" });
    assert.equal(now.body.count, 1);
    assert.equal(now.body.results[0].requestid, current.requestid);
    assert.equal((await w.call("GET", `/pins/${step.old.requestid}`, { as: "alice" })).status, 404);
  }
  // iexact finds the case variant too; partial (a scan) agrees on the policy pin.
  const i = await w.call("GET", lookup(MFS.toUpperCase(), "&match=iexact"), { as: "alice" });
  assert.equal(i.body.count, 2);
  const p = await w.call("GET", lookup(MFS, "&match=partial"), { as: "alice" });
  assert.equal(p.body.count, 2);
  // Another user's policy pin of the same name is theirs alone.
  assert.equal((await w.call("GET", lookup(MFS), { as: "bob" })).body.count, 0);
  // `rm --name`: Kubo looks up, then deletes what it found.
  const del = await w.call("DELETE", `/pins/${current.requestid}`, { as: "alice" });
  assert.equal(del.status, 202);
  assert.equal((await w.call("GET", lookup(MFS), { as: "alice" })).body.count, 0);
});

test("x-kv-ops: a name lookup's list calls do not grow with the pinset (20 vs 1500 pins)", async () => {
  const fill = async (as, n, from) => {
    for (let i = 0; i < n; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 50); j++) {
        batch.push(w.pin(as, { cid: cid(from + j), name: j % 3 === 0 ? `Report-${j % 30}.PDF` : `file-${j}` }));
      }
      await Promise.all(batch);
    }
  };
  await fill("alice", 20, 10_000);
  await fill("bob", 1500, 20_000);
  const costs = {};
  for (const [as, n] of [["alice", 20], ["bob", 1500]]) {
    await mfsCheck(as, 50_000 + n);
    const exact = await w.call("GET", lookup("Report-3.PDF"), { as });
    const iexact = await w.call("GET", lookup("report-3.pdf", "&match=iexact"), { as });
    const mfs = await w.call("GET", lookup(MFS), { as });
    assert.equal(exact.body.count, n === 20 ? 1 : 50);
    assert.equal(iexact.body.count, exact.body.count);
    assert.equal(mfs.body.count, 1);
    costs[n] = [exact, iexact, mfs].map((r) => kvOps(r));
    // A scan, for contrast: partial reads the whole pinset.
    const partial = await w.call("GET", lookup("Report-3.PDF", "&match=partial"), { as });
    assert.equal(partial.body.count, exact.body.count);
    costs[`${n} partial`] = kvOps(partial).list;
  }
  assert.deepEqual(costs[20], costs[1500], "the same KV calls at 20 and at 1500 pins");
  for (const ops of costs[1500]) assert.deepEqual(ops, { get: 1, put: 0, delete: 0, list: 1 });
  assert.ok(costs["1500 partial"] > costs["20 partial"], `a scan grows: ${JSON.stringify(costs)}`);
});
