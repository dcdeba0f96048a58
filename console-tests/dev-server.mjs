// The repo's own configuration (wrangler.toml, .dev.vars: user dev/dev, the instant backend, the
// console as static assets) served on a free loopback port with fresh state: startDev() through
// scripts/local-server.mjs (Miniflare configured by wrangler's reader, no ProxyWorker hop: see
// there why), startWranglerDev() through `wrangler dev` itself, as `npm run dev` starts it, in a
// process group of its own that stop() ends by its id.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocal } from "../scripts/local-server.mjs";

export const root = fileURLToPath(new URL("..", import.meta.url));

/** wrangler.toml less its [build] table: the test serves the build/ that is there, never rebuilds. */
function configWithoutBuild() {
  const out = [];
  let skipping = false;
  for (const line of readFileSync(join(root, "wrangler.toml"), "utf8").split("\n")) {
    if (/^\s*\[/.test(line)) skipping = /^\s*\[build\]\s*$/.test(line);
    if (!skipping) out.push(line);
  }
  return out.join("\n");
}

/** What the r2 backend needs besides PIN_BACKEND: wrangler.toml's commented blocks, enabled. */
export const R2_BINDINGS = `
[[r2_buckets]]
binding = "CONTENT"
bucket_name = "console-test-pins"

[[queues.producers]]
binding = "FETCHES"
queue = "console-test-fetches"

[[queues.consumers]]
queue = "console-test-fetches"
max_batch_size = 1
max_retries = 10
`;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let started = 0;

/** wrangler.toml less [build], plus `toml`, beside it so that main, [assets] and .dev.vars resolve as for `npm run dev`. */
function writeConfig(toml) {
  const config = join(root, `.console-test-${process.pid}-${++started}.wrangler.toml`);
  writeFileSync(config, `${configWithoutBuild()}\n${toml}`);
  return config;
}

/**
 * `vars` override the configuration's variables (wrangler's --var), e.g. another backend;
 * `toml` is appended to the configuration (bindings it leaves commented out, e.g. R2_BINDINGS).
 */
export async function startDev({ vars = {}, toml = "" } = {}) {
  const config = writeConfig(toml);
  try {
    const local = await startLocal({ config, vars });
    rmSync(config, { force: true }); // read once, at the start
    return local;
  } catch (e) {
    rmSync(config, { force: true });
    throw e;
  }
}

/** `wrangler dev` itself with the repo's configuration (less [build]), as `npm run dev` runs it. */
export async function startWranglerDev() {
  const port = await freePort();
  const inspector = await freePort();
  const state = mkdtempSync(join(tmpdir(), "console-test-state-"));
  const config = writeConfig("");
  const child = spawn(
    process.execPath,
    [
      join(root, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "-c", config,
      "--ip", "127.0.0.1",
      "--port", String(port),
      "--inspector-port", String(inspector),
      "--persist-to", state,
      "--show-interactive-dev-session=false",
      "--log-level", "warn",
    ],
    {
      cwd: root,
      detached: true, // its own process group: stop() ends wrangler and its workerd together
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_HIDE_BANNER: "true",
      },
    },
  );
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const server = {
    base,
    port,
    pid: child.pid,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {}
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {}
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(config, { force: true });
      rmSync(state, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${base}/pins`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 401) return server;
    } catch {}
    await new Promise((r) => setTimeout(r, 300));
  }
  await server.stop();
  throw new Error(`wrangler dev did not answer on ${base}:\n${log}`);
}
