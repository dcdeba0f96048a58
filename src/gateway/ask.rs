//! What a gateway request asks for, parsed from its path, query and headers: the root CID, the
//! path under it, the response format, the CAR's scope and byte range, a `Range`, and the
//! `If-None-Match` etags.

use crate::error::ApiError;
use crate::http::query;
use cid::Cid;

/// The HTTP inputs of a gateway request (the edge fills it; tests build it).
#[derive(Debug, Clone, Default)]
pub struct GatewayRequest {
    pub method: String,
    /// The URL path as received (percent-encoded).
    pub path: String,
    pub query: String,
    pub accept: Option<String>,
    pub range: Option<String>,
    pub if_none_match: Option<String>,
    pub authorization: Option<String>,
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One block, `application/vnd.ipld.raw`.
    Raw,
    /// A CARv1, `application/vnd.ipld.car`.
    Car,
    /// What a browser wants: file bytes, a directory's index.html or listing.
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Block,
    Entity,
    All,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Block => "block",
            Scope::Entity => "entity",
            Scope::All => "all",
        }
    }
}

/// `entity-bytes=from:to`: inclusive offsets, negative ones counted from the end; `to: None`
/// is `*` (the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityBytes {
    pub from: i64,
    pub to: Option<i64>,
}

impl EntityBytes {
    /// The half-open byte range of a file of `size` bytes, or `None` when it is empty.
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        let size = i128::from(size);
        let at = |v: i64| {
            let v = i128::from(v);
            if v < 0 {
                (size + v).max(0)
            } else {
                v
            }
        };
        let from = at(self.from);
        let to = self.to.map_or(size - 1, at).min(size - 1);
        (from <= to && from < size).then(|| (from as u64, to as u64 + 1))
    }
}

/// A single `Range: bytes=…` (several ranges are ignored, as HTTP allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    From(u64, Option<u64>),
    Last(u64),
}

impl ByteRange {
    /// The half-open range within `size` bytes, or `None` when it cannot be satisfied (416).
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        match self {
            ByteRange::From(a, b) if a < size => Some((a, b.map_or(size, |b| (b + 1).min(size)))),
            ByteRange::Last(n) if n > 0 && size > 0 => Some((size.saturating_sub(n), size)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub root: Cid,
    /// Path segments under the root, percent-decoded.
    pub path: Vec<String>,
    pub format: Format,
    pub scope: Scope,
    pub entity_bytes: Option<EntityBytes>,
    pub filename: Option<String>,
    pub range: Option<ByteRange>,
    pub if_none_match: Vec<String>,
    pub head: bool,
}

pub fn parse(req: &GatewayRequest) -> Result<Ask, ApiError> {
    let rest = req.path.strip_prefix("/ipfs/").unwrap_or_default();
    let mut parts = rest.split('/').filter(|s| !s.is_empty());
    let cid_text = parts
        .next()
        .ok_or_else(|| ApiError::bad("path", "no CID"))?;
    let root = Cid::try_from(cid_text)
        .map_err(|_| ApiError::bad("path", format!("'{cid_text}' is not a valid CID")))?;
    let path = parts
        .map(|p| decode_segment(p).ok_or_else(|| ApiError::bad("path", "bad percent-encoding")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut format = None;
    let mut scope = None;
    let mut entity_bytes = None;
    let mut filename = None;
    for (k, v) in query::parse(&req.query)? {
        match k.as_str() {
            "format" => {
                format = Some(match v.as_str() {
                    "raw" => Format::Raw,
                    "car" => Format::Car,
                    _ => return Err(ApiError::bad("format", "only raw and car are served")),
                })
            }
            "dag-scope" => scope = Some(parse_scope(&v)?),
            "entity-bytes" => entity_bytes = Some(parse_entity_bytes(&v)?),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    let format = format.unwrap_or_else(|| from_accept(req.accept.as_deref().unwrap_or("")));
    if format != Format::Car && (scope.is_some() || entity_bytes.is_some()) {
        return Err(ApiError::bad("dag-scope", "only for CAR responses"));
    }
    Ok(Ask {
        root,
        path,
        format,
        scope: scope.unwrap_or(Scope::All),
        entity_bytes,
        filename,
        range: req.range.as_deref().and_then(parse_range),
        if_none_match: req
            .if_none_match
            .as_deref()
            .map(|v| v.split(',').map(|t| t.trim().to_owned()).collect())
            .unwrap_or_default(),
        head: req.method == "HEAD",
    })
}

/// The first of raw or CAR the `Accept` list names; anything else is a plain request.
fn from_accept(accept: &str) -> Format {
    for media in accept.split(',') {
        match media.split(';').next().unwrap_or("").trim() {
            "application/vnd.ipld.raw" => return Format::Raw,
            "application/vnd.ipld.car" => return Format::Car,
            _ => {}
        }
    }
    Format::Plain
}

fn parse_scope(v: &str) -> Result<Scope, ApiError> {
    match v {
        "block" => Ok(Scope::Block),
        "entity" => Ok(Scope::Entity),
        "all" => Ok(Scope::All),
        _ => Err(ApiError::bad("dag-scope", "must be block, entity or all")),
    }
}

fn parse_entity_bytes(v: &str) -> Result<EntityBytes, ApiError> {
    let bad = || ApiError::bad("entity-bytes", "must be from:to (integers, or * for to)");
    let (from, to) = v.split_once(':').ok_or_else(bad)?;
    let from = from.parse::<i64>().map_err(|_| bad())?;
    let to = match to {
        "*" => None,
        t => Some(t.parse::<i64>().map_err(|_| bad())?),
    };
    if let (true, Some(t)) = (from >= 0, to) {
        if t >= 0 && t < from {
            return Err(ApiError::bad("entity-bytes", "to is before from"));
        }
    }
    Ok(EntityBytes { from, to })
}

fn parse_range(v: &str) -> Option<ByteRange> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.trim().split_once('-')?;
    match (a.trim(), b.trim()) {
        ("", n) => n.parse().ok().map(ByteRange::Last),
        (a, "") => a.parse().ok().map(|a| ByteRange::From(a, None)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some(ByteRange::From(a, Some(b)))
        }
    }
}

/// Percent-decoding of one path segment (`+` stays `+`, unlike in a query).
fn decode_segment(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_entity_bytes() {
        assert_eq!(parse_range("bytes=0-9"), Some(ByteRange::From(0, Some(9))));
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5, None)));
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Last(3)));
        assert_eq!(parse_range("bytes=0-1,4-5"), None);
        assert_eq!(parse_range("bytes=9-1"), None);
        assert_eq!(ByteRange::From(0, Some(99)).resolve(10), Some((0, 10)));
        assert_eq!(ByteRange::From(10, None).resolve(10), None);
        assert_eq!(ByteRange::Last(4).resolve(10), Some((6, 10)));
        let eb = |s| parse_entity_bytes(s).unwrap();
        assert_eq!(eb("0:*").resolve(10), Some((0, 10)));
        assert_eq!(eb("-3:*").resolve(10), Some((7, 10)));
        assert_eq!(eb("2:-3").resolve(10), Some((2, 8)));
        assert_eq!(eb("2:100").resolve(10), Some((2, 10)));
        assert_eq!(eb("10:*").resolve(10), None);
        assert_eq!(eb("5:-6").resolve(10), None);
        assert!(parse_entity_bytes("3:1").is_err());
        assert!(parse_entity_bytes("a:1").is_err());
        assert_eq!(
            decode_segment("space%20name.txt+").unwrap(),
            "space name.txt+"
        );
        assert_eq!(decode_segment("%zz"), None);
    }
}
