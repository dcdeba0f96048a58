// Every /pins endpoint, filter, match mode and error path, against the built worker in workerd.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DELEGATE, assertFailure, cid, kvOps, startWorker } from "./harness.mjs";

const CREATED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const V0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
const V0_AS_V1 = "bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34";
const q = (obj) => encodeURIComponent(JSON.stringify(obj));

let w;
before(async () => {
  w = await startWorker();
});
after(() => w.dispose());

function assertPinStatus(p) {
  assert.deepEqual(Object.keys(p).sort(), ["created", "delegates", "info", "pin", "requestid", "status"]);
  assert.match(p.requestid, /^\S+$/);
  assert.match(p.created, CREATED);
  assert.ok(["queued", "pinning", "pinned", "failed"].includes(p.status));
  assert.deepEqual(p.delegates, [DELEGATE]);
  for (const v of Object.values(p.info)) assert.equal(typeof v, "string");
}

describe("add, get, delete", () => {
  test("round trip with the spec's exact shapes and codes", async () => {
    const added = await w.call("POST", "/pins", {
      as: "alice",
      body: { cid: cid(1), name: "doc", origins: ["/ip4/10.0.0.1/tcp/4001/p2p/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"], meta: { app: "x" } },
    });
    assert.equal(added.status, 202, added.text);
    assert.match(added.headers.get("content-type"), /application\/json/);
    const p = added.body;
    assertPinStatus(p);
    assert.equal(p.status, "pinned");
    assert.match(p.info.status_details, /no content was retrieved/);
    assert.deepEqual(p.pin, {
      cid: cid(1),
      name: "doc",
      origins: ["/ip4/10.0.0.1/tcp/4001/p2p/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"],
      meta: { app: "x" },
    });

    const got = await w.call("GET", `/pins/${p.requestid}`, { as: "alice" });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, p);
    assert.deepEqual(kvOps(got), { get: 1, put: 0, delete: 0, list: 0 });

    const del = await w.call("DELETE", `/pins/${p.requestid}`, { as: "alice" });
    assert.equal(del.status, 202);
    assert.equal(del.text, "");
    assertFailure(assert, await w.call("GET", `/pins/${p.requestid}`, { as: "alice" }), 404, "NOT_FOUND");
    assertFailure(assert, await w.call("DELETE", `/pins/${p.requestid}`, { as: "alice" }), 404, "NOT_FOUND");
  });

  test("optional fields are absent, never null; a null field is refused (no field is nullable)", async () => {
    const p = await w.pin("alice", { cid: cid(2) });
    assert.deepEqual(p.pin, { cid: cid(2) });
    assert.deepEqual(Object.keys(p.info), ["status_details"]);
    for (const field of ["name", "origins", "meta"]) {
      const res = await w.call("POST", "/pins", { as: "alice", body: { cid: cid(3), [field]: null } });
      assertFailure(assert, res, 400, "BAD_REQUEST");
      assert.match(res.body.error.details, new RegExp(`^${field}:`));
    }
  });

  test("the same CID pinned twice is two pin objects", async () => {
    const a = await w.pin("alice", { cid: cid(4) });
    const b = await w.pin("alice", { cid: cid(4) });
    assert.notEqual(a.requestid, b.requestid);
    const list = await w.call("GET", `/pins?cid=${cid(4)}`, { as: "alice" });
    assert.equal(list.body.count, 2);
  });
});

