// The r2 backend's fetch path in local workerd: a DAG pinned from a loopback trustless gateway
// (gateway-lib, as in the e2e suite) into Miniflare's R2, timed from the add until the pin reads
// `pinned`. Prints wall time and workerd CPU per MiB, steps, and fetches (subrequests) per step,
// for the default step size and for 1 MiB steps (what the free plan's 10 ms CPU allows; see
// README). Writes bench/r2-results.json. Native figures for the same work are `cargo bench`'s
// "CAR in per MiB" rows.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startWorker } from "../miniflare-tests/harness.mjs";
import { startGateway } from "../miniflare-tests/gateway.mjs";
import { workerdCpuNs } from "./workerd.mjs";

const MIB = 1024 * 1024;
const SIZES = (process.env.BENCH_R2_MIB ?? "8,32").split(",").map(Number);
const dir = mkdtempSync(join(tmpdir(), "r2-bench-"));
const gw = await startGateway();
const rows = [];

async function run(stepBytes, mib) {
  const file = join(dir, `f-${stepBytes}-${mib}.bin`);
  writeFileSync(file, randomBytes(mib * MIB));
  const cid = execFileSync(process.execPath, ["node_modules/.bin/ipfs-car", "pack", file, "--no-wrap", "--output", `${file}.car`]).toString().trim();
  await gw.load(readFileSync(`${file}.car`));
  const w = await startWorker({
    bindings: { PIN_BACKEND: "r2", GATEWAYS: gw.url, UPSTREAM_REFRESH_SECONDS: "0", R2_STEP_BYTES: String(stepBytes), MAX_PIN_BYTES: String(4096 * MIB) },
    extra: {
      r2Buckets: ["CONTENT"],
      queueProducers: { FETCHES: { queueName: "fetches" } },
      queueConsumers: { fetches: { maxBatchSize: 1, maxBatchTimeout: 1 } },
    },
  });
  try {
    const asked0 = gw.requests.length;
    const cpu0 = workerdCpuNs();
    const t0 = performance.now();
    const pin = await w.pin("alice", { cid });
    let status = pin.status;
    while (status !== "pinned" && status !== "failed") {
      await new Promise((ok) => setTimeout(ok, 50));
      status = (await w.call("GET", `/pins/${pin.requestid}`, { as: "alice" })).body.status;
    }
    const wall = performance.now() - t0;
    const cpu = (workerdCpuNs() - cpu0) / 1e6;
    const bucket = await w.mf.getR2Bucket("CONTENT");
    const { objects } = await bucket.list({ prefix: "dag/" });
    const steps = objects.filter((o) => o.key.includes("/s/")).length;
    const fetches = gw.requests.length - asked0;
    rows.push({
      step_mib: stepBytes / MIB,
      dag_mib: mib,
      status,
      wall_ms_per_mib: +(wall / mib).toFixed(1),
      workerd_cpu_ms_per_mib: Number.isFinite(cpu) ? +(cpu / mib).toFixed(1) : null,
      steps,
      fetches_per_step: +(fetches / Math.max(steps, 1)).toFixed(1),
      mib_per_s: +(mib / (wall / 1000)).toFixed(1),
    });
  } finally {
    await w.dispose();
  }
}

for (const mib of SIZES) await run(32 * MIB, mib);
await run(1 * MIB, SIZES[0]);
await gw.close();
rmSync(dir, { recursive: true, force: true });

console.log("| step size | DAG | wall ms / MiB | workerd CPU ms / MiB | MiB/s | steps | fetches per step |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.step_mib} MiB | ${r.dag_mib} MiB | ${r.wall_ms_per_mib} | ${r.workerd_cpu_ms_per_mib ?? "n/a"} | ${r.mib_per_s} | ${r.steps} | ${r.fetches_per_step} |`);
}
writeFileSync("bench/r2-results.json", JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + "\n");
