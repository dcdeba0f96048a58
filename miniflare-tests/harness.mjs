// The built worker (build/index.js + its wasm) in workerd through Miniflare, with a local KV that
// lives as long as the instance. Every suite starts its own instance, so suites share nothing.
import { Miniflare } from "miniflare";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const script = `${root}build/index.js`;

export const DELEGATE =
  "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
export const USERS = { alice: "alice-pw", bob: "bob-pw", dev: "dev" };
export const BASE = "http://pins.test";

/**
 * Starts the worker. `bindings` override the defaults (instant backend, three users, KV op
 * counting on, large daily budgets); `rateLimit` adds the RATE_LIMITER binding with that many
 * requests a minute, `signInLimit` the SIGNIN_LIMITER binding with that many per address;
 * `port` (e.g. 0) also serves it over HTTP on 127.0.0.1 for clients that need a real socket;
 * `handleRuntimeStdio(stdout, stderr)` receives workerd's output (its console, for log checks).
 */
export async function startWorker({ bindings = {}, rateLimit, signInLimit, port, handleRuntimeStdio, extra = {} } = {}) {
  if (!existsSync(script)) {
    throw new Error("build/index.js is missing: run `bash scripts/build.sh` first");
  }
  const options = {
    modules: true,
    scriptPath: script,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-20",
    kvNamespaces: ["PINS"],
    // The CIDs' gates (wrangler.toml): a Durable Object per CID, SQLite-backed as deployed.
    // The users' daily budgets (wrangler.toml): a Durable Object per user; the bindings below
    // make them large unless a test sets its own.
    durableObjects: {
      CID_GATES: { className: "CidGate", useSQLite: true },
      USER_QUOTAS: { className: "UserQuota", useSQLite: true },
    },
    bindings: {
      USERS: JSON.stringify(USERS),
      JWT_SECRET: "miniflare-tests-secret-0123456789",
      PIN_BACKEND: "instant",
      DELEGATES: DELEGATE,
      DEBUG_KV_OPS: "1",
      DAILY_WRITES_PER_USER: "100000",
      DAILY_LISTS_PER_USER: "100000",
      ...bindings,
    },
  };
  options.ratelimits = {};
  if (rateLimit) {
    options.ratelimits.RATE_LIMITER = { simple: { limit: rateLimit, period: 60 } };
  }
  if (signInLimit) {
    options.ratelimits.SIGNIN_LIMITER = { simple: { limit: signInLimit, period: 60 } };
  }
  Object.assign(options, extra);
  if (handleRuntimeStdio) options.handleRuntimeStdio = handleRuntimeStdio;
  if (port !== undefined) {
    options.host = "127.0.0.1";
    options.port = port;
  }
  const mf = new Miniflare(options);
  const url = await mf.ready;
  return new Worker(mf, url, options);
}

class Worker {
  constructor(mf, url, options) {
    this.mf = mf;
    this.url = url;
    this.options = options;
  }

  /** Restarts with changed bindings over the same KV (e.g. a rotated password or secret). */
  async rebind(bindings) {
    this.options = { ...this.options, bindings: { ...this.options.bindings, ...bindings } };
    await this.mf.setOptions(this.options);
  }

  /**
   * One request. `as` is a user name (Basic with its password), `token` a Bearer token,
   * `auth` a raw Authorization header. Returns { status, headers, body (parsed JSON or null), text }.
   */
  async call(method, path, { as, token, auth, body, headers = {} } = {}) {
    const h = { ...headers };
    if (as) h.authorization = basic(as, USERS[as]);
    if (token) h.authorization = `Bearer ${token}`;
    if (auth) h.authorization = auth;
    let payload = body;
    if (body !== undefined && typeof body !== "string") {
      payload = JSON.stringify(body);
      h["content-type"] = "application/json";
    }
    const res = await this.mf.dispatchFetch(BASE + path, { method, headers: h, body: payload });
    const text = await res.text();
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    return { status: res.status, headers: res.headers, body: json, text };
  }

  /** Adds a pin and returns the PinStatus, failing loudly if the worker refused it. */
  async pin(as, pin) {
    const res = await this.call("POST", "/pins", { as, body: pin });
    if (res.status !== 202) throw new Error(`POST /pins -> ${res.status}: ${res.text}`);
    return res.body;
  }

  async token(as, body) {
    const res = await this.call("POST", "/token", { as, body });
    if (res.status !== 200) throw new Error(`POST /token -> ${res.status}: ${res.text}`);
    return res.body;
  }

  async kv() {
    return this.mf.getKVNamespace("PINS");
  }

  async dispose() {
    await this.mf.dispose();
  }
}

export function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** The KV operations a response says its request made: { get, put, delete, list }. */
export function kvOps(res) {
  const raw = res.headers.get("x-kv-ops") ?? "";
  return Object.fromEntries(
    raw
      .split(",")
      .filter(Boolean)
      .map((part) => {
        const [k, v] = part.split("=");
        return [k, Number(v)];
      }),
  );
}

// Distinct, valid CIDv1s (raw codec, sha2-256 multihash of a counter), in base32: the spelling Kubo sends.
const B32 = "abcdefghijklmnopqrstuvwxyz234567";
export function cid(n) {
  const digest = createHash("sha256").update(`content-${n}`).digest();
  const bytes = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), digest]);
  return `b${base32(bytes)}`;
}

function base32(bytes) {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** The spec's Failure shape, and nothing else. */
export function assertFailure(assert, res, status, reason) {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body ?? {}), ["error"], res.text);
  assert.equal(res.body.error.reason, reason);
  assert.equal(typeof res.body.error.details, "string");
  assert.ok(res.body.error.details.length > 0, "details say what went wrong");
}
