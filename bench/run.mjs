// `npm run bench`: the built worker in local workerd (Miniflare) against pinsets of N pins.
// For each N it reports KV operations per request (from the worker's x-kv-ops header), latency
// p50/p95, and requests per second for get-by-id and the newest page against a baseline worker
// (one KV get, bench/baseline.mjs) measured in the same run; then the bundle size and the native
// CPU figures of `cargo bench --bench core`. Writes bench/results.json and a table to stdout, and
// the table into README.md between the bench markers.
//
//   BENCH_SIZES=1000,10000 node bench/run.mjs     (default 1000,10000,100000)
//
// Seeding goes through Miniflare's KV API, not through requests: `cargo run --example seed`
// prints the entries the real PinStore writes. Seeded pinsets persist in bench/.data/ (ignored by
// git), so later runs skip it.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { gzipSync } from "node:zlib";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const root = fileURLToPath(new URL("..", import.meta.url));
const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const USER = "bench";
const AUTH = `Basic ${Buffer.from("bench:bench").toString("base64")}`;
const RPS_SECONDS = Number(process.env.BENCH_RPS_SECONDS ?? 4);
const CONCURRENCY = 16;

async function start(n) {
  const persist = `${root}bench/.data/${n}`;
  mkdirSync(persist, { recursive: true });
  const kvNamespaces = { PINS: "bench-pins" };
  const mf = new Miniflare({
    kvPersist: persist,
    workers: [
      {
        name: "pins",
        modules: true,
        scriptPath: `${root}build/index.js`,
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
        compatibilityDate: "2026-04-20",
        kvNamespaces,
        bindings: {
          USERS: JSON.stringify({ bench: "bench" }),
          JWT_SECRET: "benchmark-secret-0123456789",
          PIN_BACKEND: "instant",
          DELEGATES: "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
          DEBUG_KV_OPS: "1",
        },
      },
      {
        name: "baseline",
        modules: true,
        scriptPath: `${root}bench/baseline.mjs`,
        compatibilityDate: "2026-04-20",
        kvNamespaces,
      },
    ],
  });
  await mf.ready;
  return { mf, persist, kv: await mf.getKVNamespace("PINS", "pins"), baseline: await mf.getWorker("baseline") };
}

