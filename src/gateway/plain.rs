//! What a browser gets: a file's bytes (ranges too), a directory's `index.html`, or a small
//! listing of the directory.

use super::ask::Ask;
use super::body::{Piece, Plan};
use super::dag::Dag;
use super::resolve::{bad_node, Resolved};
use super::Answer;
use crate::error::ApiError;
use crate::ipld::codec;
use crate::ipld::unixfs::{dir_step, file_size, Kind, Next, PbNode, UnixFs};
use crate::r2::Blobs;
use cid::Cid;
use std::rc::Rc;

/// A listing stops after this many entries or shard reads (a HAMT can hold millions).
const MAX_LISTED: usize = 2000;
const MAX_SHARDS: usize = 256;

pub async fn answer<B: Blobs>(
    dag: Rc<Dag>,
    blobs: &B,
    ask: &Ask,
    at: Resolved,
    url_path: &str,
) -> Result<Answer, ApiError> {
    let kind = match at.cid.codec() {
        codec::RAW => Kind::File,
        codec::DAG_PB => {
            let node = PbNode::parse(&at.bytes).map_err(|e| bad_node(&at.cid, e))?;
            UnixFs::of(&node).map_err(|e| bad_node(&at.cid, e))?.kind
        }
        c => {
            return Err(ApiError::NotAcceptable(format!(
                "the content is not UnixFS (codec 0x{c:x}): ask for format=raw or format=car"
            )))
        }
    };
    let name = ask.filename.clone().or_else(|| ask.path.last().cloned());
    match kind {
        Kind::File | Kind::Raw => file(dag, ask, &at.cid, &at.bytes, name.as_deref()),
        Kind::Directory | Kind::HamtShard => {
            if !url_path.ends_with('/') {
                let mut a = Answer::new(
                    301,
                    format!("\"{}.dir\"", at.cid),
                    "text/plain",
                    Plan::bytes(Vec::new()),
                );
                a.headers.push(("location", format!("{url_path}/")));
                return Ok(a);
            }
            if let Some(index) = find(&dag, blobs, &at, "index.html").await? {
                let bytes = dag.block(blobs, &index).await?;
                return file(dag, ask, &index, &bytes, Some("index.html"));
            }
            let html = listing(&dag, blobs, &at, url_path).await?;
            let etag = format!("\"{}.html\"", at.cid);
            Ok(Answer::new(
                200,
                etag,
                "text/html; charset=utf-8",
                Plan::bytes(html.into_bytes()),
            ))
        }
        other => Err(ApiError::NotAcceptable(format!(
            "a UnixFS {other:?} has no bytes to show: ask for format=raw or format=car"
        ))),
    }
}

fn file(
    dag: Rc<Dag>,
    ask: &Ask,
    cid: &Cid,
    bytes: &[u8],
    name: Option<&str>,
) -> Result<Answer, ApiError> {
    let size = file_size(cid, bytes).map_err(|e| bad_node(cid, e))?;
    let (status, start, end) = match ask.range {
        None => (200, 0, size),
        Some(r) => {
            let (a, b) = r.resolve(size).ok_or(ApiError::RangeNotSatisfiable(size))?;
            (206, a, b)
        }
    };
    let piece = Piece::File {
        cid: *cid,
        start,
        end,
    };
    let plan = Plan::new(end - start, vec![piece], dag);
    let mut a = Answer::new(status, format!("\"{cid}\""), content_type(name), plan);
    a.headers.push(("accept-ranges", "bytes".into()));
    if status == 206 {
        a.headers
            .push(("content-range", format!("bytes {start}-{}/{size}", end - 1)));
    }
    if let Some(f) = &ask.filename {
        a.headers
            .push(("content-disposition", super::attachment(f)));
    }
    Ok(a)
}

/// A name in a directory, plain or sharded.
async fn find<B: Blobs>(
    dag: &Dag,
    blobs: &B,
    at: &Resolved,
    name: &str,
) -> Result<Option<Cid>, ApiError> {
    let mut bytes = at.bytes.clone();
    let mut cid = at.cid;
    for depth in 0..64 {
        let node = PbNode::parse(&bytes).map_err(|e| bad_node(&cid, e))?;
        match dir_step(&node, name, depth).map_err(|e| bad_node(&cid, e))? {
            Next::Found(c) => return Ok(Some(c)),
            Next::Missing => return Ok(None),
            Next::Descend(c) => {
                cid = c;
                bytes = dag.block(blobs, &c).await?;
            }
        }
    }
    Ok(None)
}

async fn listing<B: Blobs>(
    dag: &Dag,
    blobs: &B,
    at: &Resolved,
    url_path: &str,
) -> Result<String, ApiError> {
    let mut entries: Vec<(String, Cid, Option<u64>)> = Vec::new();
    let mut stack = vec![(at.cid, at.bytes.clone())];
    let mut reads = 0;
    while let Some((cid, bytes)) = stack.pop() {
        let node = PbNode::parse(&bytes).map_err(|e| bad_node(&cid, e))?;
        let fs = UnixFs::of(&node).map_err(|e| bad_node(&cid, e))?;
        let width = fs.fanout.map(|f| format!("{:X}", f.max(2) - 1).len());
        for link in node.links.iter().rev() {
            let name = link.name.as_deref().unwrap_or_default();
            match width {
                Some(w) if name.len() == w && reads < MAX_SHARDS => {
                    reads += 1;
                    stack.push((link.cid, dag.block(blobs, &link.cid).await?));
                }
                Some(w) => entries.push((
                    name.get(w..).unwrap_or_default().to_owned(),
                    link.cid,
                    link.tsize,
                )),
                None => entries.push((name.to_owned(), link.cid, link.tsize)),
            }
        }
        if entries.len() >= MAX_LISTED {
            break;
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let title = escape(url_path);
    let mut html = format!(
        "<!doctype html><meta charset=utf-8><title>{title}</title><h1>Index of {title}</h1>\n<ul>\n"
    );
    for (name, cid, size) in entries.iter().take(MAX_LISTED) {
        let size = size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
        html.push_str(&format!(
            "<li><a href=\"{}{}\">{}</a> <small>{cid}{size}</small></li>\n",
            escape(url_path),
            escape(&encode_segment(name)),
            escape(name)
        ));
    }
    if entries.len() > MAX_LISTED {
        html.push_str("<li>… (more entries not listed)</li>\n");
    }
    html.push_str("</ul>\n");
    Ok(html)
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// A best guess from the name's extension; bytes of unknown kind are `application/octet-stream`.
pub fn content_type(name: Option<&str>) -> &'static str {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" | "md" => "text/plain; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "xml" => "application/xml",
        "car" => "application/vnd.ipld.car",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_typed() {
        assert_eq!(
            escape("<script>\"x\" & 'y'"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;"
        );
        assert_eq!(encode_segment("a b/<c>.txt"), "a%20b%2F%3Cc%3E.txt");
        assert_eq!(content_type(Some("Index.HTML")), "text/html; charset=utf-8");
        assert_eq!(content_type(Some("noext")), "application/octet-stream");
        assert_eq!(content_type(None), "application/octet-stream");
    }
}
