// Plain files packed into a CARv1 in the page, laid out as `ipfs-car pack` lays them out (so a
// file gets the same CID here as there): 1 MiB chunks as raw blocks, a file of one chunk is
// that raw block, a longer one a balanced tree of UnixFS dag-pb nodes of up to 1024 links;
// several files become a UnixFS directory of them. sha2-256 from the browser (crypto.subtle).

export const MAX_FILES = 1000; // beyond this ipfs-car shards the directory (HAMT); not done here
const RAW = 0x55;
const DAG_PB = 0x70;

function varint(n, out = []) {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

const cat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
};

// Protocol buffers: a length-delimited field, a varint field.
const bytesField = (tag, b) => cat([Uint8Array.from(varint(tag * 8 + 2)), Uint8Array.from(varint(b.length)), b]);
const intField = (tag, n) => Uint8Array.from(varint(tag * 8, []).concat(varint(n)));

async function cidOf(codec, bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return cat([Uint8Array.of(1, ...varint(codec), 0x12, 0x20), digest]);
}

const B32 = "abcdefghijklmnopqrstuvwxyz234567";
/** A CID's text: multibase base32, as ipfs-car prints it. */
export function cidText(cid) {
  let s = "b";
  let bits = 0;
  let acc = 0;
  for (const b of cid) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) s += B32[(acc >>> (bits -= 5)) & 31];
    acc &= (1 << bits) - 1;
  }
  return bits ? s + B32[(acc << (5 - bits)) & 31] : s;
}

/** A dag-pb node: its links first, then its data (the canonical order). */
function pbNode(data, links) {
  const parts = links.map((l) =>
    bytesField(2, cat([bytesField(1, l.cid), bytesField(2, new TextEncoder().encode(l.name)), intField(3, l.tsize)])),
  );
  parts.push(bytesField(1, data));
  return cat(parts);
}

/**
 * Packs `files` (File objects). Returns the root CID's text and the CAR as a Blob. `layout`
 * is for tests: smaller chunks and nodes show the tree's shape on small files.
 */
export async function pack(files, onProgress = () => {}, { chunk: CHUNK = 1 << 20, width: WIDTH = 1024 } = {}) {
  if (files.length > MAX_FILES) throw new Error(`Choose at most ${MAX_FILES} files at once.`);
  if (!globalThis.crypto?.subtle) {
    throw new Error("Packing files needs the console over https (the browser hashes only there); send a .car instead.");
  }
  const blocks = [];
  const put = async (codec, bytes) => {
    const cid = await cidOf(codec, bytes);
    blocks.push(Uint8Array.from(varint(cid.length + bytes.length)), cid, bytes);
    return cid;
  };
  const total = files.reduce((n, f) => n + f.size, 0);
  let done = 0;

  async function packFile(f) {
    // Each node: { cid, tsize (the whole subtree's bytes), size (the file bytes under it) }.
    let level = [];
    for (let at = 0; at < f.size || (at === 0 && level.length === 0); at += CHUNK) {
      const chunk = new Uint8Array(await f.slice(at, at + CHUNK).arrayBuffer());
      level.push({ cid: await put(RAW, chunk), tsize: chunk.length, size: chunk.length });
      onProgress((done += chunk.length), total);
    }
    while (level.length > 1) {
      const up = [];
      for (let i = 0; i < level.length; i += WIDTH) {
        const kids = level.slice(i, i + WIDTH);
        const size = kids.reduce((n, k) => n + k.size, 0);
        const data = cat([intField(1, 2), intField(3, size), ...kids.map((k) => intField(4, k.size))]);
        const node = pbNode(data, kids.map((k) => ({ ...k, name: "" })));
        up.push({ cid: await put(DAG_PB, node), tsize: node.length + kids.reduce((n, k) => n + k.tsize, 0), size });
      }
      level = up;
    }
    return level[0];
  }

  let root;
  if (files.length === 1) {
    root = (await packFile(files[0])).cid;
  } else {
    const names = new Set();
    const links = [];
    for (const f of files) {
      if (names.has(f.name)) throw new Error(`Two files are named ${f.name}.`);
      names.add(f.name);
      links.push({ name: f.name, ...(await packFile(f)) });
    }
    // dag-pb sorts a directory's links by the bytes of their names.
    const key = (l) => Array.from(new TextEncoder().encode(l.name), (b) => String.fromCharCode(b)).join("");
    links.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    root = await put(DAG_PB, pbNode(intField(1, 1), links));
  }
  // The CAR's header: dag-cbor {"roots": [root], "version": 1}, the CID as tag 42.
  const header = cat([
    Uint8Array.of(0xa2, 0x65, ...new TextEncoder().encode("roots"), 0x81, 0xd8, 0x2a, 0x58, root.length + 1, 0),
    root,
    Uint8Array.of(0x67, ...new TextEncoder().encode("version"), 0x01),
  ]);
  return { cid: cidText(root), car: new Blob([Uint8Array.from(varint(header.length)), header, ...blocks]) };
}
