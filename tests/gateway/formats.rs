//! Trustless answers: CARs (scopes, paths, entity-bytes), raw blocks and their ranges.

use crate::*;
use edge_pinning::ipld::unixfs::{file_pieces, Kind, PbNode, Piece, UnixFs};

const CAR_TYPE: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/// Bytes `start..end` of the file at `root`, read only from `blocks` (panics if one is absent).
fn read_range(blocks: &HashMap<Cid, Vec<u8>>, root: Cid, start: u64, end: u64) -> Vec<u8> {
    let get = |c: &Cid| {
        blocks
            .iter()
            .find(|(k, _)| k.hash() == c.hash())
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{c} is not in the answer"))
    };
    let mut out = Vec::new();
    let bytes = get(&root);
    for p in file_pieces(&root, &bytes, start, end).unwrap() {
        match p {
            Piece::Inline(b) => out.extend_from_slice(b),
            Piece::Child { cid, start, end } => out.extend(read_range(blocks, cid, start, end)),
        }
    }
    out
}

fn answered(car: &[u8]) -> HashMap<Cid, Vec<u8>> {
    let (_, blocks) = read_car(car);
    verified_blocks(car);
    blocks.into_iter().collect()
}

#[test]
fn a_whole_dag_as_a_car_from_one_or_several_segments() {
    for segments in [1, 3] {
        let kept = keep("big.car", BIG, segments, Status::Pinned);
        let (r, body) = ask(&kept, "GET", &format!("/ipfs/{BIG}?format=car"), &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(CAR_TYPE));
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=29030400, immutable")
        );
        let cids = verified_blocks(&body);
        assert_eq!(cids[0], cid(BIG), "depth first: the root comes first");
        assert_eq!(cids.len(), kept.blocks.len());
        let blocks = answered(&body);
        assert_eq!(
            read_range(&blocks, cid(BIG), 0, 1 << 40),
            content(1, 1_500_000)
        );
        let (_, accept) = ask(
            &kept,
            "GET",
            &format!("/ipfs/{BIG}"),
            &[("accept", CAR_TYPE)],
        );
        assert_eq!(accept, body, "Accept names the same answer");
    }
    let kept = keep("v0deep.car", V0DEEP, 2, Status::Pinned);
    let (_, body) = ask(&kept, "GET", &format!("/ipfs/{V0DEEP}?format=car"), &[]);
    assert_eq!(read_car(&body).0, vec![cid(V0DEEP)], "the root as asked");
    let blocks = answered(&body);
    assert_eq!(blocks.len(), kept.blocks.len());
    assert_eq!(
        read_range(&blocks, cid(V0DEEP), 0, 1 << 40),
        content(3, 20_000)
    );
}

#[test]
fn entity_bytes_send_only_the_blocks_of_the_range() {
    let kept = keep("v0deep.car", V0DEEP, 1, Status::Pinned);
    let file = content(3, 20_000);
    for (q, from, to) in [
        ("0:0", 0, 1),
        ("5000:9999", 5000, 10_000),
        ("-1500:*", 18_500, 20_000),
        ("19000:99999", 19_000, 20_000),
    ] {
        let target = format!("/ipfs/{V0DEEP}?format=car&entity-bytes={q}");
        let (r, body) = ask(&kept, "GET", &target, &[]);
        assert_eq!(r.status, 200, "{q}");
        let blocks = answered(&body);
        assert_eq!(
            read_range(&blocks, cid(V0DEEP), from, to),
            file[from as usize..to as usize],
            "{q}"
        );
        let leaves = blocks
            .values()
            .filter(|b| PbNode::parse(b).unwrap().links.is_empty())
            .count();
        assert!(
            leaves <= (to - from).div_ceil(1024) as usize + 1,
            "{q}: {leaves} leaves"
        );
        assert!(blocks.len() < kept.blocks.len(), "{q}: not the whole file");
    }
    let (a, _) = ask(
        &kept,
        "GET",
        &format!("/ipfs/{V0DEEP}?format=car&entity-bytes=0:99"),
        &[],
    );
    let (b, _) = ask(
        &kept,
        "GET",
        &format!("/ipfs/{V0DEEP}?format=car&entity-bytes=0:100"),
        &[],
    );
    assert_ne!(a.header("etag"), b.header("etag"));
    let (out, _) = ask(
        &kept,
        "GET",
        &format!("/ipfs/{V0DEEP}?format=car&entity-bytes=20000:*"),
        &[],
    );
    assert_eq!(out.status, 400);
    let (bad, _) = ask(
        &kept,
        "GET",
        &format!("/ipfs/{V0DEEP}?format=car&entity-bytes=x"),
        &[],
    );
    assert_eq!(bad.status, 400);
    let big = keep("big.car", BIG, 1, Status::Pinned);
    let (_, body) = ask(
        &big,
        "GET",
        &format!("/ipfs/{BIG}?format=car&entity-bytes=-10:*"),
        &[],
    );
    assert_eq!(answered(&body).len(), 2, "the root and the last leaf");
}

