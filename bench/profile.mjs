// Where a request's time goes in local workerd: V8's sampling profiler (through workerd's
// inspector) over many GET /pins/{id} and newest-page requests and the baseline workers' one KV
// get or list (bench/baseline.mjs in JS; bench/floor in Rust, built by `bash scripts/build.sh
// bench/floor`), printed as self time per function (wasm functions by name when the build keeps
// its name section; `scripts/build.sh` strips it, so profile a build made without that last
// step), and workerd's CPU per request next to the baselines'.
//
//   node bench/profile.mjs [build dir] [N]    (defaults: build/, 1000; seeds as bench/run.mjs)
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { workerdCpuNs } from "./workerd-cpu.mjs";
import { AUTH, PAGE_LIST, SETTINGS, baseline, built, sendMany } from "./workers.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
// A copy inside the repository: workerd resolves modules under the script's root.
const build = `${root}bench/.data/profile-build`;
rmSync(build, { recursive: true, force: true });
mkdirSync(build, { recursive: true });
for (const f of ["index.js", "index_bg.wasm"]) copyFileSync(`${process.argv[2] ?? `${root}build`}/${f}`, `${build}/${f}`);
const n = Number(process.argv[3] ?? 1000);
const seeded = `${root}bench/.data/${n}/seeded`;
if (!existsSync(`${root}bench/floor/build/index.js`)) throw new Error("no bench/floor build: run `bash scripts/build.sh bench/floor` once");
if (!existsSync(seeded)) throw new Error(`no seed for N=${n}: run BENCH_SIZES=${n} node bench/run.mjs once`);
const scratch = `${root}bench/.data/${n}/profile`;
rmSync(scratch, { recursive: true, force: true });
execFileSync("cp", ["-a", seeded, scratch]);
const PORT = Number(process.env.PROFILE_INSPECTOR_PORT ?? 9330);
const REQUESTS = Number(process.env.PROFILE_REQUESTS ?? 2000);

const mf = new Miniflare({
  kvPersist: scratch,
  inspectorPort: PORT,
  workers: [
    built("pins", build, { ...SETTINGS, ...(process.env.PROFILE_KV_OPS ? { DEBUG_KV_OPS: "1" } : {}) }),
    baseline("baseline"),
    built("floor", `${root}bench/floor/build`),
  ],
});