describe("listing", () => {
  let lw;
  before(async () => {
    lw = await startWorker();
    // Sequential, so `created` order is the order here.
    for (const [i, name, app] of [
      [10, "Report.pdf", "docs"],
      [11, "report-2.PDF", "docs"],
      [12, "photo.jpg", "pics"],
    ]) {
      await lw.pin("alice", { cid: cid(i), name, meta: { app, n: String(i) } });
    }
    await lw.pin("alice", { cid: V0, name: "v0" });
  });
  after(() => lw.dispose());

  const list = async (query) => {
    const res = await lw.call("GET", `/pins${query}`, { as: "alice" });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ["count", "results"]);
    res.body.results.forEach(assertPinStatus);
    return res.body;
  };

  test("newest first, count is the total not the page", async () => {
    const all = await list("");
    assert.equal(all.count, 4);
    assert.deepEqual(
      all.results.map((r) => r.pin.name),
      ["v0", "photo.jpg", "report-2.PDF", "Report.pdf"],
    );
    const one = await list("?limit=1");
    assert.equal(one.count, 4);
    assert.equal(one.results.length, 1);
  });

  test("name with each match mode", async () => {
    const names = async (query) => (await list(query)).results.map((r) => r.pin.name).sort();
    assert.deepEqual(await names("?name=Report.pdf"), ["Report.pdf"]);
    assert.deepEqual(await names("?name=Report.pdf&match=exact"), ["Report.pdf"]);
    assert.deepEqual(await names("?name=report.pdf&match=iexact"), ["Report.pdf"]);
    assert.deepEqual(await names("?name=report&match=partial"), ["report-2.PDF"]);
    assert.deepEqual(await names("?name=REPORT&match=ipartial"), ["Report.pdf", "report-2.PDF"]);
    assert.deepEqual(await names("?name=nothing&match=ipartial"), []);
  });

  test("cid: any spelling, comma lists decoded before splitting, one list per CID", async () => {
    const byV1 = await lw.call("GET", `/pins?cid=${V0_AS_V1}`, { as: "alice" });
    assert.equal(byV1.body.count, 1);
    assert.equal(byV1.body.results[0].pin.cid, V0, "echoed as it was pinned");
    const three = await lw.call("GET", `/pins?cid=${V0_AS_V1}%2C${cid(10)},${cid(99)}`, { as: "alice" });
    assert.equal(three.body.count, 2);
    assert.deepEqual(kvOps(three), { get: 0, put: 0, delete: 0, list: 3 });
    const ten = Array.from({ length: 10 }, (_, i) => cid(10 + i)).join(",");
    assert.equal((await list(`?cid=${ten}`)).count, 3);
  });

  test("status: default pinned only when absent, comma lists", async () => {
    assert.equal((await list("?status=pinned")).count, 4);
    assert.equal((await list("?status=queued,pinning,failed")).count, 0);
    assert.equal((await list("?status=queued%2Cpinned")).count, 4);
  });

  test("meta: every key and value must match", async () => {
    assert.equal((await list(`?meta=${q({ app: "docs" })}`)).count, 2);
    assert.equal((await list(`?meta=${q({ app: "docs", n: "11" })}`)).count, 1);
    assert.equal((await list(`?meta=${q({ app: "nope" })}`)).count, 0);
    assert.equal((await list(`?meta=${q({})}`)).count, 4);
  });

  test("before and after are exclusive and count within them", async () => {
    const all = (await list("")).results;
    const [newest, second, third, oldest] = all;
    const b = await list(`?before=${second.created}`);
    assert.deepEqual(b.results.map((r) => r.requestid), [third.requestid, oldest.requestid]);
    assert.equal(b.count, 2);
    const a = await list(`?after=${third.created}`);
    assert.deepEqual(a.results.map((r) => r.requestid), [newest.requestid, second.requestid]);
    assert.equal(a.count, 2);
    const both = await list(`?after=${oldest.created}&before=${newest.created}`);
    assert.deepEqual(both.results.map((r) => r.requestid), [second.requestid, third.requestid]);
    // RFC 3339 with an offset means the same instant.
    const offset = new Date(Date.parse(second.created)).toISOString().replace("Z", "+00:00");
    assert.equal((await list(`?before=${encodeURIComponent(offset)}`)).count, 2);
  });

  test("filters combine", async () => {
    const r = await list(`?name=report&match=ipartial&meta=${q({ n: "10" })}&status=pinned&limit=5`);
    assert.deepEqual(r.results.map((p) => p.pin.name), ["Report.pdf"]);
  });

  test("malformed queries are 400s that name the field", async () => {
    for (const [query, field] of [
      ["?limit=0", "limit"],
      ["?limit=1001", "limit"],
      ["?limit=ten", "limit"],
      ["?status=pinned,pinned", "status"],
      ["?status=done", "status"],
      ["?status=", "status"],
      ["?match=fuzzy&name=x", "match"],
      ["?before=yesterday", "before"],
      ["?after=2020-13-01T00:00:00Z", "after"],
      ["?cid=notacid", "cid"],
      [`?cid=${Array.from({ length: 11 }, (_, i) => cid(i)).join(",")}`, "cid"],
      [`?cid=${cid(10)},${cid(10)}`, "cid"],
      ["?meta=%7Bnot-json", "meta"],
      [`?meta=${q({ a: 1 })}`, "meta"],
      [`?name=${"x".repeat(256)}`, "name"],
      ["?name=%zz", ""],
    ]) {
      const res = await lw.call("GET", `/pins${query}`, { as: "alice" });
      assertFailure(assert, res, 400, "BAD_REQUEST");
      assert.ok(res.body.error.details.includes(field), `${query}: ${res.body.error.details}`);
    }
    assert.equal((await list("?limit=1000")).count, 4);
  });
});

