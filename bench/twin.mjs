// The JS twin: what the service answers to the benchmark's get-by-id and newest page, made by
// a JS worker from the same one KV call (bench/run.mjs checks the answers byte for byte
// against the service's). Not a service: no sign-in, no settings, and of a listing's
// judgement only what this pinset needs (the stored totals' count of pinned pins, the
// newest ten pinned). Its ratio to bench/baseline.mjs is what a JS worker pays for
// answering as the spec asks rather than answering a count; the service's to it, what Rust
// on workers-rs pays for the same answer.
//
//   ?k=p/{user}/{id}                  the pin, as `GET /pins/{id}` answers it
//   ?list=p/{user}/                   the newest page, as `GET /pins` answers it
// SETTINGS.DELEGATES of bench/workers.mjs, which workerd cannot import (node: modules); the
// byte-for-byte check fails if they part.
const DELEGATES = ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"];
const headers = {
  "content-type": "application/json",
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "Allow, Retry-After, WWW-Authenticate",
};
const MAX = 0xffffffffffffffffn;
const PINNED = 2; // the totals' order: queued, pinning, pinned, failed

function render(id, r) {
  // Request ids start with u64::MAX - created (ms), in hex.
  const created = new Date(Number(MAX - BigInt(`0x${id.slice(0, 16)}`))).toISOString();
  const pin = { cid: r.c };
  if (r.n !== undefined) pin.name = r.n;
  if (r.o !== undefined) pin.origins = r.o;
  if (r.m !== undefined) pin.meta = r.m;
  const status = { requestid: id, status: r.s, created, pin, delegates: r.g ?? DELEGATES };
  if (r.i !== undefined) status.info = r.i;
  return status;
}

export default {
  async fetch(request, env) {
    const params = new URL(request.url).searchParams;
    const prefix = params.get("list");
    if (prefix === null) {
      const key = params.get("k") ?? "";
      const value = await env.PINS.get(key);
      if (value === null) return new Response("", { status: 404 });
      return new Response(JSON.stringify(render(key.slice(key.lastIndexOf("/") + 1), JSON.parse(value))), { headers });
    }
    // The newest page's one list (PAGE_LIST in bench/workers.mjs, which workerd cannot import).
    const page = await env.PINS.list({ prefix, limit: 22 });
    let count = 0;
    const results = [];
    for (const { name, metadata } of page.keys) {
      const id = name.slice(prefix.length);
      if (id === "!c") count = metadata.n[PINNED];
      if (id.startsWith("!") || results.length === 10) continue;
      const r = JSON.parse(metadata);
      if (r.s === "pinned") results.push(render(id, r));
    }
    return new Response(JSON.stringify({ count, results }), { headers });
  },
};
