// Gives the built worker (build/index.js, worker-build's bundle) a plain-object entry in place
// of workers-rs's entrypoint class behind two proxies.
//
// For every request, workers-rs's shim constructs a proxy of a new instance of its entrypoint
// class (spreading a dozen traps into a new handler object), wraps the looked-up `fetch` in a
// second proxy, and awaits it in an `async` trap: ~0.02-0.03 ms of CPU per request in workerd,
// a few per cent of a KV get (README, "Request overhead"). The plain entry calls the same
// handlers with the same arguments and keeps what the shim's proxies are there for: the check
// that re-initialises the wasm instance after a trap, before every call, and the handler that
// marks a trap as critical, on every synchronous throw and rejection. (The instance re-made
// after a reset does not apply: a plain object holds no per-instance state.) The Durable
// Object classes keep the shim's proxies.
//
// The bundle is minified, so names are found by shape; any shape not found fails the build
// rather than leaving a half-patched worker. Checked against worker-build 0.8.7
// (scripts/setup.sh pins it).
//
//   node scripts/lean-entry.mjs build/index.js
import { readFileSync, writeFileSync } from "node:fs";

const path = process.argv[2];
const js = readFileSync(path, "utf8");
const id = "[A-Za-z_$][\\w$]*";
const esc = (name) => name.replaceAll("$", "\\$");

function fail(why) {
  console.error(`lean-entry: ${why} (has worker-build changed its shim?)`);
  process.exit(1);
}

function find(what, re) {
  const all = [...js.matchAll(new RegExp(re, "g"))];
  if (all.length !== 1) fail(`${what}: found ${all.length} times in ${path}, expected once`);
  return all[0];
}

const [, entry] = find("the default export", `(${id}) as default\\}`);
const [proxy, entryClass] = find("the entrypoint's proxy", `(?<![\\w$])${esc(entry)}=new Proxy\\((${id}),(${id})\\)`);
const [, reinit] = find("the re-initialisation check", `function (${id})\\(\\)\\{${id}\\.criticalError&&\\(console\\.log\\("Reinitializing Wasm application"\\)`);
const [, critical] = find("the trap handler", `function (${id})\\((${id})\\)\\{\\2 instanceof WebAssembly\\.RuntimeError&&`);
const handlers = [...js.matchAll(new RegExp(`(?<![\\w$])${esc(entryClass)}\\.prototype\\.(fetch|queue|scheduled)=function`, "g"))].map((m) => m[1]);
if (!handlers.includes("fetch")) fail(`no fetch handler on the entrypoint class in ${path}`);

// The parameters' names are ones the minifier does not make (it never writes `lean$…`), so
// that they shadow none of the names above.
if ([entryClass, reinit, critical].some((n) => n.startsWith("lean$"))) fail("a minified name clashes with the entry's parameters");
// Each handler reads `this.env` and `this.ctx` (the entrypoint class's fields): it is called on
// an object that has just those.
const methods = handlers.map(
  (h) =>
    `${h}(lean$a,lean$env,lean$ctx){${reinit}();try{return ${entryClass}.prototype.${h}.call({env:lean$env,ctx:lean$ctx},lean$a).then(void 0,lean$e=>{throw ${critical}(lean$e),lean$e})}catch(lean$e){throw ${critical}(lean$e),lean$e}}`,
);
writeFileSync(path, js.replace(proxy, `${entry}={${methods.join(",")}}`));
console.error(`lean-entry: ${path}: a plain entry for ${handlers.join(", ")}`);
