// The console's CAR packing (console/js/pack.js) against @ipld/unixfs, the library ipfs-car packs
// with, over sizes that make every shape of file tree: a single raw block, one level of links, and
// deeper trees (small chunks and nodes stand in for 1 MiB and 1024, which need gigabytes). The
// browser test (r2.test.mjs) checks the real layout against the ipfs-car command itself.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { CarBlockIterator } from "@ipld/car";
import * as UnixFS from "@ipld/unixfs";
import { withMaxChunkSize } from "@ipld/unixfs/file/chunker/fixed";
import { withWidth } from "@ipld/unixfs/file/layout/balanced";
import { sha256 } from "multiformats/hashes/sha2";
import * as raw from "multiformats/codecs/raw";
import { pack } from "../console/js/pack.js";

async function reference(bytes, chunk, width) {
  const { readable, writable } = new TransformStream();
  const blocks = [];
  const drained = (async () => {
    for await (const b of readable) blocks.push(b.cid.toString());
  })();
  const settings = UnixFS.configure({ fileChunkEncoder: raw, smallFileEncoder: raw, chunker: withMaxChunkSize(chunk), fileLayout: withWidth(width) });
  const writer = UnixFS.createWriter({ writable, settings });
  const file = UnixFS.createFileWriter(writer);
  await file.write(bytes);
  const link = await file.close();
  await writer.close();
  await drained;
  return { cid: link.cid.toString(), blocks: blocks.sort() };
}

test("a file's CID and blocks are those of @ipld/unixfs, for every shape of tree", async () => {
  const [chunk, width] = [16, 4];
  for (const size of [0, 1, 15, 16, 17, 64, 65, 80, 256, 257, 300, 1024, 1025, 1100]) {
    const bytes = randomBytes(size);
    const mine = await pack([new File([bytes], "f")], () => {}, { chunk, width });
    const want = await reference(bytes, chunk, width);
    assert.equal(mine.cid, want.cid, `${size} bytes`);
    const blocks = [];
    const car = await CarBlockIterator.fromBytes(new Uint8Array(await mine.car.arrayBuffer()));
    assert.deepEqual((await car.getRoots()).map(String), [mine.cid]);
    for await (const b of car) {
      assert.deepEqual((await sha256.digest(b.bytes)).digest, b.cid.multihash.digest, "each block hashes to its CID");
      blocks.push(b.cid.toString());
    }
    assert.deepEqual([...new Set(blocks)].sort(), [...new Set(want.blocks)].sort(), `${size} bytes: the same blocks`);
  }
});
