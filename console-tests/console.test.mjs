// The web console end to end: real Chromium (Debian's /usr/bin/chromium) driven by playwright-core
// against the repo's configuration served by scripts/local-server.mjs (the console from static
// assets, the built worker, .dev.vars: user dev/dev, the instant backend). Every check of what the console
// did is made against the API itself. Screenshots of each view go to docs/console/.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { cid } from "../miniflare-tests/harness.mjs";
import { DESKTOP, openPage, rowIds, shot, signIn, summary } from "./browser.mjs";
import { root, startDev } from "./dev-server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const DELEGATE = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
// One CID in its two spellings (the worker's own tests check that they are one CID).
const V0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
const V0_AS_V1 = "bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34";
const XSS = "<img src=x onerror=alert(1)>";

let server;
let queuedServer; // the same configuration with PIN_BACKEND=none: pins stay queued
let browser;
let page;
const dialogs = []; // any alert() the page ever shows
const pageErrors = []; // any uncaught error in any page

/**
 * The test's own token per server, taken once: every Basic sign-in spends the address's sign-in
 * budget (20 a minute), which the test's many checks through the API would run out of.
 */
const testTokens = new Map();
async function testToken(base) {
  if (!testTokens.has(base)) {
    const res = await fetch(`${base}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("dev:dev").toString("base64")}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "test runner" }),
    });
    assert.equal(res.status, 200);
    testTokens.set(base, (await res.json()).token);
  }
  return testTokens.get(base);
}

/** The API, as a test client: the test's token, another token, or Basic credentials. */
async function api(method, path, { token, basic, body, base = server.base } = {}) {
  const headers = {
    authorization: basic
      ? `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString("base64")}`
      : `Bearer ${token ?? (await testToken(base))}`,
  };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function allPins() {
  const r = await api("GET", "/pins?status=queued,pinning,pinned,failed&limit=1000");
  assert.equal(r.status, 200);
  return r.body;
}

const seen = { dialogs, pageErrors };
const newPage = (viewport = DESKTOP, base = server.base) => openPage(browser, base, seen, viewport);

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  assert.ok(existsSync(join(root, "build/index.js")), "build/index.js is missing: run `bash scripts/build.sh` first");
  const servers = await Promise.allSettled([startDev(), startDev({ vars: { PIN_BACKEND: "none" } })]);
  [server, queuedServer] = servers.map((r) => (r.status === "fulfilled" ? r.value : undefined));
  const failed = servers.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await newPage();
});

afterEach(() => assert.deepEqual(pageErrors, [], "no uncaught errors in the page"));

after(async () => {
  await browser?.close();
  await server?.stop();
  await queuedServer?.stop();
});

describe("web console", () => {
  test("is served at / from static assets with a strict CSP, while the API paths reach the worker", async () => {
    const res = await page.goto(server.base + "/");
    assert.equal(res.status(), 200);
    const csp = res.headers()["content-security-policy"];
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    // The API is untouched: /pins is the worker's 401 Failure, an unknown path its 404 Failure.
    const pins = await fetch(`${server.base}/pins`);
    assert.equal(pins.status, 401);
    assert.equal((await pins.json()).error.reason, "UNAUTHORIZED");
    assert.equal(pins.headers.get("content-security-policy"), null);
    const missing = await fetch(`${server.base}/no-such-thing`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.reason, "NOT_FOUND");
    // Every request the page made stayed on its own origin.
    const origins = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => new URL(e.name).origin));
    assert.ok(origins.every((o) => o === server.base), origins.join(", "));
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await shot(page, "signin");
  });

  test("a wrong password gets a clear message and no session", async () => {
    await signIn(page, "not-the-password");
    await page.getByRole("alert").filter({ hasText: "Wrong user name or password." }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  test("signs in with a short-lived token of its own, kept only in sessionStorage", async () => {
    await signIn(page);
    await page.getByRole("heading", { name: "Pins", level: 1 }).waitFor();
    const stored = await page.evaluate(() => ({
      session: Object.values(sessionStorage),
      local: localStorage.length,
      url: location.href,
      cookies: document.cookie,
    }));
    assert.equal(stored.session.length, 1);
    const s = JSON.parse(stored.session[0]);
    assert.equal(stored.local, 0);
    assert.equal(stored.cookies, "");
    assert.ok(!stored.url.includes(s.token));
    const tokens = (await api("GET", "/tokens")).body.results;
    const own = tokens.find((t) => t.id === s.id);
    assert.ok(own, "the console's token is listed");
    assert.match(own.label, /^Web console \(Chrome on Linux\)$/);
    const lifetime = (Date.parse(own.expires_at) - Date.parse(own.created)) / 1000;
    assert.ok(lifetime > 7 * 3600 && lifetime <= 8 * 3600, `lifetime ${lifetime} s`);
    // The empty state, before any pin exists.
    await page.getByText("No pins yet.").waitFor();
  });

  test("adds a pin with a name", async () => {
    await page.getByLabel("CID", { exact: true }).fill(cid(1));
    await page.getByLabel("Name (optional)").fill("first pin");
    await page.getByRole("button", { name: "Add pin" }).click();
    await summary(page, /^1 pin$/);
    const pins = await allPins();
    assert.equal(pins.count, 1);
    assert.equal(pins.results[0].pin.name, "first pin");
    assert.deepEqual(await rowIds(page), [pins.results[0].requestid]);
    assert.equal(await page.locator("table.pins tbody tr .badge").textContent(), "pinned");
  });

  test("shows a pin named like markup as text, and runs nothing (CSP blocks inline script too)", async () => {
    const added = await api("POST", "/pins", { body: { cid: cid(2), name: XSS, meta: { [XSS]: XSS } } });
    assert.equal(added.status, 202);
    await page.reload();
    await summary(page, /^2 pins$/);
    const name = page.locator(`tr[data-requestid="${added.body.requestid}"] td.name`);
    assert.equal(await name.textContent(), XSS);
    assert.equal(await page.locator("main img").count(), 0);
    await name.getByRole("link").click();
    await page.getByRole("heading", { name: XSS, level: 1 }).waitFor();
    assert.equal(await page.locator("main img").count(), 0);
    assert.equal(await page.locator("#sec-meta").locator("..").locator("tbody th").textContent(), XSS);
    // An inline script put into the page is refused by the policy.
    const ran = await page.evaluate(async () => {
      const violation = new Promise((r) => document.addEventListener("securitypolicyviolation", (e) => r(e.violatedDirective), { once: true }));
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.body.append(s);
      return { ran: window.__inline === 1, directive: await violation };
    });
    assert.deepEqual(ran, { ran: false, directive: "script-src-elem" });
    // Reported once per policy: the _headers one and index.html's meta copy of it.
    const reported = await page.evaluate(() => window.__violations.splice(0));
    assert.ok(reported.length >= 1 && reported.every((v) => v === "script-src-elem inline"), reported.join(", "));
    assert.deepEqual(dialogs, []);
    await page.getByRole("link", { name: "← All pins" }).click();
  });

  test("pages through 36 pins with before: newest first, nothing skipped or repeated, exact count", async () => {
    for (let i = 3; i <= 30; i++) {
      assert.equal((await api("POST", "/pins", { body: { cid: cid(i), name: `page-${String(i).padStart(2, "0")}` } })).status, 202);
    }
    const named = {
      31: ["family-photos-2026", { album: "summer" }],
      32: ["website v3 (build 1187)", {}],
      33: ["dataset/weather-2025.csv", { source: "station 12" }],
      34: ["Podcast episode 42.mp3", {}],
      35: ["notes.md", {}],
      36: ["release-1.4.0.tar.gz", { ci: "green" }],
    };
    for (const [n, [name, meta]] of Object.entries(named)) {
      assert.equal((await api("POST", "/pins", { body: { cid: cid(Number(n)), name, meta } })).status, 202);
    }
    const truth = await allPins();
    assert.equal(truth.count, 36);
    await page.reload();
    await summary(page, /^36 pins$/);
    const seen = [...(await rowIds(page))];
    assert.equal(seen.length, 20);
    assert.equal(await page.locator("#page-position").textContent(), "1–20 of 36");
    await shot(page, "pins");
    await page.getByRole("button", { name: "Older →" }).click();
    await page.waitForFunction(() => document.getElementById("page-position").textContent === "21–36 of 36");
    seen.push(...(await rowIds(page)));
    assert.deepEqual(seen, truth.results.map((p) => p.requestid));
    assert.ok(await page.getByRole("button", { name: "Older →" }).isDisabled());
    await page.getByRole("button", { name: "← Newer" }).click();
    await page.waitForFunction(() => document.getElementById("page-position").textContent === "1–20 of 36");
    assert.deepEqual(await rowIds(page), truth.results.slice(0, 20).map((p) => p.requestid));
  });

  test("finds pins by part of a name, whatever the case", async () => {
    await page.getByLabel("Search by name or CID").fill("PAGE-1");
    await summary(page, /^10 matching pins/);
    const names = await page.locator("table.pins td.name").allTextContents();
    assert.deepEqual(names, Array.from({ length: 10 }, (_, i) => `page-${19 - i}`));
  });

  test("finds a pin by CID typed as CIDv0, shown as the CIDv1 it was pinned with", async () => {
    const added = await api("POST", "/pins", { body: { cid: V0_AS_V1, name: "pinned as CIDv1" } });
    assert.equal(added.status, 202);
    const truth = await api("GET", `/pins?status=queued,pinning,pinned,failed&cid=${V0}`);
    assert.equal(truth.body.count, 1);
    await page.getByLabel("Search by name or CID").fill(V0);
    await summary(page, /^1 matching pin · with CID Qm/);
    assert.deepEqual(await rowIds(page), [added.body.requestid]);
    assert.equal(await page.locator("table.pins td.cid code").textContent(), V0_AS_V1);
  });

  test("filters by status, with an empty state when nothing matches", async () => {
    await page.getByLabel("Search by name or CID").fill("");
    await page.getByLabel("Status").selectOption("queued");
    await summary(page, /^0 matching pins · queued$/);
    await page.getByText("No pins match.").waitFor();
    await page.getByLabel("Status").selectOption("pinned");
    await summary(page, /^37 matching pins · pinned$/);
    await page.getByLabel("Status").selectOption("");
    await summary(page, /^37 pins$/);
  });

  test("opens a pin's details: info, delegates, origins, meta", async () => {
    const origin = "/ip4/198.51.100.7/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";
    const added = await api("POST", "/pins", {
      body: { cid: cid(40), name: "annual-report.pdf", origins: [origin], meta: { department: "finance", year: "2026" } },
    });
    await page.reload();
    await page.getByRole("link", { name: "annual-report.pdf" }).click();
    await page.getByRole("heading", { name: "annual-report.pdf", level: 1 }).waitFor();
    assert.equal(new URL(page.url()).hash, `#/pins/${added.body.requestid}`);
    const detail = await page.locator("main").textContent();
    assert.ok(detail.includes(added.body.info.status_details), "status_details shown");
    assert.ok(detail.includes(DELEGATE), "delegate shown");
    assert.ok(detail.includes(origin), "origin shown");
    assert.ok(detail.includes(cid(40)) && detail.includes(added.body.requestid));
    const meta = await page.locator("#sec-meta").locator("..").locator("tbody tr").allTextContents();
    assert.deepEqual(meta, ["departmentfinance", "year2026"]);
    await shot(page, "pin-detail");
  });

  test("a pin that is not final: its details are asked for again while open, and no longer once left", async () => {
    const q = await newPage(DESKTOP, queuedServer.base);
    await q.goto(queuedServer.base + "/");
    await signIn(q);
    await q.getByLabel("CID", { exact: true }).fill(cid(60));
    await q.getByRole("button", { name: "Add pin" }).click();
    await summary(q, /^1 pin$/);
    assert.equal(await q.locator("table.pins .badge").textContent(), "queued");
    const id = await q.locator("table.pins tbody tr").getAttribute("data-requestid");
    const reads = [];
    q.on("request", (r) => {
      if (new URL(r.url()).pathname === `/pins/${id}`) reads.push(Date.now());
    });
    await q.getByRole("link", { name: "Unnamed pin" }).click();
    const details = q.locator("#pin-status .details");
    await details.waitFor();
    assert.equal(await details.textContent(), "queued: no pinning backend is configured");
    await q.getByText(/Not final yet: checking again every 5 seconds/).waitFor();
    await q.locator("#pin-status").evaluate((el) => (el.dataset.first = "yes"));
    const deadline = Date.now() + 15_000;
    while (reads.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(reads.length >= 2, `asked ${reads.length} times`);
    assert.ok(reads[1] - reads[0] >= 4500, "every 5 seconds, not faster");
    // The refresh replaced the status with the service's latest answer.
    await q.waitForFunction(() => document.getElementById("pin-status")?.dataset.first === undefined);
    assert.equal(await details.textContent(), "queued: no pinning backend is configured");
    await q.getByRole("link", { name: "← All pins" }).click();
    await summary(q, /^1 pin$/);
    const left = reads.length;
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(reads.length, left, "no refresh after leaving the pin");
    await q.context().close();
  });

  test("deletes a pin only after confirmation", async () => {
    const id = new URL(page.url()).hash.split("/")[2];
    await page.getByRole("button", { name: "Delete this pin" }).click();
    await page.getByRole("dialog", { name: "Delete this pin?" }).waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    assert.equal((await api("GET", `/pins/${id}`)).status, 200);
    await page.getByRole("button", { name: "Delete this pin" }).click();
    await shot(page, "delete-confirm");
    await page.getByRole("dialog").getByRole("button", { name: "Delete pin" }).click();
    await page.getByRole("heading", { name: "Pins", level: 1 }).waitFor();
    assert.equal((await api("GET", `/pins/${id}`)).status, 404);
    await summary(page, /^37 pins$/);
  });

  test("hides usage and CAR upload while the service has no GET /usage", async () => {
    assert.equal((await api("GET", "/usage")).status, 404);
    assert.ok(await page.locator('nav a[data-view="usage"]').isHidden());
    assert.equal(await page.getByRole("heading", { name: "Upload files" }).count(), 0);
    assert.equal(await page.locator("#car-file").count(), 0);
    assert.equal(await page.locator("table.pins th", { hasText: "Size" }).count(), 0);
  });

  test("device tokens: create one (shown once, with the Kubo line), use it, revoke it", async () => {
    await page.getByRole("link", { name: "Device tokens" }).click();
    await page.getByRole("heading", { name: "Device tokens", level: 1 }).waitFor();
    await page.getByText(/^2 tokens$/).waitFor(); // this console's own and the test's
    await page.getByLabel("Label").fill("laptop");
    await page.getByLabel("Expires after").selectOption({ label: "30 days" });
    await page.getByLabel("Your password").fill("wrong");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong password." }).waitFor();
    await page.getByLabel("Your password").fill("dev");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.locator("#new-token").waitFor();
    const token = await page.getByLabel("Token", { exact: true }).inputValue();
    assert.match(token, /^eyJ/);
    assert.equal(
      await page.locator("#fresh-kubo").inputValue(),
      `ipfs pin remote service add edge ${server.base} ${token}`,
    );
    const listed = (await api("GET", "/tokens")).body.results.find((t) => t.label === "laptop");
    await page.locator(`tr[data-token-id="${listed.id}"]`).waitFor();
    await shot(page, "tokens", { fullPage: true });
    await page.getByRole("button", { name: "Copy token" }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    const used = await api("GET", "/pins?limit=1", { token });
    assert.equal(used.status, 200);
    assert.equal(used.body.count, 37);
    const days = (Date.parse(listed.expires_at) - Date.parse(listed.created)) / 86400e3;
    assert.ok(Math.abs(days - 30) < 0.01, `${days} days`);
    await page.getByRole("button", { name: "Done: I have copied it" }).click();
    assert.ok(!(await page.content()).includes(token), "the token is shown only once");
    await page.getByRole("button", { name: "Revoke laptop" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke token" }).click();
    await page.locator(`tr[data-token-id="${listed.id}"]`).waitFor({ state: "detached" });
    assert.equal((await api("GET", "/pins?limit=1", { token })).status, 401);
    await page.getByRole("link", { name: "Pins" }).click();
  });

  test("works on a 360-pixel-wide phone", async () => {
    const phone = await newPage({ width: 360, height: 780 });
    await phone.goto(server.base + "/");
    const overflow = () => phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(await overflow(), 0);
    await signIn(phone);
    await summary(phone, /^37 pins$/);
    assert.equal(await overflow(), 0, "no sideways scrolling");
    // Every row's controls stay inside the screen.
    const right = await phone.locator("table.pins button, table.pins a").evaluateAll((els) => Math.max(...els.map((e) => e.getBoundingClientRect().right)));
    assert.ok(right <= 360, `a control reaches x=${right}`);
    await shot(phone, "mobile", { fullPage: true, clip: { x: 0, y: 0, width: 360, height: 1000 } });
    await phone.getByRole("link", { name: "notes.md" }).click();
    await phone.getByRole("heading", { name: "notes.md", level: 1 }).waitFor();
    assert.equal(await overflow(), 0, "details fit too");
    await phone.context().close();
  });

  test("signs in and adds a pin by keyboard alone", async () => {
    const kb = await newPage();
    await kb.goto(server.base + "/");
    await kb.getByRole("heading", { name: "Sign in" }).waitFor();
    const focused = () => kb.evaluate(() => document.activeElement?.id ?? "");
    assert.equal(await focused(), "signin-user", "the user name field has the focus");
    await kb.keyboard.type("dev");
    await kb.keyboard.press("Tab");
    assert.equal(await focused(), "signin-password");
    await kb.keyboard.type("dev");
    await kb.keyboard.press("Enter");
    await kb.getByRole("heading", { name: "Pins", level: 1 }).waitFor();
    await summary(kb, /^37 pins$/);
    let presses = 0;
    while ((await focused()) !== "add-cid") {
      assert.ok(++presses < 20, "the CID field is reachable with Tab");
      await kb.keyboard.press("Tab");
    }
    await kb.keyboard.type(cid(50));
    await kb.keyboard.press("Tab");
    assert.equal(await focused(), "add-name");
    await kb.keyboard.type("typed");
    await kb.keyboard.press("Enter");
    await summary(kb, /^38 pins$/);
    const truth = await allPins();
    assert.equal(truth.results[0].pin.name, "typed");
    assert.equal(truth.results[0].pin.cid, cid(50));
    // The confirmation dialog is keyboard-operable too: Escape cancels it.
    await kb.getByRole("button", { name: "Delete typed" }).focus();
    await kb.keyboard.press("Enter");
    await kb.getByRole("dialog").waitFor();
    await kb.keyboard.press("Escape");
    await kb.getByRole("dialog").waitFor({ state: "hidden" });
    assert.equal((await allPins()).count, 38);
    await kb.getByRole("button", { name: "Sign out" }).click();
    await kb.context().close();
  });

  test("sign-out revokes the console's own token", async () => {
    const s = JSON.parse(await page.evaluate(() => Object.values(sessionStorage)[0]));
    assert.equal((await api("GET", "/pins?limit=1", { token: s.token })).status, 200);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByText("Signed out. This tab's token is revoked.").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal((await api("GET", "/pins?limit=1", { token: s.token })).status, 401);
  });

  test("over the sign-in limit: a clear message with the wait", async () => {
    let status = 0;
    for (let i = 0; i < 2000 && status !== 429; i++) {
      status = (await api("POST", "/token", { basic: ["dev", "wrong"] })).status;
    }
    assert.equal(status, 429);
    await signIn(page, "wrong-again");
    await page.getByRole("alert").filter({ hasText: /Too many requests\. Wait \d+ seconds/ }).waitFor();
  });

  test("an unreachable service gets a clear message", async () => {
    await server.stop();
    await signIn(page);
    await page.getByRole("alert").filter({ hasText: "The service can't be reached." }).waitFor();
  });
});
