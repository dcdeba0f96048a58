//! Malformed blocks for each codec, and a seeded property test over mutated fixtures.

use crate::*;
use edge_pinning::ipld::block::verify;
use edge_pinning::ipld::codec;
use edge_pinning::ipld::links::{links, LinkError};
use edge_pinning::ipld::unixfs::{dir_step, file_pieces, PbNode, UnixFs, UnixFsError};

fn with_codec(code: u64) -> Cid {
    Cid::new_v1(code, *cid(TINY).hash())
}

fn cbor_links(bytes: &[u8]) -> Result<Vec<Cid>, LinkError> {
    links(&with_codec(codec::DAG_CBOR), bytes)
}

/// Tag 42 around `cid` as dag-cbor writes it.
fn tag42(cid: &Cid) -> Vec<u8> {
    let b = cid.to_bytes();
    let mut out = vec![0xd8, 0x2a, 0x58, b.len() as u8 + 1, 0x00];
    out.extend_from_slice(&b);
    out
}

#[test]
fn dag_cbor_links_at_any_depth() {
    let (a, b) = (cid(TINY), cid(V0DEEP));
    // [{"a": [42(a)], "s": "x"}, 42(b), 1.5, -2, h'00', true, null]
    let mut v = vec![0x87, 0xa2, 0x61, b'a', 0x81];
    v.extend(tag42(&a));
    v.extend_from_slice(&[0x61, b's', 0x61, b'x']);
    v.extend(tag42(&b));
    v.extend_from_slice(&[
        0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x21, 0x41, 0x00, 0xf5, 0xf6,
    ]);
    assert_eq!(cbor_links(&v).unwrap(), vec![a, b]);
    // A million single-item arrays around a link: deep, but no stack to overflow.
    let mut deep = vec![0x81; 1_000_000];
    deep.extend(tag42(&a));
    assert_eq!(cbor_links(&deep).unwrap(), vec![a]);
}

