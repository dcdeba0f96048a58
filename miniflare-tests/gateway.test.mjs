// The gateway end to end: the built worker in workerd keeps content through the r2 backend
// (fetched from a loopback trustless gateway, gateway-lib over dagula), then serves it back on
// /ipfs/{cid}. Every answer is checked with third-party code: blocks hashed against their
// CIDs and walked with @ipld/car, @ipld/dag-pb and multiformats; files read back with
// ipfs-unixfs-exporter; plain downloads compared with the original bytes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CarBlockIterator } from "@ipld/car";
import * as dagPb from "@ipld/dag-pb";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { exporter } from "ipfs-unixfs-exporter";
import { startWorker, BASE, basic, USERS } from "./harness.mjs";
import { startGateway } from "./gateway.mjs";

let w, gw, dir;
const fx = {};
const files = {};

function pack(path) {
  const out = `${path}.car`;
  const cid = execFileSync(process.execPath, [
    "node_modules/.bin/ipfs-car", "pack", path, "--no-wrap", "--output", out,
  ]).toString().trim();
  return { cid, car: readFileSync(out) };
}

async function settled(as, id, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const res = await w.call("GET", `/pins/${id}`, { as });
    if (["pinned", "failed"].includes(res.body.status) || Date.now() > end) return res.body;
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/** A gateway request: { status, headers, bytes }. */
async function get(path, headers = {}, method = "GET") {
  const res = await w.mf.dispatchFetch(BASE + path, { method, headers, redirect: "manual" });
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** The blocks of a CAR answer, each hashed against its CID (sha2-256, as ipfs-car makes). */
async function verifiedBlocks(car) {
  const blocks = new Map();
  for await (const { cid, bytes } of await CarBlockIterator.fromBytes(car)) {
    assert.deepEqual((await sha256.digest(bytes)).digest, cid.multihash.digest, `${cid} verifies`);
    blocks.set(cid.toString(), bytes);
  }
  return blocks;
}

/** Every block reachable from `root` is in `blocks` (dag-pb links followed). */
function assertComplete(root, blocks) {
  const stack = [CID.parse(root).toV1()];
  while (stack.length) {
    const c = stack.pop();
    const bytes = blocks.get(c.toString()) ?? blocks.get(c.toV1().toString());
    assert.ok(bytes, `block ${c} is in the CAR`);
    if (c.code === dagPb.code) for (const l of dagPb.decode(bytes).Links) stack.push(l.Hash);
  }
}

/** A file's bytes (or a range) read by ipfs-unixfs-exporter from these blocks only. */
async function exported(path, blocks, options) {
  const store = {
    get(cid) {
      const b = blocks.get(cid.toString()) ?? blocks.get(cid.toV1().toString());
      if (!b) throw new Error(`exporter wanted ${cid}, not in the CAR`);
      return [b];
    },
  };
  const entry = await exporter(path, store);
  const parts = [];
  for await (const p of entry.content(options)) parts.push(p);
  return Buffer.concat(parts);
}

before(async () => {
  gw = await startGateway();
  dir = mkdtempSync(join(tmpdir(), "gateway-e2e-"));
  files.big = randomBytes(3_000_000);
  writeFileSync(join(dir, "big.bin"), files.big);
  mkdirSync(join(dir, "site"));
  writeFileSync(join(dir, "site", "a <b> & c.txt"), "escaped\n");
  writeFileSync(join(dir, "site", "notes.txt"), "plain notes\n");
  mkdirSync(join(dir, "hamt"));
  for (let i = 0; i <= 1000; i++) writeFileSync(join(dir, "hamt", `f${i}.txt`), `file ${i}\n`);
  writeFileSync(join(dir, "gone.txt"), "pinned, then deleted\n");
  writeFileSync(join(dir, "never.txt"), "never pinned\n");
  for (const name of ["big.bin", "site", "hamt", "gone.txt", "never.txt"]) {
    fx[name] = pack(join(dir, name));
    if (name !== "never.txt") await gw.load(fx[name].car);
  }
  w = await startWorker({
    bindings: {
      PIN_BACKEND: "r2",
      GATEWAYS: gw.url,
      UPSTREAM_REFRESH_SECONDS: "0",
      UPSTREAM_RELEASE_GRACE_SECONDS: "0",
    },
    extra: {
      r2Buckets: ["CONTENT"],
      queueProducers: { FETCHES: { queueName: "fetches" } },
      queueConsumers: { fetches: { maxBatchSize: 1, maxBatchTimeout: 1, maxRetires: 3 } },
    },
  });
  for (const name of ["big.bin", "site", "hamt", "gone.txt"]) {
    const p = await w.pin("alice", { cid: fx[name].cid, name });
    fx[name].requestid = p.requestid;
    assert.equal((await settled("alice", p.requestid)).status, "pinned", name);
  }
});

after(async () => {
  await w?.dispose();
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a whole file as a CAR: every block verifies, the DAG is complete, the file reads back", async () => {
  const { cid } = fx["big.bin"];
  const r = await get(`/ipfs/${cid}?format=car`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/vnd.ipld.car; version=1; order=dfs; dups=n");
  assert.equal(Number(r.headers.get("content-length")), r.bytes.length);
  assert.equal(r.headers.get("cache-control"), "public, max-age=29030400, immutable");
  const blocks = await verifiedBlocks(r.bytes);
  assertComplete(cid, blocks);
  assert.ok((await exported(cid, blocks)).equals(files.big), "ipfs-unixfs-exporter reads the original");
  const byAccept = await get(`/ipfs/${cid}`, { accept: "application/vnd.ipld.car" });
  assert.deepEqual(byAccept.bytes, r.bytes);
});

test("the plain download, HEAD and If-None-Match", async () => {
  const { cid } = fx["big.bin"];
  const r = await get(`/ipfs/${cid}?filename=big.bin`);
  assert.equal(r.status, 200);
  assert.ok(Buffer.from(r.bytes).equals(files.big), "the original bytes");
  assert.match(r.headers.get("content-disposition"), /^attachment; filename="big.bin"/);
  assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  const head = await get(`/ipfs/${cid}`, {}, "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.bytes.length, 0);
  assert.equal(head.headers.get("content-length"), String(files.big.length));
  const etag = r.headers.get("etag");
  assert.equal((await get(`/ipfs/${cid}`, { "if-none-match": etag })).status, 304);
  const part = await get(`/ipfs/${cid}`, { range: "bytes=1048570-2097160" });
  assert.equal(part.status, 206);
  assert.ok(Buffer.from(part.bytes).equals(files.big.subarray(1048570, 2097161)));
});

test("entity-bytes: only the blocks of the range, and they hold exactly that slice", async () => {
  const { cid } = fx["big.bin"];
  const whole = (await verifiedBlocks((await get(`/ipfs/${cid}?format=car`)).bytes)).size;
  for (const [from, to] of [[0, 99], [1_000_000, 1_100_000], [2_999_000, 2_999_999]]) {
    const r = await get(`/ipfs/${cid}?format=car&entity-bytes=${from}:${to}`);
    assert.equal(r.status, 200);
    const blocks = await verifiedBlocks(r.bytes);
    assert.ok(blocks.size < whole, `${from}:${to}: ${blocks.size} of ${whole} blocks`);
    const got = await exported(cid, blocks, { offset: from, length: to - from + 1 });
    assert.ok(got.equals(files.big.subarray(from, to + 1)), `${from}:${to}`);
  }
});

test("paths through a directory and a HAMT, and a listing with escaped names", async () => {
  const hamt = fx.hamt.cid;
  const f = await get(`/ipfs/${hamt}/f500.txt`);
  assert.equal(f.status, 200);
  assert.equal(Buffer.from(f.bytes).toString(), "file 500\n");
  const car = await get(`/ipfs/${hamt}/f777.txt?format=car&dag-scope=entity`);
  const blocks = await verifiedBlocks(car.bytes);
  assert.equal((await exported(`${hamt}/f777.txt`, blocks)).toString(), "file 777\n");
  assert.equal((await get(`/ipfs/${hamt}/f1001.txt`)).status, 404);
  const site = fx.site.cid;
  assert.equal((await get(`/ipfs/${site}`)).status, 301);
  const list = Buffer.from((await get(`/ipfs/${site}/`)).bytes).toString();
  assert.ok(list.includes("a &lt;b&gt; &amp; c.txt") && !list.includes("<b>"), list);
  const notes = await get(`/ipfs/${site}/notes.txt`);
  assert.equal(notes.headers.get("content-type"), "text/plain; charset=utf-8");
  const odd = await get(`/ipfs/${site}/${encodeURIComponent("a <b> & c.txt")}`);
  assert.equal(Buffer.from(odd.bytes).toString(), "escaped\n");
});

test("raw blocks and their ranges", async () => {
  const { cid, car } = fx["big.bin"];
  let root;
  for await (const b of await CarBlockIterator.fromBytes(car)) if (b.cid.toString() === cid) root = b.bytes;
  const r = await get(`/ipfs/${cid}?format=raw`);
  const same = (a, b) => Buffer.from(a).equals(Buffer.from(b));
  assert.ok(same(r.bytes, root), "the root block");
  const part = await get(`/ipfs/${cid}`, { accept: "application/vnd.ipld.raw", range: "bytes=4-11" });
  assert.equal(part.status, 206);
  assert.ok(same(part.bytes, root.subarray(4, 12)), "bytes 4-11");
  assert.equal((await get(`/ipfs/${cid}?format=raw`, { range: `bytes=${root.length}-` })).status, 416);
});

test("what is not pinned here is 404: never pinned, and deleted", async () => {
  const never = await get(`/ipfs/${fx["never.txt"].cid}`);
  assert.equal(never.status, 404);
  assert.equal(JSON.parse(Buffer.from(never.bytes)).error.reason, "NOT_FOUND");
  const gone = fx["gone.txt"].cid;
  assert.equal((await get(`/ipfs/${gone}`)).status, 200);
  assert.equal((await w.call("DELETE", `/pins/${fx["gone.txt"].requestid}`, { as: "alice" })).status, 202);
  for (let i = 0; i < 3; i++) {
    const r = await (await w.mf.getWorker()).scheduled({ cron: "* * * * *" });
    assert.equal(r.outcome, "ok");
  }
  assert.equal((await get(`/ipfs/${gone}`)).status, 404);
});

test("CORS preflight", async () => {
  const r = await get(`/ipfs/${fx["big.bin"].cid}`, { origin: "https://app.example", "access-control-request-method": "GET" }, "OPTIONS");
  assert.equal(r.status, 204);
  assert.match(r.headers.get("access-control-allow-headers"), /Range/);
});

test("GATEWAY=private serves only the owner's pins; GATEWAY=off serves nothing", async () => {
  const path = `/ipfs/${fx["big.bin"].cid}?format=raw`;
  await w.rebind({ GATEWAY: "private" });
  try {
    assert.equal((await get(path)).status, 401);
    assert.equal((await get(path, { authorization: basic("alice", USERS.alice) })).status, 200);
    assert.equal((await get(path, { authorization: basic("bob", USERS.bob) })).status, 404);
    await w.rebind({ GATEWAY: "off" });
    assert.equal((await get(path, { authorization: basic("alice", USERS.alice) })).status, 404);
  } finally {
    await w.rebind({ GATEWAY: "public" });
  }
});
