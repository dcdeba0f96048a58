// `npm run bench`: the built worker in local workerd (Miniflare) against pinsets of N pins.
// For each N it reports, per request type: the KV operations (the worker's x-kv-ops header),
// latency p50/p95, and the CPU workerd spent per request; then requests per second for get-by-id
// and the newest page against bare workers that make the same one KV call and answer, in the
// same run: bench/baseline.mjs in JS, bench/floor in Rust on the same workers-rs glue as the
// service (the floor any Rust worker starts from), and bench/twin.mjs, a JS worker answering
// what the service answers (checked byte for byte); then the bundle size and the native CPU
// figures of `cargo bench --bench core`. Writes
// bench/results.json and a table to stdout, and the table into README.md between the bench
// markers.
//
//   BENCH_SIZES=1000,10000 node bench/run.mjs     (default 1000,10000,100000)
//
// A run of other sizes writes bench/.data/results.json instead, and leaves the README alone.
//
// Seeding goes through Miniflare's KV API, not through requests: `cargo run --example seed`
// prints the entries the real PinStore writes. Each N is seeded once into bench/.data/N/seeded
// (ignored by git), tagged with the SHA-256 of the seed's output: a later run reseeds only when
// that output changed (another layout, another mix). Every run works on a fresh copy of it
// (bench/.data/N/run), so what one run writes (pins, change markers, stored totals) can never
// shift the next run's figures. Every listing's `count` is checked against the seed.
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { gzipSync } from "node:zlib";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { workerdCpuNs } from "./workerd-cpu.mjs";
import { AUTH, PAGE_LIST, SETTINGS, USER, baseline as baselineWorker, built, kvNamespaces, twin as twinWorker } from "./workers.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const DATA = `${root}bench/.data`;
const ALL_SIZES = "1000,10000,100000";
const SIZES = (process.env.BENCH_SIZES ?? ALL_SIZES).split(",").map(Number);
// Only a run of every size replaces bench/results.json and the README's table.
const FULL = SIZES.join(",") === ALL_SIZES && process.env.BENCH_BUILD === undefined;
const RPS_SECONDS = Number(process.env.BENCH_RPS_SECONDS ?? 8);
const RPS_ROUNDS = Number(process.env.BENCH_RPS_ROUNDS ?? 16);
const RPS_WARM_SECONDS = Number(process.env.BENCH_RPS_WARM_SECONDS ?? 3);
const CONCURRENCY = 16;
const STATUSES = ["queued", "pinning", "pinned", "failed"];

// ---------------------------------------------------------------------------------------------
// The seed

/**
 * Runs the seed program for N pins; calls `entry` for every KV entry it prints, and returns the
 * SHA-256 of its whole output and the pins it describes.
 */
async function readSeed(n, entry = () => {}) {
  const child = spawn("cargo", ["run", "-q", "--release", "--example", "seed", "--", String(n), USER], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.on("close", resolve));
  const hash = createHash("sha256");
  const pins = [];
  for await (const line of createInterface({ input: child.stdout })) {
    hash.update(`${line}\n`);
    const x = JSON.parse(line);
    if (x.pin !== undefined) pins.push(x);
    else await entry(x);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`the seed program failed (exit ${code})`);
  if (pins.length !== n) throw new Error(`the seed printed ${pins.length} pins, not ${n}`);
  return { hash: hash.digest("hex"), pins };
}

function miniflare(persist, workers) {
  return new Miniflare({ kvPersist: persist, workers });
}

/**
 * Makes bench/.data/N/seeded hold exactly the seed's entries (reseeding when the seed's output
 * changed), then copies it to bench/.data/N/run for this run. Returns the seed's pins.
 */