#[test]
fn malformed_dag_cbor_is_an_error() {
    let reason = |bytes: &[u8]| match cbor_links(bytes) {
        Err(LinkError::Malformed {
            codec: 0x71,
            reason,
        }) => reason,
        other => panic!("{bytes:02x?}: {other:?}"),
    };
    let a = tag42(&cid(TINY));
    assert_eq!(reason(&[]), "truncated");
    assert_eq!(reason(&[0x82, 0x01]), "truncated");
    assert_eq!(reason(&[0x01, 0x02]), "bytes after the value");
    assert_eq!(
        reason(&[0x9f, 0xff]),
        "indefinite-length items are not dag-cbor"
    );
    assert_eq!(reason(&[0xc1, 0x01]), "tags other than 42 are not dag-cbor");
    assert_eq!(
        reason(&[0xd8, 0x2a, 0x01]),
        "tag 42 must wrap a byte string"
    );
    let mut no_zero = a.clone();
    no_zero[4] = 0x01;
    assert_eq!(reason(&no_zero), "tag 42 bytes must start with a zero byte");
    let mut short = a.clone();
    short.truncate(a.len() - 1);
    assert_eq!(reason(&short), "truncated");
    let mut long = a[..3].to_vec();
    long.push(a[3] + 1);
    long.extend_from_slice(&a[4..]);
    long.push(0x00);
    assert_eq!(reason(&long), "bytes after a CID");
    assert_eq!(reason(&[0xf7]), "simple value not allowed in dag-cbor");
    assert_eq!(reason(&[0x62, 0xff, 0xfe]), "invalid UTF-8");
    assert_eq!(reason(&[0x1c]), "reserved additional information");
    assert_eq!(
        reason(&[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        "map too large"
    );
    assert_eq!(
        reason(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        "truncated"
    );
    let nested = vec![0x82; 5000];
    assert_eq!(reason(&nested), "nested too deeply");
}

#[test]
fn dag_json_links_and_unknown_codecs() {
    let json = |s: &str| links(&with_codec(codec::DAG_JSON), s.as_bytes());
    let doc = format!(
        r#"{{"a":[{{"/":"{TINY}"}}],"b":{{"/":{{"bytes":"AAE"}}}},"c":{{"/":"{V0DEEP}","x":1}}}}"#
    );
    assert_eq!(json(&doc).unwrap(), vec![cid(TINY)]);
    assert!(matches!(json("{"), Err(LinkError::Malformed { .. })));
    assert!(matches!(
        json(r#"{"/":"bafynope"}"#),
        Err(LinkError::Malformed { .. })
    ));
    let e = links(&with_codec(0x85), b"").unwrap_err();
    assert_eq!(e, LinkError::UnknownCodec(0x85));
    assert!(e.to_string().contains("0x85"));
}

#[test]
fn junk_dag_pb_is_an_error() {
    let (_, store) = store("dir.car");
    let good = store[&cid(DIR)].clone();
    assert!(PbNode::parse(&good).is_ok());
    let pb = |bytes: &[u8]| PbNode::parse(bytes).map(|_| ()).map_err(|e| e.reason());
    assert_eq!(pb(&[0x0a, 0x05, 0x01]), Err("field runs past the end"));
    assert_eq!(pb(&[0x0a, 0x00, 0x12, 0x00]), Err("Links after Data"));
    assert_eq!(pb(&[0x0a, 0x00, 0x0a, 0x00]), Err("Data twice"));
    assert_eq!(pb(&[0x18, 0x01]), Err("unknown PBNode field"));
    assert_eq!(pb(&[0x0b]), Err("unsupported wire type"));
    assert_eq!(pb(&[0x12, 0x00]), Err("PBLink without Hash"));
    assert_eq!(pb(&[0x12, 0x03, 0x0a, 0x01, 0x55]), Err("invalid CID"));
    let h = cid(TINY).to_bytes();
    let link = |tail: &[u8]| {
        let mut l = vec![0x0a, h.len() as u8];
        l.extend_from_slice(&h);
        l.extend_from_slice(tail);
        let mut n = vec![0x12, l.len() as u8];
        n.extend(l);
        n
    };
    assert_eq!(
        pb(&link(&[0x12, 0x02, 0xff, 0xfe])),
        Err("link name not UTF-8")
    );
    assert_eq!(
        pb(&link(&[0x18, 0x05, 0x12, 0x00])),
        Err("PBLink fields out of order or repeated")
    );
    assert_eq!(pb(&link(&[0x20, 0x01])), Err("unknown PBLink field"));
    assert_eq!(pb(&link(&[0x18, 0xff])), Err("bad varint"));
    assert_eq!(pb(&link(&[0x12, 0x01, b'x', 0x18, 0x07])), Ok(()));
    let l = links(&with_codec(codec::DAG_PB), &[0xff]).unwrap_err();
    assert!(l.to_string().starts_with("malformed dag-pb block"), "{l}");
}

#[test]
fn inconsistent_unixfs_is_an_error() {
    let fs = |bytes: &[u8]| UnixFs::parse(bytes).map(|f| f.kind);
    assert_eq!(fs(&[]), Err(UnixFsError::NotUnixFs("no Data.Type")));
    assert_eq!(
        fs(&[0x08, 0x09]),
        Err(UnixFsError::NotUnixFs("unknown Data.Type"))
    );
    assert!(matches!(
        fs(&[0x08, 0x02, 0x12, 0x01]),
        Err(UnixFsError::Protobuf(_))
    ));
    assert!(matches!(fs(&[0x10, 0x02]), Err(UnixFsError::Protobuf(_))));
    // Packed blocksizes read as well as repeated ones; unknown fields are skipped.
    let p = UnixFs::parse(&[0x08, 0x02, 0x22, 0x02, 0x05, 0x06, 0x58, 0x01]).unwrap();
    assert_eq!(p.blocksizes, vec![5, 6]);
    // A file node: blocksizes must match its links, filesize its blocksizes.
    let node = |data: &[u8], links: usize| {
        let h = cid(TINY).to_bytes();
        let mut out = Vec::new();
        for _ in 0..links {
            out.extend_from_slice(&[0x12, h.len() as u8 + 2, 0x0a, h.len() as u8]);
            out.extend_from_slice(&h);
        }
        out.extend_from_slice(&[0x0a, data.len() as u8]);
        out.extend_from_slice(data);
        out
    };
    let pbc = with_codec(codec::DAG_PB);
    let bad = node(&[0x08, 0x02, 0x20, 0x05], 2);
    assert_eq!(
        file_pieces(&pbc, &bad, 0, 9),
        Err(UnixFsError::Inconsistent("blocksizes do not match links"))
    );
    let bad = node(&[0x08, 0x02, 0x18, 0x09, 0x20, 0x05], 1);
    assert_eq!(
        file_pieces(&pbc, &bad, 0, 9),
        Err(UnixFsError::Inconsistent(
            "filesize does not match blocksizes"
        ))
    );
    let ok = node(
        &[0x08, 0x02, 0x12, 0x02, b'h', b'i', 0x18, 0x07, 0x20, 0x05],
        1,
    );
    assert_eq!(file_pieces(&pbc, &ok, 1, 4).unwrap().len(), 2);
    // A HAMT shard with a bad fanout or another hash, or looked up too deep.
    let step = |fields: &[u8], depth| {
        let bytes = node(fields, 0);
        dir_step(&PbNode::parse(&bytes).unwrap(), "x", depth)
    };
    assert!(matches!(
        step(&[0x08, 0x05, 0x28, 0x22, 0x30, 0x03], 0),
        Err(UnixFsError::Inconsistent(_))
    ));
    assert!(matches!(
        step(&[0x08, 0x05, 0x28, 0x23, 0x30, 0x80, 0x02], 0),
        Err(UnixFsError::Inconsistent(_))
    ));
    assert!(step(&[0x08, 0x05, 0x28, 0x22, 0x30, 0x80, 0x02], 7).is_ok());
    assert!(matches!(
        step(&[0x08, 0x05, 0x28, 0x22, 0x30, 0x80, 0x02], 8),
        Err(UnixFsError::Inconsistent(_))
    ));
    assert!(matches!(
        file_pieces(&with_codec(codec::DAG_CBOR), &[0xa0], 0, 1),
        Err(UnixFsError::Codec(0x71))
    ));
}

/// Every function over every block of randomly damaged fixtures, seeded: errors allowed,
/// panics not.
#[test]
fn mutated_cars_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let cars: Vec<Vec<u8>> = ["cbor.car", "dir.car", "v0deep.car", "tiny.car"]
        .map(fixture)
        .into();
    for _ in 0..3000 {
        let mut car = cars[rng.below(cars.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(car.len());
            match rng.below(4) {
                0 => car[at] ^= 1 << rng.below(8),
                1 => car[at] = rng.word() as u8,
                2 => car.truncate(at.max(1)),
                _ => car.insert(at, rng.word() as u8),
            }
        }
        let mut r = CarReader::new();
        let mut rest = &car[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(1 + rng.below(rest.len()));
            rest = tail;
            r.push(chunk);
            loop {
                match r.next() {
                    Ok(Some(CarItem::Block { cid, bytes, .. })) => {
                        let _ = verify(&cid, &bytes);
                        let _ = links(&cid, &bytes);
                        let _ = file_pieces(&cid, &bytes, 3, 5000);
                        if let Ok(node) = PbNode::parse(&bytes) {
                            let _ = dir_step(&node, "a.txt", rng.below(10) as u32);
                        }
                    }
                    Ok(Some(CarItem::Header { .. })) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let _ = r.finish();
    }
}
