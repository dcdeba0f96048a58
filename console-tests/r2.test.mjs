// The console where the service keeps content (PIN_BACKEND=r2): real Chromium against the
// repo's configuration (scripts/local-server.mjs) with wrangler.toml's R2 bucket and queue enabled, no reachable gateway (so
// uploads are the only content) and a quota. The Usage view, .car upload, sizes and the "open"
// link, each checked against the API itself; screenshots of the Usage view and sized pins.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { cid } from "../miniflare-tests/harness.mjs";
import { openPage, shot, signIn, summary } from "./browser.mjs";
import { freePort, R2_BINDINGS, root, startDev } from "./dev-server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const QUOTA = 4_000_000;

let server;
let browser;
let page;
let dir;
const seen = { dialogs: [], pageErrors: [] };

let token; // the test's own: Basic on every call would spend the sign-in budget (20 a minute)

async function api(method, path, { body, type } = {}) {
  if (!token) {
    const res = await fetch(`${server.base}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("dev:dev").toString("base64")}` },
    });
    token = (await res.json()).token;
  }
  const headers = { authorization: `Bearer ${token}` };
  if (type) headers["content-type"] = type;
  const res = await fetch(`${server.base}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** The CAR of `path` (a file or a directory) as `ipfs-car pack PATH --no-wrap` makes it. */
function ipfsCar(path) {
  const car = `${path}.car`;
  const made = execFileSync(process.execPath, [join(root, "node_modules/.bin/ipfs-car"), "pack", path, "--no-wrap", "--output", car]);
  return { car, cid: made.toString().trim() };
}

/** A file of `size` random bytes, and its CAR from ipfs-car. */
function packed(name, size) {
  const file = join(dir, name);
  const bytes = randomBytes(size);
  writeFileSync(file, bytes);
  return { file, bytes, ...ipfsCar(file) };
}

async function served(path) {
  const res = await fetch(`${server.base}${path}`);
  assert.equal(res.status, 200, path);
  return Buffer.from(await res.arrayBuffer());
}

/** Chooses `files` in the upload form and sends them. */
async function upload(files, name) {
  await page.getByLabel("Files", { exact: true }).setInputFiles(files);
  if (name) await page.locator("#car-name").fill(name);
  await page.getByRole("button", { name: "Upload", exact: true }).click();
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  assert.ok(existsSync(join(root, "build/index.js")), "build/index.js is missing: run `bash scripts/build.sh` first");
  dir = mkdtempSync(join(tmpdir(), "console-r2-"));
  const closed = await freePort(); // nobody listens there: content comes only from uploads
  server = await startDev({
    vars: { PIN_BACKEND: "r2", GATEWAYS: `http://127.0.0.1:${closed}`, QUOTA_BYTES: String(QUOTA), R2_RETRY_SECONDS: "3600" },
    toml: R2_BINDINGS,
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await openPage(browser, server.base, seen);
});

