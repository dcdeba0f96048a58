//! A trustless gateway for what the `r2` backend keeps: `GET`/`HEAD /ipfs/{cid}[/path]`
//! (https://specs.ipfs.tech/http-gateways/trustless-gateway/), plus the plain file download a
//! browser wants. Only a DAG whose manifest says `pinned` is served, never fetched on demand.
//!
//! - `ask`: the request, parsed (format, `dag-scope`, `entity-bytes`, `Range`, etags).
//! - `dag`: the pinned DAG's manifest and index (the index cached per isolate).
//! - `resolve`: the path, through plain and HAMT directories.
//! - `car`, `plain`: which blocks or bytes answer, as a body *plan*;
//! - `body`: the plan streamed, every block verified against its CID as it is read.
//! - `handler`: settings (`GATEWAY`), credentials, CORS.
//!
//! Every answer's length is known before a block is read (CAR sections from the index, file
//! bytes from the UnixFS sizes), so bodies stream with a `Content-Length`.

pub mod ask;
pub mod body;
mod car;
pub mod dag;
pub mod handler;
mod plain;
mod resolve;

pub use ask::{Ask, Format, GatewayRequest};
pub use body::{BodyStream, Plan};
pub use dag::IndexCache;

use crate::error::ApiError;
use crate::http::Reply;
use crate::r2::Blobs;
use sha2::{Digest, Sha256};
use std::rc::Rc;

/// Who may read through the gateway (`GATEWAY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Anyone, without credentials, as on every IPFS gateway.
    Public,
    /// Only a signed-in user, and only the content of a pin of theirs.
    Private,
    /// No gateway: `/ipfs/…` is 404.
    Off,
}

pub fn parse_mode(v: Option<&str>) -> Result<Mode, String> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None | Some("public") => Ok(Mode::Public),
        Some("private") => Ok(Mode::Private),
        Some("off") => Ok(Mode::Off),
        Some(_) => Err("GATEWAY must be public, private or off".into()),
    }
}

/// CID-addressed answers never change.
pub const IMMUTABLE: &str = "public, max-age=29030400, immutable";

/// A successful answer before it becomes a `Reply`.
pub struct Answer {
    pub status: u16,
    pub etag: String,
    pub content_type: &'static str,
    pub plan: Plan,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub fn new(status: u16, etag: String, content_type: &'static str, plan: Plan) -> Answer {
        Answer {
            status,
            etag,
            content_type,
            plan,
            headers: Vec::new(),
        }
    }
}

/// Answers a parsed request from the bucket. `url_path` is the request's path as received.
pub async fn serve<B: Blobs>(
    ask: &Ask,
    blobs: &B,
    cache: &IndexCache,
    url_path: &str,
) -> Result<Reply, ApiError> {
    let dag = Rc::new(dag::Dag::open(blobs, cache, &ask.root).await?);
    let at = resolve::resolve(&dag, blobs, &ask.root, &ask.path).await?;
    let roots: Vec<String> = at.roots.iter().map(|c| c.to_string()).collect();
    let mut answer = match ask.format {
        Format::Raw => raw(ask, &at)?,
        Format::Car => {
            let p = car::plan(dag, blobs, ask, &at).await?;
            let path_tag = if ask.path.is_empty() {
                String::new()
            } else {
                let h = Sha256::digest(ask.path.join("/").as_bytes());
                format!(
                    ".{}",
                    h[..8]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                )
            };
            let etag = format!("\"{}.{}{path_tag}\"", ask.root, p.variant);
            let mut a = Answer::new(200, etag, car::CONTENT_TYPE, p.plan);
            let name = ask.filename.clone().unwrap_or(format!("{}.car", at.cid));
            a.headers.push(("content-disposition", attachment(&name)));
            a
        }
        Format::Plain => plain::answer(dag, blobs, ask, at, url_path).await?,
    };
    let mut headers = vec![
        ("etag", answer.etag.clone()),
        ("cache-control", IMMUTABLE.to_owned()),
        ("x-ipfs-path", url_path.to_owned()),
        ("x-ipfs-roots", roots.join(",")),
        ("vary", "Accept".to_owned()),
    ];
    let matched = ask
        .if_none_match
        .iter()
        .any(|t| t == "*" || t.trim_start_matches("W/") == answer.etag);
    if matched && answer.status == 200 {
        let mut reply = Reply::empty(304);
        reply.headers = headers;
        return Ok(reply);
    }
    headers.extend([
        ("content-type", answer.content_type.to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("content-length", answer.plan.len.to_string()),
    ]);
    if ask.format == Format::Plain {
        // Pinned pages run in an opaque origin: they cannot read this origin's storage.
        headers.push((
            "content-security-policy",
            "sandbox allow-scripts allow-forms allow-popups allow-downloads".to_owned(),
        ));
    }
    headers.append(&mut answer.headers);
    let mut reply = Reply::empty(answer.status);
    reply.headers = headers;
    if !ask.head {
        reply.plan = Some(answer.plan);
    }
    Ok(reply)
}

/// One verified block, or a range of it (the whole block is verified first).
fn raw(ask: &Ask, at: &resolve::Resolved) -> Result<Answer, ApiError> {
    let len = at.bytes.len() as u64;
    let etag = format!("\"{}.raw\"", at.cid);
    let (status, from, to) = match ask.range {
        None => (200, 0, len),
        Some(r) => {
            let (a, b) = r.resolve(len).ok_or(ApiError::RangeNotSatisfiable(len))?;
            (206, a, b)
        }
    };
    let body = at.bytes[from as usize..to as usize].to_vec();
    let mut a = Answer::new(status, etag, "application/vnd.ipld.raw", Plan::bytes(body));
    a.headers.push(("accept-ranges", "bytes".into()));
    if status == 206 {
        a.headers
            .push(("content-range", format!("bytes {from}-{}/{len}", to - 1)));
    }
    let name = ask.filename.clone().unwrap_or(format!("{}.bin", at.cid));
    a.headers.push(("content-disposition", attachment(&name)));
    Ok(a)
}

/// `attachment` with the name twice: ASCII for old clients, UTF-8 (RFC 6266) for the rest.
pub fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        plain::encode_segment(name)
    )
}
