// Page-side helpers of the console tests: a page per context, sign-in, the pin list's rows and
// summary, and screenshots (each one also checks the page for CSP refusals and unnamed controls).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { root } from "./dev-server.mjs";

export const DESKTOP = { width: 1024, height: 720 };
// Where the screenshots go: docs/console/ (committed, shown in the README) unless redirected.
const SHOTS = process.env.CONSOLE_SCREENSHOTS_DIR || join(root, "docs/console");

/**
 * A page in a fresh context (its own sessionStorage), light, without motion. Alerts and uncaught
 * errors are pushed to `seen.dialogs` and `seen.pageErrors`; CSP refusals to window.__violations.
 */
export async function openPage(browser, base, seen, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: "light", reducedMotion: "reduce" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  // Anything the Content-Security-Policy refuses is recorded (init scripts run outside the policy).
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const p = await context.newPage();
  p.on("dialog", (d) => {
    seen.dialogs.push(d.message());
    d.dismiss();
  });
  p.on("pageerror", (e) => seen.pageErrors.push(e.message));
  return p;
}

export async function signIn(p, password = "dev") {
  await p.getByLabel("User name").fill("dev");
  await p.getByLabel("Password", { exact: true }).fill(password);
  await p.getByRole("button", { name: "Sign in" }).click();
}

/** The requestids of the rows shown, in order. */
export function rowIds(p) {
  return p.locator("table.pins tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.requestid));
}

export async function summary(p, pattern) {
  await p.waitForFunction(
    ([src, flags]) => new RegExp(src, flags).test(document.getElementById("pins-summary")?.textContent ?? ""),
    [pattern.source, pattern.flags],
  );
  return p.locator("#pins-summary").textContent();
}

export async function shot(p, name, options = {}) {
  mkdirSync(SHOTS, { recursive: true });
  assert.deepEqual(await p.evaluate(() => window.__violations), [], "the page's own files break no CSP rule");
  // Every control shown has a name: its text, a <label>, or aria-label / aria-labelledby.
  const unnamed = await p.evaluate(() =>
    [...document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")]
      .filter((el) => el.getClientRects().length > 0 && el.tagName !== "MAIN" && !/^H\d$/.test(el.tagName))
      .filter((el) => {
        const labelled = el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
        const text = ["A", "BUTTON"].includes(el.tagName) && el.textContent.trim();
        return !(labelled || text || (el.labels && el.labels.length > 0));
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unnamed, [], "controls without an accessible name");
  await p.evaluate(() => {
    document.activeElement?.blur();
    document.getElementById("toast").classList.remove("shown"); // a message left from an earlier step
  });
  await p.waitForFunction(() => getComputedStyle(document.getElementById("toast")).opacity === "0");
  await p.screenshot({ path: join(SHOTS, `${name}.png`), ...options });
}
