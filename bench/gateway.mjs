// `node bench/gateway.mjs`: gateway read throughput in local workerd (Miniflare, local R2).
// A random file (BENCH_GATEWAY_MIB, default 24) is packed by ipfs-car, pinned through the r2
// backend from a loopback trustless gateway, then read back through /ipfs/{cid} as the plain
// file and as a CAR, several times each. Prints MiB/s and the CPU workerd spent per MiB (every
// block is hashed against its CID on the way out). Figures, no assertions on time.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startWorker, BASE } from "../miniflare-tests/harness.mjs";
import { startGateway } from "../miniflare-tests/gateway.mjs";
import { workerdCpuNs } from "./workerd-cpu.mjs";

const MIB = Number(process.env.BENCH_GATEWAY_MIB ?? 24);
const ROUNDS = Number(process.env.BENCH_GATEWAY_ROUNDS ?? 5);

const dir = mkdtempSync(join(tmpdir(), "gateway-bench-"));
const gw = await startGateway();
let w;
try {
  const file = join(dir, "file.bin");
  writeFileSync(file, randomBytes(MIB << 20));
  const cid = execFileSync(process.execPath, [
    "node_modules/.bin/ipfs-car", "pack", file, "--no-wrap", "--output", `${file}.car`,
  ]).toString().trim();
  await gw.load(readFileSync(`${file}.car`));
  w = await startWorker({
    bindings: { PIN_BACKEND: "r2", GATEWAYS: gw.url, MAX_PIN_BYTES: String(4 * MIB << 20), UPSTREAM_REFRESH_SECONDS: "0" },
    extra: {
      r2Buckets: ["CONTENT"],
      queueProducers: { FETCHES: { queueName: "fetches" } },
      queueConsumers: { fetches: { maxBatchSize: 1, maxBatchTimeout: 1 } },
    },
  });
  const pin = await w.pin("alice", { cid });
  for (let status = pin.status; status !== "pinned"; ) {
    await new Promise((ok) => setTimeout(ok, 300));
    status = (await w.call("GET", `/pins/${pin.requestid}`, { as: "alice" })).body.status;
    if (status === "failed") throw new Error("the pin failed");
  }
  const rows = [];
  for (const [what, query] of [["file bytes", ""], ["CAR (dag-scope=all)", "?format=car"]]) {
    let bytes = 0;
    const cpu0 = workerdCpuNs();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ROUNDS; i++) {
      const res = await w.mf.dispatchFetch(`${BASE}/ipfs/${cid}${query}`);
      if (res.status !== 200) throw new Error(`${what}: ${res.status}`);
      bytes += (await res.arrayBuffer()).byteLength;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const mib = bytes / (1 << 20);
    const cpuMs = (workerdCpuNs() - cpu0) / 1e6;
    rows.push({ what, mib_per_s: +(mib / secs).toFixed(1), workerd_cpu_ms_per_mib: Number.isFinite(cpuMs) ? +(cpuMs / mib).toFixed(2) : null });
  }
  console.log(`Gateway reads of a ${MIB} MiB file, ${ROUNDS} rounds each (local workerd, one request at a time):`);
  console.log("| answer | MiB/s | workerd CPU ms per MiB |\n|---|---|---|");
  for (const r of rows) console.log(`| ${r.what} | ${r.mib_per_s} | ${r.workerd_cpu_ms_per_mib ?? "n/a"} |`);
} finally {
  await w?.dispose();
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
}
