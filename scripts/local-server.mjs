// The built worker served on a loopback port by Miniflare, configured from a wrangler config file
// the way `wrangler dev` configures it (wrangler's own reader: bindings, .dev.vars beside the
// file, Durable Objects, queues, rate limits, the console's static assets and their _headers),
// but without wrangler dev's ProxyWorker in front. That proxy reaches the worker over a pooled
// HTTP connection between two workerd processes, and a request sent on it just as both ends'
// 5 s idle timers fire is answered 503 "Your worker restarted mid-request" although nothing
// restarted (cloudflare/workers-sdk#14641; only GET and HEAD are retried). It failed one CI run
// of the fuzz suite on a DELETE. Here the port is workerd's own socket and the worker sits
// behind a service binding in the same process. State is in memory: fresh for every start.
//
//   node scripts/local-server.mjs --config F [--port P]
//     serves until SIGTERM or SIGINT; prints "Ready on <url>" once it answers.
import { Miniflare } from "miniflare";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/**
 * Starts the worker that `config` (a wrangler.toml or .json; main, [assets] and .dev.vars resolve
 * beside it) describes, on 127.0.0.1:`port` (0: a free one). `vars` override its variables as
 * wrangler's --var does. Returns { base, port, stop }.
 */
export async function startLocal({ config, port = 0, vars = {}, handleRuntimeStdio }) {
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config);
  if (!main || !existsSync(main)) {
    throw new Error(`${main ?? "main"} is missing: run 'bash scripts/build.sh' first`);
  }
  const options = {
    ...workerOptions,
    bindings: { ...workerOptions.bindings, ...vars },
    modules: true,
    scriptPath: main,
    host: "127.0.0.1",
    port,
  };
  if (handleRuntimeStdio) options.handleRuntimeStdio = handleRuntimeStdio;
  const mf = new Miniflare(options);
  const url = await mf.ready;
  let stopped;
  // Idempotent, as stopping a process that has exited is: a test may stop it early.
  const stop = () => (stopped ??= mf.dispose());
  return { base: url.origin, port: Number(url.port), stop };
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--config") args.config = value;
    else if (flag === "--port") args.port = Number(value);
    else throw new Error(`unknown option ${flag}`);
  }
  if (!args.config) throw new Error("--config is required");
  return args;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  let server;
  try {
    server = await startLocal(parseArgs(process.argv.slice(2)));
  } catch (e) {
    console.error(`local-server: ${e.message}`);
    process.exit(2);
  }
  console.log(`Ready on ${server.base}`);
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