describe("counts kept through writes", () => {
  test("after the first scan, a listing reads each pin written since instead of scanning", async () => {
    const cw = await startWorker();
    try {
      const list = async (query) => {
        const res = await cw.call("GET", `/pins${query}`, { as: "alice" });
        assert.equal(res.status, 200, res.text);
        return { count: res.body.count, ops: kvOps(res) };
      };
      // No pins, no markers: the first listing counts (nothing) and stores the totals.
      assert.deepEqual(await list(""), { count: 0, ops: { get: 0, put: 1, delete: 0, list: 1 } });
      // Writes stamped more than the clocks' margin (5 s) after that scan ended are changes.
      await new Promise((r) => setTimeout(r, 6000));
      const a = await cw.pin("alice", { cid: cid(70) });
      const b = await cw.pin("alice", { cid: cid(71) });
      assert.deepEqual(await list(""), { count: 2, ops: { get: 2, put: 0, delete: 0, list: 1 } });
      assert.deepEqual(await list("?status=pinned&limit=1"), { count: 2, ops: { get: 2, put: 0, delete: 0, list: 1 } });
      assert.deepEqual(await list("?status=queued"), { count: 0, ops: { get: 2, put: 0, delete: 0, list: 1 } });
      assert.equal((await cw.call("DELETE", `/pins/${a.requestid}`, { as: "alice" })).status, 202);
      assert.deepEqual(await list(""), { count: 1, ops: { get: 2, put: 0, delete: 0, list: 1 } });
      const res = await cw.call("GET", "/pins", { as: "alice" });
      assert.deepEqual(res.body.results.map((p) => p.requestid), [b.requestid]);
    } finally {
      await cw.dispose();
    }
  });
});

describe("a burst of pins pages without skipping or repeating", () => {
  test("35 pins created at once, paged the way Kubo pages", async () => {
    const bw = await startWorker();
    try {
      const added = await Promise.all(Array.from({ length: 35 }, (_, i) => bw.pin("alice", { cid: cid(100 + i) })));
      const created = new Set(added.map((p) => p.created));
      assert.equal(created.size, 35, "created is unique within a user's pinset");

      const seen = [];
      let cursor = "";
      for (;;) {
        const res = await bw.call("GET", `/pins?limit=10${cursor && `&before=${cursor}`}`, { as: "alice" });
        assert.equal(res.body.count, 35 - seen.length, "count includes before/after");
        seen.push(...res.body.results);
        if (res.body.count === res.body.results.length) break;
        cursor = res.body.results.at(-1).created;
      }
      assert.equal(seen.length, 35);
      assert.equal(new Set(seen.map((p) => p.requestid)).size, 35);
      const times = seen.map((p) => Date.parse(p.created));
      assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");

      // A window: after the 25th newest, paged with before, sees exactly the 24 newer pins.
      const window = [];
      const from = seen[24].created;
      cursor = "";
      for (;;) {
        const res = await bw.call("GET", `/pins?limit=10&after=${from}${cursor && `&before=${cursor}`}`, { as: "alice" });
        assert.equal(res.body.count, 24 - window.length);
        window.push(...res.body.results);
        if (res.body.count === res.body.results.length) break;
        cursor = res.body.results.at(-1).created;
      }
      assert.deepEqual(window.map((p) => p.requestid), seen.slice(0, 24).map((p) => p.requestid));
    } finally {
      await bw.dispose();
    }
  });
});

