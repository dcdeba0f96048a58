// Access tokens end to end: issue → use → list → revoke → 401, expiry, rotation, forgeries,
// cross-user attempts and the per-user rate limit, against the built worker in workerd.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { assertFailure, cid, startWorker } from "./harness.mjs";

let w;
before(async () => {
  w = await startWorker();
});
after(() => w.dispose());

async function assertRefused(res, why) {
  assertFailure(assert, res, 401, "UNAUTHORIZED");
  assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/, why);
}

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** A JWT signed with `key`, the way an attacker who does not know the real key would try. */
function forge(header, claims, key) {
  const head = `${b64url(header)}.${b64url(claims)}`;
  const sig = key === null ? "" : createHmac("sha256", key).update(head).digest("base64url");
  return `${head}.${sig}`;
}

function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

describe("issue → use → list → revoke", () => {
  test("a revoked token is refused on the next request; the user's other tokens keep working", async () => {
    const laptop = await w.token("alice", { label: "laptop", expires_in: 3600 });
    assert.deepEqual(Object.keys(laptop).sort(), ["expires_at", "id", "label", "token"]);
    assert.equal(laptop.label, "laptop");
    const phone = await w.token("alice");
    assert.match(phone.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);

    const pinned = await w.call("POST", "/pins", { token: laptop.token, body: { cid: cid(1) } });
    assert.equal(pinned.status, 202);

    const listed = await w.call("GET", "/tokens", { token: phone.token });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.count, 2);
    assert.ok(!listed.text.includes(laptop.token) && !listed.text.includes(phone.token), "never reveals a token");
    const entry = listed.body.results.find((t) => t.id === laptop.id);
    assert.equal(entry.label, "laptop");
    assert.match(entry.created, /Z$/);
    assert.match(entry.expires_at, /Z$/);
    assert.match(entry.last_used, /Z$/, "the laptop's use was recorded");

    const revoke = await w.call("DELETE", `/tokens/${laptop.id}`, { token: phone.token });
    assert.equal(revoke.status, 204);
    await assertRefused(await w.call("GET", "/pins", { token: laptop.token }), "revoked");
    assert.equal((await w.call("GET", "/pins", { token: phone.token })).status, 200);
    assert.equal((await w.call("GET", "/pins", { as: "alice" })).status, 200, "Basic still works");
    assertFailure(assert, await w.call("DELETE", `/tokens/${laptop.id}`, { as: "alice" }), 404, "NOT_FOUND");
    const after = await w.call("GET", "/tokens", { as: "alice" });
    assert.deepEqual(after.body.results.map((t) => t.id), [phone.id]);
  });

  test("POST /token takes Basic credentials only, and refuses bad bodies with a 400", async () => {
    const t = await w.token("alice");
    await assertRefused(await w.call("POST", "/token", { token: t.token }), "a token cannot mint tokens");
    await assertRefused(await w.call("POST", "/token", {}), "no credentials");
    for (const body of [{ label: "" }, { label: 5 }, { expires_in: 0 }, { expires_in: -1 }, { expires_in: "60" }, "{nope"]) {
      assertFailure(assert, await w.call("POST", "/token", { as: "alice", body }), 400, "BAD_REQUEST");
    }
  });
});

describe("expiry", () => {
  test("a token is refused once its expires_in has passed", async () => {
    // Times are whole seconds: a token of 1 s issued late in a second expires within
    // milliseconds; one of 2 s is good for at least a whole second.
    const t = await w.token("alice", { expires_in: 2 });
    assert.equal(claimsOf(t.token).exp - claimsOf(t.token).iat, 2);
    assert.equal((await w.call("GET", "/pins", { token: t.token })).status, 200);
    await sleep(3100);
    await assertRefused(await w.call("GET", "/pins", { token: t.token }), "expired");
    const listed = await w.call("GET", "/tokens", { as: "alice" });
    assert.ok(!listed.body.results.some((x) => x.id === t.id), "expired tokens are not listed");
  });
});

