// The security review's findings (issue 14), each against the built worker in workerd: the
// sign-in budget consulted before a password is checked, bodies read after sign-in and capped as
// they arrive, no configuration secret echoed, token labels and CIDs bounded, daily budgets.
import assert from "node:assert/strict";
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { assertFailure, basic, cid, startWorker, USERS } from "./harness.mjs";

const workers = [];
async function start(options) {
  const w = await startWorker(options);
  workers.push(w);
  return w;
}
after(async () => {
  for (const w of workers) await w.dispose();
});

const from = (ip) => ({ "cf-connecting-ip": ip });

describe("sign-in budget per address", () => {
  test("once an address has spent it, even the right password gets 429", async () => {
    const w = await start({ signInLimit: 5 });
    const token = (await w.token("alice")).token; // from no address: another key
    const wrong = `Basic ${Buffer.from("alice:guess").toString("base64")}`;
    for (let i = 0; i < 5; i++) {
      const res = await w.call("GET", "/pins", { auth: wrong, headers: from("198.51.100.7") });
      assertFailure(assert, res, 401, "UNAUTHORIZED");
    }
    const right = await w.call("GET", "/pins", { as: "alice", headers: from("198.51.100.7") });
    assertFailure(assert, right, 429, "TOO_MANY_REQUESTS");
    assert.match(right.headers.get("retry-after"), /^\d+$/);
    assert.match(right.body.error.details, /sign-in/);
    const bearer = await w.call("GET", "/pins", { token, headers: from("198.51.100.7") });
    assertFailure(assert, bearer, 429, "TOO_MANY_REQUESTS");
    const elsewhere = await w.call("GET", "/pins", { as: "alice", headers: from("198.51.100.8") });
    assert.equal(elsewhere.status, 200, "another address has its own budget");
  });

  test("an IPv6 client is one /64; a token that verifies spends nothing", async () => {
    const w = await start({ signInLimit: 3 });
    const token = (await w.token("bob")).token;
    for (let i = 0; i < 10; i++) {
      const res = await w.call("GET", "/pins", { token, headers: from("2001:db8:1:2::1") });
      assert.equal(res.status, 200, "polling with a token");
    }
    for (let i = 0; i < 3; i++) {
      const res = await w.call("GET", "/pins", { auth: "Bearer x.y.z", headers: from(`2001:db8:1:2::${i + 10}`) });
      assert.equal(res.status, 401);
    }
    const next = await w.call("GET", "/pins", { as: "bob", headers: from("2001:db8:1:2:ffff::9") });
    assertFailure(assert, next, 429, "TOO_MANY_REQUESTS");
    assert.equal((await w.call("GET", "/pins", { as: "bob", headers: from("2001:db8:1:3::1") })).status, 200);
  });
});

/**
 * A chunked POST on a real socket, 64 KiB every `everyMs` until the answer, or until `max` bytes
 * when the body ends (a worker that reads it whole answers only then).
 */
function slowPost(url, path, headers, { everyMs = 10, max = 8 << 20 } = {}) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = false;
    const req = request(new URL(path, url), { method: "POST", headers: { ...headers, "transfer-encoding": "chunked" } });
    req.on("response", (res) => {
      done = true;
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode, sent, body: JSON.parse(text) });
      });
    });
    req.on("error", (e) => (done ? undefined : reject(e)));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    (async () => {
      while (!done && sent < max) {
        req.write(chunk);
        sent += chunk.length;
        await sleep(everyMs);
      }
      if (!done) req.end();
    })();
  });
}

describe("request bodies", () => {
  test("a slow chunked body is refused with 413 once over 64 KiB, long before it ends", async () => {
    const w = await start({ port: 0 });
    const res = await slowPost(w.url, "/pins", { authorization: basic("alice", USERS.alice) });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.reason, "PAYLOAD_TOO_LARGE");
    console.log(`# 413 after ${res.sent} bytes sent (cap 65536)`);
    assert.ok(res.sent < 2 * 1024 * 1024, `answered after ${res.sent} bytes`);
  });

  test("an unauthenticated chunked POST gets 401 without its body being read", async () => {
    const w = await start({ port: 0 });
    const res = await slowPost(w.url, "/pins", { authorization: basic("alice", "wrong") }, { everyMs: 200 });
    assert.equal(res.status, 401);
    console.log(`# 401 after ${res.sent} bytes sent`);
    assert.ok(res.sent <= 4 * 64 * 1024, `answered after ${res.sent} bytes`);
    const none = await slowPost(w.url, "/pins", {}, { everyMs: 200 });
    assert.equal(none.status, 401);
  });
});

