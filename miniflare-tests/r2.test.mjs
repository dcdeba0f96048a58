// The r2 backend end to end: the built worker in workerd (Miniflare's R2, Queues and Durable
// Objects) pins real content from a real trustless gateway (gateway-lib over dagula) on a
// loopback port. Content is made by ipfs-car from files this suite generates; what lands in
// the local bucket is checked with @ipld/car and multiformats, never with our own code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CarBlockIterator } from "@ipld/car";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { startWorker } from "./harness.mjs";
import { startGateway } from "./gateway.mjs";

const CAP = 3 * 1024 * 1024;
let w, gw, gw2, dir;
const fx = {};

/** Packs `path` with ipfs-car and loads the CAR into `gateways`; returns the root CID. */
function pack(path, ...gateways) {
  const out = `${path}.car`;
  const printed = execFileSync(process.execPath, [
    "node_modules/.bin/ipfs-car", "pack", path, "--no-wrap", "--output", out,
  ]).toString().trim();
  const car = readFileSync(out);
  return Promise.all(gateways.map((g) => g.load(car))).then(() => ({ cid: printed, car }));
}

before(async () => {
  gw = await startGateway();
  gw2 = await startGateway();
  dir = mkdtempSync(join(tmpdir(), "r2-e2e-"));
  writeFileSync(join(dir, "small.txt"), "hello from the edge\n");
  writeFileSync(join(dir, "big.bin"), randomBytes(2_500_000));
  writeFileSync(join(dir, "huge.bin"), randomBytes(CAP + 500_000));
  writeFileSync(join(dir, "shared.bin"), randomBytes(300_000));
  writeFileSync(join(dir, "corrupt.bin"), randomBytes(600_000));
  writeFileSync(join(dir, "cut.bin"), randomBytes(2_000_000));
  writeFileSync(join(dir, "late.txt"), "served only once the gateway is back\n");
  writeFileSync(join(dir, "released.txt"), "kept, then released\n");
  mkdirSync(join(dir, "site"));
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, "site", `page-${i}.html`), `<p>page ${i}</p>`);
  mkdirSync(join(dir, "hamt"));
  for (let i = 0; i <= 1000; i++) writeFileSync(join(dir, "hamt", `f${i}.txt`), `file ${i}\n`);
  for (const name of ["small.txt", "big.bin", "huge.bin", "shared.bin", "cut.bin", "site", "hamt", "released.txt"]) {
    fx[name] = await pack(join(dir, name), gw);
  }
  fx["corrupt.bin"] = await pack(join(dir, "corrupt.bin"), gw, gw2);
  fx["late.txt"] = await pack(join(dir, "late.txt"));
  w = await startWorker({
    bindings: {
      PIN_BACKEND: "r2",
      GATEWAYS: `${gw.url},${gw2.url}`,
      MAX_PIN_BYTES: String(CAP),
      R2_RETRY_SECONDS: "1",
      R2_MAX_TRIES: "3",
      UPSTREAM_REFRESH_SECONDS: "0",
      UPSTREAM_RELEASE_GRACE_SECONDS: "0",
      QUOTAS: JSON.stringify({ dev: 100_000 }),
    },
    extra: {
      r2Buckets: ["CONTENT"],
      queueProducers: { FETCHES: { queueName: "fetches" } },
      queueConsumers: { fetches: { maxBatchSize: 1, maxBatchTimeout: 1, maxRetires: 3 } },
    },
  });
});

