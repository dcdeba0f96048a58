// The worker's entry (scripts/lean-entry.mjs): a plain object in place of workers-rs's proxied
// entrypoint class, which must still re-initialise the wasm instance after a trap. A wrapper
// module around the built worker flags a trap the way the glue's error handler does, and
// fails a call inside wasm the way a broken request object would.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { basic, startWorker } from "./harness.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const WRAPPER = `
import service from "./index.js";
export { CidGate, UserQuota } from "./index.js";
export default {
  async fetch(req, env, ctx) {
    const { pathname } = new URL(req.url);
    const state = globalThis.__worker_init_state;
    if (pathname === "/__entry") return Response.json({ entry: typeof service, ...state });
    if (pathname === "/__trap") {
      state.criticalError = true;
      return new Response(null, { status: 204 });
    }
    if (pathname === "/__broken") {
      // A request whose headers cannot be read: the call fails inside the wasm instance.
      const broken = { get url() { return req.url; }, get method() { return "GET"; }, get headers() { throw new TypeError("unreadable"); } };
      try {
        await Promise.race([service.fetch(broken, env, ctx), new Promise((_, no) => setTimeout(() => no(new Error("no answer")), 2000))]);
        return new Response("answered", { status: 200 });
      } catch (e) {
        return new Response(String(e), { status: 500 });
      }
    }
    if (pathname.startsWith("/__rotated/")) {
      // The same isolate, handed settings that changed: a rotated password and JWT secret.
      const url = req.url.replace("/__rotated/", "/");
      const rotated = Object.create(env, {
        USERS: { value: JSON.stringify({ alice: "rotated-pw" }) },
        JWT_SECRET: { value: "a-rotated-secret-0123456789" },
      });
      return service.fetch(new Request(url, req), rotated, ctx);
    }
    return service.fetch(req, env, ctx);
  },
};`;

describe("the worker's entry", () => {
  let w;
  let log = "";
  after(() => w?.dispose());

  test("is a plain object whose handlers re-initialise the instance after a trap", async () => {
    const capture = (stream) => stream.on("data", (d) => (log += d));
    w = await startWorker({
      handleRuntimeStdio: (out, err) => {
        capture(out);
        capture(err);
      },
      extra: {
        scriptPath: undefined,
        modules: [
          { type: "ESModule", path: `${root}build/entry-test.mjs`, contents: WRAPPER },
          { type: "ESModule", path: `${root}build/index.js` },
          { type: "CompiledWasm", path: `${root}build/index_bg.wasm` },
        ],
      },
    });
    const added = await w.pin("alice", { cid: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi" });
    // The instance's start counts itself in `instanceId`; a reset starts it again.
    const before = (await w.call("GET", "/__entry")).body;
    assert.equal(before.entry, "object");
    assert.equal(before.criticalError, false);

    assert.equal((await w.call("GET", "/__trap")).status, 204);
    const got = await w.call("GET", `/pins/${added.requestid}`, { as: "alice" });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.requestid, added.requestid);
    const state = (await w.call("GET", "/__entry")).body;
    assert.equal(state.criticalError, false);
    assert.ok(state.instanceId > before.instanceId, JSON.stringify({ before, state }));
    await sleep(200);
    assert.match(log, /Reinitializing Wasm application/);
  });

  test("a call that fails inside wasm is answered as a failure, and the next one is served", async () => {
    const broken = await w.call("GET", "/__broken");
    assert.equal(broken.status, 500, broken.text);
    const list = await w.call("GET", "/pins", { as: "alice" });
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.count, 1);
  });

  test("settings are read on every request: a changed password or secret counts at once", async () => {
    const oldPw = { auth: basic("alice", "alice-pw") };
    const newPw = { auth: basic("alice", "rotated-pw") };
    const token = (await w.call("POST", "/token", { as: "alice" })).body.token;
    assert.ok(token);
    assert.equal((await w.call("GET", "/pins", { token })).status, 200);
    // The configuration the isolate cached is not used for settings that read differently.
    assert.equal((await w.call("GET", "/__rotated/pins", oldPw)).status, 401);
    assert.equal((await w.call("GET", "/__rotated/pins", { token })).status, 401);
    const rotated = await w.call("GET", "/__rotated/pins", newPw);
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.body.count, 1);
    // And back: the first settings again, the first password again.
    assert.equal((await w.call("GET", "/pins", oldPw)).status, 200);
    assert.equal((await w.call("GET", "/pins", newPw)).status, 401);
    assert.equal((await w.call("GET", "/pins", { token })).status, 200);
  });
});
