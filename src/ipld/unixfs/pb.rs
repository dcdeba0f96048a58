//! dag-pb: the protobuf `PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }`
//! UnixFS is written in, decoded strictly as the dag-pb spec asks (known fields only, links
//! before data, no repeats), plus the protobuf field reader UnixFS's own message uses.

use super::UnixFsError;
use crate::ipld::{cbor, varint};
use cid::Cid;

/// A protobuf field's value: the two wire types UnixFS uses and the two fixed ones it may meet.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Reads protobuf fields one at a time.
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn varint(&mut self) -> Result<u64, UnixFsError> {
        let (v, n) = varint::read(self.buf).map_err(|_| UnixFsError::Protobuf("bad varint"))?;
        self.buf = &self.buf[n..];
        Ok(v)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], UnixFsError> {
        if n > self.buf.len() as u64 {
            return Err(UnixFsError::Protobuf("field runs past the end"));
        }
        let (head, rest) = self.buf.split_at(n as usize);
        self.buf = rest;
        Ok(head)
    }

    /// The next field number and value, or `None` at the end.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u64, Field<'a>)>, UnixFsError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Fixed
            }
            2 => {
                let n = self.varint()?;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed
            }
            _ => return Err(UnixFsError::Protobuf("unsupported wire type")),
        };
        match key >> 3 {
            0 => Err(UnixFsError::Protobuf("field number 0")),
            n => Ok(Some((n, value))),
        }
    }
}

/// A dag-pb link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    pub cid: Cid,
    pub name: Option<String>,
    /// The linked DAG's total size as its writer counted it: a hint, never verified.
    pub tsize: Option<u64>,
}

/// A dag-pb node, borrowing its data from the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbNode<'a> {
    pub data: Option<&'a [u8]>,
    pub links: Vec<PbLink>,
}

impl<'a> PbNode<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, UnixFsError> {
        let mut fields = Fields::new(bytes);
        let mut node = PbNode {
            data: None,
            links: Vec::new(),
        };
        while let Some((number, value)) = fields.next_field()? {
            match (number, value) {
                (1, Field::Bytes(d)) if node.data.is_none() => node.data = Some(d),
                (1, Field::Bytes(_)) => return Err(UnixFsError::Protobuf("Data twice")),
                (2, Field::Bytes(_)) if node.data.is_some() => {
                    return Err(UnixFsError::Protobuf("Links after Data"))
                }
                (2, Field::Bytes(l)) => node.links.push(parse_link(l)?),
                _ => return Err(UnixFsError::Protobuf("unknown PBNode field")),
            }
        }
        Ok(node)
    }
}

fn parse_link(bytes: &[u8]) -> Result<PbLink, UnixFsError> {
    let mut fields = Fields::new(bytes);
    let (mut cid, mut name, mut tsize) = (None, None, None);
    // dag-pb writes Hash, Name, Tsize in that order, each at most once.
    let mut last = 0;
    while let Some((number, value)) = fields.next_field()? {
        if number <= last {
            return Err(UnixFsError::Protobuf(
                "PBLink fields out of order or repeated",
            ));
        }
        last = number;
        match (number, value) {
            (1, Field::Bytes(h)) => {
                cid = Some(cbor::parse_cid(h).map_err(|_| UnixFsError::Protobuf("invalid CID"))?)
            }
            (2, Field::Bytes(n)) => {
                let n = core::str::from_utf8(n)
                    .map_err(|_| UnixFsError::Protobuf("link name not UTF-8"))?;
                name = Some(n.to_owned());
            }
            (3, Field::Varint(t)) => tsize = Some(t),
            _ => return Err(UnixFsError::Protobuf("unknown PBLink field")),
        }
    }
    Ok(PbLink {
        cid: cid.ok_or(UnixFsError::Protobuf("PBLink without Hash"))?,
        name,
        tsize,
    })
}