async function inspector(worker) {
  const targets = await (await fetch(`http://127.0.0.1:${PORT}/json/list`)).json();
  const t = targets.find((x) => x.id.endsWith(worker) || x.title?.includes(worker));
  if (!t) throw new Error(`no inspector target for ${worker}: ${JSON.stringify(targets.map((x) => x.id))}`);
  const ws = new WebSocket(t.webSocketDebuggerUrl);
  await new Promise((ok, fail) => ((ws.onopen = ok), (ws.onerror = fail)));
  let id = 0;
  const waiting = new Map();
  ws.onmessage = (m) => {
    const x = JSON.parse(m.data);
    if (x.id !== undefined) waiting.get(x.id)?.(x);
  };
  const send = (method, params = {}) =>
    new Promise((ok) => {
      waiting.set(++id, ok);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const hits = new Map();
  const dt = new Map();
  profile.samples.forEach((s, i) => dt.set(s, (dt.get(s) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  for (const [nodeId, us] of dt) {
    const f = byId.get(nodeId).callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url ? f.url.split("/").pop() : ""}`.trim();
    hits.set(name, (hits.get(name) ?? 0) + us);
  }
  return [...hits].sort((a, b) => b[1] - a[1]);
}

// Time spent inside (inclusive of callees) functions whose names contain these.
const INCLUSIVE = (process.env.PROFILE_INCLUSIVE ?? "Config::from_env,read_request,respond,setting,Env::kv,rate_limiter,durable_object,handle_with,admit,authenticate,verify,PinService,Kv>::get,with_cors,from_raw,__wbg_cf,Request::url,url::parser,Reply::json,IntoResponse,spend,Counting").split(",");

function inclusive(profile) {
  const parent = new Map();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const out = new Map(INCLUSIVE.map((k) => [k, 0]));
  profile.samples.forEach((s, i) => {
    const seen = new Set();
    for (let id = s; id !== undefined; id = parent.get(id)) {
      const name = byId.get(id).callFrame.functionName;
      for (const k of INCLUSIVE) if (name.includes(k)) seen.add(k);
    }
    for (const k of seen) out.set(k, out.get(k) + (profile.timeDeltas[i + 1] ?? 0));
  });
  return out;
}

async function run(label, worker, send, count) {
  for (let i = 0; i < 50; i++) await (await send()).arrayBuffer();
  // PROFILE_OFF=1: workerd's CPU per request and requests per second only, without the
  // profiler's own cost.
  const cdp = process.env.PROFILE_OFF ? null : await inspector(worker);
  await cdp?.send("Profiler.enable");
  await cdp?.send("Profiler.setSamplingInterval", { interval: Number(process.env.PROFILE_INTERVAL_US ?? 50) });
  await cdp?.send("Profiler.start");
  const cpu0 = workerdCpuNs();
  const t0 = performance.now();
  // A few in flight, as the benchmark's requests per second are measured.
  const inFlight = Number(process.env.PROFILE_CONCURRENCY ?? 4);
  await sendMany(send, count, inFlight, (status) => status < 300 || /40[14]/.test(label), label);
  const wall = performance.now() - t0;
  const cpu = (workerdCpuNs() - cpu0) / 1e6 / count;
  if (!cdp) return console.log(`== ${label}: ${count} requests, ${(count / (wall / 1000)).toFixed(0)}/s, workerd cpu ${cpu.toFixed(3)} ms/request`);
  const { result } = await cdp.send("Profiler.stop");
  cdp.close();
  const times = selfTimes(result.profile);
  const total = times.reduce((a, [, us]) => a + us, 0);
  const idle = times.filter(([k]) => k === "(idle)" || k === "(program)").reduce((a, [, us]) => a + us, 0);
  console.log(`\n== ${label}: ${count} requests, ${(count / (wall / 1000)).toFixed(0)}/s, workerd cpu ${cpu.toFixed(3)} ms/request, JS+wasm (not idle/program) ${((total - idle) / count).toFixed(1)} µs/request`);
  const group = (re) => times.filter(([k]) => re.test(k)).reduce((a, [, us]) => a + us, 0) / count;
  console.log(`   by kind: wasm ${group(/\.wasm/).toFixed(1)} µs, JS glue (index.js) ${group(/index\.js$/).toFixed(1)} µs, the worker's own JS (baseline.mjs) ${group(/baseline\.mjs$/).toFixed(1)} µs, runtime ${group(/^[^ ]+$/).toFixed(1)} µs (incl. idle/program ${(idle / count).toFixed(1)})`);
  for (const [k, us] of inclusive(result.profile)) if (us > 0) console.log(`   inclusive ${(us / count).toFixed(1).padStart(7)} µs  ${k}`);
  for (const [name, us] of times.slice(0, Number(process.env.PROFILE_TOP ?? 30))) {
    console.log(`${(us / count).toFixed(2).padStart(8)} µs  ${name}`);
  }
}

try {
  await mf.ready;
  const pins = await mf.getWorker("pins");
  const baseline = await mf.getWorker("baseline");
  const floor = await mf.getWorker("floor");
  const list = await (await pins.fetch("http://bench.test/pins?limit=1", { headers: { authorization: AUTH } })).json();
  const id = list.results[0].requestid;
  await run("baseline one KV get", "baseline", () => baseline.fetch(`http://baseline.test/?k=p/bench/${id}`), REQUESTS);
  await run("bare Rust worker one KV get", "floor", () => floor.fetch(`http://floor.test/?k=p/bench/${id}`), REQUESTS);
  await run("GET /pins/{id}", "pins", () => pins.fetch(`http://bench.test/pins/${id}`, { headers: { authorization: AUTH } }), REQUESTS);
  if (process.env.PROFILE_FLOOR) {
    // The floor: a request that makes no KV call and signs nobody in, against a JS worker that
    // answers at once.
    await run("baseline, no KV call", "baseline", () => baseline.fetch("http://baseline.test/?noop=1"), REQUESTS);
    await run("bare Rust worker, no KV call", "floor", () => floor.fetch("http://floor.test/?noop=1"), REQUESTS);
    await run("OPTIONS /pins (preflight)", "pins", () => pins.fetch("http://bench.test/pins", { method: "OPTIONS" }), REQUESTS);
    await run("GET /nothing (404, no sign-in)", "pins", () => pins.fetch("http://bench.test/nothing"), REQUESTS);
    // A missing key: the KV get without a record to parse or serialize.
    const missing = `${id.slice(0, -4)}${id.endsWith("0000") ? "1111" : "0000"}`;
    await run("baseline one KV get, missing key (404)", "baseline", () => baseline.fetch(`http://baseline.test/?k=p/bench/${missing}`), REQUESTS);
    await run("GET /pins/{missing id} (404)", "pins", () => pins.fetch(`http://bench.test/pins/${missing}`, { headers: { authorization: AUTH } }), REQUESTS);
    const wrong = `Basic ${Buffer.from("bench:wrong").toString("base64")}`;
    await run("GET /pins/{id}, wrong password (401: sign-in, no KV)", "pins", () => pins.fetch(`http://bench.test/pins/${id}`, { headers: { authorization: wrong } }), REQUESTS);
  }
  await run("baseline one KV list (22)", "baseline", () => baseline.fetch(`http://baseline.test/${PAGE_LIST}`), REQUESTS / 2);
  await run("bare Rust worker one KV list (22)", "floor", () => floor.fetch(`http://floor.test/${PAGE_LIST}`), REQUESTS / 2);
  await run("GET /pins (newest page)", "pins", () => pins.fetch("http://bench.test/pins", { headers: { authorization: AUTH } }), REQUESTS / 2);
} finally {
  await mf.dispose();
  rmSync(scratch, { recursive: true, force: true });
}
