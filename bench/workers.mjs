// The workers the benches run in Miniflare, defined once: the service with the settings every
// bench gives it, the bare JS worker (bench/baseline.mjs), its JS twin (bench/twin.mjs), and any worker-build output (the
// service's build, bench/floor's), all on the pinsets' one KV namespace.
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The user the seed writes the pinsets as (`examples/seed.rs`), and its Basic credentials. */
export const USER = "bench";
export const AUTH = `Basic ${Buffer.from(`${USER}:bench`).toString("base64")}`;
export const NAMESPACE = "bench-pins";
// The bare workers' one KV list standing in for the newest page: the 22 keys `GET /pins` asks
// for (its limit of 10, +25 %, +10: `Known::guess` in src/store/listing/scan.rs).
export const PAGE_LIST = `?list=${encodeURIComponent(`p/${USER}/`)}&limit=22`;
export const kvNamespaces = { PINS: NAMESPACE };

/** The service's settings in every bench (the `instant` backend, one delegate). */
export const SETTINGS = {
  USERS: JSON.stringify({ [USER]: "bench" }),
  JWT_SECRET: "benchmark-secret-0123456789",
  PIN_BACKEND: "instant",
  DELEGATES: "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
};

const compatibilityDate = "2026-04-20";

/** A worker built by worker-build (index.js beside its wasm) in `dir`. */
export const built = (name, dir, bindings = {}) => ({
  name,
  modules: true,
  scriptPath: `${dir}/index.js`,
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate,
  kvNamespaces,
  bindings,
});

/** The bare JS worker: one KV get (`?k=`) or list (`?list=`) and nothing else. */
export const baseline = (name) => ({ name, modules: true, scriptPath: `${root}bench/baseline.mjs`, compatibilityDate, kvNamespaces });

/** The JS twin: the service's answers to get-by-id and the newest page, from the same KV call. */
export const twin = (name) => ({ name, modules: true, scriptPath: `${root}bench/twin.mjs`, compatibilityDate, kvNamespaces });

/**
 * Sends `count` requests, `inFlight` at a time, each answer read to its end; throws at the first
 * status `ok` refuses.
 */
export async function sendMany(send, count, inFlight, ok = (status) => status === 200, what = "request") {
  let left = count;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left-- > 0) {
        const res = await send();
        await res.arrayBuffer();
        if (!ok(res.status)) throw new Error(`${what}: status ${res.status}`);
      }
    }),
  );
}