/** Seeds N pins unless bench/.data/N already holds them; returns sample request ids and CIDs. */
async function seed(n, kv, persist) {
  const done = `${persist}/seeded.json`;
  if (existsSync(done)) return JSON.parse(readFileSync(done, "utf8"));
  const t0 = performance.now();
  const child = spawn("cargo", ["run", "-q", "--release", "--example", "seed", "--", String(n), USER], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const sample = { n, ids: [], cids: [] };
  const every = Math.max(1, Math.floor(n / 20));
  let pending = [];
  let i = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const { k, v, m } = JSON.parse(line);
    if (k.startsWith("p/")) {
      if (i % every === 0) {
        sample.ids.push(k.split("/")[2]);
        sample.cids.push((typeof m === "string" ? JSON.parse(m) : m).c);
      }
      i++;
    }
    pending.push(kv.put(k, v, { metadata: m }));
    if (pending.length >= 200) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  sample.seconds = Math.round((performance.now() - t0) / 100) / 10;
  writeFileSync(done, JSON.stringify(sample));
  return sample;
}

/** Forget change markers and stored totals (`p/{user}/!…`): the pinset looks as seeded. */
async function quiet(kv) {
  let cursor;
  do {
    const page = await kv.list({ prefix: `p/${USER}/!`, cursor });
    await Promise.all(page.keys.map((k) => kv.delete(k.name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
}

async function call(mf, method, path, body) {
  const t0 = performance.now();
  const res = await mf.dispatchFetch(`http://bench.test${path}`, {
    method,
    headers: { authorization: AUTH, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status}: ${text.slice(0, 300)}`);
  const ops = Object.fromEntries(res.headers.get("x-kv-ops").split(",").map((p) => p.split("=")).map(([k, v]) => [k, Number(v)]));
  return { ms, ops, body: text ? JSON.parse(text) : null };
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `make()` `samples` times; every sample must cost the same KV operations. */
async function measure(samples, make) {
  const times = [];
  let ops;
  let first;
  for (let i = 0; i < samples; i++) {
    const r = await make(i);
    times.push(r.ms);
    first ??= r;
    const o = JSON.stringify(r.ops);
    if (ops !== undefined && ops !== o) ops = "varies";
    else ops ??= o;
  }
  times.sort((a, b) => a - b);
  return {
    ops: ops === "varies" ? first.ops : JSON.parse(ops),
    ops_vary: ops === "varies",
    p50_ms: round(pct(times, 50)),
    p95_ms: round(pct(times, 95)),
    count: first.body?.count,
  };
}

const round = (x) => Math.round(x * 100) / 100;

/** Closed-loop requests per second with CONCURRENCY in flight for RPS_SECONDS. */
async function rps(send) {
  const until = performance.now() + RPS_SECONDS * 1000;
  let done = 0;
  const loop = async () => {
    while (performance.now() < until) {
      const res = await send();
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return Math.round(done / ((performance.now() - t0) / 1000));
}

async function benchSize(n) {
  const { mf, kv, persist, baseline } = await start(n);
  try {
    process.stderr.write(`N=${n}: seeding (skipped if bench/.data/${n} holds it)…\n`);
    const sample = await seed(n, kv, persist);
    await quiet(kv);
    const scanSamples = n >= 100000 ? 3 : n >= 10000 ? 8 : 20;
    const fastSamples = 30;
    const ids = sample.ids;
    const list = (q, samples) => measure(samples, () => call(mf, "GET", `/pins${q}`));
    const r = {};
    process.stderr.write(`N=${n}: reads…\n`);
    // The first listing after a quiet period scans everything and stores the per-status counts.
    r["list newest page, first (stores counts)"] = await list("", 1);
    r["list newest page"] = await list("", fastSamples);
    r["list newest 1000"] = await list("?limit=1000", 10);
    r["get by id"] = await measure(fastSamples, (i) => call(mf, "GET", `/pins/${ids[i % ids.length]}`));
    for (const s of ["queued", "pinning", "pinned", "failed"]) {
      r[`--stat count: status=${s}&limit=1`] = await list(`?status=${s}&limit=1`, fastSamples);
    }
    r["list by status=queued,failed"] = await list("?status=queued,failed", fastSamples);
    r["list by cid (10 CIDs)"] = await list(`?cid=${sample.cids.slice(0, 10).join(",")}`, fastSamples);
    const mid = Math.floor(n / 2);
    const name = `Report-${mid - (mid % 4)}.PDF`; // seeded names: Report-{i}.PDF for i % 4 == 0
    r["list by name, exact"] = await list(`?name=${name}`, scanSamples);
    r["list by name, iexact"] = await list(`?name=${name.toLowerCase()}&match=iexact`, scanSamples);
    r["list by name, partial"] = await list(`?name=Report-1&match=partial`, scanSamples);
    r["list by name, ipartial"] = await list(`?name=report-1&match=ipartial`, scanSamples);
    r["list by meta"] = await list(`?meta=${encodeURIComponent('{"app":"bench"}')}`, scanSamples);
    const oldestOnPage = (await call(mf, "GET", "/pins")).body.results.at(-1).created;
    r["list next page (before=)"] = await list(`?before=${oldestOnPage}`, scanSamples);

    // What the local KV itself costs: one list of a prefix holding a single key, by a worker
    // that does nothing else. (Miniflare's list slows as the namespace grows, whatever the prefix.)
    const timeBaseline = async (url) => {
      const t0 = performance.now();
      const res = await baseline.fetch(url);
      await res.arrayBuffer();
      return { ms: performance.now() - t0, ops: { get: 0, put: 0, delete: 0, list: 1 }, body: null };
    };
    r["baseline worker: one KV list of a 1-key prefix"] = await measure(fastSamples, (i) =>
      timeBaseline(`http://baseline.test/?list=${encodeURIComponent(`c/${USER}/${sample.cids[i % sample.cids.length]}/`)}&limit=20`),
    );
    r["baseline worker: one KV get"] = await measure(fastSamples, (i) => {
      const url = `http://baseline.test/?k=p/${USER}/${ids[i % ids.length]}`;
      return timeBaseline(url).then((x) => ({ ...x, ops: { get: 1, put: 0, delete: 0, list: 0 } }));
    });

    process.stderr.write(`N=${n}: requests per second…\n`);
    const id = ids[0];
    const throughput = {
      "get by id": await rps(() => mf.dispatchFetch(`http://bench.test/pins/${id}`, { headers: { authorization: AUTH } })),
      "list newest page": await rps(() => mf.dispatchFetch("http://bench.test/pins", { headers: { authorization: AUTH } })),
      "baseline (one KV get)": await rps(() => baseline.fetch(`http://baseline.test/?k=p/${USER}/${id}`)),
    };

    process.stderr.write(`N=${n}: writes…\n`);
    // Writes last: each leaves a change marker, after which listings scan again for 120 s.
    let fresh = 0;
    const newCid = () => sample.cids[fresh++ % sample.cids.length];
    const added = [];
    r["add"] = await measure(fastSamples, async () => {
      const res = await call(mf, "POST", "/pins", { cid: newCid(), name: "bench-write" });
      added.push(res.body.requestid);
      return res;
    });
    const replaced = [];
    r["replace"] = await measure(fastSamples, async (i) => {
      const res = await call(mf, "POST", `/pins/${added[i]}`, { cid: newCid(), name: "bench-replaced" });
      replaced.push(res.body.requestid);
      return res;
    });
    r["list newest page, after a write"] = await list("", scanSamples);
    r["delete"] = await measure(fastSamples, (i) => call(mf, "DELETE", `/pins/${replaced[i]}`));
    await quiet(kv);
    return { n, seeded_in_s: sample.seconds, requests: r, rps: throughput };
  } finally {
    await mf.dispose();
  }
}

function bundle() {
  const wasm = readFileSync(`${root}build/index_bg.wasm`);
  const js = readFileSync(`${root}build/index.js`);
  return {
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
    js_bytes: js.length,
    total_gzip_bytes: gzipSync(Buffer.concat([wasm, js]), { level: 9 }).length,
  };
}

function nativeCore() {
  const out = execFileSync("cargo", ["bench", "-q", "--bench", "core", "--", "--json"], { cwd: root, encoding: "utf8" });
  return JSON.parse(out.slice(out.indexOf("[")));
}

function opsText(o) {
  return `${o.get}/${o.put}/${o.delete}/${o.list}`;
}

function table(results) {
  const lines = [];
  const sizes = results.sizes;
  const names = Object.keys(sizes[0].requests);
  lines.push(`KV operations per request (get/put/delete/list) and latency p50 / p95 in ms, local workerd:`);
  lines.push("");
  lines.push(`| request | ${sizes.map((s) => `N = ${s.n.toLocaleString("en")}`).join(" | ")} |`);
  lines.push(`|---|${sizes.map(() => "---").join("|")}|`);
  for (const name of names) {
    const cells = sizes.map((s) => {
      const r = s.requests[name];
      return `${opsText(r.ops)}${r.ops_vary ? "*" : ""} · ${r.p50_ms} / ${r.p95_ms}`;
    });
    lines.push(`| ${name} | ${cells.join(" | ")} |`);
  }
  lines.push("");
  lines.push(`Requests per second (${CONCURRENCY} in flight, ${RPS_SECONDS} s each), and the ratio to the baseline worker (one KV get) in the same run:`);
  lines.push("");
  lines.push(`| N | get by id | newest page | baseline | get by id ÷ baseline | newest page ÷ baseline |`);
  lines.push(`|---|---|---|---|---|---|`);
  for (const s of sizes) {
    const b = s.rps["baseline (one KV get)"];
    const g = s.rps["get by id"];
    const l = s.rps["list newest page"];
    lines.push(`| ${s.n.toLocaleString("en")} | ${g} | ${l} | ${b} | ${(g / b).toFixed(2)} | ${(l / b).toFixed(2)} |`);
  }
  lines.push("");
  const b = results.bundle;
  lines.push(`Bundle: wasm ${(b.wasm_bytes / 1024).toFixed(0)} KiB raw, ${(b.wasm_gzip_bytes / 1024).toFixed(0)} KiB gzipped (with the JS glue: ${(b.total_gzip_bytes / 1024).toFixed(0)} KiB gzipped; the free plan allows 3 MB).`);
  lines.push("");
  lines.push(`Native CPU per call (\`cargo bench --bench core\`), against the free plan's 10 ms:`);
  lines.push("");
  lines.push(`| operation | µs | margin |`);
  lines.push(`|---|---|---|`);
  for (const c of results.core) lines.push(`| ${c.op} | ${c.us} | ${c.margin_x}× |`);
  lines.push("");
  lines.push(`\\* the operations varied between samples; the first sample's are shown.`);
  return lines.join("\n");
}

const results = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? "unknown"} × ${os.cpus().length}, ${process.version}`,
  sizes: [],
};
if (!existsSync(`${root}build/index.js`)) throw new Error("build/ is missing: run `bash scripts/build.sh`");
for (const n of SIZES) results.sizes.push(await benchSize(n));
results.bundle = bundle();
results.core = nativeCore();
writeFileSync(`${root}bench/results.json`, `${JSON.stringify(results, null, 2)}\n`);
const text = table(results);
console.log(text);

const readme = `${root}README.md`;
const OPEN = "<!-- bench:start -->";
const CLOSE = "<!-- bench:end -->";
const md = readFileSync(readme, "utf8");
if (md.includes(OPEN) && md.includes(CLOSE)) {
  const head = md.slice(0, md.indexOf(OPEN) + OPEN.length);
  const tail = md.slice(md.indexOf(CLOSE));
  writeFileSync(readme, `${head}\n${results.date.slice(0, 10)}, ${results.machine}:\n\n${text}\n${tail}`);
}
