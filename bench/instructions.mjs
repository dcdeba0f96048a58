// Instructions per request, counted by valgrind's callgrind in workerd: a figure for what the
// requests-per-second rounds cannot resolve (two copies of one JS worker differ there by up to
// a tenth; the JS worker's counted rounds came within 0.01 of each other in a run, when V8 did
// nothing else in them). Runs the JS worker (bench/baseline.mjs), its JS twin (bench/twin.mjs),
// the bare Rust worker (bench/floor) and each build given, one KV get each (get-by-id for a
// build), or with INSTR_REQUEST=page one KV list of the newest 22 pins each (the newest page
// for a build and the twin), WARM untimed requests and then N counted, in ROUNDS rounds;
// prints thousands of instructions per request, every thread of workerd included (V8 compiles
// and collects garbage on its own threads), each round's and the least one's ratio to the JS
// worker's.
//
//   node bench/instructions.mjs [name=build dir ...]    (default: service=build)
//   node bench/instructions.mjs name=bare:dir            (a bare worker like bench/floor: ?k=key)
//   INSTR_N=300 INSTR_WARM=1200 INSTR_ROUNDS=3          (the defaults; ~10 minutes)
//   INSTR_REQUEST=page                                   (the newest page and one KV list)
//
// Needs valgrind (callgrind_control) and a seeded N = 1,000 (bench/run.mjs). Counts drift with
// what V8 decides meanwhile (a function tiered up or not yet): compare builds in one run.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { AUTH, PAGE_LIST, SETTINGS, USER, baseline, built, sendMany, twin } from "./workers.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const N = Number(process.env.INSTR_N ?? 300);
const WARM = Number(process.env.INSTR_WARM ?? 1200);
const ROUNDS = Number(process.env.INSTR_ROUNDS ?? 3);
const PAGE = process.env.INSTR_REQUEST === "page";
const builds = Object.fromEntries((process.argv.length > 2 ? process.argv.slice(2) : ["service=build"]).map((a) => a.split("=")));

// workerd under callgrind: Miniflare starts whatever MINIFLARE_WORKERD_PATH names.
const dir = mkdtempSync(`${tmpdir()}/instructions-`);
const workerd = execFileSync("node", ["-p", "require('workerd').default"], { cwd: root }).toString().trim();
writeFileSync(`${dir}/workerd`, `#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=${dir}/out.%p --smc-check=all-non-file -q ${workerd} "$@"\n`);
chmodSync(`${dir}/workerd`, 0o755);
process.env.MINIFLARE_WORKERD_PATH = `${dir}/workerd`;

const scratch = `${root}bench/.data/1000/instructions`;
rmSync(scratch, { recursive: true, force: true });
execFileSync("cp", ["-a", `${root}bench/.data/1000/seeded`, scratch]);
const workers = [
  baseline("js"),
  twin("twin"),
  built("rust", `${root}bench/floor/build`),
  ...Object.entries(builds).map(([name, path]) => (path.startsWith("bare:") ? built(name, `${root}${path.slice(5)}`) : built(name, `${root}${path}`, SETTINGS))),
];
const mf = new Miniflare({ kvPersist: scratch, workers });

/** Instructions counted since the last call: callgrind dumps (and zeroes) its counters. */
function counted() {
  const pid = execFileSync("pgrep", ["-P", String(process.pid)]).toString().trim().split("\n")[0];
  execFileSync("callgrind_control", ["-d", pid], { stdio: "ignore" });
  let total = 0;
  for (const f of readdirSync(dir).filter((f) => /^out\.\d+\.\d+$/.test(f))) {
    total += Number(/^summary: (\d+)/m.exec(readFileSync(`${dir}/${f}`, "utf8"))?.[1] ?? 0);
    rmSync(`${dir}/${f}`);
  }
  return total;
}

try {
  const w = Object.fromEntries(await Promise.all(workers.map(async (x) => [x.name, await mf.getWorker(x.name)])));
  const keys = await mf.getKVNamespace("PINS", "js");
  const id = (await keys.list({ prefix: `p/${USER}/`, limit: 1 })).keys[0].name.slice(`p/${USER}/`.length);
  // The bare workers' one call: a get of the pin, or a list of the newest 22 (the page's).
  const bare = PAGE ? PAGE_LIST : `?k=p/${USER}/${id}`;
  const mine = PAGE ? "/pins" : `/pins/${id}`;
  // The first listing of the pinset scans it and stores the totals (which the twin's count
  // reads): done before anything is counted.
  const services = Object.entries(builds).filter(([, path]) => !path.startsWith("bare:"));
  if (PAGE) {
    for (const [b] of services) await w[b].fetch("http://bench.test/pins?limit=1000", { headers: { authorization: AUTH } }).then((x) => x.arrayBuffer());
  }
  const sends = {
    js: () => w.js.fetch(`http://b.test/${bare}`),
    twin: () => w.twin.fetch(`http://b.test/${bare}`),
    rust: () => w.rust.fetch(`http://b.test/${bare}`),
    ...Object.fromEntries(
      Object.entries(builds).map(([b, path]) => [
        b,
        path.startsWith("bare:") ? () => w[b].fetch(`http://b.test/${bare}`) : () => w[b].fetch(`http://bench.test${mine}`, { headers: { authorization: AUTH } }),
      ]),
    ),
  };
  const per = Object.fromEntries(Object.keys(sends).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, send] of Object.entries(sends)) {
      await sendMany(send, WARM, 16);
      counted();
      await sendMany(send, N, 16);
      per[name].push(counted() / N);
      process.stderr.write(`round ${r + 1}: ${name} ${Math.round(per[name].at(-1) / 1000)}k\n`);
    }
  }
  // The least of the rounds: what V8 does beside the requests (a batch of wasm compiled, a
  // full collection) only ever adds, and in one run it added 30M instructions a request.
  const least = (xs) => Math.min(...xs);
  for (const [name, xs] of Object.entries(per)) {
    console.log(`${name.padEnd(12)} ${xs.map((x) => `${Math.round(x / 1000)}k`).join(" ").padEnd(28)} least ÷ JS's ${(least(xs) / least(per.js)).toFixed(3)}`);
  }
} finally {
  await mf.dispose();
  rmSync(scratch, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