describe("replace", () => {
  test("new requestid, the old one is gone, the count does not change", async () => {
    const old = await w.pin("bob", { cid: cid(20), name: "v1" });
    const res = await w.call("POST", `/pins/${old.requestid}`, { as: "bob", body: { cid: cid(21), name: "v2" } });
    assert.equal(res.status, 202, res.text);
    assertPinStatus(res.body);
    assert.notEqual(res.body.requestid, old.requestid);
    assert.deepEqual(res.body.pin, { cid: cid(21), name: "v2" });
    assertFailure(assert, await w.call("GET", `/pins/${old.requestid}`, { as: "bob" }), 404, "NOT_FOUND");
    assert.equal((await w.call("GET", `/pins/${res.body.requestid}`, { as: "bob" })).status, 200);
    const list = await w.call("GET", "/pins?name=v&match=partial", { as: "bob" });
    assert.deepEqual(list.body.results.map((p) => p.requestid), [res.body.requestid]);
    assert.equal((await w.call("GET", `/pins?cid=${cid(20)}`, { as: "bob" })).body.count, 0);
  });

  test("replacing what does not exist is a 404; a bad body is a 400 and keeps the pin", async () => {
    assertFailure(
      assert,
      await w.call("POST", `/pins/${"0".repeat(32)}`, { as: "bob", body: { cid: cid(1) } }),
      404,
      "NOT_FOUND",
    );
    const p = await w.pin("bob", { cid: cid(22) });
    assertFailure(assert, await w.call("POST", `/pins/${p.requestid}`, { as: "bob", body: { cid: "nope" } }), 400, "BAD_REQUEST");
    assert.equal((await w.call("GET", `/pins/${p.requestid}`, { as: "bob" })).status, 200);
  });
});

describe("bad input", () => {
  test("bodies are parsed into a 400 that names the field", async () => {
    for (const [body, field] of [
      ["{not json", "body"],
      ["[]", "body"],
      [{}, "cid"],
      [{ cid: 5 }, "cid"],
      [{ cid: "bafy-not-a-cid" }, "cid"],
      [{ cid: cid(1), name: "n".repeat(256) }, "name"],
      [{ cid: cid(1), name: 7 }, "name"],
      [{ cid: cid(1), origins: Array(21).fill("/ip4/1.2.3.4/tcp/1") }, "origins"],
      [{ cid: cid(1), origins: ["not a multiaddr"] }, "origins"],
      [{ cid: cid(1), origins: "/ip4/1.2.3.4" }, "origins"],
      [{ cid: cid(1), meta: { a: 1 } }, "meta"],
      [{ cid: cid(1), meta: [] }, "meta"],
    ]) {
      const res = await w.call("POST", "/pins", { as: "alice", body });
      assertFailure(assert, res, 400, "BAD_REQUEST");
      assert.ok(res.body.error.details.includes(field), `${JSON.stringify(body)}: ${res.body.error.details}`);
    }
  });

  test("origins of unfamiliar protocols or private addresses are accepted", async () => {
    const origins = ["/ip4/192.168.1.2/udp/4001/quic-v1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", "/dns4/example.com/tcp/443/wss", "/someproto/x"];
    const p = await w.pin("alice", { cid: cid(30), origins });
    assert.deepEqual(p.pin.origins, origins);
  });

  test("a body above the documented bound is refused before it is parsed", async () => {
    const res = await w.call("POST", "/pins", { as: "alice", body: { cid: cid(1), name: "x", meta: { big: "y".repeat(70 * 1024) } } });
    assertFailure(assert, res, 413, "PAYLOAD_TOO_LARGE");
  });

  test("unknown paths are 404 Failures; unsupported methods are 405 with Allow", async () => {
    assertFailure(assert, await w.call("GET", "/nothing", { as: "alice" }), 404, "NOT_FOUND");
    assertFailure(assert, await w.call("GET", "/pins/a/b", { as: "alice" }), 404, "NOT_FOUND");
    const put = await w.call("PUT", "/pins", { as: "alice" });
    assertFailure(assert, put, 405, "METHOD_NOT_ALLOWED");
    assert.match(put.headers.get("allow"), /GET/);
    assert.match(put.headers.get("allow"), /POST/);
    const patch = await w.call("PATCH", `/pins/${"0".repeat(32)}`, { as: "alice" });
    assertFailure(assert, patch, 405, "METHOD_NOT_ALLOWED");
    assert.match(patch.headers.get("allow"), /DELETE/);
  });

  test("a requestid that could never exist is a 404, not a 400", async () => {
    assertFailure(assert, await w.call("GET", "/pins/not-an-id", { as: "alice" }), 404, "NOT_FOUND");
  });
});