#[test]
fn scopes_and_paths() {
    let dir = keep("dir.car", DIR, 1, Status::Pinned);
    let q = |t: &str| ask(&dir, "GET", t, &[]);
    let (_, block) = q(&format!("/ipfs/{DIR}?format=car&dag-scope=block"));
    assert_eq!(verified_blocks(&block), vec![cid(DIR)]);
    let (_, entity) = q(&format!("/ipfs/{DIR}?format=car&dag-scope=entity"));
    assert_eq!(
        verified_blocks(&entity),
        vec![cid(DIR)],
        "a directory's entity is its node"
    );
    let (r, path) = q(&format!("/ipfs/{DIR}/sub/c.txt?format=car"));
    let cids = verified_blocks(&path);
    assert_eq!((cids.len(), cids[0]), (3, cid(DIR)), "root, sub, the file");
    assert_eq!(answered(&path)[&cids[2]], b"gamma\n");
    assert_eq!(r.header("x-ipfs-roots").unwrap().split(',').count(), 3);
    let (all, _) = q(&format!("/ipfs/{DIR}?format=car"));
    let tags: Vec<_> = [&all, &r]
        .iter()
        .map(|r| r.header("etag").unwrap().to_owned())
        .collect();
    assert_ne!(tags[0], tags[1]);
    let (missing, _) = q(&format!("/ipfs/{DIR}/nope?format=car"));
    assert_eq!(missing.status, 404);
    let (through_file, _) = q(&format!("/ipfs/{DIR}/a.txt/x"));
    assert_eq!(through_file.status, 404);

    let hamt = keep("hamt.car", HAMT, 2, Status::Pinned);
    let (_, shards) = ask(
        &hamt,
        "GET",
        &format!("/ipfs/{HAMT}?format=car&dag-scope=entity"),
        &[],
    );
    let shards = answered(&shards);
    assert!(shards.len() > 1, "{} shard nodes", shards.len());
    assert_eq!(
        shards.len() + 1001,
        hamt.blocks.len(),
        "every shard, no entry"
    );
    for b in shards.values() {
        assert_eq!(
            UnixFs::of(&PbNode::parse(b).unwrap()).unwrap().kind,
            Kind::HamtShard
        );
    }
    let (_, file) = ask(
        &hamt,
        "GET",
        &format!("/ipfs/{HAMT}/f0500.txt?format=car&dag-scope=entity"),
        &[],
    );
    let cids = verified_blocks(&file);
    assert_eq!(answered(&file)[cids.last().unwrap()], b"file 500\n");
    assert!(cids.len() >= 3, "root shard, sub-shard(s), the file");
}

#[test]
fn raw_blocks_ranges_head_and_etags() {
    let kept = keep("big.car", BIG, 1, Status::Pinned);
    let root = &kept.blocks[&cid(BIG)];
    let target = format!("/ipfs/{BIG}?format=raw");
    let (r, body) = ask(&kept, "GET", &target, &[]);
    assert_eq!((r.status, &body), (200, root));
    assert_eq!(r.header("content-type"), Some("application/vnd.ipld.raw"));
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(etag, format!("\"{BIG}.raw\""));
    let (part, bytes) = ask(&kept, "GET", &target, &[("range", "bytes=2-9")]);
    assert_eq!((part.status, &bytes[..]), (206, &root[2..10]));
    let total = root.len();
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 2-9/{total}").as_str())
    );
    let (tail, bytes) = ask(&kept, "GET", &target, &[("range", "bytes=-4")]);
    assert_eq!((tail.status, &bytes[..]), (206, &root[total - 4..]));
    let (over, _) = ask(
        &kept,
        "GET",
        &target,
        &[("range", &format!("bytes={total}-"))],
    );
    assert_eq!(over.status, 416);
    assert_eq!(
        over.header("content-range"),
        Some(format!("bytes */{total}").as_str())
    );
    let (head, body) = ask(&kept, "HEAD", &target, &[]);
    assert_eq!((head.status, body.len()), (200, 0));
    assert_eq!(
        head.header("content-length"),
        Some(total.to_string().as_str())
    );
    let (same, body) = ask(&kept, "GET", &target, &[("if-none-match", &etag)]);
    assert_eq!((same.status, body.len()), (304, 0));
    let (leaf, _) = ask(
        &kept,
        "GET",
        &format!("/ipfs/{BIG}"),
        &[("accept", "application/vnd.ipld.raw")],
    );
    assert_eq!(leaf.header("etag"), Some(etag.as_str()));
}

#[test]
fn other_codecs_and_a_corrupt_bucket() {
    let kept = keep("cbor.car", CBOR, 1, Status::Pinned);
    let (r, body) = ask(&kept, "GET", &format!("/ipfs/{CBOR}?format=car"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        verified_blocks(&body).len(),
        kept.blocks.len(),
        "identity CIDs are never written"
    );
    let (plain, _) = ask(&kept, "GET", &format!("/ipfs/{CBOR}"), &[]);
    assert_eq!(plain.status, 406);

    let kept = keep("big.car", BIG, 1, Status::Pinned);
    let seg = kept
        .blobs
        .keys()
        .into_iter()
        .find(|k| k.contains("/s/"))
        .unwrap();
    kept.blobs.objects.borrow_mut().get_mut(&seg).unwrap().0[5000] ^= 1;
    let (r, _) = ask(&kept, "GET", &format!("/ipfs/{BIG}?format=raw"), &[]);
    assert_eq!(r.status, 200, "the root block is intact");
    let req = GatewayRequest {
        method: "GET".into(),
        path: format!("/ipfs/{BIG}"),
        query: "format=car".into(),
        ..Default::default()
    };
    let cache = IndexCache::new(1 << 20);
    let cfg = config("public", "r2");
    let mut reply = block_on(handler::handle(
        &req,
        &MemoryKv::new(10),
        &Unlimited,
        Some(&kept.blobs),
        &cache,
        Ok(&cfg),
        Millis(0),
    ));
    let err = block_on(reply.plan.take().unwrap().collect(&kept.blobs)).unwrap_err();
    assert!(err.contains("failed verification"), "{err}");
}