afterEach(() => assert.deepEqual(seen.pageErrors, [], "no uncaught errors in the page"));

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("web console with the r2 backend", () => {
  test("shows Usage and the .car upload once the service answers GET /usage", async () => {
    assert.equal((await api("GET", "/usage")).status, 200);
    await page.goto(server.base + "/");
    await signIn(page);
    await page.getByText("No pins yet.").waitFor();
    assert.ok(await page.getByRole("link", { name: "Usage" }).isVisible());
    assert.ok(await page.getByRole("heading", { name: "Upload files" }).isVisible());
  });

  test("uploads a .car made by ipfs-car: pinned, with its size and an open link serving the bytes", async () => {
    const photo = packed("photo.bin", 1_572_864); // two 1 MiB leaves' worth: a dag-pb root over raw leaves
    await upload(photo.car, "holiday photo");
    await page.getByRole("status").filter({ hasText: `Uploaded photo.bin.car: ${photo.cid} is pinned (1.50 MiB).` }).waitFor();
    const truth = await api("GET", `/pins?cid=${photo.cid}`);
    assert.equal(truth.body.count, 1);
    const pin = truth.body.results[0];
    assert.equal(pin.status, "pinned");
    assert.equal(pin.pin.name, "holiday photo");
    const dagSize = Number(pin.info.dag_size);
    assert.ok(dagSize > photo.bytes.length && dagSize < photo.bytes.length + 1000, `dag_size ${dagSize}`);
    // The list shows the new pin first, highlighted, with its exact size and the open link.
    await summary(page, /^1 pin$/);
    const row = page.locator(`tr[data-requestid="${pin.requestid}"]`);
    assert.equal(await row.getAttribute("class"), "highlight");
    assert.equal(await row.locator(".badge").textContent(), "pinned");
    const size = row.locator("data.bytes");
    assert.equal(await size.getAttribute("value"), String(dagSize));
    assert.equal(await size.textContent(), "1.50 MiB");
    const open = row.getByRole("link", { name: "Open holiday photo" });
    const href = await open.getAttribute("href");
    assert.equal(href, `/ipfs/${photo.cid}`);
    assert.ok((await served(href)).equals(photo.bytes), "the open link serves the file's bytes");
    // And the browser opens it, in a new tab.
    const [tab, res] = await Promise.all([
      page.context().waitForEvent("page"),
      page.context().waitForEvent("response", (r) => new URL(r.url()).pathname === href),
      open.click(),
    ]);
    assert.equal(res.status(), 200);
    await tab.close();
    // The pin's own page shows the size too.
    await row.getByRole("link", { name: "holiday photo", exact: true }).click();
    await page.getByRole("heading", { name: "holiday photo", level: 1 }).waitFor();
    assert.equal(await page.locator("dl.facts data.bytes").getAttribute("value"), String(dagSize));
    await page.getByRole("link", { name: "← All pins" }).click();
  });

  test("packs a plain file in the page: the CID ipfs-car gives it, pinned under the file's name", async () => {
    const notes = packed("notes.bin", 1_153_434); // 1.1 MiB: two chunks
    await upload(notes.file);
    await page.getByRole("status").filter({ hasText: `Uploaded notes.bin: ${notes.cid} is pinned` }).waitFor();
    const truth = (await api("GET", `/pins?cid=${notes.cid}`)).body;
    assert.equal(truth.count, 1, `the page packed ${notes.file} as ipfs-car does`);
    assert.equal(truth.results[0].pin.name, "notes.bin");
    assert.equal(truth.results[0].status, "pinned");
    assert.ok((await served(`/ipfs/${notes.cid}`)).equals(notes.bytes));
  });

  test("packs several files into a directory, as ipfs-car packs the directory holding them", async () => {
    const site = join(dir, "site");
    mkdirSync(site);
    const files = { "index.html": "<h1>Hello</h1>\n", "notes – ünïcode.txt": "text\n".repeat(500), "a.css": "h1{color:red}" };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(site, name), text);
    const want = ipfsCar(site);
    await upload(Object.keys(files).map((name) => join(site, name)), "my site");
    await page.getByRole("status").filter({ hasText: `Uploaded 3 files: ${want.cid} is pinned` }).waitFor();
    const truth = (await api("GET", `/pins?cid=${want.cid}`)).body;
    assert.equal(truth.count, 1);
    assert.equal(truth.results[0].pin.name, "my site");
    for (const [name, text] of Object.entries(files)) {
      assert.equal((await served(`/ipfs/${want.cid}/${encodeURIComponent(name)}`)).toString(), text);
    }
  });

  test("an invalid .car: the API's reason, shown as an error, and nothing pinned", async () => {
    const broken = join(dir, "broken.car");
    writeFileSync(broken, randomBytes(4096));
    const direct = await api("POST", "/car", { body: readFileSync(broken), type: "application/vnd.ipld.car" });
    assert.equal(direct.status, 400);
    assert.match(direct.body.error.details, /^car/);
    await upload(broken);
    const alert = page.getByRole("alert").filter({ hasText: "broken.car is not a CAR the service accepts" });
    await alert.waitFor();
    assert.ok((await alert.textContent()).includes(direct.body.error.details), await alert.textContent());
    assert.equal((await api("GET", "/pins?status=queued,pinning,pinned,failed")).body.count, 3);
  });

  test("an upload over the quota: the quota message, and nothing pinned", async () => {
    // A megabyte past the room left: refused while the browser is still sending it. The worker
    // reads the rest before answering; an answer before the body's end is what wrangler dev's
    // proxy turns into a 503 "worker restarted mid-request" (workerd issue 4660).
    const before = (await api("GET", "/usage")).body;
    const big = packed("big.bin", QUOTA - before.bytes + 1_000_000);
    const direct = await api("POST", "/car", { body: readFileSync(big.car), type: "application/vnd.ipld.car" });
    assert.equal(direct.status, 403);
    assert.equal(direct.body.error.reason, "QUOTA_EXCEEDED");
    assert.match(direct.body.error.details, new RegExp(`quota of ${QUOTA} bytes`), "names the quota, not the room left");
    await upload(big.car);
    const alert = page.getByRole("alert").filter({ hasText: "Over your storage quota" });
    await alert.waitFor();
    const text = await alert.textContent();
    assert.ok(text.includes(direct.body.error.details), text);
    assert.ok(text.includes("of your 3.81 MiB"), `the quota in words: ${text}`);
    assert.equal((await api("GET", `/pins?cid=${big.cid}`)).body.count, 0);
    assert.deepEqual((await api("GET", "/usage")).body, before);
  });

  test("the Usage view: pins per status and bytes against the quota, as GET /usage says", async () => {
    // A pin no source can give: it waits (queued or pinning) beside the uploaded one.
    assert.equal((await api("POST", "/pins", { body: JSON.stringify({ cid: cid(7), name: "waiting" }), type: "application/json" })).status, 202);
    const usage = (await api("GET", "/usage")).body;
    assert.equal(usage.pins.pinned, 3);
    assert.equal(usage.pins.queued + usage.pins.pinning, 1);
    assert.equal(usage.quota_bytes, QUOTA);
    await page.getByRole("link", { name: "Usage" }).click();
    await page.getByRole("heading", { name: "Usage", level: 1 }).waitFor();
    await page.locator("ul.counts").waitFor();
    const counts = Object.fromEntries(
      await page.locator("ul.counts li").evaluateAll((lis) => lis.map((li) => [li.querySelector(".badge").textContent, li.querySelector("strong").textContent])),
    );
    assert.deepEqual(counts, Object.fromEntries(Object.entries(usage.pins).map(([k, v]) => [k, String(v)])));
    const meter = page.getByRole("meter", { name: /used/ });
    assert.equal(Number(await meter.getAttribute("value")), usage.bytes);
    assert.equal(Number(await meter.getAttribute("max")), usage.quota_bytes);
    const label = await page.locator("label[for=usage-meter]").textContent();
    const [, pct] = label.match(/^\d\.\d\d MiB of 3\.81 MiB used \((\d+)%\)$/) ?? [];
    assert.equal(Number(pct), Math.round((100 * usage.bytes) / QUOTA), label);
    await shot(page, "usage", { clip: { x: 0, y: 0, width: 1024, height: 440 } });
    await page.getByRole("link", { name: "Pins" }).click();
    await summary(page, /^4 pins$/);
    await shot(page, "pins-sized", { fullPage: true });
  });

  test("uploads and sizes fit a 360-pixel-wide phone", async () => {
    const phone = await openPage(browser, server.base, seen, { width: 360, height: 780 });
    await phone.goto(server.base + "/");
    await signIn(phone);
    await summary(phone, /^4 pins$/);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, "no sideways scrolling");
    const right = await phone.locator("form.upload input, form.upload button, table.pins a").evaluateAll((els) => Math.max(...els.map((e) => e.getBoundingClientRect().right)));
    assert.ok(right <= 360, `a control reaches x=${right}`);
    await phone.context().close();
  });
});
