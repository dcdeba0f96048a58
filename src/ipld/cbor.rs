//! Just enough CBOR for dag-cbor: walk a value to find its links (tag 42) and read the CAR
//! header. The walk keeps its own stack, so nesting costs heap, bounded by `MAX_DEPTH`,
//! never the call stack.

use cid::Cid;

/// Nesting deeper than this is refused. Real dag-cbor rarely nests past a few dozen levels;
/// the bound keeps a 2 MiB block of `[[[[…` from costing more than a few KiB of stack frames.
const MAX_DEPTH: usize = 4096;

/// The tag dag-cbor gives links.
const TAG_CID: u64 = 42;

pub type Result<T> = core::result::Result<T, &'static str>;

pub struct Decoder<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let rest = &self.buf[self.pos..];
        if n > rest.len() as u64 {
            return Err("truncated");
        }
        let n = n as usize;
        self.pos += n;
        Ok(&rest[..n])
    }

    /// Reads an item's head: major type, additional information and argument.
    pub fn head(&mut self) -> Result<(u8, u8, u64)> {
        let first = self.take(1)?[0];
        let (major, info) = (first >> 5, first & 0x1f);
        let arg = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let n = 1u64 << (info - 24);
                self.take(n)?
                    .iter()
                    .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            }
            31 => return Err("indefinite-length items are not dag-cbor"),
            _ => return Err("reserved additional information"),
        };
        Ok((major, info, arg))
    }

    /// Reads a text string (major type 3).
    pub fn text(&mut self) -> Result<&'a str> {
        match self.head()? {
            (3, _, len) => core::str::from_utf8(self.take(len)?).map_err(|_| "invalid UTF-8"),
            _ => Err("expected a text string"),
        }
    }

    /// Reads the byte string that follows tag 42: a zero byte, then a binary CID filling it.
    pub fn cid_payload(&mut self) -> Result<Cid> {
        let bytes = match self.head()? {
            (2, _, len) => self.take(len)?,
            _ => return Err("tag 42 must wrap a byte string"),
        };
        match bytes.split_first() {
            Some((0, cid)) => parse_cid(cid),
            _ => Err("tag 42 bytes must start with a zero byte"),
        }
    }

    /// Reads a link: tag 42 and its payload.
    pub fn link(&mut self) -> Result<Cid> {
        match self.head()? {
            (6, _, TAG_CID) => self.cid_payload(),
            _ => Err("expected a link (tag 42)"),
        }
    }

    /// Walks one whole item, calling `on_link` with every CID in it, in order.
    pub fn skip(&mut self, on_link: &mut dyn FnMut(Cid)) -> Result<()> {
        // Items left at the current level, and the levels above that still have items left.
        let mut pending: u64 = 1;
        let mut above: Vec<u64> = Vec::new();
        loop {
            while pending == 0 {
                match above.pop() {
                    Some(p) => pending = p,
                    None => return Ok(()),
                }
            }
            pending -= 1;
            let (major, info, arg) = self.head()?;
            let items = match major {
                0 | 1 => 0,
                2 => {
                    self.take(arg)?;
                    0
                }
                3 => {
                    core::str::from_utf8(self.take(arg)?).map_err(|_| "invalid UTF-8")?;
                    0
                }
                4 => arg,
                5 => arg.checked_mul(2).ok_or("map too large")?,
                6 if arg == TAG_CID => {
                    on_link(self.cid_payload()?);
                    0
                }
                6 => return Err("tags other than 42 are not dag-cbor"),
                _ => match info {
                    20..=22 | 25..=27 => 0, // false, true, null, floats
                    _ => return Err("simple value not allowed in dag-cbor"),
                },
            };
            if items > 0 {
                // A level with nothing left after this item needs no frame.
                if pending > 0 {
                    if above.len() == MAX_DEPTH {
                        return Err("nested too deeply");
                    }
                    above.push(pending);
                }
                pending = items;
            }
        }
    }
}

/// Parses a binary CID that must fill `bytes` exactly.
pub fn parse_cid(bytes: &[u8]) -> Result<Cid> {
    match Cid::try_from(bytes) {
        Ok(cid) if cid.encoded_len() == bytes.len() => Ok(cid),
        Ok(_) => Err("bytes after a CID"),
        Err(_) => Err("invalid CID"),
    }
}

/// Every link in a dag-cbor block, which must be exactly one CBOR item.
pub fn links(bytes: &[u8]) -> Result<Vec<Cid>> {
    let mut d = Decoder::new(bytes);
    let mut out = Vec::new();
    d.skip(&mut |c| out.push(c))?;
    if !d.at_end() {
        return Err("bytes after the value");
    }
    Ok(out)
}

/// Parses the binary CID at the start of `bytes`; its `encoded_len` says where it ends.
pub fn parse_cid_prefix(bytes: &[u8]) -> Result<Cid> {
    Cid::try_from(bytes).map_err(|_| "invalid CID")
}
