//! Every fixture read back, verified, walked, and written out again.

use crate::*;
use edge_pinning::ipld::block::{self, inline_bytes, verify};
use edge_pinning::ipld::car::write;
use edge_pinning::ipld::links::{links, links_to_fetch};
use std::collections::{HashSet, VecDeque};

const ALL: [(&str, &str); 6] = [
    ("tiny.car", TINY),
    ("big.car", BIG),
    ("dir.car", DIR),
    ("hamt.car", HAMT),
    ("v0deep.car", V0DEEP),
    ("cbor.car", CBOR),
];

/// Walks the DAG from `root`, verifying each block: every reachable block must be present
/// (identity CIDs carry theirs inline). Answers the CIDs reached, inline ones included.
fn walk(root: Cid, store: &HashMap<Cid, Vec<u8>>) -> HashSet<Cid> {
    let mut seen = HashSet::from([root]);
    let mut queue = VecDeque::from([root]);
    while let Some(cid) = queue.pop_front() {
        let bytes = match inline_bytes(&cid) {
            Some(inline) => inline,
            None => store.get(&cid).unwrap_or_else(|| panic!("{cid} missing")),
        };
        verify(&cid, bytes).unwrap();
        for link in links(&cid, bytes).unwrap() {
            if seen.insert(link) {
                queue.push_back(link);
            }
        }
    }
    seen
}

#[test]
fn every_fixture_reads_verifies_and_is_a_complete_dag() {
    for (name, root) in ALL {
        let car = fixture(name);
        let (roots, blocks) = read_car(&car, 64 * 1024).unwrap();
        assert_eq!(roots, vec![cid(root)], "{name}");
        for b in &blocks {
            verify(&b.cid, &b.bytes).unwrap_or_else(|e| panic!("{name} {}: {e}", b.cid));
            // The offsets slice the stored stream back into the section and the block.
            let section = &car[b.offset as usize..(b.offset + b.section_len) as usize];
            assert_eq!(section, write::block_section(&b.cid, &b.bytes), "{name}");
            assert_eq!(write::section_len(&b.cid, b.bytes.len()), b.section_len);
            let data = b.data_offset as usize;
            assert_eq!(&car[data..data + b.bytes.len()], &b.bytes[..]);
        }
        let store: HashMap<_, _> = blocks.iter().map(|b| (b.cid, b.bytes.clone())).collect();
        let reached = walk(cid(root), &store);
        let stored: HashSet<_> = reached
            .iter()
            .filter(|c| inline_bytes(c).is_none())
            .collect();
        assert_eq!(stored.len(), store.len(), "{name}: every block reachable");
    }
}

#[test]
fn any_chunking_gives_the_same_items() {
    for (name, _) in ALL {
        let car = fixture(name);
        let (roots, whole) = read_car(&car, car.len()).unwrap();
        let sizes: &[usize] = if car.len() > 200_000 {
            &[1000, 65_536, 1 << 20]
        } else {
            &[1, 2, 3, 7, 100, 4096]
        };
        for &chunk in sizes {
            let (r, blocks) = read_car(&car, chunk).unwrap();
            assert_eq!(r, roots);
            assert_eq!(blocks.len(), whole.len());
            for (a, b) in blocks.iter().zip(&whole) {
                assert_eq!((a.cid, &a.bytes, a.offset), (b.cid, &b.bytes, b.offset));
            }
        }
    }
}

#[test]
fn written_cars_equal_the_originals_and_read_back() {
    for (name, _) in ALL {
        let car = fixture(name);
        let (roots, blocks) = read_car(&car, car.len()).unwrap();
        let mut out = write::header(&roots);
        for b in &blocks {
            write::extend_block_section(&mut out, &b.cid, &b.bytes);
        }
        // ipfs-car and @ipld/car write canonical dag-cbor headers: so does `write::header`.
        assert_eq!(out, car, "{name}");
        let (again, back) = read_car(&out, 5000).unwrap();
        assert_eq!(again, roots);
        assert_eq!(back.len(), blocks.len());
    }
    // A CAR with no roots and no blocks: allowed, and reported as such.
    let empty = write::header(&[]);
    let (roots, blocks) = read_car(&empty, 1).unwrap();
    assert!(roots.is_empty() && blocks.is_empty());
    // Several roots keep their order.
    let two = [cid(TINY), cid(V0DEEP)];
    assert_eq!(read_car(&write::header(&two), 3).unwrap().0, two);
}

#[test]
fn dag_cbor_links_nested_in_lists_and_maps_in_order() {
    let (_, store) = store("cbor.car");
    let root = cid(CBOR);
    let found = links(&root, &store[&root]).unwrap();
    assert_eq!(found.len(), 3);
    let (raw_leaf, leaf, inline) = (found[0], found[1], found[2]);
    assert_eq!(store[&raw_leaf], b"raw leaf\n");
    assert_eq!(raw_leaf.codec(), 0x55);
    // The identity link's block is inline and links on to the raw leaf.
    let inline_block = inline_bytes(&inline).unwrap();
    assert_eq!(links(&inline, inline_block).unwrap(), vec![raw_leaf]);
    assert!(!store.contains_key(&inline));
    assert_eq!(
        links_to_fetch(&root, &store[&root]).unwrap(),
        vec![raw_leaf, leaf, raw_leaf]
    );
    // The second-level block links to a blake3 block the fixture script hashed with @noble/hashes.
    let b3 = links(&leaf, &store[&leaf]).unwrap();
    assert_eq!(b3.len(), 1);
    assert_eq!(b3[0].hash().code(), block::hash::BLAKE3);
    assert_eq!(store[&b3[0]], b"blake3 block\n");
    assert_eq!(verify(&b3[0], &store[&b3[0]]), Ok(()));
    assert_eq!(
        verify(&b3[0], b"blake3 block?"),
        Err(block::VerifyError::Mismatch)
    );
}

#[test]
fn tiny_file_is_one_raw_block_and_v0_is_dag_pb() {
    let (_, tiny) = store("tiny.car");
    assert_eq!(tiny[&cid(TINY)], b"hello world\n");
    assert!(links(&cid(TINY), b"anything").unwrap().is_empty());
    let (_, v0) = store("v0deep.car");
    let root = cid(V0DEEP);
    assert_eq!(root.version(), cid::Version::V0);
    assert_eq!(links(&root, &v0[&root]).unwrap().len(), 2);
    // 20 leaves of 1 KiB, four per node: 20 + 5 + 2 + 1 blocks.
    assert_eq!(v0.len(), 28);
}