async function prepare(n) {
  const dir = `${DATA}/${n}`;
  const pristine = `${dir}/seeded`;
  const scratch = `${dir}/run`;
  const stampFile = `${dir}/seeded.json`;
  const t0 = performance.now();
  const { hash, pins } = await readSeed(n);
  const stamp = existsSync(stampFile) ? JSON.parse(readFileSync(stampFile, "utf8")) : null;
  let seeded_in_s = stamp?.seconds;
  if (stamp?.hash !== hash || !existsSync(pristine)) {
    process.stderr.write(`N=${n}: seeding ${3 * n + 1} KV entries (once; kept in bench/.data/${n})…\n`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(pristine, { recursive: true });
    const t1 = performance.now();
    const mf = miniflare(pristine, [
      { name: "seed", modules: true, script: "export default { fetch: () => new Response(null, { status: 404 }) }", kvNamespaces },
    ]);
    try {
      const kv = await mf.getKVNamespace("PINS", "seed");
      let pending = [];
      const again = await readSeed(n, async ({ k, v, m }) => {
        pending.push(kv.put(k, v, m === null ? {} : { metadata: m }));
        if (pending.length >= 200) {
          await Promise.all(pending);
          pending = [];
        }
      });
      await Promise.all(pending);
      if (again.hash !== hash) throw new Error("the seed's output is not deterministic");
    } finally {
      await mf.dispose();
    }
    seeded_in_s = Math.round((performance.now() - t1) / 100) / 10;
    writeFileSync(stampFile, JSON.stringify({ n, hash, seconds: seeded_in_s, date: new Date().toISOString() }));
  }
  // A copy per run: blobs are written once and never changed, so hard links do; the SQLite
  // files are changed in place, so they are copied.
  rmSync(scratch, { recursive: true, force: true });
  execFileSync("cp", ["-al", pristine, scratch]);
  for (const file of walk(scratch)) {
    if (/\.sqlite(-wal|-shm)?$/.test(file)) {
      unlinkSync(file);
      copyFileSync(file.replace(scratch, pristine), file);
    }
  }
  return { pins, scratch, seeded_in_s, prepare_s: Math.round((performance.now() - t0) / 100) / 10 };
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = `${dir}/${name}`;
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

// ---------------------------------------------------------------------------------------------
// What a listing must count, from the seed

function expectedCount(pins, { status = ["pinned"], name, match = "exact", meta, cids, before }) {
  const lower = name?.toLowerCase();
  const test = {
    exact: (n) => n === name,
    iexact: (n) => n.toLowerCase() === lower,
    partial: (n) => n.includes(name),
    ipartial: (n) => n.toLowerCase().includes(lower),
  }[match];
  return pins.filter(
    (p) =>
      status.includes(p.status) &&
      (name === undefined || test(p.name)) &&
      (meta === undefined || Object.entries(meta).every(([k, v]) => p.meta[k] === v)) &&
      (cids === undefined || cids.includes(p.cid)) &&
      (before === undefined || p.created_ms < Date.parse(before)),
  ).length;
}

// ---------------------------------------------------------------------------------------------
// Measuring

function parseOps(header) {
  if (!header) throw new Error("no x-kv-ops header: is DEBUG_KV_OPS on?");
  return Object.fromEntries(header.split(",").map((p) => p.split("=")).map(([k, v]) => [k, Number(v)]));
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
  return { ms, ops: parseOps(res.headers.get("x-kv-ops")), body: text ? JSON.parse(text) : null };
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (x, places = 2) => Math.round(x * 10 ** places) / 10 ** places;

/**
 * Runs `make(i)` `samples` times, one at a time. Reports the KV operations (every sample must
 * cost the same, or it says so), latency p50/p95, and workerd's CPU per request.
 */
async function measure(samples, make, expect) {
  const times = [];
  const opsSeen = new Set();
  let first;
  const cpu0 = workerdCpuNs();
  for (let i = 0; i < samples; i++) {
    const r = await make(i);
    times.push(r.ms);
    first ??= r;
    opsSeen.add(JSON.stringify(r.ops));
    if (expect !== undefined && r.body?.count !== expect) {
      throw new Error(`count ${r.body?.count}, but the seed says ${expect}`);
    }
  }
  const cpuMs = (workerdCpuNs() - cpu0) / 1e6 / samples;
  times.sort((a, b) => a - b);
  return {
    ops: first.ops,
    ...(opsSeen.size > 1 ? { ops_seen: [...opsSeen].map((o) => JSON.parse(o)) } : {}),
    samples,
    p50_ms: round(pct(times, 50)),
    p95_ms: round(pct(times, 95)),
    workerd_cpu_ms: Number.isFinite(cpuMs) ? round(cpuMs) : null,
    ...(first.body?.count !== undefined ? { count: first.body.count } : {}),
  };
}

/** Requests `send` completes in `seconds`, CONCURRENCY in flight, closed loop. */
async function closedLoop(send, seconds) {
  const until = performance.now() + seconds * 1000;
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
  return { done, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Requests per second of each of `sends`, RPS_SECONDS each in all, measured in RPS_ROUNDS
 * interleaved rounds: on a shared machine the load drifts over seconds, and a ratio of two
 * figures measured a minute apart would measure the drift. `sends` are listed so that the two of
 * each ratio are neighbours (measured one right after the other), and every other round runs
 * them in reverse, so that neither of a pair is always the one measured first. Returns
 * each one's rate over all its rounds, and each of `ratios` ([name, numerator, denominator]) as
 * the median of its rounds' ratios, so that one round the machine was busy in cannot move it.
 */
async function rpsInterleaved(sends, ratios) {
  const names = Object.keys(sends);
  const sum = Object.fromEntries(names.map((k) => [k, { done: 0, seconds: 0 }]));
  // Untimed first: V8 optimises hot wasm and JS only after many calls (callgrind still finds
  // its compiler at work after 1,500 requests), and each worker has served a few hundred by
  // now; what is measured is each worker as a busy isolate runs it.
  for (const k of names) await closedLoop(sends[k], RPS_WARM_SECONDS);
  const rounds = [];
  for (let turn = 0; turn < RPS_ROUNDS; turn++) {
    const rate = {};
    for (let i = 0; i < names.length; i++) {
      const k = names[turn % 2 ? names.length - 1 - i : i];
      const r = await closedLoop(sends[k], RPS_SECONDS / RPS_ROUNDS);
      sum[k].done += r.done;
      sum[k].seconds += r.seconds;
      rate[k] = r.done / r.seconds;
    }
    rounds.push(rate);
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return {
    rps: Object.fromEntries(names.map((k) => [k, Math.round(sum[k].done / sum[k].seconds)])),
    ratios: Object.fromEntries(ratios.map(([name, a, b]) => [name, round(median(rounds.map((r) => r[a] / r[b])))])),
  };
}

// ---------------------------------------------------------------------------------------------
// One N

async function benchSize(n, build, floor) {
  const t0 = performance.now();
  const { pins, scratch, seeded_in_s, prepare_s } = await prepare(n);
  const mf = miniflare(scratch, [
    built("pins", build, { ...SETTINGS, DEBUG_KV_OPS: "1" }),
    // The same, as deployed (no `x-kv-ops`): what the requests-per-second rounds measure.
    built("pins-deployed", build, SETTINGS),
    baselineWorker("baseline"),
    baselineWorker("control"),
    twinWorker("twin"),
    built("floor", floor),
  ]);
  try {
    await mf.ready;
    const baseline = await mf.getWorker("baseline");
    // The same JS worker again, in its own isolate: its ratio to the first is this run's noise.
    const control = await mf.getWorker("control");
    const rustFloor = await mf.getWorker("floor");
    const jsTwin = await mf.getWorker("twin");
    const pinsWorker = await mf.getWorker("pins-deployed");
    // Samples: enough for a p95, fewer where one request scans the whole pinset.
    const FAST = 40;
    const SCAN = n >= 100000 ? 10 : 20;
    const every = Math.max(1, Math.floor(n / 20));
    const sample = pins.filter((_, i) => i % every === 0).slice(0, 20);
    const ids = sample.map((p) => p.pin);
    const count = (q) => expectedCount(pins, q);
    const list = (q, samples, expect) => measure(samples, () => call(mf, "GET", `/pins${q}`), expect);
    const r = {};

    process.stderr.write(`N=${n}: reads…\n`);
    // Warm up (start-up and wasm compilation are not what a request costs) without listing
    // pins, so that the first listing below is the pinset's first.
    for (let i = 0; i < 20; i++) {
      await call(mf, "GET", `/pins/${ids[i % ids.length]}`);
      await pinsWorker.fetch(`http://bench.test/pins/${ids[i % ids.length]}`, { headers: { authorization: AUTH } }).then((x) => x.arrayBuffer());
      await control.fetch(`http://baseline.test/?k=p/${USER}/${ids[i % ids.length]}`).then((x) => x.arrayBuffer());
      await baseline.fetch(`http://baseline.test/?k=p/${USER}/${ids[i % ids.length]}`).then((x) => x.arrayBuffer());
      await rustFloor.fetch(`http://floor.test/?k=p/${USER}/${ids[i % ids.length]}`).then((x) => x.arrayBuffer());
      await jsTwin.fetch(`http://twin.test/?k=p/${USER}/${ids[i % ids.length]}`).then((x) => x.arrayBuffer());
    }
    // The first listing of a quiet pinset scans everything and stores the per-status totals.
    r["list newest page, first (stores totals)"] = await list("", 1, count({}));
    for (let i = 0; i < 10; i++) await call(mf, "GET", "/pins?limit=1000");
    r["list newest page"] = await list("", FAST, count({}));
    r["list newest 1000"] = await list("?limit=1000", 10, count({}));
    r["get by id"] = await measure(FAST, (i) => call(mf, "GET", `/pins/${ids[i % ids.length]}`));
    for (const s of STATUSES) {
      r[`--stat: status=${s}&limit=1`] = await list(`?status=${s}&limit=1`, FAST, count({ status: [s] }));
    }
    // Kubo's `ipfs pin remote service ls --stat` sends the four at once.
    r["--stat: all four at once (as Kubo)"] = await measure(FAST, async () => {
      const t = performance.now();
      const all = await Promise.all(STATUSES.map((s) => call(mf, "GET", `/pins?status=${s}&limit=1`)));
      STATUSES.forEach((s, i) => {
        if (all[i].body.count !== count({ status: [s] })) throw new Error(`--stat ${s}: count ${all[i].body.count}`);
      });
      const ops = {};
      for (const a of all) for (const [k, v] of Object.entries(a.ops)) ops[k] = (ops[k] ?? 0) + v;
      return { ms: performance.now() - t, ops, body: null };
    });
    r["list by status=queued,failed"] = await list("?status=queued,failed", FAST, count({ status: ["queued", "failed"] }));
    const cids = sample.slice(0, 10).map((p) => p.cid);
    r["list by cid (10 CIDs)"] = await list(`?cid=${cids.join(",")}`, FAST, count({ cids }));
    const mid = pins[Math.floor(n / 2) - (Math.floor(n / 2) % 4)]; // i % 4 == 0: "Report-{i}.PDF"
    const name = mid.name;
    // exact and iexact are answered from the name index (one get, one list); partial and
    // ipartial scan.
    r["list by name, exact"] = await list(`?name=${name}`, FAST, count({ name }));
    r["list by name, iexact"] = await list(`?name=${name.toLowerCase()}&match=iexact`, FAST, count({ name: name.toLowerCase(), match: "iexact" }));
    // Kubo's MFS policy, every repin interval: its pin by name, in every status.
    const mfs = "policy/12D3KooWBenchPeer/mfs";
    r["MFS check as Kubo sends it"] = await list(`?name=${encodeURIComponent(mfs)}&status=${STATUSES.join(",")}`, FAST, count({ name: mfs, status: STATUSES }));
    r["list by name, partial"] = await list(`?name=Report-1&match=partial`, SCAN, count({ name: "Report-1", match: "partial" }));
    r["list by name, ipartial"] = await list(`?name=report-1&match=ipartial`, SCAN, count({ name: "report-1", match: "ipartial" }));
    const meta = { app: "bench" };
    r["list by meta"] = await list(`?meta=${encodeURIComponent(JSON.stringify(meta))}`, SCAN, count({ meta }));
    const before = (await call(mf, "GET", "/pins")).body.results.at(-1).created;
    r["list next page (before=)"] = await list(`?before=${before}`, SCAN, count({ before }));

    // The baseline worker: what the local KV itself costs, with nothing else around it.
    const timeBaseline = async (url, ops, worker = baseline) => {
      const t = performance.now();
      const res = await worker.fetch(url);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`baseline ${url} -> ${res.status}`);
      return { ms: performance.now() - t, ops, body: null };
    };
    const GET1 = { get: 1, put: 0, delete: 0, list: 0 };
    const LIST1 = { get: 0, put: 0, delete: 0, list: 1 };
    r["baseline worker: one KV get"] = await measure(FAST, (i) => timeBaseline(`http://baseline.test/?k=p/${USER}/${ids[i % ids.length]}`, GET1));
    // Lists like the worker's: of one CID's index (a `cid=` lookup makes one per CID), of the
    // newest pins (the newest page's 22 keys: PAGE_LIST), and of 1000
    // pins (one step of a full scan). Miniflare's local list walks the namespace's keys in
    // order up to the prefix, so its cost grows with N whatever the prefix holds.
    const cidList = (i) => `http://baseline.test/?list=${encodeURIComponent(`c/${USER}/${sample[i % sample.length].cid}/`)}&limit=22`;
    const pinsList = (limit) => `http://baseline.test/?list=${encodeURIComponent(`p/${USER}/`)}&limit=${limit}`;
    const pageList = `http://baseline.test/${PAGE_LIST}`;
    r["baseline worker: one KV list, a CID's index (1 key)"] = await measure(FAST, (i) => timeBaseline(cidList(i), LIST1));
    r["baseline worker: one KV list, the newest 22 pins"] = await measure(FAST, () => timeBaseline(pageList, LIST1));
    r["baseline worker: one KV list, 1000 pins"] = await measure(10, () => timeBaseline(pinsList(1000), LIST1));
    r["bare Rust worker: one KV get"] = await measure(FAST, (i) => timeBaseline(`http://floor.test/?k=p/${USER}/${ids[i % ids.length]}`, GET1, rustFloor));
    r["bare Rust worker: one KV list, the newest 22 pins"] = await measure(FAST, () => timeBaseline(pageList, LIST1, rustFloor));

    process.stderr.write(`N=${n}: requests per second…\n`);
    const id = ids[0];
    const twinGet = `http://twin.test/?k=p/${USER}/${id}`;
    const twinPage = `http://twin.test/?list=${encodeURIComponent(`p/${USER}/`)}`;
    // The twin must answer what the service answers, byte for byte (the totals are stored).
    for (const [what, mine, its] of [
      ["get by id", `http://bench.test/pins/${id}`, twinGet],
      ["newest page", "http://bench.test/pins", twinPage],
    ]) {
      const a = await pinsWorker.fetch(mine, { headers: { authorization: AUTH } }).then((x) => x.text());
      const b = await jsTwin.fetch(its).then((x) => x.text());
      if (a !== b) throw new Error(`the JS twin's ${what} differs from the service's:\n${a}\n${b}`);
    }
    // Every worker is reached the same way (its own fetcher), so that only the workers differ.
    const { rps: throughput, ratios } = await rpsInterleaved(
      // In this order each ratio's two are neighbours or one apart, the issue's two (the
      // service against the bare JS worker) and the control's pair neighbours.
      {
        "Rust floor: one KV get": () => rustFloor.fetch(`http://floor.test/?k=p/${USER}/${id}`),
        "JS twin: get": () => jsTwin.fetch(twinGet),
        "get by id": () => pinsWorker.fetch(`http://bench.test/pins/${id}`, { headers: { authorization: AUTH } }),
        "baseline: one KV get": () => baseline.fetch(`http://baseline.test/?k=p/${USER}/${id}`),
        "control: one KV get": () => control.fetch(`http://baseline.test/?k=p/${USER}/${id}`),
        "baseline: one KV list": () => baseline.fetch(pageList),
        "list newest page": () => pinsWorker.fetch("http://bench.test/pins", { headers: { authorization: AUTH } }),
        "JS twin: page": () => jsTwin.fetch(twinPage),
        "Rust floor: one KV list": () => rustFloor.fetch(pageList),
      },
      [
        ["get by id ÷ JS one get", "get by id", "baseline: one KV get"],
        ["get by id ÷ Rust one get", "get by id", "Rust floor: one KV get"],
        ["get by id ÷ JS twin", "get by id", "JS twin: get"],
        ["newest page ÷ JS one list", "list newest page", "baseline: one KV list"],
        ["newest page ÷ Rust one list", "list newest page", "Rust floor: one KV list"],
        ["newest page ÷ JS twin", "list newest page", "JS twin: page"],
        ["Rust one get ÷ JS one get", "Rust floor: one KV get", "baseline: one KV get"],
        ["JS twin get ÷ JS one get", "JS twin: get", "baseline: one KV get"],
        ["JS twin page ÷ JS one list", "JS twin: page", "baseline: one KV list"],
        ["control ÷ JS one get", "control: one KV get", "baseline: one KV get"],
      ],
    );

    process.stderr.write(`N=${n}: writes…\n`);
    // Writes last: each marks a change, after which listings scan again until it settles
    // (docs/storage.md). The run's copy of the pinset is thrown away afterwards.
    let next = 0;
    const seededCid = () => sample[next++ % sample.length].cid;
    const added = [];
    r["add"] = await measure(FAST, async () => {
      const res = await call(mf, "POST", "/pins", { cid: seededCid(), name: "bench-write" });
      added.push(res.body.requestid);
      return res;
    });
    const replaced = [];
    r["replace"] = await measure(FAST, async (i) => {
      const res = await call(mf, "POST", `/pins/${added[i]}`, { cid: seededCid(), name: "bench-replaced" });
      replaced.push(res.body.requestid);
      return res;
    });
    r["list newest page, after a write"] = await list("", SCAN, count({}) + FAST);
    r["delete"] = await measure(FAST, (i) => call(mf, "DELETE", `/pins/${replaced[i]}`));
    r["list newest page, after the deletes"] = await list("", 1, count({}));
    return { n, seeded_in_s, prepare_s, seconds: Math.round((performance.now() - t0) / 100) / 10, requests: r, rps: throughput, rps_ratios: ratios };
  } finally {
    await mf.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Bundle, native CPU, output

function bundle(build) {
  const wasm = readFileSync(`${build}/index_bg.wasm`);
  const js = readFileSync(`${build}/index.js`);
  return {
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
    js_bytes: js.length,
    total_gzip_bytes: gzipSync(Buffer.concat([wasm, js]), { level: 9 }).length,
    wasm_sha256: createHash("sha256").update(wasm).digest("hex"),
  };
}

function nativeCore() {
  process.stderr.write("cargo bench --bench core…\n");
  const out = execFileSync("cargo", ["bench", "-q", "--bench", "core", "--", "--json"], { cwd: root, encoding: "utf8" });
  return JSON.parse(out.slice(out.indexOf("[")));
}

const opsText = (o) => `${o.get}/${o.put}/${o.delete}/${o.list}`;
const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;

function table(results) {
  const sizes = results.sizes;
  const names = Object.keys(sizes[0].requests);
  const head = `| request | ${sizes.map((s) => `N = ${s.n.toLocaleString("en")}`).join(" | ")} |`;
  const rule = `|---|${sizes.map(() => "---").join("|")}|`;
  const lines = [];
  lines.push(`KV operations per request, get/put/delete/list (from \`x-kv-ops\`):`, "", head, rule);
  for (const name of names) {
    lines.push(`| ${name} | ${sizes.map((s) => opsText(s.requests[name].ops) + (s.requests[name].ops_seen ? " *" : "")).join(" | ")} |`);
  }
  lines.push("", `Latency p50 / p95 in ms, and the CPU workerd spent per request in ms (local workerd, one request at a time):`, "", head, rule);
  for (const name of names) {
    lines.push(`| ${name} | ${sizes.map((s) => `${s.requests[name].p50_ms} / ${s.requests[name].p95_ms} (cpu ${s.requests[name].workerd_cpu_ms ?? "n/a"})`).join(" | ")} |`);
  }
  lines.push(
    "",
    `Requests per second of the service as deployed (no \`x-kv-ops\`; ${CONCURRENCY} in flight, ${RPS_SECONDS} s each in ${RPS_ROUNDS} interleaved rounds, after ${RPS_WARM_SECONDS} s each untimed) against bare workers in the same run that make one KV get (or one KV list of the newest 22 pins, like the newest page's) and answer: bench/baseline.mjs in JS (answering the value, or the list's key count), bench/floor in Rust on workers-rs's own glue and entry, and bench/twin.mjs, the JS twin (answering what the service answers, checked byte for byte). Ratios are the median of the rounds' ratios, the two of each measured one right after the other or one apart (in the reverse order every other round); the last column is the JS worker against a second copy of itself, what this run can tell apart:`,
    "",
    `| N | get by id | newest page | JS: one get | JS: one list | Rust: one get | Rust: one list | JS twin: get | JS twin: page |`,
    `|---|---|---|---|---|---|---|---|---|`,
  );
  for (const s of sizes) {
    const x = s.rps;
    lines.push(
      `| ${s.n.toLocaleString("en")} | ${x["get by id"]} | ${x["list newest page"]} | ${x["baseline: one KV get"]} | ${x["baseline: one KV list"]} | ${x["Rust floor: one KV get"]} | ${x["Rust floor: one KV list"]} | ${x["JS twin: get"] ?? "n/a"} | ${x["JS twin: page"] ?? "n/a"} |`,
    );
  }
  const ratio = (q, name) => q[name]?.toFixed(2) ?? "n/a";
  lines.push(
    "",
    `| N | get ÷ JS get | get ÷ Rust get | get ÷ JS twin | page ÷ JS list | page ÷ Rust list | page ÷ JS twin | Rust get ÷ JS get | JS twin get ÷ JS get | JS twin page ÷ JS list | JS copy ÷ JS get |`,
    `|---|---|---|---|---|---|---|---|---|---|---|`,
  );
  for (const s of sizes) {
    const q = s.rps_ratios;
    const names = ["get by id ÷ JS one get", "get by id ÷ Rust one get", "get by id ÷ JS twin", "newest page ÷ JS one list", "newest page ÷ Rust one list", "newest page ÷ JS twin", "Rust one get ÷ JS one get", "JS twin get ÷ JS one get", "JS twin page ÷ JS one list", "control ÷ JS one get"];
    lines.push(`| ${s.n.toLocaleString("en")} | ${names.map((k) => ratio(q, k)).join(" | ")} |`);
  }
  const b = results.bundle;
  lines.push(
    "",
    `Bundle: wasm ${kib(b.wasm_bytes)} raw, ${kib(b.wasm_gzip_bytes)} gzipped (with the JS glue: ${kib(b.total_gzip_bytes)} gzipped; the free plan allows 3 MB).`,
    "",
    `Native CPU per call (\`cargo bench --bench core\`), against the free plan's 10 ms:`,
    "",
    `| operation | µs | margin |`,
    `|---|---|---|`,
  );
  for (const c of results.core) lines.push(`| ${c.op} | ${c.us} | ${c.margin_x}× |`);
  if (sizes.some((s) => Object.values(s.requests).some((r) => r.ops_seen))) {
    lines.push("", `\\* the operations varied between samples; the first sample's are shown (all in bench/results.json).`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
// BENCH_BUILD=dir measures another build (e.g. main's, for a before/after in the same way).
const source = process.env.BENCH_BUILD ?? `${root}build`;
if (!existsSync(`${source}/index.js`)) throw new Error(`${source} is missing: run \`bash scripts/build.sh\``);
// The whole run uses one copy of the build, whatever happens to build/ meanwhile.
const build = `${DATA}/build`;
rmSync(build, { recursive: true, force: true });
mkdirSync(build, { recursive: true });
for (const f of ["index.js", "index_bg.wasm"]) copyFileSync(`${source}/${f}`, `${build}/${f}`);

const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const results = {
  date: new Date().toISOString(),
  commit: git("rev-parse", "--short", "HEAD"),
  // Uncommitted changes under src/ when the run began (build/ may then not be HEAD's).
  src_dirty: git("status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock") !== "",
  machine: `${os.cpus()[0]?.model ?? "unknown"} × ${os.cpus().length}, ${process.version}`,
  sizes: [],
};
// The bare Rust worker, built from bench/floor (its own target directory).
process.stderr.write("building bench/floor…\n");
execFileSync("bash", ["scripts/build.sh", "bench/floor"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const floor = `${DATA}/floor`;
rmSync(floor, { recursive: true, force: true });
mkdirSync(floor, { recursive: true });
for (const f of ["index.js", "index_bg.wasm"]) copyFileSync(`${root}bench/floor/build/${f}`, `${floor}/${f}`);
for (const n of SIZES) results.sizes.push(await benchSize(n, build, floor));
results.bundle = bundle(build);
results.core = nativeCore();
results.total_seconds = Math.round((performance.now() - started) / 1000);
writeFileSync(FULL ? `${root}bench/results.json` : `${DATA}/results.json`, `${JSON.stringify(results, null, 2)}\n`);
const text = table(results);
console.log(text);
process.stderr.write(`bench: ${results.total_seconds} s in all\n`);

const readme = `${root}README.md`;
const OPEN = "<!-- bench:start -->";
const CLOSE = "<!-- bench:end -->";
const md = readFileSync(readme, "utf8");
if (FULL && md.includes(OPEN) && md.includes(CLOSE)) {
  const head = md.slice(0, md.indexOf(OPEN) + OPEN.length);
  const tail = md.slice(md.indexOf(CLOSE));
  const commit = `commit ${results.commit}${results.src_dirty ? " with uncommitted changes to src/" : ""}`;
  const when = `${results.date.slice(0, 10)}, ${commit}, ${results.machine}, ${results.total_seconds} s in all:`;
  writeFileSync(readme, `${head}\n${when}\n\n${text}\n${tail}`);
}