describe("forgeries and malformed tokens", () => {
  test("alg none, other algorithms, wrong keys, bad segments, not-yet-valid: all 401", async () => {
    const real = await w.token("alice");
    const claims = claimsOf(real.token);
    const now = Math.floor(Date.now() / 1000);
    const [h, p, s] = real.token.split(".");
    const key = createHmac("sha256", "miniflare-tests-secret-0123456789")
      .update("ipfs-pinning-jwt-v1\0alice\0alice-pw")
      .digest();
    const forgeries = {
      "alg none": forge({ alg: "none", typ: "JWT" }, claims, null),
      "alg HS512": forge({ alg: "HS512", typ: "JWT" }, claims, "whatever"),
      "signed with the password": forge({ alg: "HS256", typ: "JWT" }, claims, "alice-pw"),
      "signed with the server secret": forge({ alg: "HS256", typ: "JWT" }, claims, "miniflare-tests-secret-0123456789"),
      "claims swapped to bob": `${h}.${b64url({ ...claims, sub: "bob" })}.${s}`,
      "signature of another token": `${h}.${p}.${(await w.token("alice")).token.split(".")[2]}`,
      "two segments": `${h}.${p}`,
      "four segments": `${real.token}.x`,
      "not base64": `${h}.${p}.!!!`,
      "empty": "",
      // Correctly signed (the test knows the server secret), but not valid now.
      "not yet valid": forge({ alg: "HS256", typ: "JWT" }, { ...claims, nbf: now + 3600 }, key),
      "expired": forge({ alg: "HS256", typ: "JWT" }, { ...claims, iat: now - 7200, exp: now - 3600 }, key),
      "right key, alg none": forge({ alg: "none", typ: "JWT" }, claims, null),
      "right key, unknown jti": forge({ alg: "HS256", typ: "JWT" }, { ...claims, jti: "f".repeat(32) }, key),
    };
    // The derivation is what a forger would need: prove it by re-signing the real claims.
    const resigned = forge({ alg: "HS256", typ: "JWT" }, claims, key);
    assert.equal((await w.call("GET", "/pins", { auth: `Bearer ${resigned}` })).status, 200);
    for (const [why, token] of Object.entries(forgeries)) {
      const res = await w.call("GET", "/pins", { auth: `Bearer ${token}` });
      await assertRefused(res, why);
    }
    assert.equal((await w.call("GET", "/pins", { token: real.token })).status, 200);
  });
});

describe("cross-user attempts", () => {
  test("a user can neither list nor revoke another user's tokens", async () => {
    const alices = await w.token("alice", { label: "alice-laptop" });
    const bobs = await w.call("GET", "/tokens", { as: "bob" });
    assert.ok(!bobs.text.includes(alices.id));
    assertFailure(assert, await w.call("DELETE", `/tokens/${alices.id}`, { as: "bob" }), 404, "NOT_FOUND");
    assert.equal((await w.call("GET", "/pins", { token: alices.token })).status, 200, "still valid");
    const bobToken = await w.token("bob");
    assertFailure(assert, await w.call("DELETE", `/tokens/${alices.id}`, { token: bobToken.token }), 404, "NOT_FOUND");
  });
});

describe("rotation", () => {
  test("rotating a user's password or the server secret invalidates that user's tokens", async () => {
    const rw = await startWorker();
    try {
      const alice = await rw.token("alice");
      const bob = await rw.token("bob");
      await rw.rebind({ USERS: JSON.stringify({ alice: "new-pw", bob: "bob-pw" }) });
      await assertRefused(await rw.call("GET", "/pins", { token: alice.token }), "old password");
      assert.equal((await rw.call("GET", "/pins", { token: bob.token })).status, 200, "bob unaffected");
      assert.equal((await rw.call("GET", "/pins", { auth: `Basic ${Buffer.from("alice:new-pw").toString("base64")}` })).status, 200);

      await rw.rebind({ JWT_SECRET: "a-rotated-server-secret-0123456789" });
      await assertRefused(await rw.call("GET", "/pins", { token: bob.token }), "old server secret");
    } finally {
      await rw.dispose();
    }
  });
});

describe("rate limits", () => {
  test("over the per-user limit: 429 with Retry-After and a Failure; other users unaffected", async () => {
    const lw = await startWorker({ rateLimit: 5 });
    try {
      const ten = Array.from({ length: 10 }, (_, i) => cid(i)).join(",");
      // A 10-CID lookup is one request of the budget.
      for (let i = 0; i < 5; i++) {
        const res = await lw.call("GET", `/pins?cid=${ten}`, { as: "alice" });
        assert.equal(res.status, 200, `request ${i + 1}: ${res.text}`);
      }
      const over = await lw.call("GET", "/pins", { as: "alice" });
      assertFailure(assert, over, 429, "TOO_MANY_REQUESTS");
      assert.match(over.headers.get("retry-after"), /^\d+$/);
      assert.equal((await lw.call("GET", "/pins", { as: "bob" })).status, 200, "bob has his own budget");
    } finally {
      await lw.dispose();
    }
  });
});
