// The official TypeScript client (@ipfs-shipyard/pinning-service-client) against the built worker
// served on a loopback port: a real spec client, over a real socket, with a token from POST /token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Configuration, RemotePinningServiceClient, Status, TextMatchingStrategy } from "@ipfs-shipyard/pinning-service-client";
import { DELEGATE, basic, cid, startWorker } from "./harness.mjs";

let w;
let client;
let endpointUrl;
before(async () => {
  w = await startWorker({ port: 0 });
  endpointUrl = w.url.href.replace(/\/$/, "");
  const res = await fetch(`${endpointUrl}/token`, { method: "POST", headers: { authorization: basic("alice", "alice-pw") } });
  assert.equal(res.status, 200);
  const { token } = await res.json();
  client = new RemotePinningServiceClient(new Configuration({ endpointUrl, accessToken: token }));
});
after(() => w.dispose());

test("add, poll, list, replace and remove through the client", async () => {
  const added = await client.pinsPost({ pin: { cid: cid(1), name: "first", meta: { app: "client-test" } } });
  assert.equal(added.status, Status.Pinned);
  assert.ok(added.created instanceof Date && !Number.isNaN(added.created.getTime()));
  assert.deepEqual(added.delegates, [DELEGATE]);

  const polled = await client.pinsRequestidGet({ requestid: added.requestid });
  assert.equal(polled.requestid, added.requestid);
  assert.equal(polled.created.getTime(), added.created.getTime());

  const second = await client.pinsPost({ pin: { cid: cid(2), name: "Second" } });
  const all = await client.pinsGet({});
  assert.equal(all.count, 2);
  assert.deepEqual(all.results.map((p) => p.requestid), [second.requestid, added.requestid]);

  const byCid = await client.pinsGet({ cid: [cid(1), cid(2)] });
  assert.equal(byCid.count, 2);
  const byName = await client.pinsGet({ name: "second", match: TextMatchingStrategy.Iexact });
  assert.deepEqual(byName.results.map((p) => p.requestid), [second.requestid]);
  const byMeta = await client.pinsGet({ meta: { app: "client-test" } });
  assert.deepEqual(byMeta.results.map((p) => p.requestid), [added.requestid]);
  const byStatus = await client.pinsGet({ status: [Status.Queued, Status.Failed] });
  assert.equal(byStatus.count, 0);
  const older = await client.pinsGet({ before: second.created });
  assert.deepEqual(older.results.map((p) => p.requestid), [added.requestid]);
  const newer = await client.pinsGet({ after: added.created, limit: 1 });
  assert.deepEqual(newer.results.map((p) => p.requestid), [second.requestid]);

  const replaced = await client.pinsRequestidPost({ requestid: added.requestid, pin: { cid: cid(3), name: "third" } });
  assert.notEqual(replaced.requestid, added.requestid);
  // The generated client throws the Response itself on a non-2xx answer.
  await assert.rejects(client.pinsRequestidGet({ requestid: added.requestid }), (res) => res.status === 404);

  await client.pinsRequestidDelete({ requestid: replaced.requestid });
  await client.pinsRequestidDelete({ requestid: second.requestid });
  assert.equal((await client.pinsGet({})).count, 0);
});

test("errors arrive as spec Failures the client can read", async () => {
  const bad = await client.pinsPost({ pin: { cid: "not-a-cid" } }).catch((e) => e);
  assert.equal(bad.status, 400);
  const failure = await bad.json();
  assert.equal(failure.error.reason, "BAD_REQUEST");
  assert.match(failure.error.details, /cid/);

  const stranger = new RemotePinningServiceClient(new Configuration({ endpointUrl, accessToken: "not-a-token" }));
  const denied = await stranger.pinsGet({}).catch((e) => e);
  assert.equal(denied.status, 401);
  assert.equal((await denied.json()).error.reason, "UNAUTHORIZED");
});

test("paging the way the client pages: 30 pins, 10 at a time, with before", async () => {
  await Promise.all(Array.from({ length: 30 }, (_, i) => client.pinsPost({ pin: { cid: cid(100 + i) } })));
  const seen = new Set();
  let page = await client.pinsGet({ limit: 10 });
  const total = page.count;
  assert.equal(total, 30);
  for (;;) {
    page.results.forEach((p) => seen.add(p.requestid));
    if (page.results.length === page.count) break;
    const oldest = page.results.at(-1).created;
    page = await client.pinsGet({ limit: 10, before: oldest });
  }
  assert.equal(seen.size, 30);
});