after(async () => {
  await w?.dispose();
  await gw?.close();
  await gw2?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads the pin until its status is final (Kubo's polling), at most `ms`. */
async function settled(as, id, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const res = await w.call("GET", `/pins/${id}`, { as });
    assert.equal(res.status, 200, res.text);
    if (["pinned", "failed"].includes(res.body.status) || Date.now() > end) return res.body;
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/** Every object of a DAG in the local bucket, and the blocks its segments hold, each hashed. */
async function kept(cid) {
  const bucket = await w.mf.getR2Bucket("CONTENT");
  const v1 = CID.parse(cid).toV1().toString();
  const { objects } = await bucket.list({ prefix: `dag/${v1}/` });
  const blocks = new Map();
  for (const o of objects.filter((o) => o.key.includes("/s/"))) {
    const bytes = new Uint8Array(await (await bucket.get(o.key)).arrayBuffer());
    for await (const { cid: c, bytes: b } of await CarBlockIterator.fromBytes(bytes)) {
      assert.deepEqual((await sha256.digest(b)).digest, c.multihash.digest, `${c} verifies`);
      blocks.set(c.toString(), b.length);
    }
  }
  return { keys: objects.map((o) => o.key), blocks };
}

/** The blocks of an ipfs-car CAR, as @ipld/car reads them. */
async function blocksOf(car) {
  const out = new Map();
  for await (const { cid, bytes } of await CarBlockIterator.fromBytes(car)) out.set(cid.toString(), bytes.length);
  return out;
}

async function assertKeptWhole(name) {
  const { blocks } = await kept(fx[name].cid);
  assert.deepEqual(new Set(blocks.keys()), new Set((await blocksOf(fx[name].car)).keys()), `${name}: every block kept`);
}

test("a small file, a multi-megabyte file (pinned by its CIDv0), a directory and a HAMT directory", async () => {
  const small = await w.pin("alice", { cid: fx["small.txt"].cid, name: "small" });
  assert.equal(small.status, "queued");
  const v0 = CID.parse(fx["big.bin"].cid).toV0().toString();
  const big = await w.pin("alice", { cid: v0, name: "big" });
  const site = await w.pin("alice", { cid: fx.site.cid });
  const hamt = await w.pin("alice", { cid: fx.hamt.cid });
  for (const p of [small, big, site, hamt]) {
    const s = await settled("alice", p.requestid);
    assert.equal(s.status, "pinned", JSON.stringify(s));
    assert.match(s.info.status_details, /every block verified/);
  }
  assert.equal((await settled("alice", big.requestid)).pin.cid, v0, "the pin keeps the CID as given");
  for (const name of ["small.txt", "big.bin", "site", "hamt"]) await assertKeptWhole(name);
  // info.dag_size is the DAG's blocks' bytes, each once, as @ipld/car counts them.
  let total = 0;
  for (const [p, name] of [[small, "small.txt"], [big, "big.bin"], [site, "site"], [hamt, "hamt"]]) {
    const size = [...(await blocksOf(fx[name].car)).values()].reduce((a, b) => a + b, 0);
    assert.equal((await settled("alice", p.requestid)).info.dag_size, String(size), name);
    total += size;
  }
  const usage = await w.call("GET", "/usage", { as: "alice" });
  assert.equal(usage.status, 200, usage.text);
  assert.deepEqual(usage.body, {
    pins: { queued: 0, pinning: 0, pinned: 4, failed: 0 },
    bytes: total,
    quota_bytes: null,
  });
});

test("a gateway that corrupts a block costs a retry at the other one, never a stored block", async () => {
  gw.fault = { corruptAt: 400_000 };
  try {
    const p = await w.pin("alice", { cid: fx["corrupt.bin"].cid });
    assert.equal((await settled("alice", p.requestid)).status, "pinned");
  } finally {
    gw.fault = null;
  }
  assert.ok(gw2.requests.some((u) => u.includes(fx["corrupt.bin"].cid)), "the other gateway was asked");
  await assertKeptWhole("corrupt.bin");
});

test("a stream cut short is resumed, not restarted", async () => {
  gw.fault = { cutAfter: 1_200_000 };
  gw2.fault = "down";
  const served = gw.bytesServed;
  let p;
  try {
    p = await w.pin("alice", { cid: fx["cut.bin"].cid });
    // The root's CAR is cut every time; the missing leaves come as CARs of their own.
    assert.equal((await settled("alice", p.requestid)).status, "pinned");
  } finally {
    gw.fault = null;
    gw2.fault = null;
  }
  await assertKeptWhole("cut.bin");
  // The cut CAR is not asked for again: the root comes as one raw block, then each missing
  // leaf as a CAR of its own.
  const asked = gw.requests.filter((u) => u.startsWith(`/ipfs/${fx["cut.bin"].cid}?`));
  assert.deepEqual(asked.map((u) => new URL(u, gw.url).searchParams.get("format")), ["car", "raw"]);
  assert.ok(gw.bytesServed - served < 2 * 2_000_000, "no whole refetch");
});

test("gateways down, then up: the pin waits with the reason, then is kept", async () => {
  gw.fault = "down";
  gw2.fault = "down";
  try {
    await gw2.load(fx["late.txt"].car);
    const p = await w.pin("bob", { cid: fx["late.txt"].cid });
    await new Promise((ok) => setTimeout(ok, 1500));
    const waiting = (await w.call("GET", `/pins/${p.requestid}`, { as: "bob" })).body;
    assert.equal(waiting.status, "queued", JSON.stringify(waiting));
    assert.match(waiting.info.status_details, /nothing fetched yet/);
    gw.fault = null;
    gw2.fault = null;
    const s = await settled("bob", p.requestid);
    assert.equal(s.status, "pinned", JSON.stringify(s));
  } finally {
    gw.fault = null;
    gw2.fault = null;
  }
});

test("content no gateway has fails after the retries, with the reason", async () => {
  const nowhere = "bafkreifxdmsgeogbakvtzl4fyfqmwqctlzgwbb7eodhcohvodxblopbepe";
  const p = await w.pin("bob", { cid: nowhere });
  const s = await settled("bob", p.requestid, 20_000);
  assert.equal(s.status, "failed", JSON.stringify(s));
  assert.match(s.info.status_details, /after 3 tries/);
});

test("a DAG over MAX_PIN_BYTES fails and says so", async () => {
  const p = await w.pin("bob", { cid: fx["huge.bin"].cid });
  const s = await settled("bob", p.requestid);
  assert.equal(s.status, "failed");
  assert.match(s.info.status_details, /MAX_PIN_BYTES/);
});

test("two users pinning one CID fetch it once; the last holder's delete releases it", async () => {
  const c = fx["shared.bin"].cid;
  const asked = () => gw.requests.filter((u) => u.startsWith(`/ipfs/${c}?`)).length;
  const a = await w.pin("alice", { cid: c });
  const b = await w.pin("bob", { cid: c });
  assert.equal((await settled("alice", a.requestid)).status, "pinned");
  assert.equal((await settled("bob", b.requestid)).status, "pinned");
  assert.equal(asked(), 1, "one fetch for both");
  // Bytes of one CID held by two users count for both.
  const size = [...(await blocksOf(fx["shared.bin"].car)).values()].reduce((x, y) => x + y, 0);
  const before = { alice: (await w.call("GET", "/usage", { as: "alice" })).body, bob: (await w.call("GET", "/usage", { as: "bob" })).body };
  assert.ok(before.alice.bytes >= size && before.bob.bytes >= size);
  const sweep = async () => {
    const r = await (await w.mf.getWorker()).scheduled({ cron: "* * * * *" });
    assert.equal(r.outcome, "ok");
  };
  assert.equal((await w.call("DELETE", `/pins/${a.requestid}`, { as: "alice" })).status, 202);
  const after = (await w.call("GET", "/usage", { as: "alice" })).body;
  assert.equal(after.bytes, before.alice.bytes - size, "a delete takes its bytes off at once");
  assert.equal(after.pins.pinned, before.alice.pins.pinned - 1);
  await sweep();
  await sweep();
  assert.ok((await kept(c)).keys.length > 0, "bob still holds it");
  assert.equal((await w.call("DELETE", `/pins/${b.requestid}`, { as: "bob" })).status, 202);
  await sweep(); // marks the CID for release
  await sweep(); // grace over, no holder: released
  await sweep();
  assert.deepEqual((await kept(c)).keys, [], "objects and index gone from R2");
});

test("a kept DAG over a user's quota fails their pin alone, with the reason", async () => {
  const big = fx["big.bin"].cid; // kept for alice by the first test: 2.5 MB
  const p = await w.pin("dev", { cid: big });
  assert.equal(p.status, "failed", JSON.stringify(p));
  assert.match(p.info.status_details, /over your quota/);
  const usage = await w.call("GET", "/usage", { as: "dev" });
  assert.equal(usage.body.bytes, 0);
  assert.equal(usage.body.quota_bytes, 100_000);
  const alice = await w.call("GET", "/pins?cid=" + big, { as: "alice" });
  assert.equal(alice.body.results[0].status, "pinned", "another user's pin of it is kept");
});
