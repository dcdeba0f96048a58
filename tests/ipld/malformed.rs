//! Malformed CARs: typed errors, never panics, nothing corrupt let through.

use crate::*;
use edge_pinning::ipld::block::{verify, VerifyError, MAX_BLOCK_BYTES};
use edge_pinning::ipld::car::{write, MAX_HEADER_BYTES, MAX_SECTION_BYTES};

fn first_error(car: &[u8]) -> CarError {
    let mut r = CarReader::new();
    r.push(car);
    loop {
        match r.next() {
            Ok(Some(_)) => continue,
            Ok(None) => return r.finish().unwrap_err(),
            Err(e) => {
                // Sticky: the stream is over.
                assert_eq!(r.next(), Err(e.clone()));
                assert_eq!(r.finish(), Err(e.clone()));
                return e;
            }
        }
    }
}

/// A header map built by hand, behind its length varint.
fn header_of(cbor: &[u8]) -> Vec<u8> {
    let mut out = vec![cbor.len() as u8];
    out.extend_from_slice(cbor);
    out
}

#[test]
fn truncated_at_every_offset_reads_a_clean_prefix_then_says_truncated() {
    for name in ["cbor.car", "dir.car"] {
        let car = fixture(name);
        let (_, all) = read_car(&car, car.len()).unwrap();
        let boundaries: Vec<u64> = all.iter().map(|b| b.offset).collect();
        for cut in 0..car.len() {
            let mut r = CarReader::new();
            r.push(&car[..cut]);
            let mut items = 0;
            while let Some(item) = r.next().unwrap() {
                if let CarItem::Block { cid, .. } = item {
                    assert_eq!(cid, all[items].cid);
                    items += 1;
                }
            }
            match r.finish() {
                Ok(()) => assert!(boundaries.contains(&(cut as u64)), "{name} {cut}"),
                Err(e) => assert_eq!(e, CarError::Truncated { offset: cut as u64 }),
            }
        }
    }
}

#[test]
fn every_flipped_byte_is_caught() {
    for name in ["cbor.car", "dir.car", "tiny.car"] {
        let car = fixture(name);
        let (roots, blocks) = read_car(&car, car.len()).unwrap();
        let original: Vec<Cid> = blocks.iter().map(|b| b.cid).collect();
        for at in 0..car.len() {
            for flip in [0x01, 0x80] {
                let mut bad = car.clone();
                bad[at] ^= flip;
                let Ok((r, bs)) = read_car_quiet(&bad) else {
                    continue; // refused by the reader
                };
                let all_verify = bs.iter().all(|b| verify(&b.cid, &b.bytes).is_ok());
                let cids: Vec<Cid> = bs.iter().map(|b| b.cid).collect();
                // What reads and verifies is not what was written: a changed root or CID
                // leaves the original DAG incomplete, which a walk from the pin's CID finds.
                assert!(
                    !all_verify || r != roots || cids != original,
                    "{name}: flip {flip:#x} at {at} undetected"
                );
            }
        }
        // A flip inside a block's bytes is a hash mismatch for that block.
        for b in &blocks {
            let mut bad = car.clone();
            bad[b.data_offset as usize] ^= 0x20;
            let (_, bs) = read_car(&bad, 4096).unwrap();
            let hit = bs.iter().find(|x| x.offset == b.offset).unwrap();
            assert_eq!(verify(&hit.cid, &hit.bytes), Err(VerifyError::Mismatch));
        }
    }
}

/// Like `read_car` without its asserts about well-formed streams.
fn read_car_quiet(car: &[u8]) -> Result<(Vec<Cid>, Vec<Block>), CarError> {
    let mut r = CarReader::new();
    r.push(car);
    let (mut roots, mut blocks) = (Vec::new(), Vec::new());
    while let Some(item) = r.next()? {
        match item {
            CarItem::Header { roots: rs } => roots = rs,
            CarItem::Block {
                cid,
                bytes,
                offset,
                section_len,
                data_offset,
            } => blocks.push(Block {
                cid,
                bytes,
                offset,
                section_len,
                data_offset,
            }),
        }
    }
    r.finish()?;
    Ok((roots, blocks))
}

