// A real trustless gateway on a loopback port for the r2 backend's tests: web3.storage's
// @web3-storage/gateway-lib handlers (what w3s.link runs) over dagula and an in-memory
// blockstore loaded from CAR files. Only this adapter between them and node:http is ours, with
// the faults a test asks for: corrupt a block's bytes, cut the answer short, or refuse to answer.
import http from "node:http";
import { CarBlockIterator } from "@ipld/car";
import { Dagula } from "dagula";
import { handleBlock, handleCar } from "@web3-storage/gateway-lib/handlers";
import { withErrorHandler, withParsedIpfsUrl } from "@web3-storage/gateway-lib/middleware";

export async function startGateway() {
  const blocks = new Map();
  const store = {
    async get(cid) {
      const bytes = blocks.get(cid.toString());
      return bytes && { cid, bytes };
    },
    async stream(cid) {
      const bytes = blocks.get(cid.toString());
      return bytes && new Blob([bytes]).stream();
    },
    async stat(cid) {
      const bytes = blocks.get(cid.toString());
      return bytes && { size: bytes.length };
    },
  };
  const dagula = new Dagula(store);
  const route = withErrorHandler(
    withParsedIpfsUrl((request, env, ctx) => {
      const raw = ctx.searchParams.get("format") === "raw" ||
        (request.headers.get("accept") ?? "").includes("application/vnd.ipld.raw");
      return raw ? handleBlock(request, env, ctx) : handleCar(request, env, ctx);
    }),
  );
  const gw = {
    /** null, "down", { corruptAt: byte offset }, { cutAfter: bytes } */
    fault: null,
    requests: [],
    bytesServed: 0,
    async load(carBytes) {
      for await (const { cid, bytes } of await CarBlockIterator.fromBytes(carBytes)) {
        blocks.set(cid.toString(), bytes);
      }
    },
    forget(cid) {
      blocks.delete(cid.toString());
    },
  };
  const server = http.createServer(async (req, res) => {
    gw.requests.push(req.url);
    if (gw.fault === "down") {
      req.socket.destroy();
      return;
    }
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers: Object.entries(req.headers).filter(([, v]) => typeof v === "string"),
    });
    const answer = await route(request, {}, { blocks: dagula, dag: dagula, unixfs: dagula });
    const body = Buffer.from(await answer.arrayBuffer());
    const fault = gw.fault;
    if (fault?.corruptAt !== undefined && body.length > fault.corruptAt) {
      body[fault.corruptAt] ^= 0xff;
    }
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    if (fault?.cutAfter !== undefined && body.length > fault.cutAfter) {
      res.write(body.subarray(0, fault.cutAfter));
      gw.bytesServed += fault.cutAfter;
      res.socket.destroy();
      return;
    }
    gw.bytesServed += body.length;
    res.end(body);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  gw.url = `http://127.0.0.1:${server.address().port}`;
  gw.close = () => new Promise((ok) => server.close(ok));
  return gw;
}
