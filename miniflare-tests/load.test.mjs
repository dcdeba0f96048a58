// Concurrent multi-user load (issue 13, item 2): the built worker in workerd, 8 users with 3
// concurrent clients each adding, listing (by status, name and cid, while others write),
// replacing, deleting, and issuing and using tokens; then an audit of every user's pinset
// against the clients' own record: nothing lost or extra, no repeats across `before=` pages,
// `count` exact for every status, `created` unique, no other user's pin visible, no 5xx.
// `npm test` runs it for LOAD_SECONDS (default 20); `SOAK_SECONDS=600 npm run soak` as long as
// asked. Prints requests, throughput and p50/p99 latency. Everything stays inside Miniflare.
import assert from "node:assert/strict";
import { test } from "node:test";
import { basic, cid, startWorker } from "./harness.mjs";

const SECONDS = Number(process.env.SOAK_SECONDS ?? process.env.LOAD_SECONDS ?? 20);
const USERS = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`user${i}`, `password-${i}`]));
const CLIENTS = 3;
const STATUSES = ["queued", "pinning", "pinned", "failed"];

test(`${Object.keys(USERS).length} users x ${CLIENTS} clients for ${SECONDS} s: nothing lost, nothing extra, counts exact`, { timeout: (SECONDS + 300) * 1000 }, async () => {
  const worker = await startWorker({ bindings: { USERS: JSON.stringify(USERS), DEBUG_KV_OPS: "0" } });
  const latencies = [];
  const problems = [];
  let fiveHundreds = 0;
  const call = async (user, method, path, opts = {}) => {
    const auth = opts.token ? `Bearer ${opts.token}` : basic(user, USERS[user]);
    const started = performance.now();
    const res = await worker.call(method, path, { auth, body: opts.body });
    latencies.push(performance.now() - started);
    if (res.status >= 500) {
      fiveHundreds += 1;
      problems.push(`${user} ${method} ${path}: ${res.status} ${res.text}`);
    }
    return res;
  };
  const seen = (user, res, what) => {
    for (const p of res.body?.results ?? []) {
      if (!String(p.pin?.name ?? "").startsWith(`${user}/`)) problems.push(`${user} ${what}: sees ${p.pin?.name}`);
    }
  };
  const deadline = Date.now() + SECONDS * 1000;
  let serial = 0;
  // The clients' record: user -> requestid -> { cid, name }. Each client changes only its own pins.
  const record = Object.fromEntries(Object.keys(USERS).map((u) => [u, new Map()]));

  async function client(user, c) {
    const mine = [];
    let token = null;
    let rng = (Object.keys(USERS).indexOf(user) * 31 + c + 1) * 2654435761;
    const pick = (n) => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng % n;
    };
    while (Date.now() < deadline) {
      const roll = pick(100);
      const n = serial++;
      const pin = { cid: cid(n % 500), name: `${user}/c${c}/p${n}` };
      if (roll < 40 || mine.length === 0) {
        const res = await call(user, "POST", "/pins", { body: pin });
        if (res.status === 202) {
          mine.push(res.body.requestid);
          record[user].set(res.body.requestid, pin);
        } else problems.push(`${user} add: ${res.status}`);
      } else if (roll < 55) {
        const status = STATUSES[pick(4)];
        seen(user, await call(user, "GET", `/pins?status=${status}&limit=${1 + pick(50)}`), "status list");
      } else if (roll < 62) {
        const some = record[user].get(mine[pick(mine.length)]);
        if (some) seen(user, await call(user, "GET", `/pins?name=${encodeURIComponent(some.name)}&match=exact`), "name list");
      } else if (roll < 69) {
        seen(user, await call(user, "GET", `/pins?cid=${cid(pick(500))}`), "cid list");
      } else if (roll < 79) {
        const i = pick(mine.length);
        const res = await call(user, "POST", `/pins/${mine[i]}`, { body: pin });
        if (res.status === 202) {
          record[user].delete(mine[i]);
          record[user].set(res.body.requestid, pin);
          mine[i] = res.body.requestid;
        } else problems.push(`${user} replace: ${res.status}`);
      } else if (roll < 89) {
        const i = pick(mine.length);
        const res = await call(user, "DELETE", `/pins/${mine[i]}`);
        if (res.status === 202) {
          record[user].delete(mine[i]);
          mine.splice(i, 1);
        } else problems.push(`${user} delete: ${res.status}`);
      } else if (roll < 93 || token === null) {
        const res = await call(user, "POST", "/token", { body: { label: `c${c}` } });
        if (res.status === 200) token = res.body.token;
        else problems.push(`${user} token: ${res.status}`);
      } else {
        const res = await call(user, "GET", `/pins/${mine[pick(mine.length)]}`, { token });
        if (res.status !== 200) problems.push(`${user} get with token: ${res.status}`);
      }
    }
  }

  const started = Date.now();
  await Promise.all(Object.keys(USERS).flatMap((u) => Array.from({ length: CLIENTS }, (_, c) => client(u, c))));
  const elapsed = (Date.now() - started) / 1000;
  const underLoad = latencies.length;

  let audited = 0;
  for (const user of Object.keys(USERS)) {
    const want = record[user];
    const got = new Map();
    const created = new Set();
    let before = null;
    let total = null;
    for (;;) {
      const q = `/pins?status=${STATUSES.join(",")}&limit=97${before ? `&before=${before}` : ""}`;
      const res = await call(user, "GET", q);
      total ??= res.body.count;
      for (const p of res.body.results) {
        if (got.has(p.requestid)) problems.push(`${user}: ${p.requestid} repeated across pages`);
        if (created.has(p.created)) problems.push(`${user}: created ${p.created} twice`);
        got.set(p.requestid, p);
        created.add(p.created);
      }
      if (res.body.results.length < 97) break;
      before = res.body.results.at(-1).created;
    }
    if (total !== want.size) problems.push(`${user}: count ${total}, the clients hold ${want.size}`);
    for (const [id, pin] of want) {
      const p = got.get(id);
      if (!p) problems.push(`${user}: ${id} (${pin.name}) lost`);
      else if (p.pin.cid !== pin.cid || p.pin.name !== pin.name) problems.push(`${user}: ${id} changed`);
    }
    for (const id of got.keys()) if (!want.has(id)) problems.push(`${user}: ${id} extra (${got.get(id).pin.name})`);
    for (const status of STATUSES) {
      const res = await call(user, "GET", `/pins?status=${status}&limit=1`);
      const n = [...got.values()].filter((p) => p.status === status).length;
      if (res.body.count !== n) problems.push(`${user}: count of ${status} ${res.body.count}, listed ${n}`);
    }
    // Every tenth pin found by its CID and by its name.
    for (const [id, pin] of [...want].filter((_, i) => i % 10 === 0)) {
      const byCid = await call(user, "GET", `/pins?cid=${pin.cid}&limit=1000`);
      if (!byCid.body.results.some((p) => p.requestid === id)) problems.push(`${user}: ${id} not found by cid`);
      seen(user, byCid, "audit cid list");
      const byName = await call(user, "GET", `/pins?name=${encodeURIComponent(pin.name)}&match=exact`);
      if (byName.body.results.map((p) => p.requestid).join() !== id) problems.push(`${user}: ${id} not found by name`);
    }
    audited += want.size;
  }
  await worker.dispose();

  const sorted = latencies.slice(0, underLoad).sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
  console.log(
    `load: ${underLoad} requests under load in ${elapsed.toFixed(1)} s (${(underLoad / elapsed).toFixed(0)}/s), ` +
      `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms; ${audited} pins audited; ${fiveHundreds} 5xx; ${problems.length} problems`,
  );
  assert.deepEqual(problems.slice(0, 20), []);
});