describe("configuration errors", () => {
  test("a malformed USERS secret is named, never quoted, in the answer or the log", async () => {
    let log = "";
    const capture = (stream) => stream.on("data", (d) => (log += d));
    const w = await start({
      bindings: { USERS: '{"bob":739184265}' },
      handleRuntimeStdio: (out, err) => {
        capture(out);
        capture(err);
      },
    });
    const res = await w.call("GET", "/pins", { auth: basic("bob", "739184265") });
    assertFailure(assert, res, 500, "INTERNAL_SERVER_ERROR");
    assert.match(res.body.error.details, /USERS/);
    assert.ok(!res.text.includes("739184265") && !res.text.includes("bob"), res.text);
    await sleep(200);
    assert.match(log, /USERS/, "the log names the setting");
    assert.ok(!log.includes("739184265"), log);
  });
});

describe("token labels", () => {
  test("a label is bounded in bytes and refuses control characters, naming the field", async () => {
    const w = await start();
    for (const label of ["😀".repeat(255), "a\u0000b", "tab\there", "x".repeat(256)]) {
      const res = await w.call("POST", "/token", { as: "alice", body: { label } });
      assertFailure(assert, res, 400, "BAD_REQUEST");
      assert.match(res.body.error.details, /^label: /);
    }
    for (const label of ["😀".repeat(63), '"'.repeat(255), "\\".repeat(255), "laptop — é"]) {
      const t = await w.token("alice", { label });
      assert.equal(t.label, label);
    }
    const listed = await w.call("GET", "/tokens", { as: "alice" });
    assert.ok(listed.body.results.some((t) => t.label === '"'.repeat(255)));
  });
});

describe("CIDs", () => {
  test("a CID that is not printable text (the identity multibase) is a 400 naming cid", async () => {
    const w = await start();
    const raw = Buffer.from([0x01, 0x55, 0x12, 0x20, ...Buffer.alloc(32, 0x41)]);
    const identity = `\u0000${raw.toString("latin1")}`;
    const res = await w.call("POST", "/pins", { as: "alice", body: { cid: identity } });
    assertFailure(assert, res, 400, "BAD_REQUEST");
    assert.match(res.body.error.details, /^cid: /);
    assert.ok(!/[\u0000-\u001f]/.test(res.body.error.details), "no control characters echoed");
    const listed = await w.call("GET", `/pins?cid=${encodeURIComponent(identity)}`, { as: "alice" });
    assertFailure(assert, listed, 400, "BAD_REQUEST");
    assert.match(listed.body.error.details, /^cid: /);
    assert.equal((await w.call("POST", "/pins", { as: "alice", body: { cid: cid(1) } })).status, 202);
  });
});

describe("daily budgets", () => {
  test("a user's writes and listings stop at the day's budget, with Retry-After to UTC midnight", async () => {
    const w = await start({ bindings: { DAILY_WRITES_PER_USER: "3", DAILY_LISTS_PER_USER: "2" } });
    const first = await w.pin("alice", { cid: cid(1) });
    await w.pin("alice", { cid: cid(2) });
    await w.token("alice");
    const over = await w.call("POST", "/pins", { as: "alice", body: { cid: cid(3) } });
    assertFailure(assert, over, 429, "TOO_MANY_REQUESTS");
    assert.match(over.body.error.details, /daily budget of 3 write requests/);
    const now = Date.now();
    const midnight = Math.ceil((now + 1) / 86_400_000) * 86_400_000;
    const wait = Number(over.headers.get("retry-after"));
    assert.ok(Math.abs(wait - (midnight - now) / 1000) < 5, `Retry-After ${wait}`);
    for (let i = 0; i < 5; i++) {
      assert.equal((await w.call("GET", `/pins/${first.requestid}`, { as: "alice" })).status, 200, "gets are free");
    }
    assert.equal((await w.call("GET", "/pins", { as: "alice" })).status, 200);
    assert.equal((await w.call("GET", "/tokens", { as: "alice" })).status, 200);
    assertFailure(assert, await w.call("GET", "/pins", { as: "alice" }), 429, "TOO_MANY_REQUESTS");
    assert.equal((await w.pin("bob", { cid: cid(4) })).status, "pinned", "bob has his own budget");
  });

  test("without the USER_QUOTAS binding the budgets are off and requests go through", async () => {
    const w = await start({ bindings: { DAILY_WRITES_PER_USER: "1" } });
    // The same worker and KV, its USER_QUOTAS binding removed.
    w.options.durableObjects = { CID_GATES: w.options.durableObjects.CID_GATES };
    await w.mf.setOptions(w.options);
    for (let i = 0; i < 3; i++) await w.pin("alice", { cid: cid(10 + i) });
  });
});