describe("users are isolated", () => {
  test("another user's pin is a 404 everywhere, and never listed", async () => {
    const mine = await w.pin("alice", { cid: cid(40), name: "secret" });
    for (const [method, body] of [["GET"], ["DELETE"], ["POST", { cid: cid(41) }]]) {
      const res = await w.call(method, `/pins/${mine.requestid}`, { as: "bob", body });
      assertFailure(assert, res, 404, "NOT_FOUND");
    }
    const theirs = await w.call("GET", `/pins?cid=${cid(40)}`, { as: "bob" });
    assert.equal(theirs.body.count, 0);
    const named = await w.call("GET", "/pins?name=secret", { as: "bob" });
    assert.equal(named.body.count, 0);
    assert.equal((await w.call("GET", `/pins/${mine.requestid}`, { as: "alice" })).status, 200);
  });
});

describe("authentication", () => {
  test("missing or wrong credentials are 401 Failures with WWW-Authenticate", async () => {
    for (const auth of [undefined, "Basic " + Buffer.from("alice:wrong").toString("base64"), "Basic !!", "Bearer nope", "Digest x"]) {
      const res = await w.call("GET", "/pins", { auth });
      assertFailure(assert, res, 401, "UNAUTHORIZED");
      assert.ok(res.headers.get("www-authenticate"));
    }
    const unknown = await w.call("GET", "/pins", { auth: "Basic " + Buffer.from("mallory:x").toString("base64") });
    assertFailure(assert, unknown, 401, "UNAUTHORIZED");
  });
});

describe("browsers", () => {
  test("preflight is answered and every response carries CORS headers", async () => {
    const pre = await w.call("OPTIONS", "/pins", {
      headers: { origin: "https://webui.ipfs.io", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    assert.ok(pre.status === 204 || pre.status === 200);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-methods"), /POST/);
    assert.match(pre.headers.get("access-control-allow-headers").toLowerCase(), /authorization/);
    assert.match(pre.headers.get("access-control-allow-headers").toLowerCase(), /content-type/);
    const preId = await w.call("OPTIONS", `/pins/${"0".repeat(32)}`, { headers: { origin: "https://x" } });
    assert.match(preId.headers.get("access-control-allow-methods"), /DELETE/);

    for (const res of [await w.call("GET", "/pins", { as: "alice" }), await w.call("GET", "/pins")]) {
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
    }
  });
});

describe("backend none", () => {
  test("pins stay queued, and the default listing shows only pinned ones", async () => {
    const nw = await startWorker({ bindings: { PIN_BACKEND: "none" } });
    try {
      const p = await nw.pin("alice", { cid: cid(50) });
      assert.equal(p.status, "queued");
      assert.match(p.info.status_details, /queued/);
      assert.equal((await nw.call("GET", "/pins", { as: "alice" })).body.count, 0);
      const queued = await nw.call("GET", "/pins?status=queued", { as: "alice" });
      assert.deepEqual(queued.body.results.map((r) => r.requestid), [p.requestid]);
    } finally {
      await nw.dispose();
    }
  });

  test("a deployment without a backend or delegates answers 500 and says which setting", async () => {
    const bad = await startWorker({ bindings: { PIN_BACKEND: "magic" } });
    try {
      const res = await bad.call("GET", "/pins", { as: "alice" });
      assertFailure(assert, res, 500, "INTERNAL_SERVER_ERROR");
      assert.match(res.body.error.details, /PIN_BACKEND/);
    } finally {
      await bad.dispose();
    }
  });
});
