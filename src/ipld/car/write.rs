//! CARv1 output, byte for byte what `@ipld/car` and Kubo write.

use crate::ipld::varint;
use cid::Cid;

/// The header: `{"roots": [CID…], "version": 1}` as canonical dag-cbor (keys sorted by length),
/// behind its length varint.
pub fn header(roots: &[Cid]) -> Vec<u8> {
    let mut body = Vec::new();
    body.push(0xa2); // map of two pairs
    text(&mut body, "roots");
    head(&mut body, 4, roots.len() as u64);
    for root in roots {
        let cid = root.to_bytes();
        head(&mut body, 6, 42);
        head(&mut body, 2, cid.len() as u64 + 1);
        body.push(0); // the multibase identity prefix dag-cbor links carry
        body.extend_from_slice(&cid);
    }
    text(&mut body, "version");
    body.push(0x01);
    let mut out = Vec::with_capacity(body.len() + 2);
    varint::write(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

/// One block's section: length varint, binary CID, bytes.
pub fn block_section(cid: &Cid, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(section_len(cid, bytes.len()) as usize);
    extend_block_section(&mut out, cid, bytes);
    out
}

/// Appends one block's section to `out`.
pub fn extend_block_section(out: &mut Vec<u8>, cid: &Cid, bytes: &[u8]) {
    let cid = cid.to_bytes();
    varint::write(out, (cid.len() + bytes.len()) as u64);
    out.extend_from_slice(&cid);
    out.extend_from_slice(bytes);
}

/// What comes before a block's bytes in its section: length varint and binary CID.
pub fn section_prefix(cid: &Cid, block_len: usize) -> Vec<u8> {
    let cid = cid.to_bytes();
    let mut out = Vec::with_capacity(cid.len() + 4);
    varint::write(&mut out, (cid.len() + block_len) as u64);
    out.extend_from_slice(&cid);
    out
}

/// The length of a block's section, for a `Content-Length` known before any block is read.
pub fn section_len(cid: &Cid, block_len: usize) -> u64 {
    let body = (cid.encoded_len() + block_len) as u64;
    varint::len(body) as u64 + body
}

fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    match arg {
        0..=23 => out.push(m | arg as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}
