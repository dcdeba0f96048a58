// The web console's size budget: every file console/ serves, raw and gzipped, against the
// documented budget (README, "Console"). Exits 1 over budget. `npm run console:size`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const BUDGET_GZIP_BYTES = 32 * 1024;
const dir = fileURLToPath(new URL("../console", import.meta.url));

function files(d) {
  return readdirSync(d).flatMap((name) => {
    const p = join(d, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

// _headers configures the asset server and is never sent to a browser.
const served = files(dir).filter((p) => !p.endsWith("_headers")).sort();
let raw = 0;
let gz = 0;
const rows = served.map((p) => {
  const bytes = readFileSync(p);
  const z = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gz += z;
  return [relative(dir, p), bytes.length, z];
});
const w = Math.max(...rows.map((r) => r[0].length), 5);
console.log(`${"file".padEnd(w)}  ${"bytes".padStart(7)}  ${"gzipped".padStart(7)}`);
for (const [name, b, z] of rows) console.log(`${name.padEnd(w)}  ${String(b).padStart(7)}  ${String(z).padStart(7)}`);
console.log(`${"total".padEnd(w)}  ${String(raw).padStart(7)}  ${String(gz).padStart(7)}`);
const verdict = gz <= BUDGET_GZIP_BYTES ? "within" : "OVER";
console.log(
  `console: ${served.length} files, ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzipped: ` +
    `${verdict} the budget of ${BUDGET_GZIP_BYTES / 1024} KiB gzipped`,
);
if (gz > BUDGET_GZIP_BYTES) process.exit(1);
