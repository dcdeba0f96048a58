// The README's first command serves what it says: `wrangler dev` with the repo's configuration
// (as `npm run dev` runs it, less the rebuild) answers the console from static assets with its
// headers, and the API with user dev/dev from .dev.vars. The other console tests and the fuzz run
// serve the same configuration through scripts/local-server.mjs instead (why: see there).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWranglerDev } from "./dev-server.mjs";

let server;
before(async () => {
  server = await startWranglerDev();
});
after(async () => {
  await server?.stop();
});

test("wrangler dev serves the console and the API from the repo's configuration", async () => {
  const page = await fetch(`${server.base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /^text\/html/);
  assert.match(page.headers.get("content-security-policy"), /default-src 'none'/);
  assert.match(await page.text(), /<html/);

  const anonymous = await fetch(`${server.base}/pins`);
  assert.equal(anonymous.status, 401);
  assert.equal((await anonymous.json()).error.reason, "UNAUTHORIZED");

  const basic = `Basic ${Buffer.from("dev:dev").toString("base64")}`;
  const issued = await fetch(`${server.base}/token`, { method: "POST", headers: { authorization: basic } });
  assert.equal(issued.status, 200);
  const { token } = await issued.json();

  const pins = await fetch(`${server.base}/pins`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(pins.status, 200);
  assert.deepEqual(await pins.json(), { count: 0, results: [] });
});