#[test]
fn bad_varints_and_sizes_are_refused_before_their_bytes_arrive() {
    assert_eq!(first_error(&[0xff; 11]), CarError::BadVarint { offset: 0 });
    assert_eq!(
        first_error(&[0x80, 0x00]),
        CarError::BadVarint { offset: 0 }
    );
    assert!(matches!(
        first_error(&[0x00]),
        CarError::HeaderSize { size: 0, .. }
    ));
    // A header or section length over the limit: refused from the varint alone.
    let mut big = Vec::new();
    big.extend_from_slice(&[0x81, 0x80, 0x04]); // 65537
    assert_eq!(
        first_error(&big),
        CarError::HeaderSize {
            offset: 0,
            size: MAX_HEADER_BYTES as u64 + 1
        }
    );
    let mut car = write::header(&[cid(TINY)]);
    let at = car.len() as u64;
    let mut section = Vec::new();
    let mut v = MAX_SECTION_BYTES as u64 + 1;
    while v >= 0x80 {
        section.push(v as u8 | 0x80);
        v >>= 7;
    }
    section.push(v as u8);
    let mut over = car.clone();
    over.extend_from_slice(&section);
    assert_eq!(
        first_error(&over),
        CarError::SectionSize {
            offset: at,
            size: MAX_SECTION_BYTES as u64 + 1
        }
    );
    let mut zero = car.clone();
    zero.push(0);
    assert!(matches!(
        first_error(&zero),
        CarError::SectionSize { size: 0, .. }
    ));
    let mut overlong = car.clone();
    overlong.extend_from_slice(&[0xff; 12]);
    assert_eq!(first_error(&overlong), CarError::BadVarint { offset: at });
    // A section whose CID is fine but whose block is over the limit.
    let huge = vec![0u8; MAX_BLOCK_BYTES + 1];
    write::extend_block_section(&mut car, &cid(TINY), &huge);
    assert!(matches!(
        first_error(&car),
        CarError::BlockTooLarge { size, .. } if size == huge.len() as u64
    ));
}

#[test]
fn carv2_and_other_versions_are_not_carv1() {
    // The CARv2 pragma (from the CARv2 spec), then a little of a v2 header.
    let mut v2 = vec![
        0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02,
    ];
    v2.extend_from_slice(&[0; 40]);
    let e = first_error(&v2);
    assert_eq!(e, CarError::NotCarV1 { version: 2 });
    assert!(e.to_string().contains("only CARv1"));
    // {"roots": [], "version": 3}
    let mut v3 = vec![0xa2, 0x65];
    v3.extend_from_slice(b"roots");
    v3.extend_from_slice(&[0x80, 0x67]);
    v3.extend_from_slice(b"version");
    v3.push(0x03);
    assert_eq!(
        first_error(&header_of(&v3)),
        CarError::NotCarV1 { version: 3 }
    );
}

#[test]
fn malformed_headers_and_sections() {
    let bad = |cbor: &[u8]| match first_error(&header_of(cbor)) {
        CarError::BadHeader(reason) => reason,
        other => panic!("{other:?}"),
    };
    assert_eq!(bad(&[0x80]), "not a map");
    assert_eq!(bad(&[0xa0]), "no version");
    let mut only_version = vec![0xa1, 0x67];
    only_version.extend_from_slice(b"version");
    only_version.push(0x01);
    assert_eq!(bad(&only_version), "no roots");
    let mut trailing = write::header(&[])[1..].to_vec();
    trailing.push(0x00);
    assert_eq!(bad(&trailing), "bytes after the header map");
    let mut not_link = vec![0xa2, 0x65];
    not_link.extend_from_slice(b"roots");
    not_link.extend_from_slice(&[0x81, 0x01]);
    assert_eq!(bad(&not_link), "expected a link (tag 42)");
    let mut bad_cid = vec![0xa1, 0x65];
    bad_cid.extend_from_slice(b"roots");
    bad_cid.extend_from_slice(&[0x81, 0xd8, 0x2a, 0x43, 0x00, 0x01, 0x55]);
    assert_eq!(bad(&bad_cid), "invalid CID");
    // Unknown keys are skipped, whatever they hold.
    let mut extra = vec![0xa3, 0x61, b'x', 0x82, 0xf6, 0xa0];
    extra.extend_from_slice(&write::header(&[cid(TINY)])[2..]);
    let (roots, _) = read_car(&header_of(&extra), 1).unwrap();
    assert_eq!(roots, vec![cid(TINY)]);

    // A section that does not start with a CID.
    let mut car = write::header(&[]);
    let at = car.len() as u64;
    car.extend_from_slice(&[0x03, 0x01, 0x55, 0x12]);
    assert_eq!(first_error(&car), CarError::BadCid { offset: at });
    let mut car = write::header(&[]);
    car.extend_from_slice(&[0x02, 0x05, 0x00]); // CID version 5
    assert_eq!(first_error(&car), CarError::BadCid { offset: at });
}
